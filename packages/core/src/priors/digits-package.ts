import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TweedieError } from "../errors.js";
import type { Logger } from "../onnx/logger.js";
import { silentLogger } from "../onnx/logger.js";
import type { ModelManifest } from "../onnx/manifest.js";
import { MANIFEST_FILE, parseManifest } from "../onnx/manifest.js";
import {
  DIGITS_FIT_SETTINGS,
  type DigitsEvaluation,
  type DigitsFitSettings,
  type DigitsPrior,
  digitsLabelTable,
  digitsPrompts,
  evaluateDigitsPrior,
  fitDigitsPrior,
} from "./digits.js";
import {
  DIGITS_CLASSES,
  DIGITS_DATA_FILE,
  DIGITS_HELD_OUT_RULE,
  DIGITS_NULL_LABEL,
  DIGITS_PIXEL_MAX,
  DIGITS_SIDE,
  digitsSplit,
  readDigitsFile,
  selectDigits,
} from "./digits-data.js";
import {
  compareDigitsPriors,
  DIGITS_PARAMS_LAYOUT,
  decodeDigitsParams,
  encodeDigitsParams,
} from "./digits-params.js";
import { eigenMixture } from "./gmm.js";
import { MIXTURE_GRAPH_IO, mixtureDenoiserGraph } from "./gmm-onnx.js";

/** File names inside the digits model package. */
export const DIGITS_PACKAGE_FILES = {
  denoiser: "denoiser.onnx",
  vjp: "denoiser-vjp.onnx",
  params: "params.f64",
  record: "prior.json",
} as const;

/** Version written into the manifest; bump it when the fit or the graphs change. */
export const DIGITS_PACKAGE_VERSION = "1.0.0";

/** `prior.json`: how the package was made, so that a rebuild can be checked against it. */
export interface DigitsPriorRecord {
  format: "tweedie-digits-prior";
  formatVersion: 1;
  data: { file: string; sha256: string; rows: number; pixelMap: string };
  split: { rule: string; train: number; heldOut: number };
  fit: DigitsFitSettings;
  /** Training images per class 0..9. */
  classCounts: number[];
  params: { path: string; sha256: string; layout: string };
  evaluation: DigitsEvaluation;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Returns the folder of an embedded model package shipped with @tweedie/core, resolved
 * from this module's location so that it works in the repository and in an installed
 * package. Throws when no package of that name exists, listing the ones that do.
 */
export function embeddedModelDir(name: string): string {
  const root = fileURLToPath(new URL("../../assets/priors/", import.meta.url));
  const dir = join(root, name);
  if (/^[a-z0-9-]+$/.test(name) && existsSync(join(dir, MANIFEST_FILE))) return dir;
  const available = existsSync(root)
    ? readdirSync(root).filter((entry) => existsSync(join(root, entry, MANIFEST_FILE)))
    : [];
  throw new TweedieError(`no embedded model package named ${JSON.stringify(name)}`, {
    code: "not_found",
    path: ["embeddedModelDir", name],
    expected: `one of ${available.join(", ") || "(none found)"} in ${root}`,
    received: name,
  });
}

/** Exports the denoiser and VJP graphs of a fitted prior as serialized ONNX models. */
export function digitsGraphs(prior: DigitsPrior): { denoiser: Uint8Array; vjp: Uint8Array } {
  const { mixture, labelLogWeights, labels } = digitsLabelTable(prior);
  const eigen = eigenMixture(mixture);
  const common = {
    eigen,
    labelLogWeights,
    labels,
    imageShape: [1, DIGITS_SIDE, DIGITS_SIDE] as const,
    docString:
      "Exact MMSE denoiser E[x0 | x_t] of class-conditional Gaussian mixtures over the 8x8 UCI " +
      "digits on [-1, 1], for x_t = alpha x0 + sigma eps; label 10 is the unconditional prior.",
  };
  return {
    denoiser: mixtureDenoiserGraph({ ...common, name: "digits_denoiser", vjp: false }),
    vjp: mixtureDenoiserGraph({ ...common, name: "digits_denoiser_vjp", vjp: true }),
  };
}

/**
 * Builds the manifest of the digits package. The prior is exact for every (alpha, sigma),
 * so the schedule only defines how a caller's t maps to them: rectified flow with shift 1
 * (alpha = 1 - t, sigma = t). Solvers with another schedule may feed their own alpha and
 * sigma to the graphs.
 */
export function digitsManifest(hashes: { denoiser: string; vjp: string }): ModelManifest {
  return parseManifest({
    name: "digits",
    version: DIGITS_PACKAGE_VERSION,
    files: {
      denoiser: { path: DIGITS_PACKAGE_FILES.denoiser, sha256: hashes.denoiser },
      vjp: { path: DIGITS_PACKAGE_FILES.vjp, sha256: hashes.vjp },
    },
    parameterisation: "x0",
    schedule: { kind: "rectified-flow", shift: 1 },
    timestepInput: { kind: "alpha-sigma" },
    resolution: [DIGITS_SIDE, DIGITS_SIDE],
    channels: 1,
    space: "pixel",
    conditioning: { kind: "label", prompts: digitsPrompts(), nullLabel: DIGITS_NULL_LABEL },
    learnedVariance: false,
    dtype: "float32",
    io: { ...MIXTURE_GRAPH_IO },
    spatial: { kind: "static", size: [DIGITS_SIDE, DIGITS_SIDE] },
  });
}

/** Reads the data, splits it and fits the prior with `settings`. */
function fitFromData(dataDir: string, settings: Readonly<DigitsFitSettings>) {
  const file = readDigitsFile(join(dataDir, DIGITS_DATA_FILE));
  const split = digitsSplit(file.count);
  const train = selectDigits(file, split.train);
  const heldOut = selectDigits(file, split.heldOut);
  const prior = fitDigitsPrior(train, settings);
  return { file, train, heldOut, prior };
}

export interface BuildDigitsPriorOptions {
  /** Folder with digits.csv.gz (data/digits in the repository). */
  dataDir: string;
  /** Package folder to write; created when missing, files in it are replaced. */
  outDir: string;
  settings?: Readonly<DigitsFitSettings>;
  logger?: Logger;
}

export interface DigitsPriorBuild {
  prior: DigitsPrior;
  record: DigitsPriorRecord;
  manifest: ModelManifest;
}

/**
 * Fits the digits prior on the training rows, scores it on the held-out rows and writes
 * the model package: the manifest, both ONNX graphs, `params.f64` and `prior.json`.
 */
export async function buildDigitsPrior(
  options: BuildDigitsPriorOptions,
): Promise<DigitsPriorBuild> {
  const logger = options.logger ?? silentLogger;
  const settings = options.settings ?? DIGITS_FIT_SETTINGS;
  const { file, train, heldOut, prior } = fitFromData(options.dataDir, settings);
  const evaluation = evaluateDigitsPrior(prior, heldOut);
  logger.info("digits prior fitted", { ...evaluation, settings });

  const params = encodeDigitsParams(prior);
  const graphs = digitsGraphs(prior);
  const manifest = digitsManifest({ denoiser: sha256(graphs.denoiser), vjp: sha256(graphs.vjp) });
  const classCounts = Array.from(
    { length: DIGITS_CLASSES },
    (_, c) => train.labels.filter((l) => l === c).length,
  );
  const record: DigitsPriorRecord = {
    format: "tweedie-digits-prior",
    formatVersion: 1,
    data: {
      file: DIGITS_DATA_FILE,
      sha256: file.sha256,
      rows: file.count,
      pixelMap: `x = 2 v / ${DIGITS_PIXEL_MAX} - 1`,
    },
    split: { rule: DIGITS_HELD_OUT_RULE, train: train.count, heldOut: heldOut.count },
    fit: { ...settings },
    classCounts,
    params: {
      path: DIGITS_PACKAGE_FILES.params,
      sha256: sha256(params),
      layout: DIGITS_PARAMS_LAYOUT,
    },
    evaluation,
  };

  await mkdir(options.outDir, { recursive: true });
  await writeFile(join(options.outDir, DIGITS_PACKAGE_FILES.denoiser), graphs.denoiser);
  await writeFile(join(options.outDir, DIGITS_PACKAGE_FILES.vjp), graphs.vjp);
  await writeFile(join(options.outDir, DIGITS_PACKAGE_FILES.params), params);
  await writeFile(
    join(options.outDir, DIGITS_PACKAGE_FILES.record),
    `${JSON.stringify(record, null, 2)}\n`,
  );
  await writeFile(join(options.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  logger.info("digits model package written", { dir: options.outDir });
  return { prior, record, manifest };
}

/** Reads `prior.json` and `params.f64` of a digits package. */
export async function loadDigitsPrior(
  modelDir: string = embeddedModelDir("digits"),
): Promise<{ prior: DigitsPrior; record: DigitsPriorRecord }> {
  const recordPath = join(modelDir, DIGITS_PACKAGE_FILES.record);
  let record: DigitsPriorRecord;
  try {
    record = JSON.parse(await readFile(recordPath, "utf8")) as DigitsPriorRecord;
  } catch (cause) {
    throw new TweedieError(`failed to read the digits prior record ${recordPath}`, {
      code: "io_failed",
      path: [recordPath],
      expected: "a JSON file written by buildDigitsPrior",
      cause,
    });
  }
  if (record.format !== "tweedie-digits-prior" || record.formatVersion !== 1) {
    throw new TweedieError(`unsupported digits prior record ${recordPath}`, {
      code: "unsupported",
      path: [recordPath, "format"],
      expected: "tweedie-digits-prior, format version 1",
      received: `${String(record.format)}, format version ${String(record.formatVersion)}`,
    });
  }
  const paramsPath = join(modelDir, record.params.path);
  const bytes = new Uint8Array(await readFile(paramsPath));
  if (sha256(bytes) !== record.params.sha256) {
    throw new TweedieError(
      `digits parameter file ${paramsPath} does not match its recorded SHA-256`,
      {
        code: "model_mismatch",
        path: [recordPath, "params", "sha256"],
        expected: record.params.sha256,
        received: sha256(bytes),
        hint: "rebuild the package with buildDigitsPrior",
      },
    );
  }
  return { prior: decodeDigitsParams(bytes, record.fit, paramsPath), record };
}

export interface CheckDigitsPriorOptions {
  dataDir: string;
  /** The committed package; the embedded digits package unless given. */
  modelDir?: string;
  /** Largest accepted relative parameter difference; 1e-6 unless given. */
  tolerance?: number;
}

/** Result of `checkDigitsPrior`; `problems` is empty when the package is current. */
export interface DigitsPriorCheck {
  ok: boolean;
  problems: string[];
  /** Largest relative difference between refitted and committed parameters, per block. */
  parameters: { maxRelativeDifference: number; block: string };
  /** Held-out scores of the committed parameters, recomputed. */
  evaluation: DigitsEvaluation;
}

/**
 * Rebuilds the digits prior from the data and compares it with a committed package.
 * Compared are the data hash, the fit settings and every parameter (relative to the
 * largest value of its block). Also compared are the ONNX graphs exported from the
 * committed parameters (by SHA-256) and the recorded held-out scores. Writes nothing.
 */
export async function checkDigitsPrior(
  options: CheckDigitsPriorOptions,
): Promise<DigitsPriorCheck> {
  const modelDir = options.modelDir ?? embeddedModelDir("digits");
  const tolerance = options.tolerance ?? 1e-6;
  const problems: string[] = [];
  const committed = await loadDigitsPrior(modelDir);
  const { record } = committed;
  const refit = fitFromData(options.dataDir, DIGITS_FIT_SETTINGS);

  if (refit.file.sha256 !== record.data.sha256) {
    problems.push(
      `data ${refit.file.path} has SHA-256 ${refit.file.sha256}; the package was fitted on ${record.data.sha256}`,
    );
  }
  for (const [key, value] of Object.entries(DIGITS_FIT_SETTINGS)) {
    const recorded = (record.fit as unknown as Record<string, unknown>)[key];
    if (recorded !== value)
      problems.push(
        `fit setting ${key} is ${JSON.stringify(value)}; the package used ${JSON.stringify(recorded)}`,
      );
  }
  const parameters = compareDigitsPriors(refit.prior, committed.prior);
  if (!(parameters.maxRelativeDifference <= tolerance)) {
    problems.push(
      `refitted ${parameters.block} differ from the package by ${parameters.maxRelativeDifference} (relative), above ${tolerance}`,
    );
  }

  const manifest = parseManifest(
    JSON.parse(await readFile(join(modelDir, MANIFEST_FILE), "utf8")),
    join(modelDir, MANIFEST_FILE),
  );
  const graphs = digitsGraphs(committed.prior);
  const expectedManifest = digitsManifest({
    denoiser: sha256(graphs.denoiser),
    vjp: sha256(graphs.vjp),
  });
  if (JSON.stringify(manifest) !== JSON.stringify(expectedManifest)) {
    problems.push(
      "the manifest or the ONNX graphs differ from an export of the committed parameters",
    );
  }
  for (const role of ["denoiser", "vjp"] as const) {
    const entry = manifest.files[role];
    if (entry === undefined) continue;
    const bytes = new Uint8Array(await readFile(join(modelDir, entry.path)));
    if (sha256(bytes) !== entry.sha256)
      problems.push(`${entry.path} does not match its manifest SHA-256`);
  }

  const evaluation = evaluateDigitsPrior(
    committed.prior,
    refit.heldOut,
    record.evaluation.dequantizationDraws,
  );
  for (const key of [
    "accuracy",
    "classConditionalLogLikelihood",
    "unconditionalLogLikelihood",
  ] as const) {
    if (
      Math.abs(evaluation[key] - record.evaluation[key]) >
      1e-9 * Math.max(1, Math.abs(record.evaluation[key]))
    ) {
      problems.push(
        `held-out ${key} is ${evaluation[key]}; the package records ${record.evaluation[key]}`,
      );
    }
  }
  return { ok: problems.length === 0, problems, parameters, evaluation };
}
