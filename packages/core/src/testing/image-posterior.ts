import type { Operator } from "../contracts/operator.js";
import type { RestorationProblem, Solver } from "../contracts/solver.js";
import type { Denoiser } from "../denoiser.js";
import { TweedieError } from "../errors.js";
import { type GaussianMixture, linearPosterior, sampleMixture } from "../priors/gmm.js";
import { matvec } from "../priors/gmm-linalg.js";
import { createRng, type Rng, type RngSeed } from "../rng.js";
import { Tensor } from "../tensor.js";
import { benchmarkDirections } from "./gmm-benchmark.js";
import { slicedWasserstein } from "./sliced-wasserstein.js";

/**
 * Exact-posterior check of restoration solvers on a Gaussian-mixture image prior such as
 * the embedded digits prior. With a linear operator and Gaussian noise the posterior
 * p(x | y) is again a Gaussian mixture (`linearPosterior`), so a solver's samples can be
 * scored by the sliced Wasserstein ratio of the GMM benchmark: SW1(solver, exact) divided
 * by SW1(exact', exact) for two independent exact sample sets of the same size.
 */
export interface ImagePosteriorProblem {
  /** The ground truth, flattened [C, H, W]. */
  readonly x0: Float64Array;
  /** Shape of one image [C, H, W]. */
  readonly shape: readonly number[];
  readonly operator: Operator;
  /** The operator as a dense row-major matrix, rows x dim. */
  readonly a: Float64Array;
  readonly rows: number;
  /**
   * Indices of the rows of A that are not all zero (m = their count). An inpainting
   * operator keeps the image shape, and its masked rows of y contain noise only.
   */
  readonly measuredRows: Int32Array;
  /** y = A x0 + sigmaY n with n ~ N(0, I) from the problem's "measurement-noise" stream. */
  readonly y: Float64Array;
  readonly sigmaY: number;
  readonly prior: GaussianMixture;
  readonly posterior: GaussianMixture;
  /** The problem's own stream; exact sample sets split from here. */
  readonly rng: Rng;
}

/**
 * Computes the dense matrix of a linear operator by applying `forward` to every basis
 * image of `shape` (one image per column). Throws when the operator is not linear.
 */
export function denseOperatorMatrix(
  operator: Operator,
  shape: readonly number[],
): { a: Float64Array; rows: number } {
  if (!operator.linear) {
    throw new TweedieError("the exact posterior needs a linear operator", {
      code: "invalid_value",
      path: ["operator", "linear"],
      expected: true,
      received: operator.linear,
    });
  }
  const dim = shape.reduce((n, s) => n * s, 1);
  const basis = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) basis[i * dim + i] = 1;
  const columns = operator.forward(new Tensor(basis, [dim, ...shape]));
  const rows = columns.size / dim;
  const a = new Float64Array(rows * dim);
  for (let column = 0; column < dim; column++) {
    for (let row = 0; row < rows; row++) a[row * dim + column] = columns.data[column * rows + row];
  }
  return { a, rows };
}

export interface ImagePosteriorSpec {
  prior: GaussianMixture;
  x0: ArrayLike<number>;
  shape: readonly number[];
  operator: Operator;
  sigmaY: number;
  /** Seeds the measurement noise and the exact sample sets. */
  seed: RngSeed;
}

/** Measures x0 through the operator with Gaussian noise and computes the exact posterior. */
export function createImagePosteriorProblem(spec: ImagePosteriorSpec): ImagePosteriorProblem {
  const { prior, shape, operator, sigmaY } = spec;
  const dim = prior.dim;
  if (spec.x0.length !== dim) {
    throw new TweedieError("x0 must have the prior's dimension", {
      code: "shape_mismatch",
      path: ["x0"],
      expected: dim,
      received: spec.x0.length,
    });
  }
  const x0 = Float64Array.from(spec.x0);
  const { a, rows } = denseOperatorMatrix(operator, shape);
  const measured: number[] = [];
  for (let row = 0; row < rows; row++) {
    if (a.subarray(row * dim, (row + 1) * dim).some((v) => v !== 0)) measured.push(row);
  }
  const measuredRows = Int32Array.from(measured);
  const rng = createRng(spec.seed).split("image-posterior");
  const noise = rng.split("measurement-noise").normal64(rows);
  const y = matvec(a, x0, rows, dim).map((value, i) => value + sigmaY * noise[i]);
  const posterior = linearPosterior(prior, a, rows, y, sigmaY);
  return { x0, shape, operator, a, rows, measuredRows, y, sigmaY, prior, posterior, rng };
}

/** Computes the mean of a mixture, sum_k w_k mu_k. */
export function mixtureMean(mixture: GaussianMixture): Float64Array {
  const { dim, weights, means } = mixture;
  const mean = new Float64Array(dim);
  for (let k = 0; k < weights.length; k++) {
    for (let i = 0; i < dim; i++) mean[i] += weights[k] * means[k * dim + i];
  }
  return mean;
}

function sampleMean(samples: Float64Array, dim: number): Float64Array {
  const count = samples.length / dim;
  const mean = new Float64Array(dim);
  for (let n = 0; n < count; n++) {
    for (let i = 0; i < dim; i++) mean[i] += samples[n * dim + i] / count;
  }
  return mean;
}

/** PSNR in dB of `a` against `b` on [-1, 1] (peak-to-peak 2, the same value as on [0, 1]). */
export function psnrOnSymmetricRange(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return 10 * Math.log10(4 / (sum / a.length));
}

/**
 * Computes the mean over samples of ||A x - y|| / (sigmaY sqrt(m)) over the m measured
 * rows. For exact posterior samples it is a little under 1, because the posterior also
 * explains part of the noise. Values well above 1 mean the samples under-fit y.
 */
export function consistencyRatio(problem: ImagePosteriorProblem, samples: Float64Array): number {
  const dim = problem.prior.dim;
  const count = samples.length / dim;
  let total = 0;
  for (let n = 0; n < count; n++) {
    const ax = matvec(problem.a, samples.subarray(n * dim, (n + 1) * dim), problem.rows, dim);
    let sum = 0;
    for (const row of problem.measuredRows) sum += (ax[row] - problem.y[row]) ** 2;
    total += Math.sqrt(sum) / (problem.sigmaY * Math.sqrt(problem.measuredRows.length));
  }
  return total / count;
}

/** Scores of one sample set against the exact posterior (or the prior) of one problem. */
export interface ImagePosteriorScore {
  samples: number;
  /** SW1(samples, exact). */
  distance: number;
  /** SW1(exact', exact): the noise floor. */
  floor: number;
  /** distance / floor: about 1 for exact samples. */
  ratio: number;
  /** PSNR of the samples' mean against the target's exact mean, dB. */
  meanPsnr: number;
  /** The same for the independent exact set: the ceiling that sampling noise allows. */
  floorMeanPsnr: number;
  /** ||A x - y|| / (sigmaY sqrt(m)), averaged over the samples. */
  consistency: number;
  /** The same for the independent exact set. */
  exactConsistency: number;
}

export interface ImagePosteriorScoreOptions {
  /** The exact posterior (default) or the prior, which checks an unguided sampler. */
  target?: "posterior" | "prior";
  /** Random directions of the sliced Wasserstein distance; default 500. */
  directions?: number;
}

/**
 * Scores row-major samples (count x dim) against two independent exact sets of the same
 * count, drawn from the problem's stream, over the GMM benchmark's fixed directions.
 */
export function scoreImagePosteriorSamples(
  problem: ImagePosteriorProblem,
  samples: Float64Array,
  options: ImagePosteriorScoreOptions = {},
): ImagePosteriorScore {
  const dim = problem.prior.dim;
  const count = samples.length / dim;
  if (!Number.isInteger(count) || count < 2) {
    throw new TweedieError("samples must contain at least two whole images", {
      code: "shape_mismatch",
      path: ["samples"],
      expected: `a multiple of ${dim} values, at least ${2 * dim}`,
      received: samples.length,
    });
  }
  const targetName = options.target ?? "posterior";
  const target = targetName === "prior" ? problem.prior : problem.posterior;
  const exact = sampleMixture(target, count, problem.rng.split(targetName, 0)).samples;
  const independent = sampleMixture(target, count, problem.rng.split(targetName, 1)).samples;
  const directions = benchmarkDirections(dim, options.directions ?? 500);
  const distance = slicedWasserstein(samples, exact, dim, directions);
  const floor = slicedWasserstein(independent, exact, dim, directions);
  const targetMean = mixtureMean(target);
  return {
    samples: count,
    distance,
    floor,
    ratio: distance / floor,
    meanPsnr: psnrOnSymmetricRange(sampleMean(samples, dim), targetMean),
    floorMeanPsnr: psnrOnSymmetricRange(sampleMean(independent, dim), targetMean),
    consistency: consistencyRatio(problem, samples),
    exactConsistency: consistencyRatio(problem, independent),
  };
}

/** Builds the restoration problem a solver receives: y as a [1, rows] tensor shaped like A's output. */
export function imageRestorationProblem(
  problem: ImagePosteriorProblem,
  denoiser: Denoiser,
): RestorationProblem {
  const outputShape = problem.operator.outputShape;
  return {
    kind: "restoration",
    denoiser,
    operator: problem.operator,
    y: new Tensor(Float32Array.from(problem.y), [1, ...outputShape]),
    sigmaY: problem.sigmaY,
    shape: problem.shape,
  };
}

/**
 * Runs a solver on the problem and returns its samples as row-major float64 rows. The
 * solver must return `expected` samples ([expected, C, H, W]).
 */
export async function solveImagePosterior(
  problem: ImagePosteriorProblem,
  solver: Solver,
  denoiser: Denoiser,
  expected: number,
  rng: Rng,
): Promise<{ samples: Float64Array; nfe: number }> {
  const result = await solver.solve(imageRestorationProblem(problem, denoiser), rng);
  const dim = problem.prior.dim;
  if (result.x.size !== expected * dim) {
    throw new TweedieError("solver returned the wrong number of samples", {
      code: "shape_mismatch",
      path: ["x"],
      expected: [expected, ...problem.shape],
      received: [...result.x.shape],
    });
  }
  return { samples: Float64Array.from(result.x.data), nfe: result.nfe };
}
