import {
  axpby,
  type Conditioning,
  concatBatch,
  type Denoised,
  type Denoiser,
  flowGrid,
  lerp,
  type Problem,
  type RestorationProblem,
  type Rng,
  type Schedule,
  type SolveOptions,
  type SolveResult,
  type Solver,
  sampleStatistics,
  scale,
  type Tensor,
  TweedieError,
  timeAtSigma,
} from "@tweedie/core";
import {
  dataGradient,
  operatorNormSquared,
  type Preconditioner,
  type Projection,
  preconditionedDirection,
  projectMeasurement,
  projectOntoMeasurements,
  proximalDataStep,
  resolveProjection,
} from "./data-consistency.js";
import type { FlowDpsParams } from "./params.js";

/**
 * FlowDPS (Kim, Kim and Ye, "FlowDPS: Flow-Driven Posterior Sampling for Inverse
 * Problems", ICCV 2025, arXiv 2503.08136), as the official sampler implements it
 * (FlowDPS-Inverse/FlowDPS, sd3_sampler.py, commit 8361843). Each Euler step of the flow
 * is split into its clean estimate x0Hat and its noise estimate x1Hat; a few gradient
 * steps on the clean estimate against the measurement give u, and the next state is
 *   x_{t'} = (1 - t') [(1 - t) x0Hat + t u] + t' [sqrt(t') x1Hat + sqrt(1 - t') eps].
 *
 * Legend (code -> paper): `tau` = t (flow time, noise fraction), `x0Hat` = x_{0|t},
 * `epsHat` = x_{1|t}, `u` = the data-consistent clean estimate, `stepSize` = eta.
 * For models on another schedule, tau is the flow time sigma / (alpha + sigma) of the
 * model's (alpha, sigma), and the update keeps the model's own scale:
 * x_{t'} = alpha(t') x0Tilde + sigma(t') [sqrt(tau') epsHat + sqrt(1 - tau') eps].
 */
export class FlowDpsSolver implements Solver {
  constructor(readonly params: FlowDpsParams) {}

  async solve(problem: Problem, rng: Rng, options: SolveOptions = {}): Promise<SolveResult> {
    const p = restorationOnly(problem);
    if (p.y.batch !== 1) {
      throw new TweedieError("FlowDPS solves one measurement at a time", {
        code: "invalid_value",
        path: ["y"],
        expected: "batch 1",
        received: p.y.batch,
      });
    }
    const projection = resolveProjection(this.params.projection, p.operator);
    const preconditioner = resolvePreconditioner(this.params, projection, p);
    const schedule = p.denoiser.schedule;
    const times = flowTimes(schedule, this.params);
    const conditioning = await resolveConditioning(p, this.params.cfgScale);
    const latentMode = resolveLatentMode(p.denoiser, this.params);
    const projectedY = projectMeasurement(p.operator, projection, p.y);
    const nfeBefore = p.denoiser.nfe;

    const samples: Tensor[] = [];
    for (let s = 0; s < this.params.samples; s++) {
      const sampleRng = rng.split("sample", s);
      samples.push(
        await this.sampleOne(
          p,
          sampleRng,
          {
            schedule,
            times,
            conditioning,
            projection,
            projectedY,
            preconditioner,
            latentMode,
            sample: s,
          },
          options,
        ),
      );
    }
    const x = concatBatch(samples);
    const stats = this.params.samples > 1 ? sampleStatistics(x) : undefined;
    return {
      x,
      ...(stats ?? {}),
      nfe: p.denoiser.nfe - nfeBefore,
      steps: this.params.steps,
      diagnostics: {
        projection,
        innerStep: this.params.innerStep,
        ...(preconditioner ? { operatorNormSquared: preconditioner.operatorNormSquared } : {}),
        latentGradient: latentMode,
        guidance: conditioning.mode,
        grid: times.map((t) => Number(t.tau.toFixed(6))),
        finalProjection: this.params.finalProjection,
      },
    };
  }

  private async sampleOne(
    p: RestorationProblem,
    rng: Rng,
    ctx: SampleContext,
    options: SolveOptions,
  ): Promise<Tensor> {
    const { schedule, times } = ctx;
    const shape = [1, ...latentShape(p)];
    let z = scale(rng.split("init").normalTensor(shape), schedule.sigma(times[0].t));

    let x0Tilde: Tensor = z;
    for (let i = 0; i < times.length - 1; i++) {
      if (options.signal?.aborted) {
        throw new TweedieError("solve cancelled", {
          code: "cancelled",
          path: ["sample", ctx.sample, "step", i],
        });
      }
      const { t, tau } = times[i];
      const next = times[i + 1];

      // 1. Velocity (with CFG when conditioned) -> clean estimate x0Hat and noise estimate x1Hat (eq. 7).
      const denoised = await denoiseStep(p.denoiser, z, t, ctx.conditioning);
      checkFinite(denoised.x0Hat, ctx.sample, i, "x0Hat");

      if (this.params.innerStep === "proximal") {
        // 2-3. Variant: one proximal solve weighted by the noise levels replaces both steps.
        x0Tilde = await this.proximalEstimate(p, denoised.x0Hat, schedule, t, ctx);
      } else {
        // 2. Data consistency: K gradient steps of size eta on u, starting from x0Hat (eq. 12).
        const u = await this.dataConsistency(p, denoised.x0Hat, ctx);

        // 3. Interpolate the prior and data-consistent estimates: (1 - t) x0Hat + t u (eq. 13).
        x0Tilde = lerp(denoised.x0Hat, u, tau);
      }

      // 4. Stochastic re-noising: sqrt(t') x1Hat + sqrt(1 - t') eps, then step to t' (eq. 14).
      const eps = rng.split("step", i).normalTensor(z.shape);
      const noise = axpby(Math.sqrt(next.tau), denoised.epsHat, Math.sqrt(1 - next.tau), eps);
      z = axpby(schedule.alpha(next.t), x0Tilde, schedule.sigma(next.t), noise);
      checkFinite(z, ctx.sample, i, "x_t");

      options.onStep?.({
        step: i + 1,
        totalSteps: times.length - 1,
        t,
        nfe: p.denoiser.nfe,
        x0Hat: x0Tilde,
      });
    }

    let image = ctx.latentMode === "pixel" ? z : await decode(p.denoiser, z);
    if (this.params.finalProjection) image = projectOntoMeasurements(p.operator, image, p.y);
    return image;
  }

  /** The proximal data step in pixel space (latent models decode, solve and re-encode). */
  private async proximalEstimate(
    p: RestorationProblem,
    x0Hat: Tensor,
    schedule: Schedule,
    t: number,
    ctx: SampleContext,
  ): Promise<Tensor> {
    const image = ctx.latentMode === "pixel" ? x0Hat : await decode(p.denoiser, x0Hat);
    const r = schedule.sigma(t) / schedule.alpha(t);
    const u = proximalDataStep(p.operator, image, p.y, p.sigmaY, r, this.params.proximalWeight);
    return ctx.latentMode === "pixel" ? u : p.denoiser.model.encode!(u);
  }

  private async dataConsistency(
    p: RestorationProblem,
    x0Hat: Tensor,
    ctx: SampleContext,
  ): Promise<Tensor> {
    let u = x0Hat.clone();
    const preconditioner = ctx.preconditioner;
    for (let k = 0; k < this.params.innerSteps; k++) {
      if (preconditioner) {
        // Preconditioned step on (1/2) ||y - A(u)||^2, in pixel space (latent models
        // decode, step and re-encode).
        const image = ctx.latentMode === "pixel" ? u : await decode(p.denoiser, u);
        const direction = preconditionedDirection(p.operator, preconditioner, image, p.y);
        const stepped = axpby(1, image, this.params.learningRate, direction);
        u = ctx.latentMode === "pixel" ? stepped : await p.denoiser.model.encode!(stepped);
      } else if (ctx.latentMode === "pixel") {
        const { gradient } = dataGradient(p.operator, ctx.projection, u, p.y, ctx.projectedY);
        u = axpby(1, u, -this.params.stepSize, gradient);
      } else if (ctx.latentMode === "decoder-vjp") {
        const image = await decode(p.denoiser, u);
        const { gradient } = dataGradient(p.operator, ctx.projection, image, p.y, ctx.projectedY);
        const latentGradient = await p.denoiser.model.decodeVjp!(u, gradient);
        u = axpby(1, u, -this.params.stepSize, latentGradient);
      } else {
        // pixel-reencode: one pixel-space step on the decoded image, then back to the latent.
        const image = await decode(p.denoiser, u);
        const { gradient } = dataGradient(p.operator, ctx.projection, image, p.y, ctx.projectedY);
        u = await p.denoiser.model.encode!(axpby(1, image, -this.params.stepSize, gradient));
      }
    }
    return u;
  }
}

interface TimePoint {
  /** Model time. */
  t: number;
  /** Flow time sigma / (alpha + sigma) at t. */
  tau: number;
}

interface GuidanceSetup {
  mode: "none" | "conditional" | "cfg";
  cond: Conditioning;
  uncond?: Conditioning;
  cfgScale: number;
}

interface SampleContext {
  schedule: Schedule;
  times: TimePoint[];
  conditioning: GuidanceSetup;
  projection: Projection;
  /** P(y) for the official norm step, computed once per solve. */
  projectedY: Tensor;
  /** Set for the preconditioned inner step; undefined for the official norm step. */
  preconditioner: Preconditioner | undefined;
  latentMode: "pixel" | "decoder-vjp" | "pixel-reencode";
  sample: number;
}

function restorationOnly(problem: Problem): RestorationProblem {
  if (problem.kind !== "restoration") {
    throw new TweedieError("FlowDPS solves restoration problems only", {
      code: "unsupported",
      path: ["problem", "kind"],
      received: problem.kind,
    });
  }
  return problem;
}

/** Maps the flow-time grid (diffusers' shifted flow-matching sigmas) onto the model's schedule. */
export function flowTimes(
  schedule: Schedule,
  params: Pick<FlowDpsParams, "steps" | "shift" | "baseShift">,
): TimePoint[] {
  const grid = flowGrid({ steps: params.steps, shift: params.shift, baseShift: params.baseShift });
  return grid.map((tau) => {
    const t = timeAtFlowTime(schedule, tau);
    return { t, tau: flowTime(schedule, t) };
  });
}

function flowTime(schedule: Schedule, t: number): number {
  const alpha = schedule.alpha(t);
  const sigma = schedule.sigma(t);
  return sigma / (alpha + sigma);
}

/** Finds the model time t whose flow time sigma / (alpha + sigma) is tau, clamped to [0, 1]. */
export function timeAtFlowTime(schedule: Schedule, tau: number): number {
  if (schedule.spec.kind === "rectified-flow")
    return timeAtSigma(schedule, Math.min(tau, schedule.sigma(1)));
  if (tau >= flowTime(schedule, 1)) return 1;
  if (tau <= 0) return 0;
  let low = 0;
  let high = 1;
  for (let i = 0; i < 60; i++) {
    const mid = 0.5 * (low + high);
    if (flowTime(schedule, mid) < tau) low = mid;
    else high = mid;
  }
  return 0.5 * (low + high);
}

async function resolveConditioning(
  p: RestorationProblem,
  cfgScale: number,
): Promise<GuidanceSetup> {
  const model = p.denoiser.model;
  if (model.info.conditioning.kind === "none")
    return { mode: "none", cond: { kind: "none" }, cfgScale: 1 };
  const prompt = p.prompt ?? "";
  const cond = await model.condition(prompt, 1);
  if (prompt === "" || cfgScale === 1) return { mode: "conditional", cond, cfgScale: 1 };
  return { mode: "cfg", cond, uncond: await model.condition("", 1), cfgScale };
}

function denoiseStep(
  denoiser: Denoiser,
  z: Tensor,
  t: number,
  setup: GuidanceSetup,
): Promise<Denoised> {
  if (setup.mode === "cfg") return denoiser.guided(z, t, setup.uncond!, setup.cond, setup.cfgScale);
  return denoiser.denoise(z, t, setup.cond);
}

/**
 * Checks the inner-step rule against the projection and fixes what the preconditioned
 * step needs for the whole solve (||A||^2 for the adjoint step).
 */
function resolvePreconditioner(
  params: FlowDpsParams,
  projection: Projection,
  p: RestorationProblem,
): Preconditioner | undefined {
  if (params.innerStep !== "preconditioned") {
    if (projection === "tikhonov") {
      throw new TweedieError("projection tikhonov applies to the preconditioned inner step only", {
        code: "invalid_value",
        path: ["params", "projection"],
        expected: 'innerStep "preconditioned", or projection auto, pinv, adjoint or none',
        received: projection,
      });
    }
    if (params.innerStep === "proximal" && !(p.operator.linear && p.operator.adjoint)) {
      throw new TweedieError("the proximal inner step needs a linear operator", {
        code: "unsupported",
        path: ["params", "innerStep"],
        expected: "a linear operator with an adjoint, or innerStep norm",
        received: p.operator.spec.kind,
      });
    }
    return undefined;
  }
  if (projection === "none") {
    throw new TweedieError("the preconditioned inner step needs a linear operator", {
      code: "unsupported",
      path: ["params", "innerStep"],
      expected: "a linear operator with an adjoint, or innerStep norm",
      received: p.operator.spec.kind,
    });
  }
  return {
    projection,
    lambda: params.tikhonovLambda,
    operatorNormSquared: projection === "adjoint" ? operatorNormSquared(p.operator) : 1,
  };
}

function resolveLatentMode(
  denoiser: Denoiser,
  params: Pick<FlowDpsParams, "latentGradient" | "innerStep">,
): SampleContext["latentMode"] {
  const requested = params.latentGradient;
  const model = denoiser.model;
  if (model.info.space === "pixel") return "pixel";
  if (!model.decode || !model.encode) {
    throw new TweedieError("latent model package has no VAE decoder or encoder", {
      code: "unsupported",
      path: [model.info.name, "vae"],
    });
  }
  if (params.innerStep !== "norm") {
    // The preconditioned and proximal steps update pixels, so they decode and re-encode.
    if (requested === "decoder-vjp") {
      throw new TweedieError(`the ${params.innerStep} inner step runs in pixel space`, {
        code: "unsupported",
        path: ["params", "latentGradient"],
        expected: `"pixel-reencode" or "auto" with innerStep "${params.innerStep}"`,
        received: requested,
      });
    }
    return "pixel-reencode";
  }
  const hasVjp = typeof model.decodeVjp === "function";
  if (requested === "decoder-vjp" && !hasVjp) {
    throw new TweedieError("the model package has no decoder VJP graph", {
      code: "unsupported",
      path: ["params", "latentGradient"],
      expected: '"pixel-reencode" or "auto"',
      received: requested,
    });
  }
  if (requested === "auto") return hasVjp ? "decoder-vjp" : "pixel-reencode";
  return requested;
}

function latentShape(p: RestorationProblem): number[] {
  const info = p.denoiser.model.info;
  if (info.space === "pixel" || !info.vae) return [...p.shape];
  const [, h, w] = p.shape;
  return [info.vae.latentChannels, h / info.vae.downsample, w / info.vae.downsample];
}

async function decode(denoiser: Denoiser, z: Tensor): Promise<Tensor> {
  return denoiser.model.decode!(z);
}

function checkFinite(tensor: Tensor, sample: number, step: number, name: string): void {
  if (!tensor.isFinite()) {
    throw new TweedieError(`non-finite values in ${name}`, {
      code: "non_finite",
      path: ["sample", sample, "step", step, name],
    });
  }
}
