import { describe, expect, it } from "vitest";
import { createRng } from "../src/rng.js";
import {
  benchmarkDirections,
  randomDirections,
  slicedWasserstein,
  wasserstein1dSorted,
} from "../src/testing/index.js";

describe("sliced Wasserstein", () => {
  it("1-D W1 of equal sizes is the mean sorted gap", () => {
    const a = Float64Array.from([0, 1, 5]);
    const b = Float64Array.from([2, 2, 3]);
    expect(wasserstein1dSorted(a, b)).toBeCloseTo((2 + 1 + 2) / 3, 15);
  });

  it("1-D W1 of unequal sizes integrates |F - G|", () => {
    // F jumps to 1 at 0; G jumps to 1/2 at 0 and to 1 at 1: |F - G| = 1/2 on [0, 1).
    expect(wasserstein1dSorted(Float64Array.from([0]), Float64Array.from([0, 1]))).toBeCloseTo(
      0.5,
      15,
    );
    // One point at 0.5 against {0, 1, 2}: (0.5 + 0.5 + 1.5) / 3.
    expect(wasserstein1dSorted(Float64Array.from([0, 1, 2]), Float64Array.from([0.5]))).toBeCloseTo(
      2.5 / 3,
      15,
    );
  });

  it("directions are unit vectors fixed by the seed", () => {
    const directions = randomDirections(6, 50, createRng(11));
    for (let k = 0; k < 50; k++) {
      let norm = 0;
      for (let i = 0; i < 6; i++) norm += directions[k * 6 + i] ** 2;
      expect(Math.abs(norm - 1)).toBeLessThan(1e-14);
    }
    expect(Array.from(benchmarkDirections(6, 50))).toEqual(Array.from(benchmarkDirections(6, 50)));
  });

  it("a shift by b gives the mean of |b . u| over the directions", () => {
    const dim = 5;
    const directions = randomDirections(dim, 500, createRng(2));
    const x = createRng(4).normal64(300 * dim);
    const b = [1.5, -2, 0.25, 3, -1];
    const shifted = x.map((value, index) => value + b[index % dim]);
    let expected = 0;
    for (let k = 0; k < 500; k++) {
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += b[i] * directions[k * dim + i];
      expected += Math.abs(dot) / 500;
    }
    expect(slicedWasserstein(shifted, x, dim, directions)).toBeCloseTo(expected, 12);
    // For uniform directions E|b . u| = ||b|| Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)), which
    // for d = 5 is ||b|| * 3/8; 500 directions land within a few percent of it.
    const normB = Math.hypot(...b);
    expect(Math.abs(expected / (normB * 0.375) - 1)).toBeLessThan(0.08);
  });

  it("is symmetric, zero on identical sets and scales linearly", () => {
    const dim = 3;
    const directions = randomDirections(dim, 100, createRng(5));
    const x = createRng(6).normal64(200 * dim);
    const y = createRng(7).normal64(150 * dim);
    const forward = slicedWasserstein(x, y, dim, directions);
    expect(slicedWasserstein(y, x, dim, directions)).toBeCloseTo(forward, 14);
    expect(slicedWasserstein(x, x, dim, directions)).toBe(0);
    const scaled = slicedWasserstein(
      x.map((v) => 3 * v),
      y.map((v) => 3 * v),
      dim,
      directions,
    );
    expect(scaled).toBeCloseTo(3 * forward, 12);
  });
});
