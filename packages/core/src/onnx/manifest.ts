/**
 * The model package manifest, `tweedie-model.json`: which graphs a package ships, how the
 * network is parameterised and scheduled, and how the denoiser graph's inputs and outputs
 * are named. `parseManifest` validates one with zod and reports the first problem as a
 * TweedieError whose message names the file, the field path, the expected and the received
 * value, for example `tweedie-model.json: parameterisation: expected one of epsilon, x0,
 * v, velocity; received "eps"`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { TweedieError } from "../errors.js";

export const MANIFEST_FILE = "tweedie-model.json";

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const name = z.string().min(1);

/** A file of the package: a relative path inside the package folder and its SHA-256. */
const fileEntry = z.strictObject({
  path: z
    .string()
    .min(1)
    .refine((p) => !p.startsWith("/") && !p.split(/[\\/]/).includes(".."), {
      message: "a relative path inside the package folder",
    }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hexadecimal digits"),
});

const files = z.strictObject({
  denoiser: fileEntry,
  /** VJP graph of the denoiser output with respect to x_t. */
  vjp: fileEntry.optional(),
  vaeEncoder: fileEntry.optional(),
  vaeDecoder: fileEntry.optional(),
  vaeEncoderVjp: fileEntry.optional(),
  vaeDecoderVjp: fileEntry.optional(),
  textEncoder: fileEntry.optional(),
  tokenizer: fileEntry.optional(),
});

const betas = {
  betaStart: z.number().positive(),
  betaEnd: z.number().positive(),
  steps: positiveInt,
};
const schedule = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("vp-linear"), ...betas }),
  z.strictObject({ kind: z.literal("scaled-linear"), ...betas }),
  z.strictObject({
    kind: z.literal("cosine"),
    steps: positiveInt,
    offset: z.number().nonnegative().optional(),
  }),
  z.strictObject({ kind: z.literal("rectified-flow"), shift: z.number().positive() }),
]);

const timestepInput = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("index") }),
  z.strictObject({ kind: z.literal("scaled"), scale: z.number().positive() }),
  z.strictObject({ kind: z.literal("sigma") }),
  z.strictObject({ kind: z.literal("alpha-sigma") }),
]);

const conditioning = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("none") }),
  z.strictObject({
    kind: z.literal("label"),
    /** Prompt text to class label; the empty prompt maps to nullLabel and needs no entry. */
    prompts: z.record(z.string(), nonNegativeInt),
    nullLabel: nonNegativeInt,
  }),
  z.strictObject({ kind: z.literal("text"), encoder: name }),
]);

const vae = z.strictObject({
  scale: z.number().positive(),
  shift: z.number(),
  downsample: positiveInt,
  latentChannels: positiveInt,
});

/** Sizes the denoiser accepts: any, one static size, or sides that are a multiple of N. */
const spatial = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("any") }),
  z.strictObject({ kind: z.literal("static"), size: z.tuple([positiveInt, positiveInt]) }),
  z.strictObject({ kind: z.literal("multiple"), multiple: positiveInt }),
]);

/** Names of the denoiser graph's inputs and outputs (and of the VJP graphs' extra ones). */
const io = z.strictObject({
  x: name,
  /** Timestep input for the index, scaled and sigma timestep kinds. */
  t: name.optional(),
  /** Inputs for the alpha-sigma timestep kind. */
  alpha: name.optional(),
  sigma: name.optional(),
  label: name.optional(),
  textEmbeddings: name.optional(),
  pooledEmbeddings: name.optional(),
  output: name,
  /** Cotangent input of every VJP graph; "g" unless given. */
  g: name.default("g"),
  /** VJP output of every VJP graph; "vjp" unless given. */
  vjp: name.default("vjp"),
});

const manifestShape = z.strictObject({
  name,
  version: name,
  files,
  parameterisation: z.enum(["epsilon", "x0", "v", "velocity"]),
  schedule,
  timestepInput,
  resolution: z.tuple([positiveInt, positiveInt]).nullable(),
  channels: positiveInt,
  space: z.enum(["pixel", "latent"]),
  vae: vae.optional(),
  conditioning,
  learnedVariance: z.boolean(),
  dtype: z.enum(["float32", "float16"]),
  io,
  spatial,
  /**
   * Runs the denoiser on 2x2-block means of x_t, `levels` times halved, and combines the
   * estimates (see multiscaleModel). Absent for a single-scale package.
   */
  multiscale: z.strictObject({ levels: z.number().int().min(1).max(6) }).optional(),
});

export type ModelManifest = z.output<typeof manifestShape>;
export type ManifestFileRole = keyof ModelManifest["files"];
export type SpatialRule = ModelManifest["spatial"];

interface Issue {
  path: (string | number)[];
  expected: string;
  received?: unknown;
  hint?: string;
  unknownKey?: boolean;
}

/** Rules that tie fields together; each issue names the field a user would edit. */
function crossFieldIssues(m: ModelManifest): Issue[] {
  const issues: Issue[] = [];
  const need = (ok: boolean, path: (string | number)[], expected: string, received?: unknown) => {
    if (!ok) issues.push({ path, expected, received });
  };

  if (m.timestepInput.kind === "alpha-sigma") {
    need(m.io.alpha !== undefined, ["io", "alpha"], "an input name (timestepInput is alpha-sigma)");
    need(m.io.sigma !== undefined, ["io", "sigma"], "an input name (timestepInput is alpha-sigma)");
    need(m.io.t === undefined, ["io", "t"], "no t input (timestepInput is alpha-sigma)", m.io.t);
  } else {
    need(
      m.io.t !== undefined,
      ["io", "t"],
      `an input name (timestepInput is ${m.timestepInput.kind})`,
    );
  }
  if (m.timestepInput.kind === "index") {
    need(
      "steps" in m.schedule,
      ["timestepInput", "kind"],
      "a discrete schedule for index timesteps",
      m.schedule.kind,
    );
  }

  need(
    (m.conditioning.kind === "label") === (m.io.label !== undefined),
    ["io", "label"],
    m.conditioning.kind === "label"
      ? "an input name (conditioning is label)"
      : "no label input (conditioning is not label)",
    m.io.label,
  );
  need(
    (m.conditioning.kind === "text") === (m.io.textEmbeddings !== undefined),
    ["io", "textEmbeddings"],
    m.conditioning.kind === "text"
      ? "an input name (conditioning is text)"
      : "no textEmbeddings input (conditioning is not text)",
    m.io.textEmbeddings,
  );
  if (m.conditioning.kind === "text") {
    need(
      m.files.textEncoder !== undefined,
      ["files", "textEncoder"],
      "a file entry (conditioning is text)",
    );
    need(
      m.files.tokenizer !== undefined,
      ["files", "tokenizer"],
      "a file entry (conditioning is text)",
    );
  }

  if (m.space === "latent") {
    need(
      m.vae !== undefined,
      ["vae"],
      "scale, shift, downsample and latentChannels (space is latent)",
    );
    need(
      m.files.vaeEncoder !== undefined,
      ["files", "vaeEncoder"],
      "a file entry (space is latent)",
    );
    need(
      m.files.vaeDecoder !== undefined,
      ["files", "vaeDecoder"],
      "a file entry (space is latent)",
    );
    if (m.vae !== undefined) {
      need(
        m.vae.latentChannels === m.channels,
        ["vae", "latentChannels"],
        `channels (${m.channels})`,
        m.vae.latentChannels,
      );
    }
  } else {
    need(m.vae === undefined, ["vae"], "no vae (space is pixel)", m.vae);
    for (const role of ["vaeEncoder", "vaeDecoder", "vaeEncoderVjp", "vaeDecoderVjp"] as const) {
      need(
        m.files[role] === undefined,
        ["files", role],
        "no VAE graph (space is pixel)",
        m.files[role]?.path,
      );
    }
  }

  if (m.spatial.kind === "static" && m.resolution !== null) {
    const [h, w] = m.spatial.size;
    need(
      h === m.resolution[0] && w === m.resolution[1],
      ["spatial", "size"],
      `the resolution [${m.resolution.join(", ")}]`,
      m.spatial.size,
    );
  }
  return issues;
}

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Returns the candidate nearest to `key` when it is close enough to be a misspelling. */
export function nearestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor((best?.length ?? 0) / 4));
  return bestDistance <= limit ? best : undefined;
}

/** Keys an object schema at `path` accepts, for near-miss hints on unknown keys. */
function keysAt(path: readonly (string | number)[], value: unknown): string[] {
  let schema: z.ZodType = manifestShape;
  let node: unknown = value;
  for (const part of path) {
    schema = childSchema(schema, part, node);
    node = (node as Record<string | number, unknown> | undefined)?.[part];
  }
  return Object.keys(objectShape(schema, node) ?? {});
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodNullable ||
    current instanceof z.ZodDefault
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function objectShape(schema: z.ZodType, node: unknown): Record<string, z.ZodType> | undefined {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) return inner.shape as Record<string, z.ZodType>;
  if (inner instanceof z.ZodDiscriminatedUnion) {
    const kind = (node as { kind?: unknown } | undefined)?.kind;
    for (const option of inner.options as z.ZodType[]) {
      const shape = objectShape(option, node);
      const literal = shape?.kind;
      if (literal instanceof z.ZodLiteral && literal.value === kind) return shape;
    }
  }
  return undefined;
}

function childSchema(schema: z.ZodType, part: string | number, node: unknown): z.ZodType {
  const shape = objectShape(schema, node);
  if (shape !== undefined && typeof part === "string" && part in shape) return shape[part];
  const inner = unwrap(schema);
  if (inner instanceof z.ZodRecord) return inner.valueType as z.ZodType;
  return z.unknown();
}

function describeReceived(input: unknown): string {
  if (input === undefined) return "nothing (the field is missing)";
  const text = JSON.stringify(input);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Bounds on arrays and strings limit their length, not their value. */
function lengthPrefix(origin: string): string {
  return origin === "array" || origin === "string" ? "length " : "";
}

/** Translates one zod issue into expected / received text and, for unknown keys, a hint. */
function fromZodIssue(issue: z.core.$ZodIssue, value: unknown): Issue[] {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      return [
        {
          path,
          expected: issue.expected === "int" ? "an integer" : `a ${issue.expected}`,
          received: input,
        },
      ];
    case "invalid_value":
      return [{ path, expected: `one of ${issue.values.map(String).join(", ")}`, received: input }];
    case "invalid_union": {
      const options = (issue as { options?: unknown[] }).options;
      if (options !== undefined) {
        return [
          {
            path,
            expected: `one of ${options.map(String).join(", ")}`,
            received: (input as { kind?: unknown } | undefined)?.kind,
          },
        ];
      }
      return [{ path, expected: issue.message, received: input }];
    }
    case "unrecognized_keys": {
      const known = keysAt(path, value);
      return issue.keys.map((key) => {
        const near = nearestKey(key, known);
        return {
          path: [...path, key],
          expected: `one of ${known.join(", ")}`,
          received: key,
          hint: near === undefined ? undefined : `did you mean "${near}"?`,
          unknownKey: true,
        };
      });
    }
    case "too_small": {
      const relation = issue.inclusive ? ">=" : ">";
      return [
        {
          path,
          expected: `${lengthPrefix(issue.origin)}${relation} ${String(issue.minimum)}`,
          received: input,
        },
      ];
    }
    case "too_big": {
      const relation = issue.inclusive ? "<=" : "<";
      return [
        {
          path,
          expected: `${lengthPrefix(issue.origin)}${relation} ${String(issue.maximum)}`,
          received: input,
        },
      ];
    }
    default:
      return [{ path, expected: issue.message, received: input }];
  }
}

function formatIssue(file: string, issue: Issue): string {
  const where = issue.path.length === 0 ? "(top level)" : issue.path.join(".");
  const hint = issue.hint === undefined ? "" : `; ${issue.hint}`;
  if (issue.unknownKey)
    return `${file}: ${where}: unknown key; expected one of the keys ${issue.expected.slice("one of ".length)}${hint}`;
  return `${file}: ${where}: expected ${issue.expected}; received ${describeReceived(issue.received)}${hint}`;
}

function manifestError(file: string, issues: Issue[]): TweedieError {
  // Unknown keys first: a misspelt key also shows up as a missing required field.
  const ordered = [...issues].sort(
    (a, b) => Number(b.unknownKey ?? false) - Number(a.unknownKey ?? false),
  );
  const first = ordered[0];
  const rest = ordered.slice(1).map((issue) => issue.path.join("."));
  const more = rest.length === 0 ? "" : ` (${rest.length} more: ${rest.join(", ")})`;
  return new TweedieError(`${formatIssue(file, first)}${more}`, {
    code: "invalid_value",
    path: [file, ...first.path],
    expected: first.expected,
    received: first.received,
    hint: first.hint,
  });
}

/**
 * Validates a parsed `tweedie-model.json`. `file` names the manifest in error messages.
 * Throws a TweedieError for the first problem; its message counts the others.
 */
export function parseManifest(value: unknown, file: string = MANIFEST_FILE): ModelManifest {
  const result = manifestShape.safeParse(value, { reportInput: true });
  if (!result.success) {
    throw manifestError(
      file,
      result.error.issues.flatMap((issue) => fromZodIssue(issue, value)),
    );
  }
  const issues = crossFieldIssues(result.data);
  if (issues.length > 0) throw manifestError(file, issues);
  return result.data;
}

/** Reads and validates `tweedie-model.json` from a package folder. */
export async function readManifest(dir: string): Promise<ModelManifest> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new TweedieError(`model package manifest not found: ${file}`, {
      code: "not_found",
      path: [file],
      expected: `a ${MANIFEST_FILE} in the package folder`,
      cause,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TweedieError(`${file}: invalid JSON: ${(cause as Error).message}`, {
      code: "invalid_value",
      path: [file],
      expected: "a JSON object",
      cause,
    });
  }
  return parseManifest(value, file);
}
