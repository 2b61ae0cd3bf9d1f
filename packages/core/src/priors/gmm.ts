import { TweedieError } from "../errors.js";
import type { Rng } from "../rng.js";
import {
  choleskyInverse,
  choleskyLogDet,
  choleskyLower,
  matmul,
  matvec,
  matvecTransposed,
  solveLowerInPlace,
  symmetricEigen,
  symmetrizeInPlace,
} from "./gmm-linalg.js";

/**
 * Exact float64 math of full-covariance Gaussian mixtures: densities, the MMSE denoiser
 * E[x0 | x_t] for x_t = alpha x0 + sigma eps with its Jacobian-vector product, the
 * posterior under a linear measurement y = A x0 + sigmaY n, sampling and Bayes
 * classification. Points are rows of a row-major Float64Array (count x dim).
 */

/** A Gaussian mixture sum_k pi_k N(mu_k, Sigma_k) over R^dim. */
export interface GaussianMixture {
  readonly dim: number;
  /** Mixing weights pi_k: K non-negative values that sum to 1. */
  readonly weights: Float64Array;
  /** Means mu_k: K x dim, row-major. */
  readonly means: Float64Array;
  /** Covariances Sigma_k: K x dim x dim, row-major, symmetric positive definite. */
  readonly covariances: Float64Array;
}

/** A mixture with every covariance diagonalised: Sigma_k = U_k diag(l_k) U_k^T. */
export interface EigenMixture {
  readonly mixture: GaussianMixture;
  readonly dim: number;
  readonly components: number;
  /** log pi_k; -Infinity for a zero weight. */
  readonly logWeights: Float64Array;
  /** l_k: K x dim eigenvalues, ascending within each component, all positive. */
  readonly eigenvalues: Float64Array;
  /** U_k: K x dim x dim, row-major; column j of U_k is the eigenvector of l_k[j]. */
  readonly eigenvectors: Float64Array;
}

const LOG_2PI = Math.log(2 * Math.PI);

/** Number of components K. */
export function mixtureComponents(mixture: GaussianMixture): number {
  return mixture.weights.length;
}

/** Checks sizes, finiteness and the weights of a mixture; throws a TweedieError naming the field. */
export function checkMixture(
  mixture: GaussianMixture,
  path: readonly (string | number)[] = [],
): void {
  const { dim, weights, means, covariances } = mixture;
  const k = weights.length;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new TweedieError("mixture dimension must be a positive integer", {
      code: "invalid_value",
      path: [...path, "dim"],
      expected: "an integer >= 1",
      received: dim,
    });
  }
  const sizes: [string, Float64Array, number][] = [
    ["weights", weights, k],
    ["means", means, k * dim],
    ["covariances", covariances, k * dim * dim],
  ];
  for (const [name, values, size] of sizes) {
    if (k < 1 || values.length !== size) {
      throw new TweedieError(`mixture ${name} have the wrong length`, {
        code: "shape_mismatch",
        path: [...path, name],
        expected: `${size} values for K = ${k} components of dimension ${dim} (K >= 1)`,
        received: values.length,
      });
    }
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new TweedieError(`mixture ${name} contain a non-finite value`, {
        code: "non_finite",
        path: [...path, name, bad],
        expected: "finite values",
        received: values[bad],
      });
    }
  }
  let total = 0;
  for (const w of weights) total += w;
  if (weights.some((w) => w < 0) || Math.abs(total - 1) > 1e-9) {
    throw new TweedieError("mixture weights must be non-negative and sum to 1", {
      code: "invalid_value",
      path: [...path, "weights"],
      expected: "non-negative weights summing to 1 within 1e-9",
      received: Array.from(weights),
    });
  }
}

/**
 * Diagonalises every covariance (cyclic Jacobi). Throws when an eigenvalue is not
 * positive, because the density and the denoiser need Sigma_k to be positive definite.
 */
export function eigenMixture(mixture: GaussianMixture): EigenMixture {
  checkMixture(mixture);
  const { dim, weights, covariances } = mixture;
  const components = weights.length;
  const eigenvalues = new Float64Array(components * dim);
  const eigenvectors = new Float64Array(components * dim * dim);
  for (let k = 0; k < components; k++) {
    const block = covariances.subarray(k * dim * dim, (k + 1) * dim * dim);
    const { values, vectors } = symmetricEigen(block, dim);
    if (!(values[0] > 0)) {
      throw new TweedieError("mixture covariance is not positive definite", {
        code: "invalid_value",
        path: ["covariances", k],
        expected: "all eigenvalues > 0",
        received: values[0],
      });
    }
    eigenvalues.set(values, k * dim);
    eigenvectors.set(vectors, k * dim * dim);
  }
  const logWeights = Float64Array.from(weights, (w) => Math.log(w));
  return { mixture, dim, components, logWeights, eigenvalues, eigenvectors };
}

/** Merges mixtures into one: component weights scaled by `weights[i]` (normalised to sum 1). */
export function combineMixtures(
  mixtures: readonly GaussianMixture[],
  weights: ArrayLike<number>,
): GaussianMixture {
  if (mixtures.length === 0 || mixtures.length !== weights.length) {
    throw new TweedieError("combineMixtures needs one weight per mixture", {
      code: "shape_mismatch",
      path: ["weights"],
      expected: `${mixtures.length} weights (at least one mixture)`,
      received: weights.length,
    });
  }
  const dim = mixtures[0].dim;
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  const outWeights: number[] = [];
  const means: Float64Array[] = [];
  const covariances: Float64Array[] = [];
  mixtures.forEach((mixture, i) => {
    if (mixture.dim !== dim) {
      throw new TweedieError("combined mixtures must share one dimension", {
        code: "shape_mismatch",
        path: ["mixtures", i, "dim"],
        expected: dim,
        received: mixture.dim,
      });
    }
    for (const w of mixture.weights) outWeights.push((w * weights[i]) / total);
    means.push(mixture.means);
    covariances.push(mixture.covariances);
  });
  return {
    dim,
    weights: Float64Array.from(outWeights),
    means: concat(means),
    covariances: concat(covariances),
  };
}

function concat(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Computes the mean and covariance of the whole mixture (law of total variance). */
export function mixtureMoments(mixture: GaussianMixture): {
  mean: Float64Array;
  covariance: Float64Array;
} {
  const { dim, weights, means, covariances } = mixture;
  const mean = new Float64Array(dim);
  const covariance = new Float64Array(dim * dim);
  for (let k = 0; k < weights.length; k++) {
    const w = weights[k];
    const mu = means.subarray(k * dim, (k + 1) * dim);
    for (let i = 0; i < dim; i++) {
      mean[i] += w * mu[i];
      for (let j = 0; j < dim; j++) {
        covariance[i * dim + j] += w * (covariances[k * dim * dim + i * dim + j] + mu[i] * mu[j]);
      }
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < dim; j++) covariance[i * dim + j] -= mean[i] * mean[j];
  }
  return { mean, covariance };
}

// ---------------------------------------------------------------------------------------
// Noisy marginals and the MMSE denoiser
// ---------------------------------------------------------------------------------------

/** A per-point noise level: one number for every point, or one per point. */
export type PerPoint = number | ArrayLike<number>;

function levelAt(level: PerPoint, index: number): number {
  return typeof level === "number" ? level : level[index];
}

function checkPoints(e: EigenMixture, points: Float64Array, name: string): number {
  const count = points.length / e.dim;
  if (!Number.isInteger(count)) {
    throw new TweedieError(`${name} must hold whole points of dimension ${e.dim}`, {
      code: "shape_mismatch",
      path: [name],
      expected: `a multiple of ${e.dim} values`,
      received: points.length,
    });
  }
  return count;
}

function checkLevels(alpha: PerPoint, sigma: PerPoint, count: number, sigmaMayBeZero: boolean) {
  for (const [name, level] of [
    ["alpha", alpha],
    ["sigma", sigma],
  ] as const) {
    if (typeof level !== "number" && level.length !== count) {
      throw new TweedieError(`${name} must be one number or one per point`, {
        code: "shape_mismatch",
        path: [name],
        expected: `1 or ${count} values`,
        received: level.length,
      });
    }
  }
  for (let i = 0; i < count; i++) {
    const a = levelAt(alpha, i);
    const s = levelAt(sigma, i);
    if (!(Number.isFinite(a) && a >= 0)) {
      throw new TweedieError("alpha must be finite and non-negative", {
        code: "out_of_range",
        path: ["alpha", i],
        expected: "alpha >= 0",
        received: a,
      });
    }
    if (!(Number.isFinite(s) && (s > 0 || (sigmaMayBeZero && s === 0)))) {
      throw new TweedieError("sigma must be finite and positive", {
        code: "out_of_range",
        path: ["sigma", i],
        expected: sigmaMayBeZero ? "sigma >= 0" : "sigma > 0",
        received: s,
      });
    }
  }
}

/**
 * Per-component quantities of one point x_t, written into `out`:
 * logits[k] = log pi_k + log N(x_t; alpha mu_k, alpha^2 Sigma_k + sigma^2 I),
 * gains[k, j] = alpha l_kj / (alpha^2 l_kj + sigma^2), and
 * means[k] = E_k = mu_k + U_k diag(gains_k) U_k^T (x_t - alpha mu_k).
 */
interface ComponentScratch {
  logits: Float64Array;
  gains: Float64Array;
  means: Float64Array;
  diff: Float64Array;
  coords: Float64Array;
}

function componentScratch(e: EigenMixture): ComponentScratch {
  return {
    logits: new Float64Array(e.components),
    gains: new Float64Array(e.components * e.dim),
    means: new Float64Array(e.components * e.dim),
    diff: new Float64Array(e.dim),
    coords: new Float64Array(e.dim),
  };
}

function componentPosteriors(
  e: EigenMixture,
  xt: Float64Array,
  alpha: number,
  sigma: number,
  out: ComponentScratch,
  withMeans: boolean,
): void {
  const { dim, components, eigenvalues, eigenvectors, logWeights } = e;
  const means = e.mixture.means;
  const sigma2 = sigma * sigma;
  const alpha2 = alpha * alpha;
  const { diff, coords } = out;
  for (let k = 0; k < components; k++) {
    const muOffset = k * dim;
    const uOffset = k * dim * dim;
    for (let i = 0; i < dim; i++) diff[i] = xt[i] - alpha * means[muOffset + i];
    // r = U_k^T (x_t - alpha mu_k), one row of U_k at a time.
    coords.fill(0);
    for (let i = 0; i < dim; i++) {
      const di = diff[i];
      const row = uOffset + i * dim;
      for (let j = 0; j < dim; j++) coords[j] += eigenvectors[row + j] * di;
    }
    let quadratic = 0;
    let logDet = 0;
    for (let j = 0; j < dim; j++) {
      const l = eigenvalues[muOffset + j];
      const s = alpha2 * l + sigma2;
      quadratic += (coords[j] * coords[j]) / s;
      logDet += Math.log(s);
      out.gains[muOffset + j] = (alpha * l) / s;
    }
    out.logits[k] = logWeights[k] - 0.5 * (quadratic + logDet + dim * LOG_2PI);
    if (!withMeans) continue;
    for (let j = 0; j < dim; j++) coords[j] *= out.gains[muOffset + j];
    for (let i = 0; i < dim; i++) {
      const row = uOffset + i * dim;
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += eigenvectors[row + j] * coords[j];
      out.means[muOffset + i] = means[muOffset + i] + sum;
    }
  }
}

/** Replaces logits by softmax probabilities; returns log sum exp of the logits. */
function softmaxInPlace(logits: Float64Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (let k = 0; k < logits.length; k++) {
    logits[k] = Math.exp(logits[k] - max);
    sum += logits[k];
  }
  for (let k = 0; k < logits.length; k++) logits[k] /= sum;
  return max + Math.log(sum);
}

/**
 * log p_t(x_t) for x_t = alpha x0 + sigma eps with x0 from the mixture, per point. With
 * alpha = 1 and sigma = 0 it is the mixture's own log-density.
 */
export function mixtureLogDensity(
  e: EigenMixture,
  xt: Float64Array,
  alpha: PerPoint = 1,
  sigma: PerPoint = 0,
): Float64Array {
  const count = checkPoints(e, xt, "xt");
  checkLevels(alpha, sigma, count, true);
  const scratch = componentScratch(e);
  const out = new Float64Array(count);
  for (let n = 0; n < count; n++) {
    const point = xt.subarray(n * e.dim, (n + 1) * e.dim);
    componentPosteriors(e, point, levelAt(alpha, n), levelAt(sigma, n), scratch, false);
    out[n] = softmaxInPlace(scratch.logits);
  }
  return out;
}

/** The exact MMSE denoiser's output and the posterior component probabilities. */
export interface MixtureDenoised {
  /** E[x0 | x_t], count x dim. */
  x0Hat: Float64Array;
  /** p(component k | x_t), count x K. */
  weights: Float64Array;
}

/**
 * Computes the exact MMSE denoiser E[x0 | x_t] for x_t = alpha x0 + sigma eps:
 * w_k proportional to pi_k N(x_t; alpha mu_k, alpha^2 Sigma_k + sigma^2 I) (log-sum-exp),
 * E_k = mu_k + alpha Sigma_k (alpha^2 Sigma_k + sigma^2 I)^-1 (x_t - alpha mu_k), computed
 * in each component's eigenbasis, and x0Hat = sum_k w_k E_k. Requires sigma > 0.
 */
export function mixtureDenoise(
  e: EigenMixture,
  xt: Float64Array,
  alpha: PerPoint,
  sigma: PerPoint,
): MixtureDenoised {
  return denoiseWithJvp(e, xt, alpha, sigma, undefined);
}

/** The denoiser's output and J v for the Jacobian J = d x0Hat / d x_t. */
export interface MixtureJvp extends MixtureDenoised {
  /** J v, count x dim. J is symmetric, so this is also the VJP J^T v. */
  jvp: Float64Array;
}

/**
 * Computes the denoiser and its exact Jacobian-vector product.
 * J = (alpha / sigma^2) Cov[x0 | x_t] with Cov = sum_k w_k (C_k + (E_k - x0Hat)(E_k - x0Hat)^T) and
 * C_k = Sigma_k - alpha^2 Sigma_k (alpha^2 Sigma_k + sigma^2 I)^-1 Sigma_k, so
 * J v = sum_k w_k U_k diag(alpha l / (alpha^2 l + sigma^2)) U_k^T v
 *     + (alpha / sigma^2) sum_k w_k (E_k - x0Hat) ((E_k - x0Hat) . v).
 */
export function mixtureDenoiseJvp(
  e: EigenMixture,
  xt: Float64Array,
  alpha: PerPoint,
  sigma: PerPoint,
  v: Float64Array,
): MixtureJvp {
  if (v.length !== xt.length) {
    throw new TweedieError("the JVP direction must have the shape of x_t", {
      code: "shape_mismatch",
      path: ["v"],
      expected: xt.length,
      received: v.length,
    });
  }
  return denoiseWithJvp(e, xt, alpha, sigma, v) as MixtureJvp;
}

function denoiseWithJvp(
  e: EigenMixture,
  xt: Float64Array,
  alpha: PerPoint,
  sigma: PerPoint,
  v: Float64Array | undefined,
): MixtureDenoised | MixtureJvp {
  const count = checkPoints(e, xt, "xt");
  checkLevels(alpha, sigma, count, false);
  const { dim, components, eigenvectors } = e;
  const x0Hat = new Float64Array(count * dim);
  const weights = new Float64Array(count * components);
  const jvp = v === undefined ? undefined : new Float64Array(count * dim);
  const scratch = componentScratch(e);
  const projected = new Float64Array(dim);
  for (let n = 0; n < count; n++) {
    const a = levelAt(alpha, n);
    const s = levelAt(sigma, n);
    const point = xt.subarray(n * dim, (n + 1) * dim);
    componentPosteriors(e, point, a, s, scratch, true);
    softmaxInPlace(scratch.logits);
    weights.set(scratch.logits, n * components);
    const mean = x0Hat.subarray(n * dim, (n + 1) * dim);
    for (let k = 0; k < components; k++) {
      const w = scratch.logits[k];
      for (let i = 0; i < dim; i++) mean[i] += w * scratch.means[k * dim + i];
    }
    if (v === undefined || jvp === undefined) continue;

    const direction = v.subarray(n * dim, (n + 1) * dim);
    const out = jvp.subarray(n * dim, (n + 1) * dim);
    const spread = a / (s * s);
    for (let k = 0; k < components; k++) {
      const w = scratch.logits[k];
      if (w === 0) continue;
      const uOffset = k * dim * dim;
      // w_k U_k diag(gains_k) U_k^T v
      projected.fill(0);
      for (let i = 0; i < dim; i++) {
        const vi = direction[i];
        const row = uOffset + i * dim;
        for (let j = 0; j < dim; j++) projected[j] += eigenvectors[row + j] * vi;
      }
      for (let j = 0; j < dim; j++) projected[j] *= w * scratch.gains[k * dim + j];
      for (let i = 0; i < dim; i++) {
        const row = uOffset + i * dim;
        let sum = 0;
        for (let j = 0; j < dim; j++) sum += eigenvectors[row + j] * projected[j];
        out[i] += sum;
      }
      // (alpha / sigma^2) w_k D_k (D_k . v) with D_k = E_k - x0Hat
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += (scratch.means[k * dim + i] - mean[i]) * direction[i];
      const scale = spread * w * dot;
      for (let i = 0; i < dim; i++) out[i] += scale * (scratch.means[k * dim + i] - mean[i]);
    }
  }
  return jvp === undefined ? { x0Hat, weights } : { x0Hat, weights, jvp };
}

// ---------------------------------------------------------------------------------------
// Linear measurements, sampling, classification
// ---------------------------------------------------------------------------------------

/**
 * Computes the exact posterior of x0 given y = A x0 + sigmaY n, n ~ N(0, I), for a dense A
 * (rows x dim, row-major). It is again a Gaussian mixture with, per component,
 * Sigma_post = (Sigma_k^-1 + A^T A / sigmaY^2)^-1, computed as L (I + B^T B)^-1 L^T with
 * Sigma_k = L L^T and B = A L / sigmaY so that no ill-conditioned inverse of Sigma_k is
 * formed; m_k = mu_k + Sigma_post A^T (y - A mu_k) / sigmaY^2 (equal to
 * Sigma_post (Sigma_k^-1 mu_k + A^T y / sigmaY^2)); and weight proportional to
 * pi_k N(y; A mu_k, A Sigma_k A^T + sigmaY^2 I).
 */
export function linearPosterior(
  prior: GaussianMixture,
  a: Float64Array,
  rows: number,
  y: ArrayLike<number>,
  sigmaY: number,
): GaussianMixture {
  checkMixture(prior, ["prior"]);
  const { dim } = prior;
  if (!Number.isInteger(rows) || rows < 1 || a.length !== rows * dim || y.length !== rows) {
    throw new TweedieError("A must be rows x dim and y must have one value per row of A", {
      code: "shape_mismatch",
      path: ["A"],
      expected: `A with ${rows} x ${dim} values and y with ${rows}`,
      received: `A with ${a.length} values, y with ${y.length}`,
    });
  }
  if (!(Number.isFinite(sigmaY) && sigmaY > 0)) {
    throw new TweedieError("sigmaY must be finite and positive", {
      code: "out_of_range",
      path: ["sigmaY"],
      expected: "sigmaY > 0",
      received: sigmaY,
    });
  }
  const components = prior.weights.length;
  const logits = new Float64Array(components);
  const means = new Float64Array(components * dim);
  const covariances = new Float64Array(components * dim * dim);
  for (let k = 0; k < components; k++) {
    const mu = prior.means.subarray(k * dim, (k + 1) * dim);
    const sigmaK = prior.covariances.subarray(k * dim * dim, (k + 1) * dim * dim);
    const post = componentLinearPosterior(mu, sigmaK, dim, a, rows, y, sigmaY);
    logits[k] = Math.log(prior.weights[k]) + post.logEvidence;
    means.set(post.mean, k * dim);
    covariances.set(post.covariance, k * dim * dim);
  }
  softmaxInPlace(logits);
  return { dim, weights: logits, means, covariances };
}

function componentLinearPosterior(
  mu: Float64Array,
  sigmaK: Float64Array,
  dim: number,
  a: Float64Array,
  rows: number,
  y: ArrayLike<number>,
  sigmaY: number,
): { mean: Float64Array; covariance: Float64Array; logEvidence: number } {
  const l = choleskyLower(sigmaK, dim, "covariance");
  // Sigma_post = L (I + B^T B)^-1 L^T with B = A L / sigmaY.
  const b = matmul(a, l, rows, dim, dim);
  for (let i = 0; i < b.length; i++) b[i] /= sigmaY;
  const inner = new Float64Array(dim * dim);
  for (let r = 0; r < rows; r++) {
    const row = r * dim;
    for (let i = 0; i < dim; i++) {
      const bi = b[row + i];
      if (bi === 0) continue;
      for (let j = 0; j < dim; j++) inner[i * dim + j] += bi * b[row + j];
    }
  }
  for (let i = 0; i < dim; i++) inner[i * dim + i] += 1;
  const innerInverse = choleskyInverse(choleskyLower(inner, dim, "I + B^T B"), dim);
  const left = matmul(l, innerInverse, dim, dim, dim);
  const lT = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) lT[j * dim + i] = l[i * dim + j];
  const covariance = matmul(left, lT, dim, dim, dim);
  symmetrizeInPlace(covariance, dim);

  // Residual y - A mu, the posterior mean, and the evidence N(y; A mu, A Sigma A^T + sY^2 I).
  const aMu = matvec(a, mu, rows, dim);
  const residual = Float64Array.from(aMu, (v, i) => y[i] - v);
  const back = matvecTransposed(a, residual, rows, dim);
  const shift = matvec(covariance, back, dim, dim);
  const mean = Float64Array.from(mu, (v, i) => v + shift[i] / (sigmaY * sigmaY));

  const aSigma = matmul(a, sigmaK, rows, dim, dim);
  const evidenceCov = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let p = 0; p < dim; p++) sum += aSigma[i * dim + p] * a[j * dim + p];
      evidenceCov[i * rows + j] = sum;
      evidenceCov[j * rows + i] = sum;
    }
    evidenceCov[i * rows + i] += sigmaY * sigmaY;
  }
  const evidenceL = choleskyLower(evidenceCov, rows, "A Sigma A^T + sigmaY^2 I");
  const whitened = Float64Array.from(residual);
  solveLowerInPlace(evidenceL, rows, whitened);
  let quadratic = 0;
  for (const v of whitened) quadratic += v * v;
  const logEvidence = -0.5 * (quadratic + choleskyLogDet(evidenceL, rows) + rows * LOG_2PI);
  return { mean, covariance, logEvidence };
}

/** Samples with the component each came from. */
export interface MixtureSamples {
  /** count x dim. */
  samples: Float64Array;
  components: Int32Array;
}

/**
 * Draws `count` samples: component k with probability pi_k (uniforms from
 * `rng.split("component")`), then mu_k + L_k z with Sigma_k = L_k L_k^T and z standard
 * normal (from `rng.split("normal")`, dim values per sample in order).
 */
export function sampleMixture(mixture: GaussianMixture, count: number, rng: Rng): MixtureSamples {
  checkMixture(mixture);
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new TweedieError("sample count must be a non-negative integer", {
      code: "invalid_value",
      path: ["count"],
      expected: "an integer >= 0",
      received: count,
    });
  }
  const { dim, weights, means, covariances } = mixture;
  const uniforms = rng.split("component").uniform64(count);
  const normals = rng.split("normal").normal64(count * dim);
  const factors = new Map<number, Float64Array>();
  const samples = new Float64Array(count * dim);
  const components = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    let k = 0;
    let cumulative = weights[0];
    while (k < weights.length - 1 && uniforms[n] >= cumulative) {
      k++;
      cumulative += weights[k];
    }
    components[n] = k;
    let l = factors.get(k);
    if (l === undefined) {
      l = choleskyLower(
        covariances.subarray(k * dim * dim, (k + 1) * dim * dim),
        dim,
        "covariance",
      );
      factors.set(k, l);
    }
    const z = normals.subarray(n * dim, (n + 1) * dim);
    for (let i = 0; i < dim; i++) {
      let sum = means[k * dim + i];
      for (let j = 0; j <= i; j++) sum += l[i * dim + j] * z[j];
      samples[n * dim + i] = sum;
    }
  }
  return { samples, components };
}

/**
 * Computes the Bayes classifier of class-conditional mixtures: p(c | x0) proportional to
 * classWeights[c] p(x0 | c), per point (count x C, rows sum to 1).
 */
export function classProbabilities(
  classes: readonly EigenMixture[],
  classWeights: ArrayLike<number>,
  x0: Float64Array,
): Float64Array {
  if (classes.length === 0 || classes.length !== classWeights.length) {
    throw new TweedieError("classProbabilities needs one weight per class", {
      code: "shape_mismatch",
      path: ["classWeights"],
      expected: `${classes.length} weights (at least one class)`,
      received: classWeights.length,
    });
  }
  const count = checkPoints(classes[0], x0, "x0");
  const c = classes.length;
  const out = new Float64Array(count * c);
  classes.forEach((mixture, index) => {
    const logDensity = mixtureLogDensity(mixture, x0);
    const logPrior = Math.log(classWeights[index]);
    for (let n = 0; n < count; n++) out[n * c + index] = logPrior + logDensity[n];
  });
  for (let n = 0; n < count; n++) softmaxInPlace(out.subarray(n * c, (n + 1) * c));
  return out;
}
