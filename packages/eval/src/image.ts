import { TweedieError } from "@tweedie/core";

/**
 * A float image in CHW layout: value (c, y, x) is `data[(c * height + y) * width + x]`.
 * Every metric in this package takes this layout; `fromHWC` and `toHWC` are the only
 * conversions from and to the interleaved layout of image files.
 */
export interface ImageArray {
  readonly data: Float32Array;
  /** [channels, height, width]. */
  readonly shape: readonly [number, number, number];
}

/** An image input: [C, H, W], or a core Tensor of shape [1, C, H, W]. */
export interface ImageInput {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** A per-pixel mask over H x W; values in [0, 1], 1 = edited region (PIE-Bench convention). */
export interface MaskInput {
  readonly data: Float32Array | Uint8Array;
  /** [H, W] or [1, H, W]. */
  readonly shape: readonly number[];
}

/** Checks and normalises an [C, H, W] or [1, C, H, W] input into an `ImageArray` view. */
export function toImageArray(input: ImageInput, name: string): ImageArray {
  const shape = input.shape;
  const dims = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape;
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new TweedieError(`${name} must have shape [C, H, W] or [1, C, H, W]`, {
      code: "shape_mismatch",
      path: [name],
      expected: "[C, H, W] or [1, C, H, W] with positive sizes",
      received: [...shape],
    });
  }
  const [channels, height, width] = dims;
  if (input.data.length !== channels * height * width) {
    throw new TweedieError(`${name} data length does not match its shape`, {
      code: "shape_mismatch",
      path: [name],
      expected: channels * height * width,
      received: input.data.length,
    });
  }
  return { data: input.data, shape: [channels, height, width] };
}

/** Checks a mask against an image's height and width and returns it as H x W floats. */
export function toMaskArray(mask: MaskInput, height: number, width: number): Float32Array {
  const shape = mask.shape;
  const dims = shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape;
  if (dims.length !== 2 || dims[0] !== height || dims[1] !== width) {
    throw new TweedieError("mask must match the image height and width", {
      code: "shape_mismatch",
      path: ["mask"],
      expected: [height, width],
      received: [...shape],
    });
  }
  if (mask.data.length !== height * width) {
    throw new TweedieError("mask data length does not match its shape", {
      code: "shape_mismatch",
      path: ["mask"],
      expected: height * width,
      received: mask.data.length,
    });
  }
  const out = Float32Array.from(mask.data);
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (!(v >= 0 && v <= 1)) {
      throw new TweedieError("mask values must lie in [0, 1] (1 = edited region)", {
        code: "out_of_range",
        path: ["mask", i],
        expected: "a value in [0, 1]",
        received: v,
      });
    }
  }
  return out;
}

/** Converts interleaved HWC values into a CHW image, multiplying each value by `scale`. */
export function fromHWC(
  values: ArrayLike<number>,
  height: number,
  width: number,
  channels: number,
  scale = 1,
): ImageArray {
  const plane = height * width;
  if (values.length !== plane * channels) {
    throw new TweedieError("HWC data length does not match its shape", {
      code: "shape_mismatch",
      expected: plane * channels,
      received: values.length,
    });
  }
  const data = new Float32Array(plane * channels);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) data[c * plane + p] = values[p * channels + c] * scale;
  }
  return { data, shape: [channels, height, width] };
}

/** Converts a CHW image into interleaved HWC values. */
export function toHWC(image: ImageArray): Float32Array {
  const [channels, height, width] = image.shape;
  const plane = height * width;
  const out = new Float32Array(plane * channels);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) out[p * channels + c] = image.data[c * plane + p];
  }
  return out;
}

/** Removes `crop` pixels from every side of an image (a copy). */
export function cropBorder(image: ImageArray, crop: number): ImageArray {
  if (crop === 0) return image;
  const [channels, height, width] = image.shape;
  const outH = height - 2 * crop;
  const outW = width - 2 * crop;
  checkCrop(crop, height, width);
  const out = new Float32Array(channels * outH * outW);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < outH; y++) {
      const from = (c * height + y + crop) * width + crop;
      out.set(image.data.subarray(from, from + outW), (c * outH + y) * outW);
    }
  }
  return { data: out, shape: [channels, outH, outW] };
}

/** Removes `crop` pixels from every side of an H x W mask (a copy). */
export function cropMask(
  mask: Float32Array,
  height: number,
  width: number,
  crop: number,
): Float32Array {
  if (crop === 0) return mask;
  checkCrop(crop, height, width);
  const cropped = cropBorder({ data: mask, shape: [1, height, width] }, crop);
  return cropped.data;
}

function checkCrop(crop: number, height: number, width: number): void {
  if (!Number.isInteger(crop) || crop < 0 || 2 * crop >= Math.min(height, width)) {
    throw new TweedieError("border crop must be a non-negative integer below half the image size", {
      code: "out_of_range",
      path: ["crop"],
      expected: `an integer in [0, ${Math.ceil(Math.min(height, width) / 2) - 1}]`,
      received: crop,
    });
  }
}

/** Maps values linearly from [from[0], from[1]] to [to[0], to[1]] (a copy). */
export function rescaleImage(
  image: ImageArray,
  from: readonly [number, number],
  to: readonly [number, number],
): ImageArray {
  const scale = (to[1] - to[0]) / (from[1] - from[0]);
  if (from[0] === to[0] && scale === 1) return image;
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (image.data[i] - from[0]) * scale + to[0];
  return { data: out, shape: image.shape };
}
