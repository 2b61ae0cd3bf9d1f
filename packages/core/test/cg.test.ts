import { describe, expect, it } from "vitest";
import { conjugateGradient, Tensor } from "../src/index.js";

describe("conjugateGradient", () => {
  it("solves a small SPD system exactly in n steps", () => {
    // M = [[4, 1, 0], [1, 3, 1], [0, 1, 2]], b = [1, 2, 3]. In exact arithmetic CG ends in
    // n = 3 steps; the float32 iterates reach a relative residual of 1e-5 by then.
    const m = [
      [4, 1, 0],
      [1, 3, 1],
      [0, 1, 2],
    ];
    const apply = (x: Tensor) =>
      Tensor.from(
        m.map((row) => row.reduce((s, v, j) => s + v * x.data[j], 0)),
        [3],
      );
    const result = conjugateGradient(apply, Tensor.from([1, 2, 3], [3]), Tensor.zeros([3]), {
      maxIterations: 10,
      tolerance: 1e-5,
    });
    // numpy.linalg.solve gives [4, 2, 26] / 18 (det M = 18).
    const expected = [4 / 18, 2 / 18, 26 / 18];
    for (let i = 0; i < 3; i++) expect(result.x.data[i]).toBeCloseTo(expected[i], 5);
    expect(result.iterations).toBeLessThanOrEqual(3);
  });

  it("returns zero for a zero right-hand side", () => {
    const result = conjugateGradient((x) => x, Tensor.zeros([4]), Tensor.full([4], 3), {
      maxIterations: 5,
      tolerance: 1e-6,
    });
    expect(Array.from(result.x.data)).toEqual([0, 0, 0, 0]);
  });
});
