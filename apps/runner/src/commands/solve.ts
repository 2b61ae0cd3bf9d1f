import {
  createRng,
  Denoiser,
  loadModel,
  type Problem,
  type Tensor,
  TweedieError,
} from "@tweedie/core";
import { buildOperator } from "@tweedie/operators";
import { type Command, EXIT_OK } from "../cli/command.js";
import { closest } from "../cli/suggest.js";
import { ConfigError, issuesToErrors } from "../config/issues.js";
import { modelDir } from "../exec/models.js";
import { solverRegistry } from "../solvers/registry.js";
import {
  matchChannels,
  parseBitDepth,
  readSpec,
  readTensor,
  warnClipped,
  writeTensor,
} from "./specs.js";

function imageShapeFor(
  spec: Record<string, unknown>,
  measurementShape: readonly number[],
  shapeOption: string | undefined,
): number[] {
  if (shapeOption) {
    const dims = shapeOption.split("x").map(Number);
    if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new TweedieError("invalid image shape", {
        code: "invalid_value",
        path: ["--shape"],
        expected: "CxHxW, e.g. 3x256x256",
        received: shapeOption,
      });
    }
    return dims;
  }
  const [c, h, w] = measurementShape;
  const scale =
    typeof spec.scale === "number" && String(spec.kind).startsWith("sr") ? spec.scale : 1;
  if (spec.kind === "colorization") return [3, h, w];
  if (spec.kind === "phase-retrieval") {
    throw new TweedieError("phase retrieval changes the size; give the image shape", {
      code: "missing",
      path: ["--shape"],
      expected: "CxHxW",
    });
  }
  return [c, h * scale, w * scale];
}

export const solveCommand: Command = {
  path: ["solve"],
  summary:
    "Solve one restoration (a measurement and its operator) or one edit (a source and two prompts) with one solver; no config file.",
  positionals: "",
  options: [
    {
      name: "model",
      type: "string",
      valueName: "DIR|embedded:NAME",
      description:
        "Model package folder, or embedded:patches / embedded:patches-multiscale / embedded:digits / embedded:fashion.",
    },
    {
      name: "solver",
      type: "string",
      valueName: "NAME",
      description: "Solver plugin name, e.g. dps, flowdps, pseudo-inverse, flowalign.",
    },
    {
      name: "params",
      type: "string",
      valueName: "JSON",
      description:
        "Solver parameters as a JSON object; unset ones take the plugin's documented defaults.",
    },
    {
      name: "preset",
      type: "string",
      valueName: "NAME",
      description: "A named preset of the solver; --params override its values.",
    },
    {
      name: "measurement",
      type: "string",
      valueName: "FILE",
      description:
        "Restoration: the measurement y (PNG, or .npy with its value range in a sidecar).",
    },
    {
      name: "operator",
      type: "string",
      valueName: "SPEC",
      description: "Restoration: the operator that produced y (inline JSON, @FILE or a preset).",
    },
    {
      name: "sigma-y",
      type: "string",
      valueName: "SIGMA",
      description:
        "Restoration: measurement noise standard deviation on [-1, 1] (default: the preset's, else 0).",
    },
    {
      name: "shape",
      type: "string",
      valueName: "CxHxW",
      description:
        "Restoration: the unknown image's shape when it cannot be derived from y and the operator.",
    },
    {
      name: "source",
      type: "string",
      valueName: "FILE",
      description: "Editing: the source image.",
    },
    {
      name: "source-prompt",
      type: "string",
      valueName: "TEXT",
      description: 'Editing: the prompt describing the source ("" = unconditional).',
      default: "",
    },
    {
      name: "target-prompt",
      type: "string",
      valueName: "TEXT",
      description: "Editing: the prompt of the edit.",
    },
    {
      name: "seed",
      type: "string",
      valueName: "N",
      description:
        "Seed of every random draw of the solver. A run cell also keys its draws on the clean image's content hash, which solve does not have, so seed N here draws other samples than seed N in tweedie run.",
      default: "0",
    },
    {
      name: "device",
      type: "string",
      valueName: "cpu|cuda:N",
      description: "Execution provider for the model's sessions.",
      default: "cpu",
    },
    {
      name: "out",
      type: "string",
      valueName: "FILE",
      description: "Output image: .png or .npy (float32 on [-1, 1]).",
    },
    {
      name: "bit-depth",
      type: "string",
      valueName: "8|16",
      description: "PNG bits per channel.",
      default: "8",
    },
  ],
  async run(values, _positionals, ctx) {
    for (const required of ["model", "solver", "out"]) {
      if (!values[required])
        throw new TweedieError(`missing --${required}`, {
          code: "missing",
          path: [`--${required}`],
        });
    }
    const registry = solverRegistry();
    const name = values.solver as string;
    const plugin = registry.get(name);
    if (!plugin) {
      const guess = closest(name, registry.keys());
      throw new TweedieError("unknown solver", {
        code: "not_found",
        path: ["--solver"],
        expected: [...registry.keys()],
        received: name,
        ...(guess ? { hint: `did you mean "${guess}"?` } : {}),
      });
    }
    let raw: Record<string, unknown> = {};
    if (values.preset) {
      const preset = plugin.presets[values.preset as string];
      if (!preset) {
        const guess = closest(values.preset as string, Object.keys(plugin.presets));
        throw new TweedieError("unknown preset", {
          code: "not_found",
          path: ["--preset"],
          expected: Object.keys(plugin.presets),
          received: values.preset,
          ...(guess ? { hint: `did you mean "${guess}"?` } : {}),
        });
      }
      raw = { ...preset.params };
    }
    if (values.params)
      raw = { ...raw, ...(await readSpec("--params", values.params as string)).spec };
    const parsed = plugin.paramsSchema.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigError(issuesToErrors(parsed.error.issues, plugin.paramsSchema, ["--params"]));
    }
    const params = parsed.data;
    const modelOption = values.model as string;
    const dir = modelOption.startsWith("embedded:")
      ? modelDir({ kind: "embedded", name: modelOption.slice(9), ref: modelOption })
      : modelOption;
    const model = await loadModel(dir, {
      provider: (values.device as string | undefined) ?? "cpu",
    });
    try {
      const denoiser = new Denoiser(model);
      let problem: Problem;
      if (values.source) {
        if (values.measurement !== undefined || values.operator !== undefined) {
          throw new TweedieError(
            "give --source for an edit or --measurement for a restoration, not both",
            {
              code: "invalid_value",
              path: [values.measurement !== undefined ? "--measurement" : "--operator"],
              received: values.measurement ?? values.operator,
            },
          );
        }
        if (values["target-prompt"] === undefined)
          throw new TweedieError("missing --target-prompt", {
            code: "missing",
            path: ["--target-prompt"],
          });
        const x = matchChannels(
          (await readTensor(values.source as string)).x,
          model.info.channels,
          values.source as string,
        );
        problem = {
          kind: "editing",
          denoiser,
          source: x,
          sourcePrompt: (values["source-prompt"] as string | undefined) ?? "",
          targetPrompt: values["target-prompt"] as string,
        };
      } else {
        if (!values.measurement || !values.operator) {
          throw new TweedieError(
            "restoration needs --measurement and --operator (or give --source for an edit)",
            { code: "missing", path: [values.measurement ? "--operator" : "--measurement"] },
          );
        }
        const { spec, presetNoise } = await readSpec("--operator", values.operator as string);
        const raw = (await readTensor(values.measurement as string)).x;
        // A measurement keeps the image's channels for every operator but colorization.
        const y: Tensor =
          spec.kind === "colorization"
            ? raw
            : matchChannels(raw, model.info.channels, values.measurement as string);
        const shape = imageShapeFor(spec, y.shape.slice(1), values.shape as string | undefined);
        const operator = buildOperator(spec, { imageShape: shape });
        const sigmaY =
          values["sigma-y"] !== undefined
            ? Number(values["sigma-y"])
            : presetNoise?.kind === "gaussian"
              ? Number(presetNoise.sigma) * (presetNoise.range === "[0,1]" ? 2 : 1)
              : 0;
        if (!(sigmaY >= 0))
          throw new TweedieError("invalid noise level", {
            code: "invalid_value",
            path: ["--sigma-y"],
            expected: "a number >= 0",
            received: values["sigma-y"],
          });
        problem = { kind: "restoration", denoiser, operator, y, sigmaY, shape };
      }
      const result = await plugin
        .create(params)
        .solve(problem, createRng(Number(values.seed ?? 0)).split("solve"));
      const clipped = await writeTensor(
        values.out as string,
        result.x,
        parseBitDepth(values["bit-depth"] as string | undefined),
      );
      warnClipped(clipped, result.x.size / result.x.batch, values.out as string, ctx);
      ctx.stdout(
        JSON.stringify(
          {
            output: values.out,
            solver: plugin.name,
            version: plugin.version,
            params,
            nfe: result.nfe,
            diagnostics: result.diagnostics,
          },
          (_key, value) =>
            value && typeof value === "object" && "shape" in value && "data" in value
              ? { tensor: value.shape }
              : value,
        ),
      );
      return EXIT_OK;
    } finally {
      await model.dispose();
    }
  },
};
