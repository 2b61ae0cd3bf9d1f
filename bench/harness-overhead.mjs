// Harness overhead: a solver's wall time per network evaluation (NFE) against raw
// onnxruntime-node `session.run` on the same model and the same inputs, in one process.
//
// One instrumented solve records every feed the solver sends to onnxruntime. The timed
// rounds then alternate a plain solve with a replay of those recorded feeds, in the same
// order and batch sizes, on a separate InferenceSession opened from the same file with the
// same options. The ratio solve / replay is the harness overhead; the goal is at most 1.10.
//
// Cases: FlowDPS on the embedded digits prior (8x8, the worst case, because one run of
// that graph takes tens of microseconds) and, when bench/torch has exported it, DPS
// with finite-difference gradients on the benchmark U-Net at 64x64.
//
//   node bench/harness-overhead.mjs [--out FILE] [--rounds N] [--warmup N] [--threads T] [--unet DIR]

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  createRng,
  Denoiser,
  digitsSplit,
  embeddedModelDir,
  loadModelPackage,
  readDigitsFile,
  Tensor,
} from "../packages/core/dist/index.js";
import { buildOperator, measure, noiseRng } from "../packages/operators/dist/index.js";
import { dpsPlugin } from "../packages/solver-dps/dist/index.js";
import { flowDpsPlugin } from "../packages/solver-flowdps/dist/index.js";
import { benchOptions, environment, median, REPO_ROOT, writeResult } from "./lib/common.mjs";

const ort = createRequire(join(REPO_ROOT, "packages/core/package.json"))("onnxruntime-node");

const options = benchOptions(process.argv.slice(2), {
  out: join(REPO_ROOT, "bench-results/harness-overhead.json"),
  rounds: 9,
  warmup: 3,
  threads: 1,
  unet: join(REPO_ROOT, "bench-results/torch/unet-64"),
});

/** Returns the denoiser session of a loaded model package (a runtime field of core's class). */
function denoiserSession(model) {
  const session = model.denoiser?.session;
  if (!session?.handle) throw new Error("model package layout changed: no denoiser session");
  return session;
}

/** Wraps `session.handle.run` to copy every feed it receives, and returns the list. */
function recordFeeds(session) {
  const calls = [];
  const original = session.handle.run.bind(session.handle);
  session.handle.run = (feeds, ...rest) => {
    const copy = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      copy[name] = { type: tensor.type, dims: [...tensor.dims], data: tensor.data.slice() };
    }
    calls.push(copy);
    return original(feeds, ...rest);
  };
  return { calls, restore: () => (session.handle.run = original) };
}

/** Wraps `session.handle.run` to add up the seconds spent inside onnxruntime. */
function timeRuns(session) {
  const totals = { seconds: 0, calls: 0 };
  const original = session.handle.run.bind(session.handle);
  session.handle.run = async (...args) => {
    const start = performance.now();
    try {
      return await original(...args);
    } finally {
      totals.seconds += (performance.now() - start) / 1000;
      totals.calls++;
    }
  };
  return { totals, restore: () => (session.handle.run = original) };
}

/** Runs the recorded feeds in order, building each ort.Tensor as plain user code would. */
async function replay(session, calls) {
  const start = performance.now();
  for (const call of calls) {
    const feeds = {};
    for (const [name, value] of Object.entries(call)) {
      feeds[name] = new ort.Tensor(value.type, value.data, value.dims);
    }
    await session.run(feeds);
  }
  return (performance.now() - start) / 1000;
}

/**
 * Measures one case. Each round times `solvesPerRound` solves, then as many replays, so
 * that cases whose solve takes about a millisecond are not dominated by timer noise.
 */
async function measureCase({ name, model, solve, file, solvesPerRound }) {
  const session = denoiserSession(model);
  const raw = await ort.InferenceSession.create(file, {
    graphOptimizationLevel: "all",
    executionProviders: ["cpu"],
    intraOpNumThreads: options.threads,
  });

  const recorder = recordFeeds(session);
  const first = await solve();
  recorder.restore();
  const calls = recorder.calls;

  const timer = timeRuns(session);
  const instrumentedStart = performance.now();
  for (let i = 0; i < solvesPerRound; i++) await solve();
  const instrumentedSeconds = (performance.now() - instrumentedStart) / 1000;
  timer.restore();

  for (let i = 0; i < options.warmup * solvesPerRound; i++) {
    await solve();
    await replay(raw, calls);
  }
  const rounds = [];
  for (let round = 0; round < options.rounds; round++) {
    const start = performance.now();
    for (let i = 0; i < solvesPerRound; i++) await solve();
    const solveSeconds = (performance.now() - start) / 1000 / solvesPerRound;
    let replaySeconds = 0;
    for (let i = 0; i < solvesPerRound; i++) replaySeconds += await replay(raw, calls);
    replaySeconds /= solvesPerRound;
    rounds.push({ solveSeconds, replaySeconds, ratio: solveSeconds / replaySeconds });
  }
  await raw.release();
  const ratio = median(rounds.map((r) => r.ratio));
  return {
    name,
    solvesPerRound,
    nfe: first.nfe,
    sessionRuns: calls.length,
    batchSizes: [...new Set(calls.map((call) => Object.values(call)[0].dims[0]))],
    solveSecondsPerNfe: median(rounds.map((r) => r.solveSeconds)) / first.nfe,
    rawSecondsPerNfe: median(rounds.map((r) => r.replaySeconds)) / first.nfe,
    ratio,
    goal: 1.1,
    meetsGoal: ratio <= 1.1,
    onnxruntimeShareInSolve: timer.totals.seconds / instrumentedSeconds,
    rounds,
  };
}

async function digitsCase() {
  const digits = readDigitsFile(join(REPO_ROOT, "data/digits/digits.csv.gz"));
  const row = digitsSplit(digits.count).heldOut[0];
  const pixels = Float32Array.from(digits.images.subarray(row * 64, row * 64 + 64));
  const truth = new Tensor(pixels, [1, 1, 8, 8]);
  const dir = embeddedModelDir("digits");
  const model = await loadModelPackage(dir, { intraOpThreads: options.threads });
  const operator = buildOperator({ kind: "sr-avgpool", scale: 2 }, { imageShape: [1, 8, 8] });
  const noise = { kind: "gaussian", sigma: 0.05, range: "[-1,1]" };
  const { y } = measure(operator, truth, noise, noiseRng(0, `row-${row}`));
  const solver = flowDpsPlugin.create(flowDpsPlugin.paramsSchema.parse({ steps: 28 }));
  const denoiser = new Denoiser(model);
  const problem = { kind: "restoration", denoiser, operator, y, sigmaY: 0.05, shape: [1, 8, 8] };
  const result = await measureCase({
    name: "flowdps, digits prior 8x8, sr-avgpool x2, 28 steps",
    model,
    file: join(dir, "denoiser.onnx"),
    solvesPerRound: 50,
    solve: () => solver.solve(problem, createRng(0)),
  });
  await model.dispose();
  return result;
}

async function unetCase() {
  const manifest = join(options.unet, "tweedie-model.json");
  if (!existsSync(manifest)) return undefined;
  const model = await loadModelPackage(options.unet, { intraOpThreads: options.threads });
  const [height, width] = model.info.resolution;
  const shape = [3, height, width];
  const truth = createRng(1)
    .normalTensor([1, ...shape])
    .map((v) => Math.tanh(v));
  const operator = buildOperator({ kind: "sr-avgpool", scale: 2 }, { imageShape: shape });
  const noise = { kind: "gaussian", sigma: 0.05, range: "[-1,1]" };
  const { y } = measure(operator, truth, noise, noiseRng(0, "unet"));
  const params = dpsPlugin.paramsSchema.parse({ steps: 20, gradient: "jvp-fd" });
  const solver = dpsPlugin.create(params);
  const denoiser = new Denoiser(model);
  const problem = { kind: "restoration", denoiser, operator, y, sigmaY: 0.05, shape };
  const result = await measureCase({
    name: `dps (jvp-fd), bench U-Net ${height}x${width}, sr-avgpool x2, 20 steps`,
    model,
    file: join(options.unet, "denoiser.onnx"),
    solvesPerRound: 1,
    solve: () => solver.solve(problem, createRng(0)),
  });
  await model.dispose();
  return result;
}

const cases = [await digitsCase()];
const unet = await unetCase();
if (unet) cases.push(unet);
for (const entry of cases) {
  console.log(
    `${entry.name}: ${(entry.solveSecondsPerNfe * 1e3).toFixed(3)} ms/NFE in the solver, ` +
      `${(entry.rawSecondsPerNfe * 1e3).toFixed(3)} ms/NFE raw, ratio ${entry.ratio.toFixed(3)} ` +
      `(goal <= 1.10), onnxruntime share ${(100 * entry.onnxruntimeShareInSolve).toFixed(1)} %`,
  );
}
writeResult(options.out, {
  benchmark: "harness-overhead",
  command: `node bench/harness-overhead.mjs --rounds ${options.rounds} --warmup ${options.warmup} --threads ${options.threads}`,
  environment: environment({ onnxruntimeThreads: options.threads }),
  skipped: unet ? [] : [`U-Net case: no ${options.unet}; run bench/torch first`],
  cases,
});
