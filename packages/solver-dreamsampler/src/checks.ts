import { type SolveOptions, type StepInfo, Tensor, TweedieError } from "@tweedie/core";

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

/** Per-pixel mean and population standard deviation over the samples of x [S, ...]. */
export function sampleStatistics(x: Tensor): { mean: Tensor; std: Tensor } {
  const count = x.batch;
  const size = x.size / count;
  const mean = new Float32Array(size);
  const std = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let sum = 0;
    let squares = 0;
    for (let s = 0; s < count; s++) {
      const value = x.data[s * size + i];
      sum += value;
      squares += value * value;
    }
    const m = sum / count;
    mean[i] = m;
    std[i] = Math.sqrt(Math.max(0, squares / count - m * m));
  }
  const shape = [1, ...x.shape.slice(1)];
  return { mean: new Tensor(mean, shape), std: new Tensor(std, shape) };
}
