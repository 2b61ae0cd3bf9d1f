import { TweedieError } from "@tweedie/core";
import type { ImageArray } from "../image.js";

/** The epsilon deepinv adds inside PSNR's logarithm; it caps PSNR at 80 dB. */
export const DEEPINV_PSNR_EPSILON = 1e-8;

/** Mean of (a - b)^2 over all C * H * W values, accumulated in float64. */
export function meanSquaredError(a: ImageArray, b: ImageArray): number {
  assertSameShape(a, b);
  const x = a.data;
  const y = b.data;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - y[i];
    sum += d * d;
  }
  return sum / x.length;
}

/**
 * PSNR in dB from a mean squared error on images of data range L.
 * With `epsilon` 0: 10 log10(L^2 / MSE), which is +Infinity when MSE is 0.
 * With `epsilon` > 0 (deepinv): -10 log10(MSE / L^2 + epsilon), at most -10 log10(epsilon).
 */
export function psnrFromMse(mse: number, dataRange: number, epsilon = 0): number {
  assertDataRange(dataRange);
  const ratio = mse / (dataRange * dataRange);
  if (epsilon > 0) return -10 * Math.log10(ratio + epsilon);
  if (ratio === 0) return Number.POSITIVE_INFINITY;
  return -10 * Math.log10(ratio);
}

export interface PsnrOptions {
  /** L: the width of the value range the images are on (1 for [0, 1], 255 for 8-bit values). */
  readonly dataRange: number;
  /** Added inside the logarithm; 0 (the default) gives +Infinity for identical images. */
  readonly epsilon?: number;
}

/** PSNR of one image pair in dB; +Infinity for identical images unless `epsilon` > 0. */
export function psnr(a: ImageArray, b: ImageArray, options: PsnrOptions): number {
  return psnrFromMse(meanSquaredError(a, b), options.dataRange, options.epsilon ?? 0);
}

export function assertDataRange(dataRange: number): void {
  if (!(Number.isFinite(dataRange) && dataRange > 0)) {
    throw new TweedieError("data range must be a positive finite number", {
      code: "out_of_range",
      path: ["dataRange"],
      expected: "a number > 0, declared by the caller (never guessed from the data)",
      received: dataRange,
    });
  }
}

export function assertSameShape(a: ImageArray, b: ImageArray): void {
  const same = a.shape.every((d, i) => d === b.shape[i]);
  if (!same) {
    throw new TweedieError("images to compare differ in shape", {
      code: "shape_mismatch",
      path: ["output"],
      expected: [...a.shape],
      received: [...b.shape],
    });
  }
}
