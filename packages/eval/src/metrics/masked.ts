import type { ImageArray } from "../image.js";
import { assertSameShape } from "./psnr.js";
import { type SsimOptions, ssimMap } from "./ssim.js";

/**
 * Masked variants of MSE and SSIM. Masks follow PIE-Bench: H x W, 1 = edited region, so
 * the background (the part an editor should keep) has weight w = 1 - mask.
 */

/** Sum of the background weights 1 - mask over all pixels. */
export function backgroundWeightSum(mask: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < mask.length; i++) sum += 1 - mask[i];
  return sum;
}

/** Each channel multiplied by 1 - mask: PIE-Bench's evaluator masks images this way. */
export function multiplyByBackground(image: ImageArray, mask: Float32Array): ImageArray {
  const [channels, height, width] = image.shape;
  const plane = height * width;
  const out = new Float32Array(image.data.length);
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[base + p] = image.data[base + p] * (1 - mask[p]);
  }
  return { data: out, shape: image.shape };
}

/**
 * Mean squared error over the background only: sum(w (a - b)^2) / (C sum(w)) with
 * w = 1 - mask. Returns null when the background weight is 0.
 */
export function backgroundMeanSquaredError(
  a: ImageArray,
  b: ImageArray,
  mask: Float32Array,
): number | null {
  assertSameShape(a, b);
  const [channels, height, width] = a.shape;
  const plane = height * width;
  const weightSum = backgroundWeightSum(mask);
  if (weightSum === 0) return null;
  let sum = 0;
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let p = 0; p < plane; p++) {
      const d = a.data[base + p] - b.data[base + p];
      sum += (1 - mask[p]) * d * d;
    }
  }
  return sum / (channels * weightSum);
}

/**
 * Mean of the SSIM map over background pixels: each valid-region value is weighted by
 * 1 - mask at the window centre. The images are not masked first. Returns null when no
 * background pixel lies in the valid region (at least the window radius from the border).
 */
export function backgroundSsim(
  a: ImageArray,
  b: ImageArray,
  mask: Float32Array,
  options: SsimOptions,
): number | null {
  const map = ssimMap(a, b, options);
  const fullWidth = map.width + 2 * map.radius;
  let sum = 0;
  let weightSum = 0;
  for (let c = 0; c < map.channels; c++) {
    for (let y = 0; y < map.height; y++) {
      const maskRow = (y + map.radius) * fullWidth + map.radius;
      const mapRow = (c * map.height + y) * map.width;
      for (let x = 0; x < map.width; x++) {
        const w = 1 - mask[maskRow + x];
        sum += w * map.data[mapRow + x];
        weightSum += w;
      }
    }
  }
  return weightSum === 0 ? null : sum / weightSum;
}
