import { TweedieError } from "@tweedie/core";
import {
  GROUP_FIELDS,
  type GroupField,
  type GroupKey,
  LEADERBOARD_SCHEMA,
  LEADERBOARD_VERSION,
  type Leaderboard,
  type LeaderboardColumn,
  type LeaderboardGroup,
  type MetricSummary,
} from "../leaderboard/schema.js";
import { metricId } from "../metrics/registry.js";
import type { MetricResult } from "../metrics/types.js";
import { summarize } from "./summary.js";

export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** One scored cell: what ran, and its metric results (from one or more score records). */
export interface ResultRow {
  readonly dataset: string;
  readonly task: string;
  readonly solver: string;
  /** Solver parameters; rows group together when these are equal as JSON (key order ignored). */
  readonly params?: Readonly<Record<string, JsonValue>>;
  /** A named part of the dataset, such as a PIE-Bench edit category. */
  readonly subset?: string;
  /** A failed cell counts in `failedRows` and in each column's `failed`; default "done". */
  readonly status?: "done" | "failed";
  readonly metrics?: readonly MetricResult[];
  /** Network evaluations spent on this image. */
  readonly nfe?: number | null;
  /** Wall-clock seconds spent on this image. */
  readonly seconds?: number | null;
}

export const DEFAULT_GROUP_BY: readonly GroupField[] = ["dataset", "task", "solver", "params"];

/**
 * Returns the column a metric result belongs to: "metric@profile", plus "/crop=N" when a
 * border crop was applied. Results of different profiles or crops never share a column.
 */
export function columnKey(result: MetricResult): string {
  const crop = result.conventions.borderCrop;
  const id = metricId(result.metric, result.profile);
  return crop > 0 ? `${id}/crop=${crop}` : id;
}

/**
 * Groups rows by `groupBy` and summarises every metric column, NFE and time per image.
 * A column's statistics use finite values only; +Infinity, undefined and unavailable
 * results, missing results and failed rows are counted apart.
 */
export function aggregate(
  rows: readonly ResultRow[],
  groupBy: readonly GroupField[] = DEFAULT_GROUP_BY,
): Leaderboard {
  checkGroupBy(groupBy);
  const columns = collectColumns(rows);
  const buckets = new Map<string, { key: GroupKey; rows: ResultRow[] }>();
  rows.forEach((row, index) => {
    checkRow(row, index);
    const key = groupKeyOf(row, groupBy);
    const id = sortKeyOf(key);
    const bucket = buckets.get(id) ?? { key, rows: [] };
    bucket.rows.push(row);
    buckets.set(id, bucket);
  });

  const groups = [...buckets.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([, bucket]) => summarizeGroup(bucket.key, bucket.rows, columns));
  return {
    schema: LEADERBOARD_SCHEMA,
    version: LEADERBOARD_VERSION,
    groupBy: [...groupBy],
    columns,
    groups,
  };
}

function summarizeGroup(
  key: GroupKey,
  rows: readonly ResultRow[],
  columns: readonly LeaderboardColumn[],
): LeaderboardGroup {
  const done = rows.filter((row) => (row.status ?? "done") === "done");
  const finite = (values: (number | null | undefined)[]) =>
    values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const metrics: Record<string, MetricSummary> = {};
  for (const column of columns) {
    metrics[column.key] = summarizeColumn(column.key, done, rows.length - done.length);
  }
  return {
    key,
    rows: rows.length,
    failedRows: rows.length - done.length,
    nfe: summarize(finite(done.map((row) => row.nfe))),
    seconds: summarize(finite(done.map((row) => row.seconds))),
    metrics,
  };
}

function summarizeColumn(key: string, done: readonly ResultRow[], failed: number): MetricSummary {
  const values: number[] = [];
  let infinite = 0;
  let undefinedValues = 0;
  let unavailable = 0;
  let missing = 0;
  for (const row of done) {
    const result = row.metrics?.find((r) => columnKey(r) === key);
    if (!result) missing++;
    else if (result.status === "ok" && Number.isFinite(result.value)) values.push(result.value);
    else if (result.status === "infinite") infinite++;
    else if (result.status === "unavailable") unavailable++;
    else undefinedValues++;
  }
  return { ...summarize(values), infinite, undefinedValues, unavailable, missing, failed };
}

/**
 * Collects one column per distinct key and rejects rows whose results disagree on a
 * column's conventions. Unavailable results are left out of that check.
 */
function collectColumns(rows: readonly ResultRow[]): LeaderboardColumn[] {
  const columns = new Map<
    string,
    { column: LeaderboardColumn; conventions: string; unavailableOnly: boolean }
  >();
  rows.forEach((row, index) => {
    const inRow = new Set<string>();
    row.metrics?.forEach((result, position) => {
      const key = columnKey(result);
      if (inRow.has(key)) {
        throw new TweedieError(`row ${index} has two results for column ${key}`, {
          code: "invalid_value",
          path: ["rows", index, "metrics", position],
          expected: "at most one result per metric, profile and border crop",
          received: key,
        });
      }
      inRow.add(key);
      const conventions = canonicalJson(result.conventions as unknown as JsonValue);
      const seen = columns.get(key);
      // An unavailable result has no number, and it cannot name the weights it lacks, so
      // it neither conflicts with nor defines the conventions of a column that has values.
      const unavailable = result.status === "unavailable";
      if (seen && unavailable) return;
      if (seen?.unavailableOnly && !unavailable) columns.delete(key);
      const current = columns.get(key);
      if (current && current.conventions !== conventions) {
        throw new TweedieError(`rows disagree on the conventions of column ${key}`, {
          code: "invalid_value",
          path: ["rows", index, "metrics", position, "conventions"],
          expected: current.column.conventions,
          received: result.conventions,
          hint: "score every row with the same version of the metric, or keep the runs apart",
        });
      }
      if (!current) {
        const column: LeaderboardColumn = {
          key,
          metric: result.metric,
          profile: result.profile,
          higherIsBetter: result.higherIsBetter,
          ...(result.target === undefined ? {} : { target: result.target }),
          displayScale: result.displayScale,
          conventions: result.conventions as LeaderboardColumn["conventions"],
        };
        columns.set(key, { column, conventions, unavailableOnly: unavailable });
      }
    });
  });
  return [...columns.values()]
    .map((entry) => entry.column)
    .sort((a, b) => compareStrings(a.key, b.key));
}

function groupKeyOf(row: ResultRow, groupBy: readonly GroupField[]): GroupKey {
  const key: Record<string, unknown> = {};
  for (const field of GROUP_FIELDS) {
    if (!groupBy.includes(field)) continue;
    if (field === "params") key.params = row.params ?? {};
    else if (field === "subset") key.subset = row.subset ?? null;
    else key[field] = row[field];
  }
  return key as GroupKey;
}

/** Joins the group fields in GROUP_FIELDS order by NUL, with params as canonical JSON. */
function sortKeyOf(key: GroupKey): string {
  return GROUP_FIELDS.map((field) =>
    field === "params" ? canonicalJson(key.params ?? null) : String(key[field] ?? ""),
  ).join("\u0000");
}

function checkGroupBy(groupBy: readonly GroupField[]): void {
  for (const field of groupBy) {
    if (!(GROUP_FIELDS as readonly string[]).includes(field)) {
      throw new TweedieError(`cannot group by ${JSON.stringify(field)}`, {
        code: "invalid_value",
        path: ["groupBy"],
        expected: [...GROUP_FIELDS],
        received: field,
      });
    }
  }
}

function checkRow(row: ResultRow, index: number): void {
  for (const field of ["dataset", "task", "solver"] as const) {
    if (typeof row[field] !== "string" || row[field] === "") {
      throw new TweedieError(`row ${index} has no ${field}`, {
        code: "missing",
        path: ["rows", index, field],
        expected: "a non-empty string",
        received: row[field],
      });
    }
  }
}

/** Orders strings by UTF-16 code units, the same on every machine and locale. */
function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => compareStrings(a, b));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
