import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  createRng,
  decodePng,
  encodePng,
  extractPatch,
  gridPatches,
  PATCH_DIM,
  planarImageToPng,
  psnrUnitRange,
  readPlanarImage,
  readSampleSplit,
  samplePatches,
  TweedieError,
} from "../src/index.js";

const samplesDir = resolve(fileURLToPath(import.meta.url), "../../../../data/samples");

// Per file: sum of all 8-bit values, RGB at (row 17, column 33) and at (row 255, column 0),
// read once with Pillow 9.4 (Debian's /usr/bin/python3).
const PILLOW_VALUES: Record<string, [number, number[], number[]]> = {
  astronaut: [22533729, [190, 180, 170], [184, 167, 172]],
  chelsea: [22074401, [132, 91, 65], [187, 153, 141]],
  china: [28329733, [192, 217, 247], [94, 94, 57]],
  coffee: [18197219, [195, 96, 37], [239, 202, 168]],
  flower: [14102630, [6, 33, 30], [2, 18, 15]],
  motorcycle_left: [19246674, [95, 42, 19], [140, 124, 117]],
  motorcycle_right: [17749939, [20, 17, 15], [174, 161, 150]],
  rocket: [14121880, [27, 42, 73], [181, 180, 137]],
};

describe("sample photos", () => {
  it("split lists six training and two held-out files", () => {
    const split = readSampleSplit(samplesDir);
    expect(split.train).toHaveLength(6);
    expect(split.heldout).toEqual(["chelsea.png", "flower.png"]);
    const all = [...split.train, ...split.heldout].map((f) => f.replace(".png", "")).sort();
    expect(all).toEqual(Object.keys(PILLOW_VALUES).sort());
  });

  it.each(Object.entries(PILLOW_VALUES))("decodePng matches Pillow on %s", (name, [sum, a, b]) => {
    const image = decodePng(readFileSync(join(samplesDir, `${name}.png`)), name);
    expect([image.width, image.height, image.channels]).toEqual([256, 256, 3]);
    expect(image.data.reduce((total, v) => total + v, 0)).toBe(sum);
    const pixel = (row: number, column: number) =>
      Array.from(image.data.subarray((row * 256 + column) * 3, (row * 256 + column) * 3 + 3));
    expect(pixel(17, 33)).toEqual(a);
    expect(pixel(255, 0)).toEqual(b);
  });

  it("readPlanarImage maps u8 to 2 u / 255 - 1 in CHW order", () => {
    const raster = decodePng(readFileSync(join(samplesDir, "coffee.png")));
    const image = readPlanarImage(join(samplesDir, "coffee.png"), "coffee");
    const plane = 256 * 256;
    for (const [row, column, channel] of [
      [17, 33, 0],
      [17, 33, 2],
      [200, 5, 1],
    ]) {
      const u8 = raster.data[(row * 256 + column) * 3 + channel];
      expect(image.data[channel * plane + row * 256 + column]).toBeCloseTo((2 * u8) / 255 - 1, 6);
    }
  });
});

describe("PNG codec", () => {
  it("round trips an RGB image", () => {
    const data = Uint8Array.from({ length: 5 * 7 * 3 }, (_, i) => (i * 37) % 256);
    const decoded = decodePng(encodePng({ width: 7, height: 5, channels: 3, data }));
    expect([decoded.width, decoded.height, decoded.channels]).toEqual([7, 5, 3]);
    expect(Array.from(decoded.data)).toEqual(Array.from(data));
  });

  it("rejects a chunk with a bad CRC", () => {
    const bytes = encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) });
    bytes[bytes.length - 20] ^= 0xff;
    expect(() => decodePng(bytes, "broken.png")).toThrow(/CRC/);
  });

  it("rejects a file that is not a PNG", () => {
    const error = (() => {
      try {
        decodePng(new Uint8Array(32), "zeros.bin");
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(TweedieError);
    expect((error as TweedieError).path).toEqual(["zeros.bin"]);
  });

  it("planarImageToPng rounds and clips to 8 bits", () => {
    const data = Float32Array.from([-2, -1, 0, 1, 2, 1 / 255], (v) => v);
    const png = decodePng(planarImageToPng({ height: 1, width: 2, data }));
    // Planes: R = [-2, -1], G = [0, 1], B = [2, 1/255].
    expect(Array.from(png.data)).toEqual([0, 128, 255, 0, 255, 128]);
  });
});

describe("patch extraction", () => {
  const image = {
    name: "ramp",
    height: 10,
    width: 12,
    data: Float32Array.from({ length: 3 * 10 * 12 }, (_, i) => i),
  };

  it("orders values as channel, row, column with wrap-around", () => {
    const out = new Float32Array(PATCH_DIM);
    extractPatch(image, 5, 9, out, 0);
    for (const [c, dy, dx] of [
      [0, 0, 0],
      [1, 4, 2],
      [2, 7, 7],
    ]) {
      const row = (5 + dy) % 10;
      const column = (9 + dx) % 12;
      expect(out[c * 64 + dy * 8 + dx]).toBe(c * 120 + row * 12 + column);
    }
  });

  it("samplePatches is a pure function of the stream", () => {
    const a = samplePatches([image], 50, createRng(3).split("p"));
    const b = samplePatches([image], 50, createRng(3).split("p"));
    const c = samplePatches([image], 50, createRng(4).split("p"));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("samplePatches draws only patches that fit without wrapping", () => {
    const patches = samplePatches([image], 400, createRng(9));
    for (let i = 0; i < 400; i++) {
      const first = patches[i * PATCH_DIM];
      const top = Math.floor(first / 12);
      const left = first % 12;
      expect(top).toBeLessThanOrEqual(2);
      expect(left).toBeLessThanOrEqual(4);
      expect(patches[i * PATCH_DIM + 63]).toBe((top + 7) * 12 + left + 7);
    }
  });

  it("gridPatches visits every position at the step", () => {
    expect(gridPatches([image], 2).length).toBe(2 * 3 * PATCH_DIM);
    expect(gridPatches([image], 1).length).toBe(3 * 5 * PATCH_DIM);
  });
});

describe("psnrUnitRange", () => {
  it("matches 10 log10(1 / MSE) on [0, 1]", () => {
    const reference = new Float32Array(100).fill(0);
    const estimate = new Float32Array(100).fill(0.2);
    // On [0, 1] the error is 0.1 everywhere: PSNR = 20 dB.
    expect(psnrUnitRange(estimate, reference)).toBeCloseTo(20, 5);
  });

  it("clips the estimate when asked", () => {
    const reference = new Float32Array(4).fill(1);
    const estimate = new Float32Array(4).fill(1.5);
    expect(psnrUnitRange(estimate, reference, true)).toBe(Number.POSITIVE_INFINITY);
    expect(psnrUnitRange(estimate, reference)).toBeCloseTo(10 * Math.log10(1 / 0.0625), 6);
  });
});
