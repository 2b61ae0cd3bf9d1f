import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { renderError } from "../errors.js";
import type { ModelManifest } from "./manifest.js";
import { readManifest } from "./manifest.js";
import { sha256File, spatialRuleText } from "./model.js";
import { decodeModel } from "./proto.js";
import type { GraphSignature } from "./signature.js";
import { checkCodecSignature, checkDenoiserSignature, signatureFromModel } from "./signature.js";

/** One file of a package as `inspectModelPackage` reports it. */
export interface PackageFileSummary {
  role: string;
  path: string;
  bytes: number | null;
  /** True when the SHA-256 matches the manifest; null when the file is missing or not checked. */
  sha256Matches: boolean | null;
  /** Graph facts for ONNX files; absent for the tokenizer and unreadable files. */
  graph?: {
    irVersion: number | null;
    opsets: string[];
    producer: string;
    inputs: string[];
    outputs: string[];
  };
}

/** A plain summary of a model package, for `tweedie models inspect`. */
export interface PackageSummary {
  dir: string;
  name: string;
  version: string;
  parameterisation: string;
  schedule: ModelManifest["schedule"];
  timestepInput: ModelManifest["timestepInput"];
  resolution: readonly [number, number] | null;
  channels: number;
  space: "pixel" | "latent";
  dtype: "float32" | "float16";
  conditioning: string;
  learnedVariance: boolean;
  spatialRule: string;
  files: PackageFileSummary[];
  /** Problems found without running a graph: missing files, hash and signature mismatches. */
  problems: string[];
}

const ONNX_ROLES = new Set([
  "denoiser",
  "vjp",
  "vaeEncoder",
  "vaeDecoder",
  "vaeEncoderVjp",
  "vaeDecoderVjp",
  "textEncoder",
]);

function describeValue(value: GraphSignature["inputs"][number]): string {
  return `${value.name}: ${value.dtype}[${value.dims.join(", ")}]`;
}

function conditioningText(manifest: ModelManifest): string {
  const spec = manifest.conditioning;
  if (spec.kind === "label")
    return `label (${Object.keys(spec.prompts).length} prompts, null label ${spec.nullLabel})`;
  if (spec.kind === "text") return `text (${spec.encoder})`;
  return "none";
}

/** Checks one decoded graph against the manifest, the same way loading does. */
function checkGraph(
  manifest: ModelManifest,
  role: string,
  file: string,
  signature: GraphSignature,
): void {
  if (role === "denoiser" || role === "vjp")
    checkDenoiserSignature(manifest, file, signature, role === "vjp");
  else if (role === "vaeEncoder" || role === "vaeEncoderVjp")
    checkCodecSignature(manifest, file, signature, "output", role === "vaeEncoderVjp");
  else if (role === "vaeDecoder" || role === "vaeDecoderVjp")
    checkCodecSignature(manifest, file, signature, "input", role === "vaeDecoderVjp");
}

async function summarizeFile(
  dir: string,
  manifest: ModelManifest,
  role: string,
  entry: { path: string; sha256: string },
  verifyHashes: boolean,
  problems: string[],
): Promise<PackageFileSummary> {
  const file = join(dir, entry.path);
  const summary: PackageFileSummary = { role, path: entry.path, bytes: null, sha256Matches: null };
  try {
    summary.bytes = (await stat(file)).size;
  } catch {
    problems.push(`files.${role}: file not found: ${file}`);
    return summary;
  }
  if (verifyHashes) {
    summary.sha256Matches = (await sha256File(file)) === entry.sha256;
    if (!summary.sha256Matches) problems.push(`files.${role}: SHA-256 differs from the manifest`);
  }
  if (!ONNX_ROLES.has(role)) return summary;
  let model: ReturnType<typeof decodeModel>;
  try {
    model = decodeModel(await readFile(file));
  } catch (error) {
    // The protobuf decoder's own message ("index out of range") names no file.
    problems.push(
      `files.${role}: ${entry.path} is not a valid ONNX model, perhaps truncated (decoder: ${(error as Error).message})`,
    );
    return summary;
  }
  try {
    const signature = signatureFromModel(model, file);
    summary.graph = {
      irVersion: model.irVersion ?? null,
      opsets: (model.opsetImport ?? []).map((o) => `${o.domain || "ai.onnx"} ${o.version}`),
      producer: [model.producerName, model.producerVersion].filter(Boolean).join(" "),
      inputs: signature.inputs.map(describeValue),
      outputs: signature.outputs.map(describeValue),
    };
    checkGraph(manifest, role, file, signature);
  } catch (error) {
    problems.push(renderError(error));
  }
  return summary;
}

/**
 * Summarises a model package without creating sessions: the manifest, each file's size
 * and hash status, and each graph's inputs and outputs decoded from the ONNX file.
 * Throws only for a missing or invalid manifest; other problems are listed in `problems`.
 */
export async function inspectModelPackage(
  dir: string,
  options: { verifyHashes?: boolean } = {},
): Promise<PackageSummary> {
  const manifest = await readManifest(dir);
  const problems: string[] = [];
  const files: PackageFileSummary[] = [];
  for (const [role, entry] of Object.entries(manifest.files)) {
    if (entry !== undefined)
      files.push(
        await summarizeFile(dir, manifest, role, entry, options.verifyHashes ?? true, problems),
      );
  }
  return {
    dir,
    name: manifest.name,
    version: manifest.version,
    parameterisation: manifest.parameterisation,
    schedule: manifest.schedule,
    timestepInput: manifest.timestepInput,
    resolution: manifest.resolution,
    channels: manifest.channels,
    space: manifest.space,
    dtype: manifest.dtype,
    conditioning: conditioningText(manifest),
    learnedVariance: manifest.learnedVariance,
    spatialRule: spatialRuleText(manifest.spatial),
    files,
    problems,
  };
}
