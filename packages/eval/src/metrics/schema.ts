import { z } from "zod";
import { SCORE_SCHEMA, SCORE_VERSION, type ScoreRecord } from "./score.js";
import { type MetricConventions, type MetricResult, PROFILE_NAMES } from "./types.js";

/** zod schemas that read score records back from JSON (for example a cell's record.json). */

const rangeSchema = z.tuple([z.number(), z.number()]);

const windowSchema = z.object({
  kind: z.enum(["gaussian", "uniform"]),
  size: z.number().int().positive(),
  sigma: z.number().positive().nullable(),
});

export const conventionsSchema = z.object({
  valueRange: rangeSchema,
  dataRange: z.number().positive(),
  window: windowSchema.nullable(),
  backbone: z.string().nullable(),
  borderCrop: z.number().int().nonnegative(),
  masking: z.enum(["none", "multiply", "restrict"]),
  formula: z.string(),
  settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
}) satisfies z.ZodType<MetricConventions>;

const resultBase = {
  metric: z.string(),
  profile: z.enum(PROFILE_NAMES),
  higherIsBetter: z.boolean(),
  target: z.number().optional(),
  displayScale: z.number().positive(),
  conventions: conventionsSchema,
};

export const metricResultSchema = z.discriminatedUnion("status", [
  z.object({ ...resultBase, status: z.literal("ok"), value: z.number() }),
  z.object({
    ...resultBase,
    status: z.enum(["infinite", "undefined", "unavailable"]),
    value: z.null(),
    reason: z.string(),
  }),
]) satisfies z.ZodType<MetricResult>;

export const scoreRecordSchema = z.object({
  schema: z.literal(SCORE_SCHEMA),
  version: z.literal(SCORE_VERSION),
  profile: z.enum(PROFILE_NAMES),
  inputRange: rangeSchema,
  shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
  borderCrop: z.number().int().nonnegative(),
  mask: z
    .object({ convention: z.literal("1 = edited"), backgroundFraction: z.number() })
    .nullable(),
  outOfRange: z.object({ reference: z.number().int(), output: z.number().int() }),
  metrics: z.record(z.string(), metricResultSchema),
}) satisfies z.ZodType<ScoreRecord>;
