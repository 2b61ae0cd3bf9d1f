import sharp from "sharp";
import type { ChannelPolicy, PreprocessPolicy } from "./options.js";

/** Facts an image header states, read without decoding pixels. */
export interface ImageHeader {
  format: string;
  /** Stored size, before EXIF orientation. */
  width: number;
  height: number;
  /** EXIF Orientation 1..8; 1 when absent. */
  orientation: number;
  /** Bits per sample after decoding: 8 or 16; null for other sample formats (float TIFF...). */
  bitDepth: 8 | 16 | null;
  /** Bands as stored: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA (palette images with tRNS: 4). */
  channels: number;
  hasAlpha: boolean;
  palette: boolean;
  pages: number;
}

/** Reads an image header; a seam so tests and other readers can stand in for sharp. */
export type ImageProbe = (file: string) => Promise<ImageHeader>;

function bitDepthOf(depth: string): 8 | 16 | null {
  if (depth === "ushort") return 16;
  if (depth === "uchar") return 8;
  return null;
}

/** Reads the header with sharp, which parses metadata without decoding pixel data. */
export const probeWithSharp: ImageProbe = async (file) => {
  const meta = await sharp(file).metadata();
  return {
    format: meta.format,
    width: meta.width,
    height: meta.height,
    orientation: meta.orientation ?? 1,
    bitDepth: bitDepthOf(meta.depth),
    channels: meta.channels,
    hasAlpha: meta.hasAlpha,
    palette: meta.isPalette,
    pages: meta.pages ?? 1,
  };
};

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The resize and crop a preprocessing policy applies to an upright image. */
export interface Geometry {
  resize: { width: number; height: number; filter: string } | null;
  crop: Box | null;
  width: number;
  height: number;
}

/**
 * Computes the resize and crop for an upright width x height image. `shortSideCrop`
 * scales the shorter side to `size` (the longer one to round(long x size / short)) and
 * crops the centred size x size square, leaning to the top-left by half a pixel when the
 * margin is odd.
 */
export function planGeometry(width: number, height: number, policy: PreprocessPolicy): Geometry {
  if (policy.resize === "none") return { resize: null, crop: null, width, height };
  const size = policy.size;
  if (policy.resize === "stretch") {
    return {
      resize: { width: size, height: size, filter: policy.filter },
      crop: null,
      width: size,
      height: size,
    };
  }
  const short = Math.min(width, height);
  const scaledWidth = width === short ? size : Math.round((width * size) / short);
  const scaledHeight = height === short ? size : Math.round((height * size) / short);
  return {
    resize: { width: scaledWidth, height: scaledHeight, filter: policy.filter },
    crop: {
      left: Math.floor((scaledWidth - size) / 2),
      top: Math.floor((scaledHeight - size) / 2),
      width: size,
      height: size,
    },
    width: size,
    height: size,
  };
}

/** Results of checking one image, stored with its item. */
export interface ImageCheck {
  format: string;
  storedWidth: number;
  storedHeight: number;
  orientation: number;
  /** True when the EXIF orientation is not 1, so pixels are rotated or flipped upright. */
  orientationApplied: boolean;
  /** Size after orientation, before preprocessing. */
  uprightWidth: number;
  uprightHeight: number;
  bitDepth: 8 | 16 | null;
  sourceChannels: number;
  /** Action of the channel policy: keep RGB, copy grey to RGB, or composite alpha. */
  channelAction: "none" | "grey-to-rgb" | "composite-alpha" | "rejected";
  geometry: Geometry;
}

export interface ImageRules {
  preprocess: PreprocessPolicy;
  channels: ChannelPolicy;
  maxPixels: number;
  /** Exact upright size the dataset requires (PIE-Bench: 512 x 512). */
  requiredSize?: readonly [number, number];
}

/** Checks one header against the dataset's rules; `problems` is empty when the image is usable. */
export function checkImageHeader(
  header: ImageHeader,
  rules: ImageRules,
): { check: ImageCheck; problems: string[] } {
  const problems: string[] = [];

  const pixels = header.width * header.height;
  if (pixels > rules.maxPixels) {
    problems.push(
      `${header.width} x ${header.height} = ${pixels} pixels exceeds maxPixels ${rules.maxPixels}`,
    );
  }
  if (header.pages > 1) {
    problems.push(`${header.pages} pages or frames; only single-image files are supported`);
  }
  if (header.bitDepth === null) {
    problems.push("unsupported sample format; expected 8- or 16-bit integer samples");
  }
  if (!Number.isInteger(header.orientation) || header.orientation < 1 || header.orientation > 8) {
    problems.push(`invalid EXIF orientation ${header.orientation}; expected 1..8`);
  }

  const swapped = header.orientation >= 5 && header.orientation <= 8;
  const uprightWidth = swapped ? header.height : header.width;
  const uprightHeight = swapped ? header.width : header.height;
  const channelAction = decideChannels(header, rules.channels, problems);
  if (
    rules.requiredSize &&
    (uprightWidth !== rules.requiredSize[0] || uprightHeight !== rules.requiredSize[1])
  ) {
    problems.push(
      `size ${uprightWidth} x ${uprightHeight}; expected ${rules.requiredSize[0]} x ${rules.requiredSize[1]}`,
    );
  }

  const check: ImageCheck = {
    format: header.format,
    storedWidth: header.width,
    storedHeight: header.height,
    orientation: header.orientation,
    orientationApplied: header.orientation !== 1,
    uprightWidth,
    uprightHeight,
    bitDepth: header.bitDepth,
    sourceChannels: header.channels,
    channelAction,
    geometry: planGeometry(uprightWidth, uprightHeight, rules.preprocess),
  };
  return { check, problems };
}

function decideChannels(
  header: ImageHeader,
  policy: ChannelPolicy,
  problems: string[],
): ImageCheck["channelAction"] {
  if (header.hasAlpha) {
    if (policy.alpha === "composite") return "composite-alpha";
    const what = header.palette ? "palette with transparency, decoded as" : "";
    problems.push(
      `${what ? `${what} ` : ""}${header.channels} channels with alpha; set channels.alpha: composite to blend over a background`,
    );
    return "rejected";
  }
  if (header.channels === 1) return "grey-to-rgb";
  if (header.channels === 3) return "none";
  problems.push(`${header.channels} channels; expected 1 (grey) or 3 (RGB)`);
  return "rejected";
}
