import type { z } from "zod";
import type { Denoiser } from "../denoiser.js";
import type { Rng } from "../rng.js";
import type { Tensor } from "../tensor.js";
import type { Operator } from "./operator.js";

export type Task = "restoration" | "editing";

/** y = A(x0) + sigmaY * n, with every tensor on the model's [-1, 1] pixel range. */
export interface RestorationProblem {
  kind: "restoration";
  denoiser: Denoiser;
  operator: Operator;
  y: Tensor;
  /** Measurement noise std on [-1, 1]; 0 means noise-free. */
  sigmaY: number;
  /** Shape of one unknown image [C, H, W] (from the operator, never from y). */
  shape: readonly number[];
  prompt?: string;
}

export interface EditingProblem {
  kind: "editing";
  denoiser: Denoiser;
  /** Source image on [-1, 1], batch 1. */
  source: Tensor;
  sourcePrompt: string;
  targetPrompt: string;
}

export type Problem = RestorationProblem | EditingProblem;

/** The same payload for every solver, reported after each step. */
export interface StepInfo {
  step: number;
  totalSteps: number;
  t: number;
  nfe: number;
  x0Hat: Tensor;
}

export interface SolveOptions {
  onStep?: (info: StepInfo) => void;
  signal?: AbortSignal;
}

export interface SolveResult {
  /**
   * Output image(s) [S, C, H, W] on [-1, 1]: one per posterior sample for a batch-1
   * problem (S = the solver's `samples` parameter, 1 by default).
   */
  x: Tensor;
  /** Per-pixel mean and standard deviation over the S samples, when S > 1. */
  mean?: Tensor;
  std?: Tensor;
  nfe: number;
  steps: number;
  /** Effective settings and diagnostics recorded with the result (gradient mode, ...). */
  diagnostics: Record<string, unknown>;
}

export interface Solver {
  solve(problem: Problem, rng: Rng, options?: SolveOptions): Promise<SolveResult>;
}

export interface Preset<P> {
  params: Partial<P>;
  /** Source of the values: a paper section, or a repository file and commit. */
  source: string;
}

export interface SolverRequirements {
  conditioning?: boolean;
  space?: "pixel" | "latent" | "any";
}

export interface SolverPlugin<P extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  version: string;
  description: string;
  tasks: readonly Task[];
  /** Parses raw params, filling documented defaults; the only source of defaults. */
  paramsSchema: z.ZodType<P>;
  presets: Readonly<Record<string, Preset<P>>>;
  requires: SolverRequirements;
  create(params: P): Solver;
}
