import { join } from "node:path";
import { Tensor, TweedieError } from "@tweedie/core";
import { readImage } from "@tweedie/eval";
import sharp from "sharp";
import { FASHION_SIDE, fashionPixels } from "../datasets/fashion.js";
import { planGeometry } from "../datasets/image-check.js";
import type { DatasetItem, DatasetManifest } from "../datasets/manifest.js";

export interface ItemImage {
  /** [1, C, H, W] on [-1, 1]. */
  x: Tensor;
  /** Facts about how the file became the tensor, recorded with the cell. */
  source: Record<string, unknown>;
}

/**
 * Loads a dataset item as the model receives it. Digits rows become v / 8 - 1 on a
 * 1 x 8 x 8 grid and Fashion-MNIST images 2 v / 255 - 1 on a 1 x 28 x 28 grid. Image files
 * are read upright (EXIF orientation applied) with 16-bit precision kept, given the
 * dataset's channel, resize and crop policies, and mapped to [-1, 1].
 */
export async function loadItemImage(
  dataset: Pick<DatasetManifest, "name" | "root" | "policy">,
  item: DatasetItem,
): Promise<ItemImage> {
  const annotation = item.annotation;
  if (annotation?.kind === "digit") {
    const data = Float32Array.from(annotation.values, (v) => v / 8 - 1);
    return {
      x: new Tensor(data, [1, 1, 8, 8]),
      source: { row: annotation.row, label: annotation.label },
    };
  }
  if (annotation?.kind === "fashion") {
    return {
      x: new Tensor(fashionPixels(annotation.values), [1, 1, FASHION_SIDE, FASHION_SIDE]),
      source: { index: annotation.index, label: annotation.label },
    };
  }
  if (!item.path) {
    throw new TweedieError("dataset item has no file", {
      code: "missing",
      path: [dataset.name, item.id],
    });
  }
  const file = join(dataset.root, item.path);
  const channels = dataset.policy.channels;
  const background = channels && channels.alpha === "composite" ? channels.background : undefined;
  const image = await readImage(file, {
    ...(background ? { background } : {}),
    ...(dataset.policy.maxPixels ? { maxPixels: dataset.policy.maxPixels } : {}),
  });
  const [c, h, w] = image.shape;
  let data: Float32Array = image.data;
  let height = h;
  let width = w;
  const preprocess = dataset.policy.preprocess;
  const geometry = preprocess ? planGeometry(w, h, preprocess) : null;
  if (geometry?.resize || geometry?.crop) {
    ({ data, width, height } = await resample(image.data, c, h, w, geometry));
  }
  const x = new Float32Array(data.length);
  for (let i = 0; i < x.length; i++) x[i] = 2 * data[i] - 1;
  return {
    x: new Tensor(x, [1, c, height, width]),
    source: {
      file: item.path,
      bitDepth: image.meta.bitDepth,
      orientation: image.meta.orientation,
      storedSize: [image.meta.width, image.meta.height],
      geometry,
    },
  };
}

/** Resizes and crops [C, H, W] on [0, 1] through sharp at 16 bits per channel. */
async function resample(
  data: Float32Array,
  c: number,
  h: number,
  w: number,
  geometry: NonNullable<ReturnType<typeof planGeometry>>,
): Promise<{ data: Float32Array; width: number; height: number }> {
  const interleaved = new Uint16Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < h * w; i++)
      interleaved[i * c + ch] = Math.round(data[ch * h * w + i] * 65535);
  }
  let pipeline = sharp(interleaved, { raw: { width: w, height: h, channels: c as 1 | 3 } });
  if (geometry.resize) {
    pipeline = pipeline.resize(geometry.resize.width, geometry.resize.height, {
      kernel: geometry.resize.filter as "lanczos3",
      fit: "fill",
    });
  }
  if (geometry.crop) pipeline = pipeline.extract(geometry.crop);
  const colourspace = c === 1 ? "grey16" : "rgb16";
  const { data: out, info } = await pipeline
    .toColourspace(colourspace)
    .raw({ depth: "ushort" })
    .toBuffer({ resolveWithObject: true });
  const values = new Uint16Array(out.buffer, out.byteOffset, out.byteLength / 2);
  const planar = new Float32Array(c * info.width * info.height);
  const plane = info.width * info.height;
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < plane; i++) planar[ch * plane + i] = values[i * info.channels + ch] / 65535;
  }
  return { data: planar, width: info.width, height: info.height };
}
