import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { hashCanonical } from "../plan/canonical.js";
import type { ImageCheck } from "./image-check.js";
import type { ChannelPolicy, DatasetKind, PreprocessPolicy } from "./options.js";

/** PIE-Bench annotation of one image, with bracket markers already stripped from prompts. */
export interface PieBenchAnnotation {
  kind: "pie-bench";
  sourcePrompt: string;
  targetPrompt: string;
  /** The prompts as written in the mapping file, brackets included. */
  rawSourcePrompt: string;
  rawTargetPrompt: string;
  instruction: string;
  /** Edit type "0".."9", kept as a string as the reference scripts compare it. */
  editingTypeId: string;
  /** (source word, target word) from `blended_word`, or null when it is "". */
  blendedWord: { source: string; target: string } | null;
  /** Run-length mask over the row-major 512 x 512 grid: (start, length) pairs. */
  maskRle: number[];
}

/** Digits item: the class label and the prompt that names it. */
export interface DigitAnnotation {
  kind: "digit";
  label: number;
  /** Row index in digits.csv.gz, from 0. */
  row: number;
  prompt: string;
  /** The 64 pixel values 0..16, row-major 8 x 8. */
  values: number[];
}

/** Fashion-MNIST item: the class label, its name and the prompt that names it. */
export interface FashionAnnotation {
  kind: "fashion";
  label: number;
  /** Class name, for example "t-shirt/top". */
  className: string;
  /** Index in the Fashion-MNIST test set, from 0. */
  index: number;
  prompt: string;
  /** The 784 pixel values 0..255, row-major 28 x 28. */
  values: number[];
}

export type ItemAnnotation = PieBenchAnnotation | DigitAnnotation | FashionAnnotation;

export interface DatasetItem {
  /** Stable id within the dataset: the file's relative path, the PIE-Bench key or "row-NNNN". */
  id: string;
  /** Path relative to the dataset root with '/' separators; absent for rows of a table. */
  path?: string;
  /** SHA-256 of the file's bytes (digits: of the CSV line's bytes; fashion: of the 784 pixel bytes). */
  sha256: string;
  /**
   * Hash that cell ids use: equal to `sha256` for a plain image, and the hash of
   * {sha256, annotation} when prompts or masks come with the item.
   */
  contentHash: string;
  annotation?: ItemAnnotation;
  /** Header checks, filled by `checkDataset`. */
  check?: ImageCheck;
}

/** Mapping from items to tensors, part of the manifest hash. */
export interface DatasetPolicy {
  /** Items are sorted by the UTF-8 bytes of their id, never by directory listing order. */
  order: "bytewise";
  preprocess: PreprocessPolicy | null;
  channels: ChannelPolicy | null;
  maxPixels: number | null;
  /** Value mapping into the model range, e.g. "u8 / 127.5 - 1" or "v / 8 - 1". */
  pixels: string;
}

export interface DatasetManifest {
  schemaVersion: 1;
  name: string;
  kind: DatasetKind;
  /** Absolute root folder (or file) on this machine; not part of the hash. */
  root: string;
  /** Options that chose the items (limit, split, start, types...). */
  selection: Record<string, unknown>;
  policy: DatasetPolicy;
  items: DatasetItem[];
  /** SHA-256 of the canonical JSON of {kind, policy, items (id, path, contentHash)}. */
  hash: string;
}

/** Compares strings by their UTF-8 bytes, so "img1" < "img10" < "img2" on every machine. */
export function compareBytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** SHA-256 of a file's bytes, read as a stream. */
export function hashFile(file: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolvePromise(hash.digest("hex")));
  });
}

/**
 * Runs `task` over `inputs` with at most `limit` in flight; results keep input order.
 * After a failure no new task starts, and the first error is thrown only once every
 * running task has settled, so nothing is still writing when the caller sees it.
 */
export async function mapLimit<T, R>(
  inputs: readonly T[],
  limit: number,
  task: (input: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(inputs.length);
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.min(limit, inputs.length) }, async () => {
    while (next < inputs.length && !failed) {
      const index = next++;
      try {
        results[index] = await task(inputs[index], index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const outcomes = await Promise.allSettled(workers);
  const rejected = outcomes.find((outcome) => outcome.status === "rejected");
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
  return results;
}

/** Hashes an item's file hash together with its annotation. */
export function annotatedContentHash(sha256: string, annotation: ItemAnnotation): string {
  return hashCanonical({ sha256, annotation });
}

/** Builds a manifest and its hash from sorted items. */
export function buildManifest(
  fields: Omit<DatasetManifest, "schemaVersion" | "hash">,
): DatasetManifest {
  const hash = hashCanonical({
    kind: fields.kind,
    policy: fields.policy,
    items: fields.items.map((item) => ({
      id: item.id,
      path: item.path,
      contentHash: item.contentHash,
    })),
  });
  return { schemaVersion: 1, ...fields, hash };
}
