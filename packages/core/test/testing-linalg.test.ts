import { describe, expect, it } from "vitest";
import { createRng } from "../src/rng.js";
import {
  cholesky,
  identity,
  inverseSpd,
  matmul,
  matrix,
  randomOrthogonal,
  thinSvd,
  transpose,
} from "../src/testing/index.js";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe("testing linear algebra", () => {
  it("randomOrthogonal returns Q with Q^T Q = I", () => {
    const q = randomOrthogonal(12, createRng(1));
    expect(maxAbsDiff(matmul(transpose(q), q).data, identity(12).data)).toBeLessThan(1e-13);
  });

  it("randomOrthogonal is deterministic per stream", () => {
    const a = randomOrthogonal(5, createRng(7).split("q"));
    const b = randomOrthogonal(5, createRng(7).split("q"));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });

  it("cholesky and inverseSpd invert a known matrix", () => {
    // [[4, 2], [2, 3]]: L = [[2, 0], [1, sqrt 2]], inverse = [[3, -2], [-2, 4]] / 8.
    const a = matrix(2, 2, [4, 2, 2, 3]);
    expect(maxAbsDiff(cholesky(a).data, [2, 0, 1, Math.SQRT2])).toBeLessThan(1e-15);
    expect(maxAbsDiff(inverseSpd(a).data, [3 / 8, -2 / 8, -2 / 8, 4 / 8])).toBeLessThan(1e-15);
  });

  it("cholesky rejects an indefinite matrix", () => {
    expect(() => cholesky(matrix(2, 2, [1, 2, 2, 1]))).toThrow(/not positive definite/);
  });

  it("thinSvd recovers singular values of U diag(s) V", () => {
    const rng = createRng(3);
    const u = randomOrthogonal(3, rng.split("u"));
    const v = randomOrthogonal(10, rng.split("v"));
    const s = [0.9, 0.5, 0.01];
    const us = matrix(3, 3, u.data);
    for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) us.data[i * 3 + k] *= s[k];
    const a = matmul(us, matrix(3, 10, v.data.subarray(0, 30)));
    const svd = thinSvd(a);
    expect(maxAbsDiff(svd.s, s)).toBeLessThan(1e-14);
    const rebuilt = matrix(3, 3, svd.u.data);
    for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) rebuilt.data[i * 3 + k] *= svd.s[k];
    expect(maxAbsDiff(matmul(rebuilt, svd.vr).data, a.data)).toBeLessThan(1e-14);
    expect(maxAbsDiff(matmul(svd.vr, transpose(svd.vr)).data, identity(3).data)).toBeLessThan(
      1e-14,
    );
  });
});
