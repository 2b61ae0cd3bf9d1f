import { z } from "zod";

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * `record.json` of one cell, written after every other file of the cell: its presence
 * and validity mark the cell done. Unknown fields are kept, so later versions can add
 * diagnostics without breaking older readers.
 */
export const cellRecordSchema = z.looseObject({
  schemaVersion: z.literal(1),
  /** The full 64-digit cell id. */
  cellId: sha256,
  run: z.string().min(1),
  /** "ok" marks a finished cell; a "failed" record is redone on resume unless asked otherwise. */
  status: z.enum(["ok", "failed"]),
  /** Everything the cell id hashes: item, input policy, task, solver, seed, sample, model. */
  cell: z.record(z.string(), z.unknown()),
  /** The other files of the cell, by name, with their size and SHA-256 when known. */
  files: z
    .record(
      z.string(),
      z.strictObject({ bytes: z.number().int().min(0).nullable(), sha256: sha256.nullable() }),
    )
    .default({}),
  metrics: z.record(z.string(), z.number().nullable()).default({}),
  nfe: z.number().int().min(0).nullable().default(null),
  /** Seconds per phase (load, measure, solve, metrics). */
  timings: z.record(z.string(), z.number().min(0)).default({}),
  error: z.string().optional(),
  createdAt: z.string().min(1),
});

export type CellRecord = z.output<typeof cellRecordSchema>;
export type CellRecordInput = z.input<typeof cellRecordSchema>;

/** `run.json`: what a run is, written once per run folder. */
export const runInfoSchema = z.looseObject({
  schemaVersion: z.literal(1),
  run: z.string().min(1),
  createdAt: z.string().min(1),
  /** Hash of the sorted cell ids of the full plan; the same on every machine and shard. */
  planHash: z.string().min(1),
  cellCount: z.number().int().min(0),
  /** The resolved config, with secrets replaced by "[redacted]". */
  config: z.unknown(),
  versions: z.record(z.string(), z.string()),
  commit: z.string().nullable(),
});

export type RunInfo = z.output<typeof runInfoSchema>;
