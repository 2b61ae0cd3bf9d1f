import { readFile, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { type ErrorDetails, formatPath, TweedieError } from "@tweedie/core";
import { z } from "zod";
import { issuesToErrors } from "../config/issues.js";
import { DatasetError } from "./errors.js";
import { IMAGE_PIXELS } from "./image-folders.js";
import {
  annotatedContentHash,
  buildManifest,
  compareBytewise,
  type DatasetItem,
  type DatasetManifest,
  hashFile,
  mapLimit,
  type PieBenchAnnotation,
} from "./manifest.js";
import type { ImageDatasetOptions } from "./options.js";

/** PIE-Bench masks and images are 512 x 512; the mask is a row-major vector of 262,144. */
export const PIE_BENCH_SIDE = 512;
export const PIE_BENCH_PIXELS = PIE_BENCH_SIDE * PIE_BENCH_SIDE;

const entrySchema = z.looseObject({
  image_path: z.string().min(1),
  original_prompt: z.string(),
  editing_prompt: z.string(),
  editing_instruction: z.string().default(""),
  editing_type_id: z.string().regex(/^[0-9]$/, { error: 'must be a string "0".."9"' }),
  blended_word: z.string().default(""),
  mask: z.array(z.number().int()),
});

/** Creates an error about one mapping entry, with a message that starts with "entry KEY:". */
function entryError(
  key: string,
  message: string,
  details: Omit<ErrorDetails, "path">,
): TweedieError {
  return new TweedieError(`entry ${key}: ${message}`, details);
}

/**
 * Problems of a PIE-Bench RLE: an odd number of values, a negative start or length, or a
 * start at or beyond the 262,144 pixels. A run that extends past the end is not a problem:
 * the reference decoder clamps it, and so does `decodePieBenchMask`.
 */
export function rleProblems(rle: readonly number[]): string[] {
  const problems: string[] = [];
  if (rle.length % 2 !== 0) problems.push(`mask RLE has odd length ${rle.length}`);
  for (let k = 0; k + 1 < rle.length; k += 2) {
    const start = rle[k];
    const length = rle[k + 1];
    const run = k / 2;
    if (start < 0) problems.push(`run ${run} has negative start ${start}`);
    if (start >= PIE_BENCH_PIXELS) {
      problems.push(`run ${run} start ${start} beyond ${PIE_BENCH_PIXELS} pixels`);
    }
    if (length < 0) problems.push(`run ${run} has negative length ${length}`);
  }
  return problems;
}

/** Runs of a valid RLE that extend past the last pixel and are clamped. */
export function clampedRuns(rle: readonly number[]): number[] {
  const runs: number[] = [];
  for (let k = 0; k + 1 < rle.length; k += 2) {
    if (rle[k] + rle[k + 1] > PIE_BENCH_PIXELS) runs.push(k / 2);
  }
  return runs;
}

/**
 * Decodes a PIE-Bench mask exactly as the reference evaluator does: start from zeros over
 * the row-major 512 x 512 grid, set m[start + j] = 1 for j < min(length, 262144 - start)
 * for each (start, length) pair, then force the one-pixel border (rows 0 and 511, columns
 * 0 and 511) to 1. Value 1 is the edited region. An empty RLE therefore gives a mask
 * whose edited region is the border alone (2,044 pixels). Throws on an RLE that
 * `rleProblems` rejects.
 */
export function decodePieBenchMask(rle: readonly number[], key = "mask"): Uint8Array {
  const problems = rleProblems(rle);
  if (problems.length > 0) {
    throw entryError(key, problems.join("; "), {
      code: "invalid_value",
      received: rle.length > 8 ? `${rle.length} values` : [...rle],
    });
  }
  const side = PIE_BENCH_SIDE;
  const mask = new Uint8Array(PIE_BENCH_PIXELS);
  for (let k = 0; k < rle.length; k += 2) {
    const start = rle[k];
    const end = Math.min(start + rle[k + 1], PIE_BENCH_PIXELS);
    mask.fill(1, start, end);
  }
  mask.fill(1, 0, side);
  mask.fill(1, (side - 1) * side, side * side);
  for (let row = 0; row < side; row++) {
    mask[row * side] = 1;
    mask[row * side + side - 1] = 1;
  }
  return mask;
}

/** Removes the `[` `]` markers that flag the words a PIE-Bench edit changes. */
export function stripBrackets(prompt: string): string {
  return prompt.replaceAll("[", "").replaceAll("]", "");
}

function parseBlendedWord(value: string, key: string): PieBenchAnnotation["blendedWord"] {
  if (value === "") return null;
  const words = value.split(" ");
  if (words.length !== 2 || words.some((word) => word === "")) {
    throw entryError(key, "blended_word must be two words separated by one space", {
      code: "invalid_value",
      expected: '"<source word> <target word>" or ""',
      received: value,
    });
  }
  return { source: words[0], target: words[1] };
}

/** Resolves an entry's image path, rejecting any that leaves `annotation_images/`. */
async function resolveImagePath(
  imagesRoot: string,
  imagePath: string,
  key: string,
): Promise<string> {
  const escapeError = (received: string) =>
    entryError(key, "image_path escapes the dataset root", {
      code: "invalid_value",
      expected: "a path inside annotation_images/",
      received,
    });
  if (isAbsolute(imagePath) || imagePath.includes("\\")) throw escapeError(imagePath);
  const full = resolve(imagesRoot, imagePath);
  const inside = relative(imagesRoot, full);
  if (inside === "" || inside.startsWith(`..${sep}`) || inside === ".." || isAbsolute(inside)) {
    throw escapeError(imagePath);
  }
  let real: string;
  try {
    real = await realpath(full);
  } catch (error) {
    throw entryError(key, "image file not found", {
      code: "not_found",
      received: imagePath,
      cause: error,
    });
  }
  const realRoot = await realpath(imagesRoot);
  const realInside = relative(realRoot, real);
  if (realInside.startsWith(`..${sep}`) || realInside === ".." || isAbsolute(realInside)) {
    throw escapeError(`${imagePath} (a link to ${real})`);
  }
  return full;
}

interface ParsedEntry {
  key: string;
  file: string;
  annotation: PieBenchAnnotation;
}

async function parseEntry(key: string, raw: unknown, imagesRoot: string): Promise<ParsedEntry> {
  const parsed = entrySchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const errors = issuesToErrors(parsed.error.issues, entrySchema);
    throw new DatasetError(
      key,
      errors.map((error) =>
        entryError(key, `${formatPath(error.path)} ${error.message}`, {
          code: error.code,
          expected: error.expected,
          received: error.received,
          hint: error.hint,
        }),
      ),
    );
  }
  const entry = parsed.data;
  const problems = rleProblems(entry.mask);
  if (problems.length > 0) {
    throw entryError(key, problems.join("; "), {
      code: "invalid_value",
      received: entry.mask.length > 8 ? `${entry.mask.length} values` : entry.mask,
    });
  }
  const file = await resolveImagePath(imagesRoot, entry.image_path, key);
  return {
    key,
    file,
    annotation: {
      kind: "pie-bench",
      sourcePrompt: stripBrackets(entry.original_prompt),
      targetPrompt: stripBrackets(entry.editing_prompt),
      rawSourcePrompt: entry.original_prompt,
      rawTargetPrompt: entry.editing_prompt,
      instruction: entry.editing_instruction,
      editingTypeId: entry.editing_type_id,
      blendedWord: parseBlendedWord(entry.blended_word, key),
      maskRle: entry.mask,
    },
  };
}

/**
 * PIE-Bench: `mapping_file.json` (an object keyed by 12-digit image id) plus
 * `annotation_images/`. Entries are sorted by key bytes, filtered by `types`, cut to
 * `limit`, and every entry is validated: a bad entry fails the load with its key named.
 */
export async function loadPieBench(
  options: Extract<ImageDatasetOptions, { kind: "pie-bench" }> & { name: string },
): Promise<DatasetManifest> {
  const mappingPath = join(options.root, "mapping_file.json");
  const imagesRoot = join(options.root, "annotation_images");
  let mapping: unknown;
  try {
    mapping = JSON.parse(await readFile(mappingPath, "utf8"));
  } catch (error) {
    throw new TweedieError("cannot read the PIE-Bench mapping file", {
      code: (error as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "invalid_value",
      path: [mappingPath],
      cause: error,
    });
  }
  if (mapping === null || typeof mapping !== "object" || Array.isArray(mapping)) {
    throw new TweedieError("the PIE-Bench mapping file must hold an object keyed by image id", {
      code: "invalid_type",
      path: [mappingPath],
      expected: "object",
      received: Array.isArray(mapping) ? "array" : typeof mapping,
    });
  }

  const entries = Object.entries(mapping as Record<string, unknown>).sort(([a], [b]) =>
    compareBytewise(a, b),
  );
  const errors: TweedieError[] = [];
  const parsed: ParsedEntry[] = [];
  for (const [key, raw] of entries) {
    try {
      parsed.push(await parseEntry(key, raw, imagesRoot));
    } catch (error) {
      if (error instanceof DatasetError) errors.push(...error.issues);
      else if (error instanceof TweedieError) errors.push(error);
      else throw error;
    }
  }
  if (errors.length > 0) throw new DatasetError(mappingPath, errors);

  const kept = parsed.filter(
    (entry) =>
      options.types === undefined ||
      options.types.includes(entry.annotation.editingTypeId as never),
  );
  const selected = options.limit === undefined ? kept : kept.slice(0, options.limit);
  const items = await mapLimit(selected, 8, async (entry): Promise<DatasetItem> => {
    const sha256 = await hashFile(entry.file);
    return {
      id: entry.key,
      path: relative(options.root, entry.file).split(sep).join("/"),
      sha256,
      contentHash: annotatedContentHash(sha256, entry.annotation),
      annotation: entry.annotation,
    };
  });
  return buildManifest({
    name: options.name,
    kind: "pie-bench",
    root: options.root,
    selection: { types: options.types ?? null, limit: options.limit ?? null },
    policy: {
      order: "bytewise",
      preprocess: options.preprocess,
      channels: options.channels,
      maxPixels: options.maxPixels,
      pixels: IMAGE_PIXELS,
    },
    items,
  });
}
