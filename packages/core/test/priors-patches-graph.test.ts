import { beforeAll, describe, expect, it } from "vitest";
import type { OnnxSession, PatchPriorParams, PatchStride } from "../src/index.js";
import {
  createRng,
  createSchedule,
  createSession,
  PATCH_DIM,
  patchDenoiserGraph,
  patchEigenMixture,
  patchTilingShift,
  referencePatchDenoise,
  releaseSession,
  runSession,
  TweedieError,
} from "../src/index.js";
import { randomOrthogonal } from "../src/testing/index.js";

/**
 * A random 5-component prior over patch vectors: random orthonormal eigenvectors,
 * eigenvalues log-uniform on [1e-4, 0.3] (the range of the fitted prior), means uniform
 * on [-0.6, 0.6] and unequal weights. It exercises the graph without fitting anything.
 */
function randomParams(components: number): PatchPriorParams {
  const rng = createRng("patches-graph-test");
  const d = PATCH_DIM;
  const eigenvectors = new Float32Array(components * d * d);
  for (let c = 0; c < components; c++)
    eigenvectors.set(randomOrthogonal(d, rng.split("v", c)).data, c * d * d);
  const eigenvalues = Float32Array.from(
    rng.split("l").uniform64(components * d),
    (u) => 1e-4 * 3000 ** u,
  );
  const means = Float32Array.from(rng.split("mu").uniform64(components * d), (u) => 1.2 * u - 0.6);
  const raw = Array.from({ length: components }, (_, c) => c + 1);
  const total = raw.reduce((a, b) => a + b, 0);
  const logWeights = Float32Array.from(raw, (w) => Math.log(w / total));
  return { components, logWeights, means, eigenvalues, eigenvectors };
}

const params = randomParams(5);
const eigen = patchEigenMixture(params);
const [N, C, H, W] = [2, 3, 16, 24];
const size = N * C * H * W;

function relativeNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

const vp = createSchedule({ kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 });
const flow = createSchedule({ kind: "rectified-flow", shift: 1 });
/** Pairs of noise levels, one per batch item, from a VP schedule and from rectified flow. */
const LEVELS: [string, [number, number], [number, number]][] = [
  ["VP t 0.05 and 0.3", [vp.alpha(0.05), vp.sigma(0.05)], [vp.alpha(0.3), vp.sigma(0.3)]],
  ["VP t 0.7 and 1", [vp.alpha(0.7), vp.sigma(0.7)], [vp.alpha(1), vp.sigma(1)]],
  ["flow t 0.02 and 0.5", [flow.alpha(0.02), flow.sigma(0.02)], [flow.alpha(0.5), flow.sigma(0.5)]],
  ["flow t 0.9 and 1", [flow.alpha(0.9), flow.sigma(0.9)], [flow.alpha(1), flow.sigma(1)]],
];

/** x_t = alpha x0 + sigma eps for a smooth x0 on [-1, 1], one (alpha, sigma) per item. */
function noisyBatch(levels: [number, number][]): Float32Array {
  const eps = createRng("patches-graph-test").split("eps").normal(size);
  const xt = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const n = Math.floor(i / (C * H * W));
    const pixel = i % (H * W);
    const x0 = 0.8 * Math.sin(0.3 * (pixel % W) + 0.2 * Math.floor(pixel / W) + i / (H * W));
    xt[i] = levels[n][0] * x0 + levels[n][1] * eps[i];
  }
  return xt;
}

async function runGraph(
  session: OnnxSession,
  xt: Float32Array,
  levels: [number, number][],
  g?: Float32Array,
) {
  const feeds = {
    x_t: { dtype: "float32" as const, data: xt, dims: [N, C, H, W] },
    alpha: { dtype: "float32" as const, data: Float32Array.from(levels, (l) => l[0]), dims: [N] },
    sigma: { dtype: "float32" as const, data: Float32Array.from(levels, (l) => l[1]), dims: [N] },
    ...(g === undefined ? {} : { g: { dtype: "float32" as const, data: g, dims: [N, C, H, W] } }),
  };
  const outputs = await runSession(session, feeds);
  return {
    x0Hat: outputs.x0Hat.data as Float32Array,
    vjp: g === undefined ? undefined : (outputs.vjp.data as Float32Array),
  };
}

describe.each([4, 8] as PatchStride[])("patch denoiser graph, stride %i", (stride) => {
  const sessions: Record<string, OnnxSession> = {};

  beforeAll(async () => {
    // Chunks of 5 patches pad the last Scan step (24 and 6 patches per image).
    for (const chunkPatches of [5, 256]) {
      for (const vjp of [false, true]) {
        const bytes = patchDenoiserGraph(params, { stride, vjp, chunkPatches });
        sessions[`${vjp ? "vjp" : "denoiser"}-${chunkPatches}`] = await createSession(bytes);
      }
    }
    return async () => {
      for (const session of Object.values(sessions)) await releaseSession(session);
    };
  }, 60_000);

  it.each(LEVELS)("x0Hat matches float64 reference, %s", async (_, a, b) => {
    const levels = [a, b];
    const xt = noisyBatch(levels);
    const expected = referencePatchDenoise(
      eigen,
      { data: xt, dims: [N, C, H, W] },
      [a[0], b[0]],
      [a[1], b[1]],
      stride,
    );
    for (const chunk of [5, 256]) {
      const { x0Hat } = await runGraph(sessions[`denoiser-${chunk}`], xt, levels);
      expect(relativeNorm(x0Hat, expected.x0Hat), `chunk ${chunk}`).toBeLessThan(1e-4);
    }
  });

  it.each(LEVELS)("vjp matches float64 reference, %s", async (_, a, b) => {
    const levels = [a, b];
    const xt = noisyBatch(levels);
    const g = createRng("patches-graph-test").split("g").normal(size);
    const expected = referencePatchDenoise(
      eigen,
      { data: xt, dims: [N, C, H, W] },
      [a[0], b[0]],
      [a[1], b[1]],
      stride,
      g,
    );
    for (const chunk of [5, 256]) {
      const out = await runGraph(sessions[`vjp-${chunk}`], xt, levels, g);
      expect(relativeNorm(out.x0Hat, expected.x0Hat), `x0Hat, chunk ${chunk}`).toBeLessThan(1e-4);
      expect(
        relativeNorm(out.vjp as Float32Array, expected.vjp as Float64Array),
        `vjp, chunk ${chunk}`,
      ).toBeLessThan(1e-4);
    }
  });

  it.each(LEVELS)("Jacobian is symmetric, %s", async (_, a, b) => {
    const levels = [a, b];
    const xt = noisyBatch(levels);
    const rng = createRng("patches-graph-test");
    const u = rng.split("u").normal(size);
    const v = rng.split("v").normal(size);
    const ju = (await runGraph(sessions["vjp-256"], xt, levels, u)).vjp as Float32Array;
    const jv = (await runGraph(sessions["vjp-256"], xt, levels, v)).vjp as Float32Array;
    // Per batch item, because the items have different noise levels and Jacobians.
    for (let n = 0; n < N; n++) {
      const range = [n * C * H * W, (n + 1) * C * H * W] as const;
      if (levels[n][0] === 0) {
        // alpha = 0: x0Hat is the prior mean whatever x_t is, so J = 0 exactly.
        expect(ju.subarray(...range).every((value) => value === 0)).toBe(true);
        continue;
      }
      const uJv = dot(u.subarray(...range), jv.subarray(...range));
      const vJu = dot(v.subarray(...range), ju.subarray(...range));
      const scale = Math.max(Math.abs(uJv), Math.abs(vJu));
      expect(Math.abs(uJv - vJu) / scale, `item ${n}: u^T J v ${uJv}, v^T J u ${vJu}`).toBeLessThan(
        1e-4,
      );
    }
  });

  it("vjp equals a central difference of the reference denoiser", async () => {
    // alpha > 0 at both levels, so the denoiser is smooth in x_t.
    const levels: [number, number][] = [
      [vp.alpha(0.3), vp.sigma(0.3)],
      [flow.alpha(0.5), flow.sigma(0.5)],
    ];
    const xt = noisyBatch(levels);
    const g = createRng("patches-graph-test").split("direction").normal(size);
    const h = 1e-5;
    const alphas = levels.map((l) => l[0]);
    const sigmas = levels.map((l) => l[1]);
    const shifted = (sign: number) =>
      referencePatchDenoise(
        eigen,
        { data: Float64Array.from(xt, (x, i) => x + sign * h * g[i]), dims: [N, C, H, W] },
        alphas,
        sigmas,
        stride,
      ).x0Hat;
    const plus = shifted(1);
    const minus = shifted(-1);
    const difference = plus.map((p, i) => (p - minus[i]) / (2 * h));
    const { vjp } = await runGraph(sessions["vjp-256"], xt, levels, g);
    expect(relativeNorm(vjp as Float32Array, difference)).toBeLessThan(1e-4);
  });
});

describe("patch tiling shift", () => {
  it("is floor(64 rho) split into row and column offsets", () => {
    // rho = sigma / (alpha + sigma); flow t = 0.3 gives rho = 0.3 and bin 19.
    expect(patchTilingShift(0.7, 0.3, 4)).toEqual([3, 0]);
    expect(patchTilingShift(0.7, 0.3, 8)).toEqual([3, 2]);
    expect(patchTilingShift(1, 0, 4)).toEqual([0, 0]);
    expect(patchTilingShift(0, 1, 4)).toEqual([0, 0]);
    expect(patchTilingShift(0.5, 0.5, 8)).toEqual([0, 4]);
  });

  it("differs between the two items of the test levels", () => {
    const shifts = LEVELS.map(([, a, b]) => [
      patchTilingShift(a[0], a[1], 4),
      patchTilingShift(b[0], b[1], 4),
    ]);
    expect(shifts.some(([a, b]) => a[0] !== b[0] || a[1] !== b[1])).toBe(true);
    expect(shifts.flat().some(([y, x]) => y !== 0 && x !== 0)).toBe(true);
  });
});

describe("referencePatchDenoise", () => {
  it("rejects sides that are not multiples of the stride", () => {
    const xt = new Float32Array(3 * 12 * 12);
    expect(() =>
      referencePatchDenoise(eigen, { data: xt, dims: [1, 3, 12, 12] }, [1], [0.5], 8),
    ).toThrow(TweedieError);
  });
});
