import {
  type Conditioning,
  createSchedule,
  type EigenMixture,
  eigenMixture,
  type GaussianMixture,
  type Model,
  type ModelInfo,
  mixtureDenoise,
  mixtureDenoiseJvp,
  type Parameterisation,
  rawCoefficients,
  type Schedule,
  type ScheduleSpec,
  Tensor,
  TweedieError,
} from "../index.js";

export interface LabelGmmOptions {
  /** p(x0 | label) for labels 0..L-1; the last one is the unconditional prior (""). */
  mixtures: readonly GaussianMixture[];
  /** Prompt -> label; "" always maps to the last label. */
  prompts: Readonly<Record<string, number>>;
  schedule: ScheduleSpec;
  parameterisation?: Parameterisation;
  /** Image shape [C, H, W] with C H W = the mixtures' dimension. */
  shape: readonly [number, number, number];
  name?: string;
}

/**
 * A label-conditioned Model whose network is the exact MMSE denoiser of a Gaussian mixture
 * per label, on any schedule and parameterisation, with an exact VJP (the Jacobian of
 * x0Hat is symmetric). It computes in float64 and rounds once to float32.
 */
export class LabelGmmModel implements Model {
  readonly info: ModelInfo;
  readonly schedule: Schedule;
  private readonly eigen: EigenMixture[];
  private readonly nullLabel: number;
  /** Every prompt passed to `condition`, in call order. */
  readonly prompts: string[] = [];

  constructor(private readonly options: LabelGmmOptions) {
    this.schedule = createSchedule(options.schedule);
    this.eigen = options.mixtures.map(eigenMixture);
    this.nullLabel = options.mixtures.length - 1;
    const [channels, height, width] = options.shape;
    this.info = {
      name: options.name ?? "label-gmm",
      parameterisation: options.parameterisation ?? "x0",
      schedule: options.schedule,
      timestepInput: { kind: "alpha-sigma" },
      resolution: [height, width],
      channels,
      space: "pixel",
      conditioning: { kind: "label", prompts: options.prompts, nullLabel: this.nullLabel },
      learnedVariance: false,
      hasVjp: true,
    };
  }

  async condition(prompt: string, batch: number): Promise<Conditioning> {
    this.prompts.push(prompt);
    const label = prompt === "" ? this.nullLabel : this.options.prompts[prompt];
    if (label === undefined) {
      throw new TweedieError(`no label for prompt ${JSON.stringify(prompt)}`, {
        code: "invalid_value",
        path: ["prompt"],
        expected: Object.keys(this.options.prompts)
          .map((p) => JSON.stringify(p))
          .join(", "),
        received: prompt,
      });
    }
    return { kind: "label", labels: new Int32Array(batch).fill(label), prompt };
  }

  async predict(xt: Tensor, t: number, cond: Conditioning): Promise<Tensor> {
    return this.evaluate(xt, t, cond).output;
  }

  async vjp(xt: Tensor, t: number, cond: Conditioning, g: Tensor) {
    const { output, vjp } = this.evaluate(xt, t, cond, g);
    return { output, vjp: vjp as Tensor };
  }

  async dispose(): Promise<void> {}

  /**
   * raw = c0 x0Hat + ce epsHat with epsHat = (x - alpha x0Hat) / sigma, so
   * J_raw^T g = (c0 - ce alpha / sigma) J g + (ce / sigma) g.
   */
  private evaluate(xt: Tensor, t: number, cond: Conditioning, g?: Tensor) {
    if (cond.kind !== "label") throw new Error("label conditioning expected");
    const alpha = this.schedule.alpha(t);
    const sigma = this.schedule.sigma(t);
    const c = rawCoefficients(this.schedule, t, this.info.parameterisation);
    const dim = xt.size / xt.batch;
    const output = new Float32Array(xt.size);
    const vjp = g ? new Float32Array(xt.size) : undefined;
    for (let n = 0; n < xt.batch; n++) {
      const label = cond.labels[cond.labels.length === 1 ? 0 : n];
      const x = Float64Array.from(xt.data.subarray(n * dim, (n + 1) * dim));
      const mixture = this.eigen[label];
      const result = g
        ? mixtureDenoiseJvp(
            mixture,
            x,
            alpha,
            sigma,
            Float64Array.from(g.data.subarray(n * dim, (n + 1) * dim)),
          )
        : mixtureDenoise(mixture, x, alpha, sigma);
      for (let i = 0; i < dim; i++) {
        const x0 = result.x0Hat[i];
        const eps = (x[i] - alpha * x0) / sigma;
        output[n * dim + i] = c.x0 * x0 + c.eps * eps;
        if (vjp && g && "jvp" in result) {
          const jg = (result as { jvp: Float64Array }).jvp[i];
          vjp[n * dim + i] =
            (c.x0 - (c.eps * alpha) / sigma) * jg + (c.eps / sigma) * g.data[n * dim + i];
        }
      }
    }
    return {
      output: new Tensor(output, xt.shape),
      vjp: vjp ? new Tensor(vjp, xt.shape) : undefined,
    };
  }
}

/** Builds an isotropic Gaussian N(mean, variance I) as a one-component mixture. */
export function isotropicGaussian(mean: readonly number[], variance: number): GaussianMixture {
  const dim = mean.length;
  const covariances = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) covariances[i * dim + i] = variance;
  return { dim, weights: Float64Array.of(1), means: Float64Array.from(mean), covariances };
}
