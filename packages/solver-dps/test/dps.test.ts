import {
  createRng,
  createSchedule,
  Denoiser,
  type RestorationProblem,
  type StepInfo,
  Tensor,
  TweedieError,
} from "@tweedie/core";
import {
  createGridMixture,
  GmmModel,
  IdentityCovarianceDenoiser,
  MatrixOperator,
  matrix,
} from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import { createDdpmGrid } from "../src/index.js";
import {
  dps,
  FunctionModel,
  LearnedVarianceModel,
  maskOperatorSpec,
  maxAbsDiff,
  smallProblem,
} from "./helpers.js";

const fast = { steps: 20, clipX0: false, zeta: 2 };

async function caught(promise: Promise<unknown>): Promise<TweedieError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TweedieError) return error;
    throw error;
  }
  throw new Error("expected the promise to reject");
}

describe("DPS solver", () => {
  it("returns samples in the operator's input shape, not y's", async () => {
    const { restoration } = smallProblem();
    const result = await dps({ ...fast, samples: 3 }).solve(restoration, createRng(1));
    expect(restoration.y.shape).toEqual([1, 2, 1, 1]);
    expect(result.x.shape).toEqual([3, 8, 1, 1]);
    expect(result.mean?.shape).toEqual([1, 8, 1, 1]);
    expect(result.std?.shape).toEqual([1, 8, 1, 1]);
    expect(result.steps).toBe(20);
    expect(result.diagnostics.gradientMode).toBe("vjp");
    expect(result.diagnostics.variance).toBe("posterior");
    expect(result.diagnostics.respaced).toBe(true);
  });

  it("mean and std are the per-pixel sample statistics", async () => {
    const { restoration } = smallProblem();
    const result = await dps({ ...fast, samples: 4 }).solve(restoration, createRng(1));
    for (const i of [0, 5]) {
      const values = [0, 1, 2, 3].map((s) => result.x.data[s * 8 + i]);
      const mean = values.reduce((sum, v) => sum + v, 0) / 4;
      const std = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / 4);
      expect(result.mean!.data[i]).toBeCloseTo(mean, 5);
      expect(result.std!.data[i]).toBeCloseTo(std, 5);
    }
  });

  it("is deterministic under a seed", async () => {
    const { restoration } = smallProblem();
    const first = await dps({ ...fast, samples: 2 }).solve(restoration, createRng(7));
    const second = await dps({ ...fast, samples: 2 }).solve(restoration, createRng(7));
    const other = await dps({ ...fast, samples: 2 }).solve(restoration, createRng(8));
    expect(Array.from(second.x.data)).toEqual(Array.from(first.x.data));
    expect(Array.from(other.x.data)).not.toEqual(Array.from(first.x.data));
  });

  it.each(["vjp", "jvp-fd"] as const)(
    "sample k alone equals sample k of a batch of 4 (%s)",
    async (gradient) => {
      const { restoration } = smallProblem();
      const batch = await dps({ ...fast, gradient, samples: 4 }).solve(restoration, createRng(3));
      for (const k of [0, 2, 3]) {
        const alone = await dps({ ...fast, gradient, samples: 1, sampleOffset: k }).solve(
          restoration,
          createRng(3),
        );
        expect(Array.from(alone.x.data)).toEqual(Array.from(batch.x.item(k).data));
      }
    },
  );

  it("follows the seeded DDPM step by hand on a 2-step grid", async () => {
    // Two steps keep training steps 0 and 999: x_T ~ N(0, I), one ancestral step to
    // step 0, then x0Hat there. With zeta 0 the result is computed here in float64.
    const { problem, restoration } = smallProblem();
    const result = await dps({ steps: 2, zeta: 0, clipX0: false }).solve(restoration, createRng(5));
    const grid = createDdpmGrid(createSchedule(restoration.denoiser.model.info.schedule), 2);
    const exact = new IdentityCovarianceDenoiser(problem.mixture);
    const sample = createRng(5).split("sample", 0);
    const xT = Float64Array.from(sample.split("init").normal(8));
    const noise = sample.split("step", 1).normal(8);
    const x0T = exact.denoise(xT, Math.sqrt(grid.alphaBar[1]), Math.sqrt(1 - grid.alphaBar[1]));
    const std = Math.sqrt(grid.posteriorVariance[1]);
    const x1 = xT.map((x, i) => grid.meanX0[1] * x0T[i] + grid.meanXt[1] * x + std * noise[i]);
    const expected = exact.denoise(
      x1,
      Math.sqrt(grid.alphaBar[0]),
      Math.sqrt(1 - grid.alphaBar[0]),
    );
    expect(maxAbsDiff(result.x.data, expected) / 16).toBeLessThan(1e-5);
  });

  it("reports every step through onStep", async () => {
    const { restoration } = smallProblem();
    const steps: StepInfo[] = [];
    const result = await dps({ ...fast }).solve(restoration, createRng(1), {
      onStep: (info) => steps.push(info),
    });
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(steps.every((s) => s.totalSteps === 20)).toBe(true);
    expect(steps[0].t).toBe(1);
    expect(steps[19].t).toBe(0.001);
    // Each step is one denoise plus one VJP call (which reruns the forward pass).
    expect(steps[19].nfe).toBe(40);
    expect(result.nfe).toBe(40);
    expect(result.diagnostics.vjpEvaluations).toBe(20);
    expect(steps[5].x0Hat.shape).toEqual([1, 8, 1, 1]);
  });

  it("cancels between steps", async () => {
    const { restoration } = smallProblem();
    const controller = new AbortController();
    let reported = 0;
    const error = await caught(
      dps({ ...fast }).solve(restoration, createRng(1), {
        signal: controller.signal,
        onStep: (info) => {
          reported = info.step;
          if (info.step === 3) controller.abort();
        },
      }),
    );
    expect(error.code).toBe("cancelled");
    expect(error.path).toEqual(["step", 4]);
    expect(reported).toBe(3);
  });

  it("rejects more steps than the schedule has", async () => {
    const { restoration } = smallProblem();
    const error = await caught(dps({ steps: 1500 }).solve(restoration, createRng(1)));
    expect(error.message).toBe("steps 1500 > schedule length 1000");
    expect(error.path).toEqual(["steps"]);
  });

  it("runs an alpha-sigma flow model on the DDPM chain", async () => {
    // The exact mixture model takes (alpha, sigma) directly, so it is exact at every noise
    // level and DPS walks DDPM's linear chain for it.
    const { restoration } = smallProblem({ schedule: { kind: "rectified-flow", shift: 1 } });
    const result = await dps({ steps: 10 }).solve(restoration, createRng(1));
    expect(result.diagnostics.schedule).toBe("vp-linear (model accepts any noise level)");
    expect(result.x.isFinite()).toBe(true);
  });

  it("rejects a flow model with a timestep input", async () => {
    const { restoration } = smallProblem({ schedule: { kind: "rectified-flow", shift: 1 } });
    const model = restoration.denoiser.model;
    const scaled = Object.create(model, {
      info: { value: { ...model.info, timestepInput: { kind: "scaled", scale: 1000 } } },
    });
    const denoiser = new Denoiser(scaled);
    const error = await caught(
      dps({ steps: 10 }).solve({ ...restoration, denoiser }, createRng(1)),
    );
    expect(error.code).toBe("unsupported");
  });

  it("accepts sigmaY 0 and rejects a negative or NaN sigmaY", async () => {
    const { restoration } = smallProblem();
    const noiseFree = await dps({ ...fast }).solve({ ...restoration, sigmaY: 0 }, createRng(1));
    expect(noiseFree.diagnostics.sigmaYUsed).toBe(false);
    for (const sigmaY of [-0.1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = await caught(dps({ ...fast }).solve({ ...restoration, sigmaY }, createRng(1)));
      expect(error.code).toBe("invalid_value");
      expect(error.path).toEqual(["problem", "sigmaY"]);
    }
  });

  it("rejects a y of the wrong shape", async () => {
    const { restoration } = smallProblem();
    const y = Tensor.zeros([1, 8, 1, 1]);
    const error = await caught(dps({ ...fast }).solve({ ...restoration, y }, createRng(1)));
    expect(error.code).toBe("shape_mismatch");
    expect(error.path).toEqual(["problem", "y"]);
  });

  it("rejects the exact VJP for a model without one", async () => {
    const model = new FunctionModel(8, (xt) => xt.clone());
    const { restoration } = smallProblem();
    const problem = { ...restoration, denoiser: new Denoiser(model) };
    const error = await caught(dps({ ...fast, gradient: "vjp" }).solve(problem, createRng(1)));
    expect(error.code).toBe("unsupported");
    const auto = await dps({ ...fast, gradient: "auto" }).solve(problem, createRng(1));
    expect(auto.diagnostics.gradientMode).toBe("jvp-fd");
  });
});

describe("DPS edge cases", () => {
  /**
   * Inpainting of an all-black 8-pixel image with half the pixels observed, with a model
   * whose x0Hat is always 0: the residual is exactly 0 at every step.
   */
  function blackInpainting(): RestorationProblem {
    const mask = [true, false, true, false, false, true, true, false];
    const spec = maskOperatorSpec(mask);
    const operator = new MatrixOperator(matrix(spec.rows, spec.cols, spec.data));
    const model = new FunctionModel(8, (xt) => Tensor.zeros(xt.shape));
    return {
      kind: "restoration",
      denoiser: new Denoiser(model),
      operator,
      y: Tensor.zeros([1, 4, 1, 1]),
      sigmaY: 0,
      shape: operator.inputShape,
    };
  }

  it("zero residual gives a zero guidance step", async () => {
    const problem = blackInpainting();
    const guided = await dps({ steps: 10, zeta: 0.5 }).solve(problem, createRng(2));
    const unguided = await dps({ steps: 10, zeta: 0 }).solve(problem, createRng(2));
    expect(guided.x.isFinite()).toBe(true);
    expect(Array.from(guided.x.data)).toEqual(Array.from(unguided.x.data));
    expect(Array.from(guided.x.data)).toEqual(new Array(8).fill(0));
    expect(guided.diagnostics.residualNorms).toEqual([0]);
  });

  it("stops with non_finite naming sample, step and tensor", async () => {
    const model = new FunctionModel(8, (xt, t) =>
      t < 0.5 ? Tensor.full(xt.shape, Number.NaN) : Tensor.zeros(xt.shape),
    );
    const problem = { ...blackInpainting(), denoiser: new Denoiser(model) };
    const error = await caught(
      dps({ steps: 10, samples: 2, sampleOffset: 5 }).solve(problem, createRng(2)),
    );
    expect(error.code).toBe("non_finite");
    // The 10-step grid keeps training steps 999, 888, ..., 0: step 6 is t = 0.445.
    expect(error.path).toEqual(["sample", 5, "step", 6, "x0Hat"]);
  });

  it("learned variance at v = -1 and v = 1 matches betaTilde and beta", async () => {
    const { problem, restoration } = smallProblem();
    const inner = new GmmModel(problem.mixture);
    const base = { steps: 30, zeta: 0, clipX0: false, samples: 2 } as const;
    const posterior = await dps({ ...base, variance: "posterior" }).solve(
      restoration,
      createRng(4),
    );
    const large = await dps({ ...base, variance: "large" }).solve(restoration, createRng(4));
    for (const [v, reference] of [
      [-1, posterior],
      [1, large],
    ] as const) {
      const learnedProblem = {
        ...restoration,
        denoiser: new Denoiser(new LearnedVarianceModel(inner, v)),
      };
      const learned = await dps({ ...base }).solve(learnedProblem, createRng(4));
      expect(learned.diagnostics.variance).toBe("learned");
      expect(maxAbsDiff(learned.x.data, reference.x.data)).toBeLessThan(1e-4);
    }
    expect(maxAbsDiff(posterior.x.data, large.x.data)).toBeGreaterThan(1e-2);
  });

  it("eta 1 on the DDIM path equals the DDPM step", async () => {
    const { restoration } = smallProblem();
    const ddpm = await dps({ ...fast, variance: "posterior" }).solve(restoration, createRng(6));
    const nearOne = await dps({ ...fast, variance: "posterior", eta: 1 - 1e-12 }).solve(
      restoration,
      createRng(6),
    );
    expect(maxAbsDiff(ddpm.x.data, nearOne.x.data)).toBeLessThan(1e-4);
  });

  it("clips x0Hat and the output to [-1, 1] by default", async () => {
    const { restoration } = smallProblem();
    const steps: number[] = [];
    const result = await dps({ steps: 10 }).solve(restoration, createRng(1), {
      onStep: (info) => steps.push(Math.max(...info.x0Hat.data.map(Math.abs))),
    });
    expect(Math.max(...steps)).toBeLessThanOrEqual(1);
    expect(Math.max(...result.x.data.map(Math.abs))).toBeLessThanOrEqual(1);
  });
});

describe("DPS on the unguided prior", () => {
  it("keeps the mixture's spread with zeta 0", async () => {
    // With zeta 0 the solver is a DDPM sampler of the prior: coordinates are uniform over
    // {-16, -8, 0, 8, 16} plus N(0, 1), so the variance is about 129.
    const mixture = createGridMixture(2);
    const operator = new MatrixOperator(matrix(1, 2, [1, 0]));
    const problem: RestorationProblem = {
      kind: "restoration",
      denoiser: new Denoiser(new GmmModel(mixture)),
      operator,
      y: Tensor.zeros([1, 1, 1, 1]),
      sigmaY: 1,
      shape: operator.inputShape,
    };
    const result = await dps({ steps: 200, zeta: 0, clipX0: false, samples: 400 }).solve(
      problem,
      createRng(9),
    );
    let variance = 0;
    for (let i = 0; i < result.x.size; i++) variance += result.x.data[i] ** 2 / result.x.size;
    expect(variance).toBeGreaterThan(110);
    expect(variance).toBeLessThan(150);
  });
});
