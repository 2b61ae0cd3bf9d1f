import { TweedieError } from "@tweedie/core";
import { SplitMix64 } from "../metrics/splitmix.js";
import { matmul, matmulTransposed, symmetricEigen } from "./linalg.js";

/**
 * Distances between two sets of image features (Inception pool3 for the standard FID and
 * KID), in float64 throughout.
 */

/** `count` feature vectors of `dim` values, row-major: vector i is data[i * dim .. (i + 1) * dim). */
export interface FeatureSet {
  readonly data: Float64Array;
  readonly count: number;
  readonly dim: number;
}

/** Mean and sample covariance (denominator N - 1, numpy's `np.cov` default) of a feature set. */
export interface GaussianStatistics {
  readonly mean: Float64Array;
  /** dim x dim, row-major. */
  readonly covariance: Float64Array;
  readonly count: number;
  readonly dim: number;
}

/** Computes the mean and sample covariance of a feature set in float64. */
export function featureStatistics(set: FeatureSet): GaussianStatistics {
  checkFeatureSet(set, "features");
  const { data, count, dim } = set;
  if (count < 2) {
    throw new TweedieError("a sample covariance needs at least 2 feature vectors", {
      code: "invalid_value",
      path: ["features", "count"],
      expected: "at least 2",
      received: count,
    });
  }

  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) mean[d] += data[i * dim + d];
  }
  for (let d = 0; d < dim; d++) mean[d] /= count;
  const centred = new Float64Array(count * dim);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) centred[i * dim + d] = data[i * dim + d] - mean[d];
  }

  // Covariance = X^T X / (N - 1), accumulated row by row over the centred vectors.
  const covariance = new Float64Array(dim * dim);
  for (let i = 0; i < count; i++) {
    const row = centred.subarray(i * dim, (i + 1) * dim);
    for (let a = 0; a < dim; a++) {
      const value = row[a];
      if (value === 0) continue;
      const out = a * dim;
      for (let b = a; b < dim; b++) covariance[out + b] += value * row[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const value = covariance[a * dim + b] / (count - 1);
      covariance[a * dim + b] = value;
      covariance[b * dim + a] = value;
    }
  }
  return { mean, covariance, count, dim };
}

export interface FrechetDistance {
  /** ||m1 - m2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)). */
  readonly value: number;
  readonly meanTerm: number;
  /** Tr((S1 S2)^(1/2)), the sum of square roots of the eigenvalues of sqrt(S1) S2 sqrt(S1). */
  readonly traceSqrtProduct: number;
  /**
   * Eigenvalues below zero, from rounding, that were set to 0: of S1 and of
   * sqrt(S1) S2 sqrt(S1). Both matrices are positive semi-definite in exact arithmetic.
   */
  readonly clampedEigenvalues: number;
  /** Minimum of the clamped eigenvalues (0 when none), a measure of the rounding. */
  readonly minClampedEigenvalue: number;
}

/**
 * Frechet distance between the Gaussians N(m1, S1) and N(m2, S2):
 * ||m1 - m2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)).
 * S1 S2 is not symmetric, and a general matrix square root (scipy `sqrtm`) can return
 * complex values for singular or badly conditioned covariances. Here the trace term uses
 * that S1 S2 is similar to the symmetric positive semi-definite M = sqrt(S1) S2 sqrt(S1),
 * so Tr((S1 S2)^(1/2)) = sum_i sqrt(lambda_i(M)). sqrt(S1) = U diag(sqrt(d)) U^T comes
 * from the eigendecomposition S1 = U diag(d) U^T, and M's eigenvalues are taken from the
 * orthogonally similar diag(sqrt(d)) (U^T S2 U) diag(sqrt(d)). Negative eigenvalues from
 * rounding are clamped to 0 and counted.
 */
export function frechetDistance(a: GaussianStatistics, b: GaussianStatistics): FrechetDistance {
  if (a.dim !== b.dim) {
    throw new TweedieError("feature sets differ in dimension", {
      code: "shape_mismatch",
      path: ["features", "dim"],
      expected: a.dim,
      received: b.dim,
    });
  }
  const n = a.dim;
  let meanTerm = 0;
  let traces = 0;
  for (let i = 0; i < n; i++) {
    meanTerm += (a.mean[i] - b.mean[i]) ** 2;
    traces += a.covariance[i * n + i] + b.covariance[i * n + i];
  }

  let clamped = 0;
  let minClamped = 0;
  const clamp = (value: number) => {
    if (value >= 0) return value;
    clamped++;
    minClamped = Math.min(minClamped, value);
    return 0;
  };

  const s1 = symmetricEigen(a.covariance, n, true);
  const u = s1.vectors!; // rows are eigenvectors: u = U^T
  const rootD = s1.values.map((value) => Math.sqrt(clamp(value)));
  // B = U^T S2 U = u S2 u^T.
  const uS2 = matmul(u, b.covariance, n, n, n);
  const projected = matmulTransposed(uS2, u, n, n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) projected[i * n + j] *= rootD[i] * rootD[j];
  }
  const product = symmetricEigen(projected, n, false);
  let traceSqrtProduct = 0;
  for (const value of product.values) traceSqrtProduct += Math.sqrt(clamp(value));

  return {
    value: meanTerm + traces - 2 * traceSqrtProduct,
    meanTerm,
    traceSqrtProduct,
    clampedEigenvalues: clamped,
    minClampedEigenvalue: minClamped,
  };
}

/**
 * Throws unless both sets hold at least `dim` vectors. With fewer vectors than dimensions
 * the sample covariance is singular, the estimate is dominated by its bias, and tools
 * built on `sqrtm` fail with complex values. The rule is N >= feature dimension: 2048 for
 * Inception pool3.
 */
export function checkFidSampleSize(reference: number, output: number, dim: number): void {
  if (reference >= dim && output >= dim) return;
  throw new TweedieError(
    `FID needs at least ${dim} images per set; got ${reference} and ${output}; use KID or more images`,
    {
      code: "invalid_value",
      path: ["fid", "images"],
      expected: `at least ${dim} images in each set (the feature dimension)`,
      received: { reference, output },
    },
  );
}

export interface FidValue extends FrechetDistance {
  readonly n: { readonly reference: number; readonly output: number };
  readonly featureDim: number;
}

/** FID between two feature sets, after the sample-size rule of `checkFidSampleSize`. */
export function fidFromFeatures(reference: FeatureSet, output: FeatureSet): FidValue {
  checkFeatureSet(reference, "reference");
  checkFeatureSet(output, "output");
  checkFidSampleSize(reference.count, output.count, reference.dim);
  const distance = frechetDistance(featureStatistics(reference), featureStatistics(output));
  return {
    ...distance,
    n: { reference: reference.count, output: output.count },
    featureDim: reference.dim,
  };
}

export interface KidOptions {
  /** Random subsets averaged; default 100, as in clean-fid. */
  readonly subsets?: number;
  /** Vectors per subset, capped at the smaller set size; default 1000, as in clean-fid. */
  readonly subsetSize?: number;
  /** Seed of the SplitMix64 stream that draws the subsets; default 0. */
  readonly seed?: number;
  /** Memory allowed for the precomputed kernel matrix; default `DEFAULT_MAX_GRAM_BYTES`. */
  readonly maxGramBytes?: number;
}

export interface KidValue {
  /** Mean over subsets of the unbiased MMD^2 estimate. */
  readonly value: number;
  /** Sample standard deviation over subsets (n - 1); null for one subset. */
  readonly std: number | null;
  readonly subsets: number;
  readonly subsetSize: number;
  readonly seed: number;
  readonly n: { readonly reference: number; readonly output: number };
  readonly featureDim: number;
}

/**
 * Kernel Inception Distance as clean-fid's `kernel_distance` computes it: the unbiased MMD^2
 * with the polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets of m
 * vectors from each set, drawn without replacement:
 * MMD^2 = sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1)) - 2 sum_{i, j} k(x_i, y_j) / m^2.
 * Unbiased, so it can be slightly negative, and valid for small sets (m >= 2). clean-fid
 * returns only the mean; the standard deviation over subsets is reported here too.
 */
export function kidFromFeatures(
  reference: FeatureSet,
  output: FeatureSet,
  options: KidOptions = {},
): KidValue {
  checkFeatureSet(reference, "reference");
  checkFeatureSet(output, "output");
  if (reference.dim !== output.dim) {
    throw new TweedieError("feature sets differ in dimension", {
      code: "shape_mismatch",
      path: ["output", "dim"],
      expected: reference.dim,
      received: output.dim,
    });
  }
  const subsets = options.subsets ?? 100;
  const seed = options.seed ?? 0;
  const m = Math.min(options.subsetSize ?? 1000, reference.count, output.count);
  if (!Number.isInteger(subsets) || subsets < 1) {
    throw new TweedieError("KID subsets must be a positive integer", {
      code: "invalid_value",
      path: ["kid", "subsets"],
      expected: "an integer >= 1",
      received: subsets,
    });
  }
  if (!Number.isInteger(m) || m < 2) {
    throw new TweedieError(
      `KID needs at least 2 images per set and subset; got ${reference.count} and ${output.count}`,
      {
        code: "invalid_value",
        path: ["kid", "images"],
        expected: "at least 2 images in each set and a subset size >= 2",
        received: { reference: reference.count, output: output.count, subsetSize: m },
      },
    );
  }

  const rng = new SplitMix64(seed);
  const kernel = polynomialKernel(
    reference,
    output,
    options.maxGramBytes ?? DEFAULT_MAX_GRAM_BYTES,
  );
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const x = drawSubset(reference.count, m, rng);
    const y = drawSubset(output.count, m, rng).map((index) => index + reference.count);
    values.push(unbiasedMmd2(kernel, x, y));
  }
  const mean = values.reduce((sum, v) => sum + v, 0) / subsets;
  const std =
    subsets < 2
      ? null
      : Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (subsets - 1));
  return {
    value: mean,
    std,
    subsets,
    subsetSize: m,
    seed,
    n: { reference: reference.count, output: output.count },
    featureDim: reference.dim,
  };
}

/** Largest float64 kernel matrix over both sets that KID precomputes (256 MiB: about 5,800 vectors). */
export const DEFAULT_MAX_GRAM_BYTES = 256 * 1024 * 1024;

/** m indices drawn without replacement from 0..count-1 by a partial Fisher-Yates shuffle. */
function drawSubset(count: number, m: number, rng: SplitMix64): Int32Array {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  if (m === count) return order;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng.nextDouble() * (count - i));
    const picked = order[j];
    order[j] = order[i];
    order[i] = picked;
  }
  return order.slice(0, m);
}

/** k(u_i, u_j) = (u_i . u_j / d + 1)^3 for vectors i, j of the union of both sets. */
type Kernel = (i: number, j: number) => number;

/**
 * Builds the polynomial kernel over the union of both sets (reference first). Random
 * subsets overlap heavily, so the kernel matrix is computed once (upper triangle
 * mirrored) when it fits in `maxGramBytes`. Otherwise every lookup computes its dot product.
 */
function polynomialKernel(reference: FeatureSet, output: FeatureSet, maxGramBytes: number): Kernel {
  const dim = reference.dim;
  const total = reference.count + output.count;
  const all = new Float64Array(total * dim);
  all.set(reference.data, 0);
  all.set(output.data, reference.count * dim);
  const dot = (i: number, j: number) => {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += all[i * dim + d] * all[j * dim + d];
    return sum;
  };
  if (total * total * 8 > maxGramBytes) return (i, j) => (dot(i, j) / dim + 1) ** 3;

  const kernel = new Float64Array(total * total);
  for (let i = 0; i < total; i++) {
    for (let j = i; j < total; j++) {
      const value = (dot(i, j) / dim + 1) ** 3;
      kernel[i * total + j] = value;
      kernel[j * total + i] = value;
    }
  }
  return (i, j) => kernel[i * total + j];
}

/** Computes the unbiased MMD^2 of one subset pair; `x` and `y` index the union of both sets. */
function unbiasedMmd2(kernel: Kernel, x: Int32Array, y: Int32Array): number {
  const m = x.length;
  let within = 0;
  let between = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i !== j) within += kernel(x[i], x[j]) + kernel(y[i], y[j]);
      between += kernel(x[i], y[j]);
    }
  }
  return within / (m * (m - 1)) - (2 * between) / (m * m);
}

function checkFeatureSet(set: FeatureSet, name: string): void {
  const valid =
    Number.isInteger(set.count) &&
    Number.isInteger(set.dim) &&
    set.count >= 1 &&
    set.dim >= 1 &&
    set.data.length === set.count * set.dim;
  if (!valid) {
    throw new TweedieError(`feature set ${name} must hold count x dim values`, {
      code: "shape_mismatch",
      path: [name],
      expected: "count >= 1, dim >= 1 and data.length = count * dim",
      received: { count: set.count, dim: set.dim, length: set.data.length },
    });
  }
  for (let i = 0; i < set.data.length; i++) {
    if (!Number.isFinite(set.data[i])) {
      throw new TweedieError(`feature set ${name} contains a non-finite value`, {
        code: "non_finite",
        path: [name, "data", i],
        expected: "finite numbers",
        received: set.data[i],
      });
    }
  }
}
