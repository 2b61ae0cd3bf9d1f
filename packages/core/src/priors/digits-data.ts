import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { TweedieError } from "../errors.js";

/** Side of a digit image in pixels. */
export const DIGITS_SIDE = 8;
/** Length of a digit vector: 8 x 8 pixels, row-major. */
export const DIGITS_DIM = DIGITS_SIDE * DIGITS_SIDE;
/** Digit classes 0..9. */
export const DIGITS_CLASSES = 10;
/** The label of the unconditional prior (the empty prompt). */
export const DIGITS_NULL_LABEL = 10;
/** Largest pixel value of the UCI digits: the count of set pixels in a 4 x 4 block. */
export const DIGITS_PIXEL_MAX = 16;
/** File name of the digits data inside a data folder. */
export const DIGITS_DATA_FILE = "digits.csv.gz";
/** Rows held out for evaluation: row i (0-based) with i mod 5 = 4. */
export const DIGITS_HELD_OUT_RULE = "row index mod 5 = 4 (0-based) is held out";

/** Digit images on [-1, 1] (x = 2 v / 16 - 1) with their labels. */
export interface DigitsDataset {
  /** count x 64 pixels, row-major images. */
  readonly images: Float64Array;
  readonly labels: Int32Array;
  readonly count: number;
}

/** The file read, its SHA-256 and the parsed rows. */
export interface DigitsFile extends DigitsDataset {
  readonly path: string;
  readonly sha256: string;
}

function rowError(path: string, row: number, expected: string, received: unknown): TweedieError {
  return new TweedieError(`invalid digits row ${row + 1} in ${path}`, {
    code: "invalid_value",
    path: [path, row + 1],
    expected,
    received,
  });
}

/**
 * Reads the UCI digits in the scikit-learn layout: gzip-compressed CSV rows of 64 pixel
 * values in 0..16, then the label 0..9. Pixels map to [-1, 1] by x = 2 v / 16 - 1.
 */
export function readDigitsFile(path: string): DigitsFile {
  let bytes: Buffer;
  let text: string;
  try {
    bytes = readFileSync(path);
    text = gunzipSync(bytes).toString("utf8");
  } catch (cause) {
    throw new TweedieError(`failed to read the digits data ${path}`, {
      code: "io_failed",
      path: [path],
      expected: `a gzip-compressed CSV file (${DIGITS_DATA_FILE})`,
      cause,
    });
  }
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const images = new Float64Array(lines.length * DIGITS_DIM);
  const labels = new Int32Array(lines.length);
  lines.forEach((line, row) => {
    const fields = line.split(",").map((field) => Number(field));
    if (fields.length !== DIGITS_DIM + 1) {
      throw rowError(path, row, `${DIGITS_DIM + 1} comma-separated values`, fields.length);
    }
    for (let i = 0; i < DIGITS_DIM; i++) {
      const v = fields[i];
      if (!Number.isInteger(v) || v < 0 || v > DIGITS_PIXEL_MAX) {
        throw rowError(path, row, `pixel ${i} an integer in 0..${DIGITS_PIXEL_MAX}`, v);
      }
      images[row * DIGITS_DIM + i] = (2 * v) / DIGITS_PIXEL_MAX - 1;
    }
    const label = fields[DIGITS_DIM];
    if (!Number.isInteger(label) || label < 0 || label >= DIGITS_CLASSES) {
      throw rowError(path, row, `a label in 0..${DIGITS_CLASSES - 1}`, label);
    }
    labels[row] = label;
  });
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { path, sha256, images, labels, count: lines.length };
}

/** Row indices of the training and held-out parts (see DIGITS_HELD_OUT_RULE). */
export function digitsSplit(count: number): { train: Int32Array; heldOut: Int32Array } {
  const train: number[] = [];
  const heldOut: number[] = [];
  for (let i = 0; i < count; i++) (i % 5 === 4 ? heldOut : train).push(i);
  return { train: Int32Array.from(train), heldOut: Int32Array.from(heldOut) };
}

/** Copies rows `rows` of a dataset, in that order. */
export function selectDigits(dataset: DigitsDataset, rows: ArrayLike<number>): DigitsDataset {
  const images = new Float64Array(rows.length * DIGITS_DIM);
  const labels = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    images.set(dataset.images.subarray(row * DIGITS_DIM, (row + 1) * DIGITS_DIM), i * DIGITS_DIM);
    labels[i] = dataset.labels[row];
  }
  return { images, labels, count: rows.length };
}

/** Copies the images of class `label` (count x 64). */
export function imagesOfClass(dataset: DigitsDataset, label: number): Float64Array {
  const rows: number[] = [];
  for (let i = 0; i < dataset.count; i++) if (dataset.labels[i] === label) rows.push(i);
  return selectDigits(dataset, rows).images;
}
