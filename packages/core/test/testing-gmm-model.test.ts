import { describe, expect, it } from "vitest";
import type { Parameterisation } from "../src/contracts/model.js";
import { createRng } from "../src/rng.js";
import { Tensor } from "../src/tensor.js";
import {
  createGridMixture,
  GmmModel,
  IdentityCovarianceDenoiser,
  MatrixOperator,
  matrix,
} from "../src/testing/index.js";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

const mixture = createGridMixture(4);
const exactDenoiser = new IdentityCovarianceDenoiser(mixture);
const xt = new Tensor(Float32Array.from([3, -7, 0.5, 12, -1, 2, 9, -15]), [2, 4, 1, 1]);

describe("GmmModel", () => {
  it("declares the Model contract fields", () => {
    const model = new GmmModel(mixture, { parameterisation: "x0" });
    expect(model.info.parameterisation).toBe("x0");
    expect(model.info.schedule).toEqual({
      kind: "vp-linear",
      betaStart: 1e-4,
      betaEnd: 0.02,
      steps: 1000,
    });
    expect(model.info.channels).toBe(4);
    expect(model.info.hasVjp).toBe(true);
    expect(model.info.learnedVariance).toBe(false);
  });

  it.each<[Parameterisation, string]>([
    ["x0", "vp"],
    ["epsilon", "vp"],
    ["v", "vp"],
    ["velocity", "flow"],
    ["epsilon", "flow"],
  ])("predict(%s, %s) converts back to the exact x0Hat", async (parameterisation, kind) => {
    const schedule = kind === "vp" ? undefined : ({ kind: "rectified-flow", shift: 3 } as const);
    const model = new GmmModel(mixture, { parameterisation, schedule });
    const t = 0.37;
    const alpha = model.schedule.alpha(t);
    const sigma = model.schedule.sigma(t);
    const raw = (await model.predict(xt, t, { kind: "none" })).data;
    const exact = exactDenoiser.output(
      xt.data,
      { alpha, sigma },
      { x0Weight: 1, epsWeight: 0 },
    ).output;
    // Invert each parameterisation by hand. A flow velocity is u = eps - x0 at any shift,
    // and alpha + sigma = 1, so x0 = x_t - sigma u.
    const x0Hat = Array.from(raw, (value, i) => {
      const x = xt.data[i];
      if (parameterisation === "x0") return value;
      if (parameterisation === "epsilon") return (x - sigma * value) / alpha;
      if (parameterisation === "v") return alpha * x - sigma * value;
      return x - sigma * value;
    });
    expect(maxAbsDiff(x0Hat, exact)).toBeLessThan(2e-5 * 16);
  });

  it("vjp satisfies <J u, v> = <u, J^T v> against central differences", async () => {
    const model = new GmmModel(mixture, { parameterisation: "epsilon" });
    const t = 0.2;
    const u = createRng(1).normalTensor([2, 4, 1, 1]);
    const v = createRng(2).normalTensor([2, 4, 1, 1]);
    const { output, vjp } = await model.vjp(xt, t, { kind: "none" }, v);
    expect(Array.from(output.data)).toEqual(
      Array.from((await model.predict(xt, t, { kind: "none" })).data),
    );
    const alpha = model.schedule.alpha(t);
    const sigma = model.schedule.sigma(t);
    const h = 1e-6;
    const eps = { x0Weight: 0, epsWeight: 1 };
    const plus = exactDenoiser.output(
      Array.from(xt.data, (x, i) => x + h * u.data[i]),
      { alpha, sigma },
      eps,
    ).output;
    const minus = exactDenoiser.output(
      Array.from(xt.data, (x, i) => x - h * u.data[i]),
      { alpha, sigma },
      eps,
    ).output;
    const ju = plus.map((value, i) => (value - minus[i]) / (2 * h));
    expect(Math.abs(dot(ju, v.data) - dot(u.data, vjp.data))).toBeLessThan(1e-5);
  });

  it("rejects a tensor that is not [N, dim, 1, 1]", async () => {
    const model = new GmmModel(mixture);
    await expect(model.predict(Tensor.zeros([1, 4]), 0.5, { kind: "none" })).rejects.toThrow(
      /must be shaped \[N, 4, 1, 1\]/,
    );
  });
});

describe("MatrixOperator", () => {
  const a = matrix(2, 5, [1, 0.5, -2, 0, 3, 0.25, -1, 0, 4, 1]);
  const operator = new MatrixOperator(a);

  it("adjoint satisfies <A x, y> = <x, A^T y>", () => {
    const x = createRng(3).normalTensor([3, 5, 1, 1]);
    const y = createRng(4).normalTensor([3, 2, 1, 1]);
    expect(
      Math.abs(dot(operator.forward(x).data, y.data) - dot(x.data, operator.adjoint(y).data)),
    ).toBeLessThan(1e-4);
  });

  it("forward of one image is A x", () => {
    const x = Tensor.from([1, 2, 3, 4, 5], [5, 1, 1]);
    expect(Array.from(operator.forward(x).data)).toEqual([
      1 + 1 - 6 + 0 + 15,
      0.25 - 2 + 0 + 16 + 5,
    ]);
    expect(operator.forward(x).shape).toEqual([2, 1, 1]);
  });

  it("pseudo-inverse is A^T (A A^T)^-1 y", () => {
    const y = Tensor.from([1, -2], [1, 2, 1, 1]);
    // A A^T = [[14.25, 2.75], [2.75, 18.0625]] for the matrix above.
    const g = [14.25, 2.75, 2.75, 18.0625];
    const det = g[0] * g[3] - g[1] * g[2];
    const z = Tensor.from(
      [(g[3] * 1 - g[1] * -2) / det, (-g[2] * 1 + g[0] * -2) / det],
      [1, 2, 1, 1],
    );
    const expected = operator.adjoint(z);
    expect(maxAbsDiff(operator.pseudoInverse(y).data, expected.data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(operator.forward(operator.pseudoInverse(y)).data, y.data)).toBeLessThan(1e-5);
  });

  it("recreates itself from its JSON spec", () => {
    const copy = MatrixOperator.fromSpec(JSON.parse(JSON.stringify(operator.spec)));
    expect(Array.from(copy.matrix.data)).toEqual(Array.from(a.data));
  });

  it("rejects an input of another shape", () => {
    expect(() => operator.forward(Tensor.zeros([1, 4, 1, 1]))).toThrow(/shape/);
  });
});
