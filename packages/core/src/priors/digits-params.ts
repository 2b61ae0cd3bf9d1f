import { TweedieError } from "../errors.js";
import type { DigitsFitSettings, DigitsPrior } from "./digits.js";
import { DIGITS_CLASSES, DIGITS_DIM } from "./digits-data.js";
import type { GaussianMixture } from "./gmm.js";

/**
 * Layout of `params.f64`: little-endian float64 values, first the 10 class weights, then
 * for each class c = 0..9 and each of its components: the weight, the 64 mean values and
 * the 64 x 64 covariance in row-major order.
 */
export const DIGITS_PARAMS_LAYOUT =
  "float64 little-endian: classWeights[10], then per class c = 0..9 and per component k: " +
  "weight, mean[64], covariance[64 x 64] row-major";

const COMPONENT_VALUES = 1 + DIGITS_DIM + DIGITS_DIM * DIGITS_DIM;

/** Serialises a prior's parameters in the DIGITS_PARAMS_LAYOUT order. */
export function encodeDigitsParams(prior: DigitsPrior): Uint8Array {
  const k = prior.settings.componentsPerClass;
  const values = new Float64Array(DIGITS_CLASSES + DIGITS_CLASSES * k * COMPONENT_VALUES);
  values.set(prior.classWeights, 0);
  let offset = DIGITS_CLASSES;
  for (const mixture of prior.classes) {
    for (let j = 0; j < k; j++) {
      values[offset++] = mixture.weights[j];
      values.set(mixture.means.subarray(j * DIGITS_DIM, (j + 1) * DIGITS_DIM), offset);
      offset += DIGITS_DIM;
      const size = DIGITS_DIM * DIGITS_DIM;
      values.set(mixture.covariances.subarray(j * size, (j + 1) * size), offset);
      offset += size;
    }
  }
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return bytes;
}

/** Reads parameters written by `encodeDigitsParams` back into a prior. */
export function decodeDigitsParams(
  bytes: Uint8Array,
  settings: Readonly<DigitsFitSettings>,
  file = "params.f64",
): DigitsPrior {
  const k = settings.componentsPerClass;
  const expected = (DIGITS_CLASSES + DIGITS_CLASSES * k * COMPONENT_VALUES) * 8;
  if (bytes.length !== expected) {
    throw new TweedieError(`digits parameter file ${file} has the wrong size`, {
      code: "shape_mismatch",
      path: [file],
      expected: `${expected} bytes for ${k} component(s) per class`,
      received: bytes.length,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = Float64Array.from({ length: bytes.length / 8 }, (_, i) =>
    view.getFloat64(i * 8, true),
  );
  const classWeights = values.slice(0, DIGITS_CLASSES);
  const classes: GaussianMixture[] = [];
  let offset = DIGITS_CLASSES;
  for (let c = 0; c < DIGITS_CLASSES; c++) {
    const weights = new Float64Array(k);
    const means = new Float64Array(k * DIGITS_DIM);
    const covariances = new Float64Array(k * DIGITS_DIM * DIGITS_DIM);
    for (let j = 0; j < k; j++) {
      weights[j] = values[offset++];
      means.set(values.subarray(offset, offset + DIGITS_DIM), j * DIGITS_DIM);
      offset += DIGITS_DIM;
      const size = DIGITS_DIM * DIGITS_DIM;
      covariances.set(values.subarray(offset, offset + size), j * size);
      offset += size;
    }
    classes.push({ dim: DIGITS_DIM, weights, means, covariances });
  }
  return { settings: { ...settings }, classes, classWeights };
}

/** Returns the largest difference between two parameter blocks, relative to the block's largest value. */
function blockDifference(received: Float64Array, expected: Float64Array): number {
  if (received.length !== expected.length) return Number.POSITIVE_INFINITY;
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    difference = Math.max(difference, Math.abs(received[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? difference : difference / scale;
}

/**
 * Compares two priors block by block (class weights, and each class's weights, means and
 * covariances). Returns the largest relative difference and the block it occurs in.
 */
export function compareDigitsPriors(
  received: DigitsPrior,
  expected: DigitsPrior,
): { maxRelativeDifference: number; block: string } {
  let worst = {
    maxRelativeDifference: blockDifference(received.classWeights, expected.classWeights),
    block: "classWeights",
  };
  for (let c = 0; c < DIGITS_CLASSES; c++) {
    const a = received.classes[c];
    const b = expected.classes[c];
    for (const key of ["weights", "means", "covariances"] as const) {
      const difference = blockDifference(a[key], b[key]);
      if (!(difference <= worst.maxRelativeDifference)) {
        worst = { maxRelativeDifference: difference, block: `classes[${c}].${key}` };
      }
    }
  }
  return worst;
}
