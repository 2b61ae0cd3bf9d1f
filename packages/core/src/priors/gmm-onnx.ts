import { TweedieError } from "../errors.js";
import { GraphBuilder } from "../onnx/builder.js";
import type { EigenMixture } from "./gmm.js";

/**
 * Stand-in for log 0 in float32 graphs: Softmax gives such a component weight exactly 0
 * while every sum stays finite.
 */
const LOG_ZERO = -1e30;

/**
 * Smallest sigma^2 in the VJP graph's alpha / sigma^2 factor, so that sigma = 0 yields a
 * finite product with the zero weights of other components instead of 0 * Infinity.
 */
const MIN_SIGMA2 = 1e-30;

/** Settings of a label-conditioned mixture denoiser graph. */
export interface MixtureGraphOptions {
  /** Graph name stored in the model. */
  name: string;
  /** Every component of every label, diagonalised. */
  eigen: EigenMixture;
  /**
   * labels x K log-weights: row l contains log pi_k of label l's mixture, -Infinity for the
   * components it does not use. Each row must have one finite entry at least.
   */
  labelLogWeights: Float64Array;
  labels: number;
  /** [channels, height, width] of one sample; the product must equal the mixture dimension. */
  imageShape: readonly [number, number, number];
  /** Adds the input `g` and the output `vjp` = J^T g = J g. */
  vjp: boolean;
  /** Text stored as the model's doc string. */
  docString?: string;
}

/** Names of the graph inputs and outputs; the model package manifest repeats them. */
export const MIXTURE_GRAPH_IO = {
  x: "x_t",
  alpha: "alpha",
  sigma: "sigma",
  label: "label",
  output: "x0Hat",
  g: "g",
  vjp: "vjp",
} as const;

function checkLabelTable(options: MixtureGraphOptions): void {
  const { eigen, labelLogWeights, labels, imageShape } = options;
  const k = eigen.components;
  if (imageShape[0] * imageShape[1] * imageShape[2] !== eigen.dim) {
    throw new TweedieError("image shape does not match the mixture dimension", {
      code: "shape_mismatch",
      path: ["imageShape"],
      expected: `channels x height x width = ${eigen.dim}`,
      received: [...imageShape],
    });
  }
  if (!Number.isInteger(labels) || labels < 1 || labelLogWeights.length !== labels * k) {
    throw new TweedieError("label log-weights must be a labels x components table", {
      code: "shape_mismatch",
      path: ["labelLogWeights"],
      expected: `${labels} x ${k} values`,
      received: labelLogWeights.length,
    });
  }
  for (let l = 0; l < labels; l++) {
    const row = labelLogWeights.subarray(l * k, (l + 1) * k);
    if (!row.some((v) => Number.isFinite(v))) {
      throw new TweedieError("every label needs one component at least", {
        code: "invalid_value",
        path: ["labelLogWeights", l],
        expected: "a finite log-weight in the row",
        received: Array.from(row),
      });
    }
  }
}

/**
 * Builds the ONNX graph of the exact MMSE denoiser of a label-conditioned Gaussian
 * mixture, and with `vjp` its VJP graph. Inputs: x_t [N, C, H, W] float32, alpha [N],
 * sigma [N], label [N] int64 (and g [N, C, H, W]); outputs x0Hat (and vjp), shaped like
 * x_t. The math is that of `mixtureDenoise` and `mixtureDenoiseJvp`. It runs per
 * component in its eigenbasis on [K, N, d] tensors, so each product is one batched MatMul:
 * r = (x_t - alpha mu_k) U_k, s = alpha^2 l_k + sigma^2, logits = logW[label] -
 * (sum r^2 / s + sum log s) / 2, w = softmax over k, E_k = mu_k + (alpha l_k / s * r) U_k^T.
 * The constant -d/2 log(2 pi) cancels in the softmax and is left out.
 */
export function mixtureDenoiserGraph(options: MixtureGraphOptions): Uint8Array {
  checkLabelTable(options);
  const { eigen, labels, imageShape } = options;
  const k = eigen.components;
  const d = eigen.dim;
  const io = MIXTURE_GRAPH_IO;
  // Opset, IR version and producer are pinned so that the bytes, and the SHA-256 that
  // model package manifests record, change only when this graph changes.
  const graph = new GraphBuilder({
    name: options.name,
    docString: options.docString,
    opset: 17,
    irVersion: 8,
    producerName: "tweedie",
  });
  let counter = 0;
  const fresh = (stem: string) => `${stem}_${counter++}`;
  const op = (type: string, inputs: string[], attributes = {}) =>
    graph.node(type, inputs, [fresh(type.toLowerCase())], attributes);
  const int64s = (values: number[]) =>
    graph.initializer(fresh("shape"), {
      dtype: "int64",
      data: BigInt64Array.from(values, (v) => BigInt(v)),
      dims: [values.length],
    });
  const floats = (stem: string, data: Float32Array, dims: number[]) =>
    graph.initializer(fresh(stem), { dtype: "float32", data, dims });

  // 1. Inputs and constants: mu [K, 1, d], l [K, 1, d], U [K, d, d], logW^T [K, labels].
  const imageDims = ["N", ...imageShape];
  graph.input(io.x, "float32", imageDims);
  graph.input(io.alpha, "float32", ["N"]);
  graph.input(io.sigma, "float32", ["N"]);
  graph.input(io.label, "int64", ["N"]);
  if (options.vjp) graph.input(io.g, "float32", imageDims);
  const mu = floats("mu", Float32Array.from(eigen.mixture.means), [k, 1, d]);
  const lambda = floats("lambda", Float32Array.from(eigen.eigenvalues), [k, 1, d]);
  const u = floats("U", Float32Array.from(eigen.eigenvectors), [k, d, d]);
  const logWT = new Float32Array(k * labels);
  for (let l = 0; l < labels; l++) {
    for (let j = 0; j < k; j++) {
      const value = options.labelLogWeights[l * k + j];
      logWT[j * labels + l] = Number.isFinite(value) ? value : LOG_ZERO;
    }
  }
  const logW = floats("logW", logWT, [k, labels]);
  const uT = op("Transpose", [u], { perm: { ints: [0, 2, 1] } });
  const rowShape = int64s([1, -1, d]);
  const columnShape = int64s([1, -1, 1]);
  const axis0 = int64s([0]);
  const axis2 = int64s([2]);

  // 2. Eigen-coordinates r = (x_t - alpha mu_k) U_k and noisy variances s = alpha^2 l + sigma^2.
  const x = op("Reshape", [io.x, rowShape]);
  const alpha = op("Reshape", [io.alpha, columnShape]);
  const sigma = op("Reshape", [io.sigma, columnShape]);
  const r = op("MatMul", [op("Sub", [x, op("Mul", [mu, alpha])]), u]);
  const sigma2 = op("Mul", [sigma, sigma]);
  const s = op("Add", [op("Mul", [lambda, op("Mul", [alpha, alpha])]), sigma2]);

  // 3. Component weights w [K, N, 1] = softmax over k of the label's log-weight plus the
  //    Gaussian log-density of x_t.
  const quadratic = op("ReduceSum", [op("Div", [op("Mul", [r, r]), s]), axis2], {
    keepdims: { int: 0 },
  });
  const logDet = op("ReduceSum", [op("Log", [s]), axis2], { keepdims: { int: 0 } });
  const half = floats("half", Float32Array.of(0.5), []);
  const prior = op("Gather", [logW, io.label], { axis: { int: 1 } });
  const logits = op("Sub", [prior, op("Mul", [half, op("Add", [quadratic, logDet])])]);
  const w = op("Unsqueeze", [op("Softmax", [logits], { axis: { int: 0 } }), axis2]);

  // 4. Per-component posterior means in the eigenbasis: c = alpha l / s * r.
  const gain = op("Div", [op("Mul", [lambda, alpha]), s]);
  const c = op("Mul", [gain, r]);
  const outShape = op("Shape", [io.x]);
  const keep = { keepdims: { int: 0 } };

  if (!options.vjp) {
    // 5. x0Hat = sum_k w_k (mu_k + c_k U_k^T).
    const back = op("MatMul", [op("Mul", [c, w]), uT]);
    const x0 = op("ReduceSum", [op("Add", [back, op("Mul", [mu, w])]), axis0], keep);
    graph.node("Reshape", [x0, outShape], [io.output]);
    graph.output(io.output, "float32", imageDims);
    return graph.toBytes();
  }

  // 5. E_k = mu_k + c_k U_k^T and x0Hat = sum_k w_k E_k.
  const ek = op("Add", [op("MatMul", [c, uT]), mu]);
  const x0 = op("ReduceSum", [op("Mul", [ek, w]), axis0], { keepdims: { int: 1 } });
  graph.node("Reshape", [x0, outShape], [io.output]);

  // 6. J g = sum_k w_k U_k diag(gain) U_k^T g + (alpha / sigma^2) sum_k w_k D_k (D_k . g),
  //    D_k = E_k - x0Hat; J is symmetric, so this is also the VJP.
  const g = op("Reshape", [io.g, rowShape]);
  const within = op("MatMul", [op("Mul", [op("Mul", [op("MatMul", [g, u]), gain]), w]), uT]);
  const spread = floats("min_sigma2", Float32Array.of(MIN_SIGMA2), []);
  const scale = op("Div", [alpha, op("Max", [sigma2, spread])]);
  const deviation = op("Sub", [ek, x0]);
  const along = op("ReduceSum", [op("Mul", [deviation, g]), axis2], { keepdims: { int: 1 } });
  const between = op("Mul", [op("Mul", [op("Mul", [deviation, along]), w]), scale]);
  const jg = op("ReduceSum", [op("Add", [within, between]), axis0], keep);
  graph.node("Reshape", [jg, outShape], [io.vjp]);
  graph.output(io.output, "float32", imageDims);
  graph.output(io.vjp, "float32", imageDims);
  return graph.toBytes();
}
