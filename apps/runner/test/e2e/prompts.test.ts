import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { runCli, tempDir, writeConfig } from "./helpers.js";

/**
 * The digits prior accepts only its own prompts and rejects others with the prompt
 * quoted, so an unusual prompt that reaches it unchanged shows up verbatim in the error.
 */
const PROMPT = `a "quoted" [bracketed] digit: ünïcödé 8 ✓ \\ 'single'`;

describe("prompt pass-through", () => {
  it("keeps a config prompt byte for byte", async () => {
    const dir = await tempDir("prompts");
    const out = join(dir, "out");
    const config = await writeConfig(
      dir,
      `name: prompts
datasets:
  - kind: digits
    limit: 1
tasks:
  - name: edit
    editing: { target: ${JSON.stringify(PROMPT)} }
solvers:
  - name: flowedit
    preset: flowedit-digits
model: embedded:digits
output: { location: ${JSON.stringify(out)} }
`,
    );
    // The digits model has no label for it, so planning rejects the config before any cell
    // runs, quoting the prompt as it arrived.
    const result = await runCli(["run", config, "--log-format", "plain"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`tasks[0].editing.target: `);
    expect(result.stderr).toContain(`no label for prompt ${JSON.stringify(PROMPT)}`);
    await expect(readdir(join(out, "prompts", "cells"))).rejects.toMatchObject({ code: "ENOENT" });
  }, 60_000);

  it("keeps a CLI prompt byte for byte", async () => {
    const dir = await tempDir("prompts-cli");
    const source = join(dir, "source.png");
    const pixels = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) % 256));
    await sharp(pixels, { raw: { width: 8, height: 8, channels: 1 } })
      .toColourspace("b-w")
      .png()
      .toFile(source);
    const result = await runCli([
      "solve",
      "--model",
      "embedded:digits",
      "--solver",
      "flowedit",
      "--source",
      source,
      "--target-prompt",
      PROMPT,
      "--out",
      join(dir, "out.png"),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(JSON.stringify(PROMPT));
  }, 60_000);
  it("keeps an empty source prompt as the null prompt", async () => {
    const dir = await tempDir("prompts-empty");
    const out = join(dir, "out");
    const config = await writeConfig(
      dir,
      `name: empty
datasets:
  - { kind: digits, classes: [3], limit: 1 }
tasks:
  - name: implicit
    editing: { target: "a handwritten digit 8" }
  - name: empty-source
    editing: { source: "", target: "a handwritten digit 8" }
solvers:
  - { name: flowalign, preset: flowalign-digits }
model: embedded:digits
output: { location: ${JSON.stringify(out)} }
`,
    );
    expect((await runCli(["run", config, "--log-format", "plain"])).code).toBe(0);
    const cells = join(out, "empty", "cells");
    const sources = new Map<string, { prompt: string; output: string }>();
    for (const cell of await readdir(cells)) {
      const record = JSON.parse(await readFile(join(cells, cell, "record.json"), "utf8"));
      const output = (await readFile(join(cells, cell, "output.npy"))).toString("base64");
      sources.set(record.task.name, { prompt: record.prompts.source, output });
    }
    expect(sources.get("implicit")?.prompt).toBe("a handwritten digit 3");
    expect(sources.get("empty-source")?.prompt).toBe("");
    // The source prompt enters FlowAlign's source velocity, so the edits differ.
    expect(sources.get("empty-source")?.output).not.toBe(sources.get("implicit")?.output);
  }, 120_000);
});
