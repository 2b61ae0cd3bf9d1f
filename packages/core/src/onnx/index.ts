export type { OnnxSession, ProviderChoice, SessionOptions } from "./adapter.js";
export {
  availableProviders,
  checkFeeds,
  createSession,
  float16Carrier,
  hasFloat16Array,
  onnxruntimeVersion,
  parseProvider,
  releaseSession,
  runSession,
} from "./adapter.js";
export type { AdmCheckpoint, AdmCheckpointId, AdmManifestOptions } from "./adm.js";
export { ADM_CHECKPOINTS, ADM_IO, admManifest } from "./adm.js";
export type { AttributeValue, GraphBuilderOptions } from "./builder.js";
export { GraphBuilder, tensorProto } from "./builder.js";
export type { LoadDiffusersOptions } from "./diffusers.js";
export { loadDiffusersPackage, loadModel } from "./diffusers.js";
export type { DiffusersFamily, DiffusersLayout, DiffusersVae } from "./diffusers-layout.js";
export { isDiffusersFolder, MODEL_INDEX_FILE, readDiffusersLayout } from "./diffusers-layout.js";
export type { DiffusersModel, DiffusersSettings } from "./diffusers-model.js";
export { packLatents, unpackLatents } from "./diffusers-model.js";
export type { DiffusersScheduler, DynamicShifting } from "./diffusers-scheduler.js";
export { dynamicShift, parseSchedulerConfig } from "./diffusers-scheduler.js";
export {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  fromFloat16Bits,
  toFloat16Bits,
} from "./float16.js";
export type { PackageFileSummary, PackageSummary } from "./inspect.js";
export { inspectModelPackage } from "./inspect.js";
export type { Logger, LogLevel } from "./logger.js";
export { logAtOrtSeverity, ortSeverityForLevel, silentLogger } from "./logger.js";
export type { ManifestFileRole, ModelManifest, SpatialRule } from "./manifest.js";
export {
  editDistance,
  MANIFEST_FILE,
  nearestKey,
  parseManifest,
  readManifest,
} from "./manifest.js";
export type { Float32Matrix, MatmulRunner } from "./matmul.js";
export { createMatmulRunner } from "./matmul.js";
export type { LoadModelOptions, OnnxModel } from "./model.js";
export { loadModelPackage, sha256File, spatialRuleText, verifyPackageFiles } from "./model.js";
export type {
  AttributeObject,
  GraphObject,
  ModelObject,
  NodeObject,
  TensorProtoObject,
  ValueInfoObject,
} from "./proto.js";
export { decodeModel, ONNX_ATTRIBUTE_TYPE, ONNX_DATA_TYPE } from "./proto.js";
export type { CodecLayout, DenoiserLayout, GraphSignature } from "./signature.js";
export { checkCodecSignature, checkDenoiserSignature, signatureFromModel } from "./signature.js";
export type {
  TextConditionerParts,
  TextConditioningKind,
  TextEmbedding,
  TextEncoderPart,
} from "./text-encoder.js";
export { TextConditioner } from "./text-encoder.js";
export type { TextTokenizer } from "./text-tokenizer.js";
export { loadTokenizer } from "./text-tokenizer.js";
export type { OnnxDim, OnnxDtype, OnnxTensor, OnnxValueInfo } from "./types.js";
export { dimsSize, ONNX_DTYPES } from "./types.js";
