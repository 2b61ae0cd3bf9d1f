import { type SolveOptions, type StepInfo, type Tensor, TweedieError } from "@tweedie/core";

/** Per-sample loop state shared by the inversion and the sampling loops. */
export interface LoopHooks {
  options: SolveOptions;
  sample: number;
  /** Steps reported before this loop (the inversion's, for the sampling loop). */
  stepOffset: number;
  totalSteps: number;
  divergenceLimit: number;
}

/** Throws `cancelled` when the signal has fired; called before every step. */
export function throwIfCancelled(hooks: LoopHooks, step: number): void {
  if (hooks.options.signal?.aborted) {
    const at = hooks.stepOffset + step;
    throw new TweedieError(`DreamSampler cancelled before step ${at}`, {
      code: "cancelled",
      path: ["sample", hooks.sample, "step", at],
      cause: hooks.options.signal.reason,
    });
  }
}

/**
 * Throws `diverged` when x0Hat leaves [-limit, limit] or is not finite. On [-1, 1] images a
 * clean estimate beyond 10 means the guidance has made the iteration unstable.
 */
export function throwIfDiverged(x0Hat: Tensor, hooks: LoopHooks, step: number): void {
  let largest = 0;
  for (const value of x0Hat.data) {
    if (!Number.isFinite(value)) {
      largest = Number.NaN;
      break;
    }
    largest = Math.max(largest, Math.abs(value));
  }
  if (largest <= hooks.divergenceLimit) return;
  const at = hooks.stepOffset + step;
  const value = Number.isNaN(largest)
    ? "a non-finite value"
    : `max |x0Hat| = ${largest.toPrecision(4)}`;
  throw new TweedieError(
    `DreamSampler diverged at step ${at} of ${hooks.totalSteps}: ${value}, above the limit ${hooks.divergenceLimit}`,
    {
      code: "diverged",
      path: ["sample", hooks.sample, "step", at, "x0Hat"],
      expected: `finite values within [-${hooks.divergenceLimit}, ${hooks.divergenceLimit}]`,
      received: Number.isNaN(largest) ? "non-finite" : largest,
      hint: "lower lambda; large editing weights overshoot on sharp priors",
    },
  );
}

/** Reports one finished step through `onStep`. */
export function reportStep(
  hooks: LoopHooks,
  step: number,
  info: Omit<StepInfo, "step" | "totalSteps">,
): void {
  hooks.options.onStep?.({ step: hooks.stepOffset + step, totalSteps: hooks.totalSteps, ...info });
}

export { sampleStatistics } from "@tweedie/core";
