import {
  alphaBarAt,
  createSchedule,
  ddimGrid,
  type Schedule,
  type ScheduleSpec,
  timeAtSigma,
  timeOfIndex,
} from "@tweedie/core";

/**
 * One noise level of the DDIM grid on the model's own schedule: x_t = alpha x0 + sigma eps.
 * `alphaBar` is the VP-equivalent signal fraction alpha^2 / (alpha^2 + sigma^2), which is
 * alphaBar_t itself for a VP schedule. Dividing a state by sqrt(alpha^2 + sigma^2) turns
 * any schedule into the VP one at that alphaBar, and x0Hat and epsHat do not change, so
 * the official VP update written with (alpha, sigma) is the same algorithm on every model.
 */
export interface NoiseLevel {
  t: number;
  alpha: number;
  sigma: number;
  alphaBar: number;
}

/** The schedules a rectified-flow model borrows its DDIM noise levels from. */
export const REFERENCE_SCHEDULES: Readonly<Record<"sd15" | "ddpm", ScheduleSpec>> = {
  sd15: { kind: "scaled-linear", betaStart: 0.00085, betaEnd: 0.012, steps: 1000 },
  ddpm: { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 },
};

/** Returns the noise level at model time t. */
export function levelAt(schedule: Schedule, t: number): NoiseLevel {
  const alpha = schedule.alpha(t);
  const sigma = schedule.sigma(t);
  return { t, alpha, sigma, alphaBar: (alpha * alpha) / (alpha * alpha + sigma * sigma) };
}

/**
 * Model time whose VP-equivalent alphaBar is `alphaBar`. A rectified flow reaches it at
 * sigma = sqrt(1 - a) / (sqrt(a) + sqrt(1 - a)), the flow time of the same signal-to-noise
 * ratio; other schedules bisect, since alphaBar falls as t grows.
 */
export function timeAtAlphaBar(schedule: Schedule, alphaBar: number): number {
  const signal = Math.sqrt(alphaBar);
  const noise = Math.sqrt(1 - alphaBar);
  if (schedule.spec.kind === "rectified-flow") {
    return timeAtSigma(schedule, Math.min(schedule.sigma(1), noise / (signal + noise)));
  }
  let low = 0;
  let high = 1;
  for (let i = 0; i < 64; i++) {
    const mid = 0.5 * (low + high);
    if (levelAt(schedule, mid).alphaBar > alphaBar) low = mid;
    else high = mid;
  }
  return 0.5 * (low + high);
}

/**
 * The DDIM levels, ascending: level 0 is the clean image (t = 0) and levels 1..steps are the
 * DDIM grid (diffusers "leading" spacing, skip = floor(trainSteps / steps): 0, 5, ..., 995
 * for 200 steps). A VP model uses its own training steps. Any other schedule takes the
 * alphaBar of `reference` at those steps, at the model time with the same alphaBar.
 *
 * NOTE: the official code prepends 1 to alphas_cumprod, so the UNet sees timestep k while
 * the update uses alphaBar[k - 1]; this grid keeps the network's time and its alphaBar
 * consistent (the network sees step k - 1 of the official grid 1, 6, ..., 996).
 */
export function ddimLevels(
  schedule: Schedule,
  steps: number,
  reference: ScheduleSpec,
): NoiseLevel[] {
  const own = schedule.steps !== null;
  const vp = own ? schedule : createSchedule(reference);
  const indices = ddimGrid(steps, { trainSteps: vp.steps as number }).reverse();
  const levels = [levelAt(schedule, 0)];
  for (const index of indices) {
    const t = own ? timeOfIndex(schedule, index) : timeAtAlphaBar(schedule, alphaBarAt(vp, index));
    levels.push(levelAt(schedule, t));
  }
  return levels;
}
