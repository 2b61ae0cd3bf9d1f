import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers.js";

const PIE = join(import.meta.dirname, "../fixtures/pie-bench");

describe("tweedie datasets check", () => {
  it("reads a folder with mapping_file.json as a PIE-Bench root", async () => {
    const result = await runCli(["datasets", "check", PIE]);
    expect(result.stdout.split("\n")[0]).toMatch(/^pie-bench: 2 items, 0 with problems/);
  });
});
