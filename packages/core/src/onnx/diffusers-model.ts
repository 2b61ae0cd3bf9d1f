/** The Model contract over the graphs of a diffusers / Optimum ONNX export folder. */
import type { Conditioning, Model, ModelInfo } from "../contracts/model.js";
import { TweedieError } from "../errors.js";
import type { Schedule } from "../schedules.js";
import { createSchedule, indexOf } from "../schedules.js";
import { Tensor } from "../tensor.js";
import { releaseSession } from "./adapter.js";
import type { CodecGraph, DenoiserGraph } from "./diffusers-graphs.js";
import type { DiffusersLayout } from "./diffusers-layout.js";
import { numberFeed, outputTensor, runBatched, tensorFeed } from "./feeds.js";
import type { TextConditioner } from "./text-encoder.js";
import type { OnnxTensor } from "./types.js";

/** The graphs a loaded folder opened. */
export interface DiffusersGraphs {
  denoiser: DenoiserGraph;
  denoiserVjp?: DenoiserGraph;
  encoder?: CodecGraph;
  decoder: CodecGraph;
  decoderVjp?: CodecGraph;
}

/** Settings resolved at load time. */
export interface DiffusersSettings {
  /** Flux: the value fed to the `guidance` input of guidance-distilled transformers. */
  guidanceScale: number;
  /** Token lengths fed to the text encoders, by role. */
  textLengths: Partial<Record<"clip" | "clip2" | "t5", number>>;
}

/** A latent text-to-image model loaded from a diffusers / Optimum ONNX export. */
export interface DiffusersModel extends Model {
  readonly layout: DiffusersLayout;
  readonly settings: DiffusersSettings;
  /** Scaled latent Gaussian: mean = scale (mu - shift), std = scale exp(logvar / 2). */
  encodeDistribution?(x: Tensor): Promise<{ mean: Tensor; std: Tensor }>;
}

/** Packs [N, C, H, W] into Flux's [N, (H/2)(W/2), 4C] tokens of 2x2 patches. */
export function packLatents(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const [h2, w2] = [h / 2, w / 2];
  const out = new Float32Array(x.size);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          const token = (y >> 1) * w2 + (xx >> 1);
          const feature = ch * 4 + (y & 1) * 2 + (xx & 1);
          out[(b * h2 * w2 + token) * 4 * c + feature] = x.data[((b * c + ch) * h + y) * w + xx];
        }
  return new Tensor(out, [n, h2 * w2, 4 * c]);
}

/** Inverse of `packLatents` for a latent of `channels` x `height` x `width`. */
export function unpackLatents(
  tokens: Tensor,
  channels: number,
  height: number,
  width: number,
): Tensor {
  const n = tokens.shape[0];
  const w2 = width / 2;
  const out = new Float32Array(tokens.size);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < channels; ch++)
      for (let y = 0; y < height; y++)
        for (let xx = 0; xx < width; xx++) {
          const token = (y >> 1) * w2 + (xx >> 1);
          const feature = ch * 4 + (y & 1) * 2 + (xx & 1);
          out[((b * channels + ch) * height + y) * width + xx] =
            tokens.data[(b * (height / 2) * w2 + token) * 4 * channels + feature];
        }
  return new Tensor(out, [n, channels, height, width]);
}

/** Flux position ids of the image tokens: [0, row, column] per 2x2 patch. */
function imageIds(height: number, width: number): Float32Array {
  const [h2, w2] = [height / 2, width / 2];
  const ids = new Float32Array(h2 * w2 * 3);
  for (let i = 0; i < h2; i++)
    for (let j = 0; j < w2; j++) {
      ids[(i * w2 + j) * 3 + 1] = i;
      ids[(i * w2 + j) * 3 + 2] = j;
    }
  return ids;
}

/** Repeats a batch-1 tensor to `batch` items; a tensor with `batch` items passes through. */
function repeatBatch(tensor: Tensor, batch: number, path: string): Tensor {
  if (tensor.batch === batch) return tensor;
  if (tensor.batch !== 1) {
    throw new TweedieError("conditioning batch does not match the sample batch", {
      code: "shape_mismatch",
      path: [path],
      expected: `1 or ${batch} items`,
      received: tensor.batch,
    });
  }
  const out = new Float32Array(tensor.size * batch);
  for (let i = 0; i < batch; i++) out.set(tensor.data, i * tensor.size);
  return new Tensor(out, [batch, ...tensor.shape.slice(1)]);
}

/** Builds an ids feed of `info`'s dtype, repeated over the batch when the input has a batch axis. */
function idsFeed(
  info: { dtype: OnnxTensor["dtype"]; dims: readonly (number | string)[] },
  ids: Float32Array,
  rows: number,
  batch: number,
) {
  if (info.dims.length === 2) return numberFeed(ids, info.dtype, [rows, 3]);
  const repeated = new Float32Array(ids.length * batch);
  for (let b = 0; b < batch; b++) repeated.set(ids, b * ids.length);
  return numberFeed(repeated, info.dtype, [batch, rows, 3]);
}

export class DiffusersPipelineModel implements DiffusersModel {
  readonly info: ModelInfo;
  private readonly schedule: Schedule;
  readonly vjp?: Model["vjp"];
  readonly encode?: Model["encode"];
  readonly encodeDistribution?: DiffusersModel["encodeDistribution"];
  readonly decodeVjp?: Model["decodeVjp"];

  constructor(
    readonly layout: DiffusersLayout,
    readonly settings: DiffusersSettings,
    info: ModelInfo,
    private readonly graphs: DiffusersGraphs,
    private readonly text: TextConditioner,
  ) {
    this.info = info;
    this.schedule = createSchedule(info.schedule);
    // Capabilities exist only when their graphs do, so callers can test for them.
    const { denoiserVjp, encoder, decoderVjp } = graphs;
    if (denoiserVjp !== undefined)
      this.vjp = (xt, t, cond, g) => this.runDenoiserVjp(denoiserVjp, xt, t, cond, g);
    if (encoder !== undefined) {
      this.encode = async (x) => (await this.runEncode(encoder, x)).mean;
      if (encoder.moments) this.encodeDistribution = (x) => this.runEncode(encoder, x);
    }
    if (decoderVjp !== undefined) this.decodeVjp = (z, g) => this.runDecodeVjp(decoderVjp, z, g);
  }

  async predict(xt: Tensor, t: number, cond: Conditioning): Promise<Tensor> {
    const graph = this.graphs.denoiser;
    const { perSample, shared } = this.denoiserFeeds(graph, xt, t, cond);
    const outputs = await runBatched(
      graph.session,
      perSample,
      shared,
      xt.batch,
      graph.staticBatch,
      [graph.output.name],
    );
    return this.fromGraph(
      outputTensor(outputs[graph.output.name], graph.session.label, graph.output.name),
      xt,
    );
  }

  private async runDenoiserVjp(
    graph: DenoiserGraph,
    xt: Tensor,
    t: number,
    cond: Conditioning,
    g: Tensor,
  ): Promise<{ output: Tensor; vjp: Tensor }> {
    const { perSample, shared } = this.denoiserFeeds(graph, xt, t, cond);
    const gInfo = graph.g as NonNullable<DenoiserGraph["g"]>;
    const vjpInfo = graph.vjp as NonNullable<DenoiserGraph["vjp"]>;
    perSample[gInfo.name] = tensorFeed(this.toGraph(g), gInfo.dtype);
    const names = [graph.output.name, vjpInfo.name];
    const outputs = await runBatched(
      graph.session,
      perSample,
      shared,
      xt.batch,
      graph.staticBatch,
      names,
    );
    const label = graph.session.label;
    return {
      output: this.fromGraph(
        outputTensor(outputs[graph.output.name], label, graph.output.name),
        xt,
      ),
      vjp: this.fromGraph(outputTensor(outputs[vjpInfo.name], label, vjpInfo.name), xt),
    };
  }

  async condition(prompt: string, batch: number): Promise<Conditioning> {
    if (typeof prompt !== "string") {
      throw new TweedieError("prompt must be a string", {
        code: "invalid_type",
        path: [this.info.name, "prompt"],
        expected: 'a string ("" for the unconditional branch)',
        received: prompt,
      });
    }
    if (!Number.isInteger(batch) || batch < 1) {
      throw new TweedieError("batch must be a positive integer", {
        code: "invalid_value",
        path: [this.info.name, "batch"],
        expected: "an integer >= 1",
        received: batch,
      });
    }
    const { embeddings, pooled } = await this.text.encode(prompt);
    const cond: Conditioning = {
      kind: "text",
      prompt,
      embeddings: repeatBatch(embeddings, batch, "embeddings"),
    };
    if (pooled !== undefined) cond.pooled = repeatBatch(pooled, batch, "pooled");
    return cond;
  }

  async decode(z: Tensor): Promise<Tensor> {
    const vae = this.layout.vae;
    this.checkLatent(z, "z");
    return this.runCodec(
      this.graphs.decoder,
      z.map((v) => v / vae.scale + vae.shift),
    );
  }

  /** decode(z) = D(z / scale + shift), so (d decode / dz)^T g = J_D^T g / scale. */
  private async runDecodeVjp(graph: CodecGraph, z: Tensor, g: Tensor): Promise<Tensor> {
    const vae = this.layout.vae;
    this.checkLatent(z, "z");
    const vjp = await this.runCodec(
      graph,
      z.map((v) => v / vae.scale + vae.shift),
      g,
    );
    return vjp.map((v) => v / vae.scale);
  }

  private async runEncode(graph: CodecGraph, x: Tensor): Promise<{ mean: Tensor; std: Tensor }> {
    const { scale, shift, downsample, latentChannels } = this.layout.vae;
    if (
      x.shape.length !== 4 ||
      x.shape[1] !== 3 ||
      x.shape[2] % downsample !== 0 ||
      x.shape[3] % downsample !== 0
    ) {
      throw new TweedieError(
        `model ${this.info.name}: images must be [N, 3, H, W] with sides that are multiples of ${downsample}`,
        {
          code: "shape_mismatch",
          path: [this.info.name, "x"],
          expected: `[N, 3, H, W], H and W multiples of ${downsample}`,
          received: [...x.shape],
        },
      );
    }
    const raw = await this.runCodec(graph, x);
    const [n, , h, w] = raw.shape;
    const plane = latentChannels * h * w;
    const mean = new Float32Array(n * plane);
    const std = new Float32Array(n * plane);
    for (let b = 0; b < n; b++) {
      const base = b * (graph.moments ? 2 : 1) * plane;
      for (let i = 0; i < plane; i++) {
        mean[b * plane + i] = scale * (raw.data[base + i] - shift);
        // diffusers' DiagonalGaussianDistribution clamps the log variance to [-30, 20].
        const logVariance = graph.moments
          ? Math.min(20, Math.max(-30, raw.data[base + plane + i]))
          : Number.NEGATIVE_INFINITY;
        std[b * plane + i] = scale * Math.exp(0.5 * logVariance);
      }
    }
    const shape = [n, latentChannels, h, w];
    return { mean: new Tensor(mean, shape), std: new Tensor(std, shape) };
  }

  async dispose(): Promise<void> {
    const { denoiser, denoiserVjp, encoder, decoder, decoderVjp } = this.graphs;
    for (const graph of [denoiser, denoiserVjp, encoder, decoder, decoderVjp]) {
      if (graph !== undefined) await releaseSession(graph.session);
    }
    await this.text.dispose();
  }

  /** Runs a codec graph on x (and the cotangent g for VJP graphs); returns its primal output or VJP. */
  private async runCodec(graph: CodecGraph, x: Tensor, g?: Tensor): Promise<Tensor> {
    const perSample: Record<string, OnnxTensor> = {
      [graph.input.name]: tensorFeed(x, graph.input.dtype),
    };
    let name = graph.output.name;
    if (g !== undefined && graph.g !== undefined && graph.vjp !== undefined) {
      perSample[graph.g.name] = tensorFeed(g, graph.g.dtype);
      name = graph.vjp.name;
    }
    const outputs = await runBatched(graph.session, perSample, {}, x.batch, graph.staticBatch, [
      name,
    ]);
    return outputTensor(outputs[name], graph.session.label, name);
  }

  private checkLatent(x: Tensor, name: string): void {
    const channels = this.layout.vae.latentChannels;
    const patched = this.layout.family !== "sd";
    if (
      x.shape.length !== 4 ||
      x.shape[1] !== channels ||
      (patched && (x.shape[2] % 2 !== 0 || x.shape[3] % 2 !== 0))
    ) {
      const sides = patched ? " with even H and W (2x2 patches)" : "";
      throw new TweedieError(
        `model ${this.info.name}: ${name} must be [N, ${channels}, H, W]${sides}`,
        {
          code: "shape_mismatch",
          path: [this.info.name, name],
          expected: `[N, ${channels}, H, W]${sides}`,
          received: [...x.shape],
        },
      );
    }
  }

  private toGraph(x: Tensor): Tensor {
    return this.layout.family === "flux" ? packLatents(x) : x;
  }

  private fromGraph(y: Tensor, like: Tensor): Tensor {
    if (this.layout.family !== "flux") return y;
    return unpackLatents(y, like.shape[1], like.shape[2], like.shape[3]);
  }

  /** Computes the timestep input at t: the step index (SD), 1000 sigma (SD3) or sigma (Flux). */
  private timestepValue(t: number): number {
    if (!(t >= 0 && t <= 1)) {
      throw new TweedieError(`model ${this.info.name}: t must lie in [0, 1]`, {
        code: "out_of_range",
        path: [this.info.name, "t"],
        expected: "a number in [0, 1]",
        received: t,
      });
    }
    const input = this.info.timestepInput;
    if (input.kind === "index") return indexOf(this.schedule, t);
    const sigma = this.schedule.sigma(t);
    return input.kind === "scaled" ? input.scale * sigma : sigma;
  }

  private denoiserFeeds(graph: DenoiserGraph, xt: Tensor, t: number, cond: Conditioning) {
    this.checkLatent(xt, "xt");
    if (cond.kind !== "text") {
      throw new TweedieError(`model ${this.info.name} takes text conditioning`, {
        code: "invalid_value",
        path: [this.info.name, "cond", "kind"],
        expected: "text",
        received: cond.kind,
      });
    }
    const batch = xt.batch;
    const timestep = this.timestepValue(t);
    const perSample: Record<string, OnnxTensor> = {
      [graph.x.name]: tensorFeed(this.toGraph(xt), graph.x.dtype),
      [graph.text.name]: tensorFeed(
        repeatBatch(cond.embeddings, batch, "cond.embeddings"),
        graph.text.dtype,
      ),
    };
    const shared: Record<string, OnnxTensor> = {};
    if (graph.t.dims.length === 0) shared[graph.t.name] = numberFeed([timestep], graph.t.dtype, []);
    else
      perSample[graph.t.name] = numberFeed(new Array<number>(batch).fill(timestep), graph.t.dtype, [
        batch,
      ]);

    if (graph.pooled !== undefined) {
      if (cond.pooled === undefined) {
        throw new TweedieError(`model ${this.info.name} needs pooled text embeddings`, {
          code: "missing",
          path: [this.info.name, "cond", "pooled"],
          expected: "a pooled embedding tensor",
        });
      }
      perSample[graph.pooled.name] = tensorFeed(
        repeatBatch(cond.pooled, batch, "cond.pooled"),
        graph.pooled.dtype,
      );
    }
    if (graph.imgIds !== undefined && graph.txtIds !== undefined) {
      const [h, w] = [xt.shape[2], xt.shape[3]];
      const tokens = (h / 2) * (w / 2);
      const sequence = cond.embeddings.shape[1];
      const target = graph.imgIds.dims.length === 2 ? shared : perSample;
      target[graph.imgIds.name] = idsFeed(graph.imgIds, imageIds(h, w), tokens, batch);
      const textTarget = graph.txtIds.dims.length === 2 ? shared : perSample;
      textTarget[graph.txtIds.name] = idsFeed(
        graph.txtIds,
        new Float32Array(sequence * 3),
        sequence,
        batch,
      );
    }
    if (graph.guidance !== undefined) {
      perSample[graph.guidance.name] = numberFeed(
        new Array<number>(batch).fill(this.settings.guidanceScale),
        graph.guidance.dtype,
        [batch],
      );
    }
    return { perSample, shared };
  }
}
