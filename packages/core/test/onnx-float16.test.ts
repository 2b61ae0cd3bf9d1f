import { afterEach, describe, expect, it } from "vitest";
import {
  createSession,
  float16BitsToFloat32,
  float16Carrier,
  float32ToFloat16Bits,
  GraphBuilder,
  hasFloat16Array,
  runSession,
  TweedieError,
} from "../src/index.js";

/** float32 bit pattern -> float16 bit pattern, from numpy 1.24 `astype(np.float16)`. */
const NUMPY_FLOAT16: readonly [number, number][] = [
  [0x3f800000, 0x3c00], // 1
  [0x80000000, 0x8000], // -0
  [0x00000000, 0x0000], // +0
  [0x477fe000, 0x7bff], // 65504, the largest half
  [0x477fefff, 0x7bff], // just below the overflow tie
  [0x477ff000, 0x7c00], // overflow tie rounds to infinity
  [0x47800000, 0x7c00], // 65536
  [0x7f800000, 0x7c00], // +inf
  [0xff800000, 0xfc00], // -inf
  [0x33800000, 0x0001], // 2^-24, the smallest subnormal
  [0x33000000, 0x0000], // 2^-25, a tie that rounds to even zero
  [0x33000001, 0x0001], // just above that tie
  [0x33c00000, 0x0002], // 1.5 * 2^-24, tie rounds up to even 2
  [0x34200000, 0x0002], // 2.5 * 2^-24, tie rounds down to even 2
  [0x387fc000, 0x03ff], // the largest subnormal
  [0x387fe000, 0x0400], // tie between the largest subnormal and the smallest normal
  [0x38800000, 0x0400], // 2^-14, the smallest normal
  [0x3f801000, 0x3c00], // 1 + 2^-11, tie rounds down to even
  [0x3f803000, 0x3c02], // 1 + 3 * 2^-11, tie rounds up to even
  [0x3f801001, 0x3c01], // just above a tie
  [0xc0490fdb, 0xc248], // -pi
  [0x3dcccccd, 0x2e66], // 0.1
  [0x32000000, 0x0000], // 2^-27
  [0xb3000001, 0x8001], // negative, just above the zero tie
  [0x7f7fffff, 0x7c00], // the largest float32
  [0x3f009627, 0x3805],
  [0x406b99fd, 0x435d],
  [0x45887b49, 0x6c44],
  [0x3de10761, 0x2f08],
  [0x429dd018, 0x54ef],
  [0x4401f3ae, 0x6010],
  [0x31552f9e, 0x0000],
  [0x373438be, 0x00b4],
];

function floatFromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

describe("float16 conversion", () => {
  it.each(NUMPY_FLOAT16)("float32 bits %s match numpy", (f32, f16) => {
    expect(float32ToFloat16Bits(floatFromBits(f32)).toString(16)).toBe(f16.toString(16));
  });

  it("round-trips every non-NaN half exactly", () => {
    const failures: string[] = [];
    let checked = 0;
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = float16BitsToFloat32(bits);
      if (Number.isNaN(value)) continue;
      checked++;
      const back = float32ToFloat16Bits(value);
      if (Math.fround(value) !== value || back !== bits)
        failures.push(`0x${bits.toString(16)} -> ${value} -> 0x${back.toString(16)}`);
    }
    expect(checked).toBe(0x10000 - 2 * 1023);
    expect(failures).toEqual([]);
  });

  it("keeps NaN a NaN both ways", () => {
    for (const bits of [0x7c01, 0x7e00, 0xfe00, 0x7fff]) {
      expect(float16BitsToFloat32(bits)).toBeNaN();
    }
    const half = float32ToFloat16Bits(Number.NaN);
    expect(half & 0x7c00).toBe(0x7c00);
    expect(half & 0x03ff).not.toBe(0);
  });

  it("decodes known half values", () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
    expect(float16BitsToFloat32(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe("float16 carrier", () => {
  const original = Object.getOwnPropertyDescriptor(globalThis, "Float16Array");
  afterEach(() => {
    if (original === undefined) delete (globalThis as { Float16Array?: unknown }).Float16Array;
    else Object.defineProperty(globalThis, "Float16Array", original);
  });

  it("uses the bits themselves without Float16Array", () => {
    delete (globalThis as { Float16Array?: unknown }).Float16Array;
    const bits = new Uint16Array([0x3c00]);
    expect(hasFloat16Array()).toBe(false);
    expect(float16Carrier(bits)).toBe(bits);
  });

  it("wraps the same buffer when Float16Array exists", () => {
    class FakeFloat16Array {
      constructor(
        readonly buffer: ArrayBufferLike,
        readonly byteOffset: number,
        readonly length: number,
      ) {}
    }
    (globalThis as { Float16Array?: unknown }).Float16Array = FakeFloat16Array;
    const backing = new Uint16Array(8);
    const bits = backing.subarray(2, 6);
    const carrier = float16Carrier(bits) as unknown as FakeFloat16Array;
    expect(hasFloat16Array()).toBe(true);
    expect(carrier).toBeInstanceOf(FakeFloat16Array);
    expect(carrier.buffer).toBe(backing.buffer);
    expect(carrier.byteOffset).toBe(4);
    expect(carrier.length).toBe(4);
  });
});

function identityHalfGraph(): Uint8Array {
  const graph = new GraphBuilder({ name: "identity_half" });
  graph.input("x", "float16", [1, 3, 8, 8]);
  graph.node("Identity", ["x"], ["y"]);
  graph.output("y", "float16", [1, 3, 8, 8]);
  return graph.toBytes();
}

/** 192 half patterns: the named specials, then a spread over every exponent. */
function knownHalfPatterns(): Uint16Array {
  const specials = [
    0x3c00, 0x0000, 0x8000, 0x7bff, 0xfbff, 0x0001, 0x8001, 0x03ff, 0x83ff, 0x0400, 0x7c00, 0xfc00,
    0x7e00, 0xfe00, 0x3555, 0xc000,
  ];
  const bits = new Uint16Array(192);
  bits.set(specials);
  for (let i = specials.length; i < bits.length; i++) bits[i] = (i * 0x1f3d + 0x0155) & 0xffff;
  return bits;
}

describe("float16 identity graph", () => {
  it("returns the fed bit patterns unchanged", async () => {
    const session = await createSession(identityHalfGraph(), { fileLabel: "identity_half.onnx" });
    const bits = knownHalfPatterns();
    const outputs = await runSession(session, {
      x: { dtype: "float16", data: bits, dims: [1, 3, 8, 8] },
    });
    const y = outputs.y;
    expect(y.dtype).toBe("float16");
    expect(y.dims).toEqual([1, 3, 8, 8]);
    expect(y.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(y.data as Uint16Array)).toEqual(Array.from(bits));
  });

  it("names file, input and dtypes when fed float32", async () => {
    const session = await createSession(identityHalfGraph(), { fileLabel: "identity_half.onnx" });
    const feed = { dtype: "float32" as const, data: new Float32Array(192), dims: [1, 3, 8, 8] };
    const error = await runSession(session, { x: feed }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TweedieError);
    const tweedie = error as TweedieError;
    expect(tweedie.code).toBe("dtype_mismatch");
    expect(tweedie.path).toEqual(["identity_half.onnx", "x"]);
    expect(tweedie.expected).toBe("float16");
    expect(tweedie.received).toBe("float32");
    expect(tweedie.message).toBe(
      "input x of identity_half.onnx expects float16 but was fed float32",
    );
  });
});
