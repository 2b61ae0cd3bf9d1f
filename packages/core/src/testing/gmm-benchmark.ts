import type { Parameterisation, ScheduleSpec } from "../contracts/model.js";
import type { RestorationProblem, Solver } from "../contracts/solver.js";
import { Denoiser } from "../denoiser.js";
import { TweedieError } from "../errors.js";
import { type GaussianMixture, linearPosterior, sampleMixture } from "../priors/gmm.js";
import { matmul, matvec } from "../priors/gmm-linalg.js";
import { createRng, type Rng } from "../rng.js";
import { Tensor } from "../tensor.js";
import { createGridMixture, type MixtureWeights } from "./gmm.js";
import { GmmModel } from "./gmm-model.js";
import { type Matrix, matrix, randomOrthogonal } from "./linalg.js";
import { MatrixOperator } from "./matrix-operator.js";
import { randomDirections, slicedWasserstein } from "./sliced-wasserstein.js";

/**
 * One problem of the exact-posterior benchmark of MCGdiff (Cardoso, Janati, Le Corff and
 * Moulines, ICLR 2024, arXiv:2308.07983): a 25-component Gaussian-mixture prior on a grid
 * and a random linear operator. A method is scored by the sliced Wasserstein distance
 * between its samples and exact posterior samples, divided by the distance between two
 * independent exact sample sets (the noise floor).
 */
export interface GmmProblemSpec {
  dim: number;
  dy: number;
  sigmaY: number;
  seed: number;
  /** Default "equal"; "random" draws MCGdiff's w_k = g_k^2 / sum g^2. */
  weights?: MixtureWeights;
}

export interface GmmProblem {
  readonly spec: GmmProblemSpec;
  readonly mixture: GaussianMixture;
  /** dy x dim. */
  readonly a: Matrix;
  /** Singular values of A, descending. */
  readonly singularValues: Float64Array;
  readonly operator: MatrixOperator;
  /** The ground truth drawn from the prior. */
  readonly x0: Float64Array;
  /** y = A x0 + sigmaY n. */
  readonly y: Float64Array;
  /** The exact posterior p(x | y): a mixture whose components all share one covariance. */
  readonly posterior: GaussianMixture;
  /** The problem's own stream; every draw of the benchmark for it splits from here. */
  readonly rng: Rng;
}

/**
 * Builds one benchmark problem, every draw seeded by (seed, dim, dy, sigmaY):
 * A = U diag(s) V[:dy] with Haar-random orthogonal U (dy x dy) and V (dim x dim) and s
 * sorted descending uniform on (0, 1); x0 from the prior; y = A x0 + sigmaY n.
 */
export function createGmmProblem(spec: GmmProblemSpec): GmmProblem {
  const { dim, dy, sigmaY, seed } = spec;
  if (!Number.isInteger(dy) || dy < 1 || dy > dim) {
    throw new TweedieError("dy must be an integer in [1, dim]", {
      code: "out_of_range",
      path: ["dy"],
      expected: `an integer in [1, ${dim}]`,
      received: dy,
    });
  }
  const rng = createRng(seed).split("gmm-problem", dim, dy, String(sigmaY));
  const mixture = createGridMixture(dim, {
    weights: spec.weights ?? "equal",
    rng: rng.split("weights"),
  });

  const u = randomOrthogonal(dy, rng.split("u"));
  const v = randomOrthogonal(dim, rng.split("v"));
  const singularValues = rng.split("singular-values").uniform64(dy).sort().reverse();
  const scaledU = matrix(dy, dy, u.data);
  for (let i = 0; i < dy; i++) {
    for (let k = 0; k < dy; k++) scaledU.data[i * dy + k] *= singularValues[k];
  }
  const a = matrix(dy, dim, matmul(scaledU.data, v.data.subarray(0, dy * dim), dy, dy, dim));

  const x0 = sampleMixture(mixture, 1, rng.split("x0")).samples;
  const noise = rng.split("measurement-noise").normal64(dy);
  const y = matvec(a.data, x0, dy, dim).map((value, i) => value + sigmaY * noise[i]);
  const posterior = linearPosterior(mixture, a.data, dy, y, sigmaY);
  return {
    spec,
    mixture,
    a,
    singularValues,
    operator: new MatrixOperator(a),
    x0,
    y,
    posterior,
    rng,
  };
}

/** Inputs of a solver factory for one problem. */
export interface GmmSolverContext {
  problem: GmmProblem;
  model: GmmModel;
  /** Number of samples the solver must return. */
  samples: number;
}

export type GmmSolverFactory = (context: GmmSolverContext) => Solver | Promise<Solver>;

export interface GmmBenchmarkOptions {
  solverFactory: GmmSolverFactory;
  /** Default [8, 80]. */
  dims?: readonly number[];
  /** Default [1, 2, 4]. */
  dys?: readonly number[];
  /** Default [0.1, 1]. */
  sigmaYs?: readonly number[];
  /** Default [0, 1, 2, 3, 4]. */
  seeds?: readonly number[];
  /** Samples per problem: a count, or a count per dimension. Default 2000 (d <= 8), else 1000. */
  samples?: number | ((dim: number) => number);
  /** Random directions of the sliced Wasserstein distance; default 500. */
  directions?: number;
  /**
   * Reference distribution: the exact posterior (default), or the prior, which checks an
   * unguided sampler (its ratio should be about 1).
   */
  target?: "posterior" | "prior";
  weights?: MixtureWeights;
  /** The model's parameterisation; default "epsilon". */
  parameterisation?: Parameterisation;
  /** The model's schedule; default VP-linear over 1000 steps. */
  schedule?: ScheduleSpec;
  /** Called after each problem, for progress output. */
  onProblem?: (result: GmmProblemResult) => void;
}

export interface GmmProblemResult {
  dim: number;
  dy: number;
  sigmaY: number;
  seed: number;
  samples: number;
  /** SW1(method, exact). */
  distance: number;
  /** SW1(exact, independent exact): the noise floor. */
  floor: number;
  /** distance / floor. */
  ratio: number;
}

export interface GmmCellResult {
  dim: number;
  dy: number;
  sigmaY: number;
  meanRatio: number;
  medianRatio: number;
  problems: number;
}

export interface GmmBenchmarkResult {
  problems: GmmProblemResult[];
  cells: GmmCellResult[];
  pooledMedian: number;
  /** 10th and 90th percentiles of the pooled ratios. */
  pooledP10: number;
  pooledP90: number;
}

/** Linear-interpolation quantile of unsorted values (numpy's default rule). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return Number.NaN;
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
}

const directionCache = new Map<string, Float64Array>();

/** Returns the benchmark's fixed random unit directions for `dim`, seeded by (dim, count) only. */
export function benchmarkDirections(dim: number, count = 500): Float64Array {
  const key = `${dim}:${count}`;
  let directions = directionCache.get(key);
  if (directions === undefined) {
    directions = randomDirections(dim, count, createRng("gmm-benchmark-directions").split(dim));
    directionCache.set(key, directions);
  }
  return directions;
}

/** Converts a solver output [N, dim, 1, 1] into row-major float64 samples. */
function samplesOf(x: Tensor, dim: number, expected: number): Float64Array {
  if (x.size !== expected * dim) {
    throw new TweedieError("solver returned the wrong number of samples", {
      code: "shape_mismatch",
      path: ["x"],
      expected: [expected, dim, 1, 1],
      received: [...x.shape],
    });
  }
  return Float64Array.from(x.data);
}

function restorationProblem(problem: GmmProblem, model: GmmModel): RestorationProblem {
  const { dy } = problem.spec;
  return {
    kind: "restoration",
    denoiser: new Denoiser(model),
    operator: problem.operator,
    y: new Tensor(Float32Array.from(problem.y), [1, dy, 1, 1]),
    sigmaY: problem.spec.sigmaY,
    shape: problem.operator.inputShape,
  };
}

function samplesFor(option: GmmBenchmarkOptions["samples"], dim: number): number {
  if (typeof option === "number") return option;
  if (option !== undefined) return option(dim);
  return dim <= 8 ? 2000 : 1000;
}

/** Runs one problem: draws the method's samples and two exact sets, and scores them. */
export async function scoreGmmProblem(
  spec: GmmProblemSpec,
  options: Omit<GmmBenchmarkOptions, "dims" | "dys" | "sigmaYs" | "seeds">,
): Promise<GmmProblemResult> {
  const problem = createGmmProblem(spec);
  const model = new GmmModel(problem.mixture, {
    parameterisation: options.parameterisation,
    schedule: options.schedule,
  });
  const count = samplesFor(options.samples, spec.dim);
  const solver = await options.solverFactory({ problem, model, samples: count });
  const result = await solver.solve(
    restorationProblem(problem, model),
    problem.rng.split("solver"),
  );
  const method = samplesOf(result.x, spec.dim, count);

  const target = options.target === "prior" ? problem.mixture : problem.posterior;
  const reference = (index: number) =>
    sampleMixture(target, count, problem.rng.split(options.target ?? "posterior", index)).samples;
  const exact = reference(0);
  const independent = reference(1);
  const directions = benchmarkDirections(spec.dim, options.directions ?? 500);
  const distance = slicedWasserstein(method, exact, spec.dim, directions);
  const floor = slicedWasserstein(independent, exact, spec.dim, directions);
  return {
    dim: spec.dim,
    dy: spec.dy,
    sigmaY: spec.sigmaY,
    seed: spec.seed,
    samples: count,
    distance,
    floor,
    ratio: distance / floor,
  };
}

/**
 * Groups per-problem results into cells (dim, dy, sigmaY) with their mean and median
 * ratio, and computes the pooled median with its 10th and 90th percentiles. Results of
 * separate runs (one per dimension, say) can be merged by passing all their problems.
 */
export function summariseGmmProblems(problems: readonly GmmProblemResult[]): GmmBenchmarkResult {
  const cells = new Map<string, GmmProblemResult[]>();
  for (const result of problems) {
    const key = `${result.dim}|${result.dy}|${result.sigmaY}`;
    const list = cells.get(key) ?? [];
    list.push(result);
    cells.set(key, list);
  }
  const summaries = [...cells.values()].map((list) => {
    const ratios = list.map((result) => result.ratio);
    return {
      dim: list[0].dim,
      dy: list[0].dy,
      sigmaY: list[0].sigmaY,
      meanRatio: ratios.reduce((sum, r) => sum + r, 0) / ratios.length,
      medianRatio: quantile(ratios, 0.5),
      problems: ratios.length,
    };
  });
  const ratios = problems.map((result) => result.ratio);
  return {
    problems: [...problems],
    cells: summaries,
    pooledMedian: quantile(ratios, 0.5),
    pooledP10: quantile(ratios, 0.1),
    pooledP90: quantile(ratios, 0.9),
  };
}

/**
 * Runs the benchmark over dims x dys x sigmaYs x seeds and returns the ratio
 * SW1(method, exact) / SW1(exact, exact') per problem, the mean and median per cell, and
 * the pooled median with its 10th and 90th percentiles. Problems run one after another.
 */
export async function runGmmBenchmark(options: GmmBenchmarkOptions): Promise<GmmBenchmarkResult> {
  const problems: GmmProblemResult[] = [];
  for (const dim of options.dims ?? [8, 80]) {
    for (const dy of options.dys ?? [1, 2, 4]) {
      for (const sigmaY of options.sigmaYs ?? [0.1, 1]) {
        for (const seed of options.seeds ?? [0, 1, 2, 3, 4]) {
          const result = await scoreGmmProblem(
            { dim, dy, sigmaY, seed, weights: options.weights },
            options,
          );
          problems.push(result);
          options.onProblem?.(result);
        }
      }
    }
  }
  return summariseGmmProblems(problems);
}

/** Wraps row-major float64 samples as the [N, dim, 1, 1] output of a solver. */
export function samplesTensor(samples: Float64Array, dim: number): Tensor {
  return new Tensor(Float32Array.from(samples), [samples.length / dim, dim, 1, 1]);
}

/** A baseline "solver" that ignores y and returns samples of the prior. */
export const priorSolverFactory: GmmSolverFactory = ({ problem, samples }) => ({
  async solve(_problem, rng) {
    const x = sampleMixture(problem.mixture, samples, rng.split("prior")).samples;
    return {
      x: samplesTensor(x, problem.mixture.dim),
      nfe: 0,
      steps: 0,
      diagnostics: { method: "prior" },
    };
  },
});

/** A baseline "solver" that returns exact posterior samples (its ratio is about 1). */
export const exactSolverFactory: GmmSolverFactory = ({ problem, samples }) => ({
  async solve(_problem, rng) {
    const x = sampleMixture(problem.posterior, samples, rng.split("exact")).samples;
    return {
      x: samplesTensor(x, problem.mixture.dim),
      nfe: 0,
      steps: 0,
      diagnostics: { method: "exact-posterior" },
    };
  },
});
