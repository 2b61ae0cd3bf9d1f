import { TweedieError } from "../errors.js";
import type { Rng } from "../rng.js";
import type { GaussianMixture } from "./gmm.js";
import { choleskyLogDet, choleskyLower, solveLowerInPlace } from "./gmm-linalg.js";

/** Settings of a deterministic EM fit. */
export interface GmmFitOptions {
  /** Number of components K. */
  components: number;
  /** The stream every random choice comes from (k-means++ seeding only). */
  rng: Rng;
  /**
   * Added to every covariance diagonal after each M-step (the `reg_covar` convention of
   * scikit-learn), in squared data units. Keeps components with few points or constant
   * coordinates positive definite.
   */
  covarianceFloor: number;
  /** EM iterations at most; 100 unless given. */
  maxIterations?: number;
  /**
   * Stop once the mean log-likelihood per point changes by less than this between two
   * iterations; 1e-9 nats unless given.
   */
  tolerance?: number;
  /** Lloyd iterations after k-means++ seeding; 20 unless given. */
  kmeansIterations?: number;
}

/** A fitted mixture and how the fit ended. */
export interface GmmFit {
  mixture: GaussianMixture;
  /** Mean log-likelihood per training point under `mixture`, in nats. */
  logLikelihood: number;
  iterations: number;
  converged: boolean;
}

const LOG_2PI = Math.log(2 * Math.PI);

function checkFitInput(data: Float64Array, dim: number, options: GmmFitOptions): number {
  const count = data.length / dim;
  if (!Number.isInteger(dim) || dim < 1 || !Number.isInteger(count)) {
    throw new TweedieError("training data must hold whole points of the given dimension", {
      code: "shape_mismatch",
      path: ["data"],
      expected: `a multiple of dim = ${dim} values`,
      received: data.length,
    });
  }
  const k = options.components;
  if (!Number.isInteger(k) || k < 1 || k > count) {
    throw new TweedieError("component count must be an integer between 1 and the point count", {
      code: "out_of_range",
      path: ["components"],
      expected: `an integer in [1, ${count}]`,
      received: k,
    });
  }
  if (!(Number.isFinite(options.covarianceFloor) && options.covarianceFloor > 0)) {
    throw new TweedieError("covariance floor must be finite and positive", {
      code: "out_of_range",
      path: ["covarianceFloor"],
      expected: "a value > 0",
      received: options.covarianceFloor,
    });
  }
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new TweedieError("training data contain a non-finite value", {
      code: "non_finite",
      path: ["data", bad],
      expected: "finite values",
      received: data[bad],
    });
  }
  return count;
}

function squaredDistance(
  data: Float64Array,
  n: number,
  centers: Float64Array,
  k: number,
  dim: number,
) {
  let sum = 0;
  for (let i = 0; i < dim; i++) {
    const d = data[n * dim + i] - centers[k * dim + i];
    sum += d * d;
  }
  return sum;
}

/**
 * k-means++ seeding (Arthur and Vassilvitskii, 2007): the first center is a uniform
 * random point, each further one a point drawn with probability proportional to its
 * squared distance to the nearest center so far. Draw i uses `rng.uniformAt(i)`.
 */
export function kmeansPlusPlus(data: Float64Array, dim: number, k: number, rng: Rng): Float64Array {
  const count = data.length / dim;
  const centers = new Float64Array(k * dim);
  const nearest = new Float64Array(count).fill(Number.POSITIVE_INFINITY);
  let chosen = Math.min(count - 1, Math.floor(rng.uniformAt(0) * count));
  for (let c = 0; c < k; c++) {
    centers.set(data.subarray(chosen * dim, (chosen + 1) * dim), c * dim);
    if (c === k - 1) break;
    let total = 0;
    for (let n = 0; n < count; n++) {
      nearest[n] = Math.min(nearest[n], squaredDistance(data, n, centers, c, dim));
      total += nearest[n];
    }
    // With every point on a center already, fall back to the next point in order.
    if (total === 0) {
      chosen = (chosen + 1) % count;
      continue;
    }
    const target = rng.uniformAt(c + 1) * total;
    let cumulative = 0;
    chosen = count - 1;
    for (let n = 0; n < count; n++) {
      cumulative += nearest[n];
      if (cumulative > target && nearest[n] > 0) {
        chosen = n;
        break;
      }
    }
  }
  return centers;
}

/** Lloyd iterations from the given centers; returns each point's cluster. */
function lloyd(
  data: Float64Array,
  dim: number,
  centers: Float64Array,
  iterations: number,
): Int32Array {
  const count = data.length / dim;
  const k = centers.length / dim;
  const labels = new Int32Array(count).fill(-1);
  for (let iteration = 0; iteration < iterations; iteration++) {
    let changed = 0;
    for (let n = 0; n < count; n++) {
      let best = 0;
      let bestDistance = Number.POSITIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        const distance = squaredDistance(data, n, centers, c, dim);
        if (distance < bestDistance) {
          bestDistance = distance;
          best = c;
        }
      }
      if (labels[n] !== best) changed++;
      labels[n] = best;
    }
    if (changed === 0) break;
    const sums = new Float64Array(k * dim);
    const sizes = new Float64Array(k);
    for (let n = 0; n < count; n++) {
      sizes[labels[n]] += 1;
      for (let i = 0; i < dim; i++) sums[labels[n] * dim + i] += data[n * dim + i];
    }
    // An empty cluster keeps its previous center.
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0) continue;
      for (let i = 0; i < dim; i++) centers[c * dim + i] = sums[c * dim + i] / sizes[c];
    }
  }
  return labels;
}

/**
 * M-step: weights, means and covariances from responsibilities (count x K), plus the
 * diagonal floor. A component with no responsibility gets a tiny weight, so that the
 * division stays finite, and covariance floor * I.
 */
function maximize(
  data: Float64Array,
  dim: number,
  resp: Float64Array,
  k: number,
  floor: number,
): GaussianMixture {
  const count = data.length / dim;
  const weights = new Float64Array(k);
  const means = new Float64Array(k * dim);
  const covariances = new Float64Array(k * dim * dim);
  const centered = new Float64Array(dim);
  for (let c = 0; c < k; c++) {
    let total = 10 * Number.EPSILON;
    const mean = means.subarray(c * dim, (c + 1) * dim);
    for (let n = 0; n < count; n++) {
      const r = resp[n * k + c];
      if (r === 0) continue;
      total += r;
      for (let i = 0; i < dim; i++) mean[i] += r * data[n * dim + i];
    }
    for (let i = 0; i < dim; i++) mean[i] /= total;
    weights[c] = total;
    const cov = covariances.subarray(c * dim * dim, (c + 1) * dim * dim);
    for (let n = 0; n < count; n++) {
      const r = resp[n * k + c];
      if (r === 0) continue;
      for (let i = 0; i < dim; i++) centered[i] = data[n * dim + i] - mean[i];
      for (let i = 0; i < dim; i++) {
        const ri = r * centered[i];
        const row = i * dim;
        for (let j = i; j < dim; j++) cov[row + j] += ri * centered[j];
      }
    }
    for (let i = 0; i < dim; i++) {
      for (let j = i; j < dim; j++) {
        const value = cov[i * dim + j] / total;
        cov[i * dim + j] = value;
        cov[j * dim + i] = value;
      }
      cov[i * dim + i] += floor;
    }
  }
  let sum = 0;
  for (const w of weights) sum += w;
  for (let c = 0; c < k; c++) weights[c] /= sum;
  return { dim, weights, means, covariances };
}

/**
 * E-step: responsibilities (count x K) written into `resp`; returns the mean
 * log-likelihood per point. Densities use each covariance's Cholesky factor.
 */
function expect(data: Float64Array, mixture: GaussianMixture, resp: Float64Array): number {
  const { dim, weights, means, covariances } = mixture;
  const k = weights.length;
  const count = data.length / dim;
  const diff = new Float64Array(dim);
  for (let c = 0; c < k; c++) {
    const l = choleskyLower(
      covariances.subarray(c * dim * dim, (c + 1) * dim * dim),
      dim,
      "covariance",
    );
    const constant = Math.log(weights[c]) - 0.5 * (choleskyLogDet(l, dim) + dim * LOG_2PI);
    for (let n = 0; n < count; n++) {
      for (let i = 0; i < dim; i++) diff[i] = data[n * dim + i] - means[c * dim + i];
      solveLowerInPlace(l, dim, diff);
      let quadratic = 0;
      for (let i = 0; i < dim; i++) quadratic += diff[i] * diff[i];
      resp[n * k + c] = constant - 0.5 * quadratic;
    }
  }
  let total = 0;
  for (let n = 0; n < count; n++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) max = Math.max(max, resp[n * k + c]);
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const p = Math.exp(resp[n * k + c] - max);
      resp[n * k + c] = p;
      sum += p;
    }
    for (let c = 0; c < k; c++) resp[n * k + c] /= sum;
    total += max + Math.log(sum);
  }
  return total / count;
}

/**
 * Fits a full-covariance Gaussian mixture by EM. Initialisation: k-means++ seeding from
 * `options.rng`, Lloyd iterations, then one M-step on the hard assignments. The fit is a
 * pure function of (data, options): the same inputs give the same bits on one JavaScript
 * engine.
 */
export function fitGaussianMixture(
  data: Float64Array,
  dim: number,
  options: GmmFitOptions,
): GmmFit {
  const count = checkFitInput(data, dim, options);
  const k = options.components;
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-9;
  const floor = options.covarianceFloor;

  const centers = kmeansPlusPlus(data, dim, k, options.rng);
  const labels = lloyd(data, dim, centers, options.kmeansIterations ?? 20);
  const resp = new Float64Array(count * k);
  for (let n = 0; n < count; n++) resp[n * k + labels[n]] = 1;
  let mixture = maximize(data, dim, resp, k, floor);

  let previous = Number.NEGATIVE_INFINITY;
  let logLikelihood = expect(data, mixture, resp);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    if (Math.abs(logLikelihood - previous) < tolerance) {
      converged = true;
      break;
    }
    mixture = maximize(data, dim, resp, k, floor);
    previous = logLikelihood;
    logLikelihood = expect(data, mixture, resp);
    iterations++;
  }
  if (!converged && Math.abs(logLikelihood - previous) < tolerance) converged = true;
  return { mixture, logLikelihood, iterations, converged };
}
