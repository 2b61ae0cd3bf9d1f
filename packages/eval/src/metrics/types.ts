import type { ImageArray } from "../image.js";

/** The metric profiles; each fixes every convention of its metrics (see README). */
export const PROFILE_NAMES = [
  "canonical",
  "skimage-default",
  "dps-compat",
  "deepinv-compat",
  "pie-compat",
  "clean",
] as const;

export type ProfileName = (typeof PROFILE_NAMES)[number];

/**
 * Outcome of one metric on one image pair.
 * - `ok`: `value` is a finite number.
 * - `infinite`: the value is +Infinity, the metric's best score (PSNR of identical images
 *   in profiles without an epsilon). Aggregation counts it and leaves it out of means.
 * - `undefined`: the metric has no value for this input (an empty background, non-finite
 *   pixels), and `reason` gives the cause.
 * - `unavailable`: the metric cannot run in this build (no feature model), and `reason` gives the cause.
 * `value` is null for every status but `ok`, so a record is plain JSON.
 */
export type MetricStatus = "ok" | "infinite" | "undefined" | "unavailable";

export type MetricValue =
  | { readonly status: "ok"; readonly value: number }
  | {
      readonly status: "infinite" | "undefined" | "unavailable";
      readonly value: null;
      readonly reason: string;
    };

/** A filter window for SSIM-like metrics. */
export interface WindowSpec {
  readonly kind: "gaussian" | "uniform";
  /** Taps per side of the square window. */
  readonly size: number;
  /** Standard deviation of a Gaussian window, in pixels; null for a uniform window. */
  readonly sigma: number | null;
}

/** Every convention that changes a metric's number; stored with each result. */
export interface MetricConventions {
  /** Range the metric's kernel receives images in, after the one conversion in `score`. */
  readonly valueRange: readonly [number, number];
  /** L in the PSNR and SSIM formulas. */
  readonly dataRange: number;
  readonly window: WindowSpec | null;
  /** Feature network and its weights for learned metrics; null for closed-form ones. */
  readonly backbone: string | null;
  /** Pixels removed from every border before the metric. */
  readonly borderCrop: number;
  /**
   * Mask handling: `none`, `multiply` (both images multiplied by 1 - mask and the metric
   * taken over the whole tensor, as PIE-Bench's evaluator does) or `restrict` (average
   * over background pixels only).
   */
  readonly masking: "none" | "multiply" | "restrict";
  /** The formula in one line. */
  readonly formula: string;
  /** Further settings (K1, K2, covariance estimator, epsilon) by name. */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
}

/** The images one metric call receives, already on the metric's value range. */
export interface MetricInput {
  readonly reference: ImageArray;
  readonly output: ImageArray;
  /** H x W mask, 1 = edited region; null when the caller gave none. */
  readonly mask: Float32Array | null;
}

/**
 * A metric of one image pair under one profile. Network metrics (LPIPS, CLIP, DINO) plug
 * in through `registerMetric` with the same shape. Until they do, placeholders with an
 * `unavailable` reason stand in, so that records still name their conventions.
 */
export interface PairMetric {
  readonly name: string;
  readonly profile: ProfileName;
  readonly higherIsBetter: boolean;
  /** Range this metric expects its inputs in; `score` converts to it in one place. */
  readonly inputRange: readonly [number, number];
  readonly needsMask: boolean;
  /** Factor a report multiplies values by for display (PIE-Bench MSE: 1e4); never applied to stored values. */
  readonly displayScale: number;
  /** Reason the metric cannot run in this build, or null when it can. */
  readonly unavailable: string | null;
  conventions(borderCrop: number): MetricConventions;
  compute(input: MetricInput): MetricValue;
}

/** One metric's result in a score record: its value and the conventions behind it. */
export type MetricResult = MetricValue & {
  readonly metric: string;
  readonly profile: ProfileName;
  readonly higherIsBetter: boolean;
  /**
   * Best value of a metric that is best at a value rather than at an end (data
   * consistency: 1). Rankings and regression checks then use |value - target|.
   */
  readonly target?: number;
  readonly displayScale: number;
  readonly conventions: MetricConventions;
};

export function okValue(value: number): MetricValue {
  return { status: "ok", value };
}

export function undefinedValue(reason: string): MetricValue {
  return { status: "undefined", value: null, reason };
}

/** Turns a computed number into a metric value: +Infinity becomes `infinite`, NaN `undefined`. */
export function fromNumber(value: number, reasonIfInfinite: string): MetricValue {
  if (Number.isNaN(value)) return undefinedValue("the metric evaluated to NaN");
  if (value === Number.POSITIVE_INFINITY) {
    return { status: "infinite", value: null, reason: reasonIfInfinite };
  }
  if (!Number.isFinite(value)) return undefinedValue(`the metric evaluated to ${value}`);
  return okValue(value);
}
