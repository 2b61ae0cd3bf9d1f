export type { GaussianMixture, MixturePosterior, MixtureWeights } from "./gmm.js";
export {
  createGridMixture,
  createMixture,
  mixtureDenoise,
  mixtureOutput,
  mixturePosterior,
  posteriorMoments,
  sampleMixture,
  samplePosterior,
} from "./gmm.js";
export type {
  GmmBenchmarkOptions,
  GmmBenchmarkResult,
  GmmCellResult,
  GmmProblem,
  GmmProblemResult,
  GmmProblemSpec,
  GmmSolverContext,
  GmmSolverFactory,
} from "./gmm-benchmark.js";
export {
  benchmarkDirections,
  createGmmProblem,
  exactSolverFactory,
  priorSolverFactory,
  quantile,
  runGmmBenchmark,
  samplesTensor,
  scoreGmmProblem,
} from "./gmm-benchmark.js";
export type { GmmModelOptions } from "./gmm-model.js";
export { GmmModel, VP_LINEAR_1000 } from "./gmm-model.js";
export type { Matrix, ThinSvd } from "./linalg.js";
export {
  cholesky,
  choleskySolve,
  identity,
  inverseSpd,
  matmul,
  matrix,
  matvec,
  matvecTransposed,
  randomOrthogonal,
  thinSvd,
  transpose,
} from "./linalg.js";
export type { MatrixOperatorSpec } from "./matrix-operator.js";
export { MatrixOperator } from "./matrix-operator.js";
export { sampleMixtureDdpm } from "./reference-ddpm.js";
export { randomDirections, slicedWasserstein, wasserstein1dSorted } from "./sliced-wasserstein.js";
