import { describe, expect, it } from "vitest";
import { createRng, rescheduleModel, type ScheduleSpec } from "../src/index.js";
import { createGridMixture, GmmModel } from "../src/testing/index.js";

const VP: ScheduleSpec = { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 };
const FLOW: ScheduleSpec = { kind: "rectified-flow", shift: 1 };

describe("rescheduleModel", () => {
  it.each(["x0", "epsilon"] as const)(
    "runs a flow %s model on a VP grid exactly",
    async (parameterisation) => {
      // The exact mixture model computes (alpha, sigma) from its own schedule, so the
      // VP-scheduled model is the ground truth for the rescheduled flow model.
      const mixture = createGridMixture(4);
      const onFlow = new GmmModel(mixture, { schedule: FLOW, parameterisation });
      const onVp = new GmmModel(mixture, { schedule: VP, parameterisation });
      const wrapped = rescheduleModel(onFlow, VP);
      const x = createRng(1).normalTensor([3, 4, 1, 1]);
      const g = createRng(2).normalTensor([3, 4, 1, 1]);
      for (const t of [0.01, 0.3, 0.7, 0.95]) {
        const expected = await onVp.predict(x, t, { kind: "none" });
        const received = await wrapped.predict(x, t, { kind: "none" });
        for (let i = 0; i < expected.size; i++)
          expect(received.data[i]).toBeCloseTo(expected.data[i], 4);
        const expectedVjp = (await onVp.vjp(x, t, { kind: "none" }, g)).vjp;
        const receivedVjp = (await wrapped.vjp!(x, t, { kind: "none" }, g)).vjp;
        for (let i = 0; i < expectedVjp.size; i++)
          expect(receivedVjp.data[i]).toBeCloseTo(expectedVjp.data[i], 3);
      }
    },
  );

  it("gives the same output when times repeat", async () => {
    // The wrapper keeps the mapping of the last time. A fresh wrapper computes it anew.
    const model = new GmmModel(createGridMixture(4), { schedule: FLOW, parameterisation: "x0" });
    const wrapped = rescheduleModel(model, VP);
    const x = createRng(3).normalTensor([2, 4, 1, 1]);
    for (const t of [0.3, 0.3, 0.7, 0.3]) {
      const fresh = await rescheduleModel(model, VP).predict(x, t, { kind: "none" });
      const reused = await wrapped.predict(x, t, { kind: "none" });
      expect(Array.from(reused.data)).toEqual(Array.from(fresh.data));
    }
  });

  it("rejects velocity models", () => {
    const model = new GmmModel(createGridMixture(2), {
      schedule: FLOW,
      parameterisation: "velocity",
    });
    expect(() => rescheduleModel(model, VP)).toThrow(/only x0 and epsilon/);
  });
});
