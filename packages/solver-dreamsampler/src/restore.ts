import {
  axpby,
  axpy,
  type Conditioning,
  clamp,
  conjugateGradient,
  type Denoised,
  type Denoiser,
  norm,
  type Operator,
  type Rng,
  scale,
  sub,
  Tensor,
} from "@tweedie/core";
import { type LoopHooks, reportStep, throwIfCancelled, throwIfDiverged } from "./checks.js";
import { denoisePair } from "./edit.js";
import type { NoiseLevel } from "./levels.js";
import type { DreamSamplerParams } from "./params.js";

/** Route of a DPS step to the latent of a latent model ("pixel" for pixel models). */
export type LatentPath = "pixel" | "decoder-vjp" | "pixel-reencode";

export interface RestoreContext {
  denoiser: Denoiser;
  operator: Operator;
  y: Tensor;
  levels: readonly NoiseLevel[];
  nullCond: Conditioning;
  /** The prompt's conditioning for the text region; null when there is no prompt. */
  targetCond: Conditioning | null;
  /** Working-space weight of the measurement (1 = observed); text guidance acts on 1 - mask. */
  mask: Tensor;
  latentPath: LatentPath;
  params: DreamSamplerParams;
}

/** Maps a working-space estimate to pixels (decodes latents). */
async function toPixels(context: RestoreContext, z: Tensor): Promise<Tensor> {
  return context.latentPath === "pixel" ? z : context.denoiser.model.decode!(z);
}

/** Maps pixels to the working space (encodes for latent models). */
async function fromPixels(context: RestoreContext, x: Tensor): Promise<Tensor> {
  return context.latentPath === "pixel" ? x : context.denoiser.model.encode!(x);
}

/**
 * Runs the DreamSampler restoration loop ("dream_inpaint" in the official
 * solver/latent_diffusion.py, commit 6f190c9), from the inverted measurement at the last
 * level down to level 1. Step s (from 0) is a DreamSampler step when s % dreamEvery = 0 and
 * s < dreamUntil * steps (official: s % 3 = 0 and s < 170 of 200), and a DPS step otherwise.
 * Returns the last clean estimate in the working space.
 */
export async function dreamRestore(
  context: RestoreContext,
  xT: Tensor,
  rng: Rng,
  hooks: LoopHooks,
): Promise<Tensor> {
  const { levels, params } = context;
  const steps = levels.length - 1;
  let x = xT;
  let x0Hat = xT;
  for (let k = steps; k >= 1; k--) {
    const s = steps - k;
    throwIfCancelled(hooks, s + 1);
    const dream = s % params.dreamEvery === 0 && s < params.dreamUntil * steps;
    const next = dream
      ? await dreamStep(context, x, levels[k], levels[k - 1], rng.split("step", s))
      : await dpsStep(context, x, levels[k], levels[k - 1]);
    x = next.x;
    x0Hat = next.x0Hat;
    throwIfDiverged(x0Hat, hooks, s + 1);
    reportStep(hooks, s + 1, { t: levels[k].t, nfe: context.denoiser.nfe, x0Hat });
  }
  return x0Hat;
}

/**
 * DreamSampler branch, with a = alphaBar_t:
 * 1. x0U and x0C (null and target prompts, no CFG);
 * 2. data consistency: x = argmin ||y - A x||^2 + lambda ||x - D(x0U)||^2 by conjugate
 *    gradient on (A^T A + lambda I) x = A^T y + lambda D(x0U), then z0y = E(x);
 * 3. zBar = a z0y + (1 - a) x0U, and in the text region zBar <- (1 - a) zBar + a x0C;
 * 4. x <- alpha_prev zBar + sigma_prev (sqrt(1 - a) epsU + sqrt(a) eps), eps fresh.
 */
async function dreamStep(
  context: RestoreContext,
  x: Tensor,
  current: NoiseLevel,
  previous: NoiseLevel,
  stepRng: Rng,
): Promise<{ x: Tensor; x0Hat: Tensor }> {
  const { denoiser, operator, y, params } = context;
  const a = current.alphaBar;
  let unconditional: Denoised;
  let target: Tensor;
  if (context.targetCond === null) {
    unconditional = await denoiser.denoise(x, current.t, context.nullCond);
    target = unconditional.x0Hat;
  } else {
    const [u, c] = await denoisePair(denoiser, x, current.t, context.nullCond, context.targetCond);
    unconditional = u;
    target = c.x0Hat;
  }

  const prior = await toPixels(context, unconditional.x0Hat);
  const adjoint = operator.adjoint!.bind(operator);
  const lambda = params.cgLambda;
  const rhs = axpby(1, adjoint(y), lambda, prior);
  const { x: consistent } = conjugateGradient(
    (v) => axpby(1, adjoint(operator.forward(v)), lambda, v),
    rhs,
    prior,
    { maxIterations: params.cgIterations, tolerance: params.cgTolerance },
  );
  const measured = await fromPixels(context, consistent);

  const zBar = axpby(a, measured, 1 - a, unconditional.x0Hat);
  // In the text region: zBar + a (x0C - zBar), weighted by 1 - mask.
  const pull = sub(target, zBar);
  for (let i = 0; i < zBar.size; i++) zBar.data[i] += (1 - context.mask.data[i]) * a * pull.data[i];

  const eps = stepRng.normalTensor(x.shape);
  const noise = axpby(Math.sqrt(1 - a), unconditional.epsHat, Math.sqrt(a), eps);
  return { x: axpby(previous.alpha, zBar, previous.sigma, noise), x0Hat: zBar };
}

/**
 * DPS branch: x' = alpha_prev x0U + sigma_prev epsU, then a step of size sqrt(alphaBar_prev)
 * along g = d ||y - A(D(x0U(x)))|| / dx (plain norm) in VP units. A state of another
 * schedule is c = sqrt(alpha^2 + sigma^2) times the VP state, so the step in model units is
 * alpha_prev c_t g_model. J^T of x0Hat comes from the model's VJP graph when it has one,
 * else from the finite-difference J g (the denoiser's `vjpMode`).
 */
async function dpsStep(
  context: RestoreContext,
  x: Tensor,
  current: NoiseLevel,
  previous: NoiseLevel,
): Promise<{ x: Tensor; x0Hat: Tensor }> {
  const { denoiser, operator, y } = context;
  const unconditional = await denoiser.denoise(x, current.t, context.nullCond);
  const next = axpby(previous.alpha, unconditional.x0Hat, previous.sigma, unconditional.epsHat);

  const image = await toPixels(context, unconditional.x0Hat);
  const residual = sub(y, operator.forward(image));
  const residualNorm = norm(residual);
  if (residualNorm === 0) return { x: next, x0Hat: unconditional.x0Hat };
  const pixelGradient = scale(operator.adjoint!(residual), -1 / residualNorm);
  const stepSize = previous.alpha * Math.hypot(current.alpha, current.sigma);

  if (context.latentPath === "pixel-reencode") {
    // The decoder has no VJP graph: step the decoded image, re-encode it, re-noise with epsU.
    const shifted = await fromPixels(context, axpby(1, image, -stepSize, pixelGradient));
    return {
      x: axpby(previous.alpha, shifted, previous.sigma, unconditional.epsHat),
      x0Hat: shifted,
    };
  }
  const cotangent =
    context.latentPath === "decoder-vjp"
      ? await denoiser.model.decodeVjp!(unconditional.x0Hat, pixelGradient)
      : pixelGradient;
  const gradient = await denoiser.x0HatVjp(x, current.t, context.nullCond, cotangent);
  return { x: axpy(-stepSize, gradient, next), x0Hat: unconditional.x0Hat };
}

/**
 * Builds the measurement weight in the working space: A^T A 1 clipped to [0, 1] for an inpainting
 * operator (exactly its mask), all ones (no text region) for other operators under
 * "auto" and "nowhere", all zeros under "everywhere". Latent models take every
 * `downsample`-th pixel of the first channel, as the official code takes mask[::8, ::8].
 */
export function textMask(
  operator: Operator,
  region: DreamSamplerParams["textRegion"],
  workingShape: readonly number[],
  downsample: number,
): Tensor {
  const [, channels, height, width] = workingShape;
  if (region === "everywhere") return Tensor.zeros(workingShape);
  if (region === "nowhere" || operator.spec.kind !== "inpainting")
    return Tensor.full(workingShape, 1);
  const ones = Tensor.full([1, ...operator.inputShape], 1);
  const pixels = clamp(operator.adjoint!(operator.forward(ones)), 0, 1);
  const pixelWidth = operator.inputShape[2];
  const mask = Tensor.zeros(workingShape);
  for (let c = 0; c < channels; c++) {
    for (let r = 0; r < height; r++) {
      for (let col = 0; col < width; col++) {
        // Pixel models keep their own channel; latent channels share the first pixel channel.
        const source = downsample === 1 ? c : 0;
        const pixel =
          (source * operator.inputShape[1] + r * downsample) * pixelWidth + col * downsample;
        mask.data[(c * height + r) * width + col] = pixels.data[pixel];
      }
    }
  }
  return mask;
}
