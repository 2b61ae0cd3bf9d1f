import { TweedieError } from "@tweedie/core";
import type { ImageArray } from "../image.js";
import type { ResizeRule } from "./manifest.js";

/**
 * Resamplers for feature-model inputs, implemented here so that the pixels a network
 * receives do not depend on an image library's version:
 * - `bicubic`, antialias: PIL's BICUBIC convolution (a = -0.5, support 2 scaled by the
 *   reduction factor), horizontal pass first, float64 sums stored as float32 between
 *   passes, as Pillow 9.4 resamples mode "F" images. clean-fid's "clean" mode resizes this
 *   way; transformers' CLIPImageProcessor uses the same filter on 8-bit images.
 * - `bilinear`, antialias: PIL's BILINEAR (triangle filter, same scheme).
 * - `bilinear`, no antialias: torch `interpolate(mode="bilinear", align_corners=False)`, as
 *   in clean-fid's "legacy_pytorch" mode and torchvision's tensor `Resize` with antialias off.
 * The tests compare all three with Pillow 9.4 and scikit-image 0.19 output.
 */
export interface Resampling {
  readonly filter: "bilinear" | "bicubic";
  readonly antialias: boolean;
}

/** Describes the resize path in words, for the conventions of every network metric result. */
export function describeResize(rule: ResizeRule): string {
  if (rule.kind === "none") return "none (the input must already have the graph's size)";
  const method = describeResampling(rule);
  const clamp = rule.clamp ? ", clamped to the value range" : "";
  if (rule.kind === "exact") return `to ${rule.height}x${rule.width} by ${method}${clamp}`;
  const max = rule.maxSize === undefined ? "" : `, longer side at most ${rule.maxSize}`;
  const crop = rule.centerCrop ? `, centre crop ${rule.centerCrop[0]}x${rule.centerCrop[1]}` : "";
  return `shorter side to ${rule.size}${max} by ${method}${clamp}${crop}`;
}

function describeResampling(resampling: Resampling): string {
  if (resampling.antialias) {
    const pil = resampling.filter === "bicubic" ? "BICUBIC" : "BILINEAR";
    return `@tweedie/eval ${resampling.filter}, antialias (PIL ${pil} algorithm)`;
  }
  if (resampling.filter === "bilinear") {
    return "@tweedie/eval bilinear, no antialias (torch interpolate, align_corners=False)";
  }
  return "@tweedie/eval bicubic, no antialias";
}

/** Output [height, width] of a resize rule for an input of the given size, before any crop. */
export function resizedSize(
  rule: Exclude<ResizeRule, { kind: "none" }>,
  height: number,
  width: number,
): [number, number] {
  if (rule.kind === "exact") return [rule.height, rule.width];
  // torchvision Resize(int) and the transformers shortest-edge rule: int() truncates.
  const short = Math.min(height, width);
  const long = Math.max(height, width);
  let newShort = rule.size;
  let newLong = Math.trunc((rule.size * long) / short);
  if (rule.maxSize !== undefined && newLong > rule.maxSize) {
    newShort = Math.trunc((rule.maxSize * newShort) / newLong);
    newLong = rule.maxSize;
  }
  return height <= width ? [newShort, newLong] : [newLong, newShort];
}

/** Applies a resize rule (resample, optional clamp, optional centre crop). */
export function applyResize(
  image: ImageArray,
  rule: ResizeRule,
  valueRange: readonly [number, number],
): ImageArray {
  if (rule.kind === "none") return image;
  const [, height, width] = image.shape;
  const [outH, outW] = resizedSize(rule, height, width);
  let resized = resample(image, outH, outW, rule);
  if (rule.clamp) resized = clampImage(resized, valueRange);
  if (rule.kind === "shorter-side" && rule.centerCrop) {
    resized = centerCrop(resized, rule.centerCrop[0], rule.centerCrop[1]);
  }
  return resized;
}

/** Resamples a CHW image to outH x outW; returns the input itself when the size is unchanged. */
export function resample(
  image: ImageArray,
  outH: number,
  outW: number,
  resampling: Resampling,
): ImageArray {
  const [, height, width] = image.shape;
  if (outH === height && outW === width) return image;
  if (!resampling.antialias && resampling.filter === "bicubic") {
    throw new TweedieError("bicubic resizing without antialias is not implemented", {
      code: "unsupported",
      path: ["resize"],
      expected: "bicubic with antialias, or bilinear with or without antialias",
      received: resampling,
    });
  }
  if (!resampling.antialias) return bilinearNoAntialias(image, outH, outW);
  const filter = resampling.filter === "bicubic" ? BICUBIC : TRIANGLE;
  // PIL resamples the horizontal direction first and stores the pass as float32.
  const horizontal = width === outW ? image : convolveAxis(image, outW, filter, "x");
  return height === outH ? horizontal : convolveAxis(horizontal, outH, filter, "y");
}

interface Filter {
  readonly support: number;
  weight(x: number): number;
}

const TRIANGLE: Filter = {
  support: 1,
  weight: (x) => {
    const t = Math.abs(x);
    return t < 1 ? 1 - t : 0;
  },
};

/** Keys' cubic convolution with a = -0.5, PIL's BICUBIC kernel. */
const BICUBIC: Filter = {
  support: 2,
  weight: (x) => {
    const a = -0.5;
    const t = Math.abs(x);
    if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    return 0;
  },
};

interface Taps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float64Array;
  readonly stride: number;
}

/**
 * Normalised filter taps per output index, as PIL 9's `precompute_coeffs`: centre
 * (i + 0.5) scale, support scaled by max(scale, 1), taps in [centre - support + 0.5,
 * centre + support + 0.5) truncated to integers and clipped to the input.
 */
function precomputeTaps(inSize: number, outSize: number, filter: Filter): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const low = Math.max(Math.trunc(centre - support + 0.5), 0);
    const high = Math.min(Math.trunc(centre + support + 0.5), inSize);
    let total = 0;
    for (let x = 0; x < high - low; x++) {
      const w = filter.weight((x + low - centre + 0.5) / filterScale);
      weights[i * stride + x] = w;
      total += w;
    }
    if (total !== 0) {
      for (let x = 0; x < high - low; x++) weights[i * stride + x] /= total;
    }
    start[i] = low;
    count[i] = high - low;
  }
  return { start, count, weights, stride };
}

function convolveAxis(image: ImageArray, outSize: number, filter: Filter, axis: "x" | "y") {
  const [channels, height, width] = image.shape;
  const outH = axis === "y" ? outSize : height;
  const outW = axis === "x" ? outSize : width;
  const taps = precomputeTaps(axis === "x" ? width : height, outSize, filter);
  const out = new Float32Array(channels * outH * outW);
  const src = image.data;
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const i = axis === "x" ? x : y;
        const first = taps.start[i];
        let sum = 0;
        for (let t = 0; t < taps.count[i]; t++) {
          const w = taps.weights[i * taps.stride + t];
          const value =
            axis === "x"
              ? src[(c * height + y) * width + first + t]
              : src[(c * height + first + t) * width + x];
          sum += w * value;
        }
        out[(c * outH + y) * outW + x] = sum;
      }
    }
  }
  return { data: out, shape: [channels, outH, outW] } as ImageArray;
}

/**
 * torch `interpolate(mode="bilinear", align_corners=False)`: source coordinate
 * max((i + 0.5) in / out - 0.5, 0), neighbours floor and floor + 1 (clipped to the edge).
 * Shrinking by more than 2 skips pixels (aliasing), as torch does.
 */
function bilinearNoAntialias(image: ImageArray, outH: number, outW: number): ImageArray {
  const [channels, height, width] = image.shape;
  const ys = linearTaps(height, outH);
  const xs = linearTaps(width, outW);
  const out = new Float32Array(channels * outH * outW);
  const src = image.data;
  for (let c = 0; c < channels; c++) {
    const plane = c * height * width;
    for (let y = 0; y < outH; y++) {
      const row0 = plane + ys.low[y] * width;
      const row1 = plane + ys.high[y] * width;
      const wy = ys.fraction[y];
      for (let x = 0; x < outW; x++) {
        const wx = xs.fraction[x];
        const top = (1 - wx) * src[row0 + xs.low[x]] + wx * src[row0 + xs.high[x]];
        const bottom = (1 - wx) * src[row1 + xs.low[x]] + wx * src[row1 + xs.high[x]];
        out[(c * outH + y) * outW + x] = (1 - wy) * top + wy * bottom;
      }
    }
  }
  return { data: out, shape: [channels, outH, outW] };
}

function linearTaps(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const low = new Int32Array(outSize);
  const high = new Int32Array(outSize);
  const fraction = new Float64Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const source = Math.max((i + 0.5) * scale - 0.5, 0);
    const floor = Math.min(Math.floor(source), inSize - 1);
    low[i] = floor;
    high[i] = Math.min(floor + 1, inSize - 1);
    fraction[i] = source - floor;
  }
  return { low, high, fraction };
}

function clampImage(image: ImageArray, range: readonly [number, number]): ImageArray {
  const data = image.data.map((v) => Math.min(range[1], Math.max(range[0], v)));
  return { data, shape: image.shape };
}

/** Crops the centre as transformers does: top (H - h) // 2, left (W - w) // 2. */
export function centerCrop(image: ImageArray, cropH: number, cropW: number): ImageArray {
  const [channels, height, width] = image.shape;
  if (cropH > height || cropW > width) {
    throw new TweedieError("centre crop is larger than the resized image", {
      code: "out_of_range",
      path: ["resize", "centerCrop"],
      expected: `at most ${height}x${width}`,
      received: `${cropH}x${cropW}`,
    });
  }
  if (cropH === height && cropW === width) return image;
  const top = Math.floor((height - cropH) / 2);
  const left = Math.floor((width - cropW) / 2);
  const out = new Float32Array(channels * cropH * cropW);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < cropH; y++) {
      const from = (c * height + top + y) * width + left;
      out.set(image.data.subarray(from, from + cropW), (c * cropH + y) * cropW);
    }
  }
  return { data: out, shape: [channels, cropH, cropW] };
}
