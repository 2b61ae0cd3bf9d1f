import { createSchedule } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { createDdpmGrid } from "../src/index.js";

const schedule = createSchedule({ kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 });

describe("DDPM grid", () => {
  it("reproduces the training betas with all 1000 steps", () => {
    const grid = createDdpmGrid(schedule, 1000);
    expect(grid.timesteps).toHaveLength(1000);
    for (const i of [0, 1, 500, 999]) {
      expect(grid.betas[i]).toBeCloseTo(schedule.betas![i], 14);
      expect(grid.times[i]).toBe((i + 1) / 1000);
    }
    expect(grid.posteriorVariance[0]).toBe(0);
    expect(grid.meanX0[0]).toBeCloseTo(1, 14);
    expect(grid.meanXt[0]).toBe(0);
  });

  // Reference values: guided-diffusion's space_timesteps(1000, [100]) and respaced
  // betas computed with numpy in float64.
  it("respaces 100 steps as guided-diffusion does", () => {
    const grid = createDdpmGrid(schedule, 100);
    expect(grid.timesteps.slice(0, 5)).toEqual([0, 10, 20, 30, 40]);
    expect(grid.timesteps.slice(-3)).toEqual([979, 989, 999]);
    const reference: Record<number, [number, number, number, number, number]> = {
      1: [
        0.002093636855839631, 9.545047024934424e-5, 0.9544569760652323, 0.045542997735577774,
        0.997806572507846,
      ],
      50: [
        0.10525807890797834, 0.10426941686284175, 0.032674139792045816, 0.9370233173640983,
        0.0739391247214384,
      ],
      99: [
        0.18217953085873884, 0.1821778929430258, 0.0012798366376991796, 0.9043261379073441,
        4.035829765375676e-5,
      ],
    };
    for (const [index, [beta, variance, meanX0, meanXt, alphaBar]] of Object.entries(reference)) {
      const i = Number(index);
      expect(grid.betas[i]).toBeCloseTo(beta, 13);
      expect(grid.posteriorVariance[i]).toBeCloseTo(variance, 13);
      expect(grid.meanX0[i]).toBeCloseTo(meanX0, 13);
      expect(grid.meanXt[i]).toBeCloseTo(meanXt, 13);
      expect(grid.alphaBar[i] / alphaBar).toBeCloseTo(1, 12);
    }
  });

  it("rejects more steps than the schedule has", () => {
    expect(() => createDdpmGrid(schedule, 1500)).toThrow("steps 1500 > schedule length 1000");
  });

  it("rejects a continuous schedule", () => {
    const flow = createSchedule({ kind: "rectified-flow", shift: 1 });
    expect(() => createDdpmGrid(flow, 10)).toThrow(/discrete \(DDPM\) schedule/);
  });
});
