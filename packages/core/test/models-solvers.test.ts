/**
 * Each solver plugin in the workspace run end to end on the tiny model fixtures, through
 * its exported plugin object. Core depends on no solver, so the plugins are imported from
 * their sources at run time, and this file imports core from its build (`dist`), the copy
 * the solvers import, so that both sides share one Tensor and Denoiser class. A plugin
 * whose package is absent is skipped.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type * as Core from "../dist/index.js";
import { FIXTURES, pattern } from "./models-helpers.js";

const core: typeof Core = await import("../dist/index.js");
const { createRng, Denoiser, loadDiffusersPackage, loadModelPackage, Tensor } = core;

const PACKAGES = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Imports the named plugin of a solver package; undefined when the package is absent. */
async function plugin(pkg: string, name: string): Promise<Core.SolverPlugin | undefined> {
  const entry = join(PACKAGES, pkg, "src", "index.ts");
  if (!existsSync(entry)) return undefined;
  const module = (await import(pathToFileURL(entry).href)) as Record<string, Core.SolverPlugin>;
  return module[name];
}

const dps = await plugin("solver-dps", "dpsPlugin");
const flowDps = await plugin("solver-flowdps", "flowDpsPlugin");
const dreamSampler = await plugin("solver-dreamsampler", "dreamSamplerPlugin");
const flowAlign = await plugin("solver-flowalign", "flowAlignPlugin");

/** Average pooling by `factor` on [C, H, W] images: exact adjoint and pseudo-inverse. */
class AveragePool implements Core.Operator {
  readonly spec: Core.OperatorSpec;
  readonly outputShape: readonly number[];
  readonly linear = true;

  constructor(
    readonly inputShape: readonly number[],
    private readonly factor: number,
  ) {
    const [c, h, w] = inputShape;
    this.spec = { kind: "average-pool", factor };
    this.outputShape = [c, h / factor, w / factor];
  }

  forward(x: Core.Tensor): Core.Tensor {
    const [c, h, w] = this.inputShape;
    const f = this.factor;
    const [oh, ow] = [h / f, w / f];
    const n = x.size / (c * h * w);
    const out = new Float32Array(n * c * oh * ow);
    for (let i = 0; i < x.size; i++) {
      const col = i % w;
      const row = Math.floor(i / w) % h;
      const plane = Math.floor(i / (h * w));
      out[(plane * oh + Math.floor(row / f)) * ow + Math.floor(col / f)] += x.data[i] / (f * f);
    }
    return new Tensor(out, [n, c, oh, ow]);
  }

  adjoint(y: Core.Tensor): Core.Tensor {
    return this.spread(y, 1 / (this.factor * this.factor));
  }

  pseudoInverse(y: Core.Tensor): Core.Tensor {
    return this.spread(y, 1);
  }

  private spread(y: Core.Tensor, weight: number): Core.Tensor {
    const [c, h, w] = this.inputShape;
    const f = this.factor;
    const [oh, ow] = [h / f, w / f];
    const n = y.size / (c * oh * ow);
    const out = new Float32Array(n * c * h * w);
    for (let i = 0; i < out.length; i++) {
      const col = i % w;
      const row = Math.floor(i / w) % h;
      const plane = Math.floor(i / (h * w));
      out[i] = weight * y.data[(plane * oh + Math.floor(row / f)) * ow + Math.floor(col / f)];
    }
    return new Tensor(out, [n, c, h, w]);
  }
}

function expectFiniteImage(x: Core.Tensor, shape: number[]): void {
  expect([...x.shape]).toEqual(shape);
  expect(x.isFinite()).toBe(true);
}

/** Creates a solver from `plugin` with `params` parsed by its schema, as the runner does. */
function createSolver(
  plugin: Core.SolverPlugin | undefined,
  params: Record<string, unknown>,
): Core.Solver {
  const chosen = plugin as Core.SolverPlugin;
  return chosen.create(chosen.paramsSchema.parse(params));
}

async function solveTwice(
  solver: Core.Solver,
  problem: Core.Problem,
  seed: number,
): Promise<[Core.SolveResult, Core.SolveResult]> {
  const first = await solver.solve(problem, createRng(seed));
  const second = await solver.solve(problem, createRng(seed));
  return [first, second];
}

const disposers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const dispose of disposers) await dispose();
});

describe.skipIf(dps === undefined)("DPS on the ADM fixture", () => {
  it("restores through the ADM VJP graph", async () => {
    const model = await loadModelPackage(join(FIXTURES, "adm"));
    disposers.push(() => model.dispose());
    const operator = new AveragePool([3, 16, 16], 2);
    const clean = pattern({ shape: [1, 3, 16, 16], phase: 0.4 });
    const problem: Core.RestorationProblem = {
      kind: "restoration",
      denoiser: new Denoiser(model),
      operator,
      y: operator.forward(clean),
      sigmaY: 0.05,
      shape: [3, 16, 16],
    };
    const solver = createSolver(dps, { steps: 5, zeta: 0.3 });
    const [first, second] = await solveTwice(solver, problem, 7);
    expectFiniteImage(first.x, [1, 3, 16, 16]);
    // Each step runs the denoiser graph once and the VJP graph (which recomputes the forward) once.
    expect(first.nfe).toBe(2 * 5);
    expect(first.diagnostics.gradientMode).toBe("vjp");
    expect(first.diagnostics.vjpEvaluations).toBe(5);
    expect(first.diagnostics.variance).toBe("learned");
    expect(Array.from(second.x.data)).toEqual(Array.from(first.x.data));
  });
});

describe.skipIf(flowDps === undefined)("FlowDPS on the SD3 fixture", () => {
  it("restores through the decoder VJP graph with batched CFG", async () => {
    const model = await loadDiffusersPackage(join(FIXTURES, "sd3"));
    disposers.push(() => model.dispose());
    const operator = new AveragePool([3, 32, 32], 4);
    const clean = pattern({ shape: [1, 3, 32, 32], phase: 0.4 });
    const problem: Core.RestorationProblem = {
      kind: "restoration",
      denoiser: new Denoiser(model),
      operator,
      y: operator.forward(clean),
      sigmaY: 0.03,
      shape: [3, 32, 32],
      prompt: "a photo of a closed face",
    };
    const solver = createSolver(flowDps, { steps: 4, innerSteps: 2, cfgScale: 2 });
    const [first, second] = await solveTwice(solver, problem, 3);
    expectFiniteImage(first.x, [1, 3, 32, 32]);
    expect(first.nfe).toBe(2 * 4);
    expect(first.diagnostics.latentGradient).toBe("decoder-vjp");
    expect(first.diagnostics.guidance).toBe("cfg");
    expect(Array.from(second.x.data)).toEqual(Array.from(first.x.data));
  });
});

describe.skipIf(dreamSampler === undefined)("DreamSampler on the SD 1.5 fixture", () => {
  it("edits a source image with text prompts", async () => {
    const model = await loadDiffusersPackage(join(FIXTURES, "sd15"));
    disposers.push(() => model.dispose());
    const problem: Core.EditingProblem = {
      kind: "editing",
      denoiser: new Denoiser(model),
      source: pattern({ shape: [1, 3, 32, 32], phase: 0.4 }),
      sourcePrompt: "",
      targetPrompt: "a zebra standing in the grass",
    };
    const solver = createSolver(dreamSampler, { steps: 4 });
    const [first, second] = await solveTwice(solver, problem, 5);
    expectFiniteImage(first.x, [1, 3, 32, 32]);
    expect(first.nfe).toBeGreaterThan(0);
    expect(first.diagnostics.referenceSchedule).toBe("model");
    expect(Array.from(second.x.data)).toEqual(Array.from(first.x.data));
  });
});

describe.skipIf(flowAlign === undefined)("FlowAlign on the SD3 fixture", () => {
  it("edits with three transformer evaluations per step", async () => {
    const model = await loadDiffusersPackage(join(FIXTURES, "sd3"));
    disposers.push(() => model.dispose());
    const problem: Core.EditingProblem = {
      kind: "editing",
      denoiser: new Denoiser(model),
      source: pattern({ shape: [1, 3, 32, 32], phase: 0.4 }),
      sourcePrompt: "a photo of a closed face",
      targetPrompt: "a photo of a closed face of a dog",
    };
    const solver = createSolver(flowAlign, { steps: 4 });
    const [first, second] = await solveTwice(solver, problem, 9);
    expectFiniteImage(first.x, [1, 3, 32, 32]);
    expect(first.nfe).toBe(3 * 4);
    expect(Array.from(second.x.data)).toEqual(Array.from(first.x.data));
  });
});
