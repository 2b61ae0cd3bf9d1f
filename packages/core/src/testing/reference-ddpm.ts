import { TweedieError } from "../errors.js";
import type { GaussianMixture } from "../priors/gmm.js";
import type { Rng } from "../rng.js";
import type { Schedule } from "../schedules.js";
import { IdentityCovarianceDenoiser } from "./gmm.js";

/**
 * Samples the prior with a plain float64 DDPM ancestral sampler (Ho, Jain and Abbeel 2020,
 * arXiv:2006.11239) with the posterior variance betaTilde, driven by the exact mixture
 * denoiser and no guidance. Its samples follow the prior up to discretisation error, so it
 * checks the denoiser and the schedule independently of any solver package. Step i uses
 * the schedule's alphaBar_i (time (i + 1) / T) and draws its noise from
 * rng.split("step", i).
 */
export function sampleMixtureDdpm(
  mixture: GaussianMixture,
  count: number,
  rng: Rng,
  schedule: Schedule,
): Float64Array {
  const alphaBar = schedule.alphaBars;
  if (alphaBar === null) {
    throw new TweedieError("the reference DDPM sampler needs a discrete schedule", {
      code: "unsupported",
      path: ["schedule"],
      expected: "a schedule with discrete steps",
      received: schedule.spec.kind,
    });
  }
  const d = mixture.dim;
  const denoiser = new IdentityCovarianceDenoiser(mixture);
  let x = rng.split("init").normal64(count * d);
  for (let i = alphaBar.length - 1; i >= 0; i--) {
    const ab = alphaBar[i];
    const abPrev = i > 0 ? alphaBar[i - 1] : 1;
    const beta = 1 - ab / abPrev;
    const x0Hat = denoiser.denoise(x, Math.sqrt(ab), Math.sqrt(1 - ab));
    // Mean coefficients and variance of the posterior q(x_{i-1} | x_i, x0).
    const c1 = (beta * Math.sqrt(abPrev)) / (1 - ab);
    const c2 = ((1 - abPrev) * Math.sqrt(1 - beta)) / (1 - ab);
    const std = i > 0 ? Math.sqrt((beta * (1 - abPrev)) / (1 - ab)) : 0;
    const noise = i > 0 ? rng.split("step", i).normal64(count * d) : undefined;
    const next = new Float64Array(count * d);
    for (let k = 0; k < next.length; k++) {
      next[k] = c1 * x0Hat[k] + c2 * x[k] + (noise === undefined ? 0 : std * noise[k]);
    }
    x = next;
  }
  return x;
}
