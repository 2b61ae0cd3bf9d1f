import { describe, expect, it } from "vitest";
import { filledFeed, numberFeed } from "../src/onnx/feeds.js";
import type { OnnxDtype } from "../src/onnx/types.js";

describe("filledFeed", () => {
  const dtypes: OnnxDtype[] = ["float32", "float16", "int32", "int64"];

  for (const dtype of dtypes) {
    it(`matches numberFeed for ${dtype}`, () => {
      for (const value of [0.1, 2.5, -3.5, 999]) {
        const filled = filledFeed(value, dtype, [3]);
        const reference = numberFeed([value, value, value], dtype, [3]);
        expect(filled.dtype).toBe(dtype);
        expect(filled.dims).toEqual([3]);
        expect(filled.data.constructor).toBe(reference.data.constructor);
        expect(Array.from(filled.data as ArrayLike<unknown>)).toEqual(
          Array.from(reference.data as ArrayLike<unknown>),
        );
      }
    });
  }

  it("builds one element for scalar dims", () => {
    const scalar = filledFeed(7, "int64", []);
    expect(scalar.dims).toEqual([]);
    expect(Array.from(scalar.data as BigInt64Array)).toEqual([7n]);
  });
});
