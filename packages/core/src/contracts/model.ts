import type { Tensor } from "../tensor.js";

/** Quantity a network predicts. Core converts each into (x0Hat, epsHat). */
export type Parameterisation = "epsilon" | "x0" | "v" | "velocity";

/** A schedule as a model package declares it (see schedules.ts for the math). */
export type ScheduleSpec =
  | { kind: "vp-linear"; betaStart: number; betaEnd: number; steps: number }
  | { kind: "scaled-linear"; betaStart: number; betaEnd: number; steps: number }
  | { kind: "cosine"; steps: number; offset?: number }
  | { kind: "rectified-flow"; shift: number };

/**
 * Rule that turns continuous t in [0, 1] into the network's timestep input. `index` is
 * the discrete DDPM step (0..steps-1) and `scaled` is `scale * sigma(t)`, which for a
 * rectified flow is the shifted time (SD3: 1000 sigma).
 * `sigma` passes sigma(t). `alpha-sigma` feeds alpha and sigma as two inputs, which is
 * how the embedded Gaussian-mixture priors take the noise level.
 */
export type TimestepInput =
  | { kind: "index" }
  | { kind: "scaled"; scale: number }
  | { kind: "sigma" }
  | { kind: "alpha-sigma" };

export type ConditioningSpec =
  | { kind: "none" }
  /** Prompts map to integer labels; "" is the unconditional branch. */
  | { kind: "label"; prompts: Readonly<Record<string, number>>; nullLabel: number }
  | { kind: "text"; encoder: string };

export interface ModelInfo {
  name: string;
  parameterisation: Parameterisation;
  schedule: ScheduleSpec;
  timestepInput: TimestepInput;
  /** Native spatial size [height, width]; null when any size is accepted. */
  resolution: readonly [number, number] | null;
  channels: number;
  space: "pixel" | "latent";
  /** Latent models: x_latent = scale * (encode(x) - shift). */
  vae?: { scale: number; shift: number; downsample: number; latentChannels: number };
  conditioning: ConditioningSpec;
  /** ADM-style output with 2C channels: epsilon then a variance interpolation value. */
  learnedVariance: boolean;
  /** True when the package ships a VJP graph of the raw output with respect to x_t. */
  hasVjp: boolean;
}

/** Conditioning resolved once per prompt and reused at every step. */
export type Conditioning =
  | { kind: "none" }
  | { kind: "label"; labels: Int32Array; prompt: string }
  | { kind: "text"; prompt: string; embeddings: Tensor; pooled?: Tensor };

/**
 * A network behind a model package. `predict` returns the raw output in the model's own
 * parameterisation; solvers never call it directly but go through `Denoiser`.
 */
export interface Model {
  readonly info: ModelInfo;
  predict(xt: Tensor, t: number, cond: Conditioning): Promise<Tensor>;
  /** VJP of the raw output with respect to x_t: returns (output, J^T g). */
  vjp?(
    xt: Tensor,
    t: number,
    cond: Conditioning,
    g: Tensor,
  ): Promise<{ output: Tensor; vjp: Tensor }>;
  /** Resolves a prompt ("" = unconditional) into conditioning for `batch` samples. */
  condition(prompt: string, batch: number): Promise<Conditioning>;
  /** Latent models only. */
  encode?(x: Tensor): Promise<Tensor>;
  decode?(z: Tensor): Promise<Tensor>;
  /** VJP of the decoder at z: (d decode / dz)^T g, when the package ships a decoder VJP graph. */
  decodeVjp?(z: Tensor, g: Tensor): Promise<Tensor>;
  dispose(): Promise<void>;
}
