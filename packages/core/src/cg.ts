import { TweedieError } from "./errors.js";
import { Tensor } from "./tensor.js";

export interface ConjugateGradientOptions {
  maxIterations: number;
  /** Stop when ||r|| <= tolerance * ||b||. */
  tolerance: number;
}

export interface ConjugateGradientResult {
  x: Tensor;
  iterations: number;
  /** Final relative residual ||b - M x|| / ||b||. */
  relativeResidual: number;
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/**
 * Solves M x = b for a symmetric positive definite M given as a function, starting from
 * x0 (Hestenes and Stiefel 1952). Dot products accumulate in float64. Used for
 * Tikhonov inverses (A^T A + lambda I) x = A^T y + lambda z.
 */
export function conjugateGradient(
  apply: (x: Tensor) => Tensor,
  b: Tensor,
  x0: Tensor,
  options: ConjugateGradientOptions,
): ConjugateGradientResult {
  if (b.size !== x0.size) {
    throw new TweedieError("conjugate gradient start and right-hand side differ in size", {
      code: "shape_mismatch",
      expected: [...b.shape],
      received: [...x0.shape],
    });
  }
  const x = x0.clone();
  const r = b.data.slice();
  const mx = apply(x).data;
  for (let i = 0; i < r.length; i++) r[i] -= mx[i];
  const p = r.slice();
  const bNorm = Math.sqrt(dot(b.data, b.data));
  let rr = dot(r, r);
  let iterations = 0;
  if (bNorm === 0) return { x: Tensor.zeros(b.shape), iterations: 0, relativeResidual: 0 };
  while (iterations < options.maxIterations && Math.sqrt(rr) > options.tolerance * bNorm) {
    const mp = apply(new Tensor(p, b.shape)).data;
    const pmp = dot(p, mp);
    if (!(pmp > 0)) break; // M is not positive definite along p, or p vanished.
    const step = rr / pmp;
    for (let i = 0; i < r.length; i++) {
      x.data[i] += step * p[i];
      r[i] -= step * mp[i];
    }
    const rrNext = dot(r, r);
    const beta = rrNext / rr;
    for (let i = 0; i < p.length; i++) p[i] = r[i] + beta * p[i];
    rr = rrNext;
    iterations++;
  }
  return { x, iterations, relativeResidual: Math.sqrt(rr) / bNorm };
}
