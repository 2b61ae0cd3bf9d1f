import { describe, expect, it } from "vitest";
import { TweedieError } from "../src/errors.js";
import { type GaussianMixture, sampleMixture } from "../src/priors/gmm.js";
import { fitGaussianMixture, kmeansPlusPlus } from "../src/priors/gmm-fit.js";
import { createRng } from "../src/rng.js";

const truth: GaussianMixture = {
  dim: 2,
  weights: Float64Array.from([0.5, 0.3, 0.2]),
  means: Float64Array.from([-3, 0, 2, 2, 2, -3]),
  covariances: Float64Array.from([0.5, 0.2, 0.2, 0.4, 0.3, -0.1, -0.1, 0.2, 0.2, 0, 0, 0.6]),
};

/** Component of `fit` nearest to the true component k, by mean. */
function match(fit: GaussianMixture, k: number): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let c = 0; c < fit.weights.length; c++) {
    const d =
      (fit.means[c * 2] - truth.means[k * 2]) ** 2 +
      (fit.means[c * 2 + 1] - truth.means[k * 2 + 1]) ** 2;
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

describe("fitGaussianMixture", () => {
  const data = sampleMixture(truth, 6000, createRng(101)).samples;

  it("recovers a well-separated 2-D mixture", () => {
    const fit = fitGaussianMixture(data, 2, {
      components: 3,
      rng: createRng(5),
      covarianceFloor: 1e-6,
    });
    expect(fit.converged).toBe(true);
    const used = new Set<number>();
    for (let k = 0; k < 3; k++) {
      const c = match(fit.mixture, k);
      used.add(c);
      // Standard errors with 6000 points: weights about 0.006, means about 0.02.
      expect(Math.abs(fit.mixture.weights[c] - truth.weights[k])).toBeLessThan(0.03);
      for (let i = 0; i < 2; i++) {
        expect(Math.abs(fit.mixture.means[c * 2 + i] - truth.means[k * 2 + i])).toBeLessThan(0.1);
      }
      for (let i = 0; i < 4; i++) {
        expect(
          Math.abs(fit.mixture.covariances[c * 4 + i] - truth.covariances[k * 4 + i]),
        ).toBeLessThan(0.08);
      }
    }
    expect(used.size).toBe(3);
  });

  it("is a pure function of data and seed", () => {
    const options = { components: 3, covarianceFloor: 1e-4, maxIterations: 10 };
    const a = fitGaussianMixture(data, 2, { ...options, rng: createRng(9) });
    const b = fitGaussianMixture(data, 2, { ...options, rng: createRng(9) });
    expect(b.mixture.means).toEqual(a.mixture.means);
    expect(b.mixture.covariances).toEqual(a.mixture.covariances);
    expect(b.logLikelihood).toBe(a.logLikelihood);
  });

  it("never lowers the training log-likelihood", () => {
    let previous = Number.NEGATIVE_INFINITY;
    for (const maxIterations of [0, 1, 2, 4, 8, 16]) {
      const fit = fitGaussianMixture(data, 2, {
        components: 4,
        rng: createRng(3),
        covarianceFloor: 1e-4,
        maxIterations,
        tolerance: 0,
      });
      expect(fit.iterations).toBe(maxIterations);
      expect(fit.logLikelihood).toBeGreaterThanOrEqual(previous - 1e-12);
      previous = fit.logLikelihood;
    }
  });

  it("fits one component as sample mean and covariance plus the floor", () => {
    const dim = 3;
    const rng = createRng(11);
    const count = 50;
    const points = rng.normal64(count * dim);
    // Coordinate 2 is constant, so its variance is the floor alone.
    for (let n = 0; n < count; n++) points[n * dim + 2] = -1;
    const floor = 2e-3;
    const fit = fitGaussianMixture(points, dim, { components: 1, rng, covarianceFloor: floor });
    const mean = [0, 0, 0];
    for (let n = 0; n < count; n++)
      for (let i = 0; i < dim; i++) mean[i] += points[n * dim + i] / count;
    for (let i = 0; i < dim; i++) {
      expect(fit.mixture.means[i]).toBeCloseTo(mean[i], 14);
      for (let j = 0; j < dim; j++) {
        let cov = 0;
        for (let n = 0; n < count; n++)
          cov += (points[n * dim + i] - mean[i]) * (points[n * dim + j] - mean[j]);
        const expected = cov / count + (i === j ? floor : 0);
        expect(fit.mixture.covariances[i * dim + j]).toBeCloseTo(expected, 14);
      }
    }
    expect(fit.mixture.covariances[8]).toBeCloseTo(floor, 16);
    expect(fit.mixture.weights[0]).toBe(1);
  });

  it("rejects more components than points and a zero floor", () => {
    const points = new Float64Array(6);
    expect(() =>
      fitGaussianMixture(points, 2, { components: 4, rng: createRng(1), covarianceFloor: 1e-3 }),
    ).toThrow(TweedieError);
    expect(() =>
      fitGaussianMixture(points, 2, { components: 1, rng: createRng(1), covarianceFloor: 0 }),
    ).toThrow(/covariance floor/);
  });
});

describe("kmeansPlusPlus", () => {
  it("seeds one center in each of three distant clusters", () => {
    const rng = createRng(21);
    const points: number[] = [];
    for (const center of [-100, 0, 100]) {
      const noise = rng.split("cluster", center).normal64(40);
      for (const v of noise) points.push(center + v, v);
    }
    const data = Float64Array.from(points);
    for (let seed = 0; seed < 10; seed++) {
      const centers = kmeansPlusPlus(data, 2, 3, createRng(seed));
      const clusters = new Set([0, 1, 2].map((c) => Math.round(centers[c * 2] / 100)));
      expect(clusters).toEqual(new Set([-1, 0, 1]));
    }
  });
});
