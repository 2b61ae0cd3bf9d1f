export * from "./config/index.js";
export * from "./datasets/index.js";
export * from "./plan/index.js";
export * from "./store/index.js";
