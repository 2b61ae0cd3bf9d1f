import { Tensor } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { buildOperator, gaussianKernel, gaussianKernel1d } from "../src/index.js";
import { fixture, maxAbsDifference, sineImage } from "./reference.js";

interface OperatorReference {
  gaussianKernelCentre: number;
  gaussianKernelRow30: number[];
  gaussianBlur: { shape: number[]; y: number[] };
  correlation: { shape: number[]; kernel: number[]; y: number[] };
}

const reference = fixture<OperatorReference>("operator-reference.json");

describe("gaussian-blur kernel", () => {
  const kernel = gaussianKernel(61, 3);

  it("has the DPS centre value 0.017685", () => {
    expect(kernel[30 * 61 + 30]).toBeCloseTo(0.017685, 6);
    expect(kernel[30 * 61 + 30]).toBeCloseTo(reference.gaussianKernelCentre, 12);
  });

  it("sums to 1", () => {
    expect(kernel.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
  });

  it("matches scipy's filtered delta along the centre row", () => {
    const row = kernel.slice(30 * 61 + 18, 30 * 61 + 43);
    expect(maxAbsDifference(row, reference.gaussianKernelRow30)).toBeLessThan(1e-15);
  });

  it("is zero beyond radius 12", () => {
    const k = gaussianKernel1d(61, 3, 4);
    expect(k[30 - 12]).toBeGreaterThan(0);
    expect(k[30 - 13]).toBe(0);
    expect(k[30 + 13]).toBe(0);
  });
});

describe("gaussian-blur operator", () => {
  it("matches reflect padding plus 61 x 61 correlation in scipy", () => {
    const { shape, y } = reference.gaussianBlur;
    const op = buildOperator({ kind: "gaussian-blur" }, { imageShape: shape });
    expect(maxAbsDifference(op.forward(sineImage(shape)).data, y)).toBeLessThan(1e-6);
  });

  it("keeps a constant image constant", () => {
    const op = buildOperator({ kind: "gaussian-blur" }, { imageShape: [1, 9, 14] });
    const y = op.forward(Tensor.full([1, 9, 14], 0.25));
    expect(maxAbsDifference(y.data, new Float32Array(y.size).fill(0.25))).toBeLessThan(1e-7);
  });
});

describe("motion-blur correlation", () => {
  it("matches reflect padding plus correlation in scipy for a non-symmetric kernel", () => {
    const { shape, kernel, y } = reference.correlation;
    const op = buildOperator(
      { kind: "motion-blur", size: 5, seed: "fixture", kernel },
      { imageShape: shape },
    );
    expect(maxAbsDifference(op.forward(sineImage(shape)).data, y)).toBeLessThan(1e-6);
  });

  it("matches a direct 61 x 61 loop on a small image", () => {
    const op = buildOperator({ kind: "motion-blur", seed: 9 }, { imageShape: [1, 11, 13] });
    const kernel = op.spec.kernel as number[];
    const x = sineImage([1, 11, 13]);
    const reflect = (i: number, n: number) => {
      let j = i;
      for (;;) {
        if (j < 0) j = -j;
        else if (j >= n) j = 2 * (n - 1) - j;
        else return j;
      }
    };
    const expected = new Float64Array(11 * 13);
    for (let i = 0; i < 11; i++) {
      for (let j = 0; j < 13; j++) {
        let sum = 0;
        for (let u = 0; u < 61; u++) {
          for (let v = 0; v < 61; v++) {
            sum +=
              kernel[u * 61 + v] * x.data[reflect(i + u - 30, 11) * 13 + reflect(j + v - 30, 13)];
          }
        }
        expected[i * 13 + j] = sum;
      }
    }
    expect(maxAbsDifference(op.forward(x).data, expected)).toBeLessThan(1e-6);
  });
});
