import { createHash } from "node:crypto";
import { cp, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TweedieError } from "../src/errors.js";
import {
  createSession,
  type OnnxSession,
  releaseSession,
  runSession,
} from "../src/onnx/adapter.js";
import { readManifest } from "../src/onnx/manifest.js";
import { loadModelPackage } from "../src/onnx/model.js";
import {
  type DigitsPrior,
  digitsLabel,
  digitsMixture,
  digitsPrompts,
} from "../src/priors/digits.js";
import {
  DIGITS_DATA_FILE,
  DIGITS_DIM,
  DIGITS_NULL_LABEL,
  type DigitsDataset,
  digitsSplit,
  readDigitsFile,
  selectDigits,
} from "../src/priors/digits-data.js";
import {
  checkDigitsPrior,
  type DigitsPriorCheck,
  type DigitsPriorRecord,
  embeddedModelDir,
  loadDigitsPrior,
} from "../src/priors/digits-package.js";
import { encodeDigitsParams } from "../src/priors/digits-params.js";
import {
  type EigenMixture,
  eigenMixture,
  mixtureDenoise,
  mixtureDenoiseJvp,
} from "../src/priors/gmm.js";
import { createRng } from "../src/rng.js";
import { alphaBarAt, createSchedule } from "../src/schedules.js";
import { Tensor } from "../src/tensor.js";

const dataDir = resolve(fileURLToPath(new URL("../../../data/digits", import.meta.url)));
const modelDir = embeddedModelDir("digits");

/** (alpha, sigma) pairs from the DDPM linear schedule and from rectified flow. */
function noiseLevels(): { name: string; alpha: number; sigma: number }[] {
  const vp = createSchedule({ kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 });
  const levels = [0, 20, 100, 300, 600, 999].map((index) => {
    const alphaBar = alphaBarAt(vp, index);
    return { name: `VP step ${index}`, alpha: Math.sqrt(alphaBar), sigma: Math.sqrt(1 - alphaBar) };
  });
  for (const t of [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
    levels.push({ name: `flow t ${t}`, alpha: 1 - t, sigma: t });
  return levels;
}

/** Relative l2 error of each sample: ||received - expected|| / ||expected||. */
function worstRelativeError(
  received: Float32Array,
  expected: Float64Array,
  samples: number,
): number {
  const size = expected.length / samples;
  let worst = 0;
  for (let n = 0; n < samples; n++) {
    let diff = 0;
    let norm = 0;
    for (let i = n * size; i < (n + 1) * size; i++) {
      diff += (received[i] - expected[i]) ** 2;
      norm += expected[i] ** 2;
    }
    worst = Math.max(worst, Math.sqrt(diff / norm));
  }
  return worst;
}

describe("digits data", () => {
  const file = readDigitsFile(join(dataDir, DIGITS_DATA_FILE));

  it("reads 1797 images on [-1, 1]", () => {
    expect(file.count).toBe(1797);
    expect(file.images.length).toBe(1797 * DIGITS_DIM);
    expect(Math.min(...file.images)).toBe(-1);
    expect(Math.max(...file.images)).toBe(1);
    // Row 0 of the file starts 0,0,5,13: pixel 2 maps to 2 * 5 / 16 - 1.
    expect(file.images[2]).toBe(-0.375);
    expect(file.labels[0]).toBe(0);
  });

  it("holds out every fifth row", () => {
    const { train, heldOut } = digitsSplit(file.count);
    expect(train.length).toBe(1438);
    expect(heldOut.length).toBe(359);
    expect(Array.from(heldOut.slice(0, 3))).toEqual([4, 9, 14]);
    const heldOutLabels = new Set(selectDigits(file, heldOut).labels);
    expect(heldOutLabels.size).toBe(10);
  });
});

describe("digits prompts", () => {
  it("map every documented form to its class", () => {
    expect(digitsLabel("a handwritten digit 3")).toBe(3);
    expect(digitsLabel("3")).toBe(3);
    expect(digitsLabel("three")).toBe(3);
    expect(digitsLabel("zero")).toBe(0);
    expect(digitsLabel("")).toBe(DIGITS_NULL_LABEL);
    expect(Object.keys(digitsPrompts())).toHaveLength(30);
  });

  it("reject an unknown prompt and list the accepted ones", () => {
    try {
      digitsLabel("a handwritten digit 12");
    } catch (error) {
      expect(error).toBeInstanceOf(TweedieError);
      expect(String((error as TweedieError).expected)).toContain('"a handwritten digit 7"');
      expect(String((error as TweedieError).expected)).toContain('"" (unconditional)');
    }
    expect.assertions(3);
  });

  it("match the package manifest and its loader", async () => {
    const manifest = await readManifest(modelDir);
    expect(manifest.conditioning).toEqual({
      kind: "label",
      prompts: digitsPrompts(),
      nullLabel: 10,
    });
    const model = await loadModelPackage(modelDir);
    try {
      const cond = await model.condition("eight", 2);
      expect(cond.kind).toBe("label");
      expect(cond.kind === "label" ? Array.from(cond.labels) : []).toEqual([8, 8]);
      const unconditional = await model.condition("", 1);
      expect(unconditional.kind === "label" ? unconditional.labels[0] : -1).toBe(10);
      await expect(model.condition("a handwritten digit ten", 1)).rejects.toThrow(
        /no label for prompt/,
      );
      expect(model.info.hasVjp).toBe(true);
    } finally {
      await model.dispose();
    }
  });
});

describe("digits package", () => {
  let check: DigitsPriorCheck;
  let record: DigitsPriorRecord;

  beforeAll(async () => {
    // The rebuild from data/ that `tweedie priors build --check` runs for the digits.
    check = await checkDigitsPrior({ dataDir, modelDir });
    record = (await loadDigitsPrior(modelDir)).record;
  });

  it("reproduces the committed parameters from the data", () => {
    expect(check.problems).toEqual([]);
    expect(check.parameters.maxRelativeDifference).toBeLessThanOrEqual(1e-6);
    expect(check.ok).toBe(true);
  });

  it("check flags a perturbed parameter", async () => {
    const copy = await mkdtemp(join(tmpdir(), "tweedie-digits-"));
    try {
      await cp(modelDir, copy, { recursive: true });
      const { prior: committed } = await loadDigitsPrior(modelDir);
      // One covariance entry of class 7 off by 1e-5 of the block's largest value.
      const covariances = committed.classes[7].covariances;
      const largest = covariances.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      covariances[100] += 1e-5 * largest;
      const params = encodeDigitsParams(committed);
      await writeFile(join(copy, "params.f64"), params);
      const sha256 = createHash("sha256").update(params).digest("hex");
      await writeFile(
        join(copy, "prior.json"),
        JSON.stringify({ ...record, params: { ...record.params, sha256 } }),
      );
      const perturbed = await checkDigitsPrior({ dataDir, modelDir: copy });
      expect(perturbed.ok).toBe(false);
      expect(perturbed.parameters.block).toBe("classes[7].covariances");
      expect(perturbed.parameters.maxRelativeDifference).toBeCloseTo(1e-5, 10);
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it("classifies held-out digits as recorded", () => {
    expect(check.evaluation.heldOut).toBe(359);
    expect(check.evaluation.accuracy).toBeGreaterThan(0.9);
    expect(check.evaluation.accuracy).toBe(record.evaluation.accuracy);
    expect(record.split).toEqual({
      rule: "row index mod 5 = 4 (0-based) is held out",
      train: 1438,
      heldOut: 359,
    });
  });

  it("stays under 2 MB", async () => {
    let total = 0;
    for (const name of [
      "tweedie-model.json",
      "prior.json",
      "params.f64",
      "denoiser.onnx",
      "denoiser-vjp.onnx",
    ]) {
      total += (await stat(join(modelDir, name))).size;
    }
    expect(total).toBeLessThan(2 * 1024 * 1024);
  });

  it("reports unknown embedded packages with the known ones", () => {
    expect(() => embeddedModelDir("digitz")).toThrow(/no embedded model package named "digitz"/);
    expect(() => embeddedModelDir("../digits")).toThrow(TweedieError);
  });
});

describe("digits ONNX graphs", () => {
  const levels = noiseLevels();
  const perLevel = 6;
  const count = levels.length * perLevel;
  let prior: DigitsPrior;
  let byLabel: EigenMixture[];
  let heldOut: DigitsDataset;
  let denoiser: OnnxSession;
  let vjpGraph: OnnxSession;
  const alpha = new Float64Array(count);
  const sigma = new Float64Array(count);
  const labels = new Int32Array(count);
  const xt = new Float64Array(count * DIGITS_DIM);

  beforeAll(async () => {
    prior = (await loadDigitsPrior(modelDir)).prior;
    // Each label's mixture in float64, built apart from the label table of the graphs.
    byLabel = Array.from({ length: DIGITS_NULL_LABEL + 1 }, (_, l) =>
      eigenMixture(digitsMixture(prior, l)),
    );
    const file = readDigitsFile(join(dataDir, DIGITS_DATA_FILE));
    heldOut = selectDigits(file, digitsSplit(file.count).heldOut);

    // Per level: held-out digits with their own label, the unconditional label and a
    // wrong label (the hardest case for float32 logits).
    const rng = createRng("digits-onnx-test");
    const eps = rng.split("eps").normal64(count * DIGITS_DIM);
    levels.forEach((level, i) => {
      for (let j = 0; j < perLevel; j++) {
        const n = i * perLevel + j;
        const row = (n * 37) % heldOut.count;
        alpha[n] = level.alpha;
        sigma[n] = level.sigma;
        const label = heldOut.labels[row];
        const kinds = [label, DIGITS_NULL_LABEL, (label + 3) % 10];
        labels[n] = kinds[j % 3];
        for (let p = 0; p < DIGITS_DIM; p++) {
          const index = n * DIGITS_DIM + p;
          xt[index] = level.alpha * heldOut.images[row * DIGITS_DIM + p] + level.sigma * eps[index];
        }
      }
    });
    denoiser = await createSession(join(modelDir, "denoiser.onnx"));
    vjpGraph = await createSession(join(modelDir, "denoiser-vjp.onnx"));
  });

  afterAll(async () => {
    await releaseSession(denoiser);
    await releaseSession(vjpGraph);
  });

  const feeds = (values: Float64Array, g?: Float64Array) => {
    const dims = [count, 1, 8, 8];
    const out: Record<string, Parameters<typeof runSession>[1][string]> = {
      x_t: { dtype: "float32", data: Float32Array.from(values), dims },
      alpha: { dtype: "float32", data: Float32Array.from(alpha), dims: [count] },
      sigma: { dtype: "float32", data: Float32Array.from(sigma), dims: [count] },
      label: { dtype: "int64", data: BigInt64Array.from(labels, (l) => BigInt(l)), dims: [count] },
    };
    if (g !== undefined) out.g = { dtype: "float32", data: Float32Array.from(g), dims };
    return out;
  };

  /** Computes the float64 reference: each sample through its own label's mixture. */
  const reference = (values: Float64Array, v?: Float64Array) => {
    const x0Hat = new Float64Array(count * DIGITS_DIM);
    const jvp = new Float64Array(count * DIGITS_DIM);
    for (let n = 0; n < count; n++) {
      const slice = (a: Float64Array) => a.subarray(n * DIGITS_DIM, (n + 1) * DIGITS_DIM);
      const e = byLabel[labels[n]];
      if (v === undefined) {
        x0Hat.set(mixtureDenoise(e, slice(values), alpha[n], sigma[n]).x0Hat, n * DIGITS_DIM);
      } else {
        const result = mixtureDenoiseJvp(e, slice(values), alpha[n], sigma[n], slice(v));
        x0Hat.set(result.x0Hat, n * DIGITS_DIM);
        jvp.set(result.jvp, n * DIGITS_DIM);
      }
    }
    return { x0Hat, jvp };
  };

  it("denoiser equals the float64 reference", async () => {
    const outputs = await runSession(denoiser, feeds(xt));
    const expected = reference(xt).x0Hat;
    expect(worstRelativeError(outputs.x0Hat.data as Float32Array, expected, count)).toBeLessThan(
      1e-4,
    );
  });

  it("VJP graph equals the float64 JVP", async () => {
    const g = createRng("digits-onnx-test")
      .split("g")
      .normal64(count * DIGITS_DIM);
    const outputs = await runSession(vjpGraph, feeds(xt, g));
    const expected = reference(xt, g);
    expect(
      worstRelativeError(outputs.x0Hat.data as Float32Array, expected.x0Hat, count),
    ).toBeLessThan(1e-4);
    expect(worstRelativeError(outputs.vjp.data as Float32Array, expected.jvp, count)).toBeLessThan(
      1e-4,
    );
  });

  it("VJP graph Jacobian is symmetric", async () => {
    const rng = createRng("digits-onnx-test").split("symmetry");
    const u = rng.split("u").normal64(count * DIGITS_DIM);
    const v = rng.split("v").normal64(count * DIGITS_DIM);
    const ju = (await runSession(vjpGraph, feeds(xt, u))).vjp.data as Float32Array;
    const jv = (await runSession(vjpGraph, feeds(xt, v))).vjp.data as Float32Array;
    for (let n = 0; n < count; n++) {
      let uJv = 0;
      let vJu = 0;
      let scale = 0;
      for (let i = n * DIGITS_DIM; i < (n + 1) * DIGITS_DIM; i++) {
        uJv += u[i] * jv[i];
        vJu += v[i] * ju[i];
        scale += Math.abs(u[i] * jv[i]) + Math.abs(v[i] * ju[i]);
      }
      // Relative to the sum of |terms|, the size of the float32 rounding of either product.
      expect(Math.abs(uJv - vJu) / scale, `sample ${n}`).toBeLessThan(1e-4);
    }
  });

  it("model package predicts the reference at flow times", async () => {
    const model = await loadModelPackage(modelDir);
    try {
      const t = 0.4;
      const cond = await model.condition("a handwritten digit 5", 1);
      const x = Tensor.from(xt.subarray(0, 4 * DIGITS_DIM), [4, 1, 8, 8]);
      const out = await model.predict(x, t, cond);
      const expected = mixtureDenoise(byLabel[5], Float64Array.from(x.data), 1 - t, t).x0Hat;
      expect(worstRelativeError(out.data, expected, 4)).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
  });

  it("denoises sigma = 0 to x_t / alpha", async () => {
    const session = denoiser;
    const x = Float32Array.from(heldOut.images.subarray(0, DIGITS_DIM));
    const outputs = await runSession(session, {
      x_t: { dtype: "float32", data: x, dims: [1, 1, 8, 8] },
      alpha: { dtype: "float32", data: Float32Array.of(1), dims: [1] },
      sigma: { dtype: "float32", data: Float32Array.of(0), dims: [1] },
      label: { dtype: "int64", data: BigInt64Array.of(10n), dims: [1] },
    });
    const out = outputs.x0Hat.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < DIGITS_DIM; i++) worst = Math.max(worst, Math.abs(out[i] - x[i]));
    expect(worst).toBeLessThan(1e-4);
  });
});
