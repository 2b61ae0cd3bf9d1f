import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TweedieError } from "@tweedie/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  aggregate,
  clipImageEmbedding,
  FeatureModels,
  type ImageArray,
  lpipsDistance,
  metricResults,
  resample,
  scoreRecordSchema,
  scoreWithNetworks,
  structureDistance,
} from "../src/index.js";
import { addNoise, fixture } from "./helpers.js";
import {
  CLIP_IMAGE_MANIFEST,
  CLIP_IMAGE_W,
  CLIP_MEAN,
  CLIP_STD,
  CLIP_TEXT_MANIFEST,
  clipImageGraph,
  clipTextGraph,
  clipTextReference,
  IMAGENET_MEAN,
  IMAGENET_STD,
  inceptionManifest,
  LPIPS_MANIFEST,
  linearFeatureGraph,
  lpipsBackboneGraph,
  lpipsReference,
  recordingLogger,
  smoothImage,
  tinyTokenizer,
  VIT_MANIFEST,
  vitQkvGraph,
  vitSelfSimilarityReference,
  withTempDir,
  writeFeatureModel,
} from "./network-helpers.js";

/** Maps [0, 1] values to [-1, 1] (a copy). */
function signed(image: ImageArray): ImageArray {
  return { data: image.data.map((v) => 2 * v - 1), shape: image.shape };
}

function crop(image: ImageArray, size: number): ImageArray {
  const [channels, height, width] = image.shape;
  const data = new Float32Array(channels * size * size);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++)
        data[(c * size + y) * size + x] = image.data[(c * height + y) * width + x];
    }
  }
  return { data, shape: [channels, size, size] };
}

function relativeError(received: number, expected: number): number {
  return Math.abs(received - expected) / Math.max(Math.abs(expected), 1e-12);
}

let dir = "";
let models: FeatureModels;
let lpipsSha = "";

beforeAll(async () => {
  // A folder with every feature model the profiles name, each a small real ONNX graph.
  dir = await mkdtemp(join(tmpdir(), "tweedie-features-"));
  lpipsSha = await writeFeatureModel(dir, LPIPS_MANIFEST, lpipsBackboneGraph());
  await writeFeatureModel(dir, { ...LPIPS_MANIFEST, name: "lpips-squeeze" }, lpipsBackboneGraph());
  await writeFeatureModel(dir, VIT_MANIFEST, vitQkvGraph());
  await writeFeatureModel(dir, CLIP_IMAGE_MANIFEST, clipImageGraph());
  await writeFeatureModel(dir, CLIP_TEXT_MANIFEST, clipTextGraph());
  await writeFeatureModel(
    dir,
    inceptionManifest({ kind: "exact", height: 8, width: 8, filter: "bicubic", antialias: true }),
    linearFeatureGraph(),
  );
  models = new FeatureModels({ featureModelsDir: dir });
});

afterAll(async () => {
  await models.close();
  await rm(dir, { recursive: true, force: true });
});

describe("feature model folder", () => {
  it("reports a missing folder as unavailable", async () => {
    const none = new FeatureModels({ env: {} });
    const lookup = await none.lookup("lpips-alex", "lpips");
    expect(lookup.available).toBe(false);
    if (!lookup.available) {
      expect(lookup.reason).toBe(
        "no feature model folder: set featureModelsDir or TWEEDIE_FEATURE_MODELS to load lpips-alex",
      );
    }
  });

  it("reads the folder from TWEEDIE_FEATURE_MODELS", async () => {
    const fromEnv = new FeatureModels({ env: { TWEEDIE_FEATURE_MODELS: dir } });
    expect(fromEnv.dir).toBe(dir);
    const lookup = await fromEnv.lookup("lpips-alex", "lpips");
    expect(lookup.available).toBe(true);
    await fromEnv.close();
  });

  it("reports missing manifests and weights", async () => {
    await withTempDir(async (other) => {
      const folder = new FeatureModels({ featureModelsDir: other });
      const noManifest = await folder.lookup("lpips-vgg", "lpips");
      expect(noManifest.available).toBe(false);
      if (!noManifest.available) {
        expect(noManifest.reason).toBe(
          `feature model lpips-vgg not found: ${join(other, "lpips-vgg.feature.json")} does not exist`,
        );
      }
      await writeFile(
        join(other, "lpips-vgg.feature.json"),
        JSON.stringify({
          schema: "tweedie.feature-model",
          version: 1,
          file: "vgg.onnx",
          sha256: "0".repeat(64),
          description: "weights not downloaded",
          ...LPIPS_MANIFEST,
          name: "lpips-vgg",
        }),
      );
      const noWeights = await new FeatureModels({ featureModelsDir: other }).lookup(
        "lpips-vgg",
        "lpips",
      );
      expect(noWeights.available).toBe(false);
      if (!noWeights.available) {
        expect(noWeights.reason).toBe(
          `weights of feature model lpips-vgg not found: ${join(other, "vgg.onnx")} does not exist`,
        );
      }
    });
  });

  it("rejects a file whose SHA-256 changed", async () => {
    await withTempDir(async (other) => {
      await writeFeatureModel(other, LPIPS_MANIFEST, lpipsBackboneGraph());
      await writeFile(join(other, "lpips-alex.onnx"), linearFeatureGraph());
      const folder = new FeatureModels({ featureModelsDir: other });
      const error = await folder.lookup("lpips-alex", "lpips").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TweedieError);
      expect((error as TweedieError).code).toBe("model_mismatch");
      expect((error as TweedieError).message).toMatch(
        /SHA-256 does not match the manifest of lpips-alex/,
      );
      expect((error as TweedieError).expected).toBe(lpipsSha);
    });
  });

  it("rejects graphs that differ from their manifest", async () => {
    const cases: [Record<string, unknown> & { name: string }, Uint8Array, RegExp][] = [
      [
        { ...LPIPS_MANIFEST, input: { ...LPIPS_MANIFEST.input, name: "pixels" } },
        lpipsBackboneGraph(),
        /graph inputs differ from the manifest/,
      ],
      [
        { ...LPIPS_MANIFEST, outputs: ["relu1", "relu3"] },
        lpipsBackboneGraph(),
        /graph has no output relu3/,
      ],
      [
        { ...CLIP_TEXT_MANIFEST, input: { ...CLIP_TEXT_MANIFEST.input, dtype: "int32" } },
        clipTextGraph(),
        /input input_ids has another element type/,
      ],
      [
        {
          ...inceptionManifest({
            kind: "exact",
            height: 16,
            width: 16,
            filter: "bicubic",
            antialias: true,
          }),
          input: {
            name: "images",
            dtype: "float32",
            layout: "NCHW",
            channels: 3,
            size: { kind: "static", height: 16, width: 16 },
          },
        },
        linearFeatureGraph(),
        /has a shape the manifest does not allow/,
      ],
    ];
    for (const [manifest, bytes, message] of cases) {
      await withTempDir(async (other) => {
        await writeFeatureModel(other, manifest, bytes);
        const folder = new FeatureModels({ featureModelsDir: other });
        const kind = manifest.kind as "lpips";
        await expect(folder.lookup(manifest.name, kind)).rejects.toThrow(message);
      });
    }
  });

  it("rejects a model of another kind", async () => {
    await expect(models.lookup("inception-fid", "lpips")).rejects.toThrow(
      "feature model inception-fid is of kind inception",
    );
  });

  it("rejects an invalid manifest with the field", async () => {
    await withTempDir(async (other) => {
      await writeFile(
        join(other, "lpips-alex.feature.json"),
        JSON.stringify({
          schema: "tweedie.feature-model",
          version: 1,
          ...LPIPS_MANIFEST,
          file: "a.onnx",
          sha256: "abc",
          description: "x",
        }),
      );
      const folder = new FeatureModels({ featureModelsDir: other });
      await expect(folder.lookup("lpips-alex", "lpips")).rejects.toThrow(
        /lpips-alex\.feature\.json: sha256: 64 lowercase/,
      );
    });
  });
});

async function lpipsModel() {
  const lookup = await models.lookup("lpips-alex", "lpips");
  if (!lookup.available) throw new Error(lookup.reason);
  return lookup.model;
}

describe("LPIPS", () => {
  it("is exactly zero for identical images", async () => {
    const image = signed(await fixture("astronaut-crop.png"));
    expect(await lpipsDistance(await lpipsModel(), image, image)).toBe(0);
  });

  it("matches the float64 reference", async () => {
    const reference = signed(await fixture("astronaut-crop.png"));
    const blurred = signed(await fixture("astronaut-blurred.png"));
    const value = await lpipsDistance(await lpipsModel(), reference, blurred);
    const expected = lpipsReference(reference, blurred);
    expect(expected).toBeGreaterThan(0.01);
    expect(relativeError(value, expected), `LPIPS ${value} vs reference ${expected}`).toBeLessThan(
      1e-5,
    );
  });

  it("grows with the noise level", async () => {
    const reference = await fixture("astronaut-crop.png");
    const model = await lpipsModel();
    const low = await lpipsDistance(model, signed(reference), signed(addNoise(reference, 0.03, 1)));
    const high = await lpipsDistance(model, signed(reference), signed(addNoise(reference, 0.2, 1)));
    expect(low).toBeGreaterThan(0);
    expect(high).toBeGreaterThan(low);
  });

  it("warns when [-1, 1] inputs lie on [0, 1]", async () => {
    // A 64x64 pair on [0, 1], scored with the right declared range and with a wrong one.
    const reference = crop(await fixture("astronaut-crop.png"), 64);
    const blurred = crop(await fixture("astronaut-blurred.png"), 64);
    const logger = recordingLogger();
    const options = {
      profile: "canonical",
      metrics: ["lpips"],
      featureModels: models,
      logger,
    } as const;

    const right = await scoreWithNetworks(reference, blurred, { ...options, range: [0, 1] });
    expect(logger.warnings).toEqual([]);
    const rightValue = right.metrics.lpips.value ?? Number.NaN;
    expect(
      relativeError(rightValue, lpipsReference(signed(reference), signed(blurred))),
    ).toBeLessThan(1e-5);

    const wrong = await scoreWithNetworks(reference, blurred, { ...options, range: [-1, 1] });
    const wrongValue = wrong.metrics.lpips.value ?? Number.NaN;
    expect(relativeError(wrongValue, lpipsReference(reference, blurred))).toBeLessThan(1e-5);
    expect(wrongValue).not.toBeCloseTo(rightValue, 3);
    expect(logger.warnings).toHaveLength(2);
    expect(logger.warnings[0]).toMatch(
      /^lpips@canonical: the reference image lies within \[0, 1\] \(min [\d.e-]+, max [\d.e-]+\) where \[-1, 1\] is expected/,
    );
  });

  it("records the backbone, range and weights", async () => {
    const reference = await fixture("astronaut-crop.png");
    const record = await scoreWithNetworks(reference, reference, {
      profile: "canonical",
      range: [0, 1],
      featureModels: models,
    });
    const lpips = record.metrics.lpips;
    expect(lpips).toMatchObject({ status: "ok", value: 0, profile: "canonical" });
    expect(lpips.conventions.backbone).toBe("alex");
    expect(lpips.conventions.valueRange).toEqual([-1, 1]);
    expect(lpips.conventions.settings).toMatchObject({
      featureModel: "lpips-alex",
      featureModelSha256: lpipsSha,
      featureModelRange: "[-1, 1]",
      featureModelResize: "none (the input must already have the graph's size)",
      featureModelNormalization: "mean [-0.03, -0.088, -0.188], std [0.458, 0.448, 0.45]",
    });
    expect(record.metrics.psnr.status).toBe("infinite");
    expect(scoreRecordSchema.parse(JSON.parse(JSON.stringify(record)))).toEqual(record);
  });
});

describe("PIE-Bench network metrics", () => {
  const height = 24;
  const width = 24;
  const source = smoothImage(height, width, 0);
  const edited = smoothImage(height, width, 1);
  const mask = new Float32Array(height * width);
  for (let y = 6; y < 18; y++) for (let x = 4; x < 20; x++) mask[y * width + x] = 1;
  const maskInput = { data: mask, shape: [height, width] };
  const text = { kind: "model", tokenizer: tinyTokenizer } as const;

  it("scores the background LPIPS on images times (1 - mask)", async () => {
    const record = await scoreWithNetworks(source, edited, {
      profile: "pie-compat",
      range: [0, 1],
      mask: maskInput,
      metrics: ["lpips_background"],
      featureModels: models,
    });
    // PIE-Bench: multiply the [0, 1] images by (1 - mask), then map x -> 2x - 1.
    const masked = (image: ImageArray) => ({
      data: image.data.map((v, i) => 2 * v * (1 - mask[i % (height * width)]) - 1),
      shape: image.shape,
    });
    const expected = lpipsReference(masked(source), masked(edited));
    const value = record.metrics.lpips_background.value ?? Number.NaN;
    expect(relativeError(value, expected)).toBeLessThan(1e-5);
    expect(record.metrics.lpips_background.conventions.masking).toBe("multiply");
  });

  it("leaves background metrics undefined for a full mask", async () => {
    const full = { data: new Float32Array(height * width).fill(1), shape: [height, width] };
    const record = await scoreWithNetworks(source, edited, {
      profile: "pie-compat",
      range: [0, 1],
      mask: full,
      metrics: ["lpips_background", "psnr_background"],
      featureModels: models,
    });
    for (const name of ["lpips_background", "psnr_background"]) {
      expect(record.metrics[name]).toMatchObject({
        status: "undefined",
        value: null,
        reason: "background is empty: the mask marks every pixel as edited",
      });
    }
  });

  it("computes the structure distance from DINO keys", async () => {
    const lookup = await models.lookup("dino-vitb8", "vit-qkv");
    if (!lookup.available) throw new Error(lookup.reason);
    const model = lookup.model;
    const toBytes = (image: ImageArray) => ({
      data: image.data.map((v) => v * 255),
      shape: image.shape,
    });
    expect(await structureDistance(model, toBytes(source), toBytes(source), [0, 255])).toBe(0);

    const value = await structureDistance(model, toBytes(source), toBytes(edited), [0, 255]);
    // Reference: 0-255 values, torch bilinear resize to 16x16, ImageNet mean and std, keys.
    const networkInput = (image: ImageArray) => {
      const resized = resample(toBytes(image), 16, 16, { filter: "bilinear", antialias: false });
      return Float64Array.from(resized.data, (v, i) => {
        const c = Math.floor(i / 256);
        return (v - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
      });
    };
    const a = vitSelfSimilarityReference(networkInput(source), 16, 16);
    const b = vitSelfSimilarityReference(networkInput(edited), 16, 16);
    expect(a.length).toBe(25); // 2x2 patches and the CLS token
    const expected = a.reduce((sum, v, i) => sum + (v - b[i]) ** 2, 0) / a.length;
    expect(expected).toBeGreaterThan(1e-4);
    expect(
      relativeError(value, expected),
      `structure distance ${value} vs ${expected}`,
    ).toBeLessThan(1e-4);
  });

  it("computes CLIP scores from the image and text towers", async () => {
    const image = smoothImage(8, 8, 2);
    const record = await scoreWithNetworks(image, image, {
      profile: "pie-compat",
      range: [0, 1],
      metrics: ["clip_whole"],
      prompt: "a [cat]",
      text,
      featureModels: models,
    });
    const pixels = Float64Array.from(image.data, (v, i) => {
      const c = Math.floor(i / 64);
      return (v - CLIP_MEAN[c]) / CLIP_STD[c];
    });
    const imageEmbedding = Array.from({ length: 6 }, (_, d) =>
      pixels.reduce((sum, v, k) => sum + v * CLIP_IMAGE_W[k * 6 + d], 0),
    );
    const textEmbedding = clipTextReference("a cat");
    const dot = imageEmbedding.reduce((s, v, d) => s + v * textEmbedding[d], 0);
    const cos = dot / (Math.hypot(...imageEmbedding) * Math.hypot(...textEmbedding));
    const expected = 100 * Math.max(cos, 0);
    const result = record.metrics.clip_whole;
    expect(result.status).toBe("ok");
    expect(
      Math.abs((result.value ?? Number.NaN) - expected),
      `CLIP ${result.value} vs ${expected}`,
    ).toBeLessThan(1e-3);
    expect(result.conventions.settings).toMatchObject({
      featureModel: "clip-vit-l14-image",
      textModel: "clip-vit-l14-text",
    });
  });

  it("clamps negative cosines at zero and strips brackets", async () => {
    const image = smoothImage(8, 8, 3);
    const lookup = await models.lookup("clip-vit-l14-image", "clip-image");
    if (!lookup.available) throw new Error(lookup.reason);
    const embedding = await clipImageEmbedding(lookup.model, image, [0, 1]);
    const opposite = embedding.map((v) => -v);
    const record = await scoreWithNetworks(image, image, {
      profile: "pie-compat",
      range: [0, 1],
      metrics: ["clip_whole"],
      prompt: "a [dog] on grass",
      text: { kind: "precomputed", embeddings: new Map([["a dog on grass", opposite]]) },
      featureModels: models,
    });
    expect(record.metrics.clip_whole).toMatchObject({ status: "ok", value: 0 });
    expect(record.metrics.clip_whole.conventions.settings.textModel).toBe("precomputed embeddings");
    const same = await scoreWithNetworks(image, image, {
      profile: "pie-compat",
      range: [0, 1],
      metrics: ["clip_whole"],
      prompt: "[x]",
      text: { kind: "precomputed", embeddings: new Map([["x", embedding]]) },
      featureModels: models,
    });
    expect(same.metrics.clip_whole.value).toBeCloseTo(100, 4);
  });

  it("leaves CLIP edited undefined for an empty mask", async () => {
    const image = smoothImage(8, 8, 3);
    const record = await scoreWithNetworks(image, image, {
      profile: "pie-compat",
      range: [0, 1],
      mask: { data: new Float32Array(64), shape: [8, 8] },
      metrics: ["clip_edited"],
      prompt: "a cat",
      text,
      featureModels: models,
    });
    expect(record.metrics.clip_edited).toMatchObject({
      status: "undefined",
      reason: "edited region is empty: the mask has no edited pixel",
    });
  });

  it("runs every PIE-Bench metric by default", async () => {
    const record = await scoreWithNetworks(source, edited, {
      profile: "pie-compat",
      range: [0, 1],
      mask: maskInput,
      prompt: "a [red] scarf",
      text,
      featureModels: models,
    });
    expect(Object.keys(record.metrics).sort()).toEqual([
      "clip_edited",
      "clip_whole",
      "lpips_background",
      "mse",
      "mse_background",
      "psnr",
      "psnr_background",
      "ssim",
      "ssim_background",
      "structure_distance",
    ]);
    for (const result of Object.values(record.metrics))
      expect(result.status, result.metric).toBe("ok");
    expect(record.metrics.structure_distance.displayScale).toBe(1000);
    expect(scoreRecordSchema.parse(JSON.parse(JSON.stringify(record)))).toEqual(record);
  });

  it("requires a prompt for CLIP", async () => {
    await expect(
      scoreWithNetworks(source, edited, {
        profile: "pie-compat",
        range: [0, 1],
        metrics: ["clip_whole"],
        featureModels: models,
      }),
    ).rejects.toThrow("metric clip_whole needs a prompt and a text embedding source");
  });
});

describe("scoreWithNetworks without feature models", () => {
  it("reports network metrics as unavailable, never as numbers", async () => {
    const reference = await fixture("astronaut-crop.png");
    const output = await fixture("astronaut-noisy.png");
    const none = new FeatureModels({ env: {} });
    const record = await scoreWithNetworks(reference, output, {
      profile: "canonical",
      range: [0, 1],
      featureModels: none,
    });
    expect(record.metrics.lpips).toMatchObject({
      status: "unavailable",
      value: null,
      reason:
        "no feature model folder: set featureModelsDir or TWEEDIE_FEATURE_MODELS to load lpips-alex",
    });
    expect(record.metrics.psnr.status).toBe("ok");
  });

  it("aggregates available and unavailable LPIPS in one column", async () => {
    const reference = await fixture("astronaut-crop.png");
    const output = await fixture("astronaut-noisy.png");
    const options = { profile: "canonical", range: [0, 1], metrics: ["lpips"] } as const;
    const withModels = await scoreWithNetworks(reference, output, {
      ...options,
      featureModels: models,
    });
    const without = await scoreWithNetworks(reference, output, {
      ...options,
      featureModels: new FeatureModels({ env: {} }),
    });
    const board = aggregate([
      { dataset: "d", task: "t", solver: "s", metrics: metricResults(withModels) },
      { dataset: "d", task: "t", solver: "s", metrics: metricResults(without) },
    ]);
    const summary = board.groups[0].metrics["lpips@canonical"];
    expect(summary).toMatchObject({ n: 1, unavailable: 1, mean: withModels.metrics.lpips.value });
    expect(board.columns[0].conventions.settings.featureModel).toBe("lpips-alex");
  });
});
