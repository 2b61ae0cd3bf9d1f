import { symmetricIndex } from "../math/reflect.js";

/**
 * Computes the 1-D factor of DPS's Gaussian blur kernel: scipy.ndimage.gaussian_filter applied to
 * a delta at the centre of a length-`size` array. The weights are exp(-i^2 / (2 sigma^2))
 * for |i| <= int(truncate * sigma + 0.5), normalised to sum 1, with scipy's default
 * "reflect" boundary folding any weight that falls outside the array back inside. The
 * 2-D kernel is the outer product of this vector with itself.
 */
export function gaussianKernel1d(size: number, sigma: number, truncate: number): Float64Array {
  const radius = Math.floor(truncate * sigma + 0.5);
  const weights = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let i = -radius; i <= radius; i++) {
    const w = Math.exp((-0.5 * i * i) / (sigma * sigma));
    weights[i + radius] = w;
    total += w;
  }
  const centre = (size - 1) / 2;
  const kernel = new Float64Array(size);
  // Correlating the delta at `centre` with the weights: out[j] gathers weight i whenever
  // position j + i reflects onto the centre.
  for (let j = 0; j < size; j++) {
    for (let i = -radius; i <= radius; i++) {
      if (symmetricIndex(j + i, size) === centre) kernel[j] += weights[i + radius] / total;
    }
  }
  return kernel;
}

/** Computes the size x size Gaussian kernel (row-major) as the outer product of the 1-D factor. */
export function gaussianKernel(size: number, sigma: number, truncate = 4): Float64Array {
  const k = gaussianKernel1d(size, sigma, truncate);
  const out = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) out[i * size + j] = k[i] * k[j];
  return out;
}
