import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  aggregate,
  type Leaderboard,
  metricPlot,
  type ReportInput,
  type ResultRow,
  subsetBars,
} from "../src/index.js";
import { FIXTURES, result } from "./helpers.js";

/** A prompt and strings that would inject markup if any were not escaped. */
export const HOSTILE_PROMPT = "turn the cat into a <script>alert(1)</script> <b>tiger</b>";
export const HOSTILE_ID = `0001_"><img src=x onerror=alert(2)>.png`;
export const HOSTILE_PARAM = "<b>bold</b>";

/** PSNR and MSE rows of a zeta sweep for DPS and two settings of FlowDPS, three images each. */
export function sweepRows(): ResultRow[] {
  const rows: ResultRow[] = [];
  const runs: {
    solver: string;
    params: Record<string, number | string>;
    psnr: number[];
    nfe: number;
  }[] = [
    { solver: "dps", params: { zeta: 0.5 }, psnr: [25.1, 25.4, 24.9], nfe: 1000 },
    { solver: "dps", params: { zeta: 1 }, psnr: [26.2, 26.6, 26.0], nfe: 1000 },
    { solver: "dps", params: { zeta: 2 }, psnr: [25.8, 26.1, 25.6], nfe: 1000 },
    {
      solver: "flowdps",
      params: { steps: 28, note: HOSTILE_PARAM },
      psnr: [27.0, 27.3, 26.8],
      nfe: 28,
    },
    {
      solver: "flowdps",
      params: { steps: 100, note: HOSTILE_PARAM },
      psnr: [27.4, 27.9, 27.2],
      nfe: 100,
    },
  ];
  for (const run of runs) {
    run.psnr.forEach((psnr) => {
      const mse = 10 ** (-psnr / 10);
      rows.push({
        dataset: "ffhq",
        task: "sr4",
        solver: run.solver,
        params: run.params,
        metrics: [result("psnr", "canonical", psnr), result("mse", "canonical", mse)],
        nfe: run.nfe,
        seconds: run.nfe / 50,
      });
    });
  }
  return rows;
}

/** PIE-Bench style rows: SSIM background per edit type 0..3, two solvers. */
export function pieBoard(): Leaderboard {
  const rows: ResultRow[] = [];
  for (const solver of ["flowalign", "dreamsampler"]) {
    for (let type = 0; type < 4; type++) {
      for (let image = 0; image < 2; image++) {
        const bonus = solver === "flowalign" ? 1.5 : 0;
        rows.push({
          dataset: "pie-bench",
          task: "edit",
          solver,
          subset: String(type),
          metrics: [result("psnr", "pie-compat", 20 + type + image + bonus)],
          nfe: 50,
          seconds: 2,
        });
      }
    }
  }
  return aggregate(rows, ["dataset", "task", "solver", "subset"]);
}

/** A full report input: leaderboard, plots and two items, one with embedded images, one linked. */
export async function reportInput(linkedPath: string): Promise<ReportInput> {
  const leaderboard = aggregate(sweepRows());
  const png = (name: string) => readFile(join(FIXTURES, name));
  const reference = await png("astronaut-crop.png");
  const noisy = await png("astronaut-noisy.png");
  const blurred = await png("astronaut-blurred.png");
  return {
    title: "Tweedie report <test>",
    meta: ["run: nightly-2026-01-01", `config: ${HOSTILE_PARAM}`],
    leaderboard,
    plots: [
      metricPlot(leaderboard, { column: "psnr@canonical", x: { param: "zeta" } }),
      metricPlot(leaderboard, { column: "psnr@canonical", x: "nfe", varying: ["steps"] }),
      subsetBars(pieBoard(), { column: "psnr@pie-compat", title: "PSNR per edit type" }),
    ],
    items: [
      {
        id: HOSTILE_ID,
        prompt: HOSTILE_PROMPT,
        images: [
          {
            label: "reference",
            role: "reference",
            image: { bytes: reference, mediaType: "image/png" },
          },
          {
            label: "dps zeta=1",
            role: "output",
            image: { bytes: blurred, mediaType: "image/png" },
            values: { PSNR: 26.2 },
          },
          {
            label: "measurement",
            role: "measurement",
            image: { bytes: noisy, mediaType: "image/png" },
          },
        ],
      },
      {
        id: "00001.png",
        images: [
          {
            label: "measurement",
            role: "measurement",
            image: { bytes: noisy, mediaType: "image/png" },
          },
          { label: "flowdps steps=28", role: "output", image: { path: linkedPath } },
          {
            label: "reference",
            role: "reference",
            image: { bytes: reference, mediaType: "image/png" },
          },
        ],
      },
    ],
  };
}
