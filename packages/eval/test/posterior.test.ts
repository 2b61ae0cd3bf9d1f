import { describe, expect, it } from "vitest";
import {
  posteriorSlicedWassersteinRatio,
  type SampleSet,
  SplitMix64,
  slicedWasserstein,
} from "../src/index.js";

function line(values: number[]): SampleSet {
  return { data: values, count: values.length, dim: 1 };
}

function gaussian(count: number, dim: number, seed: number, shift = 0): SampleSet {
  const rng = new SplitMix64(seed);
  const data = Float64Array.from({ length: count * dim }, () => rng.nextNormal() + shift);
  return { data, count, dim };
}

describe("posteriorSlicedWassersteinRatio", () => {
  it("divides by the noise floor in 1-D", () => {
    const result = posteriorSlicedWassersteinRatio(
      line([0, 1, 2, 3]),
      line([0.5, 1.5, 2.5, 3.5]),
      line([0.25, 1.25, 2.25, 3.25]),
      { directions: Float64Array.of(1) },
    );
    expect(result.distance).toBe(0.5);
    expect(result.floor).toBe(0.25);
    expect(result.ratio).toBe(2);
    expect(result.seed).toBeNull();
    expect(result.counts).toEqual({ solver: 4, exact: 4, independent: 4 });
  });

  it("reuses one set of directions", () => {
    const solver = gaussian(300, 8, 1, 0.2);
    const exact = gaussian(300, 8, 2);
    const independent = gaussian(300, 8, 3);
    const options = { directions: 64, seed: 5 };
    const result = posteriorSlicedWassersteinRatio(solver, exact, independent, options);
    expect(result.distance).toBe(slicedWasserstein(solver, exact, options).value);
    expect(result.floor).toBe(slicedWasserstein(independent, exact, options).value);
    expect(result).toMatchObject({ directions: 64, dim: 8, seed: 5 });
  });

  it("is near 1 for exact samples and large for biased ones", () => {
    const exact = gaussian(500, 8, 10);
    const independent = gaussian(500, 8, 11);
    const options = { directions: 200, seed: 1 };
    const unbiased = posteriorSlicedWassersteinRatio(
      gaussian(500, 8, 12),
      exact,
      independent,
      options,
    );
    expect(unbiased.ratio).toBeGreaterThan(0.6);
    expect(unbiased.ratio).toBeLessThan(1.6);
    const shifted = posteriorSlicedWassersteinRatio(
      gaussian(500, 8, 12, 1),
      exact,
      independent,
      options,
    );
    expect(shifted.ratio).toBeGreaterThan(5);
  });

  it("rejects a zero floor and unequal sizes", () => {
    const exact = line([0, 1, 2]);
    expect(() =>
      posteriorSlicedWassersteinRatio(line([0, 1, 3]), exact, exact, { directions: 4 }),
    ).toThrow("noise floor is 0: the two exact sample sets project identically");
    expect(() =>
      posteriorSlicedWassersteinRatio(line([0, 1]), exact, line([1, 2, 3]), { directions: 4 }),
    ).toThrow("solver and independent exact sample sets differ in size");
  });
});
