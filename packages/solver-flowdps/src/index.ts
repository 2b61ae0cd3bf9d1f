import type { SolverPlugin } from "@tweedie/core";
import { FlowDpsSolver } from "./flowdps.js";
import { type FlowDpsParams, flowDpsParamsSchema, flowDpsPresets } from "./params.js";

export { sampleStatistics } from "@tweedie/core";
export {
  dataGradient,
  operatorNormSquared,
  type Preconditioner,
  preconditionedDirection,
  projectOntoMeasurements,
  proximalDataStep,
  resolveProjection,
} from "./data-consistency.js";
export { FlowDpsSolver, flowTimes, timeAtFlowTime } from "./flowdps.js";
export { type FlowDpsParams, flowDpsParamsSchema, flowDpsPresets } from "./params.js";

export const flowDpsPlugin: SolverPlugin<FlowDpsParams> = {
  name: "flowdps",
  version: "1.0.0",
  description:
    "FlowDPS: posterior sampling with flow models by splitting each Euler step into clean and noise estimates, with gradient steps on the clean one (Kim, Kim and Ye, ICCV 2025).",
  tasks: ["restoration"],
  paramsSchema: flowDpsParamsSchema,
  presets: flowDpsPresets,
  requires: { space: "any" },
  create: (params) => new FlowDpsSolver(params),
};
