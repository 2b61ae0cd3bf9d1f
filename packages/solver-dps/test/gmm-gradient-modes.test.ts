import { type GmmSolverFactory, runGmmBenchmark } from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import { DpsSolver, dpsParamsSchema } from "../src/index.js";

// DPS with 1000 steps and zeta 0.1, exact VJP against the finite-difference J g
// (probe 1e-2 sigma_t), on the six d = 8 cells with one seed and 300 samples. All runs
// share every random draw, so the ratios differ only through the gradient. d = 80 is left
// out: at the few samples CI affords there, one sample changing mode moves a cell mean by
// more than the finite-difference error does.
const grid = { dims: [8], dys: [1, 2, 4], sigmaYs: [0.1, 1], seeds: [0], samples: 300 };

function dpsFactory(gradient: "vjp" | "jvp-fd", zeta = 0.1): GmmSolverFactory {
  return ({ samples }) =>
    new DpsSolver(dpsParamsSchema.parse({ steps: 1000, zeta, clipX0: false, samples, gradient }));
}

describe("DPS gradient modes on the GMM benchmark", () => {
  it("finite-difference J g keeps cell means", async () => {
    const exact = await runGmmBenchmark({ ...grid, solverFactory: dpsFactory("vjp") });
    const finiteDifference = await runGmmBenchmark({
      ...grid,
      solverFactory: dpsFactory("jvp-fd"),
    });
    // The exact gradient with zeta changed by a factor 1 + 1e-6: how far float32 rounding
    // alone moves a cell. Samples near a boundary between modes switch modes under any
    // such change, so the (dy 1, sigmaY 0.1) cell moves by about 0.07 here.
    const rounding = await runGmmBenchmark({
      ...grid,
      solverFactory: dpsFactory("vjp", 0.1 * (1 + 1e-6)),
    });
    // Reference at full size: DPS with 1000 steps and zeta 0.1 scores a pooled median of 7.7.
    expect(exact.pooledMedian).toBeLessThanOrEqual(12);
    for (const [index, cell] of exact.cells.entries()) {
      const other = finiteDifference.cells[index];
      expect([other.dim, other.dy, other.sigmaY]).toEqual([cell.dim, cell.dy, cell.sigmaY]);
      const label = `cell d=${cell.dim} dy=${cell.dy} sigmaY=${cell.sigmaY}`;
      const change = Math.abs(other.meanRatio - cell.meanRatio);
      const floor = Math.abs(rounding.cells[index].meanRatio - cell.meanRatio);
      // At most 0.05 beyond the rounding floor, and at most 2% of the cell mean.
      expect(change, label).toBeLessThanOrEqual(0.05 + floor);
      expect(change / cell.meanRatio, label).toBeLessThanOrEqual(0.02);
    }
  }, 600_000);
});
