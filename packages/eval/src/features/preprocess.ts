import { type OnnxTensor, TweedieError } from "@tweedie/core";
import { type ImageArray, rescaleImage } from "../image.js";
import type { ImageFeatureManifest } from "./manifest.js";
import { applyResize } from "./resize.js";

/**
 * Turns one CHW image on `range` into the float32 [1, C, H, W] tensor a feature model
 * expects, in the manifest's order: linear map from `range` to `valueRange`, resize, then
 * per-channel (v - mean) / std. The map and the resize commute because resampling weights
 * sum to 1 (before an optional clamp).
 */
export function imageToFeatureInput(
  image: ImageArray,
  range: readonly [number, number],
  manifest: ImageFeatureManifest,
): OnnxTensor {
  const [channels] = image.shape;
  if (channels !== manifest.input.channels) {
    throw new TweedieError(
      `feature model ${manifest.name} takes ${manifest.input.channels}-channel images`,
      {
        code: "shape_mismatch",
        path: [manifest.name, manifest.input.name],
        expected: manifest.input.channels,
        received: channels,
      },
    );
  }
  const mapped = rescaleImage(image, range, manifest.valueRange);
  const resized = applyResize(mapped, manifest.resize, manifest.valueRange);
  checkSize(resized, manifest);
  const data = Float32Array.from(resized.data);
  if (manifest.normalization !== null) {
    const { mean, std } = manifest.normalization;
    const plane = resized.shape[1] * resized.shape[2];
    for (let c = 0; c < channels; c++) {
      for (let p = c * plane; p < (c + 1) * plane; p++) data[p] = (data[p] - mean[c]) / std[c];
    }
  }
  return { dtype: "float32", data, dims: [1, ...resized.shape] };
}

function checkSize(image: ImageArray, manifest: ImageFeatureManifest): void {
  const [, height, width] = image.shape;
  const size = manifest.input.size;
  const fits =
    size.kind === "any" ||
    (size.kind === "static" && height === size.height && width === size.width) ||
    (size.kind === "multiple" && height % size.multiple === 0 && width % size.multiple === 0);
  if (!fits) {
    const rule =
      size.kind === "static"
        ? `${size.height}x${size.width}`
        : `sides that are multiples of ${size.kind === "multiple" ? size.multiple : 1}`;
    throw new TweedieError(
      `feature model ${manifest.name} takes ${rule}; the image is ${height}x${width} after its resize rule`,
      {
        code: "shape_mismatch",
        path: [manifest.name, manifest.input.name],
        expected: rule,
        received: `${height}x${width}`,
      },
    );
  }
}

/** Concatenates [1, C, H, W] tensors of equal dims into one [N, C, H, W] batch. */
export function stackBatch(tensors: readonly OnnxTensor[]): OnnxTensor {
  const first = tensors[0];
  const size = first.data.length;
  const data = new Float32Array(size * tensors.length);
  tensors.forEach((tensor, index) => {
    if (tensor.dtype !== "float32" || tensor.data.length !== size) {
      throw new TweedieError("batch images differ in size after resizing", {
        code: "shape_mismatch",
        path: ["images", index],
        expected: [...first.dims],
        received: [...tensor.dims],
      });
    }
    data.set(tensor.data, index * size);
  });
  return { dtype: "float32", data, dims: [tensors.length, ...first.dims.slice(1)] };
}
