import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  collectSecrets,
  expandParams,
  loadConfigFile,
  parseConfig,
  parseConfigText,
  REDACTED,
  redactText,
  redactValue,
  type SolverEntry,
} from "../src/index.js";

const BASE = "/configs";

/** Returns a minimal valid config as YAML, with `extra` appended at top level. */
function yamlConfig(extra = ""): string {
  return `
name: demo
datasets:
  - kind: folder
    root: ./images
tasks:
  - operator: { kind: sr, factor: 4 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
solvers:
  - name: dps
    params: { steps: 100 }
model: embedded:patches
${extra}`;
}

/** Parses YAML text and returns the problem lines, or [] when it is valid. */
function problems(text: string): string[] {
  try {
    parseConfig(parseConfigText(text), { baseDir: BASE });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.lines();
    throw error;
  }
}

function entry(
  params: Record<string, unknown>,
  sweep: SolverEntry["sweep"] = { mode: "grid" },
): SolverEntry {
  return { name: "dps", params: params as SolverEntry["params"], sweep };
}

describe("config parsing", () => {
  it("fills every default from the schema", () => {
    const config = parseConfig(parseConfigText(yamlConfig()), { baseDir: BASE });
    expect(config.seeds).toEqual([0]);
    expect(config.samples).toBe(1);
    expect(config.metrics).toEqual({ names: [], profile: "canonical" });
    expect(config.output.location).toEqual({ kind: "local", root: "/configs/out" });
    expect(config.output.run).toBe("demo");
    expect(config.datasets[0]).toMatchObject({
      kind: "folder",
      name: "folder",
      root: "/configs/images",
      preprocess: { resize: "none" },
      channels: { alpha: "reject" },
      maxPixels: 2 ** 25,
    });
    expect(config.tasks[0]).toEqual({
      name: "sr",
      kind: "restoration",
      operator: { kind: "sr", factor: 4 },
      noise: { kind: "gaussian", sigma: 0.05, range: "[-1,1]" },
    });
    expect(config.model).toEqual({ kind: "embedded", name: "patches", ref: "embedded:patches" });
    expect(config.solvers[0]).toMatchObject({ label: "dps", paramSets: [{ steps: 100 }] });
  });

  it("labels a preset entry without repeating the solver name", () => {
    const text = yamlConfig().replace(
      "  - name: dps\n    params: { steps: 100 }",
      "  - name: dps\n    preset: dps-fashion\n  - name: dps\n    preset: paper-sr",
    );
    const config = parseConfig(parseConfigText(text), { baseDir: BASE });
    expect(config.solvers.map((solver) => solver.label)).toEqual(["dps-fashion", "dps-paper-sr"]);
  });

  it("defaults noise to none and expands seed counts", () => {
    const text = yamlConfig("seeds: { count: 3, start: 10 }").replace(
      '    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }\n',
      "",
    );
    const config = parseConfig(parseConfigText(text), { baseDir: BASE });
    expect(config.tasks[0]).toMatchObject({ noise: { kind: "none" } });
    expect(config.seeds).toEqual([10, 11, 12]);
  });

  it("suggests the intended key for a misspelt one", () => {
    const lines = problems(
      yamlConfig().replace("params: { steps: 100 }", "parmas: { steps: 100 }"),
    );
    expect(lines).toEqual(['solvers[0].parmas: unknown key; did you mean "params"?']);
  });

  it("drops the missing-field error that a suggestion explains", () => {
    const lines = problems(yamlConfig().replace("datasets:", "datasetz:"));
    expect(lines).toEqual(['datasetz: unknown key; did you mean "datasets"?']);
  });

  it("lists the valid keys when no key is close", () => {
    const lines = problems(yamlConfig("colour: red"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^colour: unknown key \(expected \[.*"datasets".*"solvers".*\]\)$/);
  });

  it("suggests the nearest choice for an invalid value", () => {
    const lines = problems(yamlConfig().replace("kind: folder", "kind: pie-bnch"));
    expect(lines).toEqual([
      'datasets[0].kind: invalid value (expected ["folder","ffhq","div2k","pie-bench","embedded-samples","digits","fashion"], received "pie-bnch"); did you mean "pie-bench"?',
    ]);
  });

  it("names path, rule and received value, one line each", () => {
    const lines = problems(
      yamlConfig("samples: 0\nseeds: { count: 1.5 }").replace("embedded:patches", "3"),
    );
    expect(lines).toEqual([
      'model: invalid type (expected "string", received 3)',
      'seeds.count: invalid type (expected "int", received 1.5)',
      'samples: out of range (expected ">= 1", received 0)',
    ]);
  });

  it("reports a missing required field", () => {
    const lines = problems(yamlConfig().replace("model: embedded:patches", ""));
    expect(lines).toEqual(['model: required field is missing (expected "string")']);
  });

  it("names line and column of a YAML syntax error", () => {
    expect(() => parseConfigText("name: a\nname: b\n", "c.yaml")).toThrow(
      "invalid YAML at line 2, column 1: Map keys must be unique",
    );
  });

  it("rejects a task with both an operator and editing", () => {
    const lines = problems(
      yamlConfig().replace("- operator:", "- editing: { target: x }\n    operator:"),
    );
    expect(lines).toContain(
      'tasks[0].editing: a task has either an operator or editing prompts, not both (expected "operator or editing", received "both")',
    );
  });

  it("rejects an alpha background that would be ignored", () => {
    const lines = problems(
      yamlConfig().replace(
        "root: ./images",
        "root: ./images\n    channels: { background: [0, 0, 0] }",
      ),
    );
    expect(lines).toEqual([
      'datasets[0].channels.background: background applies only with alpha: composite (expected "channels.alpha set to composite", received [0,0,0])',
    ]);
  });

  it("rejects zero effective steps of an SDEdit-style strength", () => {
    const lines = problems(
      yamlConfig().replace("params: { steps: 100 }", "params: { strength: 0.05, steps: 15 }"),
    );
    expect(lines).toEqual([
      'solvers[0].params.strength: strength 0.05 x steps 15 = 0 effective steps; need >= 1 (expected "strength x steps >= 1", received {"strength":0.05,"steps":15})',
    ]);
  });

  it("accepts strength x steps of exactly one step", () => {
    expect(
      problems(
        yamlConfig().replace("params: { steps: 100 }", "params: { strength: 0.2, steps: 5 }"),
      ),
    ).toEqual([]);
  });

  it("rejects duplicate names, seeds and S3 settings on a folder", () => {
    const text = yamlConfig(
      "seeds: [1, 2, 1]\noutput: { location: ./o, s3: { region: eu-west-1 } }",
    ).replace("solvers:", "  - operator: { kind: sr, factor: 2 }\nsolvers:");
    expect(problems(text)).toEqual([
      'tasks[1].name: duplicate name; tasks[0] has the same one (expected "a name unique within tasks", received "sr"); set "name" to tell them apart',
      'seeds[2]: duplicate seed; the repeated cells would be identical (expected "distinct seeds", received 1)',
      'output.s3: output.s3 applies only to s3:// locations, so it would be ignored (expected "an s3://bucket/prefix location, or no s3 settings", received "./o")',
    ]);
  });

  it("parses an S3 location and its settings", () => {
    const config = parseConfig(
      parseConfigText(
        yamlConfig(
          "output:\n  location: s3://results-bucket/runs/nightly/\n  run: night-1\n  s3: { endpoint: http://127.0.0.1:9000 }",
        ),
      ),
      { baseDir: BASE },
    );
    expect(config.output.location).toEqual({
      kind: "s3",
      bucket: "results-bucket",
      prefix: "runs/nightly",
    });
    expect(config.output.run).toBe("night-1");
    expect(config.output.s3).toMatchObject({ endpoint: "http://127.0.0.1:9000", maxAttempts: 6 });
  });

  it("rejects an invalid bucket name", () => {
    expect(problems(yamlConfig("output: { location: s3://Bad_Bucket/x }"))).toEqual([
      `output.location: invalid S3 bucket name (expected "3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit", received "Bad_Bucket")`,
    ]);
  });

  it("loads YAML and JSON files, resolving paths against the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tweedie-config-"));
    await writeFile(join(dir, "a.yaml"), yamlConfig());
    const raw = parseConfigText(yamlConfig());
    await writeFile(join(dir, "b.json"), JSON.stringify(raw));
    const fromYaml = await loadConfigFile(join(dir, "a.yaml"));
    const fromJson = await loadConfigFile(join(dir, "b.json"));
    expect(fromYaml.datasets[0]).toMatchObject({ root: join(dir, "images") });
    expect(fromJson).toEqual(fromYaml);
    await expect(loadConfigFile(join(dir, "a.toml"))).rejects.toThrow(
      "unsupported config file type",
    );
  });

  it("prefixes the message with the file name", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tweedie-config-"));
    const file = join(dir, "bad.yaml");
    await writeFile(file, yamlConfig("samples: -1"));
    const error = await loadConfigFile(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      `${file}: invalid config, 1 problem\nsamples: out of range (expected ">= 1", received -1)`,
    );
  });
});

describe("parameter sweeps", () => {
  it("expands lists into the cartesian product in sorted key order", () => {
    const sets = expandParams(entry({ zeta: [0.5, 1], steps: 100, eta: [0, 1] }), ["solvers", 0]);
    expect(sets).toEqual([
      { eta: 0, steps: 100, zeta: 0.5 },
      { eta: 0, steps: 100, zeta: 1 },
      { eta: 1, steps: 100, zeta: 0.5 },
      { eta: 1, steps: 100, zeta: 1 },
    ]);
  });

  it("passes a one-element list of a list as one list value", () => {
    const sets = expandParams(entry({ kernel: [[3, 5]], nested: { sizes: [1, 2] } }), [
      "solvers",
      0,
    ]);
    expect(sets).toEqual([{ kernel: [3, 5], nested: { sizes: [1, 2] } }]);
  });

  it("rejects an empty list", () => {
    expect(() => expandParams(entry({ zeta: [] }), ["solvers", 2])).toThrow(
      "an empty list expands to no parameter sets",
    );
  });

  it("draws the same random search for the same seed", () => {
    const sweep = {
      mode: "random" as const,
      samples: 4,
      seed: 7,
      ranges: {
        zeta: { min: 0.01, max: 10, scale: "log" as const, integer: false },
        steps: { min: 20, max: 50, scale: "linear" as const, integer: true },
      },
    };
    const first = expandParams(entry({ eta: [0, 1], fixed: "a" }, sweep), ["solvers", 0]);
    const again = expandParams(entry({ eta: [0, 1], fixed: "a" }, sweep), ["solvers", 0]);
    expect(again).toEqual(first);
    expect(first).toHaveLength(4);
    for (const set of first) {
      expect(set.fixed).toBe("a");
      expect([0, 1]).toContain(set.eta);
      expect(set.zeta as number).toBeGreaterThanOrEqual(0.01);
      expect(set.zeta as number).toBeLessThanOrEqual(10);
      expect(Number.isInteger(set.steps)).toBe(true);
      expect(set.steps as number).toBeGreaterThanOrEqual(20);
      expect(set.steps as number).toBeLessThanOrEqual(50);
    }
    // Golden draws of core's Philox stream: a change here changes every random sweep.
    expect(first).toMatchInlineSnapshot(`
      [
        {
          "eta": 0,
          "fixed": "a",
          "steps": 28,
          "zeta": 0.316003,
        },
        {
          "eta": 1,
          "fixed": "a",
          "steps": 28,
          "zeta": 1.07886,
        },
        {
          "eta": 0,
          "fixed": "a",
          "steps": 49,
          "zeta": 0.0203428,
        },
        {
          "eta": 1,
          "fixed": "a",
          "steps": 30,
          "zeta": 1.21812,
        },
      ]
    `);
    const otherSeed = expandParams(entry({ eta: [0, 1], fixed: "a" }, { ...sweep, seed: 8 }), [
      "solvers",
      0,
    ]);
    expect(otherSeed).not.toEqual(first);
  });

  it("keeps other draws when a range is added", () => {
    const base = { mode: "random" as const, samples: 3, seed: 1 };
    const zeta = { min: 1, max: 2, scale: "linear" as const, integer: false };
    const one = expandParams(entry({}, { ...base, ranges: { zeta } }), ["solvers", 0]);
    const two = expandParams(
      entry(
        {},
        { ...base, ranges: { zeta, eta: { min: 0, max: 1, scale: "linear", integer: false } } },
      ),
      ["solvers", 0],
    );
    expect(two.map((set) => set.zeta)).toEqual(one.map((set) => set.zeta));
  });

  it("rejects a random search with nothing to draw", () => {
    expect(() =>
      expandParams(entry({ steps: 10 }, { mode: "random", samples: 3, seed: 0, ranges: {} }), [
        "solvers",
        1,
      ]),
    ).toThrow("random search has nothing to draw");
  });

  it("rejects a parameter both fixed and drawn", () => {
    expect(() =>
      expandParams(
        entry(
          { zeta: 1 },
          {
            mode: "random",
            samples: 2,
            seed: 0,
            ranges: { zeta: { min: 0, max: 1, scale: "linear", integer: false } },
          },
        ),
        ["solvers", 0],
      ),
    ).toThrow("a parameter is both fixed in params and drawn from a range");
  });

  it("validates ranges in the config", () => {
    const text = yamlConfig().replace(
      "params: { steps: 100 }",
      "sweep: { mode: random, samples: 2, ranges: { zeta: { min: 0, max: 1, scale: log }, eta: { min: 2, max: 1 }, k: { min: 1.2, max: 1.8, integer: true } } }",
    );
    expect(problems(text)).toEqual([
      'solvers[0].sweep.ranges.zeta.min: a log-scale range needs min > 0 (expected "> 0", received 0)',
      'solvers[0].sweep.ranges.eta.max: max must exceed min (expected "> 2", received 1)',
      'solvers[0].sweep.ranges.k: an integer range must contain an integer (received {"min":1.2,"max":1.8})',
    ]);
  });
});

describe("secret redaction", () => {
  const secret = "tweedie-canary-config-0123456789";

  it("replaces credentials and secret values in any JSON value", () => {
    const value = {
      output: { s3: { credentials: { accessKeyId: "AKIA", secretAccessKey: secret } } },
      note: `token=${secret}`,
      list: [secret],
    };
    const redacted = redactValue(value, [secret]);
    expect(redacted).toEqual({
      output: { s3: { credentials: REDACTED } },
      note: `token=${REDACTED}`,
      list: [REDACTED],
    });
    expect(JSON.stringify(redacted)).not.toContain(secret);
  });

  it("keeps credentials out of config errors", () => {
    const text = yamlConfig(
      `output:\n  location: s3://bucket-x/p\n  s3:\n    credentials: { accessKeyId: AKIA, secretAccessKey: ${secret}, sessionToken: 12345678 }\n    region: 7`,
    );
    const lines = problems(text);
    expect(lines).toEqual([
      'output.s3.region: invalid type (expected "string", received 7)',
      'output.s3.credentials.sessionToken: invalid type (expected "string", received "[redacted]")',
    ]);
    const wholeSecret = problems(
      yamlConfig(`output:\n  location: s3://bucket-x/p\n  s3:\n    credentials: ${secret}`),
    );
    expect(wholeSecret).toEqual([
      'output.s3.credentials: invalid type (expected "object", received "[redacted]")',
    ]);
    expect(wholeSecret.join("\n")).not.toContain(secret);
  });

  it("collects secrets from the environment and the config", () => {
    const env = {
      AWS_SECRET_ACCESS_KEY: "env-secret-value",
      AWS_SESSION_TOKEN: "session-token-value",
      HOME: "/root",
    };
    const secrets = collectSecrets(env, {
      output: { s3: { credentials: { secretAccessKey: secret } } },
    });
    expect(secrets.sort()).toEqual(["env-secret-value", "session-token-value", secret].sort());
    expect(redactText(`a env-secret-value b ${secret}`, secrets)).toBe(
      `a ${REDACTED} b ${REDACTED}`,
    );
  });
});
