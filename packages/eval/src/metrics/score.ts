import { TweedieError } from "@tweedie/core";
import {
  cropBorder,
  cropMask,
  type ImageArray,
  type ImageInput,
  type MaskInput,
  rescaleImage,
  toImageArray,
  toMaskArray,
} from "../image.js";
import { getProfile, type ProfileInfo } from "./profiles.js";
import { assertSameShape } from "./psnr.js";
import { getMetric, listMetrics } from "./registry.js";
import type {
  MetricConventions,
  MetricResult,
  MetricValue,
  PairMetric,
  ProfileName,
} from "./types.js";

export const SCORE_SCHEMA = "tweedie.score";
export const SCORE_VERSION = 1;

export interface ScoreOptions {
  readonly profile: ProfileName;
  /** Value range both images are on, such as [0, 1] or [0, 255]; required, never guessed. */
  readonly range: readonly [number, number];
  /** Metric names; default: every available metric of the profile (mask metrics only with a mask). */
  readonly metrics?: readonly string[];
  /** H x W, 1 = edited region. */
  readonly mask?: MaskInput;
  /** Pixels removed from every border of both images (and the mask) first; default 0. */
  readonly borderCrop?: number;
}

/** Metric values of one image pair, with every convention named (plain JSON). */
export interface ScoreRecord {
  readonly schema: typeof SCORE_SCHEMA;
  readonly version: typeof SCORE_VERSION;
  readonly profile: ProfileName;
  readonly inputRange: readonly [number, number];
  /** [C, H, W] of the images as given, before any border crop. */
  readonly shape: readonly [number, number, number];
  readonly borderCrop: number;
  readonly mask: { readonly convention: "1 = edited"; readonly backgroundFraction: number } | null;
  /** Values outside `inputRange`, counted; metrics use them unclipped. */
  readonly outOfRange: { readonly reference: number; readonly output: number };
  readonly metrics: Readonly<Record<string, MetricResult>>;
}

/**
 * Scores one output image against its reference. Both images are mapped from the declared
 * `range` to [0, 1] here, and to a metric's own input range (LPIPS: [-1, 1]) only in
 * `toMetricRange`, so no metric ever guesses a range. Network metrics stay `unavailable`
 * here; `scoreWithNetworks` computes them.
 */
export function score(
  reference: ImageInput,
  output: ImageInput,
  options: ScoreOptions,
): ScoreRecord {
  const pair = preparePair(reference, output, options);
  const metrics = selectMetrics(pair.profile.name, options.metrics, pair.mask !== null);
  const results: Record<string, MetricResult> = {};
  for (const metric of metrics) {
    const value = pair.nonFinite
      ? ({ status: "undefined", value: null, reason: pair.nonFinite } as const)
      : runMetric(metric, pair);
    results[metric.name] = metricResult(metric, value, metric.conventions(pair.borderCrop));
  }
  return scoreRecord(pair, results);
}

/** Both images of a pair, checked, cropped and mapped to [0, 1], with the mask. */
export interface PreparedPair {
  readonly profile: ProfileInfo;
  readonly range: readonly [number, number];
  /** The images as given, before any crop. */
  readonly reference: ImageArray;
  readonly output: ImageArray;
  /** The cropped images on [0, 1]. */
  readonly unitReference: ImageArray;
  readonly unitOutput: ImageArray;
  /** The uncropped H x W mask, 1 = edited; null without a mask. */
  readonly fullMask: Float32Array | null;
  /** The cropped mask. */
  readonly mask: Float32Array | null;
  readonly borderCrop: number;
  /** The reason every metric is undefined (non-finite pixels), or null. */
  readonly nonFinite: string | null;
}

/** Checks the options and images of one pair and maps both images to [0, 1]. */
export function preparePair(
  reference: ImageInput,
  output: ImageInput,
  options: ScoreOptions,
): PreparedPair {
  const profile = getProfile(options.profile);
  const range = checkRange(options.range);
  const ref = toImageArray(reference, "reference");
  const out = toImageArray(output, "output");
  assertSameShape(ref, out);
  const [, height, width] = ref.shape;
  const borderCrop = options.borderCrop ?? 0;
  if (borderCrop !== 0 && !profile.allowsBorderCrop) {
    throw new TweedieError(`profile ${profile.name} fixes its protocol and takes no border crop`, {
      code: "invalid_value",
      path: ["borderCrop"],
      expected: 0,
      received: borderCrop,
    });
  }
  const fullMask = options.mask ? toMaskArray(options.mask, height, width) : null;
  return {
    profile,
    range,
    reference: ref,
    output: out,
    unitReference: rescaleImage(cropBorder(ref, borderCrop), range, [0, 1]),
    unitOutput: rescaleImage(cropBorder(out, borderCrop), range, [0, 1]),
    fullMask,
    mask: fullMask ? cropMask(fullMask, height, width, borderCrop) : null,
    borderCrop,
    nonFinite: describeNonFinite(ref, out),
  };
}

/**
 * Maps an image on [0, 1] to the range a metric declares (LPIPS: [-1, 1], DINO and CLIP:
 * [0, 255]). This and the map to [0, 1] in `preparePair` are the only range conversions
 * between the caller's images and a metric.
 */
export function toMetricRange(
  image: ImageArray,
  inputRange: readonly [number, number],
): ImageArray {
  return rescaleImage(image, [0, 1], inputRange);
}

/** Attaches a metric's identity and conventions to one of its values. */
export function metricResult(
  metric: Pick<PairMetric, "name" | "profile" | "higherIsBetter" | "displayScale">,
  value: MetricValue,
  conventions: MetricConventions,
): MetricResult {
  return {
    ...value,
    metric: metric.name,
    profile: metric.profile,
    higherIsBetter: metric.higherIsBetter,
    displayScale: metric.displayScale,
    conventions,
  };
}

/** Assembles the score record of a prepared pair. */
export function scoreRecord(
  pair: PreparedPair,
  metrics: Readonly<Record<string, MetricResult>>,
): ScoreRecord {
  return {
    schema: SCORE_SCHEMA,
    version: SCORE_VERSION,
    profile: pair.profile.name,
    inputRange: pair.range,
    shape: pair.reference.shape,
    borderCrop: pair.borderCrop,
    mask: pair.fullMask
      ? {
          convention: "1 = edited",
          backgroundFraction: backgroundFraction(pair.fullMask),
        }
      : null,
    outOfRange: {
      reference: countOutside(pair.reference, pair.range),
      output: countOutside(pair.output, pair.range),
    },
    metrics,
  };
}

/** Lists the metric results of a record, ready for `aggregate` rows. */
export function metricResults(record: ScoreRecord): MetricResult[] {
  return Object.values(record.metrics);
}

function runMetric(metric: PairMetric, pair: PreparedPair): MetricValue {
  if (metric.unavailable !== null) {
    return { status: "unavailable", value: null, reason: metric.unavailable };
  }
  return metric.compute({
    reference: toMetricRange(pair.unitReference, metric.inputRange),
    output: toMetricRange(pair.unitOutput, metric.inputRange),
    mask: pair.mask,
  });
}

/** Selects the metrics a score call runs: the named ones, or every available one that can run. */
export function selectMetrics(
  profile: ProfileName,
  names: readonly string[] | undefined,
  hasMask: boolean,
): PairMetric[] {
  if (names === undefined) {
    return listMetrics(profile).filter((m) => m.unavailable === null && (hasMask || !m.needsMask));
  }
  const metrics = names.map((name) => getMetric(name, profile));
  const needing = metrics.find((m) => m.needsMask);
  if (needing && !hasMask) {
    throw new TweedieError(`metric ${needing.name} needs a mask (1 = edited region)`, {
      code: "missing",
      path: ["mask"],
      expected: "an H x W mask",
    });
  }
  return metrics;
}

function checkRange(range: readonly [number, number]): readonly [number, number] {
  const valid =
    Array.isArray(range) &&
    range.length === 2 &&
    Number.isFinite(range[0]) &&
    Number.isFinite(range[1]) &&
    range[1] > range[0];
  if (!valid) {
    throw new TweedieError("range must be [low, high] with finite low < high", {
      code: "invalid_value",
      path: ["range"],
      expected: "[low, high], for example [0, 1] or [0, 255]",
      received: range,
    });
  }
  return [range[0], range[1]];
}

function describeNonFinite(reference: ImageArray, output: ImageArray): string | null {
  const count = (image: ImageArray) => image.data.filter((v) => !Number.isFinite(v)).length;
  const inRef = count(reference);
  const inOut = count(output);
  if (inRef === 0 && inOut === 0) return null;
  return `images contain non-finite values (reference: ${inRef}, output: ${inOut})`;
}

function countOutside(image: ImageArray, range: readonly [number, number]): number {
  let count = 0;
  for (const v of image.data) if (v < range[0] || v > range[1]) count++;
  return count;
}

function backgroundFraction(mask: Float32Array): number {
  let sum = 0;
  for (const v of mask) sum += 1 - v;
  return sum / mask.length;
}
