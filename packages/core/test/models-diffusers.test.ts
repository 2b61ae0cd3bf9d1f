import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Conditioning, DiffusersModel, Model } from "../src/index.js";
import {
  Denoiser,
  dynamicShift,
  loadDiffusersPackage,
  loadModel,
  packLatents,
  type Tensor,
  TweedieError,
  timeAtSigma,
  unpackLatents,
} from "../src/index.js";
import {
  copyFixture,
  expectProbe,
  FIXTURES,
  type PipelineReferences,
  pattern,
  readReferences,
} from "./models-helpers.js";

const loaded = new Map<string, Promise<DiffusersModel>>();

/** The fixture `name` loaded once for the whole file (Flux at 32 x 32 pixels). */
function fixture(name: "sd15" | "sd3" | "flux"): Promise<DiffusersModel> {
  let model = loaded.get(name);
  if (model === undefined) {
    model = loadDiffusersPackage(
      join(FIXTURES, name),
      name === "flux" ? { resolution: [32, 32] } : {},
    );
    loaded.set(name, model);
  }
  return model;
}

afterAll(async () => {
  for (const model of loaded.values()) await (await model).dispose();
});

/** Counts predict calls and the batch of each, to show that CFG runs as one batch. */
function countCalls(model: Model): number[] {
  const batches: number[] = [];
  const predict = model.predict.bind(model);
  (model as { predict: Model["predict"] }).predict = (xt, t, cond) => {
    batches.push(xt.batch);
    return predict(xt, t, cond);
  };
  return batches;
}

async function editJson(
  file: string,
  edit: (value: Record<string, unknown>) => void,
): Promise<void> {
  const value = JSON.parse(await readFile(file, "utf8"));
  edit(value);
  await writeFile(file, JSON.stringify(value));
}

async function loadError(dir: string): Promise<TweedieError> {
  const error = await loadDiffusersPackage(dir).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TweedieError);
  return error as TweedieError;
}

/**
 * The whole path of one fixture: prompt -> tokens -> text encoders -> batched CFG at one
 * step -> x0Hat -> VAE decode, each compared with PyTorch, plus encode and the VJP graphs.
 */
function describePipeline(
  name: "sd15" | "sd3" | "flux",
  timeOf: (model: DiffusersModel, refs: PipelineReferences) => number,
) {
  describe(`${name} pipeline`, () => {
    let model: DiffusersModel;
    let refs: PipelineReferences;
    let uncond: Conditioning;
    let cond: Conditioning;

    beforeAll(async () => {
      refs = await readReferences(name);
      model = await fixture(name);
      uncond = await model.condition("", 1);
      cond = await model.condition(refs.prompt, 1);
    });

    it("encodes prompts as the pipeline does", () => {
      if (uncond.kind !== "text" || cond.kind !== "text")
        throw new Error("text conditioning expected");
      expectProbe(uncond.embeddings, refs.embeddings.uncond, 1e-4, "uncond embeddings");
      expectProbe(cond.embeddings, refs.embeddings.cond, 1e-4, "cond embeddings");
      if (refs.embeddings.pooledCond !== undefined) {
        expectProbe(cond.pooled as Tensor, refs.embeddings.pooledCond, 1e-4, "pooled");
        expectProbe(uncond.pooled as Tensor, refs.embeddings.pooledUncond, 1e-4, "pooled uncond");
      } else {
        expect(cond.pooled).toBeUndefined();
      }
    });

    it("runs CFG in one batched call and matches x0Hat", async () => {
      const denoise = refs.denoise;
      const batches = countCalls(model);
      const denoiser = new Denoiser(model);
      const t = timeOf(model, refs);
      const x = pattern(denoise.x);
      const guided = await denoiser.guided(x, t, uncond, cond, denoise.cfgScale);
      expect(batches).toEqual([2]);
      expectProbe(guided.x0Hat, denoise.x0Hat, 2e-4, "x0Hat");
      expectProbe(await model.predict(x, t, cond), denoise.rawCond, 1e-4, "raw cond");
      const decoded = await (model.decode as NonNullable<Model["decode"]>)(guided.x0Hat);
      expectProbe(decoded, denoise.decoded, 2e-4, "decoded");
    });

    it("encodes images through the VAE encoder", async () => {
      const vae = refs.vae;
      const image = pattern(vae.image);
      expectProbe(
        await (model.encode as NonNullable<Model["encode"]>)(image),
        vae.encodeMean,
        1e-4,
        "latent mean",
      );
      const distribution = await (
        model.encodeDistribution as NonNullable<DiffusersModel["encodeDistribution"]>
      )(image);
      expectProbe(distribution.std, vae.encodeStd, 1e-4, "latent std");
    });

    if (name !== "flux") {
      it("runs the decoder VJP graph, scaled by 1 / scale", async () => {
        const ref = refs.vae.decoderVjp;
        // The reference differentiates the raw decoder at z, which decode reaches from scale (z - shift).
        const { scale, shift } = model.layout.vae;
        const z = pattern(ref.z).map((v) => scale * (v - shift));
        const vjp = await (model.decodeVjp as NonNullable<Model["decodeVjp"]>)(z, pattern(ref.g));
        expectProbe(
          vjp.map((v) => v * model.layout.vae.scale),
          ref.raw,
          1e-4,
          "decoder vjp",
        );
      });
    }

    it("runs the denoiser VJP graph", async () => {
      const ref = name === "sd15" ? refs.unetVjp : refs.transformerVjp;
      if (ref === undefined) throw new Error("references.json has no denoiser VJP probe");
      expect(model.info.hasVjp).toBe(true);
      const t = timeOf(model, refs);
      const out = await (model.vjp as NonNullable<Model["vjp"]>)(
        pattern(refs.denoise.x),
        t,
        cond,
        pattern(ref.g),
      );
      expectProbe(out.vjp, ref.raw, 1e-4, "denoiser vjp");
      expectProbe(out.output, refs.denoise.rawCond, 1e-4, "vjp graph output");
    });
  });
}

describePipeline("sd15", (_model, refs) => ((refs.denoise.timestepIndex as number) + 1) / 1000);
describePipeline("sd3", (model, refs) =>
  timeAtSigma(new Denoiser(model).schedule, refs.denoise.sigma as number),
);
describePipeline("flux", (model, refs) =>
  timeAtSigma(new Denoiser(model).schedule, refs.denoise.sigma as number),
);

describe("settings from the files", () => {
  it("sd15 reads PNDM's scaled-linear betas and fills class defaults", async () => {
    const model = await fixture("sd15");
    expect(model.info.schedule).toEqual({
      kind: "scaled-linear",
      betaStart: 0.00085,
      betaEnd: 0.012,
      steps: 1000,
    });
    expect(model.info.parameterisation).toBe("epsilon");
    expect(model.info.timestepInput).toEqual({ kind: "index" });
    expect(model.info.vae).toEqual({ scale: 0.18215, shift: 0, downsample: 4, latentChannels: 4 });
    expect(model.info.resolution).toEqual([32, 32]);
    expect(model.layout.scheduler.stepsOffset).toBe(1);
    expect(model.layout.scheduler.defaults).toEqual(["prediction_type", "timestep_spacing"]);
    expect(model.layout.vae.defaults).toEqual(["shift_factor"]);
    expect(model.settings.textLengths).toEqual({ clip: 77 });
  });

  it("picks up edited scheduler fields", async () => {
    const dir = await copyFixture("sd15");
    await editJson(join(dir, "scheduler", "scheduler_config.json"), (config) => {
      config._class_name = "DDIMScheduler";
      config.prediction_type = "v_prediction";
      config.beta_schedule = "linear";
      config.beta_start = 0.0002;
      config.num_train_timesteps = 500;
      config.timestep_spacing = "trailing";
    });
    const model = await loadDiffusersPackage(dir);
    expect(model.info.parameterisation).toBe("v");
    expect(model.info.schedule).toEqual({
      kind: "vp-linear",
      betaStart: 0.0002,
      betaEnd: 0.012,
      steps: 500,
    });
    expect(model.layout.scheduler.timestepSpacing).toBe("trailing");
    await model.dispose();
    await rm(dir, { recursive: true });
  });

  it("sd3 reads the shift and feeds 1000 sigma", async () => {
    const original = await fixture("sd3");
    expect(original.info.schedule).toEqual({ kind: "rectified-flow", shift: 3 });
    expect(original.info.timestepInput).toEqual({ kind: "scaled", scale: 1000 });
    expect(original.info.vae).toEqual({
      scale: 1.5305,
      shift: 0.0609,
      downsample: 4,
      latentChannels: 4,
    });
    expect(original.settings.textLengths).toEqual({ clip: 77, clip2: 77, t5: 77 });
    const dir = await copyFixture("sd3");
    await editJson(join(dir, "scheduler", "scheduler_config.json"), (config) => {
      config.shift = 2.5;
    });
    const edited = await loadDiffusersPackage(dir);
    expect(edited.info.schedule).toEqual({ kind: "rectified-flow", shift: 2.5 });
    await edited.dispose();
    // With dynamic shifting the shift follows the image tokens: (32 / 4 / 2)^2 = 16 patches.
    await editJson(join(dir, "scheduler", "scheduler_config.json"), (config) => {
      config.use_dynamic_shifting = true;
    });
    const dynamic = await loadDiffusersPackage(dir, { resolution: [32, 32] });
    const shifting = dynamic.layout.scheduler.dynamicShifting;
    if (shifting === undefined) throw new Error("dynamic shifting expected");
    expect(dynamic.info.schedule).toEqual({
      kind: "rectified-flow",
      shift: dynamicShift(shifting, 16),
    });
    await dynamic.dispose();
    await rm(dir, { recursive: true });
  });

  it("sd3 embeddings are 77 CLIP tokens plus the T5 length", async () => {
    const refs = await readReferences("sd3");
    const model = await loadDiffusersPackage(join(FIXTURES, "sd3"), { t5MaxLength: 24 });
    const cond = await model.condition(refs.prompt, 3);
    if (cond.kind !== "text") throw new Error("text conditioning expected");
    expect(cond.embeddings.shape).toEqual([3, 77 + 24, 48]);
    expectProbe(cond.embeddings.item(0), refs.embeddings.condT5Length24, 1e-4, "T5 length 24");
    await model.dispose();
  });

  it("sd3 without T5 feeds zeros for the T5 part", async () => {
    const dir = await copyFixture("sd3");
    await rm(join(dir, "text_encoder_3"), { recursive: true });
    const withoutT5 = await loadDiffusersPackage(dir);
    const full = await fixture("sd3");
    const refs = await readReferences("sd3");
    const cond = await withoutT5.condition(refs.prompt, 1);
    const fullCond = await full.condition(refs.prompt, 1);
    if (cond.kind !== "text" || fullCond.kind !== "text")
      throw new Error("text conditioning expected");
    expect(withoutT5.info.conditioning).toEqual({ kind: "text", encoder: "clip+clip2" });
    expect(cond.embeddings.shape).toEqual([1, 154, 48]);
    const half = 77 * 48;
    expect(Array.from(cond.embeddings.data.subarray(0, half))).toEqual(
      Array.from(fullCond.embeddings.data.subarray(0, half)),
    );
    expect(cond.embeddings.data.subarray(half).every((v) => v === 0)).toBe(true);
    expect(Array.from(cond.pooled?.data ?? [])).toEqual(Array.from(fullCond.pooled?.data ?? []));
    await withoutT5.dispose();
    await rm(dir, { recursive: true });
  });

  it("uses the VAE scale and shift of the config", async () => {
    const dir = await copyFixture("sd3");
    await editJson(join(dir, "vae_decoder", "config.json"), (config) => {
      config.scaling_factor = 0.5;
      config.shift_factor = 0.25;
    });
    const edited = await loadDiffusersPackage(dir);
    const original = await fixture("sd3");
    expect(edited.info.vae?.scale).toBe(0.5);
    const z = pattern({ shape: [1, 4, 8, 8], phase: 0.3 });
    // D(z / 0.5 + 0.25) = D(w / 1.5305 + 0.0609) for w = 1.5305 (z / 0.5 + 0.25 - 0.0609).
    const w = z.map((v) => 1.5305 * (v / 0.5 + 0.25 - 0.0609));
    const a = await (edited.decode as NonNullable<Model["decode"]>)(z);
    const b = await (original.decode as NonNullable<Model["decode"]>)(w);
    let maxDiff = 0;
    for (let i = 0; i < a.size; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i] - b.data[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    await edited.dispose();
    await rm(dir, { recursive: true });
  });

  it("flux shifts by the image token count", async () => {
    const refs = await readReferences("flux");
    const small = await fixture("flux");
    expect(small.info.schedule).toEqual({
      kind: "rectified-flow",
      shift: expect.closeTo(refs.dynamicShift?.shift as number, 12),
    });
    expect(small.info.timestepInput).toEqual({ kind: "sigma" });
    expect(small.settings.textLengths).toEqual({ clip: 77, t5: 512 });
    // FluxPipeline's default size: 128 latent pixels per side, 64 x 64 = 4096 tokens at 2x2.
    const large = await loadDiffusersPackage(join(FIXTURES, "flux"));
    expect(large.info.resolution).toEqual([512, 512]);
    const shifting = large.layout.scheduler.dynamicShifting;
    if (shifting === undefined) throw new Error("dynamic shifting expected");
    expect(large.info.schedule).toEqual({
      kind: "rectified-flow",
      shift: dynamicShift(shifting, 4096),
    });
    expect(dynamicShift(shifting, 4096)).toBeCloseTo(Math.exp(1.15), 12);
    await large.dispose();
  });

  it("packs and unpacks Flux latents", () => {
    const x = pattern({ shape: [2, 3, 4, 6], phase: 0.1 });
    const packed = packLatents(x);
    expect(packed.shape).toEqual([2, 6, 12]);
    // Token (0, 1) of sample 1 contains channel 2's 2x2 patch at rows 0..1, columns 2..3.
    const base = (1 * 6 + 1) * 12 + 2 * 4;
    expect(Array.from(packed.data.subarray(base, base + 4))).toEqual([
      x.data[((1 * 3 + 2) * 4 + 0) * 6 + 2],
      x.data[((1 * 3 + 2) * 4 + 0) * 6 + 3],
      x.data[((1 * 3 + 2) * 4 + 1) * 6 + 2],
      x.data[((1 * 3 + 2) * 4 + 1) * 6 + 3],
    ]);
    expect(Array.from(unpackLatents(packed, 3, 4, 6).data)).toEqual(Array.from(x.data));
  });

  it("loadModel opens a diffusers folder", async () => {
    const model = await loadModel(join(FIXTURES, "sd15"));
    expect(model.info.conditioning).toEqual({ kind: "text", encoder: "clip" });
    expect(typeof model.decodeVjp).toBe("function");
    await model.dispose();
  });
});

describe("layout errors", () => {
  it("names the missing unet graph", async () => {
    const dir = await copyFixture("sd15");
    await rm(join(dir, "unet", "model.onnx"));
    const error = await loadError(dir);
    expect(error.code).toBe("not_found");
    expect(error.path).toEqual([join(dir, "unet", "model.onnx")]);
    expect(error.message).toContain("StableDiffusionPipeline");
    await rm(dir, { recursive: true });
  });

  it("names an unknown scheduler class", async () => {
    const dir = await copyFixture("sd3");
    await editJson(join(dir, "scheduler", "scheduler_config.json"), (config) => {
      config._class_name = "KarrasVeScheduler";
    });
    const error = await loadError(dir);
    expect(error.path).toEqual([join(dir, "scheduler", "scheduler_config.json"), "_class_name"]);
    expect(error.received).toBe("KarrasVeScheduler");
    expect(String(error.expected)).toContain("FlowMatchEulerDiscreteScheduler");
    await rm(dir, { recursive: true });
  });

  it("names a scheduler of the wrong family", async () => {
    const dir = await copyFixture("sd3");
    await editJson(join(dir, "scheduler", "scheduler_config.json"), (config) => {
      config._class_name = "DDIMScheduler";
    });
    const error = await loadError(dir);
    expect(error.path).toEqual([join(dir, "scheduler", "scheduler_config.json"), "_class_name"]);
    await rm(dir, { recursive: true });
  });

  it("names an unknown beta schedule", async () => {
    const dir = await copyFixture("sd15");
    await editJson(join(dir, "scheduler", "scheduler_config.json"), (config) => {
      config.beta_schedule = "sigmoid";
    });
    const error = await loadError(dir);
    expect(error.path).toEqual([join(dir, "scheduler", "scheduler_config.json"), "beta_schedule"]);
    await rm(dir, { recursive: true });
  });

  it("names the missing tokenizer", async () => {
    const dir = await copyFixture("flux");
    await rm(join(dir, "tokenizer_2"), { recursive: true });
    const error = await loadError(dir);
    expect(error.code).toBe("not_found");
    expect(error.path).toEqual([join(dir, "tokenizer_2", "tokenizer.json")]);
    await rm(dir, { recursive: true });
  });

  it("names an unknown pipeline class", async () => {
    const dir = await copyFixture("sd15");
    await editJson(join(dir, "model_index.json"), (index) => {
      index._class_name = "StableDiffusionXLPipeline";
    });
    const error = await loadError(dir);
    expect(error.path).toEqual([join(dir, "model_index.json"), "_class_name"]);
    await rm(dir, { recursive: true });
  });

  it("checks latent_channels against the graphs", async () => {
    const dir = await copyFixture("sd15");
    for (const part of ["vae_encoder", "vae_decoder"]) {
      await editJson(join(dir, part, "config.json"), (config) => {
        config.latent_channels = 8;
      });
    }
    const error = await loadError(dir);
    expect(error.code).toBe("model_mismatch");
    expect(error.message).toContain("latent_channels");
    await rm(dir, { recursive: true });
  });
});
