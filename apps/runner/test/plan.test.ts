import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { noiseSpecSchema, operatorSpecSchema } from "@tweedie/operators";
import { flowDpsPlugin } from "@tweedie/solver-flowdps";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  assignShards,
  buildManifest,
  type Cell,
  ConfigError,
  type DatasetItem,
  type DatasetManifest,
  datasetSchema,
  loadPieBench,
  type ModelIdentity,
  type PlanInput,
  parseConfig,
  parseConfigText,
  parseShardFlag,
  planCells,
  type ResolvedDataset,
  renderPlanSummary,
  resolveShard,
  type SolverInfo,
  selectShard,
  summarizePlan,
} from "../src/index.js";

const PIE = fileURLToPath(new URL("./fixtures/pie-bench/", import.meta.url));

const dps: SolverInfo = {
  name: "dps",
  version: "1.2.0",
  tasks: ["restoration"],
  paramsSchema: z
    .strictObject({
      steps: z.number().int().min(1).default(1000),
      zeta: z.number().positive().default(1),
      eta: z.number().min(0).max(1).default(1),
    })
    .refine((p) => p.zeta * p.steps <= 1e6, {
      message: "zeta x steps must stay <= 1e6",
      path: ["zeta"],
    }),
  presets: {
    "ffhq-sr4-paper": { params: { zeta: 1, steps: 1000 }, source: "DPS paper, appendix C" },
    "ffhq-sr4-repo": {
      params: { zeta: 0.3, steps: 1000 },
      source: "configs/super_resolution_config.yaml",
    },
  },
};

const sdedit: SolverInfo = {
  name: "sdedit",
  version: "0.1.0",
  tasks: ["editing"],
  paramsSchema: z.strictObject({
    steps: z.number().int().default(50),
    strength: z.number().default(0.5),
  }),
  presets: {},
};

const MODEL: ModelIdentity = { ref: "embedded:patches", hash: "a".repeat(64), scheduleSteps: 1000 };

function item(id: string, content: string): DatasetItem {
  const sha256 = createHash("sha256").update(content).digest("hex");
  return { id, path: id, sha256, contentHash: sha256 };
}

function manifest(name: string, ids: string[]): DatasetManifest {
  return buildManifest({
    name,
    kind: "folder",
    root: "/data",
    selection: {},
    policy: {
      order: "bytewise",
      preprocess: { resize: "none" },
      channels: { alpha: "reject" },
      maxPixels: 2 ** 25,
      pixels: "2 v / (2^bitDepth - 1) - 1",
    },
    items: ids.map((id) => item(id, `bytes of ${id}`)),
  });
}

function config(yaml: string) {
  return parseConfig(parseConfigText(yaml), { baseDir: "/work" });
}

const BASE_YAML = `
name: sr-sweep
datasets:
  - kind: folder
    root: ./faces
tasks:
  - name: sr4
    operator: { kind: sr, factor: 4 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
  - name: deblur
    operator: { kind: gaussian_blur, kernelSize: 61, sigma: 3 }
solvers:
  - name: dps
    params: { zeta: [0.5, 1], steps: 100 }
model: embedded:patches
seeds: [0, 1, 2]
samples: 2
`;

function plan(yaml = BASE_YAML, overrides: Partial<PlanInput> = {}) {
  const cfg = config(yaml);
  return planCells({
    config: cfg,
    manifests: [manifest("folder", ["img1.png", "img10.png", "img2.png"])],
    model: MODEL,
    solvers: [dps, sdedit],
    ...overrides,
  });
}

/** Canonical JSON written independently of the runner: recursive key sort, then JSON.stringify. */
function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((key) => [key, sort((v as Record<string, unknown>)[key])]),
          )
        : v;
  return JSON.stringify(sort(value));
}

describe("planCells", () => {
  it("builds the full cross product", () => {
    const { cells } = plan();
    // 3 items x 2 tasks x 2 param sets x 3 seeds x 2 samples
    expect(cells).toHaveLength(72);
    expect(new Set(cells.map((cell) => cell.id)).size).toBe(72);
    expect(cells.map((cell) => cell.id)).toEqual([...cells.map((cell) => cell.id)].sort());
  });

  it("gives the same ids on every call and machine", () => {
    const first = plan().cells.map((cell) => cell.id);
    const second = plan().cells.map((cell) => cell.id);
    expect(second).toEqual(first);
    // Pinned: a change here means stored results of earlier runs are no longer found.
    expect(first.slice(0, 3)).toEqual([
      "010d4cac1ac97e855840c5348346fff9c78af569912c426152d355210173c100",
      "02e2a3ec9303a798d1f9df76b1abb44ca575936136e42fd788fc25c87acfea91",
      "06e71020dd6278fd3217f4f8f6d04000f0f59338fc7065489d40058b2c3f28bd",
    ]);
  });

  it("hashes exactly the cell content as sorted-key JSON", () => {
    for (const cell of plan().cells.slice(0, 5)) {
      const expected = createHash("sha256").update(sortedJson(cell.content)).digest("hex");
      expect(cell.id).toBe(expected);
      expect(cell.key).toBe(cell.id.slice(0, 16));
    }
  });

  it("keeps ids when key order or labels change", () => {
    const reordered = BASE_YAML.replace(
      "params: { zeta: [0.5, 1], steps: 100 }",
      "params: { steps: 100, zeta: [0.5, 1] }",
    )
      .replace("name: sr4", "name: super-res")
      .replace("- name: dps", "- name: dps\n    label: my-dps");
    const ids = (yaml: string) =>
      plan(yaml)
        .cells.map((cell) => cell.id)
        .sort();
    expect(ids(reordered)).toEqual(ids(BASE_YAML));
  });

  it("changes ids with content: seed, params, model, item bytes, policy, version", () => {
    const base = new Set(plan().cells.map((cell) => cell.id));
    const variants: [string, string[]][] = [
      [
        "seeds",
        plan(BASE_YAML.replace("seeds: [0, 1, 2]", "seeds: [3, 4, 5]")).cells.map((c) => c.id),
      ],
      ["params", plan(BASE_YAML.replace("steps: 100", "steps: 101")).cells.map((c) => c.id)],
      [
        "model",
        plan(BASE_YAML, { model: { ...MODEL, hash: "b".repeat(64) } }).cells.map((c) => c.id),
      ],
      [
        "version",
        plan(BASE_YAML, { solvers: [{ ...dps, version: "1.2.1" }] }).cells.map((c) => c.id),
      ],
      [
        "item bytes",
        plan(BASE_YAML, {
          manifests: [{ ...manifest("folder", []), items: [item("img1.png", "other bytes")] }],
        }).cells.map((c) => c.id),
      ],
      [
        "policy",
        plan(BASE_YAML, {
          manifests: [
            {
              ...manifest("folder", ["img1.png", "img10.png", "img2.png"]),
              policy: {
                ...manifest("folder", []).policy,
                preprocess: { resize: "stretch", size: 256, filter: "lanczos3" },
              },
            },
          ],
        }).cells.map((c) => c.id),
      ],
    ];
    for (const [what, ids] of variants) {
      expect(
        ids.filter((id) => base.has(id)),
        what,
      ).toEqual([]);
    }
  });

  it("applies presets under params and records overrides", () => {
    const yaml = BASE_YAML.replace(
      "    params: { zeta: [0.5, 1], steps: 100 }",
      "    preset: ffhq-sr4-repo\n    params: { zeta: 1 }",
    );
    const result = plan(yaml);
    expect(result.variants).toHaveLength(1);
    expect(result.variants[0]).toMatchObject({
      label: "dps-ffhq-sr4-repo",
      params: { zeta: 1, steps: 1000, eta: 1 },
      presetSource: "configs/super_resolution_config.yaml",
      overrides: [{ param: "zeta", preset: 0.3, value: 1 }],
    });
  });

  it("reports plugin schema, preset and schedule problems with config paths", () => {
    const yaml = BASE_YAML.replace(
      "  - name: dps\n    params: { zeta: [0.5, 1], steps: 100 }",
      [
        "  - name: dps",
        "    params: { steps: 1500 }",
        "  - name: dps",
        "    label: b",
        "    params: { zetta: 2 }",
        "  - name: dps",
        "    label: c",
        "    preset: ffhq-sr4-papr",
        "  - name: dsp",
        "    label: d",
      ].join("\n"),
    );
    const error = (() => {
      try {
        plan(yaml);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).lines()).toEqual([
      'solvers[0].params.steps: steps 1500 > schedule length 1000 (expected "<= 1000, the model\'s number of training steps", received 1500)',
      'solvers[1].params.zetta: unknown key; did you mean "zeta"?',
      'solvers[2].preset: unknown preset of solver dps (expected "one of ffhq-sr4-paper, ffhq-sr4-repo", received "ffhq-sr4-papr"); did you mean "ffhq-sr4-paper"?',
      'solvers[3].name: unknown solver (expected "one of dps, sdedit", received "dsp"); did you mean "dps"?',
    ]);
  });

  it("runs the plugin's cross-field rules", () => {
    const yaml = BASE_YAML.replace(
      "params: { zeta: [0.5, 1], steps: 100 }",
      "params: { zeta: 2000, steps: 1000 }",
    );
    expect(() => plan(yaml)).toThrow("solvers[0].params.zeta: zeta x steps must stay <= 1e6");
  });

  it("validates operator specs through the operator schema", () => {
    const operatorSchema = z.discriminatedUnion("kind", [
      z.strictObject({
        kind: z.literal("sr"),
        factor: z.number().int().default(4),
        filter: z.string().default("bicubic"),
      }),
      z.strictObject({
        kind: z.literal("gaussian_blur"),
        kernelSize: z.number().int(),
        sigma: z.number(),
      }),
    ]);
    const good = plan(BASE_YAML, { operatorSchema });
    const task = good.cells.find((cell) => cell.task.name === "sr4")?.task;
    expect(task).toMatchObject({ operator: { kind: "sr", factor: 4, filter: "bicubic" } });
    const bad = BASE_YAML.replace("kernelSize: 61", "kernelSise: 61");
    expect(() => plan(bad, { operatorSchema })).toThrow(
      'tasks[1].operator.kernelSise: unknown key; did you mean "kernelSize"?',
    );
  });

  it("takes editing prompts from PIE-Bench items and skips restoration-only solvers", async () => {
    const pieOptions = datasetSchema.parse({ kind: "pie-bench", root: PIE });
    const pie = await loadPieBench({ ...pieOptions, name: "pie-bench" } as ResolvedDataset & {
      kind: "pie-bench";
    });
    const yaml = `
name: edit
datasets: [{ kind: pie-bench, root: ${PIE} }]
tasks:
  - name: edit
    editing: {}
solvers:
  - name: sdedit
    params: { steps: 50, strength: 0.6 }
model: embedded:patches
`;
    const result = planCells({
      config: config(yaml),
      manifests: [pie],
      model: MODEL,
      solvers: [dps, sdedit],
    });
    expect(
      result.cells
        .map((cell) => cell.task)
        .sort((a, b) =>
          a.kind === "editing" && b.kind === "editing"
            ? a.sourcePrompt.localeCompare(b.sourcePrompt)
            : 0,
        ),
    ).toEqual([
      {
        name: "edit",
        kind: "editing",
        sourcePrompt: "a blue sky over a field",
        targetPrompt: "a blue sunset over a field",
      },
      {
        name: "edit",
        kind: "editing",
        sourcePrompt: "a painting of a cat sitting on a chair",
        targetPrompt: "a painting of a dog sitting on a chair",
      },
    ]);
    const withRestoration = yaml.replace(
      "solvers:",
      "  - name: sr\n    operator: { kind: sr }\nsolvers:\n  - name: dps\n",
    );
    const mixed = planCells({
      config: config(withRestoration),
      manifests: [pie],
      model: MODEL,
      solvers: [dps, sdedit],
    });
    expect(mixed.skipped).toEqual([
      { task: "edit", solver: "dps", reason: "dps does not support editing" },
      { task: "sr", solver: "sdedit", reason: "sdedit does not support restoration" },
    ]);
    expect(mixed.cells).toHaveLength(4);
  });

  it("rejects an editing task on a dataset without prompts", () => {
    const yaml = BASE_YAML.replace(
      "solvers:",
      "  - name: edit\n    editing: { target: a smiling face }\nsolvers:\n  - name: sdedit\n",
    );
    expect(() => plan(yaml)).toThrow(
      "tasks.edit.editing.source: editing task has no source prompt for dataset folder",
    );
  });

  it("rejects two tasks whose cells coincide, naming both", () => {
    const yaml = BASE_YAML.replace(
      "solvers:",
      '  - name: sr4-copy\n    operator: { kind: sr, factor: 4 }\n    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }\nsolvers:',
    );
    expect(() => plan(yaml)).toThrow(
      "tasks.sr4-copy: tasks sr4 and sr4-copy define the same cells for solver dps on dataset folder",
    );
    // A different noise level makes them different tasks.
    expect(() =>
      plan(
        yaml.replace(
          'sigma: 0.05, range: "[-1,1]" }\nsolvers',
          'sigma: 0.1, range: "[-1,1]" }\nsolvers',
        ),
      ),
    ).not.toThrow();
  });

  it("reports a misspelt random-sweep key once, at its range", () => {
    const yaml = BASE_YAML.replace(
      "    params: { zeta: [0.5, 1], steps: 100 }",
      "    params: { steps: 100 }\n    sweep: { mode: random, samples: 3, seed: 1, ranges: { zetta: { min: 0.1, max: 1 } } }",
    );
    let lines: string[] = [];
    try {
      plan(yaml);
    } catch (caught) {
      lines = (caught as ConfigError).lines();
    }
    expect(lines).toEqual(['solvers[0].sweep.ranges.zetta: unknown key; did you mean "zeta"?']);
  });

  it("rejects byte-identical items of one dataset, naming both", () => {
    const twins = manifest("folder", ["a.png", "b.png"]);
    const copy = {
      ...twins,
      items: [twins.items[0], { ...twins.items[1], contentHash: twins.items[0].contentHash }],
    };
    expect(() => plan(BASE_YAML, { manifests: [copy] })).toThrow(
      "datasets[0]: items a.png and b.png of dataset folder have identical content, so their cells would coincide",
    );
  });

  it("rejects two solver entries that resolve to the same parameters", () => {
    const yaml = BASE_YAML.replace(
      "    params: { zeta: [0.5, 1], steps: 100 }",
      "    params: { zeta: 1, steps: 100 }\n  - name: dps\n    label: dps-again\n    params: { steps: 100, zeta: 1 }",
    );
    expect(() => plan(yaml)).toThrow(
      "solvers[1]: solver entries dps and dps-again resolve to the same solver, version and parameters",
    );
  });

  it("rejects a task that no solver supports", () => {
    const yaml = BASE_YAML.replace(
      "solvers:",
      "  - name: edit\n    editing: { source: a, target: b }\nsolvers:",
    );
    expect(() => plan(yaml)).toThrow(
      "tasks[2]: no configured solver supports this task, so it would produce no cells",
    );
  });
});

describe("planCells with the real plugin and operator schemas", () => {
  const yaml = `
name: flowdps-real
datasets: [{ kind: folder, root: ./photos }]
tasks:
  - name: sr4
    operator: { kind: sr-avgpool, scale: 4 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
  - name: blur
    operator: { kind: gaussian-blur }
solvers:
  - name: flowdps
    preset: flowdps-embedded
    params: { stepSize: [10, 15] }
model: embedded:patches
`;
  const input = (text: string): PlanInput => ({
    config: config(text),
    manifests: [manifest("folder", ["a.png"])],
    model: { ...MODEL, scheduleSteps: null },
    solvers: [flowDpsPlugin],
    operatorSchema: operatorSpecSchema,
    noiseSchema: noiseSpecSchema,
  });

  it("fills operator defaults and plugin defaults into the cells", () => {
    const { cells, variants } = planCells(input(yaml));
    expect(cells).toHaveLength(4);
    const blur = cells.find((cell) => cell.task.name === "blur")?.task;
    expect(blur).toEqual({
      name: "blur",
      kind: "restoration",
      operator: { kind: "gaussian-blur", size: 61, sigma: 3, truncate: 4 },
      noise: { kind: "none" },
    });
    expect(variants.map((variant) => variant.params.stepSize)).toEqual([10, 15]);
    expect(variants[0]).toMatchObject({
      name: "flowdps",
      version: flowDpsPlugin.version,
      preset: "flowdps-embedded",
    });
    expect(variants[0].params).toMatchObject({ steps: 50, shift: 4, innerSteps: 3 });
    expect(variants[1].overrides).toEqual([]);
    expect(variants[0].overrides).toEqual([{ param: "stepSize", preset: 15, value: 10 }]);
  });

  it("names misspelt operator fields and plugin params", () => {
    const bad = yaml.replace("scale: 4", "scael: 4").replace("stepSize: [10, 15]", "stepsize: 10");
    const error = (() => {
      try {
        planCells(input(bad));
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).lines();
    expect(lines).toContain('solvers[0].params.stepsize: unknown key; did you mean "stepSize"?');
    expect(lines).toContain('tasks[0].operator.scael: unknown key; did you mean "scale"?');
  });

  it("lists only the keys of the operator kind given", () => {
    const lines = (() => {
      try {
        planCells(input(yaml.replace("scale: 4", "scale: 4, factor: 4")));
      } catch (caught) {
        return (caught as ConfigError).lines();
      }
      return [];
    })();
    expect(lines).toEqual(['tasks[0].operator.factor: unknown key (expected ["kind","scale"])']);
  });
});

describe("sharding", () => {
  it.each([1, 2, 3, 7])("partitions the cells exactly into %i shards", (count) => {
    const { cells } = plan();
    const shards = Array.from({ length: count }, (_, index) =>
      selectShard(cells, { index, count, source: "flag" }),
    );
    const all = shards.flat().map((cell) => cell.id);
    expect(all).toHaveLength(cells.length);
    expect(new Set(all).size).toBe(cells.length);
    expect(new Set(all)).toEqual(new Set(cells.map((cell) => cell.id)));
    const sizes = shards.map((shard) => shard.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    const assigned = assignShards(
      cells.map((cell) => cell.id),
      count,
    );
    shards.forEach((shard, index) => {
      for (const cell of shard) expect(assigned.get(cell.id)).toBe(index);
    });
  });

  it("does not depend on the order cells arrive in", () => {
    const { cells } = plan();
    const shuffled = [...cells].reverse();
    const a = selectShard(cells, { index: 1, count: 3, source: "flag" }).map((cell) => cell.id);
    const b = selectShard(shuffled, { index: 1, count: 3, source: "flag" }).map((cell) => cell.id);
    expect(b).toEqual(a);
  });

  it("gives two workers the same first two images on every machine", () => {
    const yaml = BASE_YAML.replace("seeds: [0, 1, 2]\nsamples: 2", "seeds: [0]")
      .replace("params: { zeta: [0.5, 1], steps: 100 }", "params: { steps: 100 }")
      .replace(/ {2}- name: deblur\n.*\n/, "");
    const firstTwo = manifest("folder", ["img1.png", "img10.png"]);
    const result = plan(yaml, { manifests: [firstTwo] });
    const byShard = [0, 1].map((index) =>
      selectShard(result.cells, { index, count: 2, source: "flag" }).map(
        (cell: Cell) => cell.item.id,
      ),
    );
    expect(byShard.flat().sort()).toEqual(["img1.png", "img10.png"]);
    expect(byShard.every((items) => items.length === 1)).toBe(true);
  });

  it("summarizes cells per shard for a dry run", () => {
    const { cells } = plan();
    const done = new Set(cells.slice(0, 5).map((cell) => cell.id));
    const summary = summarizePlan(cells, 7, done);
    expect(summary.shards.map((shard) => shard.cells)).toEqual([11, 11, 10, 10, 10, 10, 10]);
    expect(summary.shards.reduce((sum, shard) => sum + shard.done, 0)).toBe(5);
    expect(summary.byTask).toEqual({ sr4: 36, deblur: 36 });
    const lines = renderPlanSummary(summary);
    expect(lines[0]).toBe("72 cells in 7 shard(s)");
    expect(lines[1]).toBe("  shard 0/7: 11 cells, 1 done");
  });
});

describe("resolveShard", () => {
  it("reads the --shard flag first", () => {
    expect(
      resolveShard({ flag: "2/5" }, { SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_COUNT: "2" }),
    ).toEqual({
      index: 2,
      count: 5,
      source: "flag",
    });
  });

  it("maps a SLURM array with an offset and a step", () => {
    const env = {
      SLURM_ARRAY_TASK_ID: "7",
      SLURM_ARRAY_TASK_COUNT: "4",
      SLURM_ARRAY_TASK_MIN: "1",
      SLURM_ARRAY_TASK_STEP: "2",
    };
    expect(resolveShard({}, env)).toEqual({ index: 3, count: 4, source: "slurm" });
    expect(resolveShard({}, { SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_COUNT: "3" })).toEqual({
      index: 0,
      count: 3,
      source: "slurm",
    });
  });

  it("maps a Kubernetes indexed job with a declared count", () => {
    expect(resolveShard({}, { JOB_COMPLETION_INDEX: "4", TWEEDIE_SHARD_COUNT: "8" })).toEqual({
      index: 4,
      count: 8,
      source: "kubernetes",
    });
    expect(resolveShard({ shardCount: 5 }, { JOB_COMPLETION_INDEX: "4" })).toMatchObject({
      count: 5,
    });
    expect(() => resolveShard({}, { JOB_COMPLETION_INDEX: "4" })).toThrow(
      "JOB_COMPLETION_INDEX is set but the shard count is not",
    );
  });

  it("defaults to the only shard", () => {
    expect(resolveShard({}, {})).toEqual({ index: 0, count: 1, source: "default" });
  });

  it("rejects malformed and out-of-range shards", () => {
    expect(() => parseShardFlag("3/3")).toThrow("shard index must be below the shard count");
    expect(() => parseShardFlag("1of3")).toThrow("invalid shard");
    expect(() => parseShardFlag("0/0")).toThrow("shard count must be >= 1");
    expect(() =>
      resolveShard({}, { SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_COUNT: "4" }),
    ).toThrow("shard index must be below the shard count");
    expect(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: "2" })).toThrow(
      "SLURM_ARRAY_TASK_COUNT must be an integer >= 1",
    );
  });
});
