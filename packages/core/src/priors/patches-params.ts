import { TweedieError } from "../errors.js";
import type { GaussianMixture } from "./gmm.js";
import { symmetricEigen } from "./gmm-linalg.js";
import { PATCH_DIM } from "./patches-data.js";
import type { PatchPriorParams } from "./patches-graph.js";

/**
 * Diagonalises every covariance of a fitted mixture (cyclic Jacobi in float64) and rounds
 * log pi, mu, the eigenvalues and the eigenvectors to float32, the form the package
 * stores. Throws when an eigenvalue is not positive.
 */
export function patchPriorParams(mixture: GaussianMixture): PatchPriorParams {
  const d = mixture.dim;
  if (d !== PATCH_DIM) {
    throw new TweedieError("patch prior mixtures have dimension 192 (8 x 8 x 3)", {
      code: "shape_mismatch",
      path: ["dim"],
      expected: PATCH_DIM,
      received: d,
    });
  }
  const k = mixture.weights.length;
  const eigenvalues = new Float32Array(k * d);
  const eigenvectors = new Float32Array(k * d * d);
  for (let c = 0; c < k; c++) {
    const { values, vectors } = symmetricEigen(
      mixture.covariances.subarray(c * d * d, (c + 1) * d * d),
      d,
    );
    if (!(values[0] > 0)) {
      throw new TweedieError("patch mixture covariance is not positive definite", {
        code: "invalid_value",
        path: ["covariances", c],
        expected: "all eigenvalues > 0",
        received: values[0],
      });
    }
    eigenvalues.set(values, c * d);
    eigenvectors.set(vectors, c * d * d);
  }
  return {
    components: k,
    logWeights: Float32Array.from(mixture.weights, (w) => Math.log(w)),
    means: Float32Array.from(mixture.means),
    eigenvalues,
    eigenvectors,
  };
}

/** Number of float32 values of a K-component params file. */
export function patchParamsLength(components: number): number {
  const d = PATCH_DIM;
  return components * (1 + d + d + d * d);
}

/** Layout of the params file, stored in the package record. */
export const PATCH_PARAMS_LAYOUT =
  "float32 little-endian: logWeights [K], means [K, 192], eigenvalues [K, 192], eigenvectors [K, 192, 192] (row-major, column j of each block is eigenvector j)";

/** Serialises params as little-endian float32 in the order of PATCH_PARAMS_LAYOUT. */
export function encodePatchParams(params: PatchPriorParams): Uint8Array {
  const parts = [params.logWeights, params.means, params.eigenvalues, params.eigenvectors];
  const out = new Uint8Array(patchParamsLength(params.components) * 4);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++, offset += 4) view.setFloat32(offset, part[i], true);
  }
  return out;
}

/** Reads a params file written by `encodePatchParams`; `label` names the file in errors. */
export function decodePatchParams(
  bytes: Uint8Array,
  components: number,
  label = "params",
): PatchPriorParams {
  const expected = patchParamsLength(components) * 4;
  if (bytes.length !== expected) {
    throw new TweedieError(`patch prior params file has the wrong size for K = ${components}`, {
      code: "shape_mismatch",
      path: [label],
      expected: `${expected} bytes`,
      received: `${bytes.length} bytes`,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  const read = (count: number) => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++, offset += 4) out[i] = view.getFloat32(offset, true);
    return out;
  };
  const d = PATCH_DIM;
  const logWeights = read(components);
  const means = read(components * d);
  const eigenvalues = read(components * d);
  const eigenvectors = read(components * d * d);
  return { components, logWeights, means, eigenvalues, eigenvectors };
}
