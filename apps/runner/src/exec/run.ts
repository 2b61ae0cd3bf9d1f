import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { renderError, TweedieError } from "@tweedie/core";
import { listMetrics, type ProfileName } from "@tweedie/eval";
import { noiseSpecSchema, operatorSpecSchema } from "@tweedie/operators";
import { closest } from "../cli/suggest.js";
import { ConfigError } from "../config/issues.js";
import { loadConfigFile } from "../config/load.js";
import type { TweedieConfig } from "../config/resolve.js";
import { loadDataset } from "../datasets/load.js";
import type { DatasetManifest } from "../datasets/manifest.js";
import { hashCanonical } from "../plan/canonical.js";
import { type Cell, planCells } from "../plan/cells.js";
import { hashModelPath } from "../plan/model.js";
import { checkPlanPrompts } from "../plan/prompts.js";
import { resolveShard, type ShardSpec, selectShard } from "../plan/shard.js";
import { renderPlanSummary, summarizePlan } from "../plan/summary.js";
import { solverRegistry } from "../solvers/registry.js";
import { openResultStore } from "../store/open.js";
import type { ResultStore } from "../store/results.js";
import { RUNNER_METRICS } from "./cell.js";
import { planWorkerSlots } from "./devices.js";
import { storeFailure } from "./failure.js";
import type { CellJob, CellOutcome } from "./job.js";
import { modelDir } from "./models.js";
import { type PoolKind, SlotPool, WorkerCrash } from "./pool.js";
import { type LogFormat, Progress } from "./progress.js";
import { probeThreadSafety } from "./thread-probe.js";
import {
  readLabelPrompts,
  readPixelChannels,
  readScheduleSteps,
  runCommit,
  runnerVersions,
} from "./versions.js";

export interface RunOptions {
  config: TweedieConfig;
  shard?: string;
  workers?: number;
  device: string;
  dryRun: boolean;
  logFormat: LogFormat;
  /** Threads unless onnxruntime-node cannot run in several worker threads. */
  poolKind?: PoolKind;
  env: NodeJS.ProcessEnv;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  progressSink?: { write(text: string): void; isTTY: boolean };
}

export interface RunSummary {
  cells: number;
  shardCells: number;
  skipped: number;
  done: number;
  failed: CellOutcome[];
  store: ResultStore;
}

export interface PlannedRun {
  config: TweedieConfig;
  manifests: DatasetManifest[];
  cells: Cell[];
  shard: ShardSpec;
  planHash: string;
}

/** Loads datasets and plans the config's cells; selects this process's shard. */
export async function planRun(
  config: TweedieConfig,
  shardFlag: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<PlannedRun> {
  const manifests = await Promise.all(config.datasets.map((dataset) => loadDataset(dataset)));
  const identity = async (ref: TweedieConfig["model"]) => {
    const dir = modelDir(ref);
    return {
      ref: ref.ref,
      hash: await hashModelPath(dir),
      scheduleSteps: await readScheduleSteps(dir),
    };
  };
  // Only models that some dataset uses are hashed: the config's `model` may be a
  // placeholder when every dataset names its own.
  const datasetModels = new Map<string, Awaited<ReturnType<typeof identity>>>();
  for (const dataset of config.datasets) {
    if (!datasetModels.has(dataset.modelRef.ref))
      datasetModels.set(dataset.modelRef.ref, await identity(dataset.modelRef));
  }
  const model = datasetModels.get(config.datasets[0].modelRef.ref)!;
  const channelErrors = [...(await checkDatasetChannels(config)), ...checkMetricNames(config)];
  if (channelErrors.length > 0) throw new ConfigError(channelErrors);
  const plan = planCells({
    config,
    manifests,
    model,
    datasetModels,
    solvers: solverRegistry().values(),
    operatorSchema: operatorSpecSchema,
    noiseSchema: noiseSpecSchema,
  });
  const labelPrompts = new Map<string, Set<string> | null>();
  for (const dataset of config.datasets) {
    labelPrompts.set(dataset.name, await readLabelPrompts(modelDir(dataset.modelRef)));
  }
  const taskIndex = new Map(config.tasks.map((task, index) => [task.name, index]));
  const promptErrors = checkPlanPrompts(plan.cells, labelPrompts, taskIndex);
  if (promptErrors.length > 0) throw new ConfigError(promptErrors);
  const shard = resolveShard({ flag: shardFlag }, env);
  return {
    config,
    manifests,
    cells: plan.cells,
    shard,
    planHash: hashCanonical(plan.cells.map((cell) => cell.id)),
  };
}

/**
 * Checks `metrics.names` against the profile's metrics and the runner's own, so a misspelt
 * name fails the config instead of every cell.
 */
function checkMetricNames(config: TweedieConfig): TweedieError[] {
  const profile = config.metrics.profile as ProfileName;
  let known: string[];
  try {
    known = [...listMetrics(profile).map((metric) => metric.name), ...RUNNER_METRICS];
  } catch {
    return [];
  }
  return config.metrics.names.flatMap((name, index) => {
    if (known.includes(name)) return [];
    const guess = closest(name, known, 2);
    return [
      new TweedieError(`profile ${profile} has no metric ${JSON.stringify(name)}`, {
        code: "invalid_value",
        path: ["metrics", "names", index],
        expected: known,
        received: name,
        hint: guess ? `did you mean "${guess}"?` : undefined,
      }),
    ];
  });
}

/** Channels of the images a dataset kind yields: the digit and fashion arrays are grey, image files are read as RGB. */
function datasetChannels(kind: TweedieConfig["datasets"][number]["kind"]): number {
  return kind === "digits" || kind === "fashion" ? 1 : 3;
}

/**
 * Checks each dataset's image channels against its pixel-space model before any cell
 * runs, because a mismatch would otherwise fail every cell of the dataset one by one.
 */
async function checkDatasetChannels(config: TweedieConfig): Promise<TweedieError[]> {
  const errors: TweedieError[] = [];
  for (const [index, dataset] of config.datasets.entries()) {
    const modelChannels = await readPixelChannels(modelDir(dataset.modelRef));
    const channels = datasetChannels(dataset.kind);
    if (modelChannels === null || modelChannels === channels) continue;
    errors.push(
      new TweedieError(
        `dataset ${dataset.name} has ${channels}-channel images, but model ${dataset.modelRef.ref} takes ${modelChannels} channels`,
        {
          code: "invalid_value",
          path: ["datasets", index, "model"],
          expected: `a model with ${channels}-channel input (${channels === 1 ? "embedded:digits or embedded:fashion" : "embedded:patches"}, or a model package folder)`,
          received: dataset.modelRef.ref,
        },
      ),
    );
  }
  return errors;
}

export function workerModule(): string {
  // Resolves to dist/exec from both src/exec (tests run the sources) and dist/exec.
  return fileURLToPath(new URL("../../dist/exec/worker.js", import.meta.url));
}

/** Runs this shard's pending cells on a worker pool and stores every result. */
export async function executeRun(planned: PlannedRun, options: RunOptions): Promise<RunSummary> {
  const { config, cells, shard } = planned;
  const shardCells = selectShard(cells, shard);
  const store = openResultStore(config, { env: options.env });
  const ensured = await store.ensureRun({
    createdAt: new Date().toISOString(),
    planHash: planned.planHash,
    cellCount: cells.length,
    config,
    versions: runnerVersions(),
    commit: runCommit(options.env),
  });
  if (ensured.status === "different") {
    options.stderr(
      `note: ${store.blobs.location}/${store.run}/run.json describes another plan (plan hash ${ensured.existing.planHash.slice(0, 12)}, this config ${planned.planHash.slice(0, 12)}); cells are keyed by content, so both plans' results are kept side by side`,
    );
  }
  const done = await store.doneCellIds();
  const pending = shardCells.filter((cell) => !done.has(cell.id));
  const progress = new Progress(
    options.progressSink ?? {
      write: (text) => process.stderr.write(text),
      isTTY: Boolean(process.stderr.isTTY),
    },
    options.logFormat,
  );
  progress.report({ type: "start", total: shardCells.length });
  for (const cell of shardCells)
    if (done.has(cell.id)) progress.report({ type: "cell-skipped", cellId: cell.id });

  const failed: CellOutcome[] = [];
  let completed = 0;
  if (pending.length > 0) {
    const slots = planWorkerSlots(options.device, options.workers, availableParallelism());
    const kind = options.poolKind ?? (await poolKindFor(options.env, options.stderr));
    const pool = new SlotPool({
      workerModule: workerModule(),
      slots: slots.slice(0, Math.max(1, Math.min(slots.length, pending.length))),
      kind,
      // A worker over its V8 heap fails only its cell (ERR_WORKER_OUT_OF_MEMORY) and is
      // replaced, as the pool tests check. onnxruntime's native memory does not count here.
      maxHeapMb: workerHeapMb(options.env),
    });
    const manifestByName = new Map(planned.manifests.map((manifest) => [manifest.name, manifest]));
    try {
      await Promise.all(
        pending.map(async (cell) => {
          const job = jobFor(cell, config, manifestByName);
          const label = `${cell.dataset.name}/${cell.item.id} ${cell.solver.label} seed ${cell.seed}`;
          let outcome: CellOutcome;
          try {
            outcome = await pool.run<CellOutcome>(job);
          } catch (error) {
            outcome = await recordCrash(store, cell, error);
          }
          if (outcome.status === "ok") {
            completed++;
            progress.report({ type: "cell-done", cellId: cell.id, label });
          } else {
            failed.push(outcome);
            progress.report({
              type: "cell-failed",
              cellId: cell.id,
              label,
              message: outcome.error,
            });
          }
        }),
      );
    } finally {
      await pool.close();
    }
  }
  progress.report({ type: "end" });
  return {
    cells: cells.length,
    shardCells: shardCells.length,
    skipped: shardCells.length - pending.length,
    done: completed,
    failed,
    store,
  };
}

/**
 * Picks threads unless TWEEDIE_POOL sets otherwise or the probe finds that this onnxruntime-node
 * build cannot run in several worker threads; a fallback is reported on stderr.
 */
async function poolKindFor(
  env: NodeJS.ProcessEnv,
  stderr: (line: string) => void,
): Promise<PoolKind> {
  const requested = env.TWEEDIE_POOL;
  if (requested === "threads" || requested === "processes") return requested;
  const probe = await probeThreadSafety();
  if (probe.kind === "processes") stderr(`note: ${probe.note}`);
  return probe.kind;
}

/** Per-worker V8 heap limit in MiB: TWEEDIE_WORKER_HEAP_MB, else 4096. */
function workerHeapMb(env: NodeJS.ProcessEnv): number {
  const value = Number(env.TWEEDIE_WORKER_HEAP_MB ?? 4096);
  return Number.isInteger(value) && value >= 64 ? value : 4096;
}

function jobFor(
  cell: Cell,
  config: TweedieConfig,
  manifests: Map<string, DatasetManifest>,
): CellJob {
  const manifest = manifests.get(cell.dataset.name)!;
  const item = manifest.items.find((candidate) => candidate.id === cell.item.id)!;
  return {
    type: "cell",
    output: config.output,
    cell,
    dataset: {
      name: manifest.name,
      kind: manifest.kind,
      root: manifest.root,
      policy: manifest.policy,
    },
    item,
    model:
      config.datasets.find((dataset) => dataset.name === manifest.name)?.modelRef ?? config.model,
    metrics: config.metrics,
  };
}

/** Stores a failed record for a cell whose worker died, so the failure is kept and counted. */
async function recordCrash(store: ResultStore, cell: Cell, error: unknown): Promise<CellOutcome> {
  const reason = error instanceof WorkerCrash ? error.message : renderError(error);
  const message = `${cell.item.path ?? cell.item.id}: ${reason}`;
  try {
    return await storeFailure(store, cell, message, {}, 0);
  } catch (storeError) {
    return {
      cellId: cell.id,
      status: "failed",
      metrics: {},
      nfe: null,
      seconds: 0,
      error: `${message}; storing the failure also failed: ${renderError(storeError)}`,
    };
  }
}

/** Renders the dry-run plan: cells per shard and how many are already done. */
export async function dryRunLines(
  planned: PlannedRun,
  shardCount: number,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const store = openResultStore(planned.config, { env });
  let done = new Set<string>();
  let unreadable: string | undefined;
  try {
    done = await store.doneCellIds();
  } catch (error) {
    // A dry run works without a reachable store, but warns, because a real run would fail here.
    unreadable = `warning: cannot read the results store, so no cell shows as done: ${(error as Error).message.split("\n")[0]}`;
  }
  const lines = renderPlanSummary(summarizePlan(planned.cells, shardCount, done));
  return unreadable === undefined ? lines : [unreadable, ...lines];
}

export async function loadConfig(path: string): Promise<TweedieConfig> {
  return loadConfigFile(path);
}
