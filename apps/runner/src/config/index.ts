export { ConfigError, issuesToErrors, objectKeysAt } from "./issues.js";
export { loadConfigFile, parseConfig, parseConfigText } from "./load.js";
export {
  collectSecrets,
  REDACTED,
  redactText,
  redactValue,
  SECRET_ENV_VARS,
} from "./redact.js";
export {
  checkCommonParams,
  type ModelRef,
  type ResolvedDataset,
  type ResolvedSolver,
  type ResolvedTask,
  resolveConfig,
  type TweedieConfig,
} from "./resolve.js";
export {
  type ConfigInput,
  configSchema,
  type ParsedConfig,
  type Range,
  type S3Settings,
  type SolverEntry,
  type Sweep,
} from "./schema.js";
export { expandParams, type JsonObject, type JsonValue, MAX_PARAM_SETS } from "./sweep.js";
