import { describe, expect, it } from "vitest";
import { buildOperator, MotionBlurOperator, motionBlurKernel } from "../src/index.js";
import { renderTrajectory } from "../src/kernels/motion.js";
import { fixture } from "./reference.js";

interface Statistic {
  mean: number;
  std: number;
}

interface MotionReference {
  seeds: number;
  stats: { gyration: Statistic; nonzero: Statistic; max: Statistic };
  renders: { seed: number; points: [number, number][]; kernel: number[] }[];
}

const reference = fixture<MotionReference>("motion-kernel-reference.json");

/** Radius of gyration (px), number of non-zero pixels and largest value of a kernel. */
function statistics(kernel: Float32Array, size: number): [number, number, number] {
  let rowCentre = 0;
  let colCentre = 0;
  kernel.forEach((v, k) => {
    rowCentre += v * Math.floor(k / size);
    colCentre += v * (k % size);
  });
  let gyration = 0;
  let nonzero = 0;
  let max = 0;
  kernel.forEach((v, k) => {
    gyration += v * ((Math.floor(k / size) - rowCentre) ** 2 + ((k % size) - colCentre) ** 2);
    if (v > 0) nonzero++;
    max = Math.max(max, v);
  });
  return [Math.sqrt(gyration), nonzero, max];
}

describe("motion-blur kernel", () => {
  it("renders trajectories exactly as PIL does", () => {
    for (const render of reference.renders) {
      expect(Array.from(renderTrajectory(render.points, 61)), `seed ${render.seed}`).toEqual(
        render.kernel,
      );
    }
  });

  it("is non-negative, 61 x 61 and sums to 1", () => {
    const kernel = motionBlurKernel(61, 0.5, 0);
    expect(kernel.length).toBe(61 * 61);
    expect(Math.min(...kernel)).toBeGreaterThanOrEqual(0);
    expect(kernel.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
  });

  it("depends on the seed and only on the seed", () => {
    expect(motionBlurKernel(61, 0.5, 3)).toEqual(motionBlurKernel(61, 0.5, 3));
    expect(motionBlurKernel(61, 0.5, 3)).not.toEqual(motionBlurKernel(61, 0.5, 4));
  });

  it("matches the original generator's statistics over 200 seeds", () => {
    const count = 200;
    const sums = [0, 0, 0];
    for (let seed = 0; seed < count; seed++) {
      statistics(motionBlurKernel(61, 0.5, seed), 61).forEach((value, i) => {
        sums[i] += value;
      });
    }
    const names = ["gyration", "nonzero", "max"] as const;
    names.forEach((name, i) => {
      const { mean, std } = reference.stats[name];
      const measured = sums[i] / count;
      // Four standard errors of a 200-seed mean.
      expect(Math.abs(measured - mean), `${name}: ${measured} vs ${mean}`).toBeLessThan(
        (4 * std) / Math.sqrt(count),
      );
    });
  }, 60_000);
});

describe("motion-blur operator", () => {
  it("stores its kernel and seed in the spec", () => {
    const op = buildOperator({ kind: "motion-blur", seed: 11 }, { imageShape: [3, 16, 16] });
    expect(op.spec.seed).toBe(11);
    expect(op.spec.kernel).toEqual(Array.from(motionBlurKernel(61, 0.5, 11)));
  });

  it("keeps the kernel hash across a JSON round trip", () => {
    const op = buildOperator({ kind: "motion-blur", seed: 12 }, { imageShape: [3, 16, 16] });
    const rebuilt = buildOperator(JSON.parse(JSON.stringify(op.spec)), { imageShape: [3, 16, 16] });
    expect(op).toBeInstanceOf(MotionBlurOperator);
    expect((rebuilt as MotionBlurOperator).kernelHash).toBe((op as MotionBlurOperator).kernelHash);
  });

  it("uses a given kernel as is", () => {
    const kernel = Array.from({ length: 9 }, (_, i) => i / 36);
    const op = buildOperator(
      { kind: "motion-blur", size: 3, seed: "given", kernel },
      { imageShape: [1, 4, 4] },
    );
    expect(op.spec.kernel).toEqual(kernel);
  });

  it("rejects a kernel of the wrong length", () => {
    expect(() =>
      buildOperator(
        { kind: "motion-blur", size: 3, seed: 0, kernel: [1, 2] },
        { imageShape: [1, 4, 4] },
      ),
    ).toThrow("motion-blur kernel has the wrong number of values");
  });
});
