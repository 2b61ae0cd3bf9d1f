import { join } from "node:path";
import sharp from "sharp";
import {
  checkImageHeader,
  type ImageProbe,
  type ImageRules,
  probeWithSharp,
} from "./image-check.js";
import { type DatasetItem, type DatasetManifest, hashFile, mapLimit } from "./manifest.js";
import { clampedRuns, PIE_BENCH_SIDE } from "./pie-bench.js";

export interface ItemReport {
  id: string;
  /** Problems that stop the item from running. */
  problems: string[];
  /** Facts worth knowing that do not stop it (a clamped mask run). */
  warnings: string[];
}

export interface DatasetCheckReport {
  dataset: string;
  items: ItemReport[];
  /** Items with at least one problem. */
  failed: number;
}

export interface CheckOptions {
  probe?: ImageProbe;
  /** Re-hash every file and compare with the manifest. */
  verifyHashes?: boolean;
  /**
   * Full decode of every image whose header passed, which finds truncated and corrupt pixel
   * data that a header read cannot see. It costs a full decode per image.
   */
  decode?: boolean;
  concurrency?: number;
}

/**
 * Checks every item of a manifest before any task runs: image headers against the pixel
 * limit, orientation, bit depth and channel policy (no pixels are decoded), PIE-Bench
 * sizes and masks, and optionally the file hashes. Returns the manifest with each item's
 * `check` filled, and a report of problems per item.
 */
export async function checkDataset(
  manifest: DatasetManifest,
  options: CheckOptions = {},
): Promise<{ manifest: DatasetManifest; report: DatasetCheckReport }> {
  const probe = options.probe ?? probeWithSharp;
  const rules = rulesOf(manifest);
  const checked = await mapLimit(manifest.items, options.concurrency ?? 8, async (item) =>
    checkItem(manifest, item, rules, probe, options.verifyHashes ?? false, options.decode ?? false),
  );
  const items = checked.map(({ report }) => report);
  // Cells are keyed by content, so byte-identical items would share one cell.
  const firstWithContent = new Map<string, string>();
  manifest.items.forEach((item, index) => {
    const earlier = firstWithContent.get(item.contentHash);
    if (earlier === undefined) firstWithContent.set(item.contentHash, item.id);
    else items[index].problems.push(`same content as ${earlier}, so their cells would coincide`);
  });
  return {
    manifest: { ...manifest, items: checked.map(({ item }) => item) },
    report: {
      dataset: manifest.name,
      items,
      failed: items.filter((item) => item.problems.length > 0).length,
    },
  };
}

function rulesOf(manifest: DatasetManifest): ImageRules | null {
  const { preprocess, channels, maxPixels } = manifest.policy;
  if (preprocess === null || channels === null || maxPixels === null) return null;
  return {
    preprocess,
    channels,
    maxPixels,
    requiredSize: manifest.kind === "pie-bench" ? [PIE_BENCH_SIDE, PIE_BENCH_SIDE] : undefined,
  };
}

async function checkItem(
  manifest: DatasetManifest,
  item: DatasetItem,
  rules: ImageRules | null,
  probe: ImageProbe,
  verifyHashes: boolean,
  decode: boolean,
): Promise<{ item: DatasetItem; report: ItemReport }> {
  const report: ItemReport = { id: item.id, problems: [], warnings: [] };
  if (item.annotation?.kind === "pie-bench") {
    for (const run of clampedRuns(item.annotation.maskRle)) {
      report.warnings.push(`mask run ${run} extends past pixel 262144 and is clamped`);
    }
  }
  if (rules === null || item.path === undefined) return { item, report };
  const file = join(manifest.root, ...item.path.split("/"));
  if (verifyHashes) {
    const sha256 = await hashFile(file).catch((error: Error) => `unreadable: ${error.message}`);
    if (sha256 !== item.sha256) {
      report.problems.push(`content changed: sha256 ${sha256}, manifest has ${item.sha256}`);
    }
  }
  try {
    const { check, problems } = checkImageHeader(await probe(file), rules);
    report.problems.push(...problems);
    if (decode && problems.length === 0) {
      const failure = await decodeFailure(file, rules.maxPixels);
      if (failure !== undefined) report.problems.push(`decoding failed: ${failure}`);
    }
    return { item: { ...item, check }, report };
  } catch (error) {
    report.problems.push(`cannot read the image header: ${decoderMessage(error)}`);
    return { item, report };
  }
}

/** Decodes every pixel of an image and returns the decoder's message when that fails. */
async function decodeFailure(file: string, maxPixels: number): Promise<string | undefined> {
  try {
    // failOn "warning" turns libvips' warnings about truncated or corrupt data into errors.
    await sharp(file, { limitInputPixels: maxPixels, failOn: "warning" }).raw().toBuffer();
    return undefined;
  } catch (error) {
    return decoderMessage(error);
  }
}

/** Strips the colon libvips leaves at the end of a message that has no detail after it. */
function decoderMessage(error: unknown): string {
  return (error as Error).message.trim().replace(/:$/, "");
}
