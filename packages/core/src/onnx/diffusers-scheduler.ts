/**
 * The forward process of a diffusers pipeline, read from `scheduler/scheduler_config.json`.
 *
 * DDPM-family schedulers (DDPM, DDIM, PNDM and the other discrete ones listed in
 * VP_SCHEDULERS) share `num_train_timesteps`, `beta_start`, `beta_end`, `beta_schedule`
 * and `prediction_type`. `FlowMatchEulerDiscreteScheduler` has `shift` and the dynamic
 * shifting fields. A field the file omits takes the default of the diffusers class (0.30),
 * as diffusers itself does, and `defaults` lists those fields so a record can show them.
 */
import type { Parameterisation, ScheduleSpec } from "../contracts/model.js";
import type { JsonObject } from "./diffusers-files.js";
import { booleanField, fieldError, numberField, stringField } from "./diffusers-files.js";

/** Discrete (VP) schedulers whose config fields mean the same, with their timestep_spacing default. */
const VP_SCHEDULERS: Readonly<Record<string, "leading" | "linspace">> = {
  DDPMScheduler: "leading",
  DDIMScheduler: "leading",
  PNDMScheduler: "leading",
  LMSDiscreteScheduler: "linspace",
  EulerDiscreteScheduler: "linspace",
  EulerAncestralDiscreteScheduler: "linspace",
  DPMSolverMultistepScheduler: "linspace",
  UniPCMultistepScheduler: "linspace",
  HeunDiscreteScheduler: "linspace",
};
const FLOW_SCHEDULERS = ["FlowMatchEulerDiscreteScheduler", "FlowMatchHeunDiscreteScheduler"];

/** Shift that depends on the image token count, as FluxPipeline computes it. */
export interface DynamicShifting {
  baseShift: number;
  maxShift: number;
  baseImageSeqLen: number;
  maxImageSeqLen: number;
  /** `exponential`: shift = e^mu; `linear`: shift = mu. */
  timeShiftType: "exponential" | "linear";
}

export interface DiffusersScheduler {
  className: string;
  file: string;
  trainSteps: number;
  parameterisation: Parameterisation;
  /** VP: the beta schedule. Flow: rectified flow with the configured static shift. */
  schedule: ScheduleSpec;
  /** VP: added to every sampling step index (SD 1.5: 1). */
  stepsOffset: number;
  timestepSpacing: "leading" | "trailing" | "linspace";
  /** Flow schedulers with use_dynamic_shifting. */
  dynamicShifting?: DynamicShifting;
  /** Fields the file omits, filled with the diffusers class defaults. */
  defaults: string[];
}

/** Reads a config field, recording it in `defaults` when the class default fills it. */
function tracked<T>(config: JsonObject, field: string, defaults: string[], read: () => T): T {
  if (config[field] === undefined || config[field] === null) defaults.push(field);
  return read();
}

function vpSchedule(config: JsonObject, file: string, defaults: string[]): ScheduleSpec {
  const steps = tracked(config, "num_train_timesteps", defaults, () =>
    numberField(config, file, "num_train_timesteps", 1000),
  );
  const betaStart = tracked(config, "beta_start", defaults, () =>
    numberField(config, file, "beta_start", 0.0001),
  );
  const betaEnd = tracked(config, "beta_end", defaults, () =>
    numberField(config, file, "beta_end", 0.02),
  );
  const kind = tracked(config, "beta_schedule", defaults, () =>
    stringField(config, file, "beta_schedule", "linear"),
  );
  if (config.trained_betas !== undefined && config.trained_betas !== null) {
    throw fieldError(
      file,
      "trained_betas",
      "null (explicit betas are not supported)",
      "a list of betas",
    );
  }
  if (booleanField(config, file, "rescale_betas_zero_snr", false)) {
    throw fieldError(
      file,
      "rescale_betas_zero_snr",
      "false (zero-terminal-SNR rescaling is not supported)",
      true,
    );
  }
  switch (kind) {
    case "linear":
      return { kind: "vp-linear", betaStart, betaEnd, steps };
    case "scaled_linear":
      return { kind: "scaled-linear", betaStart, betaEnd, steps };
    case "squaredcos_cap_v2":
      return { kind: "cosine", steps };
    default:
      throw fieldError(
        file,
        "beta_schedule",
        "one of linear, scaled_linear, squaredcos_cap_v2",
        kind,
      );
  }
}

function vpParameterisation(
  config: JsonObject,
  file: string,
  defaults: string[],
): Parameterisation {
  const prediction = tracked(config, "prediction_type", defaults, () =>
    stringField(config, file, "prediction_type", "epsilon"),
  );
  switch (prediction) {
    case "epsilon":
      return "epsilon";
    case "v_prediction":
      return "v";
    case "sample":
      return "x0";
    default:
      throw fieldError(file, "prediction_type", "one of epsilon, v_prediction, sample", prediction);
  }
}

function spacing(
  config: JsonObject,
  file: string,
  fallback: "leading" | "linspace",
  defaults: string[],
) {
  const value = tracked(config, "timestep_spacing", defaults, () =>
    stringField(config, file, "timestep_spacing", fallback),
  );
  if (value !== "leading" && value !== "trailing" && value !== "linspace") {
    throw fieldError(file, "timestep_spacing", "one of leading, trailing, linspace", value);
  }
  return value;
}

function flowScheduler(config: JsonObject, file: string, className: string): DiffusersScheduler {
  const defaults: string[] = [];
  const trainSteps = tracked(config, "num_train_timesteps", defaults, () =>
    numberField(config, file, "num_train_timesteps", 1000),
  );
  const shift = tracked(config, "shift", defaults, () => numberField(config, file, "shift", 1));
  if (!(shift > 0)) throw fieldError(file, "shift", "a number > 0", shift);
  if (booleanField(config, file, "invert_sigmas", false)) {
    throw fieldError(file, "invert_sigmas", "false (inverted sigmas are not supported)", true);
  }
  const scheduler: DiffusersScheduler = {
    className,
    file,
    trainSteps,
    parameterisation: "velocity",
    schedule: { kind: "rectified-flow", shift },
    stepsOffset: 0,
    timestepSpacing: "linspace",
    defaults,
  };
  if (booleanField(config, file, "use_dynamic_shifting", false)) {
    const read = (field: string, fallback: number) =>
      tracked(config, field, defaults, () => numberField(config, file, field, fallback));
    const timeShiftType = tracked(config, "time_shift_type", defaults, () =>
      stringField(config, file, "time_shift_type", "exponential"),
    );
    if (timeShiftType !== "exponential" && timeShiftType !== "linear") {
      throw fieldError(file, "time_shift_type", "exponential or linear", timeShiftType);
    }
    scheduler.dynamicShifting = {
      baseShift: read("base_shift", 0.5),
      maxShift: read("max_shift", 1.15),
      baseImageSeqLen: read("base_image_seq_len", 256),
      maxImageSeqLen: read("max_image_seq_len", 4096),
      timeShiftType,
    };
  }
  return scheduler;
}

/**
 * Parses a scheduler config. `file` names it in errors; an unknown `_class_name` is an error
 * that lists the supported classes.
 */
export function parseSchedulerConfig(config: JsonObject, file: string): DiffusersScheduler {
  const className = stringField(config, file, "_class_name");
  if (FLOW_SCHEDULERS.includes(className)) return flowScheduler(config, file, className);
  const spacingDefault = VP_SCHEDULERS[className];
  if (spacingDefault === undefined) {
    throw fieldError(
      file,
      "_class_name",
      `one of ${[...Object.keys(VP_SCHEDULERS), ...FLOW_SCHEDULERS].join(", ")}`,
      className,
    );
  }
  const defaults: string[] = [];
  const schedule = vpSchedule(config, file, defaults);
  const parameterisation = vpParameterisation(config, file, defaults);
  const stepsOffset = tracked(config, "steps_offset", defaults, () =>
    numberField(config, file, "steps_offset", 0),
  );
  const timestepSpacing = spacing(config, file, spacingDefault, defaults);
  const trainSteps = (schedule as { steps: number }).steps;
  return {
    className,
    file,
    trainSteps,
    parameterisation,
    schedule,
    stepsOffset,
    timestepSpacing,
    defaults,
  };
}

/**
 * Computes the shift for `imageSeqLen` image tokens. mu = m imageSeqLen + b lies on the line
 * through (baseImageSeqLen, baseShift) and (maxImageSeqLen, maxShift), and the shift is e^mu
 * (exponential) or mu (linear), so that sigma -> shift sigma / (1 + (shift - 1) sigma) is
 * diffusers' map.
 */
export function dynamicShift(shifting: DynamicShifting, imageSeqLen: number): number {
  const slope =
    (shifting.maxShift - shifting.baseShift) / (shifting.maxImageSeqLen - shifting.baseImageSeqLen);
  const mu = slope * imageSeqLen + (shifting.baseShift - slope * shifting.baseImageSeqLen);
  return shifting.timeShiftType === "exponential" ? Math.exp(mu) : mu;
}
