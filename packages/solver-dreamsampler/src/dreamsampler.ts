import {
  type Conditioning,
  clamp,
  concatBatch,
  type Denoiser,
  type EditingProblem,
  type Problem,
  type RestorationProblem,
  type Rng,
  type SolveOptions,
  type SolveResult,
  type Solver,
  type Tensor,
  TweedieError,
} from "@tweedie/core";
import { type LoopHooks, sampleStatistics } from "./checks.js";
import { dreamEdit } from "./edit.js";
import { ddimInvert } from "./inversion.js";
import { ddimLevels, type NoiseLevel, REFERENCE_SCHEDULES } from "./levels.js";
import type { DreamSamplerParams } from "./params.js";
import { dreamRestore, type LatentPath, type RestoreContext, textMask } from "./restore.js";

/**
 * DreamSampler (Kim, Park and Ye, "DreamSampler: Unifying Diffusion Sampling and Score
 * Distillation for Image Manipulation", ECCV 2024, arXiv 2403.11415), as the official code
 * runs it (DreamSampler/dream-sampler, run_edit.py, run_inpaint.py and
 * solver/latent_diffusion.py, commit 6f190c9). Both tasks start from the DDIM inversion of
 * the input with the null prompt, then run DDIM back down:
 * - editing: x0Hat = (1 - gamma_t) x0Hat(null) + gamma_t x0Hat(target), gamma_t =
 *   lambda alphaBar_t, re-noised with the null prompt's epsHat (see edit.ts);
 * - restoration: conjugate-gradient data consistency plus text guidance in the unobserved
 *   region, alternating with DPS steps (see restore.ts).
 * Every schedule runs through its VP-equivalent levels (see levels.ts). Each sample reports
 * 2 x steps steps through onStep: the inversion's, then the sampling's.
 */
export class DreamSamplerSolver implements Solver {
  constructor(readonly params: DreamSamplerParams) {}

  async solve(problem: Problem, rng: Rng, options: SolveOptions = {}): Promise<SolveResult> {
    const { denoiser } = problem;
    const levels = ddimLevels(
      denoiser.schedule,
      this.params.steps,
      REFERENCE_SCHEDULES[this.params.referenceSchedule],
    );
    const nfeBefore = denoiser.nfe;
    const run =
      problem.kind === "editing"
        ? await this.prepareEdit(problem, levels)
        : await this.prepareRestore(problem, levels);

    const outputs: Tensor[] = [];
    for (let sample = 0; sample < this.params.samples; sample++) {
      const hooks: LoopHooks = {
        options,
        sample,
        stepOffset: 0,
        totalSteps: 2 * this.params.steps,
        divergenceLimit: this.params.divergenceLimit,
      };
      outputs.push(await run.sampleOne(rng.split("sample", sample), hooks));
    }
    const x = concatBatch(outputs);
    return {
      x,
      ...(this.params.samples > 1 ? sampleStatistics(x) : {}),
      nfe: denoiser.nfe - nfeBefore,
      steps: 2 * this.params.steps,
      diagnostics: {
        task: problem.kind,
        inversionSteps: this.params.steps,
        samplingSteps: this.params.steps,
        levels: levels.map((level) => Number(level.alphaBar.toPrecision(6))),
        referenceSchedule:
          denoiser.schedule.steps === null ? this.params.referenceSchedule : "model",
        ...run.diagnostics,
      },
    };
  }

  private async prepareEdit(problem: EditingProblem, levels: readonly NoiseLevel[]) {
    const { denoiser, source } = problem;
    checkEditingSource(denoiser, source);
    const nullCond = await denoiser.model.condition(this.params.nullPrompt, 1);
    // The official example edits with source prompt = null prompt; the source prompt is
    // resolved only so that an unknown one is reported.
    await denoiser.model.condition(problem.sourcePrompt, 1);
    const targetCond = await this.targetConditioning(denoiser, problem.targetPrompt);
    const start = await encode(denoiser, source);
    const x0HatOf = async (hooks: LoopHooks): Promise<Tensor> => {
      const inverted = await ddimInvert(denoiser, start, levels, nullCond, hooks);
      const samplingHooks = { ...hooks, stepOffset: levels.length - 1 };
      return dreamEdit(
        denoiser,
        inverted,
        levels,
        nullCond,
        targetCond,
        this.params.lambda,
        samplingHooks,
      );
    };
    return {
      sampleOne: async (_rng: Rng, hooks: LoopHooks) => decode(denoiser, await x0HatOf(hooks)),
      diagnostics: { lambda: this.params.lambda, sourcePromptUsed: false },
    };
  }

  private async prepareRestore(problem: RestorationProblem, levels: readonly NoiseLevel[]) {
    const { denoiser, operator, y } = problem;
    checkRestoration(problem);
    const adjoint = operator.adjoint!.bind(operator);

    const latentPath = resolveLatentPath(denoiser, this.params.latentGradient);
    const nullCond = await denoiser.model.condition(this.params.nullPrompt, 1);
    const targetCond = await this.targetConditioning(denoiser, problem.prompt ?? "");

    // The official start is the inversion of the zero-filled measurement A^T y. A^+ y is the
    // same for inpainting and keeps the scale for other operators.
    const backProjected = operator.pseudoInverse ? operator.pseudoInverse(y) : adjoint(y);
    const start = await encode(denoiser, backProjected.reshape([1, ...problem.shape]));
    const downsample = latentPath === "pixel" ? 1 : (denoiser.model.info.vae?.downsample ?? 1);
    const context: RestoreContext = {
      denoiser,
      operator,
      y,
      levels,
      nullCond,
      targetCond,
      mask: textMask(operator, this.params.textRegion, start.shape, downsample),
      latentPath,
      params: this.params,
    };

    const sampleOne = async (rng: Rng, hooks: LoopHooks): Promise<Tensor> => {
      const inverted = await ddimInvert(denoiser, start, levels, nullCond, hooks);
      const samplingHooks = { ...hooks, stepOffset: levels.length - 1 };
      const x0Hat = await dreamRestore(context, inverted, rng, samplingHooks);
      return clamp(await decode(denoiser, x0Hat), -1, 1);
    };
    return {
      sampleOne,
      diagnostics: {
        latentGradient: latentPath,
        vjpMode: denoiser.vjpMode,
        textRegion: this.params.textRegion,
        prompt: problem.prompt ?? "",
      },
    };
  }

  /** The target's conditioning, or null when it cannot change the result. */
  private async targetConditioning(
    denoiser: Denoiser,
    prompt: string,
  ): Promise<Conditioning | null> {
    const cond = await denoiser.model.condition(prompt, 1);
    return prompt === this.params.nullPrompt ? null : cond;
  }
}

function checkRestoration(problem: RestorationProblem): void {
  const { operator, y } = problem;
  if (!operator.linear || !operator.adjoint) {
    throw new TweedieError("DreamSampler restoration needs a linear operator with an adjoint", {
      code: "unsupported",
      path: ["problem", "operator"],
      expected: "a linear operator (the conjugate-gradient step solves with A^T A)",
      received: operator.spec.kind,
    });
  }
  if (y.batch !== 1) {
    throw new TweedieError("DreamSampler restores one measurement at a time", {
      code: "shape_mismatch",
      path: ["problem", "y"],
      expected: "batch 1",
      received: [...y.shape],
    });
  }
}

function checkEditingSource(denoiser: Denoiser, source: Tensor): void {
  const info = denoiser.model.info;
  if (
    source.shape.length !== 4 ||
    source.batch !== 1 ||
    (info.space === "pixel" && source.shape[1] !== info.channels)
  ) {
    throw new TweedieError("DreamSampler needs one source image shaped [1, C, H, W]", {
      code: "shape_mismatch",
      path: ["problem", "source"],
      expected: info.space === "pixel" ? `[1, ${info.channels}, H, W]` : "[1, C, H, W]",
      received: [...source.shape],
    });
  }
}

function resolveLatentPath(
  denoiser: Denoiser,
  requested: DreamSamplerParams["latentGradient"],
): LatentPath {
  const model = denoiser.model;
  if (model.info.space === "pixel") return "pixel";
  const hasVjp = typeof model.decodeVjp === "function";
  if (requested === "decoder-vjp" && !hasVjp) {
    throw new TweedieError("the model package has no decoder VJP graph", {
      code: "unsupported",
      path: ["params", "latentGradient"],
      expected: '"pixel-reencode" or "auto"',
      received: requested,
    });
  }
  if (requested === "auto") return hasVjp ? "decoder-vjp" : "pixel-reencode";
  return requested;
}

async function encode(denoiser: Denoiser, image: Tensor): Promise<Tensor> {
  const model = denoiser.model;
  if (model.info.space === "pixel") return image;
  if (!model.encode || !model.decode) {
    throw new TweedieError("latent model package has no VAE encoder or decoder", {
      code: "unsupported",
      path: [model.info.name, "vae"],
      expected: "encode and decode graphs",
    });
  }
  return model.encode(image);
}

async function decode(denoiser: Denoiser, z: Tensor): Promise<Tensor> {
  return denoiser.model.info.space === "pixel" ? z : denoiser.model.decode!(z);
}
