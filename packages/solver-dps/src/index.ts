import type { Solver, SolverPlugin } from "@tweedie/core";
import { DpsSolver } from "./dps.js";
import { type DpsParams, dpsParamsSchema, dpsPresets } from "./params.js";

export { sampleStatistics } from "@tweedie/core";
export type { DpsVariance } from "./dps.js";
export { DpsSolver } from "./dps.js";
export type { GradientInput, GradientResult } from "./gradient.js";
export { residualNormGradient } from "./gradient.js";
export type { DpsParams } from "./params.js";
export { dpsParamsSchema, dpsPresets, respacedZeta } from "./params.js";
export type { DdpmGrid } from "./respacing.js";
export { createDdpmGrid } from "./respacing.js";

/** The DPS solver plugin: DDPM ancestral sampling with guidance on ||y - A(x0Hat)||. */
export const dpsPlugin: SolverPlugin<DpsParams> = {
  name: "dps",
  version: "1.0.0",
  description:
    "Diffusion Posterior Sampling (Chung et al., ICLR 2023): DDPM ancestral steps with the gradient of the plain residual norm ||y - A(x0Hat)|| through the denoiser",
  tasks: ["restoration"],
  paramsSchema: dpsParamsSchema,
  presets: dpsPresets,
  requires: { space: "pixel" },
  create(params: DpsParams): Solver {
    return new DpsSolver(dpsParamsSchema.parse(params));
  },
};

export default dpsPlugin;
