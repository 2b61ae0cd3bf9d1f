import { isAbsolute, resolve } from "node:path";
import { TweedieError } from "@tweedie/core";
import type { DatasetOptions } from "../datasets/options.js";
import { parseLocation, type StoreLocation } from "../store/location.js";
import type { ParsedConfig, RestorationPrompt, S3Settings, Sweep } from "./schema.js";
import { expandParams, type JsonObject } from "./sweep.js";

type Path = (string | number)[];

export type ModelRef =
  | { kind: "embedded"; name: string; ref: string }
  | { kind: "path"; path: string; ref: string };

export type ResolvedTask = (
  | {
      name: string;
      kind: "restoration";
      operator: JsonObject & { kind: string };
      noise: JsonObject & { kind: string };
      /** Prompt for the solver; absent means unconditional restoration. */
      prompt?: RestorationPrompt;
    }
  | { name: string; kind: "editing"; editing: { source?: string; target?: string } }
) & {
  /** Dataset names the task applies to; undefined means every dataset. */
  datasets?: string[];
};

export interface ResolvedSolver {
  /** Position in the config's `solvers` list, for error paths. */
  index: number;
  name: string;
  label: string;
  preset: string | undefined;
  params: JsonObject;
  sweep: Sweep;
  /** The expanded parameter sets, before preset values and plugin defaults are applied. */
  paramSets: JsonObject[];
  /** Task names the solver runs on; undefined means every task it supports. */
  onlyTasks?: string[];
}

/** A dataset with its name and the model its cells run (its own `model`, else the config's). */
export type ResolvedDataset = DatasetOptions & { name: string; modelRef: ModelRef };

/** A validated config with defaults filled, names unique, paths absolute and sweeps expanded. */
export interface TweedieConfig {
  name: string;
  description: string | undefined;
  datasets: ResolvedDataset[];
  tasks: ResolvedTask[];
  solvers: ResolvedSolver[];
  model: ModelRef;
  seeds: number[];
  samples: number;
  metrics: { names: string[]; profile: string };
  output: { location: StoreLocation; run: string; s3: S3Settings | undefined };
  /** Folder that relative paths in the config were resolved against. */
  baseDir: string;
}

const EMBEDDED_PREFIX = "embedded:";

/**
 * Labels a solver entry by its preset, prefixed with the solver name unless the preset
 * name already starts with it (`dps` + `dps-fashion` is `dps-fashion`, not `dps-dps-fashion`).
 */
export function defaultSolverLabel(name: string, preset: string | undefined): string {
  if (preset === undefined) return name;
  return preset.startsWith(`${name}-`) ? preset : `${name}-${preset}`;
}

/** Applies cross-field rules and defaults; returns the config or the list of problems. */
export function resolveConfig(
  parsed: ParsedConfig,
  baseDir: string,
): { config: TweedieConfig; errors: [] } | { config: undefined; errors: TweedieError[] } {
  const errors: TweedieError[] = [];
  const attempt = <T>(run: () => T): T | undefined => {
    try {
      return run();
    } catch (error) {
      if (error instanceof TweedieError) errors.push(error);
      else throw error;
      return undefined;
    }
  };

  const defaultModel = attempt(() => resolveModel(parsed.model, baseDir, ["model"]));
  const datasets = parsed.datasets.map((dataset, index) => {
    const modelRef =
      dataset.model === undefined
        ? defaultModel
        : attempt(() => resolveModel(dataset.model!, baseDir, ["datasets", index, "model"]));
    return resolveDataset(dataset, baseDir, modelRef ?? defaultModel!);
  });
  checkUnique(
    datasets.map((dataset) => dataset.name),
    "datasets",
    "name",
    errors,
  );
  const tasks = parsed.tasks.map(resolveTask);
  checkTaskDatasets(tasks, datasets, errors);
  parsed.solvers.forEach((entry, index) => {
    entry.tasks?.forEach((name, position) => {
      if (!tasks.some((task) => task.name === name)) {
        errors.push(
          new TweedieError("unknown task name", {
            code: "not_found",
            path: ["solvers", index, "tasks", position],
            expected: tasks.map((task) => task.name),
            received: name,
          }),
        );
      }
    });
  });
  checkUnique(
    tasks.map((task) => task.name),
    "tasks",
    "name",
    errors,
  );
  const solvers = parsed.solvers.map((entry, index): ResolvedSolver => {
    const path: Path = ["solvers", index];
    const paramSets = attempt(() => expandParams(entry, path)) ?? [];
    paramSets.forEach((set) => {
      errors.push(...checkCommonParams(set, [...path, "params"]));
    });
    return {
      index,
      name: entry.name,
      label: entry.label ?? defaultSolverLabel(entry.name, entry.preset),
      preset: entry.preset,
      params: entry.params as JsonObject,
      sweep: entry.sweep,
      ...(entry.tasks ? { onlyTasks: entry.tasks } : {}),
      paramSets,
    };
  });
  checkUnique(
    solvers.map((solver) => solver.label),
    "solvers",
    "label",
    errors,
  );
  const model = defaultModel;
  const seeds = resolveSeeds(parsed.seeds, errors);
  const output = attempt(() => resolveOutput(parsed, baseDir));

  if (errors.length > 0 || model === undefined || output === undefined) {
    return { config: undefined, errors };
  }
  return {
    config: {
      name: parsed.name,
      description: parsed.description,
      datasets,
      tasks,
      solvers,
      model,
      seeds,
      samples: parsed.samples,
      metrics: parsed.metrics,
      output,
      baseDir,
    },
    errors: [],
  };
}

function absolute(path: string, baseDir: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

function resolveDataset(
  dataset: DatasetOptions,
  baseDir: string,
  modelRef: ModelRef,
): ResolvedDataset {
  const name = dataset.name ?? dataset.kind;
  if (dataset.kind === "digits") {
    return {
      ...dataset,
      name,
      modelRef,
      file: dataset.file ? absolute(dataset.file, baseDir) : undefined,
    };
  }
  if (dataset.kind === "fashion") {
    return {
      ...dataset,
      name,
      modelRef,
      images: dataset.images ? absolute(dataset.images, baseDir) : undefined,
      labels: dataset.labels ? absolute(dataset.labels, baseDir) : undefined,
    };
  }
  if (dataset.kind === "embedded-samples") {
    return {
      ...dataset,
      name,
      modelRef,
      root: dataset.root ? absolute(dataset.root, baseDir) : undefined,
    };
  }
  return { ...dataset, name, modelRef, root: absolute(dataset.root, baseDir) };
}

function resolveTask(task: ParsedConfig["tasks"][number]): ResolvedTask {
  const datasets = task.datasets ? { datasets: task.datasets } : {};
  if (task.operator !== undefined) {
    return {
      name: task.name ?? task.operator.kind,
      kind: "restoration",
      operator: task.operator as JsonObject & { kind: string },
      noise: (task.noise ?? { kind: "none" }) as JsonObject & { kind: string },
      ...(task.prompt !== undefined ? { prompt: task.prompt } : {}),
      ...datasets,
    };
  }
  return {
    name: task.name ?? "editing",
    kind: "editing",
    editing: task.editing ?? {},
    ...datasets,
  };
}

/** Reports task dataset names that match no configured dataset. */
function checkTaskDatasets(
  tasks: ResolvedTask[],
  datasets: ResolvedDataset[],
  errors: TweedieError[],
): void {
  const names = datasets.map((dataset) => dataset.name);
  tasks.forEach((task, index) => {
    task.datasets?.forEach((name, position) => {
      if (!names.includes(name)) {
        errors.push(
          new TweedieError("unknown dataset name", {
            code: "not_found",
            path: ["tasks", index, "datasets", position],
            expected: names,
            received: name,
          }),
        );
      }
    });
  });
}

function checkUnique(names: string[], list: string, field: string, errors: TweedieError[]): void {
  const first = new Map<string, number>();
  names.forEach((name, index) => {
    const earlier = first.get(name);
    if (earlier === undefined) {
      first.set(name, index);
      return;
    }
    errors.push(
      new TweedieError(`duplicate ${field}; ${list}[${earlier}] has the same one`, {
        code: "invalid_value",
        path: [list, index, field],
        expected: `a ${field} unique within ${list}`,
        received: name,
        hint: `set "${field}" to tell them apart`,
      }),
    );
  });
}

function resolveModel(text: string, baseDir: string, path: (string | number)[]): ModelRef {
  if (text.startsWith(EMBEDDED_PREFIX)) {
    const name = text.slice(EMBEDDED_PREFIX.length);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
      throw new TweedieError("invalid embedded model name", {
        code: "invalid_value",
        path,
        expected: "embedded:NAME with NAME of a-z, 0-9 and '-'",
        received: text,
      });
    }
    return { kind: "embedded", name, ref: text };
  }
  return { kind: "path", path: absolute(text, baseDir), ref: text };
}

function resolveSeeds(seeds: ParsedConfig["seeds"], errors: TweedieError[]): number[] {
  if (!Array.isArray(seeds)) {
    return Array.from({ length: seeds.count }, (_, k) => seeds.start + k);
  }
  const seen = new Set<number>();
  seeds.forEach((seed, index) => {
    if (seen.has(seed)) {
      errors.push(
        new TweedieError("duplicate seed; the repeated cells would be identical", {
          code: "invalid_value",
          path: ["seeds", index],
          expected: "distinct seeds",
          received: seed,
        }),
      );
    }
    seen.add(seed);
  });
  return [...seeds];
}

function resolveOutput(parsed: ParsedConfig, baseDir: string): TweedieConfig["output"] {
  const location = parseLocation(parsed.output.location, baseDir, ["output", "location"]);
  if (location.kind === "local" && parsed.output.s3 !== undefined) {
    throw new TweedieError("output.s3 applies only to s3:// locations, so it would be ignored", {
      code: "invalid_value",
      path: ["output", "s3"],
      expected: "an s3://bucket/prefix location, or no s3 settings",
      received: parsed.output.location,
    });
  }
  return { location, run: parsed.output.run ?? parsed.name, s3: parsed.output.s3 };
}

/**
 * Checks the parameters whose meaning is shared by every sampler: `steps` is a whole
 * number of steps >= 1, and an SDEdit-style `strength` in (0, 1] must leave at least one
 * effective step, floor(strength x steps) >= 1. Plugin schemas check the rest at plan time.
 */
export function checkCommonParams(params: JsonObject, path: Path): TweedieError[] {
  const errors: TweedieError[] = [];
  const steps = params.steps;
  const strength = params.strength;
  if (steps !== undefined && (typeof steps !== "number" || !Number.isInteger(steps) || steps < 1)) {
    errors.push(
      new TweedieError("steps must be a whole number >= 1", {
        code: "out_of_range",
        path: [...path, "steps"],
        expected: "an integer >= 1",
        received: steps,
      }),
    );
  }
  if (
    strength !== undefined &&
    (typeof strength !== "number" || !(strength > 0 && strength <= 1))
  ) {
    errors.push(
      new TweedieError("strength must lie in (0, 1]", {
        code: "out_of_range",
        path: [...path, "strength"],
        expected: "a number in (0, 1]",
        received: strength,
      }),
    );
  }
  if (
    errors.length === 0 &&
    typeof steps === "number" &&
    typeof strength === "number" &&
    Math.floor(strength * steps) < 1
  ) {
    const effective = Math.floor(strength * steps);
    errors.push(
      new TweedieError(
        `strength ${strength} x steps ${steps} = ${effective} effective steps; need >= 1`,
        {
          code: "out_of_range",
          path: [...path, "strength"],
          expected: "strength x steps >= 1",
          received: { strength, steps },
        },
      ),
    );
  }
  return errors;
}
