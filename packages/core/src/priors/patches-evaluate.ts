import type { SessionOptions } from "../onnx/adapter.js";
import { createSession, releaseSession, runSession } from "../onnx/adapter.js";
import type { Rng } from "../rng.js";
import type { PlanarImage } from "./patches-data.js";
import { extractPatch, PATCH_DIM, PATCH_SIZE } from "./patches-data.js";
import type { PatchPriorParams } from "./patches-graph.js";
import { patchDenoiserGraph } from "./patches-graph.js";
import type { PatchStride } from "./patches-tiling.js";

/**
 * Every patch position of `images` on a grid with step `step` (no wrap-around), row-major
 * [count, 192]. Deterministic, for held-out likelihoods.
 */
export function gridPatches(images: readonly PlanarImage[], step: number): Float32Array {
  const positions: [PlanarImage, number, number][] = [];
  for (const image of images) {
    for (let top = 0; top + PATCH_SIZE <= image.height; top += step) {
      for (let left = 0; left + PATCH_SIZE <= image.width; left += step)
        positions.push([image, top, left]);
    }
  }
  const out = new Float32Array(positions.length * PATCH_DIM);
  positions.forEach(([image, top, left], i) => {
    extractPatch(image, top, left, out, i * PATCH_DIM);
  });
  return out;
}

/**
 * PSNR in dB of `estimate` against `reference`, both on [-1, 1], measured on [0, 1]:
 * 10 log10(1 / MSE) with MSE the mean of ((estimate - reference) / 2)^2. With `clip`, the
 * estimate is clipped to [-1, 1] first.
 */
export function psnrUnitRange(
  estimate: ArrayLike<number>,
  reference: ArrayLike<number>,
  clip = false,
): number {
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const value = clip ? Math.min(1, Math.max(-1, estimate[i])) : estimate[i];
    const diff = (value - reference[i]) / 2;
    sum += diff * diff;
  }
  return 10 * Math.log10(reference.length / sum);
}

/** Denoising scores of one image, PSNR in dB on [0, 1]. */
export interface DenoisingScore {
  image: string;
  /** The noisy input x_t (alpha = 1), unclipped. */
  noisy: number;
  /** x0Hat, unclipped. */
  denoised: number;
  /** x0Hat clipped to [-1, 1]. */
  denoisedClipped: number;
}

/**
 * Adds Gaussian noise of standard deviation `sigma` (on [-1, 1]) to each image, with the
 * normals of `rng.split(image.name)`, and denoises it with the tiled graph at alpha = 1.
 * Returns the PSNRs and the denoised images.
 */
export async function evaluatePatchDenoising(
  params: PatchPriorParams,
  images: readonly PlanarImage[],
  options: { sigma: number; stride: PatchStride; rng: Rng; session?: SessionOptions },
): Promise<{ scores: DenoisingScore[]; denoised: Float32Array[] }> {
  const bytes = patchDenoiserGraph(params, { stride: options.stride, vjp: false });
  const session = await createSession(bytes, {
    ...options.session,
    fileLabel: `patches_denoiser_s${options.stride}`,
  });
  try {
    const scores: DenoisingScore[] = [];
    const denoised: Float32Array[] = [];
    for (const image of images) {
      const noise = options.rng.split(image.name).normal(image.data.length);
      const noisy = image.data.map((v, i) => v + options.sigma * noise[i]);
      const outputs = await runSession(session, {
        x_t: { dtype: "float32", data: noisy, dims: [1, 3, image.height, image.width] },
        alpha: { dtype: "float32", data: Float32Array.of(1), dims: [1] },
        sigma: { dtype: "float32", data: Float32Array.of(options.sigma), dims: [1] },
      });
      const x0Hat = outputs.x0Hat.data as Float32Array;
      denoised.push(x0Hat);
      scores.push({
        image: image.name,
        noisy: psnrUnitRange(noisy, image.data),
        denoised: psnrUnitRange(x0Hat, image.data),
        denoisedClipped: psnrUnitRange(x0Hat, image.data, true),
      });
    }
    return { scores, denoised };
  } finally {
    await releaseSession(session);
  }
}
