import { TweedieError } from "../errors.js";
import { createRng } from "../rng.js";
import {
  DIGITS_CLASSES,
  DIGITS_DIM,
  DIGITS_NULL_LABEL,
  DIGITS_PIXEL_MAX,
  type DigitsDataset,
  imagesOfClass,
} from "./digits-data.js";
import {
  classProbabilities,
  combineMixtures,
  eigenMixture,
  type GaussianMixture,
  mixtureLogDensity,
} from "./gmm.js";
import { fitGaussianMixture } from "./gmm-fit.js";

/** English names of the digits 0..9, as accepted in prompts. */
export const DIGIT_WORDS = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
] as const;

/**
 * Returns the prompt table of the digits prior: for each class c, the prompts
 * "a handwritten digit c", "c" and the English word map to c. The empty prompt is the unconditional prior
 * (DIGITS_NULL_LABEL) and has no entry, as model package manifests expect.
 */
export function digitsPrompts(): Record<string, number> {
  const prompts: Record<string, number> = {};
  for (let c = 0; c < DIGITS_CLASSES; c++) {
    prompts[`a handwritten digit ${c}`] = c;
    prompts[String(c)] = c;
    prompts[DIGIT_WORDS[c]] = c;
  }
  return prompts;
}

/** Maps a prompt to its label; throws a TweedieError listing every accepted prompt. */
export function digitsLabel(prompt: string): number {
  if (prompt === "") return DIGITS_NULL_LABEL;
  const label = digitsPrompts()[prompt];
  if (label === undefined) {
    const accepted = [
      '"" (unconditional)',
      ...Object.keys(digitsPrompts()).map((p) => JSON.stringify(p)),
    ];
    throw new TweedieError(`the digits prior has no label for prompt ${JSON.stringify(prompt)}`, {
      code: "invalid_value",
      path: ["prompt"],
      expected: `one of ${accepted.join(", ")}`,
      received: prompt,
    });
  }
  return label;
}

/** Settings of the digits fit; every value is recorded in the model package. */
export interface DigitsFitSettings {
  /** Full-covariance Gaussian components per class. */
  componentsPerClass: number;
  /** Added to every covariance diagonal, on [-1, 1] pixel data. */
  covarianceFloor: number;
  /** Root seed; class c fits with `createRng(seed).split("class", c)`. */
  seed: string;
  maxIterations: number;
  /** EM stops when the mean log-likelihood per image changes by less than this (nats). */
  tolerance: number;
}

/**
 * The committed settings. One component per class and a floor of 3e-3 scored best on
 * 4-fold cross-validation within the training rows, over 1 to 3 components and floors
 * from 1e-3 to 1e-2 (the table is in the package README). 3e-3 is close to the variance of
 * the pixel quantisation, (2 / 16)^2 / 12 = 1.3e-3.
 */
export const DIGITS_FIT_SETTINGS: Readonly<DigitsFitSettings> = Object.freeze({
  componentsPerClass: 1,
  covarianceFloor: 3e-3,
  seed: "tweedie/priors/digits",
  maxIterations: 200,
  tolerance: 1e-10,
});

/** Class-conditional mixtures over 8 x 8 digits on [-1, 1]. */
export interface DigitsPrior {
  readonly settings: Readonly<DigitsFitSettings>;
  /** p(x0 | c) for c = 0..9. */
  readonly classes: readonly GaussianMixture[];
  /** p(c): the class frequencies of the training rows. */
  readonly classWeights: Float64Array;
}

/** Fits one mixture per class by seeded EM; class weights are the training frequencies. */
export function fitDigitsPrior(
  train: DigitsDataset,
  settings: Readonly<DigitsFitSettings> = DIGITS_FIT_SETTINGS,
): DigitsPrior {
  const root = createRng(settings.seed);
  const classes: GaussianMixture[] = [];
  const classWeights = new Float64Array(DIGITS_CLASSES);
  for (let c = 0; c < DIGITS_CLASSES; c++) {
    const images = imagesOfClass(train, c);
    classWeights[c] = images.length / DIGITS_DIM / train.count;
    const fit = fitGaussianMixture(images, DIGITS_DIM, {
      components: settings.componentsPerClass,
      rng: root.split("class", c),
      covarianceFloor: settings.covarianceFloor,
      maxIterations: settings.maxIterations,
      tolerance: settings.tolerance,
    });
    classes.push(fit.mixture);
  }
  return { settings: { ...settings }, classes, classWeights };
}

/** p(x0 | label): class `label` for 0..9, the class-weighted mixture of all for 10. */
export function digitsMixture(prior: DigitsPrior, label: number): GaussianMixture {
  if (label === DIGITS_NULL_LABEL) return combineMixtures(prior.classes, prior.classWeights);
  if (!Number.isInteger(label) || label < 0 || label >= DIGITS_CLASSES) {
    throw new TweedieError("digit label out of range", {
      code: "out_of_range",
      path: ["label"],
      expected: `an integer in 0..${DIGITS_CLASSES - 1}, or ${DIGITS_NULL_LABEL} for unconditional`,
      received: label,
    });
  }
  return prior.classes[label];
}

/**
 * All class components in one mixture (weights p(c) pi_k, the unconditional prior) and
 * the log-weights that select each label's mixture: row c of `labelLogWeights` (labels x K)
 * contains log pi_k for the components of class c and -Infinity elsewhere; row 10 holds the
 * unconditional log-weights.
 */
export function digitsLabelTable(prior: DigitsPrior): {
  mixture: GaussianMixture;
  labelLogWeights: Float64Array;
  labels: number;
} {
  const mixture = combineMixtures(prior.classes, prior.classWeights);
  const k = mixture.weights.length;
  const labels = DIGITS_NULL_LABEL + 1;
  const labelLogWeights = new Float64Array(labels * k).fill(Number.NEGATIVE_INFINITY);
  let offset = 0;
  prior.classes.forEach((classMixture, c) => {
    classMixture.weights.forEach((w, j) => {
      labelLogWeights[c * k + offset + j] = Math.log(w);
    });
    offset += classMixture.weights.length;
  });
  for (let j = 0; j < k; j++)
    labelLogWeights[DIGITS_NULL_LABEL * k + j] = Math.log(mixture.weights[j]);
  return { mixture, labelLogWeights, labels };
}

/** Held-out scores of a digits prior. */
export interface DigitsEvaluation {
  heldOut: number;
  /** Share of held-out images whose most probable class under p(c | x0) is their label. */
  accuracy: number;
  /**
   * Mean log p(x + u | label) in nats per image, with u uniform on [-1/16, 1/16] per pixel
   * (half a quantisation step on [-1, 1]). Without u the pixels that never change make the
   * density grow without bound as the floor shrinks.
   */
  classConditionalLogLikelihood: number;
  /** The same for the unconditional prior, log p(x + u). */
  unconditionalLogLikelihood: number;
  /** Independent draws of u averaged. */
  dequantizationDraws: number;
}

/** Scores a prior on held-out images (Bayes classifier accuracy, dequantised log-likelihood). */
export function evaluateDigitsPrior(
  prior: DigitsPrior,
  heldOut: DigitsDataset,
  draws = 4,
): DigitsEvaluation {
  const classes = prior.classes.map(eigenMixture);
  const probabilities = classProbabilities(classes, prior.classWeights, heldOut.images);
  let correct = 0;
  for (let n = 0; n < heldOut.count; n++) {
    let best = 0;
    for (let c = 1; c < DIGITS_CLASSES; c++) {
      if (probabilities[n * DIGITS_CLASSES + c] > probabilities[n * DIGITS_CLASSES + best])
        best = c;
    }
    if (best === heldOut.labels[n]) correct++;
  }

  const halfStep = 1 / DIGITS_PIXEL_MAX;
  const rng = createRng("tweedie/priors/digits/dequantisation");
  let conditional = 0;
  let unconditional = 0;
  for (let draw = 0; draw < draws; draw++) {
    const u = rng.split(draw).uniform64(heldOut.images.length);
    const x = heldOut.images.map((v, i) => v + halfStep * (2 * u[i] - 1));
    const perClass = classes.map((e) => mixtureLogDensity(e, x));
    for (let n = 0; n < heldOut.count; n++) {
      conditional += perClass[heldOut.labels[n]][n];
      let max = Number.NEGATIVE_INFINITY;
      const joint = perClass.map(
        (logDensity, c) => Math.log(prior.classWeights[c]) + logDensity[n],
      );
      for (const v of joint) max = Math.max(max, v);
      unconditional += max + Math.log(joint.reduce((s, v) => s + Math.exp(v - max), 0));
    }
  }
  const total = draws * heldOut.count;
  return {
    heldOut: heldOut.count,
    accuracy: correct / heldOut.count,
    classConditionalLogLikelihood: conditional / total,
    unconditionalLogLikelihood: unconditional / total,
    dequantizationDraws: draws,
  };
}
