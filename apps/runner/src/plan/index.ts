export { canonicalJson, hashCanonical, sha256Hex } from "./canonical.js";
export {
  CELL_ID_VERSION,
  CELL_KEY_LENGTH,
  type Cell,
  type CellTask,
  type ModelIdentity,
  type Plan,
  type PlanInput,
  planCells,
} from "./cells.js";
export { hashModelPath } from "./model.js";
export {
  assignShards,
  parseShardFlag,
  resolveShard,
  type ShardSpec,
  selectShard,
} from "./shard.js";
export {
  type ParamOverride,
  resolveSolverVariants,
  type SolverInfo,
  type SolverVariant,
} from "./solvers.js";
export { type PlanSummary, renderPlanSummary, summarizePlan } from "./summary.js";
