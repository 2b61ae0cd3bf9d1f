import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  aggregate,
  metricPlot,
  paramsText,
  renderReport,
  subsetBars,
  summarizeSweeps,
  toMarkdown,
} from "../src/index.js";
import {
  HOSTILE_ID,
  HOSTILE_PARAM,
  HOSTILE_PROMPT,
  pieBoard,
  reportInput,
  sweepRows,
} from "./report-fixtures.js";

/** Conventions of a runner-computed metric, as the runner records them. */
const CONSISTENCY_CONVENTIONS = {
  valueRange: [-1, 1] as [number, number],
  dataRange: 2,
  window: null,
  backbone: null,
  borderCrop: 0,
  masking: "none" as const,
  formula: "||A x - y|| / (sigmaY sqrt(m))",
  settings: {},
};

/** Builds a data-consistency result as the runner records it, best at 1. */
function consistencyResult(value: number) {
  return {
    status: "ok" as const,
    value,
    metric: "consistency",
    profile: "canonical" as const,
    higherIsBetter: false,
    target: 1,
    displayScale: 1,
    conventions: { ...CONSISTENCY_CONVENTIONS },
  };
}

function hashOf(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

describe("summarizeSweeps", () => {
  it("picks the best zeta with its margin", () => {
    const sweeps = summarizeSweeps(aggregate(sweepRows()));
    const dps = sweeps.find((s) => s.key.solver === "dps");
    expect(dps?.candidates).toBe(3);
    const psnr = dps?.winners.find((w) => w.column === "psnr@canonical");
    expect(psnr?.best.params).toEqual({ zeta: 1 });
    expect(psnr?.best.mean).toBeCloseTo((26.2 + 26.6 + 26.0) / 3, 12);
    expect(psnr?.runnerUp?.params).toEqual({ zeta: 2 });
    expect(psnr?.margin).toBeCloseTo((26.2 + 26.6 + 26.0 - 25.8 - 26.1 - 25.6) / 3, 12);
    expect(psnr?.intervalsOverlap).toBe(true);
    // MSE is lower-is-better: the same zeta wins.
    const mse = dps?.winners.find((w) => w.column === "mse@canonical");
    expect(mse?.best.params).toEqual({ zeta: 1 });
    expect(mse?.higherIsBetter).toBe(false);
  });

  it("picks the winner nearest a target", () => {
    const rows = [0.5, 0.9, 1.3].map((value, i) => ({
      dataset: "photos",
      task: "sr4",
      solver: "dps",
      params: { zeta: i + 1 },
      metrics: [consistencyResult(value)],
    }));
    const board = aggregate(rows);
    expect(board.columns[0].target).toBe(1);
    const [winner] = summarizeSweeps(board)[0].winners;
    expect(winner.best.params).toEqual({ zeta: 2 });
    expect(winner.runnerUp?.params).toEqual({ zeta: 3 });
    expect(winner.target).toBe(1);
    expect(toMarkdown(board)).toContain("consistency@canonical →1");
    expect(
      metricPlot(board, { column: "consistency@canonical", x: { param: "zeta" } }).yLabel,
    ).toContain("(best at 1)");
  });

  it("skips groups without a sweep", () => {
    const rows = sweepRows().filter((row) => row.solver === "dps" && row.params?.zeta === 1);
    expect(summarizeSweeps(aggregate(rows))).toEqual([]);
  });
});

describe("metricPlot", () => {
  it("plots a metric against a swept parameter", () => {
    const plot = metricPlot(aggregate(sweepRows()), {
      column: "psnr@canonical",
      x: { param: "zeta" },
    });
    expect(plot.series.map((s) => s.label)).toEqual(["dps"]);
    expect(plot.series[0].points.map((p) => p.x)).toEqual([0.5, 1, 2]);
    expect(plot.series[0].points[1].y).toBeCloseTo(26.266666666666666, 12);
    expect(plot.series[0].points[1].low).toBeLessThan(plot.series[0].points[1].y);
  });

  it("plots a metric against NFE on a log axis", () => {
    const plot = metricPlot(aggregate(sweepRows()), {
      column: "psnr@canonical",
      x: "nfe",
      varying: ["steps"],
    });
    expect(plot.xScale).toBe("log");
    expect(plot.series.map((s) => s.label)).toEqual([
      "dps zeta=0.5",
      "dps zeta=1",
      "dps zeta=2",
      "flowdps note=<b>bold</b>",
    ]);
    expect(plot.series[3].points.map((p) => p.x)).toEqual([28, 100]);
  });

  it("names a missing column", () => {
    expect(() =>
      metricPlot(aggregate(sweepRows()), { column: "lpips@canonical", x: "nfe" }),
    ).toThrow('leaderboard has no column "lpips@canonical"');
  });
});

describe("subsetBars", () => {
  it("puts one bar per solver and edit type", () => {
    const chart = subsetBars(pieBoard(), { column: "psnr@pie-compat" });
    expect(chart.categories).toEqual(["0", "1", "2", "3"]);
    expect(chart.series.map((s) => s.label)).toEqual(["dreamsampler", "flowalign"]);
    expect(chart.series[0].values).toEqual([20.5, 21.5, 22.5, 23.5]);
  });

  it("needs a leaderboard grouped by subset", () => {
    expect(() => subsetBars(aggregate(sweepRows()), { column: "psnr@canonical" })).toThrow(
      "per-subset bars need a leaderboard grouped by subset",
    );
  });
});

describe("renderReport", () => {
  it("escapes every string from data", async () => {
    const html = renderReport(await reportInput("cells/a/output.png"));
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).not.toContain("<b>");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(html).toContain("0001_&quot;&gt;&lt;img src=x onerror=alert(2)&gt;.png");
    expect(html).toContain("<title>Tweedie report &lt;test&gt;</title>");
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(HOSTILE_PROMPT).toContain("<script>");
    expect(HOSTILE_ID).toContain('"');
    expect(HOSTILE_PARAM).toContain("<b>");
  });

  it("gives a column one number of decimals", () => {
    const rows = [9.87654, 19.8765].map((value, i) => ({
      dataset: "photos",
      task: "sr4",
      solver: `solver-${i}`,
      metrics: [consistencyResult(value)],
      nfe: 100 * (i + 1),
      seconds: 0.5,
    }));
    const html = renderReport({ title: "decimals", leaderboard: aggregate(rows) });
    expect(html).toContain(">9.88<");
    expect(html).toContain(">19.88<");
    expect(html).toContain(">100<");
    expect(html).toContain(">200<");
    expect(html).toContain("consistency@canonical →1");
  });

  it("allows only its own style and script", async () => {
    const html = renderReport(await reportInput("cells/a/output.png"));
    const csp =
      /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? "";
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
    const policy = csp.replace(/&#39;/g, "'");
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("img-src 'self' data:");
    expect(policy).toContain(`style-src ${hashOf(style)}`);
    expect(policy).toContain(`script-src ${hashOf(script)}`);
    expect(html).not.toMatch(/\s(href|src)="(https?:)?\/\//);
    expect(html).not.toMatch(/\sstyle="/);
  });

  it("orders each grid measurement, outputs, reference", async () => {
    const html = renderReport(await reportInput("cells/a/output.png"));
    const first = html.slice(
      html.indexOf('<div class="item">'),
      html.indexOf('<div class="item">', html.indexOf('<div class="item">') + 1),
    );
    const labels = [...first.matchAll(/<figcaption>([^<]*)<\/figcaption>/g)].map((m) => m[1]);
    expect(labels).toEqual(["measurement", "dps zeta=1: PSNR 26.20", "reference"]);
    expect(html).toContain('src="cells/a/output.png"');
    expect(html).toMatch(/src="data:image\/png;base64,iVBORw0KGgo/);
  });

  it("rejects non-relative image paths", async () => {
    for (const path of [
      "http://example.com/a.png",
      "/etc/passwd",
      "javascript:alert(1)",
      "//host/a.png",
      "C:\\a.png",
      "cells/a\n.png",
    ]) {
      await expect(async () => renderReport(await reportInput(path))).rejects.toThrow(
        "report image paths must be relative to the report file",
      );
    }
  });

  it("formats parameters as name=value pairs", () => {
    expect(paramsText({ zeta: 1, steps: 28, name: "a b", list: [1, 2] })).toBe(
      "list=[1,2], name=a b, steps=28, zeta=1",
    );
  });
});
