import { type Logger, TweedieError } from "@tweedie/core";
import type { FeatureModelKind, ImageFeatureManifest } from "../features/manifest.js";
import type { FeatureModel, FeatureModels } from "../features/models.js";
import { describeResize } from "../features/resize.js";
import type { ImageArray, ImageInput } from "../image.js";
import { backgroundWeightSum } from "../metrics/masked.js";
import { reportScale } from "../metrics/profiles.js";
import { metricId } from "../metrics/registry.js";
import {
  metricResult,
  type PreparedPair,
  preparePair,
  type ScoreOptions,
  type ScoreRecord,
  score,
  scoreRecord,
  toMetricRange,
} from "../metrics/score.js";
import type { MetricConventions, MetricResult, MetricValue } from "../metrics/types.js";
import {
  type ClipImageManifest,
  clipImageEmbedding,
  clipScoreFromEmbeddings,
  clipTextEmbedding,
  stripEditBrackets,
  type TextEmbeddingSource,
} from "./clip.js";
import { type NetworkMetricKind, type NetworkMetricSpec, networkMetricsOf } from "./definitions.js";
import { structureDistance, type VitQkvManifest } from "./dino.js";
import { type LpipsManifest, lpipsDistance } from "./lpips.js";

export interface NetworkScoreOptions extends ScoreOptions {
  /** The feature model folder; metrics whose models it lacks are `unavailable`. */
  readonly featureModels: FeatureModels;
  /** Target prompt for CLIP scores (PIE-Bench `editing_prompt`, brackets allowed). */
  readonly prompt?: string;
  /** Text embeddings for CLIP: a tokenizer for the text-encoder model, or precomputed ones. */
  readonly text?: TextEmbeddingSource;
  /** Receives warnings (LPIPS input range); default the feature models' logger. */
  readonly logger?: Logger;
}

/**
 * Scores one image pair like `score`, and also runs the profile's network metrics through
 * the ONNX feature models of `featureModels`. Without `metrics`, it runs every closed-form
 * metric `score` runs by default and every network metric whose inputs are present (a mask
 * for masked metrics, a prompt and `text` for CLIP). A network metric whose feature model
 * is absent is reported as `unavailable` with the reason, never as a number.
 */
export async function scoreWithNetworks(
  reference: ImageInput,
  output: ImageInput,
  options: NetworkScoreOptions,
): Promise<ScoreRecord> {
  const pair = preparePair(reference, output, options);
  const specs = selectNetworkMetrics(pair, options);
  const networkNames = new Set(networkMetricsOf(pair.profile.name).map((spec) => spec.name));
  const closedForm = options.metrics?.filter((name) => !networkNames.has(name));
  const base = score(reference, output, { ...options, metrics: closedForm });

  const results: Record<string, MetricResult> = { ...base.metrics };
  const logger = options.logger ?? options.featureModels.logger;
  for (const spec of specs) {
    results[spec.name] = await runNetworkMetric(spec, pair, options, logger);
  }
  return scoreRecord(pair, results);
}

function selectNetworkMetrics(
  pair: PreparedPair,
  options: NetworkScoreOptions,
): NetworkMetricSpec[] {
  const specs = networkMetricsOf(pair.profile.name);
  const hasMask = pair.mask !== null;
  const hasPrompt = options.prompt !== undefined && options.text !== undefined;
  if (options.metrics === undefined) {
    return specs.filter((spec) => (hasMask || !spec.needsMask) && (hasPrompt || !spec.needsPrompt));
  }
  const selected = specs.filter((spec) => options.metrics?.includes(spec.name));
  for (const spec of selected) {
    if (spec.needsPrompt && !hasPrompt) {
      throw new TweedieError(`metric ${spec.name} needs a prompt and a text embedding source`, {
        code: "missing",
        path: [options.prompt === undefined ? "prompt" : "text"],
        expected: "the target prompt and { kind: 'model', tokenizer } or precomputed embeddings",
      });
    }
  }
  return selected;
}

/** Runs one network metric and attaches the conventions of the models it used. */
async function runNetworkMetric(
  spec: NetworkMetricSpec,
  pair: PreparedPair,
  options: NetworkScoreOptions,
  logger: Logger,
): Promise<MetricResult> {
  const identity = { ...spec, displayScale: reportScale(spec.profile, spec.name) };
  const base = specConventions(spec, pair.borderCrop);
  if (pair.nonFinite) {
    return metricResult(
      identity,
      { status: "undefined", value: null, reason: pair.nonFinite },
      base,
    );
  }

  const imageLookup = await options.featureModels.lookup(spec.featureModel, MODEL_KIND[spec.kind]);
  if (!imageLookup.available) {
    return metricResult(identity, unavailable(imageLookup.reason), base);
  }
  const model = imageLookup.model;
  const conventions = withModel(base, model, "featureModel");
  const context: MetricContext = {
    spec,
    pair,
    options,
    logger,
    id: metricId(spec.name, spec.profile),
  };

  switch (spec.kind) {
    case "lpips":
    case "lpips_background":
      return metricResult(
        identity,
        await lpipsValue(model as FeatureModel<LpipsManifest>, context),
        conventions,
      );
    case "structure_distance": {
      const dino = model as FeatureModel<VitQkvManifest>;
      const reference = toMetricRange(pair.unitReference, spec.inputRange);
      const output = toMetricRange(pair.unitOutput, spec.inputRange);
      const value = await structureDistance(dino, reference, output, spec.inputRange);
      return metricResult(identity, { status: "ok", value }, conventions);
    }
    case "clip_whole":
    case "clip_edited": {
      const clip = model as FeatureModel<ClipImageManifest>;
      const text = await textEmbedding(context);
      if ("reason" in text) return metricResult(identity, unavailable(text.reason), conventions);
      const clipConventions = text.model
        ? withModel(conventions, text.model, "textModel")
        : {
            ...conventions,
            settings: { ...conventions.settings, textModel: "precomputed embeddings" },
          };
      return metricResult(
        identity,
        await clipValue(clip, text.embedding, context),
        clipConventions,
      );
    }
  }
}

/** The kind of image feature model each network metric loads. */
const MODEL_KIND = {
  lpips: "lpips",
  lpips_background: "lpips",
  structure_distance: "vit-qkv",
  clip_whole: "clip-image",
  clip_edited: "clip-image",
} as const satisfies Record<NetworkMetricKind, FeatureModelKind>;

interface MetricContext {
  readonly spec: NetworkMetricSpec;
  readonly pair: PreparedPair;
  readonly options: NetworkScoreOptions;
  readonly logger: Logger;
  readonly id: string;
}

const EMPTY_BACKGROUND = "background is empty: the mask marks every pixel as edited";

async function lpipsValue(
  model: FeatureModel<LpipsManifest>,
  { spec, pair, logger, id }: MetricContext,
): Promise<MetricValue> {
  let reference = toMetricRange(pair.unitReference, spec.inputRange);
  let output = toMetricRange(pair.unitOutput, spec.inputRange);
  if (spec.kind === "lpips_background") {
    const mask = pair.mask!;
    if (backgroundWeightSum(mask) === 0)
      return { status: "undefined", value: null, reason: EMPTY_BACKGROUND };
    // PIE-Bench multiplies the [0, 1] images by (1 - mask) and then maps x -> 2x - 1; on the
    // [-1, 1] values that is x -> (x + 1)(1 - mask) - 1.
    reference = maskSigned(reference, mask);
    output = maskSigned(output, mask);
  }
  const value = await lpipsDistance(model, reference, output, { logger, metric: id });
  return { status: "ok", value };
}

function maskSigned(image: ImageArray, mask: Float32Array): ImageArray {
  const [channels, height, width] = image.shape;
  const plane = height * width;
  const data = new Float32Array(image.data.length);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      data[c * plane + p] = (image.data[c * plane + p] + 1) * (1 - mask[p]) - 1;
    }
  }
  return { data, shape: image.shape };
}

async function clipValue(
  model: FeatureModel<ClipImageManifest>,
  textEmbedding: Float32Array,
  { spec, pair }: MetricContext,
): Promise<MetricValue> {
  let image = toMetricRange(pair.unitOutput, spec.inputRange);
  if (spec.kind === "clip_edited") {
    const mask = pair.mask!;
    if (mask.every((m) => m === 0)) {
      return {
        status: "undefined",
        value: null,
        reason: "edited region is empty: the mask has no edited pixel",
      };
    }
    image = maskBytes(image, mask);
  }
  const embedding = await clipImageEmbedding(model, image, spec.inputRange);
  return { status: "ok", value: clipScoreFromEmbeddings(embedding, textEmbedding) };
}

/** PIE-Bench's `np.uint8(img * mask)` on 8-bit values: round to integers, multiply, truncate. */
function maskBytes(image: ImageArray, mask: Float32Array): ImageArray {
  const [channels, height, width] = image.shape;
  const plane = height * width;
  const data = new Float32Array(image.data.length);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      const byte = Math.min(255, Math.max(0, Math.round(image.data[c * plane + p])));
      data[c * plane + p] = Math.floor(byte * mask[p]);
    }
  }
  return { data, shape: image.shape };
}

type TextResult =
  | { readonly embedding: Float32Array; readonly model: FeatureModel | null }
  | { readonly reason: string };

async function textEmbedding({ spec, options }: MetricContext): Promise<TextResult> {
  const prompt = stripEditBrackets(options.prompt!);
  const source = options.text!;
  if (source.kind === "precomputed") {
    const embedding = source.embeddings.get(prompt);
    if (embedding === undefined) {
      throw new TweedieError("no precomputed text embedding for the prompt", {
        code: "not_found",
        path: ["text", "embeddings"],
        expected: "an embedding keyed by the prompt with [ and ] removed",
        received: prompt,
      });
    }
    return { embedding, model: null };
  }
  const lookup = await options.featureModels.lookup(spec.textModel!, "clip-text");
  if (!lookup.available) return { reason: lookup.reason };
  return {
    embedding: await clipTextEmbedding(lookup.model, source.tokenizer, prompt),
    model: lookup.model,
  };
}

function unavailable(reason: string): MetricValue {
  return { status: "unavailable", value: null, reason };
}

/** Returns the conventions a network metric's spec fixes, before any model is loaded. */
export function specConventions(spec: NetworkMetricSpec, borderCrop: number): MetricConventions {
  return {
    valueRange: spec.inputRange,
    dataRange: spec.inputRange[1] - spec.inputRange[0],
    window: null,
    backbone: spec.backbone,
    borderCrop,
    masking: spec.masking,
    formula: spec.formula,
    settings: spec.settings,
  };
}

/** Adds a loaded model's name, SHA-256, input range, resize path and normalisation. */
export function withModel(
  conventions: MetricConventions,
  model: FeatureModel,
  role: "featureModel" | "textModel",
): MetricConventions {
  const manifest = model.manifest;
  const settings: Record<string, string | number | boolean> = {
    ...conventions.settings,
    [role]: manifest.name,
    [`${role}Sha256`]: manifest.sha256,
  };
  if (manifest.kind !== "clip-text") {
    const image = manifest as ImageFeatureManifest;
    settings[`${role}Range`] = `[${image.valueRange.join(", ")}]`;
    settings[`${role}Resize`] = describeResize(image.resize);
    settings[`${role}Normalization`] =
      image.normalization === null
        ? "none"
        : `mean [${image.normalization.mean.join(", ")}], std [${image.normalization.std.join(", ")}]`;
  }
  return { ...conventions, settings };
}
