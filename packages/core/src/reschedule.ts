import type { Conditioning, Model, ModelInfo, ScheduleSpec } from "./contracts/model.js";
import { TweedieError } from "./errors.js";
import { createSchedule, type Schedule } from "./schedules.js";
import { Tensor } from "./tensor.js";

/**
 * Presents a model under another schedule. A state x_t = a x0 + s eps of the target
 * schedule has the same signal-to-noise ratio a / s as the model's own state at the time
 * tau where alpha_m(tau) / sigma_m(tau) = a / s, and equals it after scaling by
 * c = alpha_m(tau) / a. So predict(x_t, t) = model.predict(c x_t, tau). The outputs of
 * `x0` and `epsilon` models do not change under that scaling, so they pass through; the
 * VJP picks up the factor c. `v` and `velocity` outputs depend on the scale and are
 * rejected. Model packages compute (alpha, sigma) from their own schedule, so this is the
 * only correct way to run one on a sampler's different grid.
 */
export function rescheduleModel(model: Model, spec: ScheduleSpec): Model {
  const { parameterisation } = model.info;
  if (parameterisation !== "x0" && parameterisation !== "epsilon") {
    throw new TweedieError("only x0 and epsilon models can run on another schedule", {
      code: "unsupported",
      path: [model.info.name, "parameterisation"],
      expected: ["x0", "epsilon"],
      received: parameterisation,
    });
  }
  const own = createSchedule(model.info.schedule);
  const target = createSchedule(spec);
  // The bisection evaluates the schedule 120 times. Solvers often call twice at one t (a
  // denoise and a finite-difference JVP), so the mapping of the last t is kept.
  let lastTime = Number.NaN;
  let lastMapping = { tau: 0, scale: 1 };
  const map = (t: number): { tau: number; scale: number } => {
    if (t === lastTime) return lastMapping;
    const a = target.alpha(t);
    const s = target.sigma(t);
    const tau = timeAtSnr(own, a / s);
    lastMapping = { tau, scale: a > 0 ? own.alpha(tau) / a : 1 };
    lastTime = t;
    return lastMapping;
  };
  const scaled = (x: Tensor, factor: number): Tensor => {
    const out = new Float32Array(x.size);
    const values = x.data;
    for (let i = 0; i < out.length; i++) out[i] = values[i] * factor;
    return new Tensor(out, x.shape);
  };
  const info: ModelInfo = { ...model.info, schedule: spec };
  const wrapped: Model = {
    info,
    async predict(xt: Tensor, t: number, cond: Conditioning) {
      const { tau, scale } = map(t);
      return model.predict(scaled(xt, scale), tau, cond);
    },
    condition: (prompt, batch) => model.condition(prompt, batch),
    dispose: () => model.dispose(),
  };
  if (model.vjp) {
    const vjp = model.vjp.bind(model);
    wrapped.vjp = async (xt, t, cond, g) => {
      const { tau, scale } = map(t);
      const result = await vjp(scaled(xt, scale), tau, cond, g);
      return { output: result.output, vjp: scaled(result.vjp, scale) };
    };
  }
  return wrapped;
}

/** Finds by bisection the time at which `schedule` has alpha / sigma = snr. */
export function timeAtSnr(schedule: Schedule, snr: number): number {
  const ratio = (t: number) => schedule.alpha(t) / Math.max(schedule.sigma(t), 1e-300);
  if (snr >= ratio(0)) return 0;
  if (snr <= ratio(1)) return 1;
  let low = 0;
  let high = 1;
  for (let i = 0; i < 60; i++) {
    const mid = 0.5 * (low + high);
    if (ratio(mid) > snr) low = mid;
    else high = mid;
  }
  return 0.5 * (low + high);
}
