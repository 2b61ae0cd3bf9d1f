#!/usr/bin/env node
// Runs DPS on the exact-posterior Gaussian-mixture benchmark (MCGdiff set-up: 25
// components, identity covariances, equal weights) and writes bench-results/gmm-dps.json
// at the repository root, with a Markdown table on stdout. Build first:
//   pnpm exec nx run solver-dps:build
//   node packages/solver-dps/bench/gmm-benchmark.mjs [options]
// Options (defaults give the full grid: 60 problems per method):
//   --dims 8,80  --dys 1,2,4  --sigmas 0.1,1  --seeds 0,1,2,3,4
//   --samples 2000,1000   samples per problem for each entry of --dims
//   --steps 1000  --zeta 0.1   (zeta is scaled by 1000 / steps when steps < 1000)
//   --methods dps,dps-fd,unguided,prior,dps-sign-flipped  (dps-rounding is DPS with zeta
//             times 1 + 1e-6, a control for how far float32 rounding alone moves a cell)
//   --out <file>  (default bench-results/gmm-dps.json)
//   --merge a.json,b.json   combine the records of separate runs (one per dimension, say)
//                           into --out and print the table, running nothing
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { priorSolverFactory, runGmmBenchmark, summariseGmmProblems } from "@tweedie/core/testing";
import { DpsSolver, dpsParamsSchema } from "../dist/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function parseArgs(argv) {
  const options = {
    dims: "8,80",
    dys: "1,2,4",
    sigmas: "0.1,1",
    seeds: "0,1,2,3,4",
    samples: "2000,1000",
    steps: "1000",
    zeta: "0.1",
    methods: "dps,dps-fd,unguided,prior,dps-sign-flipped",
    out: resolve(root, "bench-results/gmm-dps.json"),
    merge: "",
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    if (!(key in options) || argv[i + 1] === undefined) {
      throw new Error(
        `unknown option or missing value: ${argv[i]}; options: ${Object.keys(options).join(", ")}`,
      );
    }
    options[key] = argv[i + 1];
  }
  const list = (text) => text.split(",").map(Number);
  const dims = list(options.dims);
  const samples = list(options.samples);
  if (samples.length !== 1 && samples.length !== dims.length) {
    throw new Error(
      `--samples needs one count or one per dimension (${dims.length}); received ${options.samples}`,
    );
  }
  return {
    dims,
    dys: list(options.dys),
    sigmaYs: list(options.sigmas),
    seeds: list(options.seeds),
    samplesFor: (dim) => samples[samples.length === 1 ? 0 : dims.indexOf(dim)],
    steps: Number(options.steps),
    zeta: Number(options.zeta),
    methods: options.methods.split(","),
    out: resolve(options.out),
    merge: options.merge === "" ? [] : options.merge.split(",").map((file) => resolve(file)),
  };
}

/** A solver factory for DPS with the given overrides; zeta may be negative (broken on purpose). */
function dpsFactory(config, overrides) {
  const zeta = (config.zeta * 1000) / config.steps;
  return ({ samples }) => {
    const params = dpsParamsSchema.parse({
      steps: config.steps,
      clipX0: false,
      variance: "posterior",
      samples,
      gradient: overrides.gradient ?? "auto",
    });
    return new DpsSolver({ ...params, zeta: overrides.zetaFactor * zeta });
  };
}

const METHODS = {
  dps: (config) => ({ solverFactory: dpsFactory(config, { zetaFactor: 1 }) }),
  "dps-fd": (config) => ({
    solverFactory: dpsFactory(config, { zetaFactor: 1, gradient: "jvp-fd" }),
  }),
  "dps-rounding": (config) => ({ solverFactory: dpsFactory(config, { zetaFactor: 1 + 1e-6 }) }),
  unguided: (config) => ({ solverFactory: dpsFactory(config, { zetaFactor: 0 }), target: "prior" }),
  prior: () => ({ solverFactory: priorSolverFactory }),
  "dps-sign-flipped": (config) => ({ solverFactory: dpsFactory(config, { zetaFactor: -1 }) }),
};

const config = parseArgs(process.argv.slice(2));
const results = {};

/**
 * Writes the record so far, so an interrupted run keeps the methods it finished. A merged
 * record lists the configs of its sources in place of this run's config.
 */
function writeRecord(sources) {
  const record = {
    benchmark: "gmm-exact-posterior",
    setUp:
      "25 components, means 8 (i, j) for i, j in -2..2 tiled to d, identity covariance, equal weights; A = U diag(s) V[:dy]; ratio = SW1(method, exact) / SW1(exact, exact'), 500 directions",
    config:
      sources === undefined
        ? { ...config, samplesFor: undefined, samples: config.dims.map(config.samplesFor) }
        : { mergedFrom: sources },
    node: process.version,
    results,
  };
  mkdirSync(dirname(config.out), { recursive: true });
  writeFileSync(config.out, `${JSON.stringify(record, null, 2)}\n`);
}

/** Combines the problems of every method over the records in `files`. */
function mergeRecords(files) {
  const problems = {};
  const seconds = {};
  const sources = [];
  for (const file of files) {
    const record = JSON.parse(readFileSync(file, "utf8"));
    sources.push({ file, config: record.config });
    for (const [method, result] of Object.entries(record.results)) {
      problems[method] = [...(problems[method] ?? []), ...result.problems];
      seconds[method] = (seconds[method] ?? 0) + result.cpuSeconds;
    }
  }
  for (const [method, list] of Object.entries(problems)) {
    results[method] = { ...summariseGmmProblems(list), cpuSeconds: seconds[method] };
  }
  writeRecord(sources);
}

async function runMethods() {
  for (const method of config.methods) {
    if (!(method in METHODS))
      throw new Error(`unknown method ${method}; known: ${Object.keys(METHODS).join(", ")}`);
    const started = process.cpuUsage();
    const wallStart = performance.now();
    const result = await runGmmBenchmark({
      ...METHODS[method](config),
      dims: config.dims,
      dys: config.dys,
      sigmaYs: config.sigmaYs,
      seeds: config.seeds,
      samples: config.samplesFor,
      onProblem: (r) =>
        process.stderr.write(
          `${method} d=${r.dim} dy=${r.dy} sigmaY=${r.sigmaY} seed=${r.seed}: ratio ${r.ratio.toFixed(2)}\n`,
        ),
    });
    const cpu = process.cpuUsage(started);
    results[method] = {
      ...result,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      wallSeconds: (performance.now() - wallStart) / 1000,
    };
    writeRecord();
  }
}

if (config.merge.length > 0) mergeRecords(config.merge);
else await runMethods();

const format = (value) => value.toFixed(2);
console.log("| method | pooled median [p10-p90] | cell means (d, dy, sigmaY: mean) | CPU s |");
console.log("| --- | --- | --- | --- |");
for (const [method, result] of Object.entries(results)) {
  const cells = result.cells
    .map((cell) => `${cell.dim},${cell.dy},${cell.sigmaY}: ${format(cell.meanRatio)}`)
    .join("; ");
  console.log(
    `| ${method} | ${format(result.pooledMedian)} [${format(result.pooledP10)}-${format(result.pooledP90)}] | ${cells} | ${result.cpuSeconds.toFixed(0)} |`,
  );
}
console.log(`\nwritten to ${config.out}`);
