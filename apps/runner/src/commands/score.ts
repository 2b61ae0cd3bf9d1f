import { existsSync } from "node:fs";
import { TweedieError } from "@tweedie/core";
import {
  FEATURE_MODELS_ENV,
  FeatureModels,
  readImage,
  score,
  scoreWithNetworks,
} from "@tweedie/eval";
import { type Command, EXIT_OK } from "../cli/command.js";
import { readTensor } from "./specs.js";

export const scoreCommand: Command = {
  path: ["score"],
  summary:
    "Score one output image against its reference (PNG or .npy) and print the metrics as JSON, every convention named.",
  positionals: "REFERENCE OUTPUT",
  options: [
    {
      name: "metrics",
      type: "string",
      valueName: "LIST",
      description: "Comma-separated metric names (default: every available metric of the profile).",
    },
    {
      name: "profile",
      type: "string",
      valueName: "NAME",
      description:
        "Metric profile: canonical, skimage-default, dps-compat, deepinv-compat, pie-compat or clean.",
      default: "canonical",
    },
    {
      name: "mask",
      type: "string",
      valueName: "FILE",
      description:
        "Edit mask image (white = edited region), for the pie-compat and clean background metrics.",
    },
    {
      name: "feature-models",
      type: "string",
      valueName: "DIR",
      description: `Folder of ONNX feature models with their manifests, for LPIPS and the DINO structure distance. Default: the ${FEATURE_MODELS_ENV} environment variable. Without a folder, these metrics are reported as unavailable.`,
    },
    {
      name: "crop",
      type: "string",
      valueName: "PIXELS",
      description: "Pixels removed from every border before scoring (profiles that allow it).",
      default: "0",
    },
  ],
  async run(values, positionals, ctx) {
    if (positionals.length !== 2) {
      throw new TweedieError("expected REFERENCE and OUTPUT", {
        code: "invalid_value",
        path: ["REFERENCE OUTPUT"],
        received: positionals,
      });
    }
    const [reference, output] = await Promise.all(positionals.map((path) => readTensor(path)));
    const mask = values.mask ? await readImage(values.mask as string) : undefined;
    const options = {
      profile: ((values.profile as string | undefined) ?? "canonical") as Parameters<
        typeof score
      >[2]["profile"],
      range: [-1, 1] as [number, number],
      ...(values.metrics
        ? { metrics: (values.metrics as string).split(",").map((name) => name.trim()) }
        : {}),
      ...(mask
        ? {
            mask: {
              data: mask.data.subarray(0, mask.shape[1] * mask.shape[2]),
              shape: [mask.shape[1], mask.shape[2]] as [number, number],
            },
          }
        : {}),
      borderCrop: Number(values.crop ?? 0),
    };
    const featureModelsDir =
      (values["feature-models"] as string | undefined) ?? ctx.env[FEATURE_MODELS_ENV];
    let record: ReturnType<typeof score>;
    if (featureModelsDir) {
      if (!existsSync(featureModelsDir)) {
        throw new TweedieError("feature model folder not found", {
          code: "not_found",
          path: [values["feature-models"] ? "--feature-models" : FEATURE_MODELS_ENV],
          received: featureModelsDir,
        });
      }
      const featureModels = new FeatureModels({ featureModelsDir });
      try {
        record = await scoreWithNetworks(reference.x, output.x, { ...options, featureModels });
      } finally {
        await featureModels.close();
      }
    } else {
      record = score(reference.x, output.x, options);
    }
    ctx.stdout(JSON.stringify(record, null, 2));
    return EXIT_OK;
  },
};
