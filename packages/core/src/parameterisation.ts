import type { Parameterisation } from "./contracts/model.js";
import type { Denoised } from "./denoiser.js";
import { TweedieError } from "./errors.js";
import { alphaBarAt, indexOf, type Schedule } from "./schedules.js";
import { Tensor } from "./tensor.js";

/**
 * Conversions between a network's raw output and the Tweedie pair (x0Hat, epsHat) with
 * x_t = alpha x0Hat + sigma epsHat. Every parameterisation is affine in (x_t, raw):
 * - epsilon: raw = eps;
 * - x0: raw = x0;
 * - v (VP v-prediction): raw = alpha eps - sigma x0;
 * - velocity: raw = alpha' x0 + sigma' eps.
 * Coefficients are computed in float64; tensors are float32, so each output value carries
 * one float32 rounding.
 */

/** x0Hat = x0.xt x_t + x0.raw raw and epsHat = eps.xt x_t + eps.raw raw. */
export interface DenoisingCoefficients {
  x0: { xt: number; raw: number };
  eps: { xt: number; raw: number };
}

/** raw = x0 * x0Hat + eps * epsHat. */
export interface RawCoefficients {
  x0: number;
  eps: number;
}

/**
 * Derivatives (alpha', sigma') that define a velocity. For rectified flow they are taken
 * with respect to sigma itself, so alpha' = -1 and sigma' = 1 and the velocity is
 * eps - x0, which is what flow-matching networks (SD3, Flux) predict at any timestep
 * shift. With shift 1, sigma = t and these equal d/dt. Other schedules use d/dt.
 */
export function velocityDerivatives(
  schedule: Schedule,
  t: number,
): { dAlpha: number; dSigma: number } {
  if (schedule.spec.kind === "rectified-flow") return { dAlpha: -1, dSigma: 1 };
  return { dAlpha: schedule.dAlpha(t), dSigma: schedule.dSigma(t) };
}

/** Builds the error for a conversion that has no finite result at this t. */
function singular(parameterisation: Parameterisation, t: number, reason: string): TweedieError {
  return new TweedieError(`the ${parameterisation} parameterisation is singular at t = ${t}`, {
    code: "non_finite",
    path: ["t"],
    expected: reason,
    received: t,
  });
}

/**
 * Computes the coefficients of (x0Hat, epsHat) in (x_t, raw). Throws `non_finite` where
 * the map is singular: epsilon at alpha = 0 and x0 at sigma = 0.
 */
export function denoisingCoefficients(
  schedule: Schedule,
  t: number,
  parameterisation: Parameterisation,
): DenoisingCoefficients {
  const alpha = schedule.alpha(t);
  const sigma = schedule.sigma(t);
  switch (parameterisation) {
    case "epsilon":
      if (alpha === 0) throw singular(parameterisation, t, "alpha(t) > 0");
      return { x0: { xt: 1 / alpha, raw: -sigma / alpha }, eps: { xt: 0, raw: 1 } };
    case "x0":
      if (sigma === 0) throw singular(parameterisation, t, "sigma(t) > 0");
      return { x0: { xt: 0, raw: 1 }, eps: { xt: 1 / sigma, raw: -alpha / sigma } };
    case "v": {
      // [x_t; v] = [[alpha, sigma], [-sigma, alpha]] [x0; eps]; the determinant is 1 for VP.
      const det = alpha * alpha + sigma * sigma;
      return {
        x0: { xt: alpha / det, raw: -sigma / det },
        eps: { xt: sigma / det, raw: alpha / det },
      };
    }
    case "velocity": {
      // [x_t; u] = [[alpha, sigma], [alpha', sigma']] [x0; eps].
      const { dAlpha, dSigma } = velocityDerivatives(schedule, t);
      const det = alpha * dSigma - sigma * dAlpha;
      if (!(Number.isFinite(det) && det !== 0)) {
        throw singular(parameterisation, t, "alpha sigma' - sigma alpha' finite and non-zero");
      }
      return {
        x0: { xt: dSigma / det, raw: -sigma / det },
        eps: { xt: -dAlpha / det, raw: alpha / det },
      };
    }
    default:
      throw unknownParameterisation(parameterisation);
  }
}

/** Computes the coefficients of the raw output in (x0, eps). */
export function rawCoefficients(
  schedule: Schedule,
  t: number,
  parameterisation: Parameterisation,
): RawCoefficients {
  switch (parameterisation) {
    case "epsilon":
      return { x0: 0, eps: 1 };
    case "x0":
      return { x0: 1, eps: 0 };
    case "v":
      return { x0: -schedule.sigma(t), eps: schedule.alpha(t) };
    case "velocity": {
      const { dAlpha, dSigma } = velocityDerivatives(schedule, t);
      return { x0: dAlpha, eps: dSigma };
    }
    default:
      throw unknownParameterisation(parameterisation);
  }
}

function unknownParameterisation(received: unknown): TweedieError {
  return new TweedieError("unknown parameterisation", {
    code: "invalid_value",
    path: ["parameterisation"],
    expected: ["epsilon", "x0", "v", "velocity"],
    received,
  });
}

function checkSameSize(a: Tensor, b: Tensor, name: string): void {
  if (a.size !== b.size) {
    throw new TweedieError(`${name} and x_t differ in size`, {
      code: "shape_mismatch",
      path: [name],
      expected: [...a.shape],
      received: [...b.shape],
    });
  }
}

/** Computes c1 a + c2 b elementwise in float64, rounding once to float32. */
function combine(c1: number, a: Tensor, c2: number, b: Tensor, shape: readonly number[]): Tensor {
  const out = new Float32Array(a.size);
  const x = a.data;
  const y = b.data;
  if (c1 === 0) for (let i = 0; i < out.length; i++) out[i] = c2 * y[i];
  else if (c2 === 0) for (let i = 0; i < out.length; i++) out[i] = c1 * x[i];
  else for (let i = 0; i < out.length; i++) out[i] = c1 * x[i] + c2 * y[i];
  return new Tensor(out, shape);
}

/**
 * Converts a raw network output at (x_t, t) into (x0Hat, epsHat). The outputs take the
 * shape of x_t. An identity coefficient returns a copy of raw, never raw itself.
 */
export function toDenoised(
  raw: Tensor,
  xt: Tensor,
  t: number,
  schedule: Schedule,
  parameterisation: Parameterisation,
): Denoised {
  checkSameSize(xt, raw, "raw");
  const c = denoisingCoefficients(schedule, t, parameterisation);
  return {
    x0Hat: combine(c.x0.xt, xt, c.x0.raw, raw, xt.shape),
    epsHat: combine(c.eps.xt, xt, c.eps.raw, raw, xt.shape),
  };
}

/** Converts (x0, eps) into the raw output the network would give in its parameterisation. */
export function fromDenoised(
  x0: Tensor,
  eps: Tensor,
  t: number,
  schedule: Schedule,
  parameterisation: Parameterisation,
): Tensor {
  checkSameSize(x0, eps, "eps");
  const c = rawCoefficients(schedule, t, parameterisation);
  return combine(c.x0, x0, c.eps, eps, x0.shape);
}

/** Steps around a learned-variance step. Defaults are those of the full training grid. */
export interface VarianceSteps {
  /** The step sampled before this one in time order (t decreasing), -1 at the start: index - 1. */
  previousIndex?: number;
  /**
   * The step after `index` on the sampling grid, used to clip betaTilde when
   * previousIndex = -1: index + 1.
   */
  nextIndex?: number;
}

/** log beta and the clipped log betaTilde at a step of a (possibly respaced) grid. */
export function learnedVarianceBounds(
  schedule: Schedule,
  index: number,
  steps: VarianceSteps = {},
): { logBeta: number; logBetaTilde: number } {
  const previous = steps.previousIndex ?? index - 1;
  const alphaBarOf = (i: number) => (i < 0 ? 1 : alphaBarAt(schedule, i));
  if (!(Number.isInteger(previous) && previous >= -1 && previous < index)) {
    throw new TweedieError("previous variance step out of range", {
      code: "out_of_range",
      path: ["previousIndex"],
      expected: `an integer in [-1, ${index - 1}]`,
      received: previous,
    });
  }
  // beta and betaTilde of the step from `previous` to `index` (guided-diffusion respacing
  // recomputes betas as 1 - alphaBar_index / alphaBar_previous).
  const betaOf = (i: number, prev: number) => 1 - alphaBarOf(i) / alphaBarOf(prev);
  const betaTildeOf = (i: number, prev: number) =>
    (betaOf(i, prev) * (1 - alphaBarOf(prev))) / (1 - alphaBarOf(i));
  const logBeta = Math.log(betaOf(index, previous));
  if (previous >= 0) return { logBeta, logBetaTilde: Math.log(betaTildeOf(index, previous)) };
  // betaTilde is 0 at the first step; guided-diffusion uses the next step's value instead.
  const next = steps.nextIndex ?? index + 1;
  return { logBeta, logBetaTilde: Math.log(betaTildeOf(next, index)) };
}

/**
 * Splits an ADM learned-variance output [N, 2C, ...] into epsilon (the first C channels)
 * and the per-value log variance log sigma^2 = f log beta + (1 - f) log betaTilde with
 * f = (v + 1) / 2, where v is the last C channels (Nichol and Dhariwal, arXiv 2102.09672,
 * eq. 15). The step is the training step nearest t.
 */
export function splitLearnedVariance(
  raw: Tensor,
  schedule: Schedule,
  t: number,
  steps: VarianceSteps = {},
): { eps: Tensor; logVariance: Tensor } {
  const [n, doubled, ...spatial] = raw.shape;
  if (raw.shape.length < 2 || doubled % 2 !== 0) {
    throw new TweedieError("learned-variance output needs an even channel count", {
      code: "shape_mismatch",
      path: ["raw"],
      expected: "[N, 2C, ...]",
      received: [...raw.shape],
    });
  }
  const channels = doubled / 2;
  const plane = spatial.reduce((product, dim) => product * dim, 1);
  const half = channels * plane;
  const { logBeta, logBetaTilde } = learnedVarianceBounds(schedule, indexOf(schedule, t), steps);
  const eps = new Float32Array(n * half);
  const logVariance = new Float32Array(n * half);
  for (let item = 0; item < n; item++) {
    const source = item * 2 * half;
    eps.set(raw.data.subarray(source, source + half), item * half);
    for (let i = 0; i < half; i++) {
      const fraction = (raw.data[source + half + i] + 1) / 2;
      logVariance[item * half + i] = fraction * logBeta + (1 - fraction) * logBetaTilde;
    }
  }
  const shape = [n, channels, ...spatial];
  return { eps: new Tensor(eps, shape), logVariance: new Tensor(logVariance, shape) };
}
