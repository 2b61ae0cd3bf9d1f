import { TweedieError } from "./errors.js";
import { shapeSize, Tensor } from "./tensor.js";

/** A root seed: a 64-bit integer (number or bigint, negatives taken modulo 2^64) or a string. */
export type RngSeed = number | bigint | string;

/** One element of a stream's key path. */
export type StreamKey = string | number;

/**
 * A seeded, splittable, counter-based random stream. A draw depends only on
 * (seed, stream key path, index within the stream), never on thread, batch position or
 * call order: every method is a pure function of its arguments, so `uniform(4)` called
 * twice returns the same four values. Take fresh draws with `offset` or, preferably, from
 * a child stream made by `split`.
 *
 * Uniform, 53-bit uniform and normal draws use separate counter domains, so the first
 * `uniform`, the first `uniform64` and the first `normal` values of one stream are
 * independent of each other.
 */
export interface Rng {
  /** The root seed, as given to `createRng`. */
  readonly seed: RngSeed;
  /** The key path from the root stream to this one. */
  readonly path: readonly StreamKey[];
  /** A child stream whose key path is this one's plus `keys`. */
  split(...keys: readonly StreamKey[]): Rng;
  /** `count` raw 32-bit words starting at word `offset` (default 0). */
  words(count: number, offset?: number): Uint32Array;
  /**
   * `count` uniforms on [0, 1) starting at index `offset` (default 0): word i >>> 8 times
   * 2^-24, so every value is an exact float32 multiple of 2^-24.
   */
  uniform(count: number, offset?: number): Float32Array;
  /** `count` uniforms on [0, 1) with 53 random bits each, starting at index `offset`. */
  uniform64(count: number, offset?: number): Float64Array;
  /** `count` standard normals starting at index `offset`, rounded to float32. */
  normal(count: number, offset?: number): Float32Array;
  /** `count` standard normals in float64 starting at index `offset`. */
  normal64(count: number, offset?: number): Float64Array;
  /** A tensor of standard normals; value k is `normal(size, offset)[k]`. */
  normalTensor(shape: readonly number[], offset?: number): Tensor;
  /** The 53-bit uniform at `index`; equals `uniform64(1, index)[0]`. */
  uniformAt(index: number): number;
  /** The float64 normal at `index`; equals `normal64(1, index)[0]`. */
  normalAt(index: number): number;
}

// Philox4x32 constants (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011; the Random123 library uses the same values).
const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const M0_HI = PHILOX_M0 >>> 16;
const M0_LO = PHILOX_M0 & 0xffff;
const M1_HI = PHILOX_M1 >>> 16;
const M1_LO = PHILOX_M1 & 0xffff;

/**
 * Computes the high 32 bits of the 64-bit product of two uint32 values exactly. The
 * operands are split into 16-bit halves so that every partial sum stays below 2^53.
 */
export function mulhi32(a: number, b: number): number {
  const aHi = a >>> 16;
  const aLo = a & 0xffff;
  const bHi = b >>> 16;
  const bLo = b & 0xffff;
  const mid = aHi * bLo + aLo * bHi + ((aLo * bLo) >>> 16);
  return (aHi * bHi + Math.floor(mid / 65536)) >>> 0;
}

/**
 * Computes one Philox4x32 block: `rounds` rounds (10 for the standard Philox4x32-10) of
 * the counter `ctr` (four uint32 words) under `key` (two uint32 words), giving four uint32
 * words. The key is bumped by the Weyl constants before every round after the first.
 */
export function philox4x32(
  ctr: readonly [number, number, number, number],
  key: readonly [number, number],
  rounds = 10,
): [number, number, number, number] {
  let c0 = ctr[0] >>> 0;
  let c1 = ctr[1] >>> 0;
  let c2 = ctr[2] >>> 0;
  let c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < rounds; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

/**
 * Fills `out` with Philox4x32-10 blocks for counters (block, blockHi, c2, c3) where block
 * runs from `firstBlock` upwards; `out.length` must be a multiple of 4. The rounds are
 * inlined with constant multipliers because this loop produces every random value.
 */
function fillBlocks(
  out: Uint32Array,
  key0: number,
  key1: number,
  ctr2: number,
  domain: number,
  firstBlock: number,
): void {
  const blocks = out.length >>> 2;
  for (let b = 0; b < blocks; b++) {
    const index = firstBlock + b;
    let c0 = index >>> 0;
    let c1 = Math.floor(index / 4294967296) >>> 0;
    let c2 = ctr2;
    let c3 = domain;
    let k0 = key0;
    let k1 = key1;
    for (let round = 0; round < 10; round++) {
      if (round > 0) {
        k0 = (k0 + PHILOX_W0) >>> 0;
        k1 = (k1 + PHILOX_W1) >>> 0;
      }
      const x0Hi = c0 >>> 16;
      const x0Lo = c0 & 0xffff;
      const mid0 = M0_HI * x0Lo + M0_LO * x0Hi + ((M0_LO * x0Lo) >>> 16);
      const hi0 = (M0_HI * x0Hi + Math.floor(mid0 / 65536)) >>> 0;
      const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
      const x2Hi = c2 >>> 16;
      const x2Lo = c2 & 0xffff;
      const mid1 = M1_HI * x2Lo + M1_LO * x2Hi + ((M1_LO * x2Lo) >>> 16);
      const hi1 = (M1_HI * x2Hi + Math.floor(mid1 / 65536)) >>> 0;
      const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
      c0 = (hi1 ^ c1 ^ k0) >>> 0;
      c1 = lo1;
      c2 = (hi0 ^ c3 ^ k1) >>> 0;
      c3 = lo0;
    }
    const o = b * 4;
    out[o] = c0;
    out[o + 1] = c1;
    out[o + 2] = c2;
    out[o + 3] = c3;
  }
}

// Counter word 3 separates what a block is used for. Draw domains are small integers;
// key derivation uses tags with the top bit set, so no draw counter equals a split counter.
const DOMAIN_WORDS = 0;
const DOMAIN_UNIFORM64 = 1;
const DOMAIN_NORMAL = 2;
const TAG_SPLIT_INTEGER = 0x80000001;
const TAG_SPLIT_STRING = 0x80000002;
/** Counter word 2 of a root stream seeded by a string, to keep it apart from integer seeds. */
const STRING_SEED_MARK = 1;

const TWO_POW_64 = 1n << 64n;
const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const UTF8 = new TextEncoder();

/** FNV-1a 64 over the UTF-8 bytes of `text`, as [low word, high word]. */
export function fnv1a64(text: string): [number, number] {
  let hash = FNV64_OFFSET;
  for (const byte of UTF8.encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * FNV64_PRIME) & (TWO_POW_64 - 1n);
  }
  return [Number(hash & 0xffffffffn), Number(hash >> 32n)];
}

/** Splits an integer in [-2^63, 2^64) into the words of its value modulo 2^64. */
function integerWords(value: number | bigint, path: readonly StreamKey[]): [number, number] {
  const valid =
    typeof value === "bigint"
      ? value >= -(1n << 63n) && value < TWO_POW_64
      : Number.isSafeInteger(value);
  if (!valid) {
    throw new TweedieError("random seeds and stream keys must be integers or strings", {
      code: "invalid_value",
      path: [...path],
      expected: "a safe integer, a bigint in [-2^63, 2^64) or a string",
      received: typeof value === "bigint" ? value.toString() : value,
    });
  }
  const wrapped = BigInt.asUintN(64, BigInt(value));
  return [Number(wrapped & 0xffffffffn), Number(wrapped >> 32n)];
}

function checkCount(count: number, name: string): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new TweedieError(`${name} must be a non-negative integer`, {
      code: "invalid_value",
      path: [name],
      expected: "a non-negative safe integer",
      received: count,
    });
  }
}

/** Uniform on [0, 1) from 53 bits: the top 27 bits of `a` and the top 26 bits of `b`. */
function uniform53(a: number, b: number): number {
  return ((a >>> 5) * 67108864 + (b >>> 6)) / 9007199254740992;
}

/**
 * Philox4x32-10 stream. The 128-bit counter is (block low, block high, c2, domain) and the
 * 64-bit key plus c2 identify the stream, so 96 bits separate streams. Word i of a domain
 * is lane i mod 4 of block floor(i / 4).
 */
class PhiloxRng implements Rng {
  constructor(
    readonly seed: RngSeed,
    readonly path: readonly StreamKey[],
    private readonly key0: number,
    private readonly key1: number,
    private readonly ctr2: number,
  ) {}

  split(...keys: readonly StreamKey[]): Rng {
    let key0 = this.key0;
    let key1 = this.key1;
    let ctr2 = this.ctr2;
    const path = [...this.path];
    for (const part of keys) {
      path.push(part);
      // The child's key and c2 are a Philox block of the parent keyed by the parent key,
      // at a counter made of the part's 64-bit encoding, the parent's c2 and a type tag.
      const [p0, p1] =
        typeof part === "string" ? fnv1a64(part) : integerWords(part, ["split", ...path]);
      const tag = typeof part === "string" ? TAG_SPLIT_STRING : TAG_SPLIT_INTEGER;
      const out = philox4x32([p0, p1, ctr2, tag], [key0, key1]);
      key0 = out[0];
      key1 = out[1];
      ctr2 = out[2];
    }
    return new PhiloxRng(this.seed, Object.freeze(path), key0, key1, ctr2);
  }

  /** Blocks covering items [offset, offset + count) at `perBlock` items per block. */
  private blocks(domain: number, count: number, offset: number, perBlock: number) {
    checkCount(count, "count");
    checkCount(offset, "offset");
    const first = Math.floor(offset / perBlock);
    const last = count === 0 ? first : Math.floor((offset + count - 1) / perBlock) + 1;
    const words = new Uint32Array((last - first) * 4);
    fillBlocks(words, this.key0, this.key1, this.ctr2, domain, first);
    return { words, skip: offset - first * perBlock };
  }

  words(count: number, offset = 0): Uint32Array {
    const { words, skip } = this.blocks(DOMAIN_WORDS, count, offset, 4);
    return words.slice(skip, skip + count);
  }

  uniform(count: number, offset = 0): Float32Array {
    checkCount(count, "count");
    const words = this.words(count, offset);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = (words[i] >>> 8) * 5.9604644775390625e-8;
    return out;
  }

  uniform64(count: number, offset = 0): Float64Array {
    checkCount(count, "count");
    const out = new Float64Array(count);
    const { words, skip } = this.blocks(DOMAIN_UNIFORM64, count, offset, 2);
    for (let i = 0; i < count; i++) {
      const w = (skip + i) * 2;
      out[i] = uniform53(words[w], words[w + 1]);
    }
    return out;
  }

  normal64(count: number, offset = 0): Float64Array {
    checkCount(count, "count");
    const out = new Float64Array(count);
    this.fillNormals(out, count, offset);
    return out;
  }

  normal(count: number, offset = 0): Float32Array {
    checkCount(count, "count");
    const out = new Float32Array(count);
    this.fillNormals(out, count, offset);
    return out;
  }

  normalTensor(shape: readonly number[], offset = 0): Tensor {
    return new Tensor(this.normal(shapeSize(shape), offset), shape);
  }

  uniformAt(index: number): number {
    return this.uniform64(1, index)[0];
  }

  normalAt(index: number): number {
    return this.normal64(1, index)[0];
  }

  /**
   * Box-Muller without rejection: block k gives normals 2k (r cos theta) and 2k + 1
   * (r sin theta) from u1 (words 0, 1) and u2 (words 2, 3), with r = sqrt(-2 ln(1 - u1))
   * and theta = 2 pi u2. 1 - u1 lies in (0, 1], so the logarithm is finite and |z| stays
   * below sqrt(2 ln 2^53), about 8.57.
   */
  private fillNormals(out: Float32Array | Float64Array, count: number, offset: number): void {
    const { words, skip } = this.blocks(DOMAIN_NORMAL, count, offset, 2);
    for (let i = 0; i < count; i++) {
      const j = skip + i;
      const w = (j - (j & 1)) * 2;
      const u1 = uniform53(words[w], words[w + 1]);
      const u2 = uniform53(words[w + 2], words[w + 3]);
      const r = Math.sqrt(-2 * Math.log(1 - u1));
      const theta = 2 * Math.PI * u2;
      out[i] = (j & 1) === 0 ? r * Math.cos(theta) : r * Math.sin(theta);
    }
  }
}

/**
 * Creates the root stream for `seed`. An integer seed s (number or bigint, modulo 2^64)
 * is the Philox key itself with c2 = 0. A string seed is keyed by its FNV-1a 64 hash over
 * UTF-8 with c2 = 1, so no string seed shares a root with an integer seed.
 */
export function createRng(seed: RngSeed): Rng {
  if (typeof seed === "string") {
    const [k0, k1] = fnv1a64(seed);
    return new PhiloxRng(seed, Object.freeze([]), k0, k1, STRING_SEED_MARK);
  }
  const [k0, k1] = integerWords(seed, ["seed"]);
  return new PhiloxRng(seed, Object.freeze([]), k0, k1, 0);
}
