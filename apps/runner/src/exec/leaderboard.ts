import {
  aggregate,
  type JsonValue,
  type Leaderboard,
  type MetricResult,
  type ResultRow,
} from "@tweedie/eval";
import type { CellRecord } from "../store/record.js";

/** The leaderboard row of one stored cell record. */
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

/** Aggregates stored records into a leaderboard (mean, spread, CI, valid and failed counts). */
export function leaderboardOf(records: readonly CellRecord[]): Leaderboard {
  return aggregate(records.map(recordToRow));
}
