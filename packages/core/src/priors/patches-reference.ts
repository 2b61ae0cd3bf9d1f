import { TweedieError } from "../errors.js";
import type { EigenMixture } from "./gmm.js";
import { mixtureDenoise, mixtureDenoiseJvp } from "./gmm.js";
import { PATCH_CHANNELS, PATCH_DIM, PATCH_SIZE } from "./patches-data.js";
import type { PatchPriorParams } from "./patches-graph.js";
import type { PatchStride } from "./patches-tiling.js";
import { checkTiledSize, patchOverlap, patchTilingShift } from "./patches-tiling.js";

/**
 * The float64 reference of the tiled patch denoiser: the same shifted circular tiling as
 * the ONNX graph, written as plain loops, with the per-patch posterior mean and Jacobian
 * from the exact Gaussian-mixture math of gmm.ts. It is slow (about 19 GFLOP per 256 x 256
 * call at K = 32, in scalar JavaScript) and serves as the ground truth for the graph.
 */

/** The stored params as a float64 EigenMixture (covariances rebuilt as V diag(l) V^T). */
export function patchEigenMixture(params: PatchPriorParams): EigenMixture {
  const k = params.components;
  const d = PATCH_DIM;
  const eigenvalues = Float64Array.from(params.eigenvalues);
  const eigenvectors = Float64Array.from(params.eigenvectors);
  const covariances = new Float64Array(k * d * d);
  for (let c = 0; c < k; c++) {
    const block = c * d * d;
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        let sum = 0;
        for (let p = 0; p < d; p++)
          sum +=
            eigenvectors[block + i * d + p] *
            eigenvalues[c * d + p] *
            eigenvectors[block + j * d + p];
        covariances[block + i * d + j] = sum;
        covariances[block + j * d + i] = sum;
      }
    }
  }
  const logWeights = Float64Array.from(params.logWeights);
  const weights = logWeights.map((v) => Math.exp(v));
  const mixture = { dim: d, weights, means: Float64Array.from(params.means), covariances };
  return { mixture, dim: d, components: k, logWeights, eigenvalues, eigenvectors };
}

/** A batch of images [N, 3, H, W] in float64 (or float32) with its dims. */
export interface ReferenceImages {
  data: Float64Array | Float32Array;
  dims: readonly [number, number, number, number];
}

/**
 * Row-major [N x P, 192] patches of each image on the tiling of its noise level, and the
 * pixel index of every patch value (for putting results back).
 */
function gatherPatches(
  images: ReferenceImages,
  alpha: ArrayLike<number>,
  sigma: ArrayLike<number>,
  stride: PatchStride,
) {
  const [batch, channels, height, width] = images.dims;
  const rows = height / stride;
  const columns = width / stride;
  const perImage = rows * columns;
  const index = new Int32Array(batch * perImage * PATCH_DIM);
  for (let n = 0; n < batch; n++) {
    const [shiftY, shiftX] = patchTilingShift(alpha[n], sigma[n], stride);
    for (let gi = 0; gi < rows; gi++) {
      for (let gj = 0; gj < columns; gj++) {
        const base = ((n * rows + gi) * columns + gj) * PATCH_DIM;
        for (let c = 0; c < channels; c++) {
          for (let dy = 0; dy < PATCH_SIZE; dy++) {
            const y = (gi * stride + dy + shiftY) % height;
            for (let dx = 0; dx < PATCH_SIZE; dx++) {
              const x = (gj * stride + dx + shiftX) % width;
              index[base + c * 64 + dy * 8 + dx] = ((n * channels + c) * height + y) * width + x;
            }
          }
        }
      }
    }
  }
  return { index, perImage };
}

function take(values: ArrayLike<number>, index: Int32Array): Float64Array {
  const out = new Float64Array(index.length);
  for (let i = 0; i < index.length; i++) out[i] = values[index[i]];
  return out;
}

function putBack(
  patchValues: Float64Array,
  index: Int32Array,
  size: number,
  overlap: number,
): Float64Array {
  const out = new Float64Array(size);
  for (let i = 0; i < index.length; i++) out[index[i]] += patchValues[i];
  for (let i = 0; i < size; i++) out[i] /= overlap;
  return out;
}

function perPatch(values: ArrayLike<number>, perImage: number): Float64Array {
  const out = new Float64Array(values.length * perImage);
  for (let n = 0; n < values.length; n++) out.fill(values[n], n * perImage, (n + 1) * perImage);
  return out;
}

/**
 * The tiled denoiser x0Hat = (stride / 8)^2 P^T f(P x_t) in float64, and with `g` its
 * VJP (stride / 8)^2 P^T J_f P g. alpha and sigma hold one value per image; sigma > 0.
 */
export function referencePatchDenoise(
  eigen: EigenMixture,
  xt: ReferenceImages,
  alpha: ArrayLike<number>,
  sigma: ArrayLike<number>,
  stride: PatchStride,
  g?: Float64Array | Float32Array,
): { x0Hat: Float64Array; vjp?: Float64Array } {
  const [batch, channels, height, width] = xt.dims;
  if (channels !== PATCH_CHANNELS || alpha.length !== batch || sigma.length !== batch) {
    throw new TweedieError(
      "reference patch denoiser takes [N, 3, H, W] with one alpha and sigma per image",
      {
        code: "shape_mismatch",
        path: ["xt"],
        expected: `[N, 3, H, W] and ${batch} alpha and sigma values`,
        received: `[${xt.dims.join(", ")}], ${alpha.length} alpha, ${sigma.length} sigma`,
      },
    );
  }
  checkTiledSize(height, width, stride);
  const size = xt.data.length;
  const overlap = patchOverlap(stride);
  const { index, perImage } = gatherPatches(xt, alpha, sigma, stride);
  const points = take(xt.data, index);
  const alphas = perPatch(alpha, perImage);
  const sigmas = perPatch(sigma, perImage);
  if (g === undefined) {
    const { x0Hat } = mixtureDenoise(eigen, points, alphas, sigmas);
    return { x0Hat: putBack(x0Hat, index, size, overlap) };
  }
  const { x0Hat, jvp } = mixtureDenoiseJvp(eigen, points, alphas, sigmas, take(g, index));
  return { x0Hat: putBack(x0Hat, index, size, overlap), vjp: putBack(jvp, index, size, overlap) };
}
