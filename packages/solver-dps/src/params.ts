import type { Preset } from "@tweedie/core";
import { z } from "zod";

/**
 * DPS parameters. This schema is the only place that sets defaults: 1000 DDPM steps,
 * zeta 0.3 (the step size of most released DPS configs), the exact VJP when the model
 * has one, x0Hat clipped to [-1, 1], one sample.
 */
export const dpsParamsSchema = z
  .object({
    /**
     * Sampling steps. Fewer than the model's training steps respaces the DDPM schedule
     * (evenly spaced steps, betas recomputed from alphaBar at the kept steps); more is
     * rejected.
     */
    steps: z.number().int().min(1).default(1000),
    /**
     * Step size of the guidance x -= zeta grad_{x_t} ||y - A(x0Hat)||, on the plain (not
     * squared) norm of each sample's residual.
     */
    zeta: z.number().finite().nonnegative().default(0.3),
    /**
     * Method for J^T g with J = d x0Hat / d x_t: `vjp` through the model's VJP graph
     * (exact), `jvp-fd` as the central finite difference J g, which equals J^T g for an
     * exact MMSE denoiser because its Jacobian is symmetric (two extra forward passes);
     * `auto` picks `vjp` when the model has a VJP graph.
     */
    gradient: z.enum(["auto", "vjp", "jvp-fd"]).default("auto"),
    /** Finite-difference probe size relative to sigma_t: each value moves by about fdProbe sigma_t. */
    fdProbe: z.number().finite().positive().default(1e-2),
    /**
     * Clip x0Hat to [-1, 1] before the posterior mean and the residual; the gradient is
     * zero where the clip saturates. Turn off for data outside [-1, 1].
     */
    clipX0: z.boolean().default(true),
    /** Posterior samples drawn for the one measurement. */
    samples: z.number().int().min(1).max(4096).default(1),
    /**
     * Index of the first sample. Sample s always draws from rng.split("sample", s), so a
     * run with sampleOffset k and samples 1 reproduces sample k of a larger run.
     */
    sampleOffset: z.number().int().nonnegative().default(0),
    /**
     * Variance of the ancestral step. `learned` is the model's learned-range output,
     * `posterior` is betaTilde_t (DDPM's fixed small variance) and `large` is beta_t (the
     * fixed large variance). `auto` uses `learned` when the model has it, else `posterior`.
     */
    variance: z.enum(["auto", "learned", "posterior", "large"]).default("auto"),
    /**
     * DDIM eta with the posterior variance: std = eta sqrt(betaTilde_t) and the mean of
     * DDIM (Song, Meng and Ermon, arXiv:2010.02502). eta = 1 is exactly the DDPM
     * ancestral step; values other than 1 need variance `posterior` (or `auto` without a
     * learned variance).
     */
    eta: z.number().finite().nonnegative().default(1),
  })
  .strict()
  .superRefine((params, context) => {
    if (params.eta !== 1 && (params.variance === "learned" || params.variance === "large")) {
      context.addIssue({
        code: "custom",
        path: ["eta"],
        message: `eta ${params.eta} applies to the posterior variance only; variance "${params.variance}" uses eta 1`,
      });
    }
  });

export type DpsParams = z.infer<typeof dpsParamsSchema>;

const DPS_REPO = "DPS2022/diffusion-posterior-sampling, commit effbde7";

/**
 * Step size for a respaced run: the guidance is applied once per step, so keeping
 * zeta x steps constant keeps the total guidance of a 1000-step run with `zetaAt1000`.
 */
export function respacedZeta(zetaAt1000: number, steps: number): number {
  return (zetaAt1000 * 1000) / steps;
}

/**
 * Named parameter sets. The FFHQ presets give the settings of the official code and paper
 * for the ADM pixel model. The `dps-patches-*` presets are the project's calibration on
 * the embedded patch prior, and `dps-gmm-benchmark` is the exact-posterior benchmark setting.
 */
export const dpsPresets: Record<string, Preset<DpsParams>> = {
  "dps-ffhq-sr4-repo": {
    params: { steps: 1000, zeta: 0.3 },
    source: `${DPS_REPO}: configs/super_resolution_config.yaml, conditioning.params.scale 0.3`,
  },
  "dps-ffhq-sr4-paper": {
    params: { steps: 1000, zeta: 2 },
    source:
      "Chung et al., DPS, ICLR 2023 (arXiv:2209.14687), App. D.1 as quoted by the authors' repository discussion: zeta' = 1.0 for FFHQ SR x4 with Gaussian noise, applied as (zeta' / ||r||) grad ||r||^2 = 2 zeta' grad ||r||, so zeta 2.0 on the plain norm (value not checked against the PDF)",
  },
  "dps-ffhq-deblur-gaussian-repo": {
    params: { steps: 1000, zeta: 0.3 },
    source: `${DPS_REPO}: configs/gaussian_deblur_config.yaml, conditioning.params.scale 0.3`,
  },
  "dps-ffhq-deblur-motion-repo": {
    params: { steps: 1000, zeta: 0.3 },
    source: `${DPS_REPO}: configs/motion_deblur_config.yaml, conditioning.params.scale 0.3`,
  },
  "dps-ffhq-inpainting-repo": {
    params: { steps: 1000, zeta: 0.5 },
    source: `${DPS_REPO}: configs/inpainting_config.yaml, conditioning.params.scale 0.5`,
  },
  "dps-ffhq-phase-retrieval-repo": {
    params: { steps: 1000, zeta: 1 },
    source: `${DPS_REPO}: configs/phase_retrieval_config.yaml, conditioning.params.scale 1.0`,
  },
  "dps-patches-128-100steps": {
    params: { steps: 100, zeta: respacedZeta(1, 100), gradient: "auto", fdProbe: 1e-2 },
    source:
      "Project calibration on the embedded patch prior, 128x128 crops, sigmaY 0.05: 100 respaced steps with zeta 10 (zeta x steps about 1000)",
  },
  "dps-patches-128-250steps": {
    params: { steps: 250, zeta: respacedZeta(1, 250), gradient: "auto", fdProbe: 1e-2 },
    source:
      "Embedded patch prior, 250 steps with zeta x steps kept at 1000. An independent numpy study of a similar prior scored 0.8 dB more on box inpainting at 250 steps than at 100; on the held-out 128x128 photos with the 64x64 box it scored 17.9-18.0 dB, below dps-patches-128-inpainting (18.78 dB)",
  },
  "dps-patches-128-sr": {
    params: { steps: 100, zeta: 8.5, gradient: "auto", fdProbe: 1e-2 },
    source:
      "Tweedie calibration on the embedded patch prior, held-out 128x128 photos, sigmaY 0.05, bicubic SR x4: zeta 10 over-fits one photo (consistency 0.67 and 1.01, 22.7 dB) and zeta 7 under-fits the other (1.07 and 1.56, 22.2 dB), so 8.5 lies between. Two photos, one sample: 22.53 dB (mean of 4: 24.04) against 24.08 for A^+ y, consistency 0.84-1.24",
  },
  "dps-patches-128-inpainting": {
    params: { steps: 100, zeta: 5, gradient: "auto", fdProbe: 1e-2 },
    source:
      "Tweedie calibration on the embedded patch prior, held-out 128x128 photos, sigmaY 0.05, centred 64x64 box: zeta 5 at 100 steps keeps the sample consistent with the noise (consistency 0.82-0.92; zeta 10 over-fits the observed pixels, 0.54-0.60) at the same PSNR (18.8 dB against mean fill 17.8); 250 steps did not help (17.9-18.0 dB). Two photos: 18.78 dB per sample (mean of 4: 19.93), consistency 0.81-0.92",
  },
  "dps-patches-128-deblur": {
    params: { steps: 100, zeta: 5, gradient: "auto", fdProbe: 1e-2 },
    source:
      "Tweedie calibration on the embedded patch prior, held-out 128x128 photos, sigmaY 0.05, Gaussian blur 61 taps sigma 3: zeta 5 at 100 steps gives consistency 1.05-1.06; the samples are grainy at every zeta and stay below the blurry measurement in PSNR. Two photos: 21.20 dB per sample (mean of 4: 22.97) against 22.29 for the blurry y, consistency 1.05-1.06",
  },
  "dps-patches-256-100steps": {
    params: { steps: 100, zeta: respacedZeta(2, 100), gradient: "auto", fdProbe: 1e-2 },
    source:
      "Project calibration on the embedded patch prior: the guidance scales as 1 / sqrt(pixels), so 256x256 starts near twice the 128x128 zeta (20 at 100 steps)",
  },
  "dps-fashion": {
    params: { steps: 100, zeta: 3, gradient: "vjp" },
    source:
      "Embedded fashion model (28x28 Fashion-MNIST U-Net with an exact VJP graph), runner sweep over the first 6 held-out images, sigmaY 0.05: zeta 3 at 100 steps gave 18.4 dB on box inpainting and 20.7 dB on SR x2, against 18.3 / 20.1 dB for zeta 1 and 16.8 / 16.9 dB for zeta 10; the data-consistency ratio is about 1 for inpainting at zeta 3",
  },
  "dps-gmm-benchmark": {
    params: { steps: 1000, zeta: 0.1, clipX0: false, variance: "posterior" },
    source:
      "Exact-posterior Gaussian-mixture benchmark (MCGdiff set-up, Cardoso et al., ICLR 2024, arXiv:2308.07983): 1000 DDPM steps, zeta 0.1 on the plain norm (the MCGdiff code's zeta_coeff 0.1 multiplies (1 / ||r||) grad ||r||^2, twice this step), no clipping because the prior's means reach +-16",
  },
};
