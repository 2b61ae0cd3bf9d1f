import { Tensor, TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { addNoise, buildOperator, measure, noiseRng, parseNoiseSpec } from "../src/index.js";

function std(values: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] - mean) ** 2;
  return Math.sqrt(sum / values.length);
}

/** Noisy minus clean, mapped from [-1, 1] to the [0, 1] scale. */
function noiseOnUnitRange(noisy: Tensor, clean: Tensor): Float64Array {
  return Float64Array.from(noisy.data, (value, i) => (value - clean.data[i]) / 2);
}

describe("gaussian noise", () => {
  // A flat 0.5-grey 64 x 64 RGB image on [0, 1] is 0 on [-1, 1].
  const grey = Tensor.zeros([3, 64, 64]);
  const identity = buildOperator({ kind: "identity" }, { imageShape: [3, 64, 64] });

  it("has std sigma on [0, 1] when sigma is stated on [0, 1]", () => {
    const spec = { kind: "gaussian", sigma: 0.05, range: "[0,1]" };
    const { y, clean, record } = measure(identity, grey, spec, noiseRng(1, "grey.png"));
    expect(std(noiseOnUnitRange(y, clean))).toBeGreaterThan(0.048);
    expect(std(noiseOnUnitRange(y, clean))).toBeLessThan(0.052);
    expect(record.sigmaApplied).toBe(0.1);
    expect(record.spec).toEqual(spec);
  });

  it("has std sigma / 2 on [0, 1] under the DPS convention", () => {
    const spec = { kind: "gaussian", sigma: 0.05, range: "[-1,1]" };
    const { y, clean } = measure(identity, grey, spec, noiseRng(1, "grey.png"));
    expect(std(noiseOnUnitRange(y, clean))).toBeGreaterThan(0.024);
    expect(std(noiseOnUnitRange(y, clean))).toBeLessThan(0.026);
  });

  it("rejects a sigma without a range, naming the field", () => {
    const error = (() => {
      try {
        parseNoiseSpec({ kind: "gaussian", sigma: 0.05 });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(TweedieError);
    expect((error as TweedieError).path).toEqual(["range"]);
    expect((error as TweedieError).code).toBe("missing");
    expect((error as TweedieError).message).toBe("noise spec field range is missing");
  });

  it("draws per image key and seed", () => {
    const spec = { kind: "gaussian", sigma: 0.1, range: "[-1,1]" } as const;
    const clean = Tensor.zeros([1, 4, 4]);
    const a = addNoise(clean, spec, noiseRng(3, "00000.png")).y.data;
    const again = addNoise(clean, spec, noiseRng(3, "00000.png")).y.data;
    const otherImage = addNoise(clean, spec, noiseRng(3, "00001.png")).y.data;
    const otherSeed = addNoise(clean, spec, noiseRng(4, "00000.png")).y.data;
    expect(Array.from(again)).toEqual(Array.from(a));
    expect(Array.from(otherImage)).not.toEqual(Array.from(a));
    expect(Array.from(otherSeed)).not.toEqual(Array.from(a));
  });

  it("leaves the measurement unchanged with kind none", () => {
    const clean = Tensor.from([0.1, -0.2, 0.3, 0.4], [1, 2, 2]);
    expect(Array.from(addNoise(clean, { kind: "none" }, noiseRng(0, "a")).y.data)).toEqual(
      Array.from(clean.data),
    );
  });
});

describe("poisson noise", () => {
  it("has the Poisson mean and variance of 255 rate u counts", () => {
    const clean = Tensor.zeros([1, 128, 128]);
    const { y } = addNoise(
      clean,
      { kind: "poisson", rate: 1, range: "[0,1]" },
      noiseRng(2, "flat"),
    );
    const unit = Float64Array.from(y.data, (value) => (value + 1) / 2);
    const mean = unit.reduce((s, v) => s + v, 0) / unit.length;
    // Counts ~ Poisson(127.5) divided by 255: mean 0.5, std sqrt(127.5) / 255 = 0.0443.
    expect(mean).toBeCloseTo(0.5, 3);
    expect(std(unit)).toBeGreaterThan(0.0443 * 0.97);
    expect(std(unit)).toBeLessThan(0.0443 * 1.03);
  });

  it("clips negative intensities before sampling and records the clip", () => {
    // Blur of a non-negative image can dip below 0; here two values sit below -1 on
    // [-1, 1], which is below 0 on [0, 1]. The sampler would throw on a negative rate.
    const clean = Tensor.from([-1.2, -1.0000001, 0, 0.5, 1.5, 1], [1, 2, 3]);
    const { y, record } = addNoise(
      clean,
      { kind: "poisson", rate: 1, range: "[0,1]" },
      noiseRng(0, "x"),
    );
    expect(record.clippedBelowZero).toBe(2);
    expect(record.clippedAboveOne).toBe(1);
    expect(y.data[0]).toBe(-1);
    expect(y.data[1]).toBe(-1);
    expect(Math.max(...y.data)).toBeLessThanOrEqual(1);
  });

  it("requires the [0,1] range", () => {
    expect(() => parseNoiseSpec({ kind: "poisson", rate: 1, range: "[-1,1]" })).toThrow(
      "noise spec field range is invalid",
    );
  });

  it("runs after a blur of a non-negative image", () => {
    const op = buildOperator(
      { kind: "gaussian-blur", size: 9, sigma: 1.6 },
      { imageShape: [1, 64, 64] },
    );
    const x = Tensor.from(
      Array.from({ length: 64 * 64 }, (_, i) => ((i * 37) % 64 < 8 ? 1 : -1)),
      [1, 64, 64],
    );
    const { y, record } = measure(
      op,
      x,
      { kind: "poisson", rate: 0.5, range: "[0,1]" },
      noiseRng(0, "b"),
    );
    expect(y.isFinite()).toBe(true);
    expect(record.clippedBelowZero).toBeGreaterThanOrEqual(0);
  });
});
