import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TweedieError } from "@tweedie/core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImage, writeImage } from "../src/index.js";
import { expectClose } from "./helpers.js";
import { encodePalettePng } from "./png.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tweedie-eval-io-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Builds a 64x48 16-bit grey ramp: value 21 (y * 64 + x), up to 64491. */
function greyRamp16(): Uint16Array {
  return Uint16Array.from({ length: 64 * 48 }, (_, i) => 21 * i);
}

/** Builds a 64x48 16-bit RGB gradient (HWC) with distinct values per channel. */
function rgbGradient16(): Uint16Array {
  const out = new Uint16Array(64 * 48 * 3);
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < 64; x++) {
      const p = (y * 64 + x) * 3;
      out[p] = x * 1000 + y;
      out[p + 1] = 65535 - y * 1300 - x;
      out[p + 2] = (x * y * 37 + 11) % 65536;
    }
  }
  return out;
}

async function rawUint16(path: string, colourspace: "grey16" | "rgb16"): Promise<Uint16Array> {
  const buffer = await sharp(path).toColourspace(colourspace).raw({ depth: "ushort" }).toBuffer();
  return new Uint16Array(buffer.buffer, buffer.byteOffset, buffer.length / 2);
}

describe("readImage", () => {
  it("applies EXIF orientation 6", async () => {
    // Stored 255 wide and 257 tall; orientation 6 displays it rotated 90 degrees clockwise.
    const width = 255;
    const height = 257;
    const pixels = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        pixels[(y * width + x) * 3] = x;
        pixels[(y * width + x) * 3 + 1] = Math.floor((y * 255) / 256);
        pixels[(y * width + x) * 3 + 2] = 128;
      }
    }
    const path = join(dir, "orient6.jpg");
    await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(path);
    expect((await sharp(path).metadata()).width).toBe(255);

    const image = await readImage(path);
    expect(image.shape).toEqual([3, 255, 257]);
    expect(image.meta).toMatchObject({
      width: 257,
      height: 255,
      orientation: 6,
      orientationApplied: true,
      bitDepth: 8,
    });
    // Upright pixel (xd, yd) is stored pixel (xs, ys) = (yd, 256 - xd).
    const plane = 255 * 257;
    for (const [xd, yd] of [
      [0, 0],
      [256, 0],
      [100, 200],
      [256, 254],
    ]) {
      const red = image.data[yd * 257 + xd];
      const green = image.data[plane + yd * 257 + xd];
      expectClose(red * 255, yd, 4, `red at (${xd}, ${yd})`);
      expectClose(green * 255, Math.floor(((256 - xd) * 255) / 256), 4, `green at (${xd}, ${yd})`);
    }
  });

  it("reads a 16-bit grey ramp exactly and expands it to 3 channels", async () => {
    const ramp = greyRamp16();
    const path = join(dir, "gray16.png");
    await sharp(ramp, { raw: { width: 64, height: 48, channels: 1 } })
      .toColourspace("grey16")
      .png()
      .toFile(path);
    const image = await readImage(path);
    expect(image.meta).toMatchObject({
      bitDepth: 16,
      channelPolicy: "grey-to-rgb",
      sourceChannels: 1,
    });
    const plane = 64 * 48;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++)
        expect(image.data[c * plane + i]).toBe(Math.fround(ramp[i] / 65535));
    }
    // Plain 8-bit decoding, the trap this reader avoids, loses the low byte.
    const eightBit = await sharp(path).raw().toBuffer();
    expect(eightBit[1] / 255).not.toBe(image.data[1]);
  });

  it("round-trips 16-bit grey and RGB PNGs with zero difference", async () => {
    const cases = [
      ["gray16.png", greyRamp16(), 1, "grey16"],
      ["rgb16.png", rgbGradient16(), 3, "rgb16"],
    ] as const;
    for (const [name, values, channels, colourspace] of cases) {
      const source = join(dir, `source-${name}`);
      await sharp(values, { raw: { width: 64, height: 48, channels } })
        .toColourspace(colourspace)
        .png()
        .toFile(source);
      const image = await readImage(source);
      const copy = join(dir, `copy-${name}`);
      const written =
        channels === 1
          ? await writeImage(
              copy,
              { data: image.data.subarray(0, 64 * 48), shape: [1, 48, 64] },
              { bitDepth: 16 },
            )
          : await writeImage(copy, image, { bitDepth: 16 });
      expect(written).toMatchObject({ bitDepth: 16, channels, clipped: 0 });
      const meta = await sharp(copy).metadata();
      expect([meta.depth, meta.channels]).toEqual(["ushort", channels]);
      const back = await rawUint16(copy, colourspace);
      let maxDifference = 0;
      for (let i = 0; i < values.length; i++) {
        maxDifference = Math.max(maxDifference, Math.abs(back[i] - values[i]));
      }
      expect(maxDifference, `${name} max abs difference`).toBe(0);
      const reread = await readImage(copy);
      expect(reread.data).toEqual(image.data);
    }
  });

  it("expands an 8-bit grey PNG to three equal channels", async () => {
    const grey = Uint8Array.from({ length: 64 * 48 }, (_, i) => (i * 7) % 256);
    const path = join(dir, "gray8.png");
    await sharp(grey, { raw: { width: 64, height: 48, channels: 1 } })
      .toColourspace("b-w")
      .png()
      .toFile(path);
    expect((await sharp(path).metadata()).channels).toBe(1);
    const image = await readImage(path);
    expect(image.shape).toEqual([3, 48, 64]);
    const plane = 64 * 48;
    for (let i = 0; i < plane; i++) {
      const expected = Math.fround(grey[i] / 255);
      expect([image.data[i], image.data[plane + i], image.data[2 * plane + i]]).toEqual([
        expected,
        expected,
        expected,
      ]);
    }
  });

  it("rejects alpha unless a background is given", async () => {
    const width = 255;
    const height = 257;
    const rgba = Buffer.alloc(width * height * 4);
    for (let p = 0; p < width * height; p++) {
      rgba.set([p % 256, 40, 200, 128], p * 4);
    }
    const path = join(dir, "rgba.png");
    await sharp(rgba, { raw: { width, height, channels: 4 } })
      .png()
      .toFile(path);

    const rejection = readImage(path);
    await expect(rejection).rejects.toThrow(TweedieError);
    await expect(rejection).rejects.toThrow("image has 4 channels (RGB + alpha)");
    await expect(rejection).rejects.toMatchObject({ path: [path] });

    const image = await readImage(path, { background: [1, 1, 1] });
    expect(image.meta).toMatchObject({ alpha: "composited", sourceChannels: 4 });
    const alpha = 128 / 255;
    const plane = width * height;
    for (const p of [0, 1000, plane - 1]) {
      const stored = [p % 256, 40, 200];
      for (let c = 0; c < 3; c++) {
        const expected = alpha * (stored[c] / 255) + (1 - alpha);
        expectClose(image.data[c * plane + p], expected, 1e-6, `composited channel ${c}`);
      }
    }
  });

  it("composites palette transparency whatever colour hides under it", async () => {
    const width = 64;
    const height = 48;
    const indices = Uint8Array.from({ length: width * height }, (_, i) =>
      i % width < 32 ? 0 : 1 + (i % 3),
    );
    const colours = [
      [200, 30, 30, 255],
      [30, 200, 30, 255],
      [30, 30, 200, 128],
    ] as const;
    const paths: string[] = [];
    for (const hidden of [
      [255, 255, 255],
      [0, 0, 0],
    ] as const) {
      const path = join(dir, `pal_trns_${hidden[0]}.png`);
      const palette = [[...hidden, 0], ...colours] as [number, number, number, number][];
      await writeFile(path, encodePalettePng(width, height, indices, palette));
      paths.push(path);
    }
    const meta = await sharp(paths[0]).metadata();
    expect(meta).toMatchObject({ isPalette: true, hasAlpha: true, channels: 4 });
    await expect(readImage(paths[0])).rejects.toThrow("4 channels");

    const background = [0.5, 0.25, 0] as const;
    const white = await readImage(paths[0], { background });
    const black = await readImage(paths[1], { background });
    expect(white.data).toEqual(black.data);
    expect(white.meta.isPalette).toBe(true);
    const plane = width * height;
    expect([white.data[0], white.data[plane], white.data[2 * plane]]).toEqual(
      background.map((v) => Math.fround(v)),
    );
  });

  it("checks the pixel limit before decoding", async () => {
    const path = join(dir, "limit.png");
    await sharp({ create: { width: 64, height: 48, channels: 3, background: "#808080" } })
      .png()
      .toFile(path);
    await expect(readImage(path, { maxPixels: 3000 })).rejects.toThrow(
      "image has too many pixels to decode",
    );
    expect((await readImage(path, { maxPixels: 3072 })).shape).toEqual([3, 48, 64]);
  });

  it("names the file when it is missing or not an image", async () => {
    const missing = join(dir, "missing.png");
    await expect(readImage(missing)).rejects.toMatchObject({ code: "not_found", path: [missing] });
    const text = join(dir, "notes.png");
    await writeFile(text, "not an image");
    await expect(readImage(text)).rejects.toMatchObject({ code: "io_failed", path: [text] });
  });
});

describe("writeImage", () => {
  it("writes 8-bit PNG that reads back exactly", async () => {
    const data = Float32Array.from({ length: 3 * 16 * 20 }, (_, i) => (i % 256) / 255);
    const path = join(dir, "nested", "eight.png");
    const written = await writeImage(path, { data, shape: [1, 3, 16, 20] }, { bitDepth: 8 });
    expect(written).toMatchObject({ width: 20, height: 16, channels: 3, bitDepth: 8, clipped: 0 });
    expect((await readImage(path)).data).toEqual(data);
  });

  it("clips values outside [0, 1] and counts them", async () => {
    const data = Float32Array.from([-0.5, 0.5, 1.5, 1, 0, 0.25, 0.75, 2, 0.5]);
    const written = await writeImage(
      join(dir, "clip.png"),
      { data, shape: [1, 3, 3] },
      { bitDepth: 8 },
    );
    expect(written.clipped).toBe(3);
    const back = await readImage(join(dir, "clip.png"));
    expect(back.data[0]).toBe(0);
    expect(back.data[2]).toBe(1);
  });

  it("rejects NaN, 16-bit JPEG and unknown extensions", async () => {
    const image = { data: new Float32Array(3 * 4 * 4).fill(0.5), shape: [3, 4, 4] };
    const nan = { data: image.data.map((v, i) => (i === 5 ? Number.NaN : v)), shape: image.shape };
    await expect(writeImage(join(dir, "nan.png"), nan, { bitDepth: 8 })).rejects.toThrow(/NaN/);
    await expect(writeImage(join(dir, "deep.jpg"), image, { bitDepth: 16 })).rejects.toThrow(
      /8 bits per channel only/,
    );
    await expect(writeImage(join(dir, "image.bmp"), image, { bitDepth: 8 })).rejects.toThrow(
      /unsupported image extension/,
    );
  });
});
