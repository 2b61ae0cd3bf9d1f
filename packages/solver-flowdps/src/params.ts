import type { Preset } from "@tweedie/core";
import { z } from "zod";

/**
 * FlowDPS parameters. The defaults are the SD3 preset of the official code
 * (FlowDPS-Inverse/FlowDPS, solve.py and sd3_sampler.py at commit 8361843): 28 steps on
 * the shift-4 grid, 3 inner gradient steps of size 15 on the plain residual norm, CFG 2.
 */
export const flowDpsParamsSchema = z
  .object({
    /** Number of sampler steps (network evaluations per sample, times 2 with CFG). */
    steps: z.number().int().min(1).max(1000).default(28),
    /** Shift of the time grid: sigma -> s sigma / (1 + (s - 1) sigma). */
    shift: z.number().positive().default(4),
    /** Shift the model's scheduler was built with; it fixes the grid's smallest sigma (SD3: 3). */
    baseShift: z.number().positive().default(3),
    /** Inner gradient steps on the clean estimate per sampler step (K). */
    innerSteps: z.number().int().min(0).max(100).default(3),
    /** Step size eta of each inner step on the plain norm ||P(y) - P(A(u))||. */
    stepSize: z.number().nonnegative().default(15),
    /**
     * Inner step rule. `norm` is the official one: u -= eta grad ||P(y) - P(A(u))||.
     * `preconditioned` (a Tweedie variant) steps on the squared loss (1/2) ||y - A(u)||^2
     * with P as preconditioner, u += learningRate d with r = y - A(u) and d = A^+ r
     * (pinv), (A^T A + tikhonovLambda I)^-1 A^T r (tikhonov) or A^T r / ||A||^2 (adjoint);
     * it needs a linear operator. `proximal` (a Tweedie variant) replaces the K steps and
     * the interpolation by one exact solve of
     * argmin (1 / (2 sigmaY^2)) ||y - A u||^2 + (1 / (2 proximalWeight r^2)) ||u - x0Hat||^2
     * with r = sigma(t) / alpha(t), and uses u as the new clean estimate; its data weight
     * fades only once the noise of x_t falls below sigmaY. It needs a linear operator.
     */
    innerStep: z.enum(["norm", "preconditioned", "proximal"]).default("norm"),
    /** Weight of the proximal step's prior term: larger values trust the measurement longer. */
    proximalWeight: z.number().positive().default(1),
    /** Learning rate of the preconditioned inner step; 1 with pinv lands on the measurement set. */
    learningRate: z.number().nonnegative().default(1),
    /** lambda of the Tikhonov preconditioner (A^T A + lambda I)^-1 A^T, on images in [-1, 1]. */
    tikhonovLambda: z.number().positive().default(1e-2),
    /**
     * P in the data term. `pinv` is A^+ (the official choice for SR) and `adjoint` is A^T
     * (the official choice for deblurring). `none` uses the raw residual y - A(u).
     * `tikhonov` is (A^T A + tikhonovLambda I)^-1 A^T, for the preconditioned step only.
     * `auto` picks A^+ when the operator has one, A^T for other linear operators, else none.
     */
    projection: z.enum(["auto", "pinv", "tikhonov", "adjoint", "none"]).default("auto"),
    /** Classifier-free guidance scale, used when the problem has a prompt and the model is conditioned. */
    cfgScale: z.number().nonnegative().default(2),
    /** Posterior samples drawn per item. */
    samples: z.number().int().min(1).max(1024).default(1),
    /**
     * Variant, off in the official method: after the last step, replace the output by
     * x + A^+(y - A x), its projection onto the measurement set. With the official
     * weighting the data term fades as t -> 0, so inpainting drifts off the observed
     * pixels; this variant puts them back. Reported as a separate configuration.
     */
    finalProjection: z.boolean().default(false),
    /**
     * Gradient path for latent models. `decoder-vjp` steps u through the decoder's VJP
     * graph. `pixel-reencode` steps the decoded image in pixel space and re-encodes it.
     * `auto` uses the VJP graph when the package ships one.
     */
    latentGradient: z.enum(["auto", "decoder-vjp", "pixel-reencode"]).default("auto"),
  })
  .strict();

export type FlowDpsParams = z.infer<typeof flowDpsParamsSchema>;

export const flowDpsPresets: Record<string, Preset<FlowDpsParams>> = {
  "flowdps-sd3": {
    params: { steps: 28, shift: 4, baseShift: 3, innerSteps: 3, stepSize: 15, cfgScale: 2 },
    source:
      "FlowDPS-Inverse/FlowDPS solve.py (CLI defaults: NFE 28, step_size 15, cfg_scale 2.0) and sd3_sampler.py (shift 4.0, 3 gradient steps), commit 8361843",
  },
  "flowdps-embedded": {
    params: { steps: 50, shift: 4, baseShift: 3, innerSteps: 3, stepSize: 15, cfgScale: 1 },
    source:
      "Embedded patch prior: 50 steps (28 steps lose about 0.3 dB on held-out photos in an independent numpy study of this prior); other values as the SD3 preset",
  },
  "flowdps-embedded-photos": {
    params: {
      steps: 50,
      shift: 1,
      baseShift: 3,
      innerSteps: 3,
      innerStep: "preconditioned",
      learningRate: 1,
      projection: "auto",
      cfgScale: 1,
    },
    source:
      "Tweedie calibration on the embedded patch prior, held-out 128x128 photos, sigmaY 0.05 (SR x4 and box inpainting): 50 steps on the unshifted grid (shift 4 loses 0.5 dB on SR), 3 inner steps preconditioned by A^+ with learning rate 1 (0.5: -0.1 dB). Two photos, one sample: SR x4 23.67 dB (mean of 4: 24.50) against 24.08 for A^+ y, consistency 1.02-1.17; box inpainting 19.00 dB against 17.84 for mean fill, consistency 1.6-1.7 because the official weighting fades the data term as t -> 0",
  },
  "flowdps-embedded-deblur": {
    params: {
      steps: 50,
      shift: 1,
      baseShift: 3,
      innerSteps: 1,
      innerStep: "preconditioned",
      learningRate: 1,
      projection: "tikhonov",
      tikhonovLambda: 1e-2,
      cfgScale: 1,
    },
    source:
      "Tweedie calibration on the embedded patch prior, held-out 128x128 photos, sigmaY 0.05, Gaussian blur 61 taps sigma 3: one inner step preconditioned by the Tikhonov inverse (lambda 1e-2) with learning rate 1, the proximal step (3 steps with rate 0.5 score the same at three times the cost; A^T / ||A||^2 scores 1 dB less). Two photos, one sample: 23.53 dB (mean of 4: 24.26) against 22.29 for the blurry y and 24.00 for Tikhonov, consistency 1.08-1.18",
  },
  "flowdps-embedded-proximal": {
    params: {
      steps: 50,
      shift: 1,
      baseShift: 3,
      innerStep: "proximal",
      proximalWeight: 0.5,
      cfgScale: 2,
    },
    source:
      "Tweedie calibration of the proximal data step with weight 0.5 on the unshifted grid, one preset for the three embedded models, sigmaY 0.05. Patch prior, two held-out 128x128 photos, one sample: SR x4 23.68 dB, Gaussian deblur 23.60 dB, box inpainting 19.40 dB, data-consistency ratio 0.85-1.05 on all three (weights 0.25, 1 and 4: 0.97-1.31, 0.74-0.83, 0.49-0.57). Digits prior, 8 held-out digits against the exact posterior: sliced Wasserstein ratio 4.40 (inpainting) and 2.99 (SR x2), consistency 0.79 and 0.95 (shift 4: 6.28 and 4.04). Fashion U-Net, 4 held-out images: consistency 0.88-0.92 at the PSNR of flowdps-fashion within 0.4 dB. CFG 2 applies only with a prompt",
  },
  "flowdps-projected": {
    params: { finalProjection: true },
    source:
      "Tweedie variant: the official method plus a final projection onto the measurement set (for inpainting)",
  },
  "flowdps-fashion": {
    params: { steps: 50, shift: 4, baseShift: 3, innerSteps: 3, stepSize: 10, cfgScale: 2 },
    source:
      "Embedded fashion model (28x28 Fashion-MNIST U-Net), runner sweep over the first 6 held-out images, sigmaY 0.05: step size 10 gave 17.3 dB on box inpainting and 20.8 dB on SR x2 (data-consistency ratio 0.26); 15 gave 17.3 / 20.6 dB but fits the SR noise (ratio 0.05), 25 gave 17.1 / 20.4 dB, and 1 and 3 lose 0.7 to 2 dB. CFG 2 applies only with a prompt and gains 0.6 dB on inpainting with the item's class prompt over CFG 1",
  },
};
