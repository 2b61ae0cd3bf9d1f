import {
  aggregate,
  type JsonValue,
  type Leaderboard,
  type MetricResult,
  type ResultRow,
} from "@tweedie/eval";
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
 */
export function leaderboardOf(
  records: readonly CellRecord[],
  options: { compact?: boolean } = {},
): Leaderboard {
  const rows = records.map(recordToRow);
  if (options.compact) {
    const paramsBySolver = new Map<string, Set<string>>();
    for (const row of rows) {
      const set = paramsBySolver.get(row.solver) ?? new Set<string>();
      set.add(JSON.stringify(row.params));
      paramsBySolver.set(row.solver, set);
    }
    if ([...paramsBySolver.values()].every((set) => set.size === 1))
      return aggregate(rows, ["dataset", "task", "solver"]);
  }
  return aggregate(rows);
}
