import { z } from "zod";

/**
 * Default pixel limit per image (width x height, read from the header before decoding):
 * 2^25 pixels, for example 8192 x 4096. It guards against decompression bombs and
 * can be raised per dataset with `maxPixels`.
 */
export const DEFAULT_MAX_PIXELS = 2 ** 25;

const side = z.number().int().min(1).max(16384);

/** sharp's resampling kernels; the choice is recorded in the manifest. */
export const resampleFilterSchema = z
  .enum(["nearest", "linear", "cubic", "mitchell", "lanczos2", "lanczos3", "mks2013", "mks2021"])
  .default("lanczos3");

/**
 * Resize policy applied to the upright image before any task. `none` keeps the size.
 * `stretch` resizes to size x size, ignoring the aspect ratio. `shortSideCrop` scales
 * the shorter side to `size` and then takes the centred size x size crop.
 */
export const preprocessSchema = z
  .discriminatedUnion("resize", [
    z.strictObject({ resize: z.literal("none") }),
    z.strictObject({ resize: z.literal("stretch"), size: side, filter: resampleFilterSchema }),
    z.strictObject({
      resize: z.literal("shortSideCrop"),
      size: side,
      filter: resampleFilterSchema,
    }),
  ])
  .default({ resize: "none" });

export type PreprocessPolicy = z.output<typeof preprocessSchema>;

const unit = z.number().min(0).max(1);
const rgbSchema = z.tuple([unit, unit, unit]);

/**
 * Channel policy, the same for reference, measurement and output images. Grayscale is
 * copied into three equal channels. An alpha channel (palette transparency included) is
 * rejected with an error naming the file, unless `alpha: composite` blends the image
 * over `background`. That colour is RGB on [0, 1], as readImage of @tweedie/eval takes
 * it, and pixels under alpha 0 then never matter.
 */
export const channelPolicySchema = z
  .strictObject({
    alpha: z.enum(["reject", "composite"]).default("reject"),
    background: rgbSchema.optional(),
  })
  .superRefine((policy, ctx) => {
    if (policy.alpha === "reject" && policy.background !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["background"],
        message: "background applies only with alpha: composite",
        params: { expected: "channels.alpha set to composite", received: policy.background },
      });
    }
  })
  .transform(
    (policy): ChannelPolicy =>
      policy.alpha === "composite"
        ? { alpha: "composite", background: policy.background ?? [1, 1, 1] }
        : { alpha: "reject" },
  )
  .default({ alpha: "reject" });

export type ChannelPolicy =
  | { alpha: "reject" }
  | { alpha: "composite"; background: [number, number, number] };

/** A model package for this dataset's cells, overriding the config's `model`. */
const datasetModel = z.string().min(1).optional();

const common = {
  model: datasetModel,
  /** Label used in plans and reports; defaults to the kind. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
      error: "must start with a letter or digit and contain only letters, digits, '.', '_', '-'",
    })
    .optional(),
  preprocess: preprocessSchema,
  channels: channelPolicySchema,
  maxPixels: z.number().int().min(1).default(DEFAULT_MAX_PIXELS),
};

const root = z.string().min(1);
const limit = z.number().int().min(1);

/** Any folder of images, in byte-wise order of file name. */
export const folderDatasetSchema = z.strictObject({
  kind: z.literal("folder"),
  root,
  extensions: z
    .array(z.string().regex(/^\.[A-Za-z0-9]+$/, { error: "must look like .png" }))
    .min(1)
    .default([".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"]),
  recursive: z.boolean().default(false),
  limit: limit.optional(),
  ...common,
});

/** FFHQ files `00000.png`...; the evaluation set is `limit` files from index `start`. */
export const ffhqDatasetSchema = z.strictObject({
  kind: z.literal("ffhq"),
  root,
  start: z.number().int().min(0).max(69999).default(0),
  limit: limit.max(70000).default(1000),
  ...common,
});

/** DIV2K high-resolution images: `valid` is 0801..0900, `train` 0001..0800. */
export const div2kDatasetSchema = z.strictObject({
  kind: z.literal("div2k"),
  root,
  split: z.enum(["valid", "train"]).default("valid"),
  limit: limit.optional(),
  ...common,
});

/** PIE-Bench: `mapping_file.json` plus `annotation_images/`. */
export const pieBenchDatasetSchema = z.strictObject({
  kind: z.literal("pie-bench"),
  root,
  /** `editing_type_id` values to keep ("0".."9"); all when absent. */
  types: z
    .array(z.enum(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]))
    .min(1)
    .optional(),
  limit: limit.optional(),
  ...common,
});

/** The repository's sample photos (`data/samples`), split as its `split.json` lists. */
export const samplesDatasetSchema = z.strictObject({
  kind: z.literal("embedded-samples"),
  root: root.optional(),
  split: z.enum(["heldout", "train", "all"]).default("heldout"),
  limit: limit.optional(),
  ...common,
});

/** The 8x8 handwritten digits (`data/digits/digits.csv.gz`), pixels 0..16 mapped to [-1, 1]. */
export const digitsDatasetSchema = z.strictObject({
  kind: z.literal("digits"),
  file: root.optional(),
  split: z.enum(["heldout", "train", "all"]).default("heldout"),
  /** Digit classes to keep; all when absent. */
  classes: z.array(z.number().int().min(0).max(9)).min(1).optional(),
  limit: limit.optional(),
  name: common.name,
  model: datasetModel,
});

/**
 * Held-out Fashion-MNIST images (`data/fashion`: the first 100 test images as gzipped IDX
 * files), pixels 0..255 mapped to [-1, 1].
 */
export const fashionDatasetSchema = z.strictObject({
  kind: z.literal("fashion"),
  /** Gzipped IDX image file; default `data/fashion/t10k-first100-images-idx3-ubyte.gz`. */
  images: root.optional(),
  /** Gzipped IDX label file; default `data/fashion/t10k-first100-labels-idx1-ubyte.gz`. */
  labels: root.optional(),
  /** Classes to keep (0 t-shirt/top .. 9 ankle boot); all when absent. */
  classes: z.array(z.number().int().min(0).max(9)).min(1).optional(),
  limit: limit.optional(),
  name: common.name,
  model: datasetModel,
});

export const datasetSchema = z.discriminatedUnion("kind", [
  folderDatasetSchema,
  ffhqDatasetSchema,
  div2kDatasetSchema,
  pieBenchDatasetSchema,
  samplesDatasetSchema,
  digitsDatasetSchema,
  fashionDatasetSchema,
]);

export type DatasetOptions = z.output<typeof datasetSchema>;
export type ImageDatasetOptions = Exclude<DatasetOptions, { kind: "digits" | "fashion" }>;
export type DatasetKind = DatasetOptions["kind"];
