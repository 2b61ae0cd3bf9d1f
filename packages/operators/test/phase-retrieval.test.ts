import { operatorVjp, Tensor } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { buildOperator } from "../src/index.js";
import { dot, nonlinearCases, operatorOf, randomTensor } from "./cases.js";
import { fixture, maxAbsDifference, sineImage } from "./reference.js";

interface PhaseReference {
  phaseRetrieval: { shape: number[]; outputShape: number[]; y: number[] };
}

describe("phase-retrieval", () => {
  it("matches numpy's centred orthonormal FFT magnitude", () => {
    const { shape, outputShape, y } =
      fixture<PhaseReference>("operator-reference.json").phaseRetrieval;
    const op = buildOperator({ kind: "phase-retrieval" }, { imageShape: shape });
    expect(op.outputShape).toEqual(outputShape);
    expect(maxAbsDifference(op.forward(sineImage(shape)).data, y)).toBeLessThan(1e-6);
  });

  it("pads 256 x 256 to 384 x 384 as DPS", () => {
    const op = buildOperator(
      { kind: "phase-retrieval", oversample: 2 },
      { imageShape: [3, 256, 256] },
    );
    expect(op.outputShape).toEqual([3, 384, 384]);
    expect(op.linear).toBe(false);
    expect(op.adjoint).toBeUndefined();
  });

  it("preserves the energy of the padded image", () => {
    const op = buildOperator({ kind: "phase-retrieval" }, { imageShape: [1, 13, 10] });
    const x = randomTensor([1, 13, 10], "energy");
    const y = op.forward(x);
    expect(dot(y.data, y.data)).toBeCloseTo(dot(x.data, x.data), 4);
  });

  it("returns a zero VJP at x = 0 instead of NaN", () => {
    const op = buildOperator({ kind: "phase-retrieval" }, { imageShape: [1, 4, 4] });
    const g = randomTensor(op.outputShape, "zero");
    const v = op.vjp!(Tensor.zeros([1, 4, 4]), g);
    expect(Array.from(v.data)).toEqual(new Array(16).fill(0));
  });
});

describe.each(nonlinearCases)("$name VJP", (c) => {
  const op = operatorOf(c);

  it("matches central finite differences", () => {
    const x = randomTensor(op.inputShape, c.name, "x");
    const g = randomTensor(op.outputShape, c.name, "g");
    const jtg = operatorVjp(op, x, g);
    expect(jtg.shape).toEqual(op.inputShape);
    const eps = 1e-3;
    for (const direction of [0, 1, 2]) {
      const v = randomTensor(op.inputShape, c.name, "v", direction);
      const plus = op.forward(x.map((value, i) => value + eps * v.data[i]));
      const minus = op.forward(x.map((value, i) => value - eps * v.data[i]));
      const numeric = (dot(g.data, plus.data) - dot(g.data, minus.data)) / (2 * eps);
      const analytic = dot(jtg.data, v.data);
      expect(Math.abs(numeric - analytic), `numeric ${numeric}, analytic ${analytic}`).toBeLessThan(
        2e-3 * Math.max(1, Math.abs(analytic)),
      );
    }
  });

  it("maps a batch image by image", () => {
    const x = randomTensor([2, ...op.inputShape], c.name, "bx");
    const g = randomTensor([2, ...op.outputShape], c.name, "bg");
    const batched = operatorVjp(op, x, g);
    const single = operatorVjp(
      op,
      x.item(1).reshape(op.inputShape),
      g.item(1).reshape(op.outputShape),
    );
    expect(Array.from(batched.item(1).data)).toEqual(Array.from(single.data));
  });
});
