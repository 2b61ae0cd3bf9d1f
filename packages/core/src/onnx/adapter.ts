/**
 * The one module that imports onnxruntime-node (1.31.1). Everything else in Tweedie talks
 * to ONNX graphs through these functions and the OnnxTensor type.
 *
 * Limits of onnxruntime-node 1.31.1 that this module works around or states:
 * - `session.run` executes synchronously on the JavaScript thread (inside a setImmediate),
 *   so runs on one thread never overlap. Parallel inference needs worker threads, and each
 *   worker creates its sessions once and reuses them.
 * - Native log lines go straight to stderr; there is no callback into JavaScript, so the
 *   session option `logSeverityLevel` is the only control (see logger.ts).
 * - float16 tensors use Uint16Array bit patterns when `globalThis.Float16Array` is absent
 *   (Node 20) and Float16Array otherwise; `toOrtTensor` and `fromOrtTensor` hide this.
 */
import * as ort from "onnxruntime-node";
import { TweedieError } from "../errors.js";
import type { Logger, LogLevel } from "./logger.js";
import { ortSeverityForLevel, silentLogger } from "./logger.js";
import type { OnnxDim, OnnxDtype, OnnxTensor, OnnxValueInfo } from "./types.js";
import { dimsSize, ONNX_DTYPES } from "./types.js";

export interface SessionOptions {
  /** `cpu` (default), `cuda` or `cuda:N` for device N, or another onnxruntime provider name. */
  provider?: string;
  /** Threads inside one operator; 0 or absent lets onnxruntime choose. */
  intraOpThreads?: number;
  /** Threads across independent operators; 0 or absent lets onnxruntime choose. */
  interOpThreads?: number;
  /** Name used in error messages, usually the model file; defaults to the path or "<memory>". */
  fileLabel?: string;
  logger?: Logger;
  /**
   * The most detailed onnxruntime native log level let through to stderr; "error" by
   * default. The first session of the process also fixes the process-wide level.
   */
  nativeLogLevel?: LogLevel | "off";
}

/** An onnxruntime session with the metadata Tweedie checks feeds against. */
export interface OnnxSession {
  readonly label: string;
  readonly provider: string;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  /** @internal */
  readonly handle: ort.InferenceSession;
  /** @internal The tail of this session's run queue. */
  queue: Promise<unknown>;
}

/** A provider request parsed from a string such as `cuda:1`. */
export interface ProviderChoice {
  name: string;
  deviceId?: number;
}

/** Returns the provider names this build of onnxruntime-node registers, `cpu` first. */
export function availableProviders(): string[] {
  const names = ort.listSupportedBackends().map((backend) => backend.name);
  return ["cpu", ...names.filter((name) => name !== "cpu")];
}

/** Returns the onnxruntime-node version, for error messages and run records. */
export function onnxruntimeVersion(): string {
  const versions = ort.env.versions as { common?: string; node?: string };
  return versions.node ?? versions.common ?? "unknown";
}

function providerChoicesText(): string {
  return availableProviders()
    .map((name) => (name === "cuda" ? "cuda, cuda:N" : name))
    .join(", ");
}

/** Parses `cpu`, `cuda`, `cuda:N` or another provider name. */
export function parseProvider(text: string): ProviderChoice {
  const trimmed = text.trim().toLowerCase();
  const match = /^([a-z][a-z0-9_-]*)(?::(\d+))?$/.exec(trimmed);
  if (match === null) {
    throw new TweedieError("invalid execution provider", {
      code: "invalid_value",
      path: ["provider"],
      expected: `one of ${providerChoicesText()}`,
      received: text,
    });
  }
  const name = match[1];
  const known = availableProviders();
  if (!known.includes(name)) {
    throw new TweedieError("unknown execution provider", {
      code: "invalid_value",
      path: ["provider"],
      expected: `one of ${providerChoicesText()}`,
      received: text,
    });
  }
  if (match[2] === undefined) return { name };
  return { name, deviceId: Number(match[2]) };
}

function executionProvider(choice: ProviderChoice): ort.InferenceSession.ExecutionProviderConfig {
  if (choice.deviceId === undefined) return choice.name;
  return {
    name: choice.name,
    deviceId: choice.deviceId,
  } as ort.InferenceSession.ExecutionProviderConfig;
}

/**
 * Creates a session with graphOptimizationLevel "all" on exactly the requested provider.
 *
 * onnxruntime-node 1.31.1 bundles only the CPU (and WebGPU) providers. Without the CUDA
 * provider libraries, a `cuda` request makes `InferenceSession.create` reject with
 * "OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library". It also
 * prints a native error about libonnxruntime_providers_shared.so to stderr, and it does
 * not fall back to the CPU. The session lists only the requested provider, so nothing
 * falls back silently, and the rejection becomes a `provider_unavailable` error.
 */
export async function createSession(
  source: string | Uint8Array,
  options: SessionOptions = {},
): Promise<OnnxSession> {
  const label = options.fileLabel ?? (typeof source === "string" ? source : "<memory>");
  const logger = options.logger ?? silentLogger;
  const providerText = options.provider ?? "cpu";
  const choice = parseProvider(providerText);

  const nativeLevel = options.nativeLogLevel ?? "error";
  setProcessLogLevel(nativeLevel);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: "all",
    executionProviders: [executionProvider(choice)],
    logSeverityLevel: ortSeverityForLevel(nativeLevel),
    logId: label,
  };
  if (options.intraOpThreads !== undefined)
    sessionOptions.intraOpNumThreads = options.intraOpThreads;
  if (options.interOpThreads !== undefined)
    sessionOptions.interOpNumThreads = options.interOpThreads;

  let handle: ort.InferenceSession;
  try {
    handle =
      typeof source === "string"
        ? await ort.InferenceSession.create(source, sessionOptions)
        : await ort.InferenceSession.create(source, sessionOptions);
  } catch (cause) {
    throw sessionCreateError(cause, label, providerText, choice);
  }

  const session: OnnxSession = {
    label,
    provider: providerText,
    inputs: handle.inputMetadata.map((m) => valueInfo(m, label)),
    outputs: handle.outputMetadata.map((m) => valueInfo(m, label)),
    handle,
    queue: Promise.resolve(),
  };
  logger.debug("onnx session created", {
    file: label,
    provider: providerText,
    inputs: session.inputs.map((v) => v.name),
    outputs: session.outputs.map((v) => v.name),
  });
  return session;
}

const ORT_ENV_LEVELS = ["verbose", "info", "warning", "error", "fatal"] as const;
let processLogLevelSet = false;

/**
 * Sets `ort.env.logLevel`, which onnxruntime-node 1.31.1 reads once, when it creates the
 * first session of the process. Messages logged outside a session (for example a provider
 * library that fails to load) follow this level, not the session option.
 */
function setProcessLogLevel(level: LogLevel | "off"): void {
  if (processLogLevelSet) return;
  processLogLevelSet = true;
  ort.env.logLevel = ORT_ENV_LEVELS[ortSeverityForLevel(level)];
}

function sessionCreateError(
  cause: unknown,
  label: string,
  providerText: string,
  choice: ProviderChoice,
): TweedieError {
  const text = cause instanceof Error ? cause.message : String(cause);
  const providerFailed =
    choice.name !== "cpu" &&
    /execution ?provider|failed to load|shared library|adapter|backend|device/i.test(text);
  if (providerFailed) {
    return new TweedieError(
      `execution provider ${providerText} could not be loaded by onnxruntime-node ${onnxruntimeVersion()}: ${text}`,
      {
        code: "provider_unavailable",
        path: [label, "provider"],
        expected: `a provider that loads on this machine (this build lists ${providerChoicesText()}; cpu always loads)`,
        received: providerText,
        cause,
      },
    );
  }
  return new TweedieError(`onnxruntime failed to load the model: ${text}`, {
    code: "io_failed",
    path: [label],
    received: text,
    cause,
  });
}

function valueInfo(metadata: ort.InferenceSession.ValueMetadata, label: string): OnnxValueInfo {
  if (!metadata.isTensor || !ONNX_DTYPES.includes(metadata.type as OnnxDtype)) {
    throw new TweedieError("graph value has an unsupported type", {
      code: "unsupported",
      path: [label, metadata.name],
      expected: `a tensor of ${ONNX_DTYPES.join(", ")}`,
      received: metadata.isTensor ? metadata.type : "a non-tensor value",
    });
  }
  return {
    name: metadata.name,
    dtype: metadata.type as OnnxDtype,
    dims: metadata.shape.map((d) => d as OnnxDim),
  };
}

/** Releases the native session; the session must not be used afterwards. */
export async function releaseSession(session: OnnxSession): Promise<void> {
  await session.queue.catch(() => undefined);
  await session.handle.release();
}

/**
 * Runs a session on named feeds and returns every output (or the named ones).
 *
 * Concurrency rule: one `session.run` at a time per session. Calls on the same session are
 * chained through `session.queue` here, so overlapping callers wait for each other.
 * onnxruntime-node 1.31.1 already runs synchronously on the JavaScript thread, but the
 * feeds are checked and converted in order only because of this queue.
 */
export function runSession(
  session: OnnxSession,
  feeds: Readonly<Record<string, OnnxTensor>>,
  outputNames?: readonly string[],
): Promise<Record<string, OnnxTensor>> {
  const run = session.queue.then(
    () => runNow(session, feeds, outputNames),
    () => runNow(session, feeds, outputNames),
  );
  session.queue = run.catch(() => undefined);
  return run;
}

async function runNow(
  session: OnnxSession,
  feeds: Readonly<Record<string, OnnxTensor>>,
  outputNames: readonly string[] | undefined,
): Promise<Record<string, OnnxTensor>> {
  checkFeeds(session, feeds);
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(tensor);

  let results: ort.InferenceSession.ReturnType;
  try {
    results =
      outputNames === undefined
        ? await session.handle.run(ortFeeds)
        : await session.handle.run(ortFeeds, [...outputNames]);
  } catch (cause) {
    const text = cause instanceof Error ? cause.message : String(cause);
    throw new TweedieError(`onnxruntime run failed: ${text}`, {
      code: "io_failed",
      path: [session.label],
      received: text,
      cause,
    });
  }

  const outputs: Record<string, OnnxTensor> = {};
  for (const [name, value] of Object.entries(results)) {
    outputs[name] = fromOrtTensor(value as ort.Tensor, session.label, name);
  }
  return outputs;
}

/** Checks feed names, element types, ranks and static dims against the session's inputs. */
export function checkFeeds(
  session: OnnxSession,
  feeds: Readonly<Record<string, OnnxTensor>>,
): void {
  for (const input of session.inputs) {
    const feed = feeds[input.name];
    if (feed === undefined) {
      checkFeedNames(session, feeds);
      throw new TweedieError("graph input is missing from the feeds", {
        code: "missing",
        path: [session.label, input.name],
        expected: `a ${input.dtype} tensor of shape [${input.dims.join(", ")}]`,
      });
    }
    checkFeed(session.label, input, feed);
  }
  // Every input has a feed now, so a count above the input count means an unknown name.
  if (Object.keys(feeds).length !== session.inputs.length) checkFeedNames(session, feeds);
}

/** Throws `not_found` for the first feed name that is not an input of the graph. */
function checkFeedNames(session: OnnxSession, feeds: Readonly<Record<string, OnnxTensor>>): void {
  const declared = session.inputs.map((v) => v.name);
  for (const name of Object.keys(feeds)) {
    if (!declared.includes(name)) {
      throw new TweedieError("feed names an input the graph does not have", {
        code: "not_found",
        path: [session.label, name],
        expected: `one of ${declared.join(", ")}`,
        received: name,
      });
    }
  }
}

function checkFeed(label: string, input: OnnxValueInfo, feed: OnnxTensor): void {
  if (feed.dtype !== input.dtype) {
    throw new TweedieError(
      `input ${input.name} of ${label} expects ${input.dtype} but was fed ${feed.dtype}`,
      {
        code: "dtype_mismatch",
        path: [label, input.name],
        expected: input.dtype,
        received: feed.dtype,
      },
    );
  }
  const rankMatches = feed.dims.length === input.dims.length;
  const staticMatches = input.dims.every((d, i) => typeof d !== "number" || d === feed.dims[i]);
  if (!rankMatches || !staticMatches) {
    throw new TweedieError(`input ${input.name} of ${label} has the wrong shape`, {
      code: "shape_mismatch",
      path: [label, input.name],
      expected: `[${input.dims.join(", ")}]`,
      received: `[${feed.dims.join(", ")}]`,
    });
  }
  if (feed.data.length !== dimsSize(feed.dims)) {
    throw new TweedieError(
      `feed ${input.name} of ${label} has a data length that does not match its dims`,
      {
        code: "shape_mismatch",
        path: [label, input.name],
        expected: dimsSize(feed.dims),
        received: feed.data.length,
      },
    );
  }
}

/** True when the running Node (or a polyfill) provides a global Float16Array. */
export function hasFloat16Array(): boolean {
  return typeof (globalThis as { Float16Array?: unknown }).Float16Array === "function";
}

/**
 * Returns the typed array that onnxruntime-common 1.31.1 expects for float16 data: a
 * Float16Array view over the same bits where the global exists, else the Uint16Array.
 * NOTE: only the Uint16Array path (Node 20) has run against the native binding; the
 * Float16Array path (Node 24 and later) is tested with a stand-in class only.
 */
export function float16Carrier(bits: Uint16Array): Uint16Array | ArrayBufferView {
  const Float16 = (
    globalThis as {
      Float16Array?: new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView;
    }
  ).Float16Array;
  if (Float16 === undefined) return bits;
  return new Float16(bits.buffer, bits.byteOffset, bits.length);
}

/** Converts our tensor value into an onnxruntime tensor, sharing the data buffer. */
export function toOrtTensor(tensor: OnnxTensor): ort.Tensor {
  const dims = [...tensor.dims];
  if (tensor.dtype === "float16") {
    return new ort.Tensor("float16", float16Carrier(tensor.data) as Uint16Array, dims);
  }
  return new ort.Tensor(tensor.dtype, tensor.data, dims);
}

/**
 * Converts an onnxruntime output tensor into our tensor value (float16 as bit patterns).
 * CPU outputs of onnxruntime-node own fresh JavaScript buffers, so the data is not copied.
 */
export function fromOrtTensor(value: ort.Tensor, label: string, name: string): OnnxTensor {
  const dims = [...value.dims];
  const data = value.data as ArrayBufferView & ArrayLike<number>;
  switch (value.type) {
    case "float32":
      return { dtype: "float32", data: data as Float32Array, dims };
    case "float16": {
      const bits = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
      return { dtype: "float16", data: bits, dims };
    }
    case "int32":
      return { dtype: "int32", data: data as Int32Array, dims };
    case "int64":
      return { dtype: "int64", data: data as unknown as BigInt64Array, dims };
    default:
      throw new TweedieError("graph output has an unsupported element type", {
        code: "unsupported",
        path: [label, name],
        expected: ONNX_DTYPES.join(", "),
        received: value.type,
      });
  }
}
