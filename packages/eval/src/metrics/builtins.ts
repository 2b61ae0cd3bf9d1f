import {
  type NetworkMetricSpec,
  networkMetricsOf,
  placeholderReason,
} from "../network/definitions.js";
import {
  backgroundMeanSquaredError,
  backgroundSsim,
  backgroundWeightSum,
  multiplyByBackground,
} from "./masked.js";
import { reportScale } from "./profiles.js";
import { DEEPINV_PSNR_EPSILON, meanSquaredError, psnrFromMse } from "./psnr.js";
import { GAUSSIAN_WINDOW, type SsimOptions, ssim, UNIFORM_WINDOW_7 } from "./ssim.js";
import {
  fromNumber,
  type MetricConventions,
  type MetricInput,
  type MetricValue,
  okValue,
  type PairMetric,
  type ProfileName,
  undefinedValue,
  type WindowSpec,
} from "./types.js";

/**
 * The closed-form metrics of every profile, plus placeholders for the network metrics
 * (network/definitions.ts).
 * Built-in metrics receive images on [0, 1] (data range L = 1): `score` maps the caller's
 * declared range there first, which leaves PSNR and SSIM unchanged and puts MSE on the
 * [0, 1] scale that published tables use.
 */

const UNIT_RANGE = [0, 1] as const;
const IDENTICAL = "MSE is 0 (identical images), so PSNR is +Infinity";
const SSIM_INFINITE = "SSIM evaluated to +Infinity";
const EMPTY_BACKGROUND = "background is empty: the mask marks every pixel as edited";

interface Description {
  readonly name: string;
  readonly profile: ProfileName;
  readonly higherIsBetter: boolean;
  readonly needsMask?: boolean;
  readonly window?: WindowSpec | null;
  readonly backbone?: string | null;
  readonly inputRange?: readonly [number, number];
  readonly masking?: MetricConventions["masking"];
  readonly formula: string;
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
}

function defineMetric(
  description: Description,
  compute: (input: MetricInput) => MetricValue,
  unavailable: string | null = null,
): PairMetric {
  const inputRange = description.inputRange ?? UNIT_RANGE;
  return {
    name: description.name,
    profile: description.profile,
    higherIsBetter: description.higherIsBetter,
    inputRange,
    needsMask: description.needsMask ?? false,
    displayScale: reportScale(description.profile, description.name),
    unavailable,
    conventions: (borderCrop) => ({
      valueRange: inputRange,
      dataRange: inputRange[1] - inputRange[0],
      window: description.window ?? null,
      backbone: description.backbone ?? null,
      borderCrop,
      masking: description.masking ?? "none",
      formula: description.formula,
      settings: description.settings ?? {},
    }),
    compute,
  };
}

function mseMetric(profile: ProfileName): PairMetric {
  return defineMetric(
    {
      name: "mse",
      profile,
      higherIsBetter: false,
      formula: "mean of (output - reference)^2 over all C*H*W values",
    },
    ({ reference, output }) => okValue(meanSquaredError(reference, output)),
  );
}

function psnrMetric(profile: ProfileName, epsilon: number, reproduces: string): PairMetric {
  const formula =
    epsilon > 0
      ? `-10 log10(MSE / L^2 + ${epsilon}), MSE over all C*H*W values`
      : "10 log10(L^2 / MSE), MSE over all C*H*W values; +Infinity when MSE = 0";
  return defineMetric(
    { name: "psnr", profile, higherIsBetter: true, formula, settings: { epsilon, reproduces } },
    ({ reference, output }) =>
      fromNumber(psnrFromMse(meanSquaredError(reference, output), 1, epsilon), IDENTICAL),
  );
}

/** Wraps an SSIM metric so that an image smaller than the window gets no value instead of an error. */
function windowFits(
  window: WindowSpec,
  fn: (input: MetricInput) => MetricValue,
): (input: MetricInput) => MetricValue {
  return (input) => {
    const [, height, width] = input.reference.shape;
    if (height >= window.size && width >= window.size) return fn(input);
    return undefinedValue(
      `image ${width}x${height} is smaller than the ${window.size}x${window.size} SSIM window`,
    );
  };
}

function ssimSettings(window: WindowSpec, covariance: "population" | "sample"): SsimOptions {
  return { dataRange: 1, window, k1: 0.01, k2: 0.03, covariance };
}

function ssimMetric(
  profile: ProfileName,
  window: WindowSpec,
  covariance: "population" | "sample",
  reproduces: string,
): PairMetric {
  const options = ssimSettings(window, covariance);
  return defineMetric(
    {
      name: "ssim",
      profile,
      higherIsBetter: true,
      window,
      formula: "mean of the SSIM map over the valid region and all channels",
      settings: { k1: 0.01, k2: 0.03, covariance, region: "valid", reproduces },
    },
    windowFits(window, ({ reference, output }) =>
      fromNumber(ssim(reference, output, options), SSIM_INFINITE),
    ),
  );
}

/**
 * A network metric as the registry stores it: its conventions, and `unavailable` with the
 * reason, because a synchronous `compute` cannot run an ONNX session. `scoreWithNetworks`
 * computes these metrics from the same definitions.
 */
function networkPlaceholder(spec: NetworkMetricSpec): PairMetric {
  const reason = placeholderReason(spec);
  return defineMetric(spec, () => ({ status: "unavailable", value: null, reason }), reason);
}

function networkPlaceholders(profile: ProfileName): PairMetric[] {
  return networkMetricsOf(profile).map(networkPlaceholder);
}

/** PIE-Bench background metrics: both images multiplied by 1 - mask, metric over the whole tensor. */
function pieBackgroundMetrics(): PairMetric[] {
  const profile = "pie-compat";
  const base = { profile, needsMask: true, masking: "multiply" } as const;
  const options = ssimSettings(GAUSSIAN_WINDOW, "population");
  const masked = (input: MetricInput) => ({
    reference: multiplyByBackground(input.reference, input.mask!),
    output: multiplyByBackground(input.output, input.mask!),
  });
  const whenBackground =
    (fn: (input: MetricInput) => MetricValue) =>
    (input: MetricInput): MetricValue =>
      backgroundWeightSum(input.mask!) === 0 ? undefinedValue(EMPTY_BACKGROUND) : fn(input);
  return [
    defineMetric(
      {
        ...base,
        name: "psnr_background",
        higherIsBetter: true,
        formula: "10 log10(1 / MSE) of the images times (1 - mask), MSE over all C*H*W values",
        settings: { reproduces: "torchmetrics PeakSignalNoiseRatio(data_range=1.0)" },
      },
      whenBackground((input) => {
        const { reference, output } = masked(input);
        return fromNumber(psnrFromMse(meanSquaredError(reference, output), 1), IDENTICAL);
      }),
    ),
    defineMetric(
      {
        ...base,
        name: "mse_background",
        higherIsBetter: false,
        formula:
          "mean of squared differences of the images times (1 - mask), over all C*H*W values",
        settings: { reproduces: "torchmetrics MeanSquaredError()" },
      },
      whenBackground((input) => {
        const { reference, output } = masked(input);
        return okValue(meanSquaredError(reference, output));
      }),
    ),
    defineMetric(
      {
        ...base,
        name: "ssim_background",
        higherIsBetter: true,
        window: GAUSSIAN_WINDOW,
        formula: "SSIM of the images times (1 - mask), mean over the valid region and channels",
        settings: {
          k1: 0.01,
          k2: 0.03,
          covariance: "population",
          reproduces: "torchmetrics StructuralSimilarityIndexMeasure(data_range=1.0)",
        },
      },
      whenBackground(
        windowFits(GAUSSIAN_WINDOW, (input) => {
          const { reference, output } = masked(input);
          return fromNumber(ssim(reference, output, options), SSIM_INFINITE);
        }),
      ),
    ),
  ];
}

/** True masked averages over the background (weights 1 - mask), on unmasked images. */
function cleanBackgroundMetrics(): PairMetric[] {
  const profile = "clean";
  const base = { profile, needsMask: true, masking: "restrict" } as const;
  const options = ssimSettings(GAUSSIAN_WINDOW, "population");
  const mseOf = (input: MetricInput) =>
    backgroundMeanSquaredError(input.reference, input.output, input.mask!);
  return [
    defineMetric(
      {
        ...base,
        name: "psnr_background",
        higherIsBetter: true,
        formula: "10 log10(1 / MSE_bg), MSE_bg = sum((1 - m)(a - b)^2) / (C sum(1 - m))",
      },
      (input) => {
        const mse = mseOf(input);
        if (mse === null) return undefinedValue(EMPTY_BACKGROUND);
        return fromNumber(psnrFromMse(mse, 1), IDENTICAL);
      },
    ),
    defineMetric(
      {
        ...base,
        name: "mse_background",
        higherIsBetter: false,
        formula: "sum((1 - m)(a - b)^2) / (C sum(1 - m))",
      },
      (input) => {
        const mse = mseOf(input);
        return mse === null ? undefinedValue(EMPTY_BACKGROUND) : okValue(mse);
      },
    ),
    defineMetric(
      {
        ...base,
        name: "ssim_background",
        higherIsBetter: true,
        window: GAUSSIAN_WINDOW,
        formula: "SSIM map (valid region) averaged with weights 1 - m at each window centre",
        settings: { k1: 0.01, k2: 0.03, covariance: "population" },
      },
      windowFits(GAUSSIAN_WINDOW, (input) => {
        if (backgroundWeightSum(input.mask!) === 0) return undefinedValue(EMPTY_BACKGROUND);
        const value = backgroundSsim(input.reference, input.output, input.mask!, options);
        return value === null
          ? undefinedValue("no background pixel lies at least 5 pixels inside the border")
          : okValue(value);
      }),
    ),
  ];
}

const SKIMAGE_GAUSSIAN =
  "skimage structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)";

/** Lists every built-in metric, one entry per (name, profile). */
export function builtinMetrics(): PairMetric[] {
  return [
    mseMetric("canonical"),
    psnrMetric("canonical", 0, "skimage peak_signal_noise_ratio(data_range=L)"),
    ssimMetric("canonical", GAUSSIAN_WINDOW, "population", SKIMAGE_GAUSSIAN),
    ...networkPlaceholders("canonical"),

    mseMetric("skimage-default"),
    psnrMetric("skimage-default", 0, "skimage peak_signal_noise_ratio(data_range=L)"),
    ssimMetric(
      "skimage-default",
      UNIFORM_WINDOW_7,
      "sample",
      "skimage structural_similarity(data_range=L) with its default window",
    ),

    mseMetric("dps-compat"),
    psnrMetric("dps-compat", 0, "DPS compute_metric.py: skimage peak_signal_noise_ratio"),
    // NOTE: FlowDPS's repository has no metric script, so its use of pytorch_msssim is
    // unverified. pytorch_msssim's ssim (valid convolution) equals the canonical value.
    ssimMetric("dps-compat", GAUSSIAN_WINDOW, "population", "pytorch_msssim ssim(win_size=11)"),
    ...networkPlaceholders("dps-compat"),

    mseMetric("deepinv-compat"),
    psnrMetric("deepinv-compat", DEEPINV_PSNR_EPSILON, "deepinv.loss.metric.PSNR"),
    ssimMetric("deepinv-compat", GAUSSIAN_WINDOW, "population", "deepinv SSIM via torchmetrics"),
    ...networkPlaceholders("deepinv-compat"),

    mseMetric("pie-compat"),
    psnrMetric("pie-compat", 0, "torchmetrics PeakSignalNoiseRatio(data_range=1.0)"),
    ssimMetric("pie-compat", GAUSSIAN_WINDOW, "population", "torchmetrics SSIM(data_range=1.0)"),
    ...pieBackgroundMetrics(),
    ...networkPlaceholders("pie-compat"),

    mseMetric("clean"),
    psnrMetric("clean", 0, "skimage peak_signal_noise_ratio(data_range=L)"),
    ssimMetric("clean", GAUSSIAN_WINDOW, "population", SKIMAGE_GAUSSIAN),
    ...cleanBackgroundMetrics(),
  ];
}
