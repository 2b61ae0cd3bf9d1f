import { TweedieError } from "../errors.js";
import type { OnnxSession, SessionOptions } from "../onnx/adapter.js";
import { createSession, releaseSession, runSession } from "../onnx/adapter.js";
import { GraphBuilder } from "../onnx/builder.js";
import type { OnnxTensor } from "../onnx/types.js";
import type { Rng } from "../rng.js";
import type { GaussianMixture } from "./gmm.js";
import { choleskyLogDet, choleskyLower, symmetrizeInPlace } from "./gmm-linalg.js";
import { flushTiny, GraphOps } from "./patches-ops.js";

/**
 * Fits a full-covariance Gaussian mixture to patch vectors: k-means++ seeding and Lloyd
 * iterations, then EM. Control flow and the per-component algebra (Cholesky factors,
 * parameter updates) run in float64 JavaScript. The products over all patches (distances,
 * whitened coordinates, responsibilities and the weighted first and second moments) run
 * in float32 through onnxruntime, one chunk of patches per run, and the chunk sums are
 * accumulated in float64.
 */

export interface PatchMixtureFitOptions {
  /** Number of components K. */
  components: number;
  /** EM iterations after the k-means initialisation. */
  iterations: number;
  /** Added to every covariance diagonal after each update (regularisation); 1e-4 unless given. */
  covarianceFloor?: number;
  /** Lloyd iterations after k-means++ seeding; 5 unless given. */
  kmeansIterations?: number;
  /** Patches per onnxruntime run; 512 unless given. */
  chunkRows?: number;
  /** Seeds k-means++: the seeding uses the 53-bit uniforms 0..K-1 of this stream. */
  rng: Rng;
  /** onnxruntime session options (threads, provider) for the fit's graphs. */
  session?: SessionOptions;
  /** Called after every Lloyd and EM iteration. */
  onIteration?: (progress: PatchFitProgress) => void;
}

export interface PatchFitProgress {
  stage: "kmeans" | "em";
  iteration: number;
  /** k-means: mean squared distance to the nearest centre; EM: mean log-likelihood per patch (nats). */
  objective: number;
}

/** A fitted mixture plus the trace of its fit. */
export interface PatchMixtureFit extends GaussianMixture {
  /** Mean log-likelihood per patch (nats) at the parameters entering each EM iteration. */
  readonly logLikelihoods: readonly number[];
}

/** Sums over a pass of the moments graph, accumulated in float64. */
interface MomentSums {
  objective: number;
  counts: Float64Array;
  first: Float64Array;
  second: Float64Array | undefined;
}

type MomentsMode = "hard" | "hard-second" | "soft" | "score";

/**
 * Builds the graph of one pass over a chunk of patches X [n, d] against K centres M [K, d].
 * With D_k = X - M_k, held transposed as [K, d, n] so that both large products are plain
 * or B-transposed MatMuls:
 * - hard modes: responsibilities R are the one-hot nearest centre; objective = sum of
 *   squared distances to it;
 * - soft and score modes: Z_k = L_k^-1 D_k^T from Sigma_k = L_k L_k^T, logits
 *   C_k - |Z_k|^2 / 2 with C_k = log pi_k - log det(L_k) - d log(2 pi) / 2, R = softmax
 *   over components; objective = sum of log-sum-exp, the log-likelihood of the chunk.
 * Outputs counts = sum_i R_ik, first = sum_i R_ik D_ik and (hard-second, soft)
 * second = sum_i R_ik D_ik D_ik^T; score mode outputs the objective only.
 */
function momentsGraph(mode: MomentsMode, components: number, dim: number): Uint8Array {
  const graph = new GraphBuilder({ name: `patches_fit_${mode}` });
  const ops = new GraphOps(graph);
  const x = graph.input("x", "float32", ["n", dim]);
  const centres = graph.input("centres", "float32", [components, dim]);
  const xT = ops.op("Unsqueeze", [
    ops.op("Transpose", [x], { perm: { ints: [1, 0] } }),
    ops.int64([0]),
  ]);
  const dT = ops.op("Sub", [xT, ops.op("Unsqueeze", [centres, ops.int64([2])])]);
  const keep0 = { keepdims: { int: 0 } };

  let r: string;
  let objective: string;
  if (mode === "hard" || mode === "hard-second") {
    const distance = ops.op("ReduceSumSquare", [dT], { axes: { ints: [1] }, ...keep0 });
    const nearest = ops.op("ArgMin", [distance], { axis: { int: 0 }, ...keep0 });
    const depth = ops.int64([components], true);
    r = ops.op("OneHot", [nearest, depth, ops.float32([0, 1], [2])], { axis: { int: 0 } });
    const closest = ops.op("ReduceMin", [distance], { axes: { ints: [0] }, ...keep0 });
    objective = ops.op("ReduceSum", [closest], keep0);
  } else {
    const inverseFactor = graph.input("inverse_factor", "float32", [components, dim, dim]);
    const logConstants = graph.input("log_constants", "float32", [components]);
    const zT = ops.op("MatMul", [inverseFactor, dT]);
    const quadratic = ops.op("ReduceSumSquare", [zT], { axes: { ints: [1] }, ...keep0 });
    const logits = ops.op("Sub", [
      ops.op("Unsqueeze", [logConstants, ops.int64([1])]),
      ops.op("Mul", [quadratic, ops.float32([0.5], [])]),
    ]);
    const logSum = ops.op("ReduceLogSumExp", [logits], {
      axes: { ints: [0] },
      keepdims: { int: 1 },
    });
    objective = ops.op("ReduceSum", [logSum], keep0);
    r = flushTiny(ops, ops.op("Exp", [ops.op("Sub", [logits, logSum])]));
  }
  graph.node("Identity", [objective], ["objective"]);
  graph.output("objective", "float32", []);
  if (mode === "score") return graph.toBytes();

  graph.node("ReduceSum", [r, ops.int64([1])], ["counts"], keep0);
  graph.output("counts", "float32", [components]);
  const weighted = ops.op("Mul", [dT, ops.op("Unsqueeze", [r, ops.int64([1])])]);
  graph.node("ReduceSum", [weighted, ops.int64([2])], ["first"], keep0);
  graph.output("first", "float32", [components, dim]);
  if (mode === "hard") return graph.toBytes();

  const d = ops.op("Transpose", [dT], { perm: { ints: [0, 2, 1] } });
  graph.node("MatMul", [weighted, d], ["second"]);
  graph.output("second", "float32", [components, dim, dim]);
  return graph.toBytes();
}

/** Sessions of the moments graphs for one (K, d), created on first use. */
class MomentsRunner {
  private readonly sessions = new Map<MomentsMode, Promise<OnnxSession>>();

  constructor(
    readonly components: number,
    readonly dim: number,
    private readonly chunkRows: number,
    private readonly options: SessionOptions,
  ) {}

  private session(mode: MomentsMode): Promise<OnnxSession> {
    let session = this.sessions.get(mode);
    if (session === undefined) {
      const bytes = momentsGraph(mode, this.components, this.dim);
      session = createSession(bytes, { ...this.options, fileLabel: `patches_fit_${mode}` });
      this.sessions.set(mode, session);
    }
    return session;
  }

  /** Runs `mode` over every chunk of `patches` and sums the outputs in float64. */
  async pass(
    mode: MomentsMode,
    patches: Float32Array,
    centres: Float32Array,
    extra: Record<string, OnnxTensor> = {},
  ): Promise<MomentSums> {
    const { components: k, dim } = this;
    const session = await this.session(mode);
    const count = patches.length / dim;
    const sums: MomentSums = {
      objective: 0,
      counts: new Float64Array(k),
      first: new Float64Array(k * dim),
      second:
        mode === "soft" || mode === "hard-second" ? new Float64Array(k * dim * dim) : undefined,
    };
    for (let start = 0; start < count; start += this.chunkRows) {
      const rows = Math.min(this.chunkRows, count - start);
      const outputs = await runSession(session, {
        x: {
          dtype: "float32",
          data: patches.subarray(start * dim, (start + rows) * dim),
          dims: [rows, dim],
        },
        centres: { dtype: "float32", data: centres, dims: [k, dim] },
        ...extra,
      });
      sums.objective += outputs.objective.data[0] as number;
      if (mode === "score") continue;
      addInto(sums.counts, outputs.counts.data as Float32Array);
      addInto(sums.first, outputs.first.data as Float32Array);
      if (sums.second !== undefined) addInto(sums.second, outputs.second.data as Float32Array);
    }
    return sums;
  }

  async dispose(): Promise<void> {
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    for (const session of pending) await releaseSession(await session);
  }
}

function addInto(target: Float64Array, values: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i] += values[i];
}

/**
 * Picks K seed patches by k-means++ (Arthur and Vassilvitskii, 2007) and returns their
 * indices. The first seed is patch floor(u_0 N). Seed k is drawn with probability
 * proportional to the squared distance to the nearest seed so far, by inverting the
 * cumulative sum at u_k times the total. u_k is the 53-bit uniform k of `rng`, and the
 * distances are float64.
 */
export function patchKmeansPlusPlus(
  patches: Float32Array,
  dim: number,
  components: number,
  rng: Rng,
): number[] {
  const count = patches.length / dim;
  if (!Number.isInteger(count) || count < components) {
    throw new TweedieError("k-means++ needs at least one patch per component", {
      code: "invalid_value",
      path: ["patches"],
      expected: `a whole number of ${dim}-value patches, at least ${components}`,
      received: patches.length / dim,
    });
  }
  const uniforms = rng.uniform64(components);
  const chosen = [Math.floor(uniforms[0] * count)];
  const nearest = new Float64Array(count).fill(Number.POSITIVE_INFINITY);
  for (let k = 1; k <= components; k++) {
    const centre = chosen[k - 1] * dim;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const row = i * dim;
      let distance = 0;
      for (let j = 0; j < dim; j++) {
        const diff = patches[row + j] - patches[centre + j];
        distance += diff * diff;
      }
      if (distance < nearest[i]) nearest[i] = distance;
      total += nearest[i];
    }
    if (k === components) break;
    // With every patch on a centre (total 0), fall back to a uniform draw.
    let next = Math.min(count - 1, Math.floor(uniforms[k] * count));
    if (total > 0) {
      const target = uniforms[k] * total;
      let cumulative = 0;
      for (let i = 0; i < count; i++) {
        cumulative += nearest[i];
        if (cumulative > target) {
          next = i;
          break;
        }
      }
    }
    chosen.push(next);
  }
  return chosen;
}

/**
 * Computes the EM inputs for the current parameters: the inverse Cholesky factors L_k^-1,
 * so that z = L_k^-1 (x - mu_k) is whitened, and the log constants C_k.
 */
function emInputs(mixture: GaussianMixture): {
  inverseFactor: Float32Array;
  logConstants: Float32Array;
} {
  const { dim, weights, covariances } = mixture;
  const k = weights.length;
  const inverseFactor = new Float32Array(k * dim * dim);
  const logConstants = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    const block = covariances.subarray(c * dim * dim, (c + 1) * dim * dim);
    const l = choleskyLower(block, dim, `covariances[${c}]`);
    inverseFactor.set(lowerTriangularInverse(l, dim), c * dim * dim);
    const logDet = choleskyLogDet(l, dim);
    logConstants[c] = Math.log(weights[c]) - 0.5 * logDet - 0.5 * dim * Math.log(2 * Math.PI);
  }
  return { inverseFactor, logConstants };
}

/** Inverts a lower-triangular matrix by forward substitution, column by column. */
function lowerTriangularInverse(l: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    out[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let sum = 0;
      for (let p = j; p < i; p++) sum += l[i * n + p] * out[p * n + j];
      out[i * n + j] = -sum / l[i * n + i];
    }
  }
  return out;
}

/**
 * Computes the M-step from moment sums about the previous centres m_k: N_k = counts_k,
 * mu_k = m_k + first_k / N_k, Sigma_k = second_k / N_k - (mu_k - m_k)(mu_k - m_k)^T +
 * floor I, pi_k = N_k / N. A component with N_k below `MIN_MASS` keeps its centre and
 * gets the pooled covariance of the others and weight MIN_MASS / N.
 */
function mStep(
  sums: MomentSums,
  centres: Float64Array,
  dim: number,
  floor: number,
): GaussianMixture {
  const k = sums.counts.length;
  const second = sums.second;
  if (second === undefined) throw new Error("mStep needs second moments");
  const total = sums.counts.reduce((a, b) => a + b, 0);
  const means = new Float64Array(k * dim);
  const covariances = new Float64Array(k * dim * dim);
  const weights = new Float64Array(k);
  const pooled = new Float64Array(dim * dim);
  const empty: number[] = [];

  for (let c = 0; c < k; c++) {
    const mass = sums.counts[c];
    if (mass < MIN_MASS) {
      empty.push(c);
      means.set(centres.subarray(c * dim, (c + 1) * dim), c * dim);
      weights[c] = MIN_MASS;
      continue;
    }
    weights[c] = mass;
    const shift = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      shift[i] = sums.first[c * dim + i] / mass;
      means[c * dim + i] = centres[c * dim + i] + shift[i];
    }
    const block = c * dim * dim;
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < dim; j++) {
        const value = second[block + i * dim + j] / mass - shift[i] * shift[j];
        covariances[block + i * dim + j] = value;
        pooled[i * dim + j] += (mass / total) * value;
      }
    }
  }

  for (const c of empty) covariances.set(pooled, c * dim * dim);
  for (let c = 0; c < k; c++) {
    const block = covariances.subarray(c * dim * dim, (c + 1) * dim * dim);
    symmetrizeInPlace(block, dim);
    for (let i = 0; i < dim; i++) block[i * dim + i] += floor;
  }

  const weightSum = weights.reduce((a, b) => a + b, 0);
  for (let c = 0; c < k; c++) weights[c] /= weightSum;
  return { dim, weights, means, covariances };
}

/** Components with less responsibility mass than this (in patches) count as empty. */
const MIN_MASS = 1e-3;

function checkFitOptions(options: PatchMixtureFitOptions, count: number): void {
  const checks: [string, number, (v: number) => boolean, string][] = [
    [
      "components",
      options.components,
      (v) => Number.isInteger(v) && v >= 1 && v <= count,
      `an integer in [1, ${count}]`,
    ],
    ["iterations", options.iterations, (v) => Number.isInteger(v) && v >= 0, "an integer >= 0"],
    [
      "covarianceFloor",
      options.covarianceFloor ?? 1e-4,
      (v) => v > 0 && Number.isFinite(v),
      "a finite value > 0",
    ],
    [
      "kmeansIterations",
      options.kmeansIterations ?? 5,
      (v) => Number.isInteger(v) && v >= 0,
      "an integer >= 0",
    ],
    [
      "chunkRows",
      options.chunkRows ?? 512,
      (v) => Number.isInteger(v) && v >= 1,
      "an integer >= 1",
    ],
  ];
  for (const [name, value, valid, expected] of checks) {
    if (!valid(value)) {
      throw new TweedieError(`invalid patch mixture fit option ${name}`, {
        code: "invalid_value",
        path: [name],
        expected,
        received: value,
      });
    }
  }
}

/**
 * Fits a K-component full-covariance Gaussian mixture to `patches` (row-major
 * [N, dim] float32). Steps: k-means++ seeding, `kmeansIterations` Lloyd iterations, the
 * Gaussian of each k-means cell as the initial component (weight = cell share), then
 * `iterations` EM iterations with `covarianceFloor` added to every covariance diagonal.
 * Deterministic for a given stream, patch set and onnxruntime build.
 */
export async function fitPatchMixture(
  patches: Float32Array,
  dim: number,
  options: PatchMixtureFitOptions,
): Promise<PatchMixtureFit> {
  const count = patches.length / dim;
  checkFitOptions(options, count);
  const { components, iterations, rng } = options;
  const floor = options.covarianceFloor ?? 1e-4;
  const runner = new MomentsRunner(
    components,
    dim,
    options.chunkRows ?? 512,
    options.session ?? {},
  );
  try {
    // 1. k-means++ seeding and Lloyd iterations.
    const seeds = patchKmeansPlusPlus(patches, dim, components, rng);
    const centres = new Float64Array(components * dim);
    seeds.forEach((index, c) => {
      for (let j = 0; j < dim; j++) centres[c * dim + j] = patches[index * dim + j];
    });
    const kmeansIterations = options.kmeansIterations ?? 5;
    for (let iteration = 0; iteration < kmeansIterations; iteration++) {
      const sums = await runner.pass("hard", patches, Float32Array.from(centres));
      for (let c = 0; c < components; c++) {
        const mass = sums.counts[c];
        if (mass === 0) continue;
        for (let j = 0; j < dim; j++) centres[c * dim + j] += sums.first[c * dim + j] / mass;
      }
      options.onIteration?.({ stage: "kmeans", iteration, objective: sums.objective / count });
    }

    // 2. Initial Gaussians from the k-means cells.
    let mixture = mStep(
      await runner.pass("hard-second", patches, Float32Array.from(centres)),
      centres,
      dim,
      floor,
    );

    // 3. EM.
    const logLikelihoods: number[] = [];
    for (let iteration = 0; iteration < iterations; iteration++) {
      const { inverseFactor, logConstants } = emInputs(mixture);
      const sums = await runner.pass("soft", patches, Float32Array.from(mixture.means), {
        inverse_factor: { dtype: "float32", data: inverseFactor, dims: [components, dim, dim] },
        log_constants: { dtype: "float32", data: logConstants, dims: [components] },
      });
      logLikelihoods.push(sums.objective / count);
      options.onIteration?.({ stage: "em", iteration, objective: sums.objective / count });
      mixture = mStep(sums, mixture.means, dim, floor);
    }
    return { ...mixture, logLikelihoods };
  } finally {
    await runner.dispose();
  }
}

/**
 * Mean log-likelihood per patch (nats) of `patches` under `mixture`, computed with the
 * same float32 onnxruntime graph as the EM E-step.
 */
export async function patchLogLikelihood(
  mixture: GaussianMixture,
  patches: Float32Array,
  options: { chunkRows?: number; session?: SessionOptions } = {},
): Promise<number> {
  const { dim } = mixture;
  const components = mixture.weights.length;
  const runner = new MomentsRunner(
    components,
    dim,
    options.chunkRows ?? 512,
    options.session ?? {},
  );
  try {
    const { inverseFactor, logConstants } = emInputs(mixture);
    const sums = await runner.pass("score", patches, Float32Array.from(mixture.means), {
      inverse_factor: { dtype: "float32", data: inverseFactor, dims: [components, dim, dim] },
      log_constants: { dtype: "float32", data: logConstants, dims: [components] },
    });
    return sums.objective / (patches.length / dim);
  } finally {
    await runner.dispose();
  }
}
