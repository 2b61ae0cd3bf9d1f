import { TweedieError } from "../errors.js";
import { PATCH_SIZE } from "./patches-data.js";

/**
 * The tiling that applies a patch denoiser to a whole image, shared by the ONNX graph and
 * the float64 reference.
 *
 * Patches are 8 x 8 and start every `stride` pixels (4: overlapping, each pixel covered by
 * 4 patches; 8: non-overlapping). Indices wrap around the image edges (circular), so the
 * patch grid has exactly H / stride x W / stride patches and the extraction operator P
 * satisfies P^T P = (8 / stride)^2 I. The output is (stride / 8)^2 P^T f(P x), the uniform
 * average over the patches covering each pixel. Its Jacobian (stride / 8)^2 P^T J_f P is
 * symmetric whenever each patch Jacobian is.
 *
 * The grid is shifted by (shiftY, shiftX) pixels, a function of the noise level only:
 * rho = sigma / (alpha + sigma) in float32, bin = floor(64 rho), shiftY = bin mod stride,
 * shiftX = floor(bin / stride) mod stride. Calls at one (alpha, sigma) use one tiling; the
 * seams move between noise levels (rho steps of 1/64). For rectified flow rho equals t.
 */

export type PatchStride = 4 | 8;

/** Number of patches covering each pixel: (8 / stride)^2. */
export function patchOverlap(stride: PatchStride): number {
  const perAxis = PATCH_SIZE / stride;
  return perAxis * perAxis;
}

/** Checks that `stride` is 4 or 8 and that H and W are positive multiples of it. */
export function checkTiledSize(height: number, width: number, stride: number): void {
  if (stride !== 4 && stride !== 8) {
    throw new TweedieError("patch stride must be 4 or 8", {
      code: "invalid_value",
      path: ["stride"],
      expected: "4 (overlapping) or 8 (non-overlapping)",
      received: stride,
    });
  }
  // A side of 4 at stride 4 is valid: the one patch row wraps and covers each row twice.
  const valid = (side: number) => Number.isInteger(side) && side >= stride && side % stride === 0;
  if (!valid(height) || !valid(width)) {
    throw new TweedieError(`image sides must be positive multiples of the patch stride ${stride}`, {
      code: "shape_mismatch",
      path: ["x_t"],
      expected: `height and width positive multiples of ${stride}`,
      received: `${height}x${width}`,
    });
  }
}

/**
 * Returns the tiling shift [shiftY, shiftX] for one noise level, computed in float32
 * exactly as the ONNX graph computes it (each operation rounded to float32).
 */
export function patchTilingShift(
  alpha: number,
  sigma: number,
  stride: PatchStride,
): [number, number] {
  const a = Math.fround(alpha);
  const s = Math.fround(sigma);
  const rho = Math.fround(s / Math.fround(a + s));
  const bin = Math.floor(Math.fround(rho * 64));
  return [bin % stride, Math.floor(bin / stride) % stride];
}
