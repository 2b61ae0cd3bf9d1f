import { TweedieError } from "@tweedie/core";
import { canonicalJson, type JsonValue } from "../aggregate/aggregate.js";
import { leaderboardDecimals } from "../leaderboard/format.js";
import {
  directionMark,
  type GroupField,
  type Leaderboard,
  type LeaderboardColumn,
  type LeaderboardGroup,
  type MetricSummary,
  type Summary,
} from "../leaderboard/schema.js";
import type { SetMetricResult } from "../network/set-metrics.js";
import { contentSecurityPolicy, REPORT_SCRIPT, REPORT_STYLE } from "./assets.js";
import { escapeHtml, formatNumber, relativeImageUrl } from "./escape.js";
import type { ReportPlot } from "./plots.js";
import { renderBarChart, renderLinePlot } from "./svg.js";
import { type SweepSummary, summarizeSweeps } from "./sweep.js";

/** Image bytes embedded in the page as a data: URI. */
export interface EmbeddedImage {
  readonly bytes: Uint8Array;
  readonly mediaType: "image/png" | "image/jpeg" | "image/webp";
}

/** An image file next to the report, linked by a path relative to the report file. */
export interface LinkedImage {
  readonly path: string;
}

export interface ReportImage {
  /** Caption: "measurement", "dps zeta=1", "reference". */
  readonly label: string;
  readonly role: "measurement" | "source" | "output" | "reference";
  readonly image: EmbeddedImage | LinkedImage;
  /** Per-image values shown under the caption, such as { PSNR: 27.31 }. */
  readonly values?: Readonly<Record<string, number | string>>;
}

/** One dataset item: its images side by side, measurement first and reference last. */
export interface ReportItem {
  readonly id: string;
  /** Editing prompt or class prompt, shown as text. */
  readonly prompt?: string;
  readonly images: readonly ReportImage[];
}

/** FID and KID results of one leaderboard row. */
export interface ReportSetMetrics {
  readonly row: string;
  readonly results: readonly SetMetricResult[];
}

export interface ReportInput {
  readonly title: string;
  readonly leaderboard: Leaderboard;
  /** Lines under the title (run id, commit, date); the caller fixes them, so output is reproducible. */
  readonly meta?: readonly string[];
  /** Multiply means by each column's display scale (PIE-Bench: MSE x 10^4); default false. */
  readonly scaled?: boolean;
  /** Sweep summaries; default computed from the leaderboard by `summarizeSweeps`. */
  readonly sweeps?: readonly SweepSummary[];
  readonly plots?: readonly ReportPlot[];
  readonly setMetrics?: readonly ReportSetMetrics[];
  readonly items?: readonly ReportItem[];
}

/**
 * Renders a self-contained static HTML report: the sortable leaderboard, the sweep
 * summary, distribution metrics, inline SVG plots and an image grid per item. The page
 * fetches nothing, because its Content-Security-Policy forbids every network load. The
 * style and the column-sorting script are inline and allowed by hash. Images are embedded
 * as data: URIs (`bytes`) or linked by a path relative to the report file (`path`), and
 * every string from data is escaped.
 */
export function renderReport(input: ReportInput): string {
  const scaled = input.scaled ?? false;
  const sweeps = input.sweeps ?? summarizeSweeps(input.leaderboard);
  const columnsByKey = new Map(input.leaderboard.columns.map((c) => [c.key, c]));
  const sections = [
    leaderboardSection(input.leaderboard, scaled),
    sweeps.length > 0 ? sweepSection(sweeps, columnsByKey, scaled) : "",
    input.setMetrics && input.setMetrics.length > 0 ? setMetricSection(input.setMetrics) : "",
    input.plots && input.plots.length > 0 ? plotSection(input.plots) : "",
    input.items && input.items.length > 0 ? itemSection(input.items) : "",
  ];
  const meta = (input.meta ?? []).map((line) => `<p class="meta">${escapeHtml(line)}</p>`);
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy())}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(input.title)}</title>`,
    `<style>${REPORT_STYLE}</style>`,
    "</head>",
    "<body>",
    `<header><h1>${escapeHtml(input.title)}</h1>${meta.join("")}</header>`,
    ...sections.filter((s) => s !== ""),
    `<script>${REPORT_SCRIPT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function leaderboardSection(board: Leaderboard, scaled: boolean): string {
  const header = [
    ...board.groupBy.map((field) => sortableHeader(field, field === "params" ? "text" : "text")),
    sortableHeader("rows", "number"),
    ...board.columns.map((column) => sortableHeader(columnTitle(column, scaled), "number")),
    sortableHeader("NFE", "number"),
    sortableHeader("s/image", "number"),
  ];
  const decimals = leaderboardDecimals(board, scaled, 4);
  const rows = board.groups.map((group) => {
    const cells = [
      ...board.groupBy.map((field) => groupCell(group, field)),
      `<td class="number" data-value="${group.rows}">${group.rows}${group.failedRows > 0 ? `<span class="count">${group.failedRows} failed</span>` : ""}</td>`,
      ...board.columns.map((column, c) =>
        metricCell(
          group.metrics[column.key],
          scaled ? column.displayScale : 1,
          decimals.metrics[c] ?? 0,
        ),
      ),
      summaryCell(group.nfe, decimals.nfe),
      summaryCell(group.seconds, decimals.seconds),
    ];
    return `<tr>${cells.join("")}</tr>`;
  });
  return [
    '<section id="leaderboard"><h2>Leaderboard</h2>',
    `<p class="meta">${board.groups.length} rows, ${board.columns.length} metric columns; mean ± 95% CI half-width, n valid values. Click a column header to sort.</p>`,
    `<table class="sortable"><thead><tr>${header.join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`,
    "</section>",
  ].join("");
}

function sortableHeader(label: string, type: "number" | "text"): string {
  return `<th data-type="${type}"><button type="button">${escapeHtml(label)}</button></th>`;
}

function columnTitle(column: LeaderboardColumn, scaled: boolean): string {
  const arrow = directionMark(column);
  const scale =
    scaled && column.displayScale !== 1 ? ` ×1e${Math.round(Math.log10(column.displayScale))}` : "";
  return `${column.key} ${arrow}${scale}`;
}

function groupCell(group: LeaderboardGroup, field: GroupField): string {
  if (field === "params") {
    const params = group.key.params ?? {};
    const text = paramsText(params);
    return `<td data-value="${escapeHtml(canonicalJson(params as JsonValue))}">${escapeHtml(text)}</td>`;
  }
  return `<td>${escapeHtml(String(group.key[field] ?? ""))}</td>`;
}

/** Parameters as "name=value" pairs in key order, strings unquoted. */
export function paramsText(params: Readonly<Record<string, JsonValue>>): string {
  return Object.keys(params)
    .sort()
    .map((name) => {
      const value = params[name];
      return `${name}=${typeof value === "string" ? value : canonicalJson(value)}`;
    })
    .join(", ");
}

function metricCell(summary: MetricSummary | undefined, scale: number, decimals: number): string {
  if (summary === undefined) return '<td class="number"></td>';
  const excluded = [
    ["inf", summary.infinite],
    ["undef", summary.undefinedValues],
    ["unavail", summary.unavailable],
    ["miss", summary.missing],
    ["fail", summary.failed],
  ]
    .filter(([, count]) => (count as number) > 0)
    .map(([label, count]) => `${count} ${label}`);
  const counts = `<span class="count">${escapeHtml([`n=${summary.n}`, ...excluded].join(" · "))}</span>`;
  if (summary.mean === null) return `<td class="number" data-value="">–${counts}</td>`;
  const mean = summary.mean * scale;
  const interval = summary.ci95 ? ` ± ${(summary.ci95.halfWidth * scale).toFixed(decimals)}` : "";
  return `<td class="number" data-value="${mean}">${escapeHtml(mean.toFixed(decimals))}${escapeHtml(interval)}${counts}</td>`;
}

function summaryCell(summary: Summary, decimals: number): string {
  if (summary.mean === null) return '<td class="number" data-value="">–</td>';
  return `<td class="number" data-value="${summary.mean}">${escapeHtml(summary.mean.toFixed(decimals))}</td>`;
}

function sweepSection(
  sweeps: readonly SweepSummary[],
  columns: Map<string, LeaderboardColumn>,
  scaled: boolean,
): string {
  const rows = sweeps.flatMap((sweep) =>
    sweep.winners.map((winner) => {
      const scale = scaled ? (columns.get(winner.column)?.displayScale ?? 1) : 1;
      const key = Object.entries(sweep.key)
        .map(([field, value]) => `${field}=${value ?? ""}`)
        .join(", ");
      const margin = winner.margin === null ? "–" : formatNumber(winner.margin * scale);
      let overlap = "–";
      if (winner.intervalsOverlap !== null) overlap = winner.intervalsOverlap ? "yes" : "no";
      const cells = [
        `<td>${escapeHtml(key)}</td>`,
        `<td>${escapeHtml(winner.column)} ${directionMark(winner)}</td>`,
        `<td>${escapeHtml(paramsText(winner.best.params))}</td>`,
        `<td class="number" data-value="${winner.best.mean * scale}">${escapeHtml(formatNumber(winner.best.mean * scale))}</td>`,
        `<td>${winner.runnerUp ? escapeHtml(paramsText(winner.runnerUp.params)) : "–"}</td>`,
        `<td class="number" data-value="${winner.margin === null ? "" : winner.margin * scale}">${escapeHtml(margin)}</td>`,
        `<td>${overlap}</td>`,
      ];
      return `<tr>${cells.join("")}</tr>`;
    }),
  );
  const header = [
    sortableHeader("sweep", "text"),
    sortableHeader("metric", "text"),
    sortableHeader("best params", "text"),
    sortableHeader("best mean", "number"),
    sortableHeader("runner-up", "text"),
    sortableHeader("margin", "number"),
    sortableHeader("CIs overlap", "text"),
  ];
  return [
    '<section id="sweeps"><h2>Sweep summary</h2>',
    '<p class="meta">Best parameters per metric within each sweep, with the margin of the mean over the runner-up. Overlapping 95% intervals mean the order is not settled.</p>',
    `<table class="sortable"><thead><tr>${header.join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`,
    "</section>",
  ].join("");
}

function setMetricSection(entries: readonly ReportSetMetrics[]): string {
  const rows = entries.flatMap((entry) =>
    entry.results.map((result) => {
      const value =
        result.value === null
          ? escapeHtml(`– (${result.reason ?? result.status})`)
          : escapeHtml(formatNumber(result.value));
      const std = result.std === null ? "" : ` ± ${formatNumber(result.std, 2)}`;
      const model = String(
        result.conventions.settings.featureModel ?? result.conventions.backbone ?? "",
      );
      return (
        `<tr><td>${escapeHtml(entry.row)}</td><td>${escapeHtml(result.metric.toUpperCase())}</td>` +
        `<td class="number" data-value="${result.value ?? ""}">${value}${escapeHtml(std)}</td>` +
        `<td class="number" data-value="${result.n.reference}">${result.n.reference}</td>` +
        `<td class="number" data-value="${result.n.output}">${result.n.output}</td>` +
        `<td>${escapeHtml(model)}</td></tr>`
      );
    }),
  );
  const header = [
    sortableHeader("row", "text"),
    sortableHeader("metric", "text"),
    sortableHeader("value ↓", "number"),
    sortableHeader("N reference", "number"),
    sortableHeader("N output", "number"),
    sortableHeader("feature model", "text"),
  ];
  return [
    '<section id="distribution"><h2>Distribution metrics</h2>',
    `<table class="sortable"><thead><tr>${header.join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`,
    "</section>",
  ].join("");
}

function plotSection(plots: readonly ReportPlot[]): string {
  const charts = plots.map((plot) =>
    plot.kind === "line" ? renderLinePlot(plot) : renderBarChart(plot),
  );
  return `<section id="plots"><h2>Plots</h2><div class="plots">${charts.join("")}</div></section>`;
}

const ROLE_ORDER: Record<ReportImage["role"], number> = {
  measurement: 0,
  source: 0,
  output: 1,
  reference: 2,
};

function itemSection(items: readonly ReportItem[]): string {
  const blocks = items.map((item, index) => {
    const images = item.images
      .map((image, position) => ({ image, position }))
      .sort(
        (a, b) => ROLE_ORDER[a.image.role] - ROLE_ORDER[b.image.role] || a.position - b.position,
      )
      .map(({ image }, position) => figure(image, index, position));
    const prompt =
      item.prompt === undefined ? "" : `<p class="prompt">${escapeHtml(item.prompt)}</p>`;
    return `<div class="item"><h3>${escapeHtml(item.id)}</h3>${prompt}<div class="grid">${images.join("")}</div></div>`;
  });
  return [
    '<section id="items"><h2>Images</h2>',
    '<p class="meta">Per item: measurement (or source), each solver output, reference.</p>',
    ...blocks,
    "</section>",
  ].join("");
}

function figure(image: ReportImage, item: number, position: number): string {
  const src = imageSource(image, item, position);
  const values = Object.entries(image.values ?? {})
    .map(([name, value]) => `${name} ${typeof value === "number" ? formatNumber(value) : value}`)
    .join(" · ");
  const caption = values === "" ? image.label : `${image.label}: ${values}`;
  return (
    `<figure class="role-${image.role}"><img src="${escapeHtml(src)}" alt="${escapeHtml(image.label)}">` +
    `<figcaption>${escapeHtml(caption)}</figcaption></figure>`
  );
}

function imageSource(image: ReportImage, item: number, position: number): string {
  if ("path" in image.image) return relativeImageUrl(image.image.path);
  const { bytes, mediaType } = image.image;
  if (!["image/png", "image/jpeg", "image/webp"].includes(mediaType)) {
    throw new TweedieError("report images must be PNG, JPEG or WebP", {
      code: "invalid_value",
      path: ["items", item, "images", position, "mediaType"],
      expected: ["image/png", "image/jpeg", "image/webp"],
      received: mediaType,
    });
  }
  return `data:${mediaType};base64,${Buffer.from(bytes).toString("base64")}`;
}
