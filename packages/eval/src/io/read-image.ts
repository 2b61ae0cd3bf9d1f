import { access } from "node:fs/promises";
import { TweedieError } from "@tweedie/core";
import sharp, { type Metadata } from "sharp";
import type { ImageArray } from "../image.js";

/** sharp's own default input limit, 16383 x 16383 pixels. */
export const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

export interface ReadImageOptions {
  /**
   * RGB colour on [0, 1] to composite an alpha channel onto. Without it, an image with
   * alpha (RGBA, grey + alpha, palette with transparency) is rejected.
   */
  readonly background?: readonly [number, number, number];
  /** Largest width x height accepted, checked from the header before decoding. */
  readonly maxPixels?: number;
}

export interface ImageMetadata {
  readonly path: string;
  readonly format: string;
  /** Upright size, after EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** Bits per channel in the file: 8, or 16 for 16-bit PNG and TIFF. */
  readonly bitDepth: 8 | 16;
  /** EXIF Orientation tag, 1 when absent. */
  readonly orientation: number;
  /** True when the orientation tag rotated or flipped the stored pixels. */
  readonly orientationApplied: boolean;
  /** Channels of the decoded file, alpha included (a palette PNG reports its expansion). */
  readonly sourceChannels: number;
  readonly isPalette: boolean;
  /** `rgb`: colour channels as stored; `grey-to-rgb`: one grey channel copied three times. */
  readonly channelPolicy: "rgb" | "grey-to-rgb";
  /** `composited`: out = alpha c + (1 - alpha) background, per channel, on [0, 1] values. */
  readonly alpha: "none" | "composited";
  readonly background: readonly [number, number, number] | null;
  readonly hasIccProfile: boolean;
}

/** An image read for scoring: float32 [3, H, W] on [0, 1], and how it was read. */
export interface LoadedImage extends ImageArray {
  readonly meta: ImageMetadata;
}

/**
 * Reads an image file upright (EXIF orientation applied) as float32 [3, H, W] on [0, 1].
 * 8-bit files give steps of 1/255 and 16-bit PNGs steps of 1/65535, read exactly through
 * sharp's 16-bit colour spaces. Grey images become three equal channels. Alpha is
 * composited onto `options.background`, or the file is rejected.
 */
export async function readImage(
  path: string,
  options: ReadImageOptions = {},
): Promise<LoadedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const meta = await readMetadata(path);
  const pixels = meta.width * meta.height;
  if (pixels > maxPixels) {
    throw new TweedieError("image has too many pixels to decode", {
      code: "out_of_range",
      path: [path],
      expected: `at most ${maxPixels} pixels`,
      received: `${meta.width}x${meta.height} = ${pixels} pixels`,
    });
  }

  const bitDepth = bitDepthOf(meta, path);
  const grey = meta.space === "b-w" || meta.space === "grey16";
  const background = options.background ? checkBackground(options.background) : null;
  if (meta.hasAlpha && !background) {
    const layout = grey ? "grey + alpha" : "RGB + alpha";
    throw new TweedieError(`image has ${meta.channels} channels (${layout})`, {
      code: "unsupported",
      path: [path],
      expected: "1 or 3 channels, or a background colour to composite alpha onto",
      received: `${meta.channels} channels`,
      hint: "composite the alpha channel onto a background colour: channels: { alpha: composite, background: [r, g, b] } in a runner dataset, or readImage's background option, on [0, 1]",
    });
  }

  const colourspace = grey
    ? bitDepth === 16
      ? "grey16"
      : "b-w"
    : bitDepth === 16
      ? "rgb16"
      : "srgb";
  const decoded = await sharp(path, { limitInputPixels: maxPixels })
    .autoOrient()
    .toColourspace(colourspace)
    .raw(bitDepth === 16 ? { depth: "ushort" } : {})
    .toBuffer({ resolveWithObject: true })
    .catch((cause: unknown) => {
      throw new TweedieError("decoding failed", {
        code: "io_failed",
        path: [path],
        expected: "a complete image file (a truncated or corrupt file decodes its header only)",
        received: decoderMessage(cause),
        cause,
      });
    });
  const { info } = decoded;
  const expectedChannels = (grey ? 1 : 3) + (meta.hasAlpha ? 1 : 0);
  if (info.channels !== expectedChannels) {
    throw new TweedieError("decoder returned an unexpected channel count", {
      code: "io_failed",
      path: [path],
      expected: expectedChannels,
      received: info.channels,
    });
  }

  const samples = bitDepth === 16 ? asUint16(decoded.data) : decoded.data;
  const data = toPlanarRgb(samples, info.width, info.height, info.channels, grey, {
    maxValue: bitDepth === 16 ? 65535 : 255,
    background,
  });
  const orientation = meta.orientation ?? 1;
  return {
    data,
    shape: [3, info.height, info.width],
    meta: {
      path,
      format: meta.format,
      width: info.width,
      height: info.height,
      bitDepth,
      orientation,
      orientationApplied: orientation !== 1,
      sourceChannels: meta.channels,
      isPalette: meta.isPalette,
      channelPolicy: grey ? "grey-to-rgb" : "rgb",
      alpha: meta.hasAlpha ? "composited" : "none",
      background,
      hasIccProfile: meta.hasProfile,
    },
  };
}

async function readMetadata(path: string): Promise<Metadata> {
  try {
    await access(path);
  } catch (cause) {
    throw new TweedieError("image file not found", {
      code: "not_found",
      path: [path],
      cause,
    });
  }
  try {
    return await sharp(path).metadata();
  } catch (cause) {
    throw new TweedieError("not a readable image", {
      code: "io_failed",
      path: [path],
      expected: "a PNG, JPEG, WebP, TIFF or GIF file",
      received: decoderMessage(cause),
      cause,
    });
  }
}

/** Returns the decoder's message without the dangling colon that sharp leaves when libvips adds no detail. */
function decoderMessage(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  return message.trim().replace(/:$/, "");
}

function bitDepthOf(meta: Metadata, path: string): 8 | 16 {
  if (meta.depth === "uchar") return 8;
  if (meta.depth === "ushort") return 16;
  throw new TweedieError(`unsupported sample format ${meta.depth}`, {
    code: "unsupported",
    path: [path],
    expected: "8-bit (uchar) or 16-bit (ushort) samples",
    received: meta.depth,
  });
}

function checkBackground(background: readonly number[]): [number, number, number] {
  const valid =
    background.length === 3 && background.every((v) => Number.isFinite(v) && v >= 0 && v <= 1);
  if (!valid) {
    throw new TweedieError("background must be an RGB triple on [0, 1]", {
      code: "invalid_value",
      path: ["background"],
      expected: "[r, g, b] with each value in [0, 1]",
      received: background,
    });
  }
  return [background[0], background[1], background[2]];
}

function asUint16(buffer: Buffer): Uint16Array {
  const aligned = buffer.byteOffset % 2 === 0 ? buffer : Buffer.from(buffer);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
}

/** Interleaved samples (grey or RGB, optionally with alpha last) to planar RGB on [0, 1]. */
function toPlanarRgb(
  samples: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  grey: boolean,
  options: { maxValue: number; background: readonly [number, number, number] | null },
): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const colourChannels = grey ? 1 : 3;
  const hasAlpha = channels > colourChannels;
  const { maxValue, background } = options;
  for (let p = 0; p < plane; p++) {
    const base = p * channels;
    const alpha = hasAlpha ? samples[base + colourChannels] / maxValue : 1;
    for (let c = 0; c < 3; c++) {
      const value = samples[base + (grey ? 0 : c)] / maxValue;
      out[c * plane + p] = hasAlpha ? alpha * value + (1 - alpha) * background![c] : value;
    }
  }
  return out;
}
