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
    const plane = rows * cols;
    return mapImages(x, this.inputShape, this.outputShape, "x", (src, dst) => {
      for (let c = 0; c < channels; c += 2) {
        const pair = this.spectra(src, c);
        pair.forEach(({ re, im }, offset) => {
          const out = dst.subarray((c + offset) * plane, (c + offset + 1) * plane);
          for (let k = 0; k < plane; k++) out[this.outputIndex(k)] = Math.hypot(re[k], im[k]);
        });
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
    const plane = rows * cols;
    return mapImagePairs(
      x,
      this.inputShape,
      g,
      this.outputShape,
      this.inputShape,
      (xs, gs, dst) => {
        for (let c = 0; c < channels; c += 2) {
          const pair = this.spectra(xs, c);
          // Re(F^H w) = F^H h with h[k] = (w[k] + conj(w[-k])) / 2, which is Hermitian, so
          // F^H h is real and two channels share one inverse transform as real and
          // imaginary parts.
          const packedRe = new Float64Array(plane);
          const packedIm = new Float64Array(plane);
          pair.forEach(({ re, im }, offset) => {
            const gPlane = gs.subarray((c + offset) * plane, (c + offset + 1) * plane);
            for (let k = 0; k < plane; k++) {
              const magnitude = Math.hypot(re[k], im[k]);
              const weight = magnitude > 0 ? gPlane[this.outputIndex(k)] / magnitude : 0;
              re[k] *= weight;
              im[k] *= weight;
            }
            for (let r = 0; r < rows; r++) {
              const mirrorRow = (rows - r) % rows;
              for (let q = 0; q < cols; q++) {
                const k = r * cols + q;
                const mirror = mirrorRow * cols + ((cols - q) % cols);
                const hRe = (re[k] + re[mirror]) / 2;
                const hIm = (im[k] - im[mirror]) / 2;
                // Packing h1 + i h2: channel c in the real part, channel c + 1 in the imaginary.
                if (offset === 0) {
                  packedRe[k] += hRe;
                  packedIm[k] += hIm;
                } else {
                  packedRe[k] -= hIm;
                  packedIm[k] += hRe;
                }
              }
            }
          });
          fft2d(packedRe, packedIm, rows, cols, true);
          const scale = 1 / Math.sqrt(plane);
          for (let offset = 0; offset < pair.length; offset++) {
            const source = offset === 0 ? packedRe : packedIm;
            const out = dst.subarray(
              (c + offset) * height * width,
              (c + offset + 1) * height * width,
            );
            for (let i = 0; i < height; i++) {
              for (let j = 0; j < width; j++) {
                out[i * width + j] = source[(i + this.padTop) * cols + j + this.padLeft] * scale;
              }
            }
          }
        }
      },
    );
  }

  /**
   * z = F P x for channel c and, when it exists, channel c + 1: orthonormal, natural
   * (unshifted) frequency order. Both real channels go through one complex transform,
   * x_c + i x_{c+1}, and are separated with Z_c[k] = (F[k] + conj(F[-k])) / 2 and
   * Z_{c+1}[k] = (F[k] - conj(F[-k])) / 2i.
   */
  private spectra(src: Float32Array, c: number): { re: Float64Array; im: Float64Array }[] {
    const [channels, height, width] = this.inputShape;
    const [, rows, cols] = this.outputShape;
    const plane = rows * cols;
    const paired = c + 1 < channels;
    const re = new Float64Array(plane);
    const im = new Float64Array(plane);
    const first = src.subarray(c * height * width, (c + 1) * height * width);
    const second = paired
      ? src.subarray((c + 1) * height * width, (c + 2) * height * width)
      : undefined;
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++) {
        const k = (i + this.padTop) * cols + j + this.padLeft;
        re[k] = first[i * width + j];
        if (second !== undefined) im[k] = second[i * width + j];
      }
    }
    fft2d(re, im, rows, cols, false, this.padTop, this.padTop + height);
    const scale = 1 / Math.sqrt(plane);
    if (!paired) {
      for (let k = 0; k < plane; k++) {
        re[k] *= scale;
        im[k] *= scale;
      }
      return [{ re, im }];
    }
    const a = { re: new Float64Array(plane), im: new Float64Array(plane) };
    const b = { re: new Float64Array(plane), im: new Float64Array(plane) };
    for (let r = 0; r < rows; r++) {
      const mirrorRow = (rows - r) % rows;
      for (let q = 0; q < cols; q++) {
        const k = r * cols + q;
        const mirror = mirrorRow * cols + ((cols - q) % cols);
        a.re[k] = ((re[k] + re[mirror]) / 2) * scale;
        a.im[k] = ((im[k] - im[mirror]) / 2) * scale;
        b.re[k] = ((im[k] + im[mirror]) / 2) * scale;
        b.im[k] = ((re[mirror] - re[k]) / 2) * scale;
      }
    }
    return [a, b];
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
