import {
  axpby,
  type Conditioning,
  concatBatch,
  concatConditioning,
  type Denoised,
  type Denoiser,
  lerp,
  Tensor,
} from "@tweedie/core";
import { type LoopHooks, reportStep, throwIfCancelled, throwIfDiverged } from "./checks.js";
import type { NoiseLevel } from "./levels.js";

/**
 * Runs the denoiser on one state under two conditionings, in one doubled-batch call when
 * the conditionings concatenate. Returns the two results in argument order.
 */
export async function denoisePair(
  denoiser: Denoiser,
  x: Tensor,
  t: number,
  first: Conditioning,
  second: Conditioning,
): Promise<[Denoised, Denoised]> {
  const joint = concatConditioning(first, second, x.batch);
  if (joint === null) {
    return [await denoiser.denoise(x, t, first), await denoiser.denoise(x, t, second)];
  }
  const raw = await denoiser.predictRaw(concatBatch([x, x]), t, joint);
  const half = raw.size / 2;
  const shape = [raw.batch / 2, ...raw.shape.slice(1)];
  return [
    denoiser.fromRaw(new Tensor(raw.data.subarray(0, half), shape), x, t),
    denoiser.fromRaw(new Tensor(raw.data.subarray(half), shape), x, t),
  ];
}

/**
 * Runs the DreamSampler editing loop ("dream_edit" in the official solver/latent_diffusion.py,
 * commit 6f190c9), from the inverted state at the last level down to level 1. Per step,
 * with alphaBar_t the level's VP-equivalent alphaBar and gamma = lambda alphaBar_t:
 *   epsTilde = epsU + gamma (epsC - epsU),   x0Hat = (x - sigma epsTilde) / alpha,
 *   x <- alpha_prev x0Hat + sigma_prev epsU   (re-noised with the unconditional epsU).
 * The output is the last x0Hat.
 *
 * Proximal form, used here: at one x, x0 = (x - sigma eps) / alpha is affine in eps, so
 * x0C - x0U = -(sigma / alpha) (epsC - epsU) and
 *   x0Hat = x0U - gamma (sigma / alpha) (epsC - epsU) = (1 - gamma) x0U + gamma x0C,
 * the minimiser of (1 - gamma) ||z - x0U||^2 + gamma ||z - x0C||^2: a proximal step from the
 * unconditional estimate toward the target's. Both forms agree in exact arithmetic; this
 * one does not divide float32 rounding of eps by a small alpha at high noise.
 */
export async function dreamEdit(
  denoiser: Denoiser,
  xT: Tensor,
  levels: readonly NoiseLevel[],
  nullCond: Conditioning,
  targetCond: Conditioning | null,
  lambda: number,
  hooks: LoopHooks,
): Promise<Tensor> {
  let x = xT;
  let x0Hat = xT;
  const steps = levels.length - 1;
  for (let k = steps; k >= 1; k--) {
    const step = steps - k + 1;
    throwIfCancelled(hooks, step);
    const current = levels[k];
    const previous = levels[k - 1];
    const gamma = lambda * current.alphaBar;

    // 1. Unconditional and target estimates at the same state and time.
    let unconditional: Denoised;
    if (targetCond !== null && gamma !== 0) {
      const [u, c] = await denoisePair(denoiser, x, current.t, nullCond, targetCond);
      unconditional = u;
      // 2. x0Hat from epsTilde, in its proximal form.
      x0Hat = lerp(u.x0Hat, c.x0Hat, gamma);
    } else {
      unconditional = await denoiser.denoise(x, current.t, nullCond);
      x0Hat = unconditional.x0Hat;
    }

    // 3. DDIM step re-noised with epsU.
    x = axpby(previous.alpha, x0Hat, previous.sigma, unconditional.epsHat);

    throwIfDiverged(x0Hat, hooks, step);
    reportStep(hooks, step, { t: current.t, nfe: denoiser.nfe, x0Hat });
  }
  return x0Hat;
}
