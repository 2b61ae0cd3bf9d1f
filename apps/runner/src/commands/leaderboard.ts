import { writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { TweedieError } from "@tweedie/core";
import { toCsv, toJson, toMarkdown } from "@tweedie/eval";
import type { Command, CommandContext } from "../cli/command.js";
import { EXIT_OK } from "../cli/command.js";
import { leaderboardOf } from "../exec/leaderboard.js";
import { renderRunReport } from "../exec/report.js";
import type { BlobStore } from "../store/blob.js";
import { LocalBlobStore } from "../store/local.js";
import { parseLocation } from "../store/location.js";
import { ResultStore } from "../store/results.js";
import { S3BlobStore, s3EndpointFromEnv } from "../store/s3.js";

/** Prints the leaderboard of a run's records as Markdown. */
export async function printLeaderboard(
  store: ResultStore,
  ctx: Pick<CommandContext, "stdout">,
): Promise<void> {
  const records = await store.listRecords();
  ctx.stdout("");
  ctx.stdout(toMarkdown(leaderboardOf(records, { compact: true })));
}

/** Opens every run under a location: `LOCATION` is a folder or s3:// prefix holding runs, or one run. */
export async function openRuns(location: string, ctx: CommandContext): Promise<ResultStore[]> {
  const parsed = parseLocation(location, ctx.cwd);
  const blobs: BlobStore =
    parsed.kind === "local"
      ? new LocalBlobStore(parsed.root)
      : new S3BlobStore({
          bucket: parsed.bucket,
          prefix: parsed.prefix,
          endpoint: s3EndpointFromEnv(ctx.env),
          forcePathStyle: true,
          env: ctx.env,
        });
  const runs = new Set<string>();
  for await (const key of blobs.list("")) {
    const match = /^([^/]+)\/run\.json$/.exec(key);
    if (match) runs.add(match[1]);
  }
  if (runs.size === 0) {
    throw new TweedieError("no run found", {
      code: "not_found",
      path: [location],
      expected: "a folder or prefix holding <run>/run.json",
    });
  }
  return [...runs].sort().map((run) => new ResultStore(blobs, run, ctx.env));
}

export const leaderboardCommand: Command = {
  path: ["leaderboard"],
  summary:
    "Aggregate the stored results of every run and shard under a location into a leaderboard.",
  positionals: "LOCATION",
  options: [
    {
      name: "format",
      type: "string",
      valueName: "md|csv|json|html",
      description:
        "Output format: Markdown, CSV, JSON (stable schema) or an HTML report with image grids. The HTML links the images of a folder location by paths relative to the report file (keep both in place, or add --embed-images) and embeds the images of an s3:// location.",
      default: "md",
    },
    {
      name: "embed-images",
      type: "boolean",
      description:
        "With --format html: embed the images of a folder location as data URIs too, so the report needs no other file (it grows by the size of every PNG shown).",
    },
    {
      name: "output",
      type: "string",
      valueName: "FILE",
      description: "Write to FILE instead of standard output.",
    },
  ],
  async run(values, positionals, ctx) {
    const [location] = positionals;
    if (!location)
      throw new TweedieError("expected a results location", {
        code: "missing",
        path: ["LOCATION"],
      });
    const format = (values.format as string | undefined) ?? "md";
    if (!["md", "csv", "json", "html"].includes(format)) {
      throw new TweedieError("invalid format", {
        code: "invalid_value",
        path: ["--format"],
        expected: ["md", "csv", "json", "html"],
        received: format,
      });
    }
    if (values["embed-images"] && format !== "html") {
      throw new TweedieError("valid with --format html only", {
        code: "invalid_value",
        path: ["--embed-images"],
        expected: "--format html",
        received: `--format ${format}`,
      });
    }
    const stores = await openRuns(location, ctx);
    const perStore = await Promise.all(
      stores.map(async (store) => ({ store, records: await store.listRecords() })),
    );
    const records = perStore.flatMap((entry) => entry.records);
    const leaderboard = leaderboardOf(records);
    let text: string;
    if (format === "json") text = toJson(leaderboard);
    else if (format === "csv") text = toCsv(leaderboard);
    else if (format === "html") {
      const target = (values.output as string | undefined) ?? "report.html";
      const reportDir = dirname(resolve(ctx.cwd, target));
      const compact = leaderboardOf(records, { compact: true });
      text = await renderRunReport(
        `Tweedie leaderboard: ${location}`,
        compact,
        perStore,
        reportDir,
        [`${records.length} records from ${stores.length} run(s)`],
        { embedImages: Boolean(values["embed-images"]) },
      );
    } else text = `${toMarkdown(leaderboardOf(records, { compact: true }))}\n`;
    if (values.output) await writeFile(values.output as string, text);
    else ctx.stdout(text.trimEnd());
    return EXIT_OK;
  },
};
