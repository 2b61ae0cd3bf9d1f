import { describe, expect, it } from "vitest";
import {
  compareLeaderboards,
  getMetric,
  type Leaderboard,
  type LeaderboardGroup,
  leaderboardSchema,
  type MetricSummary,
  regressionToMarkdown,
} from "../src/index.js";

/** A metric summary with the given mean and count, everything else empty. */
function summary(
  mean: number | null,
  n = 10,
  excluded: Partial<MetricSummary> = {},
): MetricSummary {
  return {
    n: mean === null ? 0 : n,
    mean,
    std: null,
    ci95: null,
    min: mean,
    max: mean,
    infinite: 0,
    undefinedValues: 0,
    unavailable: 0,
    missing: 0,
    failed: 0,
    ...excluded,
  };
}

const emptySummary = { n: 0, mean: null, std: null, ci95: null, min: null, max: null };

function group(
  solver: string,
  zeta: number,
  metrics: Record<string, MetricSummary>,
): LeaderboardGroup {
  return {
    key: { dataset: "ffhq", task: "sr4", solver, params: { zeta } },
    rows: 10,
    failedRows: 0,
    nfe: emptySummary,
    seconds: emptySummary,
    metrics,
  };
}

function column(metric: string) {
  const definition = getMetric(metric, "canonical");
  return {
    key: `${metric}@canonical`,
    metric,
    profile: "canonical" as const,
    higherIsBetter: definition.higherIsBetter,
    displayScale: 1,
    conventions: definition.conventions(0),
  };
}

/** A hand-made leaderboard with PSNR (higher is better) and MSE (lower is better). */
function board(groups: LeaderboardGroup[], columns = [column("psnr"), column("mse")]): Leaderboard {
  return leaderboardSchema.parse({
    schema: "tweedie.leaderboard",
    version: 1,
    groupBy: ["dataset", "task", "solver", "params"],
    columns,
    groups,
  });
}

const baseline = board([
  group("dps", 1, { "psnr@canonical": summary(27), "mse@canonical": summary(0.002) }),
  group("dps", 0.5, { "psnr@canonical": summary(26), "mse@canonical": summary(0.003) }),
  group("flowdps", 1, { "psnr@canonical": summary(28), "mse@canonical": summary(0.0015) }),
]);

describe("compareLeaderboards", () => {
  it("passes an identical leaderboard", () => {
    const report = compareLeaderboards(baseline, baseline);
    expect(report.passed).toBe(true);
    expect(report.within).toHaveLength(6);
    expect(report.drops).toEqual([]);
  });

  it("flags drops in the metric's direction", () => {
    const current = board([
      group("dps", 1, { "psnr@canonical": summary(26.5), "mse@canonical": summary(0.002) }),
      group("dps", 0.5, { "psnr@canonical": summary(26), "mse@canonical": summary(0.0035) }),
      group("flowdps", 1, { "psnr@canonical": summary(28.4), "mse@canonical": summary(0.001) }),
    ]);
    const report = compareLeaderboards(baseline, current, {
      metrics: { psnr: { absolute: 0.1 }, "mse@canonical": { relative: 0.1 } },
    });
    expect(report.passed).toBe(false);
    expect(report.drops.map((d) => [d.group.solver, d.group.params, d.column])).toEqual([
      ["dps", { zeta: 1 }, "psnr@canonical"],
      ["dps", { zeta: 0.5 }, "mse@canonical"],
    ]);
    const psnrDrop = report.drops[0];
    expect(psnrDrop.worsening).toBeCloseTo(0.5, 12);
    expect(psnrDrop.allowed).toBe(0.1);
    expect(psnrDrop.change).toBeCloseTo(-0.5, 12);
    const mseDrop = report.drops[1];
    expect(mseDrop.worsening).toBeCloseTo(0.0005, 15);
    expect(mseDrop.allowed).toBeCloseTo(0.0003, 15);
    expect(report.improvements.map((c) => [c.group.solver, c.column])).toEqual([
      ["flowdps", "psnr@canonical"],
      ["flowdps", "mse@canonical"],
    ]);
  });

  it("measures a target metric by distance", () => {
    const consistency = {
      ...column("psnr"),
      key: "consistency@canonical",
      metric: "consistency",
      higherIsBetter: false,
      target: 1,
    };
    const before = board(
      [
        group("dps", 1, { "consistency@canonical": summary(1.1) }),
        group("dps", 2, { "consistency@canonical": summary(0.9) }),
      ],
      [consistency],
    );
    const after = board(
      [
        // Lower, but further from 1: a drop although the column is not higher-is-better.
        group("dps", 1, { "consistency@canonical": summary(0.6) }),
        // Higher and nearer to 1: an improvement.
        group("dps", 2, { "consistency@canonical": summary(0.95) }),
      ],
      [consistency],
    );
    const report = compareLeaderboards(before, after, { default: { absolute: 0.1 } });
    expect(report.drops.map((d) => d.group.params)).toEqual([{ zeta: 1 }]);
    expect(report.drops[0].worsening).toBeCloseTo(0.4 - 0.1, 12);
    expect(report.drops[0].target).toBe(1);
    expect(report.improvements.map((d) => d.group.params)).toEqual([{ zeta: 2 }]);
    expect(report.improvements[0].worsening).toBeCloseTo(0.05 - 0.1, 12);
  });

  it("allows a worsening within tolerance", () => {
    const current = board([
      group("dps", 1, { "psnr@canonical": summary(26.95), "mse@canonical": summary(0.00205) }),
      group("dps", 0.5, { "psnr@canonical": summary(26), "mse@canonical": summary(0.003) }),
      group("flowdps", 1, { "psnr@canonical": summary(28), "mse@canonical": summary(0.0015) }),
    ]);
    const strict = compareLeaderboards(baseline, current);
    expect(strict.drops).toHaveLength(2);
    const tolerant = compareLeaderboards(baseline, current, {
      default: { absolute: 0.1 },
      metrics: { mse: { relative: 0.05 } },
    });
    expect(tolerant.passed).toBe(true);
    expect(tolerant.drops).toEqual([]);
  });

  it("lists rows and columns missing on either side", () => {
    const current = board(
      [
        group("dps", 1, { "psnr@canonical": summary(27), "ssim@canonical": summary(0.8) }),
        group("flowdps", 1, { "psnr@canonical": summary(28), "ssim@canonical": summary(0.85) }),
        group("dreamsampler", 1, { "psnr@canonical": summary(25), "ssim@canonical": summary(0.7) }),
      ],
      [column("psnr"), column("ssim")],
    );
    const report = compareLeaderboards(baseline, current);
    expect(report.passed).toBe(false);
    expect(
      report.missingInCurrent.map((m) => [m.group.solver, m.group.params, m.column, m.reason]),
    ).toEqual([
      ["dps", { zeta: 1 }, "mse@canonical", "column not in the current row"],
      ["dps", { zeta: 0.5 }, null, "row not in the current leaderboard"],
      ["flowdps", { zeta: 1 }, "mse@canonical", "column not in the current row"],
    ]);
    expect(report.missingInBaseline.map((m) => [m.group.solver, m.column])).toEqual([
      ["dps", "ssim@canonical"],
      ["flowdps", "ssim@canonical"],
      ["dreamsampler", null],
    ]);
  });

  it("fails when a value disappears", () => {
    const current = board([
      group("dps", 1, {
        "psnr@canonical": summary(null, 0, { undefinedValues: 10 }),
        "mse@canonical": summary(0.002),
      }),
      group("dps", 0.5, { "psnr@canonical": summary(26), "mse@canonical": summary(0.003) }),
      group("flowdps", 1, { "psnr@canonical": summary(28), "mse@canonical": summary(0.0015) }),
    ]);
    const report = compareLeaderboards(baseline, current);
    expect(report.passed).toBe(false);
    expect(report.lostValues).toEqual([
      expect.objectContaining({
        column: "psnr@canonical",
        reason: "no current value: 10 undefined",
      }),
    ]);
  });

  it("does not compare columns whose conventions changed", () => {
    const other = {
      ...column("psnr"),
      conventions: { ...column("psnr").conventions, dataRange: 255 },
    };
    const current = board(
      [
        group("dps", 1, { "psnr@canonical": summary(10), "mse@canonical": summary(0.002) }),
        group("dps", 0.5, { "psnr@canonical": summary(10), "mse@canonical": summary(0.003) }),
        group("flowdps", 1, { "psnr@canonical": summary(10), "mse@canonical": summary(0.0015) }),
      ],
      [other, column("mse")],
    );
    const report = compareLeaderboards(baseline, current);
    expect(report.passed).toBe(false);
    expect(report.drops).toEqual([]);
    expect(report.conventionChanges.map((c) => c.column)).toEqual(["psnr@canonical"]);
  });

  it("rejects leaderboards grouped differently", () => {
    const regrouped = { ...baseline, groupBy: ["dataset", "solver"] } as Leaderboard;
    expect(() => compareLeaderboards(baseline, regrouped)).toThrow(
      "leaderboards group by different fields, so their rows cannot be matched",
    );
  });

  it("rejects negative tolerances", () => {
    expect(() =>
      compareLeaderboards(baseline, baseline, { metrics: { psnr: { absolute: -1 } } }),
    ).toThrow("tolerance absolute for psnr must be a finite number >= 0");
  });

  it("fails a row with fewer done cells", () => {
    const fewer = (rows: number, failedRows: number) =>
      board(baseline.groups.map((g, index) => (index === 0 ? { ...g, rows, failedRows } : g)));
    const missing = compareLeaderboards(baseline, fewer(9, 0));
    expect(missing.passed).toBe(false);
    expect(missing.fewerRows.map((entry) => [entry.group.solver, entry.reason])).toEqual([
      ["dps", "9 done cells against the baseline's 10 (0 failed, 1 missing)"],
    ]);
    const failed = compareLeaderboards(baseline, fewer(10, 2));
    expect(failed.fewerRows[0].reason).toBe(
      "8 done cells against the baseline's 10 (2 failed, 0 missing)",
    );
    // More done cells than the baseline is not a failure.
    expect(compareLeaderboards(fewer(9, 0), baseline).passed).toBe(true);
  });

  it("fails when a dataset's content changed", () => {
    const withData = (hashes: string[]) => ({ ...baseline, datasets: { ffhq: hashes } });
    const same = compareLeaderboards(withData(["a", "b"]), withData(["b", "a"]));
    expect(same.passed).toBe(true);
    const changed = compareLeaderboards(withData(["a"]), withData(["c"]));
    expect(changed.passed).toBe(false);
    expect(changed.dataChanges).toEqual([{ dataset: "ffhq", baseline: ["a"], current: ["c"] }]);
    expect(regressionToMarkdown(changed)).toContain(
      "- ffhq: content hash a in the baseline, c now",
    );
    // A leaderboard written before datasets were recorded cannot show a change.
    expect(compareLeaderboards(baseline, withData(["c"])).dataChanges).toEqual([]);
  });

  it("rejects a tolerance for an unknown metric", () => {
    expect(() =>
      compareLeaderboards(baseline, baseline, { metrics: { psrn: { absolute: 0.1 } } }),
    ).toThrow("tolerance for unknown metric psrn");
    expect(
      compareLeaderboards(baseline, baseline, { metrics: { "psnr@canonical": { absolute: 0.1 } } })
        .passed,
    ).toBe(true);
  });

  it("renders a Markdown summary", () => {
    const current = board([
      group("dps", 1, { "psnr@canonical": summary(26), "mse@canonical": summary(0.002) }),
      group("flowdps", 1, { "psnr@canonical": summary(28), "mse@canonical": summary(0.0015) }),
    ]);
    const text = regressionToMarkdown(compareLeaderboards(baseline, current));
    expect(text).toContain("**Regression check failed.**");
    expect(text).toContain(
      "1 drops, 0 improvements, 3 within tolerance, 1 missing in the current run",
    );
    expect(text).toContain(
      '| {"dataset":"ffhq","params":{"zeta":1},"solver":"dps","task":"sr4"} | psnr@canonical | 27 | 26 | 1 | 0 | 10 -> 10 |',
    );
    expect(text).toContain(
      '- {"dataset":"ffhq","params":{"zeta":0.5},"solver":"dps","task":"sr4"}: row not in the current leaderboard',
    );
  });
});
