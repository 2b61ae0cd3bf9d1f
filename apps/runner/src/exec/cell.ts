import { performance } from "node:perf_hooks";
import {
  createRng,
  Denoiser,
  type Model,
  norm,
  type Operator,
  type Problem,
  renderError,
  type SolveResult,
  sub,
  type Tensor,
  TweedieError,
} from "@tweedie/core";
import { type MetricResult, type ScoreRecord, score } from "@tweedie/eval";
import { buildOperator, measure } from "@tweedie/operators";
import { solverRegistry } from "../solvers/registry.js";
import type { Artifact, ResultStore } from "../store/results.js";
import { encodePng, encodeTensorNpy } from "./encode.js";
import { storeFailure } from "./failure.js";
import { loadItemImage } from "./item-pixels.js";
import type { CellJob, CellOutcome } from "./job.js";
import type { EditScore } from "./models.js";

export interface CellContext {
  loadModel(job: CellJob): Promise<Model>;
  store(job: CellJob): ResultStore;
  /** Extra scorers for editing cells (the digits Bayes classifier, the fashion CNN). */
  editingScores?: (job: CellJob, output: Tensor, targetPrompt: string) => Promise<EditScore[]>;
}

const registry = solverRegistry();

/**
 * Runs one cell and stores it: loads the item, builds the seeded measurement, solves,
 * scores, writes the images and `.npy` outputs, then `record.json` last. A failure is
 * stored as a "failed" record with the error and returned as data, so the run goes on.
 */
export async function executeCell(job: CellJob, ctx: CellContext): Promise<CellOutcome> {
  const started = performance.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => {
    timings[name] = (performance.now() - since) / 1000;
    return performance.now();
  };
  const store = ctx.store(job);
  const { cell } = job;
  try {
    let mark = performance.now();
    const item = await loadItemImage(job.dataset, job.item);
    const model = await ctx.loadModel(job);
    mark = lap("load", mark);

    const plugin = registry.get(cell.solver.name);
    if (!plugin) {
      throw new TweedieError("unknown solver", {
        code: "not_found",
        path: ["solver"],
        expected: [...registry.keys()],
        received: cell.solver.name,
      });
    }
    const params = plugin.paramsSchema.parse(cell.solver.params);
    const denoiser = new Denoiser(model, denoiserOptions(params));
    // Every random draw of the cell hangs off (seed, item content, sample): the operator's
    // random kernel or mask, the measurement noise and the solver each get their own stream.
    const root = createRng(cell.seed).split("item", cell.item.contentHash, "sample", cell.sample);

    const artifacts: Artifact[] = [];
    const extra: Record<string, unknown> = { source: item.source };
    let problem: Problem;
    let operator: Operator | undefined;
    let y: Tensor | undefined;
    let sigmaY = 0;
    if (cell.task.kind === "restoration") {
      const imageShape = item.x.shape.slice(1);
      operator = buildOperator(withSeed(cell.task.operator, cell.seed, cell.item.contentHash), {
        imageShape,
      });
      const measurement = measure(operator, item.x, cell.task.noise, root.split("noise"));
      y = measurement.y;
      sigmaY = measurement.record.sigmaApplied ?? 0;
      extra.operator = operator.spec;
      extra.noise = measurement.record;
      // Restoration is unconditional unless the task names a prompt. A dataset's labels are
      // ground truth, so they reach the solver only when the task requests the item's prompt.
      problem = {
        kind: "restoration",
        denoiser,
        operator,
        y,
        sigmaY,
        shape: imageShape,
        ...(cell.task.prompt !== undefined ? { prompt: cell.task.prompt } : {}),
      };
      if (y.shape.length === 4 && (y.shape[1] === 1 || y.shape[1] === 3)) {
        artifacts.push({
          name: "measurement.png",
          body: await encodePng(y),
          contentType: "image/png",
        });
      }
      artifacts.push({
        name: "measurement.npy",
        body: encodeTensorNpy(y),
        contentType: "application/octet-stream",
      });
    } else {
      const prompts = editingPrompts(job);
      extra.prompts = prompts;
      problem = {
        kind: "editing",
        denoiser,
        source: item.x,
        sourcePrompt: prompts.source,
        targetPrompt: prompts.target,
      };
    }
    mark = lap("measure", mark);

    const result = await plugin.create(params).solve(problem, root.split("solver"));
    checkOutput(result, job);
    mark = lap("solve", mark);

    const scores = scoreOutputs(job, item.x, result, operator, y, sigmaY);
    if (problem.kind === "editing" && ctx.editingScores) {
      const extraScores = await ctx.editingScores(job, result.x.item(0), problem.targetPrompt);
      const requested = job.metrics.names;
      for (const { name, value, formula } of extraScores) {
        if (requested.length > 0 && !requested.includes(name)) continue;
        scores.metrics[name] = value;
        scores.results.push(customResult(job, name, value, true, formula));
      }
    }
    mark = lap("metrics", mark);

    artifacts.push({
      name: "output.png",
      body: await encodePng(result.x),
      contentType: "image/png",
    });
    artifacts.push({
      name: "output.npy",
      body: encodeTensorNpy(result.x),
      contentType: "application/octet-stream",
    });
    artifacts.push({
      name: "reference.png",
      body: await encodePng(item.x),
      contentType: "image/png",
    });
    if (result.mean && result.std) {
      artifacts.push({
        name: "mean.png",
        body: await encodePng(result.mean),
        contentType: "image/png",
      });
      artifacts.push({
        name: "std.npy",
        body: encodeTensorNpy(result.std),
        contentType: "application/octet-stream",
      });
    }
    const record = await store.writeCell(cell.id, artifacts, {
      status: "ok",
      cell: cell.content,
      metrics: scores.metrics,
      results: scores.results,
      outOfRange: scores.outOfRange,
      nfe: result.nfe,
      timings: { ...timings, total: (performance.now() - started) / 1000 },
      createdAt: new Date().toISOString(),
      ...{
        solver: cell.solver,
        dataset: cell.dataset,
        item: cell.item,
        task: cell.task,
        taskDefinition: cell.taskDefinition,
        seed: cell.seed,
        sample: cell.sample,
        model: cell.model,
        profile: job.metrics.profile,
        diagnostics: plain(result.diagnostics),
        ...extra,
      },
    });
    lap("store", mark);
    return {
      cellId: cell.id,
      status: "ok",
      metrics: record.metrics,
      nfe: result.nfe,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    const message = `${job.item.path ?? job.item.id}: ${renderError(error)}`;
    const seconds = (performance.now() - started) / 1000;
    return storeFailure(store, cell, message, { ...timings, total: seconds }, seconds);
  }
}

function denoiserOptions(
  params: Record<string, unknown>,
): ConstructorParameters<typeof Denoiser>[1] {
  const gradient = params.gradient;
  return {
    ...(gradient === "vjp" || gradient === "jvp-fd" ? { vjpMode: gradient } : {}),
    ...(typeof params.fdProbe === "number" ? { fdRelativeStep: params.fdProbe } : {}),
  };
}

/**
 * Random operators (motion-blur kernels, masks, box positions) draw from a seed in their
 * spec. A spec without one gets a seed derived from the cell's seed and item, so each
 * image gets its own draw and the recorded spec rebuilds it exactly.
 */
function withSeed(
  spec: Record<string, unknown>,
  seed: number,
  contentHash: string,
): Record<string, unknown> {
  if (!("seed" in spec) && RANDOM_OPERATORS.has(String(spec.kind))) {
    return {
      ...spec,
      seed: (seed * 1_000_003 + Number.parseInt(contentHash.slice(0, 8), 16)) % 2 ** 32,
    };
  }
  return spec;
}

const RANDOM_OPERATORS = new Set(["motion-blur", "inpainting"]);

/**
 * Returns the cell's editing prompts. Planning resolved them already (the task's own, else
 * the item's), and "" stays "": it is the model's null prompt, not a missing one.
 */
function editingPrompts(job: CellJob): { source: string; target: string } {
  const task = job.cell.task;
  if (task.kind !== "editing") throw new Error("editingPrompts called for a restoration cell");
  return { source: task.sourcePrompt, target: task.targetPrompt };
}

function checkOutput(result: SolveResult, job: CellJob): void {
  const tensors: [string, Tensor | undefined][] = [
    ["output", result.x],
    ["mean", result.mean],
    ["std", result.std],
  ];
  for (const [name, tensor] of tensors) {
    if (tensor && !tensor.isFinite()) {
      throw new TweedieError(`solver returned non-finite values in ${name}`, {
        code: "non_finite",
        path: [job.cell.solver.label, job.item.id, `seed ${job.cell.seed}`, name],
      });
    }
  }
}

interface CellScores {
  /** Flat values by name, for quick reading. */
  metrics: Record<string, number | null>;
  /** Every result with the conventions behind it, for leaderboards. */
  results: MetricResult[];
  /**
   * Values of sample 0 (and of the mean) outside [-1, 1]. Metrics use the output as
   * output.npy stores it, unclipped, while output.png clips.
   */
  outOfRange: { output: number; mean?: number };
}

/**
 * Metrics the runner computes itself rather than the metric registry: the data-consistency
 * ratio and the editing scores of models with a classifier. `metrics.names` may list them.
 */
export const RUNNER_METRICS = ["consistency", "success", "classSuccess", "targetProbability"];

/** Metrics of sample 0, of the sample mean when there is one, and the data-consistency ratio. */
function scoreOutputs(
  job: CellJob,
  reference: Tensor,
  result: SolveResult,
  operator: Operator | undefined,
  y: Tensor | undefined,
  sigmaY: number,
): CellScores {
  const scores: CellScores = { metrics: {}, results: [], outOfRange: { output: 0 } };
  const requested = job.metrics.names.length > 0 ? job.metrics.names : undefined;
  const names = requested?.filter((name) => !RUNNER_METRICS.includes(name));
  const isRequested = (name: string) => requested === undefined || requested.includes(name);
  const add = (prefix: string, record: ScoreRecord) => {
    for (const [name, value] of Object.entries(record.metrics)) {
      scores.metrics[`${prefix}${name}`] = value.value;
      scores.results.push({ ...value, metric: `${prefix}${value.metric}` });
    }
  };
  const options = {
    profile: job.metrics.profile as Parameters<typeof score>[2]["profile"],
    range: [-1, 1] as const,
    ...(names ? { metrics: names } : {}),
  };
  const sample = score(reference, result.x.item(0), options);
  add("", sample);
  scores.outOfRange.output = sample.outOfRange.output;
  if (result.mean) {
    const mean = score(reference, result.mean, options);
    add("mean.", mean);
    scores.outOfRange.mean = mean.outOfRange.output;
  }
  if (operator && y && sigmaY > 0 && isRequested("consistency")) {
    const residual = sub(operator.forward(result.x.item(0)), y);
    const value = norm(residual) / (sigmaY * Math.sqrt(residual.size));
    scores.metrics.consistency = value;
    scores.results.push(
      customResult(
        job,
        "consistency",
        value,
        false,
        "||A x - y|| / (sigmaY sqrt(m)); about 1 for a sample consistent with the noise",
        1,
      ),
    );
  }
  return scores;
}

/** Builds a metric result computed by the runner itself, with its conventions named. */
export function customResult(
  job: CellJob,
  metric: string,
  value: number,
  higherIsBetter: boolean,
  formula: string,
  target?: number,
): MetricResult {
  return {
    status: "ok",
    value,
    metric,
    profile: job.metrics.profile as MetricResult["profile"],
    higherIsBetter,
    ...(target === undefined ? {} : { target }),
    displayScale: 1,
    conventions: {
      valueRange: [-1, 1],
      dataRange: 2,
      window: null,
      backbone: null,
      borderCrop: 0,
      masking: "none",
      formula,
      settings: {},
    },
  };
}

/** Diagnostics as plain JSON: tensors are summarised by their shape. */
function plain(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(value, (_key, item) =>
      item && typeof item === "object" && "shape" in item && "data" in item
        ? { tensor: (item as Tensor).shape }
        : item,
    ),
  );
}
