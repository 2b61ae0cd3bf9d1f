/**
 * The "Exit codes:" line of each command's help, keyed by the command's words. Each line
 * covers what the command returns and what main() makes of an error it raises: 1 for a
 * TweedieError with code io_failed (a failed read, write, decode or S3 request), 2 for any
 * other error.
 */
export const EXIT_CODE_HELP: Readonly<Record<string, string>> = {
  demo: "0 all cells done, 1 some cells failed (listed) or writing the results failed, 2 invalid usage.",
  run: "0 all cells done (for --dry-run: the plan is valid), 1 some cells failed (listed) or reading or writing the results failed, 2 invalid usage or config.",
  leaderboard:
    "0 leaderboard written, 1 reading the stored results failed, 2 invalid usage, no run found at LOCATION, or the output file could not be written.",
  solve:
    "0 reconstruction written, 1 an existing image or model file could not be read or decoded, or writing or running the model failed, 2 invalid usage or input (a missing file or a model whose files fail their hash included).",
  degrade:
    "0 measurement written, 1 an existing image could not be read or decoded, or writing failed, 2 invalid usage or input (a missing file included).",
  score:
    "0 scores printed, 1 an existing image or feature model could not be read or decoded, 2 invalid usage or input (a missing file included).",
  regress:
    "0 the check passed, 1 it failed (drops beyond tolerance, missing rows or values, rows with fewer results, changed data or conventions, all listed) or reading stored results failed, 2 invalid usage or an unreadable leaderboard file.",
  "datasets check":
    "0 no problem found, 1 some images have problems (listed) or a dataset could not be read, 2 invalid usage or config.",
  "models inspect":
    "0 no problem found, 1 a model file could not be read or loaded, 2 the package has problems (listed) or invalid usage.",
  "priors build":
    "0 priors written (with --check: the refit matches), 1 --check found a difference (listed) or reading the data failed, 2 invalid usage.",
};
