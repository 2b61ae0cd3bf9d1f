import { createRng, Denoiser, type EditingProblem, Tensor } from "@tweedie/core";
import { isotropicGaussian, LabelGmmModel } from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import {
  FlowAlignSolver,
  FlowEditSolver,
  flowAlignParamsSchema,
  flowEditParamsSchema,
  flowPoints,
  SdEditSolver,
  sdEditParamsSchema,
} from "../src/index.js";

/*
 * On isotropic Gaussian priors N(m, s^2 I) per prompt, x0Hat(z) = m + k (z - (1 - tau) m)
 * with k = (1 - tau) s^2 / ((1 - tau)^2 s^2 + tau^2), and CFG between two such priors acts
 * like one with the guided mean. FlowEdit's and FlowAlign's noise then cancels from the
 * update, so both follow a deterministic recurrence in x - x_src, computed here in float64.
 */
const VARIANCE = 0.3;
const MEANS = {
  source: [0.6, -0.2, 0.1, -0.7],
  target: [-0.4, 0.5, 0.3, 0.2],
  empty: [0.1, 0.1, -0.1, 0],
};
const SOURCE = [0.7, -0.4, 0.2, -0.5];

function gaussianModel(schedule: "flow" | "vp" = "flow"): LabelGmmModel {
  return new LabelGmmModel({
    mixtures: [
      isotropicGaussian(MEANS.source, VARIANCE),
      isotropicGaussian(MEANS.target, VARIANCE),
      isotropicGaussian(MEANS.empty, VARIANCE),
    ],
    prompts: { source: 0, target: 1 },
    shape: [1, 2, 2],
    schedule:
      schedule === "flow"
        ? { kind: "rectified-flow", shift: 1 }
        : { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 },
    parameterisation: schedule === "flow" ? "x0" : "epsilon",
  });
}

function problem(
  denoiser: Denoiser,
  sourcePrompt = "source",
  targetPrompt = "target",
): EditingProblem {
  return {
    kind: "editing",
    denoiser,
    source: Tensor.from(SOURCE, [1, 1, 2, 2]),
    sourcePrompt,
    targetPrompt,
  };
}

function gain(tau: number): number {
  const a = 1 - tau;
  return (a * VARIANCE) / (a * a * VARIANCE + tau * tau);
}

/** Mean of the guided prior: empty + w (prompt - empty). */
function guidedMean(negative: number[], positive: number[], w: number): number[] {
  return negative.map((n, i) => n + w * (positive[i] - n));
}

describe("FlowEdit on Gaussian priors", () => {
  it("follows the closed-form recurrence for any seed", async () => {
    const params = flowEditParamsSchema.parse({
      steps: 12,
      shift: 2,
      nMax: 9,
      sourceCfg: 2,
      targetCfg: 4,
    });
    const denoiser = new Denoiser(gaussianModel());
    const points = flowPoints(denoiser.schedule, params);
    const mSource = guidedMean(MEANS.empty, MEANS.source, 2);
    const mTarget = guidedMean(MEANS.empty, MEANS.target, 4);
    const x = [...SOURCE];
    for (let i = params.steps - params.nMax; i < params.steps; i++) {
      const { tau } = points[i];
      const dTau = points[i + 1].tau - tau;
      const k = gain(tau);
      for (let j = 0; j < 4; j++) {
        const offset = x[j] - SOURCE[j];
        const meanGap = (mTarget[j] - mSource[j]) * (1 - k * (1 - tau));
        x[j] += (dTau * ((1 - k) * offset - meanGap)) / tau;
      }
    }
    for (const seed of [1, 99]) {
      const result = await new FlowEditSolver(params).solve(problem(denoiser), createRng(seed));
      for (let j = 0; j < 4; j++) expect(result.x.data[j]).toBeCloseTo(x[j], 4);
      expect(result.nfe).toBe(params.nMax * 4);
    }
  });

  it("edits a VP model like a flow model", async () => {
    // The VP model runs in its flow-equivalent form: same prior, same noise draws, same
    // flow times (the grid starts at tau 0.85, inside the VP schedule's range).
    const params = flowEditParamsSchema.parse({ steps: 20, nMax: 12, sourceCfg: 2, targetCfg: 4 });
    const flow = await new FlowEditSolver(params).solve(
      problem(new Denoiser(gaussianModel())),
      createRng(12),
    );
    const vp = await new FlowEditSolver(params).solve(
      problem(new Denoiser(gaussianModel("vp"))),
      createRng(12),
    );
    for (let j = 0; j < 4; j++) expect(vp.x.data[j]).toBeCloseTo(flow.x.data[j], 4);
  });

  it("leaves the source unchanged when the prompts agree", async () => {
    const denoiser = new Denoiser(gaussianModel());
    const params = flowEditParamsSchema.parse({ steps: 10, nMax: 8, sourceCfg: 3, targetCfg: 3 });
    const result = await new FlowEditSolver(params).solve(
      problem(denoiser, "source", "source"),
      createRng(3),
    );
    expect(Array.from(result.x.data)).toEqual(Array.from(Float32Array.from(SOURCE)));
  });

  it("switches to sampling the target for the last nMin steps", async () => {
    const denoiser = new Denoiser(gaussianModel());
    const base = { steps: 10, shift: 1, nMax: 8, sourceCfg: 1, targetCfg: 1 };
    const edit = await new FlowEditSolver(flowEditParamsSchema.parse(base)).solve(
      problem(denoiser),
      createRng(4),
    );
    const mixed = await new FlowEditSolver(flowEditParamsSchema.parse({ ...base, nMin: 3 })).solve(
      problem(denoiser),
      createRng(4),
    );
    // After the switch the iterate is p = q + (x - x_src), integrated on the target's
    // velocity: noise enters, so the result differs from the pure FlowEdit one, but it
    // stays a finite image of the target's scale.
    expect(mixed.x.isFinite()).toBe(true);
    expect(Array.from(mixed.x.data)).not.toEqual(Array.from(edit.x.data));
    const reseeded = await new FlowEditSolver(
      flowEditParamsSchema.parse({ ...base, nMin: 3 }),
    ).solve(problem(denoiser), createRng(5));
    expect(Array.from(reseeded.x.data)).not.toEqual(Array.from(mixed.x.data));
  });
});

describe("FlowAlign on Gaussian priors", () => {
  it("follows the closed-form recurrence for any seed", async () => {
    const params = flowAlignParamsSchema.parse({ steps: 9, shift: 3, gamma: 0.05, cfgScale: 2.5 });
    const denoiser = new Denoiser(gaussianModel());
    const points = flowPoints(denoiser.schedule, params);
    const mP = guidedMean(MEANS.source, MEANS.target, 2.5);
    const x = [...SOURCE];
    for (let i = 0; i < params.steps; i++) {
      const { tau } = points[i];
      const dTau = points[i + 1].tau - tau;
      const k = gain(tau);
      for (let j = 0; j < 4; j++) {
        const offset = x[j] - SOURCE[j];
        const meanGap = (mP[j] - MEANS.source[j]) * (1 - k * (1 - tau));
        // x0Hat_P(p) - x0Hat_Q(q) = meanGap + k offset; v_p - v_q = (offset - that) / tau.
        const cleanGap = meanGap + k * offset;
        x[j] += (dTau * (offset - cleanGap)) / tau - 0.05 * cleanGap;
      }
    }
    for (const seed of [2, 77]) {
      const result = await new FlowAlignSolver(params).solve(problem(denoiser), createRng(seed));
      for (let j = 0; j < 4; j++) expect(result.x.data[j]).toBeCloseTo(x[j], 4);
      expect(result.nfe).toBe(params.steps * 3);
    }
  });

  it("leaves the source unchanged when the prompts agree", async () => {
    const denoiser = new Denoiser(gaussianModel());
    const params = flowAlignParamsSchema.parse({ steps: 7, gamma: 0.05, cfgScale: 5 });
    const result = await new FlowAlignSolver(params).solve(
      problem(denoiser, "target", "target"),
      createRng(6),
    );
    expect(Array.from(result.x.data)).toEqual(Array.from(Float32Array.from(SOURCE)));
  });
});

describe("SDEdit on Gaussian priors", () => {
  it("integrates the guided velocity from the noised source", async () => {
    const params = sdEditParamsSchema.parse({ t0: 0.6, steps: 6, cfgScale: 1.5 });
    const denoiser = new Denoiser(gaussianModel());
    const rng = createRng(8);
    const result = await new SdEditSolver(params).solve(problem(denoiser), rng);
    // The start draw is documented: stream split("sample", 0).split("init").
    const eps = rng.split("sample", 0).split("init").normal(4);
    const m = guidedMean(MEANS.empty, MEANS.target, 1.5);
    const x = SOURCE.map((s, j) => 0.4 * s + 0.6 * eps[j]);
    for (let i = 0; i < 6; i++) {
      const tau = 0.6 * (1 - i / 6);
      const dTau = 0.6 * (1 - (i + 1) / 6) - tau;
      const k = gain(tau);
      for (let j = 0; j < 4; j++) {
        const x0Hat = m[j] + k * (x[j] - (1 - tau) * m[j]);
        x[j] += (dTau * (x[j] - x0Hat)) / tau;
      }
    }
    for (let j = 0; j < 4; j++) expect(result.x.data[j]).toBeCloseTo(x[j], 4);
  });
});
