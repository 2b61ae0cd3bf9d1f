/**
 * Model packages for guided-diffusion's ADM U-Net (Dhariwal and Nichol, arXiv 2105.05233),
 * the network of DPS (Chung et al., ICLR 2023): unconditional, learned variance (6 output
 * channels: epsilon, then the value v in [-1, 1] that interpolates the log variance between
 * beta_t and the posterior variance), linear betas 1e-4 to 0.02 over 1000 steps, and the
 * integer step index as the timestep input. tools/export/export_adm.py writes the
 * `tweedie-model.json` that `admManifest` describes.
 */
import type { ModelManifest } from "./manifest.js";
import { MANIFEST_FILE, parseManifest } from "./manifest.js";

export type AdmCheckpointId = "ffhq256" | "imagenet256";

/** The architecture of a released checkpoint, as guided-diffusion's create_model takes it. */
export interface AdmCheckpoint {
  id: AdmCheckpointId;
  /** File name the DPS repository's configs load. */
  checkpoint: string;
  imageSize: number;
  numChannels: number;
  numResBlocks: number;
  /** channel_mult for 256 x 256 images in guided-diffusion's create_model. */
  channelMult: readonly number[];
  attentionResolutions: readonly number[];
  numHeads: number;
  numHeadChannels: number;
  useScaleShiftNorm: boolean;
  resblockUpdown: boolean;
  learnSigma: true;
  classCond: false;
  /** Source of the values. */
  source: string;
}

/** Settings both released 256 x 256 checkpoints share. */
const ADM_256 = {
  imageSize: 256,
  channelMult: [1, 1, 2, 2, 4, 4],
  numHeads: 4,
  numHeadChannels: 64,
  useScaleShiftNorm: true,
  resblockUpdown: true,
  learnSigma: true,
  classCond: false,
} as const;

export const ADM_CHECKPOINTS: Readonly<Record<AdmCheckpointId, AdmCheckpoint>> = {
  ffhq256: {
    ...ADM_256,
    id: "ffhq256",
    checkpoint: "ffhq_10m.pt",
    numChannels: 128,
    numResBlocks: 1,
    attentionResolutions: [16],
    source: "DPS2022/diffusion-posterior-sampling configs/model_config.yaml (commit effbde7)",
  },
  imagenet256: {
    ...ADM_256,
    id: "imagenet256",
    checkpoint: "imagenet256.pt",
    numChannels: 256,
    numResBlocks: 2,
    attentionResolutions: [32, 16, 8],
    source:
      "DPS2022/diffusion-posterior-sampling configs/imagenet_model_config.yaml (commit effbde7); the same settings as OpenAI's 256x256_diffusion_uncond",
  },
};

/** Graph value names the ADM export writes: guided-diffusion's forward(x, timesteps). */
export const ADM_IO = { x: "x", t: "timesteps", output: "output", g: "g", vjp: "vjp" } as const;

export interface AdmManifestOptions {
  name: string;
  version: string;
  /** Image side in pixels; 256 for both released checkpoints. */
  resolution?: number;
  dtype?: "float32" | "float16";
  files: {
    denoiser: { path: string; sha256: string };
    vjp?: { path: string; sha256: string };
  };
}

/**
 * Builds the manifest of an ADM package and validates it with `parseManifest`. Both graphs
 * take the native square resolution only (`spatial` static), because the attention
 * resolutions and the static shapes of a VJP graph are tied to it.
 */
export function admManifest(options: AdmManifestOptions): ModelManifest {
  const side = options.resolution ?? 256;
  return parseManifest(
    {
      name: options.name,
      version: options.version,
      files: options.files,
      parameterisation: "epsilon",
      schedule: { kind: "vp-linear", betaStart: 0.0001, betaEnd: 0.02, steps: 1000 },
      timestepInput: { kind: "index" },
      resolution: [side, side],
      channels: 3,
      space: "pixel",
      conditioning: { kind: "none" },
      learnedVariance: true,
      dtype: options.dtype ?? "float32",
      io: { ...ADM_IO },
      spatial: { kind: "static", size: [side, side] },
    },
    `${options.name}/${MANIFEST_FILE}`,
  );
}
