import { TweedieError } from "../errors.js";

/**
 * Dense float64 linear algebra for the Gaussian-mixture priors. Matrices are row-major
 * Float64Arrays, with entry (i, j) of an n x n matrix at `i * n + j`. Sizes stay at a few
 * hundred, so the plain O(n^3) algorithms below take milliseconds to seconds.
 */

/** Eigendecomposition A = U diag(values) U^T of a symmetric matrix. */
export interface SymmetricEigen {
  /** Eigenvalues in ascending order. */
  readonly values: Float64Array;
  /** U, row-major n x n: column j is the unit eigenvector of `values[j]`. */
  readonly vectors: Float64Array;
}

/** Sweeps after which a cyclic Jacobi run that has not converged is reported as failed. */
const MAX_JACOBI_SWEEPS = 100;

function checkSquare(a: Float64Array, n: number, name: string): void {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new TweedieError(`${name} must be a square matrix of n x n values`, {
      code: "shape_mismatch",
      path: [name],
      expected: `${n} x ${n} = ${n * n} values`,
      received: a.length,
    });
  }
}

/**
 * Rotates rows and columns p and q of the symmetric `w` so that w[p][q] becomes zero, and
 * applies the same rotation to the columns of `v` (a classical Jacobi step: t = tan(theta)
 * is the smaller root of t^2 + 2 t zeta - 1 = 0 with zeta = (w_qq - w_pp) / (2 w_pq)).
 */
function jacobiRotate(w: Float64Array, v: Float64Array, n: number, p: number, q: number): void {
  const wpq = w[p * n + q];
  const wpp = w[p * n + p];
  const wqq = w[q * n + q];
  const zeta = (wqq - wpp) / (2 * wpq);
  // For |zeta| above 1e150, zeta^2 overflows; t = 1 / (2 zeta) is exact to rounding there.
  const t =
    Math.abs(zeta) > 1e150
      ? 1 / (2 * zeta)
      : (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(zeta * zeta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < n; k++) {
    if (k === p || k === q) continue;
    const wkp = w[k * n + p];
    const wkq = w[k * n + q];
    const newP = c * wkp - s * wkq;
    const newQ = s * wkp + c * wkq;
    w[k * n + p] = newP;
    w[p * n + k] = newP;
    w[k * n + q] = newQ;
    w[q * n + k] = newQ;
  }
  w[p * n + p] = wpp - t * wpq;
  w[q * n + q] = wqq + t * wpq;
  w[p * n + q] = 0;
  w[q * n + p] = 0;
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p];
    const vkq = v[k * n + q];
    v[k * n + p] = c * vkp - s * vkq;
    v[k * n + q] = s * vkp + c * vkq;
  }
}

/**
 * Eigendecomposition of a symmetric matrix by cyclic Jacobi rotations. Only the upper
 * triangle of `a` is read. An off-diagonal entry counts as zero once it is below 1e-18 of
 * the geometric mean of its two diagonal entries, or below 1e-30 of the matrix's Frobenius
 * norm. The first rule keeps small eigenvalues accurate relative to their own size. Sweeps
 * stop when one sweep rotates nothing. Jacobi converges quadratically, so this takes about 6
 * to 12 sweeps for n up to a few hundred. Throws on non-finite input.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  checkSquare(a, n, "matrix");
  const w = new Float64Array(n * n);
  let norm2 = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const value = a[i * n + j];
      if (!Number.isFinite(value)) {
        throw new TweedieError("matrix has a non-finite entry", {
          code: "non_finite",
          path: ["matrix", i, j],
          expected: "finite values",
          received: value,
        });
      }
      w[i * n + j] = value;
      w[j * n + i] = value;
      norm2 += i === j ? value * value : 2 * value * value;
    }
  }
  const absoluteFloor = 1e-30 * Math.sqrt(norm2);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;

  for (let sweep = 0; sweep < MAX_JACOBI_SWEEPS; sweep++) {
    let rotations = 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const wpq = Math.abs(w[p * n + q]);
        if (wpq === 0) continue;
        const scale = Math.sqrt(Math.abs(w[p * n + p] * w[q * n + q]));
        if (wpq <= 1e-18 * scale || wpq <= absoluteFloor) {
          w[p * n + q] = 0;
          w[q * n + p] = 0;
          continue;
        }
        jacobiRotate(w, v, n, p, q);
        rotations++;
      }
    }
    if (rotations === 0) return sortedEigen(w, v, n);
  }
  throw new TweedieError("Jacobi eigendecomposition did not converge", {
    code: "diverged",
    path: ["matrix"],
    expected: `no rotation left to do within ${MAX_JACOBI_SWEEPS} sweeps`,
    received: `${MAX_JACOBI_SWEEPS} sweeps`,
  });
}

/** Orders eigenpairs by ascending eigenvalue. */
function sortedEigen(w: Float64Array, v: Float64Array, n: number): SymmetricEigen {
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((i, j) => w[i * n + i] - w[j * n + j] || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const source = order[j];
    values[j] = w[source * n + source];
    for (let i = 0; i < n; i++) vectors[i * n + j] = v[i * n + source];
  }
  return { values, vectors };
}

/**
 * Lower Cholesky factor L (A = L L^T) of a symmetric positive definite matrix, reading
 * the lower triangle of `a`. Throws when a pivot is not positive, naming the pivot.
 */
export function choleskyLower(a: Float64Array, n: number, name = "matrix"): Float64Array {
  checkSquare(a, n, name);
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let diag = a[rowJ + j];
    for (let k = 0; k < j; k++) diag -= l[rowJ + k] * l[rowJ + k];
    if (!(diag > 0)) {
      throw new TweedieError(`${name} is not positive definite`, {
        code: "invalid_value",
        path: [name, "pivot", j],
        expected: "a positive Cholesky pivot",
        received: diag,
      });
    }
    const ljj = Math.sqrt(diag);
    l[rowJ + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let sum = a[rowI + j];
      for (let k = 0; k < j; k++) sum -= l[rowI + k] * l[rowJ + k];
      l[rowI + j] = sum / ljj;
    }
  }
  return l;
}

/** Solves L z = b in place for lower-triangular L (forward substitution). */
export function solveLowerInPlace(l: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const row = i * n;
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[row + k] * b[k];
    b[i] = sum / l[row + i];
  }
}

/** Solves L^T x = b in place for lower-triangular L (back substitution). */
export function solveUpperTransposedInPlace(l: Float64Array, n: number, b: Float64Array): void {
  for (let i = n - 1; i >= 0; i--) {
    let sum = b[i];
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i] * b[k];
    b[i] = sum / l[i * n + i];
  }
}

/** log det(A) = 2 sum log L_ii from the lower Cholesky factor of A. */
export function choleskyLogDet(l: Float64Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.log(l[i * n + i]);
  return 2 * sum;
}

/** Inverts the symmetric positive definite matrix whose lower Cholesky factor is L. */
export function choleskyInverse(l: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  const column = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    column.fill(0);
    column[j] = 1;
    solveLowerInPlace(l, n, column);
    solveUpperTransposedInPlace(l, n, column);
    for (let i = 0; i < n; i++) out[i * n + j] = column[i];
  }
  symmetrizeInPlace(out, n);
  return out;
}

/** Replaces A by (A + A^T) / 2, removing the rounding asymmetry of computed products. */
export function symmetrizeInPlace(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const mean = 0.5 * (a[i * n + j] + a[j * n + i]);
      a[i * n + j] = mean;
      a[j * n + i] = mean;
    }
  }
}

/** C = A B for row-major A (m x k) and B (k x n). */
export function matmul(
  a: Float64Array,
  b: Float64Array,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const outRow = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      if (aip === 0) continue;
      const bRow = p * n;
      for (let j = 0; j < n; j++) out[outRow + j] += aip * b[bRow + j];
    }
  }
  return out;
}

/** y = A x for row-major A (m x n). */
export function matvec(a: Float64Array, x: ArrayLike<number>, m: number, n: number): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += a[row + j] * x[j];
    out[i] = sum;
  }
  return out;
}

/** y = A^T x for row-major A (m x n). */
export function matvecTransposed(
  a: Float64Array,
  x: ArrayLike<number>,
  m: number,
  n: number,
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    const xi = x[i];
    if (xi === 0) continue;
    for (let j = 0; j < n; j++) out[j] += a[row + j] * xi;
  }
  return out;
}
