import { access } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  createSession,
  type Logger,
  type OnnxSession,
  type OnnxValueInfo,
  releaseSession,
  sha256File,
  silentLogger,
  TweedieError,
} from "@tweedie/core";
import {
  type FeatureManifest,
  type FeatureModelKind,
  manifestPath,
  readFeatureManifest,
} from "./manifest.js";

/** Environment variable naming the feature model folder when no option is given. */
export const FEATURE_MODELS_ENV = "TWEEDIE_FEATURE_MODELS";

export interface FeatureModelsOptions {
  /** Folder holding `<name>.feature.json` manifests and their ONNX files. */
  readonly featureModelsDir?: string;
  /** Environment read for `TWEEDIE_FEATURE_MODELS`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Receives session creation messages and input-range warnings; default silent. */
  readonly logger?: Logger;
  /** onnxruntime execution provider (`cpu`, `cuda:0`, ...); default `cpu`. */
  readonly provider?: string;
  readonly intraOpThreads?: number;
}

/** A feature model whose file matched its SHA-256 and whose graph matched its manifest. */
export interface FeatureModel<M extends FeatureManifest = FeatureManifest> {
  readonly manifest: M;
  readonly session: OnnxSession;
  /** Absolute path of the ONNX file. */
  readonly file: string;
  /** Batch size the graph's input takes: a fixed number, or null when the dim is symbolic. */
  readonly batch: number | null;
}

/** Either a loaded model or the reason it cannot be used (no folder, no manifest, no weights). */
export type FeatureModelLookup<M extends FeatureManifest = FeatureManifest> =
  | { readonly available: true; readonly model: FeatureModel<M> }
  | { readonly available: false; readonly reason: string };

type ManifestOfKind<K extends FeatureModelKind> = Extract<FeatureManifest, { kind: K }>;

/**
 * The feature models of one folder, opened lazily. A missing folder, manifest or ONNX file
 * makes a model unavailable (metrics then report `unavailable` with the reason); a file
 * whose SHA-256 differs from its manifest, or a graph whose input or outputs differ from
 * it, throws, because the folder then contains something other than what it declares.
 * Sessions are created once per model and reused; `close()` releases them.
 */
export class FeatureModels {
  readonly dir: string | null;
  readonly logger: Logger;
  private readonly provider: string;
  private readonly intraOpThreads: number | undefined;
  private readonly cache = new Map<string, Promise<FeatureModelLookup>>();

  constructor(options: FeatureModelsOptions = {}) {
    const env = options.env ?? process.env;
    const dir = options.featureModelsDir ?? env[FEATURE_MODELS_ENV];
    this.dir = dir === undefined || dir === "" ? null : resolve(dir);
    this.logger = options.logger ?? silentLogger;
    this.provider = options.provider ?? "cpu";
    this.intraOpThreads = options.intraOpThreads;
  }

  /**
   * Loads a model of the given kind, verifying its SHA-256 and graph signature on first
   * use. Resolves to `available: false` with a reason when the folder, manifest or ONNX
   * file is absent.
   */
  lookup<K extends FeatureModelKind>(
    name: string,
    kind: K,
  ): Promise<FeatureModelLookup<ManifestOfKind<K>>> {
    let entry = this.cache.get(name);
    if (entry === undefined) {
      entry = this.open(name);
      this.cache.set(name, entry);
    }
    return entry.then((lookup) => {
      if (lookup.available && lookup.model.manifest.kind !== kind) {
        throw new TweedieError(`feature model ${name} is of kind ${lookup.model.manifest.kind}`, {
          code: "model_mismatch",
          path: [manifestPath(this.dir ?? ".", name), "kind"],
          expected: kind,
          received: lookup.model.manifest.kind,
        });
      }
      return lookup as FeatureModelLookup<ManifestOfKind<K>>;
    });
  }

  /** Releases every session opened so far. */
  async close(): Promise<void> {
    const entries = [...this.cache.values()];
    this.cache.clear();
    for (const entry of entries) {
      const lookup = await entry.catch(() => null);
      if (lookup?.available) await releaseSession(lookup.model.session);
    }
  }

  private async open(name: string): Promise<FeatureModelLookup> {
    if (this.dir === null) {
      return {
        available: false,
        reason: `no feature model folder: set featureModelsDir or ${FEATURE_MODELS_ENV} to load ${name}`,
      };
    }
    const manifest = await readFeatureManifest(this.dir, name);
    if (manifest === null) {
      return {
        available: false,
        reason: `feature model ${name} not found: ${manifestPath(this.dir, name)} does not exist`,
      };
    }
    const file = join(dirname(manifestPath(this.dir, name)), manifest.file);
    try {
      await access(file);
    } catch {
      return {
        available: false,
        reason: `weights of feature model ${name} not found: ${file} does not exist`,
      };
    }
    const actual = await sha256File(file);
    if (actual !== manifest.sha256) {
      throw new TweedieError(`${file}: SHA-256 does not match the manifest of ${name}`, {
        code: "model_mismatch",
        path: [manifestPath(this.dir, name), "sha256"],
        expected: manifest.sha256,
        received: actual,
        hint: "the file changed after the manifest was written; re-export it or update the hash",
      });
    }
    const session = await createSession(file, {
      provider: this.provider,
      intraOpThreads: this.intraOpThreads,
      fileLabel: file,
      logger: this.logger,
    });
    try {
      const batch = checkSignature(session, manifest);
      this.logger.debug("feature model loaded", {
        name,
        file,
        sha256: actual,
        kind: manifest.kind,
      });
      return { available: true, model: { manifest, session, file, batch } };
    } catch (error) {
      await releaseSession(session);
      throw error;
    }
  }
}

/**
 * Checks the graph against the manifest: exactly one input with the declared name and
 * element type, rank and static dims consistent with the size rule, and every declared
 * output present. Returns the graph's fixed batch size, or null when it is symbolic.
 */
export function checkSignature(session: OnnxSession, manifest: FeatureManifest): number | null {
  const where = (field: string) => [session.label, field];
  const input = manifest.input;
  if (session.inputs.length !== 1 || session.inputs[0].name !== input.name) {
    throw new TweedieError(`${session.label}: graph inputs differ from the manifest`, {
      code: "model_mismatch",
      path: where("input.name"),
      expected: [input.name],
      received: session.inputs.map((v) => v.name),
    });
  }
  const graphInput = session.inputs[0];
  if (graphInput.dtype !== input.dtype) {
    throw new TweedieError(`${session.label}: input ${input.name} has another element type`, {
      code: "dtype_mismatch",
      path: where("input.dtype"),
      expected: input.dtype,
      received: graphInput.dtype,
    });
  }
  const expectedDims = manifestDims(manifest);
  const dims = graphInput.dims;
  const consistent =
    dims.length === expectedDims.length &&
    dims.every((dim, i) => {
      const wanted = expectedDims[i];
      if (i === 0) return true;
      if (typeof wanted === "number") return dim === wanted || typeof dim === "string";
      return typeof dim === "string";
    });
  if (!consistent) {
    throw new TweedieError(
      `${session.label}: input ${input.name} has a shape the manifest does not allow`,
      {
        code: "shape_mismatch",
        path: where("input.size"),
        expected: `[${expectedDims.join(", ")}] (strings are any size)`,
        received: `[${dims.join(", ")}]`,
      },
    );
  }
  const outputs = new Set(session.outputs.map((v: OnnxValueInfo) => v.name));
  for (const output of manifest.outputs) {
    if (!outputs.has(output)) {
      throw new TweedieError(`${session.label}: graph has no output ${output}`, {
        code: "model_mismatch",
        path: where("outputs"),
        expected: manifest.outputs,
        received: [...outputs],
      });
    }
  }
  const batch = dims[0];
  return typeof batch === "number" ? batch : null;
}

/** Returns the input dims a manifest allows, with strings for "any size". */
function manifestDims(manifest: FeatureManifest): (number | string)[] {
  if (manifest.kind === "clip-text") return ["N", manifest.input.contextLength];
  const size = manifest.input.size;
  if (size.kind === "static") return ["N", manifest.input.channels, size.height, size.width];
  return ["N", manifest.input.channels, "H", "W"];
}
