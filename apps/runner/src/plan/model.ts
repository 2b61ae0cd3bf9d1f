import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { TweedieError } from "@tweedie/core";
import { compareBytewise, hashFile } from "../datasets/manifest.js";
import { hashCanonical } from "./canonical.js";

/**
 * Hashes a model package on disk: a file's SHA-256, or for a folder the canonical hash of
 * its sorted (relative path, SHA-256) pairs, hidden files excluded. Cell ids include it,
 * so a changed weight file gives new cells.
 */
export async function hashModelPath(path: string): Promise<string> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    throw new TweedieError("model not found", {
      code: "not_found",
      path: [path],
      expected: "a model package file or folder",
      cause: error,
    });
  }
  if (info.isFile()) return hashFile(path);
  const files: [string, string][] = [];
  for (const relative of await listRecursive(path, "")) {
    files.push([relative, await hashFile(join(path, ...relative.split("/")))]);
  }
  return hashCanonical({ files });
}

async function listRecursive(root: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(root, prefix), { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listRecursive(root, relative)));
    else out.push(relative);
  }
  return out.sort(compareBytewise);
}
