// Worker scaling of `tweedie run`: the same config with 1 and 2 CPU workers, each into a
// fresh output folder. It records wall time, throughput (cells per second between the
// run's start and end events), start-up overhead, and the peak resident memory of the
// process. Memory is VmHWM from /proc, sampled every 50 ms. Workers are threads of that
// process, so the second worker's memory is the difference between the two runs.
//
// The projection for N workers (GPUs) fits T(N) = C (a + b / N) to the 1- and 2-worker
// cell phases of C cells: b is the per-cell time that workers split, a the per-cell time
// that stays serial (the main thread's dispatch and store writes, plus contention for the
// CPU on a small machine). It is an estimate that assumes each GPU worker keeps the
// per-cell time measured here.
//
// Cases: FlowDPS on held-out digits (embedded prior, always) and, when bench/torch has
// exported it, DPS (5 steps) on the benchmark U-Net at 64x64 over the sample photos.
//
//   node bench/worker-scaling.mjs [--out FILE] [--workers 1,2] [--digits 40]
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchOptions, environment, REPO_ROOT, writeResult } from "./lib/common.mjs";

const CLI = join(REPO_ROOT, "apps/runner/dist/cli.js");
const options = benchOptions(process.argv.slice(2), {
  out: join(REPO_ROOT, "bench-results/worker-scaling.json"),
  workers: "1,2",
  digits: 40,
  unet: join(REPO_ROOT, "bench-results/torch/unet-64"),
});
const workerCounts = options.workers.split(",").map(Number);

function digitsConfig(out) {
  return `name: scaling-digits
datasets:
  - kind: digits
    limit: ${options.digits}
tasks:
  - name: sr2
    operator: { kind: sr-avgpool, scale: 2 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
solvers:
  - name: flowdps
    params: { steps: 100, stepSize: 2 }
model: embedded:digits
seeds: [0, 1]
output: { location: ${JSON.stringify(out)} }
`;
}

function unetConfig(out) {
  return `name: scaling-unet
datasets:
  - kind: embedded-samples
    split: all
    preprocess: { resize: shortSideCrop, size: 64 }
tasks:
  - name: sr2
    operator: { kind: sr-avgpool, scale: 2 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
solvers:
  - name: dps
    params: { steps: 5, zeta: 1 }
model: ${JSON.stringify(options.unet)}
seeds: [0, 1]
output: { location: ${JSON.stringify(out)} }
`;
}

/** Peak resident set (VmHWM) of a process in bytes, or null where /proc is unavailable. */
function peakRss(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

async function runOnce(configText, workers) {
  const dir = await mkdtemp(join(tmpdir(), "tweedie-scaling-"));
  const config = join(dir, "config.yaml");
  await writeFile(config, configText(join(dir, "out")));
  const spawnedAt = performance.now();
  const child = spawn(
    process.execPath,
    [CLI, "run", config, "--log-format", "json", "--workers", String(workers)],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, CI: "1" } },
  );
  let stderr = "";
  const events = [];
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    const lines = stderr.split("\n");
    stderr = lines.pop();
    for (const line of lines) {
      if (line.startsWith("{")) events.push({ at: performance.now(), ...JSON.parse(line) });
    }
  });
  let peak = null;
  const sampler = setInterval(() => {
    const value = peakRss(child.pid);
    if (value !== null) peak = Math.max(peak ?? 0, value);
  }, 50);
  const code = await new Promise((resolve) => child.on("close", resolve));
  clearInterval(sampler);
  const exitedAt = performance.now();
  await rm(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`tweedie run exited with ${code}: ${stderr}`);

  const start = events.find((event) => event.type === "start");
  const end = events.find((event) => event.type === "end");
  const done = events.filter((event) => event.type === "cell-done");
  const cellSeconds = (end.at - start.at) / 1000;
  return {
    workers,
    cells: done.length,
    wallSeconds: (exitedAt - spawnedAt) / 1000,
    startupSeconds: (start.at - spawnedAt) / 1000,
    firstCellSeconds: (done[0].at - start.at) / 1000,
    cellPhaseSeconds: cellSeconds,
    cellsPerSecond: done.length / cellSeconds,
    peakRssMiB: peak === null ? null : peak / 2 ** 20,
  };
}

/** Fits T(N) = C (a + b / N) through the 1- and 2-worker cell phases and projects it. */
function project(one, two) {
  const cells = one.cells;
  const parallel = (2 * (one.cellPhaseSeconds - two.cellPhaseSeconds)) / cells;
  const fittedSerial = one.cellPhaseSeconds / cells - parallel;
  // A negative serial part means 2 workers were more than twice as fast as 1. The runner
  // gives a lone CPU worker every core as onnxruntime threads, and those threads lose
  // time to contention on a busy machine, so the fit is clamped to a = 0 then.
  const serial = Math.max(0, fittedSerial);
  const startup = (one.startupSeconds + two.startupSeconds) / 2;
  return {
    model: "T(N) = startup + C (a + b / N)",
    perWorkerCellSeconds: one.cellPhaseSeconds / cells,
    serialSecondsPerCell: serial,
    fittedSerialSecondsPerCell: fittedSerial,
    parallelSecondsPerCell: parallel,
    startupSeconds: startup,
    secondWorkerMemoryMiB:
      one.peakRssMiB === null || two.peakRssMiB === null ? null : two.peakRssMiB - one.peakRssMiB,
    projected: [1, 2, 4, 8, 16].map((n) => ({
      workers: n,
      cellsPerSecond: 1 / (serial + parallel / n),
      speedup: (serial + parallel) / (serial + parallel / n),
    })),
  };
}

async function measureCase(name, configText) {
  const runs = [];
  for (const workers of workerCounts) runs.push(await runOnce(configText, workers));
  const one = runs.find((run) => run.workers === 1);
  const two = runs.find((run) => run.workers === 2);
  const result = { name, runs, projection: one && two ? project(one, two) : null };
  for (const run of runs) {
    console.log(
      `${name}, ${run.workers} worker(s): ${run.cells} cells, ${run.cellsPerSecond.toFixed(2)} cells/s, ` +
        `start-up ${run.startupSeconds.toFixed(2)} s, peak RSS ${run.peakRssMiB?.toFixed(0) ?? "n/a"} MiB`,
    );
  }
  if (result.projection) {
    const speedup = two.cellsPerSecond / one.cellsPerSecond;
    console.log(`${name}: 2 workers give ${speedup.toFixed(2)}x the throughput of 1`);
  }
  return result;
}

const cases = [await measureCase("flowdps, digits 8x8, 100 steps", digitsConfig)];
const haveUnet = existsSync(join(options.unet, "tweedie-model.json"));
if (haveUnet) cases.push(await measureCase("dps, U-Net 64x64, 5 steps", unetConfig));
writeResult(options.out, {
  benchmark: "worker-scaling",
  command: `node bench/worker-scaling.mjs --workers ${options.workers} --digits ${options.digits}`,
  environment: environment(),
  skipped: haveUnet ? [] : [`U-Net case: no ${options.unet}; run bench/torch first`],
  cases,
});
