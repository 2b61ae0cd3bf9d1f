export * from "./gmm.js";
export * from "./gmm-fit.js";
export type { SymmetricEigen } from "./gmm-linalg.js";
export { symmetricEigen } from "./gmm-linalg.js";
