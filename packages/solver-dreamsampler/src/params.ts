import type { Preset } from "@tweedie/core";
import { z } from "zod";

/**
 * DreamSampler parameters. Defaults are those of the official code
 * (DreamSampler/dream-sampler, run_edit.py, run_inpaint.py and solver/latent_diffusion.py,
 * commit 6f190c9): 200 DDIM steps (skip 5 on 1000 training steps), editing weight 0.2,
 * conjugate gradient with 10 iterations and lambda 1e-4.
 */
export const dreamSamplerParamsSchema = z
  .object({
    /** DDIM steps, for the inversion and again for sampling. */
    steps: z.number().int().min(1).max(1000).default(200),
    /** Editing weight w: the target's share of x0Hat is gamma_t = w alphaBar_t. */
    lambda: z.number().min(0).default(0.2),
    /** Prompt of the unconditional branch, used for the inversion and the re-noising. */
    nullPrompt: z.string().default(""),
    /**
     * VP schedule whose DDIM grid sets the noise levels on models of another schedule
     * (rectified flows): `sd15` (scaled-linear betas 0.00085 to 0.012, the official model's)
     * or `ddpm` (linear betas 1e-4 to 0.02). VP models use their own schedule.
     */
    referenceSchedule: z.enum(["sd15", "ddpm"]).default("sd15"),
    /** Restoration: conjugate-gradient iterations on (A^T A + cgLambda I) x = A^T y + cgLambda x0Hat. */
    cgIterations: z.number().int().min(0).max(1000).default(10),
    /** Restoration: Tikhonov weight of the conjugate-gradient data-consistency step. */
    cgLambda: z.number().positive().default(1e-4),
    /** Restoration: stop the conjugate gradient when ||r|| <= cgTolerance ||b||. */
    cgTolerance: z.number().nonnegative().default(1e-4),
    /** Restoration: a DreamSampler step on every step index divisible by this; DPS steps otherwise. */
    dreamEvery: z.number().int().min(1).default(3),
    /** Restoration: DreamSampler steps only before this fraction of the steps (official 170 of 200). */
    dreamUntil: z.number().min(0).max(1).default(0.85),
    /**
     * Restoration: where the prompt's x0Hat enters. `auto` uses the unobserved pixels of an
     * inpainting operator (1 - A^T A 1) and nowhere for other operators; `everywhere` and
     * `nowhere` override it.
     */
    textRegion: z.enum(["auto", "everywhere", "nowhere"]).default("auto"),
    /**
     * Latent models, DPS steps. `decoder-vjp` takes the gradient through the decoder's VJP
     * graph, and `pixel-reencode` steps the decoded x0Hat in pixel space and re-encodes it.
     * `auto` uses the VJP graph when the package ships one.
     */
    latentGradient: z.enum(["auto", "decoder-vjp", "pixel-reencode"]).default("auto"),
    /** Independent samples per problem, each on its own random stream. */
    samples: z.number().int().min(1).max(1024).default(1),
    /** The clean estimate may not leave [-limit, limit]; beyond it the solve stops ("diverged"). */
    divergenceLimit: z.number().positive().default(10),
  })
  .strict();

export type DreamSamplerParams = z.infer<typeof dreamSamplerParamsSchema>;

export const dreamSamplerPresets: Record<string, Preset<DreamSamplerParams>> = {
  "dreamsampler-sd15-edit": {
    params: { steps: 200, lambda: 0.2, nullPrompt: "" },
    source:
      'DreamSampler/dream-sampler run_edit.py (cfg_guidance 0.2, 200 DDIM steps, null and source prompt "") and solver/latent_diffusion.py, commit 6f190c9',
  },
  "dreamsampler-sd15-inpaint": {
    params: {
      steps: 200,
      nullPrompt: "out of focus, depth of field",
      cgIterations: 10,
      cgLambda: 1e-4,
      cgTolerance: 1e-4,
      dreamEvery: 3,
      dreamUntil: 0.85,
    },
    source:
      "DreamSampler/dream-sampler run_inpaint.py (null prompt, 200 steps) and solver/latent_diffusion.py (CG 10 iterations, tol 1e-4, lambda 1e-4 hard-coded; DreamSampler step when step % 3 == 0 and step < 170), commit 6f190c9",
  },
  "dreamsampler-fashion": {
    params: { steps: 50, lambda: 2, nullPrompt: "", divergenceLimit: 100 },
    source:
      "Embedded fashion model (28x28 Fashion-MNIST U-Net), runner sweep on the first 6 held-out t-shirts/tops edited to dress: lambda 0.2 (official) edits none, 1 edits 4 of 6 and 2 edits all 6 by the package's classifier. The limit of 10 stops the DDIM inversion near step 999, where x0Hat = (x_t - sigma eps) / alpha amplifies the network's eps error by 1 / alpha (about 160), so the limit is 100",
  },
  "dreamsampler-digits": {
    params: { steps: 50, lambda: 0.2, nullPrompt: "", referenceSchedule: "sd15" },
    source:
      "Tweedie digits prior (class-conditional Gaussian mixtures over the 8x8 UCI digits): 50 steps, the official weight 0.2, noise levels of the SD 1.5 DDIM grid",
  },
};
