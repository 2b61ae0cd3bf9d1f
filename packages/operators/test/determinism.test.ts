import { describe, expect, it } from "vitest";
import { buildOperator, hashSpec } from "../src/index.js";
import { operatorCases, operatorOf, randomTensor } from "./cases.js";

describe.each(operatorCases)("$name", (c) => {
  const op = operatorOf(c);

  it("gives bit-identical output on repeated calls", () => {
    const x = randomTensor([2, ...op.inputShape], c.name, "repeat");
    const first = op.forward(x);
    const second = op.forward(x);
    expect(Buffer.from(second.data.buffer).equals(Buffer.from(first.data.buffer))).toBe(true);
  });

  it("rebuilds bit-identically from its spec through JSON", () => {
    const rebuilt = buildOperator(JSON.parse(JSON.stringify(op.spec)), {
      imageShape: c.imageShape,
    });
    expect(hashSpec(rebuilt.spec)).toBe(hashSpec(op.spec));
    const x = randomTensor([2, ...op.inputShape], c.name, "round-trip");
    const a = op.forward(x).data;
    const b = rebuilt.forward(x).data;
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });

  it("maps a batch image by image", () => {
    const x = randomTensor([2, ...op.inputShape], c.name, "batch");
    const batched = op.forward(x);
    const single = op.forward(x.item(1).reshape(op.inputShape));
    expect(batched.shape).toEqual([2, ...op.outputShape]);
    expect(single.shape).toEqual(op.outputShape);
    expect(Array.from(batched.item(1).data)).toEqual(Array.from(single.data));
  });

  it("is frozen", () => {
    expect(Object.isFrozen(op)).toBe(true);
    expect(Object.isFrozen(op.spec)).toBe(true);
  });

  it("rejects an input of the wrong shape", () => {
    const wrong = randomTensor([op.inputShape[0], op.inputShape[1] + 1, op.inputShape[2]], "wrong");
    expect(() => op.forward(wrong)).toThrow("x has the wrong shape");
  });
});
