import { describe, expect, it } from "vitest";
import type { OnnxTensor } from "../src/index.js";
import {
  createSession,
  decodeModel,
  GraphBuilder,
  runSession,
  TweedieError,
} from "../src/index.js";

function randomArray(seed: number, length: number): Float32Array {
  // A small LCG keeps these fixtures independent of the project RNG's sequence.
  let state = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function f32(data: Float32Array, dims: number[]): OnnxTensor {
  return { dtype: "float32", data, dims };
}

async function runGraph(graph: GraphBuilder, feeds: Record<string, OnnxTensor>) {
  const session = await createSession(graph.toBytes(), { fileLabel: `${graph.name}.onnx` });
  return runSession(session, feeds);
}

/** Plain float64 [M, K] x [K, N] (batched over the leading dim of a). */
function matmulReference(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  m: number,
  k: number,
  n: number,
  bBatched: boolean,
): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const bOffset = bBatched ? p * k * n : 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) sum += a[p * m * k + i * k + q] * b[bOffset + q * n + j];
        out[p * m * n + i * n + j] = sum;
      }
    }
  }
  return out;
}

/** Plain float64 3x3 convolution with padding 1 (NCHW, weights [Cout, Cin, 3, 3]). */
function conv3x3(
  x: ArrayLike<number>,
  w: Float32Array,
  bias: Float32Array,
  n: number,
  cin: number,
  cout: number,
  h: number,
  width: number,
): Float64Array {
  const out = new Float64Array(n * cout * h * width);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < cout; o++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < width; xx++) {
          let sum = bias[o];
          for (let c = 0; c < cin; c++)
            for (let dy = -1; dy <= 1; dy++)
              for (let dx = -1; dx <= 1; dx++) {
                const yy = y + dy;
                const xs = xx + dx;
                if (yy < 0 || yy >= h || xs < 0 || xs >= width) continue;
                sum +=
                  x[((b * cin + c) * h + yy) * width + xs] *
                  w[((o * cin + c) * 3 + dy + 1) * 3 + dx + 1];
              }
          out[((b * cout + o) * h + y) * width + xx] = sum;
        }
  return out;
}

describe("GraphBuilder", () => {
  it("builds MatMul plus Add that matches float64", async () => {
    const graph = new GraphBuilder({ name: "affine" });
    graph.input("x", "float32", ["N", 5]);
    graph.initializer("w", f32(randomArray(1, 5 * 4), [5, 4]));
    graph.initializer("b", f32(randomArray(2, 4), [4]));
    graph.node("MatMul", ["x", "w"], ["xw"]);
    graph.node("Add", ["xw", "b"], ["y"]);
    graph.output("y", "float32", ["N", 4]);

    const x = randomArray(3, 3 * 5);
    const { y } = await runGraph(graph, { x: f32(x, [3, 5]) });
    const reference = matmulReference(x, randomArray(1, 20), 1, 3, 5, 4, false).map(
      (v, i) => v + randomArray(2, 4)[i % 4],
    );
    expect(y.dims).toEqual([3, 4]);
    expect(maxAbsDiff(y.data as Float32Array, reference)).toBeLessThan(1e-5);
  });

  it("builds a 3-8-3 conv net with a residual", async () => {
    const [n, h, w] = [2, 6, 7];
    const w1 = randomArray(10, 8 * 3 * 9);
    const b1 = randomArray(11, 8);
    const w2 = randomArray(12, 3 * 8 * 9);
    const b2 = randomArray(13, 3);
    const graph = new GraphBuilder({ name: "conv_residual" });
    graph.input("x", "float32", ["N", 3, "H", "W"]);
    graph.initializer("w1", f32(w1, [8, 3, 3, 3]));
    graph.initializer("b1", f32(b1, [8]));
    graph.initializer("w2", f32(w2, [3, 8, 3, 3]));
    graph.initializer("b2", f32(b2, [3]));
    const conv = { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } };
    graph.node("Conv", ["x", "w1", "b1"], ["h1"], conv);
    graph.node("Relu", ["h1"], ["a1"]);
    graph.node("Conv", ["a1", "w2", "b2"], ["h2"], conv);
    graph.node("Add", ["x", "h2"], ["y"]);
    graph.output("y", "float32", ["N", 3, "H", "W"]);

    const x = randomArray(14, n * 3 * h * w);
    const { y } = await runGraph(graph, { x: f32(x, [n, 3, h, w]) });
    const hidden = conv3x3(x, w1, b1, n, 3, 8, h, w).map((v) => Math.max(v, 0));
    const reference = conv3x3(hidden, w2, b2, n, 8, 3, h, w).map((v, i) => v + x[i]);
    expect(y.dims).toEqual([n, 3, h, w]);
    expect(maxAbsDiff(y.data as Float32Array, reference)).toBeLessThan(1e-5);
  });

  it("builds Einsum and batched MatMul", async () => {
    const [batch, m, k, n] = [3, 4, 5, 2];
    const graph = new GraphBuilder({ name: "einsum" });
    graph.input("a", "float32", ["B", m, k]);
    graph.input("b", "float32", ["B", k, n]);
    graph.node("Einsum", ["a", "b"], ["e"], { equation: { string: "bmk,bkn->bmn" } });
    graph.node("MatMul", ["a", "b"], ["p"]);
    graph.output("e", "float32", ["B", m, n]);
    graph.output("p", "float32", ["B", m, n]);

    const a = randomArray(20, batch * m * k);
    const b = randomArray(21, batch * k * n);
    const outputs = await runGraph(graph, { a: f32(a, [batch, m, k]), b: f32(b, [batch, k, n]) });
    const reference = matmulReference(a, b, batch, m, k, n, true);
    expect(maxAbsDiff(outputs.e.data as Float32Array, reference)).toBeLessThan(1e-5);
    expect(maxAbsDiff(outputs.p.data as Float32Array, reference)).toBeLessThan(1e-5);
  });

  it("builds Gather over int64 labels", async () => {
    const table = randomArray(30, 10 * 6);
    const graph = new GraphBuilder({ name: "label_embedding" });
    graph.input("label", "int64", ["N"]);
    graph.initializer("table", f32(table, [10, 6]));
    graph.node("Gather", ["table", "label"], ["embedding"], { axis: { int: 0 } });
    graph.output("embedding", "float32", ["N", 6]);

    const labels = BigInt64Array.from([3n, 0n, 9n]);
    const { embedding } = await runGraph(graph, {
      label: { dtype: "int64", data: labels, dims: [3] },
    });
    const expected = [3, 0, 9].flatMap((row) => Array.from(table.subarray(row * 6, row * 6 + 6)));
    expect(embedding.dims).toEqual([3, 6]);
    expect(Array.from(embedding.data as Float32Array)).toEqual(expected);
  });

  it("writes float, ints and tensor attributes", async () => {
    const graph = new GraphBuilder({ name: "attributes" });
    graph.input("x", "float32", [2, 3]);
    graph.input("i", "int32", [2]);
    graph.node("LeakyRelu", ["x"], ["lr"], { alpha: { float: 0.25 } });
    graph.node("Transpose", ["lr"], ["t"], { perm: { ints: [1, 0] } });
    graph.node("Constant", [], ["c"], {
      value: { tensor: { dtype: "int32", data: Int32Array.from([10, -20]), dims: [2] } },
    });
    graph.node("Add", ["i", "c"], ["ic"]);
    graph.output("t", "float32", [3, 2]);
    graph.output("ic", "int32", [2]);

    const x = Float32Array.from([1, -2, 3, -4, 5, -6]);
    const outputs = await runGraph(graph, {
      x: f32(x, [2, 3]),
      i: { dtype: "int32", data: Int32Array.from([1, 2]), dims: [2] },
    });
    expect(Array.from(outputs.t.data as Float32Array)).toEqual([1, -1, -0.5, 5, 3, -1.5]);
    expect(Array.from(outputs.ic.data as Int32Array)).toEqual([11, -18]);
  });

  it("decodes what it encodes", () => {
    const graph = new GraphBuilder({ name: "roundtrip", docString: "fixture" });
    graph.input("x", "float16", ["N", 3, 16, "W"]);
    graph.node("Identity", ["x"], ["y"]);
    graph.output("y", "float16", ["N", 3, 16, "W"]);
    graph.meta("tweedie.kind", "test");
    const model = decodeModel(graph.toBytes());
    expect(model.irVersion).toBe(8);
    expect(model.opsetImport).toEqual([{ domain: "", version: 17 }]);
    expect(model.graph?.input?.[0].type?.tensorType?.elemType).toBe(10);
    expect(model.graph?.input?.[0].type?.tensorType?.shape?.dim).toEqual([
      { dimParam: "N" },
      { dimValue: 3 },
      { dimValue: 16 },
      { dimParam: "W" },
    ]);
    expect(model.metadataProps).toEqual([{ key: "tweedie.kind", value: "test" }]);
  });

  it("rejects an output no node produces", () => {
    const graph = new GraphBuilder({ name: "dangling" });
    graph.input("x", "float32", [1]);
    graph.output("y", "float32", [1]);
    expect(() => graph.toBytes()).toThrow(TweedieError);
  });

  it("rejects initializer data of the wrong length", () => {
    const graph = new GraphBuilder();
    expect(() => graph.initializer("w", f32(new Float32Array(5), [2, 3]))).toThrow(
      /does not match its dims/,
    );
  });
});
