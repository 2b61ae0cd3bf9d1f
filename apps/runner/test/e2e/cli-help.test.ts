import { describe, expect, it } from "vitest";
import { commands } from "../../src/cli/commands.js";
import { EXIT_CODE_HELP } from "../../src/cli/exit-codes.js";
import { runCli } from "./helpers.js";

describe("CLI help", () => {
  it("lists a group's subcommands", async () => {
    for (const group of ["datasets", "models", "priors"]) {
      const bare = await runCli([group]);
      expect(bare.code, group).toBe(2);
      expect(bare.stderr, group).toBe("");
      const lines = bare.stdout.trimEnd().split("\n");
      expect(lines[0]).toBe(
        `Usage: tweedie ${group} COMMAND [options]    (tweedie ${group} COMMAND --help for its options)`,
      );
      const listed = lines.slice(3).map((line) => line.trim().split(/\s{2,}/)[0]);
      const expected = commands
        .filter((command) => command.path[0] === group)
        .map((command) => command.path.join(" "));
      expect(listed).toEqual(expected);
    }
  }, 60_000);

  it("lists datasets subcommands on --help", async () => {
    const result = await runCli(["datasets", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("  datasets check  Check every image of a config's datasets");
    expect(result.stdout).not.toContain("unknown command");
  });

  it("still rejects an unknown subcommand", async () => {
    const result = await runCli(["datasets", "chek"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'unknown command "datasets chek" (did you mean "tweedie datasets check"?). Run "tweedie --help" for the list of commands.',
    );
  });

  it("gives every command an exit-code line", () => {
    const names = commands.map((command) => command.path.join(" ")).sort();
    expect(Object.keys(EXIT_CODE_HELP).sort()).toEqual(names);
  });

  it("ends each help with its own exit codes", async () => {
    const cases: [string[], string][] = [
      [
        ["run"],
        "Exit codes: 0 all cells done (for --dry-run: the plan is valid), 1 some cells failed (listed) or reading or writing the results failed, 2 invalid usage or config.",
      ],
      [
        ["regress"],
        "Exit codes: 0 the check passed, 1 it failed (drops beyond tolerance, missing rows or values, rows with fewer results, changed data or conventions, all listed) or reading stored results failed, 2 invalid usage or an unreadable leaderboard file.",
      ],
      [
        ["leaderboard"],
        "Exit codes: 0 leaderboard written, 1 reading the stored results failed, 2 invalid usage, no run found at LOCATION, or the output file could not be written.",
      ],
      [
        ["datasets", "check"],
        "Exit codes: 0 no problem found, 1 some images have problems (listed) or a dataset could not be read, 2 invalid usage or config.",
      ],
      [
        ["score"],
        "Exit codes: 0 scores printed, 1 an existing image or feature model could not be read or decoded, 2 invalid usage or input (a missing file included).",
      ],
      [
        ["models", "inspect"],
        "Exit codes: 0 no problem found, 1 a model file could not be read or loaded, 2 the package has problems (listed) or invalid usage.",
      ],
    ];
    for (const [words, line] of cases) {
      const result = await runCli([...words, "--help"]);
      expect(result.code, words.join(" ")).toBe(0);
      const last = result.stdout.trimEnd().split("\n").at(-1);
      expect(last, words.join(" ")).toBe(line);
    }
  }, 60_000);

  it("keeps the cell wording off other commands", async () => {
    for (const command of commands) {
      const result = await runCli([...command.path, "--help"]);
      const last = result.stdout.trimEnd().split("\n").at(-1) ?? "";
      const runLike = ["run", "demo"].includes(command.path[0]);
      expect(last.includes("cells"), command.path.join(" ")).toBe(runLike);
    }
  }, 60_000);

  it("explains linked and embedded report images", async () => {
    const result = await runCli(["leaderboard", "--help"]);
    expect(result.stdout).toContain(
      "The HTML links the images of a folder location by paths relative to the report file",
    );
    expect(result.stdout).toContain("--embed-images");
    expect(result.stdout).not.toContain("self-contained");
  });
});
