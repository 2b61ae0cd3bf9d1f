import {
  axpy,
  type Conditioning,
  type Problem,
  type Rng,
  type SolveOptions,
  type SolveResult,
  type Solver,
  type Tensor,
} from "@tweedie/core";
import {
  conditionPrompts,
  decodeResult,
  editingOnly,
  encodeSource,
  runSamples,
  throwIfCancelled,
  throwIfDiverged,
} from "./editing.js";
import { type Branch, flowPoint, predictVelocity } from "./flow-time.js";
import { noised } from "./flowedit.js";
import type { SdEditParams } from "./params.js";

/**
 * SDEdit (Meng et al., "SDEdit: Guided Image Synthesis and Editing with Stochastic
 * Differential Equations", ICLR 2022, arXiv 2108.01073) on a flow: noise the source to t0,
 *   x = (1 - t0) x_src + t0 eps,
 * then integrate the target's CFG velocity (the empty prompt as negative) to tau = 0 with
 * Euler steps evenly spaced in flow time. The simplest editing baseline: it keeps only
 * what survives the noise, so its faithfulness to the source falls as t0 grows.
 */
export class SdEditSolver implements Solver {
  constructor(readonly params: SdEditParams) {}

  async solve(problem: Problem, rng: Rng, options: SolveOptions = {}): Promise<SolveResult> {
    const p = editingOnly(problem, "SDEdit");
    const { denoiser } = p;
    const { t0, steps } = this.params;
    const prompts = await conditionPrompts(denoiser, ["", p.targetPrompt]);
    const target: Branch = {
      cond: prompts.get(p.targetPrompt) as Conditioning,
      uncond: p.targetPrompt === "" ? undefined : (prompts.get("") as Conditioning),
      cfgScale: this.params.cfgScale,
    };
    const source = await encodeSource(denoiser, p.source);
    const points = Array.from({ length: steps + 1 }, (_, k) =>
      flowPoint(denoiser.schedule, t0 * (1 - k / steps)),
    );

    const editOne = async (sampleRng: Rng, sample: number): Promise<Tensor> => {
      const x = noised(source, points[0].tau, sampleRng.split("init").normalTensor(source.shape));
      for (let i = 0; i < steps; i++) {
        const where = { solver: "SDEdit", sample, step: i + 1, totalSteps: steps };
        throwIfCancelled(options.signal, where);
        const { velocity, x0Hat } = await predictVelocity(denoiser, x, points[i], target);
        axpy(points[i + 1].tau - points[i].tau, velocity, x);
        throwIfDiverged(x, this.params.divergenceLimit, where);
        options.onStep?.({
          step: i + 1,
          totalSteps: steps,
          t: points[i].t,
          nfe: denoiser.nfe,
          x0Hat,
        });
      }
      return decodeResult(denoiser, x);
    };
    return runSamples(denoiser, this.params.samples, rng, editOne, {
      steps,
      diagnostics: { t0: points[0].tau, cfgScale: this.params.cfgScale },
    });
  }
}
