import { canonicalJson } from "../aggregate/aggregate.js";
import {
  directionMark,
  type GroupField,
  type Leaderboard,
  type LeaderboardColumn,
  type LeaderboardGroup,
  type MetricSummary,
  type Summary,
} from "./schema.js";

export interface MarkdownOptions {
  /** Multiply values by each column's display scale (PIE-Bench: MSE x 10^4); default false. */
  readonly scaled?: boolean;
  /** Significant digits of the largest mean in each column, which fix its decimals; default 4. */
  readonly digits?: number;
}

/**
 * Renders a Markdown table for terminals and reports: one row per group, and one column
 * per metric with "mean ± 95% CI half-width" and the valid count n. Excluded values follow
 * n (inf: +Infinity, undef: undefined, unavail: unavailable, miss: missing, fail: failed).
 */
export function toMarkdown(leaderboard: Leaderboard, options: MarkdownOptions = {}): string {
  const scaled = options.scaled ?? false;
  const digits = options.digits ?? 4;
  const header = [
    ...leaderboard.groupBy,
    "rows",
    ...leaderboard.columns.map((column) => columnTitle(column, scaled)),
    "NFE",
    "s/image",
  ];
  const lines = [row(header), row(header.map(() => "---"))];
  const decimals = leaderboardDecimals(leaderboard, scaled, digits);
  for (const group of leaderboard.groups) {
    const cells = [
      ...leaderboard.groupBy.map((field) => groupValue(group, field)),
      group.failedRows > 0 ? `${group.rows} (${group.failedRows} failed)` : String(group.rows),
      ...leaderboard.columns.map((column, c) =>
        metricCell(
          group.metrics[column.key],
          scaled ? column.displayScale : 1,
          decimals.metrics[c] ?? 0,
        ),
      ),
      summaryCell(group.nfe, 1, decimals.nfe),
      summaryCell(group.seconds, 1, decimals.seconds),
    ];
    lines.push(row(cells));
  }
  lines.push("", LEGEND);
  return `${lines.join("\n")}\n`;
}

/** Legend printed under every Markdown table: how to read a cell. */
export const LEGEND =
  "Cells read mean ± half-width of the 95% confidence interval (Student t over the rows); n counts finite values, and inf, undef (such as SSIM on images smaller than its window), unavail, miss and fail count the rest.";

function columnTitle(column: LeaderboardColumn, scaled: boolean): string {
  const arrow = directionMark(column);
  const scale =
    scaled && column.displayScale !== 1 ? ` ×1e${Math.round(Math.log10(column.displayScale))}` : "";
  return `${column.key} ${arrow}${scale}`;
}

/** Decimals of every column of a leaderboard table, so each column reads one precision. */
export interface TableDecimals {
  /** One entry per metric column, in the leaderboard's column order. */
  readonly metrics: readonly number[];
  readonly nfe: number;
  readonly seconds: number;
}

/** Computes the decimals of every column of a leaderboard, for the Markdown and HTML tables. */
export function leaderboardDecimals(
  leaderboard: Leaderboard,
  scaled: boolean,
  digits: number,
): TableDecimals {
  const groups = leaderboard.groups;
  return {
    metrics: leaderboard.columns.map((column) =>
      columnDecimals(
        groups.map((group) => group.metrics[column.key]),
        scaled ? column.displayScale : 1,
        digits,
      ),
    ),
    nfe: columnDecimals(
      groups.map((group) => group.nfe),
      1,
      digits,
      true,
    ),
    seconds: columnDecimals(
      groups.map((group) => group.seconds),
      1,
      digits,
    ),
  };
}

/**
 * Decimals that give the column's largest |mean| `digits` significant digits (at most 20).
 * With `counts`, a column of whole numbers (NFE) gets none. A column without a mean, or
 * whose means are all zero, gets digits - 1 decimals.
 */
function columnDecimals(
  summaries: readonly (Summary | undefined)[],
  scale: number,
  digits: number,
  counts = false,
): number {
  let largest = 0;
  let wholeNumbers = true;
  for (const summary of summaries) {
    if (summary?.mean == null) continue;
    largest = Math.max(largest, Math.abs(summary.mean * scale));
    wholeNumbers &&= Number.isInteger(summary.mean * scale);
  }
  if (counts && largest > 0 && wholeNumbers) return 0;
  const magnitude = largest === 0 ? 0 : Math.floor(Math.log10(largest));
  return Math.min(20, Math.max(0, digits - 1 - magnitude));
}

function metricCell(summary: MetricSummary | undefined, scale: number, decimals: number): string {
  if (!summary) return "";
  const excluded = [
    ["inf", summary.infinite],
    ["undef", summary.undefinedValues],
    ["unavail", summary.unavailable],
    ["miss", summary.missing],
    ["fail", summary.failed],
  ]
    .filter(([, count]) => (count as number) > 0)
    .map(([label, count]) => `${count} ${label}`);
  const counts = [`n=${summary.n}`, ...excluded].join(", ");
  return summary.mean === null
    ? `– (${counts})`
    : `${formatMean(summary, scale, decimals)} (${counts})`;
}

function summaryCell(summary: Summary, scale: number, decimals: number): string {
  return summary.mean === null ? "–" : formatMean(summary, scale, decimals);
}

function formatMean(summary: Summary, scale: number, decimals: number): string {
  const mean = (summary.mean ?? 0) * scale;
  const text = mean.toFixed(decimals);
  if (!summary.ci95) return text;
  return `${text} ± ${(summary.ci95.halfWidth * scale).toFixed(decimals)}`;
}

function groupValue(group: LeaderboardGroup, field: GroupField): string {
  if (field === "params") return canonicalJson(group.key.params ?? {});
  return group.key[field] ?? "";
}

function row(cells: readonly string[]): string {
  return `| ${cells.map(escapeMarkdown).join(" | ")} |`;
}

function escapeMarkdown(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

const SUMMARY_FIELDS = ["mean", "std", "ci95_low", "ci95_high", "n", "min", "max"] as const;
const COUNT_FIELDS = ["infinite", "undefined", "unavailable", "missing", "failed"] as const;

/**
 * Renders CSV by RFC 4180: CRLF line ends, and fields with a comma, quote, CR or LF quoted
 * with quotes doubled. Each group is one line. Each metric column gives "<key>:mean",
 * ":std", ":ci95_low", ":ci95_high", ":n", ":min", ":max" and the excluded counts. Values
 * are raw (never display-scaled) at full precision, and missing values are empty.
 */
export function toCsv(leaderboard: Leaderboard): string {
  const header: string[] = [...leaderboard.groupBy, "rows", "failed_rows"];
  for (const name of ["nfe", "seconds"]) {
    header.push(`${name}:mean`, `${name}:std`, `${name}:n`);
  }
  for (const column of leaderboard.columns) {
    for (const field of [...SUMMARY_FIELDS, ...COUNT_FIELDS]) header.push(`${column.key}:${field}`);
  }
  const lines = [header];
  for (const group of leaderboard.groups) {
    const cells: string[] = [
      ...leaderboard.groupBy.map((field) => groupValue(group, field)),
      String(group.rows),
      String(group.failedRows),
    ];
    for (const summary of [group.nfe, group.seconds]) {
      cells.push(numberField(summary.mean), numberField(summary.std), String(summary.n));
    }
    for (const column of leaderboard.columns)
      cells.push(...metricFields(group.metrics[column.key]));
    lines.push(cells);
  }
  return lines.map((cells) => `${cells.map(csvField).join(",")}\r\n`).join("");
}

function metricFields(summary: MetricSummary | undefined): string[] {
  if (!summary) return [...SUMMARY_FIELDS, ...COUNT_FIELDS].map(() => "");
  return [
    numberField(summary.mean),
    numberField(summary.std),
    numberField(summary.ci95?.low ?? null),
    numberField(summary.ci95?.high ?? null),
    String(summary.n),
    numberField(summary.min),
    numberField(summary.max),
    String(summary.infinite),
    String(summary.undefinedValues),
    String(summary.unavailable),
    String(summary.missing),
    String(summary.failed),
  ];
}

function numberField(value: number | null): string {
  return value === null ? "" : String(value);
}

/** Quotes one CSV field when RFC 4180 requires it. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
