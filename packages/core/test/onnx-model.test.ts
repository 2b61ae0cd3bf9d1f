import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Conditioning } from "../src/index.js";
import {
  checkCodecSignature,
  createSchedule,
  indexOf,
  inspectModelPackage,
  loadModelPackage,
  parseManifest,
  Tensor,
  TweedieError,
} from "../src/index.js";
import { affineGraph, codecGraph, LABEL_TABLE, tempDir, writePackage } from "./onnx-fixtures.js";

const LABEL_PROMPTS = { "a zero": 0, "a one": 1, "a two": 2 };

function ramp(shape: number[], offset = 0): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(
    Array.from({ length: size }, (_, i) => ((i * 7 + offset) % 13) / 6.5 - 1),
    shape,
  );
}

/** out = 0.5 x + 0.25 tau + table[label, c], the affine fixture's definition. */
function affineReference(x: Tensor, tau: number, labels?: ArrayLike<number>): Float64Array {
  const [n, c, h, w] = x.shape;
  const out = new Float64Array(x.size);
  for (let i = 0; i < x.size; i++) {
    const sample = Math.floor(i / (c * h * w));
    const channel = Math.floor(i / (h * w)) % c;
    const embedding = labels === undefined ? 0 : LABEL_TABLE[labels[sample] * 3 + channel];
    out[i] = 0.5 * x.data[i] + 0.25 * tau + embedding;
  }
  expect(n).toBe(x.batch);
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

async function rejection(promise: Promise<unknown>): Promise<TweedieError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TweedieError);
  return error as TweedieError;
}

async function labelPackage(
  extra: Record<string, unknown> = {},
  graphs?: Record<string, Uint8Array>,
) {
  const dir = await tempDir();
  await writePackage(
    dir,
    graphs ?? { denoiser: affineGraph({ label: true }), vjp: affineGraph({ label: true }, true) },
    {
      conditioning: { kind: "label", prompts: LABEL_PROMPTS, nullLabel: 3 },
      io: { x: "x", t: "t", label: "label", output: "out" },
      ...extra,
    },
  );
  return dir;
}

describe("loadModelPackage", () => {
  it("predicts through the denoiser graph", async () => {
    const model = await loadModelPackage(await labelPackage());
    const x = ramp([2, 3, 4, 8]);
    const cond: Conditioning = { kind: "label", labels: Int32Array.from([1, 2]), prompt: "mixed" };
    const out = await model.predict(x, 0.3, cond);
    expect(out.shape).toEqual([2, 3, 4, 8]);
    // timestepInput scaled by 1000 on a VP schedule feeds 1000 t = 300.
    expect(maxAbsDiff(out.data, affineReference(x, 300, [1, 2]))).toBeLessThan(1e-4);
    expect(model.info).toMatchObject({
      name: "affine-test",
      hasVjp: true,
      channels: 3,
      space: "pixel",
    });
    await model.dispose();
  });

  it("runs the VJP graph", async () => {
    const model = await loadModelPackage(await labelPackage());
    const x = ramp([1, 3, 4, 4]);
    const g = ramp([1, 3, 4, 4], 5);
    const cond = await model.condition("a two", 1);
    const result = await model.vjp?.(x, 0.5, cond, g);
    expect(result).toBeDefined();
    expect(maxAbsDiff(result?.output.data ?? [], affineReference(x, 500, [2]))).toBeLessThan(1e-4);
    expect(
      maxAbsDiff(
        result?.vjp.data ?? [],
        g.data.map((v) => 0.5 * v),
      ),
    ).toBe(0);
    await model.dispose();
  });

  it("maps prompts through the label table", async () => {
    const model = await loadModelPackage(await labelPackage());
    expect(await model.condition("a one", 3)).toEqual({
      kind: "label",
      labels: Int32Array.from([1, 1, 1]),
      prompt: "a one",
    });
    expect(await model.condition("", 2)).toEqual({
      kind: "label",
      labels: Int32Array.from([3, 3]),
      prompt: "",
    });
    const error = await rejection(model.condition("a seven", 1));
    expect(error.code).toBe("invalid_value");
    expect(error.expected).toBe('one of "" (unconditional), "a zero", "a one", "a two"');
    expect(error.received).toBe("a seven");
    await model.dispose();
  });

  it("feeds the index timestep as int64", async () => {
    const dir = await labelPackage(
      { timestepInput: { kind: "index" } },
      { denoiser: affineGraph({ label: true, tDtype: "int64" }) },
    );
    const model = await loadModelPackage(dir);
    const schedule = createSchedule(model.info.schedule);
    const x = ramp([1, 3, 4, 4]);
    const out = await model.predict(x, 0.5, await model.condition("a zero", 1));
    expect(indexOf(schedule, 0.5)).toBe(499);
    expect(maxAbsDiff(out.data, affineReference(x, 499, [0]))).toBeLessThan(1e-4);
    expect(model.vjp).toBeUndefined();
    await model.dispose();
  });

  it("scales the shifted time for rectified flow", async () => {
    const dir = await tempDir();
    await writePackage(
      dir,
      { denoiser: affineGraph() },
      { schedule: { kind: "rectified-flow", shift: 3 }, parameterisation: "velocity" },
    );
    const model = await loadModelPackage(dir);
    const x = ramp([1, 3, 4, 4]);
    const out = await model.predict(x, 0.5, { kind: "none" });
    // Shifted time t' = 3 * 0.5 / (1 + 2 * 0.5) = 0.75, fed as 1000 t' = 750.
    expect(maxAbsDiff(out.data, affineReference(x, 750))).toBeLessThan(1e-4);
    await model.dispose();
  });

  it("feeds alpha and sigma tensors", async () => {
    const dir = await tempDir();
    await writePackage(
      dir,
      { denoiser: affineGraph({ timestep: "alpha-sigma" }) },
      {
        schedule: { kind: "rectified-flow", shift: 1 },
        timestepInput: { kind: "alpha-sigma" },
        io: { x: "x", alpha: "alpha", sigma: "sigma", output: "out" },
      },
    );
    const model = await loadModelPackage(dir);
    const x = ramp([2, 3, 4, 4]);
    const out = await model.predict(x, 0.25, { kind: "none" });
    // Rectified flow: alpha = 1 - t, sigma = t, so alpha + sigma = 1.
    expect(maxAbsDiff(out.data, affineReference(x, 1))).toBeLessThan(1e-6);
    await model.dispose();
  });

  it("converts a float16 model's inputs and outputs", async () => {
    const dir = await tempDir();
    await writePackage(
      dir,
      { denoiser: affineGraph({ dtype: "float16" }) },
      { dtype: "float16", timestepInput: { kind: "scaled", scale: 1 } },
    );
    const model = await loadModelPackage(dir);
    const x = ramp([1, 3, 4, 4]);
    const out = await model.predict(x, 0.5, { kind: "none" });
    // Half precision keeps about 3 decimal digits at this magnitude.
    expect(maxAbsDiff(out.data, affineReference(x, 0.5))).toBeLessThan(2e-3);
    await model.dispose();
  });

  it("runs a static-batch graph in chunks", async () => {
    const dir = await tempDir();
    await writePackage(
      dir,
      { denoiser: affineGraph({ xDims: [2, 3, 4, 4] }) },
      {
        resolution: [4, 4],
        spatial: { kind: "static", size: [4, 4] },
      },
    );
    const model = await loadModelPackage(dir);
    const x = ramp([3, 3, 4, 4]);
    const out = await model.predict(x, 0.1, { kind: "none" });
    expect(out.shape).toEqual([3, 3, 4, 4]);
    expect(maxAbsDiff(out.data, affineReference(x, 100))).toBeLessThan(1e-4);
    await model.dispose();
  });

  it("rejects a size that breaks the spatial rule", async () => {
    const model = await loadModelPackage(await labelPackage());
    const error = await rejection(
      model.predict(ramp([1, 3, 6, 8]), 0.5, await model.condition("", 1)),
    );
    expect(error.code).toBe("shape_mismatch");
    expect(error.message).toBe(
      "model affine-test does not accept input size 6x8 (height x width): it needs height and width multiples of 4",
    );
    expect(error.received).toBe("6x8");
    await model.dispose();
  });

  it("rejects a size other than a static export's", async () => {
    const dir = await tempDir();
    await writePackage(
      dir,
      { denoiser: affineGraph({ xDims: ["N", 3, 8, 8] }) },
      { resolution: [8, 8], spatial: { kind: "static", size: [8, 8] } },
    );
    const model = await loadModelPackage(dir);
    const error = await rejection(model.predict(ramp([1, 3, 9, 8]), 0.5, { kind: "none" }));
    expect(error.expected).toBe("height x width exactly 8x8 (static export)");
    expect(error.received).toBe("9x8");
    await model.dispose();
  });
});

describe("package checks", () => {
  it("names a graph input that the manifest misnames", async () => {
    const dir = await tempDir();
    await writePackage(dir, { denoiser: affineGraph({ names: { x: "sample" } }) });
    const error = await rejection(loadModelPackage(dir));
    const file = join(dir, "denoiser.onnx");
    expect(error.code).toBe("model_mismatch");
    expect(error.message).toBe(
      `${file}: input x (manifest io.x): expected an input of that name; the graph inputs are sample, t; received no such input`,
    );
    expect(error.path).toEqual([file, "input x (manifest io.x)"]);
  });

  it("names a dtype mismatch", async () => {
    const dir = await tempDir();
    await writePackage(dir, { denoiser: affineGraph() }, { dtype: "float16" });
    const error = await rejection(loadModelPackage(dir));
    expect(error.message).toBe(
      `${join(dir, "denoiser.onnx")}: input x dtype: expected float16; received float32`,
    );
    expect(error.expected).toBe("float16");
    expect(error.received).toBe("float32");
  });

  it("names a static dim mismatch", async () => {
    const dir = await tempDir();
    await writePackage(
      dir,
      { denoiser: affineGraph({ xDims: ["N", 3, "H", "W"] }) },
      { channels: 4 },
    );
    const error = await rejection(loadModelPackage(dir));
    expect(error.message).toBe(
      `${join(dir, "denoiser.onnx")}: input x dim 1: expected 4 (manifest channels); received 3 in [N, 3, H, W]`,
    );
  });

  it("requires a static rule for fixed sides", async () => {
    const dir = await tempDir();
    await writePackage(dir, { denoiser: affineGraph({ xDims: ["N", 3, 8, 8] }) });
    const error = await rejection(loadModelPackage(dir));
    expect(error.path[1]).toBe("input x spatial dims");
    expect(error.expected).toBe(
      'a manifest spatial rule {"kind":"static","size":[8, 8]} for a graph with fixed sides',
    );
  });

  it("rejects a graph input the manifest does not feed", async () => {
    const dir = await tempDir();
    await writePackage(dir, { denoiser: affineGraph({ label: true }) });
    const error = await rejection(loadModelPackage(dir));
    expect(error.path[1]).toBe("input label");
  });

  it("rejects a file whose hash changed", async () => {
    const dir = await labelPackage();
    await writeFile(join(dir, "vjp.onnx"), affineGraph({ label: true, tDtype: "int32" }, true));
    const error = await rejection(loadModelPackage(dir));
    expect(error.code).toBe("model_mismatch");
    expect(error.path).toEqual([join(dir, "tweedie-model.json"), "files", "vjp", "sha256"]);
  });

  it("rejects conditioning of the wrong kind", async () => {
    const model = await loadModelPackage(await labelPackage());
    const error = await rejection(model.predict(ramp([1, 3, 4, 4]), 0.5, { kind: "none" }));
    expect(error.expected).toBe("label");
    expect(error.received).toBe("none");
    await model.dispose();
  });
});

describe("latent packages", () => {
  async function latentPackage() {
    const dir = await tempDir();
    await writePackage(
      dir,
      {
        denoiser: affineGraph(),
        vaeEncoder: codecGraph("encoder"),
        vaeDecoder: codecGraph("decoder"),
        vaeEncoderVjp: codecGraph("encoderVjp"),
        vaeDecoderVjp: codecGraph("decoderVjp"),
      },
      {
        space: "latent",
        vae: { scale: 0.5, shift: 0.1, downsample: 2, latentChannels: 3 },
        spatial: { kind: "any" },
      },
    );
    return dir;
  }

  it("encodes and decodes with scale and shift", async () => {
    const model = await loadModelPackage(await latentPackage());
    const x = ramp([1, 3, 4, 6]);
    const z = await model.encode?.(x);
    expect(z?.shape).toEqual([1, 3, 2, 3]);
    // encode(x) = 0.5 (avgpool(x) - 0.1): the first 2x2 block of channel 0.
    const block = (x.data[0] + x.data[1] + x.data[6] + x.data[7]) / 4;
    expect(z?.data[0]).toBeCloseTo(0.5 * (block - 0.1), 6);
    const image = await model.decode?.(z as Tensor);
    expect(image?.shape).toEqual([1, 3, 4, 6]);
    // decode(z) = upsample(z / 0.5 + 0.1) undoes the affine map exactly.
    expect(image?.data[7]).toBeCloseTo(block, 6);
    await model.dispose();
  });

  it("scales the codec VJPs", async () => {
    const model = await loadModelPackage(await latentPackage());
    const z = ramp([1, 3, 2, 2]);
    const gImage = Tensor.full([1, 3, 4, 4], 1);
    const decodeVjp = await model.decodeVjp?.(z, gImage);
    // J_D^T 1 = 4 per latent pixel, divided by the scale 0.5.
    expect(Array.from(decodeVjp?.data ?? [])).toEqual(new Array(12).fill(8));
    const gLatent = Tensor.full([1, 3, 2, 2], 1);
    const encodeVjp = await model.encodeVjp?.(ramp([1, 3, 4, 4]), gLatent);
    // J_E^T 1 = 1/4 per pixel, times the scale 0.5.
    expect(Array.from(encodeVjp?.data ?? [])).toEqual(new Array(48).fill(0.125));
    await model.dispose();
  });

  it("rejects image sides that are not multiples of the downsample", async () => {
    const model = await loadModelPackage(await latentPackage());
    const error = await rejection(model.encode?.(ramp([1, 3, 5, 4])) ?? Promise.resolve());
    expect(error.expected).toBe("height and width multiples of 2");
    await model.dispose();
  });
});

describe("checkCodecSignature", () => {
  const manifest = parseManifest({
    name: "latent4",
    version: "1",
    files: {
      denoiser: { path: "d.onnx", sha256: "0".repeat(64) },
      vaeEncoder: { path: "e.onnx", sha256: "0".repeat(64) },
      vaeDecoder: { path: "v.onnx", sha256: "0".repeat(64) },
    },
    parameterisation: "velocity",
    schedule: { kind: "rectified-flow", shift: 3 },
    timestepInput: { kind: "scaled", scale: 1000 },
    resolution: null,
    channels: 4,
    space: "latent",
    vae: { scale: 1.5, shift: 0.06, downsample: 8, latentChannels: 4 },
    conditioning: { kind: "none" },
    learnedVariance: false,
    dtype: "float32",
    io: { x: "x", t: "t", output: "v" },
    spatial: { kind: "multiple", multiple: 2 },
  });
  const image = { name: "image", dtype: "float32" as const, dims: ["N", 3, "H", "W"] };
  const latent = { name: "z", dtype: "float32" as const, dims: ["N", 4, "h", "w"] };

  it("finds latent channels on each side", () => {
    const encoderVjp = checkCodecSignature(
      manifest,
      "e.onnx",
      {
        inputs: [image, { ...latent, name: "g" }],
        outputs: [{ ...image, name: "vjp" }],
      },
      "output",
      true,
    );
    expect(encoderVjp.input.name).toBe("image");
    expect(encoderVjp.output.name).toBe("vjp");
    const decoderVjp = checkCodecSignature(
      manifest,
      "v.onnx",
      {
        inputs: [latent, { ...image, name: "g" }],
        outputs: [{ ...latent, name: "vjp" }],
      },
      "input",
      true,
    );
    expect(decoderVjp.input.name).toBe("z");
  });

  it("rejects a decoder whose input is not latent", () => {
    expect(() =>
      checkCodecSignature(manifest, "v.onnx", { inputs: [image], outputs: [latent] }, "input"),
    ).toThrow(
      "v.onnx: input image dim 1: expected 4 (vae.latentChannels); received 3 in [N, 3, H, W]",
    );
  });
});

describe("inspectModelPackage", () => {
  it("summarises files and graphs", async () => {
    const dir = await labelPackage();
    const summary = await inspectModelPackage(dir);
    expect(summary.problems).toEqual([]);
    expect(summary.conditioning).toBe("label (3 prompts, null label 3)");
    expect(summary.spatialRule).toBe("height and width multiples of 4");
    expect(summary.files.map((f) => [f.role, f.sha256Matches])).toEqual([
      ["denoiser", true],
      ["vjp", true],
    ]);
    expect(summary.files[0].graph).toEqual({
      irVersion: 8,
      opsets: ["ai.onnx 17"],
      producer: "tweedie",
      inputs: ["x: float32[N, 3, H, W]", "t: float32[N]", "label: int64[N]"],
      outputs: ["out: float32[N, 3, H, W]"],
    });
  });

  it("lists problems instead of throwing", async () => {
    const dir = await tempDir();
    await writePackage(dir, { denoiser: affineGraph() }, { dtype: "float16" });
    await writeFile(join(dir, "denoiser.onnx"), affineGraph({ names: { t: "time" } }));
    const summary = await inspectModelPackage(dir);
    expect(summary.problems).toHaveLength(2);
    expect(summary.problems[0]).toBe("files.denoiser: SHA-256 differs from the manifest");
    expect(summary.problems[1]).toContain("input x dtype: expected float16; received float32");
  });

  it("names a truncated graph file", async () => {
    const dir = await tempDir();
    const graph = affineGraph();
    await writePackage(dir, { denoiser: graph });
    await writeFile(join(dir, "denoiser.onnx"), graph.subarray(0, Math.floor(graph.length / 2)));
    const summary = await inspectModelPackage(dir, { verifyHashes: false });
    expect(summary.problems).toHaveLength(1);
    expect(summary.problems[0]).toMatch(
      /^files\.denoiser: denoiser\.onnx is not a valid ONNX model, perhaps truncated \(decoder: .+\)$/,
    );
  });
});
