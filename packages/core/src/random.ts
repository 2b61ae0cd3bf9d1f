import { TweedieError } from "./errors.js";
import type { Rng } from "./rng.js";

/**
 * Samplers built on `Rng`. Every sampler is a pure function of (stream, arguments): the
 * same call returns the same values in any thread or process.
 *
 * Fixed-draw samplers (`categorical`, `randint`, `triangular`, `sampleWithoutReplacement`,
 * `permutation`) give item i from uniform i of the stream, so item i does not depend on
 * the other items. Rejection samplers (`gamma`, `beta`, `poisson`) consume a variable
 * number of draws per item, read in order from the stream, so item i depends on the draws
 * taken by items 0..i-1. The stream itself is a pure function of the draw index, so the
 * output is still deterministic. A call for n items returns the prefix of a call for more.
 */

/** Reads uniforms and normals of one stream in order, generating them in chunks. */
export class RandomCursor {
  private uniforms: Float64Array = new Float64Array(0);
  private normals: Float64Array = new Float64Array(0);
  private uniformStart = 0;
  private normalStart = 0;
  private uniformNext = 0;
  private normalNext = 0;

  constructor(
    readonly rng: Rng,
    private readonly chunk = 4096,
  ) {}

  /** Number of uniforms consumed so far. */
  get uniformsUsed(): number {
    return this.uniformNext;
  }

  /** Number of normals consumed so far. */
  get normalsUsed(): number {
    return this.normalNext;
  }

  /** Returns the next uniform on [0, 1) (53 random bits). */
  uniform(): number {
    let index = this.uniformNext - this.uniformStart;
    if (index >= this.uniforms.length) {
      this.uniformStart = this.uniformNext;
      this.uniforms = this.rng.uniform64(this.chunk, this.uniformStart);
      index = 0;
    }
    this.uniformNext++;
    return this.uniforms[index];
  }

  /** Returns the next uniform on (0, 1] as 1 - uniform(), so its logarithm is finite. */
  uniformPositive(): number {
    return 1 - this.uniform();
  }

  /** Returns the next standard normal. */
  normal(): number {
    let index = this.normalNext - this.normalStart;
    if (index >= this.normals.length) {
      this.normalStart = this.normalNext;
      this.normals = this.rng.normal64(this.chunk, this.normalStart);
      index = 0;
    }
    this.normalNext++;
    return this.normals[index];
  }
}

function invalid(field: string, expected: string, received: unknown): TweedieError {
  return new TweedieError(`invalid ${field}`, {
    code: "invalid_value",
    path: [field],
    expected,
    received,
  });
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw invalid("count", "a non-negative integer", count);
  }
}

function checkPositive(field: string, value: number): void {
  if (!(value > 0 && Number.isFinite(value))) throw invalid(field, "a finite number > 0", value);
}

/**
 * Draws `count` indices with probability proportional to `weights` (non-negative, finite,
 * positive sum) by inverting the cumulative sum with uniform i.
 */
export function categorical(rng: Rng, weights: ArrayLike<number>, count: number): Int32Array {
  checkCount(count);
  const cumulative = new Float64Array(weights.length);
  let total = 0;
  for (let k = 0; k < weights.length; k++) {
    const weight = weights[k];
    if (!(weight >= 0 && Number.isFinite(weight))) {
      throw invalid(`weights[${k}]`, "a finite number >= 0", weight);
    }
    total += weight;
    cumulative[k] = total;
  }
  if (!(total > 0)) throw invalid("weights", "at least one positive weight", Array.from(weights));

  const uniforms = rng.uniform64(count);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    // The first k with cumulative[k] > u total; zero-weight categories are never chosen.
    const target = uniforms[i] * total;
    let low = 0;
    let high = weights.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (cumulative[mid] > target) high = mid;
      else low = mid + 1;
    }
    out[i] = low;
  }
  return out;
}

/**
 * Draws `count` integers uniform on [low, highExclusive) as low + floor(u_i n). The bias
 * against an exact uniform draw is below n 2^-53 per value.
 */
export function randint(rng: Rng, low: number, highExclusive: number, count: number): Int32Array {
  checkCount(count);
  const isInt32 = (value: number) => Number.isInteger(value) && Math.abs(value) <= 2 ** 31;
  if (!isInt32(low) || !isInt32(highExclusive) || highExclusive <= low) {
    throw invalid("range", "integers low < highExclusive within int32", { low, highExclusive });
  }
  const span = highExclusive - low;
  const uniforms = rng.uniform64(count);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = low + Math.floor(uniforms[i] * span);
  return out;
}

/**
 * Draws k distinct indices from [0, n) in random order by the first k steps of a forward
 * Fisher-Yates shuffle: step i swaps position i with i + floor(u_i (n - i)). Memory is
 * O(k), so k much smaller than n is cheap. The result is the prefix of `permutation(n)`.
 */
export function sampleWithoutReplacement(rng: Rng, n: number, k: number): Int32Array {
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) {
    throw invalid("n", "an integer in [0, 2^31 - 1]", n);
  }
  if (!Number.isInteger(k) || k < 0 || k > n) throw invalid("k", `an integer in [0, ${n}]`, k);
  const uniforms = rng.uniform64(k);
  // Values at positions moved by a swap. Every other position p still contains p.
  const moved = new Map<number, number>();
  const out = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(uniforms[i] * (n - i));
    const atJ = moved.get(j) ?? j;
    const atI = moved.get(i) ?? i;
    out[i] = atJ;
    moved.set(j, atI);
    moved.delete(i);
  }
  return out;
}

/** Draws a uniformly random permutation of 0..n-1 (Fisher-Yates on uniforms 0..n-1). */
export function permutation(rng: Rng, n: number): Int32Array {
  return sampleWithoutReplacement(rng, n, n);
}

/**
 * Draws `count` values from the triangular distribution on [left, right] with peak at
 * `mode`, by inverting its CDF with uniform i.
 */
export function triangular(
  rng: Rng,
  left: number,
  mode: number,
  right: number,
  count: number,
): Float64Array {
  checkCount(count);
  if (!(left <= mode && mode <= right && left < right && Number.isFinite(right - left))) {
    throw invalid("triangular", "finite left <= mode <= right with left < right", {
      left,
      mode,
      right,
    });
  }
  const width = right - left;
  const split = (mode - left) / width;
  const uniforms = rng.uniform64(count);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const u = uniforms[i];
    out[i] =
      u < split
        ? left + Math.sqrt(u * width * (mode - left))
        : right - Math.sqrt((1 - u) * width * (right - mode));
  }
  return out;
}

/** Draws one Gamma(shape, 1) value by Marsaglia and Tsang (ACM TOMS 26(3), 2000), shape >= 1. */
function gammaAtLeastOne(cursor: RandomCursor, shape: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = cursor.normal();
    const root = 1 + c * x;
    if (root <= 0) continue;
    const v = root * root * root;
    const u = cursor.uniformPositive();
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2) return d * v;
    if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
  }
}

function gammaDraw(cursor: RandomCursor, shape: number): number {
  if (shape >= 1) return gammaAtLeastOne(cursor, shape);
  // Gamma(a) = Gamma(a + 1) U^(1/a) for a < 1 (Marsaglia and Tsang, section 6).
  const boosted = gammaAtLeastOne(cursor, shape + 1);
  return boosted * cursor.uniformPositive() ** (1 / shape);
}

/**
 * Draws `count` values from Gamma(shape, scale) (mean shape scale) by Marsaglia and Tsang's
 * method, reading normals and uniforms of `rng` in order.
 */
export function gamma(rng: Rng, shape: number, count: number, scale = 1): Float64Array {
  checkCount(count);
  checkPositive("shape", shape);
  checkPositive("scale", scale);
  const cursor = new RandomCursor(rng);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = scale * gammaDraw(cursor, shape);
  return out;
}

/**
 * Draws `count` values from Beta(a, b) as X / (X + Y) with X ~ Gamma(a) from
 * `rng.split("a")` and Y ~ Gamma(b) from `rng.split("b")`.
 */
export function beta(rng: Rng, a: number, b: number, count: number): Float64Array {
  checkCount(count);
  checkPositive("a", a);
  checkPositive("b", b);
  const x = gamma(rng.split("a"), a, count);
  const y = gamma(rng.split("b"), b, count);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = x[i] / (x[i] + y[i]);
  return out;
}

/** log k! for k = 0..255 as running sums of log k. */
const LOG_FACTORIALS = (() => {
  const table = new Float64Array(256);
  for (let k = 1; k < 256; k++) table[k] = table[k - 1] + Math.log(k);
  return table;
})();

/** Computes log k! for an integer k >= 0 (Stirling series with three terms above 255). */
export function logFactorial(k: number): number {
  if (k < 256) return LOG_FACTORIALS[k];
  const inverse = 1 / k;
  const inverse2 = inverse * inverse;
  const series = inverse * (1 / 12 - inverse2 * (1 / 360 - inverse2 / 1260));
  return k * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI * k) + series;
}

/** Rates at or above this use PTRS; below it the multiplication method is exact and fast. */
const PTRS_MIN_RATE = 10;

/** Knuth's multiplication method: the number of uniforms whose product stays above e^-rate. */
function poissonSmall(cursor: RandomCursor, rate: number): number {
  const limit = Math.exp(-rate);
  let k = 0;
  let product = cursor.uniformPositive();
  while (product > limit) {
    k++;
    product *= cursor.uniformPositive();
  }
  return k;
}

/**
 * Hormann's transformed rejection with squeeze (PTRS), "The transformed rejection method
 * for generating Poisson random variables", Insurance: Mathematics and Economics 12, 1993.
 * It is exact: every draw is accepted against the Poisson probability itself.
 */
function poissonPtrs(cursor: RandomCursor, rate: number): number {
  const sqrtRate = Math.sqrt(rate);
  const logRate = Math.log(rate);
  const b = 0.931 + 2.53 * sqrtRate;
  const a = -0.059 + 0.02483 * b;
  const inverseAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = cursor.uniform() - 0.5;
    const v = cursor.uniformPositive();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + rate + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    const logAccept = Math.log(v) + Math.log(inverseAlpha) - Math.log(a / (us * us) + b);
    if (logAccept <= -rate + k * logRate - logFactorial(k)) return k;
  }
}

/**
 * Draws Poisson counts. `rate` is one rate for `count` draws, or one rate per item (then
 * `count` defaults to its length). Rates below 10 use the multiplication method and
 * larger ones PTRS; both are exact. Draws are read in order from `rng`.
 */
export function poisson(rng: Rng, rate: number | ArrayLike<number>, count?: number): Float64Array {
  const rates = typeof rate === "number" ? null : rate;
  const n = count ?? (rates ? rates.length : 1);
  checkCount(n);
  if (rates && rates.length !== n) {
    throw new TweedieError("rates and count differ in length", {
      code: "shape_mismatch",
      path: ["count"],
      expected: rates.length,
      received: n,
    });
  }
  const cursor = new RandomCursor(rng);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lambda = rates ? rates[i] : (rate as number);
    if (!(lambda >= 0 && Number.isFinite(lambda))) {
      throw invalid(rates ? `rate[${i}]` : "rate", "a finite number >= 0", lambda);
    }
    if (lambda === 0) out[i] = 0;
    else
      out[i] = lambda < PTRS_MIN_RATE ? poissonSmall(cursor, lambda) : poissonPtrs(cursor, lambda);
  }
  return out;
}
