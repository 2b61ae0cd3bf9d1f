import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import {
  aggregate,
  type MetricResult,
  type ResultRow,
  studentTQuantile,
  summarize,
} from "../src/index.js";
import golden from "./fixtures/golden.json" with { type: "json" };
import { expectClose, result } from "./helpers.js";

function row(values: Partial<ResultRow> & { metrics?: MetricResult[] }): ResultRow {
  return { dataset: "ffhq", task: "sr4", solver: "dps", params: { zeta: 1 }, ...values };
}

describe("summarize", () => {
  it("matches hand-computed statistics for [1, 2, 3, 4]", () => {
    const summary = summarize([1, 2, 3, 4]);
    expect(summary.n).toBe(4);
    expect(summary.mean).toBe(2.5);
    expectClose(summary.std ?? 0, 1.2909944487358056, 1e-12, "sample std");
    // t(0.975, 3) * s / sqrt(4) = 3.182446305284263 * 0.6454972243679028
    expectClose(summary.ci95?.halfWidth ?? 0, 2.0542602568, 1e-9, "CI half-width");
    expectClose(summary.ci95?.low ?? 0, 2.5 - 2.0542602568, 1e-9, "CI low");
    expect([summary.min, summary.max]).toEqual([1, 4]);
  });

  it("leaves spread undefined for fewer than two values", () => {
    expect(summarize([])).toEqual({
      n: 0,
      mean: null,
      std: null,
      ci95: null,
      min: null,
      max: null,
    });
    expect(summarize([7])).toMatchObject({ n: 1, mean: 7, std: null, ci95: null });
  });
});

describe("studentTQuantile", () => {
  it("matches 30-digit reference quantiles", () => {
    for (const [df, expected] of Object.entries(golden.studentT975)) {
      expectClose(studentTQuantile(0.975, Number(df)), expected, 1e-9, `t(0.975, ${df})`);
    }
    for (const [p, df, expected] of golden.studentT) {
      expectClose(studentTQuantile(p, df), expected, 1e-9, `t(${p}, ${df})`);
    }
    expectClose(studentTQuantile(0.975, Number.POSITIVE_INFINITY), golden.normal975, 1e-12, "z");
  });

  it("rejects probabilities outside (0, 1)", () => {
    expect(() => studentTQuantile(1, 3)).toThrow(TweedieError);
    expect(() => studentTQuantile(0.5, 0)).toThrow(TweedieError);
  });
});

describe("aggregate", () => {
  it("excludes and counts +Infinity PSNR", () => {
    // Three images: PSNR 20 dB, an identical pair (+Infinity) and 30 dB.
    const rows = [
      row({ metrics: [result("psnr", "canonical", 20)] }),
      row({ metrics: [result("psnr", "canonical", null, "infinite")] }),
      row({ metrics: [result("psnr", "canonical", 30)] }),
    ];
    const board = aggregate(rows);
    const psnr = board.groups[0].metrics["psnr@canonical"];
    expect(psnr).toMatchObject({ n: 2, mean: 25, infinite: 1, undefinedValues: 0, failed: 0 });
  });

  it("uses only defined values and reports n", () => {
    // PIE-Bench: a full mask gives no background value; one valid entry is the mean.
    const rows = [
      row({ metrics: [result("psnr_background", "pie-compat", null, "undefined")] }),
      row({ metrics: [result("psnr_background", "pie-compat", 27.5)] }),
    ];
    const summary = aggregate(rows).groups[0].metrics["psnr_background@pie-compat"];
    expect(summary).toMatchObject({ n: 1, mean: 27.5, undefinedValues: 1, std: null });
  });

  it("keeps profiles and crops in separate columns", () => {
    const rows = [
      row({
        metrics: [
          result("psnr", "canonical", 31),
          result("psnr", "deepinv-compat", 30.9),
          result("psnr", "deepinv-compat", 32, "ok", 16),
        ],
      }),
    ];
    const board = aggregate(rows);
    expect(board.columns.map((c) => c.key)).toEqual([
      "psnr@canonical",
      "psnr@deepinv-compat",
      "psnr@deepinv-compat/crop=16",
    ]);
    expect(board.groups[0].metrics["psnr@deepinv-compat/crop=16"].mean).toBe(32);
  });

  it("rejects rows that disagree on a column's conventions", () => {
    const changed = result("psnr", "canonical", 25);
    const other = {
      ...changed,
      conventions: { ...changed.conventions, formula: "another PSNR" },
    } as MetricResult;
    expect(() => aggregate([row({ metrics: [changed] }), row({ metrics: [other] })])).toThrow(
      /disagree on the conventions of column psnr@canonical/,
    );
  });

  it("groups by params regardless of key order", () => {
    const rows = [
      row({ params: { zeta: 1, steps: 100 }, metrics: [result("psnr", "canonical", 20)] }),
      row({ params: { steps: 100, zeta: 1 }, metrics: [result("psnr", "canonical", 22)] }),
      row({ params: { steps: 50, zeta: 1 }, metrics: [result("psnr", "canonical", 18)] }),
      row({ solver: "flowdps", params: {}, metrics: [result("psnr", "canonical", 24)] }),
    ];
    const board = aggregate(rows);
    expect(board.groups.map((g) => [g.key.solver, g.key.params, g.rows])).toEqual([
      ["dps", { steps: 100, zeta: 1 }, 2],
      ["dps", { steps: 50, zeta: 1 }, 1],
      ["flowdps", {}, 1],
    ]);
    expect(board.groups[0].metrics["psnr@canonical"].mean).toBe(21);
    const bySolver = aggregate(rows, ["solver"]);
    expect(bySolver.groups.map((g) => g.key)).toEqual([{ solver: "dps" }, { solver: "flowdps" }]);
  });

  it("counts failed rows, missing results, NFE and time", () => {
    const rows = [
      row({
        metrics: [result("psnr", "canonical", 20), result("ssim", "canonical", 0.5)],
        nfe: 1000,
        seconds: 10,
      }),
      row({ metrics: [result("psnr", "canonical", 22)], nfe: 1000, seconds: 14 }),
      row({ status: "failed", nfe: 300, seconds: 2 }),
    ];
    const group = aggregate(rows).groups[0];
    expect(group).toMatchObject({ rows: 3, failedRows: 1 });
    expect(group.metrics["psnr@canonical"]).toMatchObject({
      n: 2,
      mean: 21,
      failed: 1,
      missing: 0,
    });
    expect(group.metrics["ssim@canonical"]).toMatchObject({ n: 1, missing: 1, failed: 1 });
    expect(group.nfe).toMatchObject({ n: 2, mean: 1000 });
    expect(group.seconds).toMatchObject({ n: 2, mean: 12 });
  });

  it("rejects rows without a dataset, task or solver", () => {
    expect(() => aggregate([{ dataset: "", task: "sr4", solver: "dps" }])).toThrow(
      /has no dataset/,
    );
    expect(() => aggregate([], ["model" as "solver"])).toThrow(/cannot group by/);
  });

  it("rejects two results for one column in a row", () => {
    const twice = [result("psnr", "canonical", 20), result("psnr", "canonical", 21)];
    expect(() => aggregate([row({ metrics: twice })])).toThrow(/two results for column/);
  });
});
