import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TweedieError } from "../errors.js";
import type { SessionOptions } from "../onnx/adapter.js";
import type { Logger } from "../onnx/logger.js";
import { silentLogger } from "../onnx/logger.js";
import type { ModelManifest } from "../onnx/manifest.js";
import { MANIFEST_FILE, parseManifest } from "../onnx/manifest.js";
import type { TensorProtoObject } from "../onnx/proto.js";
import { decodeModel } from "../onnx/proto.js";
import { createRng } from "../rng.js";
import { embeddedModelDir } from "./digits-package.js";
import type { GaussianMixture } from "./gmm.js";
import type { PlanarImage } from "./patches-data.js";
import { PATCH_DIM, readPlanarImage, readSampleSplit, samplePatches } from "./patches-data.js";
import type { DenoisingScore } from "./patches-evaluate.js";
import { evaluatePatchDenoising, gridPatches } from "./patches-evaluate.js";
import type { PatchFitProgress } from "./patches-fit.js";
import { fitPatchMixture, patchLogLikelihood } from "./patches-fit.js";
import type { PatchPriorParams } from "./patches-graph.js";
import { PATCH_GRAPH_IO, patchDenoiserGraph } from "./patches-graph.js";
import { encodePatchParams, PATCH_PARAMS_LAYOUT, patchPriorParams } from "./patches-params.js";
import { patchEigenMixture } from "./patches-reference.js";

/** File names inside the patches model package. */
export const PATCHES_PACKAGE_FILES = {
  denoiser: "denoiser.onnx",
  vjp: "denoiser-vjp.onnx",
  record: "prior.json",
} as const;

/** Version written into the manifest; bump it when the fit or the graphs change. */
export const PATCHES_PACKAGE_VERSION = "1.0.0";

/** Settings of the patches prior fit on the training photos. */
export interface PatchesFitSettings {
  /** Mixture components K. */
  components: number;
  /** Training patches drawn uniformly from the training photos. */
  patches: number;
  /** EM iterations. */
  iterations: number;
  /** Lloyd iterations after k-means++ seeding. */
  kmeansIterations: number;
  /** Added to every covariance diagonal (on [-1, 1] pixel values). */
  covarianceFloor: number;
  /** Root seed: patches come from stream "patches", k-means++ from stream "kmeans". */
  seed: string;
}

/**
 * The settings of the committed package. K = 16 was chosen with
 * `build-patches-prior.mjs --select` (held-out nats per patch, PSNR gain at sigma 25/255,
 * stride 4): K = 1 295.3, +8.08 dB; K = 8 411.1, +10.08 dB; K = 16 416.2, +10.21 dB;
 * K = 32 418.3, +10.27 dB, at twice the cost per call and twice the package size.
 */
export const PATCHES_FIT_SETTINGS: Readonly<PatchesFitSettings> = Object.freeze({
  components: 16,
  patches: 100_000,
  iterations: 25,
  kmeansIterations: 5,
  covarianceFloor: 1e-4,
  seed: "tweedie-patches-v1",
});

/** Settings of the held-out evaluation. */
export const PATCHES_EVALUATION_SETTINGS = Object.freeze({
  /** Noise level on [-1, 1]: 50 / 255 is 25 / 255 on [0, 1]. */
  sigma: 50 / 255,
  /** Held-out likelihood over every patch position on a grid with this step. */
  gridStep: 2,
  /** Noise of image `name` comes from stream `name` of this root seed. */
  noiseSeed: "tweedie-patches-evaluation-v1",
});

/** Held-out scores of a fitted patches prior. */
export interface PatchesEvaluation {
  /** Mean log-likelihood per patch (nats) on the held-out grid patches. */
  heldoutLogLikelihood: number;
  /** Mean log-likelihood per patch (nats) on the training sample. */
  trainLogLikelihood: number;
  sigma: number;
  /** Denoising with overlapping (stride 4) and non-overlapping (stride 8) tiles. */
  stride4: DenoisingScore[];
  stride8: DenoisingScore[];
  /** Mean PSNR gain of x0Hat (unclipped) over the noisy input, dB. */
  meanGainStride4: number;
  meanGainStride8: number;
}

/** `prior.json`: how the package was made, so that a rebuild can be checked against it. */
export interface PatchesPriorRecord {
  format: "tweedie-patches-prior";
  formatVersion: 1;
  data: {
    folder: string;
    pixelMap: string;
    train: { file: string; sha256: string }[];
    heldout: { file: string; sha256: string }[];
  };
  fit: PatchesFitSettings;
  /** Mean training log-likelihood per patch (nats) entering each EM iteration. */
  logLikelihoods: number[];
  /** The parameters live in the initializers of both graphs; this hashes their float32 encoding. */
  params: { source: string; sha256: string; layout: string };
  evaluation: PatchesEvaluation;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The training and held-out photos of a sample folder, with file hashes. */
export interface PatchesSamples {
  train: PlanarImage[];
  heldout: PlanarImage[];
  hashes: {
    train: { file: string; sha256: string }[];
    heldout: { file: string; sha256: string }[];
  };
}

/** Reads `split.json` and every photo it lists from `dataDir` (data/samples). */
export function readPatchesSamples(dataDir: string): PatchesSamples {
  const split = readSampleSplit(dataDir);
  const read = (files: readonly string[]) =>
    files.map((file) => readPlanarImage(join(dataDir, file), file));
  const hash = (files: readonly string[]) =>
    files.map((file) => ({ file, sha256: sha256(readFileSync(join(dataDir, file))) }));
  return {
    train: read(split.train),
    heldout: read(split.heldout),
    hashes: { train: hash(split.train), heldout: hash(split.heldout) },
  };
}

export interface PatchesRunOptions {
  session?: SessionOptions;
  onIteration?: (progress: PatchFitProgress) => void;
}

/** Draws the training patches and fits the mixture with `settings`. */
export async function fitPatchesPrior(
  samples: PatchesSamples,
  settings: Readonly<PatchesFitSettings>,
  options: PatchesRunOptions = {},
): Promise<{
  fit: GaussianMixture & { logLikelihoods: readonly number[] };
  patches: Float32Array;
}> {
  const root = createRng(settings.seed);
  const patches = samplePatches(samples.train, settings.patches, root.split("patches"));
  const fit = await fitPatchMixture(patches, PATCH_DIM, {
    components: settings.components,
    iterations: settings.iterations,
    kmeansIterations: settings.kmeansIterations,
    covarianceFloor: settings.covarianceFloor,
    rng: root.split("kmeans"),
    session: options.session,
    onIteration: options.onIteration,
  });
  return { fit, patches };
}

/** Scores `params` on the held-out photos: grid-patch likelihood and denoising PSNR. */
export async function evaluatePatchesPrior(
  params: PatchPriorParams,
  samples: PatchesSamples,
  trainPatches: Float32Array,
  session: SessionOptions = {},
): Promise<PatchesEvaluation> {
  const { sigma, gridStep, noiseSeed } = PATCHES_EVALUATION_SETTINGS;
  const mixture = patchEigenMixture(params).mixture;
  const heldoutLogLikelihood = await patchLogLikelihood(
    mixture,
    gridPatches(samples.heldout, gridStep),
    { session },
  );
  const trainLogLikelihood = await patchLogLikelihood(mixture, trainPatches, { session });
  const rng = createRng(noiseSeed);
  const stride4 = (
    await evaluatePatchDenoising(params, samples.heldout, { sigma, stride: 4, rng, session })
  ).scores;
  const stride8 = (
    await evaluatePatchDenoising(params, samples.heldout, { sigma, stride: 8, rng, session })
  ).scores;
  const meanGain = (scores: DenoisingScore[]) =>
    scores.reduce((sum, s) => sum + s.denoised - s.noisy, 0) / scores.length;
  return {
    heldoutLogLikelihood,
    trainLogLikelihood,
    sigma,
    stride4,
    stride8,
    meanGainStride4: meanGain(stride4),
    meanGainStride8: meanGain(stride8),
  };
}

/** Exports the package's denoiser and VJP graphs (stride 4). */
export function patchesGraphs(params: PatchPriorParams): { denoiser: Uint8Array; vjp: Uint8Array } {
  const docString =
    `Exact MMSE denoiser E[x0 | x_t] of a ${params.components}-component Gaussian mixture over 8x8 RGB ` +
    "patches of natural photos on [-1, 1], for x_t = alpha x0 + sigma eps, applied over the image " +
    "on a circular stride-4 tiling whose shift depends on sigma / (alpha + sigma).";
  return {
    denoiser: patchDenoiserGraph(params, {
      stride: 4,
      vjp: false,
      name: "patches_denoiser",
      docString,
    }),
    vjp: patchDenoiserGraph(params, {
      stride: 4,
      vjp: true,
      name: "patches_denoiser_vjp",
      docString,
    }),
  };
}

/**
 * Builds the manifest of the patches package. The prior is exact at every (alpha, sigma), so the
 * schedule only maps a caller's t to them: rectified flow with shift 1 (alpha = 1 - t,
 * sigma = t). Image sides must be multiples of 4 (the patch stride).
 */
export function patchesManifest(
  hashes: { denoiser: string; vjp: string },
  multiscaleLevels?: number,
): ModelManifest {
  return parseManifest({
    name: multiscaleLevels === undefined ? "patches" : PATCHES_MULTISCALE_NAME,
    version: PATCHES_PACKAGE_VERSION,
    files: {
      denoiser: { path: PATCHES_PACKAGE_FILES.denoiser, sha256: hashes.denoiser },
      vjp: { path: PATCHES_PACKAGE_FILES.vjp, sha256: hashes.vjp },
    },
    parameterisation: "x0",
    schedule: { kind: "rectified-flow", shift: 1 },
    timestepInput: { kind: "alpha-sigma" },
    resolution: null,
    channels: 3,
    space: "pixel",
    conditioning: { kind: "none" },
    learnedVariance: false,
    dtype: "float32",
    io: { ...PATCH_GRAPH_IO },
    spatial: { kind: "multiple", multiple: 4 },
    ...(multiscaleLevels === undefined ? {} : { multiscale: { levels: multiscaleLevels } }),
  });
}

/** Name of the package that runs the patches prior at three scales. */
export const PATCHES_MULTISCALE_NAME = "patches-multiscale";

/**
 * Levels of `patches-multiscale`: the denoiser also runs on 2x2 and 4x4 block means, so an
 * 8x8 patch spans 32 pixels at the coarsest level. Three levels scored no better on box
 * inpainting of the held-out photos.
 */
export const PATCHES_MULTISCALE_LEVELS = 2;

/**
 * Writes the `patches-multiscale` package: the graphs of the patches package, copied byte
 * for byte, under a manifest that adds `multiscale` (see multiscaleModel).
 */
export async function writePatchesMultiscalePackage(
  patchesDir: string,
  outDir: string,
): Promise<ModelManifest> {
  const hashes = { denoiser: "", vjp: "" };
  await mkdir(outDir, { recursive: true });
  for (const role of ["denoiser", "vjp"] as const) {
    const bytes = await readFile(join(patchesDir, PATCHES_PACKAGE_FILES[role]));
    hashes[role] = sha256(bytes);
    await writeFile(join(outDir, PATCHES_PACKAGE_FILES[role]), bytes);
  }
  const manifest = patchesManifest(hashes, PATCHES_MULTISCALE_LEVELS);
  await writeFile(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Lists how the `patches-multiscale` package differs from what its writer would produce. */
export async function checkPatchesMultiscalePackage(
  patchesDir: string,
  multiscaleDir: string,
): Promise<string[]> {
  const problems: string[] = [];
  const hashes = { denoiser: "", vjp: "" };
  for (const role of ["denoiser", "vjp"] as const) {
    const file = PATCHES_PACKAGE_FILES[role];
    hashes[role] = sha256(await readFile(join(patchesDir, file)));
    const copy = await readFile(join(multiscaleDir, file)).catch(() => undefined);
    if (copy === undefined || sha256(copy) !== hashes[role]) {
      problems.push(`${PATCHES_MULTISCALE_NAME}/${file} is not a copy of patches/${file}`);
    }
  }
  const manifest = await readFile(join(multiscaleDir, MANIFEST_FILE), "utf8").catch(() => "");
  const expected = `${JSON.stringify(patchesManifest(hashes, PATCHES_MULTISCALE_LEVELS), null, 2)}\n`;
  if (manifest !== expected) {
    problems.push(
      `${PATCHES_MULTISCALE_NAME}/${MANIFEST_FILE} differs from the one its writer produces`,
    );
  }
  return problems;
}

export interface BuildPatchesPriorOptions extends PatchesRunOptions {
  /** Folder with split.json and the photos (data/samples in the repository). */
  dataDir: string;
  /** Package folder to write; created when missing, files in it are replaced. */
  outDir: string;
  settings?: Readonly<PatchesFitSettings>;
  logger?: Logger;
}

/**
 * Fits the patches prior on the training photos, scores it on the held-out photos and
 * writes the model package: the manifest, both ONNX graphs and `prior.json`.
 */
export async function buildPatchesPrior(
  options: BuildPatchesPriorOptions,
): Promise<{ params: PatchPriorParams; record: PatchesPriorRecord; manifest: ModelManifest }> {
  const logger = options.logger ?? silentLogger;
  const settings = options.settings ?? PATCHES_FIT_SETTINGS;
  const samples = readPatchesSamples(options.dataDir);
  const { fit, patches } = await fitPatchesPrior(samples, settings, options);
  const params = patchPriorParams(fit);
  const evaluation = await evaluatePatchesPrior(params, samples, patches, options.session);
  logger.info("patches prior fitted", { ...settings, meanGainStride4: evaluation.meanGainStride4 });

  const graphs = patchesGraphs(params);
  const manifest = patchesManifest({ denoiser: sha256(graphs.denoiser), vjp: sha256(graphs.vjp) });
  const record: PatchesPriorRecord = {
    format: "tweedie-patches-prior",
    formatVersion: 1,
    data: { folder: "data/samples", pixelMap: "x = 2 u8 / 255 - 1", ...samples.hashes },
    fit: { ...settings },
    logLikelihoods: [...fit.logLikelihoods],
    params: {
      source: "initializers log_weights, means, eigenvalues and eigenvectors of both graphs",
      sha256: sha256(encodePatchParams(params)),
      layout: PATCH_PARAMS_LAYOUT,
    },
    evaluation,
  };
  await mkdir(options.outDir, { recursive: true });
  await writeFile(join(options.outDir, PATCHES_PACKAGE_FILES.denoiser), graphs.denoiser);
  await writeFile(join(options.outDir, PATCHES_PACKAGE_FILES.vjp), graphs.vjp);
  await writeFile(
    join(options.outDir, PATCHES_PACKAGE_FILES.record),
    `${JSON.stringify(record, null, 2)}\n`,
  );
  await writeFile(join(options.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  logger.info("patches model package written", { dir: options.outDir });
  return { params, record, manifest };
}

function initializerValues(
  tensor: TensorProtoObject | undefined,
  name: string,
  label: string,
): Float32Array {
  const raw = tensor?.rawData;
  if (raw === undefined || tensor?.dataType !== 1) {
    throw new TweedieError(`patch denoiser graph has no float32 initializer ${name}`, {
      code: "model_mismatch",
      path: [label, name],
      expected: "a float32 initializer with raw data",
      received: tensor === undefined ? "no such initializer" : `data type ${tensor.dataType}`,
    });
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Float32Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true));
}

/** Reads the prior's parameters back from the initializers of a patch denoiser graph. */
export function readPatchParamsFromGraph(
  bytes: Uint8Array,
  label = "denoiser.onnx",
): PatchPriorParams {
  const initializers = new Map(
    (decodeModel(bytes).graph?.initializer ?? []).map((t) => [t.name ?? "", t]),
  );
  const values = (name: string) => initializerValues(initializers.get(name), name, label);
  const logWeights = values("log_weights");
  const k = logWeights.length;
  const d = PATCH_DIM;
  const vcat = values("eigenvectors");
  if (vcat.length !== k * d * d) {
    throw new TweedieError("patch denoiser eigenvectors have the wrong size", {
      code: "model_mismatch",
      path: [label, "eigenvectors"],
      expected: `${k * d * d} values for K = ${k}`,
      received: vcat.length,
    });
  }
  const eigenvectors = new Float32Array(k * d * d);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) eigenvectors[c * d * d + i * d + j] = vcat[i * k * d + c * d + j];
    }
  }
  return {
    components: k,
    logWeights,
    means: values("means"),
    eigenvalues: values("eigenvalues"),
    eigenvectors,
  };
}

/** Reads `prior.json` and the parameters of a patches package. */
export async function loadPatchesPrior(
  modelDir: string = embeddedModelDir("patches"),
): Promise<{ params: PatchPriorParams; record: PatchesPriorRecord }> {
  const recordPath = join(modelDir, PATCHES_PACKAGE_FILES.record);
  let record: PatchesPriorRecord;
  try {
    record = JSON.parse(await readFile(recordPath, "utf8")) as PatchesPriorRecord;
  } catch (cause) {
    throw new TweedieError(`failed to read the patches prior record ${recordPath}`, {
      code: "io_failed",
      path: [recordPath],
      expected: "a JSON file written by buildPatchesPrior",
      cause,
    });
  }
  if (record.format !== "tweedie-patches-prior" || record.formatVersion !== 1) {
    throw new TweedieError(`unsupported patches prior record ${recordPath}`, {
      code: "unsupported",
      path: [recordPath, "format"],
      expected: "tweedie-patches-prior, format version 1",
      received: `${String(record.format)}, format version ${String(record.formatVersion)}`,
    });
  }
  const graphPath = join(modelDir, PATCHES_PACKAGE_FILES.denoiser);
  const params = readPatchParamsFromGraph(new Uint8Array(await readFile(graphPath)), graphPath);
  const hash = sha256(encodePatchParams(params));
  if (hash !== record.params.sha256) {
    throw new TweedieError(`parameters in ${graphPath} do not match the recorded SHA-256`, {
      code: "model_mismatch",
      path: [recordPath, "params", "sha256"],
      expected: record.params.sha256,
      received: hash,
      hint: "rebuild the package with buildPatchesPrior",
    });
  }
  return { params, record };
}

/**
 * Largest differences between two priors, each relative to the largest magnitude of its
 * block: weights pi_k, means, and covariances rebuilt as V diag(l) V^T (eigenvectors are
 * compared through the covariances because their signs and order within repeated
 * eigenvalues are arbitrary).
 */
export function comparePatchPriors(
  a: PatchPriorParams,
  b: PatchPriorParams,
): { maxRelativeDifference: number; block: string } {
  if (a.components !== b.components)
    return { maxRelativeDifference: Number.POSITIVE_INFINITY, block: "components" };
  const blocks: [string, ArrayLike<number>, ArrayLike<number>][] = [
    ["weights", a.logWeights.map(Math.exp), b.logWeights.map(Math.exp)],
    ["means", a.means, b.means],
    [
      "covariances",
      patchEigenMixture(a).mixture.covariances,
      patchEigenMixture(b).mixture.covariances,
    ],
  ];
  let worst = { maxRelativeDifference: 0, block: "weights" };
  for (const [block, x, y] of blocks) {
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(y[i]));
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    const relative = diff / scale;
    if (!(relative <= worst.maxRelativeDifference))
      worst = { maxRelativeDifference: relative, block };
  }
  return worst;
}

export interface CheckPatchesPriorOptions extends PatchesRunOptions {
  dataDir: string;
  /** The committed package; the embedded patches package unless given. */
  modelDir?: string;
  /** Largest accepted relative parameter difference; 1e-6 unless given. */
  tolerance?: number;
  /** The committed patches-multiscale package to check too; the embedded one unless given, none when null. */
  multiscaleDir?: string | null;
}

/** Result of `checkPatchesPrior`; `problems` is empty when the package is current. */
export interface PatchesPriorCheck {
  ok: boolean;
  problems: string[];
  parameters: { maxRelativeDifference: number; block: string };
}

/**
 * Refits the patches prior from the photos and compares it with a committed package: the
 * photo hashes, the fit settings, every parameter (relative to the largest value of its
 * block, within `tolerance`) and the graphs exported from the committed parameters (by
 * SHA-256). Writes nothing.
 */
export async function checkPatchesPrior(
  options: CheckPatchesPriorOptions,
): Promise<PatchesPriorCheck> {
  const modelDir = options.modelDir ?? embeddedModelDir("patches");
  const tolerance = options.tolerance ?? 1e-6;
  const problems: string[] = [];
  const committed = await loadPatchesPrior(modelDir);
  const { record } = committed;
  const samples = readPatchesSamples(options.dataDir);
  const recordedFiles = JSON.stringify({ train: record.data.train, heldout: record.data.heldout });
  if (JSON.stringify(samples.hashes) !== recordedFiles) {
    problems.push(
      "the sample photos or their split differ from the ones the package was fitted on",
    );
  }
  for (const [key, value] of Object.entries(PATCHES_FIT_SETTINGS)) {
    const recorded = (record.fit as unknown as Record<string, unknown>)[key];
    if (recorded !== value) {
      problems.push(
        `fit setting ${key} is ${JSON.stringify(value)}; the package used ${JSON.stringify(recorded)}`,
      );
    }
  }
  const { fit } = await fitPatchesPrior(samples, record.fit, options);
  const parameters = comparePatchPriors(patchPriorParams(fit), committed.params);
  if (!(parameters.maxRelativeDifference <= tolerance)) {
    problems.push(
      `refitted ${parameters.block} differ from the package by ${parameters.maxRelativeDifference} (relative), above ${tolerance}`,
    );
  }
  const manifest = parseManifest(
    JSON.parse(await readFile(join(modelDir, MANIFEST_FILE), "utf8")),
    join(modelDir, MANIFEST_FILE),
  );
  const graphs = patchesGraphs(committed.params);
  const expected = patchesManifest({ denoiser: sha256(graphs.denoiser), vjp: sha256(graphs.vjp) });
  if (JSON.stringify(manifest) !== JSON.stringify(expected)) {
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
  if (options.multiscaleDir !== null) {
    problems.push(
      ...(await checkPatchesMultiscalePackage(
        modelDir,
        options.multiscaleDir ?? embeddedModelDir(PATCHES_MULTISCALE_NAME),
      )),
    );
  }
  return { ok: problems.length === 0, problems, parameters };
}
