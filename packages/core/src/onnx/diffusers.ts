/**
 * `loadDiffusersPackage`: Stable Diffusion 1.x, Stable Diffusion 3 and Flux pipelines
 * exported to ONNX in the diffusers / Optimum folder layout (see diffusers-layout.ts),
 * loaded as a Model. The schedule, parameterisation, timestep input, VAE scale and shift
 * and latent channels come from the folder's config files.
 */
import { join } from "node:path";
import type { Model, ModelInfo, TimestepInput } from "../contracts/model.js";
import { TweedieError } from "../errors.js";
import { multiscaleModel } from "../multiscale.js";
import type { OnnxSession } from "./adapter.js";
import { createSession, releaseSession } from "./adapter.js";
import { isFile, numberField, readJsonObject } from "./diffusers-files.js";
import { resolveDecoder, resolveDenoiser, resolveEncoder } from "./diffusers-graphs.js";
import type { DiffusersLayout } from "./diffusers-layout.js";
import { isDiffusersFolder, readDiffusersLayout } from "./diffusers-layout.js";
import type { DiffusersGraphs, DiffusersModel, DiffusersSettings } from "./diffusers-model.js";
import { DiffusersPipelineModel } from "./diffusers-model.js";
import { dynamicShift } from "./diffusers-scheduler.js";
import type { Logger } from "./logger.js";
import { silentLogger } from "./logger.js";
import { MANIFEST_FILE, readManifest } from "./manifest.js";
import type { LoadModelOptions } from "./model.js";
import { loadModelPackage } from "./model.js";
import type { TextConditionerParts, TextEncoderPart } from "./text-encoder.js";
import { idsInput, TextConditioner } from "./text-encoder.js";
import { loadTokenizer } from "./text-tokenizer.js";

export interface LoadDiffusersOptions {
  /** Execution provider: `cpu` (default), `cuda` or `cuda:N`. */
  provider?: string;
  intraOpThreads?: number;
  interOpThreads?: number;
  logger?: Logger;
  /** Model name in ModelInfo; the folder name unless given. */
  name?: string;
  /**
   * Image size [height, width] in pixels that fixes the timestep shift of schedulers with
   * `use_dynamic_shifting` (Flux). Default: FluxPipeline's default_sample_size 128 times the
   * VAE downsampling factor per side (1024 x 1024 for FLUX.1).
   */
  resolution?: readonly [number, number];
  /**
   * T5 token length. The default is 77 for SD3, the setting of FlowDPS and FlowAlign, whose
   * prompt embeddings are 154 tokens (diffusers' pipeline default is 256). For Flux it is
   * 512, FluxPipeline's default.
   */
  t5MaxLength?: number;
  /** Value fed to a guidance-distilled Flux transformer's `guidance` input; default 3.5 (FluxPipeline). */
  guidanceScale?: number;
}

/** FluxPipeline's default latent side before the VAE factor (diffusers 0.30). */
const FLUX_DEFAULT_SAMPLE_SIZE = 128;

function timestepInput(layout: DiffusersLayout): TimestepInput {
  switch (layout.family) {
    case "sd":
      return { kind: "index" };
    case "sd3":
      return { kind: "scaled", scale: layout.scheduler.trainSteps };
    case "flux":
      return { kind: "sigma" };
  }
}

/** Native pixel resolution from the denoiser config's sample_size, when it has one. */
function nativeResolution(layout: DiffusersLayout): readonly [number, number] | null {
  const size = layout.denoiserConfig.sample_size;
  if (typeof size !== "number") return null;
  const side = size * layout.vae.downsample;
  return [side, side];
}

function modelInfo(
  layout: DiffusersLayout,
  options: LoadDiffusersOptions,
  hasVjp: boolean,
): ModelInfo {
  const { scheduler, vae } = layout;
  let schedule = scheduler.schedule;
  let resolution = nativeResolution(layout);
  if (layout.family === "flux") {
    const side = FLUX_DEFAULT_SAMPLE_SIZE * vae.downsample;
    resolution = options.resolution ?? [side, side];
  }
  if (scheduler.dynamicShifting !== undefined) {
    const [height, width] = options.resolution ?? resolution ?? [0, 0];
    // Image tokens are 2x2 latent patches: Flux packs them, SD3 has patch_size (2 in SD3).
    const patch =
      layout.family === "flux"
        ? 2
        : numberField(layout.denoiserConfig, layout.denoiserConfigFile, "patch_size", 2);
    const tokens =
      Math.floor(height / vae.downsample / patch) * Math.floor(width / vae.downsample / patch);
    if (!(tokens > 0)) {
      throw new TweedieError(`${scheduler.file}: use_dynamic_shifting needs the image size`, {
        code: "missing",
        path: [scheduler.file, "use_dynamic_shifting"],
        expected: "options.resolution [height, width] in pixels",
        received: options.resolution,
      });
    }
    schedule = { kind: "rectified-flow", shift: dynamicShift(scheduler.dynamicShifting, tokens) };
  }
  const encoder = layout.text.map((part) => part.role).join("+");
  return {
    name: layout.name,
    parameterisation: scheduler.parameterisation,
    schedule,
    timestepInput: timestepInput(layout),
    resolution,
    channels: vae.latentChannels,
    space: "latent",
    vae: {
      scale: vae.scale,
      shift: vae.shift,
      downsample: vae.downsample,
      latentChannels: vae.latentChannels,
    },
    conditioning: { kind: "text", encoder },
    learnedVariance: false,
    hasVjp,
  };
}

/** Token lengths per encoder role: the tokenizer's model_max_length for CLIP, the option for T5. */
function textLength(
  layout: DiffusersLayout,
  role: "clip" | "clip2" | "t5",
  modelMaxLength: number | null,
  encoderFolder: string,
  options: LoadDiffusersOptions,
  encoderConfig: Record<string, unknown> | null,
): number {
  if (role === "t5") {
    const length = options.t5MaxLength ?? (layout.family === "flux" ? 512 : 77);
    if (!Number.isInteger(length) || length < 1) {
      throw new TweedieError("invalid T5 token length", {
        code: "invalid_value",
        path: ["t5MaxLength"],
        expected: "an integer >= 1",
        received: length,
      });
    }
    return length;
  }
  if (modelMaxLength !== null) return modelMaxLength;
  const file = join(layout.dir, encoderFolder, "config.json");
  if (encoderConfig === null) {
    throw new TweedieError(`${join(layout.dir, encoderFolder)}: no token length`, {
      code: "missing",
      path: [file, "max_position_embeddings"],
      expected:
        "tokenizer_config.json model_max_length or the encoder config's max_position_embeddings",
    });
  }
  return numberField(encoderConfig, file, "max_position_embeddings");
}

/**
 * Loads a diffusers / Optimum ONNX export folder as a Model. Throws a TweedieError that names
 * the file and field for a missing graph or tokenizer, an unknown pipeline or scheduler
 * class, and for graphs whose inputs and outputs differ from Optimum's export.
 */
export async function loadDiffusersPackage(
  dir: string,
  options: LoadDiffusersOptions = {},
): Promise<DiffusersModel> {
  const logger = options.logger ?? silentLogger;
  const layout = await readDiffusersLayout(dir, options.name);
  const opened: OnnxSession[] = [];
  const open = async (relative: string): Promise<OnnxSession> => {
    const path = join(dir, relative);
    const session = await createSession(path, {
      provider: options.provider,
      intraOpThreads: options.intraOpThreads,
      interOpThreads: options.interOpThreads,
      logger,
      fileLabel: path,
    });
    opened.push(session);
    return session;
  };

  try {
    const channels = layout.vae.latentChannels;
    const { graphs: files } = layout;
    const graphs: DiffusersGraphs = {
      denoiser: resolveDenoiser(await open(files.denoiser), layout.family, channels, false),
      decoder: resolveDecoder(await open(files.vaeDecoder), channels, false),
    };
    if (files.denoiserVjp)
      graphs.denoiserVjp = resolveDenoiser(
        await open(files.denoiserVjp),
        layout.family,
        channels,
        true,
      );
    if (files.vaeEncoder) graphs.encoder = resolveEncoder(await open(files.vaeEncoder), channels);
    if (files.vaeDecoderVjp)
      graphs.decoderVjp = resolveDecoder(await open(files.vaeDecoderVjp), channels, true);

    const settings: DiffusersSettings = {
      guidanceScale: options.guidanceScale ?? 3.5,
      textLengths: {},
    };
    const parts: Partial<TextConditionerParts> = {};
    for (const part of layout.text) {
      const tokenizer = await loadTokenizer(join(dir, part.tokenizer));
      const session = await open(join(part.encoder, "model.onnx"));
      idsInput(session);
      const configFile = join(dir, part.encoder, "config.json");
      const config = (await isFile(configFile))
        ? await readJsonObject(configFile, "text encoder config")
        : null;
      const length = textLength(
        layout,
        part.role,
        tokenizer.modelMaxLength,
        part.encoder,
        options,
        config,
      );
      settings.textLengths[part.role] = length;
      const encoderPart: TextEncoderPart = { tokenizer, session, length };
      parts[part.role] = encoderPart;
    }
    if (layout.family === "sd3" && parts.t5 === undefined) {
      parts.jointDim = numberField(
        layout.denoiserConfig,
        layout.denoiserConfigFile,
        "joint_attention_dim",
      );
    }
    const text = new TextConditioner(layout.family, parts as TextConditionerParts);
    const info = modelInfo(layout, options, graphs.denoiserVjp !== undefined);
    logger.info("diffusers package loaded", {
      dir,
      pipeline: layout.pipelineClass,
      scheduler: layout.scheduler.className,
      graphs: opened.length,
      schedulerDefaults: layout.scheduler.defaults,
      vaeDefaults: layout.vae.defaults,
    });
    return new DiffusersPipelineModel(layout, settings, info, graphs, text);
  } catch (error) {
    for (const session of opened) await releaseSession(session);
    throw error;
  }
}

/**
 * Opens any model folder: a Tweedie package (`tweedie-model.json`) through
 * `loadModelPackage`, or a diffusers / Optimum export (`model_index.json`) through
 * `loadDiffusersPackage`, which also takes the diffusers-only options.
 */
export async function loadModel(
  dir: string,
  options: LoadModelOptions & LoadDiffusersOptions = {},
): Promise<Model> {
  if (!(await isFile(join(dir, MANIFEST_FILE))) && (await isDiffusersFolder(dir))) {
    return loadDiffusersPackage(dir, options);
  }
  const model = await loadModelPackage(dir, options);
  const { multiscale, spatial } = await readManifest(dir);
  if (multiscale === undefined) return model;
  return multiscaleModel(
    model,
    multiscale.levels,
    spatial.kind === "multiple" ? spatial.multiple : 1,
  );
}
