import { describe, expect, it } from "vitest";
import {
  alphaBarAt,
  betaAt,
  createSchedule,
  ddimGrid,
  ddpmGrid,
  flowGrid,
  indexOf,
  respacedGrid,
  type ScheduleSpec,
  shiftTime,
  TweedieError,
  timeAtSigma,
  timeOfIndex,
} from "../src/index.js";

const specs: Record<string, ScheduleSpec> = {
  "vp-linear": { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 },
  "scaled-linear": { kind: "scaled-linear", betaStart: 0.00085, betaEnd: 0.012, steps: 1000 },
  cosine: { kind: "cosine", steps: 1000 },
  "rectified-flow": { kind: "rectified-flow", shift: 1 },
  "rectified-flow shift 3": { kind: "rectified-flow", shift: 3 },
};
const schedules = Object.entries(specs).map(
  ([name, spec]) => [name, createSchedule(spec)] as const,
);

/** Expects |received - expected| <= tolerance * max(1, |expected|). */
function expectNear(received: number, expected: number, tolerance: number, label = "") {
  const error = Math.abs(received - expected) / Math.max(1, Math.abs(expected));
  expect(error, `${label}: received ${received}, expected ${expected}`).toBeLessThanOrEqual(
    tolerance,
  );
}

describe("createSchedule", () => {
  // Reference values from numpy (float64 linspace and cumprod, numpy.interp of
  // log alphaBar over the knots t = i / 1000 with log alphaBar = 0 at t = 0).
  it("vp-linear matches the DDPM alphaBar", () => {
    const schedule = createSchedule(specs["vp-linear"]);
    expect(alphaBarAt(schedule, 0)).toBe(0.9999);
    expectNear(alphaBarAt(schedule, 999), 4.035829765375676e-5, 1e-15);
    expectNear(alphaBarAt(schedule, 999) / 4.035829765375676e-5, 1, 1e-12, "relative");
    expectNear(alphaBarAt(schedule, 500), 0.07779665836502389, 1e-14);
    expect(betaAt(schedule, 999)).toBe(0.02);
    expect(schedule.steps).toBe(1000);
  });

  it("vp-linear interpolates log alphaBar", () => {
    const schedule = createSchedule(specs["vp-linear"]);
    const cases: [number, number, number][] = [
      [0.0005, 0.9999749990624454, 0.007071156204079531],
      [0.25, 0.7239374101573703, 0.689865658062959],
      [0.5003, 0.27990932039238103, 0.9600264435719859],
      [0.9999, 0.006359238536008327, 0.9999797798381936],
    ];
    for (const [t, alpha, sigma] of cases) {
      expectNear(schedule.alpha(t), alpha, 1e-13, `alpha(${t})`);
      expectNear(schedule.sigma(t), sigma, 1e-13, `sigma(${t})`);
    }
    expect(schedule.alpha(0)).toBe(1);
    expect(schedule.sigma(0)).toBe(0);
    expectNear(schedule.alpha(timeOfIndex(schedule, 999)) ** 2, alphaBarAt(schedule, 999), 1e-15);
  });

  it("scaled-linear squares a linspace of roots", () => {
    const schedule = createSchedule(specs["scaled-linear"]);
    expectNear(alphaBarAt(schedule, 0), 0.99915, 1e-15);
    expectNear(alphaBarAt(schedule, 999), 0.004660098513077238, 1e-15);
    expectNear(alphaBarAt(schedule, 499), 0.27766965045646763, 1e-14);
    expectNear(schedule.alpha(0.3337), 0.7317550962268984, 1e-13);
    expectNear(schedule.sigma(0.3337), 0.6815676629256722, 1e-13);
  });

  it("cosine follows the closed form and clips beta", () => {
    const schedule = createSchedule(specs.cosine);
    expectNear(alphaBarAt(schedule, 0), 0.999958715775178, 1e-14);
    expectNear(alphaBarAt(schedule, 499), 0.4938435904406382, 1e-13);
    expectNear(alphaBarAt(schedule, 998) / 2.4287669070348544e-6, 1, 1e-9, "relative");
    expect(betaAt(schedule, 999)).toBe(0.999);
    expectNear(betaAt(schedule, 998), 0.7499993929011166, 1e-12);
    expectNear(schedule.alpha(0.3), 0.8870797659460108, 1e-14);
    expectNear(schedule.sigma(0.3), 0.4616161704805961, 1e-14);
    // The last segment interpolates log alphaBar towards the clipped final step.
    expectNear(schedule.alpha(0.9985) / 0.0023376740601414496, 1, 1e-9, "relative");
    expectNear(schedule.alpha(1) ** 2 / alphaBarAt(schedule, 999), 1, 1e-9, "relative");
  });

  it("rectified flow applies the shift", () => {
    const schedule = createSchedule(specs["rectified-flow shift 3"]);
    expectNear(schedule.alpha(0.4), 0.33333333333333326, 1e-15);
    expectNear(schedule.sigma(0.4), 0.6666666666666667, 1e-15);
    expect(schedule.steps).toBeNull();
    expect(schedule.alphaBars).toBeNull();
    const plain = createSchedule(specs["rectified-flow"]);
    expect(plain.alpha(0.25)).toBe(0.75);
    expect(plain.sigma(0.25)).toBe(0.25);
    expect(plain.dAlpha(0.25)).toBe(-1);
    expect(plain.dSigma(0.25)).toBe(1);
  });

  it.each(schedules)("%s keeps alpha^2 + sigma^2 consistent", (name, schedule) => {
    for (const t of [0, 0.013, 0.2, 0.5, 0.77, 0.999, 1]) {
      const alpha = schedule.alpha(t);
      const sigma = schedule.sigma(t);
      if (name.startsWith("rectified")) expectNear(alpha + sigma, 1, 1e-15, `t = ${t}`);
      else expectNear(alpha * alpha + sigma * sigma, 1, 1e-14, `t = ${t}`);
    }
  });

  it.each(schedules)("%s derivatives match central differences", (_name, schedule) => {
    // Points off the 1/1000 knots, so the discrete interpolant is smooth around each.
    const h = 1e-7;
    for (const t of [0.0123, 0.2345, 0.5004, 0.7771, 0.9986]) {
      const dAlpha = (schedule.alpha(t + h) - schedule.alpha(t - h)) / (2 * h);
      const dSigma = (schedule.sigma(t + h) - schedule.sigma(t - h)) / (2 * h);
      expectNear(schedule.dAlpha(t), dAlpha, 1e-6, `dAlpha(${t})`);
      expectNear(schedule.dSigma(t), dSigma, 1e-6, `dSigma(${t})`);
    }
  });

  it("VP dSigma is infinite at t = 0", () => {
    expect(createSchedule(specs["vp-linear"]).dSigma(0)).toBe(Number.POSITIVE_INFINITY);
  });

  it("rejects invalid specs and times", () => {
    const invalid: ScheduleSpec[] = [
      { kind: "vp-linear", betaStart: 0, betaEnd: 0.02, steps: 1000 },
      { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1.5 },
      { kind: "scaled-linear", betaStart: 0.00085, betaEnd: 1, steps: 1000 },
      { kind: "cosine", steps: 1000, offset: 0 },
      { kind: "rectified-flow", shift: 0 },
      { kind: "unknown" } as unknown as ScheduleSpec,
    ];
    for (const spec of invalid) expect(() => createSchedule(spec), spec.kind).toThrow(TweedieError);
    const schedule = createSchedule(specs.cosine);
    expect(() => schedule.alpha(1.01)).toThrow(TweedieError);
    expect(() => schedule.sigma(Number.NaN)).toThrow(TweedieError);
  });
});

describe("step indices", () => {
  const schedule = createSchedule(specs["vp-linear"]);

  it("maps indices to times and back", () => {
    expect(timeOfIndex(schedule, 0)).toBe(0.001);
    expect(timeOfIndex(schedule, 999)).toBe(1);
    for (const index of [0, 1, 17, 500, 998, 999]) {
      expect(indexOf(schedule, timeOfIndex(schedule, index))).toBe(index);
    }
    expect(indexOf(schedule, 0)).toBe(0);
    expect(indexOf(schedule, 0.5004)).toBe(499);
  });

  it("rejects continuous schedules and bad indices", () => {
    const flow = createSchedule(specs["rectified-flow"]);
    expect(() => alphaBarAt(flow, 0)).toThrow(TweedieError);
    expect(() => indexOf(flow, 0.5)).toThrow(TweedieError);
    expect(() => alphaBarAt(schedule, 1000)).toThrow(TweedieError);
    expect(() => alphaBarAt(schedule, 2.5)).toThrow(TweedieError);
  });

  it.each(schedules)("%s inverts sigma", (_name, s) => {
    for (const t of [0, 0.0004, 0.1, 0.5, 0.9, 0.9993, 1]) {
      const back = timeAtSigma(s, s.sigma(t));
      expectNear(s.sigma(back), s.sigma(t), 1e-12, `sigma(t) at t = ${t}`);
    }
    expect(() => timeAtSigma(s, 1.5)).toThrow(TweedieError);
  });
});

describe("grids", () => {
  it("ddpmGrid lists every step descending", () => {
    const grid = ddpmGrid();
    expect(grid.length).toBe(1000);
    expect(grid[0]).toBe(999);
    expect(grid[999]).toBe(0);
    expect(ddpmGrid(4)).toEqual([3, 2, 1, 0]);
  });

  it("respacedGrid follows space_timesteps", () => {
    // Python: space_timesteps(1000, [count]) of guided-diffusion, sorted descending.
    const schedule = createSchedule(specs["vp-linear"]);
    expect(respacedGrid(schedule, 7)).toEqual([999, 832, 666, 500, 333, 166, 0]);
    expect(respacedGrid(schedule, 3)).toEqual([999, 500, 0]);
    expect(respacedGrid(schedule, 1)).toEqual([0]);
    const grid250 = respacedGrid(schedule, 250);
    expect(grid250.slice(0, 3)).toEqual([999, 995, 991]);
    expect(grid250.slice(-6)).toEqual([20, 16, 12, 8, 4, 0]);
    expect(new Set(grid250).size).toBe(250);
    expect(respacedGrid(schedule, 25).slice(-6)).toEqual([208, 166, 125, 83, 42, 0]);
    expect(respacedGrid(schedule, 1000)).toEqual(ddpmGrid());
    expect(() => respacedGrid(schedule, 1001)).toThrow(TweedieError);
  });

  it("ddimGrid follows DDIMScheduler spacing", () => {
    const sd15 = ddimGrid(200, { stepsOffset: 1 });
    expect(sd15.length).toBe(200);
    expect(sd15.slice(0, 3)).toEqual([996, 991, 986]);
    expect(sd15[199]).toBe(1);
    expect(ddimGrid(50, { stepsOffset: 1 }).slice(0, 4)).toEqual([981, 961, 941, 921]);
    expect(ddimGrid(7)).toEqual([852, 710, 568, 426, 284, 142, 0]);
    expect(ddimGrid(7, { spacing: "linspace" })).toEqual([999, 832, 666, 500, 333, 166, 0]);
    expect(ddimGrid(7, { spacing: "trailing" })).toEqual([999, 856, 713, 570, 428, 285, 142]);
    expect(ddimGrid(50, { spacing: "trailing" }).slice(-2)).toEqual([39, 19]);
    expect(() => ddimGrid(1000, { stepsOffset: 1 })).toThrow(TweedieError);
    expect(() => ddimGrid(0)).toThrow(TweedieError);
  });

  it("flowGrid reproduces the FlowDPS grid", () => {
    // FlowDPS with SD3: 28 steps, shift 4, sigmaMin from the scheduler's shift 3; the
    // published values are rounded to four decimals.
    const published = [
      1.0, 0.9905, 0.9805, 0.9698, 0.9585, 0.9464, 0.9336, 0.9198, 0.9051, 0.8893, 0.8723, 0.854,
      0.8341, 0.8125, 0.7889, 0.7631, 0.7348, 0.7034, 0.6687, 0.6298, 0.5861, 0.5367, 0.4802,
      0.4151, 0.3393, 0.2498, 0.1426, 0.0119, 0,
    ];
    const grid = flowGrid({ steps: 28, shift: 4, baseShift: 3 });
    expect(grid.length).toBe(published.length);
    for (let i = 0; i < grid.length; i++) {
      expect(Math.abs(grid[i] - published[i]), `step ${i}: ${grid[i]}`).toBeLessThan(5e-5);
    }
  });

  it("flowGrid reproduces the SD3 shift 3 grids", () => {
    const grid33 = flowGrid({ steps: 33, shift: 3 });
    expect(grid33.length).toBe(34);
    const start = [1.0, 0.9894, 0.9783];
    const end = [0.1733, 0.0959, 0.0089, 0];
    for (let i = 0; i < start.length; i++) {
      expect(Math.abs(grid33[i] - start[i]), `step ${i}`).toBeLessThan(5e-5);
    }
    for (let i = 0; i < end.length; i++) {
      expect(Math.abs(grid33[30 + i] - end[i]), `step ${30 + i}`).toBeLessThan(5e-5);
    }
    // The same construction in numpy float64.
    expectNear(grid33[1], 0.9893942289317792, 1e-15);
    expectNear(grid33[31], 0.09590120861797166, 1e-15);
    expectNear(grid33[32], 0.00892857142857143, 1e-15);
    expectNear(flowGrid({ steps: 50, shift: 3 })[17], 0.8501429479034307, 1e-14);
    expectNear(shiftTime(0.001, 3), 0.0029940119760479044, 1e-17);
  });

  it("flowGrid without shift is linear", () => {
    const grid = flowGrid({ steps: 10 });
    const expected = [1, 0.889, 0.778, 0.667, 0.556, 0.445, 0.334, 0.223, 0.112, 0.001, 0];
    for (let i = 0; i < grid.length; i++) expectNear(grid[i], expected[i], 1e-14, `step ${i}`);
  });

  it("flowGrid applies a dynamic shift", () => {
    const expected = [1.0, 0.863497439064042, 0.6129789050960054, 0.0031513915986858274, 0];
    const grid = flowGrid({ steps: 4, mu: 1.15, baseShift: 1 });
    for (let i = 0; i < grid.length; i++) expectNear(grid[i], expected[i], 1e-14, `step ${i}`);
  });

  it("flowGrid sigmas convert to shifted times", () => {
    const schedule = createSchedule(specs["rectified-flow shift 3"]);
    for (const sigma of flowGrid({ steps: 28, shift: 4, baseShift: 3 })) {
      expectNear(schedule.sigma(timeAtSigma(schedule, sigma)), sigma, 1e-15);
    }
  });
});
