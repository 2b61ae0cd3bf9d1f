// Times FID and KID on synthetic Inception-sized features: node bench/fid-kid.mjs [dim] [count]
// after `pnpm exec tsc -b`. Both sets hold `count` non-negative vectors of `dim` values with
// a rank-16 correlation, roughly like pool3 features.
import os from "node:os";
import { fidFromFeatures, kidFromFeatures, SplitMix64 } from "../dist/index.js";

const dim = Number(process.argv[2] ?? 2048);
const count = Number(process.argv[3] ?? 2048);

function featureSet(seed, shift) {
  const rng = new SplitMix64(seed);
  const basis = Array.from({ length: 16 }, () =>
    Float64Array.from({ length: dim }, () => rng.nextNormal()),
  );
  const data = new Float64Array(count * dim);
  for (let i = 0; i < count; i++) {
    const weights = Array.from({ length: 16 }, () => rng.nextNormal());
    for (let d = 0; d < dim; d++) {
      let value = shift + 0.3 * rng.nextNormal();
      for (let k = 0; k < 16; k++) value += 0.1 * weights[k] * basis[k][d];
      data[i * dim + d] = Math.max(value, 0);
    }
  }
  return { data, count, dim };
}

const reference = featureSet(1, 0.5);
const output = featureSet(2, 0.55);
const load = os.loadavg().map((v) => v.toFixed(1));
console.log(`${os.cpus().length} x ${os.cpus()[0].model}, load average ${load.join(" ")}`);

let start = process.cpuUsage();
let wall = performance.now();
const fid = fidFromFeatures(reference, output);
let cpu = process.cpuUsage(start);
console.log(
  `FID ${fid.value.toFixed(4)} (dim ${dim}, ${count} + ${count}): ` +
    `${((performance.now() - wall) / 1000).toFixed(1)} s wall, ${(cpu.user / 1e6).toFixed(1)} s CPU, ` +
    `${fid.clampedEigenvalues} eigenvalues clamped`,
);

start = process.cpuUsage();
wall = performance.now();
const kid = kidFromFeatures(reference, output);
cpu = process.cpuUsage(start);
console.log(
  `KID ${kid.value.toExponential(4)} ± ${kid.std?.toExponential(2)} (100 subsets of ${kid.subsetSize}): ` +
    `${((performance.now() - wall) / 1000).toFixed(1)} s wall, ${(cpu.user / 1e6).toFixed(1)} s CPU`,
);
