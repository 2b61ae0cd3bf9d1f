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
  type Tensor,
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
import { noised } from "./flowedit.js";
import type { FlowAlignParams } from "./params.js";

/**
 * Deliberate faults, for the tests that check that the digits benchmark detects a wrong
 * implementation. The plugin never sets them.
 */
export interface FlowAlignFaults {
  /**
   * Move the guidance to the wrong branch: v_p = v(p, tgt) without CFG and
   * v_q = v(q, tgt) + omega (v(q, src) - v(q, tgt)).
   */
  cfgOnSourceBranch?: boolean;
}

interface AlignContext {
  denoiser: Denoiser;
  source: Tensor;
  points: FlowPoint[];
  /** v_p: target prompt, guided against the source prompt. */
  targetBranch: Branch;
  /** v_q: source prompt, no guidance. */
  sourceBranch: Branch;
}

/**
 * FlowAlign (Kim, Hong, Park and Ye, "FlowAlign: Trajectory-Regularized, Inversion-Free
 * Flow-based Image Editing", ICLR 2026, arXiv 2505.23145), as the official `SD3FlowAlign`
 * implements it (FlowAlign/FlowAlign, diffusion/editing/sd3_edit.py, commit 29c6fe1). Over
 * the whole grid from tau = 1, with a fresh eps per step,
 *   q = (1 - tau) x_src + tau eps,  p = x + q - x_src,
 *   v_p = v(p, src) + omega (v(p, tgt) - v(p, src)),  v_q = v(q, src),
 *   x <- x + (tau' - tau) (v_p - v_q) + gamma (E[q0 | q] - E[p0 | p]),
 * with E[q0 | q] = q - tau v_q (Tweedie). The last term is the source-consistency control
 * (zeta in the paper, 0.01 in the code): since p - q = x - x_src it equals
 * gamma [(x_src - x) + tau (v_p - v_q)], a pull of the edit toward the source.
 */
export class FlowAlignSolver implements Solver {
  constructor(
    readonly params: FlowAlignParams,
    private readonly faults: FlowAlignFaults = {},
  ) {}

  async solve(problem: Problem, rng: Rng, options: SolveOptions = {}): Promise<SolveResult> {
    const p = editingOnly(problem, "FlowAlign");
    const { denoiser } = p;
    const prompts = await conditionPrompts(denoiser, [p.sourcePrompt, p.targetPrompt]);
    const source = prompts.get(p.sourcePrompt) as Conditioning;
    const target = prompts.get(p.targetPrompt) as Conditioning;

    // Guidance between a prompt and itself changes nothing, so equal prompts skip it.
    const guide = p.sourcePrompt !== p.targetPrompt;
    const { cfgScale } = this.params;
    let targetBranch: Branch = { cond: target, uncond: guide ? source : undefined, cfgScale };
    let sourceBranch: Branch = { cond: source, cfgScale: 1 };
    if (this.faults.cfgOnSourceBranch) {
      targetBranch = { cond: target, cfgScale: 1 };
      sourceBranch = { cond: source, uncond: guide ? target : undefined, cfgScale };
    }

    const context: AlignContext = {
      denoiser,
      source: await encodeSource(denoiser, p.source),
      points: flowPoints(denoiser.schedule, this.params),
      targetBranch,
      sourceBranch,
    };

    return runSamples(
      denoiser,
      this.params.samples,
      rng,
      async (sampleRng, sample) =>
        decodeResult(denoiser, await this.editOne(context, sampleRng, sample, options)),
      {
        steps: this.params.steps,
        diagnostics: {
          grid: context.points.map((point) => Number(point.tau.toFixed(6))),
          gamma: this.params.gamma,
          cfgScale: this.params.cfgScale,
        },
      },
    );
  }

  private async editOne(
    context: AlignContext,
    rng: Rng,
    sample: number,
    options: SolveOptions,
  ): Promise<Tensor> {
    const { steps, gamma } = this.params;
    const { denoiser, source, points } = context;
    const x = source.clone();
    for (let i = 0; i < steps; i++) {
      const where: StepLocation = { solver: "FlowAlign", sample, step: i + 1, totalSteps: steps };
      throwIfCancelled(options.signal, where);
      const point = points[i];
      const dTau = points[i + 1].tau - point.tau;

      // 1. Noise the source with a fresh eps and carry the edit offset: q and p.
      const q = noised(source, point.tau, rng.split("step", i).normalTensor(source.shape));
      const p = axpby(1, x, 1, sub(q, source));

      // 2. v_p with CFG (source prompt as negative) and v_q without, each with its x0Hat.
      const atP = await predictVelocity(denoiser, p, point, context.targetBranch);
      const atQ = await predictVelocity(denoiser, q, point, context.sourceBranch);

      // 3. FlowEdit-like step, then the source-consistency term gamma (x0Hat(q) - x0Hat(p)).
      axpy(dTau, sub(atP.velocity, atQ.velocity), x);
      axpy(gamma, sub(atQ.x0Hat, atP.x0Hat), x);

      throwIfDiverged(x, this.params.divergenceLimit, where);
      options.onStep?.({ step: i + 1, totalSteps: steps, t: point.t, nfe: denoiser.nfe, x0Hat: x });
    }
    return x;
  }
}
