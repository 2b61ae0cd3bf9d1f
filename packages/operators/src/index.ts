export { hashFloat32, hashSpec } from "./hash.js";
export { gaussianKernel, gaussianKernel1d } from "./kernels/gaussian.js";
export { motionBlurKernel } from "./kernels/motion.js";
export {
  addNoise,
  measure,
  type NoiseRecord,
  type NoisyMeasurement,
  noiseRng,
  parseNoiseSpec,
} from "./noise.js";
export { ComposeOperator } from "./operators/compose.js";
export { InpaintingOperator } from "./operators/inpainting.js";
export { MotionBlurOperator } from "./operators/motion-blur.js";
export { PhaseRetrievalOperator } from "./operators/phase-retrieval.js";
export { SeparableOperator } from "./operators/separable.js";
export { ColorizationOperator, IdentityOperator } from "./operators/simple.js";
export { getPreset, type OperatorPreset, operatorPresets } from "./presets.js";
export type { BuildOptions } from "./registry.js";
export { buildOperator } from "./registry.js";
export { type CropBox, checkDivisible, cropToScale, requiredDivisor } from "./scale.js";
export {
  type AvgPoolSpec,
  avgPoolSpecSchema,
  type BicubicSpec,
  type BoxInpaintingSpec,
  bicubicSpecSchema,
  boxInpaintingSpecSchema,
  type ColorizationSpec,
  type ComposeSpec,
  colorizationSpecSchema,
  composeSpecSchema,
  type GaussianBlurSpec,
  type GivenMaskInpaintingSpec,
  gaussianBlurSpecSchema,
  givenMaskInpaintingSpecSchema,
  type IdentitySpec,
  type InpaintingSpec,
  identitySpecSchema,
  inpaintingSpecSchema,
  type MotionBlurSpec,
  motionBlurSpecSchema,
  type NoiseSpecValue,
  noiseSpecSchema,
  type OperatorSpecValue,
  operatorKinds,
  operatorSpecSchema,
  type PhaseRetrievalSpec,
  parseSpec,
  phaseRetrievalSpecSchema,
  type RandomInpaintingSpec,
  randomInpaintingSpecSchema,
  valueRangeSchema,
} from "./spec.js";
