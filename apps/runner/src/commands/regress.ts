import { readFile } from "node:fs/promises";
import { TweedieError } from "@tweedie/core";
import {
  compareLeaderboards,
  type Leaderboard,
  parseLeaderboard,
  regressionToMarkdown,
  type Tolerances,
} from "@tweedie/eval";
import { type Command, type CommandContext, EXIT_CELLS_FAILED, EXIT_OK } from "../cli/command.js";
import { leaderboardOf } from "../exec/leaderboard.js";
import { openRuns } from "./leaderboard.js";

/** Reads a leaderboard JSON file, or aggregates every run under a results location. */
async function leaderboardAt(target: string, ctx: CommandContext): Promise<Leaderboard> {
  if (target.endsWith(".json")) return parseLeaderboard(await readFile(target, "utf8"), target);
  const records = (
    await Promise.all((await openRuns(target, ctx)).map((store) => store.listRecords()))
  ).flat();
  return leaderboardOf(records);
}

/** Parses `metric=value` (absolute, metric units) or `metric=value%` (relative) pairs. */
export function parseTolerances(entries: readonly string[]): Tolerances {
  const metrics: Record<string, { absolute?: number; relative?: number }> = {};
  for (const entry of entries) {
    const match = /^([^=]+)=([0-9.eE+-]+)(%?)$/.exec(entry.trim());
    if (!match || !Number.isFinite(Number(match[2]))) {
      throw new TweedieError("invalid tolerance", {
        code: "invalid_value",
        path: ["--tolerance"],
        expected: "metric=VALUE or metric=PERCENT%, e.g. psnr=0.1 or ssim=1%",
        received: entry,
      });
    }
    const value = Number(match[2]);
    metrics[match[1]] = match[3] ? { relative: value / 100 } : { absolute: value };
  }
  return { metrics };
}

export const regressCommand: Command = {
  path: ["regress"],
  summary:
    "Compare a run's leaderboard with a baseline and exit 1 listing every drop beyond tolerance and every row missing on either side.",
  positionals: "",
  options: [
    {
      name: "baseline",
      type: "string",
      valueName: "FILE|LOCATION",
      description: "Baseline leaderboard JSON, or a results location.",
    },
    {
      name: "current",
      type: "string",
      valueName: "LOCATION",
      description: "Results location (or leaderboard JSON) of the current run.",
    },
    {
      name: "tolerance",
      type: "string",
      valueName: "METRIC=VALUE",
      multiple: true,
      description:
        "Allowed worsening per metric, in its units (psnr=0.1) or relative (ssim=1%); repeatable.",
    },
    {
      name: "output",
      type: "string",
      valueName: "FILE",
      description: "Also write the comparison as JSON to FILE.",
    },
  ],
  async run(values, _positionals, ctx) {
    if (!values.baseline || !values.current) {
      throw new TweedieError("regress needs --baseline and --current", {
        code: "missing",
        path: [values.baseline ? "--current" : "--baseline"],
      });
    }
    const baseline = await leaderboardAt(values.baseline as string, ctx);
    const current = await leaderboardAt(values.current as string, ctx);
    const tolerances = parseTolerances((values.tolerance as string[] | undefined) ?? []);
    let report: ReturnType<typeof compareLeaderboards>;
    try {
      report = compareLeaderboards(baseline, current, tolerances);
    } catch (error) {
      // The library names its `tolerances` argument; here the values came from --tolerance.
      if (error instanceof TweedieError && error.path[0] === "tolerances") {
        throw new TweedieError(error.message, {
          code: error.code,
          path: ["--tolerance"],
          expected: error.expected,
          received: error.received,
        });
      }
      throw error;
    }
    ctx.stdout(regressionToMarkdown(report));
    if (values.output) {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(values.output as string, `${JSON.stringify(report, null, 2)}\n`);
    }
    return report.passed ? EXIT_OK : EXIT_CELLS_FAILED;
  },
};
