import { describe, expect, it } from "vitest";
import { renderError, Tensor, TweedieError } from "../src/index.js";

describe("Tensor", () => {
  it("item returns a view sharing memory", () => {
    const t = Tensor.zeros([2, 1, 2, 2]);
    t.item(1).data[0] = 5;
    expect(t.data[4]).toBe(5);
    expect(t.item(1).shape).toEqual([1, 1, 2, 2]);
  });

  it("rejects data that does not match the shape", () => {
    expect(() => new Tensor(new Float32Array(3), [2, 2])).toThrow(TweedieError);
  });

  it("renders errors with expected and received values", () => {
    try {
      Tensor.zeros([2, 1]).item(3);
    } catch (error) {
      expect(renderError(error)).toBe(
        'batch index out of range (expected "an integer in [0, 1]", received 3)',
      );
    }
    expect.assertions(1);
  });
});
