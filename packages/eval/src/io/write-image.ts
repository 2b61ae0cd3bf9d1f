import { mkdir } from "node:fs/promises";
import { dirname, extname } from "node:path";
import { TweedieError } from "@tweedie/core";
import sharp from "sharp";
import { type ImageInput, toImageArray } from "../image.js";

export interface WriteImageOptions {
  /** 8 or 16 bits per channel; 16 needs a PNG path. */
  readonly bitDepth: 8 | 16;
  /** JPEG quality 1..100; default 75, the Pillow default that PIE-Bench outputs were saved with. */
  readonly quality?: number;
}

export interface WriteImageResult {
  readonly path: string;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly bitDepth: 8 | 16;
  /** Values outside [0, 1] that were clipped before quantisation. */
  readonly clipped: number;
}

/**
 * Writes a [C, H, W] image on [0, 1] (C = 1 or 3) as PNG or JPEG. Each value is clipped to
 * [0, 1] and rounded to round(v * 255) or round(v * 65535), so an image read by
 * `readImage` is written back unchanged at its own bit depth. 16-bit output goes through
 * sharp's `rgb16`/`grey16` colour space; without it sharp writes 8 bits.
 */
export async function writeImage(
  path: string,
  image: ImageInput,
  options: WriteImageOptions,
): Promise<WriteImageResult> {
  const { data, shape } = toImageArray(image, "image");
  const [channels, height, width] = shape;
  if (channels !== 1 && channels !== 3) {
    throw new TweedieError(`${path}: only 1- or 3-channel images can be written`, {
      code: "unsupported",
      path: [path],
      expected: "1 or 3 channels",
      received: channels,
    });
  }
  const format = formatOf(path, options.bitDepth);
  const maxValue = options.bitDepth === 16 ? 65535 : 255;
  const samples =
    options.bitDepth === 16 ? new Uint16Array(data.length) : new Uint8Array(data.length);
  const plane = height * width;
  let clipped = 0;
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      const v = data[c * plane + p];
      if (Number.isNaN(v)) {
        throw new TweedieError(`${path}: image contains NaN`, {
          code: "non_finite",
          path: [path, c, Math.floor(p / width), p % width],
          expected: "finite values on [0, 1]",
          received: v,
        });
      }
      if (v < 0 || v > 1) clipped++;
      samples[p * channels + c] = Math.round(Math.min(1, Math.max(0, v)) * maxValue);
    }
  }

  let pipeline = sharp(samples, { raw: { width, height, channels } });
  if (options.bitDepth === 16)
    pipeline = pipeline.toColourspace(channels === 1 ? "grey16" : "rgb16");
  else if (channels === 1) pipeline = pipeline.toColourspace("b-w");
  pipeline =
    format === "png" ? pipeline.png() : pipeline.jpeg({ quality: checkQuality(options.quality) });
  await mkdir(dirname(path), { recursive: true });
  await pipeline.toFile(path).catch((cause: unknown) => {
    throw new TweedieError(`${path}: writing failed`, { code: "io_failed", path: [path], cause });
  });
  return { path, width, height, channels, bitDepth: options.bitDepth, clipped };
}

function formatOf(path: string, bitDepth: number): "png" | "jpeg" {
  const extension = extname(path).toLowerCase();
  if (bitDepth !== 8 && bitDepth !== 16) {
    throw new TweedieError("bit depth must be 8 or 16", {
      code: "invalid_value",
      path: ["bitDepth"],
      expected: [8, 16],
      received: bitDepth,
    });
  }
  if (extension === ".png") return "png";
  if (extension === ".jpg" || extension === ".jpeg") {
    if (bitDepth === 16) {
      throw new TweedieError(`${path}: JPEG stores 8 bits per channel only`, {
        code: "unsupported",
        path: [path],
        expected: "a .png path for 16-bit output",
        received: extension,
      });
    }
    return "jpeg";
  }
  throw new TweedieError(`${path}: unsupported image extension`, {
    code: "unsupported",
    path: [path],
    expected: [".png", ".jpg", ".jpeg"],
    received: extension,
  });
}

function checkQuality(quality: number | undefined): number {
  const value = quality ?? 75;
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw new TweedieError("JPEG quality must be an integer from 1 to 100", {
      code: "out_of_range",
      path: ["quality"],
      expected: "an integer in [1, 100]",
      received: value,
    });
  }
  return value;
}
