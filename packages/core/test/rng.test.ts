import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { createRng, fnv1a64, mulhi32, philox4x32, TweedieError } from "../src/index.js";

const hex = (words: ArrayLike<number>) => Array.from(words, (w) => w.toString(16).padStart(8, "0"));

describe("philox4x32", () => {
  // Known-answer vectors from Random123's tests/kat_vectors (lines "philox4x32 10 ..." and
  // "philox4x32 7 ..."): counter (4 words), key (2 words), expected output (4 words). An
  // independent Python implementation written from the algorithm gives the same words.
  const vectors: [number, [number, number, number, number], [number, number], string[]][] = [
    [10, [0, 0, 0, 0], [0, 0], ["6627e8d5", "e169c58d", "bc57ac4c", "9b00dbd8"]],
    [
      10,
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      ["408f276d", "41c83b0e", "a20bc7c6", "6d5451fd"],
    ],
    [
      10,
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      ["d16cfe09", "94fdcceb", "5001e420", "24126ea1"],
    ],
    [7, [0, 0, 0, 0], [0, 0], ["5f6fb709", "0d893f64", "4f121f81", "4f730a48"]],
  ];

  it.each(vectors)("matches the Random123 vector (%i rounds)", (rounds, ctr, key, expected) => {
    expect(hex(philox4x32(ctr, key, rounds))).toEqual(expected);
  });

  it("mulhi32 equals the BigInt product", () => {
    const draws = createRng(7).words(2000);
    const cases = [
      [0xffffffff, 0xffffffff],
      [0, 0xffffffff],
      [0xd2511f53, 0xffffffff],
      [0x10000, 0x10000],
    ];
    for (let i = 0; i < draws.length; i += 2) cases.push([draws[i], draws[i + 1]]);
    for (const [a, b] of cases) {
      const expected = Number((BigInt(a) * BigInt(b)) >> 32n);
      expect(mulhi32(a, b), `mulhi32(${a}, ${b})`).toBe(expected);
    }
  });
});

describe("createRng streams", () => {
  // Golden values from an independent Python implementation of the same stream layout
  // (Philox block per counter (block, 0, c2, domain), key derivation by a Philox block at
  // a tagged counter, FNV-1a 64 for strings).
  it("seed 42 words and uniforms match the golden values", () => {
    const rng = createRng(42);
    expect(hex(rng.words(6))).toEqual([
      "9ceaf053",
      "77f5493b",
      "12bf50ad",
      "5742b3d7",
      "fcdb2127",
      "53ba6cfd",
    ]);
    expect(hex(rng.words(3, 5))).toEqual(["53ba6cfd", "838f5a6e", "744e06fb"]);
    expect(Array.from(rng.uniform(4))).toEqual([
      0.6129598617553711, 0.4685865044593811, 0.07323169708251953, 0.3408614993095398,
    ]);
    expect(Array.from(rng.uniform64(3))).toEqual([
      0.1260315820118052, 0.3285213841875647, 0.12313158328691276,
    ]);
  });

  it("seed 42 normals match the golden values", () => {
    const expected = [
      -0.8466609963717628, 0.27508287849377394, -0.872180530724111, -0.42907210925398004,
      1.5087932238087123,
    ];
    const got = createRng(42).normal64(5);
    // Math.log, Math.cos and Math.sin may differ from the C library in the last bit.
    for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i], 14);
  });

  it("split streams match the golden values", () => {
    const child = createRng(42).split("noise", 3);
    const expected = [
      0.02496653212751456, -0.8126882159465972, 0.019525843274327243, 0.5128382112686306,
    ];
    const got = child.normal64(4);
    for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i], 14);
    const far = child.normal64(2, 1000001);
    expect(far[0]).toBeCloseTo(-0.09153825918559838, 14);
    expect(far[1]).toBeCloseTo(1.8388894017438233, 14);
    expect(child.path).toEqual(["noise", 3]);
  });

  it("string seeds hash UTF-8 with FNV-1a 64", () => {
    expect(hex(fnv1a64("run-α"))).toEqual(["a4b119c0", "0c978e75"]);
    expect(Array.from(createRng("run-α").uniform64(2))).toEqual([
      0.6420512141646874, 0.940065374952997,
    ]);
  });

  it("reduces integer seeds modulo 2^64", () => {
    const expected = ["72a47709", "15474739", "9f41b01f", "22799a5a"];
    expect(hex(createRng(-1).words(4))).toEqual(expected);
    expect(hex(createRng(2n ** 64n - 1n).words(4))).toEqual(expected);
    expect(createRng(5).words(4)).toEqual(createRng(5n).words(4));
  });

  it("rejects invalid seeds and keys", () => {
    expect(() => createRng(1.5)).toThrow(TweedieError);
    expect(() => createRng(2n ** 64n)).toThrow(TweedieError);
    expect(() => createRng(1).split(Number.NaN)).toThrow(TweedieError);
    expect(() => createRng(1).normal(-1)).toThrow(TweedieError);
    expect(() => createRng(1).uniform(2, 0.5)).toThrow(TweedieError);
  });

  it("offsets index the same sequence", () => {
    const rng = createRng(9).split("x");
    for (const method of ["words", "uniform", "uniform64", "normal", "normal64"] as const) {
      const all = rng[method](23);
      for (const offset of [0, 1, 2, 3, 5, 7]) {
        const part = rng[method](23 - offset, offset);
        expect(Array.from(part), `${method} at offset ${offset}`).toEqual(
          Array.from(all.slice(offset)),
        );
      }
    }
    expect(rng.uniformAt(11)).toBe(rng.uniform64(23)[11]);
    expect(rng.normalAt(12)).toBe(rng.normal64(23)[12]);
  });

  it("normalTensor reshapes the normal sequence", () => {
    const rng = createRng(3);
    const tensor = rng.normalTensor([2, 3, 4, 5], 10);
    expect(tensor.shape).toEqual([2, 3, 4, 5]);
    expect(Array.from(tensor.data)).toEqual(Array.from(rng.normal(120, 10)));
  });

  it("separates domains, keys and key types", () => {
    const rng = createRng(11);
    const first = (values: ArrayLike<number>) => values[0];
    const distinct = new Set([
      first(rng.uniform64(1)),
      first(rng.normal64(1)),
      first(rng.uniform(1)),
      first(rng.split(1).uniform64(1)),
      first(rng.split("1").uniform64(1)),
      first(rng.split(1, 2).uniform64(1)),
      first(rng.split(2, 1).uniform64(1)),
      first(createRng(12).uniform64(1)),
      first(createRng("11").uniform64(1)),
    ]);
    expect(distinct.size).toBe(9);
    expect(rng.split(1).split(2).uniform64(4)).toEqual(rng.split(1, 2).uniform64(4));
  });

  it("split draws do not depend on draw order", () => {
    const orderAB = createRng(5);
    const a1 = orderAB.split("a").normal(1000);
    const b1 = orderAB.split("b").normal(1000);
    const orderBA = createRng(5);
    const b2 = orderBA.split("b").normal(1000);
    const a2 = orderBA.split("a").normal(1000);
    expect(a2).toEqual(a1);
    expect(b2).toEqual(b1);
    expect(a1).not.toEqual(b1);
  });
});

/** erf in float64 from the series erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) / (2n+1)!!. */
function erf(x: number): number {
  if (x < 0) return -erf(-x);
  if (x > 6) return 1;
  const q = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * q) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-q) * sum;
}

const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

/** Kolmogorov-Smirnov statistic of `values` (sorted in place) against the standard normal. */
function ksStatistic(values: Float64Array): number {
  values.sort();
  const n = values.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const cdf = normalCdf(values[i]);
    d = Math.max(d, (i + 1) / n - cdf, cdf - i / n);
  }
  return d;
}

describe("normal distribution", () => {
  const n = 1_000_000;
  const normals = createRng(2024).split("ks").normal64(n);

  it("erf matches reference values", () => {
    // Python math.erf at the same points.
    expect(erf(0.1)).toBeCloseTo(0.1124629160182849, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(2.5)).toBeCloseTo(0.999593047982555, 14);
    expect(erf(-4)).toBeCloseTo(-0.9999999845827421, 14);
  });

  it("has standard normal moments", () => {
    let mean = 0;
    for (const z of normals) mean += z;
    mean /= n;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    for (const z of normals) {
      const d = z - mean;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
    }
    m2 /= n;
    m3 /= n;
    m4 /= n;
    // Bounds are five standard errors: sqrt(1/n), sqrt(2/n), sqrt(6/n), sqrt(24/n).
    expect(Math.abs(mean)).toBeLessThan(5e-3);
    expect(Math.abs(m2 - 1)).toBeLessThan(7.1e-3);
    expect(Math.abs(m3 / m2 ** 1.5)).toBeLessThan(1.23e-2);
    expect(Math.abs(m4 / (m2 * m2) - 3)).toBeLessThan(2.45e-2);
  });

  it("passes Kolmogorov-Smirnov at the 0.1% level", () => {
    const critical = 1.95 / Math.sqrt(n);
    expect(ksStatistic(normals.slice())).toBeLessThan(critical);
    // The same statistic rejects normals scaled by 1.01 (sup |Phi(x/1.01) - Phi(x)| is
    // about 0.0024), so the check has the power to fail.
    const widened = normals.map((z) => 1.01 * z);
    expect(ksStatistic(widened)).toBeGreaterThan(critical);
  });
});

describe("worker threads", () => {
  const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
  const workerSource = `
    const { parentPort, workerData } = require("node:worker_threads");
    import(workerData.url).then(({ createRng }) => {
      const values = createRng(workerData.seed).split(...workerData.path)
        .normal(workerData.count, workerData.offset);
      parentPort.postMessage(values, [values.buffer]);
    });
  `;

  function drawInWorker(seed: number, path: (string | number)[], count: number, offset: number) {
    return new Promise<Float32Array>((resolve, reject) => {
      const url = pathToFileURL(dist).href;
      const worker = new Worker(workerSource, {
        eval: true,
        workerData: { url, seed, path, count, offset },
      });
      worker.once("message", (values: Float32Array) => {
        resolve(values);
        void worker.terminate();
      });
      worker.once("error", reject);
    });
  }

  it("draws the main thread's stream", async () => {
    expect(existsSync(dist), `${dist} is missing; run tsc -b first`).toBe(true);
    const path = ["cell", 17, "noise"];
    const [first, second] = await Promise.all([
      drawInWorker(123, path, 4096, 0),
      drawInWorker(123, path, 4096, 2048),
    ]);
    const main = createRng(123)
      .split(...path)
      .normal(6144);
    expect(first).toEqual(main.slice(0, 4096));
    expect(second).toEqual(main.slice(2048));
  });
});
