import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { digitsConfig, runCli, tempDir, writeConfig } from "./helpers.js";

interface Group {
  key: { task: string; solver: string };
  rows: number;
}

async function leaderboardGroups(out: string): Promise<Group[]> {
  const result = await runCli(["leaderboard", out, "--format", "json"]);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { groups: Group[] }).groups;
}

describe("leaderboard rows", () => {
  it("keep task definitions of one name apart", async () => {
    const dir = await tempDir("leaderboard-rows");
    const out = join(dir, "out");
    const first = await writeConfig(dir, digitsConfig(out));
    expect((await runCli(["run", first, "--log-format", "plain"])).code).toBe(0);

    // The same run name and task name with a noise level of 0.2 instead of 0.05.
    const second = await writeConfig(dir, digitsConfig(out).replace("sigma: 0.05", "sigma: 0.2"));
    expect((await runCli(["run", second, "--log-format", "plain"])).code).toBe(0);

    const groups = (await leaderboardGroups(out)).filter(
      (group) => group.key.solver === "pseudo-inverse",
    );
    // 6 digits x 2 seeds per definition; one row may not hold both noise levels.
    expect(groups.map((group) => group.rows)).toEqual([12, 12]);
    const tasks = groups.map((group) => group.key.task);
    for (const task of tasks) expect(task).toMatch(/^sr2#[0-9a-f]{8}$/);
    expect(new Set(tasks).size).toBe(2);
  }, 180_000);

  it("keep per-item prompts of one task in one row", async () => {
    const dir = await tempDir("leaderboard-item-prompts");
    const out = join(dir, "out");
    const noise = 'noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }';
    const text = digitsConfig(out).replace(noise, `${noise}\n    prompt: { from: item }`);
    const config = await writeConfig(dir, text);
    expect((await runCli(["run", config, "--log-format", "plain"])).code).toBe(0);

    // Six digits of several classes: six different prompts, one configured task.
    const groups = await leaderboardGroups(out);
    expect(groups.map((group) => [group.key.task, group.key.solver, group.rows])).toEqual([
      ["sr2", "flowdps", 12],
      ["sr2", "pseudo-inverse", 12],
    ]);
  }, 180_000);

  it("keep one plain row per unchanged definition", async () => {
    const dir = await tempDir("leaderboard-plain");
    const out = join(dir, "out");
    const config = await writeConfig(dir, digitsConfig(out));
    expect((await runCli(["run", config, "--log-format", "plain"])).code).toBe(0);
    expect((await runCli(["run", config, "--log-format", "plain"])).code).toBe(0);

    const groups = await leaderboardGroups(out);
    expect(groups.map((group) => [group.key.task, group.key.solver, group.rows])).toEqual([
      ["sr2", "flowdps", 12],
      ["sr2", "pseudo-inverse", 12],
    ]);
  }, 180_000);

  it("drop a failure once the item's file is fixed", async () => {
    const dir = await tempDir("leaderboard-fixed-item");
    const images = join(dir, "images");
    await mkdir(images);
    const png = (value: number) =>
      sharp({
        create: { width: 16, height: 16, channels: 3, background: { r: value, g: 90, b: 40 } },
      })
        .png()
        .toBuffer();
    await writeFile(join(images, "a.png"), await png(200));
    await writeFile(join(images, "b.png"), "not a png");
    const config = await writeConfig(
      dir,
      `name: fixed
datasets:
  - kind: folder
    root: ./images
tasks:
  - name: sr2
    operator: { kind: sr-avgpool, scale: 2 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
solvers:
  - name: pseudo-inverse
model: embedded:patches
output: { location: ./out }
`,
    );
    expect((await runCli(["run", config, "--log-format", "plain"])).code).toBe(1);
    await writeFile(join(images, "b.png"), await png(30));
    expect((await runCli(["run", config, "--log-format", "plain"])).code).toBe(0);
    const groups = (await leaderboardGroups(join(dir, "out"))) as (Group & {
      failedRows: number;
    })[];
    expect(groups.map((group) => [group.rows, group.failedRows])).toEqual([[2, 0]]);
  }, 120_000);
  it("keep only the named metrics, runner metrics included", async () => {
    const dir = await tempDir("leaderboard-named-metrics");
    const out = join(dir, "out");
    const text = digitsConfig(out, "metrics: { names: [psnr, consistency] }")
      .replace("limit: 6", "limit: 2")
      .replace("seeds: [0, 1]", "seeds: [0]");
    const config = await writeConfig(dir, text);
    expect((await runCli(["run", config, "--log-format", "plain"])).code).toBe(0);
    const cells = join(out, "e2e-digits", "cells");
    for (const cell of await readdir(cells)) {
      const record = JSON.parse(await readFile(join(cells, cell, "record.json"), "utf8"));
      expect(Object.keys(record.metrics).sort()).toEqual(["consistency", "psnr"]);
      expect(Number.isInteger(record.outOfRange.output)).toBe(true);
    }
  }, 120_000);
});
