import { symmetricEigen as jacobiEigen, TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import {
  checkFidSampleSize,
  type FeatureSet,
  featureStatistics,
  fidFromFeatures,
  frechetDistance,
  kidFromFeatures,
  symmetricEigen,
} from "../src/index.js";
import golden from "./fixtures/network-golden.json" with { type: "json" };
import { featureSet } from "./network-helpers.js";

function set(data: Float64Array, dim: number): FeatureSet {
  return { data, count: data.length / dim, dim };
}

/** Points m +- a_k e_k for k < active: sample mean m, diagonal sample covariance 2 a_k^2 / (N - 1). */
function axisDesign(mean: number[], spread: number[], active: number): Float64Array {
  const dim = mean.length;
  const out = new Float64Array(2 * active * dim);
  for (let k = 0; k < active; k++) {
    for (const sign of [1, -1]) {
      const row = (2 * k + (sign === 1 ? 0 : 1)) * dim;
      for (let d = 0; d < dim; d++) out[row + d] = mean[d];
      out[row + k] += sign * spread[k];
    }
  }
  return out;
}

/** A rotation of R^dim built from Givens rotations in every coordinate plane. */
function rotation(dim: number): Float64Array {
  const q = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) q[i * dim + i] = 1;
  for (let p = 0; p < dim - 1; p++) {
    for (let r = p + 1; r < dim; r++) {
      const angle = 0.3 + 0.17 * p + 0.11 * r;
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      for (let k = 0; k < dim; k++) {
        const a = q[k * dim + p];
        const b = q[k * dim + r];
        q[k * dim + p] = c * a - s * b;
        q[k * dim + r] = s * a + c * b;
      }
    }
  }
  return q;
}

function rotate(points: Float64Array, q: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length / dim; i++) {
    for (let a = 0; a < dim; a++) {
      let sum = 0;
      for (let b = 0; b < dim; b++) sum += q[a * dim + b] * points[i * dim + b];
      out[i * dim + a] = sum;
    }
  }
  return out;
}

/** ||m1 - m2||^2 + sum_k (sqrt(s1_k) - sqrt(s2_k))^2 for diagonal covariances. */
function diagonalClosedForm(m1: number[], m2: number[], s1: number[], s2: number[]): number {
  let value = 0;
  for (let k = 0; k < m1.length; k++) {
    value += (m1[k] - m2[k]) ** 2 + (Math.sqrt(s1[k]) - Math.sqrt(s2[k])) ** 2;
  }
  return value;
}

describe("symmetricEigen", () => {
  it("matches numpy eigvalsh", () => {
    const n = golden.eigen.n;
    const base = featureSet(n, n, 5);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) a[i * n + j] = base[i * n + j] + base[j * n + i];
    }
    const { values } = symmetricEigen(a, n, false);
    golden.eigen.values.forEach((expected, i) => {
      expect(Math.abs(values[i] - expected), `eigenvalue ${i}`).toBeLessThan(1e-12);
    });
  });

  it("reconstructs A from orthonormal vectors", () => {
    const n = 30;
    const base = featureSet(n, n, 9);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++)
        a[i * n + j] = base[i * n + j] * base[j * n + i] + (i === j ? 2 : 0);
    }
    const { values, vectors } = symmetricEigen(a, n, true);
    const v = vectors!;
    let worstOrthogonality = 0;
    let worstResidual = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        let reconstructed = 0;
        for (let k = 0; k < n; k++) {
          dot += v[i * n + k] * v[j * n + k];
          reconstructed += v[k * n + i] * values[k] * v[k * n + j];
        }
        worstOrthogonality = Math.max(worstOrthogonality, Math.abs(dot - (i === j ? 1 : 0)));
        worstResidual = Math.max(worstResidual, Math.abs(reconstructed - a[i * n + j]));
      }
    }
    expect(worstOrthogonality).toBeLessThan(1e-13);
    expect(worstResidual).toBeLessThan(1e-12);
    const jacobi = jacobiEigen(a, n);
    values.forEach((value, i) => {
      expect(Math.abs(value - jacobi.values[i]), `Jacobi eigenvalue ${i}`).toBeLessThan(1e-12);
    });
  });

  it("handles repeated, zero and 1x1 spectra", () => {
    const identity = new Float64Array(16);
    for (let i = 0; i < 4; i++) identity[i * 5] = 3;
    expect([...symmetricEigen(identity, 4, true).values]).toEqual([3, 3, 3, 3]);
    expect([...symmetricEigen(new Float64Array(9), 3, false).values]).toEqual([0, 0, 0]);
    expect([...symmetricEigen(Float64Array.of(-2.5), 1, true).values]).toEqual([-2.5]);
    const twoByTwo = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2, false).values;
    expect(twoByTwo[0]).toBeCloseTo(1, 14);
    expect(twoByTwo[1]).toBeCloseTo(3, 14);
  });

  it("rejects non-finite entries", () => {
    expect(() => symmetricEigen(Float64Array.of(1, Number.NaN, Number.NaN, 1), 2, false)).toThrow(
      /non-finite/,
    );
  });
});

describe("Frechet distance", () => {
  const dim = 8;
  const m1 = [0.1, -0.4, 1.2, 0, 0.5, 0.3, -0.7, 2];
  const m2 = [0.4, -0.1, 1, 0.2, 0.5, -0.3, -0.2, 1.5];
  const a1 = [1, 0.5, 2, 0.3, 1.5, 0.8, 0.1, 1.1];
  const a2 = [0.6, 0.9, 1.2, 0.3, 2.5, 0.4, 0.7, 1.9];

  it("equals the diagonal closed form", () => {
    const x = axisDesign(m1, a1, dim);
    const y = axisDesign(m2, a2, dim);
    const s1 = a1.map((a) => (2 * a * a) / (2 * dim - 1));
    const s2 = a2.map((a) => (2 * a * a) / (2 * dim - 1));
    const expected = diagonalClosedForm(m1, m2, s1, s2);
    const result = fidFromFeatures(set(x, dim), set(y, dim));
    expect(Math.abs(result.value - expected)).toBeLessThan(1e-12);
    expect(result.n).toEqual({ reference: 16, output: 16 });
    expect(result.featureDim).toBe(8);
  });

  it("is invariant under a rotation of both sets", () => {
    // Rotated, the covariances are full matrices; the closed form does not change.
    const q = rotation(dim);
    const x = rotate(axisDesign(m1, a1, dim), q, dim);
    const y = rotate(axisDesign(m2, a2, dim), q, dim);
    const s1 = a1.map((a) => (2 * a * a) / (2 * dim - 1));
    const s2 = a2.map((a) => (2 * a * a) / (2 * dim - 1));
    const stats = featureStatistics(set(x, dim));
    expect(Math.abs(stats.covariance[1])).toBeGreaterThan(0.01);
    const result = fidFromFeatures(set(x, dim), set(y, dim));
    expect(Math.abs(result.value - diagonalClosedForm(m1, m2, s1, s2))).toBeLessThan(1e-11);
  });

  it("stays real for singular covariances", () => {
    // Four active axes in 8-D: both covariances have rank 4. The closed form still holds.
    const q = rotation(dim);
    const x = rotate(axisDesign(m1, a1, 4), q, dim);
    const y = rotate(axisDesign(m2, a2, 4), q, dim);
    const s1 = a1.map((a, k) => (k < 4 ? (2 * a * a) / 7 : 0));
    const s2 = a2.map((a, k) => (k < 4 ? (2 * a * a) / 7 : 0));
    const distance = frechetDistance(
      featureStatistics(set(x, dim)),
      featureStatistics(set(y, dim)),
    );
    expect(Number.isFinite(distance.value)).toBe(true);
    expect(Math.abs(distance.value - diagonalClosedForm(m1, m2, s1, s2))).toBeLessThan(1e-9);
    expect(distance.minClampedEigenvalue).toBeGreaterThan(-1e-12);
  });

  it("matches scipy sqrtm on correlated features", () => {
    const { count, dim: d } = golden.features;
    const a = featureSet(count, d, 1);
    const b = featureSet(count, d, 2).map((v, i) => v * 1.3 + 0.05 * ((i % d) % 3));
    const stats = featureStatistics(set(a, d));
    golden.features.meanA.forEach((m, i) => {
      expect(Math.abs(stats.mean[i] - m)).toBeLessThan(1e-15);
    });
    expect(Math.abs(stats.covariance[0] - golden.features.covarianceA00)).toBeLessThan(1e-15);
    expect(Math.abs(stats.covariance[1] - golden.features.covarianceA01)).toBeLessThan(1e-15);
    const result = fidFromFeatures(set(a, d), set(b, d));
    expect(Math.abs(result.value - golden.features.fid)).toBeLessThan(1e-12);
  });

  it("is zero between a set and itself", () => {
    const a = featureSet(40, 8, 3);
    expect(Math.abs(fidFromFeatures(set(a, 8), set(a, 8)).value)).toBeLessThan(1e-13);
  });

  it("rejects sets smaller than the feature dimension", () => {
    expect(() => checkFidSampleSize(10, 10, 2048)).toThrow(
      "FID needs at least 2048 images per set; got 10 and 10; use KID or more images",
    );
    const small = set(featureSet(7, 8, 1), 8);
    const large = set(featureSet(40, 8, 2), 8);
    try {
      fidFromFeatures(large, small);
      expect.unreachable("7 vectors in 8 dimensions must be rejected");
    } catch (error) {
      expect(error).toBeInstanceOf(TweedieError);
      expect((error as TweedieError).message).toBe(
        "FID needs at least 8 images per set; got 40 and 7; use KID or more images",
      );
      expect((error as TweedieError).received).toEqual({ reference: 40, output: 7 });
    }
    expect(() =>
      fidFromFeatures(set(featureSet(8, 8, 1), 8), set(featureSet(8, 8, 2), 8)),
    ).not.toThrow();
  });
});

describe("KID", () => {
  const { count, dim } = golden.features;
  const a = set(featureSet(count, dim, 1), dim);
  const b = set(
    featureSet(count, dim, 2).map((v, i) => v * 1.3 + 0.05 * ((i % dim) % 3)),
    dim,
  );

  it("matches the numpy formula on one full subset", () => {
    const result = kidFromFeatures(a, b, { subsets: 1, subsetSize: count });
    expect(Math.abs(result.value - golden.features.kidFull)).toBeLessThan(1e-12);
    expect(result.std).toBeNull();
    expect(result).toMatchObject({ subsets: 1, subsetSize: 40, n: { reference: 40, output: 40 } });
  });

  it("gives the same subsets with and without the Gram matrix", () => {
    const cached = kidFromFeatures(a, b, { subsets: 5, subsetSize: 20, seed: 3 });
    const direct = kidFromFeatures(a, b, { subsets: 5, subsetSize: 20, seed: 3, maxGramBytes: 0 });
    expect(direct.value).toBe(cached.value);
    expect(direct.std).toBe(cached.std);
    const otherSeed = kidFromFeatures(a, b, { subsets: 5, subsetSize: 20, seed: 4 });
    expect(otherSeed.value).not.toBe(cached.value);
  });

  it("is near zero for two halves of one set", () => {
    const big = featureSet(200, dim, 6);
    const first = set(big.slice(0, 100 * dim), dim);
    const second = set(big.slice(100 * dim), dim);
    const same = kidFromFeatures(first, second, { subsets: 20, subsetSize: 50 });
    const apart = kidFromFeatures(a, b, { subsets: 20, subsetSize: 20 });
    expect(Math.abs(same.value)).toBeLessThan(apart.value / 20);
  });

  it("accepts small sets that FID rejects", () => {
    const small = set(featureSet(7, dim, 1), dim);
    const other = set(featureSet(7, dim, 2), dim);
    expect(() => fidFromFeatures(small, other)).toThrow(/FID needs at least 8/);
    const tiny = set(featureSet(3, 12, 1), 12);
    const result = kidFromFeatures(tiny, set(featureSet(3, 12, 2), 12), { subsets: 4 });
    expect(result.subsetSize).toBe(3);
    expect(Number.isFinite(result.value)).toBe(true);
    expect(() => kidFromFeatures(set(featureSet(1, 4, 1), 4), set(featureSet(5, 4, 1), 4))).toThrow(
      /KID needs at least 2 images/,
    );
  });
});
