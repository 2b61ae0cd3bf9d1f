import { createRng, TweedieError } from "@tweedie/core";
import { buildOperator, measure } from "@tweedie/operators";
import { type Command, EXIT_OK } from "../cli/command.js";
import { parseBitDepth, readSpec, readTensor, warnClipped, writeTensor } from "./specs.js";

export const degradeCommand: Command = {
  path: ["degrade"],
  summary:
    "Apply an operator and seeded noise to one image and write the measurement (PNG or exact .npy).",
  positionals: "INPUT",
  options: [
    {
      name: "operator",
      type: "string",
      valueName: "SPEC",
      description:
        "Operator: inline JSON, @FILE or a preset name such as dps-sr4 (which brings its noise).",
    },
    {
      name: "noise",
      type: "string",
      valueName: "SPEC",
      description:
        'Noise: inline JSON or @FILE, e.g. {"kind":"gaussian","sigma":0.05,"range":"[-1,1]"}; sigma must state its range.',
    },
    {
      name: "seed",
      type: "string",
      valueName: "N",
      description: "Seed of the noise and of random kernels or masks without their own seed.",
      default: "0",
    },
    {
      name: "out",
      type: "string",
      valueName: "FILE",
      description:
        "Output: .png (8 or 16 bit) or .npy (float32 on [-1, 1], with a sidecar stating the range).",
    },
    {
      name: "bit-depth",
      type: "string",
      valueName: "8|16",
      description: "PNG bits per channel.",
      default: "8",
    },
  ],
  async run(values, positionals, ctx) {
    const [input] = positionals;
    if (!input)
      throw new TweedieError("expected an input image", { code: "missing", path: ["INPUT"] });
    if (!values.operator)
      throw new TweedieError("missing --operator", { code: "missing", path: ["--operator"] });
    if (!values.out) throw new TweedieError("missing --out", { code: "missing", path: ["--out"] });
    const seed = Number(values.seed ?? 0);
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new TweedieError("invalid seed", {
        code: "invalid_value",
        path: ["--seed"],
        expected: "a non-negative integer",
        received: values.seed,
      });
    const { spec, presetNoise } = await readSpec("--operator", values.operator as string);
    const noise = values.noise
      ? (await readSpec("--noise", values.noise as string)).spec
      : (presetNoise ?? { kind: "none" });
    const { x } = await readTensor(input);
    const operator = buildOperator(
      { ...spec, ...("seed" in spec || !needsSeed(spec) ? {} : { seed }) },
      { imageShape: x.shape.slice(1) },
    );
    const { y, record } = measure(operator, x, noise, createRng(seed).split("degrade", input));
    const clipped = await writeTensor(
      values.out as string,
      y,
      parseBitDepth(values["bit-depth"] as string | undefined),
    );
    warnClipped(clipped, y.size / y.batch, values.out as string, ctx);
    ctx.stdout(
      JSON.stringify({
        input,
        output: values.out,
        shape: y.shape.slice(1),
        operator: summary(operator.spec),
        noise: record,
      }),
    );
    return EXIT_OK;
  },
};

function needsSeed(spec: Record<string, unknown>): boolean {
  return (
    spec.kind === "motion-blur" ||
    (spec.kind === "inpainting" && spec.pattern !== "mask" && spec.placement !== "centred")
  );
}

/** Shortens large arrays (kernels, masks) in a spec, for a one-line report. */
function summary(spec: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(spec).map(([key, value]) => [
      key,
      Array.isArray(value) && value.length > 16 ? `[${value.length} values]` : value,
    ]),
  );
}
