#!/usr/bin/env node
// Runs the benchmarks one after another and writes bench-results/summary.json: the
// machine and versions, and per benchmark its command, status, wall time, output file and
// headline figures. `pnpm bench` builds every package first. Each benchmark writes its
// own JSON file under bench-results/; docs/benchmarks.md explains the figures.
//
//   node scripts/bench.mjs [--only NAME,...] [--long] [--list]
// --long adds the long runs (the patches prior at 1024 x 1024 and the full exact-posterior
// GMM benchmark); --list prints the
// benchmarks and exits. A failed benchmark is recorded and the others still run; the exit
// code is 1 when any failed.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { environment, REPO_ROOT, writeResult } from "../bench/lib/common.mjs";

const RESULTS = join(REPO_ROOT, "bench-results");
const result = (file) => join(RESULTS, file);

/** Reads a JSON result, or undefined when the benchmark wrote none. */
function readJson(path) {
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined;
}

/**
 * The benchmarks, in run order. dps-gradient comes before the two that reuse its U-Net
 * export. `headline` picks the figures that go into summary.json.
 */
const BENCHMARKS = [
  {
    name: "operators",
    description: "forward and adjoint of every operator at 256 and 1024 pixels",
    script: "packages/operators/bench/operators.bench.mjs",
    args: [result("operators.json")],
    output: result("operators.json"),
  },
  {
    name: "priors",
    description: "the embedded priors' ONNX graphs against onnxruntime's MatMul rate",
    script: "packages/core/bench/priors.bench.mjs",
    args: [result("priors.json")],
    output: result("priors.json"),
    long: true,
  },
  {
    name: "digits-editing",
    description: "SDEdit, FlowEdit, FlowAlign and DreamSampler on 80 held-out digits",
    script: "packages/solver-flowalign/bench/digits-editing.mjs",
    args: [],
    output: result("digits-editing.json"),
  },
  {
    name: "dps-gradient",
    description: "DPS gradient through onnxruntime-node against PyTorch forward+backward",
    script: "bench/dps-gradient.mjs",
    args: [],
    output: result("dps-gradient.json"),
    headline: (json) =>
      json.status === "skipped"
        ? { skipped: json.reason }
        : Object.fromEntries(
            json.summary.map((entry) => [
              `${entry.size}x${entry.size}`,
              { ...entry.ratios, cpuTime: entry.cpuRatios },
            ]),
          ),
  },
  {
    name: "harness-overhead",
    description: "solver time per NFE against raw session.run on the same feeds",
    script: "bench/harness-overhead.mjs",
    args: [],
    output: result("harness-overhead.json"),
    headline: (json) =>
      Object.fromEntries(
        json.cases.map((entry) => [
          entry.name,
          {
            ratio: entry.ratio,
            cpuRatio: entry.cpuRatio,
            goal: entry.goal,
            breakdownSecondsPerNfe: entry.breakdownSecondsPerNfe,
          },
        ]),
      ),
  },
  {
    name: "worker-scaling",
    description: "tweedie run with 1 and 2 workers, throughput and peak memory",
    script: "bench/worker-scaling.mjs",
    args: [],
    output: result("worker-scaling.json"),
    headline: (json) =>
      Object.fromEntries(
        json.cases.map((entry) => [
          entry.name,
          entry.runs.map((run) => ({
            workers: run.workers,
            cellsPerSecond: run.cellsPerSecond,
            peakRssMiB: run.peakRssMiB,
          })),
        ]),
      ),
  },
  {
    name: "gmm-dps-quick",
    description: "DPS on one exact-posterior Gaussian-mixture cell (d 8, dy 2, sigmaY 0.1)",
    script: "packages/solver-dps/bench/gmm-benchmark.mjs",
    args: [
      ...["--dims", "8", "--dys", "2", "--sigmas", "0.1", "--seeds", "0"],
      ...["--samples", "500", "--steps", "250", "--out", result("gmm-dps-quick.json")],
    ],
    output: result("gmm-dps-quick.json"),
  },
  {
    name: "gmm-dps",
    description: "DPS on the exact-posterior Gaussian-mixture benchmark, full grid",
    script: "packages/solver-dps/bench/gmm-benchmark.mjs",
    args: ["--out", result("gmm-dps.json")],
    output: result("gmm-dps.json"),
    long: true,
  },
];

function parseArguments(argv) {
  const options = { only: undefined, long: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--long") options.long = true;
    else if (argv[i] === "--list") options.list = true;
    else if (argv[i] === "--only" && argv[i + 1]) options.only = argv[++i].split(",");
    else {
      throw new Error(
        `invalid argument ${JSON.stringify(argv[i])}: expected --only NAME,..., --long or --list`,
      );
    }
  }
  const known = new Set(BENCHMARKS.map((bench) => bench.name));
  const unknown = (options.only ?? []).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown benchmark ${unknown.join(", ")}: expected one of ${[...known].join(", ")}`,
    );
  }
  return options;
}

function runScript(bench) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [join(REPO_ROOT, bench.script), ...bench.args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("close", (code, signal) =>
      resolve({ code, signal, seconds: (performance.now() - started) / 1000 }),
    );
  });
}

async function main() {
  let options;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    console.error(`bench: ${error.message}`);
    return 2;
  }
  const selected = BENCHMARKS.filter((bench) =>
    options.only ? options.only.includes(bench.name) : options.long || !bench.long,
  );
  if (options.list) {
    for (const bench of BENCHMARKS) {
      console.log(`${bench.name.padEnd(18)} ${bench.long ? "(long) " : ""}${bench.description}`);
    }
    return 0;
  }

  const entries = [];
  for (const bench of selected) {
    const command =
      `node ${bench.script} ${bench.args.map((arg) => arg.replace(`${REPO_ROOT}/`, "")).join(" ")}`.trim();
    if (!existsSync(join(REPO_ROOT, bench.script))) {
      entries.push({
        name: bench.name,
        command,
        status: "skipped",
        reason: `${bench.script} does not exist`,
      });
      continue;
    }
    console.log(`\n== ${bench.name}: ${command}`);
    const run = await runScript(bench);
    const entry = {
      name: bench.name,
      description: bench.description,
      command,
      seconds: run.seconds,
    };
    if (run.code !== 0) {
      entries.push({ ...entry, status: "failed", exit: run.code ?? run.signal });
      console.error(`${bench.name} failed (exit ${run.code ?? run.signal}); continuing`);
      continue;
    }
    const json = readJson(bench.output);
    entries.push({
      ...entry,
      status: json?.status === "skipped" ? "skipped" : "ok",
      output: bench.output.replace(`${REPO_ROOT}/`, ""),
      headline: json && bench.headline ? bench.headline(json) : undefined,
    });
  }
  const notRun = BENCHMARKS.filter((bench) => !selected.includes(bench)).map((bench) => bench.name);
  writeResult(result("summary.json"), {
    command: `node scripts/bench.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    environment: environment(),
    notRun,
    benchmarks: entries,
  });
  for (const entry of entries) {
    console.log(
      `${entry.status.padEnd(8)} ${entry.name}${entry.seconds ? ` (${entry.seconds.toFixed(0)} s)` : ""}`,
    );
  }
  return entries.some((entry) => entry.status === "failed") ? 1 : 0;
}

process.exitCode = await main();
