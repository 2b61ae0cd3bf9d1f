import { type OnnxTensor, TweedieError } from "@tweedie/core";
import type { FeatureManifest } from "../features/manifest.js";
import type { FeatureModel } from "../features/models.js";
import { imageToFeatureInput } from "../features/preprocess.js";
import type { ImageArray } from "../image.js";
import { runFeatureModel } from "./run.js";

export type ClipImageManifest = Extract<FeatureManifest, { kind: "clip-image" }>;
export type ClipTextManifest = Extract<FeatureManifest, { kind: "clip-text" }>;

/**
 * Turns a prompt into the token ids of a CLIP text encoder, padded or truncated to the
 * encoder's context length (77 for ViT-L/14) with its own start, end and pad tokens.
 * The caller supplies it (for example from the model's tokenizer.json): this package does
 * not ship a BPE tokenizer.
 */
export interface TextTokenizer {
  encode(text: string): readonly number[];
}

/**
 * Source of text embeddings: a text-encoder feature model with a tokenizer, or
 * embeddings computed elsewhere, keyed by the exact prompt text the metric uses (after
 * any bracket stripping).
 */
export type TextEmbeddingSource =
  | { readonly kind: "model"; readonly tokenizer: TextTokenizer }
  | { readonly kind: "precomputed"; readonly embeddings: ReadonlyMap<string, Float32Array> };

/** Computes the CLIP score of torchmetrics' `CLIPScore`: 100 max(cos(image, text), 0). */
export function clipScoreFromEmbeddings(image: Float32Array, text: Float32Array): number {
  if (image.length !== text.length) {
    throw new TweedieError("CLIP image and text embeddings differ in length", {
      code: "shape_mismatch",
      path: ["text embedding"],
      expected: image.length,
      received: text.length,
    });
  }
  let dot = 0;
  let normImage = 0;
  let normText = 0;
  for (let i = 0; i < image.length; i++) {
    dot += image[i] * text[i];
    normImage += image[i] * image[i];
    normText += text[i] * text[i];
  }
  const denominator = Math.sqrt(normImage) * Math.sqrt(normText);
  if (denominator === 0) {
    throw new TweedieError("a CLIP embedding is the zero vector", {
      code: "invalid_value",
      path: [normImage === 0 ? "image embedding" : "text embedding"],
      expected: "a non-zero vector",
    });
  }
  return 100 * Math.max(dot / denominator, 0);
}

/** Computes the image embedding of one CHW image on `range` (the first output, [1, D]). */
export async function clipImageEmbedding(
  model: FeatureModel<ClipImageManifest>,
  image: ImageArray,
  range: readonly [number, number],
): Promise<Float32Array> {
  const input = imageToFeatureInput(image, range, model.manifest);
  const outputs = await runFeatureModel(model, input);
  return singleRow(outputs[model.manifest.outputs[0]], model);
}

/** Computes the text embedding of one prompt through a text-encoder feature model. */
export async function clipTextEmbedding(
  model: FeatureModel<ClipTextManifest>,
  tokenizer: TextTokenizer,
  text: string,
): Promise<Float32Array> {
  const { input } = model.manifest;
  const ids = tokenizer.encode(text);
  if (ids.length !== input.contextLength || ids.some((id) => !Number.isInteger(id) || id < 0)) {
    throw new TweedieError(
      `the tokenizer must return ${input.contextLength} non-negative integer ids`,
      {
        code: "invalid_value",
        path: [model.manifest.name, input.name],
        expected: `${input.contextLength} ids (padded or truncated by the tokenizer)`,
        received: ids.length,
      },
    );
  }
  const dims = [1, input.contextLength];
  const feed: OnnxTensor =
    input.dtype === "int64"
      ? { dtype: "int64", data: BigInt64Array.from(ids, (id) => BigInt(id)), dims }
      : { dtype: "int32", data: Int32Array.from(ids), dims };
  const outputs = await runFeatureModel(model, feed);
  return singleRow(outputs[model.manifest.outputs[0]], model);
}

function singleRow(tensor: { data: Float32Array; dims: readonly number[] }, model: FeatureModel) {
  if (tensor.dims.length !== 2 || tensor.dims[0] !== 1) {
    throw new TweedieError(`feature model ${model.manifest.name} must return a [1, D] embedding`, {
      code: "shape_mismatch",
      path: [model.file, model.manifest.outputs[0]],
      expected: "[1, D]",
      received: [...tensor.dims],
    });
  }
  return tensor.data;
}

/** PIE-Bench removes the brackets that mark edited words before scoring a prompt. */
export function stripEditBrackets(prompt: string): string {
  return prompt.replaceAll("[", "").replaceAll("]", "");
}
