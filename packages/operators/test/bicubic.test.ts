import { Tensor } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { buildOperator } from "../src/index.js";
import { bicubicDownscaleMatrix } from "../src/kernels/resize.js";

// The 16 published weights of the DPS x4 resizer (MATLAB imresize, Keys a = -0.5 with
// antialiasing), rounded to 5 decimals; output j reads inputs 4j - 6 ... 4j + 9.
const TAPS = [
  -0.00171, -0.01099, -0.01831, -0.01196, 0.02271, 0.09741, 0.18188, 0.24097, 0.24097, 0.18188,
  0.09741, 0.02271, -0.01196, -0.01831, -0.01099, -0.00171,
];
// Rounding each tap by at most 5e-6 moves an output of inputs in [-1, 1] by at most
// 16 * 5e-6 per axis.
const TAP_TOLERANCE = 2e-4;

/** Half-sample symmetric reflection: -1 -> 0, -2 -> 1, n -> n - 1. */
function reflect(i: number, n: number): number {
  if (i < 0) return -i - 1;
  if (i >= n) return 2 * n - 1 - i;
  return i;
}

/** Resizes a 1-D signal by 4 with the published taps, written out by hand. */
function resizeByTaps(signal: readonly number[]): number[] {
  const out: number[] = [];
  for (let j = 0; j < signal.length / 4; j++) {
    let sum = 0;
    TAPS.forEach((w, k) => {
      sum += w * signal[reflect(4 * j - 6 + k, signal.length)];
    });
    out.push(sum);
  }
  return out;
}

describe("sr-bicubic x4 against the published taps", () => {
  it("builds the published 16-tap row", () => {
    const row = bicubicDownscaleMatrix(64, 4);
    const start = row.rowStart[5];
    expect(row.rowStart[6] - start).toBe(16);
    expect(row.colIndex[start]).toBe(4 * 5 - 6);
    TAPS.forEach((w, k) => {
      expect(row.values[start + k]).toBeCloseTo(w, 5);
    });
  });

  it("uses 48 taps per output at scale 12", () => {
    const matrix = bicubicDownscaleMatrix(768, 12);
    expect(matrix.rowStart[11] - matrix.rowStart[10]).toBe(48);
    expect(matrix.colIndex[matrix.rowStart[10]]).toBe(12 * 10 - 18);
  });

  it("resizes a separable ramp x delta image", () => {
    // x[i, j] = a_i b_j, so A x = (A_h a)(A_w b)^T: a ramp down the rows and a delta on
    // the left border along the columns.
    const height = 16;
    const width = 20;
    const ramp = Array.from({ length: height }, (_, i) => -1 + (2 * i) / (height - 1));
    const delta = Array.from({ length: width }, (_, j) => (j === 0 ? 1 : 0));
    const x = Tensor.from(
      ramp.flatMap((a) => delta.map((b) => a * b)),
      [1, height, width],
    );
    const y = buildOperator(
      { kind: "sr-bicubic", scale: 4 },
      { imageShape: [1, height, width] },
    ).forward(x);
    const rows = resizeByTaps(ramp);
    const cols = resizeByTaps(delta);
    // Hand check of the border: inputs -1 and 0 both reflect onto sample 0.
    expect(cols[0]).toBeCloseTo(0.09741 + 0.18188, 10);
    expect(cols[1]).toBeCloseTo(-0.01099 - 0.01831, 10);
    expect(y.shape).toEqual([1, 4, 5]);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 5; j++) {
        expect(Math.abs(y.data[i * 5 + j] - rows[i] * cols[j]), `y[${i}, ${j}]`).toBeLessThan(
          TAP_TOLERANCE,
        );
      }
    }
  });

  it("reproduces a linear ramp away from the border", () => {
    // Symmetric taps summing to 1 return a linear signal's value at the tap centre 4j + 1.5.
    const width = 32;
    const signal = Array.from({ length: width }, (_, j) => 0.05 * j - 0.8);
    const image = Tensor.from(Array.from({ length: 8 }, () => signal).flat(), [1, 8, width]);
    const y = buildOperator(
      { kind: "sr-bicubic", scale: 4 },
      { imageShape: [1, 8, width] },
    ).forward(image);
    const expected = resizeByTaps(signal);
    for (let j = 2; j < 6; j++) {
      expect(expected[j]).toBeCloseTo(0.05 * (4 * j + 1.5) - 0.8, 3);
      expect(y.data[j]).toBeCloseTo(0.05 * (4 * j + 1.5) - 0.8, 6);
    }
    for (let j = 0; j < 8; j++)
      expect(Math.abs(y.data[j] - expected[j])).toBeLessThan(TAP_TOLERANCE);
  });
});

describe("sr-bicubic truncation", () => {
  it("removes nothing at 0.03 for the FlowDPS x12 factor of 768", () => {
    const full = buildOperator({ kind: "sr-bicubic", scale: 12 }, { imageShape: [1, 768, 24] });
    const truncated = buildOperator(
      { kind: "sr-bicubic", scale: 12, truncate: 0.03 },
      { imageShape: [1, 768, 24] },
    );
    const x = Tensor.from(
      Array.from({ length: 768 * 24 }, (_, i) => Math.sin(i * 0.37)),
      [1, 768, 24],
    );
    expect(truncated.forward(x).data).toEqual(full.forward(x).data);
  });

  it("changes the operator when singular values fall below the threshold", () => {
    const full = buildOperator({ kind: "sr-bicubic", scale: 4 }, { imageShape: [1, 68, 76] });
    const truncated = buildOperator(
      { kind: "sr-bicubic", scale: 4, truncate: 0.45 },
      { imageShape: [1, 68, 76] },
    );
    const x = Tensor.from(
      Array.from({ length: 68 * 76 }, (_, i) => Math.sin(i * 1.7)),
      [1, 68, 76],
    );
    const a = full.forward(x).data;
    const b = truncated.forward(x).data;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    expect(diff).toBeGreaterThan(1e-3);
  });
});
