import { z } from "zod";
import { datasetSchema } from "../datasets/options.js";

/** Names that end up in file paths and keys. */
export const safeNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
  error:
    "must start with a letter or digit and contain only letters, digits, '.', '_' and '-' (at most 128)",
});

const positiveInt = z.number().int().min(1);
const seedValue = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * An operator spec as JSON. Only `kind` is checked here: the operator catalogue validates
 * the rest at plan time, so the config parses before every operator is known.
 */
export const operatorSpecSchema = z.looseObject({ kind: z.string().min(1) });

/** A noise spec as JSON (`{kind: "none"}` when absent); checked like operator specs. */
export const noiseSpecSchema = z.looseObject({ kind: z.string().min(1) });

/**
 * Editing prompts. An absent prompt comes from each dataset item: the PIE-Bench source
 * and target captions, or the class prompt of a digits item. A task with neither fails
 * at plan time.
 */
export const editingSchema = z.strictObject({
  source: z.string().optional(),
  target: z.string().optional(),
});

/**
 * Prompt of a restoration task, passed to the solver so a conditioned model restores with
 * it (classifier-free guidance where the solver has it). A string is the same prompt for
 * every item. `{ from: item }` takes each item's class prompt (digits, fashion): that is
 * the ground-truth label, so such a run measures restoration given the true class, not
 * blind restoration. Restoration is unconditional when the task has no prompt.
 */
export const restorationPromptSchema = z.union([
  z.string(),
  z.strictObject({ from: z.literal("item") }),
]);

export type RestorationPrompt = z.output<typeof restorationPromptSchema>;

/** One task: a measurement (operator plus noise) or an edit, never both. */
export const taskSchema = z
  .strictObject({
    name: safeNameSchema.optional(),
    operator: operatorSpecSchema.optional(),
    noise: noiseSpecSchema.optional(),
    editing: editingSchema.optional(),
    prompt: restorationPromptSchema.optional(),
    /** Names of the datasets this task applies to; every dataset when absent. */
    datasets: z.array(safeNameSchema).min(1).optional(),
  })
  .superRefine((task, ctx) => {
    if (task.operator === undefined && task.editing === undefined) {
      ctx.addIssue({
        code: "custom",
        message: "a task needs an operator or editing prompts",
        params: { code: "missing", expected: "operator or editing" },
        input: undefined,
      });
    }
    if (task.operator !== undefined && task.editing !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["editing"],
        message: "a task has either an operator or editing prompts, not both",
        params: { expected: "operator or editing", received: "both" },
      });
    }
    if (task.editing !== undefined && task.prompt !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["prompt"],
        message:
          "prompt applies to a restoration task; an edit takes editing.source and editing.target",
        params: { received: task.prompt },
      });
    }
    if (task.editing !== undefined && task.noise !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["noise"],
        message: "noise applies to a measurement operator; an editing task has none",
        params: { received: task.noise },
      });
    }
  });

/**
 * A declared range for random search: `min`/`max` (uniform, or log-uniform with
 * `scale: log`; `integer` rounds to the nearest integer) or a list of `values` to choose from.
 */
export const rangeSchema = z
  .strictObject({
    min: z.number().optional(),
    max: z.number().optional(),
    scale: z.enum(["linear", "log"]).default("linear"),
    integer: z.boolean().default(false),
    values: z.array(z.json()).min(1).optional(),
  })
  .superRefine((range, ctx) => {
    const bounded = range.min !== undefined || range.max !== undefined;
    if (range.values !== undefined && bounded) {
      ctx.addIssue({
        code: "custom",
        message: "a range has either min and max or values, not both",
        params: { received: { min: range.min, max: range.max, values: range.values } },
      });
      return;
    }
    if (range.values !== undefined) return;
    if (range.min === undefined || range.max === undefined) {
      ctx.addIssue({
        code: "custom",
        path: [range.min === undefined ? "min" : "max"],
        message: "a numeric range needs both min and max",
        params: { code: "missing", expected: "a number" },
      });
      return;
    }
    if (!(range.min < range.max)) {
      ctx.addIssue({
        code: "custom",
        path: ["max"],
        message: "max must exceed min",
        params: { code: "out_of_range", expected: `> ${range.min}`, received: range.max },
      });
    }
    if (range.integer && Math.ceil(range.min) > Math.floor(range.max)) {
      ctx.addIssue({
        code: "custom",
        message: "an integer range must contain an integer",
        params: { code: "out_of_range", received: { min: range.min, max: range.max } },
      });
    }
    if (range.scale === "log" && range.min <= 0) {
      ctx.addIssue({
        code: "custom",
        path: ["min"],
        message: "a log-scale range needs min > 0",
        params: { code: "out_of_range", expected: "> 0", received: range.min },
      });
    }
  });

export type Range = z.output<typeof rangeSchema>;

/** `grid`: lists in `params` expand to their cartesian product. `random`: seeded draws. */
export const sweepSchema = z
  .discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("grid") }),
    z.strictObject({
      mode: z.literal("random"),
      samples: positiveInt.max(100000),
      seed: seedValue.default(0),
      ranges: z.record(z.string(), rangeSchema).default({}),
    }),
  ])
  .default({ mode: "grid" });

export type Sweep = z.output<typeof sweepSchema>;

export const solverEntrySchema = z.strictObject({
  /** Plugin name, e.g. "dps". */
  name: z.string().min(1),
  /** Label in plans and reports; defaults to the plugin name (plus the preset). */
  label: safeNameSchema.optional(),
  /** A named preset of the plugin; `params` override its values. */
  preset: z.string().min(1).optional(),
  params: z.record(z.string(), z.json()).default({}),
  sweep: sweepSchema,
  /** Names of the tasks this solver runs on; every task of a kind it supports when absent. */
  tasks: z.array(safeNameSchema).min(1).optional(),
});

export type SolverEntry = z.output<typeof solverEntrySchema>;

/** `embedded:NAME` for a prior shipped with the project, else a model package path. */
export const modelSchema = z.string().min(1);

/** A list of seeds, or `{count, start}` for start, start + 1, ..., start + count - 1. */
export const seedsSchema = z
  .union([
    z.array(seedValue).min(1),
    z.strictObject({ count: positiveInt.max(100000), start: seedValue.default(0) }),
  ])
  .default([0]);

export const metricsSchema = z
  .strictObject({
    names: z.array(z.string().min(1)).default([]),
    /** Profile that fixes every metric detail (range, window, crop); see the eval package. */
    profile: z.string().min(1).default("canonical"),
  })
  .default({ names: [], profile: "canonical" });

/** Static credentials; prefer the standard AWS chain (environment, profile, role). */
export const credentialsSchema = z.strictObject({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
});

/**
 * S3 client settings. `checksums` sets the SDK's requestChecksumCalculation and
 * responseChecksumValidation: "when-required" suits S3-compatible servers (MinIO, R2,
 * B2, moto), many of which reject the CRC32 headers that "when-supported" (the SDK
 * default since 3.729.0) adds. It defaults to "when-required" when `endpoint` is set, and
 * to "when-supported" otherwise.
 */
export const s3SettingsSchema = z.strictObject({
  region: z.string().min(1).optional(),
  endpoint: z.url().optional(),
  forcePathStyle: z.boolean().optional(),
  checksums: z.enum(["when-required", "when-supported"]).optional(),
  credentials: credentialsSchema.optional(),
  maxAttempts: positiveInt.max(20).default(6),
  /** Bodies larger than this go through a multipart upload, in parts of this size. */
  partSizeBytes: positiveInt.min(5 * 1024 * 1024).default(8 * 1024 * 1024),
});

export type S3Settings = z.output<typeof s3SettingsSchema>;

export const outputSchema = z
  .strictObject({
    /** A folder, or `s3://bucket/prefix`. */
    location: z.string().min(1).default("./out"),
    /** Run name, the first key level under the location; defaults to the config name. */
    run: safeNameSchema.optional(),
    s3: s3SettingsSchema.optional(),
  })
  .default({ location: "./out" });

export const configSchema = z.strictObject({
  name: safeNameSchema,
  description: z.string().optional(),
  datasets: z.array(datasetSchema).min(1),
  tasks: z.array(taskSchema).min(1),
  solvers: z.array(solverEntrySchema).min(1),
  model: modelSchema,
  seeds: seedsSchema,
  /** Samples per seed: each is its own cell with its own random stream. */
  samples: positiveInt.max(10000).default(1),
  metrics: metricsSchema,
  output: outputSchema,
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type TaskEntry = z.output<typeof taskSchema>;
