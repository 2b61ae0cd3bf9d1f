export { type ConformanceCase, type ConformanceOptions, conformanceCases } from "./conformance.js";
export type { MixtureWeights, OutputCombination } from "./gmm.js";
export { createGridMixture, IdentityCovarianceDenoiser } from "./gmm.js";
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
  summariseGmmProblems,
} from "./gmm-benchmark.js";
export type { GmmModelOptions } from "./gmm-model.js";
export { GmmModel, VP_LINEAR_1000 } from "./gmm-model.js";
export type {
  ImagePosteriorProblem,
  ImagePosteriorScore,
  ImagePosteriorScoreOptions,
  ImagePosteriorSpec,
} from "./image-posterior.js";
export {
  consistencyRatio,
  createImagePosteriorProblem,
  denseOperatorMatrix,
  imageRestorationProblem,
  mixtureMean,
  psnrOnSymmetricRange,
  scoreImagePosteriorSamples,
  solveImagePosterior,
} from "./image-posterior.js";
export { isotropicGaussian, LabelGmmModel, type LabelGmmOptions } from "./label-gmm-model.js";
export type { Matrix, ThinSvd } from "./linalg.js";
export { matrix, randomOrthogonal, thinSvd } from "./linalg.js";
export type { MatrixOperatorSpec } from "./matrix-operator.js";
export { MatrixOperator } from "./matrix-operator.js";
export { sampleMixtureDdpm } from "./reference-ddpm.js";
export { randomDirections, slicedWasserstein, wasserstein1dSorted } from "./sliced-wasserstein.js";
