import type { ParseArgsConfig } from "node:util";

/** Exit codes of every tweedie command. */
export const EXIT_OK = 0;
export const EXIT_CELLS_FAILED = 1;
export const EXIT_USAGE = 2;

export interface OptionHelp {
  /** Option name without dashes. */
  name: string;
  type: "string" | "boolean";
  /** What the option sets, with its unit. */
  description: string;
  valueName?: string;
  short?: string;
  multiple?: boolean;
  default?: string | boolean;
}

export interface CommandContext {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface Command {
  /** Words after `tweedie`, e.g. ["priors", "build"]. */
  path: readonly string[];
  summary: string;
  /** Positional arguments as shown in the usage line, e.g. "CONFIG". */
  positionals: string;
  options: readonly OptionHelp[];
  /** Runs the command; returns the exit code. */
  run(
    values: Record<string, string | boolean | string[] | undefined>,
    positionals: string[],
    ctx: CommandContext,
  ): Promise<number>;
}

export function parseArgsConfig(command: Command): ParseArgsConfig["options"] {
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const option of command.options) {
    options[option.name] = {
      type: option.type,
      ...(option.short ? { short: option.short } : {}),
      ...(option.multiple ? { multiple: true } : {}),
    };
  }
  options.help = { type: "boolean", short: "h" };
  return options;
}
