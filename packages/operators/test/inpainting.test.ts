import { createRng, Tensor } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { buildOperator, type InpaintingOperator } from "../src/index.js";

function missingCount(op: InpaintingOperator): number {
  return op.maskValues().reduce((count, value) => count + (value === 0 ? 1 : 0), 0);
}

describe("inpainting box", () => {
  it("places the DPS box at 256 x 256", () => {
    // A 128 x 128 box with its top-left corner on [16, 111]^2.
    const corners = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const op = buildOperator(
        { kind: "inpainting", pattern: "box", seed },
        { imageShape: [3, 256, 256] },
      );
      const { top, left, boxSize } = op.spec as unknown as {
        top: number;
        left: number;
        boxSize: number[];
      };
      expect(boxSize).toEqual([128, 128]);
      expect(top).toBeGreaterThanOrEqual(16);
      expect(top).toBeLessThanOrEqual(111);
      expect(left).toBeGreaterThanOrEqual(16);
      expect(left).toBeLessThanOrEqual(111);
      expect(missingCount(op as InpaintingOperator)).toBe(128 * 128);
      corners.add(`${top},${left}`);
    }
    expect(corners.size).toBeGreaterThan(30);
  });

  it("centres the box on request", () => {
    const op = buildOperator(
      { kind: "inpainting", pattern: "box", placement: "centred" },
      { imageShape: [1, 10, 12] },
    ) as InpaintingOperator;
    // Rows 2..6 and columns 3..8: floor((10 - 5) / 2) and (12 - 6) / 2.
    expect(op.spec).toMatchObject({ top: 2, left: 3, boxSize: [5, 6] });
    const mask = op.maskValues();
    expect(mask[2 * 12 + 3]).toBe(0);
    expect(mask[1 * 12 + 3]).toBe(1);
    expect(mask[2 * 12 + 2]).toBe(1);
    expect(mask[6 * 12 + 8]).toBe(0);
    expect(mask[7 * 12 + 8]).toBe(1);
    expect(mask[6 * 12 + 9]).toBe(1);
  });

  it("rejects a box that does not fit", () => {
    expect(() =>
      buildOperator(
        { kind: "inpainting", pattern: "box", seed: 0, boxSize: [8, 8] },
        { imageShape: [1, 8, 8] },
      ),
    ).toThrow("box 8x8 with margin 0x0 does not fit image 8x8");
  });

  it("requires a seed for a random placement", () => {
    expect(() =>
      buildOperator({ kind: "inpainting", pattern: "box" }, { imageShape: [1, 64, 64] }),
    ).toThrow("a randomly placed box needs a seed");
  });
});

describe("inpainting random", () => {
  it("drops floor(H W p) pixels in every channel with p recorded", () => {
    const op = buildOperator(
      { kind: "inpainting", pattern: "random", seed: 8 },
      { imageShape: [3, 256, 256] },
    ) as InpaintingOperator;
    const ratio = (op.spec as { ratio?: number }).ratio as number;
    expect(ratio).toBeGreaterThanOrEqual(0.3);
    expect(ratio).toBeLessThanOrEqual(0.7);
    expect(missingCount(op)).toBe(Math.floor(65536 * ratio));
    const y = op.forward(Tensor.full([3, 256, 256], 1));
    const mask = op.maskValues();
    for (let c = 0; c < 3; c++) {
      for (let k = 0; k < 65536; k += 97) expect(y.data[c * 65536 + k]).toBe(mask[k]);
    }
  });

  it("accepts a fixed ratio", () => {
    const op = buildOperator(
      { kind: "inpainting", pattern: "random", seed: 1, ratio: 0.92 },
      { imageShape: [1, 50, 30] },
    ) as InpaintingOperator;
    expect(missingCount(op)).toBe(Math.floor(1500 * 0.92));
  });

  it("draws a different mask for another seed", () => {
    const a = buildOperator(
      { kind: "inpainting", pattern: "random", seed: 1 },
      { imageShape: [1, 20, 20] },
    );
    const b = buildOperator(
      { kind: "inpainting", pattern: "random", seed: 2 },
      { imageShape: [1, 20, 20] },
    );
    expect((a as InpaintingOperator).maskHash).not.toBe((b as InpaintingOperator).maskHash);
  });
});

describe("inpainting given mask", () => {
  const mask = [
    [1, 0, 1],
    [0, 1, 1],
  ];

  it("keeps only observed pixels", () => {
    const op = buildOperator(
      { kind: "inpainting", pattern: "mask", mask },
      { imageShape: [2, 2, 3] },
    );
    const x = createRng(0).normalTensor([2, 2, 3]);
    const y = op.forward(x);
    const flat = mask.flat();
    for (let k = 0; k < 12; k++) {
      // A missing pixel may come out as -0, which equals 0.
      expect(y.data[k] === (flat[k % 6] === 1 ? x.data[k] : 0), `pixel ${k}`).toBe(true);
    }
  });

  it("rejects non-binary values without a threshold", () => {
    expect(() =>
      buildOperator(
        { kind: "inpainting", pattern: "mask", mask: [[1, 0.5]] },
        { imageShape: [1, 1, 2] },
      ),
    ).toThrow("inpainting mask values must be 0 (missing) or 1 (observed)");
  });

  it("binarises with a threshold", () => {
    const op = buildOperator(
      { kind: "inpainting", pattern: "mask", mask: [[0.2, 0.5, 0.9]], threshold: 0.5 },
      { imageShape: [1, 1, 3] },
    ) as InpaintingOperator;
    expect(Array.from(op.maskValues())).toEqual([0, 1, 1]);
  });

  it("rejects a mask of another size", () => {
    expect(() =>
      buildOperator({ kind: "inpainting", pattern: "mask", mask }, { imageShape: [1, 3, 3] }),
    ).toThrow("inpainting mask does not match the image size");
  });
});

describe("colorization", () => {
  it("averages the channels by default", () => {
    const op = buildOperator({ kind: "colorization" }, { imageShape: [3, 1, 2] });
    const y = op.forward(Tensor.from([0.3, -0.6, 0.9, 0.0, -0.3, 0.3], [3, 1, 2]));
    expect(y.shape).toEqual([1, 1, 2]);
    expect(y.data[0]).toBeCloseTo(0.3, 6);
    expect(y.data[1]).toBeCloseTo(-0.1, 6);
  });

  it("returns replicated grey as the pseudo-inverse", () => {
    const op = buildOperator({ kind: "colorization" }, { imageShape: [3, 1, 2] });
    const x = op.pseudoInverse!(Tensor.from([0.5, -0.25], [1, 1, 2]));
    expect(Array.from(x.data).map((v) => Number(v.toFixed(6)))).toEqual([
      0.5, -0.25, 0.5, -0.25, 0.5, -0.25,
    ]);
  });

  it("needs three channels", () => {
    expect(() => buildOperator({ kind: "colorization" }, { imageShape: [1, 4, 4] })).toThrow(
      "colorization needs RGB images",
    );
  });
});
