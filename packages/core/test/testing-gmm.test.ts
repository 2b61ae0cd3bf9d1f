import { describe, expect, it } from "vitest";
import { createRng } from "../src/rng.js";
import {
  createGmmProblem,
  createGridMixture,
  createMixture,
  type GaussianMixture,
  identity,
  inverseSpd,
  matmul,
  matrix,
  matvec,
  matvecTransposed,
  mixtureDenoise,
  mixtureOutput,
  mixturePosterior,
  posteriorMoments,
  sampleMixture,
  samplePosterior,
  thinSvd,
  transpose,
} from "../src/testing/index.js";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function empiricalMoments(samples: Float64Array, dim: number) {
  const count = samples.length / dim;
  const mean = new Float64Array(dim);
  for (let n = 0; n < count; n++) for (let i = 0; i < dim; i++) mean[i] += samples[n * dim + i];
  for (let i = 0; i < dim; i++) mean[i] /= count;
  const covariance = new Float64Array(dim * dim);
  for (let n = 0; n < count; n++) {
    for (let i = 0; i < dim; i++) {
      const di = samples[n * dim + i] - mean[i];
      for (let j = 0; j < dim; j++)
        covariance[i * dim + j] += (di * (samples[n * dim + j] - mean[j])) / (count - 1);
    }
  }
  return { mean, covariance };
}

/** log p_t(x) = log sum_k w_k N(x; alpha mu_k, (alpha^2 + sigma^2) I), in float64. */
function logDensity(mixture: GaussianMixture, x: ArrayLike<number>, alpha: number, sigma: number) {
  const v = alpha * alpha + sigma * sigma;
  const d = mixture.dim;
  const terms = Array.from({ length: mixture.components }, (_, k) => {
    let dist = 0;
    for (let i = 0; i < d; i++) dist += (x[i] - alpha * mixture.means[k * d + i]) ** 2;
    return mixture.logWeights[k] - dist / (2 * v) - (d / 2) * Math.log(2 * Math.PI * v);
  });
  const max = Math.max(...terms);
  return max + Math.log(terms.reduce((sum, t) => sum + Math.exp(t - max), 0));
}

describe("grid mixture", () => {
  it("has 25 means 8 (i, j) tiled over the dimension", () => {
    const mixture = createGridMixture(6);
    expect(mixture.components).toBe(25);
    // Component 0 is (i, j) = (-2, -2); component 7 is (-1, 0).
    expect(Array.from(mixture.means.subarray(0, 6))).toEqual([-16, -16, -16, -16, -16, -16]);
    expect(Array.from(mixture.means.subarray(42, 48))).toEqual([-8, 0, -8, 0, -8, 0]);
    expect(mixture.weights.every((w) => Math.abs(w - 0.04) < 1e-15)).toBe(true);
  });

  it("random weights are g^2 / sum g^2", () => {
    const mixture = createGridMixture(2, { weights: "random", rng: createRng(9) });
    const g = createRng(9).normal64(25);
    const total = g.reduce((sum, v) => sum + v * v, 0);
    expect(
      maxAbsDiff(
        mixture.weights,
        Array.from(g, (v) => (v * v) / total),
      ),
    ).toBeLessThan(1e-15);
  });

  it("rejects an odd dimension", () => {
    expect(() => createGridMixture(7)).toThrow(/even integer/);
  });

  it("prior sampler matches the mixture moments", () => {
    const mixture = createGridMixture(2);
    const samples = sampleMixture(mixture, 20000, createRng(1));
    const { mean, covariance } = empiricalMoments(samples, 2);
    // Each coordinate is uniform over {-16, -8, 0, 8, 16} plus N(0, 1): variance 128 + 1.
    expect(Math.abs(mean[0])).toBeLessThan(5 * Math.sqrt(129 / 20000));
    expect(Math.abs(covariance[0] / 129 - 1)).toBeLessThan(0.03);
    expect(Math.abs(covariance[1] / 129)).toBeLessThan(0.03);
  });
});

describe("exact denoiser", () => {
  const mixture = createGridMixture(4, { weights: "random", rng: createRng(2) });
  const x = Float64Array.from([3.1, -7.4, 0.2, 12.5]);

  it("satisfies Tweedie's formula alpha E[x0 | x_t] = x_t + sigma^2 grad log p_t", () => {
    for (const [alpha, sigma] of [
      [0.95, 0.3],
      [0.4, 0.9],
      [0.05, 1],
    ]) {
      const h = 1e-5;
      const score = Array.from(x, (_, i) => {
        const plus = Float64Array.from(x);
        const minus = Float64Array.from(x);
        plus[i] += h;
        minus[i] -= h;
        return (
          (logDensity(mixture, plus, alpha, sigma) - logDensity(mixture, minus, alpha, sigma)) /
          (2 * h)
        );
      });
      const expected = Array.from(x, (v, i) => (v + sigma * sigma * score[i]) / alpha);
      expect(maxAbsDiff(mixtureDenoise(mixture, x, alpha, sigma), expected)).toBeLessThan(1e-6);
    }
  });

  it("gives x0Hat and epsHat that rebuild x_t", () => {
    const noise = { alpha: 0.6, sigma: 0.8 };
    const x0Hat = mixtureOutput(mixture, x, noise, { x0Weight: 1, epsWeight: 0 }).output;
    const epsHat = mixtureOutput(mixture, x, noise, { x0Weight: 0, epsWeight: 1 }).output;
    const rebuilt = Array.from(x0Hat, (v, i) => noise.alpha * v + noise.sigma * epsHat[i]);
    expect(maxAbsDiff(rebuilt, x)).toBeLessThan(1e-12);
  });

  it("VJP equals a central difference of the output and is symmetric", () => {
    const noise = { alpha: 0.7, sigma: 0.714 };
    const g = Float64Array.from([0.3, -1.2, 0.8, 0.05]);
    for (const combination of [
      { x0Weight: 1, epsWeight: 0 },
      { x0Weight: 0, epsWeight: 1 },
      { x0Weight: -noise.sigma, epsWeight: noise.alpha },
    ]) {
      const { vjp } = mixtureOutput(mixture, x, noise, combination, g);
      const h = 1e-6;
      const plus = x.map((v, i) => v + h * g[i]);
      const minus = x.map((v, i) => v - h * g[i]);
      const outPlus = mixtureOutput(mixture, plus, noise, combination).output;
      const outMinus = mixtureOutput(mixture, minus, noise, combination).output;
      const jvp = outPlus.map((v, i) => (v - outMinus[i]) / (2 * h));
      expect(maxAbsDiff(vjp!, jvp)).toBeLessThan(1e-7);
    }
  });
});

describe("exact posterior", () => {
  const problem = createGmmProblem({ dim: 8, dy: 2, sigmaY: 1, seed: 3 });

  it("builds A with the drawn singular values and orthonormal row space", () => {
    const svd = thinSvd(problem.a);
    expect(maxAbsDiff(svd.s, problem.singularValues)).toBeLessThan(1e-14);
    expect(problem.singularValues[0]).toBeGreaterThanOrEqual(problem.singularValues[1]);
    expect(problem.singularValues[0]).toBeLessThan(1);
  });

  it("is seeded per problem", () => {
    const again = createGmmProblem({ dim: 8, dy: 2, sigmaY: 1, seed: 3 });
    const other = createGmmProblem({ dim: 8, dy: 2, sigmaY: 1, seed: 4 });
    expect(Array.from(again.y)).toEqual(Array.from(problem.y));
    expect(Array.from(other.y)).not.toEqual(Array.from(problem.y));
  });

  it("matches the Kalman-gain form of the same posterior", () => {
    // Independent route: gain K = A^T (A A^T + sigmaY^2 I)^-1, Sigma = I - K A,
    // m_k = mu_k + K (y - A mu_k), weights proportional to w_k N(y; A mu_k, A A^T + sigmaY^2 I).
    const { a, y, mixture, posterior } = problem;
    const marginal = matmul(a, transpose(a));
    marginal.data[0] += 1;
    marginal.data[3] += 1;
    const marginalInverse = inverseSpd(marginal);
    const gain = matmul(transpose(a), marginalInverse);
    const covariance = matmul(gain, a).data.map((v, i) => identity(8).data[i] - v);
    expect(maxAbsDiff(posterior.covariance.data, covariance)).toBeLessThan(1e-13);
    const logWeights: number[] = [];
    for (let k = 0; k < 25; k++) {
      const mu = mixture.means.subarray(k * 8, (k + 1) * 8);
      const residual = matvec(a, mu).map((v, i) => y[i] - v);
      const mean = matvecTransposed(transpose(gain), residual).map((v, i) => v + mu[i]);
      expect(maxAbsDiff(posterior.means.subarray(k * 8, (k + 1) * 8), mean)).toBeLessThan(1e-12);
      const solved = matvec(marginalInverse, residual);
      logWeights.push(
        mixture.logWeights[k] - 0.5 * (residual[0] * solved[0] + residual[1] * solved[1]),
      );
    }
    const max = Math.max(...logWeights);
    const total = logWeights.reduce((sum, v) => sum + Math.exp(v - max), 0);
    expect(
      maxAbsDiff(
        posterior.weights,
        logWeights.map((v) => Math.exp(v - max) / total),
      ),
    ).toBeLessThan(1e-14);
  });

  it("sampler matches the closed-form mean and covariance (1e4 samples)", () => {
    const count = 10000;
    const samples = samplePosterior(problem.posterior, count, createRng(5));
    const empirical = empiricalMoments(samples, 8);
    const exact = posteriorMoments(problem.posterior);
    for (let i = 0; i < 8; i++) {
      const variance = exact.covariance.data[i * 8 + i];
      // The mean of 1e4 samples lies within 4.5 standard errors with probability > 1 - 1e-5.
      expect(Math.abs(empirical.mean[i] - exact.mean[i])).toBeLessThan(
        4.5 * Math.sqrt(variance / count),
      );
      for (let j = 0; j < 8; j++) {
        const scale = Math.sqrt(variance * exact.covariance.data[j * 8 + j]);
        expect(
          Math.abs(empirical.covariance[i * 8 + j] - exact.covariance.data[i * 8 + j]) / scale,
        ).toBeLessThan(0.06);
      }
    }
  });

  it("sampler draws the shared covariance Sigma of one component", () => {
    // One component and sigmaY = 0.05 make Sigma strongly anisotropic (variances near
    // 0.0025 in the row space of A, 1 elsewhere), so a wrong square root of Sigma shows.
    const single = createMixture(matrix(1, 8, [1, -2, 3, 0, 0.5, 1, -1, 2]), [1]);
    const posterior = mixturePosterior(single, problem.a, problem.y, 0.05);
    const count = 10000;
    const empirical = empiricalMoments(samplePosterior(posterior, count, createRng(8)), 8);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        const exact = posterior.covariance.data[i * 8 + j];
        const scale = Math.sqrt(
          posterior.covariance.data[i * 8 + i] * posterior.covariance.data[j * 8 + j],
        );
        // Standard error of a Gaussian sample covariance entry is at most scale * sqrt(2 / n).
        expect(Math.abs(empirical.covariance[i * 8 + j] - exact) / scale).toBeLessThan(0.06);
      }
    }
  });
});
