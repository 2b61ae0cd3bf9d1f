import type { Command } from "./command.js";
import { EXIT_CODE_HELP } from "./exit-codes.js";

export function usageLine(command: Command): string {
  const words = ["tweedie", ...command.path].join(" ");
  const positionals = command.positionals ? ` ${command.positionals}` : "";
  return `Usage: ${words}${positionals} [options]`;
}

export function commandHelp(command: Command): string {
  const lines = [usageLine(command), "", command.summary, ""];
  if (command.options.length > 0) {
    lines.push("Options:");
    const rows = command.options.map((option) => {
      const value = option.type === "string" ? ` ${option.valueName ?? "VALUE"}` : "";
      const flag = `${option.short ? `-${option.short}, ` : ""}--${option.name}${value}`;
      const fallback = option.default === undefined ? "" : ` (default: ${String(option.default)})`;
      return [flag, `${option.description}${fallback}`] as const;
    });
    rows.push(["-h, --help", "Print this help."]);
    const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
    for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`);
  }
  const exitCodes = EXIT_CODE_HELP[command.path.join(" ")];
  if (exitCodes) lines.push("", `Exit codes: ${exitCodes}`);
  return lines.join("\n");
}

/** Lists the subcommands of a command group such as `datasets` or `priors`. */
export function groupHelp(group: string, subcommands: readonly Command[]): string {
  const lines = [
    `Usage: tweedie ${group} COMMAND [options]    (tweedie ${group} COMMAND --help for its options)`,
    "",
    "Commands:",
  ];
  const rows = subcommands.map((command) => [command.path.join(" "), command.summary] as const);
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  for (const [name, summary] of rows) lines.push(`  ${name.padEnd(width)}${summary}`);
  return lines.join("\n");
}

export function generalHelp(commands: readonly Command[], version: string): string {
  const lines = [
    `tweedie ${version}: training-free guided diffusion solvers and their evaluation harness`,
    "",
    "Usage: tweedie COMMAND [options]    (tweedie COMMAND --help for its options)",
    "",
    "Commands:",
  ];
  const rows = commands.map((command) => [command.path.join(" "), command.summary] as const);
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  for (const [name, summary] of rows) lines.push(`  ${name.padEnd(width)}${summary}`);
  return lines.join("\n");
}
