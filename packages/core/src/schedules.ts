import type { ScheduleSpec } from "./contracts/model.js";
import { TweedieError } from "./errors.js";

/**
 * The forward process x_t = alpha(t) x0 + sigma(t) eps on continuous t in [0, 1]
 * (t = 0 data, t = 1 noise). Discrete (VP) schedules map step index i in 0..steps-1 to
 * t = (i + 1) / steps, so t = 1 is the last training step. Between grid points
 * log alphaBar is linear in t (cosine: the closed form up to the last unclipped step), so
 * alpha, sigma and their derivatives are defined for every t. Rectified flow has
 * alpha = 1 - t' and sigma = t' with t' = s t / (1 + (s - 1) t) for shift s.
 */
export interface Schedule {
  readonly spec: ScheduleSpec;
  alpha(t: number): number;
  sigma(t: number): number;
  /** d alpha / dt. */
  dAlpha(t: number): number;
  /** d sigma / dt; +Infinity at t = 0 for VP schedules, where sigma grows as sqrt(t). */
  dSigma(t: number): number;
  /** Number of discrete training steps (VP schedules); null for continuous ones. */
  readonly steps: number | null;
  /** Per-step betas in float64 (VP schedules, after clipping); null for continuous ones. */
  readonly betas: readonly number[] | null;
  /** Per-step alphaBar = cumulative product of (1 - beta) in float64; null for continuous ones. */
  readonly alphaBars: readonly number[] | null;
}

function invalidSpec(field: string, expected: string, received: unknown): TweedieError {
  return new TweedieError(`invalid schedule ${field}`, {
    code: "invalid_value",
    path: ["schedule", field],
    expected,
    received,
  });
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 2) {
    throw invalidSpec("steps", "an integer of at least 2", steps);
  }
}

function checkBeta(field: string, beta: number): void {
  if (!(beta > 0 && beta < 1)) throw invalidSpec(field, "a number in (0, 1)", beta);
}

function checkTime(t: number): void {
  if (!(t >= 0 && t <= 1)) {
    throw new TweedieError("schedule time out of range", {
      code: "out_of_range",
      path: ["t"],
      expected: "a number in [0, 1]",
      received: t,
    });
  }
}

/** numpy.linspace in float64: start + i * step, with the last value set to `stop`. */
function linspace(start: number, stop: number, count: number): Float64Array {
  const out = new Float64Array(count);
  const step = count > 1 ? (stop - start) / (count - 1) : 0;
  for (let i = 0; i < count; i++) out[i] = start + i * step;
  if (count > 1) out[count - 1] = stop;
  return out;
}

function cumulativeProduct(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= 1 - betas[i];
    out[i] = product;
  }
  return out;
}

/** Closed-form log alphaBar and its t-derivative, valid for t in [0, until]. */
interface ClosedForm {
  until: number;
  logAlphaBar(t: number): number;
  dLogAlphaBar(t: number): number;
}

/**
 * A discrete VP schedule. `logKnots[i]` is log alphaBar at t = (i + 1) / steps, and
 * log alphaBar = 0 at t = 0. Where `closedForm` is given it holds up to its `until`, and
 * the knots after it continue the log-linear interpolation.
 */
class VpSchedule implements Schedule {
  readonly steps: number;
  readonly betas: readonly number[];
  readonly alphaBars: readonly number[];
  private readonly logKnots: Float64Array;

  constructor(
    readonly spec: ScheduleSpec,
    betas: Float64Array,
    private readonly closedForm: ClosedForm | null,
  ) {
    this.steps = betas.length;
    const alphaBars = cumulativeProduct(betas);
    this.betas = Object.freeze(Array.from(betas));
    this.alphaBars = Object.freeze(Array.from(alphaBars));
    this.logKnots = alphaBars.map(Math.log);
    if (closedForm) {
      // Knots inside the closed-form range use it, so the interpolation joins it without a
      // jump; later knots add log(1 - beta) for the clipped steps.
      for (let i = 0; i < this.steps; i++) {
        const t = (i + 1) / this.steps;
        this.logKnots[i] =
          t <= closedForm.until
            ? closedForm.logAlphaBar(t)
            : this.logKnots[i - 1] + Math.log1p(-betas[i]);
      }
    }
  }

  /** log alphaBar(t) and its derivative. */
  private logAlphaBar(t: number): [number, number] {
    checkTime(t);
    if (this.closedForm && t <= this.closedForm.until) {
      return [this.closedForm.logAlphaBar(t), this.closedForm.dLogAlphaBar(t)];
    }
    // Segment k covers t in (k / steps, (k + 1) / steps]; t = 0 belongs to segment 0.
    const n = this.steps;
    const k = Math.min(n - 1, Math.max(0, Math.ceil(t * n) - 1));
    const left = k === 0 ? 0 : this.logKnots[k - 1];
    const slope = (this.logKnots[k] - left) * n;
    return [left + (t - k / n) * slope, slope];
  }

  alpha(t: number): number {
    return Math.exp(0.5 * this.logAlphaBar(t)[0]);
  }

  sigma(t: number): number {
    // max(0, ...) turns the -0 of expm1(0) at t = 0 into +0.
    return Math.sqrt(Math.max(0, -Math.expm1(this.logAlphaBar(t)[0])));
  }

  dAlpha(t: number): number {
    const [log, slope] = this.logAlphaBar(t);
    return 0.5 * slope * Math.exp(0.5 * log);
  }

  dSigma(t: number): number {
    // sigma^2 = 1 - alphaBar, so d sigma / dt = -alphaBar (d log alphaBar / dt) / (2 sigma).
    const [log, slope] = this.logAlphaBar(t);
    const sigma = Math.sqrt(Math.max(0, -Math.expm1(log)));
    return (-Math.exp(log) * slope) / (2 * sigma);
  }
}

function linearSchedule(spec: Extract<ScheduleSpec, { kind: "vp-linear" }>): Schedule {
  checkSteps(spec.steps);
  checkBeta("betaStart", spec.betaStart);
  checkBeta("betaEnd", spec.betaEnd);
  return new VpSchedule(spec, linspace(spec.betaStart, spec.betaEnd, spec.steps), null);
}

function scaledLinearSchedule(spec: Extract<ScheduleSpec, { kind: "scaled-linear" }>): Schedule {
  checkSteps(spec.steps);
  checkBeta("betaStart", spec.betaStart);
  checkBeta("betaEnd", spec.betaEnd);
  const roots = linspace(Math.sqrt(spec.betaStart), Math.sqrt(spec.betaEnd), spec.steps);
  return new VpSchedule(
    spec,
    roots.map((root) => root * root),
    null,
  );
}

/** Largest beta the cosine schedule allows (Nichol and Dhariwal 2021, arXiv 2102.09672). */
const COSINE_MAX_BETA = 0.999;

/**
 * Cosine schedule of Nichol and Dhariwal (arXiv 2102.09672, eq. 17):
 * alphaBar(t) = f(t) / f(0) with f(t) = cos^2((t + s) / (1 + s) pi / 2), and
 * beta_i = min(1 - alphaBar((i + 1) / N) / alphaBar(i / N), 0.999).
 */
function cosineSchedule(spec: Extract<ScheduleSpec, { kind: "cosine" }>): Schedule {
  checkSteps(spec.steps);
  const s = spec.offset ?? 0.008;
  // s > 0 keeps beta_0 away from 0 and sigma(t) ~ sqrt(t) near t = 0 like the other VP
  // schedules; with s = 0 the derivative formula below would give 0 / 0 at t = 0.
  if (!(s > 0 && Number.isFinite(s))) throw invalidSpec("offset", "a finite number > 0", s);
  const n = spec.steps;
  const rate = Math.PI / (2 * (1 + s));
  const logCos0 = Math.log(Math.cos(s * rate));
  const logAlphaBar = (t: number) => 2 * (Math.log(Math.cos((t + s) * rate)) - logCos0);
  const dLogAlphaBar = (t: number) => -2 * rate * Math.tan((t + s) * rate);

  const betas = new Float64Array(n);
  let lastUnclipped = -1;
  for (let i = 0; i < n; i++) {
    const ratio = Math.exp(logAlphaBar((i + 1) / n) - logAlphaBar(i / n));
    betas[i] = Math.min(1 - ratio, COSINE_MAX_BETA);
    if (betas[i] < COSINE_MAX_BETA && lastUnclipped === i - 1) lastUnclipped = i;
  }
  // alphaBar(1) = 0, so at least the last beta is clipped and the closed form stops short.
  const until = (lastUnclipped + 1) / n;
  return new VpSchedule(spec, betas, { until, logAlphaBar, dLogAlphaBar });
}

class FlowSchedule implements Schedule {
  readonly steps = null;
  readonly betas = null;
  readonly alphaBars = null;

  constructor(
    readonly spec: Extract<ScheduleSpec, { kind: "rectified-flow" }>,
    private readonly shift: number,
  ) {}

  /** Computes the shifted time t' = s t / (1 + (s - 1) t). */
  private shifted(t: number): number {
    checkTime(t);
    return (this.shift * t) / (1 + (this.shift - 1) * t);
  }

  /** d t' / dt = s / (1 + (s - 1) t)^2. */
  private dShifted(t: number): number {
    checkTime(t);
    const denominator = 1 + (this.shift - 1) * t;
    return this.shift / (denominator * denominator);
  }

  alpha(t: number): number {
    return 1 - this.shifted(t);
  }

  sigma(t: number): number {
    return this.shifted(t);
  }

  dAlpha(t: number): number {
    return -this.dShifted(t);
  }

  dSigma(t: number): number {
    return this.dShifted(t);
  }
}

function flowSchedule(spec: Extract<ScheduleSpec, { kind: "rectified-flow" }>): Schedule {
  if (!(spec.shift > 0 && Number.isFinite(spec.shift))) {
    throw invalidSpec("shift", "a finite number > 0", spec.shift);
  }
  return new FlowSchedule(spec, spec.shift);
}

/**
 * Creates the schedule a model package declares. VP betas are used as given (no
 * rescaling by 1000 / steps) and accumulated in float64. diffusers builds the
 * scaled-linear schedule in float32, so its alphaBar differs from this one by the
 * float32 rounding of the cumulative product (up to 1.6e-6 relative in a numpy float32
 * emulation of SD 1.5's 1000 steps).
 */
export function createSchedule(spec: ScheduleSpec): Schedule {
  switch (spec.kind) {
    case "vp-linear":
      return linearSchedule(spec);
    case "scaled-linear":
      return scaledLinearSchedule(spec);
    case "cosine":
      return cosineSchedule(spec);
    case "rectified-flow":
      return flowSchedule(spec);
    default:
      throw new TweedieError("unknown schedule kind", {
        code: "unsupported",
        path: ["schedule", "kind"],
        expected: ["vp-linear", "scaled-linear", "cosine", "rectified-flow"],
        received: (spec as { kind?: unknown }).kind,
      });
  }
}

/** Returns the discrete steps of `schedule`; throws for a continuous schedule. */
function discreteSteps(schedule: Schedule, what: string): number {
  if (schedule.steps === null) {
    throw new TweedieError(`${what} needs a discrete schedule`, {
      code: "unsupported",
      path: ["schedule", "kind"],
      expected: "a discrete (VP) schedule",
      received: schedule.spec.kind,
    });
  }
  return schedule.steps;
}

function checkIndex(index: number, steps: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= steps) {
    throw new TweedieError("schedule step index out of range", {
      code: "out_of_range",
      path: ["index"],
      expected: `an integer in [0, ${steps - 1}]`,
      received: index,
    });
  }
}

/** alphaBar at training step `index` (the float64 cumulative product). */
export function alphaBarAt(schedule: Schedule, index: number): number {
  const steps = discreteSteps(schedule, "alphaBarAt");
  checkIndex(index, steps);
  return schedule.alphaBars![index];
}

/** beta at training step `index`. */
export function betaAt(schedule: Schedule, index: number): number {
  const steps = discreteSteps(schedule, "betaAt");
  checkIndex(index, steps);
  return schedule.betas![index];
}

/** Continuous time of training step `index`: t = (index + 1) / steps. */
export function timeOfIndex(schedule: Schedule, index: number): number {
  const steps = discreteSteps(schedule, "timeOfIndex");
  checkIndex(index, steps);
  return (index + 1) / steps;
}

/**
 * Nearest training step to time t: round(t steps - 1), clamped to [0, steps - 1], so
 * t = 0 maps to step 0. The network's `index` timestep input uses this.
 */
export function indexOf(schedule: Schedule, t: number): number {
  const steps = discreteSteps(schedule, "indexOf");
  checkTime(t);
  return Math.min(steps - 1, Math.max(0, Math.round(t * steps - 1)));
}

/**
 * Inverts sigma(t): the time t in [0, 1] with schedule.sigma(t) = sigma. Solvers use it to
 * turn a sigma grid (such as `flowGrid`) into times for a schedule with its own shift.
 */
export function timeAtSigma(schedule: Schedule, sigma: number): number {
  const top = schedule.sigma(1);
  if (!(sigma >= 0 && sigma <= top)) {
    throw new TweedieError("sigma outside the schedule's range", {
      code: "out_of_range",
      path: ["sigma"],
      expected: `a number in [0, ${top}]`,
      received: sigma,
    });
  }
  if (schedule.spec.kind === "rectified-flow") {
    const s = schedule.spec.shift;
    return sigma / (s - (s - 1) * sigma);
  }
  // sigma is increasing in t, so bisection converges. It stops when the midpoint equals an
  // end, which is float64 resolution (at most about 1075 halvings near t = 0).
  if (sigma === 0) return 0;
  let low = 0;
  let high = 1;
  for (;;) {
    const mid = 0.5 * (low + high);
    if (mid === low || mid === high) return high;
    if (schedule.sigma(mid) < sigma) low = mid;
    else high = mid;
  }
}

/** Lists every training step, descending: [steps - 1, ..., 0] (ancestral DDPM sampling). */
export function ddpmGrid(steps = 1000): number[] {
  checkSteps(steps);
  return Array.from({ length: steps }, (_, i) => steps - 1 - i);
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function checkCount(count: number, steps: number): void {
  if (!Number.isInteger(count) || count < 1 || count > steps) {
    throw new TweedieError("grid step count out of range", {
      code: "out_of_range",
      path: ["count"],
      expected: `an integer in [1, ${steps}]`,
      received: count,
    });
  }
}

/**
 * `count` training steps spread evenly over the schedule, descending: the rule of
 * guided-diffusion's space_timesteps for one section. Step k (ascending) is
 * round(k (steps - 1) / (count - 1)), accumulated as a float64 sum and rounded half to
 * even as Python does; count = 1 keeps step 0 only.
 */
export function respacedGrid(schedule: Schedule, count: number): number[] {
  const steps = discreteSteps(schedule, "respacedGrid");
  checkCount(count, steps);
  const stride = count <= 1 ? 1 : (steps - 1) / (count - 1);
  const taken: number[] = [];
  let position = 0;
  for (let k = 0; k < count; k++) {
    taken.push(roundHalfEven(position));
    position += stride;
  }
  return taken.reverse();
}

export interface DdimGridOptions {
  /** Training steps; 1000 unless the model package declares another count. */
  trainSteps?: number;
  /** Added to every index (diffusers `steps_offset`; Stable Diffusion 1.5 uses 1). */
  stepsOffset?: number;
  /** diffusers `timestep_spacing`; "leading" is the DDIM paper's rule. */
  spacing?: "leading" | "trailing" | "linspace";
}

/**
 * DDIM sampling steps, descending, with the rules of diffusers' DDIMScheduler:
 * - leading: skip = floor(trainSteps / count), steps k skip + stepsOffset for k < count
 *   (count = 200 with stepsOffset 1 gives 996, 991, ..., 1);
 * - trailing: round(trainSteps - k trainSteps / count) - 1 for k < count;
 * - linspace: numpy.linspace(0, trainSteps - 1, count) rounded half to even.
 */
export function ddimGrid(count: number, options: DdimGridOptions = {}): number[] {
  const trainSteps = options.trainSteps ?? 1000;
  const offset = options.stepsOffset ?? 0;
  checkSteps(trainSteps);
  checkCount(count, trainSteps);
  let grid: number[];
  switch (options.spacing ?? "leading") {
    case "leading": {
      const skip = Math.floor(trainSteps / count);
      grid = Array.from({ length: count }, (_, k) => (count - 1 - k) * skip + offset);
      break;
    }
    case "trailing": {
      const ratio = trainSteps / count;
      grid = Array.from({ length: count }, (_, k) => Math.round(trainSteps - k * ratio) - 1);
      break;
    }
    case "linspace":
      grid = Array.from(linspace(0, trainSteps - 1, count), roundHalfEven).reverse();
      break;
    default:
      throw new TweedieError("unknown DDIM timestep spacing", {
        code: "invalid_value",
        path: ["spacing"],
        expected: ["leading", "trailing", "linspace"],
        received: options.spacing,
      });
  }
  if (grid.some((index) => index < 0 || index >= trainSteps)) {
    throw new TweedieError("DDIM grid leaves the training steps", {
      code: "out_of_range",
      path: ["stepsOffset"],
      expected: `steps in [0, ${trainSteps - 1}]`,
      received: { count, stepsOffset: offset, first: grid[0], last: grid[grid.length - 1] },
    });
  }
  return grid;
}

export interface FlowGridOptions {
  /** Number of sampling steps; the grid has steps + 1 values, ending with 0. */
  steps: number;
  /** Shift s applied to the grid: sigma -> s sigma / (1 + (s - 1) sigma). Default 1. */
  shift?: number;
  /** Shift the scheduler was built with, which fixes sigmaMin (SD3: 3). Default: `shift`. */
  baseShift?: number;
  /** Training steps; sigmaMin is the base-shifted 1 / trainSteps. Default 1000. */
  trainSteps?: number;
  /**
   * Dynamic (resolution-dependent) shift mu: sigma -> e^mu / (e^mu + 1 / sigma - 1)
   * replaces the `shift` map when given.
   */
  mu?: number;
}

/** Applies the shift map t -> s t / (1 + (s - 1) t). */
export function shiftTime(t: number, shift: number): number {
  return (shift * t) / (1 + (shift - 1) * t);
}

/**
 * Sigmas of diffusers' FlowMatchEulerDiscreteScheduler, descending from 1 to 0:
 * 1. sigmaMin = baseShift-map of 1 / trainSteps (SD3, base 3: 0.0029940...);
 * 2. `steps` timesteps linearly spaced from trainSteps to trainSteps sigmaMin (numpy
 *    linspace), divided by trainSteps;
 * 3. the `shift` map (or the `mu` exponential map), then a final 0.
 * For a rectified-flow schedule with shift 1 these sigmas are the times t; otherwise
 * convert them with `timeAtSigma`.
 */
export function flowGrid(options: FlowGridOptions): number[] {
  const { steps } = options;
  const shift = options.shift ?? 1;
  const baseShift = options.baseShift ?? shift;
  const trainSteps = options.trainSteps ?? 1000;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new TweedieError("invalid flow grid steps", {
      code: "invalid_value",
      path: ["steps"],
      expected: "an integer of at least 1",
      received: steps,
    });
  }

  for (const [name, value] of [
    ["shift", shift],
    ["baseShift", baseShift],
  ] as const) {
    if (!(value > 0 && Number.isFinite(value))) {
      throw new TweedieError(`invalid flow grid ${name}`, {
        code: "invalid_value",
        path: [name],
        expected: "a finite number > 0",
        received: value,
      });
    }
  }
  checkSteps(trainSteps);

  const sigmaMin = shiftTime(1 / trainSteps, baseShift);
  const timesteps = linspace(trainSteps, sigmaMin * trainSteps, steps);
  const grid: number[] = [];
  for (const timestep of timesteps) {
    const sigma = timestep / trainSteps;
    if (options.mu === undefined) grid.push(shiftTime(sigma, shift));
    else grid.push(Math.exp(options.mu) / (Math.exp(options.mu) + 1 / sigma - 1));
  }
  grid.push(0);
  return grid;
}
