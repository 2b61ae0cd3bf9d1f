import type { Conditioning, Model, Parameterisation } from "./contracts/model.js";
import { TweedieError } from "./errors.js";
import {
  type DenoisingCoefficients,
  denoisingCoefficients,
  splitLearnedVariance,
  toDenoised,
  type VarianceSteps,
} from "./parameterisation.js";
import { createSchedule, type Schedule } from "./schedules.js";
import { axpby, clamp, concatBatch, norm, Tensor } from "./tensor.js";

/** The Tweedie pair for x_t = alpha x0Hat + sigma epsHat. */
export interface Denoised {
  x0Hat: Tensor;
  epsHat: Tensor;
  /** Per-value log variance of the reverse step, from learned-variance (ADM) models. */
  logVariance?: Tensor;
}

/**
 * Method `x0HatVjp` uses for J^T g with J = d x0Hat / d x_t. "vjp" runs the model's VJP
 * graph (exact). "jvp-fd" takes the central finite difference J g, which equals J^T g when
 * J is symmetric, as for an exact MMSE denoiser, whose J is a scaled posterior covariance.
 */
export type VjpMode = "vjp" | "jvp-fd";

export interface DenoiserOptions {
  /** Schedule to use instead of `createSchedule(model.info.schedule)`. */
  schedule?: Schedule;
  /** Whether `denoise` and `guided` clip x0Hat to [-1, 1] (default false). */
  clipX0?: boolean;
  /** "auto" (default) picks "vjp" when the model has a VJP graph, else "jvp-fd". */
  vjpMode?: VjpMode | "auto";
  /** Finite-difference probe size relative to sigma(t); default 1e-2. */
  fdRelativeStep?: number;
  /** Run both classifier-free guidance branches in one predict call (default true). */
  batchGuidance?: boolean;
}

export interface DenoiseOptions {
  /** Overrides the denoiser's `clipX0` for this call. */
  clipX0?: boolean;
  /** Neighbouring steps for the learned variance on a respaced grid. */
  varianceSteps?: VarianceSteps;
}

/** Picks the VJP mode: "auto" means "vjp" when the model has a VJP, else "jvp-fd". */
export function selectVjpMode(model: Model, requested: VjpMode | "auto" = "auto"): VjpMode {
  const hasVjp = model.info.hasVjp && typeof model.vjp === "function";
  if (requested === "auto") return hasVjp ? "vjp" : "jvp-fd";
  if (requested === "vjp" && !hasVjp) {
    throw new TweedieError("the model has no VJP graph", {
      code: "unsupported",
      path: [model.info.name, "vjpMode"],
      expected: '"jvp-fd" or "auto" for a model without a VJP',
      received: requested,
    });
  }
  return requested;
}

/** Repeats a batch-1 tensor to `batch` items. A tensor that has `batch` items is returned as is. */
function expandBatch(tensor: Tensor, batch: number): Tensor | null {
  if (tensor.batch === batch) return tensor;
  if (tensor.batch !== 1) return null;
  return concatBatch(Array.from({ length: batch }, () => tensor));
}

/**
 * Concatenates two conditionings for batches of `batch` items each, or returns null when
 * they cannot share one call (different kinds, or batch sizes that are neither 1 nor
 * `batch`). The result carries the second prompt.
 */
export function concatConditioning(
  first: Conditioning,
  second: Conditioning,
  batch: number,
): Conditioning | null {
  if (first.kind === "none" && second.kind === "none") return first;
  if (first.kind === "label" && second.kind === "label") {
    const labels = new Int32Array(2 * batch);
    for (const [part, offset] of [
      [first, 0],
      [second, batch],
    ] as const) {
      if (part.labels.length !== 1 && part.labels.length !== batch) return null;
      const broadcast = part.labels.length === 1;
      for (let i = 0; i < batch; i++) {
        labels[offset + i] = part.labels[broadcast ? 0 : i];
      }
    }
    return { kind: "label", labels, prompt: second.prompt };
  }
  if (first.kind === "text" && second.kind === "text") {
    const a = expandBatch(first.embeddings, batch);
    const b = expandBatch(second.embeddings, batch);
    if (!a || !b || a.shape.slice(1).join() !== b.shape.slice(1).join()) return null;
    const embeddings = concatBatch([a, b]);
    if (first.pooled === undefined && second.pooled === undefined) {
      return { kind: "text", prompt: second.prompt, embeddings };
    }
    if (first.pooled === undefined || second.pooled === undefined) return null;
    const pa = expandBatch(first.pooled, batch);
    const pb = expandBatch(second.pooled, batch);
    if (!pa || !pb || pa.shape.slice(1).join() !== pb.shape.slice(1).join()) return null;
    return { kind: "text", prompt: second.prompt, embeddings, pooled: concatBatch([pa, pb]) };
  }
  return null;
}

/** Splits a [2N, ...] tensor into its two halves (views, no copy). */
function halves(tensor: Tensor): [Tensor, Tensor] {
  const half = tensor.size / 2;
  const shape = [tensor.batch / 2, ...tensor.shape.slice(1)];
  return [
    new Tensor(tensor.data.subarray(0, half), shape),
    new Tensor(tensor.data.subarray(half), shape),
  ];
}

/**
 * Wraps a Model into the Tweedie estimate (x0Hat, epsHat): converts the raw output of the
 * model's parameterisation, splits learned variance, clips x0Hat, applies classifier-free
 * guidance, and computes x0Hat's Jacobian products.
 *
 * NFE counts network evaluations in batch-1 equivalents: a predict call on N items adds
 * N, a guided call adds 2N (both branches), a VJP call adds N forward evaluations and N
 * to `vjpEvaluations`, and a finite-difference JVP adds 2N.
 */
export class Denoiser {
  readonly schedule: Schedule;
  readonly vjpMode: VjpMode;
  private readonly clipX0: boolean;
  private readonly fdRelativeStep: number;
  private readonly batchGuidance: boolean;
  private evaluations = 0;
  private backward = 0;

  constructor(
    readonly model: Model,
    options: DenoiserOptions = {},
  ) {
    this.schedule = options.schedule ?? createSchedule(model.info.schedule);
    this.vjpMode = selectVjpMode(model, options.vjpMode);
    this.clipX0 = options.clipX0 ?? false;
    this.fdRelativeStep = options.fdRelativeStep ?? 1e-2;
    if (!(this.fdRelativeStep > 0 && Number.isFinite(this.fdRelativeStep))) {
      throw new TweedieError("invalid finite-difference step", {
        code: "invalid_value",
        path: ["fdRelativeStep"],
        expected: "a finite number > 0",
        received: options.fdRelativeStep,
      });
    }
    this.batchGuidance = options.batchGuidance ?? true;
  }

  get parameterisation(): Parameterisation {
    return this.model.info.parameterisation;
  }

  /** Network evaluations so far, in batch-1 equivalents. */
  get nfe(): number {
    return this.evaluations;
  }

  /** Backward (VJP graph) evaluations so far, in batch-1 equivalents. */
  get vjpEvaluations(): number {
    return this.backward;
  }

  resetNfe(): void {
    this.evaluations = 0;
    this.backward = 0;
  }

  /** Runs the network once and counts the evaluation. */
  async predictRaw(xt: Tensor, t: number, cond: Conditioning): Promise<Tensor> {
    this.evaluations += xt.batch;
    const raw = await this.model.predict(xt, t, cond);
    const factor = this.model.info.learnedVariance ? 2 : 1;
    if (raw.batch !== xt.batch || raw.size !== factor * xt.size) {
      throw new TweedieError("model output has the wrong shape", {
        code: "shape_mismatch",
        path: [this.model.info.name, "output"],
        expected: `${xt.batch} items of ${factor} x the x_t item size ${xt.size / xt.batch}`,
        received: [...raw.shape],
      });
    }
    return raw;
  }

  /** Converts a raw output at (x_t, t) into the Tweedie pair, with clipping if enabled. */
  fromRaw(raw: Tensor, xt: Tensor, t: number, options: DenoiseOptions = {}): Denoised {
    let prediction = raw;
    let logVariance: Tensor | undefined;
    if (this.model.info.learnedVariance) {
      const split = splitLearnedVariance(raw, this.schedule, t, options.varianceSteps);
      prediction = split.eps;
      logVariance = split.logVariance;
    }
    const denoised: Denoised = toDenoised(prediction, xt, t, this.schedule, this.parameterisation);
    if (options.clipX0 ?? this.clipX0) this.clipInPlace(denoised, xt, t);
    if (logVariance) denoised.logVariance = logVariance;
    return denoised;
  }

  /**
   * Clips x0Hat to [-1, 1] and recomputes epsHat = (x_t - alpha x0Hat) / sigma so the pair
   * still satisfies x_t = alpha x0Hat + sigma epsHat. At sigma = 0 epsHat is kept.
   */
  private clipInPlace(denoised: Denoised, xt: Tensor, t: number): void {
    clamp(denoised.x0Hat, -1, 1, denoised.x0Hat);
    const sigma = this.schedule.sigma(t);
    if (sigma === 0) return;
    const alpha = this.schedule.alpha(t);
    axpby(1 / sigma, xt, -alpha / sigma, denoised.x0Hat, denoised.epsHat);
  }

  /** Computes (x0Hat, epsHat) at (x_t, t) with one network evaluation. */
  async denoise(
    xt: Tensor,
    t: number,
    cond: Conditioning,
    options: DenoiseOptions = {},
  ): Promise<Denoised> {
    const raw = await this.predictRaw(xt, t, cond);
    return this.fromRaw(raw, xt, t, options);
  }

  /**
   * Classifier-free guidance: raw = uncond + cfgScale (cond - uncond), then converted.
   * Combining raw outputs equals combining (x0Hat, epsHat), because each parameterisation
   * is affine in raw at fixed (x_t, t) and the weights (1 - w, w) sum to 1, so the x_t term
   * is unchanged. Learned-variance models guide the epsilon channels and keep the
   * conditional branch's variance channels. Both branches share one predict call on a
   * doubled batch when their conditionings concatenate.
   */
  async guided(
    xt: Tensor,
    t: number,
    condUncond: Conditioning,
    condCond: Conditioning,
    cfgScale: number,
    options: DenoiseOptions = {},
  ): Promise<Denoised> {
    const [rawUncond, rawCond] = await this.predictBoth(xt, t, condUncond, condCond);
    const raw = rawCond.clone();
    const perItem = raw.size / raw.batch;
    // Learned-variance outputs hold epsilon in the first half of each item.
    const guidedPerItem = this.model.info.learnedVariance ? perItem / 2 : perItem;
    for (let item = 0; item < raw.batch; item++) {
      const start = item * perItem;
      for (let i = start; i < start + guidedPerItem; i++) {
        const u = rawUncond.data[i];
        raw.data[i] = u + cfgScale * (rawCond.data[i] - u);
      }
    }
    return this.fromRaw(raw, xt, t, options);
  }

  /** Raw outputs of the two branches, from one doubled-batch call when possible. */
  private async predictBoth(
    xt: Tensor,
    t: number,
    first: Conditioning,
    second: Conditioning,
  ): Promise<[Tensor, Tensor]> {
    const joint = this.batchGuidance ? concatConditioning(first, second, xt.batch) : null;
    if (joint) return halves(await this.predictRaw(concatBatch([xt, xt]), t, joint));
    return [await this.predictRaw(xt, t, first), await this.predictRaw(xt, t, second)];
  }

  /**
   * Exact VJP of x0Hat with respect to x_t through the model's VJP graph. With
   * x0Hat = c_x x_t + c_raw raw, J^T g = c_x g + c_raw J_raw^T g. Clipping is not applied:
   * the result is the VJP of the unclipped x0Hat, and `denoised` is unclipped too.
   */
  async vjp(
    xt: Tensor,
    t: number,
    cond: Conditioning,
    g: Tensor,
    options: Omit<DenoiseOptions, "clipX0"> = {},
  ): Promise<{ denoised: Denoised; vjp: Tensor }> {
    const vjpFn = this.model.vjp;
    if (!vjpFn) {
      throw new TweedieError("the model has no VJP graph", {
        code: "unsupported",
        path: [this.model.info.name, "vjp"],
        expected: "a model package with a VJP graph, or vjpMode jvp-fd",
        received: "no vjp",
      });
    }
    if (g.size !== xt.size) {
      throw new TweedieError("VJP cotangent and x_t differ in size", {
        code: "shape_mismatch",
        path: ["g"],
        expected: [...xt.shape],
        received: [...g.shape],
      });
    }
    const c = denoisingCoefficients(this.schedule, t, this.parameterisation);
    this.evaluations += xt.batch;
    this.backward += xt.batch;
    const cotangent = this.rawCotangent(g);
    const { output, vjp: rawVjp } = await vjpFn.call(this.model, xt, t, cond, cotangent);
    const denoised = this.fromRaw(output, xt, t, { ...options, clipX0: false });
    return { denoised, vjp: axpby(c.x0.xt, g, c.x0.raw, rawVjp, Tensor.zeros(xt.shape)) };
  }

  /** Cotangent for the raw output: g in the prediction channels, 0 in variance channels. */
  private rawCotangent(g: Tensor): Tensor {
    if (!this.model.info.learnedVariance) return g;
    const perItem = g.size / g.batch;
    const out = new Float32Array(2 * g.size);
    for (let item = 0; item < g.batch; item++) {
      out.set(g.data.subarray(item * perItem, (item + 1) * perItem), 2 * item * perItem);
    }
    return new Tensor(out, [g.batch, 2 * (g.shape[1] ?? 1), ...g.shape.slice(2)]);
  }

  /**
   * Approximates J v for J = d x0Hat / d x_t by the central difference
   * (x0Hat(x_t + d v) - x0Hat(x_t - d v)) / (2 d), item by item, with d_n = h / rms(v_n)
   * for batch item n. The probe thus moves each value by about h (default
   * fdRelativeStep sigma(t)), and an item's result does not depend on the other items of
   * the batch. It costs two evaluations in one doubled-batch call. The error is O(d^2) from
   * the third derivative of x0Hat plus the float32 rounding of the outputs divided by 2 d.
   */
  async jvpFiniteDifference(
    xt: Tensor,
    t: number,
    cond: Conditioning,
    v: Tensor,
    h?: number,
  ): Promise<Tensor> {
    if (v.size !== xt.size) {
      throw new TweedieError("JVP direction and x_t differ in size", {
        code: "shape_mismatch",
        path: ["v"],
        expected: [...xt.shape],
        received: [...v.shape],
      });
    }
    const step = h ?? this.fdRelativeStep * this.schedule.sigma(t);
    const direction = v.reshape(xt.shape);
    const batch = xt.batch;
    const size = xt.size / batch;
    const deltas = new Float64Array(batch);
    for (let n = 0; n < batch; n++) {
      const rms = norm(direction.item(n)) / Math.sqrt(size);
      deltas[n] = rms > 0 ? step / rms : 0;
    }
    if (deltas.every((delta) => delta === 0)) return Tensor.zeros(xt.shape);
    if (!(step > 0 && Number.isFinite(step))) {
      throw new TweedieError("finite-difference step must be positive", {
        code: "invalid_value",
        path: ["h"],
        expected: "a finite number > 0 (sigma(t) > 0 for the default)",
        received: step,
      });
    }
    const plus = new Float32Array(xt.size);
    const minus = new Float32Array(xt.size);
    for (let n = 0; n < batch; n++) {
      for (let i = n * size; i < (n + 1) * size; i++) {
        plus[i] = xt.data[i] + deltas[n] * direction.data[i];
        minus[i] = xt.data[i] - deltas[n] * direction.data[i];
      }
    }
    const plusTensor = new Tensor(plus, xt.shape);
    const minusTensor = new Tensor(minus, xt.shape);
    const [rawPlus, rawMinus] = await this.predictPair(plusTensor, minusTensor, t, cond);
    const x0Plus = this.fromRaw(rawPlus, plusTensor, t, { clipX0: false }).x0Hat;
    const x0Minus = this.fromRaw(rawMinus, minusTensor, t, { clipX0: false }).x0Hat;
    const out = new Float32Array(xt.size);
    for (let n = 0; n < batch; n++) {
      if (deltas[n] === 0) continue;
      const scale = 1 / (2 * deltas[n]);
      for (let i = n * size; i < (n + 1) * size; i++)
        out[i] = scale * x0Plus.data[i] - scale * x0Minus.data[i];
    }
    return new Tensor(out, xt.shape);
  }

  /** Raw outputs at two inputs under one conditioning, batched when possible. */
  private async predictPair(
    a: Tensor,
    b: Tensor,
    t: number,
    cond: Conditioning,
  ): Promise<[Tensor, Tensor]> {
    const joint = concatConditioning(cond, cond, a.batch);
    if (joint) return halves(await this.predictRaw(concatBatch([a, b]), t, joint));
    return [await this.predictRaw(a, t, cond), await this.predictRaw(b, t, cond)];
  }

  /** J^T g for x0Hat by this denoiser's `vjpMode`. */
  async x0HatVjp(xt: Tensor, t: number, cond: Conditioning, g: Tensor): Promise<Tensor> {
    if (this.vjpMode === "vjp") return (await this.vjp(xt, t, cond, g)).vjp;
    return this.jvpFiniteDifference(xt, t, cond, g);
  }

  /** Returns the affine coefficients of (x0Hat, epsHat) in (x_t, raw) at t. */
  coefficients(t: number): DenoisingCoefficients {
    return denoisingCoefficients(this.schedule, t, this.parameterisation);
  }
}
