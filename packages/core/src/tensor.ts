import { TweedieError } from "./errors.js";

export type Shape = readonly number[];

/**
 * A float32 tensor in NCHW layout (batch first). `data` is owned or is a view into a
 * larger buffer. `reshape` and `item` return views that share memory, so hot loops copy
 * only where they call `clone`.
 */
export class Tensor {
  readonly data: Float32Array;
  readonly shape: Shape;

  constructor(data: Float32Array, shape: Shape) {
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new TweedieError("tensor data length does not match its shape", {
        code: "shape_mismatch",
        expected: `${size} values for shape [${shape.join(", ")}]`,
        received: data.length,
      });
    }
    this.data = data;
    // A frozen array cannot change, so tensors built from another tensor's shape share it.
    this.shape = Array.isArray(shape) && Object.isFrozen(shape) ? shape : Object.freeze([...shape]);
  }

  static zeros(shape: Shape): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)), shape);
  }

  static full(shape: Shape, value: number): Tensor {
    return new Tensor(new Float32Array(shapeSize(shape)).fill(value), shape);
  }

  static from(values: ArrayLike<number>, shape: Shape): Tensor {
    return new Tensor(Float32Array.from(values), shape);
  }

  get size(): number {
    return this.data.length;
  }

  /** Batch size: the first dimension. */
  get batch(): number {
    return this.shape[0] ?? 1;
  }

  /** Returns a view with another shape of the same size. */
  reshape(shape: Shape): Tensor {
    return new Tensor(this.data, shape);
  }

  /** Returns a view of batch item `index`, keeping a leading batch dimension of 1. */
  item(index: number): Tensor {
    const n = this.batch;
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new TweedieError("batch index out of range", {
        code: "out_of_range",
        expected: `an integer in [0, ${n - 1}]`,
        received: index,
      });
    }
    const stride = this.size / n;
    return new Tensor(this.data.subarray(index * stride, (index + 1) * stride), [
      1,
      ...this.shape.slice(1),
    ]);
  }

  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** Returns a new tensor with `fn` applied to every value. */
  map(fn: (value: number, index: number) => number): Tensor {
    const out = new Float32Array(this.size);
    const src = this.data;
    for (let i = 0; i < out.length; i++) out[i] = fn(src[i], i);
    return new Tensor(out, this.shape);
  }

  /** True when every value is finite. */
  isFinite(): boolean {
    const src = this.data;
    for (let i = 0; i < src.length; i++) if (!Number.isFinite(src[i])) return false;
    return true;
  }
}

export function shapeSize(shape: Shape): number {
  let size = 1;
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) {
      throw new TweedieError("tensor dimensions must be non-negative integers", {
        code: "invalid_value",
        expected: "non-negative integers",
        received: [...shape],
      });
    }
    size *= dim;
  }
  return size;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function assertShape(tensor: Tensor, expected: Shape, name: string): void {
  if (!sameShape(tensor.shape, expected)) {
    throw new TweedieError(`${name} has the wrong shape`, {
      code: "shape_mismatch",
      path: [name],
      expected: [...expected],
      received: [...tensor.shape],
    });
  }
}

/** Stacks equally shaped tensors [1, ...] or [...] along a new or existing batch axis. */
export function concatBatch(parts: readonly Tensor[]): Tensor {
  if (parts.length === 0)
    throw new TweedieError("cannot concatenate zero tensors", { code: "missing" });
  const inner = parts[0].shape.slice(1);
  let batch = 0;
  for (const part of parts) {
    if (!sameShape(part.shape.slice(1), inner)) {
      throw new TweedieError("tensors to concatenate differ in shape", {
        code: "shape_mismatch",
        expected: [-1, ...inner],
        received: [...part.shape],
      });
    }
    batch += part.batch;
  }
  const out = new Float32Array(batch * shapeSize(inner));
  let offset = 0;
  for (const part of parts) {
    out.set(part.data, offset);
    offset += part.size;
  }
  return new Tensor(out, [batch, ...inner]);
}

/*
 * Arithmetic without hidden copies. Every elementwise function takes an optional `out`
 * tensor of the same shape and writes into it. Passing one of the inputs as `out` makes
 * the operation in place, and omitting `out` allocates a new tensor. Reductions accumulate
 * in float64, so their error does not grow with the float32 rounding of long sums.
 */

function checkSameShape(a: Tensor, b: Tensor, name: string): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new TweedieError(`${name} has the wrong shape`, {
      code: "shape_mismatch",
      path: [name],
      expected: [...a.shape],
      received: [...b.shape],
    });
  }
}

function target(like: Tensor, out: Tensor | undefined): Tensor {
  if (out === undefined) return Tensor.zeros(like.shape);
  checkSameShape(like, out, "out");
  return out;
}

/** Computes a + b elementwise into `out` (a new tensor when omitted). */
export function add(a: Tensor, b: Tensor, out?: Tensor): Tensor {
  checkSameShape(a, b, "b");
  const result = target(a, out);
  const x = a.data;
  const y = b.data;
  const z = result.data;
  for (let i = 0; i < z.length; i++) z[i] = x[i] + y[i];
  return result;
}

/** Computes a - b elementwise into `out` (a new tensor when omitted). */
export function sub(a: Tensor, b: Tensor, out?: Tensor): Tensor {
  checkSameShape(a, b, "b");
  const result = target(a, out);
  const x = a.data;
  const y = b.data;
  const z = result.data;
  for (let i = 0; i < z.length; i++) z[i] = x[i] - y[i];
  return result;
}

/** Computes factor * a into `out` (a new tensor when omitted). */
export function scale(a: Tensor, factor: number, out?: Tensor): Tensor {
  const result = target(a, out);
  const x = a.data;
  const z = result.data;
  for (let i = 0; i < z.length; i++) z[i] = factor * x[i];
  return result;
}

/** Adds alpha * x to y in place (BLAS axpy) and returns y. */
export function axpy(alpha: number, x: Tensor, y: Tensor): Tensor {
  checkSameShape(y, x, "x");
  const u = x.data;
  const v = y.data;
  for (let i = 0; i < v.length; i++) v[i] += alpha * u[i];
  return y;
}

/**
 * Computes alpha * x + beta * y into `out` (a new tensor when omitted), with one rounding
 * to float32 per value. A DDIM step x_s = alpha(s) x0Hat + sigma(s) epsHat is one call.
 */
export function axpby(alpha: number, x: Tensor, beta: number, y: Tensor, out?: Tensor): Tensor {
  checkSameShape(x, y, "y");
  const result = target(x, out);
  const u = x.data;
  const v = y.data;
  const z = result.data;
  for (let i = 0; i < z.length; i++) z[i] = alpha * u[i] + beta * v[i];
  return result;
}

/** Computes a + weight (b - a) into `out` (a new tensor when omitted). */
export function lerp(a: Tensor, b: Tensor, weight: number, out?: Tensor): Tensor {
  checkSameShape(a, b, "b");
  const result = target(a, out);
  const x = a.data;
  const y = b.data;
  const z = result.data;
  for (let i = 0; i < z.length; i++) z[i] = x[i] + weight * (y[i] - x[i]);
  return result;
}

/** Clamps every value to [low, high] into `out` (a new tensor when omitted); NaN stays NaN. */
export function clamp(a: Tensor, low: number, high: number, out?: Tensor): Tensor {
  if (!(low <= high)) {
    throw new TweedieError("clamp bounds are reversed", {
      code: "invalid_value",
      path: ["low"],
      expected: `a number <= ${high}`,
      received: low,
    });
  }
  const result = target(a, out);
  const x = a.data;
  const z = result.data;
  for (let i = 0; i < z.length; i++) {
    const value = x[i];
    if (value < low) z[i] = low;
    else if (value > high) z[i] = high;
    else z[i] = value;
  }
  return result;
}

/** Computes the inner product sum a_i b_i, accumulated in float64. */
export function dot(a: Tensor, b: Tensor): number {
  checkSameShape(a, b, "b");
  const x = a.data;
  const y = b.data;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] * y[i];
  return sum;
}

/** Computes sum a_i^2, accumulated in float64. */
export function sumSquares(a: Tensor): number {
  const x = a.data;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
  return sum;
}

/** Computes the Euclidean norm over all values, accumulated in float64. */
export function norm(a: Tensor): number {
  return Math.sqrt(sumSquares(a));
}

/** Computes the Euclidean norm of each batch item, accumulated in float64. */
export function itemNorms(a: Tensor): Float64Array {
  const n = a.batch;
  const out = new Float64Array(n);
  for (let item = 0; item < n; item++) out[item] = norm(a.item(item));
  return out;
}

/**
 * Computes the per-pixel mean and population standard deviation (divisor S) over the
 * samples of a batch [S, ...], in float64 with two passes, so the squared deviations avoid
 * the cancellation of E[x^2] - E[x]^2. Outputs have batch 1.
 */
export function sampleStatistics(x: Tensor): { mean: Tensor; std: Tensor } {
  const count = x.batch;
  const size = x.size / count;
  const mean = new Float64Array(size);
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < size; i++) mean[i] += x.data[s * size + i] / count;
  }

  const variance = new Float64Array(size);
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < size; i++) variance[i] += (x.data[s * size + i] - mean[i]) ** 2 / count;
  }

  const shape = [1, ...x.shape.slice(1)];
  return {
    mean: new Tensor(Float32Array.from(mean), shape),
    std: new Tensor(Float32Array.from(variance, Math.sqrt), shape),
  };
}
