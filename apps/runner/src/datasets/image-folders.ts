import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { TweedieError } from "@tweedie/core";
import { z } from "zod";
import {
  buildManifest,
  compareBytewise,
  type DatasetItem,
  type DatasetManifest,
  type DatasetPolicy,
  hashFile,
  mapLimit,
} from "./manifest.js";
import type { ImageDatasetOptions } from "./options.js";

/** Files hashed at once while building a manifest. */
const HASH_CONCURRENCY = 8;

/** Pixel mapping of image datasets into the model range [-1, 1]. */
export const IMAGE_PIXELS = "2 v / (2^bitDepth - 1) - 1";

/** Returns the repository's data folder (next to apps/ and packages/). */
export function repositoryDataDir(): string {
  return fileURLToPath(new URL("../../../../data/", import.meta.url));
}

function imagePolicy(options: ImageDatasetOptions): DatasetPolicy {
  return {
    order: "bytewise",
    preprocess: options.preprocess,
    channels: options.channels,
    maxPixels: options.maxPixels,
    pixels: IMAGE_PIXELS,
  };
}

/** Hashes files under `root`, given as '/'-separated relative paths in final order. */
export function hashItems(root: string, paths: readonly string[]): Promise<DatasetItem[]> {
  return mapLimit(paths, HASH_CONCURRENCY, async (path) => {
    const sha256 = await hashFile(join(root, ...path.split("/")));
    return { id: path, path, sha256, contentHash: sha256 };
  });
}

async function listFiles(root: string, recursive: boolean): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (error) {
    throw new TweedieError("cannot list dataset folder", {
      code: (error as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "io_failed",
      path: [root],
      cause: error,
    });
  }
  const files: string[] = [];
  for (const name of entries) {
    if (name.startsWith(".")) continue;
    const full = join(root, name);
    const info = await stat(full);
    if (info.isFile()) files.push(full);
    else if (recursive && info.isDirectory()) files.push(...(await listFiles(full, true)));
  }
  return files;
}

function toRelative(root: string, file: string): string {
  return relative(root, file).split(sep).join("/");
}

/**
 * Any folder of images: files whose extension is listed (case-insensitive), hidden
 * files skipped, sorted by the UTF-8 bytes of their relative path, then the first
 * `limit`.
 */
export async function loadFolder(
  options: Extract<ImageDatasetOptions, { kind: "folder" }> & { name: string },
): Promise<DatasetManifest> {
  const extensions = new Set(options.extensions.map((ext) => ext.toLowerCase()));
  const files = (await listFiles(options.root, options.recursive))
    .map((file) => toRelative(options.root, file))
    .filter((path) => extensions.has(path.slice(path.lastIndexOf(".")).toLowerCase()))
    .sort(compareBytewise);
  if (files.length === 0) {
    throw new TweedieError("dataset folder has no images", {
      code: "not_found",
      path: [options.root],
      expected: `files ending in ${[...extensions].join(", ")}`,
      received: "none",
    });
  }
  const selected = options.limit === undefined ? files : files.slice(0, options.limit);
  return buildManifest({
    name: options.name,
    kind: "folder",
    root: options.root,
    selection: { limit: options.limit ?? null, recursive: options.recursive },
    policy: imagePolicy(options),
    items: await hashItems(options.root, selected),
  });
}

/** Maps expected file names to the relative paths found, failing on gaps or duplicates. */
function requireNames(
  root: string,
  found: Map<string, string[]>,
  wanted: readonly string[],
  hint: string,
): string[] {
  const missing = wanted.filter((name) => !found.has(name));
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(", ");
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : "";
    throw new TweedieError(
      `dataset is missing ${missing.length} of ${wanted.length} files: ${shown}${more}`,
      {
        code: "not_found",
        path: [root],
        expected: `${wanted[0]} .. ${wanted[wanted.length - 1]}`,
        hint,
      },
    );
  }
  return wanted.map((name) => {
    const paths = found.get(name) ?? [];
    if (paths.length > 1) {
      throw new TweedieError("the same file name appears in more than one folder", {
        code: "invalid_value",
        path: [root],
        received: paths,
      });
    }
    return paths[0];
  });
}

async function findByPattern(
  root: string,
  file: RegExp,
  folder: RegExp,
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const add = (name: string, path: string) => found.set(name, [...(found.get(name) ?? []), path]);
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    throw new TweedieError("cannot list dataset folder", {
      code: (error as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "io_failed",
      path: [root],
      cause: error,
    });
  }
  for (const entry of entries) {
    if (file.test(entry.name)) add(entry.name, entry.name);
    else if (entry.isDirectory() && folder.test(entry.name)) {
      for (const inner of await readdir(join(root, entry.name))) {
        if (file.test(inner)) add(inner, `${entry.name}/${inner}`);
      }
    }
  }
  return found;
}

/**
 * FFHQ: `NNNNN.png` in the root or in the official thousand-file folders (`00000/`,
 * `01000/`, ...). The set is indices start .. start + limit - 1 (default 00000-00999,
 * the evaluation split of DPS and its successors); a missing file is an error, never a
 * smaller set.
 */
export async function loadFfhq(
  options: Extract<ImageDatasetOptions, { kind: "ffhq" }> & { name: string },
): Promise<DatasetManifest> {
  const found = await findByPattern(options.root, /^\d{5}\.png$/, /^\d{5}$/);
  const wanted = Array.from(
    { length: options.limit },
    (_, k) => `${String(options.start + k).padStart(5, "0")}.png`,
  );
  const paths = requireNames(options.root, found, wanted, "lower limit or set start");
  return buildManifest({
    name: options.name,
    kind: "ffhq",
    root: options.root,
    selection: { start: options.start, limit: options.limit },
    policy: imagePolicy(options),
    items: await hashItems(options.root, paths),
  });
}

/**
 * DIV2K: `0801.png`..`0900.png` (valid) or `0001.png`..`0800.png` (train), in the root
 * or in its `DIV2K_valid_HR/` or `DIV2K_train_HR/` folder; `limit` keeps the first files.
 */
export async function loadDiv2k(
  options: Extract<ImageDatasetOptions, { kind: "div2k" }> & { name: string },
): Promise<DatasetManifest> {
  const [first, count] = options.split === "valid" ? [801, 100] : [1, 800];
  const folderName = options.split === "valid" ? "DIV2K_valid_HR" : "DIV2K_train_HR";
  const found = await findByPattern(options.root, /^\d{4}\.png$/, new RegExp(`^${folderName}$`));
  const wanted = Array.from(
    { length: Math.min(count, options.limit ?? count) },
    (_, k) => `${String(first + k).padStart(4, "0")}.png`,
  );
  const paths = requireNames(options.root, found, wanted, "set limit for a partial copy");
  return buildManifest({
    name: options.name,
    kind: "div2k",
    root: options.root,
    selection: { split: options.split, limit: options.limit ?? null },
    policy: imagePolicy(options),
    items: await hashItems(options.root, paths),
  });
}

const splitFileSchema = z.strictObject({
  train: z.array(z.string().regex(/^[^/\\]+$/)),
  heldout: z.array(z.string().regex(/^[^/\\]+$/)),
});

/**
 * Loads the repository's sample photos (`data/samples`). Their `split.json` lists the
 * `train` files, which fit the embedded patches prior, and the `heldout` ones, which
 * serve only for evaluation.
 */
export async function loadSamples(
  options: Extract<ImageDatasetOptions, { kind: "embedded-samples" }> & { name: string },
): Promise<DatasetManifest> {
  const root = options.root ?? join(repositoryDataDir(), "samples");
  const splitPath = join(root, "split.json");
  let split: z.output<typeof splitFileSchema>;
  try {
    split = splitFileSchema.parse(JSON.parse(await readFile(splitPath, "utf8")));
  } catch (error) {
    throw new TweedieError("cannot read the sample split file", {
      code: (error as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "invalid_value",
      path: [splitPath],
      expected: '{"train": [file names], "heldout": [file names]}',
      cause: error,
    });
  }
  const names = options.split === "all" ? [...split.train, ...split.heldout] : split[options.split];
  const sorted = [...new Set(names)].sort(compareBytewise);
  const found = await findByPattern(root, /\.(png|jpe?g)$/i, /^$/);
  const paths = requireNames(root, found, sorted, `fix ${splitPath}`);
  const selected = options.limit === undefined ? paths : paths.slice(0, options.limit);
  return buildManifest({
    name: options.name,
    kind: "embedded-samples",
    root,
    selection: { split: options.split, limit: options.limit ?? null },
    policy: imagePolicy(options),
    items: await hashItems(root, selected),
  });
}
