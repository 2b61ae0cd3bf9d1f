import { TweedieError } from "../errors.js";
import type { Rng } from "../rng.js";

/**
 * A dense float64 matrix, row-major: entry (i, j) is `data[i * cols + j]`. Sizes here are
 * small (at most a few hundred), so the plain O(n^3) algorithms below are exact enough and
 * fast enough for reference values.
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

export function identity(n: number): Matrix {
  const out = matrix(n, n);
  for (let i = 0; i < n; i++) out.data[i * n + i] = 1;
  return out;
}

export function transpose(a: Matrix): Matrix {
  const out = matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j];
  }
  return out;
}

export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) {
    throw new TweedieError("matrix sizes do not match for a product", {
      code: "shape_mismatch",
      expected: `${a.cols} rows in the right factor`,
      received: b.rows,
    });
  }
  const out = matrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k];
      if (aik === 0) continue;
      const bRow = k * b.cols;
      const oRow = i * b.cols;
      for (let j = 0; j < b.cols; j++) out.data[oRow + j] += aik * b.data[bRow + j];
    }
  }
  return out;
}

/** out = A x for a vector x of length A.cols. */
export function matvec(a: Matrix, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    let sum = 0;
    const row = i * a.cols;
    for (let j = 0; j < a.cols; j++) sum += a.data[row + j] * x[j];
    out[i] = sum;
  }
  return out;
}

/** out = A^T y for a vector y of length A.rows. */
export function matvecTransposed(a: Matrix, y: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.cols);
  for (let i = 0; i < a.rows; i++) {
    const yi = y[i];
    const row = i * a.cols;
    for (let j = 0; j < a.cols; j++) out[j] += a.data[row + j] * yi;
  }
  return out;
}

/**
 * Lower Cholesky factor L of a symmetric positive definite matrix (A = L L^T). Throws when
 * a pivot is not positive, which names the pivot index.
 */
export function cholesky(a: Matrix): Matrix {
  const n = a.rows;
  const l = matrix(n, n);
  for (let j = 0; j < n; j++) {
    let diag = a.data[j * n + j];
    for (let k = 0; k < j; k++) diag -= l.data[j * n + k] ** 2;
    if (!(diag > 0)) {
      throw new TweedieError("matrix is not positive definite", {
        code: "invalid_value",
        path: ["pivot", j],
        expected: "a positive pivot",
        received: diag,
      });
    }
    const ljj = Math.sqrt(diag);
    l.data[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let sum = a.data[i * n + j];
      for (let k = 0; k < j; k++) sum -= l.data[i * n + k] * l.data[j * n + k];
      l.data[i * n + j] = sum / ljj;
    }
  }
  return l;
}

/** Solves (L L^T) x = b for x, given the lower Cholesky factor L. */
export function choleskySolve(l: Matrix, b: ArrayLike<number>): Float64Array {
  const n = l.rows;
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l.data[i * n + k] * z[k];
    z[i] = sum / l.data[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = z[i];
    for (let k = i + 1; k < n; k++) sum -= l.data[k * n + i] * x[k];
    x[i] = sum / l.data[i * n + i];
  }
  return x;
}

/** Inverse of a symmetric positive definite matrix through its Cholesky factor. */
export function inverseSpd(a: Matrix): Matrix {
  const n = a.rows;
  const l = cholesky(a);
  const out = matrix(n, n);
  const unit = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    unit.fill(0);
    unit[j] = 1;
    const column = choleskySolve(l, unit);
    for (let i = 0; i < n; i++) out.data[i * n + j] = column[i];
  }
  // Symmetrise to remove rounding asymmetry, so a later Cholesky sees an exactly
  // symmetric matrix.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const mean = 0.5 * (out.data[i * n + j] + out.data[j * n + i]);
      out.data[i * n + j] = mean;
      out.data[j * n + i] = mean;
    }
  }
  return out;
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
  return transpose({ rows: n, cols: n, data: q });
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
  const rot = identity(m).data;
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
