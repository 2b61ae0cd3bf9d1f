import { access } from "node:fs/promises";
import { join } from "node:path";
import {
  classProbabilities,
  createSession,
  digitsLabel,
  eigenMixture,
  embeddedModelDir,
  loadDigitsPrior,
  loadModel,
  type Model,
  type OnnxSession,
  runSession,
  type Tensor,
  TweedieError,
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

/** One extra editing metric, with the formula recorded beside its value. */
export interface EditScore {
  name: string;
  value: number;
  formula: string;
}

/**
 * Edit success on the digits prior: the Bayes classifier's probability of the target
 * prompt's class for the edited image (on [-1, 1], as the prior was fitted).
 */
export async function digitsEditScores(
  model: Model,
  output: Tensor,
  targetPrompt: string,
): Promise<EditScore[]> {
  if (model.info.name !== "digits") return [];
  const label = digitsLabel(targetPrompt);
  if (label < 0 || label > 9) return [];
  const probabilities = (await classifier())(Float64Array.from(output.data));
  return [
    {
      name: "success",
      value: probabilities[label],
      formula: "Bayes classifier probability of the target class",
    },
  ];
}

/** File name of the image classifier a label-conditioned model package may ship. */
export const CLASSIFIER_FILE = "classifier.onnx";

const classifierSessions = new Map<string, Promise<OnnxSession | null>>();

/**
 * Opens the package's `classifier.onnx` once per worker, or returns null when the package
 * has none. The graph takes `x` [N, C, H, W] on [-1, 1] and returns `logits` [N, classes].
 */
function classifierSession(dir: string, slot: WorkerSlot): Promise<OnnxSession | null> {
  let session = classifierSessions.get(dir);
  if (!session) {
    const file = join(dir, CLASSIFIER_FILE);
    session = access(file).then(
      () => createSession(file, { intraOpThreads: slot.intraOpThreads }),
      () => null,
    );
    session.catch(() => classifierSessions.delete(dir));
    classifierSessions.set(dir, session);
  }
  return session;
}

/**
 * Edit success on a label-conditioned model that ships `classifier.onnx` (the embedded
 * fashion model): `classSuccess` is 1 when the classifier's top class is the target
 * prompt's label and 0 otherwise, and `targetProbability` is the softmax probability of
 * that label. Both have their own names because a leaderboard column keeps one formula,
 * and the digits `success` is a Bayes classifier's probability.
 * The target prompt's label comes from the model's own prompt table, so the classifier's
 * class order must be the model's label order, as in the fashion package.
 */
export async function classifierEditScores(
  model: Model,
  dir: string,
  output: Tensor,
  targetPrompt: string,
  slot: WorkerSlot,
): Promise<EditScore[]> {
  const spec = model.info.conditioning;
  if (spec.kind !== "label") return [];
  const cond = await model.condition(targetPrompt, 1);
  if (cond.kind !== "label" || cond.labels[0] === spec.nullLabel) return [];
  const session = await classifierSession(dir, slot);
  if (!session) return [];
  const label = cond.labels[0];

  const logits = (
    await runSession(session, {
      x: { dtype: "float32", data: output.data, dims: [...output.shape] },
    })
  ).logits;
  if (logits?.dtype !== "float32" || label >= logits.data.length) {
    throw new TweedieError("classifier returned no usable logits", {
      code: "invalid_value",
      path: [join(dir, CLASSIFIER_FILE), "logits"],
      expected: `float32 logits with more than ${label} classes`,
      received: logits ? `${logits.dtype} of size ${logits.data.length}` : "no output named logits",
    });
  }

  const row = Array.from(logits.data);
  const top = row.indexOf(Math.max(...row));
  const peak = row[top];
  const total = row.reduce((sum, value) => sum + Math.exp(value - peak), 0);
  return [
    {
      name: "classSuccess",
      value: top === label ? 1 : 0,
      formula: `1 when the top class of ${CLASSIFIER_FILE} is the target prompt's label, else 0`,
    },
    {
      name: "targetProbability",
      value: Math.exp(row[label] - peak) / total,
      formula: `softmax probability of the target prompt's label under ${CLASSIFIER_FILE}`,
    },
  ];
}

/** Extra editing metrics for the model: the digits Bayes classifier or the package's classifier. */
export async function editScores(
  model: Model,
  dir: string,
  output: Tensor,
  targetPrompt: string,
  slot: WorkerSlot,
): Promise<EditScore[]> {
  if (model.info.name === "digits") return digitsEditScores(model, output, targetPrompt);
  return classifierEditScores(model, dir, output, targetPrompt, slot);
}
