import { TweedieError } from "@tweedie/core";
import type { z } from "zod";
import { ConfigError, issuesToErrors } from "../config/issues.js";
import type { ResolvedTask, TweedieConfig } from "../config/resolve.js";
import type { JsonObject } from "../config/sweep.js";
import type { DatasetItem, DatasetManifest } from "../datasets/manifest.js";
import { canonicalJson, compareCodeUnits, hashCanonical } from "./canonical.js";
import { resolveSolverVariants, type SolverInfo, type SolverVariant } from "./solvers.js";

/** Hex digits of a cell id used in store keys: 64 bits, so a collision is unlikely below about 10^9 cells. */
export const CELL_KEY_LENGTH = 16;

/** Version of the cell id recipe; a change of recipe changes every id. */
export const CELL_ID_VERSION = 1;

/** The model a plan runs, identified by a hash of its package content. */
export interface ModelIdentity {
  ref: string;
  hash: string;
  /** Discrete training steps of its schedule; null for continuous schedules. */
  scheduleSteps: number | null;
}

export type CellTask =
  | {
      name: string;
      kind: "restoration";
      operator: JsonObject;
      noise: JsonObject;
      /** The solver's prompt, resolved per item; absent (and not hashed) when unconditional. */
      prompt?: string;
    }
  | { name: string; kind: "editing"; sourcePrompt: string; targetPrompt: string };

/** One unit of work: an item, a task, a solver parameter set, a seed and a sample index. */
export interface Cell {
  /** SHA-256 of the canonical JSON of `content`, 64 hex digits. */
  id: string;
  /** The first CELL_KEY_LENGTH hex digits of the id, used in store keys. */
  key: string;
  dataset: { name: string; manifestHash: string };
  item: { id: string; path?: string; contentHash: string };
  task: CellTask;
  /**
   * SHA-256 of the task as configured (operator, noise, prompt or its source), the model
   * and the input policy. Cells of one configured task share it although per-item prompts
   * differ; leaderboards keep different definitions under one task name apart by it.
   */
  taskDefinition: string;
  solver: { label: string; name: string; version: string; preset?: string; params: JsonObject };
  seed: number;
  sample: number;
  model: { ref: string; hash: string };
  /** Everything the id hashes. */
  content: JsonObject;
}

export interface Plan {
  /** Cells sorted by id. */
  cells: Cell[];
  variants: SolverVariant[];
  /** (task, solver) pairs left out because the solver does not support the task's kind. */
  skipped: { task: string; solver: string; reason: string }[];
}

export interface PlanInput {
  config: TweedieConfig;
  /** One manifest per config dataset, in config order. */
  manifests: readonly DatasetManifest[];
  /** The config's model. */
  model: ModelIdentity;
  /** Identities of the models that datasets name themselves, by model ref. */
  datasetModels?: ReadonlyMap<string, ModelIdentity>;
  solvers: Iterable<SolverInfo>;
  /** Schemas that validate and complete operator and noise specs (from @tweedie/operators). */
  operatorSchema?: z.ZodType;
  noiseSchema?: z.ZodType;
}

/**
 * Builds the cross product dataset items x tasks x solver parameter sets x seeds x
 * samples. Each cell id hashes the item's content hash, the dataset's preprocessing and
 * channel policy, the task spec, the solver name, version and effective params, the seed,
 * the sample index and the model hash. The same config and data therefore give the same
 * ids on every machine. Throws a `ConfigError` listing every problem found.
 */
export function planCells(input: PlanInput): Plan {
  const { config } = input;
  const errors: TweedieError[] = [];
  const plugins = new Map<string, SolverInfo>();
  for (const plugin of input.solvers) plugins.set(plugin.name, plugin);
  const variants = resolveSolverVariants(
    config.solvers,
    plugins,
    input.model.scheduleSteps,
    errors,
  );
  const tasks = config.tasks.map((task, index) => validateTask(task, index, input, errors));
  if (input.manifests.length !== config.datasets.length) {
    throw new TweedieError("one manifest per configured dataset is required", {
      code: "invalid_value",
      path: ["datasets"],
      expected: config.datasets.length,
      received: input.manifests.length,
    });
  }
  if (errors.length > 0) throw new ConfigError(errors);

  const modelOf = (manifest: DatasetManifest): ModelIdentity => {
    const ref = config.datasets.find((dataset) => dataset.name === manifest.name)?.modelRef.ref;
    return (ref !== undefined ? input.datasetModels?.get(ref) : undefined) ?? input.model;
  };
  const cells: Cell[] = [];
  const skipped: Plan["skipped"] = [];
  const used = { tasks: new Set<string>(), variants: new Set<SolverVariant>() };
  for (const task of tasks) {
    if (task === undefined) continue;
    for (const variant of variants) {
      if (variant.onlyTasks && !variant.onlyTasks.includes(task.name)) continue;
      if (!variant.tasks.includes(task.kind)) {
        skipped.push({
          task: task.name,
          solver: variant.label,
          reason: `${variant.name} does not support ${task.kind}`,
        });
        continue;
      }
      for (const manifest of input.manifests) {
        if (task.datasets && !task.datasets.includes(manifest.name)) continue;
        const taskDefinition = taskDefinitionOf(task, manifest, modelOf(manifest));
        for (const item of manifest.items) {
          const cellTask = taskForItem(task, item, manifest, errors);
          if (!cellTask) continue;
          used.tasks.add(task.name);
          used.variants.add(variant);
          for (const seed of config.seeds) {
            for (let sample = 0; sample < config.samples; sample++) {
              cells.push(
                makeCell(
                  manifest,
                  item,
                  { task: cellTask, definition: taskDefinition },
                  variant,
                  seed,
                  sample,
                  modelOf(manifest),
                ),
              );
            }
          }
        }
      }
    }
  }
  reportUnused(tasks, variants, used, errors);
  reportDuplicateItems(input.manifests, errors);
  reportCoincidingCells(cells, variants, errors);
  if (errors.length > 0) throw new ConfigError(dedupeByMessage(errors));
  cells.sort((a, b) => compareCodeUnits(a.id, b.id));
  return { cells, variants, skipped: dedupeSkipped(skipped) };
}

function validateTask(
  task: ResolvedTask,
  index: number,
  input: PlanInput,
  errors: TweedieError[],
): ResolvedTask | undefined {
  if (task.kind === "editing") return task;
  const operator = parseSpec(
    task.operator,
    input.operatorSchema,
    ["tasks", index, "operator"],
    errors,
  );
  const noise = parseSpec(task.noise, input.noiseSchema, ["tasks", index, "noise"], errors);
  if (!operator || !noise) return undefined;
  return {
    ...task,
    operator: operator as JsonObject & { kind: string },
    noise: noise as JsonObject & { kind: string },
  };
}

function parseSpec(
  spec: JsonObject,
  schema: z.ZodType | undefined,
  path: (string | number)[],
  errors: TweedieError[],
): JsonObject | undefined {
  if (!schema) return spec;
  const parsed = schema.safeParse(spec, { reportInput: true });
  if (parsed.success) return JSON.parse(canonicalJson(parsed.data)) as JsonObject;
  errors.push(...issuesToErrors(parsed.error.issues, schema, path));
  return undefined;
}

/** Resolves editing prompts from the task or the item; records a problem when one is missing. */
function taskForItem(
  task: ResolvedTask,
  item: DatasetItem,
  manifest: DatasetManifest,
  errors: TweedieError[],
): CellTask | undefined {
  if (task.kind === "restoration") {
    const cellTask: CellTask = {
      name: task.name,
      kind: "restoration",
      operator: task.operator,
      noise: task.noise,
    };
    if (task.prompt === undefined) return cellTask;
    if (typeof task.prompt === "string") return { ...cellTask, prompt: task.prompt };
    const annotation = item.annotation;
    if (annotation?.kind !== "digit" && annotation?.kind !== "fashion") {
      errors.push(
        new TweedieError(
          `restoration task takes the item's prompt, but dataset ${manifest.name} has none`,
          {
            code: "missing",
            path: ["tasks", task.name, "prompt"],
            expected:
              "a prompt string, or a dataset whose items carry class prompts (digits, fashion)",
            received: manifest.kind,
          },
        ),
      );
      return undefined;
    }
    return { ...cellTask, prompt: annotation.prompt };
  }
  const annotation = item.annotation;
  const sourcePrompt =
    task.editing.source ??
    (annotation?.kind === "pie-bench" ? annotation.sourcePrompt : annotation?.prompt);
  const targetPrompt =
    task.editing.target ?? (annotation?.kind === "pie-bench" ? annotation.targetPrompt : undefined);
  if (sourcePrompt === undefined || targetPrompt === undefined) {
    const missing = sourcePrompt === undefined ? "source" : "target";
    errors.push(
      new TweedieError(`editing task has no ${missing} prompt for dataset ${manifest.name}`, {
        code: "missing",
        path: ["tasks", task.name, "editing", missing],
        expected: `editing.${missing}, or a dataset whose items carry prompts (pie-bench; digits and fashion for the source)`,
        received: manifest.kind,
      }),
    );
    return undefined;
  }
  return { name: task.name, kind: "editing", sourcePrompt, targetPrompt };
}

/** Hashes a configured task with what else defines its results: the model and the input policy. */
function taskDefinitionOf(
  task: ResolvedTask,
  manifest: DatasetManifest,
  model: ModelIdentity,
): string {
  const { datasets: _datasets, ...configured } = task;
  return hashCanonical({
    task: configured as JsonObject,
    model: model.hash,
    input: {
      preprocess: manifest.policy.preprocess,
      channels: manifest.policy.channels,
      pixels: manifest.policy.pixels,
    } as JsonObject,
  });
}

function makeCell(
  manifest: DatasetManifest,
  item: DatasetItem,
  configured: { task: CellTask; definition: string },
  variant: SolverVariant,
  seed: number,
  sample: number,
  model: ModelIdentity,
): Cell {
  const task = configured.task;
  const { name: _taskName, ...taskSpec } = task;
  const content: JsonObject = {
    v: CELL_ID_VERSION,
    item: item.contentHash,
    input: {
      preprocess: manifest.policy.preprocess,
      channels: manifest.policy.channels,
      pixels: manifest.policy.pixels,
    } as JsonObject,
    task: taskSpec as JsonObject,
    solver: { name: variant.name, version: variant.version, params: variant.params },
    seed,
    sample,
    model: model.hash,
  };
  const id = hashCanonical(content);
  return {
    id,
    key: id.slice(0, CELL_KEY_LENGTH),
    dataset: { name: manifest.name, manifestHash: manifest.hash },
    item: { id: item.id, path: item.path, contentHash: item.contentHash },
    task,
    taskDefinition: configured.definition,
    solver: {
      label: variant.label,
      name: variant.name,
      version: variant.version,
      preset: variant.preset,
      params: variant.params,
    },
    seed,
    sample,
    model: { ref: model.ref, hash: model.hash },
    content,
  };
}

/** Reports each task or solver that ends up with no cells, since it would silently do nothing. */
function reportUnused(
  tasks: (ResolvedTask | undefined)[],
  variants: SolverVariant[],
  used: { tasks: Set<string>; variants: Set<SolverVariant> },
  errors: TweedieError[],
): void {
  if (errors.length > 0) return;
  tasks.forEach((task, index) => {
    if (task && !used.tasks.has(task.name)) {
      errors.push(
        new TweedieError("no configured solver supports this task, so it would produce no cells", {
          code: "invalid_value",
          path: ["tasks", index],
          received: task.kind,
        }),
      );
    }
  });
  const reported = new Set<number>();
  for (const variant of variants) {
    if (used.variants.has(variant) || reported.has(variant.entry)) continue;
    reported.add(variant.entry);
    errors.push(
      new TweedieError("no configured task suits this solver, so it would produce no cells", {
        code: "invalid_value",
        path: ["solvers", variant.entry],
        expected: `a task of kind ${variant.tasks.join(" or ")}`,
        received: variant.name,
      }),
    );
  }
}

/**
 * Rejects byte-identical items within a dataset: cells are keyed by content, so both
 * items would share one cell and one record.
 */
function reportDuplicateItems(manifests: readonly DatasetManifest[], errors: TweedieError[]): void {
  manifests.forEach((manifest, index) => {
    const first = new Map<string, string>();
    for (const item of manifest.items) {
      const earlier = first.get(item.contentHash);
      if (earlier === undefined) {
        first.set(item.contentHash, item.id);
        continue;
      }
      errors.push(
        new TweedieError(
          `items ${earlier} and ${item.id} of dataset ${manifest.name} have identical content, so their cells would coincide`,
          {
            code: "invalid_value",
            path: ["datasets", index],
            expected: "items with distinct content (remove or exclude one of the two files)",
            received: item.id,
          },
        ),
      );
    }
  });
}

/**
 * Rejects two configured tasks, or two solver entries, that yield the same cell: same item,
 * task definition, solver parameters and seed. Such cells share one id and one record, so
 * one row of the leaderboard would silently take the other's results.
 */
function reportCoincidingCells(
  cells: readonly Cell[],
  variants: readonly SolverVariant[],
  errors: TweedieError[],
): void {
  const first = new Map<string, Cell>();
  const reported = new Set<string>();
  for (const cell of cells) {
    const earlier = first.get(cell.id);
    if (earlier === undefined) {
      first.set(cell.id, cell);
      continue;
    }
    // Items with identical content are reported per dataset by reportDuplicateItems.
    if (earlier.item.id !== cell.item.id) continue;
    const pair = `${earlier.task.name}\u0000${earlier.solver.label}\u0000${cell.task.name}\u0000${cell.solver.label}`;
    if (reported.has(pair)) continue;
    reported.add(pair);
    if (earlier.task.name !== cell.task.name) {
      errors.push(
        new TweedieError(
          `tasks ${earlier.task.name} and ${cell.task.name} define the same cells for solver ${cell.solver.label} on dataset ${cell.dataset.name}, so one task's results would stand in for the other's`,
          {
            code: "invalid_value",
            path: ["tasks", cell.task.name],
            expected: "tasks that differ in operator, noise or prompt (or one task)",
            received: earlier.task.name,
          },
        ),
      );
    } else {
      const entry = variants.find((variant) => variant.label === cell.solver.label)?.entry;
      errors.push(
        new TweedieError(
          `solver entries ${earlier.solver.label} and ${cell.solver.label} resolve to the same solver, version and parameters, so their cells coincide`,
          {
            code: "invalid_value",
            path: entry === undefined ? ["solvers"] : ["solvers", entry],
            expected: "solver entries that differ in their effective parameters (or one entry)",
            received: earlier.solver.label,
          },
        ),
      );
    }
  }
}

function dedupeByMessage(errors: TweedieError[]): TweedieError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = `${error.path.join("/")}|${error.message}|${String(error.received)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function dedupeSkipped(skipped: Plan["skipped"]): Plan["skipped"] {
  const seen = new Set<string>();
  return skipped.filter((entry) => {
    const key = `${entry.task}|${entry.solver}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
