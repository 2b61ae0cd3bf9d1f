import type {
  Conditioning,
  Model,
  ModelInfo,
  Parameterisation,
  ScheduleSpec,
} from "../contracts/model.js";
import { TweedieError } from "../errors.js";
import { createSchedule, type Schedule } from "../schedules.js";
import { sameShape, Tensor } from "../tensor.js";
import { type GaussianMixture, mixtureOutput } from "./gmm.js";

/** DDPM's schedule: linear betas 1e-4 to 0.02 over 1000 steps. */
export const VP_LINEAR_1000: ScheduleSpec = Object.freeze({
  kind: "vp-linear",
  betaStart: 1e-4,
  betaEnd: 0.02,
  steps: 1000,
});

export interface GmmModelOptions {
  /** Parameterisation of the output of `predict`; default "epsilon". */
  parameterisation?: Parameterisation;
  /** Default: VP-linear, 1000 steps, betas 1e-4 to 0.02. */
  schedule?: ScheduleSpec;
  name?: string;
}

/**
 * A `Model` whose network is the exact denoiser of a Gaussian mixture with identity
 * covariances, so solvers can be checked against the closed-form posterior without any
 * training. Tensors are shaped [N, dim, 1, 1] so image-shaped code paths run. `predict`
 * returns the raw output in the declared parameterisation, and `vjp` is exact. Both
 * compute in float64 and round to float32 once.
 */
export class GmmModel implements Model {
  readonly info: ModelInfo;
  readonly schedule: Schedule;

  constructor(
    readonly mixture: GaussianMixture,
    options: GmmModelOptions = {},
  ) {
    const parameterisation = options.parameterisation ?? "epsilon";
    const schedule = options.schedule ?? VP_LINEAR_1000;
    this.schedule = createSchedule(schedule);
    this.info = Object.freeze({
      name: options.name ?? `gmm-${mixture.components}-d${mixture.dim}`,
      parameterisation,
      schedule,
      timestepInput: { kind: "alpha-sigma" },
      resolution: [1, 1],
      channels: mixture.dim,
      space: "pixel",
      conditioning: { kind: "none" },
      learnedVariance: false,
      hasVjp: true,
    } satisfies ModelInfo);
  }

  async predict(xt: Tensor, t: number, _cond: Conditioning): Promise<Tensor> {
    this.checkInput(xt, "xt");
    const { output } = this.evaluate(xt, t);
    return new Tensor(Float32Array.from(output), xt.shape);
  }

  async vjp(
    xt: Tensor,
    t: number,
    _cond: Conditioning,
    g: Tensor,
  ): Promise<{ output: Tensor; vjp: Tensor }> {
    this.checkInput(xt, "xt");
    if (!sameShape(g.shape, xt.shape)) {
      throw new TweedieError("the VJP cotangent must have the shape of x_t", {
        code: "shape_mismatch",
        path: ["g"],
        expected: [...xt.shape],
        received: [...g.shape],
      });
    }
    const { output, vjp } = this.evaluate(xt, t, g.data);
    return {
      output: new Tensor(Float32Array.from(output), xt.shape),
      vjp: new Tensor(Float32Array.from(vjp ?? []), xt.shape),
    };
  }

  async condition(_prompt: string, _batch: number): Promise<Conditioning> {
    return { kind: "none" };
  }

  async dispose(): Promise<void> {}

  private evaluate(xt: Tensor, t: number, g?: Float32Array) {
    if (!(t >= 0 && t <= 1)) {
      throw new TweedieError("model time must lie in [0, 1]", {
        code: "out_of_range",
        path: ["t"],
        expected: "t in [0, 1]",
        received: t,
      });
    }
    const alpha = this.schedule.alpha(t);
    const sigma = this.schedule.sigma(t);
    const combination = this.rawCombination(t, alpha, sigma);
    return mixtureOutput(this.mixture, xt.data, { alpha, sigma }, combination, g);
  }

  /** Weights (a, b) with raw output = a x0Hat + b epsHat for the declared parameterisation. */
  private rawCombination(t: number, alpha: number, sigma: number) {
    switch (this.info.parameterisation) {
      case "x0":
        return { x0Weight: 1, epsWeight: 0 };
      case "epsilon":
        return { x0Weight: 0, epsWeight: 1 };
      case "v":
        return { x0Weight: -sigma, epsWeight: alpha };
      case "velocity":
        return { x0Weight: this.schedule.dAlpha(t), epsWeight: this.schedule.dSigma(t) };
    }
  }

  private checkInput(xt: Tensor, name: string): void {
    const d = this.mixture.dim;
    if (xt.shape.length !== 4 || xt.shape[1] !== d || xt.shape[2] !== 1 || xt.shape[3] !== 1) {
      throw new TweedieError(`${name} must be shaped [N, ${d}, 1, 1]`, {
        code: "shape_mismatch",
        path: [name],
        expected: [-1, d, 1, 1],
        received: [...xt.shape],
      });
    }
  }
}
