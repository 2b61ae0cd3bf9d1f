import { createSchedule, Denoiser, Tensor } from "@tweedie/core";
import { isotropicGaussian, LabelGmmModel } from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import {
  flowPoint,
  flowPoints,
  flowTimeOf,
  predictVelocity,
  timeAtFlowTime,
} from "../src/index.js";

const VP_LINEAR = { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 } as const;

describe("flow-time grid", () => {
  it("matches the SD3 FlowEdit grid from index 17", () => {
    // diffusers' FlowMatchEulerDiscreteScheduler, 50 steps, shift 3 (numpy, independently).
    const points = flowPoints(createSchedule({ kind: "rectified-flow", shift: 1 }), {
      steps: 50,
      shift: 3,
    });
    expect(points).toHaveLength(51);
    const expected = [0.85014295, 0.83848019, 0.82639118];
    for (const [i, tau] of expected.entries()) expect(points[17 + i].tau).toBeCloseTo(tau, 7);
    expect(points[48].tau).toBeCloseTo(0.0669001, 6);
    expect(points[50].tau).toBe(0);
  });

  it("matches the 33-step FlowAlign grid from sigma 1", () => {
    const points = flowPoints(createSchedule({ kind: "rectified-flow", shift: 3 }), {
      steps: 33,
      shift: 3,
    });
    expect(points[0].tau).toBe(1);
    expect(points[1].tau).toBeCloseTo(0.98939423, 7);
    expect(points[31].tau).toBeCloseTo(0.09590121, 7);
    expect(points[32].tau).toBeCloseTo(0.00892857, 7);
  });

  it("inverts the flow time of a VP schedule", () => {
    const schedule = createSchedule(VP_LINEAR);
    for (const t of [0.01, 0.3, 0.77, 0.99]) {
      const tau = flowTimeOf(schedule, t);
      expect(timeAtFlowTime(schedule, tau)).toBeCloseTo(t, 10);
    }
    // A VP schedule never reaches pure noise: tau = 1 maps to t = 1, tau just below 1.
    const top = flowPoint(schedule, 1);
    expect(top.t).toBe(1);
    expect(top.tau).toBeGreaterThan(0.99);
    expect(top.tau).toBeLessThan(1);
  });

  it("inverts a shifted rectified flow in closed form", () => {
    const schedule = createSchedule({ kind: "rectified-flow", shift: 3 });
    const point = flowPoint(schedule, 0.6);
    expect(point.tau).toBeCloseTo(0.6, 14);
    expect(point.scale).toBeCloseTo(1, 14);
    expect(point.t).toBeCloseTo(0.6 / (3 - 2 * 0.6), 14);
  });
});

describe("predictVelocity", () => {
  const mixtures = [isotropicGaussian([0.5, -0.5, 0.25, 0], 0.2)];
  const prompts = {};

  it("gives the same velocity on VP and flow schedules", async () => {
    // The exact denoiser depends only on the signal-to-noise ratio and the rescaled state,
    // so the flow-equivalent velocity must not depend on the schedule.
    const flow = new Denoiser(
      new LabelGmmModel({
        mixtures,
        prompts,
        shape: [1, 2, 2],
        schedule: { kind: "rectified-flow", shift: 1 },
      }),
    );
    const vp = new Denoiser(
      new LabelGmmModel({
        mixtures,
        prompts,
        shape: [1, 2, 2],
        schedule: VP_LINEAR,
        parameterisation: "epsilon",
      }),
    );
    const x = Tensor.from([0.3, -1.2, 0.8, 0.1], [1, 1, 2, 2]);
    const cond = await flow.model.condition("", 1);
    for (const tau of [0.2, 0.5, 0.9]) {
      const a = await predictVelocity(flow, x, flowPoint(flow.schedule, tau), {
        cond,
        cfgScale: 1,
      });
      const pointVp = flowPoint(vp.schedule, tau);
      const b = await predictVelocity(vp, x, pointVp, { cond, cfgScale: 1 });
      for (let i = 0; i < 4; i++) expect(b.velocity.data[i]).toBeCloseTo(a.velocity.data[i], 5);
      expect(pointVp.scale).toBeGreaterThan(1);
    }
  });

  it("satisfies x = x0Hat + tau u", async () => {
    const denoiser = new Denoiser(
      new LabelGmmModel({
        mixtures,
        prompts,
        shape: [1, 2, 2],
        schedule: VP_LINEAR,
        parameterisation: "v",
      }),
    );
    const x = Tensor.from([1, 0, -1, 0.5], [1, 1, 2, 2]);
    const point = flowPoint(denoiser.schedule, 0.4);
    const { velocity, x0Hat } = await predictVelocity(denoiser, x, point, {
      cond: await denoiser.model.condition("", 1),
      cfgScale: 1,
    });
    for (let i = 0; i < 4; i++) {
      expect(x0Hat.data[i] + point.tau * velocity.data[i]).toBeCloseTo(x.data[i], 5);
    }
  });
});
