import { createRng } from "../rng.js";
import { type DigitsFitSettings, fitDigitsPrior } from "./digits.js";
import { DIGITS_PIXEL_MAX, type DigitsDataset, selectDigits } from "./digits-data.js";
import { eigenMixture, mixtureLogDensity } from "./gmm.js";

/** One cell of a model-selection grid. */
export interface DigitsSelectionScore {
  componentsPerClass: number;
  covarianceFloor: number;
  /** Mean dequantised log p(x + u | label) over the validation folds, nats per image. */
  logLikelihood: number;
}

/**
 * Scores fit settings by k-fold cross-validation inside the training rows, so that the
 * held-out rows stay untouched: fold f contains the rows with index mod folds = f. The score
 * is the class-conditional log-likelihood of the validation images after adding uniform
 * noise of half a quantisation step (as in `evaluateDigitsPrior`).
 */
export function crossValidateDigits(
  train: DigitsDataset,
  grid: readonly { componentsPerClass: number; covarianceFloor: number }[],
  base: Readonly<DigitsFitSettings>,
  folds = 4,
): DigitsSelectionScore[] {
  const rng = createRng("tweedie/priors/digits/cross-validation");
  const halfStep = 1 / DIGITS_PIXEL_MAX;
  const parts = Array.from({ length: folds }, (_, f) => {
    const fitRows: number[] = [];
    const validationRows: number[] = [];
    for (let i = 0; i < train.count; i++) (i % folds === f ? validationRows : fitRows).push(i);
    const validation = selectDigits(train, validationRows);
    const u = rng.split(f).uniform64(validation.images.length);
    const noisy = validation.images.map((v, i) => v + halfStep * (2 * u[i] - 1));
    return { fit: selectDigits(train, fitRows), validation, noisy };
  });
  return grid.map(({ componentsPerClass, covarianceFloor }) => {
    let total = 0;
    let count = 0;
    for (const part of parts) {
      const prior = fitDigitsPrior(part.fit, { ...base, componentsPerClass, covarianceFloor });
      const perClass = prior.classes.map((mixture) =>
        mixtureLogDensity(eigenMixture(mixture), part.noisy),
      );
      for (let n = 0; n < part.validation.count; n++)
        total += perClass[part.validation.labels[n]][n];
      count += part.validation.count;
    }
    return { componentsPerClass, covarianceFloor, logLikelihood: total / count };
  });
}
