import {
  classProbabilities,
  digitsLabel,
  eigenMixture,
  embeddedModelDir,
  loadDigitsPrior,
  loadModel,
  type Model,
  type Tensor,
} from "@tweedie/core";
import type { ModelRef } from "../config/resolve.js";
import type { WorkerSlot } from "./devices.js";

/** Returns the model package folder a reference points to. */
export function modelDir(ref: ModelRef): string {
  return ref.kind === "embedded" ? embeddedModelDir(ref.name) : ref.path;
}

/** Opens a model once per worker and device; later cells reuse its sessions. */
export class ModelCache {
  private readonly models = new Map<string, Promise<Model>>();

  constructor(private readonly slot: WorkerSlot) {}

  get(ref: ModelRef): Promise<Model> {
    let model = this.models.get(ref.ref);
    if (!model) {
      model = loadModel(modelDir(ref), {
        provider: this.slot.device,
        intraOpThreads: this.slot.intraOpThreads,
      });
      // A failed load is not cached, so a later cell can retry.
      model.catch(() => this.models.delete(ref.ref));
      this.models.set(ref.ref, model);
    }
    return model;
  }

  async dispose(): Promise<void> {
    for (const model of this.models.values()) await (await model.catch(() => undefined))?.dispose();
    this.models.clear();
  }
}

let digitsClassifier: Promise<(x: Float64Array) => Float64Array> | undefined;

/** Bayes classifier p(class | x0) of the embedded digits prior, loaded once. */
function classifier(): Promise<(x: Float64Array) => Float64Array> {
  digitsClassifier ??= loadDigitsPrior().then(({ prior }) => {
    const classes = prior.classes.map(eigenMixture);
    return (x: Float64Array) => classProbabilities(classes, prior.classWeights, x);
  });
  return digitsClassifier;
}

/**
 * Edit success on the digits prior: the Bayes classifier's probability of the target
 * prompt's class for the edited image (on [-1, 1], as the prior was fitted).
 */
export async function digitsEditScores(
  model: Model,
  output: Tensor,
  targetPrompt: string,
): Promise<Record<string, number | null>> {
  if (model.info.name !== "digits") return {};
  const label = digitsLabel(targetPrompt);
  if (label < 0 || label > 9) return {};
  const probabilities = (await classifier())(Float64Array.from(output.data));
  return { success: probabilities[label] };
}
