import { inspectModelPackage, TweedieError } from "@tweedie/core";
import { type Command, EXIT_OK, EXIT_USAGE } from "../cli/command.js";
import { modelDir } from "../exec/models.js";

export const modelsInspectCommand: Command = {
  path: ["models", "inspect"],
  summary:
    "Print a model package's manifest, graphs (inputs, outputs, dtypes) and any problem found, without running it.",
  positionals: "DIR|embedded:NAME",
  options: [
    {
      name: "verify-hashes",
      type: "boolean",
      description: "Also check every file's SHA-256 against the manifest.",
    },
  ],
  async run(values, positionals, ctx) {
    const [target] = positionals;
    if (!target)
      throw new TweedieError("expected a model package", { code: "missing", path: ["DIR"] });
    const dir = target.startsWith("embedded:")
      ? modelDir({ kind: "embedded", name: target.slice(9), ref: target })
      : target;
    const summary = await inspectModelPackage(dir, {
      verifyHashes: Boolean(values["verify-hashes"]),
    });
    ctx.stdout(JSON.stringify(summary, null, 2));
    return summary.problems.length > 0 ? EXIT_USAGE : EXIT_OK;
  },
};
