import { describe, expect, it } from "vitest";
import {
  add,
  axpby,
  axpy,
  clamp,
  dot,
  itemNorms,
  lerp,
  norm,
  renderError,
  scale,
  sub,
  sumSquares,
  Tensor,
  TweedieError,
} from "../src/index.js";

describe("Tensor", () => {
  it("item returns a view sharing memory", () => {
    const t = Tensor.zeros([2, 1, 2, 2]);
    t.item(1).data[0] = 5;
    expect(t.data[4]).toBe(5);
    expect(t.item(1).shape).toEqual([1, 1, 2, 2]);
  });

  it("copies a mutable shape and shares a frozen one", () => {
    const shape = [1, 4];
    const t = new Tensor(new Float32Array(4), shape);
    shape[1] = 2;
    expect(t.shape).toEqual([1, 4]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(t.reshape(t.shape).shape).toBe(t.shape);
  });

  it("rejects data that does not match the shape", () => {
    expect(() => new Tensor(new Float32Array(3), [2, 2])).toThrow(TweedieError);
  });

  it("renders errors with expected and received values", () => {
    try {
      Tensor.zeros([2, 1]).item(3);
    } catch (error) {
      expect(renderError(error)).toBe(
        'batch index out of range (expected "an integer in [0, 1]", received 3)',
      );
    }
    expect.assertions(1);
  });
});

describe("tensor arithmetic", () => {
  const a = Tensor.from([1.5, -2, 0.1, 4], [1, 1, 2, 2]);
  const b = Tensor.from([0.5, 3, -0.7, 1e-3], [1, 1, 2, 2]);
  const f = Math.fround;
  const values = (t: Tensor) => Array.from(t.data);

  it("add, sub and scale round once to float32", () => {
    expect(values(add(a, b))).toEqual([2, 1, f(f(0.1) + f(-0.7)), f(4 + f(1e-3))]);
    expect(values(sub(a, b))).toEqual([1, -5, f(f(0.1) - f(-0.7)), f(4 - f(1e-3))]);
    expect(values(scale(a, 3))).toEqual([4.5, -6, f(3 * f(0.1)), 12]);
  });

  it("axpy, axpby and lerp match their formulas", () => {
    const y = b.clone();
    const returned = axpy(2, a, y);
    expect(returned).toBe(y);
    expect(values(y)).toEqual(values(b).map((v, i) => f(v + 2 * a.data[i])));
    expect(values(axpby(0.25, a, -3, b))).toEqual(
      values(a).map((v, i) => f(0.25 * v - 3 * b.data[i])),
    );
    expect(values(lerp(a, b, 0.3))).toEqual(values(a).map((v, i) => f(v + 0.3 * (b.data[i] - v))));
    expect(values(lerp(a, b, 0))).toEqual(values(a));
    expect(values(lerp(a, b, 1))).toEqual(values(b));
  });

  it("writes in place when out is an input", () => {
    const x = a.clone();
    const result = add(x, b, x);
    expect(result).toBe(x);
    expect(values(x)).toEqual(values(add(a, b)));
    const z = a.clone();
    scale(z, -1, z);
    expect(values(z)).toEqual(values(a).map((v) => -v));
    const w = b.clone();
    lerp(a, w, 0.5, w);
    expect(values(w)).toEqual(values(lerp(a, b, 0.5)));
    const c = a.clone();
    clamp(c, -1, 1, c);
    expect(values(c)).toEqual([1, -1, f(0.1), 1]);
  });

  it("clamp keeps NaN and rejects reversed bounds", () => {
    const x = Tensor.from([Number.NaN, -5, 5], [3]);
    const clamped = clamp(x, -1, 1);
    expect(Number.isNaN(clamped.data[0])).toBe(true);
    expect(values(clamped).slice(1)).toEqual([-1, 1]);
    expect(() => clamp(x, 1, -1)).toThrow(TweedieError);
  });

  it("dot, sumSquares and norm accumulate in float64", () => {
    const n = 1_000_000;
    const x = Tensor.full([n], 0.1);
    const tenth = f(0.1);
    // A float32 running sum of 1e6 copies of 0.1 drifts by about 1%; float64 stays within 1e-9.
    expect(Math.abs(sumSquares(x) - n * tenth * tenth)).toBeLessThan(1e-6);
    expect(Math.abs(dot(x, x) - n * tenth * tenth)).toBeLessThan(1e-6);
    expect(Math.abs(norm(x) - Math.sqrt(n) * tenth)).toBeLessThan(1e-9);
    expect(dot(a, b)).toBe(1.5 * 0.5 - 6 + f(0.1) * f(-0.7) + 4 * f(1e-3));
    // Squares of float32 maxima overflow float32 but not float64.
    const large = norm(Tensor.from([1.8e38, 2.4e38], [2]));
    expect(Math.abs(large / 3e38 - 1)).toBeLessThan(1e-7);
  });

  it("itemNorms measures each batch item", () => {
    const x = Tensor.from([3, 4, 0, 0, 1, 1, 1, 1], [2, 4]);
    expect(Array.from(itemNorms(x))).toEqual([5, 2]);
  });

  it("rejects mismatched shapes", () => {
    const wrong = Tensor.zeros([1, 1, 1, 4]);
    expect(() => add(a, wrong)).toThrow(TweedieError);
    expect(() => sub(a, b, wrong)).toThrow(TweedieError);
    expect(() => axpy(1, wrong, a.clone())).toThrow(TweedieError);
    expect(() => dot(a, wrong)).toThrow(TweedieError);
  });
});
