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
import { getProfile } from "./profiles.js";
import { assertSameShape } from "./psnr.js";
import { getMetric, listMetrics } from "./registry.js";
import type { MetricResult, MetricValue, PairMetric, ProfileName } from "./types.js";

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
 * `range` to [0, 1] here, and to a metric's own input range (LPIPS: [-1, 1]) only here, so
 * no metric ever guesses a range.
 */
export function score(
  reference: ImageInput,
  output: ImageInput,
  options: ScoreOptions,
): ScoreRecord {
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
  const metrics = selectMetrics(profile.name, options.metrics, fullMask !== null);

  const mask = fullMask ? cropMask(fullMask, height, width, borderCrop) : null;
  const unitRef = rescaleImage(cropBorder(ref, borderCrop), range, [0, 1]);
  const unitOut = rescaleImage(cropBorder(out, borderCrop), range, [0, 1]);
  const nonFinite = describeNonFinite(ref, out);

  const results: Record<string, MetricResult> = {};
  for (const metric of metrics) {
    const value = nonFinite
      ? ({ status: "undefined", value: null, reason: nonFinite } as const)
      : runMetric(metric, unitRef, unitOut, mask);
    results[metric.name] = {
      ...value,
      metric: metric.name,
      profile: metric.profile,
      higherIsBetter: metric.higherIsBetter,
      displayScale: metric.displayScale,
      conventions: metric.conventions(borderCrop),
    };
  }

  return {
    schema: SCORE_SCHEMA,
    version: SCORE_VERSION,
    profile: profile.name,
    inputRange: range,
    shape: ref.shape,
    borderCrop,
    mask: fullMask
      ? {
          convention: "1 = edited",
          backgroundFraction: backgroundFraction(fullMask),
        }
      : null,
    outOfRange: { reference: countOutside(ref, range), output: countOutside(out, range) },
    metrics: results,
  };
}

/** Lists the metric results of a record, ready for `aggregate` rows. */
export function metricResults(record: ScoreRecord): MetricResult[] {
  return Object.values(record.metrics);
}

function runMetric(
  metric: PairMetric,
  reference: ImageArray,
  output: ImageArray,
  mask: Float32Array | null,
): MetricValue {
  if (metric.unavailable !== null) {
    return { status: "unavailable", value: null, reason: metric.unavailable };
  }
  const [lo, hi] = metric.inputRange;
  const toMetricRange = (image: ImageArray) => rescaleImage(image, [0, 1], [lo, hi]);
  return metric.compute({
    reference: toMetricRange(reference),
    output: toMetricRange(output),
    mask,
  });
}

function selectMetrics(
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
