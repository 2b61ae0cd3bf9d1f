import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TweedieError } from "@tweedie/core";
import { toJson, toMarkdown } from "@tweedie/eval";
import { type Command, EXIT_CELLS_FAILED, EXIT_OK } from "../cli/command.js";
import { loadConfigFile } from "../config/load.js";
import { leaderboardOf } from "../exec/leaderboard.js";
import { renderRunReport } from "../exec/report.js";
import { executeRun, planRun } from "../exec/run.js";
import { parseLocation } from "../store/location.js";
import { onInterruptPrintResumeHint, parseLogFormat, parseWorkers } from "./run.js";

/** Finds the demo config, the repository's examples/demo.yaml, from the built CLI. */
export function demoConfigPath(): string {
  for (const candidate of ["../../../../examples/demo.yaml", "../../examples/demo.yaml"]) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new TweedieError("demo config not found", {
    code: "not_found",
    path: ["examples/demo.yaml"],
    expected: "the repository's examples/demo.yaml next to apps/",
  });
}

export const demoCommand: Command = {
  path: ["demo"],
  summary:
    "Run the embedded demo (examples/demo.yaml): photo, digit and Fashion-MNIST restoration, digit and Fashion-MNIST editing; prints the leaderboard and writes leaderboard.json, leaderboard.md and report.html.",
  positionals: "",
  options: [
    {
      name: "out",
      type: "string",
      valueName: "DIR",
      description: "Output folder for results, leaderboard and report.",
      default: "./tweedie-demo",
    },
    {
      name: "workers",
      type: "string",
      valueName: "N",
      description: "CPU workers (default: min(cores, 2)).",
    },
    {
      name: "log-format",
      type: "string",
      valueName: "auto|bar|plain|json",
      description: "Progress output.",
      default: "auto",
    },
  ],
  async run(values, _positionals, ctx) {
    const out = resolve(ctx.cwd, (values.out as string | undefined) ?? "./tweedie-demo");
    const loaded = await loadConfigFile(demoConfigPath());
    const config = {
      ...loaded,
      output: { ...loaded.output, location: parseLocation(out, ctx.cwd) },
    };
    const planned = await planRun(config, "0/1", ctx.env);
    ctx.stdout(
      `tweedie demo: ${planned.cells.length} cells (${config.datasets.map((d) => d.name).join(", ")}) into ${out}`,
    );
    const removeHint = onInterruptPrintResumeHint("demo", config.output.location, ctx);
    const summary = await executeRun(planned, {
      config,
      workers: parseWorkers(values.workers as string | undefined),
      device: "cpu",
      dryRun: false,
      logFormat: parseLogFormat(values["log-format"] as string | undefined),
      env: ctx.env,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
    });
    removeHint();
    const records = await summary.store.listRecords();
    const leaderboard = leaderboardOf(records);
    const compact = leaderboardOf(records, { compact: true });
    await mkdir(out, { recursive: true });
    const markdown = toMarkdown(compact);
    await writeFile(join(out, "leaderboard.json"), toJson(leaderboard));
    await writeFile(join(out, "leaderboard.md"), `${markdown}\n`);
    const html = await renderRunReport(
      "Tweedie demo",
      compact,
      [{ store: summary.store, records }],
      out,
      [
        `config: examples/demo.yaml (${planned.cells.length} cells, plan ${planned.planHash.slice(0, 12)})`,
      ],
    );
    await writeFile(join(out, "report.html"), html);
    ctx.stdout("");
    ctx.stdout(markdown);
    ctx.stdout("");
    for (const failure of summary.failed)
      ctx.stdout(`failed ${failure.cellId.slice(0, 16)}: ${failure.error ?? "unknown error"}`);
    ctx.stdout(`images: ${join(out, config.output.run, "cells")}`);
    ctx.stdout(`leaderboard: ${join(out, "leaderboard.md")} and ${join(out, "leaderboard.json")}`);
    ctx.stdout(`report: ${join(out, "report.html")}`);
    return summary.failed.length > 0 ? EXIT_CELLS_FAILED : EXIT_OK;
  },
};
