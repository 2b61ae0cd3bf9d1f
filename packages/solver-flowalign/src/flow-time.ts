import {
  type Conditioning,
  type Denoised,
  type Denoiser,
  flowGrid,
  type Schedule,
  scale,
  sub,
  type Tensor,
  timeAtSigma,
} from "@tweedie/core";

/**
 * The flow-equivalent form of any schedule. A state z = alpha x0 + sigma eps equals
 * (alpha + sigma) [(1 - tau) x0 + tau eps] with tau = sigma / (alpha + sigma), so every
 * model is a rectified flow in the rescaled state x = z / (alpha + sigma) at flow time
 * tau, with velocity u = epsHat - x0Hat. For a rectified-flow schedule alpha + sigma = 1
 * and tau is the schedule's (shifted) sigma. The editing solvers run in this form, so a VP
 * model (SD 1.5, ADM) edits through the same update as SD3.
 */
export interface FlowPoint {
  /** Model time t, the schedule's input. */
  t: number;
  /** Flow time tau = sigma(t) / (alpha(t) + sigma(t)). */
  tau: number;
  /** alpha(t) + sigma(t): the model state is this times the flow state. */
  scale: number;
}

/** Flow time tau = sigma / (alpha + sigma) of model time t. */
export function flowTimeOf(schedule: Schedule, t: number): number {
  const alpha = schedule.alpha(t);
  const sigma = schedule.sigma(t);
  return sigma / (alpha + sigma);
}

/**
 * Model time whose flow time is tau. Rectified flows invert their shift in closed form;
 * other schedules bisect (tau is increasing in t). A tau above the schedule's largest
 * flow time (a VP schedule never reaches pure noise) maps to t = 1.
 */
export function timeAtFlowTime(schedule: Schedule, tau: number): number {
  if (tau <= 0) return 0;
  if (schedule.spec.kind === "rectified-flow") {
    return timeAtSigma(schedule, Math.min(tau, schedule.sigma(1)));
  }
  if (tau >= flowTimeOf(schedule, 1)) return 1;
  let low = 0;
  let high = 1;
  for (let i = 0; i < 64; i++) {
    const mid = 0.5 * (low + high);
    if (flowTimeOf(schedule, mid) < tau) low = mid;
    else high = mid;
  }
  return 0.5 * (low + high);
}

/** Returns the grid point at flow time tau, with tau recomputed from t (the model's exact level). */
export function flowPoint(schedule: Schedule, tau: number): FlowPoint {
  const t = timeAtFlowTime(schedule, tau);
  return { t, tau: flowTimeOf(schedule, t), scale: schedule.alpha(t) + schedule.sigma(t) };
}

export interface FlowGridParams {
  steps: number;
  shift: number;
  baseShift?: number;
  mu?: number;
}

/**
 * Maps the sigmas of diffusers' flow-matching Euler scheduler (`flowGrid`, steps + 1
 * values from 1 down to 0) to points on the model's schedule.
 */
export function flowPoints(schedule: Schedule, params: FlowGridParams): FlowPoint[] {
  const grid = flowGrid({
    steps: params.steps,
    shift: params.shift,
    baseShift: params.baseShift ?? params.shift,
    mu: params.mu,
  });
  return grid.map((tau) => flowPoint(schedule, tau));
}

/** One branch of a velocity evaluation: a prompt, or classifier-free guidance between two. */
export interface Branch {
  cond: Conditioning;
  /** Negative (unconditional) prompt's conditioning; guidance applies when set and cfgScale != 1. */
  uncond?: Conditioning;
  cfgScale: number;
}

/** The velocity u = epsHat - x0Hat of a flow state, and the x0Hat it came from. */
export interface FlowPrediction {
  velocity: Tensor;
  x0Hat: Tensor;
}

/** Runs the denoiser on one branch at the model state z and time t. */
export function denoiseBranch(
  denoiser: Denoiser,
  z: Tensor,
  t: number,
  branch: Branch,
): Promise<Denoised> {
  if (branch.uncond !== undefined && branch.cfgScale !== 1) {
    return denoiser.guided(z, t, branch.uncond, branch.cond, branch.cfgScale);
  }
  return denoiser.denoise(z, t, branch.cond);
}

/**
 * Evaluates the flow velocity at the flow state x and grid point `point`. Guidance on raw
 * outputs equals guidance on velocities, because the velocity is affine in the raw output
 * at fixed (z, t) and the guidance weights sum to one.
 */
export async function predictVelocity(
  denoiser: Denoiser,
  x: Tensor,
  point: FlowPoint,
  branch: Branch,
): Promise<FlowPrediction> {
  const z = point.scale === 1 ? x : scale(x, point.scale);
  const { x0Hat, epsHat } = await denoiseBranch(denoiser, z, point.t, branch);
  return { velocity: sub(epsHat, x0Hat), x0Hat };
}
