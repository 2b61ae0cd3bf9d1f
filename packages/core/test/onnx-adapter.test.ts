import { describe, expect, it } from "vitest";
import type { Logger } from "../src/index.js";
import {
  availableProviders,
  createMatmulRunner,
  createSession,
  GraphBuilder,
  logAtOrtSeverity,
  onnxruntimeVersion,
  ortSeverityForLevel,
  parseProvider,
  runSession,
  TweedieError,
} from "../src/index.js";

function scaleGraph(): Uint8Array {
  const graph = new GraphBuilder({ name: "scale" });
  graph.input("x", "float32", ["N", 4]);
  graph.initializer("two", { dtype: "float32", data: Float32Array.from([2]), dims: [] });
  graph.node("Mul", ["x", "two"], ["y"]);
  graph.output("y", "float32", ["N", 4]);
  return graph.toBytes();
}

async function errorOf(promise: Promise<unknown>): Promise<TweedieError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TweedieError);
  return error as TweedieError;
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

describe("providers", () => {
  it("parses cpu, cuda and cuda:N", () => {
    expect(parseProvider("cpu")).toEqual({ name: "cpu" });
    expect(parseProvider("cuda")).toEqual({ name: "cuda" });
    expect(parseProvider("CUDA:3")).toEqual({ name: "cuda", deviceId: 3 });
  });

  it("lists valid choices for an unknown provider", () => {
    expect(availableProviders()[0]).toBe("cpu");
    const error = (() => {
      try {
        parseProvider("gpu");
      } catch (e) {
        return e as TweedieError;
      }
      throw new Error("parseProvider accepted gpu");
    })();
    expect(error.code).toBe("invalid_value");
    expect(error.received).toBe("gpu");
    expect(String(error.expected)).toContain("cpu");
    expect(String(error.expected)).toContain("cuda:N");
  });

  it("rejects cuda:0 without the CUDA provider", async () => {
    // The CUDA provider libraries are not part of the onnxruntime-node npm package, so on
    // a machine without them the request must fail instead of falling back to the CPU.
    const error = await errorOf(
      createSession(scaleGraph(), {
        provider: "cuda:0",
        fileLabel: "scale.onnx",
        nativeLogLevel: "off",
      }),
    );
    expect(error.code).toBe("provider_unavailable");
    expect(error.received).toBe("cuda:0");
    expect(error.path).toEqual(["scale.onnx", "provider"]);
    expect(error.message).toContain(`onnxruntime-node ${onnxruntimeVersion()}`);
    expect(error.message).toContain("cuda:0");
    expect(onnxruntimeVersion()).toBe("1.31.1");
  });
});

describe("runSession", () => {
  it("runs with thread options and reports creation to the logger", async () => {
    const logger = recordingLogger();
    const session = await createSession(scaleGraph(), {
      intraOpThreads: 1,
      interOpThreads: 1,
      logger,
      fileLabel: "scale.onnx",
    });
    const { y } = await runSession(session, {
      x: { dtype: "float32", data: Float32Array.from([1, 2, 3, 4]), dims: [1, 4] },
    });
    expect(Array.from(y.data as Float32Array)).toEqual([2, 4, 6, 8]);
    expect(logger.lines).toEqual(["debug onnx session created"]);
  });

  it("serialises overlapping runs in call order", async () => {
    const session = await createSession(scaleGraph());
    // Count runs inside onnxruntime at once: without the queue, all five would enter
    // before the first resolves, because each native run waits for a setImmediate.
    const handle = session.handle as unknown as { run: (...args: unknown[]) => Promise<unknown> };
    const nativeRun = handle.run.bind(handle);
    let inFlight = 0;
    let maxInFlight = 0;
    handle.run = async (...args) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await nativeRun(...args);
      } finally {
        inFlight--;
      }
    };
    const runs = [0, 1, 2, 3, 4].map((k) =>
      runSession(session, {
        x: { dtype: "float32", data: Float32Array.from([k, k, k, k]), dims: [1, 4] },
      }),
    );
    const results = await Promise.all(runs);
    expect(results.map((r) => (r.y.data as Float32Array)[0])).toEqual([0, 2, 4, 6, 8]);
    expect(maxInFlight).toBe(1);
  });

  it("keeps running after a failed run", async () => {
    const session = await createSession(scaleGraph(), { fileLabel: "scale.onnx" });
    const bad = runSession(session, {
      x: { dtype: "float32", data: new Float32Array(3), dims: [1, 3] },
    });
    const good = runSession(session, {
      x: { dtype: "float32", data: new Float32Array(4).fill(1), dims: [1, 4] },
    });
    const error = await errorOf(bad);
    expect(error.code).toBe("shape_mismatch");
    expect(error.expected).toBe("[N, 4]");
    expect(error.received).toBe("[1, 3]");
    expect(Array.from((await good).y.data as Float32Array)).toEqual([2, 2, 2, 2]);
  });

  it("rejects missing and unknown feeds by name", async () => {
    const session = await createSession(scaleGraph(), { fileLabel: "scale.onnx" });
    const missing = await errorOf(runSession(session, {}));
    expect(missing.code).toBe("missing");
    expect(missing.path).toEqual(["scale.onnx", "x"]);
    const unknown = await errorOf(
      runSession(session, {
        x: { dtype: "float32", data: new Float32Array(4), dims: [1, 4] },
        z: { dtype: "float32", data: new Float32Array(1), dims: [1] },
      }),
    );
    expect(unknown.code).toBe("not_found");
    expect(unknown.received).toBe("z");
    const misnamed = await errorOf(
      runSession(session, { z: { dtype: "float32", data: new Float32Array(4), dims: [1, 4] } }),
    );
    expect(misnamed.code).toBe("not_found");
    expect(misnamed.received).toBe("z");
  });

  it("reports a model that fails to load with its label", async () => {
    const error = await errorOf(
      createSession(Uint8Array.from([1, 2, 3]), { fileLabel: "broken.onnx" }),
    );
    expect(error.code).toBe("io_failed");
    expect(error.path).toEqual(["broken.onnx"]);
  });
});

describe("log severity", () => {
  it("maps onnxruntime severities to logger levels", () => {
    const logger = recordingLogger();
    for (const severity of [0, 1, 2, 3, 4]) logAtOrtSeverity(logger, severity, `s${severity}`);
    expect(logger.lines).toEqual(["debug s0", "info s1", "warn s2", "error s3", "error s4"]);
    expect([
      ortSeverityForLevel("debug"),
      ortSeverityForLevel("warn"),
      ortSeverityForLevel("error"),
    ]).toEqual([0, 2, 3]);
  });
});

describe("matmul runner", () => {
  function lcg(seed: number, length: number): Float32Array {
    let state = seed >>> 0;
    return Float32Array.from({ length }, () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 31 - 1;
    });
  }

  function reference(
    a: Float32Array,
    b: Float32Array,
    batch: number,
    m: number,
    k: number,
    n: number,
    bBatched: boolean,
  ): Float64Array {
    const out = new Float64Array(batch * m * n);
    for (let p = 0; p < batch; p++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let q = 0; q < k; q++)
            sum += a[(p * m + i) * k + q] * b[(bBatched ? p * k * n : 0) + q * n + j];
          out[(p * m + i) * n + j] = sum;
        }
    return out;
  }

  function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    return max;
  }

  it("multiplies shared, batched and rank-2 operands", async () => {
    const runner = createMatmulRunner({ intraOpThreads: 1 });
    const [batch, m, k, n] = [3, 17, 64, 9];
    const a = lcg(1, batch * m * k);
    const shared = lcg(2, k * n);
    const perItem = lcg(3, batch * k * n);

    const y1 = await runner.matmul(
      { data: a, dims: [batch, m, k] },
      { data: shared, dims: [k, n] },
    );
    expect(y1.dims).toEqual([batch, m, n]);
    expect(maxAbsDiff(y1.data, reference(a, shared, batch, m, k, n, false))).toBeLessThan(1e-4);

    const y2 = await runner.matmul(
      { data: a, dims: [batch, m, k] },
      { data: perItem, dims: [batch, k, n] },
    );
    expect(maxAbsDiff(y2.data, reference(a, perItem, batch, m, k, n, true))).toBeLessThan(1e-4);

    const a2 = a.subarray(0, m * k);
    const y3 = await runner.matmul({ data: a2, dims: [m, k] }, { data: shared, dims: [k, n] });
    expect(y3.dims).toEqual([m, n]);
    expect(maxAbsDiff(y3.data, reference(a2, shared, 1, m, k, n, false))).toBeLessThan(1e-4);
    await runner.dispose();
  });

  it("rejects operands whose inner dims differ", async () => {
    const runner = createMatmulRunner();
    const error = await errorOf(
      runner.matmul(
        { data: new Float32Array(6), dims: [1, 2, 3] },
        { data: new Float32Array(8), dims: [4, 2] },
      ),
    );
    expect(error.code).toBe("shape_mismatch");
    expect(error.received).toBe("a [1, 2, 3], b [4, 2]");
    await runner.dispose();
  });
});
