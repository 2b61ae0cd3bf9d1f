import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type {
  OnnxModel,
  PatchesPriorRecord,
  PatchesSamples,
  PatchPriorParams,
} from "../src/index.js";
import {
  createRng,
  embeddedModelDir,
  evaluatePatchDenoising,
  fitPatchMixture,
  loadModelPackage,
  loadPatchesPrior,
  PATCH_DIM,
  PATCHES_EVALUATION_SETTINGS,
  PATCHES_FIT_SETTINGS,
  patchEigenMixture,
  patchPriorParams,
  readManifest,
  readPatchesSamples,
  referencePatchDenoise,
  samplePatches,
  Tensor,
} from "../src/index.js";

const samplesDir = resolve(fileURLToPath(import.meta.url), "../../../../data/samples");
const packageDir = embeddedModelDir("patches");

function relativeNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe("embedded patches package", () => {
  let params: PatchPriorParams;
  let record: PatchesPriorRecord;
  let model: OnnxModel;

  beforeAll(async () => {
    ({ params, record } = await loadPatchesPrior(packageDir));
    model = await loadModelPackage(packageDir);
    return () => model.dispose();
  }, 60_000);

  it("manifest declares x0, alpha-sigma and a VJP", async () => {
    const manifest = await readManifest(packageDir);
    expect(manifest.parameterisation).toBe("x0");
    expect(manifest.timestepInput).toEqual({ kind: "alpha-sigma" });
    expect(manifest.resolution).toBeNull();
    expect(manifest.spatial).toEqual({ kind: "multiple", multiple: 4 });
    expect(model.info.hasVjp).toBe(true);
  });

  it("record matches the committed fit settings", () => {
    expect(record.fit).toEqual({ ...PATCHES_FIT_SETTINGS });
    expect(params.components).toBe(PATCHES_FIT_SETTINGS.components);
    expect(record.logLikelihoods).toHaveLength(PATCHES_FIT_SETTINGS.iterations);
  });

  it("stays a few megabytes", () => {
    const bytes = readdirSync(packageDir).reduce(
      (sum, file) => sum + statSync(join(packageDir, file)).size,
      0,
    );
    // K = 16 takes 4.6 MiB (the weights are stored once per graph); K = 32 would take 9.2 MiB.
    expect(bytes).toBeLessThan(6 * 2 ** 20);
  });

  it("loader predict and vjp match the reference", async () => {
    // The manifest's schedule is rectified flow with shift 1: alpha = 1 - t, sigma = t.
    const [n, h, w] = [1, 16, 24];
    const t = 0.35;
    const rng = createRng("patches-package-test");
    const xt = new Tensor(rng.split("x").normal(n * 3 * h * w), [n, 3, h, w]);
    const g = new Tensor(rng.split("g").normal(n * 3 * h * w), [n, 3, h, w]);
    const eigen = patchEigenMixture(params);
    const expected = referencePatchDenoise(
      eigen,
      { data: xt.data, dims: [n, 3, h, w] },
      [1 - t],
      [t],
      4,
      g.data,
    );
    const x0Hat = await model.predict(xt, t, { kind: "none" });
    expect(relativeNorm(x0Hat.data, expected.x0Hat)).toBeLessThan(1e-4);
    const vjp = await model.vjp?.(xt, t, { kind: "none" }, g);
    expect(relativeNorm(vjp?.output.data ?? [], expected.x0Hat)).toBeLessThan(1e-4);
    expect(relativeNorm(vjp?.vjp.data ?? [], expected.vjp as Float64Array)).toBeLessThan(1e-4);
  }, 60_000);
});

describe("held-out denoising at sigma 25/255 on [0, 1]", () => {
  const { sigma, noiseSeed } = PATCHES_EVALUATION_SETTINGS;
  let samples: PatchesSamples;
  let params: PatchPriorParams;
  let record: PatchesPriorRecord;
  let stride4: number[];

  const gains = async (prior: PatchPriorParams, stride: 4 | 8) => {
    const { scores } = await evaluatePatchDenoising(prior, samples.heldout, {
      sigma,
      stride,
      rng: createRng(noiseSeed),
    });
    return scores.map((s) => s.denoised - s.noisy);
  };

  beforeAll(async () => {
    samples = readPatchesSamples(samplesDir);
    ({ params, record } = await loadPatchesPrior(packageDir));
    stride4 = await gains(params, 4);
  }, 120_000);

  it("gains at least 9 dB over the noisy photos, as recorded", () => {
    expect(Math.min(...stride4)).toBeGreaterThan(9);
    expect(mean(stride4)).toBeCloseTo(record.evaluation.meanGainStride4, 2);
  });

  it("beats non-overlapping tiles by 0.4 dB", async () => {
    const stride8 = await gains(params, 8);
    expect(mean(stride4) - mean(stride8)).toBeGreaterThan(0.4);
  }, 60_000);

  it("beats a single Gaussian by 1 dB", async () => {
    const patches = samplePatches(
      samples.train,
      20_000,
      createRng("patches-package-test").split("k1"),
    );
    const single = await fitPatchMixture(patches, PATCH_DIM, {
      components: 1,
      iterations: 1,
      rng: createRng(1),
    });
    const gaussian = await gains(patchPriorParams(single), 4);
    expect(mean(stride4) - mean(gaussian)).toBeGreaterThan(1);
  }, 60_000);
});
