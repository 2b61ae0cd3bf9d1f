import type { SolverPlugin } from "@tweedie/core";
import { FlowAlignSolver } from "./flowalign.js";
import { FlowEditSolver } from "./flowedit.js";
import {
  type FlowAlignParams,
  type FlowEditParams,
  flowAlignParamsSchema,
  flowAlignPresets,
  flowEditParamsSchema,
  flowEditPresets,
  type SdEditParams,
  sdEditParamsSchema,
  sdEditPresets,
} from "./params.js";
import { SdEditSolver } from "./sdedit.js";

export { maxAbs, sampleStatistics } from "./editing.js";
export {
  type Branch,
  type FlowPoint,
  type FlowPrediction,
  flowPoint,
  flowPoints,
  flowTimeOf,
  predictVelocity,
  timeAtFlowTime,
} from "./flow-time.js";
export { type FlowAlignFaults, FlowAlignSolver } from "./flowalign.js";
export { FlowEditSolver, noised } from "./flowedit.js";
export {
  type FlowAlignParams,
  type FlowEditParams,
  flowAlignParamsSchema,
  flowAlignPresets,
  flowEditParamsSchema,
  flowEditPresets,
  type SdEditParams,
  sdEditParamsSchema,
  sdEditPresets,
} from "./params.js";
export { psnrUnit, type ReverseEditResult, reverseEdit } from "./reverse.js";
export { SdEditSolver } from "./sdedit.js";

export const flowEditPlugin: SolverPlugin<FlowEditParams> = {
  name: "flowedit",
  version: "1.0.0",
  description:
    "FlowEdit: inversion-free editing that integrates the difference of target and source velocities at noised copies of the source (Kulikov et al., ICCV 2025).",
  tasks: ["editing"],
  paramsSchema: flowEditParamsSchema,
  presets: flowEditPresets,
  requires: { conditioning: true, space: "any" },
  create: (params) => new FlowEditSolver(params),
};

export const flowAlignPlugin: SolverPlugin<FlowAlignParams> = {
  name: "flowalign",
  version: "1.0.0",
  description:
    "FlowAlign: FlowEdit-like editing from pure noise with a source-consistency term that pulls the target's clean estimate toward the source's (Kim et al., ICLR 2026).",
  tasks: ["editing"],
  paramsSchema: flowAlignParamsSchema,
  presets: flowAlignPresets,
  requires: { conditioning: true, space: "any" },
  create: (params) => new FlowAlignSolver(params),
};

export const sdEditPlugin: SolverPlugin<SdEditParams> = {
  name: "sdedit",
  version: "1.0.0",
  description:
    "SDEdit: noise the source to t0 and sample the target prompt from there (Meng et al., ICLR 2022); the simplest editing baseline.",
  tasks: ["editing"],
  paramsSchema: sdEditParamsSchema,
  presets: sdEditPresets,
  requires: { conditioning: true, space: "any" },
  create: (params) => new SdEditSolver(params),
};

/** Every plugin of this package. */
export const plugins = [flowEditPlugin, flowAlignPlugin, sdEditPlugin] as const;
export {
  type DigitsClassifier,
  type DigitsEditingEntry,
  type DigitsEditingRun,
  type DigitsEditingSummary,
  type DigitsEditRecord,
  loadDigitsClassifier,
  readDigitsEditingMapping,
  runDigitsEditing,
} from "./digits-benchmark.js";
