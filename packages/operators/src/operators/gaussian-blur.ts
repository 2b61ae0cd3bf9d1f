import type { Shape } from "@tweedie/core";
import { gaussianKernel1d } from "../kernels/gaussian.js";
import { reflectCorrelationMatrix } from "../kernels/resize.js";
import { reflectIndex } from "../math/reflect.js";
import type { GaussianBlurSpec } from "../spec.js";
import { SeparableOperator } from "./separable.js";

/**
 * DPS Gaussian blur: PyTorch ReflectionPad2d((size - 1) / 2) followed by a depthwise
 * size x size correlation, output the same size as the input. The kernel is separable,
 * so the operator runs as two 1-D passes over the kernel's non-zero support (25 taps for
 * sigma 3). Taps past the image edge reflect without repeating the edge pixel; the
 * adjoint is the transposed 1-D matrices, which folds those taps back.
 */
export function buildGaussianBlur(spec: GaussianBlurSpec, imageShape: Shape): SeparableOperator {
  const [, height, width] = imageShape;
  const full = gaussianKernel1d(spec.size, spec.sigma, spec.truncate);
  const taps = trimZeros(full);
  const rows = reflectCorrelationMatrix(height, taps, reflectIndex);
  const cols = height === width ? rows : reflectCorrelationMatrix(width, taps, reflectIndex);
  return new SeparableOperator(spec, imageShape, { rows, cols });
}

/** Drops equal numbers of zero taps from both ends of a symmetric kernel. */
function trimZeros(kernel: Float64Array): Float64Array {
  let start = 0;
  while (
    start < (kernel.length - 1) / 2 &&
    kernel[start] === 0 &&
    kernel[kernel.length - 1 - start] === 0
  ) {
    start++;
  }
  return kernel.slice(start, kernel.length - start);
}
