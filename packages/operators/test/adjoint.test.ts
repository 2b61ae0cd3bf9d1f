import { describe, expect, it } from "vitest";
import { dot, linearCases, operatorOf, randomTensor } from "./cases.js";

describe.each(linearCases)("$name", (c) => {
  const op = operatorOf(c);

  it("satisfies <Ax, y> = <x, A^T y>", () => {
    const x = randomTensor([2, ...op.inputShape], c.name, "x");
    const y = randomTensor([2, ...op.outputShape], c.name, "y");
    const lhs = dot(op.forward(x).data, y.data);
    const rhs = dot(x.data, op.adjoint!(y).data);
    expect(Math.abs(lhs - rhs), `<Ax, y> = ${lhs}, <x, A^T y> = ${rhs}`).toBeLessThanOrEqual(
      1e-5 * Math.max(Math.abs(lhs), Math.abs(rhs)),
    );
  });

  it("declares the shapes it returns", () => {
    const x = randomTensor(op.inputShape, c.name, "shape");
    expect(op.forward(x).shape).toEqual(op.outputShape);
    expect(op.adjoint!(op.forward(x)).shape).toEqual(op.inputShape);
  });
});
