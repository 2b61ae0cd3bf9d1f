import { describe, expect, it } from "vitest";
import { TweedieError } from "../src/errors.js";
import {
  classProbabilities,
  type EigenMixture,
  eigenMixture,
  type GaussianMixture,
  linearPosterior,
  mixtureDenoise,
  mixtureDenoiseJvp,
  mixtureLogDensity,
  mixtureMoments,
  sampleMixture,
} from "../src/priors/gmm.js";
import {
  choleskyLogDet,
  choleskyLower,
  matmul,
  solveLowerInPlace,
  solveUpperTransposedInPlace,
  symmetricEigen,
} from "../src/priors/gmm-linalg.js";
import { createRng } from "../src/rng.js";

/** A random orthogonal n x n matrix: a product of n Householder reflections. */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const rng = createRng(seed);
  let q: Float64Array = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let r = 0; r < n; r++) {
    const v = rng.split("reflection", r).normal64(n);
    let norm2 = 0;
    for (const x of v) norm2 += x * x;
    const h = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) h[i * n + j] = (i === j ? 1 : 0) - (2 * v[i] * v[j]) / norm2;
    }
    q = matmul(q, h, n, n, n);
  }
  return q;
}

/** Q diag(values) Q^T. */
function fromEigen(q: Float64Array, values: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += q[i * n + k] * values[k] * q[j * n + k];
      out[i * n + j] = sum;
    }
  }
  return out;
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** A random covariance Q diag(values) Q^T with eigenvalues spread over [low, high]. */
function randomCovariance(n: number, seed: number, low: number, high: number): Float64Array {
  const values = Array.from(
    { length: n },
    (_, i) => low * (high / low) ** (i / Math.max(1, n - 1)),
  );
  return fromEigen(randomOrthogonal(n, seed), values, n);
}

function randomMixture(dim: number, k: number, seed: number, spread: number): GaussianMixture {
  const rng = createRng(seed);
  const raw = rng
    .split("weights")
    .uniform64(k)
    .map((u) => 0.2 + u);
  const total = raw.reduce((a, b) => a + b, 0);
  const means = rng
    .split("means")
    .normal64(k * dim)
    .map((v) => spread * v);
  const covariances = new Float64Array(k * dim * dim);
  for (let c = 0; c < k; c++)
    covariances.set(randomCovariance(dim, seed * 100 + c, 0.05, 1.5), c * dim * dim);
  return { dim, weights: raw.map((w) => w / total), means, covariances };
}

describe("symmetricEigen", () => {
  it("diagonalises a 2x2 matrix exactly", () => {
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(1, 15);
    expect(values[1]).toBeCloseTo(3, 15);
    expect(Math.abs(vectors[0])).toBeCloseTo(Math.SQRT1_2, 15);
    expect(vectors[0] * vectors[2]).toBeCloseTo(-0.5, 15);
    expect(vectors[1] * vectors[3]).toBeCloseTo(0.5, 15);
  });

  it("matches the analytic spectrum of the second-difference matrix", () => {
    // tridiag(-1, 2, -1) of size n has eigenvalues 2 - 2 cos(k pi / (n + 1)), k = 1..n.
    const n = 40;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      a[i * n + i] = 2;
      if (i > 0) a[i * n + i - 1] = -1;
      if (i < n - 1) a[i * n + i + 1] = -1;
    }
    const { values } = symmetricEigen(a, n);
    const expected = Array.from(
      { length: n },
      (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)),
    );
    expect(maxAbsDiff(values, expected)).toBeLessThan(1e-13);
  });

  it("recovers spread eigenvalues to relative accuracy", () => {
    const n = 64;
    const expected = Array.from({ length: n }, (_, i) => 1e-6 * 1e8 ** (i / (n - 1)));
    const q = randomOrthogonal(n, 5);
    const a = fromEigen(q, expected, n);
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 0; i < n; i++) {
      // Entries of a carry rounding of about 1e-16 * max eigenvalue (100), so eigenvalues
      // are exact to about 1e-14 absolute; relative error grows as they shrink.
      expect(Math.abs(values[i] - expected[i])).toBeLessThan(1e-12 + 1e-12 * expected[i]);
    }
    expect(maxAbsDiff(fromEigen(vectors, values, n), a)).toBeLessThan(1e-12);
    const gram = matmul(
      Float64Array.from({ length: n * n }, (_, i) => vectors[(i % n) * n + Math.floor(i / n)]),
      vectors,
      n,
      n,
      n,
    );
    const identity = Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
    expect(maxAbsDiff(gram, identity)).toBeLessThan(1e-13);
  });

  it("handles repeated eigenvalues and the zero matrix", () => {
    const n = 6;
    const values = [1, 1, 1, 4, 4, 9];
    const a = fromEigen(randomOrthogonal(n, 9), values, n);
    const eig = symmetricEigen(a, n);
    expect(maxAbsDiff(eig.values, values)).toBeLessThan(1e-14);
    expect(maxAbsDiff(fromEigen(eig.vectors, eig.values, n), a)).toBeLessThan(1e-14);
    const zero = symmetricEigen(new Float64Array(9), 3);
    expect(Array.from(zero.values)).toEqual([0, 0, 0]);
  });

  it("rejects non-finite entries and wrong sizes", () => {
    expect(() => symmetricEigen(Float64Array.from([1, Number.NaN, 0, 1]), 2)).toThrow(TweedieError);
    expect(() => symmetricEigen(new Float64Array(5), 2)).toThrow(/square matrix/);
  });
});

describe("choleskyLower", () => {
  it("factors and solves a random SPD matrix", () => {
    const n = 20;
    const a = randomCovariance(n, 3, 0.1, 10);
    const l = choleskyLower(a, n);
    const lT = Float64Array.from({ length: n * n }, (_, i) => l[(i % n) * n + Math.floor(i / n)]);
    expect(maxAbsDiff(matmul(l, lT, n, n, n), a)).toBeLessThan(1e-13);
    const eig = symmetricEigen(a, n);
    const logDet = eig.values.reduce((s, v) => s + Math.log(v), 0);
    expect(choleskyLogDet(l, n)).toBeCloseTo(logDet, 11);
    const b = createRng(4).normal64(n);
    const x = Float64Array.from(b);
    solveLowerInPlace(l, n, x);
    solveUpperTransposedInPlace(l, n, x);
    const ax = Array.from({ length: n }, (_, i) => dot(a.subarray(i * n, (i + 1) * n), x));
    expect(maxAbsDiff(ax, b)).toBeLessThan(1e-12);
  });

  it("names the failing pivot of an indefinite matrix", () => {
    try {
      choleskyLower(Float64Array.from([1, 2, 2, 1]), 2);
    } catch (error) {
      expect(error).toBeInstanceOf(TweedieError);
      expect((error as TweedieError).path).toEqual(["matrix", "pivot", 1]);
    }
    expect.assertions(2);
  });
});

/** Trapezoid rule on a uniform grid over [lo, hi] with `steps` intervals. */
function grid(lo: number, hi: number, steps: number): { x: Float64Array; w: Float64Array } {
  const h = (hi - lo) / steps;
  const x = Float64Array.from({ length: steps + 1 }, (_, i) => lo + i * h);
  const w = Float64Array.from(x, (_, i) => (i === 0 || i === steps ? h / 2 : h));
  return { x, w };
}

/** Evaluates the log-density of `e` at every point (x[i], x[j]) of a 2-D grid, row i first. */
function gridLogDensity(e: EigenMixture, x: Float64Array): Float64Array {
  const points = new Float64Array(x.length * x.length * 2);
  for (let i = 0; i < x.length; i++) {
    for (let j = 0; j < x.length; j++) {
      points[(i * x.length + j) * 2] = x[i];
      points[(i * x.length + j) * 2 + 1] = x[j];
    }
  }
  return mixtureLogDensity(e, points);
}

describe("mixtureDenoise", () => {
  it("equals the single-Gaussian closed form", () => {
    const dim = 5;
    const mixture: GaussianMixture = {
      dim,
      weights: Float64Array.of(1),
      means: Float64Array.from([0.3, -0.2, 0.5, 0.1, -0.7]),
      covariances: randomCovariance(dim, 11, 0.01, 2),
    };
    const e = eigenMixture(mixture);
    const xt = Float64Array.from([0.4, 0.9, -1.2, 0.05, 0.3]);
    for (const [alpha, sigma] of [
      [0.9, 0.3],
      [0.2, 1.1],
      [1, 1e-3],
    ]) {
      // E = mu + alpha Sigma (alpha^2 Sigma + sigma^2 I)^-1 (x_t - alpha mu), via Cholesky.
      const m = mixture.covariances.map(
        (v, i) => alpha * alpha * v + (i % (dim + 1) === 0 ? sigma * sigma : 0),
      );
      const l = choleskyLower(m, dim);
      const r = xt.map((v, i) => v - alpha * mixture.means[i]);
      solveLowerInPlace(l, dim, r);
      solveUpperTransposedInPlace(l, dim, r);
      const expected = mixture.means.map(
        (mu, i) => mu + alpha * dot(mixture.covariances.subarray(i * dim, (i + 1) * dim), r),
      );
      const { x0Hat, weights } = mixtureDenoise(e, xt, alpha, sigma);
      expect(maxAbsDiff(x0Hat, expected)).toBeLessThan(1e-12);
      expect(weights[0]).toBe(1);
    }
  });

  it("equals the quadrature posterior mean in 1-D", () => {
    const mixture: GaussianMixture = {
      dim: 1,
      weights: Float64Array.from([0.5, 0.3, 0.2]),
      means: Float64Array.from([-1, 0.5, 2]),
      covariances: Float64Array.from([0.04, 0.3, 0.01]),
    };
    const e = eigenMixture(mixture);
    const { x, w } = grid(-6, 8, 140000);
    const prior = mixtureLogDensity(e, x).map(Math.exp);
    for (const [alpha, sigma, xt] of [
      [0.8, 0.6, 0.7],
      [0.99, 0.05, 1.5],
      [0.3, 0.95, -0.4],
    ]) {
      let z = 0;
      let first = 0;
      let second = 0;
      for (let i = 0; i < x.length; i++) {
        const like = Math.exp(-0.5 * ((xt - alpha * x[i]) / sigma) ** 2);
        const p = w[i] * prior[i] * like;
        z += p;
        first += p * x[i];
        second += p * x[i] * x[i];
      }
      const mean = first / z;
      const variance = second / z - mean * mean;
      const result = mixtureDenoiseJvp(e, Float64Array.of(xt), alpha, sigma, Float64Array.of(1));
      expect(Math.abs(result.x0Hat[0] - mean)).toBeLessThan(1e-9);
      // The 1-D Jacobian is (alpha / sigma^2) Var[x0 | x_t].
      expect(Math.abs(result.jvp[0] - (alpha / sigma ** 2) * variance)).toBeLessThan(
        1e-7 * (alpha / sigma ** 2),
      );
    }
  });

  it("equals the quadrature posterior mean in 2-D", () => {
    const mixture: GaussianMixture = {
      dim: 2,
      weights: Float64Array.from([0.6, 0.4]),
      means: Float64Array.from([-0.5, 0.2, 0.8, -0.6]),
      covariances: Float64Array.from([0.2, 0.12, 0.12, 0.15, 0.05, -0.02, -0.02, 0.3]),
    };
    const e = eigenMixture(mixture);
    const { x, w } = grid(-4, 4, 1000);
    const xt = Float64Array.from([0.3, -0.1]);
    const alpha = 0.7;
    const sigma = 0.5;
    let z = 0;
    const first = [0, 0];
    const logPriors = gridLogDensity(e, x);
    for (let i = 0; i < x.length; i++) {
      for (let j = 0; j < x.length; j++) {
        const logPrior = logPriors[i * x.length + j];
        const r0 = xt[0] - alpha * x[i];
        const r1 = xt[1] - alpha * x[j];
        const p = w[i] * w[j] * Math.exp(logPrior - (0.5 * (r0 * r0 + r1 * r1)) / (sigma * sigma));
        z += p;
        first[0] += p * x[i];
        first[1] += p * x[j];
      }
    }
    const { x0Hat } = mixtureDenoise(e, xt, alpha, sigma);
    expect(Math.abs(x0Hat[0] - first[0] / z)).toBeLessThan(1e-8);
    expect(Math.abs(x0Hat[1] - first[1] / z)).toBeLessThan(1e-8);
  });

  it("matches the noise-free log-density formula", () => {
    const mixture = randomMixture(4, 3, 21, 1);
    const e = eigenMixture(mixture);
    const x = Float64Array.from([0.2, -0.4, 1.1, 0.3]);
    let expected = 0;
    for (let k = 0; k < 3; k++) {
      const l = choleskyLower(mixture.covariances.subarray(k * 16, (k + 1) * 16), 4);
      const r = x.map((v, i) => v - mixture.means[k * 4 + i]);
      solveLowerInPlace(l, 4, r);
      expected +=
        mixture.weights[k] *
        Math.exp(-0.5 * (dot(r, r) + choleskyLogDet(l, 4) + 4 * Math.log(2 * Math.PI)));
    }
    expect(mixtureLogDensity(e, x)[0]).toBeCloseTo(Math.log(expected), 12);
  });

  it("rejects sigma = 0 and a negative alpha", () => {
    const e = eigenMixture(randomMixture(2, 2, 1, 1));
    expect(() => mixtureDenoise(e, new Float64Array(2), 1, 0)).toThrow(
      /sigma must be finite and positive/,
    );
    expect(() => mixtureDenoise(e, new Float64Array(2), -0.1, 0.5)).toThrow(/alpha/);
    expect(() => mixtureDenoise(e, new Float64Array(3), 1, 0.5)).toThrow(/whole points/);
  });
});

describe("mixtureDenoiseJvp", () => {
  const dim = 12;
  const mixture = randomMixture(dim, 4, 31, 0.8);
  const e = eigenMixture(mixture);
  const rng = createRng(77);
  const levels: [number, number][] = [
    [0.98, 0.2],
    [0.7, 0.7],
    [0.3, 0.95],
    [0.999, 0.045],
  ];

  it("is symmetric: u^T J v = v^T J u", () => {
    for (const [index, [alpha, sigma]] of levels.entries()) {
      const stream = rng.split("symmetry", index);
      const x0 = sampleMixture(mixture, 1, stream.split("x0")).samples;
      const xt = x0.map((v, i) => alpha * v + sigma * stream.split("eps").normalAt(i));
      const u = stream.split("u").normal64(dim);
      const v = stream.split("v").normal64(dim);
      const ju = mixtureDenoiseJvp(e, xt, alpha, sigma, u).jvp;
      const jv = mixtureDenoiseJvp(e, xt, alpha, sigma, v).jvp;
      const scale = Math.sqrt(dot(ju, ju) * dot(v, v));
      expect(Math.abs(dot(u, jv) - dot(v, ju)) / scale).toBeLessThan(1e-10);
    }
  });

  it("equals central finite differences", () => {
    for (const [index, [alpha, sigma]] of levels.entries()) {
      const stream = rng.split("fd", index);
      const x0 = sampleMixture(mixture, 1, stream.split("x0")).samples;
      const xt = x0.map((v, i) => alpha * v + sigma * stream.split("eps").normalAt(i));
      const v = stream.split("v").normal64(dim);
      const h = 1e-5 * sigma;
      const plus = mixtureDenoise(
        e,
        xt.map((x, i) => x + h * v[i]),
        alpha,
        sigma,
      ).x0Hat;
      const minus = mixtureDenoise(
        e,
        xt.map((x, i) => x - h * v[i]),
        alpha,
        sigma,
      ).x0Hat;
      const fd = plus.map((p, i) => (p - minus[i]) / (2 * h));
      const jv = mixtureDenoiseJvp(e, xt, alpha, sigma, v).jvp;
      expect(maxAbsDiff(fd, jv) / maxAbs(jv)).toBeLessThan(1e-6);
    }
  });

  it("equals (alpha / sigma^2) times the posterior covariance", () => {
    // Cov[x0 | x_t] = sum_k w_k (C_k + E_k E_k^T) - E E^T with
    // C_k = Sigma_k - alpha^2 Sigma_k (alpha^2 Sigma_k + sigma^2 I)^-1 Sigma_k.
    const alpha = 0.8;
    const sigma = 0.6;
    const xt = createRng(8).normal64(dim);
    const v = createRng(9).normal64(dim);
    const { x0Hat, weights, jvp } = mixtureDenoiseJvp(e, xt, alpha, sigma, v);
    const covV = x0Hat.map((m) => -m * dot(x0Hat, v));
    for (let k = 0; k < 4; k++) {
      const sigmaK = mixture.covariances.subarray(k * dim * dim, (k + 1) * dim * dim);
      const mu = mixture.means.subarray(k * dim, (k + 1) * dim);
      const noisy = sigmaK.map(
        (s, i) => alpha * alpha * s + (i % (dim + 1) === 0 ? sigma * sigma : 0),
      );
      const l = choleskyLower(noisy, dim);
      const solve = (b: Float64Array) => {
        const out = Float64Array.from(b);
        solveLowerInPlace(l, dim, out);
        solveUpperTransposedInPlace(l, dim, out);
        return out;
      };
      const times = (m: Float64Array, b: Float64Array) =>
        Float64Array.from({ length: dim }, (_, i) => dot(m.subarray(i * dim, (i + 1) * dim), b));
      const r = solve(xt.map((x, i) => x - alpha * mu[i]));
      const ek = mu.map((m, i) => m + alpha * times(sigmaK, r)[i]);
      const sv = times(sigmaK, v);
      const ckv = sv.map((s, i) => s - alpha * alpha * times(sigmaK, solve(sv))[i]);
      const ekv = dot(ek, v);
      for (let i = 0; i < dim; i++) covV[i] += weights[k] * (ckv[i] + ek[i] * ekv);
    }
    const expected = covV.map((c) => (alpha / (sigma * sigma)) * c);
    expect(maxAbsDiff(jvp, expected) / maxAbs(expected)).toBeLessThan(1e-12);
  });
});

describe("linearPosterior", () => {
  it("equals the precision-form closed form for one Gaussian", () => {
    const dim = 4;
    const rows = 2;
    const mixture: GaussianMixture = {
      dim,
      weights: Float64Array.of(1),
      means: Float64Array.from([0.1, -0.3, 0.4, 0.2]),
      covariances: randomCovariance(dim, 41, 0.2, 2),
    };
    const a = Float64Array.from([1, 0.5, 0, -0.2, 0.3, -1, 0.7, 0.1]);
    const y = Float64Array.from([0.4, -0.8]);
    const sigmaY = 0.3;
    const post = linearPosterior(mixture, a, rows, y, sigmaY);
    // Sigma_post = (Sigma^-1 + A^T A / sY^2)^-1, m = Sigma_post (Sigma^-1 mu + A^T y / sY^2).
    const eig = symmetricEigen(mixture.covariances, dim);
    const precision = fromEigen(
      eig.vectors,
      eig.values.map((v) => 1 / v),
      dim,
    );
    const rhs = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      rhs[i] = dot(precision.subarray(i * dim, (i + 1) * dim), mixture.means);
      for (let r = 0; r < rows; r++) {
        rhs[i] += (a[r * dim + i] * y[r]) / sigmaY ** 2;
        for (let j = 0; j < dim; j++)
          precision[i * dim + j] += (a[r * dim + i] * a[r * dim + j]) / sigmaY ** 2;
      }
    }
    const pe = symmetricEigen(precision, dim);
    const covariance = fromEigen(
      pe.vectors,
      pe.values.map((v) => 1 / v),
      dim,
    );
    const mean = Float64Array.from({ length: dim }, (_, i) =>
      dot(covariance.subarray(i * dim, (i + 1) * dim), rhs),
    );
    expect(maxAbsDiff(post.covariances, covariance)).toBeLessThan(1e-13);
    expect(maxAbsDiff(post.means, mean)).toBeLessThan(1e-13);
    expect(post.weights[0]).toBe(1);
  });

  it("equals the 2-D quadrature posterior", () => {
    const mixture: GaussianMixture = {
      dim: 2,
      weights: Float64Array.from([0.3, 0.45, 0.25]),
      means: Float64Array.from([-1, 0.5, 0.6, 0.8, 0.2, -1]),
      covariances: Float64Array.from([
        0.1, 0.03, 0.03, 0.08, 0.05, 0, 0, 0.2, 0.15, -0.05, -0.05, 0.06,
      ]),
    };
    const a = Float64Array.from([0.8, -0.6]);
    const y = [0.1];
    const sigmaY = 0.25;
    const post = eigenMixture(linearPosterior(mixture, a, 1, y, sigmaY));
    const prior = eigenMixture(mixture);
    const { x, w } = grid(-4, 4, 800);
    let z = 0;
    const first = [0, 0];
    let maxDensityError = 0;
    const logPosteriors: number[] = [];
    const logPriors = gridLogDensity(prior, x);
    const point = new Float64Array(2);
    for (let i = 0; i < x.length; i++) {
      for (let j = 0; j < x.length; j++) {
        point[0] = x[i];
        point[1] = x[j];
        const r = y[0] - (a[0] * x[i] + a[1] * x[j]);
        const p = Math.exp(logPriors[i * x.length + j] - (0.5 * r * r) / sigmaY ** 2);
        z += w[i] * w[j] * p;
        first[0] += w[i] * w[j] * p * x[i];
        first[1] += w[i] * w[j] * p * x[j];
        if ((i * 31 + j * 17) % 997 === 0)
          logPosteriors.push(Math.log(p), mixtureLogDensity(post, point)[0]);
      }
    }
    const moments = mixtureMoments(post.mixture);
    expect(Math.abs(moments.mean[0] - first[0] / z)).toBeLessThan(1e-8);
    expect(Math.abs(moments.mean[1] - first[1] / z)).toBeLessThan(1e-8);
    // The posterior density equals prior x likelihood / evidence at every probed point.
    for (let i = 0; i < logPosteriors.length; i += 2) {
      maxDensityError = Math.max(
        maxDensityError,
        Math.abs(logPosteriors[i] - Math.log(z) - logPosteriors[i + 1]),
      );
    }
    expect(maxDensityError).toBeLessThan(1e-7);
  });

  it("samples with the closed-form mean and covariance", () => {
    const dim = 6;
    const rows = 3;
    const prior = randomMixture(dim, 5, 51, 1.2);
    const rng = createRng(52);
    const a = rng.split("A").normal64(rows * dim);
    const y = rng.split("y").normal64(rows);
    const post = linearPosterior(prior, a, rows, y, 0.4);
    const { mean, covariance } = mixtureMoments(post);
    const n = 10000;
    const { samples } = sampleMixture(post, n, rng.split("samples"));
    const sampleMean = new Float64Array(dim);
    for (let s = 0; s < n; s++)
      for (let i = 0; i < dim; i++) sampleMean[i] += samples[s * dim + i] / n;
    for (let i = 0; i < dim; i++) {
      const standardError = Math.sqrt(covariance[i * dim + i] / n);
      expect(Math.abs(sampleMean[i] - mean[i])).toBeLessThan(5 * standardError);
    }
    // Each covariance entry is the mean of p = (x_i - m_i)(x_j - m_j); its standard error
    // is the sample standard deviation of p over sqrt(n).
    for (let i = 0; i < dim; i++) {
      for (let j = i; j < dim; j++) {
        let sum = 0;
        let sum2 = 0;
        for (let s = 0; s < n; s++) {
          const p = (samples[s * dim + i] - mean[i]) * (samples[s * dim + j] - mean[j]);
          sum += p;
          sum2 += p * p;
        }
        const estimate = sum / n;
        const standardError = Math.sqrt((sum2 / n - estimate * estimate) / n);
        expect(Math.abs(estimate - covariance[i * dim + j])).toBeLessThan(5 * standardError);
      }
    }
  });

  it("rejects mismatched shapes and sigmaY <= 0", () => {
    const prior = randomMixture(3, 2, 1, 1);
    expect(() => linearPosterior(prior, new Float64Array(5), 2, [0, 0], 0.1)).toThrow(TweedieError);
    expect(() => linearPosterior(prior, new Float64Array(6), 2, [0, 0], 0)).toThrow(/sigmaY/);
  });
});

describe("sampleMixture", () => {
  it("draws components with the mixing weights and is reproducible", () => {
    const mixture = randomMixture(2, 3, 61, 3);
    const a = sampleMixture(mixture, 20000, createRng(62));
    const b = sampleMixture(mixture, 20000, createRng(62));
    expect(a.samples).toEqual(b.samples);
    for (let k = 0; k < 3; k++) {
      const share = a.components.filter((c) => c === k).length / 20000;
      const w = mixture.weights[k];
      expect(Math.abs(share - w)).toBeLessThan(5 * Math.sqrt((w * (1 - w)) / 20000));
    }
  });
});

describe("classProbabilities", () => {
  it("is the normalised product of class weight and class density", () => {
    const classes = [
      randomMixture(3, 2, 71, 1),
      randomMixture(3, 1, 72, 1),
      randomMixture(3, 3, 73, 1),
    ];
    const eigen = classes.map(eigenMixture);
    const classWeights = [0.5, 0.2, 0.3];
    const x = createRng(74).normal64(3 * 5);
    const probabilities = classProbabilities(eigen, classWeights, x);
    for (let n = 0; n < 5; n++) {
      const point = x.subarray(n * 3, n * 3 + 3);
      const joint = eigen.map((e, c) => classWeights[c] * Math.exp(mixtureLogDensity(e, point)[0]));
      const total = joint.reduce((s, v) => s + v, 0);
      for (let c = 0; c < 3; c++)
        expect(probabilities[n * 3 + c]).toBeCloseTo(joint[c] / total, 13);
    }
  });
});
