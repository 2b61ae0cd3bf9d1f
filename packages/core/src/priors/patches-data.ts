import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TweedieError } from "../errors.js";
import type { Rng } from "../rng.js";
import { decodePng, encodePng } from "./patches-png.js";

/** Side of a square patch in pixels. */
export const PATCH_SIZE = 8;
/** Colour channels of a patch. */
export const PATCH_CHANNELS = 3;
/**
 * Length of a patch vector, 8 x 8 x 3 = 192. Value (c, dy, dx) of a patch sits at index
 * `c * 64 + dy * 8 + dx`, the order of a [3, 8, 8] CHW block.
 */
export const PATCH_DIM = PATCH_SIZE * PATCH_SIZE * PATCH_CHANNELS;

/** An RGB image on [-1, 1] (x = 2 u8 / 255 - 1) in CHW order, with no batch dimension. */
export interface PlanarImage {
  readonly name: string;
  readonly height: number;
  readonly width: number;
  /** 3 x height x width values, channel-major. */
  readonly data: Float32Array;
}

/** The train / held-out split of the sample photos (file names relative to the folder). */
export interface SampleSplit {
  readonly train: readonly string[];
  readonly heldout: readonly string[];
}

/** Reads `split.json` of a sample folder. */
export function readSampleSplit(folder: string): SampleSplit {
  const path = join(folder, "split.json");
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new TweedieError("failed to read the sample split", {
      code: "io_failed",
      path: [path],
      expected: 'a JSON file {"train": [...], "heldout": [...]}',
      cause,
    });
  }
  const split = parsed as Partial<SampleSplit>;
  for (const key of ["train", "heldout"] as const) {
    const list = split[key];
    if (!Array.isArray(list) || list.some((name) => typeof name !== "string")) {
      throw new TweedieError(`sample split field ${key} must be a list of file names`, {
        code: "invalid_value",
        path: [path, key],
        expected: "an array of strings",
        received: list,
      });
    }
  }
  return { train: split.train ?? [], heldout: split.heldout ?? [] };
}

/** Reads an 8-bit RGB (or RGBA, alpha dropped) PNG file into a [-1, 1] CHW image. */
export function readPlanarImage(path: string, name = path): PlanarImage {
  const raster = decodePng(readFileSync(path), path);
  if (raster.channels === 1) {
    throw new TweedieError("patch priors need colour images", {
      code: "invalid_value",
      path: [path],
      expected: "an RGB or RGBA PNG",
      received: "a greyscale PNG",
    });
  }
  const { width, height, channels } = raster;
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) data[c * plane + i] = (2 * raster.data[i * channels + c]) / 255 - 1;
  }
  return { name, height, width, data };
}

/**
 * Encodes a [-1, 1] CHW image as an 8-bit RGB PNG: u8 = round(255 (x + 1) / 2), clipped
 * to [0, 255].
 */
export function planarImageToPng(image: {
  height: number;
  width: number;
  data: Float32Array;
}): Uint8Array {
  const { height, width, data } = image;
  const plane = height * width;
  const bytes = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const value = Math.round((255 * (data[c * plane + i] + 1)) / 2);
      bytes[i * 3 + c] = Math.min(255, Math.max(0, value));
    }
  }
  return encodePng({ width, height, channels: 3, data: bytes });
}

/**
 * Copies the patch whose top-left pixel is (top, left) into `out` at `offset`, in the
 * order of PATCH_DIM. Rows and columns wrap around the image edges (circular indexing).
 */
export function extractPatch(
  image: PlanarImage,
  top: number,
  left: number,
  out: Float32Array | Float64Array,
  offset: number,
): void {
  const { height, width, data } = image;
  const plane = height * width;
  for (let c = 0; c < PATCH_CHANNELS; c++) {
    for (let dy = 0; dy < PATCH_SIZE; dy++) {
      const row = (top + dy) % height;
      for (let dx = 0; dx < PATCH_SIZE; dx++) {
        const column = (left + dx) % width;
        out[offset + c * 64 + dy * 8 + dx] = data[c * plane + row * width + column];
      }
    }
  }
}

/**
 * Draws `count` patches uniformly, with replacement, from every position where an 8 x 8
 * patch fits inside one of `images` (no wrap-around). Draw i uses the 53-bit uniform at
 * index i of `rng`, so the set depends only on the stream and the images, in order.
 * Returns a row-major [count, PATCH_DIM] Float32Array.
 */
export function samplePatches(
  images: readonly PlanarImage[],
  count: number,
  rng: Rng,
): Float32Array {
  const positions = images.map((image) => {
    const rows = image.height - PATCH_SIZE + 1;
    const columns = image.width - PATCH_SIZE + 1;
    if (rows < 1 || columns < 1) {
      throw new TweedieError("image is smaller than one patch", {
        code: "out_of_range",
        path: [image.name],
        expected: `at least ${PATCH_SIZE} x ${PATCH_SIZE} pixels`,
        received: `${image.height} x ${image.width}`,
      });
    }
    return rows * columns;
  });
  const total = positions.reduce((sum, n) => sum + n, 0);
  const uniforms = rng.uniform64(count);
  const out = new Float32Array(count * PATCH_DIM);
  for (let i = 0; i < count; i++) {
    let index = Math.floor(uniforms[i] * total);
    let imageIndex = 0;
    while (index >= positions[imageIndex]) {
      index -= positions[imageIndex];
      imageIndex++;
    }
    const image = images[imageIndex];
    const columns = image.width - PATCH_SIZE + 1;
    extractPatch(image, Math.floor(index / columns), index % columns, out, i * PATCH_DIM);
  }
  return out;
}
