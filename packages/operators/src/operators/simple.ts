import { type Operator, type Shape, type Tensor, TweedieError } from "@tweedie/core";
import { mapImages } from "../batch.js";
import { deepFreeze } from "../freeze.js";
import type { ColorizationSpec, IdentitySpec } from "../spec.js";

/** y = x (denoising). Its adjoint and pseudo-inverse are the identity too. */
export class IdentityOperator implements Operator {
  readonly linear = true;
  readonly spec: IdentitySpec;
  readonly outputShape: Shape;

  constructor(
    spec: IdentitySpec,
    readonly inputShape: Shape,
  ) {
    this.spec = deepFreeze({ ...spec });
    this.outputShape = inputShape;
    Object.freeze(this);
  }

  forward(x: Tensor): Tensor {
    return mapImages(x, this.inputShape, this.outputShape, "x", (src, dst) => dst.set(src));
  }

  adjoint(y: Tensor): Tensor {
    return mapImages(y, this.outputShape, this.inputShape, "y", (src, dst) => dst.set(src));
  }

  pseudoInverse(y: Tensor): Tensor {
    return this.adjoint(y);
  }
}

/**
 * RGB [3, H, W] to one grey channel [1, H, W]: y = sum_c w_c x_c. A^T y puts w_c y in
 * channel c; A A^T = |w|^2, so A^+ = A^T / |w|^2.
 */
export class ColorizationOperator implements Operator {
  readonly linear = true;
  readonly spec: ColorizationSpec;
  readonly outputShape: Shape;
  private readonly squaredNorm: number;

  constructor(
    spec: ColorizationSpec,
    readonly inputShape: Shape,
  ) {
    if (inputShape[0] !== 3) {
      throw new TweedieError("colorization needs RGB images", {
        code: "shape_mismatch",
        path: ["imageShape", 0],
        expected: 3,
        received: inputShape[0],
      });
    }
    this.spec = deepFreeze({ ...spec, weights: [...spec.weights] as [number, number, number] });
    this.squaredNorm = spec.weights.reduce((sum, w) => sum + w * w, 0);
    if (!(this.squaredNorm > 0)) {
      throw new TweedieError("colorization weights must not all be zero", {
        code: "invalid_value",
        path: ["weights"],
        expected: "at least one non-zero weight",
        received: [...spec.weights],
      });
    }
    this.outputShape = Object.freeze([1, inputShape[1], inputShape[2]]);
    Object.freeze(this);
  }

  forward(x: Tensor): Tensor {
    const plane = this.inputShape[1] * this.inputShape[2];
    const [w0, w1, w2] = this.spec.weights;
    return mapImages(x, this.inputShape, this.outputShape, "x", (src, dst) => {
      for (let k = 0; k < plane; k++) {
        dst[k] = w0 * src[k] + w1 * src[plane + k] + w2 * src[2 * plane + k];
      }
    });
  }

  adjoint(y: Tensor): Tensor {
    return this.spread(y, 1);
  }

  pseudoInverse(y: Tensor): Tensor {
    return this.spread(y, 1 / this.squaredNorm);
  }

  private spread(y: Tensor, scale: number): Tensor {
    const plane = this.inputShape[1] * this.inputShape[2];
    const weights = this.spec.weights.map((w) => w * scale);
    return mapImages(y, this.outputShape, this.inputShape, "y", (src, dst) => {
      for (let c = 0; c < 3; c++) {
        for (let k = 0; k < plane; k++) dst[c * plane + k] = weights[c] * src[k];
      }
    });
  }
}
