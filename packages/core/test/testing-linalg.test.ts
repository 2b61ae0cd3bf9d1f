import { describe, expect, it } from "vitest";
import { matmul } from "../src/priors/gmm-linalg.js";
import { createRng } from "../src/rng.js";
import { matrix, randomOrthogonal, thinSvd } from "../src/testing/index.js";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}

describe("testing linear algebra", () => {
  it("randomOrthogonal returns Q with Q^T Q = I", () => {
    const q = randomOrthogonal(12, createRng(1));
    const product = matmul(transpose(q.data, 12, 12), q.data, 12, 12, 12);
    expect(maxAbsDiff(product, identity(12))).toBeLessThan(1e-13);
  });

  it("randomOrthogonal is deterministic per stream", () => {
    const a = randomOrthogonal(5, createRng(7).split("q"));
    const b = randomOrthogonal(5, createRng(7).split("q"));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });

  it("thinSvd recovers U diag(s) V", () => {
    const rng = createRng(3);
    const u = randomOrthogonal(3, rng.split("u"));
    const v = randomOrthogonal(10, rng.split("v"));
    const s = [0.9, 0.5, 0.01];
    const us = matrix(3, 3, u.data);
    for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) us.data[i * 3 + k] *= s[k];
    const a = matmul(us.data, v.data.subarray(0, 30), 3, 3, 10);
    const svd = thinSvd(matrix(3, 10, a));
    expect(maxAbsDiff(svd.s, s)).toBeLessThan(1e-12);

    const rebuilt = matrix(3, 3, svd.u.data);
    for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) rebuilt.data[i * 3 + k] *= svd.s[k];
    expect(maxAbsDiff(matmul(rebuilt.data, svd.vr.data, 3, 3, 10), a)).toBeLessThan(1e-12);
    const gram = matmul(svd.vr.data, transpose(svd.vr.data, 3, 10), 3, 10, 3);
    expect(maxAbsDiff(gram, identity(3))).toBeLessThan(1e-12);
  });

  it("thinSvd rejects more rows than columns", () => {
    expect(() => thinSvd(matrix(3, 2))).toThrow(/at most as many rows as columns/);
  });
});
