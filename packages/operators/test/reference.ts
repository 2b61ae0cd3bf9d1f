import { readFileSync } from "node:fs";
import { Tensor } from "@tweedie/core";

/** Reads a JSON fixture from test/fixtures. */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}

/** Builds the reference scripts' test image x[c, i, j] = sin(0.7 i + 1.3 j + c). */
export function sineImage(shape: readonly number[]): Tensor {
  const [channels, height, width] = shape;
  const data = new Float32Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++)
        data[(c * height + i) * width + j] = Math.sin(0.7 * i + 1.3 * j + c);
    }
  }
  return new Tensor(data, shape);
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
