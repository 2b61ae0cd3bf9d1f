/**
 * Reads the files of a diffusers / Optimum ONNX export folder into a description of the
 * pipeline: its family, scheduler, VAE constants and which graphs exist. Nothing here
 * opens a session; `diffusers.ts` does that and checks each graph's signature.
 *
 * Folder layout (Optimum's `optimum-cli export onnx` for diffusers pipelines; the
 * `vjp.onnx` graphs are Tweedie's additions, written by tools/export):
 *
 *     model_index.json                   `_class_name` picks the family
 *     scheduler/scheduler_config.json
 *     unet/model.onnx (SD) | transformer/model.onnx (SD3, Flux), each with config.json
 *     unet/vjp.onnx | transformer/vjp.onnx          optional denoiser VJP graph
 *     text_encoder/, text_encoder_2/, text_encoder_3/   model.onnx (+ config.json)
 *     tokenizer/, tokenizer_2/, tokenizer_3/
 *     vae_encoder/model.onnx, vae_decoder/model.onnx, each with the AutoencoderKL config.json
 *     vae_decoder/vjp.onnx                          optional decoder VJP graph
 */
import { basename, join } from "node:path";
import type { JsonObject } from "./diffusers-files.js";
import { fieldError, isFile, missingFile, numberField, readJsonObject } from "./diffusers-files.js";
import type { DiffusersScheduler } from "./diffusers-scheduler.js";
import { parseSchedulerConfig } from "./diffusers-scheduler.js";

export const MODEL_INDEX_FILE = "model_index.json";

export type DiffusersFamily = "sd" | "sd3" | "flux";

/** Pipeline class names per family, Optimum's ORT* and the older Onnx* variants included. */
const FAMILY_PATTERNS: readonly [RegExp, DiffusersFamily][] = [
  [/^(ORT|Onnx)?StableDiffusion3(Img2Img|Inpaint)?Pipeline$/, "sd3"],
  [/^(ORT|Onnx)?Flux(Img2Img|Inpaint)?Pipeline$/, "flux"],
  [/^(ORT|Onnx)?StableDiffusion(Img2Img|Inpaint)?Pipeline$/, "sd"],
];

/** The AutoencoderKL constants: latent = scale (raw - shift), raw = decode input. */
export interface DiffusersVae {
  file: string;
  scale: number;
  shift: number;
  latentChannels: number;
  /** 2^(len(block_out_channels) - 1). */
  downsample: number;
  /** Fields filled with AutoencoderKL defaults. */
  defaults: string[];
}

export interface DiffusersLayout {
  dir: string;
  name: string;
  pipelineClass: string;
  family: DiffusersFamily;
  scheduler: DiffusersScheduler;
  vae: DiffusersVae;
  /** `unet` or `transformer`. */
  denoiserFolder: string;
  denoiserConfig: JsonObject;
  denoiserConfigFile: string;
  /** Relative paths of the graphs that exist. */
  graphs: {
    denoiser: string;
    denoiserVjp?: string;
    vaeEncoder?: string;
    vaeDecoder: string;
    vaeDecoderVjp?: string;
  };
  /** Tokenizer and encoder folders in the order the family uses them (CLIP, CLIP-G, T5). */
  text: { tokenizer: string; encoder: string; role: "clip" | "clip2" | "t5" }[];
}

function familyOf(className: string, file: string): DiffusersFamily {
  for (const [pattern, family] of FAMILY_PATTERNS) if (pattern.test(className)) return family;
  throw fieldError(
    file,
    "_class_name",
    "StableDiffusionPipeline, StableDiffusion3Pipeline or FluxPipeline (or their ORT, Onnx, Img2Img and Inpaint variants)",
    className,
  );
}

/** `relative` when the graph exists; otherwise an error naming it and the pipeline class. */
async function requireGraph(
  dir: string,
  relative: string,
  role: string,
  pipelineClass: string,
): Promise<string> {
  const path = join(dir, relative);
  if (!(await isFile(path))) {
    throw missingFile(
      path,
      `the ${role} graph`,
      `${MODEL_INDEX_FILE} _class_name ${pipelineClass} needs it`,
    );
  }
  return relative;
}

async function optionalGraph(dir: string, relative: string): Promise<string | undefined> {
  return (await isFile(join(dir, relative))) ? relative : undefined;
}

/** Reads the VAE config from vae_decoder/, vae_encoder/ or vae/ (the first that exists). */
async function readVae(dir: string): Promise<DiffusersVae> {
  const candidates = ["vae_decoder", "vae_encoder", "vae"].map((folder) =>
    join(dir, folder, "config.json"),
  );
  let file: string | undefined;
  for (const candidate of candidates) {
    if (await isFile(candidate)) {
      file = candidate;
      break;
    }
  }
  if (file === undefined) {
    throw missingFile(
      candidates[0],
      "the AutoencoderKL config",
      "also looked for vae_encoder/config.json and vae/config.json",
    );
  }
  const config = await readJsonObject(file, "VAE config");
  const defaults: string[] = [];
  const read = (field: string, fallback: number) => {
    if (config[field] === undefined || config[field] === null) defaults.push(field);
    return numberField(config, file as string, field, fallback);
  };
  const blocks = config.block_out_channels;
  if (blocks !== undefined && !(Array.isArray(blocks) && blocks.length > 0)) {
    throw fieldError(file, "block_out_channels", "a non-empty list", blocks);
  }
  if (blocks === undefined) defaults.push("block_out_channels");
  const vae: DiffusersVae = {
    file,
    // AutoencoderKL defaults (diffusers 0.30): scaling_factor 0.18215, shift_factor None,
    // latent_channels 4, block_out_channels (64,).
    scale: read("scaling_factor", 0.18215),
    shift: read("shift_factor", 0),
    latentChannels: read("latent_channels", 4),
    downsample: 2 ** ((Array.isArray(blocks) ? blocks.length : 1) - 1),
    defaults,
  };
  if (!(vae.scale > 0)) throw fieldError(file, "scaling_factor", "a number > 0", vae.scale);
  if (!Number.isInteger(vae.latentChannels) || vae.latentChannels < 1) {
    throw fieldError(file, "latent_channels", "a positive integer", vae.latentChannels);
  }
  return vae;
}

/** Folders of tokenizers and encoders for a family; a missing required one is an error. */
async function textParts(
  dir: string,
  family: DiffusersFamily,
  pipelineClass: string,
): Promise<DiffusersLayout["text"]> {
  const wanted: [string, string, "clip" | "clip2" | "t5", boolean][] =
    family === "sd"
      ? [["tokenizer", "text_encoder", "clip", true]]
      : family === "sd3"
        ? [
            ["tokenizer", "text_encoder", "clip", true],
            ["tokenizer_2", "text_encoder_2", "clip2", true],
            ["tokenizer_3", "text_encoder_3", "t5", false],
          ]
        : [
            ["tokenizer", "text_encoder", "clip", true],
            ["tokenizer_2", "text_encoder_2", "t5", true],
          ];
  const parts: DiffusersLayout["text"] = [];
  for (const [tokenizer, encoder, role, required] of wanted) {
    const graph = join(encoder, "model.onnx");
    const present = await isFile(join(dir, graph));
    if (!present && !required) continue;
    if (!present) await requireGraph(dir, graph, `${role} text encoder`, pipelineClass);
    parts.push({ tokenizer, encoder, role });
  }
  return parts;
}

/** Reads and checks every config of a diffusers ONNX folder. */
export async function readDiffusersLayout(dir: string, name?: string): Promise<DiffusersLayout> {
  const indexFile = join(dir, MODEL_INDEX_FILE);
  const index = await readJsonObject(indexFile, "pipeline index");
  const pipelineClass = index._class_name;
  if (typeof pipelineClass !== "string")
    throw fieldError(indexFile, "_class_name", "a pipeline class name", pipelineClass);
  const family = familyOf(pipelineClass, indexFile);

  const schedulerFile = join(dir, "scheduler", "scheduler_config.json");
  const scheduler = parseSchedulerConfig(
    await readJsonObject(schedulerFile, "scheduler config"),
    schedulerFile,
  );
  const isFlow = scheduler.parameterisation === "velocity";
  if (isFlow !== (family !== "sd")) {
    throw fieldError(
      schedulerFile,
      "_class_name",
      family === "sd"
        ? "a DDPM-family scheduler (Stable Diffusion 1.x)"
        : "FlowMatchEulerDiscreteScheduler",
      scheduler.className,
    );
  }

  const denoiserFolder = family === "sd" ? "unet" : "transformer";
  const denoiser = await requireGraph(
    dir,
    join(denoiserFolder, "model.onnx"),
    denoiserFolder,
    pipelineClass,
  );
  const denoiserConfigFile = join(dir, denoiserFolder, "config.json");
  const denoiserConfig = (await isFile(denoiserConfigFile))
    ? await readJsonObject(denoiserConfigFile, `${denoiserFolder} config`)
    : {};

  return {
    dir,
    name: name ?? basename(dir),
    pipelineClass,
    family,
    scheduler,
    vae: await readVae(dir),
    denoiserFolder,
    denoiserConfig,
    denoiserConfigFile,
    graphs: {
      denoiser,
      denoiserVjp: await optionalGraph(dir, join(denoiserFolder, "vjp.onnx")),
      vaeEncoder: await optionalGraph(dir, join("vae_encoder", "model.onnx")),
      vaeDecoder: await requireGraph(
        dir,
        join("vae_decoder", "model.onnx"),
        "VAE decoder",
        pipelineClass,
      ),
      vaeDecoderVjp: await optionalGraph(dir, join("vae_decoder", "vjp.onnx")),
    },
    text: await textParts(dir, family, pipelineClass),
  };
}

/** Returns true when `dir` contains a model_index.json (a diffusers / Optimum export). */
export function isDiffusersFolder(dir: string): Promise<boolean> {
  return isFile(join(dir, MODEL_INDEX_FILE));
}
