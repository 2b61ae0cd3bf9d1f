import { Tensor } from "@tweedie/core";
import { MatrixOperator, matrix } from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import {
  flowDpsParamsSchema,
  flowDpsPresets,
  operatorNormSquared,
  preconditionedDirection,
} from "../src/index.js";
import { oneStepProblem } from "./one-step.js";

// A = [[1, 0, 0], [0, 2, 0]]: A^+ = [[1, 0], [0, 1/2], [0, 0]], A^T A = diag(1, 4, 0), ||A||^2 = 4.
const small = new MatrixOperator(matrix(2, 3, [1, 0, 0, 0, 2, 0]));
const u = Tensor.from([1, 1, 1], [1, 3, 1, 1]);
// r = y - A u = [3 - 1, 0 - 2] = [2, -2].
const y = Tensor.from([3, 0], [1, 2, 1, 1]);

describe("preconditioned inner step direction", () => {
  it("pinv gives A^+ r", () => {
    const d = preconditionedDirection(
      small,
      { projection: "pinv", lambda: 1, operatorNormSquared: 1 },
      u,
      y,
    );
    expect(Array.from(d.data)).toEqual([2, -1, 0]);
  });

  it("adjoint gives A^T r / ||A||^2", () => {
    const d = preconditionedDirection(
      small,
      { projection: "adjoint", lambda: 1, operatorNormSquared: 4 },
      u,
      y,
    );
    expect(Array.from(d.data)).toEqual([0.5, -1, 0]);
  });

  it("tikhonov gives (A^T A + lambda I)^-1 A^T r", () => {
    // A^T r = [2, -4, 0]; with lambda 0.5 the diagonal is (1.5, 4.5, 0.5).
    const d = preconditionedDirection(
      small,
      { projection: "tikhonov", lambda: 0.5, operatorNormSquared: 1 },
      u,
      y,
    );
    expect(d.data[0]).toBeCloseTo(4 / 3, 6);
    expect(d.data[1]).toBeCloseTo(-8 / 9, 6);
    expect(d.data[2]).toBe(0);
  });

  it("operator norm squared of a diagonal map", () => {
    expect(operatorNormSquared(small)).toBeCloseTo(4, 6);
  });
});

describe("FlowDPS preconditioned step", () => {
  // Same seed, same draws: the difference from innerSteps 0 is lr d(x0Hat).
  const { solveOnce } = oneStepProblem();

  it("matches hand-computed updates", async () => {
    const x0 = await solveOnce({ innerSteps: 0 });
    const r0 = 0.5 - 2 * x0[0];
    const r1 = -1 - x0[1];
    const lr = 0.7;
    const lambda = 0.25;
    const expected = {
      pinv: [r0 / 2, r1],
      adjoint: [(2 * r0) / 4, r1 / 4],
      tikhonov: [(2 * r0) / (4 + lambda), r1 / (1 + lambda)],
    };
    for (const [projection, [d0, d1]] of Object.entries(expected)) {
      const x = await solveOnce({
        innerStep: "preconditioned",
        innerSteps: 1,
        learningRate: lr,
        tikhonovLambda: lambda,
        projection,
      });
      expect(x[0], projection).toBeCloseTo(x0[0] + lr * d0, 5);
      expect(x[1], projection).toBeCloseTo(x0[1] + lr * d1, 5);
      for (let i = 2; i < 8; i++) expect(x[i], `${projection} ${i}`).toBeCloseTo(x0[i], 6);
    }
  });

  it("lands on the measurement set with pinv and lr 1", async () => {
    const x = await solveOnce({ innerStep: "preconditioned", innerSteps: 1, projection: "pinv" });
    expect(2 * x[0]).toBeCloseTo(0.5, 5);
    expect(x[1]).toBeCloseTo(-1, 5);
  });

  it("keeps the official norm step by default", () => {
    const params = flowDpsParamsSchema.parse({});
    expect(params.innerStep).toBe("norm");
    expect(params.learningRate).toBe(1);
  });

  it("rejects tikhonov with the norm step", async () => {
    await expect(solveOnce({ projection: "tikhonov" })).rejects.toMatchObject({
      code: "invalid_value",
      path: ["params", "projection"],
    });
  });
});

describe("FlowDPS presets", () => {
  it("keeps the official SD3 preset", () => {
    expect(flowDpsPresets["flowdps-sd3"].params).toEqual({
      steps: 28,
      shift: 4,
      baseShift: 3,
      innerSteps: 3,
      stepSize: 15,
      cfgScale: 2,
    });
    const official = flowDpsParamsSchema.parse(flowDpsPresets["flowdps-sd3"].params);
    expect(official.innerStep).toBe("norm");
  });

  it("photo presets use the preconditioned step", () => {
    const photos = flowDpsParamsSchema.parse(flowDpsPresets["flowdps-embedded-photos"].params);
    expect(photos).toMatchObject({ innerStep: "preconditioned", projection: "auto", shift: 1 });
    const deblur = flowDpsParamsSchema.parse(flowDpsPresets["flowdps-embedded-deblur"].params);
    expect(deblur).toMatchObject({
      innerStep: "preconditioned",
      projection: "tikhonov",
      tikhonovLambda: 0.01,
      innerSteps: 1,
      learningRate: 1,
    });
  });
});
