import { TweedieError } from "../errors.js";
import type { OnnxSession, SessionOptions } from "./adapter.js";
import { createSession, releaseSession, runSession } from "./adapter.js";
import { GraphBuilder } from "./builder.js";

/** A float32 matrix or stack of matrices, row-major. */
export interface Float32Matrix {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * Runs float32 matrix products through onnxruntime: [B, M, K] x [K, N] (one right-hand
 * matrix shared by the batch), [B, M, K] x [B, K, N] (one per batch item), and the rank-2
 * case [M, K] x [K, N]. Each form has one session with symbolic dims, created on first use
 * and reused for every size; calls are serialised per session by `runSession`.
 */
export interface MatmulRunner {
  matmul(a: Float32Matrix, b: Float32Matrix): Promise<Float32Matrix>;
  dispose(): Promise<void>;
}

type MatmulForm = "shared" | "batched";

function matmulGraph(form: MatmulForm): Uint8Array {
  const graph = new GraphBuilder({ name: `matmul_${form}` });
  graph.input("a", "float32", ["B", "M", "K"]);
  graph.input("b", "float32", form === "shared" ? ["K", "N"] : ["B", "K", "N"]);
  graph.node("MatMul", ["a", "b"], ["y"]);
  graph.output("y", "float32", ["B", "M", "N"]);
  return graph.toBytes();
}

function shapeError(message: string, a: Float32Matrix, b: Float32Matrix): TweedieError {
  return new TweedieError(message, {
    code: "shape_mismatch",
    path: ["matmul"],
    expected: "a [B, M, K] or [M, K] with b [K, N], or a [B, M, K] with b [B, K, N]",
    received: `a [${a.dims.join(", ")}], b [${b.dims.join(", ")}]`,
  });
}

/** Creates a runner whose sessions use `options` (provider, threads, logger). */
export function createMatmulRunner(options: SessionOptions = {}): MatmulRunner {
  const sessions = new Map<MatmulForm, Promise<OnnxSession>>();

  const sessionFor = (form: MatmulForm): Promise<OnnxSession> => {
    let session = sessions.get(form);
    if (session === undefined) {
      session = createSession(matmulGraph(form), { ...options, fileLabel: `matmul_${form}` });
      sessions.set(form, session);
    }
    return session;
  };

  return {
    async matmul(a, b) {
      const aDims = a.dims.length === 2 ? [1, a.dims[0], a.dims[1]] : [...a.dims];
      if (aDims.length !== 3 || (b.dims.length !== 2 && b.dims.length !== 3)) {
        throw shapeError("matmul operands have unsupported ranks", a, b);
      }
      const [batch, rows, inner] = aDims;
      const form: MatmulForm = b.dims.length === 2 ? "shared" : "batched";
      const bInner = form === "shared" ? b.dims[0] : b.dims[1];
      const bBatch = form === "shared" ? batch : b.dims[0];
      if (bInner !== inner || bBatch !== batch || (form === "batched" && a.dims.length === 2)) {
        throw shapeError("matmul operand dims do not agree", a, b);
      }
      const columns = b.dims[b.dims.length - 1];

      const session = await sessionFor(form);
      const outputs = await runSession(session, {
        a: { dtype: "float32", data: a.data, dims: aDims },
        b: { dtype: "float32", data: b.data, dims: [...b.dims] },
      });
      const y = outputs.y;
      if (y.dtype !== "float32") throw shapeError("matmul returned a non-float32 output", a, b);
      const dims = a.dims.length === 2 ? [rows, columns] : [batch, rows, columns];
      return { data: y.data, dims };
    },

    async dispose() {
      const pending = [...sessions.values()];
      sessions.clear();
      for (const session of pending) await releaseSession(await session);
    },
  };
}
