import {
  type Conditioning,
  Denoiser,
  type Problem,
  type RestorationProblem,
  type Rng,
  rescheduleModel,
  type SolveOptions,
  type SolveResult,
  type Solver,
  sameShape,
  sampleStatistics,
  selectVjpMode,
  Tensor,
  TweedieError,
  type VarianceSteps,
  type VjpMode,
} from "@tweedie/core";
import { residualNormGradient } from "./gradient.js";
import type { DpsParams } from "./params.js";
import { createDdpmGrid, type DdpmGrid } from "./respacing.js";

/** Variance of the ancestral step after resolving `auto`. */
export type DpsVariance = "learned" | "posterior" | "large";

/** Everything one sampling loop shares across steps. */
interface LoopState {
  problem: RestorationProblem;
  denoiser: Denoiser;
  grid: DdpmGrid;
  cond: Conditioning;
  mode: VjpMode;
  variance: DpsVariance;
  /** One stream per sample: rng.split("sample", firstSample + s). */
  sampleRngs: Rng[];
  /** rng.split("sample", firstSample + s, "step"), split again by the step index. */
  stepRngs: Rng[];
  firstSample: number;
  shape: readonly number[];
}

interface StepOutput {
  x: Tensor;
  x0Hat: Tensor;
  residualNorms: Float64Array | null;
}

/** DDPM's schedule: linear betas 1e-4 to 0.02 over 1000 steps. */
const DDPM_SCHEDULE = { kind: "vp-linear", betaStart: 1e-4, betaEnd: 0.02, steps: 1000 } as const;

/**
 * DPS walks a discrete DDPM chain. A model that takes (alpha, sigma) as inputs, such as
 * the exact embedded priors, declares a continuous schedule; it is run on DDPM's linear
 * one through `rescheduleModel`, which feeds the network its own equivalent state. Other
 * models keep their schedule, and a continuous one is rejected when the grid is built.
 */
function discreteDenoiser(denoiser: Denoiser): Denoiser {
  if (denoiser.schedule.steps !== null) return denoiser;
  if (denoiser.model.info.timestepInput.kind !== "alpha-sigma") return denoiser;
  return new Denoiser(rescheduleModel(denoiser.model, DDPM_SCHEDULE), {
    vjpMode: denoiser.vjpMode,
  });
}

/**
 * Diffusion Posterior Sampling (Chung, Kim, McCann, Klasky and Ye, ICLR 2023,
 * arXiv:2209.14687), Algorithm 1 as the official code runs it: a DDPM ancestral step
 * built from the clipped Tweedie estimate, followed by the guidance step
 * x_{i-1} = x'_{i-1} - zeta grad_{x_i} ||y - A(x0Hat(x_i))||
 * on the plain norm of each sample's residual. The update never uses sigmaY.
 *
 * Legend (name: symbol of the paper): xt: x_i; x0Hat: \hat{x}_0; alphaBar: \bar{\alpha}_i;
 * betas: beta_i; posteriorVariance: \tilde{\sigma}_i^2; zeta: zeta_i; noise: z.
 */
export class DpsSolver implements Solver {
  constructor(readonly params: DpsParams) {}

  async solve(problem: Problem, rng: Rng, options: SolveOptions = {}): Promise<SolveResult> {
    const checked = checkProblem(problem);
    const denoiser = discreteDenoiser(checked.denoiser);
    const { params } = this;
    const sampleRngs = Array.from({ length: params.samples }, (_, s) =>
      rng.split("sample", params.sampleOffset + s),
    );
    const state: LoopState = {
      problem: checked,
      denoiser,
      grid: createDdpmGrid(denoiser.schedule, params.steps),
      cond: await denoiser.model.condition(checked.prompt ?? "", params.samples),
      mode: selectVjpMode(denoiser.model, params.gradient),
      variance: resolveVariance(params, denoiser),
      sampleRngs,
      stepRngs: sampleRngs.map((sampleRng) => sampleRng.split("step")),
      firstSample: params.sampleOffset,
      shape: [params.samples, ...checked.shape],
    };
    const nfeStart = denoiser.nfe;
    const vjpStart = denoiser.vjpEvaluations;

    let x = initialNoise(state);
    let residualNorms: Float64Array | null = null;
    for (let i = params.steps - 1; i >= 0; i--) {
      const step = params.steps - i;
      if (options.signal?.aborted) {
        throw new TweedieError("DPS solve cancelled", {
          code: "cancelled",
          path: ["step", step],
          expected: "no abort before the last step",
          received: "aborted",
        });
      }
      const output = await this.step(state, x, i);
      x = output.x;
      residualNorms = output.residualNorms ?? residualNorms;
      options.onStep?.({
        step,
        totalSteps: params.steps,
        t: state.grid.times[i],
        nfe: denoiser.nfe - nfeStart,
        x0Hat: output.x0Hat,
      });
    }

    if (params.clipX0) clampInPlace(x.data);
    const statistics = params.samples > 1 ? sampleStatistics(x) : undefined;
    return {
      x,
      mean: statistics?.mean,
      std: statistics?.std,
      nfe: denoiser.nfe - nfeStart,
      steps: params.steps,
      diagnostics: {
        solver: "dps",
        params: { ...params },
        gradientMode: params.zeta > 0 ? state.mode : "none",
        variance: state.variance,
        respaced: params.steps < state.grid.trainSteps,
        trainSteps: state.grid.trainSteps,
        vjpEvaluations: denoiser.vjpEvaluations - vjpStart,
        sigmaY: checked.sigmaY,
        sigmaYUsed: false,
        schedule:
          denoiser === checked.denoiser ? "model" : "vp-linear (model accepts any noise level)",
        residualNorms: residualNorms ? Array.from(residualNorms) : [],
        seedRule:
          'sample s: x_T from rng.split("sample", s, "init"), the noise of sampling step i from rng.split("sample", s, "step", i)',
      },
    };
  }

  /** Runs sampling step i (training step grid.timesteps[i]) for every sample at once. */
  private async step(state: LoopState, xt: Tensor, i: number): Promise<StepOutput> {
    const { grid, denoiser } = state;
    const { params } = this;
    const t = grid.times[i];

    // 1. Tweedie estimate: x0Hat = (x_t - sqrt(1 - alphaBar_i) epsHat) / sqrt(alphaBar_i), unclipped.
    const denoised = await denoiser.denoise(xt, t, state.cond, {
      clipX0: false,
      varianceSteps: varianceSteps(grid, i),
    });
    checkFinite(denoised.x0Hat, "x0Hat", state, i);

    // 2. Clip x0Hat to [-1, 1]. The clip's gradient is zero where it saturates.
    const x0Hat = denoised.x0Hat;
    const clipMask = params.clipX0 ? clampInPlace(x0Hat.data) : null;

    // 3. Ancestral step from the DDPM posterior q(x_{i-1} | x_i, x0Hat):
    //    x' = meanX0 x0Hat + meanXt x_t + std z, with no noise at the last step.
    const next = ancestralStep(state, params, xt, x0Hat, denoised.logVariance, i);

    // 4. Guidance: x_{i-1} = x' - zeta grad_{x_t} ||y - A(x0Hat)||, per sample.
    let residualNorms: Float64Array | null = null;
    if (params.zeta > 0) {
      const result = await residualNormGradient({
        denoiser,
        operator: state.problem.operator,
        y: state.problem.y,
        xt,
        t,
        cond: state.cond,
        x0Hat,
        clipMask,
        mode: state.mode,
        probe: params.fdProbe * denoiser.schedule.sigma(t),
      });
      checkFinite(result.gradient, "gradient", state, i);
      const g = result.gradient.data;
      for (let j = 0; j < next.length; j++) next[j] -= params.zeta * g[j];
      residualNorms = result.residualNorms;
    }

    const x = new Tensor(next, xt.shape);
    checkFinite(x, "x_t", state, i);
    return { x, x0Hat, residualNorms };
  }
}

/** Checks the problem before any work: its kind, sigmaY, y and the unknown's shape. */
function checkProblem(problem: Problem): RestorationProblem {
  if (problem.kind !== "restoration") {
    throw new TweedieError("DPS solves restoration problems only", {
      code: "unsupported",
      path: ["problem", "kind"],
      expected: "restoration",
      received: problem.kind,
    });
  }
  // DPS's update never uses sigmaY, so 0 (noise-free) is accepted as it is.
  if (!(Number.isFinite(problem.sigmaY) && problem.sigmaY >= 0)) {
    throw new TweedieError("sigmaY must be finite and non-negative", {
      code: "invalid_value",
      path: ["problem", "sigmaY"],
      expected: "a finite number >= 0",
      received: problem.sigmaY,
    });
  }
  const { info } = problem.denoiser.model;
  if (info.space !== "pixel") {
    throw new TweedieError("DPS runs on pixel-space models only", {
      code: "unsupported",
      path: [info.name, "space"],
      expected: "pixel",
      received: info.space,
    });
  }
  const { operator, y, shape } = problem;
  if (!sameShape(shape, operator.inputShape)) {
    throw new TweedieError("problem shape differs from the operator's input shape", {
      code: "shape_mismatch",
      path: ["problem", "shape"],
      expected: [...operator.inputShape],
      received: [...shape],
    });
  }
  if (!sameShape(y.shape.slice(1), operator.outputShape)) {
    throw new TweedieError("y does not have the operator's output shape", {
      code: "shape_mismatch",
      path: ["problem", "y"],
      expected: [1, ...operator.outputShape],
      received: [...y.shape],
    });
  }
  if (!y.isFinite()) {
    throw new TweedieError("y contains non-finite values", {
      code: "non_finite",
      path: ["problem", "y"],
      expected: "finite values",
      received: "NaN or Infinity",
    });
  }
  return problem;
}

function resolveVariance(params: DpsParams, denoiser: Denoiser): DpsVariance {
  const learned = denoiser.model.info.learnedVariance;
  if (params.variance === "learned" && !learned) {
    throw new TweedieError("the model has no learned variance", {
      code: "unsupported",
      path: ["variance"],
      expected: '"posterior", "large" or "auto" for this model',
      received: params.variance,
    });
  }
  let variance: DpsVariance;
  if (params.variance !== "auto") variance = params.variance;
  else if (learned) variance = "learned";
  else variance = "posterior";
  if (params.eta !== 1 && variance !== "posterior") {
    throw new TweedieError(`eta ${params.eta} needs the posterior variance`, {
      code: "invalid_value",
      path: ["eta"],
      expected: `eta 1 with variance "${variance}"`,
      received: params.eta,
    });
  }
  return variance;
}

/** x_T ~ N(0, I) in the operator's input shape, sample s from rng.split("sample", s, "init"). */
function initialNoise(state: LoopState): Tensor {
  const size = state.shape.slice(1).reduce((product, dim) => product * dim, 1);
  const data = new Float32Array(state.sampleRngs.length * size);
  state.sampleRngs.forEach((sampleRng, s) => {
    data.set(sampleRng.split("init").normal(size), s * size);
  });
  return new Tensor(data, state.shape);
}

/** Neighbouring training steps for the learned variance on a respaced grid. */
function varianceSteps(grid: DdpmGrid, i: number): VarianceSteps {
  const steps: VarianceSteps = { previousIndex: i > 0 ? grid.timesteps[i - 1] : -1 };
  if (i === 0 && grid.timesteps.length > 1) steps.nextIndex = grid.timesteps[1];
  return steps;
}

/**
 * Mean and noise of the reverse step from x_t, in float64 per value, rounded once.
 * eta = 1 uses the DDPM posterior mean; other eta use the DDIM mean
 * sqrt(alphaBar_{i-1}) x0Hat + sqrt(1 - alphaBar_{i-1} - eta^2 betaTilde_i) epsHat, with
 * epsHat recomputed from the clipped x0Hat.
 */
function ancestralStep(
  state: LoopState,
  params: DpsParams,
  xt: Tensor,
  x0Hat: Tensor,
  logVariance: Tensor | undefined,
  i: number,
): Float32Array {
  const { grid } = state;
  const out = new Float32Array(xt.size);
  const x = xt.data;
  const x0 = x0Hat.data;
  if (params.eta === 1) {
    for (let j = 0; j < out.length; j++) out[j] = grid.meanX0[i] * x0[j] + grid.meanXt[i] * x[j];
  } else {
    const sqrtAlphaBar = Math.sqrt(grid.alphaBar[i]);
    const sqrtOneMinus = Math.sqrt(1 - grid.alphaBar[i]);
    const c0 = Math.sqrt(grid.alphaBarPrevious[i]);
    const cEps = Math.sqrt(
      Math.max(0, 1 - grid.alphaBarPrevious[i] - params.eta ** 2 * grid.posteriorVariance[i]),
    );
    for (let j = 0; j < out.length; j++) {
      const epsHat = (x[j] - sqrtAlphaBar * x0[j]) / sqrtOneMinus;
      out[j] = c0 * x0[j] + cEps * epsHat;
    }
  }
  if (i === 0) return out;

  const size = out.length / state.sampleRngs.length;
  const fixedStd =
    state.variance === "large"
      ? Math.sqrt(grid.betas[i])
      : params.eta * Math.sqrt(grid.posteriorVariance[i]);
  state.stepRngs.forEach((stepRng, s) => {
    const noise = stepRng.split(i).normal(size);
    const offset = s * size;
    if (state.variance === "learned" && logVariance) {
      const logs = logVariance.data;
      for (let j = 0; j < size; j++) out[offset + j] += Math.exp(0.5 * logs[offset + j]) * noise[j];
    } else {
      for (let j = 0; j < size; j++) out[offset + j] += fixedStd * noise[j];
    }
  });
  return out;
}

/** Clamps values to [-1, 1] in place; returns 1 where a value was inside (the gradient passes). */
function clampInPlace(values: Float32Array): Uint8Array {
  const mask = new Uint8Array(values.length);
  for (let j = 0; j < values.length; j++) {
    const value = values[j];
    if (value < -1) values[j] = -1;
    else if (value > 1) values[j] = 1;
    else mask[j] = 1;
  }
  return mask;
}

/** Throws `non_finite` naming the first sample, the step and the tensor with a NaN or Infinity. */
function checkFinite(tensor: Tensor, name: string, state: LoopState, i: number): void {
  const size = tensor.size / tensor.batch;
  const data = tensor.data;
  for (let j = 0; j < data.length; j++) {
    if (Number.isFinite(data[j])) continue;
    const sampleIndex = state.firstSample + Math.floor(j / size);
    const step = state.grid.times.length - i;
    throw new TweedieError(`non-finite value in ${name} of sample ${sampleIndex} at step ${step}`, {
      code: "non_finite",
      path: ["sample", sampleIndex, "step", step, name],
      expected: "finite values",
      received: String(data[j]),
    });
  }
}
