import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { expect } from "vitest";
import {
  getMetric,
  type ImageArray,
  type MetricResult,
  type ProfileName,
  SplitMix64,
} from "../src/index.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

/**
 * Reads a committed 8-bit RGB fixture PNG as [3, H, W] with values k / 255, through sharp
 * directly, so that metric tests do not depend on `readImage`.
 */
export async function fixture(name: string): Promise<ImageArray> {
  const { data, info } = await sharp(join(FIXTURES, name))
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height, channels } = info;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = data[p * channels + c] / 255;
  }
  return { data: out, shape: [3, height, width] };
}

/**
 * Rebuilds the synthetic 64x48 RGB pair of make_goldens.py from the same integer formulas,
 * scaled by 1/255.
 */
export function patternPair(): { reference: ImageArray; output: ImageArray } {
  const width = 64;
  const height = 48;
  const plane = width * height;
  const reference = new Float32Array(3 * plane);
  const output = new Float32Array(3 * plane);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const rgb = [(x * 4 + y) % 256, (y * 5 + ((x * x) % 37)) % 256, (x * y * 3 + 17) % 256];
      const delta = ((x * 7 + y * 13) % 19) - 9;
      for (let c = 0; c < 3; c++) {
        reference[c * plane + p] = rgb[c] / 255;
        output[c * plane + p] = Math.min(255, Math.max(0, rgb[c] + delta)) / 255;
      }
    }
  }
  return {
    reference: { data: reference, shape: [3, height, width] },
    output: { data: output, shape: [3, height, width] },
  };
}

/** Copies one channel of an image into a [1, H, W] image. */
export function channel(image: ImageArray, index: number): ImageArray {
  const [, height, width] = image.shape;
  const plane = height * width;
  return {
    data: image.data.slice(index * plane, (index + 1) * plane),
    shape: [1, height, width],
  };
}

/** `image` plus Gaussian noise of standard deviation `sigma`, clipped to [0, 1]. */
export function addNoise(image: ImageArray, sigma: number, seed: number): ImageArray {
  const rng = new SplitMix64(seed);
  const data = image.data.map((v) => Math.min(1, Math.max(0, v + sigma * rng.nextNormal())));
  return { data, shape: image.shape };
}

export function constantImage(shape: [number, number, number], value: number): ImageArray {
  return { data: new Float32Array(shape[0] * shape[1] * shape[2]).fill(value), shape };
}

/** Asserts |received - expected| <= tolerance with a message naming both values. */
export function expectClose(
  received: number,
  expected: number,
  tolerance: number,
  label = "value",
) {
  const error = Math.abs(received - expected);
  expect(
    error <= tolerance,
    `${label}: expected ${expected}, received ${received} (|error| ${error} > ${tolerance})`,
  ).toBe(true);
}

/** Builds a metric result as `score` would write it, with the registry's conventions. */
export function result(
  metric: string,
  profile: ProfileName,
  value: number | null,
  status: MetricResult["status"] = "ok",
  borderCrop = 0,
): MetricResult {
  const definition = getMetric(metric, profile);
  const base = {
    metric,
    profile,
    higherIsBetter: definition.higherIsBetter,
    displayScale: definition.displayScale,
    conventions: definition.conventions(borderCrop),
  };
  if (status === "ok") return { ...base, status, value: value ?? Number.NaN };
  return { ...base, status, value: null, reason: `test ${status}` };
}
