import { axpby, type Conditioning, type Denoiser, scale, type Tensor } from "@tweedie/core";
import { type LoopHooks, reportStep, throwIfCancelled, throwIfDiverged } from "./checks.js";
import type { NoiseLevel } from "./levels.js";

/**
 * Runs DDIM inversion (Song, Meng and Ermon, arXiv 2010.02502: the deterministic DDIM step
 * taken toward higher noise), as the official DreamSampler code runs it with w_inv = 0: from level k to k + 1, with epsHat
 * of the current state evaluated at the next level's time,
 *   x0 = (x - sigma_k epsHat) / alpha_k,   x <- alpha_{k+1} x0 + sigma_{k+1} epsHat.
 * Returns the state at the last level. `levels[0]` is the clean image (alpha 1, sigma 0).
 *
 * The state is moved to the next level's scale before that evaluation: x c_{k+1} / c_k with
 * c = sqrt(alpha^2 + sigma^2). A VP schedule has c = 1, so this is the official step, and
 * on any other schedule it is the same step in VP units, which the network's own scale
 * would otherwise change (by 0.2% per step on a rectified flow at 20 steps).
 */
export async function ddimInvert(
  denoiser: Denoiser,
  x0: Tensor,
  levels: readonly NoiseLevel[],
  cond: Conditioning,
  hooks: LoopHooks,
): Promise<Tensor> {
  let x = x0;
  for (let k = 0; k + 1 < levels.length; k++) {
    throwIfCancelled(hooks, k + 1);
    const current = levels[k];
    const next = levels[k + 1];
    const rescale = Math.hypot(next.alpha, next.sigma) / Math.hypot(current.alpha, current.sigma);
    const { epsHat } = await denoiser.denoise(rescale === 1 ? x : scale(x, rescale), next.t, cond);
    const clean = axpby(1 / current.alpha, x, -current.sigma / current.alpha, epsHat);
    x = axpby(next.alpha, clean, next.sigma, epsHat);
    throwIfDiverged(clean, hooks, k + 1);
    reportStep(hooks, k + 1, { t: next.t, nfe: denoiser.nfe, x0Hat: clean });
  }
  return x;
}
