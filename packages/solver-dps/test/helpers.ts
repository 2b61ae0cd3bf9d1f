import {
  type Conditioning,
  Denoiser,
  type Model,
  type ModelInfo,
  type RestorationProblem,
  Tensor,
} from "@tweedie/core";
import {
  createGmmProblem,
  GmmModel,
  type GmmModelOptions,
  type GmmProblem,
} from "@tweedie/core/testing";
import { type DpsParams, DpsSolver, dpsParamsSchema } from "../src/index.js";

/** A restoration problem over a benchmark GMM problem, y with batch 1. */
export function gmmRestoration(
  problem: GmmProblem,
  model: Model = new GmmModel(problem.mixture),
): RestorationProblem {
  return {
    kind: "restoration",
    denoiser: new Denoiser(model),
    operator: problem.operator,
    y: new Tensor(Float32Array.from(problem.y), [1, problem.spec.dy, 1, 1]),
    sigmaY: problem.spec.sigmaY,
    shape: problem.operator.inputShape,
  };
}

export function smallProblem(options: GmmModelOptions = {}) {
  const problem = createGmmProblem({ dim: 8, dy: 2, sigmaY: 0.1, seed: 11 });
  return { problem, restoration: gmmRestoration(problem, new GmmModel(problem.mixture, options)) };
}

/** A DPS solver from raw params through the schema (defaults filled in). */
export function dps(params: Partial<DpsParams>): DpsSolver {
  return new DpsSolver(dpsParamsSchema.parse(params));
}

/**
 * A model whose x0 output is a fixed function of x_t, for checking solver behaviour on
 * hand-made cases: parameterisation x0 on the model's declared schedule.
 */
export class FunctionModel implements Model {
  readonly info: ModelInfo;

  constructor(
    channels: number,
    private readonly x0: (xt: Tensor, t: number) => Tensor,
    info: Partial<ModelInfo> = {},
  ) {
    this.info = {
      name: "function-model",
      parameterisation: "x0",
      schedule: { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 },
      timestepInput: { kind: "alpha-sigma" },
      resolution: null,
      channels,
      space: "pixel",
      conditioning: { kind: "none" },
      learnedVariance: false,
      hasVjp: false,
      ...info,
    };
  }

  async predict(xt: Tensor, t: number): Promise<Tensor> {
    return this.x0(xt, t);
  }

  async condition(): Promise<Conditioning> {
    return { kind: "none" };
  }

  async dispose(): Promise<void> {}
}

/**
 * An ADM-style learned-variance wrapper around a GMM epsilon model: the output has 2C
 * channels, epsilon then the constant interpolation value `v` in [-1, 1].
 */
export class LearnedVarianceModel implements Model {
  readonly info: ModelInfo;

  constructor(
    private readonly inner: GmmModel,
    private readonly v: number,
  ) {
    this.info = {
      ...inner.info,
      name: "gmm-learned-variance",
      learnedVariance: true,
      hasVjp: false,
    };
  }

  async predict(xt: Tensor, t: number, cond: Conditioning): Promise<Tensor> {
    const eps = await this.inner.predict(xt, t, cond);
    const [n, c, h, w] = xt.shape;
    const out = new Float32Array(2 * eps.size);
    const plane = c * h * w;
    for (let item = 0; item < n; item++) {
      out.set(eps.data.subarray(item * plane, (item + 1) * plane), 2 * item * plane);
      out.fill(this.v, (2 * item + 1) * plane, (2 * item + 2) * plane);
    }
    return new Tensor(out, [n, 2 * c, h, w]);
  }

  async condition(): Promise<Conditioning> {
    return { kind: "none" };
  }

  async dispose(): Promise<void> {}
}

/** y = x[mask] for a boolean mask over a [C, 1, 1] image: an inpainting matrix. */
export function maskOperatorSpec(mask: readonly boolean[]): {
  rows: number;
  cols: number;
  data: number[];
} {
  const kept = mask.flatMap((keep, index) => (keep ? [index] : []));
  const data = new Array(kept.length * mask.length).fill(0);
  kept.forEach((index, row) => {
    data[row * mask.length + index] = 1;
  });
  return { rows: kept.length, cols: mask.length, data };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
