import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { type ImageArray, type MaskInput, score } from "../src/index.js";
import golden from "./fixtures/golden.json" with { type: "json" };
import { addNoise, expectClose, fixture } from "./helpers.js";

/** Builds the PIE-style mask of make_goldens.py: a rectangle plus the forced one-pixel border. */
function pieMask(height: number, width: number): MaskInput {
  const data = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const border = y === 0 || x === 0 || y === height - 1 || x === width - 1;
      const rectangle = y >= 30 && y < 70 && x >= 40 && x < 100;
      data[y * width + x] = border || rectangle ? 1 : 0;
    }
  }
  return { data, shape: [height, width] };
}

function okValueOf(record: ReturnType<typeof score>, metric: string): number {
  const result = record.metrics[metric];
  expect(result.status, `${metric}: ${"reason" in result ? result.reason : ""}`).toBe("ok");
  return result.value ?? Number.NaN;
}

describe("background metrics", () => {
  it("pie-compat and clean match the reference values", async () => {
    const reference = await fixture("astronaut-crop.png");
    const mask = pieMask(96, 128);
    const cases = [
      ["pieNoisy", await fixture("astronaut-noisy.png")],
      ["pieBlurred", await fixture("astronaut-blurred.png")],
    ] as const;
    for (const [name, output] of cases) {
      const expected = golden[name];
      const pie = score(reference, output, { profile: "pie-compat", range: [0, 1], mask });
      const clean = score(reference, output, { profile: "clean", range: [0, 1], mask });
      expectClose(pie.mask?.backgroundFraction ?? 0, expected.backgroundFraction, 1e-12, name);
      for (const metric of ["psnr", "mse", "ssim"] as const) {
        const tolerance = metric === "mse" ? 1e-9 : 1e-4;
        const key = `${metric}_background`;
        expectClose(okValueOf(pie, key), expected.pie[metric], tolerance, `${name} pie ${key}`);
        expectClose(
          okValueOf(clean, key),
          expected.clean[metric],
          tolerance,
          `${name} clean ${key}`,
        );
      }
    }
  });

  it("pie-compat PSNR equals clean PSNR minus 10 log10 f", async () => {
    const reference = await fixture("astronaut-crop.png");
    const output = addNoise(reference, 0.03, 7);
    // Left half edited, right half background: f = 0.5 exactly.
    const data = new Float32Array(96 * 128);
    for (let p = 0; p < data.length; p++) data[p] = p % 128 < 64 ? 1 : 0;
    const mask = { data, shape: [96, 128] };
    const options = { range: [0, 1] as const, mask, metrics: ["psnr_background"] };
    const pie = okValueOf(
      score(reference, output, { ...options, profile: "pie-compat" }),
      "psnr_background",
    );
    const clean = okValueOf(
      score(reference, output, { ...options, profile: "clean" }),
      "psnr_background",
    );
    expectClose(pie - clean, -10 * Math.log10(0.5), 1e-6, "PSNR gain of a 50% background");
    expectClose(pie - clean, 3.0103, 1e-4, "PSNR gain in dB");
  });

  it("multiplies both images before SSIM", () => {
    // The backgrounds are identical and the images differ only inside the edit, where pie-compat
    // compares zeros.
    const reference = constant(0.3);
    const output = constant(0.3);
    for (let y = 20; y < 30; y++) for (let x = 20; x < 30; x++) output.data[y * 48 + x] = 0.9;
    const data = new Float32Array(48 * 48);
    for (let y = 18; y < 32; y++) for (let x = 18; x < 32; x++) data[y * 48 + x] = 1;
    const record = score(reference, output, {
      profile: "pie-compat",
      range: [0, 1],
      mask: { data, shape: [48, 48] },
    });
    expect(record.metrics.psnr_background.status).toBe("infinite");
    expectClose(okValueOf(record, "ssim_background"), 1, 1e-12, "SSIM of equal masked images");
    expect(okValueOf(record, "mse_background")).toBe(0);
  });

  it("returns null with a reason for an empty background", () => {
    // A mask over the whole image (RLE [0, 262144] in PIE-Bench) leaves no background.
    const image = constant(0.5);
    const mask = { data: new Float32Array(48 * 48).fill(1), shape: [48, 48] };
    for (const profile of ["pie-compat", "clean"] as const) {
      const record = score(image, addNoise(image, 0.1, 1), { profile, range: [0, 1], mask });
      for (const metric of ["psnr_background", "mse_background", "ssim_background"]) {
        const result = record.metrics[metric];
        expect(result.status, `${profile} ${metric}`).toBe("undefined");
        expect(result.value).toBeNull();
        expect(result).toHaveProperty("reason");
        expect((result as { reason: string }).reason).toContain("background is empty");
      }
      expect(JSON.stringify(record)).not.toContain("NaN");
    }
  });

  it("clean SSIM skips background outside the valid region", () => {
    // Background only in the outer 3-pixel ring: no window centre lies there.
    const data = new Float32Array(48 * 48).fill(1);
    for (let y = 0; y < 48; y++) {
      for (let x = 0; x < 48; x++) if (Math.min(x, y, 47 - x, 47 - y) < 3) data[y * 48 + x] = 0;
    }
    const record = score(constant(0.5), constant(0.4), {
      profile: "clean",
      range: [0, 1],
      mask: { data, shape: [48, 48] },
    });
    expect(record.metrics.ssim_background.status).toBe("undefined");
    expect(record.metrics.psnr_background.status).toBe("ok");
  });

  it("needs a mask and a matching shape", () => {
    const image = constant(0.5);
    expect(() =>
      score(image, image, { profile: "pie-compat", range: [0, 1], metrics: ["psnr_background"] }),
    ).toThrow(/needs a mask/);
    expect(() =>
      score(image, image, {
        profile: "pie-compat",
        range: [0, 1],
        mask: { data: new Float32Array(10), shape: [2, 5] },
      }),
    ).toThrow(TweedieError);
    expect(() =>
      score(image, image, {
        profile: "pie-compat",
        range: [0, 1],
        mask: { data: new Float32Array(48 * 48).fill(2), shape: [48, 48] },
      }),
    ).toThrow(/mask values must lie in \[0, 1\]/);
  });

  it("pie-compat rejects a border crop", () => {
    const image = constant(0.5);
    expect(() =>
      score(image, image, { profile: "pie-compat", range: [0, 1], borderCrop: 4 }),
    ).toThrow(/takes no border crop/);
  });

  it("reports PIE-Bench display scales as metadata", async () => {
    const reference = await fixture("astronaut-crop.png");
    const output = await fixture("astronaut-noisy.png");
    const record = score(reference, output, {
      profile: "pie-compat",
      range: [0, 1],
      mask: pieMask(96, 128),
    });
    expect(record.metrics.mse_background.displayScale).toBe(1e4);
    expect(record.metrics.ssim_background.displayScale).toBe(1e2);
    expect(record.metrics.psnr_background.displayScale).toBe(1);
    // Values stay raw.
    expectClose(okValueOf(record, "mse_background"), golden.pieNoisy.pie.mse, 1e-9, "raw MSE");
  });
});

function constant(value: number): ImageArray {
  return { data: new Float32Array(3 * 48 * 48).fill(value), shape: [3, 48, 48] };
}
