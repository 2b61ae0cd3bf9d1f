import { readFileSync } from "node:fs";
import {
  classProbabilities,
  createRng,
  type Denoiser,
  eigenMixture,
  loadDigitsPrior,
  type RngSeed,
  type Solver,
  Tensor,
  TweedieError,
} from "@tweedie/core";
import { z } from "zod";
import { psnrUnit, reverseEdit } from "./reverse.js";

/**
 * The digits editing benchmark: PIE-Bench mapping entries over held-out 8 x 8 digits,
 * scored by the Bayes classifier of the digits prior (edit success) and by PSNR to the
 * source, forward and after reverse editing.
 */

const entrySchema = z.looseObject({
  image_path: z.string().min(1),
  original_prompt: z.string(),
  editing_prompt: z.string(),
  editing_type_id: z.string(),
  blended_word: z.string(),
  mask: z.array(z.number().int()),
  source_label: z.number().int().min(0).max(9),
  target_label: z.number().int().min(0).max(9),
  digits_pixels: z.array(z.number().int().min(0).max(16)).length(64),
});

export interface DigitsEditingEntry {
  id: string;
  imagePath: string;
  sourcePrompt: string;
  targetPrompt: string;
  sourceLabel: number;
  targetLabel: number;
  /** The source digit [1, 1, 8, 8] on [-1, 1]: x = 2 v / 16 - 1. */
  source: Tensor;
}

/** Reads a digits mapping_file.json (PIE-Bench fields plus labels and exact pixel values). */
export function readDigitsEditingMapping(path: string): DigitsEditingEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new TweedieError(`failed to read the editing mapping ${path}`, {
      code: "io_failed",
      path: [path],
      expected: "a JSON object of PIE-Bench entries",
      cause,
    });
  }
  const parsed = z.record(z.string(), entrySchema).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TweedieError(`invalid editing mapping ${path}: ${issue.message}`, {
      code: "invalid_value",
      path: [path, ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part))],
      expected: "PIE-Bench entries with source_label, target_label and 64 digits_pixels",
      received: issue.code,
    });
  }
  return Object.entries(parsed.data).map(([id, entry]) => ({
    id,
    imagePath: entry.image_path,
    sourcePrompt: entry.original_prompt,
    targetPrompt: entry.editing_prompt,
    sourceLabel: entry.source_label,
    targetLabel: entry.target_label,
    source: Tensor.from(
      entry.digits_pixels.map((v) => (2 * v) / 16 - 1),
      [1, 1, 8, 8],
    ),
  }));
}

/** The Bayes classifier p(class | x0) of the digits prior, on images clipped to [-1, 1]. */
export interface DigitsClassifier {
  /** p(class | x0) for each item of x [N, 1, 8, 8]: N x 10, row-major. */
  probabilities(x: Tensor): Float64Array;
}

/** Loads the classifier from the digits model package (the embedded one by default). */
export async function loadDigitsClassifier(modelDir?: string): Promise<DigitsClassifier> {
  const { prior } = await loadDigitsPrior(modelDir);
  const classes = prior.classes.map(eigenMixture);
  return {
    probabilities(x: Tensor): Float64Array {
      const points = Float64Array.from(x.data, (v) => Math.min(1, Math.max(-1, v)));
      return classProbabilities(classes, prior.classWeights, points);
    },
  };
}

export interface DigitsEditRecord {
  id: string;
  /** p(target class | edit); 0 when the solve diverged. */
  success: number;
  forwardPsnr: number | null;
  reversePsnr: number | null;
  /** The "diverged" error message, when the solve stopped. */
  diverged: string | null;
}

export interface DigitsEditingSummary {
  count: number;
  diverged: number;
  /** Mean p(target class | edit), diverged edits counted as 0. */
  success: number;
  /** Mean forward PSNR (dB on [0, 1]) over the edits that did not diverge. */
  forwardPsnr: number;
  /** Mean reverse-edit PSNR over the edits that did not diverge; NaN when not run. */
  reversePsnr: number;
}

export interface DigitsEditingRun {
  denoiser: Denoiser;
  solver: Solver;
  entries: readonly DigitsEditingEntry[];
  classifier: DigitsClassifier;
  /** Root seed; entry e uses createRng(seed).split("entry", e.id). */
  seed: RngSeed;
  /** Also edit each result back to its source (doubles the cost). */
  reverse: boolean;
}

/** Runs one solver over the entries and scores every edit. */
export async function runDigitsEditing(
  run: DigitsEditingRun,
): Promise<{ records: DigitsEditRecord[]; summary: DigitsEditingSummary }> {
  const root = createRng(run.seed);
  const records: DigitsEditRecord[] = [];
  for (const entry of run.entries) {
    const problem = {
      kind: "editing" as const,
      denoiser: run.denoiser,
      source: entry.source,
      sourcePrompt: entry.sourcePrompt,
      targetPrompt: entry.targetPrompt,
    };
    const rng = root.split("entry", entry.id);
    try {
      let edited: Tensor;
      let forwardPsnr: number;
      let reversePsnr: number | null = null;
      if (run.reverse) {
        const result = await reverseEdit(run.solver, problem, rng);
        edited = result.forward.x.item(0);
        forwardPsnr = result.forwardPsnr;
        reversePsnr = result.reversePsnr;
      } else {
        edited = (await run.solver.solve(problem, rng)).x.item(0);
        forwardPsnr = psnrUnit(edited, entry.source);
      }
      const success = run.classifier.probabilities(edited)[entry.targetLabel];
      records.push({ id: entry.id, success, forwardPsnr, reversePsnr, diverged: null });
    } catch (error) {
      if (!(error instanceof TweedieError && error.code === "diverged")) throw error;
      records.push({
        id: entry.id,
        success: 0,
        forwardPsnr: null,
        reversePsnr: null,
        diverged: error.message,
      });
    }
  }
  return { records, summary: summarize(records) };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

function summarize(records: readonly DigitsEditRecord[]): DigitsEditingSummary {
  const kept = records.filter((r) => r.diverged === null);
  return {
    count: records.length,
    diverged: records.length - kept.length,
    success: mean(records.map((r) => r.success)),
    forwardPsnr: mean(kept.map((r) => r.forwardPsnr as number)),
    reversePsnr: mean(
      kept.filter((r) => r.reversePsnr !== null).map((r) => r.reversePsnr as number),
    ),
  };
}
