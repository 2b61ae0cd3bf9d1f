import { fileURLToPath } from "node:url";
import {
  createRng,
  Denoiser,
  DIGITS_NULL_LABEL,
  digitsPrompts,
  type EditingProblem,
  embeddedModelDir,
  loadModelPackage,
  type OnnxModel,
  type Solver,
  type StepInfo,
  Tensor,
  TweedieError,
} from "@tweedie/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FlowAlignSolver,
  FlowEditSolver,
  flowAlignParamsSchema,
  flowAlignPlugin,
  flowEditParamsSchema,
  flowEditPlugin,
  plugins,
  psnrUnit,
  readDigitsEditingMapping,
  reverseEdit,
  SdEditSolver,
  sdEditParamsSchema,
  sdEditPlugin,
} from "../src/index.js";

const MAPPING = fileURLToPath(new URL("../bench/digits-pie/mapping_file.json", import.meta.url));

let model: OnnxModel;
let denoiser: Denoiser;
let problem: EditingProblem;

beforeAll(async () => {
  model = await loadModelPackage(embeddedModelDir("digits"), { intraOpThreads: 1 });
  denoiser = new Denoiser(model);
  const [entry] = readDigitsEditingMapping(MAPPING);
  problem = {
    kind: "editing",
    denoiser,
    source: entry.source,
    sourcePrompt: entry.sourcePrompt,
    targetPrompt: entry.targetPrompt,
  };
});

afterAll(async () => {
  await model?.dispose();
});

/** Lists one small configuration of each solver (FlowEdit with nAvg 2 draws two noises per step). */
function solvers(): [string, Solver, number][] {
  return [
    [
      "flowedit",
      new FlowEditSolver(
        flowEditParamsSchema.parse({ steps: 10, nMax: 6, nAvg: 2, sourceCfg: 1, targetCfg: 3 }),
      ),
      6,
    ],
    [
      "flowalign",
      new FlowAlignSolver(
        flowAlignParamsSchema.parse({ steps: 8, shift: 2, gamma: 0.03, cfgScale: 1.5 }),
      ),
      8,
    ],
    ["sdedit", new SdEditSolver(sdEditParamsSchema.parse({ steps: 7 })), 7],
  ];
}

describe.each(solvers())("%s", (_name, solver, steps) => {
  it("repeats bit for bit under one seed", async () => {
    const a = await solver.solve(problem, createRng("seed-a"));
    const b = await solver.solve(problem, createRng("seed-a"));
    const c = await solver.solve(problem, createRng("seed-b"));
    expect(Array.from(b.x.data)).toEqual(Array.from(a.x.data));
    expect(Array.from(c.x.data)).not.toEqual(Array.from(a.x.data));
  });

  it("draws each sample from its own stream", async () => {
    const batch = await withSamples(solver, 3).solve(problem, createRng(5));
    const alone = await solver.solve(problem, createRng(5));
    expect(batch.x.shape).toEqual([3, 1, 8, 8]);
    expect(Array.from(batch.x.item(0).data)).toEqual(Array.from(alone.x.data));
    expect(Array.from(batch.x.item(1).data)).not.toEqual(Array.from(alone.x.data));
    expect(batch.mean?.shape).toEqual([1, 1, 8, 8]);
    expect(batch.std?.data.some((v) => v > 0)).toBe(true);
  });

  it("reports every step through onStep", async () => {
    const infos: StepInfo[] = [];
    const result = await solver.solve(problem, createRng(1), {
      onStep: (info) => infos.push(info),
    });
    expect(infos.map((info) => info.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    expect(infos.every((info) => info.totalSteps === steps)).toBe(true);
    expect(result.steps).toBe(steps);
    for (let i = 1; i < infos.length; i++) {
      expect(infos[i].t).toBeLessThan(infos[i - 1].t);
      expect(infos[i].nfe).toBeGreaterThan(infos[i - 1].nfe);
    }
    expect(infos[0].x0Hat.shape).toEqual([1, 1, 8, 8]);
  });

  it("stops between steps when cancelled", async () => {
    const controller = new AbortController();
    let seen = 0;
    const run = solver.solve(problem, createRng(1), {
      signal: controller.signal,
      onStep: (info) => {
        seen = info.step;
        if (info.step === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: "cancelled", path: ["sample", 0, "step", 3] });
    expect(seen).toBe(2);
  });

  it("passes prompts through unchanged", async () => {
    const odd = ['a "quoted" digit [3]', "digit {8} – acht, ξ ✓", ""];
    const recorder = new PromptRecorder(model, { [odd[0]]: 3, [odd[1]]: 8 });
    const recorded = {
      ...problem,
      denoiser: new Denoiser(recorder),
      sourcePrompt: odd[0],
      targetPrompt: odd[1],
    };
    const result = await solver.solve(recorded, createRng(2));
    expect(result.x.isFinite()).toBe(true);
    expect(recorder.prompts.every((p) => odd.includes(p))).toBe(true);
    expect(recorder.prompts).toContain(odd[1]);
  });

  it("reports an unknown prompt with the accepted ones", async () => {
    const error = await solver
      .solve({ ...problem, targetPrompt: "a handwritten digit 33" }, createRng(1))
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(TweedieError);
    expect((error as TweedieError).code).toBe("invalid_value");
    expect((error as TweedieError).received).toBe("a handwritten digit 33");
    expect(String((error as TweedieError).expected)).toContain('"a handwritten digit 3"');
  });
});

/** Rebuilds a solver of the same class with `samples` changed. */
function withSamples(solver: Solver, samples: number): Solver {
  const typed = solver as FlowEditSolver | FlowAlignSolver | SdEditSolver;
  const params = { ...typed.params, samples };
  if (typed instanceof FlowEditSolver)
    return new FlowEditSolver(params as FlowEditSolver["params"]);
  if (typed instanceof FlowAlignSolver)
    return new FlowAlignSolver(params as FlowAlignSolver["params"]);
  return new SdEditSolver(params as SdEditSolver["params"]);
}

/**
 * The digits model under extra prompts. It records every prompt it resolves and maps the
 * extra ones to labels, and it passes everything else to the digits package unchanged.
 */
class PromptRecorder {
  readonly prompts: string[] = [];
  readonly info: OnnxModel["info"];

  constructor(
    private readonly inner: OnnxModel,
    private readonly extra: Record<string, number>,
  ) {
    this.info = {
      ...inner.info,
      conditioning: {
        kind: "label",
        prompts: { ...digitsPrompts(), ...extra },
        nullLabel: DIGITS_NULL_LABEL,
      },
    };
  }

  async condition(prompt: string, batch: number) {
    this.prompts.push(prompt);
    const label = this.extra[prompt];
    if (label === undefined) return this.inner.condition(prompt, batch);
    return { kind: "label" as const, labels: new Int32Array(batch).fill(label), prompt };
  }

  predict(...args: Parameters<OnnxModel["predict"]>) {
    return this.inner.predict(...args);
  }

  async dispose() {}
}

describe("reverseEdit", () => {
  it("edits forward as a plain solve and back toward the source", async () => {
    const solver = new FlowAlignSolver(
      flowAlignParamsSchema.parse({ steps: 33, shift: 2, gamma: 0.03, cfgScale: 1.5 }),
    );
    const result = await reverseEdit(solver, problem, createRng(11));
    const plain = await solver.solve(problem, createRng(11));
    expect(Array.from(result.forward.x.data)).toEqual(Array.from(plain.x.data));
    expect(result.forwardPsnr).toBeCloseTo(psnrUnit(plain.x, problem.source), 10);
    expect(result.reversePsnr).toBeCloseTo(psnrUnit(result.reverse.x, problem.source), 10);
    expect(result.reversePsnr).toBeGreaterThan(result.forwardPsnr);
  });

  it("measures PSNR on [0, 1] after clipping", () => {
    const a = Tensor.full([1, 1, 2, 2], 0);
    const b = Tensor.full([1, 1, 2, 2], 0.25);
    // A difference of 0.25 on [-1, 1] is 0.125 on [0, 1]: 10 log10(64) dB.
    expect(psnrUnit(a, b)).toBeCloseTo(10 * Math.log10(64), 12);
    expect(psnrUnit(Tensor.full([1, 1, 2, 2], 3), Tensor.full([1, 1, 2, 2], 1))).toBe(Infinity);
    expect(psnrUnit(Tensor.full([1, 1, 2, 2], -1), Tensor.full([1, 1, 2, 2], 1))).toBeCloseTo(
      0,
      12,
    );
  });
});

describe("plugins", () => {
  it("export FlowEdit, FlowAlign and SDEdit with parsable presets", () => {
    expect(plugins.map((p) => p.name)).toEqual(["flowedit", "flowalign", "sdedit"]);
    for (const plugin of [flowEditPlugin, flowAlignPlugin, sdEditPlugin]) {
      expect(plugin.tasks).toEqual(["editing"]);
      for (const [name, preset] of Object.entries(plugin.presets)) {
        expect(preset.source.length, name).toBeGreaterThan(40);
        expect(() => plugin.paramsSchema.parse(preset.params), name).not.toThrow();
      }
    }
  });

  it("default to the official SD3 settings", () => {
    expect(flowEditParamsSchema.parse({})).toMatchObject({
      steps: 50,
      shift: 3,
      nMax: 33,
      nMin: 0,
      nAvg: 1,
      sourceCfg: 3.5,
      targetCfg: 13.5,
    });
    expect(flowAlignParamsSchema.parse({})).toMatchObject({
      steps: 33,
      shift: 3,
      gamma: 0.01,
      cfgScale: 13.5,
    });
    expect(sdEditParamsSchema.parse({}).t0).toBe(0.5);
  });

  it("reject inconsistent step counts and unknown keys", () => {
    expect(flowEditParamsSchema.safeParse({ steps: 20, nMax: 33 }).success).toBe(false);
    expect(flowEditParamsSchema.safeParse({ nMax: 5, nMin: 5 }).success).toBe(false);
    expect(flowAlignParamsSchema.safeParse({ zeta: 0.01 }).success).toBe(false);
  });

  it("create solvers that edit digits", async () => {
    const solver = flowEditPlugin.create(
      flowEditPlugin.paramsSchema.parse(flowEditPlugin.presets["flowedit-digits"].params),
    );
    const result = await solver.solve(problem, createRng(1));
    expect(result.x.shape).toEqual([1, 1, 8, 8]);
    // 25 steps: the source branch at CFG 1 costs one evaluation, the target's CFG two.
    expect(result.nfe).toBe(25 * 3);
  });
});
