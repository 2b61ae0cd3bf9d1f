import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { buildOperator, cropToScale, requiredDivisor } from "../src/index.js";

describe("divisibility", () => {
  it.each(["sr-bicubic", "sr-avgpool"])(
    "%s rejects 255x257 at scale 4 naming size and scale",
    (kind) => {
      const build = () => buildOperator({ kind, scale: 4 }, { imageShape: [3, 255, 257] });
      expect(build).toThrow(TweedieError);
      expect(build).toThrow("image 255x257 is not divisible by scale 4");
    },
  );

  it("rejects a composition whose second stage no longer divides", () => {
    const spec = {
      kind: "compose",
      operators: [
        { kind: "sr-avgpool", scale: 2 },
        { kind: "sr-bicubic", scale: 4 },
      ],
    };
    expect(() => buildOperator(spec, { imageShape: [3, 12, 16] })).toThrow(
      "image 6x8 is not divisible by scale 4",
    );
    expect(requiredDivisor(spec)).toBe(8);
    expect(buildOperator(spec, { imageShape: [3, 16, 24] }).outputShape).toEqual([3, 2, 3]);
  });

  it("needs no divisor for size-preserving operators", () => {
    expect(requiredDivisor({ kind: "gaussian-blur" })).toBe(1);
    expect(requiredDivisor({ kind: "sr-bicubic", scale: 12, truncate: 0.03 })).toBe(12);
  });
});

describe("cropToScale", () => {
  it("centres the crop of 255x257 at scale 4 to 252x256", () => {
    expect(cropToScale(255, 257, 4)).toEqual({ top: 1, left: 0, height: 252, width: 256 });
  });

  it("keeps the top-left corner under that policy", () => {
    expect(cropToScale(255, 257, 4, "top-left")).toEqual({
      top: 0,
      left: 0,
      height: 252,
      width: 256,
    });
  });

  it("leaves divisible sizes alone", () => {
    expect(cropToScale(256, 256, 4)).toEqual({ top: 0, left: 0, height: 256, width: 256 });
  });

  it("rejects an image smaller than the scale", () => {
    expect(() => cropToScale(3, 40, 4)).toThrow("image 3x40 is smaller than scale 4");
  });

  it("gives a crop that builds", () => {
    const box = cropToScale(255, 257, 4);
    const op = buildOperator(
      { kind: "sr-bicubic", scale: 4 },
      { imageShape: [3, box.height, box.width] },
    );
    expect(op.outputShape).toEqual([3, 63, 64]);
  });
});
