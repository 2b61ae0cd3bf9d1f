import { type Operator, type Shape, type Tensor, TweedieError } from "@tweedie/core";
import { mapImages } from "../batch.js";
import { deepFreeze } from "../freeze.js";
import { hashFloat32 } from "../hash.js";
import { motionBlurKernel } from "../kernels/motion.js";
import { ReflectCorrelation } from "../math/correlate.js";
import type { MotionBlurSpec } from "../spec.js";

/**
 * DPS motion blur: one size x size random-trajectory kernel, drawn once when the operator
 * is built and stored in its spec, applied as a reflect-padded depthwise correlation of
 * the input's size. Applying the operator never draws again, so every call (measurement
 * and guidance alike) uses the same kernel.
 */
export class MotionBlurOperator implements Operator {
  readonly linear = true;
  readonly spec: MotionBlurSpec & { readonly kernel: readonly number[] };
  readonly outputShape: Shape;
  /** SHA-256 of the kernel's float32 bytes, for logging that the kernel never changed. */
  readonly kernelHash: string;
  private readonly correlation: ReflectCorrelation;

  constructor(
    spec: MotionBlurSpec,
    readonly inputShape: Shape,
  ) {
    const kernel =
      spec.kernel ?? Array.from(motionBlurKernel(spec.size, spec.intensity, spec.seed));
    checkKernel(kernel, spec.size);
    this.spec = deepFreeze({ ...spec, kernel });
    this.outputShape = inputShape;
    this.kernelHash = hashFloat32(kernel);
    this.correlation = new ReflectCorrelation(
      inputShape[1],
      inputShape[2],
      Float64Array.from(kernel),
      spec.size,
    );
    Object.freeze(this);
  }

  forward(x: Tensor): Tensor {
    return this.apply(x, "x", (src, dst) => this.correlation.forward(src, dst));
  }

  adjoint(y: Tensor): Tensor {
    return this.apply(y, "y", (src, dst) => this.correlation.adjoint(src, dst));
  }

  private apply(
    x: Tensor,
    name: string,
    run: (src: Float32Array[], dst: Float32Array[]) => void,
  ): Tensor {
    const [channels, height, width] = this.inputShape;
    const plane = height * width;
    const planes = (data: Float32Array) =>
      Array.from({ length: channels }, (_, c) => data.subarray(c * plane, (c + 1) * plane));
    return mapImages(x, this.inputShape, this.outputShape, name, (src, dst) =>
      run(planes(src), planes(dst)),
    );
  }
}

function checkKernel(kernel: readonly number[], size: number): void {
  if (kernel.length !== size * size) {
    throw new TweedieError("motion-blur kernel has the wrong number of values", {
      code: "shape_mismatch",
      path: ["kernel"],
      expected: `${size * size} values (size ${size} x ${size}, row-major)`,
      received: kernel.length,
    });
  }
  const bad = kernel.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) {
    throw new TweedieError("motion-blur kernel contains a non-finite value", {
      code: "non_finite",
      path: ["kernel", bad],
      expected: "finite numbers",
      received: kernel[bad],
    });
  }
}
