import { TweedieError } from "@tweedie/core";
import { type Command, EXIT_CELLS_FAILED, EXIT_OK } from "../cli/command.js";
import { ConfigError } from "../config/issues.js";
import { loadConfigFile } from "../config/load.js";
import type { TweedieConfig } from "../config/resolve.js";
import { planWorkerSlots, type WorkerSlot } from "../exec/devices.js";
import type { LogFormat } from "../exec/progress.js";
import { dryRunLines, executeRun, planRun } from "../exec/run.js";
import { formatLocation, parseLocation, type StoreLocation } from "../store/location.js";
import { printLeaderboard } from "./leaderboard.js";

export const runOptions = [
  {
    name: "out",
    type: "string",
    valueName: "DIR|s3://BUCKET/PREFIX",
    description: "Where results go; overrides the config's output.location.",
  },
  {
    name: "shard",
    type: "string",
    valueName: "I/N",
    description:
      "Run shard I of N (0-based); default from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, else 0/1.",
  },
  {
    name: "workers",
    type: "string",
    valueName: "N",
    description:
      "Worker count for --device cpu (default: min(cores, 2)); with GPUs, one worker per device.",
  },
  {
    name: "device",
    type: "string",
    valueName: "cpu|cuda:IDS",
    description: "Execution device: cpu, or cuda:0,1,... for one worker per GPU.",
    default: "cpu",
  },
  {
    name: "dry-run",
    type: "boolean",
    description: "Print the plan (cells per shard, already done) and exit.",
  },
  {
    name: "log-format",
    type: "string",
    valueName: "auto|bar|plain|json",
    description: "Progress output: a bar on a terminal, plain lines in CI, or JSON lines.",
    default: "auto",
  },
] as const;

export function withOutput(
  config: TweedieConfig,
  out: string | undefined,
  cwd: string,
): TweedieConfig {
  if (!out) return config;
  return { ...config, output: { ...config.output, location: parseLocation(out, cwd) } };
}

export function parseWorkers(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1) {
    throw new TweedieError("invalid worker count", {
      code: "invalid_value",
      path: ["--workers"],
      expected: "an integer >= 1",
      received: value,
    });
  }
  return workers;
}

export function parseLogFormat(value: string | undefined): LogFormat {
  const format = value ?? "auto";
  if (!["auto", "bar", "plain", "json"].includes(format)) {
    throw new TweedieError("invalid log format", {
      code: "invalid_value",
      path: ["--log-format"],
      expected: ["auto", "bar", "plain", "json"],
      received: format,
    });
  }
  return format as LogFormat;
}

export const runCommand: Command = {
  path: ["run"],
  summary:
    "Run every cell of a config (datasets x tasks x solver params x seeds) on a worker pool and store the results; a rerun skips done cells.",
  positionals: "CONFIG",
  options: runOptions,
  async run(values, positionals, ctx) {
    const [path] = positionals;
    if (!path || positionals.length > 1) {
      throw new TweedieError("expected exactly one config file", {
        code: "invalid_value",
        path: ["CONFIG"],
        received: positionals,
      });
    }
    const config = withOutput(
      await loadConfigFile(path),
      values.out as string | undefined,
      ctx.cwd,
    );
    const planned = await planRun(config, values.shard as string | undefined, ctx.env).catch(
      (error: unknown) => {
        // Planning checks (solver names, noise, task coverage) see the resolved config only,
        // so their errors get the file name here.
        if (error instanceof ConfigError && !error.source) {
          throw new ConfigError(error.issues, path);
        }
        throw error;
      },
    );
    // Option errors come before the dry run, so a dry run also validates the command line.
    const workers = parseWorkers(values.workers as string | undefined);
    const logFormat = parseLogFormat(values["log-format"] as string | undefined);
    const device = (values.device as string | undefined) ?? "cpu";
    if (values["dry-run"]) {
      // Checks --device and its worker count as a run would, without opening a session.
      const slots = planWorkerSlots(device, workers);
      for (const line of await dryRunLines(planned, planned.shard.count, ctx.env)) ctx.stdout(line);
      ctx.stdout(`workers: ${describeSlots(slots)}`);
      return EXIT_OK;
    }
    const removeHint = onInterruptPrintResumeHint("run", config.output.location, ctx);
    const summary = await executeRun(planned, {
      config,
      shard: values.shard as string | undefined,
      workers,
      device,
      dryRun: false,
      logFormat,
      env: ctx.env,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
    });
    removeHint();
    ctx.stdout(
      `shard ${planned.shard.index}/${planned.shard.count}: ${summary.shardCells} cells, ${summary.done} run now, ${summary.skipped} already done, ${summary.failed.length} failed`,
    );
    for (const failure of summary.failed)
      ctx.stdout(`failed ${failure.cellId.slice(0, 16)}: ${failure.error ?? "unknown error"}`);
    await printLeaderboard(summary.store, ctx);
    return summary.failed.length > 0 ? EXIT_CELLS_FAILED : EXIT_OK;
  },
};

/** Describes worker slots for a dry run: "2 on cpu, 1 intra-op thread each" or "2 on cuda:0, cuda:1". */
function describeSlots(slots: readonly WorkerSlot[]): string {
  if (slots.every((slot) => slot.device === "cpu")) {
    const threads = slots[0]?.intraOpThreads ?? 1;
    return `${slots.length} on cpu, ${threads} intra-op thread${threads === 1 ? "" : "s"} each`;
  }
  return `${slots.length} on ${slots.map((slot) => slot.device).join(", ")}`;
}

/**
 * Prints how to resume when SIGINT or SIGTERM stops a run, then lets the signal end the
 * process as it would have without the handler (the shell reports 130 or 143). Every
 * finished cell is already stored (its record.json is written last), so an interrupted
 * run loses only the cells in flight. Returns a function that removes the handlers.
 */
export function onInterruptPrintResumeHint(
  command: string,
  location: StoreLocation,
  ctx: { stderr: (line: string) => void },
): () => void {
  const remove = () => {
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onInterrupt);
  };
  const onInterrupt = (signal: NodeJS.Signals) => {
    ctx.stderr(
      `tweedie ${command}: interrupted by ${signal}; finished cells are stored in ${formatLocation(location)}. Rerun the same command to resume.`,
    );
    // NOTE: process.exit() here runs native destructors while onnxruntime threads in the
    // workers are still busy, which can abort the process; re-raising the signal does not.
    remove();
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onInterrupt);
  process.once("SIGTERM", onInterrupt);
  return remove;
}
