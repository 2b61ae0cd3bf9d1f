import { type RestorationProblem, Tensor } from "@tweedie/core";
import { buildOperator } from "@tweedie/operators";
import { describe, expect, it } from "vitest";
import {
  bicubicUpsample,
  meanFillPlugin,
  pseudoInversePlugin,
  tikhonov,
} from "../src/solvers/baselines.js";

const SHAPE = [3, 16, 16] as const;

/** Returns a smooth image on [-0.8, 0.2] with a different level per channel. */
function smoothImage(): Tensor {
  const [c, h, w] = SHAPE;
  const data = new Float32Array(c * h * w);
  for (let k = 0; k < c; k++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++)
        data[(k * h + i) * w + j] = -0.3 - 0.2 * k + 0.3 * Math.sin(i / 3 + k) * Math.cos(j / 4);
    }
  }
  return new Tensor(data, [1, c, h, w]);
}

function problem(operator: ReturnType<typeof buildOperator>, y: Tensor): RestorationProblem {
  return {
    kind: "restoration",
    denoiser: undefined as never,
    operator,
    y,
    sigmaY: 0,
    shape: [...SHAPE],
  };
}

function maxAbsDifference(a: Tensor, b: Tensor): number {
  let max = 0;
  for (let i = 0; i < a.size; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
  return max;
}

describe("Tikhonov baseline", () => {
  const blur = buildOperator({ kind: "gaussian-blur", size: 9, sigma: 1.5 }, { imageShape: SHAPE });
  const lambda = 1e-2;

  it.each(["zero", "constant"] as const)("solves the normal equations (centre %s)", (centre) => {
    const y = blur.forward(smoothImage());
    const x = tikhonov(blur, y, SHAPE, lambda, 500, centre);
    // (A^T A + lambda I) x - A^T y = lambda m, where m is the centre image.
    const lhs = blur.adjoint!(blur.forward(x));
    const rhs = blur.adjoint!(y);
    let mean = 0;
    if (centre === "constant") {
      for (let i = 0; i < 256; i++) mean += y.data[i] / 256;
    }
    // Channel 0's centre; the blur preserves constants, so the fit is y's mean.
    for (let i = 0; i < 256; i++) {
      const residual = lhs.data[i] + lambda * x.data[i] - rhs.data[i];
      expect(residual).toBeCloseTo(lambda * mean, 4);
    }
  });

  it("returns a constant measurement unchanged when centred on the constant fit", () => {
    const y = Tensor.full([1, ...SHAPE], -0.6);
    const centred = tikhonov(blur, y, SHAPE, lambda, 100, "constant");
    expect(maxAbsDifference(centred, y)).toBeLessThan(1e-5);
    // The textbook form shrinks the same image towards mid-grey.
    const zero = tikhonov(blur, y, SHAPE, lambda, 100, "zero");
    expect(zero.data[0]).toBeGreaterThan(-0.6 + 1e-3);
  });

  it("records its centre in the diagnostics", async () => {
    const solver = pseudoInversePlugin.create(pseudoInversePlugin.paramsSchema.parse({}));
    const result = await solver.solve(problem(blur, blur.forward(smoothImage())), {} as never);
    expect(result.diagnostics).toEqual({ mode: "tikhonov(lambda=0.01, centre=constant)" });
  });
});

describe("pseudo-inverse baseline", () => {
  it("inverts average pooling in least squares", async () => {
    const pool = buildOperator({ kind: "sr-avgpool", scale: 4 }, { imageShape: SHAPE });
    const y = pool.forward(smoothImage());
    const solver = pseudoInversePlugin.create(pseudoInversePlugin.paramsSchema.parse({}));
    const { x } = await solver.solve(problem(pool, y), {} as never);
    // A A^+ y = y, and A^+ y is constant on each 4x4 block (the row space of A).
    expect(maxAbsDifference(pool.forward(x), y)).toBeLessThan(1e-6);
    expect(x.data[0]).toBeCloseTo(x.data[3 * 16 + 3], 6);
    expect(x.data[0]).toBeCloseTo(y.data[0], 6);
  });
});

describe("bicubic baseline", () => {
  it("reproduces a linear ramp away from the borders", () => {
    const [h, w] = [8, 8];
    const data = new Float32Array(h * w);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) data[i * w + j] = 0.1 * i - 0.05 * j;
    const up = bicubicUpsample(new Tensor(data, [1, 1, h, w]), 2);
    // Output pixel (I, J) sits at input coordinates ((I + 0.5) / 2 - 0.5, (J + 0.5) / 2 - 0.5);
    // Keys' kernel with a = -0.5 reproduces polynomials up to degree 2 exactly.
    for (let I = 4; I < 12; I++) {
      for (let J = 4; J < 12; J++) {
        const yi = (I + 0.5) / 2 - 0.5;
        const xj = (J + 0.5) / 2 - 0.5;
        expect(up.data[I * 16 + J]).toBeCloseTo(0.1 * yi - 0.05 * xj, 5);
      }
    }
  });
});

describe("mean-fill baseline", () => {
  it("keeps observed pixels and fills the box with their mean per channel", async () => {
    const box = buildOperator(
      { kind: "inpainting", pattern: "box", placement: "centred", boxSize: [8, 8] },
      { imageShape: SHAPE },
    );
    const image = smoothImage();
    const y = box.forward(image);
    const solver = meanFillPlugin.create({});
    const { x } = await solver.solve(problem(box, y), {} as never);
    const observed = box.forward(Tensor.full([1, ...SHAPE], 1)).data;
    for (let k = 0; k < 3; k++) {
      let sum = 0;
      let count = 0;
      for (let i = 0; i < 256; i++) {
        if (observed[k * 256 + i] > 0.5) {
          sum += image.data[k * 256 + i];
          count++;
        }
      }
      for (let i = 0; i < 256; i++) {
        const expected = observed[k * 256 + i] > 0.5 ? image.data[k * 256 + i] : sum / count;
        expect(x.data[k * 256 + i]).toBeCloseTo(expected, 5);
      }
    }
  });
});
