import { describe, expect, it } from "vitest";
import {
  beta,
  categorical,
  createRng,
  gamma,
  logFactorial,
  permutation,
  poisson,
  RandomCursor,
  randint,
  sampleWithoutReplacement,
  TweedieError,
  triangular,
} from "../src/index.js";

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

function variance(values: ArrayLike<number>): number {
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] - m) ** 2;
  return sum / values.length;
}

function extent(values: ArrayLike<number>): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  return [min, max];
}

function fractionAtMost(values: ArrayLike<number>, x: number): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] <= x) count++;
  return count / values.length;
}

/** Pearson's statistic for observed counts against expected counts. */
function chiSquare(observed: ArrayLike<number>, expected: ArrayLike<number>): number {
  let sum = 0;
  for (let k = 0; k < observed.length; k++) sum += (observed[k] - expected[k]) ** 2 / expected[k];
  return sum;
}

/**
 * Wilson-Hilferty estimate of the chi-square 0.1% critical value (z = 3.0902); within 1%
 * of the exact quantile for df >= 5.
 */
function chiSquareCritical(df: number): number {
  const c = 2 / (9 * df);
  return df * (1 - c + 3.0902 * Math.sqrt(c)) ** 3;
}

describe("RandomCursor", () => {
  it("reads the stream in order across chunks", () => {
    const rng = createRng(1).split("cursor");
    const cursor = new RandomCursor(rng, 7);
    const uniforms = Array.from({ length: 30 }, () => cursor.uniform());
    const normals = Array.from({ length: 30 }, () => cursor.normal());
    expect(uniforms).toEqual(Array.from(rng.uniform64(30)));
    expect(normals).toEqual(Array.from(rng.normal64(30)));
    expect(cursor.uniformsUsed).toBe(30);
    expect(cursor.normalsUsed).toBe(30);
  });
});

describe("categorical", () => {
  it("matches the weights", () => {
    const weights = [0.1, 0, 0.3, 0.6];
    const n = 100_000;
    const draws = categorical(createRng(2), weights, n);
    const counts = [0, 0, 0, 0];
    for (const k of draws) counts[k]++;
    expect(counts[1]).toBe(0);
    const observed = [counts[0], counts[2], counts[3]];
    const expected = [0.1 * n, 0.3 * n, 0.6 * n];
    // Exact 0.1% critical value of chi-square with 2 degrees of freedom (scipy).
    expect(chiSquare(observed, expected)).toBeLessThan(13.8155);
  });

  it("takes unnormalised weights and item i from uniform i", () => {
    const rng = createRng(3);
    const a = categorical(rng, [2, 6], 50);
    const b = categorical(rng, [0.25, 0.75], 80);
    expect(Array.from(b.slice(0, 50))).toEqual(Array.from(a));
    const uniforms = rng.uniform64(50);
    for (let i = 0; i < 50; i++) expect(a[i]).toBe(uniforms[i] < 0.25 ? 0 : 1);
  });

  it("rejects invalid weights", () => {
    const rng = createRng(4);
    expect(() => categorical(rng, [0, 0], 3)).toThrow(TweedieError);
    expect(() => categorical(rng, [1, -1], 3)).toThrow(TweedieError);
    expect(() => categorical(rng, [1, Number.NaN], 3)).toThrow(TweedieError);
    expect(() => categorical(rng, [1], -3)).toThrow(TweedieError);
  });
});

describe("randint", () => {
  it("covers the range uniformly", () => {
    const n = 70_000;
    const draws = randint(createRng(5), -3, 4, n);
    expect(extent(draws)).toEqual([-3, 3]);
    const counts = new Array(7).fill(0);
    for (const value of draws) counts[value + 3]++;
    // Exact 0.1% critical value with 6 degrees of freedom (scipy).
    expect(chiSquare(counts, new Array(7).fill(n / 7))).toBeLessThan(22.4577);
  });

  it("rejects an empty range", () => {
    expect(() => randint(createRng(5), 4, 4, 1)).toThrow(TweedieError);
    expect(() => randint(createRng(5), 0, 1.5, 1)).toThrow(TweedieError);
  });
});

describe("permutation", () => {
  it("returns every index once", () => {
    const perm = permutation(createRng(6), 1000);
    expect(Array.from(perm).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it("draws all 24 orders of 4 uniformly", () => {
    const trials = 24_000;
    const counts = new Map<string, number>();
    const root = createRng(7);
    for (let trial = 0; trial < trials; trial++) {
      const key = permutation(root.split(trial), 4).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    // Exact 0.1% critical value with 23 degrees of freedom (scipy).
    expect(chiSquare([...counts.values()], new Array(24).fill(trials / 24))).toBeLessThan(49.7282);
  });

  it("sampleWithoutReplacement is a prefix of permutation", () => {
    const rng = createRng(8);
    expect(Array.from(sampleWithoutReplacement(rng, 50, 12))).toEqual(
      Array.from(permutation(rng, 50).slice(0, 12)),
    );
  });

  it("samples from a huge range in O(k) memory", () => {
    const picks = sampleWithoutReplacement(createRng(9), 2_000_000_000, 1000);
    expect(new Set(picks).size).toBe(1000);
    const [min, max] = extent(picks);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(2_000_000_000);
    expect(() => sampleWithoutReplacement(createRng(9), 5, 6)).toThrow(TweedieError);
  });
});

describe("triangular", () => {
  it("matches the closed-form moments and CDF", () => {
    const [left, mode, right] = [-1, 0.5, 3];
    const n = 200_000;
    const draws = triangular(createRng(10), left, mode, right, n);
    const expectedMean = (left + mode + right) / 3;
    const expectedVariance =
      (left ** 2 + mode ** 2 + right ** 2 - left * mode - left * right - mode * right) / 18;
    const se = Math.sqrt(expectedVariance / n);
    expect(Math.abs(mean(draws) - expectedMean)).toBeLessThan(5 * se);
    expect(Math.abs(variance(draws) / expectedVariance - 1)).toBeLessThan(0.01);
    // F(mode) = (mode - left) / (right - left) and F(x) = (x - left)^2 / ((right - left)(mode - left)).
    const atMode = (mode - left) / (right - left);
    expect(Math.abs(fractionAtMost(draws, mode) - atMode)).toBeLessThan(0.005);
    const atZero = (0 - left) ** 2 / ((right - left) * (mode - left));
    expect(Math.abs(fractionAtMost(draws, 0) - atZero)).toBeLessThan(0.005);
    const [min, max] = extent(draws);
    expect(min).toBeGreaterThanOrEqual(left);
    expect(max).toBeLessThanOrEqual(right);
  });

  it("rejects a mode outside the interval", () => {
    expect(() => triangular(createRng(10), 0, 2, 1, 5)).toThrow(TweedieError);
  });
});

describe("gamma and beta", () => {
  const n = 200_000;
  // CDF points: scipy.stats.gamma.ppf(q, shape) at q = 0.1, 0.5, 0.9, rounded to six digits
  // (scipy gives their CDF within 3e-6 of q).
  const gammaCases: [number, number[]][] = [
    [0.3, [0.000323725, 0.0731311, 0.884811]],
    // Exp(1): the exact quantiles -log(1 - q).
    [1, [-Math.log(0.9), Math.LN2, Math.LN10]],
    [2.5, [0.805154, 2.17573, 4.61818]],
    [30, [23.2294, 29.6673, 37.1985]],
  ];

  it.each(gammaCases)("gamma(%d) matches its moments and CDF", (shape, quantiles) => {
    const draws = gamma(createRng(11).split(String(shape)), shape, n);
    // Mean shape, variance shape; the variance's standard error is sqrt((2 k^2 + 6 k) / n).
    expect(Math.abs(mean(draws) - shape)).toBeLessThan(5 * Math.sqrt(shape / n));
    const varianceSe = Math.sqrt((2 * shape * shape + 6 * shape) / n);
    expect(Math.abs(variance(draws) - shape)).toBeLessThan(5 * varianceSe);
    [0.1, 0.5, 0.9].forEach((q, i) => {
      const bound = 5 * Math.sqrt((q * (1 - q)) / n) + 3e-6;
      expect(Math.abs(fractionAtMost(draws, quantiles[i]) - q), `q = ${q}`).toBeLessThan(bound);
    });
  });

  it("gamma applies the scale", () => {
    const rng = createRng(12);
    const unit = gamma(rng, 2.5, 100);
    const scaled = gamma(rng, 2.5, 100, 3);
    for (let i = 0; i < 100; i++) expect(scaled[i]).toBeCloseTo(3 * unit[i], 12);
  });

  it("gamma returns the prefix of a longer call", () => {
    const rng = createRng(13);
    expect(Array.from(gamma(rng, 0.7, 300))).toEqual(
      Array.from(gamma(rng, 0.7, 1000).slice(0, 300)),
    );
  });

  const betaCases: [number, number, number[]][] = [
    [0.5, 0.5, [0.0244717, 0.5, 0.975528]],
    [2, 5, [0.0925953, 0.26445, 0.510316]],
    [0.2, 3, [2.49535e-6, 0.00790123, 0.205982]],
  ];

  it.each(betaCases)("beta(%d, %d) matches its moments and CDF", (a, b, quantiles) => {
    const draws = beta(createRng(14).split(`${a}, ${b}`), a, b, n);
    const expectedMean = a / (a + b);
    const expectedVariance = (a * b) / ((a + b) ** 2 * (a + b + 1));
    expect(Math.abs(mean(draws) - expectedMean)).toBeLessThan(5 * Math.sqrt(expectedVariance / n));
    expect(Math.abs(variance(draws) / expectedVariance - 1)).toBeLessThan(0.02);
    [0.1, 0.5, 0.9].forEach((q, i) => {
      const bound = 5 * Math.sqrt((q * (1 - q)) / n) + 3e-6;
      expect(Math.abs(fractionAtMost(draws, quantiles[i]) - q), `q = ${q}`).toBeLessThan(bound);
    });
  });

  it("rejects non-positive parameters", () => {
    expect(() => gamma(createRng(1), 0, 3)).toThrow(TweedieError);
    expect(() => gamma(createRng(1), 1, 3, -1)).toThrow(TweedieError);
    expect(() => beta(createRng(1), 1, Number.POSITIVE_INFINITY, 3)).toThrow(TweedieError);
  });
});

describe("poisson", () => {
  it("logFactorial matches lgamma", () => {
    // Python math.lgamma(k + 1).
    expect(logFactorial(0)).toBe(0);
    expect(logFactorial(255)).toBeCloseTo(1161.7121011184006, 9);
    expect(logFactorial(256)).toBeCloseTo(1167.2572785628802, 9);
    expect(logFactorial(300)).toBeCloseTo(1414.905849945068, 9);
    expect(logFactorial(1000)).toBeCloseTo(5912.128178488163, 9);
    expect(logFactorial(1e6)).toBeCloseTo(12815518.384658169, 6);
  });

  it.each([0.5, 4, 9.99, 10, 37.5, 1000])("rate %d has mean and variance equal to it", (rate) => {
    const n = 100_000;
    const draws = poisson(createRng(15).split(String(rate)), rate, n);
    expect(Math.abs(mean(draws) - rate)).toBeLessThan(5 * Math.sqrt(rate / n));
    // Var of the sample variance is about (mu4 - sigma^4) / n = (rate + 2 rate^2) / n.
    expect(Math.abs(variance(draws) - rate)).toBeLessThan(
      5 * Math.sqrt((rate + 2 * rate * rate) / n),
    );
    expect(draws.every((value) => Number.isInteger(value) && value >= 0)).toBe(true);
  });

  it.each([3, 15, 60])("rate %d follows the Poisson pmf", (rate) => {
    const n = 200_000;
    const draws = poisson(createRng(16).split(String(rate)), rate, n);
    // Bins k with expected count >= 50, plus one bin for each tail.
    const pmf = (k: number) => Math.exp(-rate + k * Math.log(rate) - logFactorial(k));
    const ks: number[] = [];
    for (let k = 0; k < 10 * rate + 50; k++) if (n * pmf(k) >= 50) ks.push(k);
    const low = ks[0];
    const high = ks[ks.length - 1];
    const expected = [0, ...ks.map((k) => n * pmf(k)), 0];
    for (let k = 0; k < low; k++) expected[0] += n * pmf(k);
    expected[expected.length - 1] = n - expected.reduce((sum, value) => sum + value, 0);
    const observed = new Array(expected.length).fill(0);
    for (const value of draws) {
      if (value < low) observed[0]++;
      else if (value > high) observed[observed.length - 1]++;
      else observed[value - low + 1]++;
    }
    const bins = expected.filter((value) => value > 0).length;
    const used = expected.map((value, i) => [value, observed[i]]).filter(([value]) => value > 0);
    const statistic = chiSquare(
      used.map(([, o]) => o),
      used.map(([e]) => e),
    );
    expect(statistic).toBeLessThan(chiSquareCritical(bins - 1));
  });

  it("takes one rate per item", () => {
    const rng = createRng(17);
    const draws = poisson(rng, [0, 2, 50, 0]);
    expect(draws.length).toBe(4);
    expect(draws[0]).toBe(0);
    expect(draws[3]).toBe(0);
    expect(() => poisson(rng, [1, 2], 3)).toThrow(TweedieError);
    expect(() => poisson(rng, [1, -2])).toThrow(TweedieError);
  });

  it("returns the prefix of a longer call", () => {
    const rng = createRng(18);
    expect(Array.from(poisson(rng, 25, 200))).toEqual(
      Array.from(poisson(rng, 25, 900).slice(0, 200)),
    );
  });
});
