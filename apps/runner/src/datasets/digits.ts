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
  type DigitAnnotation,
} from "./manifest.js";
import type { DatasetOptions } from "./options.js";

export const DIGIT_SIDE = 8;
const VALUES_PER_ROW = DIGIT_SIDE * DIGIT_SIDE + 1;

/** Row i (from 0) is held out for evaluation when i mod 5 = 4; the others train the prior. */
export function isHeldOutDigitRow(row: number): boolean {
  return row % 5 === 4;
}

/** Returns the prompt of a digit class, as the embedded digits prior's label table expects. */
export function digitPrompt(label: number): string {
  return `a handwritten digit ${label}`;
}

/** Maps pixel values 0..16 to [-1, 1]: x = 2 v / 16 - 1, row-major 1 x 8 x 8. */
export function digitPixels(values: readonly number[]): Float32Array {
  return Float32Array.from(values, (v) => (2 * v) / 16 - 1);
}

function parseRow(line: string, row: number, file: string): DigitAnnotation {
  const fields = line.split(",");
  const values = fields.map(Number);
  const bad = values.findIndex((v, k) =>
    k < VALUES_PER_ROW - 1
      ? !(Number.isInteger(v) && v >= 0 && v <= 16)
      : !(Number.isInteger(v) && v >= 0 && v <= 9),
  );
  if (fields.length !== VALUES_PER_ROW || bad >= 0) {
    throw new TweedieError(`digits row ${row} is malformed`, {
      code: "invalid_value",
      path: [file],
      expected: "64 integers in 0..16 followed by a label in 0..9",
      received:
        fields.length !== VALUES_PER_ROW
          ? `${fields.length} values`
          : `value ${fields[bad]} at column ${bad}`,
    });
  }
  const label = values[VALUES_PER_ROW - 1];
  return { kind: "digit", label, row, prompt: digitPrompt(label), values: values.slice(0, -1) };
}

/**
 * Loads the 8x8 handwritten digits (UCI test set, as shipped by scikit-learn): one item
 * per CSV row, id `row-NNNN`, hashed over the bytes of its line. `split` picks the
 * held-out rows, the training rows or all, and then `classes` and `limit` filter in row
 * order.
 */
export async function loadDigits(
  options: Extract<DatasetOptions, { kind: "digits" }> & { name: string },
): Promise<DatasetManifest> {
  const file = options.file ?? join(repositoryDataDir(), "digits", "digits.csv.gz");
  let text: string;
  try {
    const bytes = await readFile(file);
    text = (file.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
  } catch (error) {
    throw new TweedieError("cannot read the digits file", {
      code: (error as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "io_failed",
      path: [file],
      cause: error,
    });
  }
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const items: DatasetItem[] = [];
  lines.forEach((line, row) => {
    if (options.split === "heldout" && !isHeldOutDigitRow(row)) return;
    if (options.split === "train" && isHeldOutDigitRow(row)) return;
    const annotation = parseRow(line.trim(), row, file);
    if (options.classes !== undefined && !options.classes.includes(annotation.label)) return;
    const sha256 = sha256Hex(line.trim());
    items.push({
      id: `row-${String(row).padStart(4, "0")}`,
      sha256,
      contentHash: annotatedContentHash(sha256, annotation),
      annotation,
    });
  });
  items.sort((a, b) => compareBytewise(a.id, b.id));
  const selected = options.limit === undefined ? items : items.slice(0, options.limit);
  return buildManifest({
    name: options.name,
    kind: "digits",
    root: file,
    selection: {
      split: options.split,
      classes: options.classes ?? null,
      limit: options.limit ?? null,
    },
    policy: {
      order: "bytewise",
      preprocess: null,
      channels: null,
      maxPixels: null,
      pixels: "2 v / 16 - 1",
    },
    items: selected,
  });
}
