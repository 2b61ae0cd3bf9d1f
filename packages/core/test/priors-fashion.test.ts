/**
 * The embedded fashion package: a class-conditional epsilon U-Net trained on Fashion-MNIST
 * (tools/fashion), loaded through loadModelPackage and run through real onnxruntime
 * sessions. Reference values in model.json come from torch at export time.
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Conditioning } from "../src/contracts/model.js";
import { Denoiser } from "../src/denoiser.js";
import { TweedieError } from "../src/errors.js";
import { createSession, releaseSession, runSession } from "../src/onnx/adapter.js";
import { loadModelPackage, type OnnxModel } from "../src/onnx/model.js";
import { embeddedModelDir } from "../src/priors/digits-package.js";
import { createRng } from "../src/rng.js";
import { alphaBarAt, createSchedule, ddimGrid, timeOfIndex } from "../src/schedules.js";
import { axpby, clamp, concatBatch, dot, norm, sub, Tensor } from "../src/tensor.js";

const dataDir = resolve(fileURLToPath(new URL("../../../data/fashion", import.meta.url)));
const modelDir = embeddedModelDir("fashion");
const SIDE = 28;
const PIXELS = SIDE * SIDE;
const CLASS_PROMPTS = [
  "a photo of a t-shirt/top",
  "a photo of a trouser",
  "a photo of a pullover",
  "a photo of a dress",
  "a photo of a coat",
  "a photo of a sandal",
  "a photo of a shirt",
  "a photo of a sneaker",
  "a photo of a bag",
  "a photo of an ankle boot",
];
/** Time limit for tests that run the network many times; they take seconds when idle. */
const SLOW_MS = 120_000;
/** Measured values are printed when this variable is set, for docs/fashion-model.md. */
const REPORT = process.env.TWEEDIE_REPORT === "1";

interface Summary {
  l2: number;
  values: number[];
}
interface References {
  image: number;
  label: number;
  step: number;
  pixels: number[];
  eps: Summary;
  epsNull: Summary;
  vjp: Summary;
  classifierPredictions: number[];
  classifierCorrect: number;
}

/** Reads a gzipped IDX file of unsigned bytes: its dims and its data. */
async function readIdx(path: string): Promise<{ dims: number[]; data: Uint8Array }> {
  const bytes = gunzipSync(await readFile(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(bytes[2], `${path}: IDX element type`).toBe(0x08);
  const dims = Array.from({ length: bytes[3] }, (_, i) => view.getUint32(4 + 4 * i));
  return { dims, data: bytes.subarray(4 + 4 * dims.length) };
}

/** Held-out images as [N, 1, 28, 28] on [-1, 1] (x = 2 v / 255 - 1) and their labels. */
async function readHeldOut(): Promise<{ images: Tensor; labels: number[] }> {
  const images = await readIdx(join(dataDir, "t10k-first100-images-idx3-ubyte.gz"));
  const labels = await readIdx(join(dataDir, "t10k-first100-labels-idx1-ubyte.gz"));
  const x = Float32Array.from(images.data, (v) => (2 * v) / 255 - 1);
  return {
    images: new Tensor(x, [images.dims[0], 1, SIDE, SIDE]),
    labels: Array.from(labels.data),
  };
}

/** Builds the fixed direction sqrt(2) sin(0.731 i + phase) that tools/fashion/export.py uses. */
function probe(phase: number): Float64Array {
  return Float64Array.from({ length: PIXELS }, (_, i) => Math.SQRT2 * Math.sin(0.731 * i + phase));
}

function labels(values: readonly number[]): Conditioning {
  return { kind: "label", labels: Int32Array.from(values), prompt: "" };
}

/** PSNR in dB for images on [-1, 1] (peak-to-peak range 2). */
function psnr(estimate: Tensor, reference: Tensor): number {
  const mse = norm(sub(estimate, reference)) ** 2 / reference.size;
  return 10 * Math.log10(4 / mse);
}

function maxAbsDifference(a: Tensor, b: Tensor): number {
  let worst = 0;
  for (let i = 0; i < a.size; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
  return worst;
}

describe("fashion held-out subset", () => {
  it("holds the first 100 test images", async () => {
    const { images, labels: heldOutLabels } = await readHeldOut();
    expect(images.shape).toEqual([100, 1, SIDE, SIDE]);
    expect(heldOutLabels).toHaveLength(100);
    const counts = Array.from(
      { length: 10 },
      (_, c) => heldOutLabels.filter((l) => l === c).length,
    );
    expect(counts).toEqual([8, 13, 14, 9, 10, 9, 8, 11, 12, 6]);
    // Test image 0 of Fashion-MNIST is an ankle boot on a black (-1) background.
    expect(heldOutLabels[0]).toBe(9);
    expect(images.data[0]).toBe(-1);
    expect(Math.max(...images.data)).toBe(1);
  });
});

describe("fashion package", () => {
  let model: OnnxModel;
  let references: References;
  const schedule = createSchedule({
    kind: "vp-linear",
    betaStart: 1e-4,
    betaEnd: 0.02,
    steps: 1000,
  });

  beforeAll(async () => {
    // One thread per session: vitest runs test files in parallel on a few cores.
    model = await loadModelPackage(modelDir, { intraOpThreads: 1 });
    const record = JSON.parse(await readFile(join(modelDir, "model.json"), "utf8"));
    references = record.references as References;
  });

  afterAll(async () => {
    await model?.dispose();
  });

  it("declares an epsilon VP model with a VJP graph", () => {
    expect(model.info.parameterisation).toBe("epsilon");
    expect(model.info.schedule).toEqual({
      kind: "vp-linear",
      betaStart: 1e-4,
      betaEnd: 0.02,
      steps: 1000,
    });
    expect(model.info.timestepInput).toEqual({ kind: "index" });
    expect(model.info.resolution).toEqual([SIDE, SIDE]);
    expect(model.info.channels).toBe(1);
    expect(model.info.hasVjp).toBe(true);
    expect(typeof model.vjp).toBe("function");
  });

  it("maps prompts and short names to classes", async () => {
    for (const [label, prompt] of CLASS_PROMPTS.entries()) {
      const cond = await model.condition(prompt, 2);
      expect(cond.kind === "label" ? Array.from(cond.labels) : [], prompt).toEqual([label, label]);
    }
    const shortNames: [string, number][] = [
      ["t-shirt", 0],
      ["trouser", 1],
      ["pullover", 2],
      ["dress", 3],
      ["coat", 4],
      ["sandal", 5],
      ["shirt", 6],
      ["sneaker", 7],
      ["bag", 8],
      ["ankle boot", 9],
    ];
    for (const [prompt, label] of shortNames) {
      const cond = await model.condition(prompt, 1);
      expect(cond.kind === "label" ? cond.labels[0] : -1, prompt).toBe(label);
    }
    const unconditional = await model.condition("", 1);
    expect(unconditional.kind === "label" ? unconditional.labels[0] : -1).toBe(10);
  });

  it("rejects an unknown prompt and lists the accepted ones", async () => {
    const error = await model.condition("a photo of a hat", 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TweedieError);
    const expected = String((error as TweedieError).expected);
    expect(expected).toContain('"" (unconditional)');
    for (const prompt of CLASS_PROMPTS) expect(expected).toContain(JSON.stringify(prompt));
    expect((error as TweedieError).received).toBe("a photo of a hat");
  });

  /** x_t of the torch references: alpha x0 + sigma probe(0.3) for held-out image 0. */
  async function referenceInput(): Promise<{ xt: Tensor; t: number }> {
    const { images } = await readHeldOut();
    const alphaBar = alphaBarAt(schedule, references.step);
    const noise = probe(0.3);
    const x0 = images.item(references.image);
    const xt = Float32Array.from(
      { length: PIXELS },
      (_, i) => Math.sqrt(alphaBar) * x0.data[i] + Math.sqrt(1 - alphaBar) * noise[i],
    );
    return { xt: new Tensor(xt, [1, 1, SIDE, SIDE]), t: timeOfIndex(schedule, references.step) };
  }

  function expectSummary(received: Tensor, expected: Summary, context: string): void {
    expect(Math.abs(norm(received) - expected.l2) / expected.l2, `${context} l2`).toBeLessThan(
      1e-5,
    );
    references.pixels.forEach((pixel, k) => {
      expect(
        Math.abs(received.data[pixel] - expected.values[k]),
        `${context}[${pixel}]`,
      ).toBeLessThan(1e-4);
    });
  }

  it("predict matches the torch reference", async () => {
    const { xt, t } = await referenceInput();
    const eps = await model.predict(xt, t, labels([references.label]));
    expectSummary(eps, references.eps, "eps (true label)");
    const epsNull = await model.predict(xt, t, labels([10]));
    expectSummary(epsNull, references.epsNull, "eps (null label)");
    // The label changes the output, so the conditioning input is live.
    expect(maxAbsDifference(eps, epsNull)).toBeGreaterThan(1e-2);
  });

  it("vjp matches the torch reference and predict", { timeout: SLOW_MS }, async () => {
    const { xt, t } = await referenceInput();
    const g = new Tensor(Float32Array.from(probe(1.1)), [1, 1, SIDE, SIDE]);
    const { output, vjp } = await model.vjp!(xt, t, labels([references.label]), g);
    expectSummary(vjp, references.vjp, "vjp");
    expectSummary(output, references.eps, "eps of the VJP graph");

    // A batch of 3 runs the batch-1 VJP graph in chunks; each item must equal its own run.
    const rng = createRng("fashion/vjp-batch");
    const batchX = rng.normalTensor([3, 1, SIDE, SIDE]);
    const batchG = rng.split("g").normalTensor([3, 1, SIDE, SIDE]);
    const batchLabels = [0, 5, 10];
    const cond = labels(batchLabels);
    const batched = await model.vjp!(batchX, 0.4, cond, batchG);
    const predicted = await model.predict(batchX, 0.4, cond);
    expect(maxAbsDifference(batched.output, predicted)).toBeLessThan(1e-5);
    for (let n = 0; n < 3; n++) {
      const single = await model.vjp!(
        batchX.item(n),
        0.4,
        labels([batchLabels[n]]),
        batchG.item(n),
      );
      expect(maxAbsDifference(batched.vjp.item(n), single.vjp), `item ${n}`).toBeLessThan(1e-6);
    }
  });

  it("vjp agrees with central differences of predict", { timeout: SLOW_MS }, async () => {
    // <v, J u> by a central difference of the forward graph against <J^T v, u> from the
    // VJP graph, for random x_t, u and v at three noise levels.
    const rng = createRng("fashion/fd");
    const errors: number[] = [];
    for (const [k, index] of [100, 400, 800].entries()) {
      const t = timeOfIndex(schedule, index);
      const stream = rng.split(k);
      const xt = stream.split("x").normalTensor([1, 1, SIDE, SIDE]);
      const cond = labels([k * 3]);
      for (let probeIndex = 0; probeIndex < 3; probeIndex++) {
        const u = stream.split("u", probeIndex).normalTensor([1, 1, SIDE, SIDE]);
        const v = stream.split("v", probeIndex).normalTensor([1, 1, SIDE, SIDE]);
        const h = 1e-2;
        const both = await model.predict(
          concatBatch([axpby(1, xt, h, u), axpby(1, xt, -h, u)]),
          t,
          labels([k * 3, k * 3]),
        );
        const plus = both.item(0);
        const minus = both.item(1);
        const fd = (dot(v, plus) - dot(v, minus)) / (2 * h);
        const exact = dot((await model.vjp!(xt, t, cond, v)).vjp, u);
        errors.push(Math.abs(fd - exact) / Math.abs(exact));
      }
    }
    if (REPORT)
      console.log(
        "fashion FD vs VJP relative errors",
        errors.map((e) => e.toExponential(2)),
      );
    expect(Math.max(...errors)).toBeLessThan(1e-3);
  });

  it("measures the Jacobian asymmetry of the network", { timeout: SLOW_MS }, async () => {
    // A trained network's Jacobian is not symmetric, so J g (what the gradient-free mode
    // of DPS computes) differs from J^T g. For random u and v, E[(u^T A v)^2] is the
    // squared Frobenius norm of A, so pairs of probes estimate ||J - J^T||_F / ||J||_F
    // from a = u^T J v = <J^T u, v> and b = v^T J u = <J^T v, u>, both by the VJP graph.
    const rng = createRng("fashion/asymmetry");
    const asymmetry: number[] = [];
    const gradientFreeError: number[] = [];
    const exact = new Denoiser(model, { vjpMode: "vjp" });
    const gradientFree = new Denoiser(model, { vjpMode: "jvp-fd" });
    const { images, labels: heldOutLabels } = await readHeldOut();
    for (const [k, index] of [100, 300, 600].entries()) {
      const t = timeOfIndex(schedule, index);
      const stream = rng.split(k);
      const x0 = images.item(k);
      const noise = stream.split("noise").normalTensor([1, 1, SIDE, SIDE]);
      const xt = axpby(schedule.alpha(t), x0, schedule.sigma(t), noise);
      const cond = labels([heldOutLabels[k]]);
      let antisymmetric = 0;
      let total = 0;
      for (let pair = 0; pair < 6; pair++) {
        const u = stream.split("u", pair).normalTensor([1, 1, SIDE, SIDE]);
        const v = stream.split("v", pair).normalTensor([1, 1, SIDE, SIDE]);
        const a = dot((await model.vjp!(xt, t, cond, u)).vjp, v);
        const b = dot((await model.vjp!(xt, t, cond, v)).vjp, u);
        antisymmetric += (a - b) ** 2;
        total += 0.5 * (a * a + b * b);
      }
      asymmetry.push(Math.sqrt(antisymmetric / total));

      // Relative error of J g against J^T g for the x0Hat Jacobian, as DPS uses it.
      const g = stream.split("g").normalTensor([1, 1, SIDE, SIDE]);
      const jtg = await exact.x0HatVjp(xt, t, cond, g);
      const jg = await gradientFree.x0HatVjp(xt, t, cond, g);
      gradientFreeError.push(norm(sub(jg, jtg)) / norm(jtg));
    }
    if (REPORT) {
      console.log(
        "fashion ||J - J^T||_F / ||J||_F of eps",
        asymmetry.map((e) => e.toFixed(3)),
      );
      console.log(
        "fashion x0Hat ||Jg - J^T g|| / ||J^T g||",
        gradientFreeError.map((e) => e.toFixed(3)),
      );
    }
    // Both are far above the FD-versus-VJP disagreement (below 1e-3), so they measure the
    // network and not the numerics. ||J - J^T||_F <= 2 ||J||_F bounds the first.
    expect(Math.min(...asymmetry)).toBeGreaterThan(2e-2);
    expect(Math.max(...asymmetry)).toBeLessThanOrEqual(2);
    expect(Math.min(...gradientFreeError)).toBeGreaterThan(5e-2);
  });

  it("denoises held-out images, better with the true label", { timeout: SLOW_MS }, async () => {
    const { images, labels: heldOutLabels } = await readHeldOut();
    const denoiser = new Denoiser(model);
    const rng = createRng("fashion/denoise");
    const count = 20;
    const x0 = new Tensor(images.data.slice(0, count * PIXELS), [count, 1, SIDE, SIDE]);
    const trueLabels = heldOutLabels.slice(0, count);
    const wrongLabels = trueLabels.map((l) => (l + 5) % 10);

    // Moderate noise: step 200, alpha 0.81, sigma 0.59.
    let t = timeOfIndex(schedule, 200);
    let xt = axpby(schedule.alpha(t), x0, schedule.sigma(t), rng.split(200).normalTensor(x0.shape));
    const noisy = axpby(1 / schedule.alpha(t), xt, 0, xt);
    const denoised = (await denoiser.denoise(xt, t, labels(trueLabels))).x0Hat;
    const psnrNoisy = psnr(noisy, x0);
    const psnrDenoised = psnr(clamp(denoised, -1, 1), x0);

    // Heavy noise: step 600, where the label carries much of the information.
    t = timeOfIndex(schedule, 600);
    xt = axpby(schedule.alpha(t), x0, schedule.sigma(t), rng.split(600).normalTensor(x0.shape));
    const withTrue = (await denoiser.denoise(xt, t, labels(trueLabels))).x0Hat;
    const withWrong = (await denoiser.denoise(xt, t, labels(wrongLabels))).x0Hat;
    const psnrTrue = psnr(clamp(withTrue, -1, 1), x0);
    const psnrWrong = psnr(clamp(withWrong, -1, 1), x0);
    if (REPORT) {
      console.log(
        "fashion PSNR step 200: noisy x_t / alpha",
        psnrNoisy.toFixed(2),
        "denoised",
        psnrDenoised.toFixed(2),
      );
      console.log(
        "fashion PSNR step 600: true label",
        psnrTrue.toFixed(2),
        "wrong label",
        psnrWrong.toFixed(2),
      );
    }
    expect(psnrDenoised).toBeGreaterThan(psnrNoisy + 6);
    expect(psnrTrue).toBeGreaterThan(psnrWrong + 0.5);
  });

  it("classifier graph reproduces the recorded predictions", async () => {
    const { images, labels: heldOutLabels } = await readHeldOut();
    const session = await createSession(join(modelDir, "classifier.onnx"), { intraOpThreads: 1 });
    try {
      const predictions = await classify(session, images);
      expect(predictions).toEqual(references.classifierPredictions);
      const correct = predictions.filter((p, i) => p === heldOutLabels[i]).length;
      expect(correct).toBe(references.classifierCorrect);
      expect(correct).toBeGreaterThanOrEqual(80);
    } finally {
      await releaseSession(session);
    }
  });

  it("guided DDIM samples are classified as their class", { timeout: SLOW_MS }, async () => {
    // Deterministic DDIM (eta 0) over 15 steps with classifier-free guidance scale 2 and
    // clipped x0Hat, 2 samples per class, scored by the package's classifier.
    const denoiser = new Denoiser(model, { clipX0: true });
    const perClass = 2;
    const classes = Array.from({ length: 10 * perClass }, (_, i) => Math.floor(i / perClass));
    const cond = labels(classes);
    const uncond = labels(classes.map(() => 10));
    let x = createRng("fashion/ddim").normalTensor([classes.length, 1, SIDE, SIDE]);
    const grid = ddimGrid(15, { spacing: "linspace" });
    for (const [k, index] of grid.entries()) {
      const t = timeOfIndex(schedule, index);
      const { x0Hat, epsHat } = await denoiser.guided(x, t, uncond, cond, 2);
      if (k + 1 === grid.length) {
        x = x0Hat;
        break;
      }
      const next = timeOfIndex(schedule, grid[k + 1]);
      x = axpby(schedule.alpha(next), x0Hat, schedule.sigma(next), epsHat);
    }
    const session = await createSession(join(modelDir, "classifier.onnx"), { intraOpThreads: 1 });
    try {
      const predictions = await classify(session, x);
      const correct = predictions.filter((p, i) => p === classes[i]).length;
      if (REPORT)
        console.log("fashion DDIM-15 CFG-2 samples classified as their class", correct, "of 20");
      // 17 of 20 when the package was exported; an untrained network scores about 2.
      expect(correct).toBeGreaterThanOrEqual(14);
    } finally {
      await releaseSession(session);
    }
  });
});

async function classify(
  session: Awaited<ReturnType<typeof createSession>>,
  images: Tensor,
): Promise<number[]> {
  const outputs = await runSession(session, {
    x: { dtype: "float32", data: images.data, dims: [...images.shape] },
  });
  const logits = outputs.logits;
  if (logits.dtype !== "float32") {
    throw new Error(`classifier.onnx: expected float32 logits; received ${logits.dtype}`);
  }
  return Array.from({ length: images.batch }, (_, n) => {
    const row = logits.data.subarray(n * 10, (n + 1) * 10);
    return row.indexOf(Math.max(...row));
  });
}
