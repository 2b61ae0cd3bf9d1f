import { TweedieError } from "@tweedie/core";
import { PROFILE_NAMES, type ProfileName } from "./types.js";

/** What a profile reproduces and how its published tables scale each metric. */
export interface ProfileInfo {
  readonly name: ProfileName;
  readonly summary: string;
  /** Display factor per metric name (PIE-Bench prints MSE x 10^4); stored values stay raw. */
  readonly reportScales: Readonly<Record<string, number>>;
  /** Whether `score` accepts a border crop under this profile. */
  readonly allowsBorderCrop: boolean;
}

const PIE_SCALES: Readonly<Record<string, number>> = {
  structure_distance: 1e3,
  lpips: 1e3,
  lpips_background: 1e3,
  mse: 1e4,
  mse_background: 1e4,
  ssim: 1e2,
  ssim_background: 1e2,
};

export const PROFILES: Readonly<Record<ProfileName, ProfileInfo>> = {
  canonical: {
    name: "canonical",
    summary:
      "PSNR 10 log10(L^2/MSE) per image (+Infinity for identical images); SSIM of Wang et al. " +
      "(Gaussian 11x11, sigma 1.5, population covariances, valid-region mean); LPIPS AlexNet v0.1 on [-1, 1]",
    reportScales: {},
    allowsBorderCrop: true,
  },
  "skimage-default": {
    name: "skimage-default",
    summary:
      "scikit-image 0.19 defaults with an explicit data_range: SSIM with a 7x7 uniform window and " +
      "sample covariances (n/(n-1), n = 49); PSNR as canonical",
    reportScales: {},
    allowsBorderCrop: true,
  },
  "dps-compat": {
    name: "dps-compat",
    summary:
      "DPS compute_metric.py: scikit-image PSNR on [0, 1] floats (data range 1), LPIPS VGG on [-1, 1]; " +
      "SSIM as pytorch_msssim.ssim (Gaussian 11 taps, sigma 1.5, valid convolution), equal to canonical",
    reportScales: {},
    allowsBorderCrop: true,
  },
  "deepinv-compat": {
    name: "deepinv-compat",
    summary:
      "deepinv metrics: PSNR -10 log10(MSE/L^2 + 1e-8), 80 dB for identical images; SSIM through " +
      "torchmetrics (reflect padding, then the padded border cropped: equal to canonical); LPIPS AlexNet",
    reportScales: {},
    allowsBorderCrop: true,
  },
  "pie-compat": {
    name: "pie-compat",
    summary:
      "PIE-Bench evaluator: background metrics on both images multiplied by (1 - mask), computed over " +
      "the whole tensor with torchmetrics (PSNR and SSIM data range 1); null when the background is empty",
    reportScales: PIE_SCALES,
    allowsBorderCrop: false,
  },
  clean: {
    name: "clean",
    summary:
      "true masked averages: MSE and PSNR over background pixels only, SSIM map averaged over " +
      "background pixels of the valid region; whole-image metrics as canonical",
    reportScales: {},
    allowsBorderCrop: true,
  },
};

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/** Looks up a profile by name; the error lists the valid names. */
export function getProfile(name: string): ProfileInfo {
  if (!isProfileName(name)) {
    throw new TweedieError(`unknown metric profile ${JSON.stringify(name)}`, {
      code: "invalid_value",
      path: ["profile"],
      expected: [...PROFILE_NAMES],
      received: name,
    });
  }
  return PROFILES[name];
}

/** The display factor of a metric under a profile; 1 when the profile sets none. */
export function reportScale(profile: ProfileName, metric: string): number {
  return PROFILES[profile].reportScales[metric] ?? 1;
}
