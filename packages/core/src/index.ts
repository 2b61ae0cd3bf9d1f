export * from "./contracts/guidance.js";
export * from "./contracts/model.js";
export * from "./contracts/operator.js";
export * from "./contracts/solver.js";
export * from "./denoiser.js";
export * from "./errors.js";
export type { Rng } from "./rng.js";
export * from "./tensor.js";
