// Harness overhead: a solver's wall time per network evaluation (NFE) against raw
// onnxruntime-node `session.run` on the same model and the same inputs, in one process.
//
// One instrumented solve records every feed the solver sends to onnxruntime. The timed
// rounds then alternate a plain solve with a replay of those recorded feeds, in the same
// order and batch sizes, on a separate InferenceSession opened from the same file with the
// same options. The ratio solve / replay is the harness overhead; the goal is at most 1.10.
// Each round also replays the recorded model calls through `Denoiser.denoise`, which
// measures the harness's own cost per call without the solver's arithmetic.
//
// Every timing is taken twice: wall time, and the process's CPU time (user + system from
// process.cpuUsage). With one onnxruntime thread all work runs on the JavaScript thread, so
// CPU time leaves out the time the process waits for a core on a busy machine.
//
// Instrumented solves split the solver's time into three parts. The first is the time
// inside onnxruntime's `session.run`. The second is the rest of the Denoiser and model
// adapter: feeds, checks, output conversion and the Tweedie conversion. The third is the
// solver's own arithmetic: the operator, random draws and tensor updates.
//
// Cases: FlowDPS on the embedded digits prior (8x8, the worst case, because one run of
// that graph takes tens of microseconds), FlowDPS on the embedded Fashion-MNIST U-Net
// (28x28), and, when bench/torch has exported it, DPS with finite-difference gradients on
// the benchmark U-Net at 64x64.
//
//   node bench/harness-overhead.mjs [--out FILE] [--rounds N] [--warmup N] [--threads T] [--unet DIR]

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
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

const DENOISER_METHODS = [
  "predictRaw",
  "denoise",
  "guided",
  "vjp",
  "jvpFiniteDifference",
  "x0HatVjp",
  "fromRaw",
];

/**
 * Wraps the Denoiser's public methods on this instance to add up the seconds the solver
 * spends inside them. Only outermost calls count, because the methods call each other.
 */
function timeDenoiser(denoiser) {
  const totals = { seconds: 0 };
  let depth = 0;
  for (const name of DENOISER_METHODS) {
    const original = denoiser[name];
    denoiser[name] = function (...args) {
      if (depth > 0) return original.apply(this, args);
      depth++;
      const start = performance.now();
      const finish = () => {
        depth--;
        totals.seconds += (performance.now() - start) / 1000;
      };
      let result;
      try {
        result = original.apply(this, args);
      } catch (error) {
        finish();
        throw error;
      }
      if (!(result instanceof Promise)) {
        finish();
        return result;
      }
      return result.finally(finish);
    };
  }
  const restore = () => {
    for (const name of DENOISER_METHODS) delete denoiser[name];
  };
  return { totals, restore };
}

/** Wraps `model.predict` to keep a copy of every call's arguments, and returns the list. */
function recordPredictCalls(model) {
  const calls = [];
  const original = model.predict;
  model.predict = function (xt, t, cond) {
    calls.push({ xt: xt.clone(), t, cond });
    return original.call(this, xt, t, cond);
  };
  return { calls, restore: () => delete model.predict };
}

/** Runs the recorded feeds in order, building each ort.Tensor as plain user code would. */
async function replay(session, calls) {
  for (const call of calls) {
    const feeds = {};
    for (const [name, value] of Object.entries(call)) {
      feeds[name] = new ort.Tensor(value.type, value.data, value.dims);
    }
    await session.run(feeds);
  }
}

/** Runs the recorded model calls through `Denoiser.denoise`: the harness without a solver. */
async function replayDenoiser(denoiser, calls) {
  for (const call of calls) await denoiser.denoise(call.xt, call.t, call.cond);
}

/** Wall and CPU seconds of `count` awaited calls of `run`, per call. */
async function timed(run, count) {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i++) await run();
  const wall = (performance.now() - start) / 1000 / count;
  const cpu = process.cpuUsage(cpuStart);
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 / count };
}

/**
 * Measures one case. Each round times `solvesPerRound` solves, then as many replays of
 * each kind, so that cases whose solve takes about a millisecond are not dominated by
 * timer noise.
 */
async function measureCase({ name, model, denoiser, solve, file, solvesPerRound }) {
  const session = denoiserSession(model);
  const raw = await ort.InferenceSession.create(file, {
    graphOptimizationLevel: "all",
    executionProviders: ["cpu"],
    intraOpNumThreads: options.threads,
  });

  const recorder = recordFeeds(session);
  const predictRecorder = recordPredictCalls(model);
  const first = await solve();
  recorder.restore();
  predictRecorder.restore();
  const calls = recorder.calls;
  const predictCalls = predictRecorder.calls;

  for (let i = 0; i < options.warmup * solvesPerRound; i++) {
    await solve();
    await replay(raw, calls);
    await replayDenoiser(denoiser, predictCalls);
  }

  const rounds = [];
  for (let round = 0; round < options.rounds; round++) {
    const solveTime = await timed(solve, solvesPerRound);
    const replayTime = await timed(() => replay(raw, calls), solvesPerRound);
    const denoiserTime = await timed(() => replayDenoiser(denoiser, predictCalls), solvesPerRound);
    const shares = await instrumentedShares(session, denoiser, solve, solvesPerRound);
    rounds.push({
      solveSeconds: solveTime.wall,
      replaySeconds: replayTime.wall,
      denoiserReplaySeconds: denoiserTime.wall,
      ratio: solveTime.wall / replayTime.wall,
      cpuRatio: solveTime.cpu / replayTime.cpu,
      denoiserRatio: denoiserTime.wall / replayTime.wall,
      denoiserCpuRatio: denoiserTime.cpu / replayTime.cpu,
      ...shares,
    });
  }
  await raw.release();
  const middle = (key) => median(rounds.map((r) => r[key]));
  const ratio = middle("ratio");
  const solveSecondsPerNfe = middle("solveSeconds") / first.nfe;
  return {
    name,
    solvesPerRound,
    nfe: first.nfe,
    sessionRuns: calls.length,
    batchSizes: [...new Set(calls.map((call) => Object.values(call)[0].dims[0]))],
    solveSecondsPerNfe,
    rawSecondsPerNfe: middle("replaySeconds") / first.nfe,
    ratio,
    cpuRatio: middle("cpuRatio"),
    ratioRange: [Math.min(...rounds.map((r) => r.ratio)), Math.max(...rounds.map((r) => r.ratio))],
    denoiserRatio: middle("denoiserRatio"),
    denoiserCpuRatio: middle("denoiserCpuRatio"),
    goal: 1.1,
    meetsGoal: ratio <= 1.1,
    onnxruntimeShareInSolve: middle("sessionRunShare"),
    // The median shares of the instrumented solves, applied to the plain solve's time.
    breakdownSecondsPerNfe: {
      sessionRun: middle("sessionRunShare") * solveSecondsPerNfe,
      harness: middle("harnessShare") * solveSecondsPerNfe,
      solverArithmetic: middle("solverShare") * solveSecondsPerNfe,
    },
    rounds,
  };
}

/**
 * Times `count` solves with onnxruntime's `session.run` and the Denoiser's methods
 * instrumented, and returns the shares of the solve's wall time spent inside
 * `session.run`, in the rest of the Denoiser and adapter, and in the solver itself.
 */
async function instrumentedShares(session, denoiser, solve, count) {
  const runTimer = timeRuns(session);
  const denoiserTimer = timeDenoiser(denoiser);
  const total = (await timed(solve, count)).wall * count;
  runTimer.restore();
  denoiserTimer.restore();
  const run = runTimer.totals.seconds;
  const inDenoiser = denoiserTimer.totals.seconds;
  return {
    sessionRunShare: run / total,
    harnessShare: (inDenoiser - run) / total,
    solverShare: (total - inDenoiser) / total,
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
    denoiser,
    file: join(dir, "denoiser.onnx"),
    solvesPerRound: 50,
    solve: () => solver.solve(problem, createRng(0)),
  });
  await model.dispose();
  return result;
}

/** Reads test image `index` of the Fashion-MNIST subset (IDX format) as [1, 1, 28, 28] in [-1, 1]. */
function fashionImage(index) {
  const bytes = gunzipSync(
    readFileSync(join(REPO_ROOT, "data/fashion/t10k-first100-images-idx3-ubyte.gz")),
  );
  const offset = 16 + index * 28 * 28;
  const pixels = Float32Array.from(
    bytes.subarray(offset, offset + 28 * 28),
    (v) => (2 * v) / 255 - 1,
  );
  return new Tensor(pixels, [1, 1, 28, 28]);
}

async function fashionCase() {
  const truth = fashionImage(0);
  const dir = embeddedModelDir("fashion");
  const model = await loadModelPackage(dir, { intraOpThreads: options.threads });
  const shape = [1, 28, 28];
  const operator = buildOperator({ kind: "sr-avgpool", scale: 2 }, { imageShape: shape });
  const noise = { kind: "gaussian", sigma: 0.05, range: "[-1,1]" };
  const { y } = measure(operator, truth, noise, noiseRng(0, "fashion-0"));
  const solver = flowDpsPlugin.create(flowDpsPlugin.paramsSchema.parse({ steps: 28 }));
  const denoiser = new Denoiser(model);
  const problem = { kind: "restoration", denoiser, operator, y, sigmaY: 0.05, shape };
  const result = await measureCase({
    name: "flowdps, Fashion-MNIST U-Net 28x28, sr-avgpool x2, 28 steps",
    model,
    denoiser,
    file: join(dir, "denoiser.onnx"),
    solvesPerRound: 2,
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
    denoiser,
    file: join(options.unet, "denoiser.onnx"),
    solvesPerRound: 1,
    solve: () => solver.solve(problem, createRng(0)),
  });
  await model.dispose();
  return result;
}

const cases = [await digitsCase(), await fashionCase()];
const unet = await unetCase();
if (unet) cases.push(unet);
const ms = (seconds) => (seconds * 1e3).toFixed(3);
for (const entry of cases) {
  const parts = entry.breakdownSecondsPerNfe;
  console.log(
    `${entry.name}: ${ms(entry.solveSecondsPerNfe)} ms/NFE in the solver, ` +
      `${ms(entry.rawSecondsPerNfe)} ms/NFE raw, ratio ${entry.ratio.toFixed(3)} ` +
      `(CPU time ${entry.cpuRatio.toFixed(3)}; goal <= 1.10); Denoiser.denoise replay / raw ` +
      `${entry.denoiserRatio.toFixed(3)} (CPU time ${entry.denoiserCpuRatio.toFixed(3)}); ` +
      `per NFE: session.run ${ms(parts.sessionRun)} ms, harness ${ms(parts.harness)} ms, ` +
      `solver arithmetic ${ms(parts.solverArithmetic)} ms`,
  );
}
writeResult(options.out, {
  benchmark: "harness-overhead",
  command: `node bench/harness-overhead.mjs --rounds ${options.rounds} --warmup ${options.warmup} --threads ${options.threads}`,
  environment: environment({ onnxruntimeThreads: options.threads }),
  skipped: unet ? [] : [`U-Net case: no ${options.unet}; run bench/torch first`],
  cases,
});
