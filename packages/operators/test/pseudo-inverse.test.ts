import { describe, expect, it } from "vitest";
import { operatorOf, pseudoInverseCases, randomTensor, relativeError } from "./cases.js";

describe.each(pseudoInverseCases)("$name", (c) => {
  const op = operatorOf(c);
  const pinv = (t: Parameters<NonNullable<typeof op.pseudoInverse>>[0]) => op.pseudoInverse!(t);

  it("satisfies A A^+ A x = A x", () => {
    const x = randomTensor([2, ...op.inputShape], c.name, "x");
    const ax = op.forward(x);
    expect(relativeError(op.forward(pinv(ax)).data, ax.data)).toBeLessThan(1e-5);
  });

  it("maps y into the range of A^T", () => {
    // A^+ A is the orthogonal projector onto range(A^T), so A^+ y lies in that range
    // exactly when projecting it changes nothing.
    const y = randomTensor([2, ...op.outputShape], c.name, "y");
    const z = pinv(y);
    expect(relativeError(pinv(op.forward(z)).data, z.data)).toBeLessThan(1e-5);
  });

  it("gives an idempotent projector A^+ A", () => {
    const x = randomTensor(op.inputShape, c.name, "p");
    const once = pinv(op.forward(x));
    const twice = pinv(op.forward(once));
    expect(relativeError(twice.data, once.data)).toBeLessThan(1e-5);
  });

  it("gives a symmetric projector A^+ A", () => {
    const u = randomTensor(op.inputShape, c.name, "u");
    const v = randomTensor(op.inputShape, c.name, "v");
    let lhs = 0;
    let rhs = 0;
    const pu = pinv(op.forward(u)).data;
    const pv = pinv(op.forward(v)).data;
    for (let i = 0; i < pu.length; i++) {
      lhs += pu[i] * v.data[i];
      rhs += u.data[i] * pv[i];
    }
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-5 * Math.max(Math.abs(lhs), 1));
  });
});
