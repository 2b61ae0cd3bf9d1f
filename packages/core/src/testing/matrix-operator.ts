import type { Operator, OperatorSpec } from "../contracts/operator.js";
import { TweedieError } from "../errors.js";
import { type Shape, sameShape, Tensor } from "../tensor.js";
import { type Matrix, matrix, type ThinSvd, thinSvd } from "./linalg.js";

/** JSON spec of a `MatrixOperator`: the matrix itself, row-major, in float64. */
export interface MatrixOperatorSpec extends OperatorSpec {
  readonly kind: "matrix";
  readonly rows: number;
  readonly cols: number;
  readonly data: readonly number[];
}

/**
 * A linear operator y = A x with a dense float64 matrix A (rows x cols), on images shaped
 * [cols, 1, 1] and measurements shaped [rows, 1, 1]. Products run in float64 and round to
 * float32 once. The pseudo-inverse uses the thin SVD A = U diag(s) Vr (rows <= cols):
 * A^+ = Vr^T diag(1 / s) U^T, with singular values below max(s) * cols * 2^-52 dropped.
 */
export class MatrixOperator implements Operator {
  readonly spec: MatrixOperatorSpec;
  readonly inputShape: Shape;
  readonly outputShape: Shape;
  readonly linear = true;
  readonly matrix: Matrix;
  readonly svd: ThinSvd;

  constructor(a: Matrix) {
    this.matrix = matrix(a.rows, a.cols, a.data);
    this.spec = Object.freeze({
      kind: "matrix",
      rows: a.rows,
      cols: a.cols,
      data: Object.freeze(Array.from(a.data)),
    });
    this.inputShape = Object.freeze([a.cols, 1, 1]);
    this.outputShape = Object.freeze([a.rows, 1, 1]);
    this.svd = thinSvd(this.matrix);
  }

  static fromSpec(spec: MatrixOperatorSpec): MatrixOperator {
    return new MatrixOperator(matrix(spec.rows, spec.cols, spec.data));
  }

  forward(x: Tensor): Tensor {
    return this.apply(x, this.inputShape, this.outputShape, "x", (row, out) => {
      const { rows, cols, data } = this.matrix;
      for (let i = 0; i < rows; i++) {
        let sum = 0;
        for (let j = 0; j < cols; j++) sum += data[i * cols + j] * row[j];
        out[i] = sum;
      }
    });
  }

  adjoint(y: Tensor): Tensor {
    return this.apply(y, this.outputShape, this.inputShape, "y", (row, out) => {
      const { rows, cols, data } = this.matrix;
      for (let j = 0; j < cols; j++) {
        let sum = 0;
        for (let i = 0; i < rows; i++) sum += data[i * cols + j] * row[i];
        out[j] = sum;
      }
    });
  }

  pseudoInverse(y: Tensor): Tensor {
    const { u, s, vr } = this.svd;
    const m = this.matrix.rows;
    const n = this.matrix.cols;
    const cutoff = (s[0] ?? 0) * n * 2 ** -52;
    return this.apply(y, this.outputShape, this.inputShape, "y", (row, out) => {
      out.fill(0);
      for (let k = 0; k < m; k++) {
        if (!(s[k] > cutoff)) continue;
        let coefficient = 0;
        for (let i = 0; i < m; i++) coefficient += u.data[i * m + k] * row[i];
        coefficient /= s[k];
        for (let j = 0; j < n; j++) out[j] += coefficient * vr.data[k * n + j];
      }
    });
  }

  /** Maps `fn` over the batch, accepting [...inner] or [N, ...inner]. */
  private apply(
    input: Tensor,
    inner: Shape,
    outer: Shape,
    name: string,
    fn: (row: Float32Array, out: Float64Array) => void,
  ): Tensor {
    const batched = input.shape.length === inner.length + 1;
    const innerOf = batched ? input.shape.slice(1) : input.shape;
    if (!sameShape(innerOf, inner)) {
      throw new TweedieError(`${name} does not match the matrix operator's shape`, {
        code: "shape_mismatch",
        path: [name],
        expected: [...inner],
        received: [...input.shape],
      });
    }
    const batch = batched ? input.shape[0] : 1;
    const inSize = input.size / Math.max(batch, 1);
    const outSize = outer[0];
    const out = new Float32Array(batch * outSize);
    const scratch = new Float64Array(outSize);
    for (let n = 0; n < batch; n++) {
      fn(input.data.subarray(n * inSize, (n + 1) * inSize), scratch);
      out.set(scratch, n * outSize);
    }
    return new Tensor(out, batched ? [batch, ...outer] : outer);
  }
}
