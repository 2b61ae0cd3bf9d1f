import { type Tensor, TweedieError } from "@tweedie/core";
import { encodeNpy } from "@tweedie/eval";
import sharp from "sharp";

/**
 * Encodes item `index` of a [N, C, H, W] tensor on [-1, 1] as an 8-bit PNG: values are
 * clipped to [-1, 1] and mapped to round(255 (x + 1) / 2). Encoding is deterministic, so
 * the same tensor gives the same bytes on every run and worker. One channel gives a
 * greyscale PNG, three an RGB one.
 */
export async function encodePng(tensor: Tensor, index = 0): Promise<Buffer> {
  const [, c, h, w] = tensor.shape;
  if (c !== 1 && c !== 3) {
    throw new TweedieError("only 1- or 3-channel tensors can be written as PNG", {
      code: "unsupported",
      expected: "1 or 3 channels",
      received: c,
    });
  }
  const item = tensor.item(index).data;
  const bytes = Buffer.alloc(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < h * w; i++) {
      const v = Math.min(1, Math.max(-1, item[ch * h * w + i]));
      bytes[i * c + ch] = Math.round(((v + 1) / 2) * 255);
    }
  }
  // Without an explicit colour space sharp writes one-channel input as an RGB PNG, which
  // readers then load as 3 channels.
  return sharp(bytes, { raw: { width: w, height: h, channels: c } })
    .toColourspace(c === 1 ? "b-w" : "srgb")
    .png({ compressionLevel: 9, adaptiveFiltering: false })
    .toBuffer();
}

/** Encodes item `index` as float32 `.npy` [C, H, W], values on [-1, 1] unchanged. */
export function encodeTensorNpy(tensor: Tensor, index = 0): Uint8Array {
  const item = tensor.item(index);
  return encodeNpy({ data: item.data, shape: item.shape.slice(1) });
}
