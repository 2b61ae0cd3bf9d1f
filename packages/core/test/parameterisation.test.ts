import { describe, expect, it } from "vitest";
import {
  createRng,
  createSchedule,
  denoisingCoefficients,
  fromDenoised,
  learnedVarianceBounds,
  norm,
  type Parameterisation,
  rawCoefficients,
  type ScheduleSpec,
  splitLearnedVariance,
  sub,
  Tensor,
  TweedieError,
  toDenoised,
  velocityDerivatives,
} from "../src/index.js";

const specs: Record<string, ScheduleSpec> = {
  "vp-linear": { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 },
  "scaled-linear": { kind: "scaled-linear", betaStart: 0.00085, betaEnd: 0.012, steps: 1000 },
  cosine: { kind: "cosine", steps: 1000 },
  "rectified-flow": { kind: "rectified-flow", shift: 1 },
  "rectified-flow shift 3": { kind: "rectified-flow", shift: 3 },
};
const parameterisations: Parameterisation[] = ["epsilon", "x0", "v", "velocity"];
const cases = Object.keys(specs).flatMap((name) =>
  parameterisations.map((p) => [name, p] as const),
);
const times = [0.05, 0.2, 0.5, 0.8, 0.95];

const relativeError = (a: Tensor, b: Tensor) => norm(sub(a, b)) / norm(b);

describe("denoising coefficients", () => {
  it.each(cases)("%s / %s reproduce x_t and invert the raw map", (name, p) => {
    const schedule = createSchedule(specs[name]);
    for (const t of times) {
      const alpha = schedule.alpha(t);
      const sigma = schedule.sigma(t);
      const c = denoisingCoefficients(schedule, t, p);
      const r = rawCoefficients(schedule, t, p);
      // x_t = alpha x0Hat + sigma epsHat for every (x_t, raw).
      expect(alpha * c.x0.xt + sigma * c.eps.xt, `x_t term at t = ${t}`).toBeCloseTo(1, 12);
      expect(alpha * c.x0.raw + sigma * c.eps.raw, `raw term at t = ${t}`).toBeCloseTo(0, 12);
      // raw = r.x0 x0Hat + r.eps epsHat gives back raw.
      expect(r.x0 * c.x0.xt + r.eps * c.eps.xt, `x_t term at t = ${t}`).toBeCloseTo(0, 10);
      expect(r.x0 * c.x0.raw + r.eps * c.eps.raw, `raw term at t = ${t}`).toBeCloseTo(1, 10);
    }
  });

  it("velocity is eps - x0 for rectified flow at any shift", () => {
    for (const name of ["rectified-flow", "rectified-flow shift 3"]) {
      const schedule = createSchedule(specs[name]);
      expect(velocityDerivatives(schedule, 0.3)).toEqual({ dAlpha: -1, dSigma: 1 });
      expect(rawCoefficients(schedule, 0.3, "velocity")).toEqual({ x0: -1, eps: 1 });
    }
    const vp = createSchedule(specs["vp-linear"]);
    expect(velocityDerivatives(vp, 0.3)).toEqual({
      dAlpha: vp.dAlpha(0.3),
      dSigma: vp.dSigma(0.3),
    });
  });

  it("uses the design formula for velocity on VP schedules", () => {
    const schedule = createSchedule(specs.cosine);
    const t = 0.4;
    const [a, s, da, ds] = [
      schedule.alpha(t),
      schedule.sigma(t),
      schedule.dAlpha(t),
      schedule.dSigma(t),
    ];
    const c = denoisingCoefficients(schedule, t, "velocity");
    const det = a * ds - s * da;
    expect(c.x0.xt).toBeCloseTo(ds / det, 14);
    expect(c.x0.raw).toBeCloseTo(-s / det, 14);
    expect(c.eps.xt).toBeCloseTo(-da / det, 14);
    expect(c.eps.raw).toBeCloseTo(a / det, 14);
  });

  it("rejects singular points", () => {
    const flow = createSchedule(specs["rectified-flow"]);
    expect(() => denoisingCoefficients(flow, 1, "epsilon")).toThrow(TweedieError);
    expect(() => denoisingCoefficients(flow, 0, "x0")).toThrow(TweedieError);
    expect(denoisingCoefficients(flow, 1, "velocity").x0).toEqual({ xt: 1, raw: -1 });
    expect(() => denoisingCoefficients(flow, 0.5, "score" as Parameterisation)).toThrow(
      TweedieError,
    );
  });
});

describe("toDenoised and fromDenoised", () => {
  const shape = [2, 3, 8, 8];

  it.each(cases)("%s / %s round-trip raw through the Tweedie pair", (name, p) => {
    const schedule = createSchedule(specs[name]);
    const rng = createRng(31).split(name, p);
    for (const [k, t] of times.entries()) {
      const xt = rng.split("xt", k).normalTensor(shape);
      const raw = rng.split("raw", k).normalTensor(shape);
      const { x0Hat, epsHat } = toDenoised(raw, xt, t, schedule, p);
      const back = fromDenoised(x0Hat, epsHat, t, schedule, p);
      // Each value of x0Hat and epsHat is rounded once to float32 (relative 6e-8), and the
      // inverse map mixes them with coefficients of order 1 at these t.
      expect(relativeError(back, raw), `t = ${t}`).toBeLessThan(1e-6);
    }
  });

  it.each(cases)("%s / %s recover (x0, eps) from x_t and raw", (name, p) => {
    const schedule = createSchedule(specs[name]);
    const rng = createRng(32).split(name, p);
    for (const [k, t] of times.entries()) {
      const x0 = rng.split("x0", k).normalTensor(shape);
      const eps = rng.split("eps", k).normalTensor(shape);
      const alpha = schedule.alpha(t);
      const sigma = schedule.sigma(t);
      const xt = x0.map((value, i) => alpha * value + sigma * eps.data[i]);
      const raw = fromDenoised(x0, eps, t, schedule, p);
      const { x0Hat, epsHat } = toDenoised(raw, xt, t, schedule, p);
      // x_t and raw are float32; the map from them to (x0, eps) has condition number up to
      // about max(1 / alpha, 1 / sigma), 10 at t = 0.05 for the flows, so allow 1e-5.
      expect(relativeError(x0Hat, x0), `x0 at t = ${t}`).toBeLessThan(1e-5);
      expect(relativeError(epsHat, eps), `eps at t = ${t}`).toBeLessThan(1e-5);
    }
  });

  it("v-prediction matches alpha eps - sigma x0", () => {
    const schedule = createSchedule(specs["vp-linear"]);
    const t = 0.6;
    const x0 = Tensor.from([0.5, -0.25], [1, 2]);
    const eps = Tensor.from([1, 2], [1, 2]);
    const v = fromDenoised(x0, eps, t, schedule, "v");
    const [a, s] = [schedule.alpha(t), schedule.sigma(t)];
    expect(v.data[0]).toBeCloseTo(a * 1 - s * 0.5, 6);
    expect(v.data[1]).toBeCloseTo(a * 2 + s * 0.25, 6);
  });

  it("rejects tensors of different sizes", () => {
    const schedule = createSchedule(specs["vp-linear"]);
    expect(() =>
      toDenoised(Tensor.zeros([1, 3]), Tensor.zeros([1, 4]), 0.5, schedule, "epsilon"),
    ).toThrow(TweedieError);
  });
});

describe("learned variance", () => {
  const schedule = createSchedule(specs["vp-linear"]);
  // guided-diffusion in numpy: log betas[t] and posterior_log_variance_clipped[t].
  const reference: [number, number, number][] = [
    [0, -9.210340371976182, -9.81672513529567],
    [10, -8.114400988340797, -8.26075560735056],
    [999, -3.912023005428146, -3.9120238291004545],
  ];

  it.each(reference)("step %i has the guided-diffusion bounds", (index, logBeta, logTilde) => {
    const bounds = learnedVarianceBounds(schedule, index);
    expect(bounds.logBeta).toBeCloseTo(logBeta, 10);
    expect(bounds.logBetaTilde).toBeCloseTo(logTilde, 10);
  });

  it("uses the respaced betas", () => {
    // space_timesteps(1000, [10]) keeps 0, 111, ..., 999; respaced beta_j =
    // 1 - alphaBar[k_j] / alphaBar[k_j-1], and step 0 is clipped to step 111's betaTilde.
    const first = learnedVarianceBounds(schedule, 0, { previousIndex: -1, nextIndex: 111 });
    expect(first.logBeta).toBeCloseTo(-9.210340371976292, 10);
    expect(first.logBetaTilde).toBeCloseTo(-9.211031850608943, 10);
    const fourth = learnedVarianceBounds(schedule, 333, { previousIndex: 222 });
    expect(fourth.logBeta).toBeCloseTo(-0.7633141756898484, 10);
    expect(fourth.logBetaTilde).toBeCloseTo(-1.2880163783732177, 10);
    expect(() => learnedVarianceBounds(schedule, 333, { previousIndex: 333 })).toThrow(
      TweedieError,
    );
  });

  it("splits epsilon and interpolates the log variance", () => {
    // Two items of 2 channels over 1 x 2 pixels: epsilon channels then v channels.
    const item = (base: number) => [base, base + 1, base + 2, base + 3, -1, 1, 0.3, 0];
    const raw = Tensor.from([...item(10), ...item(20)], [2, 4, 1, 2]);
    const t = (10 + 1) / 1000;
    const { eps, logVariance } = splitLearnedVariance(raw, schedule, t);
    expect(eps.shape).toEqual([2, 2, 1, 2]);
    expect(Array.from(eps.data)).toEqual([10, 11, 12, 13, 20, 21, 22, 23]);
    const [, logBeta, logTilde] = reference[1];
    const expected = [
      logTilde,
      logBeta,
      0.65 * logBeta + 0.35 * logTilde,
      (logBeta + logTilde) / 2,
    ];
    for (let i = 0; i < 8; i++) {
      expect(logVariance.data[i], `value ${i}`).toBeCloseTo(expected[i % 4], 5);
    }
    expect(() => splitLearnedVariance(Tensor.zeros([1, 3, 2, 2]), schedule, t)).toThrow(
      TweedieError,
    );
  });
});
