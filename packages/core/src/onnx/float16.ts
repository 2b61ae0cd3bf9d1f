/**
 * Exact conversions between float32 values and IEEE 754 binary16 bit patterns.
 * float32 to float16 rounds to nearest, ties to even, keeps subnormals, overflows to
 * infinity and keeps NaN a NaN (quiet, with the top mantissa bits of the input payload).
 * float16 to float32 is exact because every half value is representable in float32.
 */

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** Returns the float16 bit pattern nearest to `value` after rounding it to float32. */
export function float32ToFloat16Bits(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;

  if (exponent === 0xff) {
    // Infinity keeps a zero mantissa; NaN sets the quiet bit so it stays a NaN.
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }

  // Biased half exponent: float32 bias 127, float16 bias 15.
  const halfExponent = exponent - 112;
  if (halfExponent >= 31) return sign | 0x7c00;

  if (halfExponent <= 0) {
    // Below 2^-25 every value rounds to zero (2^-25 itself is a tie that rounds to even 0).
    if (halfExponent < -10) return sign;
    // Subnormal result: the 24-bit significand scaled to units of 2^-24.
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    return sign | roundShift(significand, shift);
  }

  const rounded = roundShift((halfExponent << 23) | mantissa, 13);
  // A carry out of the mantissa moves into the exponent, and past 30 it becomes infinity.
  return sign | rounded;
}

/** Shifts `value` right by `shift` bits, rounding to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const truncated = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (remainder > half || (remainder === half && (truncated & 1) === 1)) return truncated + 1;
  return truncated;
}

/** Returns the float32 value of a float16 bit pattern (exact). */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Converts float32 values into float16 bit patterns. */
export function toFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = float32ToFloat16Bits(values[i]);
  return out;
}

/** Converts float16 bit patterns into float32 values. */
export function fromFloat16Bits(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < out.length; i++) out[i] = float16BitsToFloat32(bits[i]);
  return out;
}
