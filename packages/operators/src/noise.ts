import { createRng, type Operator, poisson, type Rng, type RngSeed, Tensor } from "@tweedie/core";
import { type NoiseSpecValue, noiseSpecSchema, parseSpec } from "./spec.js";

/** Record of one noise draw, stored with the measurement. */
export interface NoiseRecord {
  readonly spec: NoiseSpecValue;
  /** Gaussian standard deviation applied on [-1, 1], where the tensors live. */
  readonly sigmaApplied?: number;
  /** Poisson: intensities below 0 on [0, 1] set to 0 before sampling. */
  readonly clippedBelowZero?: number;
  /** Poisson: intensities above 1 on [0, 1] set to 1 before sampling (as DPS). */
  readonly clippedAboveOne?: number;
  /** Poisson: noisy values above 1 on [-1, 1] set to 1 afterwards (as DPS). */
  readonly clippedOutput?: number;
}

export interface NoisyMeasurement {
  readonly y: Tensor;
  readonly record: NoiseRecord;
}

/**
 * Validates a noise spec. A Gaussian sigma must come with the range it is stated in; a
 * spec without `range` is rejected with an error whose path is ["range"].
 */
export function parseNoiseSpec(input: unknown): NoiseSpecValue {
  return parseSpec(noiseSpecSchema, input, "noise spec");
}

/**
 * Returns the noise stream of one image: the root stream of `seed` split by "noise" and
 * the image key. Every image of a run gets its own noise, whatever order it runs in.
 */
export function noiseRng(seed: RngSeed, imageKey: string): Rng {
  return createRng(seed).split("noise", imageKey);
}

/**
 * Adds measurement noise to a clean measurement on [-1, 1].
 * - gaussian: y + s * n with n ~ N(0, I) from `rng.normal`, where s = sigma for range
 *   "[-1,1]" (the DPS convention) and s = 2 sigma for "[0,1]", so the noise has standard
 *   deviation sigma when the image is mapped back to [0, 1].
 * - poisson (DPS): u = (y + 1) / 2 clipped to [0, 1], k ~ Poisson(255 rate u), then
 *   2 k / (255 rate) - 1 clipped to [-1, 1]. Intensities outside [0, 1] are clipped
 *   before sampling and counted in the record, so no negative rate reaches the sampler.
 */
export function addNoise(clean: Tensor, spec: unknown, rng: Rng): NoisyMeasurement {
  const parsed = parseNoiseSpec(spec);
  switch (parsed.kind) {
    case "none":
      return { y: clean.clone(), record: { spec: parsed } };
    case "gaussian": {
      const sigmaApplied = parsed.range === "[0,1]" ? 2 * parsed.sigma : parsed.sigma;
      const noise = rng.normal(clean.size);
      const out = new Float32Array(clean.size);
      for (let i = 0; i < out.length; i++) out[i] = clean.data[i] + sigmaApplied * noise[i];
      return { y: new Tensor(out, clean.shape), record: { spec: parsed, sigmaApplied } };
    }
    case "poisson":
      return poissonNoise(clean, parsed.rate, parsed, rng);
  }
}

function poissonNoise(
  clean: Tensor,
  rate: number,
  spec: NoiseSpecValue,
  rng: Rng,
): NoisyMeasurement {
  const scale = 255 * rate;
  const rates = new Float64Array(clean.size);
  let clippedBelowZero = 0;
  let clippedAboveOne = 0;
  for (let i = 0; i < rates.length; i++) {
    let u = (clean.data[i] + 1) / 2;
    if (u < 0) {
      u = 0;
      clippedBelowZero++;
    } else if (u > 1) {
      u = 1;
      clippedAboveOne++;
    }
    rates[i] = scale * u;
  }
  const counts = poisson(rng, rates);
  const out = new Float32Array(clean.size);
  let clippedOutput = 0;
  for (let i = 0; i < out.length; i++) {
    const value = (2 * counts[i]) / scale - 1;
    if (value > 1) clippedOutput++;
    out[i] = Math.min(1, value);
  }
  return {
    y: new Tensor(out, clean.shape),
    record: { spec, clippedBelowZero, clippedAboveOne, clippedOutput },
  };
}

/** y = A(x) plus noise: the measurement a restoration task starts from. */
export function measure(
  operator: Operator,
  x: Tensor,
  noise: unknown,
  rng: Rng,
): NoisyMeasurement & { readonly clean: Tensor } {
  const clean = operator.forward(x);
  return { clean, ...addNoise(clean, noise, rng) };
}
