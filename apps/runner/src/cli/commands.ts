import { datasetsCheckCommand } from "../commands/datasets.js";
import { degradeCommand } from "../commands/degrade.js";
import { demoCommand } from "../commands/demo.js";
import { leaderboardCommand } from "../commands/leaderboard.js";
import { modelsInspectCommand } from "../commands/models.js";
import { priorsBuildCommand } from "../commands/priors.js";
import { regressCommand } from "../commands/regress.js";
import { runCommand } from "../commands/run.js";
import { scoreCommand } from "../commands/score.js";
import { solveCommand } from "../commands/solve.js";
import type { Command } from "./command.js";

/** Every command of the tweedie CLI, in the order `tweedie --help` lists them. */
export const commands: readonly Command[] = [
  demoCommand,
  runCommand,
  leaderboardCommand,
  solveCommand,
  degradeCommand,
  scoreCommand,
  regressCommand,
  datasetsCheckCommand,
  modelsInspectCommand,
  priorsBuildCommand,
];
