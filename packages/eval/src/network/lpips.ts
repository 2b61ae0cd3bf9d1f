import { type Logger, silentLogger, TweedieError } from "@tweedie/core";
import type { FeatureManifest } from "../features/manifest.js";
import type { FeatureModel } from "../features/models.js";
import { imageToFeatureInput } from "../features/preprocess.js";
import type { ImageArray } from "../image.js";
import { assertSameShape } from "../metrics/psnr.js";
import { expectRank, type FeatureTensor, runFeatureModel } from "./run.js";

export type LpipsManifest = Extract<FeatureManifest, { kind: "lpips" }>;

/** The range LPIPS inputs are on: richzhang lpips v0.1 and torchmetrics both expect [-1, 1]. */
export const LPIPS_RANGE = [-1, 1] as const;

/** Added to each feature vector's norm before dividing, as lpips v0.1's `normalize_tensor` does. */
export const LPIPS_NORM_EPSILON = 1e-10;

export interface LpipsOptions {
  /** Receives the input-range warning; default silent. */
  readonly logger?: Logger;
  /** Metric id named in the warning, such as "lpips@canonical". */
  readonly metric?: string;
}

/**
 * LPIPS v0.1 between two CHW images on [-1, 1], as `LPIPS.forward` and `normalize_tensor`
 * in richzhang/PerceptualSimilarity's lpips package compute it: for each backbone layer l, unit-normalise the feature vector at every position
 * (f / (|f| + 1e-10)), weight the squared difference per channel by the learned head w_l,
 * average over positions, and sum over layers:
 * d = sum_l mean_hw sum_c w_lc (f0_lchw / |f0_lhw| - f1_lchw / |f1_lhw|)^2.
 * The package's ScalingLayer (shift and scale per channel) is the manifest's normalisation.
 * Both images run through the same graph one at a time, so LPIPS(x, x) is exactly 0.
 * An image with min >= 0 and max <= 1 gets a warning: it is probably on [0, 1].
 */
export async function lpipsDistance(
  model: FeatureModel<LpipsManifest>,
  reference: ImageArray,
  output: ImageArray,
  options: LpipsOptions = {},
): Promise<number> {
  assertSameShape(reference, output);
  const logger = options.logger ?? silentLogger;
  const metric = options.metric ?? `lpips (${model.manifest.name})`;
  warnIfUnitRange(reference, "reference", metric, logger);
  warnIfUnitRange(output, "output", metric, logger);

  const manifest = model.manifest;
  const featuresA = await runFeatureModel(
    model,
    imageToFeatureInput(reference, LPIPS_RANGE, manifest),
  );
  const featuresB = await runFeatureModel(
    model,
    imageToFeatureInput(output, LPIPS_RANGE, manifest),
  );
  let total = 0;
  manifest.outputs.forEach((name, layer) => {
    const a = featuresA[name];
    const b = featuresB[name];
    expectRank(a, 4, model, name, "[1, C, H, W]");
    expectRank(b, 4, model, name, "[1, C, H, W]");
    total += layerDistance(a, b, manifest.lpipsWeights[layer], model, name);
  });
  return total;
}

/** Computes one layer's term: spatial mean of sum_c w_c (a_c / (|a| + eps) - b_c / (|b| + eps))^2. */
function layerDistance(
  a: FeatureTensor,
  b: FeatureTensor,
  weights: readonly number[],
  model: FeatureModel,
  name: string,
): number {
  const [, channels, height, width] = a.dims;
  if (weights.length !== channels) {
    throw new TweedieError(
      `LPIPS head of layer ${name} has ${weights.length} weights for ${channels} channels`,
      {
        code: "shape_mismatch",
        path: [model.file, name],
        expected: channels,
        received: weights.length,
      },
    );
  }
  const plane = height * width;
  let sum = 0;
  for (let p = 0; p < plane; p++) {
    let normA = 0;
    let normB = 0;
    for (let c = 0; c < channels; c++) {
      normA += a.data[c * plane + p] ** 2;
      normB += b.data[c * plane + p] ** 2;
    }
    const scaleA = 1 / (Math.sqrt(normA) + LPIPS_NORM_EPSILON);
    const scaleB = 1 / (Math.sqrt(normB) + LPIPS_NORM_EPSILON);
    for (let c = 0; c < channels; c++) {
      const diff = a.data[c * plane + p] * scaleA - b.data[c * plane + p] * scaleB;
      sum += weights[c] * diff * diff;
    }
  }
  return sum / plane;
}

/**
 * Warns when an image that should be on [-1, 1] has min >= 0 and max <= 1: a [0, 1]
 * image fed to LPIPS gives a lower (better-looking) distance than the correct one.
 */
export function warnIfUnitRange(
  image: ImageArray,
  role: string,
  metric: string,
  logger: Logger,
): boolean {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of image.data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(min >= 0 && max <= 1)) return false;
  logger.warn(
    `${metric}: the ${role} image lies within [0, 1] (min ${min}, max ${max}) where [-1, 1] is expected; ` +
      "check the range declared for the images",
    { metric, image: role, min, max, expectedRange: [...LPIPS_RANGE] },
  );
  return true;
}
