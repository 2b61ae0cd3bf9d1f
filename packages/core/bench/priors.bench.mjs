#!/usr/bin/env node
// Times the embedded priors' ONNX graphs over the compiled package (run `pnpm exec tsc -b`
// in packages/core first) and writes JSON to argv[2], by default bench-results/priors.json
// at the repository root.
//   node packages/core/bench/priors.bench.mjs [output.json] [--threads N] [--repeats R] [--package DIR]
// --package times another patches package folder instead of the embedded one.
// Patches prior: the tiled denoiser (stride 4 and 8) and its VJP graph at 256x256 and
// 1024x1024, with the achieved GFLOP/s of the large products. Next to them is
// onnxruntime's own MatMul rate, measured in the same run on the shapes of one Scan step
// (the best rate this denoiser can reach) and on a square 1024 product. The digits prior
// is timed at batch 1 and 1024 through its model package.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createRng,
  createSession,
  embeddedModelDir,
  GraphBuilder,
  loadModelPackage,
  loadPatchesPrior,
  onnxruntimeVersion,
  PATCH_DIM,
  patchDenoiserGraph,
  releaseSession,
  runSession,
} from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at < 0 ? fallback : Number(args[at + 1]);
};
const positional = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const packageAt = args.indexOf("--package");
const packageDir = packageAt < 0 ? undefined : resolve(args[packageAt + 1]);
const output = resolve(positional[0] ?? resolve(here, "../../../bench-results/priors.json"));
const threads = option("--threads", undefined);
const repeats = option("--repeats", 5);
const session = threads === undefined ? {} : { intraOpThreads: threads };

/** Median wall time in seconds of `run` over `count` calls after one warm-up call. */
async function medianSeconds(run, count) {
  await run();
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await run();
    times.push((performance.now() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function matmulRate(m, k, n, count) {
  const graph = new GraphBuilder({ name: "matmul" });
  graph.input("a", "float32", [m, k]);
  graph.input("b", "float32", [k, n]);
  graph.node("MatMul", ["a", "b"], ["y"]);
  graph.output("y", "float32", [m, n]);
  const matmul = await createSession(graph.toBytes(), { ...session, fileLabel: "matmul" });
  const rng = createRng("bench-matmul");
  const feeds = {
    a: { dtype: "float32", data: rng.split("a").normal(m * k), dims: [m, k] },
    b: { dtype: "float32", data: rng.split("b").normal(k * n), dims: [k, n] },
  };
  // Repeat enough calls per timing that each timing lasts a few milliseconds at least.
  const inner = Math.max(1, Math.round(2e8 / (m * k * n)));
  const seconds = await medianSeconds(async () => {
    for (let i = 0; i < inner; i++) await runSession(matmul, feeds);
  }, count);
  await releaseSession(matmul);
  const gflop = (2 * m * k * n) / 1e9;
  return { shape: [m, k, n], seconds: seconds / inner, gflopPerSecond: (gflop * inner) / seconds };
}

async function denoiserRate(params, stride, vjp, side, count) {
  const bytes = patchDenoiserGraph(params, { stride, vjp });
  const graph = await createSession(bytes, { ...session, fileLabel: `patches_s${stride}` });
  const rng = createRng("bench-patches");
  const size = 3 * side * side;
  const feeds = {
    x_t: { dtype: "float32", data: rng.split("x").normal(size), dims: [1, 3, side, side] },
    alpha: { dtype: "float32", data: Float32Array.of(0.8), dims: [1] },
    sigma: { dtype: "float32", data: Float32Array.of(0.6), dims: [1] },
  };
  if (vjp)
    feeds.g = { dtype: "float32", data: rng.split("g").normal(size), dims: [1, 3, side, side] };
  const seconds = await medianSeconds(() => runSession(graph, feeds), count);
  await releaseSession(graph);
  // Two products of [P, 192] x [192, K 192] size per call (four with the VJP).
  const patches = (side / stride) ** 2;
  const gflop = ((vjp ? 8 : 4) * patches * PATCH_DIM * PATCH_DIM * params.components) / 1e9;
  return { side, stride, vjp, seconds, gflop, gflopPerSecond: gflop / seconds };
}

const { params } = await loadPatchesPrior(packageDir);
const k = params.components;
const results = {
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    node: process.version,
    onnxruntime: onnxruntimeVersion(),
    intraOpThreads: threads ?? "onnxruntime default",
  },
  patches: { package: packageDir ?? "embedded", components: k, runs: [] },
  matmul: [],
  digits: { runs: [] },
};
for (const [m, inner, n] of [
  [256, PATCH_DIM, k * PATCH_DIM],
  [256, k * PATCH_DIM, PATCH_DIM],
  [1024, 1024, 1024],
]) {
  results.matmul.push(await matmulRate(m, inner, n, repeats));
  console.error(JSON.stringify(results.matmul.at(-1)));
}
for (const [side, stride, vjp] of [
  [256, 4, false],
  [256, 8, false],
  [256, 4, true],
  [1024, 4, false],
  [1024, 4, true],
]) {
  const count = side >= 1024 ? Math.max(1, Math.round(repeats / 2)) : repeats;
  results.patches.runs.push(await denoiserRate(params, stride, vjp, side, count));
  console.error(JSON.stringify(results.patches.runs.at(-1)));
}
// Digits denoiser through its model package: 10 class components in the eigenbasis, so
// the dominant work per image is two 64 x 64 products per component (an estimate that
// leaves out the log-sum-exp and the label gather).
const digits = await loadModelPackage(embeddedModelDir("digits"), session);
for (const batch of [1, 1024]) {
  const x = createRng("bench-digits").normalTensor([batch, 1, 8, 8]);
  const cond = await digits.condition("", batch);
  const seconds = await medianSeconds(() => digits.predict(x, 0.5, cond), repeats);
  const gflop = (batch * 10 * 2 * 2 * 64 * 64) / 1e9;
  results.digits.runs.push({ batch, seconds, gflop, gflopPerSecond: gflop / seconds });
  console.error(JSON.stringify(results.digits.runs.at(-1)));
}
await digits.dispose();
mkdirSync(dirname(output), { recursive: true });
writeFileSync(output, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${output}`);
