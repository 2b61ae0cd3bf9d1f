import type { Operator, OperatorSpec, Shape, Tensor } from "@tweedie/core";
import { mapImages } from "../batch.js";
import { deepFreeze } from "../freeze.js";
import { applySeparable, type SparseMatrix } from "../math/sparse.js";

/** The 1-D factors of a separable map: A = rows (x) cols, applied to every channel. */
export interface SeparableFactors {
  readonly rows: SparseMatrix;
  readonly cols: SparseMatrix;
}

/**
 * A linear operator that maps each channel X to A_h X A_w^T. The adjoint uses the
 * transposed factors, so <A x, y> = <x, A^T y> is exact up to rounding. `pseudoInverseFactors`,
 * when given, supplies A_h^+ and A_w^+; (A_h (x) A_w)^+ = A_h^+ (x) A_w^+.
 */
export class SeparableOperator implements Operator {
  readonly linear = true;
  readonly outputShape: Shape;
  readonly pseudoInverse?: (y: Tensor) => Tensor;
  private readonly forwardFactors: SeparableFactors;
  private readonly adjointFactors: SeparableFactors;

  constructor(
    readonly spec: OperatorSpec,
    readonly inputShape: Shape,
    factors: SeparableFactors,
    pseudoInverseFactors?: () => SeparableFactors,
  ) {
    deepFreeze(spec);
    this.forwardFactors = factors;
    this.adjointFactors = { rows: factors.rows.transpose(), cols: factors.cols.transpose() };
    this.outputShape = Object.freeze([inputShape[0], factors.rows.rows, factors.cols.rows]);
    if (pseudoInverseFactors !== undefined) {
      // The pseudo-inverse factors are computed on first use and then reused; they are a
      // pure function of the spec, so caching them changes no result.
      let cached: SeparableFactors | undefined;
      this.pseudoInverse = (y: Tensor) => {
        cached ??= pseudoInverseFactors();
        return this.apply(y, this.outputShape, this.inputShape, cached, "y");
      };
    }
    Object.freeze(this);
  }

  forward(x: Tensor): Tensor {
    return this.apply(x, this.inputShape, this.outputShape, this.forwardFactors, "x");
  }

  adjoint(y: Tensor): Tensor {
    return this.apply(y, this.outputShape, this.inputShape, this.adjointFactors, "y");
  }

  private apply(
    x: Tensor,
    inShape: Shape,
    outShape: Shape,
    factors: SeparableFactors,
    name: string,
  ): Tensor {
    const [channels, inHeight, inWidth] = inShape;
    const inPlane = inHeight * inWidth;
    const outPlane = outShape[1] * outShape[2];
    return mapImages(x, inShape, outShape, name, (src, dst) => {
      for (let c = 0; c < channels; c++) {
        applySeparable(
          factors.rows,
          factors.cols,
          src.subarray(c * inPlane, (c + 1) * inPlane),
          dst.subarray(c * outPlane, (c + 1) * outPlane),
        );
      }
    });
  }
}
