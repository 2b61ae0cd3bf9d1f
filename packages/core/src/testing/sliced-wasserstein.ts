import { TweedieError } from "../errors.js";
import type { Rng } from "../rng.js";

/** Draws `count` random unit vectors in `dim` dimensions (normalised Gaussians), row-major. */
export function randomDirections(dim: number, count: number, rng: Rng): Float64Array {
  const out = rng.normal64(dim * count);
  for (let k = 0; k < count; k++) {
    let norm = 0;
    for (let i = 0; i < dim; i++) norm += out[k * dim + i] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < dim; i++) out[k * dim + i] /= norm;
  }
  return out;
}

/**
 * Exact Wasserstein-1 distance between two empirical measures on the line with uniform
 * weights, given their sorted support points: the integral of |F_a - F_b| over the line,
 * walked through the merged points. For equal sizes it equals mean |a_i - b_i|.
 */
export function wasserstein1dSorted(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) {
    throw new TweedieError("Wasserstein distance needs two non-empty samples", {
      code: "invalid_value",
      expected: "at least one point in each sample",
      received: [n, m],
    });
  }

  if (n === m) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.abs(a[i] - b[i]);
    return sum / n;
  }

  let i = 0;
  let j = 0;
  let cdfA = 0;
  let cdfB = 0;
  let previous = Math.min(a[0], b[0]);
  let total = 0;
  while (i < n || j < m) {
    const next = j >= m || (i < n && a[i] <= b[j]) ? a[i] : b[j];
    total += Math.abs(cdfA - cdfB) * (next - previous);
    previous = next;
    while (i < n && a[i] === next) {
      i++;
      cdfA = i / n;
    }
    while (j < m && b[j] === next) {
      j++;
      cdfB = j / m;
    }
  }
  return total;
}

function project(x: Float64Array, dim: number, direction: Float64Array, out: Float64Array) {
  const count = out.length;
  for (let n = 0; n < count; n++) {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[n * dim + i] * direction[i];
    out[n] = sum;
  }
  out.sort();
}

/**
 * Sliced Wasserstein-1 distance: the mean over `directions` (row-major count x dim unit
 * vectors) of the exact 1-D W1 between the projected samples. `x` and `y` are row-major
 * samples of `dim` coordinates each; their counts may differ.
 */
export function slicedWasserstein(
  x: Float64Array,
  y: Float64Array,
  dim: number,
  directions: Float64Array,
): number {
  if (x.length % dim !== 0 || y.length % dim !== 0 || directions.length % dim !== 0) {
    throw new TweedieError("sample arrays must hold whole rows of dim values", {
      code: "shape_mismatch",
      expected: `multiples of ${dim}`,
      received: [x.length, y.length, directions.length],
    });
  }
  const count = directions.length / dim;
  const projectedX = new Float64Array(x.length / dim);
  const projectedY = new Float64Array(y.length / dim);
  let total = 0;
  for (let k = 0; k < count; k++) {
    const direction = directions.subarray(k * dim, (k + 1) * dim);
    project(x, dim, direction, projectedX);
    project(y, dim, direction, projectedY);
    total += wasserstein1dSorted(projectedX, projectedY);
  }
  return total / count;
}
