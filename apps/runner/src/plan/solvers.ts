import { TweedieError } from "@tweedie/core";
import type { z } from "zod";
import { closest } from "../cli/suggest.js";
import { issuesToErrors } from "../config/issues.js";
import { checkCommonParams, type ResolvedSolver } from "../config/resolve.js";
import type { JsonObject } from "../config/sweep.js";
import { canonicalJson } from "./canonical.js";

/**
 * The part of a solver plugin that planning uses; `SolverPlugin` from @tweedie/core
 * satisfies it. `paramsSchema` is the only source of defaults and contains the plugin's
 * cross-field rules.
 */
export interface SolverInfo {
  name: string;
  version: string;
  tasks: readonly ("restoration" | "editing")[];
  paramsSchema: z.ZodType;
  presets: Readonly<Record<string, { params: Record<string, unknown>; source: string }>>;
}

/** A preset value that the config's params replaced; logged so overrides are visible. */
export interface ParamOverride {
  param: string;
  preset: unknown;
  value: unknown;
}

/** One expanded parameter set of one solver entry, with defaults and preset applied. */
export interface SolverVariant {
  label: string;
  name: string;
  version: string;
  preset: string | undefined;
  presetSource: string | undefined;
  tasks: readonly ("restoration" | "editing")[];
  /** Every effective parameter, as the plugin schema returned it. */
  params: JsonObject;
  overrides: ParamOverride[];
  /** Index of the source entry in the config's `solvers`, and of the set in its sweep. */
  entry: number;
  /** Task names this variant runs on; undefined means every supported task. */
  onlyTasks?: string[];
  set: number;
}

/**
 * Resolves every parameter set of every solver entry through its plugin: the preset's
 * values under the config's, then the plugin schema (defaults and cross-field rules),
 * then the shared step checks, including `steps` against the model's schedule length.
 */
export function resolveSolverVariants(
  solvers: readonly ResolvedSolver[],
  plugins: ReadonlyMap<string, SolverInfo>,
  scheduleSteps: number | null,
  errors: TweedieError[],
): SolverVariant[] {
  const variants: SolverVariant[] = [];
  for (const solver of solvers) {
    const path = ["solvers", solver.index];
    const plugin = plugins.get(solver.name);
    if (plugin === undefined) {
      const guess = closest(solver.name, plugins.keys(), 2);
      errors.push(
        new TweedieError("unknown solver", {
          code: "not_found",
          path: [...path, "name"],
          expected: `one of ${[...plugins.keys()].sort().join(", ")}`,
          received: solver.name,
          hint: guess ? `did you mean "${guess}"?` : undefined,
        }),
      );
      continue;
    }
    const preset = solver.preset === undefined ? undefined : plugin.presets[solver.preset];
    if (solver.preset !== undefined && preset === undefined) {
      const guess = closest(solver.preset, Object.keys(plugin.presets), 2);
      errors.push(
        new TweedieError(`unknown preset of solver ${plugin.name}`, {
          code: "not_found",
          path: [...path, "preset"],
          expected: `one of ${Object.keys(plugin.presets).sort().join(", ") || "(none)"}`,
          received: solver.preset,
          hint: guess ? `did you mean "${guess}"?` : undefined,
        }),
      );
      continue;
    }
    // Every drawn or expanded set repeats a problem of a swept key, so each is reported once.
    const solverErrors: TweedieError[] = [];
    solver.paramSets.forEach((set, index) => {
      const variant = resolveVariant(
        solver,
        plugin,
        preset,
        set,
        index,
        scheduleSteps,
        solverErrors,
      );
      if (variant) variants.push(variant);
    });
    const seen = new Set<string>();
    for (const error of solverErrors.map((error) => atSweepRange(solver, error))) {
      const key = `${error.path.join("/")}|${error.message}|${error.hint ?? ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      errors.push(error);
    }
  }
  return variants;
}

/**
 * Moves an error about params.KEY to sweep.ranges.KEY when KEY was drawn by a random
 * sweep and not written under params, so it points at the line to fix.
 */
function atSweepRange(solver: ResolvedSolver, error: TweedieError): TweedieError {
  const [root, index, field, key, ...rest] = error.path;
  const ranges = (solver.sweep as { ranges?: Record<string, unknown> } | undefined)?.ranges ?? {};
  if (
    root !== "solvers" ||
    index !== solver.index ||
    field !== "params" ||
    typeof key !== "string" ||
    !(key in ranges) ||
    key in (solver.params ?? {})
  ) {
    return error;
  }
  return new TweedieError(error.message, {
    code: error.code,
    path: ["solvers", solver.index, "sweep", "ranges", key, ...rest],
    expected: error.expected,
    received: error.received,
    hint: error.hint,
  });
}

function resolveVariant(
  solver: ResolvedSolver,
  plugin: SolverInfo,
  preset: SolverInfo["presets"][string] | undefined,
  set: JsonObject,
  index: number,
  scheduleSteps: number | null,
  errors: TweedieError[],
): SolverVariant | undefined {
  const paramsPath = ["solvers", solver.index, "params"];
  const merged = { ...(preset?.params ?? {}), ...set };
  const parsed = plugin.paramsSchema.safeParse(merged, { reportInput: true });
  if (!parsed.success) {
    errors.push(...issuesToErrors(parsed.error.issues, plugin.paramsSchema, paramsPath));
    return undefined;
  }
  const params = JSON.parse(canonicalJson(parsed.data)) as JsonObject;

  const problems = checkCommonParams(params, paramsPath);
  const steps = params.steps;
  if (scheduleSteps !== null && typeof steps === "number" && steps > scheduleSteps) {
    problems.push(
      new TweedieError(`steps ${steps} > schedule length ${scheduleSteps}`, {
        code: "out_of_range",
        path: [...paramsPath, "steps"],
        expected: `<= ${scheduleSteps}, the model's number of training steps`,
        received: steps,
      }),
    );
  }
  if (problems.length > 0) {
    errors.push(...problems);
    return undefined;
  }

  const overrides: ParamOverride[] = [];
  for (const [param, value] of Object.entries(set)) {
    const presetValue = preset?.params[param];
    if (presetValue !== undefined && canonicalJson(presetValue) !== canonicalJson(value)) {
      overrides.push({ param, preset: presetValue, value });
    }
  }
  return {
    label: solver.label,
    name: plugin.name,
    version: plugin.version,
    preset: solver.preset,
    presetSource: preset?.source,
    tasks: plugin.tasks,
    params,
    overrides,
    entry: solver.index,
    ...(solver.onlyTasks ? { onlyTasks: solver.onlyTasks } : {}),
    set: index,
  };
}
