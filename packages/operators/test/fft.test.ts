import { describe, expect, it } from "vitest";
import { fft2d, fftPlan, nextFastSize } from "../src/math/fft.js";

/** Computes the DFT from its definition, in float64. */
function naiveDft(re: Float64Array, im: Float64Array, inverse: boolean) {
  const n = re.length;
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  const sign = inverse ? 1 : -1;
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      const angle = (sign * 2 * Math.PI * ((j * k) % n)) / n;
      outRe[k] += re[j] * Math.cos(angle) - im[j] * Math.sin(angle);
      outIm[k] += re[j] * Math.sin(angle) + im[j] * Math.cos(angle);
    }
  }
  return { outRe, outIm };
}

function signal(n: number, phase: number) {
  const re = Float64Array.from({ length: n }, (_, j) => Math.sin(0.9 * j + phase) + 0.1 * j);
  const im = Float64Array.from({ length: n }, (_, j) => Math.cos(1.7 * j - phase));
  return { re, im };
}

describe("fft", () => {
  // Radix 2, 3, 4, 5 and a generic prime, mixed lengths, and primes above 31 (Bluestein).
  it.each([1, 2, 3, 4, 5, 7, 8, 12, 30, 45, 64, 96, 121, 37, 127, 381, 1000])(
    "matches the DFT definition at length %i",
    (n) => {
      for (const inverse of [false, true]) {
        const { re, im } = signal(n, n);
        const expected = naiveDft(re, im, inverse);
        fftPlan(n).transform(re, im, inverse);
        let error = 0;
        let scale = 0;
        for (let k = 0; k < n; k++) {
          error = Math.max(
            error,
            Math.abs(re[k] - expected.outRe[k]),
            Math.abs(im[k] - expected.outIm[k]),
          );
          scale = Math.max(scale, Math.abs(expected.outRe[k]), Math.abs(expected.outIm[k]));
        }
        expect(error).toBeLessThan(1e-10 * Math.max(1, scale));
      }
    },
  );

  it("inverts a 2-D transform up to the size factor", () => {
    const rows = 9;
    const cols = 14;
    const { re, im } = signal(rows * cols, 0.3);
    const originalRe = re.slice();
    const originalIm = im.slice();
    fft2d(re, im, rows, cols, false);
    fft2d(re, im, rows, cols, true);
    for (let k = 0; k < re.length; k++) {
      expect(re[k] / (rows * cols)).toBeCloseTo(originalRe[k], 12);
      expect(im[k] / (rows * cols)).toBeCloseTo(originalIm[k], 12);
    }
  });

  it("picks 5-smooth transform lengths", () => {
    for (const min of [1, 17, 77, 316, 1084]) {
      const n = nextFastSize(min);
      expect(n).toBeGreaterThanOrEqual(min);
      let m = n;
      for (const p of [2, 3, 5]) while (m % p === 0) m /= p;
      expect(m).toBe(1);
    }
  });
});
