import type { Operator, Shape, Tensor } from "@tweedie/core";
import { mapImagePairs, mapImages } from "../batch.js";
import { deepFreeze } from "../freeze.js";
import { fft2d } from "../math/fft.js";
import type { PhaseRetrievalSpec } from "../spec.js";

/**
 * Fourier phase retrieval (DPS): y = |F P x| per channel, where P zero-pads each side by
 * int(oversample / 8 * side) pixels on both ends and F is the orthonormal 2-D DFT. With
 * `shift` the zero frequency sits at index floor(n / 2) of each axis, as fftshift. DPS
 * also shifts the input before the transform, which changes only the phase, so the
 * magnitudes match. Nonlinear: it has a VJP and no adjoint.
 */
export class PhaseRetrievalOperator implements Operator {
  readonly linear = false;
  readonly spec: PhaseRetrievalSpec;
  readonly outputShape: Shape;
  private readonly padTop: number;
  private readonly padLeft: number;

  constructor(
    spec: PhaseRetrievalSpec,
    readonly inputShape: Shape,
  ) {
    this.spec = deepFreeze({ ...spec });
    const [channels, height, width] = inputShape;
    this.padTop = Math.trunc((spec.oversample / 8) * height);
    this.padLeft = Math.trunc((spec.oversample / 8) * width);
    this.outputShape = Object.freeze([
      channels,
      height + 2 * this.padTop,
      width + 2 * this.padLeft,
    ]);
    Object.freeze(this);
  }

  forward(x: Tensor): Tensor {
    const [channels] = this.inputShape;
    const [, rows, cols] = this.outputShape;
    return mapImages(x, this.inputShape, this.outputShape, "x", (src, dst) => {
      for (let c = 0; c < channels; c++) {
        const { re, im } = this.spectrum(src, c);
        const out = dst.subarray(c * rows * cols, (c + 1) * rows * cols);
        for (let k = 0; k < re.length; k++) out[this.outputIndex(k)] = Math.hypot(re[k], im[k]);
      }
    });
  }

  /**
   * J^T g = P^T Re(F^H (g * z / |z|)) with z = F P x, where z / |z| is taken as 0 at
   * z = 0 (the subgradient of |z| there that has the smallest norm).
   */
  vjp(x: Tensor, g: Tensor): Tensor {
    const [channels, height, width] = this.inputShape;
    const [, rows, cols] = this.outputShape;
    return mapImagePairs(
      x,
      this.inputShape,
      g,
      this.outputShape,
      this.inputShape,
      (xs, gs, dst) => {
        for (let c = 0; c < channels; c++) {
          const { re, im } = this.spectrum(xs, c);
          const gPlane = gs.subarray(c * rows * cols, (c + 1) * rows * cols);
          for (let k = 0; k < re.length; k++) {
            const magnitude = Math.hypot(re[k], im[k]);
            const weight = magnitude > 0 ? gPlane[this.outputIndex(k)] / magnitude : 0;
            re[k] *= weight;
            im[k] *= weight;
          }
          fft2d(re, im, rows, cols, true);
          const scale = 1 / Math.sqrt(rows * cols);
          const out = dst.subarray(c * height * width, (c + 1) * height * width);
          for (let i = 0; i < height; i++) {
            for (let j = 0; j < width; j++) {
              out[i * width + j] = re[(i + this.padTop) * cols + j + this.padLeft] * scale;
            }
          }
        }
      },
    );
  }

  /** z = F P x for channel c, orthonormal, in natural (unshifted) frequency order. */
  private spectrum(src: Float32Array, c: number): { re: Float64Array; im: Float64Array } {
    const [, height, width] = this.inputShape;
    const [, rows, cols] = this.outputShape;
    const re = new Float64Array(rows * cols);
    const im = new Float64Array(rows * cols);
    const plane = src.subarray(c * height * width, (c + 1) * height * width);
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++) {
        re[(i + this.padTop) * cols + j + this.padLeft] = plane[i * width + j];
      }
    }
    fft2d(re, im, rows, cols, false);
    const scale = 1 / Math.sqrt(rows * cols);
    for (let k = 0; k < re.length; k++) {
      re[k] *= scale;
      im[k] *= scale;
    }
    return { re, im };
  }

  /** Output position of natural-order frequency index k (row-major), shifted or not. */
  private outputIndex(k: number): number {
    if (!this.spec.shift) return k;
    const [, rows, cols] = this.outputShape;
    const row = Math.floor(k / cols);
    const col = k - row * cols;
    return ((row + Math.floor(rows / 2)) % rows) * cols + ((col + Math.floor(cols / 2)) % cols);
  }
}
