/**
 * Model packages: a folder with `tweedie-model.json` and the ONNX graphs it lists, loaded
 * into an OnnxModel that implements the Model contract. Sessions open once at load, and
 * every graph's inputs and outputs are checked against the manifest before the first run.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import type { Conditioning, Model, ModelInfo } from "../contracts/model.js";
import { TweedieError } from "../errors.js";
import type { Schedule } from "../schedules.js";
import { createSchedule, indexOf } from "../schedules.js";
import { Tensor } from "../tensor.js";
import type { OnnxSession } from "./adapter.js";
import { createSession, releaseSession } from "./adapter.js";
import { filledFeed, numberFeed, outputTensor, runBatched, tensorFeed } from "./feeds.js";
import type { Logger } from "./logger.js";
import { silentLogger } from "./logger.js";
import type { ManifestFileRole, ModelManifest, SpatialRule } from "./manifest.js";
import { MANIFEST_FILE, readManifest } from "./manifest.js";
import type { CodecLayout, DenoiserLayout } from "./signature.js";
import { checkCodecSignature, checkDenoiserSignature } from "./signature.js";
import type { OnnxTensor } from "./types.js";

export interface LoadModelOptions {
  /** Execution provider: `cpu` (default), `cuda`, `cuda:N` or another onnxruntime name. */
  provider?: string;
  intraOpThreads?: number;
  interOpThreads?: number;
  logger?: Logger;
  /** Check each file's SHA-256 against the manifest before opening it; true unless given. */
  verifyHashes?: boolean;
  /**
   * Whether each batch item of a dynamic-batch graph runs as its own session.run. Batched kernels
   * round differently (1e-7 in the patches VJP graph), and a stochastic sampler amplifies
   * that into another sample, so only item runs make sample k the same alone or in a
   * batch. True unless given on the CPU provider, false on other providers.
   */
  itemRuns?: boolean;
}

/** A Model backed by the ONNX graphs of a model package. */
export interface OnnxModel extends Model {
  readonly dir: string;
  readonly manifest: ModelManifest;
  /** VJP of the scaled encoder at x: (d encode / dx)^T g, when the package ships an encoder VJP graph. */
  encodeVjp?(x: Tensor, g: Tensor): Promise<Tensor>;
}

/** Returns the SHA-256 of a file as lowercase hexadecimal, reading it as a stream. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Checks that every listed file exists and has the manifest's SHA-256. */
export async function verifyPackageFiles(dir: string, manifest: ModelManifest): Promise<void> {
  const manifestFile = join(dir, MANIFEST_FILE);
  for (const [role, entry] of Object.entries(manifest.files)) {
    if (entry === undefined) continue;
    const path = join(dir, entry.path);
    let actual: string;
    try {
      actual = await sha256File(path);
    } catch (cause) {
      throw new TweedieError(`${manifestFile}: files.${role}: file not found: ${path}`, {
        code: "not_found",
        path: [manifestFile, "files", role, "path"],
        expected: "an existing file inside the package folder",
        received: entry.path,
        cause,
      });
    }
    if (actual !== entry.sha256) {
      throw new TweedieError(
        `${manifestFile}: files.${role}.sha256: expected ${entry.sha256}; received ${actual} for ${entry.path}`,
        {
          code: "model_mismatch",
          path: [manifestFile, "files", role, "sha256"],
          expected: entry.sha256,
          received: actual,
          hint: "the file changed after the manifest was written; re-export it or update the hash",
        },
      );
    }
  }
}

/** Describes a spatial rule in words, for error messages and `inspect`. */
export function spatialRuleText(rule: SpatialRule): string {
  switch (rule.kind) {
    case "any":
      return "any height and width";
    case "static":
      return `height x width exactly ${rule.size[0]}x${rule.size[1]} (static export)`;
    case "multiple":
      return `height and width multiples of ${rule.multiple}`;
  }
}

function satisfiesRule(rule: SpatialRule, height: number, width: number): boolean {
  if (rule.kind === "static") return height === rule.size[0] && width === rule.size[1];
  if (rule.kind === "multiple") return height % rule.multiple === 0 && width % rule.multiple === 0;
  return true;
}

class PackageModel implements OnnxModel {
  readonly info: ModelInfo;
  private scheduleCache: Schedule | undefined;

  constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    private readonly denoiser: { session: OnnxSession; layout: DenoiserLayout },
    private readonly vjpGraph: { session: OnnxSession; layout: DenoiserLayout } | undefined,
    private readonly codecs: Partial<
      Record<
        "encoder" | "decoder" | "encoderVjp" | "decoderVjp",
        { session: OnnxSession; layout: CodecLayout }
      >
    >,
    private readonly itemRuns: boolean,
  ) {
    this.info = {
      name: manifest.name,
      parameterisation: manifest.parameterisation,
      schedule: manifest.schedule,
      timestepInput: manifest.timestepInput,
      resolution: manifest.resolution,
      channels: manifest.channels,
      space: manifest.space,
      vae: manifest.vae,
      conditioning: manifest.conditioning,
      learnedVariance: manifest.learnedVariance,
      hasVjp: vjpGraph !== undefined,
    };
    // Capabilities exist only when the package ships their graphs, so callers can test them.
    if (vjpGraph !== undefined)
      this.vjp = (xt, t, cond, g) => this.runVjp(vjpGraph, xt, t, cond, g);
    if (codecs.encoder !== undefined) this.encode = (x) => this.runEncode(x);
    if (codecs.decoder !== undefined) this.decode = (z) => this.runDecode(z);
    if (codecs.decoderVjp !== undefined) this.decodeVjp = (z, g) => this.runDecodeVjp(z, g);
    if (codecs.encoderVjp !== undefined) this.encodeVjp = (x, g) => this.runEncodeVjp(x, g);
  }

  readonly vjp?: Model["vjp"];
  readonly encode?: Model["encode"];
  readonly decode?: Model["decode"];
  readonly decodeVjp?: Model["decodeVjp"];
  readonly encodeVjp?: OnnxModel["encodeVjp"];

  /** Items per session.run: the graph's static batch, else 1 with item runs, else all. */
  private chunk(staticBatch: number | null): number | null {
    return staticBatch ?? (this.itemRuns ? 1 : null);
  }

  private get schedule(): Schedule {
    this.scheduleCache ??= createSchedule(this.manifest.schedule);
    return this.scheduleCache;
  }

  async predict(xt: Tensor, t: number, cond: Conditioning): Promise<Tensor> {
    const { session, layout } = this.denoiser;
    const { perSample, shared } = this.denoiserFeeds(layout, xt, t, cond);
    const outputs = await runBatched(
      session,
      perSample,
      shared,
      xt.batch,
      this.chunk(layout.staticBatch),
      [layout.output.name],
    );
    return outputTensor(outputs[layout.output.name], session.label, layout.output.name);
  }

  private async runVjp(
    graph: { session: OnnxSession; layout: DenoiserLayout },
    xt: Tensor,
    t: number,
    cond: Conditioning,
    g: Tensor,
  ): Promise<{ output: Tensor; vjp: Tensor }> {
    const { session, layout } = graph;
    const { perSample, shared } = this.denoiserFeeds(layout, xt, t, cond);
    const outputShape = [
      xt.batch,
      this.manifest.learnedVariance ? 2 * this.manifest.channels : this.manifest.channels,
      xt.shape[2],
      xt.shape[3],
    ];
    checkShape(g, outputShape, this.manifest.name, "g");
    const gInfo = layout.g as NonNullable<DenoiserLayout["g"]>;
    const vjpInfo = layout.vjp as NonNullable<DenoiserLayout["vjp"]>;
    perSample[gInfo.name] = tensorFeed(g, gInfo.dtype);
    const names = [layout.output.name, vjpInfo.name];
    const outputs = await runBatched(
      session,
      perSample,
      shared,
      xt.batch,
      this.chunk(layout.staticBatch),
      names,
    );
    return {
      output: outputTensor(outputs[layout.output.name], session.label, layout.output.name),
      vjp: outputTensor(outputs[vjpInfo.name], session.label, vjpInfo.name),
    };
  }

  async condition(prompt: string, batch: number): Promise<Conditioning> {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new TweedieError("batch must be a positive integer", {
        code: "invalid_value",
        path: [this.manifest.name, "batch"],
        expected: "an integer >= 1",
        received: batch,
      });
    }
    const spec = this.manifest.conditioning;
    if (spec.kind === "none") {
      if (prompt !== "") {
        throw new TweedieError(
          `model ${this.manifest.name} is unconditional and takes only the empty prompt`,
          {
            code: "unsupported",
            path: [this.manifest.name, "prompt"],
            expected: '""',
            received: prompt,
          },
        );
      }
      return { kind: "none" };
    }
    if (spec.kind === "label") {
      const label = prompt === "" ? spec.nullLabel : spec.prompts[prompt];
      if (label === undefined) {
        const accepted = [
          '"" (unconditional)',
          ...Object.keys(spec.prompts).map((p) => JSON.stringify(p)),
        ];
        throw new TweedieError(
          `model ${this.manifest.name} has no label for prompt ${JSON.stringify(prompt)}`,
          {
            code: "invalid_value",
            path: [this.manifest.name, "prompt"],
            expected: `one of ${accepted.join(", ")}`,
            received: prompt,
          },
        );
      }
      return { kind: "label", labels: new Int32Array(batch).fill(label), prompt };
    }
    // NOTE: text conditioning needs the package's tokenizer and text encoder graph, which
    // this loader does not run yet; text models can still be driven with precomputed
    // embeddings passed to predict as { kind: "text", embeddings }.
    throw new TweedieError(
      `model ${this.manifest.name}: text prompts are not supported by this loader yet`,
      {
        code: "unsupported",
        path: [this.manifest.name, "conditioning"],
        expected: "label or none conditioning",
        received: spec.kind,
      },
    );
  }

  private async runEncode(x: Tensor): Promise<Tensor> {
    const vae = this.vaeSpec();
    const codec = this.codecs.encoder as NonNullable<typeof this.codecs.encoder>;
    this.checkImageSides(x, "x", { kind: "multiple", multiple: vae.downsample });
    const raw = await this.runCodec(codec, x);
    return raw.map((v) => vae.scale * (v - vae.shift));
  }

  private async runDecode(z: Tensor): Promise<Tensor> {
    const vae = this.vaeSpec();
    const codec = this.codecs.decoder as NonNullable<typeof this.codecs.decoder>;
    this.checkLatent(z, "z");
    return this.runCodec(
      codec,
      z.map((v) => v / vae.scale + vae.shift),
    );
  }

  /** decode(z) = D(z / scale + shift), so (d decode / dz)^T g = J_D^T g / scale. */
  private async runDecodeVjp(z: Tensor, g: Tensor): Promise<Tensor> {
    const vae = this.vaeSpec();
    const codec = this.codecs.decoderVjp as NonNullable<typeof this.codecs.decoderVjp>;
    this.checkLatent(z, "z");
    const vjp = await this.runCodec(
      codec,
      z.map((v) => v / vae.scale + vae.shift),
      g,
    );
    return vjp.map((v) => v / vae.scale);
  }

  /** encode(x) = scale (E(x) - shift), so (d encode / dx)^T g = scale J_E^T g. */
  private async runEncodeVjp(x: Tensor, g: Tensor): Promise<Tensor> {
    const vae = this.vaeSpec();
    const codec = this.codecs.encoderVjp as NonNullable<typeof this.codecs.encoderVjp>;
    this.checkImageSides(x, "x", { kind: "multiple", multiple: vae.downsample });
    const vjp = await this.runCodec(codec, x, g);
    return vjp.map((v) => v * vae.scale);
  }

  async dispose(): Promise<void> {
    const sessions = [
      this.denoiser.session,
      this.vjpGraph?.session,
      ...Object.values(this.codecs).map((c) => c?.session),
    ];
    for (const session of sessions) if (session !== undefined) await releaseSession(session);
  }

  private vaeSpec(): NonNullable<ModelManifest["vae"]> {
    return this.manifest.vae as NonNullable<ModelManifest["vae"]>;
  }

  /** Runs a codec graph on x (and, for VJP graphs, the cotangent g); returns its primal output or its VJP. */
  private async runCodec(
    codec: { session: OnnxSession; layout: CodecLayout },
    x: Tensor,
    g?: Tensor,
  ): Promise<Tensor> {
    const { session, layout } = codec;
    const perSample: Record<string, OnnxTensor> = {
      [layout.input.name]: tensorFeed(x, layout.input.dtype),
    };
    let outputName = layout.output.name;
    if (g !== undefined && layout.g !== undefined && layout.vjp !== undefined) {
      perSample[layout.g.name] = tensorFeed(g, layout.g.dtype);
      outputName = layout.vjp.name;
    }
    const outputs = await runBatched(
      session,
      perSample,
      {},
      x.batch,
      this.chunk(layout.staticBatch),
      [outputName],
    );
    return outputTensor(outputs[outputName], session.label, outputName);
  }

  private checkLatent(z: Tensor, name: string): void {
    checkRankAndChannels(z, this.manifest.channels, this.manifest.name, name);
  }

  /** Checks a batch of images against a spatial rule before inference. */
  private checkImageSides(x: Tensor, name: string, rule: SpatialRule): void {
    if (x.shape.length !== 4) {
      throw new TweedieError(`model ${this.manifest.name}: ${name} must be NCHW`, {
        code: "shape_mismatch",
        path: [this.manifest.name, name],
        expected: "[N, C, H, W]",
        received: [...x.shape],
      });
    }
    const [height, width] = [x.shape[2], x.shape[3]];
    if (!satisfiesRule(rule, height, width)) {
      const ruleText = spatialRuleText(rule);
      throw new TweedieError(
        `model ${this.manifest.name} does not accept input size ${height}x${width} (height x width): it needs ${ruleText}`,
        {
          code: "shape_mismatch",
          path: [this.manifest.name, name],
          expected: ruleText,
          received: `${height}x${width}`,
          hint: "pad the image to an accepted size and crop the result back",
        },
      );
    }
  }

  private denoiserFeeds(
    layout: DenoiserLayout,
    xt: Tensor,
    t: number,
    cond: Conditioning,
  ): { perSample: Record<string, OnnxTensor>; shared: Record<string, OnnxTensor> } {
    checkRankAndChannels(xt, this.manifest.channels, this.manifest.name, "xt");
    this.checkImageSides(xt, "xt", this.manifest.spatial);
    if (!(t >= 0 && t <= 1)) {
      throw new TweedieError(`model ${this.manifest.name}: t must lie in [0, 1]`, {
        code: "out_of_range",
        path: [this.manifest.name, "t"],
        expected: "a number in [0, 1]",
        received: t,
      });
    }
    const batch = xt.batch;
    const perSample: Record<string, OnnxTensor> = {
      [layout.x.name]: tensorFeed(xt, layout.x.dtype),
    };
    const shared: Record<string, OnnxTensor> = {};
    for (const [info, value] of this.timestepValues(layout, t)) {
      if (info.dims.length === 0) shared[info.name] = filledFeed(value, info.dtype, []);
      else perSample[info.name] = filledFeed(value, info.dtype, [batch]);
    }
    this.addConditioning(layout, cond, batch, perSample);
    return { perSample, shared };
  }

  /**
   * Maps continuous t to the timestep inputs the manifest declares. For rectified flow the
   * network's time is the shifted time t' = sigma(t), so `scaled` feeds scale t' there
   * (equal to scale t when shift is 1); for VP schedules it feeds scale t.
   */
  private timestepValues(
    layout: DenoiserLayout,
    t: number,
  ): [NonNullable<DenoiserLayout["t"]>, number][] {
    const kind = this.manifest.timestepInput;
    switch (kind.kind) {
      case "index":
        return [[layout.t as NonNullable<DenoiserLayout["t"]>, indexOf(this.schedule, t)]];
      case "scaled": {
        const time = this.manifest.schedule.kind === "rectified-flow" ? this.schedule.sigma(t) : t;
        return [[layout.t as NonNullable<DenoiserLayout["t"]>, kind.scale * time]];
      }
      case "sigma":
        return [[layout.t as NonNullable<DenoiserLayout["t"]>, this.schedule.sigma(t)]];
      case "alpha-sigma":
        return [
          [layout.alpha as NonNullable<DenoiserLayout["alpha"]>, this.schedule.alpha(t)],
          [layout.sigma as NonNullable<DenoiserLayout["sigma"]>, this.schedule.sigma(t)],
        ];
    }
  }

  private addConditioning(
    layout: DenoiserLayout,
    cond: Conditioning,
    batch: number,
    feeds: Record<string, OnnxTensor>,
  ): void {
    const expectedKind = this.manifest.conditioning.kind;
    if (cond.kind !== expectedKind) {
      throw new TweedieError(`model ${this.manifest.name} takes ${expectedKind} conditioning`, {
        code: "invalid_value",
        path: [this.manifest.name, "cond", "kind"],
        expected: expectedKind,
        received: cond.kind,
      });
    }
    if (cond.kind === "label" && layout.label !== undefined) {
      if (cond.labels.length !== batch && cond.labels.length !== 1) {
        throw new TweedieError(
          `model ${this.manifest.name}: one label per sample (or one for all) is required`,
          {
            code: "shape_mismatch",
            path: [this.manifest.name, "cond", "labels"],
            expected: `1 or ${batch} labels`,
            received: cond.labels.length,
          },
        );
      }
      feeds[layout.label.name] =
        cond.labels.length === 1
          ? filledFeed(cond.labels[0], layout.label.dtype, [batch])
          : numberFeed(cond.labels, layout.label.dtype, [batch]);
    }
    if (cond.kind === "text" && layout.textEmbeddings !== undefined) {
      feeds[layout.textEmbeddings.name] = tensorFeed(
        repeatBatch(cond.embeddings, batch),
        layout.textEmbeddings.dtype,
      );
      if (layout.pooledEmbeddings !== undefined) {
        if (cond.pooled === undefined) {
          throw new TweedieError(`model ${this.manifest.name} needs pooled text embeddings`, {
            code: "missing",
            path: [this.manifest.name, "cond", "pooled"],
            expected: "a pooled embedding tensor",
          });
        }
        feeds[layout.pooledEmbeddings.name] = tensorFeed(
          repeatBatch(cond.pooled, batch),
          layout.pooledEmbeddings.dtype,
        );
      }
    }
  }
}

/** Repeats a batch-1 tensor `batch` times; tensors that already have `batch` items pass through. */
function repeatBatch(tensor: Tensor, batch: number): Tensor {
  if (tensor.batch === batch) return tensor;
  if (tensor.batch !== 1) {
    throw new TweedieError("conditioning batch does not match the sample batch", {
      code: "shape_mismatch",
      path: ["cond"],
      expected: `1 or ${batch} items`,
      received: tensor.batch,
    });
  }
  const out = new Float32Array(tensor.size * batch);
  for (let i = 0; i < batch; i++) out.set(tensor.data, i * tensor.size);
  return new Tensor(out, [batch, ...tensor.shape.slice(1)]);
}

function checkRankAndChannels(x: Tensor, channels: number, model: string, name: string): void {
  if (x.shape.length !== 4 || x.shape[1] !== channels) {
    throw new TweedieError(`model ${model}: ${name} must be [N, ${channels}, H, W]`, {
      code: "shape_mismatch",
      path: [model, name],
      expected: `[N, ${channels}, H, W]`,
      received: [...x.shape],
    });
  }
}

function checkShape(x: Tensor, shape: readonly number[], model: string, name: string): void {
  if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
    throw new TweedieError(`model ${model}: ${name} has the wrong shape`, {
      code: "shape_mismatch",
      path: [model, name],
      expected: [...shape],
      received: [...x.shape],
    });
  }
}

/**
 * Loads a model package folder: validates the manifest, checks file hashes, opens one
 * session per graph and checks each graph's inputs and outputs against the manifest.
 */
export async function loadModelPackage(
  dir: string,
  options: LoadModelOptions = {},
): Promise<OnnxModel> {
  const logger = options.logger ?? silentLogger;
  const manifest = await readManifest(dir);
  if (options.verifyHashes ?? true) await verifyPackageFiles(dir, manifest);

  const opened: OnnxSession[] = [];
  const open = async (role: ManifestFileRole): Promise<OnnxSession | undefined> => {
    const entry = manifest.files[role];
    if (entry === undefined) return undefined;
    const session = await createSession(join(dir, entry.path), {
      provider: options.provider,
      intraOpThreads: options.intraOpThreads,
      interOpThreads: options.interOpThreads,
      logger,
      fileLabel: join(dir, entry.path),
    });
    opened.push(session);
    return session;
  };

  try {
    const denoiserSession = (await open("denoiser")) as OnnxSession;
    const denoiser = {
      session: denoiserSession,
      layout: checkDenoiserSignature(manifest, denoiserSession.label, denoiserSession),
    };
    const vjpSession = await open("vjp");
    const vjp = vjpSession && {
      session: vjpSession,
      layout: checkDenoiserSignature(manifest, vjpSession.label, vjpSession, true),
    };
    const codecs: ConstructorParameters<typeof PackageModel>[4] = {};
    const codecRoles = [
      ["encoder", "vaeEncoder", "output", false],
      ["decoder", "vaeDecoder", "input", false],
      ["encoderVjp", "vaeEncoderVjp", "output", true],
      ["decoderVjp", "vaeDecoderVjp", "input", true],
    ] as const;
    for (const [key, role, latentSide, isVjp] of codecRoles) {
      const session = await open(role);
      if (session !== undefined) {
        codecs[key] = {
          session,
          layout: checkCodecSignature(manifest, session.label, session, latentSide, isVjp),
        };
      }
    }
    logger.info("model package loaded", {
      name: manifest.name,
      version: manifest.version,
      dir,
      graphs: opened.length,
    });
    const provider = options.provider ?? "cpu";
    const itemRuns = options.itemRuns ?? provider === "cpu";
    return new PackageModel(dir, manifest, denoiser, vjp, codecs, itemRuns);
  } catch (error) {
    for (const session of opened) await releaseSession(session);
    throw error;
  }
}
