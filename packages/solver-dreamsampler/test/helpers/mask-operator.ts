import { type Operator, Tensor } from "@tweedie/core";

/**
 * Inpainting y = m * x with an H x W mask shared by every channel (1 = observed), the
 * operator contract's `inpainting` kind. Its adjoint is itself and A^T A 1 = m.
 */
export class MaskOperator implements Operator {
  readonly spec: { kind: "inpainting"; pattern: "mask"; mask: number[][] };
  readonly outputShape: readonly number[];
  readonly linear = true;

  constructor(
    readonly inputShape: readonly [number, number, number],
    private readonly mask: Float32Array,
  ) {
    const [, height, width] = inputShape;
    this.outputShape = inputShape;
    this.spec = {
      kind: "inpainting",
      pattern: "mask",
      mask: Array.from({ length: height }, (_, r) =>
        Array.from(mask.subarray(r * width, (r + 1) * width)),
      ),
    };
  }

  forward(x: Tensor): Tensor {
    const plane = this.mask.length;
    return x.map((value, i) => value * this.mask[i % plane]);
  }

  adjoint(y: Tensor): Tensor {
    return this.forward(y);
  }

  pseudoInverse(y: Tensor): Tensor {
    return this.forward(y);
  }

  /** Returns the mask as a tensor [1, C, H, W]. */
  maskTensor(): Tensor {
    return this.forward(Tensor.full([1, ...this.inputShape], 1));
  }
}
