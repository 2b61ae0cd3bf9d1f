/**
 * Checks an ONNX graph's inputs and outputs against what the package manifest declares:
 * names, element types, ranks, static dims and the spatial size rule. The checks run on
 * the metadata of an open session (onnxruntime-node 1.31 exposes names, types and shapes
 * with symbolic dims) or on a ModelProto decoded from the file, so `inspectModelPackage`
 * can report the same problems without creating sessions.
 */
import { TweedieError } from "../errors.js";
import type { ModelManifest } from "./manifest.js";
import type { ModelObject } from "./proto.js";
import { ONNX_DATA_TYPE } from "./proto.js";
import type { OnnxDtype, OnnxValueInfo } from "./types.js";

/** The inputs and outputs of one graph. */
export interface GraphSignature {
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

/** The denoiser (or denoiser VJP) graph's values, resolved against the manifest. */
export interface DenoiserLayout {
  x: OnnxValueInfo;
  t?: OnnxValueInfo;
  alpha?: OnnxValueInfo;
  sigma?: OnnxValueInfo;
  label?: OnnxValueInfo;
  textEmbeddings?: OnnxValueInfo;
  pooledEmbeddings?: OnnxValueInfo;
  output: OnnxValueInfo;
  /** Cotangent input and VJP output (VJP graphs only). */
  g?: OnnxValueInfo;
  vjp?: OnnxValueInfo;
  /** The static batch size of x, or null when the batch dim is symbolic. */
  staticBatch: number | null;
}

/** A single-input, single-output graph such as a VAE encoder or decoder (and its VJP). */
export interface CodecLayout {
  input: OnnxValueInfo;
  /** The primal output, or for VJP graphs the VJP output. */
  output: OnnxValueInfo;
  g?: OnnxValueInfo;
  vjp?: OnnxValueInfo;
  staticBatch: number | null;
}

const FLOAT_TYPES: readonly OnnxDtype[] = ["float32", "float16"];
const INT_TYPES: readonly OnnxDtype[] = ["int32", "int64"];

function mismatch(
  file: string,
  subject: string,
  expected: string,
  received: unknown,
): TweedieError {
  const receivedText = typeof received === "string" ? received : JSON.stringify(received);
  return new TweedieError(`${file}: ${subject}: expected ${expected}; received ${receivedText}`, {
    code: "model_mismatch",
    path: [file, subject],
    expected,
    received,
  });
}

function dimsText(value: OnnxValueInfo): string {
  return `[${value.dims.join(", ")}]`;
}

class SignatureChecker {
  constructor(
    readonly file: string,
    readonly signature: GraphSignature,
  ) {}

  input(name: string, field: string): OnnxValueInfo {
    const found = this.signature.inputs.find((v) => v.name === name);
    if (found === undefined) {
      const names = this.signature.inputs.map((v) => v.name).join(", ");
      throw mismatch(
        this.file,
        `input ${name} (manifest ${field})`,
        `an input of that name; the graph inputs are ${names}`,
        "no such input",
      );
    }
    return found;
  }

  output(name: string, field: string): OnnxValueInfo {
    const found = this.signature.outputs.find((v) => v.name === name);
    if (found === undefined) {
      const names = this.signature.outputs.map((v) => v.name).join(", ");
      throw mismatch(
        this.file,
        `output ${name} (manifest ${field})`,
        `an output of that name; the graph outputs are ${names}`,
        "no such output",
      );
    }
    return found;
  }

  /** Rejects graph inputs that the manifest does not name, because nothing would feed them. */
  onlyInputs(names: readonly string[]): void {
    for (const input of this.signature.inputs) {
      if (!names.includes(input.name)) {
        throw mismatch(
          this.file,
          `input ${input.name}`,
          `only the inputs named in the manifest io (${names.join(", ")})`,
          input.name,
        );
      }
    }
  }

  dtype(value: OnnxValueInfo, allowed: readonly OnnxDtype[], role: string): void {
    if (!allowed.includes(value.dtype)) {
      throw mismatch(this.file, `${role} ${value.name} dtype`, allowed.join(" or "), value.dtype);
    }
  }

  rank(value: OnnxValueInfo, ranks: readonly number[], role: string): void {
    if (!ranks.includes(value.dims.length)) {
      throw mismatch(
        this.file,
        `${role} ${value.name} rank`,
        `rank ${ranks.join(" or ")}`,
        `${dimsText(value)} (rank ${value.dims.length})`,
      );
    }
  }

  staticDim(
    value: OnnxValueInfo,
    axis: number,
    expected: number,
    role: string,
    reason: string,
  ): void {
    const dim = value.dims[axis];
    if (typeof dim === "number" && dim !== expected) {
      throw mismatch(
        this.file,
        `${role} ${value.name} dim ${axis}`,
        `${expected} (${reason})`,
        `${dim} in ${dimsText(value)}`,
      );
    }
  }
}

function staticBatchOf(value: OnnxValueInfo): number | null {
  const dim = value.dims[0];
  return typeof dim === "number" ? dim : null;
}

/** Checks that fixed spatial dims of an image input agree with the manifest's rules. */
function checkSpatial(check: SignatureChecker, x: OnnxValueInfo, manifest: ModelManifest): void {
  const [h, w] = [x.dims[2], x.dims[3]];
  if (typeof h !== "number" && typeof w !== "number") return;
  const graphSize = `[${h}, ${w}]`;
  const rule = manifest.spatial;
  if (rule.kind !== "static") {
    throw mismatch(
      check.file,
      `input ${x.name} spatial dims`,
      `a manifest spatial rule {"kind":"static","size":${graphSize}} for a graph with fixed sides`,
      `spatial ${JSON.stringify(rule)}`,
    );
  }
  if (h !== rule.size[0] || w !== rule.size[1]) {
    throw mismatch(
      check.file,
      `input ${x.name} spatial dims`,
      `[${rule.size.join(", ")}] (manifest spatial.size)`,
      `${graphSize} in ${dimsText(x)}`,
    );
  }
}

/**
 * Resolves the denoiser graph (or, with `vjp`, the denoiser VJP graph) against the
 * manifest. Throws a model_mismatch error naming the file, the value and both sides.
 */
export function checkDenoiserSignature(
  manifest: ModelManifest,
  file: string,
  signature: GraphSignature,
  vjp = false,
): DenoiserLayout {
  const check = new SignatureChecker(file, signature);
  const { io } = manifest;
  const dtype = manifest.dtype;
  const channels = manifest.channels;
  const outputChannels = manifest.learnedVariance ? 2 * channels : channels;

  const x = check.input(io.x, "io.x");
  check.dtype(x, [dtype], "input");
  check.rank(x, [4], "input");
  check.staticDim(x, 1, channels, "input", "manifest channels");
  checkSpatial(check, x, manifest);
  const layout: DenoiserLayout = {
    x,
    output: check.output(io.output, "io.output"),
    staticBatch: staticBatchOf(x),
  };
  check.dtype(layout.output, [dtype], "output");
  check.rank(layout.output, [4], "output");
  check.staticDim(
    layout.output,
    1,
    outputChannels,
    "output",
    manifest.learnedVariance ? "2 x channels, learnedVariance" : "manifest channels",
  );

  const names = [io.x];
  if (manifest.timestepInput.kind === "alpha-sigma") {
    layout.alpha = check.input(io.alpha as string, "io.alpha");
    layout.sigma = check.input(io.sigma as string, "io.sigma");
    for (const value of [layout.alpha, layout.sigma]) {
      check.dtype(value, FLOAT_TYPES, "input");
      check.rank(value, [0, 1], "input");
      names.push(value.name);
    }
  } else {
    layout.t = check.input(io.t as string, "io.t");
    const allowed =
      manifest.timestepInput.kind === "index" ? [...FLOAT_TYPES, ...INT_TYPES] : FLOAT_TYPES;
    check.dtype(layout.t, allowed, "input");
    check.rank(layout.t, [0, 1], "input");
    names.push(layout.t.name);
  }
  if (io.label !== undefined) {
    layout.label = check.input(io.label, "io.label");
    check.dtype(layout.label, INT_TYPES, "input");
    check.rank(layout.label, [1], "input");
    names.push(layout.label.name);
  }
  if (io.textEmbeddings !== undefined) {
    layout.textEmbeddings = check.input(io.textEmbeddings, "io.textEmbeddings");
    check.dtype(layout.textEmbeddings, [dtype], "input");
    names.push(layout.textEmbeddings.name);
  }
  if (io.pooledEmbeddings !== undefined) {
    layout.pooledEmbeddings = check.input(io.pooledEmbeddings, "io.pooledEmbeddings");
    check.dtype(layout.pooledEmbeddings, [dtype], "input");
    names.push(layout.pooledEmbeddings.name);
  }
  if (vjp) {
    layout.g = check.input(io.g, "io.g");
    check.dtype(layout.g, [dtype], "input");
    check.rank(layout.g, [4], "input");
    check.staticDim(layout.g, 1, outputChannels, "input", "the channels of the output");
    layout.vjp = check.output(io.vjp, "io.vjp");
    check.dtype(layout.vjp, [dtype], "output");
    check.rank(layout.vjp, [4], "output");
    check.staticDim(layout.vjp, 1, channels, "output", "manifest channels");
    names.push(layout.g.name);
  }
  check.onlyInputs(names);
  return layout;
}

/**
 * Resolves a VAE encoder or decoder graph (or, with `vjp`, its VJP graph). The primal
 * graph has exactly one input and one output. Its VJP graph takes the primal input and
 * the cotangent io.g (shaped like the primal output) and returns io.vjp (shaped like the
 * primal input). `latentSide` names the primal side that carries the latent channels:
 * the encoder's output or the decoder's input.
 */
export function checkCodecSignature(
  manifest: ModelManifest,
  file: string,
  signature: GraphSignature,
  latentSide: "input" | "output",
  vjp = false,
): CodecLayout {
  const check = new SignatureChecker(file, signature);
  const { dtype } = manifest;
  const latentChannels = manifest.vae?.latentChannels;
  const checkValue = (value: OnnxValueInfo, role: "input" | "output", latent: boolean) => {
    check.dtype(value, [dtype], role);
    check.rank(value, [4], role);
    if (latent && latentChannels !== undefined) {
      check.staticDim(value, 1, latentChannels, role, "vae.latentChannels");
    }
  };

  const primalInputs = signature.inputs.filter((v) => !vjp || v.name !== manifest.io.g);
  if (primalInputs.length !== 1) {
    const expected = vjp ? `one input besides ${manifest.io.g}` : "exactly one input";
    throw mismatch(file, "inputs", expected, signature.inputs.map((v) => v.name).join(", "));
  }
  const input = primalInputs[0];
  checkValue(input, "input", latentSide === "input");
  const staticBatch = staticBatchOf(input);

  if (!vjp) {
    if (signature.outputs.length !== 1) {
      throw mismatch(
        file,
        "outputs",
        "exactly one output",
        signature.outputs.map((v) => v.name).join(", "),
      );
    }
    const output = signature.outputs[0];
    checkValue(output, "output", latentSide === "output");
    return { input, output, staticBatch };
  }

  const g = check.input(manifest.io.g, "io.g");
  checkValue(g, "input", latentSide === "output");
  const vjpOutput = check.output(manifest.io.vjp, "io.vjp");
  checkValue(vjpOutput, "output", latentSide === "input");
  return { input, output: vjpOutput, g, vjp: vjpOutput, staticBatch };
}

const DTYPE_BY_CODE = new Map<number, OnnxDtype>(
  (["float32", "float16", "int32", "int64"] as const).map((dtype) => [
    ONNX_DATA_TYPE[dtype],
    dtype,
  ]),
);

/**
 * Reads a graph's signature from a decoded ModelProto. Inputs that have an initializer of
 * the same name are constants with defaults, not feeds, so they are left out.
 */
export function signatureFromModel(model: ModelObject, file: string): GraphSignature {
  const graph = model.graph ?? {};
  const constants = new Set((graph.initializer ?? []).map((t) => t.name));
  const convert = (value: NonNullable<typeof graph.input>[number]): OnnxValueInfo => {
    const tensor = value.type?.tensorType;
    const dtype = DTYPE_BY_CODE.get(tensor?.elemType ?? 0);
    if (dtype === undefined) {
      throw new TweedieError(
        `${file}: ${value.name}: unsupported element type ${tensor?.elemType}`,
        {
          code: "unsupported",
          path: [file, value.name ?? ""],
          expected: "float32, float16, int32 or int64",
          received: tensor?.elemType,
        },
      );
    }
    const dims = (tensor?.shape?.dim ?? []).map((d) => d.dimParam ?? d.dimValue ?? "?");
    return { name: value.name ?? "", dtype, dims };
  };
  return {
    inputs: (graph.input ?? []).filter((v) => !constants.has(v.name)).map(convert),
    outputs: (graph.output ?? []).map(convert),
  };
}
