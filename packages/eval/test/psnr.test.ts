import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { DEEPINV_PSNR_EPSILON, meanSquaredError, psnr, psnrFromMse, score } from "../src/index.js";
import golden from "./fixtures/golden.json" with { type: "json" };
import { constantImage, expectClose, fixture, patternPair } from "./helpers.js";

describe("psnr", () => {
  const target = { data: Float32Array.from([0.2, 0.4, 0.6, 0.8]), shape: [1, 2, 2] as const };
  const prediction = { data: target.data.map((v) => v + 0.1), shape: target.shape };

  it("gives 20 dB for MSE 0.01 on range 1", () => {
    const value = psnr(target, prediction, { dataRange: 1 });
    expectClose(value, 20, 1e-5, "PSNR");
    // The guessed-range variants: max - min of the target, max - 0, and range 2 for floats.
    for (const wrong of [15.56, 18.06, 26.02]) expect(Math.abs(value - wrong)).toBeGreaterThan(1);
  });

  it("score declares the range instead of guessing it", () => {
    const record = score(target, prediction, { profile: "canonical", range: [0, 1] });
    expect(record.metrics.psnr.status).toBe("ok");
    expectClose(record.metrics.psnr.value ?? Number.NaN, 20, 1e-5, "PSNR");
    expect(record.metrics.psnr.conventions.dataRange).toBe(1);
    expect(record.inputRange).toEqual([0, 1]);
  });

  it("is +Infinity for identical images in the canonical profile", () => {
    expect(psnr(target, target, { dataRange: 1 })).toBe(Number.POSITIVE_INFINITY);
    const record = score(target, target, { profile: "canonical", range: [0, 1] });
    expect(record.metrics.psnr).toMatchObject({ status: "infinite", value: null });
    expect(JSON.parse(JSON.stringify(record)).metrics.psnr.status).toBe("infinite");
  });

  it("caps identical images at 80 dB with the deepinv epsilon", () => {
    expect(psnrFromMse(0, 1, DEEPINV_PSNR_EPSILON)).toBe(80);
    const record = score(target, target, { profile: "deepinv-compat", range: [0, 1] });
    expect(record.metrics.psnr).toMatchObject({ status: "ok", value: 80 });
  });

  it("is invariant to the declared range when data scale with it", () => {
    const scaled = (image: typeof target) => ({
      data: image.data.map((v) => v * 255),
      shape: image.shape,
    });
    const on255 = psnr(scaled(target), scaled(prediction), { dataRange: 255 });
    expectClose(on255, 20, 1e-4, "PSNR on [0, 255]");
    const record = score(scaled(target), scaled(prediction), {
      profile: "canonical",
      range: [0, 255],
    });
    expectClose(record.metrics.psnr.value ?? Number.NaN, 20, 1e-4, "score PSNR on [0, 255]");
    // MSE is reported on the [0, 1] scale whatever the input range.
    expectClose(record.metrics.mse.value ?? Number.NaN, 0.01, 1e-8, "MSE");
  });

  it("matches the closed form on constant images", () => {
    const a = constantImage([3, 8, 8], 0.25);
    const b = constantImage([3, 8, 8], 0.75);
    expectClose(meanSquaredError(a, b), 0.25, 1e-12, "MSE");
    expectClose(psnr(a, b, { dataRange: 1 }), 10 * Math.log10(4), 1e-12, "PSNR");
  });

  it("matches scikit-image on the fixtures", async () => {
    const pattern = patternPair();
    const reference = await fixture("astronaut-crop.png");
    const cases = [
      ["pattern64x48", pattern.reference, pattern.output],
      ["astronautNoisy", reference, await fixture("astronaut-noisy.png")],
      ["astronautBlurred", reference, await fixture("astronaut-blurred.png")],
    ] as const;
    for (const [name, a, b] of cases) {
      const expected = golden[name];
      expectClose(psnr(a, b, { dataRange: 1 }), expected.psnr, 1e-4, `${name} PSNR`);
      expectClose(meanSquaredError(a, b), expected.mse, 1e-9, `${name} MSE`);
      const deepinv = psnr(a, b, { dataRange: 1, epsilon: DEEPINV_PSNR_EPSILON });
      expectClose(deepinv, expected.psnrDeepinv, 1e-4, `${name} deepinv PSNR`);
    }
  });

  it("crops the border before scoring", () => {
    // Differences only in the outer 2-pixel ring: a crop of 2 makes the images identical.
    const a = constantImage([1, 10, 12], 0.5);
    const b = constantImage([1, 10, 12], 0.5);
    b.data[0] = 0.9;
    b.data[10 * 12 - 1] = 0.1;
    const uncropped = score(a, b, { profile: "canonical", range: [0, 1] });
    expect(uncropped.metrics.psnr.status).toBe("ok");
    const cropped = score(a, b, {
      profile: "canonical",
      range: [0, 1],
      borderCrop: 2,
      metrics: ["psnr", "mse"],
    });
    expect(cropped.metrics.psnr.status).toBe("infinite");
    expect(cropped.metrics.psnr.conventions.borderCrop).toBe(2);
  });

  it("rejects a data range that is not positive", () => {
    expect(() => psnr(target, prediction, { dataRange: 0 })).toThrow(TweedieError);
  });
});
