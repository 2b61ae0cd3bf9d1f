import type { Operator, Shape } from "@tweedie/core";
import { checkImageShape } from "./batch.js";
import { ComposeOperator } from "./operators/compose.js";
import { buildGaussianBlur } from "./operators/gaussian-blur.js";
import { InpaintingOperator } from "./operators/inpainting.js";
import { MotionBlurOperator } from "./operators/motion-blur.js";
import { PhaseRetrievalOperator } from "./operators/phase-retrieval.js";
import { ColorizationOperator, IdentityOperator } from "./operators/simple.js";
import { buildAvgPool, buildBicubic } from "./operators/super-resolution.js";
import { type OperatorSpecValue, operatorSpecSchema, parseSpec } from "./spec.js";

export interface BuildOptions {
  /** Shape of one input image, [C, H, W]. */
  readonly imageShape: Shape;
}

/**
 * Builds an immutable operator from a JSON spec for images of `imageShape`. The spec is
 * validated first, and errors name the field. Random kernels, masks and boxes are drawn
 * here, once, and written into the returned operator's `spec`, so that spec rebuilds an
 * identical operator. Super-resolution checks divisibility before any other work.
 */
export function buildOperator(spec: unknown, options: BuildOptions): Operator {
  const imageShape = Object.freeze([...checkImageShape(options.imageShape)]);
  return buildParsed(parseSpec(operatorSpecSchema, spec, "operator spec"), imageShape);
}

function buildParsed(spec: OperatorSpecValue, imageShape: Shape): Operator {
  switch (spec.kind) {
    case "identity":
      return new IdentityOperator(spec, imageShape);
    case "sr-avgpool":
      return buildAvgPool(spec, imageShape);
    case "sr-bicubic":
      return buildBicubic(spec, imageShape);
    case "gaussian-blur":
      return buildGaussianBlur(spec, imageShape);
    case "motion-blur":
      return new MotionBlurOperator(spec, imageShape);
    case "inpainting":
      return new InpaintingOperator(spec, imageShape);
    case "colorization":
      return new ColorizationOperator(spec, imageShape);
    case "phase-retrieval":
      return new PhaseRetrievalOperator(spec, imageShape);
    case "compose": {
      const stages: Operator[] = [];
      let shape = imageShape;
      for (const stageSpec of spec.operators) {
        const stage = buildParsed(stageSpec, shape);
        stages.push(stage);
        shape = stage.outputShape;
      }
      return new ComposeOperator(stages);
    }
  }
}
