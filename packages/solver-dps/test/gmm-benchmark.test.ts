import { type GmmSolverFactory, priorSolverFactory, runGmmBenchmark } from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import { DpsSolver, dpsParamsSchema, respacedZeta } from "../src/index.js";

// The exact-posterior benchmark at a CI-fast size: all 12 cells (d in {8, 80}, dy in
// {1, 2, 4}, sigmaY in {0.1, 1}) with one seed, 500 samples at d = 8 and 200 at d = 80,
// and DPS respaced to 250 steps with zeta scaled from 0.1 at 1000 steps to 0.4.
// bench/gmm-benchmark.mjs runs the full size (5 seeds, 2000 / 1000 samples, 1000 steps).
// Ratios are SW1(method, exact) / SW1(exact, exact'); fewer samples raise the noise floor,
// so ratios here run lower than at full size.
const STEPS = 250;
/** Each case takes 10-30 s of CPU time; the limit leaves room for a loaded machine. */
const TIMEOUT_MS = 600_000;
const grid = {
  dims: [8, 80],
  dys: [1, 2, 4],
  sigmaYs: [0.1, 1],
  seeds: [0],
  samples: (dim: number) => (dim <= 8 ? 500 : 200),
};

/** DPS with zeta 0.1 at 1000 steps, scaled to STEPS; `sign` -1 flips the guidance on purpose. */
function dpsFactory(sign: number, zetaAt1000 = 0.1): GmmSolverFactory {
  return ({ samples }) => {
    const params = dpsParamsSchema.parse({
      steps: STEPS,
      clipX0: false,
      variance: "posterior",
      samples,
    });
    return new DpsSolver({ ...params, zeta: sign * respacedZeta(zetaAt1000, STEPS) });
  };
}

describe("DPS on the exact GMM benchmark", () => {
  it(
    "lands far closer to the posterior than the prior",
    async () => {
      const dps = await runGmmBenchmark({ ...grid, solverFactory: dpsFactory(1) });
      const prior = await runGmmBenchmark({ ...grid, solverFactory: priorSolverFactory });
      expect(dps.problems).toHaveLength(12);
      // Reference at full size: DPS 7.7, prior samples 69 (pooled medians).
      expect(dps.pooledMedian).toBeLessThanOrEqual(12);
      expect(prior.pooledMedian).toBeGreaterThan(35);
      expect(prior.pooledMedian).toBeLessThan(140);
    },
    TIMEOUT_MS,
  );

  it(
    "catches a solver with the guidance sign flipped",
    async () => {
      const flipped = await runGmmBenchmark({ ...grid, solverFactory: dpsFactory(-1) });
      expect(flipped.pooledMedian).toBeGreaterThanOrEqual(50);
    },
    TIMEOUT_MS,
  );

  it(
    "unguided run reproduces the prior",
    async () => {
      const unguided = await runGmmBenchmark({
        ...grid,
        solverFactory: dpsFactory(0),
        target: "prior",
      });
      expect(unguided.pooledMedian).toBeLessThanOrEqual(1.5);
      expect(unguided.pooledMedian).toBeGreaterThan(0.6);
    },
    TIMEOUT_MS,
  );
});
