import { escapeHtml, formatNumber } from "./escape.js";
import type { BarChart, LinePlot, PlotPoint } from "./plots.js";

/**
 * Inline SVG charts for the HTML report. Colours and strokes are presentation attributes,
 * not style attributes, so the page's Content-Security-Policy needs no inline-style
 * permission. Every label is escaped.
 */

const WIDTH = 600;
const PLOT = { left: 72, right: 584, top: 40, bottom: 290 };
const LEGEND_TOP = 336;
const LEGEND_ROW = 18;
/** Okabe-Ito colours, distinguishable with common colour-vision deficiencies. */
const COLOURS = [
  "#0072B2",
  "#D55E00",
  "#009E73",
  "#CC79A7",
  "#E69F00",
  "#56B4E9",
  "#000000",
  "#F0E442",
];

export function colourOf(index: number): string {
  return COLOURS[index % COLOURS.length];
}

/** Renders a line plot with error bars, axis ticks and a legend. */
export function renderLinePlot(plot: LinePlot): string {
  const points = plot.series.flatMap((s) => s.points);
  const log = plot.xScale === "log" && points.every((p) => p.x > 0);
  if (points.length === 0) return emptyChart(plot.title);

  const xs = points.map((p) => (log ? Math.log10(p.x) : p.x));
  const ys = points.flatMap((p) => [p.y, p.low ?? p.y, p.high ?? p.y]);
  const xRange = padRange(Math.min(...xs), Math.max(...xs), log ? 0.3 : undefined);
  const yRange = padRange(Math.min(...ys), Math.max(...ys));
  const toX = (x: number) => scale(log ? Math.log10(x) : x, xRange, PLOT.left, PLOT.right);
  const toY = (y: number) => scale(y, yRange, PLOT.bottom, PLOT.top);

  const parts: string[] = [];
  const xTicks = log ? logTicks(xRange) : niceTicks(xRange[0], xRange[1]);
  for (const tick of xTicks) {
    const x = toX(tick);
    parts.push(
      `<line x1="${x}" y1="${PLOT.bottom}" x2="${x}" y2="${PLOT.bottom + 5}" stroke="#444"/>`,
      `<text x="${x}" y="${PLOT.bottom + 18}" text-anchor="middle" font-size="11">${escapeHtml(tickLabel(tick))}</text>`,
    );
  }
  parts.push(...yAxis(yRange, toY));

  plot.series.forEach((series, index) => {
    const colour = colourOf(index);
    const path = series.points.map((p) => `${toX(p.x)},${toY(p.y)}`).join(" ");
    parts.push(`<polyline points="${path}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const point of series.points) parts.push(pointMark(point, series.label, colour, toX, toY));
  });

  const legend = plot.series.map((s) => s.label);
  return frame(plot.title, plot.xLabel, plot.yLabel, parts, legend);
}

/** Renders grouped vertical bars, one group per category and one colour per series. */
export function renderBarChart(chart: BarChart): string {
  const values = chart.series.flatMap((s) => s.values).filter((v): v is number => v !== null);
  if (values.length === 0 || chart.categories.length === 0) return emptyChart(chart.title);

  const yRange = padRange(Math.min(0, ...values), Math.max(0, ...values));
  const toY = (y: number) => scale(y, yRange, PLOT.bottom, PLOT.top);
  const band = (PLOT.right - PLOT.left) / chart.categories.length;
  const barWidth = (band * 0.8) / Math.max(chart.series.length, 1);
  const parts: string[] = [...yAxis(yRange, toY)];

  chart.categories.forEach((category, c) => {
    const start = PLOT.left + c * band + band * 0.1;
    parts.push(
      `<text x="${round(start + band * 0.4)}" y="${PLOT.bottom + 18}" text-anchor="middle" font-size="11">${escapeHtml(category)}</text>`,
    );
    chart.series.forEach((series, s) => {
      const value = series.values[c];
      if (value === null || value === undefined) return;
      const top = Math.min(toY(value), toY(0));
      const height = Math.abs(toY(value) - toY(0));
      const label = `${series.label}, ${category}: ${formatNumber(value)}`;
      parts.push(
        `<rect x="${round(start + s * barWidth)}" y="${round(top)}" width="${round(barWidth)}" height="${round(height)}" fill="${colourOf(s)}"><title>${escapeHtml(label)}</title></rect>`,
      );
    });
  });
  parts.push(
    `<line x1="${PLOT.left}" y1="${toY(0)}" x2="${PLOT.right}" y2="${toY(0)}" stroke="#444"/>`,
  );
  return frame(
    chart.title,
    "",
    chart.yLabel,
    parts,
    chart.series.map((s) => s.label),
  );
}

function pointMark(
  point: PlotPoint,
  label: string,
  colour: string,
  toX: (x: number) => number,
  toY: (y: number) => number,
): string {
  const x = toX(point.x);
  const interval =
    point.low !== undefined && point.high !== undefined
      ? `<line x1="${x}" y1="${toY(point.low)}" x2="${x}" y2="${toY(point.high)}" stroke="${colour}" stroke-width="1.5"/>`
      : "";
  const range =
    point.low !== undefined && point.high !== undefined
      ? ` [${formatNumber(point.low)}, ${formatNumber(point.high)}]`
      : "";
  const tooltip = `${label}: x = ${formatNumber(point.x)}, y = ${formatNumber(point.y)}${range}`;
  return `${interval}<circle cx="${x}" cy="${toY(point.y)}" r="3.5" fill="${colour}"><title>${escapeHtml(tooltip)}</title></circle>`;
}

function yAxis(range: [number, number], toY: (y: number) => number): string[] {
  const parts = [
    `<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${PLOT.bottom}" stroke="#444"/>`,
    `<line x1="${PLOT.left}" y1="${PLOT.bottom}" x2="${PLOT.right}" y2="${PLOT.bottom}" stroke="#444"/>`,
  ];
  for (const tick of niceTicks(range[0], range[1])) {
    const y = toY(tick);
    parts.push(
      `<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${PLOT.left - 6}" y="${round(y + 4)}" text-anchor="end" font-size="11">${escapeHtml(tickLabel(tick))}</text>`,
    );
  }
  return parts;
}

function frame(
  title: string,
  xLabel: string,
  yLabel: string,
  parts: string[],
  legend: string[],
): string {
  const height = LEGEND_TOP + LEGEND_ROW * legend.length + 8;
  const legendItems = legend.map((label, i) => {
    const y = LEGEND_TOP + i * LEGEND_ROW;
    return (
      `<rect x="${PLOT.left}" y="${y - 10}" width="12" height="12" fill="${colourOf(i)}"/>` +
      `<text x="${PLOT.left + 18}" y="${y}" font-size="12">${escapeHtml(label)}</text>`
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(title)}">`,
    `<title>${escapeHtml(title)}</title>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeHtml(title)}</text>`,
    ...parts,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 36}" text-anchor="middle" font-size="12">${escapeHtml(xLabel)}</text>`,
    `<text x="16" y="${(PLOT.top + PLOT.bottom) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(PLOT.top + PLOT.bottom) / 2})">${escapeHtml(yLabel)}</text>`,
    ...legendItems,
    "</svg>",
  ].join("");
}

function emptyChart(title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} 60" width="${WIDTH}" height="60" role="img" aria-label="${escapeHtml(title)}">` +
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="14">${escapeHtml(title)}: no values</text></svg>`
  );
}

/** Widens a range by 5% on each side, or by `pad` (or 1) when it is a single value. */
function padRange(min: number, max: number, pad?: number): [number, number] {
  if (min === max) {
    const step = pad ?? (Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1);
    return [min - step, max + step];
  }
  const margin = (max - min) * 0.05;
  return [min - margin, max + margin];
}

function scale(value: number, [lo, hi]: [number, number], from: number, to: number): number {
  return round(from + ((value - lo) / (hi - lo)) * (to - from));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Formats a tick value without float noise: 0.5, 1, 1.5 rather than 0.500 or 1.4999999. */
function tickLabel(value: number): string {
  return String(Number.parseFloat(value.toPrecision(6)));
}

/** Ticks at 1, 2 or 5 times a power of ten, about five across the range. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) {
    ticks.push(Number.parseFloat(t.toPrecision(12)));
  }
  return ticks;
}

/** Ticks at 1, 2 and 5 times powers of ten inside a log10 range. */
function logTicks([lo, hi]: [number, number]): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** e;
      const position = Math.log10(value);
      if (position >= lo && position <= hi) ticks.push(value);
    }
  }
  return ticks;
}
