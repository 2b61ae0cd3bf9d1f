import { TweedieError } from "@tweedie/core";
import { canonicalJson } from "../aggregate/aggregate.js";
import type {
  GroupField,
  Leaderboard,
  LeaderboardColumn,
  LeaderboardGroup,
} from "../leaderboard/schema.js";

/** A point of a line plot, with an optional interval drawn as an error bar. */
export interface PlotPoint {
  readonly x: number;
  readonly y: number;
  readonly low?: number;
  readonly high?: number;
}

export interface LinePlot {
  readonly kind: "line";
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Default linear; log needs x > 0 (NFE). */
  readonly xScale?: "linear" | "log";
  readonly series: readonly { readonly label: string; readonly points: readonly PlotPoint[] }[];
}

export interface BarChart {
  readonly kind: "bar";
  readonly title: string;
  readonly yLabel: string;
  /** Bar groups along the x axis, such as PIE-Bench edit types. */
  readonly categories: readonly string[];
  /** One bar per category per series; null leaves a gap. */
  readonly series: readonly {
    readonly label: string;
    readonly values: readonly (number | null)[];
  }[];
}

export type ReportPlot = LinePlot | BarChart;

type SeriesField = Exclude<GroupField, "params">;

export interface MetricPlotOptions {
  /** Leaderboard column key, such as "psnr@canonical". */
  readonly column: string;
  /** x axis: mean NFE per image, or a numeric solver parameter of the sweep. */
  readonly x: "nfe" | { readonly param: string };
  /** Group fields that split series; default ["solver"]. Other parameters split them too. */
  readonly seriesBy?: readonly SeriesField[];
  /**
   * Parameters that vary along each curve, so they do not split series, such as the step
   * count when x is NFE. The x parameter always varies along the curve.
   */
  readonly varying?: readonly string[];
  /** Multiply by the column's display scale; default false. */
  readonly scaled?: boolean;
  readonly title?: string;
}

/**
 * Builds a line plot of a metric column against NFE or a swept parameter: one point per
 * leaderboard group (its mean, with the 95% interval as an error bar), one series per
 * combination of `seriesBy` fields and the remaining parameters. Groups without a mean or
 * without a numeric x are left out.
 */
export function metricPlot(leaderboard: Leaderboard, options: MetricPlotOptions): LinePlot {
  const column = findColumn(leaderboard, options.column);
  const scale = options.scaled ? column.displayScale : 1;
  const param = options.x === "nfe" ? null : options.x.param;
  const series = new Map<string, PlotPoint[]>();
  for (const group of leaderboard.groups) {
    const summary = group.metrics[column.key];
    const x = param === null ? group.nfe.mean : group.key.params?.[param];
    if (summary?.mean == null || typeof x !== "number" || !Number.isFinite(x)) continue;
    const label = seriesLabel(group, options.seriesBy ?? ["solver"], [
      ...(param === null ? [] : [param]),
      ...(options.varying ?? []),
    ]);
    const point: PlotPoint = {
      x,
      y: summary.mean * scale,
      ...(summary.ci95 ? { low: summary.ci95.low * scale, high: summary.ci95.high * scale } : {}),
    };
    series.set(label, [...(series.get(label) ?? []), point]);
  }
  const scaleText = scale === 1 ? "" : ` ×${scale}`;
  return {
    kind: "line",
    title: options.title ?? `${column.key} vs ${param ?? "NFE"}`,
    xLabel: param ?? "NFE per image",
    yLabel: `${column.key}${scaleText} ${directionLabel(column)}`,
    xScale: param === null ? "log" : "linear",
    series: [...series.entries()].map(([label, points]) => ({
      label,
      points: points.sort((a, b) => a.x - b.x),
    })),
  };
}

export interface SubsetBarOptions {
  readonly column: string;
  /** Group fields that split series; default ["solver"]; parameters split them too. */
  readonly seriesBy?: readonly SeriesField[];
  readonly scaled?: boolean;
  readonly title?: string;
}

/**
 * Builds a bar chart of a metric column per subset (PIE-Bench edit type), one bar per
 * series. The leaderboard must be grouped by `subset`.
 */
export function subsetBars(leaderboard: Leaderboard, options: SubsetBarOptions): BarChart {
  if (!leaderboard.groupBy.includes("subset")) {
    throw new TweedieError("per-subset bars need a leaderboard grouped by subset", {
      code: "invalid_value",
      path: ["leaderboard", "groupBy"],
      expected: "a groupBy that includes subset",
      received: leaderboard.groupBy,
    });
  }
  const column = findColumn(leaderboard, options.column);
  const scale = options.scaled ? column.displayScale : 1;
  const categories = [
    ...new Set(leaderboard.groups.map((group) => group.key.subset ?? "(none)")),
  ].sort(compareNatural);
  const series = new Map<string, (number | null)[]>();
  for (const group of leaderboard.groups) {
    const label = seriesLabel(group, options.seriesBy ?? ["solver"], []);
    const values = series.get(label) ?? categories.map(() => null);
    const mean = group.metrics[column.key]?.mean ?? null;
    values[categories.indexOf(group.key.subset ?? "(none)")] = mean === null ? null : mean * scale;
    series.set(label, values);
  }
  const scaleText = scale === 1 ? "" : ` ×${scale}`;
  return {
    kind: "bar",
    title: options.title ?? `${column.key} per subset`,
    yLabel: `${column.key}${scaleText}`,
    categories,
    series: [...series.entries()].map(([label, values]) => ({ label, values })),
  };
}

function findColumn(leaderboard: Leaderboard, key: string) {
  const column = leaderboard.columns.find((c) => c.key === key);
  if (column === undefined) {
    throw new TweedieError(`leaderboard has no column ${JSON.stringify(key)}`, {
      code: "not_found",
      path: ["column"],
      expected: leaderboard.columns.map((c) => c.key),
      received: key,
    });
  }
  return column;
}

function seriesLabel(
  group: LeaderboardGroup,
  fields: readonly SeriesField[],
  varying: readonly string[],
): string {
  const parts = fields.map((field) => String(group.key[field] ?? ""));
  const params = Object.entries(group.key.params ?? {})
    .filter(([name]) => !varying.includes(name))
    .sort(([a], [b]) => compareText(a, b))
    .map(([name, value]) => `${name}=${typeof value === "string" ? value : canonicalJson(value)}`);
  return [...parts, ...params].filter((part) => part !== "").join(" ") || "all";
}

/** Orders "10" after "9" and otherwise by code units, so edit types 0..9 sort as numbers. */
function compareNatural(a: string, b: string): number {
  const numberA = Number(a);
  const numberB = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(numberA) && Number.isFinite(numberB))
    return numberA - numberB;
  return compareText(a, b);
}

/** Orders strings by UTF-16 code units, the same on every machine and locale. */
function compareText(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

function directionLabel(column: LeaderboardColumn): string {
  if (column.target !== undefined) return `(best at ${column.target})`;
  return column.higherIsBetter ? "(higher is better)" : "(lower is better)";
}
