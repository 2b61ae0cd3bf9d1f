import { describe, expect, it } from "vitest";
import {
  type Conditioning,
  concatConditioning,
  createRng,
  createSchedule,
  Denoiser,
  type Model,
  type ModelInfo,
  norm,
  type Parameterisation,
  rawCoefficients,
  type Schedule,
  type ScheduleSpec,
  selectVjpMode,
  sub,
  Tensor,
  TweedieError,
} from "../src/index.js";

/**
 * An exact Gaussian prior as a real Model: x0 ~ N(mu_label, diag(s^2)) per value, with
 * mu chosen by the label (0 = unconditional, 1 = conditional). With x_t = alpha x0 +
 * sigma eps, E[x0 | x_t] = mu + k (x_t - alpha mu) for k = alpha s^2 / (alpha^2 s^2 +
 * sigma^2), so d x0Hat / d x_t = diag(k). `predict` returns the raw output of the declared
 * parameterisation, computed in float64.
 */
class GaussianModel implements Model {
  readonly info: ModelInfo;
  readonly schedule: Schedule;
  /** Batch size of every predict call, in order. */
  readonly calls: number[] = [];
  vjp?: Model["vjp"];

  constructor(
    parameterisation: Parameterisation,
    spec: ScheduleSpec,
    private readonly mus: readonly Float64Array[],
    private readonly scales: Float64Array,
    options: { hasVjp?: boolean; learnedVariance?: boolean } = {},
  ) {
    this.schedule = createSchedule(spec);
    this.info = {
      name: "gaussian",
      parameterisation,
      schedule: spec,
      timestepInput: { kind: "alpha-sigma" },
      resolution: null,
      channels: 2,
      space: "pixel",
      conditioning: { kind: "label", prompts: { "": 0, bright: 1 }, nullLabel: 0 },
      learnedVariance: options.learnedVariance ?? false,
      hasVjp: options.hasVjp ?? true,
    };
    if (options.hasVjp ?? true) this.vjp = this.exactVjp;
  }

  /** Closed-form x0Hat, epsHat and the diagonal of d raw / d x_t, per value in float64. */
  posterior(xt: Tensor, t: number, labels: Int32Array) {
    const alpha = this.schedule.alpha(t);
    const sigma = this.schedule.sigma(t);
    const r = rawCoefficients(this.schedule, t, this.info.parameterisation);
    const perItem = xt.size / xt.batch;
    const x0Hat = new Float64Array(xt.size);
    const epsHat = new Float64Array(xt.size);
    const gain = new Float64Array(xt.size);
    const rawGain = new Float64Array(xt.size);
    for (let i = 0; i < xt.size; i++) {
      const item = Math.floor(i / perItem);
      const mu = this.mus[labels[labels.length === 1 ? 0 : item]][i % perItem];
      const s2 = this.scales[i % perItem] ** 2;
      const k = (alpha * s2) / (alpha * alpha * s2 + sigma * sigma);
      x0Hat[i] = mu + k * (xt.data[i] - alpha * mu);
      epsHat[i] = (xt.data[i] - alpha * x0Hat[i]) / sigma;
      gain[i] = k;
      rawGain[i] = r.x0 * k + (r.eps * (1 - alpha * k)) / sigma;
    }
    return { x0Hat, epsHat, gain, rawGain, r };
  }

  private labels(cond: Conditioning): Int32Array {
    if (cond.kind !== "label") throw new Error("label conditioning expected");
    return cond.labels;
  }

  private rawOutput(xt: Tensor, t: number, cond: Conditioning): Tensor {
    const { x0Hat, epsHat, r } = this.posterior(xt, t, this.labels(cond));
    const prediction = x0Hat.map((x0, i) => r.x0 * x0 + r.eps * epsHat[i]);
    if (!this.info.learnedVariance) return new Tensor(Float32Array.from(prediction), xt.shape);
    // Learned variance: epsilon channels, then v = 0.5 for the conditional label and -0.5
    // for the unconditional one, so tests can tell the branches apart.
    const perItem = xt.size / xt.batch;
    const out = new Float32Array(2 * xt.size);
    const labels = this.labels(cond);
    for (let item = 0; item < xt.batch; item++) {
      out.set(prediction.subarray(item * perItem, (item + 1) * perItem), 2 * item * perItem);
      const itemLabel = labels[labels.length === 1 ? 0 : item];
      const v = itemLabel === 1 ? 0.5 : -0.5;
      out.fill(v, (2 * item + 1) * perItem, (2 * item + 2) * perItem);
    }
    return new Tensor(out, [xt.batch, 2 * xt.shape[1], ...xt.shape.slice(2)]);
  }

  async predict(xt: Tensor, t: number, cond: Conditioning): Promise<Tensor> {
    this.calls.push(xt.batch);
    return this.rawOutput(xt, t, cond);
  }

  private async exactVjp(xt: Tensor, t: number, cond: Conditioning, g: Tensor) {
    const { rawGain } = this.posterior(xt, t, this.labels(cond));
    const perItem = xt.size / xt.batch;
    const vjp = new Float32Array(xt.size);
    // Only the prediction channels of g reach x_t; the variance channels are constant.
    const stride = this.info.learnedVariance ? 2 * perItem : perItem;
    for (let i = 0; i < xt.size; i++) {
      const item = Math.floor(i / perItem);
      vjp[i] = rawGain[i] * g.data[item * stride + (i % perItem)];
    }
    return { output: this.rawOutput(xt, t, cond), vjp: new Tensor(vjp, xt.shape) };
  }

  async condition(prompt: string, batch: number): Promise<Conditioning> {
    return { kind: "label", labels: new Int32Array(batch).fill(prompt === "" ? 0 : 1), prompt };
  }

  async dispose(): Promise<void> {}
}

const shape = [2, 2, 3, 3];
const perItem = 18;
const mus = [
  Float64Array.from({ length: perItem }, (_, i) => 0.3 * Math.sin(i)),
  Float64Array.from({ length: perItem }, (_, i) => 0.5 + 0.2 * Math.cos(i)),
];
const scales = Float64Array.from({ length: perItem }, (_, i) => 0.2 + 0.05 * i);
const vp: ScheduleSpec = { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 };
const flow: ScheduleSpec = { kind: "rectified-flow", shift: 3 };
const specs: Record<string, ScheduleSpec> = { "vp-linear": vp, "flow shift 3": flow };
const cases: [Parameterisation, string][] = [
  ["epsilon", "vp-linear"],
  ["x0", "vp-linear"],
  ["v", "vp-linear"],
  ["velocity", "flow shift 3"],
  ["epsilon", "flow shift 3"],
  ["velocity", "vp-linear"],
];
const label = (value: number): Extract<Conditioning, { kind: "label" }> => ({
  kind: "label",
  labels: new Int32Array(2).fill(value),
  prompt: value === 1 ? "bright" : "",
});
const relativeError = (a: Tensor, b: Tensor) => norm(sub(a, b)) / norm(b);
const tensor64 = (values: Float64Array) => new Tensor(Float32Array.from(values), shape);

describe("Denoiser on an exact Gaussian prior", () => {
  it.each(cases)("%s on %s matches the posterior mean", async (p, specName) => {
    const model = new GaussianModel(p, specs[specName], mus, scales);
    const denoiser = new Denoiser(model);
    for (const t of [0.1, 0.4, 0.7, 0.9]) {
      const xt = createRng(41)
        .split("xt", t * 10)
        .normalTensor(shape);
      const exact = model.posterior(xt, t, label(1).labels);
      const { x0Hat, epsHat } = await denoiser.denoise(xt, t, label(1));
      // Float32 raw output and x_t, converted with coefficients up to about 1 / alpha.
      expect(relativeError(x0Hat, tensor64(exact.x0Hat)), `x0Hat at t = ${t}`).toBeLessThan(1e-5);
      expect(relativeError(epsHat, tensor64(exact.epsHat)), `epsHat at t = ${t}`).toBeLessThan(
        1e-5,
      );
    }
  });

  it.each(cases)("%s on %s has the exact VJP", async (p, specName) => {
    const model = new GaussianModel(p, specs[specName], mus, scales);
    const denoiser = new Denoiser(model);
    expect(denoiser.vjpMode).toBe("vjp");
    for (const t of [0.2, 0.6]) {
      const xt = createRng(42).split("xt").normalTensor(shape);
      const g = createRng(42).split("g").normalTensor(shape);
      const { vjp, denoised } = await denoiser.vjp(xt, t, label(1), g);
      const exact = model.posterior(xt, t, label(1).labels);
      const expected = tensor64(exact.gain.map((k, i) => k * g.data[i]));
      expect(relativeError(vjp, expected), `t = ${t}`).toBeLessThan(1e-5);
      expect(relativeError(denoised.x0Hat, tensor64(exact.x0Hat))).toBeLessThan(1e-5);
    }
  });

  it.each(cases)("%s on %s has a small finite-difference JVP error", async (p, specName) => {
    const model = new GaussianModel(p, specs[specName], mus, scales, { hasVjp: false });
    const denoiser = new Denoiser(model);
    expect(denoiser.vjpMode).toBe("jvp-fd");
    const t = 0.5;
    const xt = createRng(43).split("xt").normalTensor(shape);
    const v = createRng(43).split("v").normalTensor(shape);
    const exact = model.posterior(xt, t, label(1).labels);
    const expected = tensor64(exact.gain.map((k, i) => k * v.data[i]));
    // x0Hat is affine in x_t here, so only float32 rounding remains: 6e-8 of the raw term
    // c_raw raw divided by the probe 2 d = 2e-2 sigma, relative to J v, whose gain k is
    // about 0.1. The measured error is at most 5e-5 (epsilon on either schedule).
    const jv = await denoiser.jvpFiniteDifference(xt, t, label(1), v);
    expect(relativeError(jv, expected)).toBeLessThan(1e-4);
    // The probe scales with rms(v), so a long direction gives the same relative result.
    const long = v.map((value) => 1000 * value);
    const jvLong = await denoiser.jvpFiniteDifference(xt, t, label(1), long);
    expect(
      relativeError(
        jvLong,
        expected.map((value) => 1000 * value),
      ),
    ).toBeLessThan(1e-4);
    // In jvp-fd mode x0HatVjp uses the JVP, which equals J^T g for this symmetric J.
    const viaMode = await denoiser.x0HatVjp(xt, t, label(1), v);
    expect(relativeError(viaMode, expected)).toBeLessThan(1e-4);
  });

  it("scales the finite-difference probe per batch item", async () => {
    const model = new GaussianModel("x0", specs["vp-linear"], mus, scales, { hasVjp: false });
    const denoiser = new Denoiser(model);
    const t = 0.5;
    const xt = createRng(44).split("xt").normalTensor(shape);
    // Item 1's direction is 10^4 times longer, so a batch-wide rms would shrink item 0's probe.
    const v = createRng(44).split("v").normalTensor(shape);
    const perItem = v.size / v.batch;
    for (let i = perItem; i < v.size; i++) v.data[i] *= 1e4;
    const batched = await denoiser.jvpFiniteDifference(xt, t, label(1), v);
    for (let n = 0; n < shape[0]; n++) {
      const alone = await denoiser.jvpFiniteDifference(
        xt.item(n),
        t,
        { ...label(1), labels: new Int32Array([1]) },
        v.item(n),
      );
      expect(Array.from(batched.item(n).data)).toEqual(Array.from(alone.data));
    }
  });
});

describe("classifier-free guidance", () => {
  const xt = createRng(44).normalTensor(shape);
  const t = 0.45;

  it("w = 1 gives the conditional and w = 0 the unconditional branch", async () => {
    const model = new GaussianModel("v", vp, mus, scales);
    const denoiser = new Denoiser(model);
    const conditional = await denoiser.denoise(xt, t, label(1));
    const unconditional = await denoiser.denoise(xt, t, label(0));
    const atOne = await denoiser.guided(xt, t, label(0), label(1), 1);
    const atZero = await denoiser.guided(xt, t, label(0), label(1), 0);
    expect(atOne.x0Hat.data).toEqual(conditional.x0Hat.data);
    expect(atOne.epsHat.data).toEqual(conditional.epsHat.data);
    expect(atZero.x0Hat.data).toEqual(unconditional.x0Hat.data);
    expect(atZero.epsHat.data).toEqual(unconditional.epsHat.data);
  });

  it("combines x0Hat affinely for any scale", async () => {
    const model = new GaussianModel("velocity", flow, mus, scales);
    const denoiser = new Denoiser(model);
    const w = 4.5;
    const guided = await denoiser.guided(xt, t, label(0), label(1), w);
    const u = model.posterior(xt, t, label(0).labels).x0Hat;
    const c = model.posterior(xt, t, label(1).labels).x0Hat;
    const expected = tensor64(u.map((value, i) => value + w * (c[i] - value)));
    expect(relativeError(guided.x0Hat, expected)).toBeLessThan(1e-5);
  });

  it("batches both branches and counts NFE per item", async () => {
    const model = new GaussianModel("epsilon", vp, mus, scales);
    const denoiser = new Denoiser(model);
    await denoiser.guided(xt, t, label(0), label(1), 2);
    expect(model.calls).toEqual([4]);
    expect(denoiser.nfe).toBe(4);
    // Labels of length 1 broadcast over the batch and still concatenate.
    const single: Conditioning = { kind: "label", labels: Int32Array.of(1), prompt: "bright" };
    await denoiser.guided(xt, t, label(0), single, 2);
    expect(model.calls).toEqual([4, 4]);
    const unbatched = new Denoiser(model, { batchGuidance: false });
    await unbatched.guided(xt, t, label(0), label(1), 2);
    expect(model.calls).toEqual([4, 4, 2, 2]);
    expect(unbatched.nfe).toBe(4);
  });
});

describe("Denoiser options", () => {
  const xt = createRng(45).normalTensor(shape);

  it("clips x0Hat and keeps x_t = alpha x0Hat + sigma epsHat", async () => {
    const far = [mus[0].map((m) => m + 3), mus[1].map((m) => m - 3)];
    const model = new GaussianModel("epsilon", vp, far, scales);
    const denoiser = new Denoiser(model, { clipX0: true });
    const t = 0.3;
    const { x0Hat, epsHat } = await denoiser.denoise(xt, t, label(1));
    const unclipped = await denoiser.denoise(xt, t, label(1), { clipX0: false });
    expect(Math.min(...unclipped.x0Hat.data)).toBeLessThan(-1);
    expect(Math.max(...x0Hat.data)).toBeLessThanOrEqual(1);
    expect(Math.min(...x0Hat.data)).toBeGreaterThanOrEqual(-1);
    const [alpha, sigma] = [denoiser.schedule.alpha(t), denoiser.schedule.sigma(t)];
    const rebuilt = x0Hat.map((value, i) => alpha * value + sigma * epsHat.data[i]);
    expect(relativeError(rebuilt, xt)).toBeLessThan(1e-6);
  });

  it("selects the VJP mode from the model", () => {
    const withVjp = new GaussianModel("epsilon", vp, mus, scales);
    const without = new GaussianModel("epsilon", vp, mus, scales, { hasVjp: false });
    expect(selectVjpMode(withVjp)).toBe("vjp");
    expect(selectVjpMode(withVjp, "jvp-fd")).toBe("jvp-fd");
    expect(selectVjpMode(without)).toBe("jvp-fd");
    expect(() => selectVjpMode(without, "vjp")).toThrow(TweedieError);
    expect(() => new Denoiser(without, { vjpMode: "vjp" })).toThrow(TweedieError);
  });

  it("counts forward and backward evaluations", async () => {
    const model = new GaussianModel("x0", vp, mus, scales);
    const denoiser = new Denoiser(model);
    await denoiser.denoise(xt, 0.5, label(1));
    expect(denoiser.nfe).toBe(2);
    await denoiser.vjp(xt, 0.5, label(1), xt);
    expect(denoiser.nfe).toBe(4);
    expect(denoiser.vjpEvaluations).toBe(2);
    await denoiser.jvpFiniteDifference(xt, 0.5, label(1), xt);
    expect(denoiser.nfe).toBe(8);
    expect(model.calls).toEqual([2, 4]);
    denoiser.resetNfe();
    expect(denoiser.nfe).toBe(0);
    expect(denoiser.vjpEvaluations).toBe(0);
  });

  it("rejects a model output of the wrong size", async () => {
    const model = new GaussianModel("epsilon", vp, mus, scales);
    model.predict = async () => Tensor.zeros([2, 1, 3, 3]);
    await expect(new Denoiser(model).denoise(xt, 0.5, label(1))).rejects.toThrow(TweedieError);
  });
});

describe("learned variance", () => {
  const xt = createRng(46).normalTensor(shape);
  const t = 0.5;

  it("splits epsilon and the variance channels", async () => {
    const model = new GaussianModel("epsilon", vp, mus, scales, { learnedVariance: true });
    const plain = new GaussianModel("epsilon", vp, mus, scales);
    const denoiser = new Denoiser(model);
    const result = await denoiser.denoise(xt, t, label(1));
    const reference = await new Denoiser(plain).denoise(xt, t, label(1));
    expect(result.x0Hat.data).toEqual(reference.x0Hat.data);
    expect(result.logVariance?.shape).toEqual(shape);
    // v = 0.5 gives log variance 0.75 log beta + 0.25 log betaTilde at step 499.
    const schedule = denoiser.schedule;
    const beta = schedule.betas![499];
    const betaTilde = (beta * (1 - schedule.alphaBars![498])) / (1 - schedule.alphaBars![499]);
    const expected = 0.75 * Math.log(beta) + 0.25 * Math.log(betaTilde);
    expect(result.logVariance?.data[0]).toBeCloseTo(expected, 5);
  });

  it("guides epsilon and keeps the conditional variance", async () => {
    const model = new GaussianModel("epsilon", vp, mus, scales, { learnedVariance: true });
    const denoiser = new Denoiser(model);
    const conditional = await denoiser.denoise(xt, t, label(1));
    const guided = await denoiser.guided(xt, t, label(0), label(1), 3);
    expect(guided.logVariance?.data).toEqual(conditional.logVariance?.data);
    const plain = new Denoiser(new GaussianModel("epsilon", vp, mus, scales));
    const reference = await plain.guided(xt, t, label(0), label(1), 3);
    expect(guided.x0Hat.data).toEqual(reference.x0Hat.data);
  });

  it("sends the cotangent through the epsilon channels", async () => {
    const model = new GaussianModel("epsilon", vp, mus, scales, { learnedVariance: true });
    const g = createRng(47).normalTensor(shape);
    const { vjp } = await new Denoiser(model).vjp(xt, t, label(1), g);
    const exact = model.posterior(xt, t, label(1).labels);
    const expected = tensor64(exact.gain.map((k, i) => k * g.data[i]));
    expect(relativeError(vjp, expected)).toBeLessThan(1e-5);
  });
});

describe("concatConditioning", () => {
  it("stacks text embeddings and broadcasts batch 1", () => {
    const single = Tensor.from([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const pair = Tensor.from([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18], [2, 2, 3]);
    const joint = concatConditioning(
      { kind: "text", prompt: "", embeddings: single },
      { kind: "text", prompt: "a cat", embeddings: pair },
      2,
    );
    expect(joint?.kind).toBe("text");
    if (joint?.kind !== "text") return;
    expect(joint.embeddings.shape).toEqual([4, 2, 3]);
    expect(Array.from(joint.embeddings.data)).toEqual([
      ...single.data,
      ...single.data,
      ...pair.data,
    ]);
    expect(joint.prompt).toBe("a cat");
  });

  it("returns null when the branches cannot share a call", () => {
    const embeddings = Tensor.zeros([1, 2, 3]);
    const pooled = Tensor.zeros([1, 4]);
    const text: Conditioning = { kind: "text", prompt: "", embeddings };
    expect(concatConditioning(text, { ...text, pooled }, 2)).toBeNull();
    expect(concatConditioning(text, label(1), 2)).toBeNull();
    expect(concatConditioning(label(0), { ...label(1), labels: new Int32Array(3) }, 2)).toBeNull();
    const wider: Conditioning = { kind: "text", prompt: "", embeddings: Tensor.zeros([1, 2, 4]) };
    expect(concatConditioning(text, wider, 2)).toBeNull();
  });
});
