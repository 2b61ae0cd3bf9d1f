import { describe, expect, it } from "vitest";
import {
  eigenMixture,
  type GaussianMixture,
  linearPosterior,
  mixtureDenoiseJvp,
  mixtureMoments,
  sampleMixture,
} from "../src/priors/gmm.js";
import { matmul, matvec } from "../src/priors/gmm-linalg.js";
import { createRng } from "../src/rng.js";
import {
  createGmmProblem,
  createGridMixture,
  IdentityCovarianceDenoiser,
  thinSvd,
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
      for (let j = 0; j < dim; j++) {
        covariance[i * dim + j] += (di * (samples[n * dim + j] - mean[j])) / (count - 1);
      }
    }
  }
  return { mean, covariance };
}

/** log p_t(x) = log sum_k w_k N(x; alpha mu_k, (alpha^2 + sigma^2) I), in float64. */
function logDensity(mixture: GaussianMixture, x: ArrayLike<number>, alpha: number, sigma: number) {
  const v = alpha * alpha + sigma * sigma;
  const d = mixture.dim;
  const terms = Array.from(mixture.weights, (w, k) => {
    let dist = 0;
    for (let i = 0; i < d; i++) dist += (x[i] - alpha * mixture.means[k * d + i]) ** 2;
    return Math.log(w) - dist / (2 * v) - (d / 2) * Math.log(2 * Math.PI * v);
  });
  const max = Math.max(...terms);
  return max + Math.log(terms.reduce((sum, t) => sum + Math.exp(t - max), 0));
}

/** 2 x 2 inverse of a symmetric matrix [a, b; b, c]. */
function inverse2(m: Float64Array): Float64Array {
  const det = m[0] * m[3] - m[1] * m[2];
  return Float64Array.from([m[3] / det, -m[1] / det, -m[2] / det, m[0] / det]);
}

describe("grid mixture", () => {
  it("has 25 means 8 (i, j) tiled over the dimension", () => {
    const mixture = createGridMixture(6);
    expect(mixture.weights).toHaveLength(25);
    // Component 0 is (i, j) = (-2, -2); component 7 is (-1, 0).
    expect(Array.from(mixture.means.subarray(0, 6))).toEqual([-16, -16, -16, -16, -16, -16]);
    expect(Array.from(mixture.means.subarray(42, 48))).toEqual([-8, 0, -8, 0, -8, 0]);
    expect(mixture.weights.every((w) => Math.abs(w - 0.04) < 1e-15)).toBe(true);
    expect(mixture.covariances[7 * 36 + 7]).toBe(1);
    expect(mixture.covariances[7 * 36 + 8]).toBe(0);
  });

  it("random weights are g^2 / sum g^2", () => {
    const mixture = createGridMixture(2, { weights: "random", rng: createRng(9) });
    const g = createRng(9).normal64(25);
    const total = g.reduce((sum, v) => sum + v * v, 0);
    const expected = Array.from(g, (v) => (v * v) / total);
    expect(maxAbsDiff(mixture.weights, expected)).toBeLessThan(1e-15);
  });

  it("rejects an odd dimension", () => {
    expect(() => createGridMixture(7)).toThrow(/even integer/);
  });
});

describe("IdentityCovarianceDenoiser", () => {
  const mixture = createGridMixture(4, { weights: "random", rng: createRng(2) });
  const denoiser = new IdentityCovarianceDenoiser(mixture);
  const x = Float64Array.from([3.1, -7.4, 0.2, 12.5]);

  it("satisfies Tweedie's formula alpha x0Hat = x_t + sigma^2 score", () => {
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
        const difference =
          logDensity(mixture, plus, alpha, sigma) - logDensity(mixture, minus, alpha, sigma);
        return difference / (2 * h);
      });
      const expected = Array.from(x, (v, i) => (v + sigma * sigma * score[i]) / alpha);
      expect(maxAbsDiff(denoiser.denoise(x, alpha, sigma), expected)).toBeLessThan(1e-6);
    }
  });

  it("matches the full-covariance denoiser and its JVP", () => {
    const points = createRng(4)
      .normal64(3 * 4)
      .map((v) => 9 * v);
    const g = createRng(5).normal64(3 * 4);
    const general = mixtureDenoiseJvp(eigenMixture(mixture), points, 0.6, 0.8, g);
    const fast = denoiser.output(
      points,
      { alpha: 0.6, sigma: 0.8 },
      { x0Weight: 1, epsWeight: 0 },
      g,
    );
    expect(maxAbsDiff(fast.output, general.x0Hat)).toBeLessThan(1e-12);
    expect(maxAbsDiff(fast.vjp!, general.jvp)).toBeLessThan(1e-12);
  });

  it("gives x0Hat and epsHat that rebuild x_t", () => {
    const noise = { alpha: 0.6, sigma: 0.8 };
    const x0Hat = denoiser.output(x, noise, { x0Weight: 1, epsWeight: 0 }).output;
    const epsHat = denoiser.output(x, noise, { x0Weight: 0, epsWeight: 1 }).output;
    const rebuilt = Array.from(x0Hat, (v, i) => noise.alpha * v + noise.sigma * epsHat[i]);
    expect(maxAbsDiff(rebuilt, x)).toBeLessThan(1e-12);
  });

  it("VJP equals a central difference of each output", () => {
    const noise = { alpha: 0.7, sigma: 0.714 };
    const g = Float64Array.from([0.3, -1.2, 0.8, 0.05]);
    for (const combination of [
      { x0Weight: 1, epsWeight: 0 },
      { x0Weight: 0, epsWeight: 1 },
      { x0Weight: -noise.sigma, epsWeight: noise.alpha },
    ]) {
      const { vjp } = denoiser.output(x, noise, combination, g);
      const h = 1e-6;
      const plus = denoiser.output(
        x.map((v, i) => v + h * g[i]),
        noise,
        combination,
      ).output;
      const minus = denoiser.output(
        x.map((v, i) => v - h * g[i]),
        noise,
        combination,
      ).output;
      const jvp = plus.map((v, i) => (v - minus[i]) / (2 * h));
      expect(maxAbsDiff(vjp!, jvp)).toBeLessThan(1e-7);
    }
  });

  it("rejects a mixture without identity covariances", () => {
    const scaled = { ...mixture, covariances: mixture.covariances.map((v) => 2 * v) };
    expect(() => new IdentityCovarianceDenoiser(scaled)).toThrow(/identity covariances/);
  });
});

describe("benchmark problem", () => {
  const problem = createGmmProblem({ dim: 8, dy: 2, sigmaY: 1, seed: 3 });

  it("builds A with the drawn singular values", () => {
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

  it("posterior matches the closed form Sigma = (I + A^T A / sigmaY^2)^-1", () => {
    // Independent route through the Kalman gain K = A^T (A A^T + sigmaY^2 I)^-1:
    // Sigma = I - K A, m_k = mu_k + K (y - A mu_k),
    // log wTilde_k = log w_k - 1/2 r_k^T (A A^T + sigmaY^2 I)^-1 r_k with r_k = y - A mu_k.
    const { a, y, mixture, posterior } = problem;
    const at = new Float64Array(16);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 8; j++) at[j * 2 + i] = a.data[i * 8 + j];
    const marginal = matmul(a.data, at, 2, 8, 2);
    marginal[0] += 1;
    marginal[3] += 1;
    const marginalInverse = inverse2(marginal);
    const gain = matmul(at, marginalInverse, 8, 2, 2);
    const gainA = matmul(gain, a.data, 8, 2, 8);
    const covariance = gainA.map((v, i) => (i % 9 === 0 ? 1 : 0) - v);
    const logWeights: number[] = [];
    for (let k = 0; k < 25; k++) {
      const sharedCovariance = posterior.covariances.subarray(k * 64, (k + 1) * 64);
      expect(maxAbsDiff(sharedCovariance, covariance)).toBeLessThan(1e-13);
      const mu = mixture.means.subarray(k * 8, (k + 1) * 8);
      const residual = matvec(a.data, mu, 2, 8).map((v, i) => y[i] - v);
      const mean = matvec(gain, residual, 8, 2).map((v, i) => v + mu[i]);
      expect(maxAbsDiff(posterior.means.subarray(k * 8, (k + 1) * 8), mean)).toBeLessThan(1e-12);
      const solved = matvec(marginalInverse, residual, 2, 2);
      const quadratic = residual[0] * solved[0] + residual[1] * solved[1];
      logWeights.push(Math.log(mixture.weights[k]) - 0.5 * quadratic);
    }
    const max = Math.max(...logWeights);
    const total = logWeights.reduce((sum, v) => sum + Math.exp(v - max), 0);
    const weights = logWeights.map((v) => Math.exp(v - max) / total);
    expect(maxAbsDiff(posterior.weights, weights)).toBeLessThan(1e-14);
  });

  it("posterior sampler matches the closed-form moments (1e4 samples)", () => {
    const count = 10000;
    const samples = sampleMixture(problem.posterior, count, createRng(5)).samples;
    const empirical = empiricalMoments(samples, 8);
    const exact = mixtureMoments(problem.posterior);
    for (let i = 0; i < 8; i++) {
      const variance = exact.covariance[i * 8 + i];
      // The mean of 1e4 samples lies within 4.5 standard errors with probability > 1 - 1e-5.
      const standardError = Math.sqrt(variance / count);
      expect(Math.abs(empirical.mean[i] - exact.mean[i])).toBeLessThan(4.5 * standardError);
      for (let j = 0; j < 8; j++) {
        const scale = Math.sqrt(variance * exact.covariance[j * 8 + j]);
        const error = Math.abs(empirical.covariance[i * 8 + j] - exact.covariance[i * 8 + j]);
        expect(error / scale).toBeLessThan(0.06);
      }
    }
  });

  it("posterior sampler draws the shared covariance of one component", () => {
    // One component and sigmaY = 0.05 make Sigma strongly anisotropic (variances near
    // 0.0025 in the row space of A, 1 elsewhere), so a wrong square root of Sigma shows.
    const single: GaussianMixture = {
      dim: 8,
      weights: Float64Array.from([1]),
      means: Float64Array.from([1, -2, 3, 0, 0.5, 1, -1, 2]),
      covariances: createGridMixture(8).covariances.subarray(0, 64),
    };
    const posterior = linearPosterior(single, problem.a.data, 2, problem.y, 0.05);
    const count = 10000;
    const samples = sampleMixture(posterior, count, createRng(8)).samples;
    const empirical = empiricalMoments(samples, 8);
    const sigma = posterior.covariances;
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        const scale = Math.sqrt(sigma[i * 8 + i] * sigma[j * 8 + j]);
        // A Gaussian sample covariance entry has standard error at most scale * sqrt(2 / n).
        const error = Math.abs(empirical.covariance[i * 8 + j] - sigma[i * 8 + j]);
        expect(error / scale).toBeLessThan(0.06);
      }
    }
  });
});
