export const packageName = "@tweedie/eval";

export {
  aggregate,
  canonicalJson,
  columnKey,
  DEFAULT_GROUP_BY,
  type JsonValue,
  type ResultRow,
} from "./aggregate/aggregate.js";
export { studentTCdf, studentTQuantile } from "./aggregate/student-t.js";
export { summarize } from "./aggregate/summary.js";
export {
  FEATURE_MANIFEST_SCHEMA,
  FEATURE_MANIFEST_SUFFIX,
  FEATURE_MANIFEST_VERSION,
  type FeatureManifest,
  type FeatureModelKind,
  featureManifestSchema,
  type ImageFeatureManifest,
  manifestPath,
  parseFeatureManifest,
  type ResizeRule,
  readFeatureManifest,
  resizeRuleSchema,
} from "./features/manifest.js";
export {
  checkSignature,
  FEATURE_MODELS_ENV,
  type FeatureModel,
  type FeatureModelLookup,
  FeatureModels,
  type FeatureModelsOptions,
} from "./features/models.js";
export { imageToFeatureInput, stackBatch } from "./features/preprocess.js";
export {
  applyResize,
  centerCrop,
  describeResize,
  type Resampling,
  resample,
  resizedSize,
} from "./features/resize.js";
export {
  cropBorder,
  fromHWC,
  type ImageArray,
  type ImageInput,
  type MaskInput,
  rescaleImage,
  toHWC,
  toImageArray,
} from "./image.js";
export {
  decodeNpy,
  encodeNpy,
  type NpyArray,
  type NpySidecar,
  npySidecarSchema,
  type ReadNpyResult,
  readNpy,
  writeNpy,
} from "./io/npy.js";
export {
  DEFAULT_MAX_PIXELS,
  type ImageMetadata,
  type LoadedImage,
  type ReadImageOptions,
  readImage,
} from "./io/read-image.js";
export { type WriteImageOptions, type WriteImageResult, writeImage } from "./io/write-image.js";
export { csvField, type MarkdownOptions, toCsv, toMarkdown } from "./leaderboard/format.js";
export {
  type Direction,
  directionMark,
  GROUP_FIELDS,
  type GroupField,
  type GroupKey,
  LEADERBOARD_SCHEMA,
  LEADERBOARD_VERSION,
  type Leaderboard,
  type LeaderboardColumn,
  type LeaderboardGroup,
  leaderboardSchema,
  type MetricSummary,
  parseLeaderboard,
  rankKey,
  type Summary,
  toJson,
} from "./leaderboard/schema.js";
export {
  backgroundMeanSquaredError,
  backgroundSsim,
  backgroundWeightSum,
  multiplyByBackground,
} from "./metrics/masked.js";
export { type PosteriorRatio, posteriorSlicedWassersteinRatio } from "./metrics/posterior.js";
export { getProfile, PROFILES, type ProfileInfo, reportScale } from "./metrics/profiles.js";
export {
  DEEPINV_PSNR_EPSILON,
  meanSquaredError,
  type PsnrOptions,
  psnr,
  psnrFromMse,
} from "./metrics/psnr.js";
export {
  getMetric,
  listMetrics,
  metricId,
  type RegisterOptions,
  registerMetric,
} from "./metrics/registry.js";
export { conventionsSchema, metricResultSchema, scoreRecordSchema } from "./metrics/schema.js";
export {
  metricResult,
  metricResults,
  type PreparedPair,
  preparePair,
  SCORE_SCHEMA,
  SCORE_VERSION,
  type ScoreOptions,
  type ScoreRecord,
  score,
  toMetricRange,
} from "./metrics/score.js";
export {
  randomUnitDirections,
  type SampleSet,
  type SlicedWassersteinOptions,
  type SlicedWassersteinResult,
  slicedWasserstein,
  wasserstein1d,
} from "./metrics/sliced-wasserstein.js";
export { SplitMix64 } from "./metrics/splitmix.js";
export {
  GAUSSIAN_WINDOW,
  type SsimMap,
  type SsimOptions,
  ssim,
  ssimMap,
  UNIFORM_WINDOW_7,
  windowTaps,
} from "./metrics/ssim.js";
export {
  type MetricConventions,
  type MetricInput,
  type MetricResult,
  type MetricStatus,
  type MetricValue,
  type PairMetric,
  PROFILE_NAMES,
  type ProfileName,
  type WindowSpec,
} from "./metrics/types.js";
export {
  type ClipImageManifest,
  type ClipTextManifest,
  clipImageEmbedding,
  clipScoreFromEmbeddings,
  clipTextEmbedding,
  stripEditBrackets,
  type TextEmbeddingSource,
  type TextTokenizer,
} from "./network/clip.js";
export {
  FEATURE_MODEL_NAMES,
  NETWORK_METRICS,
  type NetworkMetricKind,
  type NetworkMetricSpec,
  networkMetricsOf,
} from "./network/definitions.js";
export {
  keySelfSimilarity,
  SELF_SIMILARITY_EPSILON,
  structureDistance,
  type VitQkvManifest,
} from "./network/dino.js";
export {
  checkFidSampleSize,
  DEFAULT_MAX_GRAM_BYTES,
  type FeatureSet,
  type FidValue,
  type FrechetDistance,
  featureStatistics,
  fidFromFeatures,
  frechetDistance,
  type GaussianStatistics,
  type KidOptions,
  type KidValue,
  kidFromFeatures,
} from "./network/fid.js";
export { type Eigen, symmetricEigen } from "./network/linalg.js";
export {
  LPIPS_NORM_EPSILON,
  LPIPS_RANGE,
  type LpipsManifest,
  type LpipsOptions,
  lpipsDistance,
  warnIfUnitRange,
} from "./network/lpips.js";
export { type NetworkScoreOptions, scoreWithNetworks } from "./network/score.js";
export {
  computeSetMetrics,
  extractFeatures,
  type FeatureExtractionOptions,
  type ImageSource,
  type InceptionManifest,
  type SetMetricOptions,
  type SetMetricResult,
} from "./network/set-metrics.js";
export {
  type Comparison,
  type ConventionChange,
  compareLeaderboards,
  type MissingEntry,
  type RegressionReport,
  type Tolerance,
  type Tolerances,
} from "./regress/compare.js";
export { regressionToMarkdown } from "./regress/format.js";
export {
  type EmbeddedImage,
  type LinkedImage,
  paramsText,
  type ReportImage,
  type ReportInput,
  type ReportItem,
  type ReportSetMetrics,
  renderReport,
} from "./report/html.js";
export {
  type BarChart,
  type LinePlot,
  type MetricPlotOptions,
  metricPlot,
  type PlotPoint,
  type ReportPlot,
  type SubsetBarOptions,
  subsetBars,
} from "./report/plots.js";
export { renderBarChart, renderLinePlot } from "./report/svg.js";
export {
  type SweepCandidate,
  type SweepSummary,
  type SweepWinner,
  summarizeSweeps,
} from "./report/sweep.js";
