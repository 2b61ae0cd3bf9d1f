import { symmetricIndex } from "../math/reflect.js";
import { SparseMatrix } from "../math/sparse.js";

/** Keys' cubic convolution kernel with a = -0.5 (MATLAB imresize's "cubic"). */
export function keysCubic(x: number): number {
  const ax = Math.abs(x);
  if (ax <= 1) return 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1;
  if (ax <= 2) return -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2;
  return 0;
}

/**
 * Builds the (n / r) x n matrix of MATLAB-style antialiased bicubic downscaling by an
 * integer factor r. Output sample j is centred at input coordinate r * j + (r - 1) / 2.
 * Its taps are the inputs within 2r of the centre, weighted by cubic(d / r) / r and
 * normalised to sum 1, which gives 4r non-zero taps for even r. Taps outside the signal reflect symmetrically
 * (-1 -> 0, n -> n - 1) and fold onto the sample they land on.
 */
export function bicubicDownscaleMatrix(n: number, r: number): SparseMatrix {
  const rows: [number, number][][] = [];
  for (let j = 0; j < n / r; j++) {
    const centre = r * j + (r - 1) / 2;
    const taps: [number, number][] = [];
    let total = 0;
    for (let i = Math.ceil(centre - 2 * r); i <= Math.floor(centre + 2 * r); i++) {
      const weight = keysCubic((centre - i) / r) / r;
      if (weight === 0) continue;
      taps.push([i, weight]);
      total += weight;
    }
    rows.push(taps.map(([i, weight]) => [symmetricIndex(i, n), weight / total]));
  }
  return SparseMatrix.fromRows(n, rows);
}

/** Builds the (n / r) x n matrix of the mean over consecutive blocks of r samples. */
export function blockMeanMatrix(n: number, r: number): SparseMatrix {
  const rows: [number, number][][] = [];
  for (let j = 0; j < n / r; j++) {
    rows.push(Array.from({ length: r }, (_, t) => [r * j + t, 1 / r] as [number, number]));
  }
  return SparseMatrix.fromRows(n, rows);
}

/**
 * Builds the n x n matrix of 1-D correlation with `taps` (odd length, centred) over a signal
 * extended by PyTorch "reflect" padding: out[i] = sum_u taps[u + R] * x[reflect(i + u)].
 * Its transpose is the exact adjoint: correlation's transpose with the padding folded back.
 */
export function reflectCorrelationMatrix(
  n: number,
  taps: Float64Array,
  reflect: (i: number, n: number) => number,
): SparseMatrix {
  const radius = (taps.length - 1) / 2;
  const rows: [number, number][][] = [];
  for (let i = 0; i < n; i++) {
    const entries: [number, number][] = [];
    for (let u = -radius; u <= radius; u++) {
      const weight = taps[u + radius];
      if (weight !== 0) entries.push([reflect(i + u, n), weight]);
    }
    rows.push(entries);
  }
  return SparseMatrix.fromRows(n, rows);
}
