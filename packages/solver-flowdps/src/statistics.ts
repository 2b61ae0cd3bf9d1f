import { Tensor } from "@tweedie/core";

/** Per-pixel mean and (population) standard deviation over the batch of samples [S, ...]. */
export function sampleStatistics(x: Tensor): { mean: Tensor; std: Tensor } {
  const count = x.batch;
  const size = x.size / count;
  const mean = new Float64Array(size);
  const squares = new Float64Array(size);
  for (let s = 0; s < count; s++) {
    const offset = s * size;
    for (let i = 0; i < size; i++) {
      const value = x.data[offset + i];
      mean[i] += value;
      squares[i] += value * value;
    }
  }
  const meanOut = new Float32Array(size);
  const stdOut = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const m = mean[i] / count;
    meanOut[i] = m;
    stdOut[i] = Math.sqrt(Math.max(0, squares[i] / count - m * m));
  }
  const shape = [1, ...x.shape.slice(1)];
  return { mean: new Tensor(meanOut, shape), std: new Tensor(stdOut, shape) };
}
