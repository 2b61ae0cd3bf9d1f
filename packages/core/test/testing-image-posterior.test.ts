import { describe, expect, it } from "vitest";
import { mixtureMoments, sampleMixture } from "../src/priors/gmm.js";
import { createRng } from "../src/rng.js";
import {
  consistencyRatio,
  createGridMixture,
  createImagePosteriorProblem,
  denseOperatorMatrix,
  MatrixOperator,
  matrix,
  mixtureMean,
  psnrOnSymmetricRange,
  scoreImagePosteriorSamples,
} from "../src/testing/index.js";

// A 3 x 4 operator whose third row is zero, as the masked rows of an inpainting operator.
const A = [1, 0.5, 0, 0, 0, 0, 2, -1, 0, 0, 0, 0];
const operator = new MatrixOperator(matrix(3, 4, A));

function problem() {
  const prior = createGridMixture(4);
  return createImagePosteriorProblem({
    prior,
    x0: [8, -8, 0, 16],
    shape: operator.inputShape,
    operator,
    sigmaY: 0.5,
    seed: 3,
  });
}

describe("image posterior harness", () => {
  it("dense matrix reproduces the operator", () => {
    const { a, rows } = denseOperatorMatrix(operator, operator.inputShape);
    expect(rows).toBe(3);
    expect(Array.from(a)).toEqual(A);
  });

  it("counts only non-zero rows as measured", () => {
    expect(Array.from(problem().measuredRows)).toEqual([0, 1]);
  });

  it("mixture mean matches the moments", () => {
    const { posterior } = problem();
    const expected = mixtureMoments(posterior).mean;
    const mean = mixtureMean(posterior);
    for (let i = 0; i < 4; i++) expect(mean[i]).toBeCloseTo(expected[i], 12);
  });

  it("PSNR on [-1, 1] uses peak-to-peak 2", () => {
    // MSE 0.04 on [-1, 1] is MSE 0.01 on [0, 1]: 20 dB.
    const psnr = psnrOnSymmetricRange(Float64Array.of(0.2, -0.2), Float64Array.of(0, 0));
    expect(psnr).toBeCloseTo(20, 10);
  });

  it("consistency of the clean image is the noise norm", () => {
    const p = problem();
    const noise = createRng(3).split("image-posterior").split("measurement-noise").normal64(3);
    const expected = Math.sqrt(noise[0] ** 2 + noise[1] ** 2) / Math.sqrt(2);
    expect(consistencyRatio(p, p.x0)).toBeCloseTo(expected, 10);
  });

  it("exact samples score about 1, prior samples far higher", () => {
    const p = problem();
    const exact = sampleMixture(p.posterior, 1000, createRng(9)).samples;
    const prior = sampleMixture(p.prior, 1000, createRng(9)).samples;
    const exactScore = scoreImagePosteriorSamples(p, exact);
    const priorScore = scoreImagePosteriorSamples(p, prior);
    expect(exactScore.ratio).toBeGreaterThan(0.6);
    expect(exactScore.ratio).toBeLessThan(1.5);
    expect(exactScore.consistency).toBeLessThan(1.2);
    expect(priorScore.ratio).toBeGreaterThan(5);
  });
});
