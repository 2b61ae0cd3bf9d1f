import { createRng, Denoiser, type Solver, Tensor } from "@tweedie/core";
import {
  createGmmProblem,
  GmmModel,
  type GmmSolverFactory,
  runGmmBenchmark,
} from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import {
  dataGradient,
  FlowDpsSolver,
  flowDpsParamsSchema,
  flowDpsPlugin,
  flowTimes,
} from "../src/index.js";

function factory(overrides: Record<string, unknown>): GmmSolverFactory {
  return ({ model, samples }) => {
    // Bypasses the schema on purpose where a test plants a broken setting.
    const params = { ...flowDpsParamsSchema.parse({ samples }), ...overrides };
    const solver = new FlowDpsSolver(params);
    return {
      solve: (problem, rng, options) =>
        solver.solve({ ...problem, denoiser: new Denoiser(model) }, rng, options),
    } satisfies Solver;
  };
}

function gmmRestoration(dim: number, dy: number, sigmaY: number, seed: number) {
  const problem = createGmmProblem({ dim, dy, sigmaY, seed });
  const model = new GmmModel(problem.mixture);
  return {
    problem,
    restoration: {
      kind: "restoration" as const,
      denoiser: new Denoiser(model),
      operator: problem.operator,
      y: new Tensor(Float32Array.from(problem.y), [1, dy, 1, 1]),
      sigmaY,
      shape: problem.operator.inputShape,
    },
  };
}

describe("FlowDPS on the exact Gaussian-mixture benchmark", () => {
  it("samples close to the exact posterior", async () => {
    // Reference: an independent numpy FlowDPS (28 steps, shift 4, K = 3, eta 30) scored a
    // pooled median of 31 over d in {8, 80}; prior samples score about 70.
    const result = await runGmmBenchmark({
      solverFactory: factory({ stepSize: 30 }),
      dims: [8, 80],
      dys: [1, 2, 4],
      sigmaYs: [0.1, 1],
      seeds: [0],
      samples: 300,
    });
    expect(result.pooledMedian).toBeLessThanOrEqual(45);
  }, 120_000);

  it("catches a flipped guidance sign", async () => {
    const result = await runGmmBenchmark({
      solverFactory: factory({ stepSize: -30 }),
      dims: [8],
      dys: [1, 2, 4],
      sigmaYs: [0.1, 1],
      seeds: [0],
      samples: 300,
    });
    expect(result.pooledMedian).toBeGreaterThanOrEqual(50);
  }, 120_000);

  it("reproduces the prior without guidance", async () => {
    const result = await runGmmBenchmark({
      solverFactory: factory({ innerSteps: 0, steps: 100 }),
      dims: [8],
      dys: [1],
      sigmaYs: [1],
      seeds: [0, 1, 2],
      samples: 1000,
      target: "prior",
    });
    expect(result.pooledMedian).toBeLessThanOrEqual(1.5);
  }, 120_000);
});

describe("FlowDPS sampling rules", () => {
  it("draws a sample identically alone or with others", async () => {
    const { restoration } = gmmRestoration(8, 2, 0.1, 3);
    const params = flowDpsParamsSchema.parse({ steps: 10 });
    const alone = await new FlowDpsSolver({ ...params, samples: 1 }).solve(
      restoration,
      createRng(5),
    );
    const together = await new FlowDpsSolver({ ...params, samples: 3 }).solve(
      restoration,
      createRng(5),
    );
    expect(Array.from(together.x.item(0).data)).toEqual(Array.from(alone.x.data));
    expect(together.mean?.shape).toEqual([1, 8, 1, 1]);
    expect(together.std?.data.every((v) => v >= 0)).toBe(true);
  });

  it("is deterministic under a seed", async () => {
    const { restoration } = gmmRestoration(8, 1, 1, 4);
    const solver = flowDpsPlugin.create(flowDpsPlugin.paramsSchema.parse({ steps: 8 }));
    const first = await solver.solve(restoration, createRng(11));
    const second = await solver.solve(restoration, createRng(11));
    const other = await solver.solve(restoration, createRng(12));
    expect(Array.from(first.x.data)).toEqual(Array.from(second.x.data));
    expect(Array.from(first.x.data)).not.toEqual(Array.from(other.x.data));
  });

  it("gives a zero step at a zero residual", () => {
    const { restoration } = gmmRestoration(8, 2, 0.1, 0);
    const op = restoration.operator;
    const x = Tensor.from([1, -2, 3, 0, 0.5, 1, -1, 2], [1, 8, 1, 1]);
    const y = op.forward(x);
    for (const projection of ["pinv", "adjoint", "none"] as const) {
      const { gradient, residualNorm } = dataGradient(op, projection, x, y);
      expect(residualNorm, projection).toBeLessThan(1e-6);
      expect(gradient.isFinite(), projection).toBe(true);
    }
    const exact = dataGradient(op, "none", x, Tensor.from(Array.from(y.data), y.shape));
    expect(exact.gradient.isFinite()).toBe(true);
  });

  it("lands on the measurement set with the final projection", async () => {
    const { restoration } = gmmRestoration(8, 4, 0.1, 1);
    const params = flowDpsParamsSchema.parse({ steps: 10, finalProjection: true });
    const result = await new FlowDpsSolver(params).solve(restoration, createRng(1));
    const residual = restoration.operator.forward(result.x);
    for (let i = 0; i < residual.size; i++)
      expect(residual.data[i]).toBeCloseTo(restoration.y.data[i], 4);
    expect(result.diagnostics.finalProjection).toBe(true);
  });

  it("reports every step and stops on cancel", async () => {
    const { restoration } = gmmRestoration(8, 1, 0.1, 2);
    const steps: number[] = [];
    const controller = new AbortController();
    const solver = new FlowDpsSolver(flowDpsParamsSchema.parse({ steps: 6 }));
    await expect(
      solver.solve(restoration, createRng(0), {
        signal: controller.signal,
        onStep: (info) => {
          steps.push(info.step);
          if (info.step === 3) controller.abort();
        },
      }),
    ).rejects.toMatchObject({ code: "cancelled" });
    expect(steps).toEqual([1, 2, 3]);
  });

  it("uses the published SD3 grid on a rectified flow", () => {
    const grid = flowTimes(
      new GmmModel(createGmmProblem({ dim: 8, dy: 1, sigmaY: 1, seed: 0 }).mixture, {
        schedule: { kind: "rectified-flow", shift: 1 },
      }).schedule,
      { steps: 28, shift: 4, baseShift: 3 },
    );
    expect(grid).toHaveLength(29);
    expect(grid[1].tau).toBeCloseTo(0.9905, 4);
    expect(grid[27].tau).toBeCloseTo(0.0119, 4);
    expect(grid[28].t).toBe(0);
  });

  it("rejects unknown parameters with the key", () => {
    const parsed = flowDpsParamsSchema.safeParse({ stepsize: 3 });
    expect(parsed.success).toBe(false);
  });
});
