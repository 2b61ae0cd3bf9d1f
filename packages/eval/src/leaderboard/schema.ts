import { TweedieError } from "@tweedie/core";
import { z } from "zod";
import { conventionsSchema } from "../metrics/schema.js";
import { PROFILE_NAMES } from "../metrics/types.js";

/**
 * The leaderboard: one group per (dataset, task, solver, params[, subset]) and one column
 * per metric id. It is the data behind every output format (Markdown, CSV, JSON) and
 * carries everything an HTML report or a regression check needs: raw values, spread,
 * counts and each column's conventions. This zod schema is its JSON schema; `version`
 * changes whenever a field changes meaning or goes away.
 */
export const LEADERBOARD_SCHEMA = "tweedie.leaderboard";
export const LEADERBOARD_VERSION = 1;

export const GROUP_FIELDS = ["dataset", "task", "solver", "params", "subset"] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];

const nullableNumber = z.number().nullable();

export const summarySchema = z.object({
  /** Finite values that entered the statistics. */
  n: z.number().int().nonnegative(),
  mean: nullableNumber,
  /** Sample standard deviation (n - 1 in the denominator); null when n < 2. */
  std: nullableNumber,
  /** Two-sided 95% interval mean +- t(0.975, n - 1) std / sqrt(n); null when n < 2. */
  ci95: z.object({ low: z.number(), high: z.number(), halfWidth: z.number() }).nullable(),
  min: nullableNumber,
  max: nullableNumber,
});

export const metricSummarySchema = summarySchema.extend({
  /** +Infinity values (PSNR of identical images), left out of the statistics. */
  infinite: z.number().int().nonnegative(),
  /** Results with status `undefined` (empty background, non-finite pixels). */
  undefinedValues: z.number().int().nonnegative(),
  /** Results with status `unavailable` (metric not runnable in that build). */
  unavailable: z.number().int().nonnegative(),
  /** Done rows that carry no result for this column. */
  missing: z.number().int().nonnegative(),
  /** Failed rows (no metrics at all). */
  failed: z.number().int().nonnegative(),
});

const jsonValue = z.json();

export const groupKeySchema = z.object({
  dataset: z.string().optional(),
  task: z.string().optional(),
  solver: z.string().optional(),
  params: z.record(z.string(), jsonValue).optional(),
  subset: z.string().nullable().optional(),
});

export const columnSchema = z.object({
  /** "metric@profile", plus "/crop=N" for a border crop. */
  key: z.string(),
  metric: z.string(),
  profile: z.enum(PROFILE_NAMES),
  higherIsBetter: z.boolean(),
  /** Best value of a metric that is best at a value (data consistency: 1), ranked by distance to it. */
  target: z.number().optional(),
  /** Display factor (PIE-Bench MSE: 1e4); the stored statistics are never scaled. */
  displayScale: z.number().positive(),
  conventions: conventionsSchema,
});

export const groupSchema = z.object({
  key: groupKeySchema,
  rows: z.number().int().nonnegative(),
  failedRows: z.number().int().nonnegative(),
  /** Network evaluations per image. */
  nfe: summarySchema,
  /** Wall-clock seconds per image. */
  seconds: summarySchema,
  metrics: z.record(z.string(), metricSummarySchema),
});

export const leaderboardSchema = z.object({
  schema: z.literal(LEADERBOARD_SCHEMA),
  version: z.literal(LEADERBOARD_VERSION),
  groupBy: z.array(z.enum(GROUP_FIELDS)),
  columns: z.array(columnSchema),
  groups: z.array(groupSchema),
  /**
   * The content hashes of the data behind each dataset name (a run's dataset manifest
   * hashes, sorted), so a regression check can tell a change of data from a regression.
   * Absent in leaderboards written before it existed.
   */
  datasets: z.record(z.string(), z.array(z.string())).optional(),
});

export type Summary = z.infer<typeof summarySchema>;
export type MetricSummary = z.infer<typeof metricSummarySchema>;
export type GroupKey = z.infer<typeof groupKeySchema>;
export type LeaderboardColumn = z.infer<typeof columnSchema>;
export type LeaderboardGroup = z.infer<typeof groupSchema>;
export type Leaderboard = z.infer<typeof leaderboardSchema>;

/** Serialises a leaderboard as indented JSON with a final newline. */
export function toJson(leaderboard: Leaderboard): string {
  return `${JSON.stringify(leaderboard, null, 2)}\n`;
}

/** Reads a leaderboard back from JSON text, checking it against `leaderboardSchema`. */
export function parseLeaderboard(text: string, source = "leaderboard"): Leaderboard {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TweedieError(`${source} is not valid JSON`, {
      code: "invalid_value",
      path: [source],
      cause,
    });
  }
  const parsed = leaderboardSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TweedieError(`${source} does not match the leaderboard schema: ${issue.message}`, {
      code: "invalid_value",
      path: [source, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))],
      expected: `a ${LEADERBOARD_SCHEMA} document, version ${LEADERBOARD_VERSION}`,
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** The direction fields of a column or a metric result. */
export interface Direction {
  readonly higherIsBetter: boolean;
  readonly target?: number;
}

/** Returns the title mark of a column: ↑, ↓, or →T for a metric best at the value T. */
export function directionMark(direction: Direction): string {
  if (direction.target !== undefined) return `→${direction.target}`;
  return direction.higherIsBetter ? "↑" : "↓";
}

/** Returns a key that sorts a column's means from best to worst, ascending. */
export function rankKey(direction: Direction, mean: number): number {
  if (direction.target !== undefined) return Math.abs(mean - direction.target);
  return direction.higherIsBetter ? -mean : mean;
}
