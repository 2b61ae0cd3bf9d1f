import {
  aggregate,
  type JsonValue,
  type Leaderboard,
  type MetricResult,
  type ResultRow,
} from "@tweedie/eval";
import { canonicalJson, compareCodeUnits, sha256Hex } from "../plan/canonical.js";
import type { CellRecord } from "../store/record.js";

/** Converts one stored cell record into a leaderboard row. */
export function recordToRow(record: CellRecord): ResultRow {
  const r = record as CellRecord & {
    solver?: { label?: string; name?: string; params?: Record<string, JsonValue> };
    dataset?: { name?: string };
    task?: { name?: string };
    results?: MetricResult[];
    item?: { subset?: string };
  };
  return {
    dataset: r.dataset?.name ?? "unknown",
    task: r.task?.name ?? "unknown",
    solver: r.solver?.label ?? r.solver?.name ?? "unknown",
    params: r.solver?.params ?? {},
    status: record.status === "ok" ? "done" : "failed",
    metrics: record.status === "ok" ? (r.results ?? []) : [],
    nfe: record.nfe,
    seconds: record.timings.solve ?? record.timings.total ?? null,
  };
}

/**
 * Aggregates stored records into a leaderboard (mean, spread, CI, valid and failed counts),
 * grouped by dataset, task, solver label and params. With `compact`, params leave the
 * grouping when every solver label has one parameter set, which keeps a table for people
 * readable. The JSON leaderboard keeps them.
 *
 * A task name can stand for several task definitions under one location, when reruns of a
 * run name changed the task (operator, noise, prompt), the model or the input policy. Its
 * rows then get `name#hash`, the first 8 hex digits of the definition's hash, so one row
 * never mixes definitions. A name with one definition keeps its plain name.
 */
export function leaderboardOf(
  records: readonly CellRecord[],
  options: { compact?: boolean } = {},
): Leaderboard {
  const current = withoutSupersededFailures(records);
  const rows = disambiguateTasks(current, current.map(recordToRow));
  const datasets = datasetHashes(current);
  if (options.compact) {
    const paramsBySolver = new Map<string, Set<string>>();
    for (const row of rows) {
      const set = paramsBySolver.get(row.solver) ?? new Set<string>();
      set.add(JSON.stringify(row.params));
      paramsBySolver.set(row.solver, set);
    }
    if ([...paramsBySolver.values()].every((set) => set.size === 1))
      return { ...aggregate(rows, ["dataset", "task", "solver"]), datasets };
  }
  return { ...aggregate(rows), datasets };
}

/**
 * Drops failed records of items that later succeeded under the same dataset, task, solver
 * label, parameters, seed and sample. Replacing a corrupt file changes its content hash
 * and so its cell id, and the old failure would otherwise stay in the row.
 */
function withoutSupersededFailures(records: readonly CellRecord[]): CellRecord[] {
  const slot = (record: CellRecord): string => {
    const r = record as {
      dataset?: { name?: string };
      task?: { name?: string };
      solver?: { label?: string; params?: unknown };
      item?: { id?: string };
      seed?: number;
      sample?: number;
    };
    return canonicalJson({
      dataset: r.dataset?.name ?? null,
      task: r.task?.name ?? null,
      solver: r.solver?.label ?? null,
      params: (r.solver?.params ?? null) as JsonValue,
      item: r.item?.id ?? null,
      seed: r.seed ?? null,
      sample: r.sample ?? null,
    });
  };
  const succeeded = new Set(
    records.filter((record) => record.status === "ok").map((record) => slot(record)),
  );
  return records.filter((record) => record.status === "ok" || !succeeded.has(slot(record)));
}

/** Collects each dataset name's manifest hashes (sorted), so `regress` can see changed data. */
function datasetHashes(records: readonly CellRecord[]): Record<string, string[]> {
  const byName = new Map<string, Set<string>>();
  for (const record of records) {
    const dataset = (record as { dataset?: { name?: string; manifestHash?: string } }).dataset;
    if (dataset?.name === undefined || dataset.manifestHash === undefined) continue;
    const set = byName.get(dataset.name) ?? new Set<string>();
    set.add(dataset.manifestHash);
    byName.set(dataset.name, set);
  }
  return Object.fromEntries(
    [...byName.entries()]
      .sort(([a], [b]) => compareCodeUnits(a, b))
      .map(([name, set]) => [name, [...set].sort()]),
  );
}

/**
 * Returns the configured task a record belongs to, as the plan stored it. Records written before
 * plans stored it fall back to the cell's resolved task, model and input policy, which
 * also differ between items with per-item prompts.
 */
function taskDefinition(record: CellRecord): string {
  const stored = (record as { taskDefinition?: unknown }).taskDefinition;
  if (typeof stored === "string") return stored;
  const cell = record.cell as { task?: unknown; model?: unknown; input?: unknown };
  return canonicalJson({
    task: cell.task ?? null,
    model: cell.model ?? null,
    input: cell.input ?? null,
  });
}

function disambiguateTasks(records: readonly CellRecord[], rows: ResultRow[]): ResultRow[] {
  const definitions = records.map(taskDefinition);
  const byName = new Map<string, Set<string>>();
  rows.forEach((row, index) => {
    const name = `${row.dataset}\u0000${row.task}`;
    const set = byName.get(name) ?? new Set<string>();
    set.add(definitions[index]);
    byName.set(name, set);
  });
  return rows.map((row, index) => {
    if ((byName.get(`${row.dataset}\u0000${row.task}`)?.size ?? 1) < 2) return row;
    const hash = sha256Hex(definitions[index]).slice(0, 8);
    return { ...row, task: `${row.task}#${hash}` };
  });
}
