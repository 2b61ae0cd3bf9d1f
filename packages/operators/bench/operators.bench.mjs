#!/usr/bin/env node
// Times forward and adjoint (VJP for nonlinear operators) of every operator kind on one
// RGB image at 256 x 256 and 1024 x 1024. It imports the built dist/, so build the
// package first. Writes JSON to the path in argv[2], by default
// bench-results/operators.json at the repository root. Each figure is the median of
// several runs after one warm-up run. Both wall time and this process's CPU time (user +
// system) are recorded, because CPU time stays meaningful on a shared machine.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRng, operatorVjp } from "@tweedie/core";
import { buildOperator } from "../dist/index.js";

const benchDir = dirname(fileURLToPath(import.meta.url));
const output = resolve(
  process.argv[2] ?? resolve(benchDir, "../../../bench-results/operators.json"),
);

const specs = [
  { kind: "identity" },
  { kind: "sr-avgpool", scale: 4 },
  { kind: "sr-bicubic", scale: 4 },
  { kind: "gaussian-blur", size: 61, sigma: 3 },
  { kind: "motion-blur", size: 61, intensity: 0.5, seed: 0 },
  { kind: "inpainting", pattern: "box", seed: 0 },
  { kind: "inpainting", pattern: "random", seed: 0 },
  { kind: "colorization" },
  { kind: "phase-retrieval", oversample: 2 },
  {
    kind: "compose",
    operators: [
      { kind: "gaussian-blur", size: 61, sigma: 3 },
      { kind: "sr-avgpool", scale: 4 },
    ],
  },
];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(fn, runs) {
  fn();
  const wall = [];
  const cpu = [];
  for (let i = 0; i < runs; i++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    fn();
    wall.push(performance.now() - start);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

const results = [];
for (const size of [256, 1024]) {
  const imageShape = [3, size, size];
  const runs = size <= 256 ? 7 : 3;
  const x = createRng(0)
    .split("bench", size)
    .normalTensor([1, ...imageShape]);
  for (const spec of specs) {
    const buildStart = performance.now();
    const op = buildOperator(spec, { imageShape });
    const buildMs = performance.now() - buildStart;
    const y = op.forward(x);
    const backward = op.linear ? "adjoint" : "vjp";
    const forward = time(() => op.forward(x), runs);
    const back = time(() => operatorVjp(op, x, y), runs);
    const name = spec.kind === "inpainting" ? `inpainting-${spec.pattern}` : spec.kind;
    results.push({
      operator: name,
      size,
      buildMs,
      forwardMs: forward.wallMs,
      forwardCpuMs: forward.cpuMs,
      backward,
      backwardMs: back.wallMs,
      backwardCpuMs: back.cpuMs,
    });
    const ms = (value) => value.toFixed(1).padStart(8);
    console.log(
      `${name.padEnd(18)} ${String(size).padStart(4)}  build ${ms(buildMs)}  forward ${ms(forward.wallMs)} (cpu ${ms(forward.cpuMs)})  ${backward.padEnd(7)} ${ms(back.wallMs)} (cpu ${ms(back.cpuMs)})  ms`,
    );
  }
}

mkdirSync(dirname(output), { recursive: true });
writeFileSync(
  output,
  `${JSON.stringify(
    {
      benchmark: "operators",
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      unit: "ms",
      note: "one RGB image per call; median after one warm-up run; wall and process CPU time",
      results,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${output}`);
