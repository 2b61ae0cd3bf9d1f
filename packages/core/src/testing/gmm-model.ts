import type {
  Conditioning,
  Model,
  ModelInfo,
  Parameterisation,
  ScheduleSpec,
} from "../contracts/model.js";
import { TweedieError } from "../errors.js";
import { rawCoefficients } from "../parameterisation.js";
import type { GaussianMixture } from "../priors/gmm.js";
import { createSchedule, type Schedule } from "../schedules.js";
import { sameShape, Tensor } from "../tensor.js";
import { IdentityCovarianceDenoiser } from "./gmm.js";

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
  readonly denoiser: IdentityCovarianceDenoiser;

  constructor(
    readonly mixture: GaussianMixture,
    options: GmmModelOptions = {},
  ) {
    const parameterisation = options.parameterisation ?? "epsilon";
    const schedule = options.schedule ?? VP_LINEAR_1000;
    this.schedule = createSchedule(schedule);
    this.denoiser = new IdentityCovarianceDenoiser(mixture);
    this.info = Object.freeze({
      name: options.name ?? `gmm-${mixture.weights.length}-d${mixture.dim}`,
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
    const alpha = this.schedule.alpha(t);
    const sigma = this.schedule.sigma(t);
    const raw = rawCoefficients(this.schedule, t, this.info.parameterisation);
    const combination = { x0Weight: raw.x0, epsWeight: raw.eps };
    return this.denoiser.output(xt.data, { alpha, sigma }, combination, g);
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
