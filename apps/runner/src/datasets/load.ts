import type { ResolvedDataset } from "../config/resolve.js";
import { loadDigits } from "./digits.js";
import { loadFashion } from "./fashion.js";
import { loadDiv2k, loadFfhq, loadFolder, loadSamples } from "./image-folders.js";
import type { DatasetManifest } from "./manifest.js";
import { loadPieBench } from "./pie-bench.js";

/** Builds the manifest of one configured dataset. */
export function loadDataset(dataset: ResolvedDataset): Promise<DatasetManifest> {
  switch (dataset.kind) {
    case "folder":
      return loadFolder(dataset);
    case "ffhq":
      return loadFfhq(dataset);
    case "div2k":
      return loadDiv2k(dataset);
    case "pie-bench":
      return loadPieBench(dataset);
    case "embedded-samples":
      return loadSamples(dataset);
    case "digits":
      return loadDigits(dataset);
    case "fashion":
      return loadFashion(dataset);
  }
}
