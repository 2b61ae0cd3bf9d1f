import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { TweedieError } from "@tweedie/core";
import { sha256Hex } from "../plan/canonical.js";
import { repositoryDataDir } from "./image-folders.js";
import {
  annotatedContentHash,
  buildManifest,
  compareBytewise,
  type DatasetItem,
  type DatasetManifest,
  type FashionAnnotation,
} from "./manifest.js";
import type { DatasetOptions } from "./options.js";

export const FASHION_SIDE = 28;
const FASHION_PIXELS = FASHION_SIDE * FASHION_SIDE;

/** Fashion-MNIST class names by label 0..9 (Xiao, Rasul and Vollgraf, arXiv:1708.07747). */
export const FASHION_CLASSES = [
  "t-shirt/top",
  "trouser",
  "pullover",
  "dress",
  "coat",
  "sandal",
  "shirt",
  "sneaker",
  "bag",
  "ankle boot",
] as const;

/** Returns the prompt of a class, one of the keys of the embedded fashion model's label table. */
export function fashionPrompt(label: number): string {
  const name = FASHION_CLASSES[label];
  return `a photo of ${name === "ankle boot" ? "an" : "a"} ${name}`;
}

/** Maps pixel values 0..255 to [-1, 1]: x = 2 v / 255 - 1, row-major 1 x 28 x 28. */
export function fashionPixels(values: ArrayLike<number>): Float32Array {
  return Float32Array.from(values, (v) => (2 * v) / 255 - 1);
}

const IDX_UBYTE = 0x08;

/**
 * Decodes an IDX file of unsigned bytes (the MNIST format: two zero bytes, type 0x08, the
 * rank, then big-endian uint32 sizes and the data). The rank and sizes must match
 * `expected`, where null accepts any size; the data must fill the file exactly.
 */
export function decodeIdx(
  bytes: Uint8Array,
  expected: (number | null)[],
  file: string,
): { dims: number[]; data: Uint8Array } {
  const fail = (message: string, expectedText: string, received: unknown): never => {
    throw new TweedieError(`invalid IDX file: ${message}`, {
      code: "invalid_value",
      path: [file],
      expected: expectedText,
      received,
    });
  };
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== IDX_UBYTE) {
    fail("bad magic number", "bytes 00 00 08 (unsigned bytes) at the start", [
      ...bytes.slice(0, 4),
    ]);
  }
  const rank = bytes[3];
  if (rank !== expected.length) fail("wrong rank", `rank ${expected.length}`, rank);
  const header = 4 + 4 * rank;
  if (bytes.length < header) fail("truncated header", `at least ${header} bytes`, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  dims.forEach((size, i) => {
    const want = expected[i];
    if (want !== null && size !== want) fail(`wrong size of dimension ${i}`, String(want), size);
  });
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + count) {
    fail("data length does not match the sizes", `${header + count} bytes`, bytes.length);
  }
  return { dims, data: bytes.subarray(header) };
}

async function readGzipIdx(
  file: string,
  expected: (number | null)[],
): Promise<{ dims: number[]; data: Uint8Array }> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (error) {
    throw new TweedieError("cannot read the fashion file", {
      code: (error as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "io_failed",
      path: [file],
      cause: error,
    });
  }
  let bytes: Uint8Array = raw;
  if (file.endsWith(".gz")) {
    try {
      bytes = gunzipSync(raw);
    } catch (error) {
      throw new TweedieError("fashion file is not valid gzip", {
        code: "invalid_value",
        path: [file],
        expected: "a gzip-compressed IDX file",
        received: (error as Error).message,
        cause: error,
      });
    }
  }
  return decodeIdx(bytes, expected, file);
}

/**
 * Loads held-out Fashion-MNIST images from two gzipped IDX files (by default the first
 * 100 test images in `data/fashion`): one item per image, id `test-NNNNN` (the index in
 * the test set), hashed over its 784 pixel bytes. `classes` and then `limit` filter in
 * index order. A `limit` larger than the selection is an error, so a config cannot
 * silently get fewer images than it requested.
 */
export async function loadFashion(
  options: Extract<DatasetOptions, { kind: "fashion" }> & { name: string },
): Promise<DatasetManifest> {
  const folder = join(repositoryDataDir(), "fashion");
  const imagesFile = options.images ?? join(folder, "t10k-first100-images-idx3-ubyte.gz");
  const labelsFile = options.labels ?? join(folder, "t10k-first100-labels-idx1-ubyte.gz");
  const images = await readGzipIdx(imagesFile, [null, FASHION_SIDE, FASHION_SIDE]);
  const labels = await readGzipIdx(labelsFile, [images.dims[0]]);
  const bad = labels.data.findIndex((label) => label > 9);
  if (bad >= 0) {
    throw new TweedieError(`fashion label ${bad} is out of range`, {
      code: "invalid_value",
      path: [labelsFile],
      expected: "labels 0..9",
      received: labels.data[bad],
    });
  }

  const items: DatasetItem[] = [];
  for (let index = 0; index < images.dims[0]; index++) {
    const label = labels.data[index];
    if (options.classes !== undefined && !options.classes.includes(label)) continue;
    const pixels = images.data.subarray(index * FASHION_PIXELS, (index + 1) * FASHION_PIXELS);
    const annotation: FashionAnnotation = {
      kind: "fashion",
      label,
      className: FASHION_CLASSES[label],
      index,
      prompt: fashionPrompt(label),
      values: Array.from(pixels),
    };
    const sha256 = sha256Hex(Buffer.from(pixels));
    items.push({
      id: `test-${String(index).padStart(5, "0")}`,
      sha256,
      contentHash: annotatedContentHash(sha256, annotation),
      annotation,
    });
  }
  if (options.limit !== undefined && options.limit > items.length) {
    throw new TweedieError(`limit ${options.limit} exceeds the ${items.length} images selected`, {
      code: "out_of_range",
      path: [options.name, "limit"],
      expected: `1..${items.length} (images in ${imagesFile}${options.classes ? " of the listed classes" : ""})`,
      received: options.limit,
    });
  }
  items.sort((a, b) => compareBytewise(a.id, b.id));
  const selected = options.limit === undefined ? items : items.slice(0, options.limit);
  return buildManifest({
    name: options.name,
    kind: "fashion",
    root: imagesFile,
    selection: { classes: options.classes ?? null, limit: options.limit ?? null },
    policy: {
      order: "bytewise",
      preprocess: null,
      channels: null,
      maxPixels: null,
      pixels: "2 v / 255 - 1",
    },
    items: selected,
  });
}
