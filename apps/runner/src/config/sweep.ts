import { createRng, TweedieError } from "@tweedie/core";
import type { Range, SolverEntry } from "./schema.js";

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

type Path = (string | number)[];

/** Largest number of parameter sets one solver entry may expand to. */
export const MAX_PARAM_SETS = 10000;

/** Random draws keep this many significant digits, so records stay readable. */
const DRAW_DIGITS = 6;

/**
 * Expands one solver entry's `params` into parameter sets.
 *
 * Grid mode: every list-valued parameter expands, and the sets are the cartesian product
 * over those parameters in sorted key order. A parameter whose value is itself a list is
 * written as a one-element list holding it: `kernel: [[3, 5]]` is the single value
 * [3, 5], while `kernel: [3, 5]` is two sets. Lists nested inside objects never expand.
 * An empty list is an error, since it would remove the solver from the run.
 *
 * Random mode: `samples` draws, each parameter of `ranges` drawn independently from the
 * seeded stream (seed, "sweep", name), so adding a range leaves the other draws as
 * they were. A list in `params` is a set of choices drawn uniformly, like `values`.
 */
export function expandParams(entry: SolverEntry, path: Path): JsonObject[] {
  const params = entry.params as JsonObject;
  checkNoEmptyLists(params, path);
  if (entry.sweep.mode === "grid") return expandGrid(params, path);
  return drawRandom(params, entry.sweep, path);
}

function checkNoEmptyLists(params: JsonObject, path: Path): void {
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value) && value.length === 0) {
      throw new TweedieError("an empty list expands to no parameter sets", {
        code: "invalid_value",
        path: [...path, "params", key],
        expected: "a value, or a list of at least one value (write [[]] for an empty list value)",
        received: value,
      });
    }
  }
}

function expandGrid(params: JsonObject, path: Path): JsonObject[] {
  const keys = Object.keys(params).sort();
  let sets: JsonObject[] = [{}];
  for (const key of keys) {
    const value = params[key];
    const choices = Array.isArray(value) ? value : [value];
    if (sets.length * choices.length > MAX_PARAM_SETS) {
      throw new TweedieError("the parameter grid is too large", {
        code: "out_of_range",
        path: [...path, "params"],
        expected: `<= ${MAX_PARAM_SETS} parameter sets`,
        received: `more than ${MAX_PARAM_SETS}`,
      });
    }
    sets = sets.flatMap((set) => choices.map((choice) => ({ ...set, [key]: choice })));
  }
  return sets;
}

function drawRandom(
  params: JsonObject,
  sweep: Extract<SolverEntry["sweep"], { mode: "random" }>,
  path: Path,
): JsonObject[] {
  const ranges: Record<string, Range | { values: JsonValue[] }> = {};
  for (const [key, value] of Object.entries(params)) {
    if (!Array.isArray(value)) continue;
    ranges[key] = { values: value };
  }
  for (const [key, range] of Object.entries(sweep.ranges)) {
    if (key in params) {
      throw new TweedieError("a parameter is both fixed in params and drawn from a range", {
        code: "invalid_value",
        path: [...path, "sweep", "ranges", key],
        expected: "each parameter in params or in sweep.ranges, not both",
        received: params[key],
      });
    }
    ranges[key] = range;
  }
  if (Object.keys(ranges).length === 0) {
    throw new TweedieError("random search has nothing to draw, so every sample would be the same", {
      code: "invalid_value",
      path: [...path, "sweep", "ranges"],
      expected: "at least one range, or a list in params",
      received: {},
    });
  }
  const root = createRng(sweep.seed).split("sweep");
  const sets: JsonObject[] = [];
  for (let k = 0; k < sweep.samples; k++) {
    const set: JsonObject = {};
    for (const key of Object.keys(params).sort()) set[key] = params[key];
    for (const key of Object.keys(ranges).sort()) {
      set[key] = drawOne(ranges[key], root.split(key).uniformAt(k));
    }
    sets.push(set);
  }
  return sets;
}

/** Maps one uniform u in [0, 1) onto a range. */
function drawOne(range: Range | { values: JsonValue[] }, u: number): JsonValue {
  if ("values" in range && range.values !== undefined) {
    return range.values[Math.floor(u * range.values.length)] as JsonValue;
  }
  const { min, max, scale, integer } = range as Range & { min: number; max: number };
  if (integer) {
    const low = Math.ceil(min);
    const high = Math.floor(max);
    return low + Math.floor(u * (high - low + 1));
  }
  const value =
    scale === "log"
      ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min)))
      : min + u * (max - min);
  return Number(value.toPrecision(DRAW_DIGITS));
}
