import { TweedieError } from "./errors.js";

export type Shape = readonly number[];

/**
 * A float32 tensor in NCHW layout (batch first). `data` is owned or a view into a larger
 * buffer; `reshape` and `item` return views that share memory, so hot loops never copy
 * unless they call `clone`.
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
    this.shape = Object.freeze([...shape]);
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

  /** A view with another shape of the same size. */
  reshape(shape: Shape): Tensor {
    return new Tensor(this.data, shape);
  }

  /** A view of batch item `index`, keeping a leading batch dimension of 1. */
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

  /** A new tensor with `fn` applied to every value. */
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
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
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
