// DPS gradient cost: Tweedie's gradient step through onnxruntime-node against a PyTorch
// autograd step (forward + backward) on the same small U-Net, same CPU, same threads.
//
// bench/torch/dps_gradient.py builds the U-Net with seeded random weights and exports it
// as one model package per size: a forward graph and a VJP graph (written out by make_fx,
// since onnxruntime has no autograd). This script keeps `dps_gradient.py serve` running
// and, in each round, times one PyTorch call then one call of each onnxruntime-node
// variant, so that both sides of every ratio see the same machine load:
//   - one forward (raw session.run, batch 1), and two forwards as one batch-2 run;
//   - Denoiser.jvpFiniteDifference: the symmetric-Jacobian gradient by a central
//     difference, two forwards in one doubled-batch call;
//   - Denoiser.denoise + jvpFiniteDifference: a whole DPS step with that gradient;
//   - Denoiser.vjp: a whole DPS step through the exported VJP graph.
// Ratios are taken within a round, then the median over rounds is reported, from wall
// times and from CPU times (both engines report the CPU time of their own process). The
// goal is at most 0.6 for the two-forward gradient against torch forward+backward at
// 256x256. PyTorch's forward+backward computes the input gradient only, because that is
// all DPS needs. A third PyTorch call also computes every parameter's gradient, as a
// training step does. It is timed for reference and never enters the headline ratio.
//
//   node bench/dps-gradient.mjs [--python PATH] [--sizes 64,256] [--rounds 7]
//     [--warmup 2] [--threads T] [--out FILE] [--export auto|always]
// PATH defaults to $TWEEDIE_BENCH_PYTHON, then /tmp/bench-venv/bin/python (see
// bench/torch/README.md); without a Python that imports torch the result is "skipped".
// Both engines get T intra-op threads (default 1). On a shared, oversubscribed machine,
// PyTorch's OpenMP threads wait at barriers while descheduled: with 2 threads on 2 busy
// cores one 64x64 forward took 1.17 s against 0.04 s with 1 thread. Use T > 1 only on
// an otherwise idle machine.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Denoiser, loadModelPackage, Tensor, timeOfIndex } from "../packages/core/dist/index.js";
import { benchOptions, environment, median, REPO_ROOT, writeResult } from "./lib/common.mjs";

const ort = createRequire(join(REPO_ROOT, "packages/core/package.json"))("onnxruntime-node");

const options = benchOptions(process.argv.slice(2), {
  python: process.env.TWEEDIE_BENCH_PYTHON ?? "/tmp/bench-venv/bin/python",
  sizes: "64,256",
  rounds: 7,
  warmup: 2,
  threads: 1,
  out: join(REPO_ROOT, "bench-results/dps-gradient.json"),
  export: "auto",
  exportDir: join(REPO_ROOT, "bench-results/torch"),
});
const sizes = options.sizes.split(",").map(Number);
const script = join(REPO_ROOT, "bench/torch/dps_gradient.py");
const TIMESTEP_INDEX = 500;

function exportModels() {
  const args = [script, "export", "--sizes", sizes.join(","), "--out", options.exportDir];
  const result = spawnSync(options.python, args, { cwd: REPO_ROOT, encoding: "utf8" });
  if (result.error || result.status !== 0) {
    const reason = result.error?.message ?? result.stderr.trim().split("\n").slice(-3).join(" ");
    throw new Error(`${options.python} ${args.join(" ")} failed: ${reason}`);
  }
}

function skip(reason) {
  console.log(`dps-gradient skipped: ${reason}`);
  writeResult(options.out, {
    benchmark: "dps-gradient",
    status: "skipped",
    reason,
    environment: environment(),
  });
  process.exit(0);
}

/**
 * Measures the wall and CPU seconds of one awaited call. CPU time (user + system of the
 * process) leaves out the time spent waiting for a core on a busy machine. It equals the
 * call's own work only with one onnxruntime thread, because that thread is the JavaScript
 * thread; more threads add their spinning.
 */
async function seconds(run) {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await run();
  const cpu = process.cpuUsage(cpuStart);
  return { wall: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

/** `dps_gradient.py serve`: one request line in, one JSON line with its seconds out. */
async function startTorch() {
  const child = spawn(
    options.python,
    [script, "serve", "--sizes", sizes.join(","), "--threads", String(options.threads)],
    { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await lines.next();
    if (line.done) throw new Error(`${script} serve exited (code ${child.exitCode})`);
    return JSON.parse(line.value);
  };
  const info = await next();
  await next(); // {"ready": true}
  return {
    info,
    async time(kind, size) {
      child.stdin.write(`${kind} ${size}\n`);
      const reply = await next();
      if (reply.error) throw new Error(reply.error);
      return { wall: reply.seconds, cpu: reply.cpuSeconds };
    },
    close() {
      child.stdin.end();
    },
  };
}

/** Reads x, g, eps and J^T g that the export wrote, float32, one after another. */
function references(size) {
  const bytes = readFileSync(join(options.exportDir, `reference-${size}.bin`));
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const count = 3 * size * size;
  const part = (i) => new Tensor(all.slice(i * count, (i + 1) * count), [1, 3, size, size]);
  return { x: part(0), g: part(1), eps: part(2), vjp: part(3) };
}

function maxAbsDifference(a, b) {
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
  return max;
}

async function openSize(size) {
  const dir = join(options.exportDir, `unet-${size}`);
  // The first model keeps the batched path the table measures: two forwards as one
  // doubled-batch run. The CPU default runs batch items one at a time, so that samples do
  // not depend on the batch, and the second model times that path in the same rounds.
  const model = await loadModelPackage(dir, { intraOpThreads: options.threads, itemRuns: false });
  const denoiser = new Denoiser(model, { vjpMode: "vjp" });
  const itemModel = await loadModelPackage(dir, { intraOpThreads: options.threads });
  const itemDenoiser = new Denoiser(itemModel, { vjpMode: "vjp" });
  const raw = await ort.InferenceSession.create(join(dir, "denoiser.onnx"), {
    graphOptimizationLevel: "all",
    executionProviders: ["cpu"],
    intraOpNumThreads: options.threads,
  });
  const reference = references(size);
  const t = timeOfIndex(denoiser.schedule, TIMESTEP_INDEX);
  const cond = { kind: "none" };

  // The exported graphs must match PyTorch before their timings mean anything.
  const checked = await model.vjp(reference.x, t, cond, reference.g);
  const check = {
    forwardMaxAbsDifference: maxAbsDifference(checked.output, reference.eps),
    vjpMaxAbsDifference: maxAbsDifference(checked.vjp, reference.vjp),
  };
  const tolerance = 1e-3 * reference.vjp.data.reduce((max, v) => Math.max(max, Math.abs(v)), 1);
  if (!(check.vjpMaxAbsDifference < tolerance && check.forwardMaxAbsDifference < 1e-3)) {
    throw new Error(`U-Net ${size}: onnxruntime differs from PyTorch: ${JSON.stringify(check)}`);
  }

  const feeds = (batch) => ({
    x_t: new ort.Tensor("float32", new Float32Array(batch * 3 * size * size).fill(0.1), [
      batch,
      3,
      size,
      size,
    ]),
    timestep: new ort.Tensor("float32", new Float32Array(batch).fill(TIMESTEP_INDEX), [batch]),
  });
  return { size, model, itemModel, denoiser, itemDenoiser, raw, reference, t, cond, check, feeds };
}

/** Times one call of each variant at one size, PyTorch first. */
async function timeRound(torch, entry) {
  const { size, denoiser, itemDenoiser, raw, reference, t, cond, feeds } = entry;
  const one = feeds(1);
  const two = feeds(2);
  const torchForwardBackward = await torch.time("forward_backward", size);
  const torchForward = await torch.time("forward", size);
  const torchParameters = await torch.time("forward_backward_parameters", size);
  return {
    torch: {
      forwardSeconds: torchForward,
      forwardBackwardSeconds: torchForwardBackward,
      forwardBackwardParametersSeconds: torchParameters,
    },
    onnxruntime: {
      forwardSeconds: await seconds(() => raw.run(one)),
      twoForwardsBatchSeconds: await seconds(() => raw.run(two)),
      fdGradientSeconds: await seconds(() =>
        denoiser.jvpFiniteDifference(reference.x, t, cond, reference.g),
      ),
      fdGradientItemRunsSeconds: await seconds(() =>
        itemDenoiser.jvpFiniteDifference(reference.x, t, cond, reference.g),
      ),
      fdStepSeconds: await seconds(async () => {
        await denoiser.denoise(reference.x, t, cond);
        await denoiser.jvpFiniteDifference(reference.x, t, cond, reference.g);
      }),
      vjpStepSeconds: await seconds(() => denoiser.vjp(reference.x, t, cond, reference.g)),
    },
  };
}

const probe = spawnSync(options.python, ["-c", "import torch, onnx, onnxscript"], {
  encoding: "utf8",
});
if (probe.error || probe.status !== 0) {
  skip(`${options.python} cannot import torch, onnx and onnxscript (see bench/torch/README.md)`);
}
const missing = sizes.filter(
  (size) => !existsSync(join(options.exportDir, `unet-${size}`, "tweedie-model.json")),
);
if (options.export === "always" || missing.length > 0) {
  console.log(`exporting the U-Net for sizes ${sizes.join(", ")} into ${options.exportDir}`);
  exportModels();
}

const entries = [];
for (const size of sizes) entries.push(await openSize(size));
const torch = await startTorch();
for (let round = 0; round < options.warmup; round++) {
  for (const entry of entries) await timeRound(torch, entry);
}
/** Computes the ratios of one round at one size from wall times or CPU times (`clock`). */
function roundRatios(reference, onnx, clock) {
  const backward = reference.forwardBackwardSeconds[clock];
  return {
    twoForwardsBatchVsTorchForwardBackward: onnx.twoForwardsBatchSeconds[clock] / backward,
    fdGradientVsTorchForwardBackward: onnx.fdGradientSeconds[clock] / backward,
    fdGradientItemRunsVsTorchForwardBackward: onnx.fdGradientItemRunsSeconds[clock] / backward,
    fdStepVsTorchForwardBackward: onnx.fdStepSeconds[clock] / backward,
    vjpStepVsTorchForwardBackward: onnx.vjpStepSeconds[clock] / backward,
    forwardVsTorchForward: onnx.forwardSeconds[clock] / reference.forwardSeconds[clock],
    torchForwardBackwardVsForward: backward / reference.forwardSeconds[clock],
    fdGradientVsTorchForwardBackwardParameters:
      onnx.fdGradientSeconds[clock] / reference.forwardBackwardParametersSeconds[clock],
  };
}

const rounds = [];
for (let round = 0; round < options.rounds; round++) {
  const perSize = [];
  for (const entry of entries) {
    const { torch: reference, onnxruntime: onnx } = await timeRound(torch, entry);
    perSize.push({
      size: entry.size,
      torch: reference,
      onnxruntime: onnx,
      ratios: roundRatios(reference, onnx, "wall"),
      cpuRatios: roundRatios(reference, onnx, "cpu"),
    });
  }
  rounds.push({ perSize });
}
torch.close();

const summary = entries.map((entry) => {
  const results = rounds.map((round) => round.perSize.find((item) => item.size === entry.size));
  const medians = (key) =>
    Object.fromEntries(
      Object.keys(results[0][key]).map((name) => [
        name,
        median(results.map((result) => result[key][name])),
      ]),
    );
  const ratios = medians("ratios");
  const wall = (pick) => median(results.map((result) => pick(result).wall));
  const headline = results.map((result) => result.ratios.fdGradientVsTorchForwardBackward);
  return {
    size: entry.size,
    batch: 1,
    check: entry.check,
    ratios,
    cpuRatios: medians("cpuRatios"),
    fdGradientRatioRange: [Math.min(...headline), Math.max(...headline)],
    medianSeconds: {
      torchForward: wall((result) => result.torch.forwardSeconds),
      torchForwardBackward: wall((result) => result.torch.forwardBackwardSeconds),
      torchForwardBackwardParameters: wall(
        (result) => result.torch.forwardBackwardParametersSeconds,
      ),
      onnxruntimeForward: wall((result) => result.onnxruntime.forwardSeconds),
      fdGradient: wall((result) => result.onnxruntime.fdGradientSeconds),
    },
    goal: entry.size === 256 ? { fdGradientVsTorchForwardBackward: 0.6 } : undefined,
    meetsGoal: entry.size === 256 ? ratios.fdGradientVsTorchForwardBackward <= 0.6 : undefined,
  };
});
for (const entry of summary) {
  const r = entry.ratios;
  const c = entry.cpuRatios;
  console.log(
    `${entry.size}x${entry.size}: vs torch fwd+bwd: FD gradient (2 fwd) ${r.fdGradientVsTorchForwardBackward.toFixed(2)} ` +
      `(CPU time ${c.fdGradientVsTorchForwardBackward.toFixed(2)}), ` +
      `DPS step with FD (3 fwd) ${r.fdStepVsTorchForwardBackward.toFixed(2)}, VJP graph step ${r.vjpStepVsTorchForwardBackward.toFixed(2)}; ` +
      `ORT fwd vs torch fwd ${r.forwardVsTorchForward.toFixed(2)} (CPU time ${c.forwardVsTorchForward.toFixed(2)}); ` +
      `torch fwd+bwd / fwd ${r.torchForwardBackwardVsForward.toFixed(2)}; ` +
      `FD gradient vs torch fwd+bwd with parameter gradients ${r.fdGradientVsTorchForwardBackwardParameters.toFixed(2)}; ` +
      `FD gradient with item runs (CPU default) ${r.fdGradientItemRunsVsTorchForwardBackward.toFixed(2)}`,
  );
}
for (const entry of entries) {
  await entry.raw.release();
  await entry.model.dispose();
  await entry.itemModel.dispose();
}
writeResult(options.out, {
  benchmark: "dps-gradient",
  status: "ok",
  command: `node bench/dps-gradient.mjs --sizes ${options.sizes} --rounds ${options.rounds} --warmup ${options.warmup} --threads ${options.threads}`,
  environment: environment({
    onnxruntimeThreads: options.threads,
    torch: torch.info.torch,
    torchThreads: torch.info.threads,
  }),
  model:
    "bench/torch/dps_gradient.py TinyUNet, seed 0, epsilon prediction, batch 1, timestep index 500",
  summary,
  rounds,
});
