import { TweedieError } from "@tweedie/core";
import { z } from "zod";

/**
 * Zod schemas of every operator spec and noise spec. A spec is plain JSON: parsing fills
 * in documented defaults, and an operator's `spec` property is always the parsed form, so
 * `buildOperator(JSON.parse(JSON.stringify(op.spec)), ...)` rebuilds the same operator.
 * Unknown fields are rejected, so a misspelt field never falls back to a default.
 */

const seedSchema = z.union([z.number().int(), z.string().min(1)]);
const oddSize = z
  .number()
  .int()
  .positive()
  .refine((n) => n % 2 === 1, { message: "must be an odd integer" });

export const identitySpecSchema = z.strictObject({ kind: z.literal("identity") });

/** Block mean over scale x scale pixels (FlowDPS sr_avgpool). */
export const avgPoolSpecSchema = z.strictObject({
  kind: z.literal("sr-avgpool"),
  scale: z.number().int().positive(),
});

/**
 * MATLAB-style antialiased bicubic downscaling. `truncate` > 0 replaces each 1-D factor
 * by its SVD with singular values below `truncate` set to zero (FlowDPS uses 0.03); the
 * forward map, adjoint and pseudo-inverse all use the truncated factor.
 */
export const bicubicSpecSchema = z.strictObject({
  kind: z.literal("sr-bicubic"),
  scale: z.number().int().positive(),
  truncate: z.number().min(0).default(0),
});

/**
 * Gaussian blur with a size x size kernel: scipy.ndimage.gaussian_filter of a centred
 * delta, radius int(truncate * sigma + 0.5) (DPS: size 61, sigma 3, truncate 4).
 */
export const gaussianBlurSpecSchema = z.strictObject({
  kind: z.literal("gaussian-blur"),
  size: oddSize.default(61),
  sigma: z.number().positive().default(3),
  truncate: z.number().positive().default(4),
});

/**
 * Motion blur with a random-trajectory kernel drawn once from `seed`. `kernel` contains
 * the size x size kernel row-major. When present it is used as given, and the seed only
 * records where it came from.
 */
export const motionBlurSpecSchema = z.strictObject({
  kind: z.literal("motion-blur"),
  size: oddSize.default(61),
  intensity: z.number().min(0).max(1).default(0.5),
  seed: seedSchema,
  kernel: z.array(z.number()).optional(),
});

const pair = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);

/**
 * A rectangle of missing pixels. `placement: "random"` draws the top-left corner from
 * `seed` uniformly in [margin, side - margin - box) per axis; `"centred"` centres it.
 * `boxSize` and `margin` default to half and one sixteenth of each side (128 and 16 at
 * 256, as DPS). `top` and `left`, when given, fix the corner and skip the draw.
 */
export const boxInpaintingSpecSchema = z.strictObject({
  kind: z.literal("inpainting"),
  pattern: z.literal("box"),
  placement: z.enum(["random", "centred"]).default("random"),
  boxSize: pair.optional(),
  margin: pair.optional(),
  seed: seedSchema.optional(),
  top: z.number().int().nonnegative().optional(),
  left: z.number().int().nonnegative().optional(),
});

/**
 * floor(H * W * ratio) pixel positions drawn without replacement are missing in every
 * channel. `ratio` is the missing fraction; when absent it is drawn uniformly from
 * `ratioRange` (DPS: [0.3, 0.7]) and recorded.
 */
export const randomInpaintingSpecSchema = z.strictObject({
  kind: z.literal("inpainting"),
  pattern: z.literal("random"),
  seed: seedSchema,
  ratio: z.number().min(0).max(1).optional(),
  ratioRange: z
    .tuple([z.number().min(0).max(1), z.number().min(0).max(1)])
    .refine(([low, high]) => low <= high, { message: "low must not exceed high" })
    .default([0.3, 0.7]),
});

/**
 * A mask given as data: H rows of W values, 1 = observed (kept) and 0 = missing, shared
 * by every channel. Values other than 0 and 1 are rejected unless `threshold` is given,
 * in which case values >= threshold count as observed.
 */
export const givenMaskInpaintingSpecSchema = z.strictObject({
  kind: z.literal("inpainting"),
  pattern: z.literal("mask"),
  mask: z.array(z.array(z.number())),
  threshold: z.number().optional(),
});

export const inpaintingSpecSchema = z.discriminatedUnion("pattern", [
  boxInpaintingSpecSchema,
  randomInpaintingSpecSchema,
  givenMaskInpaintingSpecSchema,
]);

/**
 * RGB to one grey channel, y = sum_c weights[c] x_c. The default equal thirds follow
 * DDNM's colorization operator (wyhuai/DDNM, guided_diffusion/diffusion.py, color2gray);
 * pass [0.299, 0.587, 0.114] for ITU-R BT.601 luma.
 */
export const colorizationSpecSchema = z.strictObject({
  kind: z.literal("colorization"),
  weights: z.tuple([z.number(), z.number(), z.number()]).default([1 / 3, 1 / 3, 1 / 3]),
});

/**
 * Fourier magnitude of the zero-padded image, y = |F(pad(x))| with the orthonormal 2-D
 * DFT per channel. Each side gets int(oversample / 8 * side) zeros on both ends (DPS:
 * oversample 2 turns 256 into 384). `shift` puts the zero frequency at the centre.
 */
export const phaseRetrievalSpecSchema = z.strictObject({
  kind: z.literal("phase-retrieval"),
  oversample: z.number().min(0).default(2),
  shift: z.boolean().default(true),
});

export type IdentitySpec = z.output<typeof identitySpecSchema>;
export type AvgPoolSpec = z.output<typeof avgPoolSpecSchema>;
export type BicubicSpec = z.output<typeof bicubicSpecSchema>;
export type GaussianBlurSpec = z.output<typeof gaussianBlurSpecSchema>;
export type MotionBlurSpec = z.output<typeof motionBlurSpecSchema>;
export type BoxInpaintingSpec = z.output<typeof boxInpaintingSpecSchema>;
export type RandomInpaintingSpec = z.output<typeof randomInpaintingSpecSchema>;
export type GivenMaskInpaintingSpec = z.output<typeof givenMaskInpaintingSpecSchema>;
export type InpaintingSpec = z.output<typeof inpaintingSpecSchema>;
export type ColorizationSpec = z.output<typeof colorizationSpecSchema>;
export type PhaseRetrievalSpec = z.output<typeof phaseRetrievalSpecSchema>;

/** Operators applied in order: `operators[0]` acts on the image first. */
export type ComposeSpec = {
  readonly kind: "compose";
  readonly operators: readonly OperatorSpecValue[];
};

export type OperatorSpecValue =
  | IdentitySpec
  | AvgPoolSpec
  | BicubicSpec
  | GaussianBlurSpec
  | MotionBlurSpec
  | InpaintingSpec
  | ColorizationSpec
  | PhaseRetrievalSpec
  | ComposeSpec;

export const composeSpecSchema = z.strictObject({
  kind: z.literal("compose"),
  get operators(): z.ZodArray<z.ZodType<OperatorSpecValue, unknown>> {
    return z.array(operatorSpecSchema).min(1);
  },
});

/** Any operator spec; the runner validates configs with this schema. */
export const operatorSpecSchema: z.ZodType<OperatorSpecValue, unknown> = z.discriminatedUnion(
  "kind",
  [
    identitySpecSchema,
    avgPoolSpecSchema,
    bicubicSpecSchema,
    gaussianBlurSpecSchema,
    motionBlurSpecSchema,
    inpaintingSpecSchema,
    colorizationSpecSchema,
    phaseRetrievalSpecSchema,
    composeSpecSchema,
  ],
);

export const operatorKinds = [
  "identity",
  "sr-avgpool",
  "sr-bicubic",
  "gaussian-blur",
  "motion-blur",
  "inpainting",
  "colorization",
  "phase-retrieval",
  "compose",
] as const;

export const valueRangeSchema = z.enum(["[-1,1]", "[0,1]"]);

/**
 * Measurement noise. `range` is the value range `sigma` is stated in and is required:
 * tensors live on [-1, 1], so a sigma stated on [0, 1] is doubled when applied. Poisson
 * counts are drawn on [0, 1] intensities (DPS), so Poisson noise requires range "[0,1]".
 */
export const noiseSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("none") }),
  z.strictObject({
    kind: z.literal("gaussian"),
    sigma: z.number().min(0),
    range: valueRangeSchema,
  }),
  z.strictObject({
    kind: z.literal("poisson"),
    rate: z.number().positive(),
    range: z.literal("[0,1]"),
  }),
]);

export type NoiseSpecValue = z.output<typeof noiseSpecSchema>;

/** Parses `input` with `schema`, turning the first zod issue into a TweedieError. */
export function parseSpec<T>(schema: z.ZodType<T, unknown>, input: unknown, specName: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw specError(result.error.issues, input, specName);
}

function specError(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  specName: string,
): TweedieError {
  const issue = issues[0];
  const path = issue.path.map((part) => (typeof part === "symbol" ? String(part) : part));
  const received = valueAt(input, path);
  const field = path.length === 0 ? specName : `${specName} field ${path.join(".")}`;
  if (issue.code === "invalid_union") {
    const { discriminator, options } = issue as { discriminator?: string; options?: unknown[] };
    if (discriminator !== undefined && options !== undefined) {
      const fullPath = path[path.length - 1] === discriminator ? path : [...path, discriminator];
      const value = valueAt(input, fullPath);
      const expected = `one of ${options.map((option) => JSON.stringify(option)).join(", ")}`;
      if (value === undefined) {
        return new TweedieError(`${specName} field ${fullPath.join(".")} is missing`, {
          code: "missing",
          path: fullPath,
          expected,
        });
      }
      return new TweedieError(`${specName} field ${fullPath.join(".")} has an unknown value`, {
        code: "invalid_value",
        path: fullPath,
        expected,
        received: value,
      });
    }
  }
  if (received === undefined && path.length > 0 && issue.code !== "unrecognized_keys") {
    return new TweedieError(`${field} is missing`, {
      code: "missing",
      path,
      expected: expectedText(issue),
    });
  }
  if (issue.code === "unrecognized_keys") {
    const where = path.length === 0 ? specName : `${specName} field ${path.join(".")}`;
    return new TweedieError(`${where} has unknown field ${issue.keys.join(", ")}`, {
      code: "invalid_value",
      path: [...path, ...issue.keys],
      expected: "only the documented fields",
      received: issue.keys,
    });
  }
  const code =
    issue.code === "too_small" || issue.code === "too_big" ? "out_of_range" : "invalid_value";
  return new TweedieError(`${field} is invalid: ${issue.message}`, {
    code,
    path,
    expected: expectedText(issue),
    received,
  });
}

function expectedText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.expected === "int" ? "an integer" : `a ${issue.expected}`;
    case "invalid_value":
      return `one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_small":
      return `${issue.inclusive ? ">=" : ">"} ${String(issue.minimum)}`;
    case "too_big":
      return `${issue.inclusive ? "<=" : "<"} ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const part of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}
