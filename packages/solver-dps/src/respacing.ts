import { respacedGrid, type Schedule, TweedieError, timeOfIndex } from "@tweedie/core";

/**
 * The DDPM reverse process on a (possibly respaced) grid, in float64. Entry i belongs to
 * sampling step i, ascending in time: training step `timesteps[i]` at t = (k + 1) / T.
 * Respacing keeps evenly spaced training steps (guided-diffusion's space_timesteps) and
 * recomputes beta_i = 1 - alphaBar_i / alphaBar_{i-1} at the kept steps, so the full grid
 * reproduces the training betas.
 */
export interface DdpmGrid {
  readonly trainSteps: number;
  readonly timesteps: readonly number[];
  readonly times: readonly number[];
  readonly alphaBar: Float64Array;
  /** alphaBar of the previous kept step; 1 before the first. */
  readonly alphaBarPrevious: Float64Array;
  readonly betas: Float64Array;
  /** betaTilde_i = beta_i (1 - alphaBar_{i-1}) / (1 - alphaBar_i), the posterior variance. */
  readonly posteriorVariance: Float64Array;
  /** Coefficient of x0Hat in the posterior mean: beta_i sqrt(alphaBar_{i-1}) / (1 - alphaBar_i). */
  readonly meanX0: Float64Array;
  /** Coefficient of x_t in the posterior mean: (1 - alphaBar_{i-1}) sqrt(1 - beta_i) / (1 - alphaBar_i). */
  readonly meanXt: Float64Array;
}

/**
 * Builds the DDPM grid of `steps` sampling steps on a discrete schedule. Throws when the
 * schedule is continuous or `steps` exceeds its training steps.
 */
export function createDdpmGrid(schedule: Schedule, steps: number): DdpmGrid {
  const trainAlphaBar = schedule.alphaBars;
  if (schedule.steps === null || trainAlphaBar === null) {
    throw new TweedieError("DPS needs a discrete (DDPM) schedule", {
      code: "unsupported",
      path: ["model", "schedule", "kind"],
      expected: "vp-linear, scaled-linear or cosine",
      received: schedule.spec.kind,
    });
  }
  if (steps > schedule.steps) {
    throw new TweedieError(`steps ${steps} > schedule length ${schedule.steps}`, {
      code: "out_of_range",
      path: ["steps"],
      expected: `at most ${schedule.steps} (the model's training steps)`,
      received: steps,
    });
  }
  const timesteps = respacedGrid(schedule, steps).reverse();
  const alphaBar = Float64Array.from(timesteps, (k) => trainAlphaBar[k]);
  const alphaBarPrevious = Float64Array.from(alphaBar, (_, i) => (i === 0 ? 1 : alphaBar[i - 1]));
  const betas = Float64Array.from(alphaBar, (ab, i) => 1 - ab / alphaBarPrevious[i]);
  const posteriorVariance = Float64Array.from(
    betas,
    (beta, i) => (beta * (1 - alphaBarPrevious[i])) / (1 - alphaBar[i]),
  );
  const meanX0 = Float64Array.from(
    betas,
    (beta, i) => (beta * Math.sqrt(alphaBarPrevious[i])) / (1 - alphaBar[i]),
  );
  const meanXt = Float64Array.from(
    betas,
    (beta, i) => ((1 - alphaBarPrevious[i]) * Math.sqrt(1 - beta)) / (1 - alphaBar[i]),
  );
  return {
    trainSteps: schedule.steps,
    timesteps,
    times: timesteps.map((k) => timeOfIndex(schedule, k)),
    alphaBar,
    alphaBarPrevious,
    betas,
    posteriorVariance,
    meanX0,
    meanXt,
  };
}
