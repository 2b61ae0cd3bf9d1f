import { dirname, join } from "node:path";
import {
  buildDigitsPrior,
  buildPatchesPrior,
  checkDigitsPrior,
  checkPatchesPrior,
  embeddedModelDir,
  PATCHES_MULTISCALE_NAME,
  TweedieError,
  writePatchesMultiscalePackage,
} from "@tweedie/core";
import { type Command, EXIT_CELLS_FAILED, EXIT_OK } from "../cli/command.js";
import { repositoryDataDir } from "../datasets/image-folders.js";

const PRIORS = ["digits", "patches"] as const;

export const priorsBuildCommand: Command = {
  path: ["priors", "build"],
  summary:
    "Refit the embedded priors from the repository's data (seeded, deterministic) and write their model packages; --check compares a refit with the committed packages instead.",
  positionals: "",
  options: [
    {
      name: "check",
      type: "boolean",
      description:
        "Refit and exit non-zero unless the committed parameters match within 1e-6 relative; writes nothing.",
    },
    {
      name: "only",
      type: "string",
      valueName: "digits|patches",
      description: "Build or check one prior (the patches fit takes minutes).",
    },
    {
      name: "data",
      type: "string",
      valueName: "DIR",
      description: "Data folder holding digits/ and samples/ (default: the repository's data/).",
    },
  ],
  async run(values, _positionals, ctx) {
    const only = values.only as string | undefined;
    if (only !== undefined && !PRIORS.includes(only as (typeof PRIORS)[number])) {
      throw new TweedieError("unknown prior", {
        code: "invalid_value",
        path: ["--only"],
        expected: [...PRIORS],
        received: only,
      });
    }
    const data = (values.data as string | undefined) ?? repositoryDataDir();
    const names = only ? [only] : [...PRIORS];
    let failed = false;
    for (const name of names) {
      const dataDir = join(data, name === "digits" ? "digits" : "samples");
      const started = Date.now();
      if (values.check) {
        const result =
          name === "digits"
            ? await checkDigitsPrior({ dataDir })
            : await checkPatchesPrior({ dataDir });
        ctx.stdout(
          `${name}: ${result.ok ? "matches the committed package" : "differs from the committed package"} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
        );
        for (const problem of result.problems) ctx.stdout(`  ${problem}`);
        failed ||= !result.ok;
      } else {
        const outDir = embeddedModelDir(name);
        if (name === "digits") await buildDigitsPrior({ dataDir, outDir });
        else {
          await buildPatchesPrior({ dataDir, outDir });
          await writePatchesMultiscalePackage(
            outDir,
            join(dirname(outDir), PATCHES_MULTISCALE_NAME),
          );
        }
        ctx.stdout(`${name}: wrote ${outDir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    }
    return failed ? EXIT_CELLS_FAILED : EXIT_OK;
  },
};
