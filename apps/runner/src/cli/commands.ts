import { leaderboardCommand } from "../commands/leaderboard.js";
import { runCommand } from "../commands/run.js";
import type { Command } from "./command.js";

/** Every command of the tweedie CLI, in the order `tweedie --help` lists them. */
export const commands: readonly Command[] = [runCommand, leaderboardCommand];
