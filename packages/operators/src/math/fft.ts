/**
 * Complex discrete Fourier transforms of any length, in float64. Lengths whose prime
 * factors are all at most MAX_DIRECT_RADIX use a recursive mixed-radix Cooley-Tukey
 * transform (radix-4 and radix-2 butterflies, a direct O(p^2) butterfly for other primes);
 * other lengths use Bluestein's chirp-z algorithm over a power-of-two transform.
 * Transforms are unnormalised: forward computes X_k = sum_j x_j exp(-2 pi i j k / n) and
 * inverse the same sum with exp(+...), so inverse(forward(x)) = n x.
 */
const MAX_DIRECT_RADIX = 31;

export interface FftPlan {
  readonly size: number;
  /** Transforms `re`/`im` in place (length `size`). */
  transform(re: Float64Array, im: Float64Array, inverse: boolean): void;
}

const plans = new Map<number, FftPlan>();

/**
 * Returns the cached plan for length `n`. Plans keep precomputed tables and scratch
 * buffers. A transform runs synchronously to the end, so two calls never share a buffer.
 */
export function fftPlan(n: number): FftPlan {
  let plan = plans.get(n);
  if (plan === undefined) {
    plan = largestPrimeFactor(n) <= MAX_DIRECT_RADIX ? new MixedRadixPlan(n) : new BluesteinPlan(n);
    plans.set(n, plan);
  }
  return plan;
}

/**
 * Picks a transform length >= `min` whose prime factors are 2, 3 and 5. Among the
 * candidates up to the next power of two it takes the lowest estimated cost: the length
 * times the per-sample work of its radix stages.
 */
export function nextFastSize(min: number): number {
  let best = 1;
  let bestCost = Number.POSITIVE_INFINITY;
  let power = 1;
  while (power < min) power *= 2;
  for (let n = Math.max(1, min); n <= power; n++) {
    let m = n;
    let stages = 0;
    for (const [p, work] of [
      [4, 1],
      [2, 1],
      [3, 2],
      [5, 3.5],
    ] as const) {
      while (m % p === 0) {
        m /= p;
        stages += work;
      }
    }
    if (m !== 1) continue;
    const cost = n * Math.max(stages, 1);
    if (cost < bestCost) {
      best = n;
      bestCost = cost;
    }
  }
  return best;
}

function largestPrimeFactor(n: number): number {
  let largest = 1;
  let m = n;
  for (let p = 2; p * p <= m; p++) {
    while (m % p === 0) {
      largest = p;
      m /= p;
    }
  }
  return m > 1 ? Math.max(largest, m) : largest;
}

/** Factors n into radices, fours first, then twos, then odd primes in ascending order. */
function radices(n: number): number[] {
  const out: number[] = [];
  let m = n;
  while (m % 4 === 0) {
    out.push(4);
    m /= 4;
  }
  while (m % 2 === 0) {
    out.push(2);
    m /= 2;
  }
  for (let p = 3; m > 1; p += 2) {
    while (m % p === 0) {
      out.push(p);
      m /= p;
    }
  }
  return out;
}

class MixedRadixPlan implements FftPlan {
  private readonly factors: number[];
  /** cos and sin of -2 pi k / size for k in [0, size). */
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;
  private readonly radixRe: Float64Array;
  private readonly radixIm: Float64Array;

  constructor(readonly size: number) {
    this.factors = radices(size);
    this.radixRe = new Float64Array(Math.max(...this.factors, 1));
    this.radixIm = new Float64Array(Math.max(...this.factors, 1));
    this.cos = new Float64Array(size);
    this.sin = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      const angle = (-2 * Math.PI * k) / size;
      this.cos[k] = Math.cos(angle);
      this.sin[k] = Math.sin(angle);
    }
    this.scratchRe = new Float64Array(size);
    this.scratchIm = new Float64Array(size);
  }

  transform(re: Float64Array, im: Float64Array, inverse: boolean): void {
    if (this.size <= 1) return;
    const inRe = this.scratchRe;
    const inIm = this.scratchIm;
    inRe.set(re.subarray(0, this.size));
    inIm.set(im.subarray(0, this.size));
    // The inverse transform is the conjugate of the forward transform of the conjugate.
    if (inverse) for (let k = 0; k < this.size; k++) inIm[k] = -inIm[k];
    this.recurse(re, im, 0, inRe, inIm, 0, 1, this.size, 0);
    if (inverse) for (let k = 0; k < this.size; k++) im[k] = -im[k];
  }

  /**
   * Writes the length-n DFT of in[inOffset + j * stride] (j < n) to out[outOffset ..].
   * The p sub-transforms of the decimated sequences land in consecutive blocks of m = n / p
   * outputs, then one butterfly per k combines out[k + q m] over q.
   */
  private recurse(
    outRe: Float64Array,
    outIm: Float64Array,
    outOffset: number,
    inRe: Float64Array,
    inIm: Float64Array,
    inOffset: number,
    stride: number,
    n: number,
    depth: number,
  ): void {
    const p = this.factors[depth];
    const m = n / p;
    if (m === 1) {
      for (let q = 0; q < p; q++) {
        outRe[outOffset + q] = inRe[inOffset + q * stride];
        outIm[outOffset + q] = inIm[inOffset + q * stride];
      }
    } else {
      for (let q = 0; q < p; q++) {
        this.recurse(
          outRe,
          outIm,
          outOffset + q * m,
          inRe,
          inIm,
          inOffset + q * stride,
          stride * p,
          m,
          depth + 1,
        );
      }
    }
    const twiddleStride = this.size / n;
    if (p === 2) this.butterfly2(outRe, outIm, outOffset, m, twiddleStride);
    else if (p === 3) this.butterfly3(outRe, outIm, outOffset, m, twiddleStride);
    else if (p === 4) this.butterfly4(outRe, outIm, outOffset, m, twiddleStride);
    else this.butterflyGeneric(outRe, outIm, outOffset, m, p, twiddleStride);
  }

  private butterfly2(re: Float64Array, im: Float64Array, offset: number, m: number, ts: number) {
    for (let k = 0; k < m; k++) {
      const a = offset + k;
      const b = a + m;
      const wr = this.cos[k * ts];
      const wi = this.sin[k * ts];
      const tr = re[b] * wr - im[b] * wi;
      const ti = re[b] * wi + im[b] * wr;
      re[b] = re[a] - tr;
      im[b] = im[a] - ti;
      re[a] += tr;
      im[a] += ti;
    }
  }

  private butterfly3(re: Float64Array, im: Float64Array, offset: number, m: number, ts: number) {
    const { cos, sin } = this;
    const half = Math.sqrt(3) / 2;
    for (let k = 0; k < m; k++) {
      const i0 = offset + k;
      const i1 = i0 + m;
      const i2 = i1 + m;
      const w1 = k * ts;
      const w2 = 2 * w1;
      const r1 = re[i1] * cos[w1] - im[i1] * sin[w1];
      const j1 = re[i1] * sin[w1] + im[i1] * cos[w1];
      const r2 = re[i2] * cos[w2] - im[i2] * sin[w2];
      const j2 = re[i2] * sin[w2] + im[i2] * cos[w2];
      const sumR = r1 + r2;
      const sumJ = j1 + j2;
      // exp(-2 pi i / 3) = -1/2 - i sqrt(3)/2, so X1 = t0 - s/2 - i (sqrt(3)/2) (t1 - t2).
      const difR = half * (r1 - r2);
      const difJ = half * (j1 - j2);
      const baseR = re[i0] - 0.5 * sumR;
      const baseJ = im[i0] - 0.5 * sumJ;
      re[i0] += sumR;
      im[i0] += sumJ;
      re[i1] = baseR + difJ;
      im[i1] = baseJ - difR;
      re[i2] = baseR - difJ;
      im[i2] = baseJ + difR;
    }
  }

  private butterfly4(re: Float64Array, im: Float64Array, offset: number, m: number, ts: number) {
    const { cos, sin } = this;
    for (let k = 0; k < m; k++) {
      const i0 = offset + k;
      const i1 = i0 + m;
      const i2 = i1 + m;
      const i3 = i2 + m;
      const w1 = k * ts;
      const w2 = 2 * w1;
      const w3 = 3 * w1;
      const r0 = re[i0];
      const j0 = im[i0];
      const r1 = re[i1] * cos[w1] - im[i1] * sin[w1];
      const j1 = re[i1] * sin[w1] + im[i1] * cos[w1];
      const r2 = re[i2] * cos[w2] - im[i2] * sin[w2];
      const j2 = re[i2] * sin[w2] + im[i2] * cos[w2];
      const r3 = re[i3] * cos[w3] - im[i3] * sin[w3];
      const j3 = re[i3] * sin[w3] + im[i3] * cos[w3];
      const sumR02 = r0 + r2;
      const sumJ02 = j0 + j2;
      const difR02 = r0 - r2;
      const difJ02 = j0 - j2;
      const sumR13 = r1 + r3;
      const sumJ13 = j1 + j3;
      // (t1 - t3) multiplied by -i, the forward quarter-turn.
      const rotR13 = j1 - j3;
      const rotJ13 = r3 - r1;
      re[i0] = sumR02 + sumR13;
      im[i0] = sumJ02 + sumJ13;
      re[i1] = difR02 + rotR13;
      im[i1] = difJ02 + rotJ13;
      re[i2] = sumR02 - sumR13;
      im[i2] = sumJ02 - sumJ13;
      re[i3] = difR02 - rotR13;
      im[i3] = difJ02 - rotJ13;
    }
  }

  private butterflyGeneric(
    re: Float64Array,
    im: Float64Array,
    offset: number,
    m: number,
    p: number,
    ts: number,
  ) {
    const { cos, sin, size } = this;
    const tr = this.radixRe;
    const ti = this.radixIm;
    const rootStride = size / p;
    for (let k = 0; k < m; k++) {
      for (let q = 0; q < p; q++) {
        const index = offset + k + q * m;
        const w = (q * k * ts) % size;
        tr[q] = re[index] * cos[w] - im[index] * sin[w];
        ti[q] = re[index] * sin[w] + im[index] * cos[w];
      }
      for (let s = 0; s < p; s++) {
        let sumR = 0;
        let sumI = 0;
        for (let q = 0; q < p; q++) {
          const w = ((q * s) % p) * rootStride;
          sumR += tr[q] * cos[w] - ti[q] * sin[w];
          sumI += tr[q] * sin[w] + ti[q] * cos[w];
        }
        re[offset + k + s * m] = sumR;
        im[offset + k + s * m] = sumI;
      }
    }
  }
}

/**
 * Bluestein's algorithm: jk = (j^2 + k^2 - (k - j)^2) / 2 turns the DFT into a circular
 * convolution with the chirp exp(i pi j^2 / n), evaluated by a power-of-two transform.
 */
class BluesteinPlan implements FftPlan {
  private readonly inner: FftPlan;
  private readonly chirpRe: Float64Array;
  private readonly chirpIm: Float64Array;
  private readonly kernelRe: Float64Array;
  private readonly kernelIm: Float64Array;

  constructor(readonly size: number) {
    let m = 1;
    while (m < 2 * size - 1) m *= 2;
    this.inner = fftPlan(m);
    this.chirpRe = new Float64Array(size);
    this.chirpIm = new Float64Array(size);
    for (let j = 0; j < size; j++) {
      // j^2 mod 2n keeps the angle argument small and exact.
      const angle = (-Math.PI * ((j * j) % (2 * size))) / size;
      this.chirpRe[j] = Math.cos(angle);
      this.chirpIm[j] = Math.sin(angle);
    }
    this.kernelRe = new Float64Array(m);
    this.kernelIm = new Float64Array(m);
    for (let j = 0; j < size; j++) {
      this.kernelRe[j] = this.chirpRe[j];
      this.kernelIm[j] = -this.chirpIm[j];
      if (j > 0) {
        this.kernelRe[m - j] = this.chirpRe[j];
        this.kernelIm[m - j] = -this.chirpIm[j];
      }
    }
    this.inner.transform(this.kernelRe, this.kernelIm, false);
  }

  transform(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const n = this.size;
    const m = this.inner.size;
    const aRe = new Float64Array(m);
    const aIm = new Float64Array(m);
    const sign = inverse ? -1 : 1;
    for (let j = 0; j < n; j++) {
      const xr = re[j];
      const xi = sign * im[j];
      aRe[j] = xr * this.chirpRe[j] - xi * this.chirpIm[j];
      aIm[j] = xr * this.chirpIm[j] + xi * this.chirpRe[j];
    }
    this.inner.transform(aRe, aIm, false);
    for (let k = 0; k < m; k++) {
      const r = aRe[k] * this.kernelRe[k] - aIm[k] * this.kernelIm[k];
      const i = aRe[k] * this.kernelIm[k] + aIm[k] * this.kernelRe[k];
      aRe[k] = r;
      aIm[k] = i;
    }
    this.inner.transform(aRe, aIm, true);
    for (let k = 0; k < n; k++) {
      const cr = aRe[k] / m;
      const ci = aIm[k] / m;
      re[k] = cr * this.chirpRe[k] - ci * this.chirpIm[k];
      im[k] = sign * (cr * this.chirpIm[k] + ci * this.chirpRe[k]);
    }
  }
}

/**
 * In-place 2-D transform of a rows x cols complex array (row-major): every row, then
 * every column. Columns are transformed as rows of a transposed copy, made in cache-sized
 * blocks. Rows outside [firstRow, endRow) must be zero on input; their row transforms
 * are skipped because the transform of zeros is zero.
 */
export function fft2d(
  re: Float64Array,
  im: Float64Array,
  rows: number,
  cols: number,
  inverse: boolean,
  firstRow = 0,
  endRow = rows,
): void {
  const rowPlan = fftPlan(cols);
  for (let r = firstRow; r < endRow; r++) {
    const start = r * cols;
    rowPlan.transform(re.subarray(start, start + cols), im.subarray(start, start + cols), inverse);
  }
  const tRe = new Float64Array(rows * cols);
  const tIm = new Float64Array(rows * cols);
  transpose(re, tRe, rows, cols);
  transpose(im, tIm, rows, cols);
  const colPlan = fftPlan(rows);
  for (let c = 0; c < cols; c++) {
    const start = c * rows;
    colPlan.transform(
      tRe.subarray(start, start + rows),
      tIm.subarray(start, start + rows),
      inverse,
    );
  }
  transpose(tRe, re, cols, rows);
  transpose(tIm, im, cols, rows);
}

const TRANSPOSE_BLOCK = 32;

/** Writes the transpose of the rows x cols matrix `src` into `dst` (cols x rows). */
function transpose(src: Float64Array, dst: Float64Array, rows: number, cols: number): void {
  for (let r0 = 0; r0 < rows; r0 += TRANSPOSE_BLOCK) {
    const r1 = Math.min(rows, r0 + TRANSPOSE_BLOCK);
    for (let c0 = 0; c0 < cols; c0 += TRANSPOSE_BLOCK) {
      const c1 = Math.min(cols, c0 + TRANSPOSE_BLOCK);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}
