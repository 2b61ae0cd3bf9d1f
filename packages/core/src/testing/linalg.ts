import { TweedieError } from "../errors.js";
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
 * A Haar-distributed random orthogonal n x n matrix: the Q factor of a matrix of standard
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
 * Thin SVD by one-sided Jacobi rotations on the rows of A (Hestenes' method): rotate pairs
 * of rows until all are mutually orthogonal; the row norms are then the singular values.
 * Converges to full float64 accuracy in a few sweeps for the small matrices used here.
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
  const w = Float64Array.from(a.data);
  const rot = new Float64Array(m * m);
  for (let i = 0; i < m; i++) rot[i * m + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < m - 1; p++) {
      for (let q = p + 1; q < m; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let j = 0; j < n; j++) {
          const wp = w[p * n + j];
          const wq = w[q * n + j];
          alpha += wp * wp;
          beta += wq * wq;
          gamma += wp * wq;
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let j = 0; j < n; j++) {
          const wp = w[p * n + j];
          const wq = w[q * n + j];
          w[p * n + j] = c * wp - s * wq;
          w[q * n + j] = s * wp + c * wq;
        }
        for (let i = 0; i < m; i++) {
          const rp = rot[i * m + p];
          const rq = rot[i * m + q];
          rot[i * m + p] = c * rp - s * rq;
          rot[i * m + q] = s * rp + c * rq;
        }
      }
    }
    if (!rotated) break;
  }
  // Now W = R^T A has orthogonal rows, so A = R W; row k of W is s_k times row k of Vr.
  const norms = Array.from({ length: m }, (_, k) => {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += w[k * n + j] ** 2;
    return Math.sqrt(sum);
  });
  const order = norms.map((_, k) => k).sort((x, y) => norms[y] - norms[x]);
  const u = matrix(m, m);
  const vr = matrix(m, n);
  const s = new Float64Array(m);
  order.forEach((k, rank) => {
    s[rank] = norms[k];
    for (let i = 0; i < m; i++) u.data[i * m + rank] = rot[i * m + k];
    for (let j = 0; j < n; j++) vr.data[rank * n + j] = norms[k] > 0 ? w[k * n + j] / norms[k] : 0;
  });
  return { u, s, vr };
}
