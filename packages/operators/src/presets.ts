import { TweedieError } from "@tweedie/core";
import { deepFreeze } from "./freeze.js";
import type { NoiseSpecValue, OperatorSpecValue } from "./spec.js";

/** A published task setting: operator, noise and the image size its source uses. */
export interface OperatorPreset {
  readonly name: string;
  readonly description: string;
  /** Repository and files the settings were read from. */
  readonly source: string;
  readonly operator: OperatorSpecValue;
  readonly noise: NoiseSpecValue;
  /** Image height and width in the source. */
  readonly imageSize: readonly [number, number];
}

const dpsNoise: NoiseSpecValue = { kind: "gaussian", sigma: 0.05, range: "[-1,1]" };
const flowDpsNoise: NoiseSpecValue = { kind: "gaussian", sigma: 0.03, range: "[-1,1]" };

/**
 * Named presets. Random operators carry seed 0; a run replaces the seed per its own
 * seeding rule (spread the spec and set `seed`).
 */
export const operatorPresets: Readonly<Record<string, OperatorPreset>> = deepFreeze({
  // DPS2022/diffusion-posterior-sampling configs/super_resolution_config.yaml and
  // util/resizer.py: bicubic x4 on 256 x 256, sigma 0.05 on [-1, 1].
  "dps-sr4": {
    name: "dps-sr4",
    description: "DPS super-resolution x4, MATLAB-style bicubic",
    source: "DPS2022/diffusion-posterior-sampling configs/super_resolution_config.yaml",
    operator: { kind: "sr-bicubic", scale: 4, truncate: 0 },
    noise: dpsNoise,
    imageSize: [256, 256],
  },
  // DPS configs/gaussian_deblur_config.yaml and util/img_utils.py (Blurkernel):
  // kernel 61, std 3.0, reflection padding.
  "dps-gaussian-blur": {
    name: "dps-gaussian-blur",
    description: "DPS Gaussian deblurring, 61 x 61 kernel, sigma 3",
    source: "DPS2022/diffusion-posterior-sampling configs/gaussian_deblur_config.yaml",
    operator: { kind: "gaussian-blur", size: 61, sigma: 3, truncate: 4 },
    noise: dpsNoise,
    imageSize: [256, 256],
  },
  // DPS configs/motion_deblur_config.yaml: kernel 61, intensity 0.5.
  "dps-motion-blur": {
    name: "dps-motion-blur",
    description: "DPS motion deblurring, 61 x 61 random-trajectory kernel, intensity 0.5",
    source: "DPS2022/diffusion-posterior-sampling configs/motion_deblur_config.yaml",
    operator: { kind: "motion-blur", size: 61, intensity: 0.5, seed: 0 },
    noise: dpsNoise,
    imageSize: [256, 256],
  },
  // DPS configs/inpainting_config.yaml (mask_len_range [128, 129]) and util/img_utils.py
  // (random_sq_bbox, margin 16): a 128 x 128 box with its corner on [16, 111]^2.
  "dps-box-inpainting": {
    name: "dps-box-inpainting",
    description: "DPS box inpainting, 128 x 128 box at a random position",
    source: "DPS2022/diffusion-posterior-sampling configs/inpainting_config.yaml",
    operator: {
      kind: "inpainting",
      pattern: "box",
      placement: "random",
      boxSize: [128, 128],
      margin: [16, 16],
      seed: 0,
    },
    noise: dpsNoise,
    imageSize: [256, 256],
  },
  // DPS configs/inpainting_config.yaml (mask_prob_range [0.3, 0.7]).
  "dps-random-inpainting": {
    name: "dps-random-inpainting",
    description: "DPS random inpainting, 30-70 % of pixels missing",
    source: "DPS2022/diffusion-posterior-sampling configs/inpainting_config.yaml",
    operator: { kind: "inpainting", pattern: "random", seed: 0, ratioRange: [0.3, 0.7] },
    noise: dpsNoise,
    imageSize: [256, 256],
  },
  // DPS configs/phase_retrieval_config.yaml: oversample 2.0 (256 -> 384).
  "dps-phase-retrieval": {
    name: "dps-phase-retrieval",
    description: "DPS Fourier phase retrieval, oversampling 2",
    source: "DPS2022/diffusion-posterior-sampling configs/phase_retrieval_config.yaml",
    operator: { kind: "phase-retrieval", oversample: 2, shift: true },
    noise: dpsNoise,
    imageSize: [256, 256],
  },
  // FlowDPS-Inverse/FlowDPS solve_arbitrary.py (deg_scale 12, y = A(x) + 0.03 n on
  // [-1, 1]) and README.md (task sr_avgpool, 768 x 768).
  "flowdps-sr12-avgpool": {
    name: "flowdps-sr12-avgpool",
    description: "FlowDPS super-resolution x12, block mean",
    source: "FlowDPS-Inverse/FlowDPS solve_arbitrary.py, README.md",
    operator: { kind: "sr-avgpool", scale: 12 },
    noise: flowDpsNoise,
    imageSize: [768, 768],
  },
  // FlowDPS-Inverse/FlowDPS README.md (task sr_bicubic, 768 x 768); FlowDPS zeroes
  // singular values of the 1-D bicubic factor below 0.03.
  "flowdps-sr12-bicubic": {
    name: "flowdps-sr12-bicubic",
    description: "FlowDPS super-resolution x12, 48-tap bicubic with SVD truncation",
    source: "FlowDPS-Inverse/FlowDPS solve_arbitrary.py, README.md",
    operator: { kind: "sr-bicubic", scale: 12, truncate: 0.03 },
    noise: flowDpsNoise,
    imageSize: [768, 768],
  },
  // FlowDPS-Inverse/FlowDPS README.md (task deblur_motion, deg_scale 61, the
  // LeviBorodenko/motionblur kernels).
  "flowdps-motion-blur": {
    name: "flowdps-motion-blur",
    description: "FlowDPS motion deblurring, 61 x 61 kernel, intensity 0.5",
    source: "FlowDPS-Inverse/FlowDPS solve_arbitrary.py, README.md",
    operator: { kind: "motion-blur", size: 61, intensity: 0.5, seed: 0 },
    noise: flowDpsNoise,
    imageSize: [768, 768],
  },
} satisfies Record<string, OperatorPreset>);

/** Returns the preset called `name`. An unknown name is rejected with the list of known ones. */
export function getPreset(name: string): OperatorPreset {
  const preset = Object.hasOwn(operatorPresets, name) ? operatorPresets[name] : undefined;
  if (preset === undefined) {
    throw new TweedieError(`unknown operator preset ${JSON.stringify(name)}`, {
      code: "not_found",
      path: ["preset"],
      expected: `one of ${Object.keys(operatorPresets).join(", ")}`,
      received: name,
    });
  }
  return preset;
}
