import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import {
  GAUSSIAN_WINDOW,
  type ImageArray,
  psnr,
  type SsimOptions,
  score,
  ssim,
  ssimMap,
  UNIFORM_WINDOW_7,
  windowTaps,
} from "../src/index.js";
import golden from "./fixtures/golden.json" with { type: "json" };
import { addNoise, channel, constantImage, expectClose, fixture, patternPair } from "./helpers.js";

const WANG: SsimOptions = { dataRange: 1, window: GAUSSIAN_WINDOW, covariance: "population" };
const SKIMAGE_DEFAULT: SsimOptions = {
  dataRange: 1,
  window: UNIFORM_WINDOW_7,
  covariance: "sample",
};

/** SSIM by direct 2-D window sums at every valid pixel: slow, but independent of the separable code. */
function bruteForceSsim(a: ImageArray, b: ImageArray, options: SsimOptions): number {
  const taps = windowTaps(options.window);
  const size = taps.length;
  const [channels, height, width] = a.shape;
  const c1 = (0.01 * options.dataRange) ** 2;
  const c2 = (0.03 * options.dataRange) ** 2;
  const n = size * size;
  const norm = options.covariance === "sample" ? n / (n - 1) : 1;
  let sum = 0;
  let count = 0;
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y + size <= height; y++) {
      for (let x = 0; x + size <= width; x++) {
        let mx = 0;
        let my = 0;
        let mxx = 0;
        let myy = 0;
        let mxy = 0;
        for (let i = 0; i < size; i++) {
          for (let j = 0; j < size; j++) {
            const w = taps[i] * taps[j];
            const index = (c * height + y + i) * width + x + j;
            const u = a.data[index];
            const v = b.data[index];
            mx += w * u;
            my += w * v;
            mxx += w * u * u;
            myy += w * v * v;
            mxy += w * u * v;
          }
        }
        const vx = norm * (mxx - mx * mx);
        const vy = norm * (myy - my * my);
        const vxy = norm * (mxy - mx * my);
        sum += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        count++;
      }
    }
  }
  return sum / count;
}

describe("ssim", () => {
  it("matches scikit-image with Wang's Gaussian window", async () => {
    const pattern = patternPair();
    const reference = await fixture("astronaut-crop.png");
    const noisy = await fixture("astronaut-noisy.png");
    const cases = [
      ["pattern64x48", pattern.reference, pattern.output],
      ["astronautNoisy", reference, noisy],
      ["astronautBlurred", reference, await fixture("astronaut-blurred.png")],
      ["astronautNoisyGreen", channel(reference, 1), channel(noisy, 1)],
    ] as const;
    for (const [name, a, b] of cases) {
      expectClose(ssim(a, b, WANG), golden[name].ssimGaussian, 1e-4, `${name} SSIM (Gaussian)`);
      expectClose(
        ssim(a, b, SKIMAGE_DEFAULT),
        golden[name].ssimDefault,
        1e-4,
        `${name} SSIM (skimage default)`,
      );
    }
  });

  it("profiles pick the documented window", async () => {
    const reference = await fixture("astronaut-crop.png");
    const blurred = await fixture("astronaut-blurred.png");
    const expected = golden.astronautBlurred;
    const ssimUnder = (profile: Parameters<typeof score>[2]["profile"]) =>
      score(reference, blurred, { profile, range: [0, 1], metrics: ["ssim"] }).metrics.ssim;
    for (const profile of ["canonical", "dps-compat", "deepinv-compat", "pie-compat"] as const) {
      const result = ssimUnder(profile);
      expectClose(result.value ?? Number.NaN, expected.ssimGaussian, 1e-4, `${profile} SSIM`);
      expect(result.conventions.window).toEqual({ kind: "gaussian", size: 11, sigma: 1.5 });
    }
    const skimage = ssimUnder("skimage-default");
    expectClose(skimage.value ?? Number.NaN, expected.ssimDefault, 1e-4, "skimage-default SSIM");
    expect(skimage.conventions.window).toEqual({ kind: "uniform", size: 7, sigma: null });
    expect(skimage.conventions.settings.covariance).toBe("sample");
  });

  it("separable filtering equals direct 2-D sums", () => {
    const { reference, output } = patternPair();
    for (const options of [WANG, SKIMAGE_DEFAULT]) {
      expectClose(
        ssim(reference, output, options),
        bruteForceSsim(reference, output, options),
        1e-12,
        `SSIM with a ${options.window.kind} window`,
      );
    }
  });

  it("is 1 for identical images", async () => {
    const reference = await fixture("astronaut-crop.png");
    expectClose(ssim(reference, reference, WANG), 1, 1e-12, "SSIM(x, x)");
    expectClose(ssim(reference, reference, SKIMAGE_DEFAULT), 1, 1e-12, "SSIM(x, x) default");
  });

  it("has a closed form on constant images", () => {
    // Zero variances leave (2ab + C1) / (a^2 + b^2 + C1); C1, C2 > 0 rule out 0/0.
    const a = constantImage([3, 16, 16], 0.2);
    const b = constantImage([3, 16, 16], 0.6);
    const c1 = 0.01 ** 2;
    const expected = (2 * 0.2 * 0.6 + c1) / (0.2 ** 2 + 0.6 ** 2 + c1);
    expectClose(ssim(a, b, WANG), expected, 1e-6, "SSIM of two constants");
    expectClose(ssim(a, a, WANG), 1, 1e-12, "SSIM of a constant with itself");
    const zero = constantImage([3, 16, 16], 0);
    expectClose(ssim(zero, zero, WANG), 1, 1e-12, "SSIM of two black images");
  });

  it("returns the valid-region map size", () => {
    const { reference, output } = patternPair();
    const map = ssimMap(reference, output, WANG);
    expect([map.channels, map.height, map.width, map.radius]).toEqual([3, 38, 54, 5]);
  });

  it("rejects images smaller than the window", () => {
    const small = constantImage([1, 10, 40], 0.5);
    expect(() => ssim(small, small, WANG)).toThrow(TweedieError);
    const record = score(small, small, { profile: "canonical", range: [0, 1] });
    expect(record.metrics.ssim.status).toBe("undefined");
  });

  it("scores noisier images worse", async () => {
    const reference = await fixture("astronaut-crop.png");
    const sigmas = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2];
    const scores = sigmas.map((sigma, i) => {
      const noisy = addNoise(reference, sigma, 100 + i);
      return {
        sigma,
        psnr: psnr(reference, noisy, { dataRange: 1 }),
        ssimWang: ssim(reference, noisy, WANG),
        ssimDefault: ssim(reference, noisy, SKIMAGE_DEFAULT),
      };
    });
    for (let i = 1; i < scores.length; i++) {
      const [before, after] = [scores[i - 1], scores[i]];
      for (const key of ["psnr", "ssimWang", "ssimDefault"] as const) {
        expect(
          after[key] < before[key],
          `${key} at sigma ${after.sigma} (${after[key]}) should be below sigma ${before.sigma} (${before[key]})`,
        ).toBe(true);
      }
    }
  });
});
