import { TweedieError } from "../errors.js";
import type { Rng } from "../rng.js";
import {
  cholesky,
  choleskySolve,
  inverseSpd,
  type Matrix,
  matmul,
  matrix,
  matvec,
  matvecTransposed,
  transpose,
} from "./linalg.js";

/**
 * A Gaussian mixture with identity covariance in every component:
 * p(x) = sum_k w_k N(x; mu_k, I). Means are stored row-major, one component per row.
 */
export interface GaussianMixture {
  readonly dim: number;
  readonly components: number;
  /** components x dim, row-major. */
  readonly means: Float64Array;
  /** Normalised weights, summing to 1. */
  readonly weights: Float64Array;
  readonly logWeights: Float64Array;
}

/** "equal": w_k = 1/K (TMPD, the reference numbers); "random": w_k = g_k^2 / sum g^2 (MCGdiff). */
export type MixtureWeights = "equal" | "random";

function logSumExp(values: ArrayLike<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i] - max);
  return max + Math.log(sum);
}

export function createMixture(means: Matrix, weights: ArrayLike<number>): GaussianMixture {
  if (weights.length !== means.rows) {
    throw new TweedieError("mixture needs one weight per component", {
      code: "shape_mismatch",
      path: ["weights"],
      expected: means.rows,
      received: weights.length,
    });
  }
  let total = 0;
  for (let k = 0; k < weights.length; k++) {
    if (!(weights[k] >= 0) || !Number.isFinite(weights[k])) {
      throw new TweedieError("mixture weights must be finite and non-negative", {
        code: "invalid_value",
        path: ["weights", k],
        expected: "a finite value >= 0",
        received: weights[k],
      });
    }
    total += weights[k];
  }
  const normalised = Float64Array.from(weights, (w) => w / total);
  return {
    dim: means.cols,
    components: means.rows,
    means: Float64Array.from(means.data),
    weights: normalised,
    logWeights: Float64Array.from(normalised, Math.log),
  };
}

/**
 * The MCGdiff prior: 25 components with means 8 (i, j), i, j in -2..2, the 2-vector tiled
 * to `dim` coordinates (dim must be even), identity covariance. Random weights draw
 * g ~ N(0, 1) per component from `rng`.
 */
export function createGridMixture(
  dim: number,
  options: { weights?: MixtureWeights; rng?: Rng; spacing?: number } = {},
): GaussianMixture {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) {
    throw new TweedieError("grid mixture dimension must be an even integer >= 2", {
      code: "invalid_value",
      path: ["dim"],
      expected: "an even integer >= 2",
      received: dim,
    });
  }
  const spacing = options.spacing ?? 8;
  const means = matrix(25, dim);
  let k = 0;
  for (let i = -2; i <= 2; i++) {
    for (let j = -2; j <= 2; j++) {
      for (let c = 0; c < dim; c += 2) {
        means.data[k * dim + c] = spacing * i;
        means.data[k * dim + c + 1] = spacing * j;
      }
      k++;
    }
  }
  const kind = options.weights ?? "equal";
  if (kind === "equal") return createMixture(means, new Float64Array(25).fill(1));
  if (options.rng === undefined) {
    throw new TweedieError("random mixture weights need an rng", {
      code: "missing",
      path: ["rng"],
      expected: "an Rng",
    });
  }
  const g = options.rng.normal64(25);
  return createMixture(
    means,
    Array.from(g, (v) => v * v),
  );
}

/** Draws a component index per sample from `weights` with one uniform each. */
function drawComponents(weights: Float64Array, count: number, rng: Rng): Int32Array {
  const uniforms = rng.uniform64(count);
  const out = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    let cumulative = 0;
    let k = 0;
    for (; k < weights.length - 1; k++) {
      cumulative += weights[k];
      if (uniforms[n] < cumulative) break;
    }
    out[n] = k;
  }
  return out;
}

/** `count` samples from the mixture, row-major count x dim. */
export function sampleMixture(mixture: GaussianMixture, count: number, rng: Rng): Float64Array {
  const d = mixture.dim;
  const labels = drawComponents(mixture.weights, count, rng.split("component"));
  const noise = rng.split("noise").normal64(count * d);
  const out = new Float64Array(count * d);
  for (let n = 0; n < count; n++) {
    const mean = labels[n] * d;
    for (let c = 0; c < d; c++) out[n * d + c] = mixture.means[mean + c] + noise[n * d + c];
  }
  return out;
}

/**
 * Responsibilities below this are skipped when means are accumulated: their share of any
 * output is below 1e-20 times the largest mean norm, far under float32 rounding.
 */
const NEGLIGIBLE_RESPONSIBILITY = 1e-20;

/**
 * Scratch state for the exact denoiser of one sample: the component responsibilities
 * r_k, the indices of the non-negligible ones, and m = sum_k r_k mu_k.
 */
interface Responsibilities {
  r: Float64Array;
  active: Int32Array;
  activeCount: number;
  meanOfMeans: Float64Array;
  /** ||mu_k||^2 per component. */
  squaredNorms: Float64Array;
}

/**
 * Responsibilities of x_t = alpha x0 + sigma eps under the mixture: the diffused component
 * k is N(alpha mu_k, (alpha^2 + sigma^2) I), so
 * r_k = softmax_k(log w_k - ||x_t - alpha mu_k||^2 / (2 (alpha^2 + sigma^2))).
 * The ||x_t||^2 term is the same for every k and cancels in the softmax, so the logits use
 * alpha x_t . mu_k - alpha^2 ||mu_k||^2 / 2 only.
 */
function responsibilities(
  mixture: GaussianMixture,
  xt: ArrayLike<number>,
  offset: number,
  alpha: number,
  sigma: number,
  scratch: Responsibilities,
): void {
  const d = mixture.dim;
  const means = mixture.means;
  const variance = alpha * alpha + sigma * sigma;
  const { r, active, meanOfMeans, squaredNorms } = scratch;
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < mixture.components; k++) {
    let dot = 0;
    const row = k * d;
    for (let c = 0; c < d; c++) dot += xt[offset + c] * means[row + c];
    r[k] = mixture.logWeights[k] + (alpha * dot - 0.5 * alpha * alpha * squaredNorms[k]) / variance;
    if (r[k] > max) max = r[k];
  }
  let total = 0;
  for (let k = 0; k < mixture.components; k++) {
    r[k] = Math.exp(r[k] - max);
    total += r[k];
  }
  meanOfMeans.fill(0);
  let count = 0;
  for (let k = 0; k < mixture.components; k++) {
    r[k] /= total;
    if (!(r[k] > NEGLIGIBLE_RESPONSIBILITY)) continue;
    active[count++] = k;
    const weight = r[k];
    const row = k * d;
    for (let c = 0; c < d; c++) meanOfMeans[c] += weight * means[row + c];
  }
  scratch.activeCount = count;
}

function scratchFor(mixture: GaussianMixture): Responsibilities {
  const d = mixture.dim;
  const squaredNorms = new Float64Array(mixture.components);
  for (let k = 0; k < mixture.components; k++) {
    for (let c = 0; c < d; c++) squaredNorms[k] += mixture.means[k * d + c] ** 2;
  }
  return {
    r: new Float64Array(mixture.components),
    active: new Int32Array(mixture.components),
    activeCount: 0,
    meanOfMeans: new Float64Array(d),
    squaredNorms,
  };
}

/**
 * The exact Tweedie pair of a batch x_t (row-major, count x dim), combined linearly, and
 * optionally its vector-Jacobian product, all in float64. With v = alpha^2 + sigma^2 and
 * m = sum_k r_k mu_k:
 *   x0Hat  = E[x0 | x_t]  = (alpha / v) x_t + (sigma^2 / v) m,
 *   epsHat = E[eps | x_t] = (sigma / v) (x_t - alpha m),
 * and the output is `x0Weight * x0Hat + epsWeight * epsHat` (x0: (1, 0), epsilon: (0, 1),
 * VP v: (-sigma, alpha), flow velocity: (alpha', sigma')). epsHat is computed without
 * dividing by sigma, so it is exact at sigma = 0 too. Since dm/dx_t = (alpha / v) C with
 * C = sum_k r_k (mu_k - m)(mu_k - m)^T, the Jacobian of the output is
 * P I + Q (alpha / v) C, with P = x0Weight alpha / v + epsWeight sigma / v and
 * Q = x0Weight sigma^2 / v - epsWeight sigma alpha / v. It is symmetric, so J^T g = J g.
 */
export function mixtureOutput(
  mixture: GaussianMixture,
  xt: ArrayLike<number>,
  noise: { alpha: number; sigma: number },
  combination: { x0Weight: number; epsWeight: number },
  g?: ArrayLike<number>,
): { output: Float64Array; vjp: Float64Array | undefined } {
  const { alpha, sigma } = noise;
  const { x0Weight, epsWeight } = combination;
  const d = mixture.dim;
  const count = xt.length / d;
  const variance = alpha * alpha + sigma * sigma;
  const p = (x0Weight * alpha + epsWeight * sigma) / variance;
  const q = (x0Weight * sigma * sigma - epsWeight * sigma * alpha) / variance;
  const qc = (q * alpha) / variance;
  const scratch = scratchFor(mixture);
  const output = new Float64Array(count * d);
  const vjp = g === undefined ? undefined : new Float64Array(count * d);
  for (let n = 0; n < count; n++) {
    const row = n * d;
    responsibilities(mixture, xt, row, alpha, sigma, scratch);
    const { r, active, activeCount, meanOfMeans } = scratch;
    for (let i = 0; i < d; i++) output[row + i] = p * xt[row + i] + q * meanOfMeans[i];
    if (vjp === undefined || g === undefined) continue;

    // J^T g = p g + q (alpha / v) sum_k r_k (mu_k - m) ((mu_k - m) . g)
    const means = mixture.means;
    for (let i = 0; i < d; i++) vjp[row + i] = p * g[row + i];
    for (let a = 0; a < activeCount; a++) {
      const k = active[a];
      let dot = 0;
      for (let i = 0; i < d; i++) dot += (means[k * d + i] - meanOfMeans[i]) * g[row + i];
      const weight = qc * r[k] * dot;
      for (let i = 0; i < d; i++) vjp[row + i] += weight * (means[k * d + i] - meanOfMeans[i]);
    }
  }
  return { output, vjp };
}

/** Exact denoiser E[x0 | x_t] for a batch (row-major, count x dim), in float64. */
export function mixtureDenoise(
  mixture: GaussianMixture,
  xt: ArrayLike<number>,
  alpha: number,
  sigma: number,
): Float64Array {
  return mixtureOutput(mixture, xt, { alpha, sigma }, { x0Weight: 1, epsWeight: 0 }).output;
}

/**
 * The exact posterior of the mixture prior under y = A x + sigmaY n:
 * p(x | y) = sum_k wTilde_k N(x; m_k, Sigma), with Sigma = (I + A^T A / sigmaY^2)^-1,
 * m_k = Sigma (A^T y / sigmaY^2 + mu_k) and
 * log wTilde_k = log w_k - 1/2 (y - A mu_k)^T (sigmaY^2 I + A A^T)^-1 (y - A mu_k) + const.
 * Every component shares Sigma because every prior component has covariance I.
 */
export interface MixturePosterior {
  readonly dim: number;
  /** components x dim, row-major. */
  readonly means: Float64Array;
  readonly weights: Float64Array;
  readonly covariance: Matrix;
  /** Lower Cholesky factor of the covariance. */
  readonly choleskyFactor: Matrix;
}

export function mixturePosterior(
  mixture: GaussianMixture,
  a: Matrix,
  y: ArrayLike<number>,
  sigmaY: number,
): MixturePosterior {
  if (!(sigmaY > 0) || !Number.isFinite(sigmaY)) {
    throw new TweedieError("the closed-form posterior needs a positive, finite sigmaY", {
      code: "out_of_range",
      path: ["sigmaY"],
      expected: "a finite value > 0",
      received: sigmaY,
    });
  }
  const d = mixture.dim;
  const dy = a.rows;
  const s2 = sigmaY * sigmaY;
  const at = transpose(a);

  const precision = matmul(at, a);
  for (let i = 0; i < d * d; i++) precision.data[i] /= s2;
  for (let i = 0; i < d; i++) precision.data[i * d + i] += 1;
  const covariance = inverseSpd(precision);
  const choleskyFactor = cholesky(covariance);

  const marginal = matmul(a, at);
  for (let i = 0; i < dy; i++) marginal.data[i * dy + i] += s2;
  const marginalFactor = cholesky(marginal);

  const aty = matvecTransposed(a, y);
  const means = new Float64Array(mixture.components * d);
  const logWeights = new Float64Array(mixture.components);
  const shifted = new Float64Array(d);
  for (let k = 0; k < mixture.components; k++) {
    const mu = mixture.means.subarray(k * d, (k + 1) * d);
    for (let i = 0; i < d; i++) shifted[i] = aty[i] / s2 + mu[i];
    means.set(matvec(covariance, shifted), k * d);
    const residual = matvec(a, mu).map((v, i) => y[i] - v);
    const solved = choleskySolve(marginalFactor, residual);
    let quad = 0;
    for (let i = 0; i < dy; i++) quad += residual[i] * solved[i];
    logWeights[k] = mixture.logWeights[k] - 0.5 * quad;
  }
  const norm = logSumExp(logWeights);
  const weights = Float64Array.from(logWeights, (v) => Math.exp(v - norm));
  return { dim: d, means, weights, covariance, choleskyFactor };
}

/** `count` exact posterior samples, row-major count x dim: k ~ wTilde, then m_k + L n. */
export function samplePosterior(
  posterior: MixturePosterior,
  count: number,
  rng: Rng,
): Float64Array {
  const d = posterior.dim;
  const labels = drawComponents(posterior.weights, count, rng.split("component"));
  const noise = rng.split("noise").normal64(count * d);
  const l = posterior.choleskyFactor.data;
  const out = new Float64Array(count * d);
  for (let n = 0; n < count; n++) {
    const mean = labels[n] * d;
    for (let i = 0; i < d; i++) {
      let value = posterior.means[mean + i];
      for (let j = 0; j <= i; j++) value += l[i * d + j] * noise[n * d + j];
      out[n * d + i] = value;
    }
  }
  return out;
}

/** Closed-form mean and covariance of the posterior mixture (for checks). */
export function posteriorMoments(posterior: MixturePosterior): {
  mean: Float64Array;
  covariance: Matrix;
} {
  const d = posterior.dim;
  const mean = new Float64Array(d);
  const k = posterior.weights.length;
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < d; i++) mean[i] += posterior.weights[c] * posterior.means[c * d + i];
  }
  const covariance = matrix(d, d, posterior.covariance.data);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < d; i++) {
      const di = posterior.means[c * d + i] - mean[i];
      for (let j = 0; j < d; j++) {
        covariance.data[i * d + j] +=
          posterior.weights[c] * di * (posterior.means[c * d + j] - mean[j]);
      }
    }
  }
  return { mean, covariance };
}
