import { TweedieError } from "@tweedie/core";
import type { FeatureManifest } from "../features/manifest.js";
import type { FeatureModel } from "../features/models.js";
import { imageToFeatureInput } from "../features/preprocess.js";
import type { ImageArray } from "../image.js";
import { assertSameShape } from "../metrics/psnr.js";
import { matmulTransposed } from "./linalg.js";
import { expectRank, runFeatureModel } from "./run.js";

export type VitQkvManifest = Extract<FeatureManifest, { kind: "vit-qkv" }>;

/** The clamp on |k_i| |k_j| in PIE-Bench's cosine self-similarity. */
export const SELF_SIMILARITY_EPSILON = 1e-8;

/**
 * PIE-Bench structure distance, as its evaluator (evaluation/matrics_calculator.py,
 * `calculate_global_ssim_loss` at layer 11) computes it: run both images through the last ViT block's qkv projection,
 * take the keys K (T tokens x D, heads concatenated), form the cosine self-similarity
 * S_ij = k_i . k_j / max(|k_i| |k_j|, 1e-8), and return the mean of (S_out - S_ref)^2 over
 * all T^2 entries. Images arrive on `range`; the manifest fixes the range the network receives
 * (PIE-Bench: 0-255, not divided by 255, then ImageNet mean and std), the resize and the
 * normalisation.
 */
export async function structureDistance(
  model: FeatureModel<VitQkvManifest>,
  reference: ImageArray,
  output: ImageArray,
  range: readonly [number, number],
): Promise<number> {
  assertSameShape(reference, output);
  const a = await keySelfSimilarity(model, reference, range);
  const b = await keySelfSimilarity(model, output, range);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return sum / a.length;
}

/** Computes the T x T cosine self-similarity of the keys of one image, row-major float64. */
export async function keySelfSimilarity(
  model: FeatureModel<VitQkvManifest>,
  image: ImageArray,
  range: readonly [number, number],
): Promise<Float64Array> {
  const name = model.manifest.outputs[0];
  const outputs = await runFeatureModel(model, imageToFeatureInput(image, range, model.manifest));
  const qkv = outputs[name];
  expectRank(qkv, 3, model, name, "[1, T, 3 D]");
  const [batch, tokens, width] = qkv.dims;
  if (batch !== 1 || width % 3 !== 0 || (width / 3) % model.manifest.heads !== 0) {
    throw new TweedieError(
      `feature model ${model.manifest.name} output ${name} is not a qkv projection`,
      {
        code: "shape_mismatch",
        path: [model.file, name],
        expected: `[1, T, 3 D] with D a multiple of ${model.manifest.heads} heads`,
        received: [...qkv.dims],
      },
    );
  }
  const dim = width / 3;
  // timm's qkv layout: the columns of token t are [q (heads x dh), k (heads x dh), v (...)],
  // so the keys with heads concatenated are columns D..2D.
  const keys = new Float64Array(tokens * dim);
  for (let t = 0; t < tokens; t++) {
    for (let d = 0; d < dim; d++) keys[t * dim + d] = qkv.data[t * width + dim + d];
  }
  const gram = matmulTransposed(keys, keys, tokens, dim, tokens);
  const norms = new Float64Array(tokens);
  for (let t = 0; t < tokens; t++) norms[t] = Math.sqrt(gram[t * tokens + t]);
  for (let i = 0; i < tokens; i++) {
    for (let j = 0; j < tokens; j++) {
      gram[i * tokens + j] /= Math.max(norms[i] * norms[j], SELF_SIMILARITY_EPSILON);
    }
  }
  return gram;
}
