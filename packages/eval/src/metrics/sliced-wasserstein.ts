import { TweedieError } from "@tweedie/core";
import { SplitMix64 } from "./splitmix.js";

/** `count` points in R^dim, row-major: point i is `data[i * dim .. (i + 1) * dim)`. */
export interface SampleSet {
  readonly data: ArrayLike<number>;
  readonly count: number;
  readonly dim: number;
}

export interface SlicedWassersteinOptions {
  /** Number of random unit directions, or the directions themselves (row-major, unit length). */
  readonly directions: number | Float64Array;
  /** Seed of the SplitMix64 stream that draws random directions; default 0. */
  readonly seed?: number;
}

export interface SlicedWassersteinResult {
  /** Mean over directions u of W1(u . X, u . Y). */
  readonly value: number;
  readonly directions: number;
  readonly dim: number;
  /** Seed of the random directions; null when the caller passed the directions. */
  readonly seed: number | null;
}

/**
 * Exact W1 distance between two 1-D empirical distributions:
 * integral over u in [0, 1] of |F^-1(u) - G^-1(u)|, where each quantile function is a step
 * function with steps at multiples of 1/n (and 1/m). With n = m this is the mean of
 * |a_(i) - b_(i)| over the sorted samples.
 */
export function wasserstein1d(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length === 0 || b.length === 0) {
    throw new TweedieError("W1 needs at least one sample on each side", {
      code: "invalid_value",
      expected: "non-empty sample sets",
      received: [a.length, b.length],
    });
  }

  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length;
  const m = y.length;
  if (n === m) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.abs(x[i] - y[i]);
    return sum / n;
  }
  // Walk the merged breakpoints i/n and j/m; compare (i+1) m with (j+1) n in integers so
  // that shared breakpoints advance both sides together.
  let i = 0;
  let j = 0;
  let position = 0;
  let sum = 0;
  while (i < n && j < m) {
    const endX = (i + 1) * m;
    const endY = (j + 1) * n;
    const end = Math.min(endX, endY);
    sum += Math.abs(x[i] - y[j]) * (end - position);
    position = end;
    if (endX === end) i++;
    if (endY === end) j++;
  }
  return sum / (n * m);
}

/** `count` directions uniform on the unit sphere in R^dim (normalised Gaussian vectors). */
export function randomUnitDirections(count: number, dim: number, seed: number): Float64Array {
  checkPositiveInteger(count, "directions");
  checkPositiveInteger(dim, "dim");
  const rng = new SplitMix64(seed);
  const out = new Float64Array(count * dim);
  for (let k = 0; k < count; k++) {
    let norm = 0;
    do {
      norm = 0;
      for (let d = 0; d < dim; d++) {
        const v = rng.nextNormal();
        out[k * dim + d] = v;
        norm += v * v;
      }
    } while (norm === 0);
    const scale = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) out[k * dim + d] *= scale;
  }
  return out;
}

/**
 * Sliced Wasserstein-1 distance between two sample sets in R^d: the mean over unit
 * directions u of the exact 1-D W1 between the projections u . x. For two point masses p
 * and q, the expectation over uniform directions is |p - q| E|u_1|, and E|u_1| = 2/pi in
 * d = 2.
 */
export function slicedWasserstein(
  x: SampleSet,
  y: SampleSet,
  options: SlicedWassersteinOptions,
): SlicedWassersteinResult {
  checkSampleSet(x, "x");
  checkSampleSet(y, "y");
  if (x.dim !== y.dim) {
    throw new TweedieError("sample sets differ in dimension", {
      code: "shape_mismatch",
      path: ["y", "dim"],
      expected: x.dim,
      received: y.dim,
    });
  }
  const dim = x.dim;
  const seed = typeof options.directions === "number" ? (options.seed ?? 0) : null;
  const directions =
    typeof options.directions === "number"
      ? randomUnitDirections(options.directions, dim, seed ?? 0)
      : checkDirections(options.directions, dim);
  const count = directions.length / dim;

  const projectedX = new Float64Array(x.count);
  const projectedY = new Float64Array(y.count);
  let sum = 0;
  for (let k = 0; k < count; k++) {
    const u = directions.subarray(k * dim, (k + 1) * dim);
    project(x, u, projectedX);
    project(y, u, projectedY);
    sum += wasserstein1d(projectedX, projectedY);
  }
  return { value: sum / count, directions: count, dim, seed };
}

function project(set: SampleSet, u: Float64Array, out: Float64Array): void {
  const { data, dim } = set;
  for (let i = 0; i < set.count; i++) {
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += u[d] * data[i * dim + d];
    out[i] = dot;
  }
}

function checkSampleSet(set: SampleSet, name: string): void {
  checkPositiveInteger(set.count, `${name}.count`);
  checkPositiveInteger(set.dim, `${name}.dim`);
  if (set.data.length !== set.count * set.dim) {
    throw new TweedieError(`sample set ${name} has the wrong data length`, {
      code: "shape_mismatch",
      path: [name, "data"],
      expected: set.count * set.dim,
      received: set.data.length,
    });
  }
  for (let i = 0; i < set.data.length; i++) {
    if (!Number.isFinite(set.data[i])) {
      throw new TweedieError(`sample set ${name} contains a non-finite value`, {
        code: "non_finite",
        path: [name, "data", i],
        expected: "finite numbers",
        received: set.data[i],
      });
    }
  }
}

function checkDirections(directions: Float64Array, dim: number): Float64Array {
  if (directions.length === 0 || directions.length % dim !== 0) {
    throw new TweedieError(
      "directions must contain a whole number of vectors of the sample dimension",
      {
        code: "shape_mismatch",
        path: ["directions"],
        expected: `a non-empty multiple of ${dim} values`,
        received: directions.length,
      },
    );
  }
  for (let k = 0; k < directions.length / dim; k++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += directions[k * dim + d] ** 2;
    if (Math.abs(norm - 1) > 1e-9) {
      throw new TweedieError("directions must have unit length", {
        code: "invalid_value",
        path: ["directions", k],
        expected: 1,
        received: Math.sqrt(norm),
      });
    }
  }
  return directions;
}

function checkPositiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TweedieError(`${name} must be a positive integer`, {
      code: "invalid_value",
      path: [name],
      expected: "an integer >= 1",
      received: value,
    });
  }
}
