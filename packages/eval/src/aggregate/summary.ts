import type { Summary } from "../leaderboard/schema.js";
import { studentTQuantile } from "./student-t.js";

/**
 * Mean, sample standard deviation, 95% confidence interval (Student t with n - 1 degrees
 * of freedom), min and max of finite values. Non-finite entries must be filtered out
 * before; an empty list gives n = 0 and nulls.
 */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n, mean: null, std: null, ci95: null, min: null, max: null };
  let sum = 0;
  let min = values[0];
  let max = values[0];
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  if (n === 1) return { n, mean, std: null, ci95: null, min, max };

  let squares = 0;
  for (const v of values) squares += (v - mean) * (v - mean);
  const std = Math.sqrt(squares / (n - 1));
  const halfWidth = (studentTQuantile(0.975, n - 1) * std) / Math.sqrt(n);
  return {
    n,
    mean,
    std,
    ci95: { low: mean - halfWidth, high: mean + halfWidth, halfWidth },
    min,
    max,
  };
}
