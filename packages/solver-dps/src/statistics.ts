import { Tensor } from "@tweedie/core";

/**
 * Per-pixel mean and population standard deviation (divisor S) over the samples of a
 * batch [S, ...], accumulated in float64. Outputs have batch 1.
 */
export function sampleStatistics(x: Tensor): { mean: Tensor; std: Tensor } {
  const count = x.batch;
  const size = x.size / count;
  const mean = new Float64Array(size);
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < size; i++) mean[i] += x.data[s * size + i] / count;
  }
  // Two passes: the squared deviations avoid the cancellation of E[x^2] - E[x]^2.
  const variance = new Float64Array(size);
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < size; i++) variance[i] += (x.data[s * size + i] - mean[i]) ** 2 / count;
  }
  const shape = [1, ...x.shape.slice(1)];
  return {
    mean: new Tensor(Float32Array.from(mean), shape),
    std: new Tensor(Float32Array.from(variance, Math.sqrt), shape),
  };
}
