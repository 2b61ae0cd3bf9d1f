import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { artifactHashes, digitsConfig, records, runCli, tempDir, writeConfig } from "./helpers.js";

/**
 * One config run three ways must give the same bytes: the shard and worker layout decides
 * only where a cell runs, never what it computes.
 */
describe("run layout independence", () => {
  it("gives identical outputs for 1x1, 2 shards and 2 workers", async () => {
    const base = await tempDir("layout");
    const layouts: Record<string, string[][]> = {
      single: [["--workers", "1"]],
      shards: [
        ["--workers", "1", "--shard", "0/2"],
        ["--workers", "1", "--shard", "1/2"],
      ],
      workers: [["--workers", "2"]],
    };
    const hashes: Record<string, Map<string, string>> = {};
    const metrics: Record<string, string> = {};
    for (const [name, invocations] of Object.entries(layouts)) {
      const out = join(base, name);
      const config = await writeConfig(join(base), digitsConfig(out));
      for (const args of invocations) {
        const result = await runCli(["run", config, "--log-format", "plain", ...args]);
        expect(result.code, result.stderr).toBe(0);
      }
      hashes[name] = await artifactHashes(join(out, "e2e-digits"));
      metrics[name] = JSON.stringify([...(await records(join(out, "e2e-digits"))).entries()]);
    }
    expect(hashes.single.size).toBe(6 * 2 * 2 * 5);
    expect([...hashes.shards.entries()]).toEqual([...hashes.single.entries()]);
    expect([...hashes.workers.entries()]).toEqual([...hashes.single.entries()]);
    expect(metrics.shards).toBe(metrics.single);
    expect(metrics.workers).toBe(metrics.single);

    const board = async (name: string) => {
      const result = await runCli(["leaderboard", join(base, name), "--format", "json"]);
      expect(result.code, result.stderr).toBe(0);
      const parsed = JSON.parse(result.stdout);
      // Wall-clock seconds differ between runs; every other field must match.
      return JSON.stringify(parsed, (key, value) => (key === "seconds" ? undefined : value));
    };
    const single = await board("single");
    expect(await board("shards")).toBe(single);
    expect(await board("workers")).toBe(single);
  }, 300_000);
});
