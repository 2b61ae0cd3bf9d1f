import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  average2,
  type Conditioning,
  checkPatchesMultiscalePackage,
  createRng,
  createSchedule,
  embeddedModelDir,
  loadModel,
  type Model,
  type ModelInfo,
  multiscaleModel,
  type ScheduleSpec,
  Tensor,
  upsample2,
} from "../src/index.js";

const FLOW: ScheduleSpec = { kind: "rectified-flow", shift: 1 };
const NONE: Conditioning = { kind: "none" };

/**
 * An x0 model with a closed-form output, recording the input of every call: `naive`
 * returns x_t / alpha (no denoising at all), `ratio` returns the constant sigma / alpha of
 * the time it was called at.
 */
class ClosedFormModel implements Model {
  readonly info: ModelInfo = {
    name: "closed-form",
    parameterisation: "x0",
    schedule: FLOW,
    timestepInput: { kind: "alpha-sigma" },
    resolution: null,
    channels: 1,
    space: "pixel",
    conditioning: { kind: "none" },
    learnedVariance: false,
    hasVjp: false,
  };
  readonly calls: { side: number; t: number }[] = [];
  private readonly schedule = createSchedule(FLOW);

  constructor(private readonly kind: "naive" | "ratio") {}

  async predict(xt: Tensor, t: number): Promise<Tensor> {
    this.calls.push({ side: xt.shape[3], t });
    const alpha = this.schedule.alpha(t);
    const sigma = this.schedule.sigma(t);
    if (this.kind === "naive")
      return new Tensor(
        xt.data.map((v) => v / alpha),
        xt.shape,
      );
    return Tensor.full(xt.shape, sigma / alpha);
  }

  async condition(): Promise<Conditioning> {
    return NONE;
  }

  async dispose(): Promise<void> {}
}

function dot(a: Tensor, b: Tensor): number {
  let sum = 0;
  for (let i = 0; i < a.size; i++) sum += a.data[i] * b.data[i];
  return sum;
}

describe("multiscaleModel with closed-form models", () => {
  it("maps each level to the time of its lower noise", async () => {
    const inner = new ClosedFormModel("ratio");
    const model = multiscaleModel(inner, 2);
    const t = 0.6;
    const out = await model.predict(createRng(1).normalTensor([1, 1, 16, 16]), t, NONE);
    // Levels see 16, 8 and 4 pixels; the noise-to-signal ratio halves at each level.
    expect(inner.calls.map((call) => call.side)).toEqual([4, 8, 16]);
    const ratio = 0.6 / 0.4;
    const schedule = createSchedule(FLOW);
    const [coarsest, middle, finest] = inner.calls;
    expect(schedule.sigma(coarsest.t) / schedule.alpha(coarsest.t)).toBeCloseTo(ratio / 4, 9);
    expect(schedule.sigma(middle.t) / schedule.alpha(middle.t)).toBeCloseTo(ratio / 2, 9);
    expect(finest.t).toBe(t);
    // Constant estimates have no detail within blocks, so the coarsest level's value stays.
    for (const value of out.data) expect(value).toBeCloseTo(ratio / 4, 6);
  });

  it("returns x_t / alpha when every level does", async () => {
    // Level l receives its block means scaled to its own time, so a model returning
    // input / alpha_m(tau) gives avg(x_t) / alpha at every level and the combination is exact.
    const model = multiscaleModel(new ClosedFormModel("naive"), 2);
    const x = createRng(2).normalTensor([2, 1, 8, 8]);
    const out = await model.predict(x, 0.3, NONE);
    for (let i = 0; i < x.size; i++) expect(out.data[i]).toBeCloseTo(x.data[i] / 0.7, 5);
  });

  it("makes up the adjoint of avg over 2x2 blocks", () => {
    const x = createRng(3).normalTensor([1, 2, 4, 6]);
    const y = createRng(4).normalTensor([1, 2, 2, 3]);
    // <avg x, y> = <x, up(y) / 4>.
    expect(dot(average2(x), y)).toBeCloseTo(dot(x, upsample2(y)) / 4, 6);
  });

  it("rejects sizes the coarsest level cannot take", async () => {
    const model = multiscaleModel(new ClosedFormModel("naive"), 2, 4);
    await expect(model.predict(Tensor.zeros([1, 1, 24, 24]), 0.5, NONE)).rejects.toThrow(
      "the multiscale denoiser needs height and width divisible by 16",
    );
  });
});

describe("the embedded multiscale patches prior", () => {
  let model: Model;

  beforeAll(async () => {
    model = await loadModel(embeddedModelDir("patches-multiscale"));
  });

  afterAll(async () => {
    await model?.dispose();
  });

  it("is a current copy of the patches package", async () => {
    const patches = embeddedModelDir("patches");
    const committed = embeddedModelDir("patches-multiscale");
    expect(await checkPatchesMultiscalePackage(patches, committed)).toEqual([]);
    const dir = await mkdtemp(join(tmpdir(), "tweedie-multiscale-"));
    try {
      await cp(committed, dir, { recursive: true });
      const manifest = join(dir, "tweedie-model.json");
      await writeFile(
        manifest,
        (await readFile(manifest, "utf8")).replace('"levels": 2', '"levels": 3'),
      );
      expect(await checkPatchesMultiscalePackage(patches, dir)).toEqual([
        "patches-multiscale/tweedie-model.json differs from the one its writer produces",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("is the patches denoiser run at three scales", () => {
    expect(model.info.name).toBe("patches-multiscale");
    expect(model.info.hasVjp).toBe(true);
  });

  it.each([0.2, 0.6, 0.9])("has a VJP that matches finite differences at t = %s", async (t) => {
    const x = createRng(5)
      .normalTensor([1, 3, 32, 32])
      .map((v) => 0.5 * v);
    const v = createRng(6).normalTensor([1, 3, 32, 32]);
    const g = createRng(7).normalTensor([1, 3, 32, 32]);
    const { output, vjp } = await model.vjp!(x, t, NONE, g);
    const plain = await model.predict(x, t, NONE);

    // The VJP graph computes the output along another path, so only rounding may differ.
    let largest = 0;
    for (let i = 0; i < plain.size; i++) {
      largest = Math.max(largest, Math.abs(output.data[i] - plain.data[i]));
    }
    expect(largest).toBeLessThan(1e-5);

    // <g, J v> by a central difference in float32, against <J^T g, v>.
    const h = 1e-2;
    const plus = await model.predict(
      x.map((value, i) => value + h * v.data[i]),
      t,
      NONE,
    );
    const minus = await model.predict(
      x.map((value, i) => value - h * v.data[i]),
      t,
      NONE,
    );
    let directional = 0;
    for (let i = 0; i < g.size; i++) directional += g.data[i] * (plus.data[i] - minus.data[i]);
    directional /= 2 * h;
    const adjoint = dot(vjp, v);
    // The difference quotient has an O(h^2) error plus float32 rounding, about 4e-3 at
    // t = 0.6, where the coarse levels switch components fastest (1e-3 on one scale).
    // A missing input scale or a wrong adjoint gives errors of order 1.
    expect(Math.abs(adjoint - directional) / Math.abs(directional)).toBeLessThan(1e-2);
  });
});
