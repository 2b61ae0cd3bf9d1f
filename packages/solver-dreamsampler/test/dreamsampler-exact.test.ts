import {
  axpby,
  type Conditioning,
  createRng,
  Denoiser,
  type EditingProblem,
  type GaussianMixture,
  type Model,
  type Operator,
  type RestorationProblem,
  type StepInfo,
  Tensor,
  timeOfIndex,
} from "@tweedie/core";
import { LabelGmmModel } from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import {
  DreamSamplerSolver,
  dreamSamplerParamsSchema,
  dreamSamplerPlugin,
  REFERENCE_SCHEDULES,
} from "../src/index.js";
import { MaskOperator } from "./helpers/mask-operator.js";

/** Builds a two-component mixture over 4 values (a 2 x 2 image). */
function mixture(means: number[][], variances: number[]): GaussianMixture {
  const covariances = new Float64Array(2 * 16);
  for (let k = 0; k < 2; k++) {
    for (let i = 0; i < 4; i++) covariances[k * 16 + i * 5] = variances[k] * (1 + 0.25 * i);
    covariances[k * 16 + 1] = covariances[k * 16 + 4] = 0.01;
  }
  return {
    dim: 4,
    weights: Float64Array.of(0.4, 0.6),
    means: Float64Array.from(means.flat()),
    covariances,
  };
}

const MIXTURES = [
  mixture(
    [
      [0.5, -0.5, 0.2, 0.1],
      [0.8, 0.1, -0.3, 0.4],
    ],
    [0.05, 0.1],
  ),
  mixture(
    [
      [-0.6, 0.4, 0.5, -0.2],
      [-0.2, 0.7, 0.1, -0.5],
    ],
    [0.08, 0.04],
  ),
  mixture(
    [
      [0, 0, 0.3, 0],
      [0.1, 0.2, -0.1, 0.1],
    ],
    [0.2, 0.3],
  ),
];

function model(
  schedule: "vp" | "flow",
  parameterisation: "epsilon" | "x0" = "epsilon",
): LabelGmmModel {
  return new LabelGmmModel({
    mixtures: MIXTURES,
    prompts: { cat: 0, dog: 1 },
    shape: [1, 2, 2],
    schedule: schedule === "vp" ? REFERENCE_SCHEDULES.sd15 : { kind: "rectified-flow", shift: 1 },
    parameterisation,
  });
}

const SOURCE = Tensor.from([0.6, -0.3, 0.1, 0.2], [1, 1, 2, 2]);

function editing(denoiser: Denoiser): EditingProblem {
  return { kind: "editing", denoiser, source: SOURCE, sourcePrompt: "cat", targetPrompt: "dog" };
}

describe("DreamSampler editing", () => {
  it("matches the official epsilon-form loop", async () => {
    const steps = 6;
    const lambda = 0.7;
    const denoiser = new Denoiser(model("vp"));
    const solver = new DreamSamplerSolver(dreamSamplerParamsSchema.parse({ steps, lambda }));
    const result = await solver.solve(editing(denoiser), createRng(0));

    // The official formulas on the VP schedule, with skip = floor(1000 / 6) = 166.
    const schedule = denoiser.schedule;
    const grid = Array.from({ length: steps }, (_, k) => 166 * k);
    const alphaBar = (k: number) => (k < 0 ? 1 : schedule.alphaBars![grid[k]]);
    const time = (k: number) => timeOfIndex(schedule, grid[k]);
    const nullCond = await denoiser.model.condition("", 1);
    const target = await denoiser.model.condition("dog", 1);
    const eps = async (z: Tensor, k: number, cond: Conditioning) =>
      (await denoiser.denoise(z, time(k), cond)).epsHat;
    let z = SOURCE;
    for (let k = 0; k < steps; k++) {
      const e = await eps(z, k, nullCond);
      const [a, ap] = [alphaBar(k), alphaBar(k - 1)];
      const z0 = axpby(1 / Math.sqrt(ap), z, -Math.sqrt(1 - ap) / Math.sqrt(ap), e);
      z = axpby(Math.sqrt(a), z0, Math.sqrt(1 - a), e);
    }
    let z0Hat = z;
    for (let k = steps - 1; k >= 0; k--) {
      const [a, ap] = [alphaBar(k), alphaBar(k - 1)];
      const epsU = await eps(z, k, nullCond);
      const epsC = await eps(z, k, target);
      const epsTilde = axpby(1 - lambda * a, epsU, lambda * a, epsC);
      z0Hat = axpby(1 / Math.sqrt(a), z, -Math.sqrt(1 - a) / Math.sqrt(a), epsTilde);
      z = axpby(Math.sqrt(ap), z0Hat, Math.sqrt(1 - ap), epsU);
    }
    for (let i = 0; i < 4; i++) expect(result.x.data[i]).toBeCloseTo(z0Hat.data[i], 4);
    expect(result.nfe).toBe(steps + 2 * steps);
  });

  it("gives the same edit on VP and flow schedules", async () => {
    // lambda 0 checks the inversion alone, lambda 1 the editing too.
    for (const lambda of [0, 1]) {
      const params = dreamSamplerParamsSchema.parse({
        steps: 20,
        lambda,
        referenceSchedule: "sd15",
      });
      const vp = await new DreamSamplerSolver(params).solve(
        editing(new Denoiser(model("vp"))),
        createRng(0),
      );
      const flow = await new DreamSamplerSolver(params).solve(
        editing(new Denoiser(model("flow", "x0"))),
        createRng(0),
      );
      for (let i = 0; i < 4; i++) expect(flow.x.data[i]).toBeCloseTo(vp.x.data[i], 5);
      expect(flow.diagnostics.referenceSchedule).toBe("sd15");
      expect(vp.diagnostics.referenceSchedule).toBe("model");
    }
  });

  it("moves toward the target as lambda grows", async () => {
    const denoiser = new Denoiser(model("vp"));
    const distances = [];
    for (const lambda of [0, 0.5, 2]) {
      const solver = new DreamSamplerSolver(dreamSamplerParamsSchema.parse({ steps: 20, lambda }));
      const { x } = await solver.solve(editing(denoiser), createRng(0));
      distances.push(Math.hypot(...Array.from(x.data, (v, i) => v - SOURCE.data[i])));
    }
    // lambda 0 is the plain DDIM round trip: close to the source, not exactly on it.
    expect(distances[0]).toBeLessThan(0.25 * distances[2]);
    expect(distances[1]).toBeGreaterThan(distances[0]);
    expect(distances[2]).toBeGreaterThan(distances[1]);
  });

  it("passes prompts through unchanged", async () => {
    const odd = ['a "quoted" [cat]', "chien – ξ ✓ {dog}"];
    const recorder = new LabelGmmModel({
      mixtures: MIXTURES,
      prompts: { [odd[0]]: 0, [odd[1]]: 1 },
      shape: [1, 2, 2],
      schedule: REFERENCE_SCHEDULES.sd15,
      parameterisation: "epsilon",
    });
    const solver = new DreamSamplerSolver(
      dreamSamplerParamsSchema.parse({ steps: 4, nullPrompt: "" }),
    );
    const problem = {
      ...editing(new Denoiser(recorder)),
      sourcePrompt: odd[0],
      targetPrompt: odd[1],
    };
    const result = await solver.solve(problem, createRng(0));
    expect(result.x.isFinite()).toBe(true);
    expect([...new Set(recorder.prompts)].sort()).toEqual(["", ...odd].sort());
  });

  it("reports inversion and sampling steps", async () => {
    const infos: StepInfo[] = [];
    const solver = new DreamSamplerSolver(dreamSamplerParamsSchema.parse({ steps: 5 }));
    const result = await solver.solve(editing(new Denoiser(model("vp"))), createRng(0), {
      onStep: (info) => infos.push(info),
    });
    expect(infos.map((info) => info.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(infos.every((info) => info.totalSteps === 10)).toBe(true);
    expect(result.steps).toBe(10);
    // Time rises through the inversion and falls through the sampling.
    expect(infos[4].t).toBeGreaterThan(infos[0].t);
    expect(infos[9].t).toBeLessThan(infos[5].t);
  });

  it("stops between steps when cancelled", async () => {
    const controller = new AbortController();
    const solver = new DreamSamplerSolver(dreamSamplerParamsSchema.parse({ steps: 5 }));
    const run = solver.solve(editing(new Denoiser(model("vp"))), createRng(0), {
      signal: controller.signal,
      onStep: (info) => {
        if (info.step === 7) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: "cancelled", path: ["sample", 0, "step", 8] });
  });
});

/** Builds the restoration of the 2 x 2 test image with its lower row missing. */
function restoration(denoiser: Denoiser, prompt?: string): RestorationProblem {
  const operator = new MaskOperator([1, 2, 2], Float32Array.of(1, 1, 0, 0));
  return {
    kind: "restoration",
    denoiser,
    operator,
    y: operator.forward(SOURCE),
    sigmaY: 0,
    shape: [1, 2, 2],
    prompt,
  };
}

/** Wraps the pixel model as a latent model with an identity codec, with or without a decoder VJP. */
function asLatent(inner: Model, decoderVjp: boolean): Model {
  return {
    info: {
      ...inner.info,
      space: "latent",
      vae: { scale: 1, shift: 0, downsample: 1, latentChannels: inner.info.channels },
    },
    predict: (...args) => inner.predict(...args),
    vjp: inner.vjp?.bind(inner),
    condition: (...args) => inner.condition(...args),
    encode: async (x) => x.clone(),
    decode: async (z) => z.clone(),
    ...(decoderVjp ? { decodeVjp: async (_z: Tensor, g: Tensor) => g.clone() } : {}),
    dispose: async () => {},
  };
}

describe("DreamSampler restoration", () => {
  const params = dreamSamplerParamsSchema.parse({ steps: 12 });

  it("gives the same result with the exact VJP and the finite difference", async () => {
    const exact = new Denoiser(model("vp"), { vjpMode: "vjp" });
    const fd = new Denoiser(model("vp"), { vjpMode: "jvp-fd" });
    const a = await new DreamSamplerSolver(params).solve(restoration(exact, "dog"), createRng(3));
    const b = await new DreamSamplerSolver(params).solve(restoration(fd, "dog"), createRng(3));
    expect(a.diagnostics.vjpMode).toBe("vjp");
    expect(b.diagnostics.vjpMode).toBe("jvp-fd");
    for (let i = 0; i < 4; i++) expect(b.x.data[i]).toBeCloseTo(a.x.data[i], 3);
  });

  it("steps latents through the decoder VJP or re-encodes", async () => {
    const pixel = await new DreamSamplerSolver(params).solve(
      restoration(new Denoiser(model("vp"))),
      createRng(4),
    );
    const viaVjp = await new DreamSamplerSolver(params).solve(
      restoration(new Denoiser(asLatent(model("vp"), true))),
      createRng(4),
    );
    const reencoded = await new DreamSamplerSolver(params).solve(
      restoration(new Denoiser(asLatent(model("vp"), false))),
      createRng(4),
    );
    expect(pixel.diagnostics.latentGradient).toBe("pixel");
    expect(viaVjp.diagnostics.latentGradient).toBe("decoder-vjp");
    expect(reencoded.diagnostics.latentGradient).toBe("pixel-reencode");
    // With an identity decoder the decoder-VJP path is the pixel path exactly.
    expect(Array.from(viaVjp.x.data)).toEqual(Array.from(pixel.x.data));
    expect(Array.from(reencoded.x.data)).not.toEqual(Array.from(pixel.x.data));
    expect(reencoded.x.isFinite()).toBe(true);
  });

  it("draws each sample from its own stream", async () => {
    const denoiser = new Denoiser(model("vp"));
    const one = await new DreamSamplerSolver(params).solve(restoration(denoiser), createRng(5));
    const three = await new DreamSamplerSolver({ ...params, samples: 3 }).solve(
      restoration(denoiser),
      createRng(5),
    );
    expect(three.x.shape).toEqual([3, 1, 2, 2]);
    expect(Array.from(three.x.item(0).data)).toEqual(Array.from(one.x.data));
    expect(Array.from(three.x.item(1).data)).not.toEqual(Array.from(one.x.data));
    expect(three.std?.data.some((v) => v > 0)).toBe(true);
  });

  it("rejects operators without an adjoint", async () => {
    const problem = restoration(new Denoiser(model("vp")));
    const nonlinear: Operator = {
      spec: { kind: "square" },
      inputShape: [1, 2, 2],
      outputShape: [1, 2, 2],
      linear: false,
      forward: (x) => x.map((v) => v * v),
    };
    await expect(
      new DreamSamplerSolver(params).solve({ ...problem, operator: nonlinear }, createRng(0)),
    ).rejects.toMatchObject({ code: "unsupported", received: "square" });
  });
});

describe("dreamSamplerPlugin", () => {
  it("parses every preset and keeps the official defaults", () => {
    expect(dreamSamplerPlugin.name).toBe("dreamsampler");
    expect(dreamSamplerPlugin.tasks).toEqual(["editing", "restoration"]);
    for (const [name, preset] of Object.entries(dreamSamplerPlugin.presets)) {
      expect(preset.source.length, name).toBeGreaterThan(40);
      expect(() => dreamSamplerPlugin.paramsSchema.parse(preset.params), name).not.toThrow();
    }
    expect(dreamSamplerParamsSchema.parse({})).toMatchObject({
      steps: 200,
      lambda: 0.2,
      nullPrompt: "",
      cgIterations: 10,
      cgLambda: 1e-4,
      dreamEvery: 3,
      dreamUntil: 0.85,
    });
    expect(dreamSamplerParamsSchema.safeParse({ lambda: -1 }).success).toBe(false);
  });
});
