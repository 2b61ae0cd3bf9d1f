import type { SolverPlugin } from "@tweedie/core";
import { DreamSamplerSolver } from "./dreamsampler.js";
import {
  type DreamSamplerParams,
  dreamSamplerParamsSchema,
  dreamSamplerPresets,
} from "./params.js";

export { type LoopHooks, sampleStatistics } from "./checks.js";
export { DreamSamplerSolver } from "./dreamsampler.js";
export { denoisePair, dreamEdit } from "./edit.js";
export { ddimInvert } from "./inversion.js";
export {
  ddimLevels,
  levelAt,
  type NoiseLevel,
  REFERENCE_SCHEDULES,
  timeAtAlphaBar,
} from "./levels.js";
export {
  type DreamSamplerParams,
  dreamSamplerParamsSchema,
  dreamSamplerPresets,
} from "./params.js";
export { dreamRestore, type LatentPath, type RestoreContext, textMask } from "./restore.js";

export const dreamSamplerPlugin: SolverPlugin<DreamSamplerParams> = {
  name: "dreamsampler",
  version: "1.0.0",
  description:
    "DreamSampler: DDIM inversion, then DDIM sampling whose clean estimate is a proximal mix of the null and target predictions, with conjugate-gradient data consistency for restoration (Kim, Park and Ye, ECCV 2024).",
  tasks: ["editing", "restoration"],
  paramsSchema: dreamSamplerParamsSchema,
  presets: dreamSamplerPresets,
  requires: { space: "any" },
  create: (params) => new DreamSamplerSolver(params),
};
