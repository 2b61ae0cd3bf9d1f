import type { Command } from "./command.js";

/** Every command of the tweedie CLI, in the order `tweedie --help` lists them. */
export const commands: readonly Command[] = [];
