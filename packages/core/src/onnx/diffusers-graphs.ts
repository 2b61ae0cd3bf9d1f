/**
 * Signature checks for the graphs of a diffusers / Optimum export, by Optimum's names:
 *
 * - UNet (SD): sample [N, C, H, W], timestep (rank 0 or [N]; int or float, the step index),
 *   encoder_hidden_states [N, S, D] -> out_sample [N, C, H, W];
 * - SD3 transformer: hidden_states [N, C, H, W], encoder_hidden_states [N, S, D],
 *   pooled_projections [N, P], timestep [N] (1000 sigma) -> out_hidden_states;
 * - Flux transformer: hidden_states [N, HW/4, 4C] (2x2 patches packed), encoder_hidden_states,
 *   pooled_projections, timestep [N] (sigma), img_ids [HW/4, 3] (or [N, HW/4, 3] before
 *   diffusers 0.31), txt_ids [S, 3] (or [N, S, 3]), guidance [N] when guidance-distilled
 *   -> out_hidden_states [N, HW/4, 4C];
 * - VAE encoder: sample [N, 3, H, W] -> latent_parameters [N, 2C, h, w] (mean, log variance)
 *   or, in the older diffusers export, latent_sample [N, C, h, w] drawn inside the graph;
 * - VAE decoder: latent_sample [N, C, h, w] -> sample [N, 3, H, W].
 * VJP graphs take the same inputs plus `g` (shaped like the output) and add the output
 * `vjp` (shaped like the differentiated input).
 */
import { TweedieError } from "../errors.js";
import type { OnnxSession } from "./adapter.js";
import type { DiffusersFamily } from "./diffusers-layout.js";
import type { OnnxDtype, OnnxValueInfo } from "./types.js";

const FLOATS: readonly OnnxDtype[] = ["float32", "float16"];
const INTS: readonly OnnxDtype[] = ["int32", "int64"];

export interface DenoiserGraph {
  session: OnnxSession;
  x: OnnxValueInfo;
  t: OnnxValueInfo;
  text: OnnxValueInfo;
  pooled?: OnnxValueInfo;
  imgIds?: OnnxValueInfo;
  txtIds?: OnnxValueInfo;
  guidance?: OnnxValueInfo;
  output: OnnxValueInfo;
  g?: OnnxValueInfo;
  vjp?: OnnxValueInfo;
  staticBatch: number | null;
}

export interface CodecGraph {
  session: OnnxSession;
  input: OnnxValueInfo;
  output: OnnxValueInfo;
  g?: OnnxValueInfo;
  vjp?: OnnxValueInfo;
  /** Encoders: true when the output contains the mean and log variance (2C channels). */
  moments?: boolean;
  staticBatch: number | null;
}

function mismatch(
  file: string,
  subject: string,
  expected: string,
  received: unknown,
): TweedieError {
  const text = typeof received === "string" ? received : JSON.stringify(received);
  return new TweedieError(`${file}: ${subject}: expected ${expected}; received ${text}`, {
    code: "model_mismatch",
    path: [file, subject],
    expected,
    received,
  });
}

class Checker {
  constructor(private readonly session: OnnxSession) {}

  get file(): string {
    return this.session.label;
  }

  find(kind: "input" | "output", name: string): OnnxValueInfo | undefined {
    const list = kind === "input" ? this.session.inputs : this.session.outputs;
    return list.find((v) => v.name === name);
  }

  require(kind: "input" | "output", name: string, why: string): OnnxValueInfo {
    const found = this.find(kind, name);
    if (found === undefined) {
      const names = (kind === "input" ? this.session.inputs : this.session.outputs).map(
        (v) => v.name,
      );
      throw mismatch(
        this.file,
        `${kind} ${name}`,
        `an ${kind} of that name (${why}); the graph has ${names.join(", ")}`,
        "no such " + kind,
      );
    }
    return found;
  }

  check(value: OnnxValueInfo, dtypes: readonly OnnxDtype[], ranks: readonly number[]): void {
    if (!dtypes.includes(value.dtype)) {
      throw mismatch(this.file, `${value.name} dtype`, dtypes.join(" or "), value.dtype);
    }
    if (!ranks.includes(value.dims.length)) {
      throw mismatch(
        this.file,
        `${value.name} rank`,
        `rank ${ranks.join(" or ")}`,
        `[${value.dims.join(", ")}]`,
      );
    }
  }

  dim(value: OnnxValueInfo, axis: number, expected: number, reason: string): void {
    const dim = value.dims[axis];
    if (typeof dim === "number" && dim !== expected) {
      throw mismatch(
        this.file,
        `${value.name} dim ${axis}`,
        `${expected} (${reason})`,
        `[${value.dims.join(", ")}]`,
      );
    }
  }

  onlyInputs(names: readonly string[]): void {
    for (const input of this.session.inputs) {
      if (!names.includes(input.name)) {
        throw mismatch(
          this.file,
          `input ${input.name}`,
          `only the inputs ${names.join(", ")}`,
          input.name,
        );
      }
    }
  }
}

function staticBatch(value: OnnxValueInfo): number | null {
  return typeof value.dims[0] === "number" ? value.dims[0] : null;
}

/** Resolves a UNet or transformer graph (`vjp`: its VJP graph) for `latentChannels`. */
export function resolveDenoiser(
  session: OnnxSession,
  family: DiffusersFamily,
  latentChannels: number,
  vjp: boolean,
): DenoiserGraph {
  const check = new Checker(session);
  const flux = family === "flux";
  const xName = family === "sd" ? "sample" : "hidden_states";
  const outName = family === "sd" ? "out_sample" : "out_hidden_states";
  const channels = flux ? 4 * latentChannels : latentChannels;
  const why = `Optimum's ${family === "sd" ? "UNet" : "transformer"} export`;

  const x = check.require("input", xName, why);
  check.check(x, FLOATS, [flux ? 3 : 4]);
  check.dim(
    x,
    flux ? 2 : 1,
    channels,
    flux ? "4 x latent_channels of the VAE (packed 2x2 patches)" : "latent_channels of the VAE",
  );
  const output = check.require("output", outName, why);
  check.check(output, FLOATS, [flux ? 3 : 4]);
  check.dim(output, flux ? 2 : 1, channels, "the input channels");

  const t = check.require("input", "timestep", why);
  check.check(t, family === "sd" ? [...FLOATS, ...INTS] : FLOATS, [0, 1]);
  const text = check.require("input", "encoder_hidden_states", why);
  check.check(text, FLOATS, [3]);

  const graph: DenoiserGraph = { session, x, t, text, output, staticBatch: staticBatch(x) };
  const names = [xName, "timestep", "encoder_hidden_states"];
  if (family !== "sd") {
    graph.pooled = check.require("input", "pooled_projections", why);
    check.check(graph.pooled, FLOATS, [2]);
    names.push("pooled_projections");
  }
  if (flux) {
    graph.imgIds = check.require("input", "img_ids", why);
    graph.txtIds = check.require("input", "txt_ids", why);
    for (const ids of [graph.imgIds, graph.txtIds]) check.check(ids, FLOATS, [2, 3]);
    names.push("img_ids", "txt_ids");
    graph.guidance = check.find("input", "guidance");
    if (graph.guidance !== undefined) {
      check.check(graph.guidance, FLOATS, [1]);
      names.push("guidance");
    }
  }
  if (vjp) {
    graph.g = check.require("input", "g", "the cotangent of a VJP graph");
    check.check(graph.g, FLOATS, [flux ? 3 : 4]);
    graph.vjp = check.require("output", "vjp", "the output of a VJP graph");
    check.check(graph.vjp, FLOATS, [flux ? 3 : 4]);
    names.push("g");
  }
  check.onlyInputs(names);
  return graph;
}

/** Resolves the VAE encoder graph: sample -> latent_parameters (or latent_sample). */
export function resolveEncoder(session: OnnxSession, latentChannels: number): CodecGraph {
  const check = new Checker(session);
  const input = check.require("input", "sample", "Optimum's VAE encoder export");
  check.check(input, FLOATS, [4]);
  check.dim(input, 1, 3, "RGB images");
  check.onlyInputs(["sample"]);
  // NOTE: no fixture covers the older `latent_sample` output, which samples inside the graph.
  const moments = check.find("output", "latent_parameters");
  const output =
    moments ??
    check.require("output", "latent_sample", "Optimum's VAE encoder export (latent_parameters)");
  check.check(output, FLOATS, [4]);
  check.dim(
    output,
    1,
    moments ? 2 * latentChannels : latentChannels,
    moments ? "2 x latent_channels (mean, log variance)" : "latent_channels",
  );
  return {
    session,
    input,
    output,
    moments: moments !== undefined,
    staticBatch: staticBatch(input),
  };
}

/** Resolves the VAE decoder graph (`vjp`: its VJP graph): latent_sample -> sample. */
export function resolveDecoder(
  session: OnnxSession,
  latentChannels: number,
  vjp: boolean,
): CodecGraph {
  const check = new Checker(session);
  const input = check.require("input", "latent_sample", "Optimum's VAE decoder export");
  check.check(input, FLOATS, [4]);
  check.dim(input, 1, latentChannels, "latent_channels of the VAE config");
  const output = check.require("output", "sample", "Optimum's VAE decoder export");
  check.check(output, FLOATS, [4]);
  const graph: CodecGraph = { session, input, output, staticBatch: staticBatch(input) };
  if (vjp) {
    graph.g = check.require("input", "g", "the cotangent of a VJP graph");
    check.check(graph.g, FLOATS, [4]);
    graph.vjp = check.require("output", "vjp", "the output of a VJP graph");
    check.check(graph.vjp, FLOATS, [4]);
    check.onlyInputs(["latent_sample", "g"]);
  } else {
    check.onlyInputs(["latent_sample"]);
  }
  return graph;
}
