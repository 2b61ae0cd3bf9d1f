import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { digitsConfig, runCli, startCli, tempDir, writeConfig } from "./helpers.js";

describe("CLI errors", () => {
  it("name a schema error's file once", async () => {
    const dir = await tempDir("cli-errors-schema");
    const config = await writeConfig(dir, digitsConfig(join(dir, "out"), "seeds: [-1]"));
    const result = await runCli(["run", config]);
    expect(result.code).toBe(2);
    const first = result.stderr.split("\n")[0];
    expect(first).toBe(`tweedie run: ${config}: invalid config, 1 problem`);
  });

  it("name the file of a planning error", async () => {
    const dir = await tempDir("cli-errors-plan");
    const text = digitsConfig(join(dir, "out")).replace("- name: flowdps", "- name: flowdpz");
    const config = await writeConfig(dir, text);
    const result = await runCli(["run", config]);
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n");
    expect(lines[0]).toBe(`tweedie run: ${config}: invalid config, 1 problem`);
    expect(lines[1]).toContain("solvers[0].name: unknown solver");
    expect(lines[1]).toContain('did you mean "flowdps"?');
  });

  it("reject a model whose channels differ from the dataset's", async () => {
    const dir = await tempDir("cli-errors-channels");
    const text = digitsConfig(join(dir, "out")).replace(
      "model: embedded:digits",
      "model: embedded:patches",
    );
    const config = await writeConfig(dir, text);
    const result = await runCli(["run", config, "--dry-run"]);
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n");
    expect(lines[0]).toBe(`tweedie run: ${config}: invalid config, 1 problem`);
    expect(lines[1]).toContain(
      "datasets[0].model: dataset digits has 1-channel images, but model embedded:patches takes 3 channels",
    );
  });

  it("reject an unknown metric name before any cell runs", async () => {
    const dir = await tempDir("cli-errors-metrics");
    const config = await writeConfig(
      dir,
      digitsConfig(join(dir, "out"), "metrics: { names: [psnr, sucess] }"),
    );
    const result = await runCli(["run", config, "--dry-run"]);
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n");
    expect(lines[1]).toContain('metrics.names[1]: profile canonical has no metric "sucess"');
    expect(lines[1]).toContain('did you mean "success"?');
  });

  it("check options in a dry run too", async () => {
    const dir = await tempDir("cli-errors-dry-run");
    const config = await writeConfig(dir, digitsConfig(join(dir, "out")));
    const result = await runCli(["run", config, "--dry-run", "--workers", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--workers: invalid worker count");
    const device = await runCli(["run", config, "--dry-run", "--device", "gpu0"]);
    expect(device.code).toBe(2);
    expect(device.stderr).toContain("--device: invalid device");
    const slots = await runCli(["run", config, "--dry-run", "--device", "cuda:0,1"]);
    expect(slots.code).toBe(0);
    expect(slots.stdout).toContain("workers: 2 on cuda:0, cuda:1");
  });

  it("warn in a dry run that the store cannot be read", async () => {
    const dir = await tempDir("cli-errors-store");
    const config = await writeConfig(dir, digitsConfig(join(dir, "out")));
    // Nothing listens on port 1 of 127.0.0.1, so every attempt is refused at once.
    const result = await runCli(["run", config, "--dry-run", "--out", "s3://tweedie-absent/x"], {
      TWEEDIE_S3_ENDPOINT: "http://127.0.0.1:1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    });
    expect(result.code).toBe(0);
    const first = result.stdout.split("\n")[0];
    expect(first).toContain("warning: cannot read the results store, so no cell shows as done");
    expect(first).toContain("ECONNREFUSED");
  }, 60_000);

  it("report a missing config file as not found", async () => {
    const dir = await tempDir("cli-errors-missing");
    const result = await runCli(["run", join(dir, "absent.yaml")]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `tweedie run: ${join(dir, "absent.yaml")}: config file not found`,
    );
  });

  it("warn when a PNG clips a measurement and reject other file types", async () => {
    const dir = await tempDir("cli-errors-degrade");
    const image = join(import.meta.dirname, "../../../../data/samples/chelsea.png");
    const png = join(dir, "y.png");
    const clipped = await runCli([
      "degrade",
      image,
      "--operator",
      "dps-phase-retrieval",
      "--out",
      png,
    ]);
    expect(clipped.code).toBe(0);
    expect(clipped.stderr).toMatch(
      /^warning: \d+ of 442368 values lie outside \[-1, 1\] and were clipped in .*y\.png; write \.npy to keep them$/m,
    );

    const exact = await runCli([
      "degrade",
      image,
      "--operator",
      "dps-sr4",
      "--out",
      join(dir, "y.npy"),
    ]);
    expect(exact.code).toBe(0);
    expect(exact.stderr).not.toContain("warning");

    const jpeg = await runCli([
      "degrade",
      image,
      "--operator",
      "dps-sr4",
      "--out",
      join(dir, "y.jpg"),
    ]);
    expect(jpeg.code).toBe(2);
    expect(jpeg.stderr).toContain("--out: unsupported output file type");
  });

  it("reject an edit and a restoration in one solve", async () => {
    const result = await runCli([
      "solve",
      "--model",
      "embedded:digits",
      "--solver",
      "flowedit",
      "--source",
      "source.png",
      "--target-prompt",
      "a handwritten digit 8",
      "--measurement",
      "y.npy",
      "--out",
      "out.png",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "--measurement: give --source for an edit or --measurement for a restoration, not both",
    );
  });

  it("report invalid solver params one per line", async () => {
    const result = await runCli([
      "solve",
      "--model",
      "embedded:digits",
      "--solver",
      "dps",
      "--params",
      '{"zeta": -1}',
      "--measurement",
      "unused.png",
      "--operator",
      '{"kind": "sr-avgpool", "scale": 2}',
      "--out",
      "unused-out.png",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n").slice(0, 2)).toEqual([
      "tweedie solve: invalid config, 1 problem",
      '--params.zeta: out of range (expected ">= 0")',
    ]);
  });

  it("stop quietly when the reader closes the pipe", async () => {
    const dir = await tempDir("cli-errors-pipe");
    const config = await writeConfig(dir, digitsConfig(join(dir, "out")));
    // A dry run prints one line per shard, dataset and solver; the reader leaves after the first.
    const { child, done } = startCli(["run", config, "--dry-run"]);
    child.stdout?.once("data", () => child.stdout?.destroy());
    const result = await done;
    expect(result.stderr).not.toContain("EPIPE");
    expect(result.code).toBe(0);
  });
});
