export {
  type CheckOptions,
  checkDataset,
  type DatasetCheckReport,
  type ItemReport,
} from "./check.js";
export { DIGIT_SIDE, digitPixels, digitPrompt, isHeldOutDigitRow, loadDigits } from "./digits.js";
export { DatasetError } from "./errors.js";
export {
  decodeIdx,
  FASHION_CLASSES,
  FASHION_SIDE,
  fashionPixels,
  fashionPrompt,
  loadFashion,
} from "./fashion.js";
export {
  type Box,
  checkImageHeader,
  type Geometry,
  type ImageCheck,
  type ImageHeader,
  type ImageProbe,
  type ImageRules,
  planGeometry,
  probeWithSharp,
} from "./image-check.js";
export {
  hashItems,
  IMAGE_PIXELS,
  loadDiv2k,
  loadFfhq,
  loadFolder,
  loadSamples,
  repositoryDataDir,
} from "./image-folders.js";
export { loadDataset } from "./load.js";
export {
  buildManifest,
  compareBytewise,
  type DatasetItem,
  type DatasetManifest,
  type DatasetPolicy,
  type DigitAnnotation,
  type FashionAnnotation,
  hashFile,
  type ItemAnnotation,
  type PieBenchAnnotation,
} from "./manifest.js";
export {
  type ChannelPolicy,
  channelPolicySchema,
  type DatasetKind,
  type DatasetOptions,
  DEFAULT_MAX_PIXELS,
  datasetSchema,
  type PreprocessPolicy,
  preprocessSchema,
} from "./options.js";
export {
  clampedRuns,
  decodePieBenchMask,
  loadPieBench,
  PIE_BENCH_PIXELS,
  PIE_BENCH_SIDE,
  rleProblems,
  stripBrackets,
} from "./pie-bench.js";
