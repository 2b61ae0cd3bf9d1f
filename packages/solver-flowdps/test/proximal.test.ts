import { createRng, Tensor } from "@tweedie/core";
import { MatrixOperator, matrix } from "@tweedie/core/testing";
import { describe, expect, it } from "vitest";
import {
  FlowDpsSolver,
  flowDpsParamsSchema,
  flowDpsPresets,
  proximalDataStep,
} from "../src/index.js";
import { oneStepProblem } from "./one-step.js";

// A general 2x3 matrix, so that A^T A is neither diagonal nor a projector.
const operator = new MatrixOperator(matrix(2, 3, [1, 2, 0, -1, 1, 3]));
const x0Hat = Tensor.from([0.5, -0.25, 1], [1, 3, 1, 1]);
const y = Tensor.from([1.5, -2], [1, 2, 1, 1]);

/** Gradient of (1 / (2 sigmaY^2)) ||y - A u||^2 + (1 / (2 w r^2)) ||u - x0Hat||^2 at u. */
function objectiveGradient(u: Tensor, sigmaY: number, r: number, weight: number): number[] {
  const residual = operator.forward(u).data.map((value, i) => value - y.data[i]);
  const dataTerm = operator.adjoint(Tensor.from(Array.from(residual), [1, 2, 1, 1])).data;
  return Array.from(u.data, (value, i) => {
    return dataTerm[i] / sigmaY ** 2 + (value - x0Hat.data[i]) / (weight * r * r);
  });
}

describe("proximal data step", () => {
  it("solves the proximal problem exactly", () => {
    for (const [sigmaY, r, weight] of [
      [0.1, 0.2, 1],
      [0.05, 0.5, 0.5],
      [0.3, 0.1, 2],
    ]) {
      const u = proximalDataStep(operator, x0Hat, y, sigmaY, r, weight);
      const gradient = objectiveGradient(u, sigmaY, r, weight);
      // Each term of the gradient is of order 1 / sigmaY^2 times a residual of order 1.
      const termScale = 1 / sigmaY ** 2;
      for (const [i, value] of gradient.entries()) {
        expect(
          Math.abs(value) / termScale,
          `sigmaY ${sigmaY} r ${r} w ${weight} [${i}]`,
        ).toBeLessThan(1e-4);
      }
    }
  });

  it("matches a hand-computed diagonal case", () => {
    // A = diag(1, 2) on the first two of three coordinates; mu = 0.1^2 / 0.2^2 = 0.25.
    // A^T (y - A x0Hat) = [2, -4, 0] and A^T A + mu I = diag(1.25, 4.25, 0.25).
    const diagonal = new MatrixOperator(matrix(2, 3, [1, 0, 0, 0, 2, 0]));
    const start = Tensor.from([1, 1, 1], [1, 3, 1, 1]);
    const target = Tensor.from([3, 0], [1, 2, 1, 1]);
    const u = proximalDataStep(diagonal, start, target, 0.1, 0.2, 1);
    expect(u.data[0]).toBeCloseTo(1 + 2 / 1.25, 5);
    expect(u.data[1]).toBeCloseTo(1 - 4 / 4.25, 5);
    expect(u.data[2]).toBe(1);
  });

  it("projects onto the measurement set without noise", () => {
    const u = proximalDataStep(operator, x0Hat, y, 0, 0.3, 1);
    const fitted = operator.forward(u);
    expect(fitted.data[0]).toBeCloseTo(1.5, 5);
    expect(fitted.data[1]).toBeCloseTo(-2, 5);
    // The nearest point of the set: u - x0Hat lies in the row space of A.
    const step = Array.from(u.data, (value, i) => value - x0Hat.data[i]);
    // A normal of the row space of A: the cross product of its rows (1, 2, 0) and (-1, 1, 3).
    const normal = [2 * 3 - 0 * 1, 0 * -1 - 1 * 3, 1 * 1 - 2 * -1];
    const along = step.reduce((sum, value, i) => sum + value * normal[i], 0);
    expect(along).toBeCloseTo(0, 5);
  });

  it("trusts the measurement while the noise of x_t is large", () => {
    const early = proximalDataStep(operator, x0Hat, y, 0.05, 10, 1);
    const late = proximalDataStep(operator, x0Hat, y, 0.05, 0.001, 1);
    const residual = (u: Tensor) => {
      const fitted = operator.forward(u).data;
      return Math.hypot(fitted[0] - 1.5, fitted[1] + 2);
    };
    const start = residual(x0Hat);
    expect(residual(early) / start).toBeLessThan(1e-3);
    expect(residual(late) / start).toBeGreaterThan(0.99);
  });
});

describe("FlowDPS proximal step", () => {
  const { operator: selection, problem, solveOnce } = oneStepProblem();

  it("lands on the measurement set at t = 1", async () => {
    // One step from tau = 1, where alpha = 0 and r is infinite: the data weight is 1.
    const x0 = await solveOnce({ innerSteps: 0 });
    const x = await solveOnce({ innerStep: "proximal" });
    expect(2 * x[0]).toBeCloseTo(0.5, 5);
    expect(x[1]).toBeCloseTo(-1, 5);
    for (let i = 2; i < 8; i++) expect(x[i], `coordinate ${i}`).toBeCloseTo(x0[i], 6);
  });

  it("rejects a nonlinear operator", async () => {
    const nonlinear = {
      ...selection,
      spec: { kind: "test-nonlinear" },
      linear: false,
      forward: (x: Tensor) => selection.forward(x),
    };
    const params = flowDpsParamsSchema.parse({ steps: 1, innerStep: "proximal" });
    await expect(
      new FlowDpsSolver(params).solve({ ...problem, operator: nonlinear as never }, createRng(7)),
    ).rejects.toMatchObject({ code: "unsupported", path: ["params", "innerStep"] });
  });

  it("photo preset uses the proximal step", () => {
    const params = flowDpsParamsSchema.parse(flowDpsPresets["flowdps-embedded-proximal"].params);
    expect(params).toMatchObject({
      innerStep: "proximal",
      proximalWeight: 0.5,
      steps: 50,
      shift: 1,
    });
  });
});
