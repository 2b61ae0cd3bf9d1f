import { GraphBuilder } from "../onnx/builder.js";
import type { AttributeObject, GraphObject } from "../onnx/proto.js";
import { encodeModel, ONNX_ATTRIBUTE_TYPE } from "../onnx/proto.js";
import { PATCH_CHANNELS, PATCH_DIM, PATCH_SIZE } from "./patches-data.js";
import { flushTiny, GraphOps } from "./patches-ops.js";
import type { PatchStride } from "./patches-tiling.js";
import { patchOverlap } from "./patches-tiling.js";

/**
 * The stored patch prior: a K-component Gaussian mixture over 192-value patch vectors,
 * kept in the eigenbasis Sigma_k = V_k diag(l_k) V_k^T. Values are float32 numbers (the
 * package stores float32); the ONNX graphs and the float64 reference both read these.
 */
export interface PatchPriorParams {
  readonly components: number;
  /** log pi_k, K values. */
  readonly logWeights: Float32Array;
  /** mu_k, K x 192, row-major. */
  readonly means: Float32Array;
  /** l_k, K x 192, ascending within each component, all positive. */
  readonly eigenvalues: Float32Array;
  /** V_k, K x 192 x 192, row-major; column j of V_k is the unit eigenvector of l_k[j]. */
  readonly eigenvectors: Float32Array;
}

/** Input and output names of the patch prior graphs; the manifest repeats them. */
export const PATCH_GRAPH_IO = {
  x: "x_t",
  alpha: "alpha",
  sigma: "sigma",
  output: "x0Hat",
  g: "g",
  vjp: "vjp",
} as const;

export interface PatchGraphOptions {
  /** 4: overlapping patches (4 per pixel); 8: non-overlapping. */
  stride: PatchStride;
  /** Adds the input g and the output vjp = J^T g = J g. */
  vjp: boolean;
  /**
   * Patches per image in one step of the graph's Scan loop; 256 unless given. Smaller
   * steps keep the [N, chunk, K x 192] intermediates in cache.
   */
  chunkPatches?: number;
  name?: string;
  docString?: string;
}

/** Per-item coefficient tensors shared by every Scan step, shaped [N, 1, K, d] or [N, 1, K]. */
interface Coefficients {
  vcat: string;
  vcatT: string;
  means: string;
  meanCoords: string;
  invStd: string;
  gainStd: string;
  logConstants: string;
  /** VJP graph only: V_k^T as [K, 192, 192], mu_k as [K, 1, 192], alpha l / D [N, 1, K, d], alpha / sigma^2 [N, 1, 1]. */
  vjp?: { eigenvectorsT: string; meansColumn: string; gain: string; spread: string };
}

/**
 * Builds the ONNX graph of the tiled patch denoiser and, with `vjp`, of its VJP. Inputs:
 * x_t [N, 3, H, W] float32 (H and W positive multiples of the stride), alpha [N] and
 * sigma [N] (and g [N, 3, H, W]). Outputs: x0Hat (and vjp) [N, 3, H, W].
 *
 * Per patch y (192 values) and component k, with z = V_k^T y - alpha V_k^T mu_k and
 * D = alpha^2 l_k + sigma^2:
 *   w_k = softmax_k(log pi_k - sum log D / 2 - sum z^2 / D / 2),
 *   x0Hat = sum_k w_k (mu_k + V_k (alpha l_k / D * z)),
 * the exact posterior mean under the mixture. Its Jacobian is (alpha / sigma^2) times the
 * posterior covariance, symmetric, so the VJP graph evaluates J g = J^T g as
 *   J g = sum_k V_k diag(w_k alpha l_k / D) V_k^T g
 *       + (alpha / sigma^2) sum_k w_k (E_k - x0Hat) ((E_k - x0Hat) . g)
 * with E_k = mu_k + V_k (alpha l_k / D * z), each component's posterior mean. The
 * differences E_k - x0Hat keep float32 accurate at small alpha, where the equivalent form
 * with score differences cancels. sigma^2 is floored at 1e-30 so that sigma = 0 gives
 * finite values; the VJP is meant for sigma > 0.
 *
 * Layout: Transpose and GatherND with per-item row and column indices pad the image
 * circularly and apply the shift; a Conv with 192 one-hot 3 x 8 x 8 kernels at the stride
 * extracts the patches; a Scan loop runs the mixture on chunks of patches (two large
 * MatMuls per chunk, four of the same size with the VJP); ConvTranspose with the same kernels, a fold of
 * the wrapped rows and columns and the inverse GatherND put the patches back, and the
 * result is divided by the overlap count.
 */
export function patchDenoiserGraph(
  params: PatchPriorParams,
  options: PatchGraphOptions,
): Uint8Array {
  const { stride, vjp } = options;
  const io = PATCH_GRAPH_IO;
  const graph = new GraphBuilder({
    name: options.name ?? "patches_denoiser",
    docString: options.docString,
  });
  const ops = new GraphOps(graph);
  const imageDims = ["N", PATCH_CHANNELS, "H", "W"];
  graph.input(io.x, "float32", imageDims);
  graph.input(io.alpha, "float32", ["N"]);
  graph.input(io.sigma, "float32", ["N"]);
  if (vjp) graph.input(io.g, "float32", imageDims);

  const tiling = tilingIndices(ops, stride);
  const coefficients = mixtureCoefficients(ops, params, vjp);
  const kernels = oneHotKernels(ops);

  // 1. Patches [N, P, 192] of x_t (and g) on the shifted circular grid.
  const inputs = vjp ? [io.x, io.g] : [io.x];
  const patchRows = inputs.map((name) => extractPatches(ops, name, tiling, kernels, stride));

  // 2. The mixture on chunks of patches.
  const chunked = chunkPatches(ops, patchRows, options.chunkPatches ?? 256);
  const body = mixtureBody(params.components, coefficients, vjp);
  const scanOutputs = ops.multi("Scan", chunked.chunks, vjp ? 2 : 1, {
    num_scan_inputs: { int: chunked.chunks.length },
  });

  // 3. Back to images, averaged over the patches covering each pixel.
  const results = vjp ? [io.output, io.vjp] : [io.output];
  scanOutputs.forEach((chunks, i) => {
    const patches = unchunkPatches(ops, chunks, chunked);
    const image = recombinePatches(ops, patches, tiling, kernels, stride);
    graph.node("Mul", [image, ops.float32([1 / patchOverlap(stride)], [])], [results[i]]);
    graph.output(results[i], "float32", imageDims);
  });

  const model = graph.toModel();
  const scan = model.graph?.node?.find((node) => node.opType === "Scan");
  if (scan === undefined) throw new Error("patch denoiser graph lost its Scan node");
  const bodyAttribute: AttributeObject & { g: GraphObject } = {
    name: "body",
    type: ONNX_ATTRIBUTE_TYPE.graph,
    g: body,
  };
  scan.attribute = [...(scan.attribute ?? []), bodyAttribute];
  return encodeModel(model);
}

/** Shape values and gather indices of the shifted circular tiling, all int64. */
interface Tiling {
  batch: string;
  height: string;
  width: string;
  /** [N, H + 8 - stride, 1]: padded row r reads image row (r + shiftY) mod H. */
  rowGather: string;
  columnGather: string;
  /** [N, H, 1]: image row i comes from folded row (i - shiftY) mod H. */
  rowScatter: string;
  columnScatter: string;
}

function tilingIndices(ops: GraphOps, stride: PatchStride): Tiling {
  const io = PATCH_GRAPH_IO;
  const shape = ops.op("Shape", [io.x]);
  const dim = (axis: number) => ops.op("Gather", [shape, ops.int64([axis])]);
  const batch = dim(0);
  const height = dim(2);
  const width = dim(3);

  // rho = sigma / (alpha + sigma), bin = floor(64 rho).
  const rho = ops.op("Div", [io.sigma, ops.op("Add", [io.alpha, io.sigma])]);
  const bin = ops.op("Cast", [ops.op("Floor", [ops.op("Mul", [rho, ops.float32([64], [])])])], {
    to: { int: 7 },
  });
  const strideConst = ops.int64([stride]);
  const shiftY = ops.op("Mod", [bin, strideConst]);
  const shiftX = ops.op("Mod", [ops.op("Div", [bin, strideConst]), strideConst]);

  const zero = ops.int64([0], true);
  const one = ops.int64([1], true);
  const scalar = (value: string) => ops.op("Squeeze", [value, ops.int64([0])]);
  const extra = ops.int64([PATCH_SIZE - stride]);
  // Index tables [N, length, 1] of (offset + sign * shift) mod side.
  const table = (side: string, length: string, shift: string, sign: 1 | -1) => {
    const positions = ops.op("Unsqueeze", [
      ops.op("Range", [zero, scalar(length), one]),
      ops.int64([0]),
    ]);
    const offsets = ops.op("Unsqueeze", [shift, ops.int64([1])]);
    const moved =
      sign === 1
        ? ops.op("Add", [positions, offsets])
        : ops.op("Add", [positions, ops.op("Sub", [side, offsets])]);
    return ops.op("Unsqueeze", [ops.op("Mod", [moved, side]), ops.int64([2])]);
  };
  return {
    batch,
    height,
    width,
    rowGather: table(height, ops.op("Add", [height, extra]), shiftY, 1),
    columnGather: table(width, ops.op("Add", [width, extra]), shiftX, 1),
    rowScatter: table(height, height, shiftY, -1),
    columnScatter: table(width, width, shiftX, -1),
  };
}

/** Adds the 192 one-hot kernels [192, 3, 8, 8], kernel j picking value j of the patch vector. */
function oneHotKernels(ops: GraphOps): string {
  const square = ops.op("ConstantOfShape", [ops.int64([PATCH_DIM, PATCH_DIM])], {
    value: { tensor: { dtype: "float32", data: Float32Array.of(0), dims: [1] } },
  });
  return ops.op("Reshape", [
    ops.op("EyeLike", [square]),
    ops.int64([PATCH_DIM, PATCH_CHANNELS, PATCH_SIZE, PATCH_SIZE]),
  ]);
}

function extractPatches(
  ops: GraphOps,
  image: string,
  tiling: Tiling,
  kernels: string,
  stride: PatchStride,
): string {
  // [N, 3, H, W] -> [N, H, W, 3] -> rows gathered [N, Hp, W, 3] -> [N, W, Hp, 3]
  // -> columns gathered [N, Wp, Hp, 3] -> [N, 3, Hp, Wp].
  const hwc = ops.op("Transpose", [image], { perm: { ints: [0, 2, 3, 1] } });
  const rows = ops.op("GatherND", [hwc, tiling.rowGather], { batch_dims: { int: 1 } });
  const swapped = ops.op("Transpose", [rows], { perm: { ints: [0, 2, 1, 3] } });
  const columns = ops.op("GatherND", [swapped, tiling.columnGather], { batch_dims: { int: 1 } });
  const padded = ops.op("Transpose", [columns], { perm: { ints: [0, 3, 2, 1] } });
  const grid = ops.op("Conv", [padded, kernels], { strides: { ints: [stride, stride] } });
  const flat = ops.op("Reshape", [grid, ops.int64([0, PATCH_DIM, -1])]);
  return ops.op("Transpose", [flat], { perm: { ints: [0, 2, 1] } });
}

function recombinePatches(
  ops: GraphOps,
  patches: string,
  tiling: Tiling,
  kernels: string,
  stride: PatchStride,
): string {
  const columnsOfGrid = ops.op("Div", [tiling.width, ops.int64([stride])]);
  const rowsOfGrid = ops.op("Div", [tiling.height, ops.int64([stride])]);
  const gridShape = ops.op(
    "Concat",
    [tiling.batch, ops.int64([PATCH_DIM]), rowsOfGrid, columnsOfGrid],
    { axis: { int: 0 } },
  );
  const grid = ops.op("Reshape", [
    ops.op("Transpose", [patches], { perm: { ints: [0, 2, 1] } }),
    gridShape,
  ]);
  const padded = ops.op("ConvTranspose", [grid, kernels], { strides: { ints: [stride, stride] } });
  // Fold the wrapped rows, undo the row shift, then the same for columns.
  const hwc = ops.op("Transpose", [padded], { perm: { ints: [0, 2, 3, 1] } });
  const rows = ops.op(
    "GatherND",
    [foldWrapped(ops, hwc, tiling.height, stride), tiling.rowScatter],
    {
      batch_dims: { int: 1 },
    },
  );
  const swapped = ops.op("Transpose", [rows], { perm: { ints: [0, 2, 1, 3] } });
  const columns = ops.op(
    "GatherND",
    [foldWrapped(ops, swapped, tiling.width, stride), tiling.columnScatter],
    {
      batch_dims: { int: 1 },
    },
  );
  return ops.op("Transpose", [columns], { perm: { ints: [0, 3, 2, 1] } });
}

/** Adds padded rows side..side+7-stride (axis 1) onto rows 0..7-stride and keeps rows 0..side-1. */
function foldWrapped(ops: GraphOps, value: string, side: string, stride: PatchStride): string {
  const axis = ops.int64([1]);
  const head = ops.op("Slice", [value, ops.int64([0]), side, axis]);
  if (stride === PATCH_SIZE) return head;
  const tail = ops.op("Slice", [value, side, ops.int64([Number.MAX_SAFE_INTEGER]), axis]);
  const missing = ops.op("Sub", [side, ops.int64([PATCH_SIZE - stride])]);
  const zeros = ops.int64([0]);
  const pads = ops.op("Concat", [zeros, zeros, zeros, zeros, zeros, missing, zeros, zeros], {
    axis: { int: 0 },
  });
  return ops.op("Add", [head, ops.op("Pad", [tail, pads])]);
}

interface ChunkedPatches {
  chunks: string[];
  patchCount: string;
}

/**
 * Splits [N, P, 192] patches into [C, N, c, 192] chunks, C = ceil(P / maxChunk) and
 * c = ceil(P / C), zero-padding P to C c.
 */
function chunkPatches(ops: GraphOps, patches: string[], maxChunk: number): ChunkedPatches {
  const shape = ops.op("Shape", [patches[0]]);
  const patchCount = ops.op("Gather", [shape, ops.int64([1])]);
  const one = ops.int64([1]);
  const steps = ops.op("Div", [
    ops.op("Add", [patchCount, ops.int64([maxChunk - 1])]),
    ops.int64([maxChunk]),
  ]);
  const chunk = ops.op("Div", [ops.op("Sub", [ops.op("Add", [patchCount, steps]), one]), steps]);
  const missing = ops.op("Sub", [ops.op("Mul", [steps, chunk]), patchCount]);
  const zeros = ops.int64([0, 0]);
  const pads = ops.op("Concat", [zeros, ops.int64([0]), ops.int64([0]), missing, ops.int64([0])], {
    axis: { int: 0 },
  });
  const chunkShape = ops.op("Concat", [ops.int64([0]), steps, chunk, ops.int64([PATCH_DIM])], {
    axis: { int: 0 },
  });
  const chunks = patches.map((value) => {
    const padded = ops.op("Pad", [value, pads]);
    return ops.op("Transpose", [ops.op("Reshape", [padded, chunkShape])], {
      perm: { ints: [1, 0, 2, 3] },
    });
  });
  return { chunks, patchCount };
}

function unchunkPatches(ops: GraphOps, chunks: string, chunked: ChunkedPatches): string {
  const items = ops.op("Transpose", [chunks], { perm: { ints: [1, 0, 2, 3] } });
  const flat = ops.op("Reshape", [items, ops.int64([0, -1, PATCH_DIM])]);
  return ops.op("Slice", [flat, ops.int64([0]), chunked.patchCount, ops.int64([1])]);
}

/**
 * Adds the weights and the per-item coefficients that the Scan body reads from the outer
 * graph. Weights: Vcat [192, K 192] (column block k is V_k), its transpose and mu [K, 192].
 * Per batch item: alpha V_k^T mu_k, 1 / sqrt(D) and alpha l_k / sqrt(D), each
 * [N, 1, K, 192], and log pi_k - sum log D / 2, [N, 1, K].
 */
function mixtureCoefficients(ops: GraphOps, params: PatchPriorParams, vjp: boolean): Coefficients {
  const k = params.components;
  const d = PATCH_DIM;
  const vcatData = new Float32Array(d * k * d);
  const meanCoordsData = new Float32Array(k * d);
  for (let c = 0; c < k; c++) {
    const block = c * d * d;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++)
        vcatData[i * k * d + c * d + j] = params.eigenvectors[block + i * d + j];
    }
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let i = 0; i < d; i++)
        sum += params.eigenvectors[block + i * d + j] * params.means[c * d + i];
      meanCoordsData[c * d + j] = sum;
    }
  }
  const vcat = ops.weights("eigenvectors", vcatData, [d, k * d]);
  const vcatT = ops.op("Transpose", [vcat], { perm: { ints: [1, 0] } });
  const means = ops.weights("means", params.means, [k, d]);
  const lambda = ops.weights("eigenvalues", params.eigenvalues, [1, 1, k, d]);
  const meanCoords = ops.weights("mean_coordinates", meanCoordsData, [1, 1, k, d]);
  const logWeights = ops.weights("log_weights", params.logWeights, [1, 1, k]);

  const column = ops.int64([-1, 1, 1, 1]);
  const alpha = ops.op("Reshape", [PATCH_GRAPH_IO.alpha, column]);
  const sigma = ops.op("Reshape", [PATCH_GRAPH_IO.sigma, column]);
  const variance = ops.op("Add", [
    ops.op("Mul", [lambda, ops.op("Mul", [alpha, alpha])]),
    ops.op("Mul", [sigma, sigma]),
  ]);
  const invStd = ops.op("Reciprocal", [ops.op("Sqrt", [variance])]);
  const logDet = ops.op("ReduceSum", [ops.op("Log", [variance]), ops.int64([3])], {
    keepdims: { int: 0 },
  });
  const coefficients: Coefficients = {
    vcat,
    vcatT,
    means,
    meanCoords: ops.op("Mul", [meanCoords, alpha]),
    invStd,
    gainStd: ops.op("Mul", [ops.op("Mul", [lambda, alpha]), invStd]),
    logConstants: ops.op("Sub", [logWeights, ops.op("Mul", [logDet, ops.float32([0.5], [])])]),
  };
  if (!vjp) return coefficients;

  // [192, K 192] -> [192, K, 192] -> [K, 192 (j), 192 (i)], with V_k[i][j] at [k][j][i].
  const blocks = ops.op("Reshape", [vcat, ops.int64([d, k, d])]);
  const sigma2 = ops.op("Max", [ops.op("Mul", [sigma, sigma]), ops.float32([1e-30], [])]);
  coefficients.vjp = {
    eigenvectorsT: ops.op("Transpose", [blocks], { perm: { ints: [1, 2, 0] } }),
    meansColumn: ops.op("Reshape", [means, ops.int64([k, 1, d])]),
    gain: ops.op("Div", [ops.op("Mul", [lambda, alpha]), variance]),
    spread: ops.op("Reshape", [ops.op("Div", [alpha, sigma2]), ops.int64([-1, 1, 1])]),
  };
  return coefficients;
}

/**
 * Builds the Scan body, which maps one chunk y [N, c, 192] (and g) to x0Hat (and J g) using
 * the outer graph's coefficients. zs = (V^T y - alpha V^T mu) / sqrt(D) is the whitened
 * coordinate, so sum zs^2 is the quadratic form and alpha l / D z = alpha l / sqrt(D) zs.
 */
function mixtureBody(components: number, co: Coefficients, vjp: boolean): GraphObject {
  const graph = new GraphBuilder({ name: "patches_mixture_step" });
  const ops = new GraphOps(graph, "step_");
  const d = PATCH_DIM;
  const rowsDims = ["N", "chunk", d];
  const y = graph.input("step_y", "float32", rowsDims);
  const g = vjp ? graph.input("step_g", "float32", rowsDims) : undefined;
  const split = ops.int64([0, 0, components, d]);
  const merged = ops.int64([0, 0, components * d]);
  const lastAxis = ops.int64([3]);
  const project = (value: string) => ops.op("Reshape", [ops.op("MatMul", [value, co.vcat]), split]);
  const backProject = (value: string) =>
    ops.op("MatMul", [ops.op("Reshape", [value, merged]), co.vcatT]);

  const zs = ops.op("Mul", [ops.op("Sub", [project(y), co.meanCoords]), co.invStd]);
  const quadratic = ops.op("ReduceSumSquare", [zs], { axes: { ints: [3] }, keepdims: { int: 0 } });
  const logits = ops.op("Sub", [
    co.logConstants,
    ops.op("Mul", [quadratic, ops.float32([0.5], [])]),
  ]);
  const w = flushTiny(ops, ops.op("Softmax", [logits], { axis: { int: -1 } }));
  const wColumn = ops.op("Unsqueeze", [w, lastAxis]);
  if (g === undefined || co.vjp === undefined) {
    // x0Hat = sum_k w_k mu_k + sum_k V_k (w_k alpha l_k / sqrt(D) zs), one concatenated product.
    const weightedGain = ops.op("Mul", [co.gainStd, wColumn]);
    const x0 = ops.op("Add", [
      ops.op("MatMul", [w, co.means]),
      backProject(ops.op("Mul", [zs, weightedGain])),
    ]);
    graph.node("Identity", [x0], ["step_x0"]);
    graph.output("step_x0", "float32", rowsDims);
    return graph.toModel().graph as GraphObject;
  }

  // E_k [N, K, c, 192] for every component, then x0Hat = sum_k w_k E_k.
  const coordinates = ops.op("Transpose", [ops.op("Mul", [zs, co.gainStd])], {
    perm: { ints: [0, 2, 1, 3] },
  });
  const componentMeans = ops.op("Add", [
    ops.op("MatMul", [coordinates, co.vjp.eigenvectorsT]),
    co.vjp.meansColumn,
  ]);
  const wByComponent = ops.op("Unsqueeze", [
    ops.op("Transpose", [w], { perm: { ints: [0, 2, 1] } }),
    lastAxis,
  ]);
  const componentAxis = ops.int64([1]);
  const x0 = ops.op("ReduceSum", [ops.op("Mul", [componentMeans, wByComponent]), componentAxis], {
    keepdims: { int: 0 },
  });
  graph.node("Identity", [x0], ["step_x0"]);
  graph.output("step_x0", "float32", rowsDims);

  // Within components: sum_k V_k (w_k alpha l_k / D * V_k^T g).
  const within = backProject(ops.op("Mul", [project(g), ops.op("Mul", [co.vjp.gain, wColumn])]));
  // Between components: (alpha / sigma^2) sum_k w_k (E_k - x0Hat) ((E_k - x0Hat) . g).
  const deviation = ops.op("Sub", [componentMeans, ops.op("Unsqueeze", [x0, componentAxis])]);
  const along = ops.op(
    "ReduceSum",
    [ops.op("Mul", [deviation, ops.op("Unsqueeze", [g, componentAxis])]), lastAxis],
    { keepdims: { int: 1 } },
  );
  const between = ops.op(
    "ReduceSum",
    [ops.op("Mul", [deviation, ops.op("Mul", [along, wByComponent])]), componentAxis],
    { keepdims: { int: 0 } },
  );
  const jg = ops.op("Add", [within, ops.op("Mul", [between, co.vjp.spread])]);
  graph.node("Identity", [jg], ["step_jg"]);
  graph.output("step_jg", "float32", rowsDims);
  return graph.toModel().graph as GraphObject;
}
