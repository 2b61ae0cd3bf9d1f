import { type OnnxTensor, runSession, TweedieError } from "@tweedie/core";
import type { FeatureModel } from "../features/models.js";

/** A float32 graph output with its dims. */
export interface FeatureTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Runs a feature model on one feed and returns its declared outputs, checked to be float32. */
export async function runFeatureModel(
  model: FeatureModel,
  input: OnnxTensor,
): Promise<Record<string, FeatureTensor>> {
  const { manifest, session } = model;
  const results = await runSession(session, { [manifest.input.name]: input }, manifest.outputs);
  const out: Record<string, FeatureTensor> = {};
  for (const name of manifest.outputs) {
    const tensor = results[name];
    if (tensor.dtype !== "float32") {
      throw new TweedieError(`feature model ${manifest.name} output ${name} is not float32`, {
        code: "dtype_mismatch",
        path: [model.file, name],
        expected: "float32",
        received: tensor.dtype,
      });
    }
    out[name] = { data: tensor.data, dims: tensor.dims };
  }
  return out;
}

/** Throws unless `tensor` has the given rank; names the model and output. */
export function expectRank(
  tensor: FeatureTensor,
  rank: number,
  model: FeatureModel,
  output: string,
  layout: string,
): void {
  if (tensor.dims.length !== rank) {
    throw new TweedieError(
      `feature model ${model.manifest.name} output ${output} must be ${layout}`,
      {
        code: "shape_mismatch",
        path: [model.file, output],
        expected: layout,
        received: [...tensor.dims],
      },
    );
  }
}
