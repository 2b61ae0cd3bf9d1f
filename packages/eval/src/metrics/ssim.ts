import { TweedieError } from "@tweedie/core";
import type { ImageArray } from "../image.js";
import { assertDataRange, assertSameShape } from "./psnr.js";
import type { WindowSpec } from "./types.js";

/** Wang et al. (2004): Gaussian window, sigma 1.5, truncated to 11 x 11. */
export const GAUSSIAN_WINDOW: WindowSpec = { kind: "gaussian", size: 11, sigma: 1.5 };

/** scikit-image's default: 7 x 7 uniform window. */
export const UNIFORM_WINDOW_7: WindowSpec = { kind: "uniform", size: 7, sigma: null };

export interface SsimOptions {
  /** L in C1 = (K1 L)^2 and C2 = (K2 L)^2. */
  readonly dataRange: number;
  readonly window: WindowSpec;
  /** Default 0.01. */
  readonly k1?: number;
  /** Default 0.03. */
  readonly k2?: number;
  /**
   * `population` (default, Wang et al.) divides the windowed second moments by the weight
   * sum; `sample` multiplies them by n / (n - 1) with n = size^2, as scikit-image does
   * when `use_sample_covariance=True`.
   */
  readonly covariance?: "population" | "sample";
}

/**
 * The SSIM map over the valid region: one value per channel and per pixel whose whole
 * window lies inside the image, so the map is (H - 2r) x (W - 2r) for window radius r.
 * `data[(c * height + y) * width + x]` belongs to image pixel (y + radius, x + radius).
 */
export interface SsimMap {
  readonly data: Float64Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly radius: number;
}

/** Normalised 1-D taps of a window; the 2-D window is their outer product. */
export function windowTaps(window: WindowSpec): Float64Array {
  const { size } = window;
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0) {
    throw new TweedieError("window size must be an odd positive integer", {
      code: "invalid_value",
      path: ["window", "size"],
      expected: "an odd integer >= 1",
      received: size,
    });
  }
  const radius = (size - 1) / 2;
  const taps = new Float64Array(size);
  if (window.kind === "uniform") return taps.fill(1 / size);
  const sigma = window.sigma ?? Number.NaN;
  if (!(sigma > 0)) {
    throw new TweedieError("a Gaussian window needs a positive sigma", {
      code: "invalid_value",
      path: ["window", "sigma"],
      expected: "a number > 0",
      received: window.sigma,
    });
  }
  let sum = 0;
  for (let k = 0; k < size; k++) {
    const d = k - radius;
    taps[k] = Math.exp((-d * d) / (2 * sigma * sigma));
    sum += taps[k];
  }
  for (let k = 0; k < size; k++) taps[k] /= sum;
  return taps;
}

/**
 * Computes the SSIM map of two images (Wang et al. 2004, eq. 13) with a separable window:
 * a horizontal pass over each row, then a vertical pass, both over valid positions only.
 */
export function ssimMap(a: ImageArray, b: ImageArray, options: SsimOptions): SsimMap {
  assertSameShape(a, b);
  assertDataRange(options.dataRange);
  const [channels, height, width] = a.shape;
  const taps = windowTaps(options.window);
  const size = taps.length;
  const radius = (size - 1) / 2;
  if (height < size || width < size) {
    throw new TweedieError("image is smaller than the SSIM window", {
      code: "out_of_range",
      path: ["output"],
      expected: `height and width >= ${size}`,
      received: [height, width],
    });
  }
  const outH = height - 2 * radius;
  const outW = width - 2 * radius;
  const c1 = ((options.k1 ?? 0.01) * options.dataRange) ** 2;
  const c2 = ((options.k2 ?? 0.03) * options.dataRange) ** 2;
  const n = size * size;
  const covNorm = options.covariance === "sample" ? n / (n - 1) : 1;

  const map = new Float64Array(channels * outH * outW);
  const moments = new Float64Array(5 * height * outW);
  const acc = new Float64Array(5 * outW);
  const plane = height * outW;
  for (let c = 0; c < channels; c++) {
    horizontalMoments(a.data, b.data, c * height * width, height, width, taps, moments);

    for (let y = 0; y < outH; y++) {
      acc.fill(0);
      for (let k = 0; k < size; k++) {
        const w = taps[k];
        const row = (y + k) * outW;
        for (let m = 0; m < 5; m++) {
          const from = m * plane + row;
          const to = m * outW;
          for (let x = 0; x < outW; x++) acc[to + x] += w * moments[from + x];
        }
      }
      const base = (c * outH + y) * outW;
      for (let x = 0; x < outW; x++) {
        const muX = acc[x];
        const muY = acc[outW + x];
        const varX = covNorm * (acc[2 * outW + x] - muX * muX);
        const varY = covNorm * (acc[3 * outW + x] - muY * muY);
        const covXY = covNorm * (acc[4 * outW + x] - muX * muY);
        const numerator = (2 * muX * muY + c1) * (2 * covXY + c2);
        const denominator = (muX * muX + muY * muY + c1) * (varX + varY + c2);
        map[base + x] = numerator / denominator;
      }
    }
  }
  return { data: map, channels, height: outH, width: outW, radius };
}

/** Mean SSIM over the valid region and all channels. */
export function ssim(a: ImageArray, b: ImageArray, options: SsimOptions): number {
  const map = ssimMap(a, b, options).data;
  let sum = 0;
  for (let i = 0; i < map.length; i++) sum += map[i];
  return sum / map.length;
}

/**
 * Windowed sums along each row of one channel, at valid column positions, for the five
 * moments x, y, x^2, y^2, xy. Writes moment m of row r at `out[m * H * outW + r * outW]`.
 */
function horizontalMoments(
  x: Float32Array,
  y: Float32Array,
  offset: number,
  height: number,
  width: number,
  taps: Float64Array,
  out: Float64Array,
): void {
  const size = taps.length;
  const outW = width - size + 1;
  const plane = height * outW;
  for (let r = 0; r < height; r++) {
    const row = offset + r * width;
    const dst = r * outW;
    for (let col = 0; col < outW; col++) {
      let sx = 0;
      let sy = 0;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      for (let k = 0; k < size; k++) {
        const w = taps[k];
        const u = x[row + col + k];
        const v = y[row + col + k];
        sx += w * u;
        sy += w * v;
        sxx += w * u * u;
        syy += w * v * v;
        sxy += w * u * v;
      }
      out[dst + col] = sx;
      out[plane + dst + col] = sy;
      out[2 * plane + dst + col] = sxx;
      out[3 * plane + dst + col] = syy;
      out[4 * plane + dst + col] = sxy;
    }
  }
}
