import { TweedieError } from "@tweedie/core";

/**
 * Dense float64 linear algebra for FID: the symmetric eigenproblem by Householder
 * tridiagonalisation followed by implicit QL iterations with a Wilkinson-type shift (the
 * textbook method for dense symmetric matrices), plus matrix products.
 * Matrices are row-major Float64Arrays: entry (i, j) of an n x n matrix is `a[i * n + j]`.
 * Both steps cost O(n^3); a 2048 x 2048 covariance takes tens of seconds on one core.
 */

/** Eigenvalues (ascending) and, when requested, the matching unit eigenvectors. */
export interface Eigen {
  readonly values: Float64Array;
  /** Row i is the unit eigenvector of `values[i]`; null when vectors were not requested. */
  readonly vectors: Float64Array | null;
}

/** QL iterations per eigenvalue before the solver reports failure; 30 is the usual budget. */
const MAX_QL_ITERATIONS = 60;

/**
 * Eigendecomposition of a symmetric matrix: A = V^T diag(values) V with V's rows the
 * eigenvectors. Only the symmetric part (A + A^T) / 2 is used. Throws on non-finite input
 * and when an eigenvalue does not converge.
 */
export function symmetricEigen(a: Float64Array, n: number, withVectors: boolean): Eigen {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new TweedieError("matrix must hold n x n values", {
      code: "shape_mismatch",
      path: ["matrix"],
      expected: `${n} x ${n} = ${n * n} values`,
      received: a.length,
    });
  }
  const work = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const value = 0.5 * (a[i * n + j] + a[j * n + i]);
      if (!Number.isFinite(value)) {
        throw new TweedieError("matrix has a non-finite entry", {
          code: "non_finite",
          path: ["matrix", i, j],
          expected: "finite values",
          received: value,
        });
      }
      work[i * n + j] = value;
    }
  }
  const rows = withVectors ? identity(n) : null;
  const { diagonal, offDiagonal } = tridiagonalize(work, n, rows);
  tridiagonalQl(diagonal, offDiagonal, rows, n);
  return sortEigen(diagonal, rows, n);
}

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/**
 * Reduces the symmetric `a` (overwritten) to tridiagonal form T = Q^T A Q by Householder
 * reflections H = I - 2 v v^T, one per column. When `rows` is given (starting as I), it is
 * left-multiplied by every H, so it ends as Q^T. Returns T's diagonal and its
 * off-diagonal, where `offDiagonal[i]` couples i and i + 1 and the last entry is 0.
 */
function tridiagonalize(
  a: Float64Array,
  n: number,
  rows: Float64Array | null,
): { diagonal: Float64Array; offDiagonal: Float64Array } {
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  const w = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const start = k + 1;
    let norm2 = 0;
    for (let i = start; i < n; i++) norm2 += a[i * n + k] ** 2;
    const below = norm2 - a[start * n + k] ** 2;
    if (below === 0) continue;

    // v = x - alpha e1 with alpha = -sign(x0) |x| (no cancellation), then v /= |v|.
    const x0 = a[start * n + k];
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    for (let i = start; i < n; i++) v[i] = a[i * n + k];
    v[start] -= alpha;
    const vNorm = Math.sqrt(below + v[start] ** 2);
    for (let i = start; i < n; i++) v[i] /= vNorm;

    // H A H = A - 2 v q^T - 2 q v^T on the trailing block, with p = A v and q = p - (v.p) v.
    let vp = 0;
    for (let i = start; i < n; i++) {
      let sum = 0;
      const row = i * n;
      for (let j = start; j < n; j++) sum += a[row + j] * v[j];
      p[i] = sum;
      vp += v[i] * sum;
    }
    for (let i = start; i < n; i++) p[i] -= vp * v[i];
    for (let i = start; i < n; i++) {
      const row = i * n;
      const vi = 2 * v[i];
      const pi = 2 * p[i];
      for (let j = start; j < n; j++) a[row + j] -= vi * p[j] + pi * v[j];
    }
    a[start * n + k] = alpha;
    a[k * n + start] = alpha;
    for (let i = start + 1; i < n; i++) {
      a[i * n + k] = 0;
      a[k * n + i] = 0;
    }

    if (rows !== null) {
      // rows <- H rows: rows[i, :] -= 2 v_i (v^T rows)[:] for i in the trailing block.
      w.fill(0);
      for (let i = start; i < n; i++) {
        const vi = v[i];
        const row = i * n;
        for (let j = 0; j < n; j++) w[j] += vi * rows[row + j];
      }
      for (let i = start; i < n; i++) {
        const vi = 2 * v[i];
        const row = i * n;
        for (let j = 0; j < n; j++) rows[row + j] -= vi * w[j];
      }
    }
  }
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    diagonal[i] = a[i * n + i];
    if (i + 1 < n) offDiagonal[i] = a[(i + 1) * n + i];
  }
  return { diagonal, offDiagonal };
}

/**
 * Diagonalises the symmetric tridiagonal matrix (d, e) in place by implicit QL steps with
 * a Wilkinson-type shift. Each step chases a bulge with Givens rotations; every rotation
 * is also applied to rows i and i + 1 of `rows`, which then hold the eigenvectors.
 */
function tridiagonalQl(
  d: Float64Array,
  e: Float64Array,
  rows: Float64Array | null,
  n: number,
): void {
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      // Find the first m >= l where the matrix splits (e[m] negligible).
      let m = l;
      for (; m < n - 1; m++) {
        const scale = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * scale) break;
      }
      if (m === l) break;
      iterations++;
      if (iterations > MAX_QL_ITERATIONS) {
        throw new TweedieError("symmetric eigensolver did not converge", {
          code: "diverged",
          path: ["matrix", "eigenvalue", l],
          expected: `convergence within ${MAX_QL_ITERATIONS} QL iterations`,
          received: `${iterations - 1} iterations`,
        });
      }

      // Shift from the leading 2 x 2 block, so that the deflation happens at l.
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The rotation underflowed: undo the partial shift and restart at l.
          d[i + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (rows !== null) rotateRows(rows, n, i, c, s);
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Applies the Givens rotation of one QL step to rows i and i + 1. */
function rotateRows(rows: Float64Array, n: number, i: number, c: number, s: number): void {
  const top = i * n;
  const bottom = (i + 1) * n;
  for (let k = 0; k < n; k++) {
    const upper = rows[top + k];
    const lower = rows[bottom + k];
    rows[bottom + k] = s * upper + c * lower;
    rows[top + k] = c * upper - s * lower;
  }
}

function sortEigen(values: Float64Array, rows: Float64Array | null, n: number): Eigen {
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((i, j) => values[i] - values[j] || i - j);
  const sorted = Float64Array.from(order, (i) => values[i]);
  if (rows === null) return { values: sorted, vectors: null };
  const vectors = new Float64Array(n * n);
  order.forEach((source, target) => {
    vectors.set(rows.subarray(source * n, (source + 1) * n), target * n);
  });
  return { values: sorted, vectors };
}

/** C = A B for row-major A (m x k) and B (k x n). */
export function matmul(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const cRow = i * n;
    for (let t = 0; t < k; t++) {
      const aValue = a[i * k + t];
      if (aValue === 0) continue;
      const bRow = t * n;
      for (let j = 0; j < n; j++) c[cRow + j] += aValue * b[bRow + j];
    }
  }
  return c;
}

/** C = A B^T for row-major A (m x k) and B (n x k): dot products of rows. */
export function matmulTransposed(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const aRow = i * k;
    for (let j = 0; j < n; j++) {
      const bRow = j * k;
      let sum = 0;
      for (let t = 0; t < k; t++) sum += a[aRow + t] * b[bRow + t];
      c[i * n + j] = sum;
    }
  }
  return c;
}
