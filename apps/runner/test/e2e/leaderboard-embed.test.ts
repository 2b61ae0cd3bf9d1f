import { mkdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir, writeConfig } from "./helpers.js";

function imageSources(html: string): string[] {
  return [...html.matchAll(/<img src="([^"]*)"/g)].map((match) => match[1]);
}

describe("leaderboard HTML images", () => {
  it("embeds local images on --embed-images", async () => {
    const dir = await tempDir("leaderboard-embed");
    const out = join(dir, "out");
    const config = await writeConfig(
      dir,
      `name: embed
datasets:
  - kind: digits
    limit: 2
tasks:
  - name: sr2
    operator: { kind: sr-avgpool, scale: 2 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
solvers:
  - name: pseudo-inverse
model: embedded:digits
seeds: [0]
output: { location: ${JSON.stringify(out)} }
`,
    );
    const run = await runCli(["run", config, "--log-format", "plain"]);
    expect(run.code, run.stderr).toBe(0);
    const reports = join(dir, "reports");
    await mkdir(reports);

    const linkedFile = join(reports, "linked.html");
    const linked = await runCli(["leaderboard", out, "--format", "html", "--output", linkedFile]);
    expect(linked.code, linked.stderr).toBe(0);
    const linkedSources = imageSources(await readFile(linkedFile, "utf8"));
    // 2 items, each with measurement, output and reference.
    expect(linkedSources).toHaveLength(6);
    for (const src of linkedSources) expect(src).toMatch(/^\.\.\/out\/.+\.png$/);

    const embeddedFile = join(reports, "embedded.html");
    const embedded = await runCli([
      "leaderboard",
      out,
      "--format",
      "html",
      "--embed-images",
      "--output",
      embeddedFile,
    ]);
    expect(embedded.code, embedded.stderr).toBe(0);
    const embeddedSources = imageSources(await readFile(embeddedFile, "utf8"));
    expect(embeddedSources).toHaveLength(6);
    for (const [i, src] of embeddedSources.entries()) {
      expect(src.startsWith("data:image/png;base64,"), src.slice(0, 40)).toBe(true);
      const onDisk = await readFile(resolve(dirname(linkedFile), linkedSources[i]));
      expect(Buffer.from(src.slice("data:image/png;base64,".length), "base64")).toEqual(onDisk);
    }
  }, 180_000);

  it("rejects --embed-images outside html", async () => {
    const dir = await tempDir("leaderboard-embed-format");
    const result = await runCli(["leaderboard", dir, "--embed-images"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'tweedie leaderboard: --embed-images: valid with --format html only (expected "--format html", received "--format md")',
    );
  });
});
