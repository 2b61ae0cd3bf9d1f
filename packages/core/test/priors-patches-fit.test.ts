import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { PatchMixtureFit } from "../src/index.js";
import {
  createRng,
  fitPatchMixture,
  PATCH_DIM,
  patchKmeansPlusPlus,
  readPlanarImage,
  readSampleSplit,
  samplePatches,
  TweedieError,
} from "../src/index.js";
import { choleskyLogDet, choleskyLower } from "../src/priors/gmm-linalg.js";

const here = fileURLToPath(import.meta.url);
const samplesDir = resolve(here, "../../../../data/samples");

/**
 * Float64 numpy fit of the same 5000 training patches from the same k-means++ uniforms
 * (fixtures/priors-patches/em_golden.py). The TypeScript fit runs its products in float32
 * through onnxruntime; after 3 EM iterations it agreed to 7e-6 relative when written.
 */
interface Golden {
  settings: {
    patches: number;
    components: number;
    iterations: number;
    kmeansIterations: number;
    seed: string;
    covarianceFloor: number;
  };
  seeds: number[];
  logLikelihoods: number[];
  weights: number[];
  means: number[][];
  covarianceDiagonals: number[][];
  covarianceRows: Record<string, number[][]>;
  logDeterminants: number[];
}

const golden = JSON.parse(
  readFileSync(resolve(here, "../fixtures/priors-patches/em-golden.json"), "utf8"),
) as Golden;

/** max |a - b| / max |b|. */
function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

const TOLERANCE = 5e-5;
const d = PATCH_DIM;

describe("fitPatchMixture on 5000 patches, K = 4", () => {
  const { settings } = golden;
  const root = createRng(settings.seed);
  let patches: Float32Array;
  let fit: PatchMixtureFit;

  beforeAll(async () => {
    const split = readSampleSplit(samplesDir);
    const train = split.train.map((file) => readPlanarImage(join(samplesDir, file), file));
    patches = samplePatches(train, settings.patches, root.split("patches"));
    fit = await fitPatchMixture(patches, d, {
      components: settings.components,
      iterations: settings.iterations,
      kmeansIterations: settings.kmeansIterations,
      covarianceFloor: settings.covarianceFloor,
      rng: root.split("kmeans"),
    });
  }, 120_000);

  it("k-means++ picks the golden seed patches", () => {
    const seeds = patchKmeansPlusPlus(patches, d, settings.components, root.split("kmeans"));
    expect(seeds).toEqual(golden.seeds);
  });

  it("log-likelihood trace matches numpy", () => {
    expect(fit.logLikelihoods).toHaveLength(settings.iterations);
    expect(relativeDifference(fit.logLikelihoods, golden.logLikelihoods)).toBeLessThan(TOLERANCE);
  });

  it("weights and means match numpy", () => {
    expect(relativeDifference(fit.weights, golden.weights)).toBeLessThan(TOLERANCE);
    expect(relativeDifference(fit.means, golden.means.flat())).toBeLessThan(TOLERANCE);
  });

  it("covariance diagonals and rows match numpy", () => {
    const k = settings.components;
    const diagonals = Array.from({ length: k * d }, (_, i) => {
      const [c, j] = [Math.floor(i / d), i % d];
      return fit.covariances[c * d * d + j * d + j];
    });
    expect(relativeDifference(diagonals, golden.covarianceDiagonals.flat())).toBeLessThan(
      TOLERANCE,
    );
    for (const [row, expected] of Object.entries(golden.covarianceRows)) {
      const values = Array.from({ length: k * d }, (_, i) => {
        const [c, j] = [Math.floor(i / d), i % d];
        return fit.covariances[c * d * d + Number(row) * d + j];
      });
      expect(relativeDifference(values, expected.flat()), `row ${row}`).toBeLessThan(TOLERANCE);
    }
  });

  it("covariance log-determinants match numpy", () => {
    golden.logDeterminants.forEach((expected, c) => {
      const block = fit.covariances.slice(c * d * d, (c + 1) * d * d);
      const logDet = choleskyLogDet(choleskyLower(block, d), d);
      expect(Math.abs(logDet - expected), `component ${c}`).toBeLessThan(1e-5 * Math.abs(expected));
    });
  });

  it("refits to the same bits", async () => {
    const again = await fitPatchMixture(patches, d, {
      components: settings.components,
      iterations: settings.iterations,
      kmeansIterations: settings.kmeansIterations,
      covarianceFloor: settings.covarianceFloor,
      rng: root.split("kmeans"),
    });
    expect(again.covariances).toEqual(fit.covariances);
    expect(again.means).toEqual(fit.means);
    expect(again.weights).toEqual(fit.weights);
  }, 120_000);
});

describe("fitPatchMixture options", () => {
  it("rejects more components than patches", async () => {
    const patches = new Float32Array(3 * d);
    await expect(
      fitPatchMixture(patches, d, { components: 4, iterations: 1, rng: createRng(1) }),
    ).rejects.toThrow(TweedieError);
  });

  it("rejects a non-positive covariance floor", async () => {
    const patches = new Float32Array(8 * d);
    await expect(
      fitPatchMixture(patches, d, {
        components: 2,
        iterations: 1,
        covarianceFloor: 0,
        rng: createRng(1),
      }),
    ).rejects.toThrow(/covarianceFloor/);
  });
});
