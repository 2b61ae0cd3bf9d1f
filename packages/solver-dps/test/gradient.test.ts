import { Denoiser, Tensor } from "@tweedie/core";
import {
  createGridMixture,
  GmmModel,
  IdentityCovarianceDenoiser,
  MatrixOperator,
  matrix,
} from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import { residualNormGradient } from "../src/index.js";
import { maxAbsDiff } from "./helpers.js";

// A 4-dimensional grid mixture with spacing 0.5: its means lie in [-1, 1], so x0Hat comes
// close to the clip bounds and some entries of the points below saturate.
const mixture = createGridMixture(4, { spacing: 0.5 });
const model = new GmmModel(mixture, { parameterisation: "epsilon" });
const exact = new IdentityCovarianceDenoiser(mixture);
const operator = new MatrixOperator(matrix(2, 4, [0.9, -0.3, 0.2, 0.5, 0.1, 0.7, -0.6, 0.4]));
const y = Tensor.from([0.35, -0.8], [1, 2, 1, 1]);
const t = 0.3;
const alpha = model.schedule.alpha(t);
const sigma = model.schedule.sigma(t);
const xt = Tensor.from([1.9, -0.2, 0.4, 2.6, -1.7, 0.9, -0.1, 0.3], [2, 4, 1, 1]);

/** ||y - A clip(x0Hat(x))|| for one point x, in float64. */
function loss(x: Float64Array): number {
  const x0 = exact.denoise(x, alpha, sigma).map((v) => Math.min(1, Math.max(-1, v)));
  const a = operator.matrix.data;
  let sum = 0;
  for (let i = 0; i < 2; i++) {
    let ax = 0;
    for (let j = 0; j < 4; j++) ax += a[i * 4 + j] * x0[j];
    sum += (y.data[i] - ax) ** 2;
  }
  return Math.sqrt(sum);
}

/** Central-difference gradient of the loss per sample, in float64. */
function numericGradient(): Float64Array {
  const out = new Float64Array(8);
  const h = 1e-6;
  for (let n = 0; n < 2; n++) {
    const point = Float64Array.from(xt.data.subarray(4 * n, 4 * n + 4));
    for (let i = 0; i < 4; i++) {
      const plus = Float64Array.from(point);
      const minus = Float64Array.from(point);
      plus[i] += h;
      minus[i] -= h;
      out[4 * n + i] = (loss(plus) - loss(minus)) / (2 * h);
    }
  }
  return out;
}

async function gradientBy(mode: "vjp" | "jvp-fd", clipped: boolean) {
  const denoiser = new Denoiser(model);
  const raw = await denoiser.denoise(xt, t, { kind: "none" }, { clipX0: false });
  const mask = new Uint8Array(raw.x0Hat.size);
  const x0Hat = raw.x0Hat.map((v, i) => {
    mask[i] = Math.abs(v) <= 1 ? 1 : 0;
    return clipped ? Math.min(1, Math.max(-1, v)) : v;
  });
  const result = await residualNormGradient({
    denoiser,
    operator,
    y,
    xt,
    t,
    cond: { kind: "none" },
    x0Hat,
    clipMask: clipped ? mask : null,
    mode,
    probe: 1e-2 * sigma,
  });
  return { ...result, mask, nfe: denoiser.nfe };
}

describe("residual-norm gradient", () => {
  it("has saturated entries in this case", async () => {
    const { mask } = await gradientBy("vjp", true);
    expect(mask.includes(0)).toBe(true);
    expect(mask.includes(1)).toBe(true);
  });

  it("matches the numeric gradient through the clip (exact VJP)", async () => {
    const expected = numericGradient();
    const { gradient } = await gradientBy("vjp", true);
    const scale = Math.max(...expected.map(Math.abs));
    expect(maxAbsDiff(gradient.data, expected) / scale).toBeLessThan(1e-4);
  });

  it("matches the numeric gradient through the clip (finite difference)", async () => {
    const expected = numericGradient();
    const { gradient, nfe } = await gradientBy("jvp-fd", true);
    const scale = Math.max(...expected.map(Math.abs));
    expect(maxAbsDiff(gradient.data, expected) / scale).toBeLessThan(1e-2);
    // One denoise for x0Hat plus the two probes of each of the two samples.
    expect(nfe).toBe(2 + 4);
  });

  it("reports the residual norm per sample", async () => {
    const { residualNorms } = await gradientBy("vjp", true);
    expect(residualNorms[0]).toBeCloseTo(loss(Float64Array.from(xt.data.subarray(0, 4))), 5);
    expect(residualNorms[1]).toBeCloseTo(loss(Float64Array.from(xt.data.subarray(4, 8))), 5);
  });

  it("is zero, not NaN, at a zero residual", async () => {
    const denoiser = new Denoiser(model);
    const x0Hat = Tensor.from([0.1, 0.2, -0.3, 0.4], [1, 4, 1, 1]);
    const result = await residualNormGradient({
      denoiser,
      operator,
      y: operator.forward(x0Hat),
      xt: Tensor.zeros([1, 4, 1, 1]),
      t,
      cond: { kind: "none" },
      x0Hat,
      clipMask: null,
      mode: "vjp",
      probe: 1e-2,
    });
    expect(Array.from(result.gradient.data)).toEqual([0, 0, 0, 0]);
    expect(result.residualNorms[0]).toBe(0);
    expect(denoiser.nfe).toBe(0);
  });
});
