import type { MetricConventions, ProfileName } from "../metrics/types.js";

/**
 * The network metrics of each profile: what they compute, on which range, and which
 * feature models (by manifest name) they load. The registry's placeholders and the
 * results of `scoreWithNetworks` both take their conventions from this one table.
 */
export type NetworkMetricKind =
  | "lpips"
  | "lpips_background"
  | "structure_distance"
  | "clip_whole"
  | "clip_edited";

export interface NetworkMetricSpec {
  readonly name: string;
  readonly profile: ProfileName;
  readonly kind: NetworkMetricKind;
  readonly higherIsBetter: boolean;
  readonly needsMask: boolean;
  /** CLIP scores need the target prompt. */
  readonly needsPrompt: boolean;
  /** Range `score` converts both images to before the metric receives them. */
  readonly inputRange: readonly [number, number];
  readonly backbone: string;
  readonly masking: MetricConventions["masking"];
  readonly formula: string;
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  /** The image feature model, by manifest name. */
  readonly featureModel: string;
  /** The text-encoder feature model of CLIP metrics, by manifest name. */
  readonly textModel?: string;
}

/** Manifest names the built-in network metrics look for in the feature model folder. */
export const FEATURE_MODEL_NAMES = {
  lpipsAlex: "lpips-alex",
  lpipsVgg: "lpips-vgg",
  lpipsSqueeze: "lpips-squeeze",
  dino: "dino-vitb8",
  clipImage: "clip-vit-l14-image",
  clipText: "clip-vit-l14-text",
  inception: "inception-fid",
} as const;

const SIGNED_RANGE = [-1, 1] as const;
const BYTE_RANGE = [0, 255] as const;

function lpips(profile: ProfileName, backbone: string, featureModel: string, reproduces: string) {
  return {
    name: "lpips",
    profile,
    kind: "lpips",
    higherIsBetter: false,
    needsMask: false,
    needsPrompt: false,
    inputRange: SIGNED_RANGE,
    backbone,
    masking: "none",
    formula: "LPIPS v0.1 distance, inputs mapped to [-1, 1] once in score()",
    settings: { reproduces },
    featureModel,
  } satisfies NetworkMetricSpec;
}

const CLIP_BACKBONE = "openai/clip-vit-large-patch14";

export const NETWORK_METRICS: readonly NetworkMetricSpec[] = [
  lpips("canonical", "alex", FEATURE_MODEL_NAMES.lpipsAlex, "richzhang lpips v0.1, net='alex'"),
  lpips(
    "dps-compat",
    "vgg",
    FEATURE_MODEL_NAMES.lpipsVgg,
    "DPS compute_metric.py: lpips.LPIPS(net='vgg')",
  ),
  lpips(
    "deepinv-compat",
    "alex",
    FEATURE_MODEL_NAMES.lpipsAlex,
    "deepinv LPIPS via torchmetrics, normalize=True",
  ),
  {
    name: "lpips_background",
    profile: "pie-compat",
    kind: "lpips_background",
    higherIsBetter: false,
    needsMask: true,
    needsPrompt: false,
    inputRange: SIGNED_RANGE,
    backbone: "squeeze (LPIPS v0.1 through torchmetrics)",
    masking: "multiply",
    formula: "LPIPS of the images times (1 - mask), inputs mapped to [-1, 1]",
    settings: {
      reproduces: "torchmetrics LearnedPerceptualImagePatchSimilarity(net_type='squeeze')",
      maskedOn: "[0, 1] values, before the map x * 2 - 1, so masked pixels become -1",
    },
    featureModel: FEATURE_MODEL_NAMES.lpipsSqueeze,
  },
  {
    name: "structure_distance",
    profile: "pie-compat",
    kind: "structure_distance",
    higherIsBetter: false,
    needsMask: false,
    needsPrompt: false,
    inputRange: BYTE_RANGE,
    backbone: "dino_vitb8 (block 11 keys, self-similarity)",
    masking: "none",
    formula: "MSE between the cosine self-similarity matrices of DINO ViT-B/8 keys",
    settings: { selfSimilarityEpsilon: 1e-8 },
    // NOTE: PIE-Bench resizes with torchvision's tensor Resize(224, max_size=480), which
    // antialiases by default from torchvision 0.17 on and not before, and its requirements
    // pin no version. The dino-vitb8 manifest's resize rule records the choice.
    featureModel: FEATURE_MODEL_NAMES.dino,
  },
  {
    name: "clip_whole",
    profile: "pie-compat",
    kind: "clip_whole",
    higherIsBetter: true,
    needsMask: false,
    needsPrompt: true,
    inputRange: BYTE_RANGE,
    backbone: CLIP_BACKBONE,
    masking: "none",
    formula: "max(100 cos(image embedding, target prompt embedding), 0)",
    settings: { prompt: "editing prompt with [ and ] removed" },
    featureModel: FEATURE_MODEL_NAMES.clipImage,
    textModel: FEATURE_MODEL_NAMES.clipText,
  },
  {
    name: "clip_edited",
    profile: "pie-compat",
    kind: "clip_edited",
    higherIsBetter: true,
    needsMask: true,
    needsPrompt: true,
    inputRange: BYTE_RANGE,
    backbone: CLIP_BACKBONE,
    masking: "multiply",
    formula: "CLIP score of the output times mask against the target prompt",
    settings: {
      prompt: "editing prompt with [ and ] removed",
      maskedOn: "0-255 values rounded to integers, product truncated as numpy uint8 does",
    },
    featureModel: FEATURE_MODEL_NAMES.clipImage,
    textModel: FEATURE_MODEL_NAMES.clipText,
  },
];

/** Lists the network metrics of one profile, in registration order. */
export function networkMetricsOf(profile: ProfileName): NetworkMetricSpec[] {
  return NETWORK_METRICS.filter((spec) => spec.profile === profile);
}

/** Returns the reason a network metric is unavailable before any feature model is loaded. */
export function placeholderReason(spec: NetworkMetricSpec): string {
  const models = spec.textModel ? `${spec.featureModel} and ${spec.textModel}` : spec.featureModel;
  return (
    `${spec.name} (${spec.backbone}) needs the ONNX feature model ${models}; ` +
    "give a feature model folder (tweedie score --feature-models DIR, the TWEEDIE_FEATURE_MODELS environment variable, or featureModelsDir with scoreWithNetworks)"
  );
}
