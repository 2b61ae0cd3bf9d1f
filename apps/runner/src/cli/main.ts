import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { renderError, TweedieError } from "@tweedie/core";
import { type Command, type CommandContext, EXIT_USAGE, parseArgsConfig } from "./command.js";
import { commandHelp, generalHelp, groupHelp } from "./help.js";
import { closest } from "./suggest.js";

export function runnerVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}

/** Finds the command whose path is the longest prefix of argv. */
function matchCommand(commands: readonly Command[], argv: readonly string[]): Command | undefined {
  let best: Command | undefined;
  for (const command of commands) {
    const matches = command.path.every((word, i) => argv[i] === word);
    if (matches && (!best || command.path.length > best.path.length)) best = command;
  }
  return best;
}

function unknownCommandMessage(commands: readonly Command[], argv: readonly string[]): string {
  const typed = argv
    .filter((word) => !word.startsWith("-"))
    .slice(0, 2)
    .join(" ");
  const names = commands.map((command) => command.path.join(" "));
  const guess =
    closest(typed, names, 3) ??
    closest(
      argv[0] ?? "",
      names.map((name) => name.split(" ")[0]),
      2,
    );
  const hint = guess ? ` (did you mean "tweedie ${guess}"?)` : "";
  return `unknown command "${typed}"${hint}. Run "tweedie --help" for the list of commands.`;
}

/** Runs the CLI on argv (without node and script) and returns the exit code. */
export async function main(
  argv: readonly string[],
  commands: readonly Command[],
  ctx: CommandContext,
): Promise<number> {
  const version = runnerVersion();
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    ctx.stdout(generalHelp(commands, version));
    return argv.length === 0 ? EXIT_USAGE : 0;
  }
  if (argv[0] === "--version" || argv[0] === "-v") {
    ctx.stdout(version);
    return 0;
  }
  const command = matchCommand(commands, argv);
  if (!command) {
    // A group word alone (`tweedie datasets`) or with --help lists the group's commands,
    // with the same exit codes as a bare `tweedie` and `tweedie --help`.
    const group = commands.filter(
      (candidate) => candidate.path.length > 1 && candidate.path[0] === argv[0],
    );
    const rest = argv.slice(1);
    if (group.length > 0 && rest.every((word) => word === "--help" || word === "-h")) {
      ctx.stdout(groupHelp(argv[0], group));
      return rest.length === 0 ? EXIT_USAGE : 0;
    }
    ctx.stderr(unknownCommandMessage(commands, argv));
    return EXIT_USAGE;
  }
  const rest = argv.slice(command.path.length);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: parseArgsConfig(command),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '--?([^']+)'/.exec(message)?.[1];
    const guess = unknown
      ? closest(
          unknown,
          command.options.map((option) => option.name),
        )
      : undefined;
    ctx.stderr(
      `tweedie ${command.path.join(" ")}: ${unknown ? `unknown option "--${unknown}"` : message}${guess ? ` (did you mean "--${guess}"?)` : ""}`,
    );
    ctx.stderr(`Run "tweedie ${command.path.join(" ")} --help" for its options.`);
    return EXIT_USAGE;
  }
  if (parsed.values.help) {
    ctx.stdout(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(
      parsed.values as Record<string, string | boolean | string[] | undefined>,
      parsed.positionals,
      ctx,
    );
  } catch (error) {
    ctx.stderr(`tweedie ${command.path.join(" ")}: ${renderError(error)}`);
    if (error instanceof TweedieError && error.code === "io_failed") return 1;
    return EXIT_USAGE;
  }
}
