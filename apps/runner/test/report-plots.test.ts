import { getMetric, type Leaderboard, type LeaderboardGroup } from "@tweedie/eval";
import { describe, expect, it } from "vitest";
import { reportPlots } from "../src/exec/report.js";

const empty = { n: 0, mean: null, std: null, ci95: null, min: null, max: null };

function group(dataset: string, solver: string, nfe: number, psnr: number): LeaderboardGroup {
  return {
    key: { dataset, task: "sr", solver, params: {} },
    rows: 2,
    failedRows: 0,
    nfe: { ...empty, n: 2, mean: nfe },
    seconds: empty,
    metrics: {
      "psnr@canonical": {
        ...empty,
        n: 2,
        mean: psnr,
        infinite: 0,
        undefinedValues: 0,
        unavailable: 0,
        missing: 0,
        failed: 0,
      },
    },
  };
}

describe("report plots", () => {
  it("draw one PSNR plot per dataset", () => {
    const psnr = getMetric("psnr", "canonical");
    const leaderboard: Leaderboard = {
      schema: "tweedie.leaderboard",
      version: 1,
      groupBy: ["dataset", "task", "solver", "params"],
      columns: [
        {
          key: "psnr@canonical",
          metric: "psnr",
          profile: "canonical",
          higherIsBetter: true,
          displayScale: 1,
          conventions: psnr.conventions(0) as Leaderboard["columns"][number]["conventions"],
        },
      ],
      groups: [
        group("photos", "dps", 200, 22.5),
        group("digits", "dps", 200, 17.1),
        group("photos", "flowdps", 100, 23.7),
      ],
    };
    const plots = reportPlots(leaderboard);
    expect(plots.map((plot) => plot.title)).toEqual([
      "photos: psnr@canonical against NFE per image",
      "digits: psnr@canonical against NFE per image",
    ]);
    const photos = plots[0] as unknown as {
      series: { label: string; points: { x: number; y: number }[] }[];
    };
    expect(photos.series.map((series) => series.points.map((point) => [point.x, point.y]))).toEqual(
      [[[200, 22.5]], [[100, 23.7]]],
    );
  });
});
