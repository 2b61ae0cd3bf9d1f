/**
 * SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
 * OOPSLA 2014; constants as in Vigna's reference C code). Eval owns this small generator
 * so that values it stores, such as the sliced Wasserstein directions, depend only on
 * their seed and never on changes to core's RNG.
 */
const MASK_64 = (1n << 64n) - 1n;
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;

export class SplitMix64 {
  private state: bigint;

  constructor(seed: number | bigint) {
    this.state = BigInt(seed) & MASK_64;
  }

  /** Advances the state and returns the next 64-bit output as an unsigned bigint. */
  nextUint64(): bigint {
    this.state = (this.state + GOLDEN_GAMMA) & MASK_64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
    return z ^ (z >> 31n);
  }

  /** Draws a uniform double in [0, 1) from the top 53 bits of the next output. */
  nextDouble(): number {
    return Number(this.nextUint64() >> 11n) / 2 ** 53;
  }

  /** Draws a standard normal by Box-Muller from two uniforms, discarding the sine branch. */
  nextNormal(): number {
    const u1 = 1 - this.nextDouble();
    const u2 = this.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
