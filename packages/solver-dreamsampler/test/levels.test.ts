import { createSchedule, timeOfIndex } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { ddimLevels, levelAt, REFERENCE_SCHEDULES, timeAtAlphaBar } from "../src/index.js";

describe("ddimLevels", () => {
  it("uses a VP model's own steps 0, 5, ..., 995", () => {
    const schedule = createSchedule(REFERENCE_SCHEDULES.sd15);
    const levels = ddimLevels(schedule, 200, REFERENCE_SCHEDULES.ddpm);
    expect(levels).toHaveLength(201);
    expect(levels[0]).toEqual({ t: 0, alpha: 1, sigma: 0, alphaBar: 1 });
    expect(levels[1].t).toBe(timeOfIndex(schedule, 0));
    expect(levels[200].t).toBe(timeOfIndex(schedule, 995));
    for (const k of [1, 57, 200]) {
      expect(levels[k].alphaBar).toBeCloseTo(schedule.alphaBars![5 * (k - 1)], 12);
    }
    // SD 1.5 alphaBar at step 995: numpy cumprod of scaled-linear betas 0.00085 to 0.012.
    expect(levels[200].alphaBar).toBeCloseTo(0.00489013515095375, 12);
  });

  it("maps a rectified flow onto the reference alphaBars", () => {
    const reference = createSchedule(REFERENCE_SCHEDULES.sd15);
    for (const shift of [1, 3]) {
      const schedule = createSchedule({ kind: "rectified-flow", shift });
      const levels = ddimLevels(schedule, 50, REFERENCE_SCHEDULES.sd15);
      expect(levels).toHaveLength(51);
      for (let k = 1; k <= 50; k++) {
        expect(levels[k].alphaBar).toBeCloseTo(reference.alphaBars![20 * (k - 1)], 10);
        expect(levels[k].alpha + levels[k].sigma).toBeCloseTo(1, 12);
      }
      expect(levels[50].t).toBeGreaterThan(levels[49].t);
    }
  });

  it("inverts alphaBar on any schedule", () => {
    for (const spec of [REFERENCE_SCHEDULES.ddpm, { kind: "cosine", steps: 1000 } as const]) {
      const schedule = createSchedule(spec);
      for (const t of [0.02, 0.5, 0.97]) {
        expect(timeAtAlphaBar(schedule, levelAt(schedule, t).alphaBar)).toBeCloseTo(t, 9);
      }
    }
  });
});
