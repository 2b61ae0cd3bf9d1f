import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphBuilder, TweedieError } from "@tweedie/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  computeSetMetrics,
  FeatureModels,
  fidFromFeatures,
  type ImageArray,
  kidFromFeatures,
  resample,
} from "../src/index.js";
import {
  INCEPTION_DIM,
  INCEPTION_W,
  inceptionManifest,
  linearFeatureGraph,
  smoothImage,
  writeFeatureModel,
} from "./network-helpers.js";

// clean-fid's two resize paths: PIL bicubic without a clip, torch bilinear then clip to [0, 255].
const CLEAN = { kind: "exact", height: 8, width: 8, filter: "bicubic", antialias: true };
const LEGACY = {
  kind: "exact",
  height: 8,
  width: 8,
  filter: "bilinear",
  antialias: false,
  clamp: true,
};

let dir = "";
let models: FeatureModels;
let sha = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tweedie-inception-"));
  sha = await writeFeatureModel(dir, inceptionManifest(CLEAN), linearFeatureGraph());
  await writeFeatureModel(dir, inceptionManifest(CLEAN, "inception-select"), selectionGraph());
  await writeFeatureModel(dir, inceptionManifest(LEGACY, "inception-legacy"), linearFeatureGraph());
  models = new FeatureModels({ featureModelsDir: dir });
});

afterAll(async () => {
  await models.close();
  await rm(dir, { recursive: true, force: true });
});

/** An "inception" whose 8 features are the first 8 pixels of channel 0, unchanged. */
function selectionGraph(): Uint8Array {
  const select = new Float32Array(192 * INCEPTION_DIM);
  for (let k = 0; k < INCEPTION_DIM; k++) select[k * INCEPTION_DIM + k] = 1;
  const graph = new GraphBuilder({ name: "select_inception" });
  graph.input("images", "float32", ["N", 3, 8, 8]);
  graph.initializer("shape", { dtype: "int64", data: BigInt64Array.from([0n, -1n]), dims: [2] });
  graph.initializer("w", { dtype: "float32", data: select, dims: [192, INCEPTION_DIM] });
  graph.node("Reshape", ["images", "shape"], ["flat"]);
  graph.node("MatMul", ["flat", "w"], ["pool3"]);
  graph.output("pool3", "float32", ["N", INCEPTION_DIM]);
  return graph.toBytes();
}

/**
 * 8x8 images on [0, 255] whose first 8 pixels are m +- a_k e_k (one image per k and sign):
 * sample mean m and diagonal sample covariance 2 a_k^2 / 15, exact in float32.
 */
function axisImages(mean: number[], spread: number[]): ImageArray[] {
  const images: ImageArray[] = [];
  for (let k = 0; k < mean.length; k++) {
    for (const sign of [1, -1]) {
      const data = new Float32Array(3 * 64).fill(7);
      mean.forEach((m, d) => {
        data[d] = m + (d === k ? sign * spread[k] : 0);
      });
      images.push({ data, shape: [3, 8, 8] });
    }
  }
  return images;
}

/** `count` smooth 16x16 images on [0, 1]. */
function images(count: number, offset: number): ImageArray[] {
  return Array.from({ length: count }, (_, i) => smoothImage(16, 16, i + offset));
}

/** The tiny model's features in float64: bicubic resize to 8x8 on [0, 255], then x W. */
function referenceFeatures(set: ImageArray[]) {
  const data = new Float64Array(set.length * INCEPTION_DIM);
  set.forEach((image, n) => {
    const bytes = { data: image.data.map((v) => v * 255), shape: image.shape };
    const resized = resample(bytes, 8, 8, { filter: "bicubic", antialias: true });
    const pixels = resized.data;
    for (let d = 0; d < INCEPTION_DIM; d++) {
      let sum = 0;
      for (let k = 0; k < 192; k++) sum += pixels[k] * INCEPTION_W[k * INCEPTION_DIM + d];
      data[n * INCEPTION_DIM + d] = sum;
    }
  });
  return { data, count: set.length, dim: INCEPTION_DIM };
}

describe("FID and KID through a feature model", () => {
  it("equals the closed form for diagonal covariances", async () => {
    const m1 = [100, 120, 90, 200, 50, 60, 180, 128];
    const m2 = [110, 118, 95, 190, 55, 40, 170, 120];
    const a1 = [10, 20, 5, 30, 12, 8, 40, 16];
    const a2 = [14, 18, 9, 22, 12, 20, 35, 6];
    const [fid] = await computeSetMetrics(models, axisImages(m1, a1), axisImages(m2, a2), {
      range: [0, 255],
      metrics: ["fid"],
      featureModel: "inception-select",
    });
    // ||m1 - m2||^2 + sum_k (sqrt(s1_k) - sqrt(s2_k))^2 with s_k = 2 a_k^2 / 15.
    let expected = 0;
    for (let k = 0; k < 8; k++) {
      expected +=
        (m1[k] - m2[k]) ** 2 +
        (Math.sqrt((2 * a1[k] ** 2) / 15) - Math.sqrt((2 * a2[k] ** 2) / 15)) ** 2;
    }
    expect(fid.n).toEqual({ reference: 16, output: 16 });
    expect(Math.abs((fid.value ?? Number.NaN) - expected) / expected).toBeLessThan(1e-10);
  });

  it("match the features computed in float64", async () => {
    const reference = images(12, 0);
    const output = images(10, 40);
    const [fid, kid] = await computeSetMetrics(models, reference, output, {
      range: [0, 1],
      kid: { subsets: 10, subsetSize: 6, seed: 1 },
      batchSize: 4,
    });
    const expectedFid = fidFromFeatures(
      referenceFeatures(reference),
      referenceFeatures(output),
    ).value;
    expect(fid).toMatchObject({
      metric: "fid",
      status: "ok",
      n: { reference: 12, output: 10 },
      featureDim: 8,
    });
    expect(Math.abs((fid.value ?? Number.NaN) - expectedFid) / expectedFid).toBeLessThan(1e-4);
    const expectedKid = kidFromFeatures(referenceFeatures(reference), referenceFeatures(output), {
      subsets: 10,
      subsetSize: 6,
      seed: 1,
    });
    expect(kid).toMatchObject({ metric: "kid", status: "ok", n: { reference: 12, output: 10 } });
    expect(Math.abs((kid.value ?? Number.NaN) - expectedKid.value)).toBeLessThan(
      1e-4 * Math.abs(expectedKid.value),
    );
    expect(kid.std).not.toBeNull();
  });

  it("rejects FID below the feature dimension and keeps KID", async () => {
    // The tiny model has 8-d features, so the rule N >= feature dimension needs 8 images.
    const few = images(7, 0);
    const others = images(7, 20);
    let loads = 0;
    const lazy = others.map((image) => () => {
      loads++;
      return image;
    });
    const error = await computeSetMetrics(models, few, lazy, { range: [0, 1] }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TweedieError);
    expect((error as TweedieError).message).toBe(
      "FID needs at least 8 images per set; got 7 and 7; use KID or more images",
    );
    expect(loads).toBe(0);
    const [kid] = await computeSetMetrics(models, few, others, { range: [0, 1], metrics: ["kid"] });
    expect(kid).toMatchObject({ status: "ok", n: { reference: 7, output: 7 } });
  });

  it("records the resize path and gives the same FID twice", async () => {
    const reference = images(9, 0);
    const output = images(9, 30);
    const options = { range: [0, 1], metrics: ["fid"] } as const;
    const [first] = await computeSetMetrics(models, reference, output, options);
    const [second] = await computeSetMetrics(models, reference, output, options);
    expect(second.value).toBe(first.value);
    expect(first.conventions.settings).toMatchObject({
      featureModel: "inception-fid",
      featureModelSha256: sha,
      featureModelResize: "to 8x8 by @tweedie/eval bicubic, antialias (PIL BICUBIC algorithm)",
    });

    const [legacy] = await computeSetMetrics(models, reference, output, {
      ...options,
      featureModel: "inception-legacy",
    });
    expect(legacy.conventions.settings.featureModelResize).toBe(
      "to 8x8 by @tweedie/eval bilinear, no antialias (torch interpolate, align_corners=False), clamped to the value range",
    );
    expect(Math.abs((legacy.value ?? 0) - (first.value ?? 0))).toBeGreaterThan(
      1e-3 * (first.value ?? 0),
    );
  });

  it("reports both metrics as unavailable without the model", async () => {
    const none = new FeatureModels({ env: {} });
    const results = await computeSetMetrics(none, images(3, 0), images(3, 5), { range: [0, 1] });
    expect(results.map((r) => [r.metric, r.status, r.value])).toEqual([
      ["fid", "unavailable", null],
      ["kid", "unavailable", null],
    ]);
    expect(results[0].reason).toMatch(/TWEEDIE_FEATURE_MODELS/);
    expect(results[0].n).toEqual({ reference: 3, output: 3 });
  });
});
