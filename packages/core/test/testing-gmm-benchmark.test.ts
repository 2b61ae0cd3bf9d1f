import { describe, expect, it } from "vitest";
import { sampleMixture } from "../src/priors/gmm.js";
import { createRng } from "../src/rng.js";
import { createSchedule } from "../src/schedules.js";
import {
  benchmarkDirections,
  createGridMixture,
  exactSolverFactory,
  priorSolverFactory,
  runGmmBenchmark,
  sampleMixtureDdpm,
  slicedWasserstein,
  VP_LINEAR_1000,
} from "../src/testing/index.js";

describe("GMM benchmark", () => {
  // 1000 samples at d = 8 and 250 at d = 80 keep the run short. The distance to four
  // independent prior sets is averaged, and the floor is the mean over their six pairs,
  // because one floor alone varies by about 1.5x between draws.
  it.each([
    [8, 1000],
    [80, 250],
  ])("unguided exact-denoiser DDPM reproduces the prior (d = %i)", (dim, count) => {
    const mixture = createGridMixture(dim);
    const ddpm = sampleMixtureDdpm(mixture, count, createRng(1), createSchedule(VP_LINEAR_1000));
    const references = [0, 1, 2, 3].map(
      (j) => sampleMixture(mixture, count, createRng(2).split(j)).samples,
    );
    const directions = benchmarkDirections(dim);
    let distance = 0;
    let floor = 0;
    for (let j = 0; j < 4; j++) {
      distance += slicedWasserstein(ddpm, references[j], dim, directions) / 4;
      for (let k = j + 1; k < 4; k++)
        floor += slicedWasserstein(references[j], references[k], dim, directions) / 6;
    }
    // Reference: 0.8-1.25 per cell for an unguided DDPM sampler on this prior.
    expect(distance / floor).toBeGreaterThan(0.6);
    expect(distance / floor).toBeLessThan(1.5);
  });

  it("scores exact posterior samples near 1 and prior samples far above", async () => {
    const grid = { dims: [8], dys: [1, 4], sigmaYs: [0.1, 1], seeds: [0, 1], samples: 500 };
    const exact = await runGmmBenchmark({ ...grid, solverFactory: exactSolverFactory });
    const prior = await runGmmBenchmark({ ...grid, solverFactory: priorSolverFactory });
    expect(exact.problems).toHaveLength(8);
    expect(exact.cells).toHaveLength(4);
    expect(exact.cells.every((cell) => cell.problems === 2)).toBe(true);
    expect(exact.pooledMedian).toBeGreaterThan(0.6);
    expect(exact.pooledMedian).toBeLessThan(1.6);
    expect(prior.pooledMedian).toBeGreaterThan(10);
    // The same problems and reference sets: only the method's samples differ.
    expect(prior.problems.map((p) => p.floor)).toEqual(exact.problems.map((p) => p.floor));
  });
});
