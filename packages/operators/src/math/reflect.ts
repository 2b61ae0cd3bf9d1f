/**
 * Index of position `i` (any integer) in a length-`n` signal extended by reflection about
 * the edge samples, PyTorch's "reflect" padding (the edge sample is not repeated):
 * -1 -> 1, -2 -> 2, n -> n - 2. Offsets beyond one signal length keep reflecting.
 */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = i % period;
  if (j < 0) j += period;
  return j < n ? j : period - j;
}

/**
 * Index of position `i` in a length-`n` signal extended by half-sample symmetric
 * reflection (MATLAB imresize, scipy "reflect"): -1 -> 0, -2 -> 1, n -> n - 1.
 */
export function symmetricIndex(i: number, n: number): number {
  const period = 2 * n;
  let j = i % period;
  if (j < 0) j += period;
  return j < n ? j : period - 1 - j;
}
