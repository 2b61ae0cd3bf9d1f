import { TweedieError } from "@tweedie/core";
import { canonicalJson, type JsonValue } from "../aggregate/aggregate.js";
import {
  type Direction,
  type GroupKey,
  type Leaderboard,
  type LeaderboardColumn,
  type LeaderboardGroup,
  rankKey,
} from "../leaderboard/schema.js";

/**
 * The regression gate: compares the per-group column means of a current leaderboard with
 * a baseline's and lists every drop beyond tolerance, every row or column missing on
 * either side, every value that disappeared and every column whose conventions changed.
 * It returns data; the runner's `tweedie regress` renders it and sets the exit code.
 */

/** How much a mean may worsen before it counts as a drop: max(absolute, relative |baseline|). */
export interface Tolerance {
  /** In the metric's own units (dB for PSNR); default 0. */
  readonly absolute?: number;
  /** As a fraction of |baseline mean|; default 0. */
  readonly relative?: number;
}

export interface Tolerances {
  /** For columns without an entry of their own; default no tolerance at all. */
  readonly default?: Tolerance;
  /** By column key ("psnr@canonical") or by metric name ("psnr"); a column key wins. */
  readonly metrics?: Readonly<Record<string, Tolerance>>;
}

/** One column of one group, present with a mean on both sides. */
export interface Comparison {
  readonly group: GroupKey;
  /** The group key as canonical JSON, for matching and display. */
  readonly groupId: string;
  readonly column: string;
  readonly higherIsBetter: boolean;
  /** Best value of a metric that is best at a value. Worsening is then the growth of |mean - target|. */
  readonly target?: number;
  readonly baseline: number;
  readonly current: number;
  /** current - baseline. */
  readonly change: number;
  /** How much worse the current mean is, direction-aware: positive is worse. */
  readonly worsening: number;
  /** The tolerance in the metric's units. */
  readonly allowed: number;
  /** `drop`: worse by more than allowed; `improved`: better at all; `within`: otherwise. */
  readonly status: "drop" | "within" | "improved";
  readonly n: { readonly baseline: number; readonly current: number };
}

/** A row (column null) or a column of a row that only one side has, or whose value vanished. */
export interface MissingEntry {
  readonly group: GroupKey;
  readonly groupId: string;
  /** Null when the whole row (group) is missing. */
  readonly column: string | null;
  readonly reason: string;
}

export interface ConventionChange {
  readonly column: string;
  readonly baseline: LeaderboardColumn["conventions"];
  readonly current: LeaderboardColumn["conventions"];
}

/** A dataset whose data differs between the two leaderboards. */
export interface DataChange {
  readonly dataset: string;
  /** Dataset manifest hashes on each side, sorted. */
  readonly baseline: readonly string[];
  readonly current: readonly string[];
}

export interface RegressionReport {
  /**
   * True when nothing dropped, nothing of the baseline is missing or lost, no row has
   * fewer done cells, no data and no conventions changed.
   */
  readonly passed: boolean;
  readonly drops: readonly Comparison[];
  readonly improvements: readonly Comparison[];
  readonly within: readonly Comparison[];
  /** Rows and columns of the baseline that the current leaderboard lacks (fails the gate). */
  readonly missingInCurrent: readonly MissingEntry[];
  /** Rows and columns only the current leaderboard has (reported, does not fail). */
  readonly missingInBaseline: readonly MissingEntry[];
  /** Columns with a baseline mean but no current mean (every current value excluded; fails). */
  readonly lostValues: readonly MissingEntry[];
  /** Columns whose conventions differ, so their values are not compared (fails). */
  readonly conventionChanges: readonly ConventionChange[];
  /**
   * Rows with fewer done cells than the baseline's (cells missing or failed), whose means
   * then cover fewer images than the baseline's (fails).
   */
  readonly fewerRows: readonly MissingEntry[];
  /** Datasets whose content hashes differ, so their rows compare different images (fails). */
  readonly dataChanges: readonly DataChange[];
}

/**
 * Compares matching rows (same group key) and columns (same column key) of two
 * leaderboards. Lower-is-better metrics drop when they rise. Both leaderboards must group
 * by the same fields.
 */
export function compareLeaderboards(
  baseline: Leaderboard,
  current: Leaderboard,
  tolerances: Tolerances = {},
): RegressionReport {
  checkGroupBy(baseline, current);
  checkTolerances(tolerances);
  checkToleranceNames(tolerances, [...baseline.columns, ...current.columns]);
  const baseColumns = new Map(baseline.columns.map((c) => [c.key, c]));
  const currentColumns = new Map(current.columns.map((c) => [c.key, c]));
  const conventionChanges = changedConventions(baseColumns, currentColumns);
  const changed = new Set(conventionChanges.map((change) => change.column));

  const baseGroups = groupsById(baseline.groups);
  const currentGroups = groupsById(current.groups);
  const comparisons: Comparison[] = [];
  const missingInCurrent: MissingEntry[] = [];
  const missingInBaseline: MissingEntry[] = [];
  const lostValues: MissingEntry[] = [];
  const fewerRows: MissingEntry[] = [];

  for (const [groupId, base] of baseGroups) {
    const now = currentGroups.get(groupId);
    if (now === undefined) {
      missingInCurrent.push({
        group: base.key,
        groupId,
        column: null,
        reason: "row not in the current leaderboard",
      });
      continue;
    }
    const baseDone = base.rows - base.failedRows;
    const currentDone = now.rows - now.failedRows;
    if (currentDone < baseDone) {
      fewerRows.push({
        group: base.key,
        groupId,
        column: null,
        reason: `${currentDone} done cells against the baseline's ${baseDone} (${now.failedRows} failed, ${Math.max(0, base.rows - now.rows)} missing)`,
      });
    }
    for (const [column, summary] of Object.entries(base.metrics)) {
      if (changed.has(column)) continue;
      const currentSummary = now.metrics[column];
      if (currentSummary === undefined) {
        missingInCurrent.push({
          group: base.key,
          groupId,
          column,
          reason: "column not in the current row",
        });
        continue;
      }
      if (summary.mean === null) continue;
      if (currentSummary.mean === null) {
        lostValues.push({
          group: base.key,
          groupId,
          column,
          reason: `no current value: ${excludedCounts(currentSummary)}`,
        });
        continue;
      }
      const info = baseColumns.get(column) ?? currentColumns.get(column);
      comparisons.push(
        compare(
          base.key,
          groupId,
          column,
          { higherIsBetter: info?.higherIsBetter ?? true, target: info?.target },
          summary,
          currentSummary,
          tolerances,
          info?.metric,
        ),
      );
    }
    for (const column of Object.keys(now.metrics)) {
      if (!(column in base.metrics)) {
        missingInBaseline.push({
          group: now.key,
          groupId,
          column,
          reason: "column not in the baseline row",
        });
      }
    }
  }
  for (const [groupId, now] of currentGroups) {
    if (!baseGroups.has(groupId)) {
      missingInBaseline.push({
        group: now.key,
        groupId,
        column: null,
        reason: "row not in the baseline",
      });
    }
  }

  const drops = comparisons.filter((c) => c.status === "drop");
  const dataChanges = changedData(baseline, current);
  return {
    passed:
      drops.length === 0 &&
      missingInCurrent.length === 0 &&
      lostValues.length === 0 &&
      conventionChanges.length === 0 &&
      fewerRows.length === 0 &&
      dataChanges.length === 0,
    drops,
    improvements: comparisons.filter((c) => c.status === "improved"),
    within: comparisons.filter((c) => c.status === "within"),
    missingInCurrent,
    missingInBaseline,
    lostValues,
    conventionChanges,
    fewerRows,
    dataChanges,
  };
}

/** Lists datasets named on both sides whose content hashes differ; needs both sides to record them. */
function changedData(baseline: Leaderboard, current: Leaderboard): DataChange[] {
  if (baseline.datasets === undefined || current.datasets === undefined) return [];
  const changes: DataChange[] = [];
  for (const [dataset, hashes] of Object.entries(baseline.datasets)) {
    const now = current.datasets[dataset];
    if (now === undefined) continue;
    const before = [...hashes].sort();
    const after = [...now].sort();
    if (before.join(",") !== after.join(",")) {
      changes.push({ dataset, baseline: before, current: after });
    }
  }
  return changes;
}

/**
 * Rejects a tolerance whose name is neither a column key nor a metric of either
 * leaderboard, because a misspelt name would silently leave that metric at tolerance 0.
 */
function checkToleranceNames(tolerances: Tolerances, columns: readonly LeaderboardColumn[]): void {
  const known = new Set(columns.flatMap((column) => [column.key, column.metric]));
  for (const name of Object.keys(tolerances.metrics ?? {})) {
    if (known.has(name)) continue;
    const metrics = [...new Set(columns.map((column) => column.metric))].sort();
    throw new TweedieError(`tolerance for unknown metric ${name}`, {
      code: "invalid_value",
      path: ["tolerances", name],
      expected: `a metric or column of the leaderboards: ${metrics.join(", ")}`,
      received: name,
    });
  }
}

function compare(
  group: GroupKey,
  groupId: string,
  column: string,
  direction: Direction,
  base: LeaderboardGroup["metrics"][string],
  now: LeaderboardGroup["metrics"][string],
  tolerances: Tolerances,
  metric: string | undefined,
): Comparison {
  const baseline = base.mean!;
  const current = now.mean!;
  const change = current - baseline;
  const worsening = rankKey(direction, current) - rankKey(direction, baseline);
  const tolerance = toleranceFor(tolerances, column, metric);
  const allowed = Math.max(tolerance.absolute ?? 0, (tolerance.relative ?? 0) * Math.abs(baseline));
  let status: Comparison["status"] = "within";
  if (worsening > allowed) status = "drop";
  else if (worsening < 0) status = "improved";
  return {
    group,
    groupId,
    column,
    higherIsBetter: direction.higherIsBetter,
    ...(direction.target === undefined ? {} : { target: direction.target }),
    baseline,
    current,
    change,
    worsening,
    allowed,
    status,
    n: { baseline: base.n, current: now.n },
  };
}

/** Finds a column's tolerance: its own entry, else its metric's, else the default. */
function toleranceFor(
  tolerances: Tolerances,
  column: string,
  metric: string | undefined,
): Tolerance {
  const byColumn = tolerances.metrics?.[column];
  if (byColumn !== undefined) return byColumn;
  const byMetric = metric === undefined ? undefined : tolerances.metrics?.[metric];
  return byMetric ?? tolerances.default ?? {};
}

function excludedCounts(summary: LeaderboardGroup["metrics"][string]): string {
  const parts = [
    ["infinite", summary.infinite],
    ["undefined", summary.undefinedValues],
    ["unavailable", summary.unavailable],
    ["missing", summary.missing],
    ["failed", summary.failed],
  ]
    .filter(([, count]) => (count as number) > 0)
    .map(([label, count]) => `${count} ${label}`);
  return parts.length > 0 ? parts.join(", ") : "no results";
}

function groupsById(groups: readonly LeaderboardGroup[]): Map<string, LeaderboardGroup> {
  const out = new Map<string, LeaderboardGroup>();
  for (const group of groups) out.set(canonicalJson(group.key as JsonValue), group);
  return out;
}

function changedConventions(
  baseline: Map<string, LeaderboardColumn>,
  current: Map<string, LeaderboardColumn>,
): ConventionChange[] {
  const changes: ConventionChange[] = [];
  for (const [key, column] of baseline) {
    const other = current.get(key);
    if (other === undefined) continue;
    const same =
      canonicalJson(column.conventions as unknown as JsonValue) ===
        canonicalJson(other.conventions as unknown as JsonValue) &&
      column.higherIsBetter === other.higherIsBetter &&
      column.target === other.target;
    if (!same)
      changes.push({ column: key, baseline: column.conventions, current: other.conventions });
  }
  return changes;
}

function checkGroupBy(baseline: Leaderboard, current: Leaderboard): void {
  if (canonicalJson(baseline.groupBy) !== canonicalJson(current.groupBy)) {
    throw new TweedieError(
      "leaderboards group by different fields, so their rows cannot be matched",
      {
        code: "invalid_value",
        path: ["current", "groupBy"],
        expected: baseline.groupBy,
        received: current.groupBy,
        hint: "aggregate both runs with the same groupBy",
      },
    );
  }
}

function checkTolerances(tolerances: Tolerances): void {
  const entries: [string, Tolerance][] = [
    ...(tolerances.default ? ([["default", tolerances.default]] as [string, Tolerance][]) : []),
    ...Object.entries(tolerances.metrics ?? {}),
  ];
  for (const [name, tolerance] of entries) {
    for (const field of ["absolute", "relative"] as const) {
      const value = tolerance[field];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new TweedieError(`tolerance ${field} for ${name} must be a finite number >= 0`, {
          code: "invalid_value",
          path: ["tolerances", name, field],
          expected: "a finite number >= 0",
          received: value,
        });
      }
    }
  }
}
