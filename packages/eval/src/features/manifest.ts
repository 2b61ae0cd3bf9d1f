import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { TweedieError } from "@tweedie/core";
import { z } from "zod";

/**
 * The manifest of one feature model, `<dir>/<name>.feature.json`. It names the ONNX file
 * and its SHA-256, the input (name, element type, layout, size rule), the value range and
 * normalisation the network expects, the resize that brings an image to that size, and
 * the outputs the metric reads. The metric code never guesses any of these.
 */
export const FEATURE_MANIFEST_SCHEMA = "tweedie.feature-model";
export const FEATURE_MANIFEST_VERSION = 1;
export const FEATURE_MANIFEST_SUFFIX = ".feature.json";

const positiveInt = z.number().int().positive();
const name = z.string().min(1);

/** Sizes the graph accepts: one static size, any size, or sides that are a multiple of N. */
const sizeRule = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("static"), height: positiveInt, width: positiveInt }),
  z.strictObject({ kind: z.literal("any") }),
  z.strictObject({ kind: z.literal("multiple"), multiple: positiveInt }),
]);

const imageInput = z.strictObject({
  name,
  dtype: z.literal("float32"),
  layout: z.literal("NCHW"),
  channels: positiveInt,
  size: sizeRule,
});

const tokenInput = z.strictObject({
  name,
  dtype: z.enum(["int32", "int64"]),
  layout: z.literal("tokens"),
  /** Token ids per prompt (CLIP: 77), padded by the tokenizer. */
  contextLength: positiveInt,
});

/**
 * Resampling settings of a resize rule. `filter` and `antialias` select one of the three
 * resamplers in resize.ts. Bicubic with antialias is PIL's BICUBIC, which clean-fid's
 * "clean" mode and transformers' CLIPImageProcessor use. Bilinear with antialias is PIL's
 * BILINEAR. Bilinear without antialias is torch `interpolate(mode="bilinear",
 * align_corners=False)`, which clean-fid's "legacy_pytorch" mode uses.
 */
const resampling = {
  filter: z.enum(["bilinear", "bicubic"]),
  antialias: z.boolean(),
  /** Clamp resampled values to `valueRange`, as clean-fid's "legacy_pytorch" mode clips to [0, 255]. */
  clamp: z.boolean().default(false),
};

export const resizeRuleSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("none") }),
  z.strictObject({
    kind: z.literal("exact"),
    height: positiveInt,
    width: positiveInt,
    ...resampling,
  }),
  z.strictObject({
    kind: z.literal("shorter-side"),
    /** The shorter side becomes `size`; the longer one int(size * long / short). */
    size: positiveInt,
    /** torchvision `max_size`: a longer side above it scales both sides down. */
    maxSize: positiveInt.optional(),
    /** A centre crop to [height, width] after the resize (CLIP: 224 x 224). */
    centerCrop: z.tuple([positiveInt, positiveInt]).optional(),
    ...resampling,
  }),
]);

const normalization = z.strictObject({
  /** Per-channel values subtracted after the range mapping and resize. */
  mean: z.array(z.number()).min(1),
  /** Per-channel divisors; positive. */
  std: z.array(z.number().positive()).min(1),
});

const common = {
  schema: z.literal(FEATURE_MANIFEST_SCHEMA),
  version: z.literal(FEATURE_MANIFEST_VERSION),
  name,
  /** ONNX file, relative to the manifest's folder. */
  file: z
    .string()
    .min(1)
    .refine((path) => !path.startsWith("/") && !path.split(/[\\/]/).includes(".."), {
      message: "a relative path inside the feature model folder",
    }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hexadecimal digits"),
  /** Description of the network and the origin of its weights, stored with every result. */
  description: z.string().min(1),
  outputs: z.array(name).min(1),
};

const imageModel = {
  ...common,
  input: imageInput,
  /** Range the graph expects pixel values on, before `normalization`. */
  valueRange: z.tuple([z.number(), z.number()]).refine(([lo, hi]) => hi > lo, {
    message: "[low, high] with low < high",
  }),
  resize: resizeRuleSchema,
  normalization: normalization.nullable().default(null),
};

export const featureManifestSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    ...imageModel,
    kind: z.literal("lpips"),
    /**
     * The learned 1x1 linear head of each output layer (non-negative channel weights), in
     * the order of `outputs`.
     */
    lpipsWeights: z.array(z.array(z.number().nonnegative()).min(1)).min(1),
  }),
  /** Image features for FID and KID: `outputs[0]` is [N, D] or [N, D, 1, 1]. */
  z.strictObject({ ...imageModel, kind: z.literal("inception") }),
  /** CLIP image embedding: `outputs[0]` is [N, D]. */
  z.strictObject({ ...imageModel, kind: z.literal("clip-image") }),
  /** CLIP text embedding from token ids: `outputs[0]` is [N, D]. */
  z.strictObject({ ...common, kind: z.literal("clip-text"), input: tokenInput }),
  /**
   * A ViT block's fused query-key-value projection: `outputs[0]` is [1, T, 3 D] with the
   * keys in columns D..2D (the timm/DINO `qkv` layout), T tokens including CLS.
   */
  z.strictObject({ ...imageModel, kind: z.literal("vit-qkv"), heads: positiveInt }),
]);

export type FeatureManifest = z.infer<typeof featureManifestSchema>;
export type ImageFeatureManifest = Exclude<FeatureManifest, { kind: "clip-text" }>;
export type ResizeRule = z.infer<typeof resizeRuleSchema>;
export type FeatureModelKind = FeatureManifest["kind"];

/** Path of a feature model's manifest inside a folder. */
export function manifestPath(dir: string, modelName: string): string {
  return join(dir, `${modelName}${FEATURE_MANIFEST_SUFFIX}`);
}

/**
 * Parses a manifest; the error names the file, the field path, the rule and the value.
 * `expectedName` must equal the manifest's `name`, so a renamed copy cannot stand in.
 */
export function parseFeatureManifest(
  json: unknown,
  source: string,
  expectedName?: string,
): FeatureManifest {
  const parsed = featureManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    throw new TweedieError(`${source}: ${path.join(".") || "(root)"}: ${issue.message}`, {
      code: "invalid_value",
      path: [source, ...path],
      expected: `a ${FEATURE_MANIFEST_SCHEMA} manifest, version ${FEATURE_MANIFEST_VERSION}`,
      cause: parsed.error,
    });
  }
  const manifest = parsed.data;
  if (expectedName !== undefined && manifest.name !== expectedName) {
    throw new TweedieError(`${source}: name does not match the file name`, {
      code: "invalid_value",
      path: [source, "name"],
      expected: expectedName,
      received: manifest.name,
    });
  }
  if (manifest.kind !== "clip-text") checkImageManifest(manifest, source);
  return manifest;
}

function checkImageManifest(manifest: ImageFeatureManifest, source: string): void {
  const channels = manifest.input.channels;
  if (manifest.normalization !== null) {
    for (const field of ["mean", "std"] as const) {
      const values = manifest.normalization[field];
      if (values.length !== channels) {
        throw new TweedieError(`${source}: normalization.${field} needs one value per channel`, {
          code: "shape_mismatch",
          path: [source, "normalization", field],
          expected: channels,
          received: values.length,
        });
      }
    }
  }
  if (manifest.kind === "lpips" && manifest.lpipsWeights.length !== manifest.outputs.length) {
    throw new TweedieError(`${source}: lpipsWeights needs one head per output`, {
      code: "shape_mismatch",
      path: [source, "lpipsWeights"],
      expected: manifest.outputs.length,
      received: manifest.lpipsWeights.length,
    });
  }
  const size = manifest.input.size;
  const resize = manifest.resize;
  if (size.kind === "static" && resize.kind !== "none") {
    const out = resize.kind === "exact" ? [resize.height, resize.width] : resize.centerCrop;
    if (out === undefined || out[0] !== size.height || out[1] !== size.width) {
      throw new TweedieError(`${source}: resize does not produce the static input size`, {
        code: "invalid_value",
        path: [source, "resize"],
        expected: `an exact resize or centre crop to ${size.height}x${size.width}`,
        received: resize,
      });
    }
  }
}

/**
 * Reads and parses `<dir>/<name>.feature.json`. Returns null when the file does not exist;
 * other read failures and invalid manifests throw.
 */
export async function readFeatureManifest(
  dir: string,
  modelName: string,
): Promise<FeatureManifest | null> {
  const path = manifestPath(dir, modelName);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new TweedieError(`cannot read feature model manifest ${path}`, {
      code: "io_failed",
      path: [path],
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TweedieError(`${path} is not valid JSON`, {
      code: "invalid_value",
      path: [path],
      cause,
    });
  }
  return parseFeatureManifest(json, path, modelName);
}
