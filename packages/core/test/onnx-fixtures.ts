/**
 * Small real model packages for the model-package tests, built with GraphBuilder. The
 * affine denoiser computes out = 0.5 x + 0.25 tau + table[label, c] with tau the
 * timestep input (or alpha + sigma for alpha-sigma packages), so every output is known.
 */
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OnnxDim, OnnxDtype } from "../src/index.js";
import { GraphBuilder } from "../src/index.js";

export const LABEL_TABLE = Float32Array.from([0, 0, 0, 1, 2, 3, -1, -2, -3, 10, 20, 30]); // [4 labels, 3 channels]

export interface AffineOptions {
  dtype?: "float32" | "float16";
  timestep?: "scaled" | "index" | "alpha-sigma";
  /** Element type of the t input. */
  tDtype?: OnnxDtype;
  label?: boolean;
  /** Dims of x (and the output); symbolic by default. */
  xDims?: OnnxDim[];
  /** Graph input names. */
  names?: { x?: string; t?: string; label?: string; output?: string };
}

const f32 = (values: number[], dims: number[]) => ({
  dtype: "float32" as const,
  data: Float32Array.from(values),
  dims,
});
const i64 = (values: number[]) => ({
  dtype: "int64" as const,
  data: BigInt64Array.from(values.map(BigInt)),
  dims: [values.length],
});

/** Adds the affine body; `vjp` adds the g input and the vjp = 0.5 g output. */
export function affineGraph(options: AffineOptions = {}, vjp = false): Uint8Array {
  const dtype = options.dtype ?? "float32";
  const names = { x: "x", t: "t", label: "label", output: "out", ...options.names };
  const xDims = options.xDims ?? ["N", 3, "H", "W"];
  const graph = new GraphBuilder({ name: vjp ? "affine_vjp" : "affine" });

  graph.input(names.x, dtype, xDims);
  let x = names.x;
  if (dtype === "float16") x = graph.node("Cast", [names.x], ["x32"], { to: { int: 1 } });
  graph.initializer("half", f32([0.5], []));
  graph.initializer("quarter", f32([0.25], []));
  graph.initializer("axes123", i64([1, 2, 3]));
  graph.node("Mul", [x, "half"], ["xs"]);

  let tau: string;
  if (options.timestep === "alpha-sigma") {
    graph.input("alpha", "float32", ["N"]);
    graph.input("sigma", "float32", ["N"]);
    tau = graph.node("Add", ["alpha", "sigma"], ["tau"]);
  } else {
    const tDtype = options.tDtype ?? "float32";
    graph.input(names.t, tDtype, ["N"]);
    tau =
      tDtype === "float32" ? names.t : graph.node("Cast", [names.t], ["tau"], { to: { int: 1 } });
  }
  graph.node("Unsqueeze", [tau, "axes123"], ["tau4"]);
  graph.node("Mul", ["tau4", "quarter"], ["tterm"]);
  let sum = graph.node("Add", ["xs", "tterm"], ["sum"]);

  if (options.label) {
    graph.input(names.label, "int64", ["N"]);
    graph.initializer("table", f32(Array.from(LABEL_TABLE), [4, 3]));
    graph.initializer("axes23", i64([2, 3]));
    graph.node("Gather", ["table", names.label], ["emb"], { axis: { int: 0 } });
    graph.node("Unsqueeze", ["emb", "axes23"], ["emb4"]);
    sum = graph.node("Add", [sum, "emb4"], ["sum_label"]);
  }
  if (dtype === "float16") graph.node("Cast", [sum], [names.output], { to: { int: 10 } });
  else graph.node("Identity", [sum], [names.output]);
  graph.output(names.output, dtype, xDims);

  if (vjp) {
    graph.input("g", dtype, xDims);
    let g = "g";
    if (dtype === "float16") g = graph.node("Cast", ["g"], ["g32"], { to: { int: 1 } });
    const v = graph.node("Mul", [g, "half"], ["v32"]);
    if (dtype === "float16") graph.node("Cast", [v], ["vjp"], { to: { int: 10 } });
    else graph.node("Identity", [v], ["vjp"]);
    graph.output("vjp", dtype, xDims);
  }
  return graph.toBytes();
}

/** Encoder: 2x2 average pooling. Decoder: nearest 2x upsampling. Their VJPs in closed form. */
export function codecGraph(kind: "encoder" | "decoder" | "encoderVjp" | "decoderVjp"): Uint8Array {
  const graph = new GraphBuilder({ name: kind });
  graph.initializer("scales", f32([1, 1, 2, 2], [4]));
  const pool = { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } };
  const upsample = { mode: { string: "nearest" } };
  const [inDims, outDims]: OnnxDim[][] =
    kind === "encoder" || kind === "decoderVjp"
      ? [
          ["N", 3, "H", "W"],
          ["N", 3, "h", "w"],
        ]
      : [
          ["N", 3, "h", "w"],
          ["N", 3, "H", "W"],
        ];
  if (kind === "encoder") {
    graph.input("image", "float32", inDims);
    graph.node("AveragePool", ["image"], ["latent"], pool);
    graph.output("latent", "float32", outDims);
  } else if (kind === "decoder") {
    graph.input("latent", "float32", inDims);
    graph.node("Resize", ["latent", "", "scales"], ["image"], upsample);
    graph.output("image", "float32", outDims);
  } else if (kind === "decoderVjp") {
    // J^T g of nearest 2x upsampling sums each 2x2 block: 4 x average pooling.
    graph.input("latent", "float32", ["N", 3, "h", "w"]);
    graph.input("g", "float32", ["N", 3, "H", "W"]);
    graph.initializer("four", f32([4], []));
    graph.node("AveragePool", ["g"], ["pooled"], pool);
    graph.node("Mul", ["pooled", "four"], ["vjp"]);
    graph.output("vjp", "float32", ["N", 3, "h", "w"]);
  } else {
    // J^T g of 2x2 average pooling spreads g / 4 over each block.
    graph.input("image", "float32", ["N", 3, "H", "W"]);
    graph.input("g", "float32", ["N", 3, "h", "w"]);
    graph.initializer("quarter", f32([0.25], []));
    graph.node("Resize", ["g", "", "scales"], ["spread"], upsample);
    graph.node("Mul", ["spread", "quarter"], ["vjp"]);
    graph.output("vjp", "float32", ["N", 3, "H", "W"]);
  }
  return graph.toBytes();
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export async function tempDir(prefix = "tweedie-onnx-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Writes graphs and a manifest into `dir`; `manifest` fields override the defaults. */
export async function writePackage(
  dir: string,
  graphs: Record<string, Uint8Array>,
  manifest: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const files: Record<string, { path: string; sha256: string }> = {};
  for (const [role, bytes] of Object.entries(graphs)) {
    const path = `${role}.onnx`;
    await writeFile(join(dir, path), bytes);
    files[role] = { path, sha256: sha256(bytes) };
  }
  const full = {
    name: "affine-test",
    version: "1.0.0",
    files,
    parameterisation: "epsilon",
    schedule: { kind: "vp-linear", betaStart: 0.0001, betaEnd: 0.02, steps: 1000 },
    timestepInput: { kind: "scaled", scale: 1000 },
    resolution: null,
    channels: 3,
    space: "pixel",
    conditioning: { kind: "none" },
    learnedVariance: false,
    dtype: "float32",
    io: { x: "x", t: "t", output: "out" },
    spatial: { kind: "multiple", multiple: 4 },
    ...manifest,
  };
  await writeFile(join(dir, "tweedie-model.json"), JSON.stringify(full, null, 2));
  return full;
}
