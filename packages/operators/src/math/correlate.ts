import { fft2d, nextFastSize } from "./fft.js";
import { reflectIndex } from "./reflect.js";

/**
 * 2-D correlation of every channel with one dense k x k kernel (k odd) over the image
 * extended by PyTorch "reflect" padding of (k - 1) / 2. The output has the input's size.
 * This is the DPS blur: ReflectionPad2d followed by a depthwise Conv2d. It runs through
 * FFTs of a 5-smooth size of at least H + k - 1 by W + k - 1, so the circular correlation
 * never wraps into the kept outputs. Two real channels share one complex transform, one
 * in the real part and one in the imaginary part, which is exact because the kernel is
 * real. Arithmetic is float64.
 */
export class ReflectCorrelation {
  private readonly pad: number;
  private readonly paddedHeight: number;
  private readonly paddedWidth: number;
  private readonly fftHeight: number;
  private readonly fftWidth: number;
  private readonly rowSource: Int32Array;
  private readonly colSource: Int32Array;
  private readonly spectrumRe: Float64Array;
  private readonly spectrumIm: Float64Array;

  constructor(
    private readonly height: number,
    private readonly width: number,
    kernel: Float64Array,
    kernelSize: number,
  ) {
    this.pad = (kernelSize - 1) / 2;
    this.paddedHeight = height + 2 * this.pad;
    this.paddedWidth = width + 2 * this.pad;
    this.fftHeight = nextFastSize(this.paddedHeight);
    this.fftWidth = nextFastSize(this.paddedWidth);
    this.rowSource = Int32Array.from({ length: this.paddedHeight }, (_, r) =>
      reflectIndex(r - this.pad, height),
    );
    this.colSource = Int32Array.from({ length: this.paddedWidth }, (_, c) =>
      reflectIndex(c - this.pad, width),
    );
    const size = this.fftHeight * this.fftWidth;
    this.spectrumRe = new Float64Array(size);
    this.spectrumIm = new Float64Array(size);
    for (let u = 0; u < kernelSize; u++) {
      for (let v = 0; v < kernelSize; v++) {
        this.spectrumRe[u * this.fftWidth + v] = kernel[u * kernelSize + v];
      }
    }
    fft2d(this.spectrumRe, this.spectrumIm, this.fftHeight, this.fftWidth, false);
  }

  /** y[i, j] = sum_{u, v} k[u, v] * x[reflect(i + u - pad), reflect(j + v - pad)]. */
  forward(channels: readonly Float32Array[], outputs: readonly Float32Array[]): void {
    for (let c = 0; c < channels.length; c += 2) {
      const re = new Float64Array(this.fftHeight * this.fftWidth);
      const im = new Float64Array(this.fftHeight * this.fftWidth);
      this.loadPadded(channels[c], re);
      if (c + 1 < channels.length) this.loadPadded(channels[c + 1], im);
      this.multiplySpectrum(re, im, true, this.paddedHeight);
      this.storeCropped(re, outputs[c]);
      if (c + 1 < channels.length) this.storeCropped(im, outputs[c + 1]);
    }
  }

  /**
   * Applies the exact adjoint: full convolution of y with the kernel over the padded
   * grid, then every padded position added onto the pixel it was reflected from.
   */
  adjoint(channels: readonly Float32Array[], outputs: readonly Float32Array[]): void {
    for (let c = 0; c < channels.length; c += 2) {
      const re = new Float64Array(this.fftHeight * this.fftWidth);
      const im = new Float64Array(this.fftHeight * this.fftWidth);
      this.loadPlain(channels[c], re);
      if (c + 1 < channels.length) this.loadPlain(channels[c + 1], im);
      this.multiplySpectrum(re, im, false, this.height);
      this.storeFolded(re, outputs[c]);
      if (c + 1 < channels.length) this.storeFolded(im, outputs[c + 1]);
    }
  }

  private loadPadded(src: Float32Array, dst: Float64Array): void {
    for (let r = 0; r < this.paddedHeight; r++) {
      const srcRow = this.rowSource[r] * this.width;
      const dstRow = r * this.fftWidth;
      for (let c = 0; c < this.paddedWidth; c++) dst[dstRow + c] = src[srcRow + this.colSource[c]];
    }
  }

  private loadPlain(src: Float32Array, dst: Float64Array): void {
    for (let r = 0; r < this.height; r++) {
      for (let c = 0; c < this.width; c++) dst[r * this.fftWidth + c] = src[r * this.width + c];
    }
  }

  /**
   * Transforms, multiplies by the kernel spectrum (conjugated for correlation), inverts.
   * Only the first `dataRows` rows hold data; the rest are zero.
   */
  private multiplySpectrum(
    re: Float64Array,
    im: Float64Array,
    conjugate: boolean,
    dataRows: number,
  ): void {
    fft2d(re, im, this.fftHeight, this.fftWidth, false, 0, dataRows);
    const sign = conjugate ? -1 : 1;
    const { spectrumRe, spectrumIm } = this;
    for (let k = 0; k < re.length; k++) {
      const kr = spectrumRe[k];
      const ki = sign * spectrumIm[k];
      const r = re[k] * kr - im[k] * ki;
      im[k] = re[k] * ki + im[k] * kr;
      re[k] = r;
    }
    fft2d(re, im, this.fftHeight, this.fftWidth, true);
  }

  private storeCropped(src: Float64Array, dst: Float32Array): void {
    const scale = 1 / (this.fftHeight * this.fftWidth);
    for (let r = 0; r < this.height; r++) {
      for (let c = 0; c < this.width; c++)
        dst[r * this.width + c] = src[r * this.fftWidth + c] * scale;
    }
  }

  private storeFolded(src: Float64Array, dst: Float32Array): void {
    const scale = 1 / (this.fftHeight * this.fftWidth);
    const sum = new Float64Array(this.height * this.width);
    for (let r = 0; r < this.paddedHeight; r++) {
      const dstRow = this.rowSource[r] * this.width;
      for (let c = 0; c < this.paddedWidth; c++) {
        sum[dstRow + this.colSource[c]] += src[r * this.fftWidth + c];
      }
    }
    for (let k = 0; k < sum.length; k++) dst[k] = sum[k] * scale;
  }
}
