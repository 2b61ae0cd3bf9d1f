import {
  type Conditioning,
  concatBatch,
  type Denoiser,
  type EditingProblem,
  type Problem,
  type Rng,
  type SolveResult,
  Tensor,
  TweedieError,
} from "@tweedie/core";

/** Returns the problem as an editing problem with a batch-1 source, or throws. */
export function editingOnly(problem: Problem, solver: string): EditingProblem {
  if (problem.kind !== "editing") {
    throw new TweedieError(`${solver} solves editing problems only`, {
      code: "unsupported",
      path: ["problem", "kind"],
      expected: "editing",
      received: problem.kind,
    });
  }
  const { source } = problem;
  const info = problem.denoiser.model.info;
  const channels = info.space === "pixel" ? info.channels : source.shape[1];
  if (source.shape.length !== 4 || source.batch !== 1 || source.shape[1] !== channels) {
    throw new TweedieError(`${solver} needs one source image shaped [1, C, H, W]`, {
      code: "shape_mismatch",
      path: ["problem", "source"],
      expected: `[1, ${channels}, H, W]`,
      received: [...source.shape],
    });
  }
  return problem;
}

/**
 * Resolves prompts into batch-1 conditionings, once per distinct prompt. Prompts pass to
 * the model unchanged (no trimming or bracket removal); the model rejects unknown ones.
 */
export async function conditionPrompts(
  denoiser: Denoiser,
  prompts: readonly string[],
): Promise<Map<string, Conditioning>> {
  const out = new Map<string, Conditioning>();
  for (const prompt of prompts) {
    if (!out.has(prompt)) out.set(prompt, await denoiser.model.condition(prompt, 1));
  }
  return out;
}

/** Returns the source in the model's working space: the image itself, or its latent. */
export async function encodeSource(denoiser: Denoiser, source: Tensor): Promise<Tensor> {
  const model = denoiser.model;
  if (model.info.space === "pixel") return source;
  if (!model.encode || !model.decode) {
    throw new TweedieError("latent model package has no VAE encoder or decoder", {
      code: "unsupported",
      path: [model.info.name, "vae"],
      expected: "encode and decode graphs",
    });
  }
  return model.encode(source);
}

/** Maps a working-space state back to an image on [-1, 1] (decodes latents). */
export async function decodeResult(denoiser: Denoiser, x: Tensor): Promise<Tensor> {
  const model = denoiser.model;
  if (model.info.space === "pixel") return x;
  return model.decode!(x);
}

/** Position of a check: the solver, the sample and the step (counted from 1). */
export interface StepLocation {
  solver: string;
  sample: number;
  step: number;
  totalSteps: number;
}

/** Throws `cancelled` when the signal has fired. Solvers call it between steps. */
export function throwIfCancelled(signal: AbortSignal | undefined, where: StepLocation): void {
  if (signal?.aborted) {
    throw new TweedieError(`${where.solver} cancelled before step ${where.step}`, {
      code: "cancelled",
      path: ["sample", where.sample, "step", where.step],
      cause: signal.reason,
    });
  }
}

/** Largest absolute value, or NaN when any value is not finite. */
export function maxAbs(x: Tensor): number {
  let max = 0;
  for (const value of x.data) {
    if (!Number.isFinite(value)) return Number.NaN;
    const magnitude = Math.abs(value);
    if (magnitude > max) max = magnitude;
  }
  return max;
}

/**
 * Throws `diverged` when the state leaves [-limit, limit] or contains a non-finite value.
 * On [-1, 1] images a state beyond 10 is no image at all. A guidance scale too strong for
 * the prior has made the iteration unstable, and further steps do not undo that.
 */
export function throwIfDiverged(x: Tensor, limit: number, where: StepLocation): void {
  const largest = maxAbs(x);
  if (largest <= limit) return;
  const value = Number.isNaN(largest)
    ? "a non-finite value"
    : `max |x| = ${largest.toPrecision(4)}`;
  throw new TweedieError(
    `${where.solver} diverged at step ${where.step} of ${where.totalSteps}: ${value}, above the limit ${limit}`,
    {
      code: "diverged",
      path: ["sample", where.sample, "step", where.step, "x"],
      expected: `finite values within [-${limit}, ${limit}]`,
      received: Number.isNaN(largest) ? "non-finite" : largest,
      hint: "lower the guidance scale or the step size; the presets for sharp priors say which values stay stable",
    },
  );
}

/** Per-pixel mean and population standard deviation over the samples of x [S, ...]. */
export function sampleStatistics(x: Tensor): { mean: Tensor; std: Tensor } {
  const count = x.batch;
  const size = x.size / count;
  const sum = new Float64Array(size);
  const squares = new Float64Array(size);
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < size; i++) {
      const value = x.data[s * size + i];
      sum[i] += value;
      squares[i] += value * value;
    }
  }
  const mean = new Float32Array(size);
  const std = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const m = sum[i] / count;
    mean[i] = m;
    std[i] = Math.sqrt(Math.max(0, squares[i] / count - m * m));
  }
  const shape = [1, ...x.shape.slice(1)];
  return { mean: new Tensor(mean, shape), std: new Tensor(std, shape) };
}

/**
 * Runs `sampleOne` for samples 0..count-1, each on its own stream rng.split("sample", s),
 * one after another, so a sample's output does not depend on how many others are drawn.
 */
export async function runSamples(
  denoiser: Denoiser,
  count: number,
  rng: Rng,
  sampleOne: (sampleRng: Rng, sample: number) => Promise<Tensor>,
  result: { steps: number; diagnostics: Record<string, unknown> },
): Promise<SolveResult> {
  const nfeBefore = denoiser.nfe;
  const outputs: Tensor[] = [];
  for (let s = 0; s < count; s++) outputs.push(await sampleOne(rng.split("sample", s), s));
  const x = concatBatch(outputs);
  const statistics = count > 1 ? sampleStatistics(x) : {};
  return { x, ...statistics, nfe: denoiser.nfe - nfeBefore, ...result };
}
