import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import {
  randomUnitDirections,
  type SampleSet,
  SplitMix64,
  slicedWasserstein,
  wasserstein1d,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

/** K directions evenly spaced over the half circle: a quadrature of the uniform law on S^1. */
function evenDirections(count: number): Float64Array {
  const out = new Float64Array(2 * count);
  for (let k = 0; k < count; k++) {
    const angle = (Math.PI * (k + 0.5)) / count;
    out[2 * k] = Math.cos(angle);
    out[2 * k + 1] = Math.sin(angle);
  }
  return out;
}

function pointMass(point: number[], count: number): SampleSet {
  const data = new Float64Array(point.length * count);
  for (let i = 0; i < count; i++) data.set(point, i * point.length);
  return { data, count, dim: point.length };
}

function gaussianCloud(
  count: number,
  dim: number,
  seed: number,
  shift: number[],
): SampleSet & { data: Float64Array } {
  const rng = new SplitMix64(seed);
  const data = new Float64Array(count * dim);
  for (let i = 0; i < data.length; i++) data[i] = rng.nextNormal() + shift[i % dim];
  return { data, count, dim };
}

/** W1 as the integral of |F - G| over the line: an independent check of the quantile form. */
function cdfDistance(a: number[], b: number[]): number {
  const points = [...a, ...b].sort((x, y) => x - y);
  const cdf = (sample: number[], x: number) => sample.filter((v) => v <= x).length / sample.length;
  let sum = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    sum += Math.abs(cdf(a, points[i]) - cdf(b, points[i])) * (points[i + 1] - points[i]);
  }
  return sum;
}

describe("wasserstein1d", () => {
  it("is the mean gap of sorted samples for equal sizes", () => {
    expect(wasserstein1d([3, 1, 2], [2, 4, 3])).toBeCloseTo(1, 15);
    expect(wasserstein1d([0, 0], [1, 5])).toBe(3);
  });

  it("integrates quantile functions for unequal sizes", () => {
    // Quantile gaps: 1/2 on [1/3, 1/2) and on [1/2, 2/3), so W1 = 1/6.
    expectClose(wasserstein1d([0, 1], [0, 0.5, 1]), 1 / 6, 1e-15, "W1");
    expect(wasserstein1d([2, 7], [7, 2, 2, 7])).toBe(0);
    const rng = new SplitMix64(11);
    const a = Array.from({ length: 7 }, () => rng.nextNormal());
    const b = Array.from({ length: 12 }, () => 2 * rng.nextNormal() + 1);
    expectClose(wasserstein1d(a, b), cdfDistance(a, b), 1e-12, "W1 against the CDF form");
  });

  it("is |m| between a sample and its shift by m", () => {
    const rng = new SplitMix64(5);
    const a = Array.from({ length: 500 }, () => rng.nextNormal());
    for (const m of [0.3, -2, 10]) {
      expectClose(
        wasserstein1d(
          a,
          a.map((v) => v + m),
        ),
        Math.abs(m),
        1e-12,
        `W1 for m = ${m}`,
      );
    }
  });

  it("is close to |m| between independent Gaussian samples", () => {
    const x = gaussianCloud(4000, 1, 1, [0]);
    const y = gaussianCloud(4000, 1, 2, [1.5]);
    // The empirical W1 of n = 4000 draws lies within about 0.05 of the true 1.5.
    expectClose(wasserstein1d(x.data, y.data), 1.5, 0.06, "W1 of N(0,1) and N(1.5,1)");
  });
});

describe("slicedWasserstein", () => {
  it("is |p - q| 2/pi for two point masses in 2-D", () => {
    const p = pointMass([1, 2], 5);
    const q = pointMass([4, -2], 5);
    const result = slicedWasserstein(p, q, { directions: evenDirections(2000) });
    expectClose(result.value, (5 * 2) / Math.PI, 1e-5, "SW with even directions");
    expect(result.seed).toBeNull();

    const random = slicedWasserstein(p, q, { directions: 4000, seed: 3 });
    // Exactly the mean of |u . (p - q)| over the drawn directions ...
    const u = randomUnitDirections(4000, 2, 3);
    let mean = 0;
    for (let k = 0; k < 4000; k++) mean += Math.abs(3 * u[2 * k] - 4 * u[2 * k + 1]) / 4000;
    expectClose(random.value, mean, 1e-12, "SW against its directions");
    // ... which estimates 5 * 2/pi with standard error about 5 * 0.31 / sqrt(4000) = 0.024.
    expectClose(random.value, 10 / Math.PI, 0.1, "SW with random directions");
  });

  it("is |p - q| / 2 for point masses in 3-D", () => {
    // E|u_1| = Gamma(d/2) / (sqrt(pi) Gamma((d + 1)/2)) is 1/2 for d = 3.
    const result = slicedWasserstein(pointMass([0, 0, 0], 2), pointMass([0, 2, 0], 2), {
      directions: 8000,
      seed: 9,
    });
    expectClose(result.value, 1, 0.03, "SW in 3-D");
  });

  it("scales a Gaussian mean shift by 2/pi in 2-D", () => {
    const x = gaussianCloud(300, 2, 4, [0, 0]);
    const shifted = { ...x, data: x.data.map((v, i) => v + (i % 2 === 0 ? 1.2 : -0.9)) };
    const result = slicedWasserstein(x, shifted, { directions: evenDirections(1000) });
    expectClose(result.value, (1.5 * 2) / Math.PI, 1e-5, "SW of a shifted cloud");
  });

  it("is 0 for identical and permuted sets", () => {
    const x = gaussianCloud(50, 4, 8, [0, 0, 0, 0]);
    expect(slicedWasserstein(x, x, { directions: 64 }).value).toBe(0);
    const reversed = new Float64Array(x.data.length);
    for (let i = 0; i < 50; i++) reversed.set(x.data.subarray(i * 4, i * 4 + 4), (49 - i) * 4);
    const permuted = { ...x, data: reversed };
    expect(slicedWasserstein(x, permuted, { directions: 64 }).value).toBe(0);
  });

  it("draws the same directions for the same seed", () => {
    const a = randomUnitDirections(16, 8, 42);
    expect(randomUnitDirections(16, 8, 42)).toEqual(a);
    expect(randomUnitDirections(16, 8, 43)).not.toEqual(a);
    for (let k = 0; k < 16; k++) {
      let norm = 0;
      for (let d = 0; d < 8; d++) norm += a[k * 8 + d] ** 2;
      expectClose(norm, 1, 1e-12, `norm of direction ${k}`);
    }
  });

  it("rejects mismatched dimensions and bad directions", () => {
    const x = pointMass([0, 0], 3);
    expect(() => slicedWasserstein(x, pointMass([0, 0, 0], 3), { directions: 4 })).toThrow(
      TweedieError,
    );
    expect(() => slicedWasserstein(x, x, { directions: Float64Array.from([1, 1]) })).toThrow(
      /unit length/,
    );
    expect(() => slicedWasserstein(x, x, { directions: 0 })).toThrow(/positive integer/);
  });
});

describe("SplitMix64", () => {
  it("matches the reference output for seed 1234567", () => {
    // First outputs of the SplitMix64 reference C code (Vigna, splitmix64.c) seeded with 1234567.
    const rng = new SplitMix64(1234567);
    expect(rng.nextUint64()).toBe(6457827717110365317n);
    expect(rng.nextUint64()).toBe(3203168211198807973n);
  });
});
