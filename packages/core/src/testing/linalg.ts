import { TweedieError } from "../errors.js";
import { symmetricEigen } from "../priors/gmm-linalg.js";
import type { Rng } from "../rng.js";

/**
 * A dense float64 matrix, row-major: entry (i, j) is `data[i * cols + j]`. Sizes here are
 * small (at most a few hundred), so plain O(n^3) algorithms are exact and fast enough.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  const values = data === undefined ? new Float64Array(rows * cols) : Float64Array.from(data);
  if (values.length !== rows * cols) {
    throw new TweedieError("matrix data length does not match its size", {
      code: "shape_mismatch",
      expected: `${rows * cols} values for ${rows}x${cols}`,
      received: values.length,
    });
  }
  return { rows, cols, data: values };
}

/**
 * Draws a Haar-distributed random orthogonal n x n matrix: the Q factor of a matrix of standard
 * normals, from modified Gram-Schmidt with one re-orthogonalisation pass. Gram-Schmidt
 * gives R a positive diagonal, which is the sign convention that makes Q uniform on O(n).
 */
export function randomOrthogonal(n: number, rng: Rng): Matrix {
  const g = rng.normal64(n * n);
  // Columns of G are rows of `q` while orthogonalising, then `q` is transposed.
  const q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) q[j * n + i] = g[i * n + j];
  }
  for (let j = 0; j < n; j++) {
    const v = q.subarray(j * n, (j + 1) * n);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        const u = q.subarray(k * n, (k + 1) * n);
        let dot = 0;
        for (let i = 0; i < n; i++) dot += u[i] * v[i];
        for (let i = 0; i < n; i++) v[i] -= dot * u[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) v[i] /= norm;
  }
  // Row j of `q` is column j of Q.
  const out = matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) out.data[i * n + j] = q[j * n + i];
  }
  return out;
}

/** Thin SVD of an m x n matrix with m <= n: A = U diag(s) Vr, s descending, Vr m x n. */
export interface ThinSvd {
  /** m x m orthogonal. */
  u: Matrix;
  /** Singular values, descending. */
  s: Float64Array;
  /** m x n with orthonormal rows (the leading right singular vectors). */
  vr: Matrix;
}

/**
 * Thin SVD from the eigendecomposition A A^T = U diag(s^2) U^T (m x m, cyclic Jacobi),
 * then Vr = diag(1 / s) U^T A. Squaring loses relative accuracy as a singular value nears
 * 1e-8 of the largest, far below those of the benchmark's operators. Rows of Vr for a zero
 * singular value are left zero.
 */
export function thinSvd(a: Matrix): ThinSvd {
  const m = a.rows;
  const n = a.cols;
  if (m > n) {
    throw new TweedieError("thinSvd needs at most as many rows as columns", {
      code: "unsupported",
      expected: `rows <= ${n}`,
      received: m,
    });
  }
  const gram = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += a.data[i * n + k] * a.data[j * n + k];
      gram[i * m + j] = sum;
    }
  }
  const eigen = symmetricEigen(gram, m);

  // symmetricEigen sorts ascending; the SVD lists singular values descending.
  const u = matrix(m, m);
  const vr = matrix(m, n);
  const s = new Float64Array(m);
  for (let rank = 0; rank < m; rank++) {
    const column = m - 1 - rank;
    s[rank] = Math.sqrt(Math.max(0, eigen.values[column]));
    for (let i = 0; i < m; i++) u.data[i * m + rank] = eigen.vectors[i * m + column];
    if (s[rank] === 0) continue;
    for (let i = 0; i < m; i++) {
      const weight = u.data[i * m + rank] / s[rank];
      for (let j = 0; j < n; j++) vr.data[rank * n + j] += weight * a.data[i * n + j];
    }
  }
  return { u, s, vr };
}
