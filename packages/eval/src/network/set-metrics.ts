import { TweedieError } from "@tweedie/core";
import type { FeatureManifest } from "../features/manifest.js";
import type { FeatureModel, FeatureModels } from "../features/models.js";
import { imageToFeatureInput, stackBatch } from "../features/preprocess.js";
import type { ImageArray, ImageInput } from "../image.js";
import { toImageArray } from "../image.js";
import type { MetricConventions } from "../metrics/types.js";
import { FEATURE_MODEL_NAMES } from "./definitions.js";
import {
  checkFidSampleSize,
  type FeatureSet,
  fidFromFeatures,
  type KidOptions,
  kidFromFeatures,
} from "./fid.js";
import { runFeatureModel } from "./run.js";
import { withModel } from "./score.js";

export type InceptionManifest = Extract<FeatureManifest, { kind: "inception" }>;

/** An image, or a function that loads it when its turn comes (keeps large sets out of memory). */
export type ImageSource = ImageInput | (() => ImageInput | Promise<ImageInput>);

export interface FeatureExtractionOptions {
  /** Value range of the images, such as [0, 1]; required, never guessed. */
  readonly range: readonly [number, number];
  /** Images per session run when the graph's batch dim is symbolic; default 16. */
  readonly batchSize?: number;
}

/**
 * Runs every image through an image feature model (Inception pool3 for FID) and returns
 * the features as a float64 set. `afterFirst` receives the feature dimension after the first
 * batch, so a caller can reject a set before the remaining images are processed.
 */
export async function extractFeatures(
  model: FeatureModel<InceptionManifest>,
  images: readonly ImageSource[],
  options: FeatureExtractionOptions & { readonly afterFirst?: (dim: number) => void },
): Promise<FeatureSet> {
  const batchSize = model.batch ?? options.batchSize ?? 16;
  let data: Float64Array | null = null;
  let dim = 0;
  for (let start = 0; start < images.length; start += batchSize) {
    const inputs: ReturnType<typeof imageToFeatureInput>[] = [];
    for (let i = start; i < Math.min(start + batchSize, images.length); i++) {
      const image = await loadImage(images[i], i);
      inputs.push(imageToFeatureInput(image, options.range, model.manifest));
    }
    while (model.batch !== null && inputs.length < model.batch)
      inputs.push(inputs[inputs.length - 1]);
    const name = model.manifest.outputs[0];
    const features = (await runFeatureModel(model, stackBatch(inputs)))[name];
    const rows = features.dims[0];
    const width = features.data.length / rows;
    if (rows !== inputs.length || !Number.isInteger(width)) {
      throw new TweedieError(
        `feature model ${model.manifest.name} returned ${rows} rows for ${inputs.length} images`,
        {
          code: "shape_mismatch",
          path: [model.file, name],
          expected: `[${inputs.length}, D] or [${inputs.length}, D, 1, 1]`,
          received: [...features.dims],
        },
      );
    }
    if (data === null) {
      dim = width;
      options.afterFirst?.(dim);
      data = new Float64Array(images.length * dim);
    }
    const used = Math.min(batchSize, images.length - start);
    for (let i = 0; i < used * dim; i++) data[start * dim + i] = features.data[i];
  }
  if (data === null) {
    throw new TweedieError("feature extraction needs at least one image", {
      code: "invalid_value",
      path: ["images"],
      expected: "a non-empty list",
      received: 0,
    });
  }
  return { data, count: images.length, dim };
}

async function loadImage(source: ImageSource, index: number): Promise<ImageArray> {
  const input = typeof source === "function" ? await source() : source;
  return toImageArray(input, `images[${index}]`);
}

/** A distribution metric of two image sets (FID or KID), with both set sizes. */
export interface SetMetricResult {
  readonly metric: "fid" | "kid";
  readonly status: "ok" | "unavailable";
  readonly value: number | null;
  readonly reason: string | null;
  /** KID: standard deviation over subsets; null for FID. */
  readonly std: number | null;
  readonly n: { readonly reference: number; readonly output: number };
  readonly featureDim: number | null;
  readonly higherIsBetter: false;
  readonly conventions: MetricConventions;
}

export interface SetMetricOptions extends FeatureExtractionOptions {
  /** Default both. */
  readonly metrics?: readonly ("fid" | "kid")[];
  readonly kid?: KidOptions;
  /** Manifest name of the feature model; default "inception-fid". */
  readonly featureModel?: string;
}

const FID_FORMULA =
  "||m1 - m2||^2 + Tr(S1) + Tr(S2) - 2 sum sqrt(eig(sqrt(S1) S2 sqrt(S1))), sample covariances (N - 1), float64";
const KID_FORMULA =
  "mean over subsets of the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, float64";

/**
 * Computes FID and KID between a reference set and an output set through the Inception
 * feature model. FID is rejected with a `TweedieError` when either set has fewer images than the
 * feature dimension (2048 for Inception pool3), right after the first batch. Both
 * results report N of each set. Without the feature model both are `unavailable`.
 */
export async function computeSetMetrics(
  featureModels: FeatureModels,
  reference: readonly ImageSource[],
  output: readonly ImageSource[],
  options: SetMetricOptions,
): Promise<SetMetricResult[]> {
  const metrics = options.metrics ?? ["fid", "kid"];
  const n = { reference: reference.length, output: output.length };
  const name = options.featureModel ?? FEATURE_MODEL_NAMES.inception;
  const lookup = await featureModels.lookup(name, "inception");
  if (!lookup.available) {
    return metrics.map((metric) => ({
      metric,
      status: "unavailable",
      value: null,
      reason: lookup.reason,
      std: null,
      n,
      featureDim: null,
      higherIsBetter: false,
      conventions: setConventions(metric, null, options),
    }));
  }
  const model = lookup.model;
  const guard = metrics.includes("fid")
    ? (dim: number) => checkFidSampleSize(n.reference, n.output, dim)
    : undefined;
  const referenceSet = await extractFeatures(model, reference, { ...options, afterFirst: guard });
  const outputSet = await extractFeatures(model, output, options);
  return metrics.map((metric) => {
    const conventions = setConventions(metric, model, options);
    if (metric === "fid") {
      const fid = fidFromFeatures(referenceSet, outputSet);
      return {
        metric,
        status: "ok",
        value: fid.value,
        reason: null,
        std: null,
        n,
        featureDim: fid.featureDim,
        higherIsBetter: false,
        conventions,
      };
    }
    const kid = kidFromFeatures(referenceSet, outputSet, options.kid);
    return {
      metric,
      status: "ok",
      value: kid.value,
      reason: null,
      std: kid.std,
      n,
      featureDim: kid.featureDim,
      higherIsBetter: false,
      conventions,
    };
  });
}

function setConventions(
  metric: "fid" | "kid",
  model: FeatureModel | null,
  options: SetMetricOptions,
): MetricConventions {
  const settings: Record<string, string | number | boolean> =
    metric === "fid"
      ? {
          minimumImages: "feature dimension per set",
          matrixSquareRoot: "symmetric eigendecomposition",
        }
      : {
          subsets: options.kid?.subsets ?? 100,
          subsetSize: options.kid?.subsetSize ?? 1000,
          seed: options.kid?.seed ?? 0,
        };
  const valueRange =
    model === null ? options.range : (model.manifest as InceptionManifest).valueRange;
  const base: MetricConventions = {
    valueRange,
    dataRange: valueRange[1] - valueRange[0],
    window: null,
    backbone: model === null ? "Inception pool3 features" : model.manifest.description,
    borderCrop: 0,
    masking: "none",
    formula: metric === "fid" ? FID_FORMULA : KID_FORMULA,
    settings,
  };
  return model === null ? base : withModel(base, model, "featureModel");
}
