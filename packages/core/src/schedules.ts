import type { ScheduleSpec } from "./contracts/model.js";
import { TweedieError } from "./errors.js";

/**
 * The forward process x_t = alpha(t) x0 + sigma(t) eps on continuous t in [0, 1]
 * (t = 0 data, t = 1 noise). Discrete (VP) schedules map step index i in 0..steps-1 to
 * t = (i + 1) / steps, so t = 1 is the last training step.
 */
export interface Schedule {
  readonly spec: ScheduleSpec;
  alpha(t: number): number;
  sigma(t: number): number;
  /** d alpha / dt. */
  dAlpha(t: number): number;
  /** d sigma / dt. */
  dSigma(t: number): number;
  /** Number of discrete training steps (VP schedules); null for continuous ones. */
  readonly steps: number | null;
}

/** TODO: implementation pending. */
export function createSchedule(spec: ScheduleSpec): Schedule {
  throw new TweedieError("schedules are not implemented yet", { code: "unsupported", received: spec.kind });
}
