import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { TweedieError } from "@tweedie/core";
import { type Command, EXIT_CELLS_FAILED, EXIT_OK } from "../cli/command.js";
import { loadConfigFile } from "../config/load.js";
import type { ResolvedDataset } from "../config/resolve.js";
import { checkDataset } from "../datasets/check.js";
import { loadDataset } from "../datasets/load.js";
import { datasetSchema } from "../datasets/options.js";

export const datasetsCheckCommand: Command = {
  path: ["datasets", "check"],
  summary:
    "Check every image of a config's datasets (or of one image folder or PIE-Bench root) before any task: header, orientation, bit depth, channels, size and pixel limit; lists each problem by file.",
  positionals: "CONFIG|DIR",
  options: [
    {
      name: "verify-hashes",
      type: "boolean",
      description: "Also re-hash every file against its manifest entry.",
    },
    {
      name: "decode",
      type: "boolean",
      description:
        "Also decode every image, to find truncated or corrupt pixel data that a header read misses (slower).",
    },
  ],
  async run(values, positionals, ctx) {
    const [target] = positionals;
    if (!target)
      throw new TweedieError("expected a config file or an image folder", {
        code: "missing",
        path: ["CONFIG|DIR"],
      });
    let datasets: ResolvedDataset[];
    const info = await stat(target).catch(() => undefined);
    if (info?.isDirectory()) {
      // A folder with mapping_file.json is a PIE-Bench root, and any other one an image folder.
      const kind = existsSync(join(target, "mapping_file.json")) ? "pie-bench" : "folder";
      const options = datasetSchema.parse({ kind, root: target });
      datasets = [
        {
          ...options,
          name: kind,
          modelRef: { kind: "embedded", name: "patches", ref: "embedded:patches" },
        } as ResolvedDataset,
      ];
    } else {
      datasets = (await loadConfigFile(target)).datasets;
    }
    let failed = 0;
    for (const dataset of datasets) {
      const manifest = await loadDataset(dataset);
      const { report } = await checkDataset(manifest, {
        verifyHashes: Boolean(values["verify-hashes"]),
        decode: Boolean(values.decode),
      });
      ctx.stdout(
        `${report.dataset}: ${report.items.length} items, ${report.failed} with problems (manifest ${manifest.hash.slice(0, 12)})`,
      );
      for (const item of report.items) {
        for (const problem of item.problems) ctx.stdout(`  ${item.id}: ${problem}`);
        for (const warning of item.warnings) ctx.stdout(`  ${item.id}: note: ${warning}`);
      }
      failed += report.failed;
    }
    return failed > 0 ? EXIT_CELLS_FAILED : EXIT_OK;
  },
};
