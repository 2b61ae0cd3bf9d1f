import { Tensor } from "@tweedie/core";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { encodePng } from "../src/exec/encode.js";

describe("encodePng", () => {
  it("writes one channel as a greyscale PNG", async () => {
    // Values on [-1, 1] map to round(255 (x + 1) / 2): -1 -> 0, 0 -> 128, 1 -> 255.
    const tensor = Tensor.from([-1, 0, 1, 0.5, -0.5, 2], [1, 1, 2, 3]);
    const png = await encodePng(tensor);
    const meta = await sharp(png).metadata();
    expect(meta.channels).toBe(1);
    expect(meta.space).toBe("b-w");
    const { data, info } = await sharp(png)
      .toColourspace("b-w")
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(1);
    expect(Array.from(data)).toEqual([0, 128, 255, 191, 64, 255]);
  });

  it("writes three channels as an RGB PNG", async () => {
    const tensor = Tensor.from([-1, 1, 0, 1, -1, 0], [1, 3, 1, 2]);
    const png = await encodePng(tensor);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    // Interleaved RGB: pixel 0 = (R -1, G 0, B -1), pixel 1 = (R 1, G 1, B 0).
    expect(Array.from(data)).toEqual([0, 128, 0, 255, 255, 128]);
  });
});
