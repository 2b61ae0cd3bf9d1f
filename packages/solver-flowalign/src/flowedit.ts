import {
  axpby,
  axpy,
  type Conditioning,
  type Denoiser,
  type Problem,
  type Rng,
  type SolveOptions,
  type SolveResult,
  type Solver,
  sub,
  Tensor,
} from "@tweedie/core";
import {
  conditionPrompts,
  decodeResult,
  editingOnly,
  encodeSource,
  runSamples,
  type StepLocation,
  throwIfCancelled,
  throwIfDiverged,
} from "./editing.js";
import { type Branch, type FlowPoint, flowPoints, predictVelocity } from "./flow-time.js";
import type { FlowEditParams } from "./params.js";

interface EditContext {
  denoiser: Denoiser;
  source: Tensor;
  points: FlowPoint[];
  sourceBranch: Branch;
  targetBranch: Branch;
}

/**
 * FlowEdit (Kulikov, Kleiner, Huberman-Spiegelglas and Michaeli, "FlowEdit: Inversion-Free
 * Text-Based Editing Using Pre-Trained Flow Models", ICCV 2025, arXiv 2412.08629), as the
 * official `FlowEditSD3` implements it (fallenshock/FlowEdit, FlowEdit_utils.py, commit
 * 457f402). No inversion: at each of the last nMax steps a fresh eps noises the source,
 *   q = (1 - tau) x_src + tau eps,  p = x + q - x_src,
 *   x <- x + (tau' - tau) (V_tar(p) - V_src(q)),
 * where V_src and V_tar are CFG velocities with the empty prompt as negative. The last
 * nMin steps switch to plain Euler sampling of the target from p. Any schedule runs in its
 * flow-equivalent form (see flow-time.ts), so VP models take the same steps in tau.
 */
export class FlowEditSolver implements Solver {
  constructor(readonly params: FlowEditParams) {}

  async solve(problem: Problem, rng: Rng, options: SolveOptions = {}): Promise<SolveResult> {
    const p = editingOnly(problem, "FlowEdit");
    const { denoiser } = p;
    const prompts = await conditionPrompts(denoiser, ["", p.sourcePrompt, p.targetPrompt]);
    const branch = (prompt: string, cfgScale: number): Branch => ({
      cond: prompts.get(prompt) as Conditioning,
      // Guidance between a prompt and itself changes nothing, so "" skips the second evaluation.
      uncond: prompt === "" ? undefined : (prompts.get("") as Conditioning),
      cfgScale,
    });
    const context: EditContext = {
      denoiser,
      source: await encodeSource(denoiser, p.source),
      points: flowPoints(denoiser.schedule, this.params),
      sourceBranch: branch(p.sourcePrompt, this.params.sourceCfg),
      targetBranch: branch(p.targetPrompt, this.params.targetCfg),
    };
    const first = this.params.steps - this.params.nMax;
    return runSamples(
      denoiser,
      this.params.samples,
      rng,
      async (sampleRng, sample) =>
        decodeResult(denoiser, await this.editOne(context, sampleRng, sample, options)),
      {
        steps: this.params.nMax,
        diagnostics: {
          startTau: context.points[first].tau,
          grid: context.points.slice(first).map((point) => Number(point.tau.toFixed(6))),
          sourceCfg: this.params.sourceCfg,
          targetCfg: this.params.targetCfg,
        },
      },
    );
  }

  private async editOne(
    context: EditContext,
    rng: Rng,
    sample: number,
    options: SolveOptions,
  ): Promise<Tensor> {
    const { steps, nMax, nMin } = this.params;
    const { denoiser, source, points } = context;
    let x = source.clone();
    let sampling = false;
    for (let i = steps - nMax; i < steps; i++) {
      const where: StepLocation = {
        solver: "FlowEdit",
        sample,
        step: i - (steps - nMax) + 1,
        totalSteps: nMax,
      };
      throwIfCancelled(options.signal, where);
      const point = points[i];
      const dTau = points[i + 1].tau - point.tau;

      if (!sampling && steps - i > nMin) {
        // 1. FlowEdit phase: average V_tar(p) - V_src(q) over nAvg fresh noises.
        axpy(dTau, await this.velocityDifference(context, x, point, rng.split("step", i)), x);
      } else {
        // 2. Last nMin steps: at the switch, x becomes p = q + (x - x_src); then Euler on V_tar.
        if (!sampling) {
          const q = noised(source, point.tau, rng.split("step", i, 0).normalTensor(source.shape));
          x = axpby(1, q, 1, sub(x, source));
          sampling = true;
        }
        const target = await predictVelocity(denoiser, x, point, context.targetBranch);
        axpy(dTau, target.velocity, x);
      }

      throwIfDiverged(x, this.params.divergenceLimit, where);
      options.onStep?.({
        step: where.step,
        totalSteps: nMax,
        t: point.t,
        nfe: denoiser.nfe,
        x0Hat: x,
      });
    }
    return x;
  }

  /** (1 / nAvg) sum_k [V_tar(x + q_k - x_src) - V_src(q_k)] with q_k = (1 - tau) x_src + tau eps_k. */
  private async velocityDifference(
    context: EditContext,
    x: Tensor,
    point: FlowPoint,
    stepRng: Rng,
  ): Promise<Tensor> {
    const { denoiser, source } = context;
    const { nAvg } = this.params;
    const mean = Tensor.zeros(x.shape);
    const offset = sub(x, source);
    for (let k = 0; k < nAvg; k++) {
      const q = noised(source, point.tau, stepRng.split(k).normalTensor(source.shape));
      const p = axpby(1, q, 1, offset);
      const vSource = await predictVelocity(denoiser, q, point, context.sourceBranch);
      const vTarget = await predictVelocity(denoiser, p, point, context.targetBranch);
      axpy(1 / nAvg, sub(vTarget.velocity, vSource.velocity), mean);
    }
    return mean;
  }
}

/** Computes the flow state (1 - tau) x0 + tau eps. */
export function noised(x0: Tensor, tau: number, eps: Tensor): Tensor {
  return axpby(1 - tau, x0, tau, eps);
}
