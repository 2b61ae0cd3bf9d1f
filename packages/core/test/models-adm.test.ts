import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OnnxModel } from "../src/index.js";
import {
  ADM_CHECKPOINTS,
  admManifest,
  alphaBarAt,
  betaAt,
  Denoiser,
  loadModelPackage,
  MANIFEST_FILE,
  parseManifest,
  timeOfIndex,
} from "../src/index.js";
import {
  type AdmReferences,
  expectProbe,
  FIXTURES,
  pattern,
  readReferences,
} from "./models-helpers.js";

const DIR = join(FIXTURES, "adm");

describe("ADM model package", () => {
  let model: OnnxModel;
  let refs: AdmReferences;

  beforeAll(async () => {
    model = await loadModelPackage(DIR);
    refs = await readReferences<AdmReferences>("adm");
  });
  afterAll(() => model.dispose());

  it("matches the manifest admManifest builds", async () => {
    const written = parseManifest(JSON.parse(await readFile(join(DIR, MANIFEST_FILE), "utf8")));
    const built = admManifest({
      name: "adm-tiny",
      version: "1",
      resolution: 16,
      files: written.files,
    });
    expect(written).toEqual(built);
    expect(model.info.learnedVariance).toBe(true);
    expect(model.info.schedule).toEqual({
      kind: "vp-linear",
      betaStart: 0.0001,
      betaEnd: 0.02,
      steps: 1000,
    });
  });

  it("feeds the integer step index and returns 6 channels", async () => {
    const x = pattern(refs.x);
    const t = timeOfIndex(new Denoiser(model).schedule, refs.timestepIndex);
    const raw = await model.predict(x, t, { kind: "none" });
    expectProbe(raw, refs.output, 1e-4, "output");
  });

  it("splits epsilon and the learned variance", async () => {
    const denoiser = new Denoiser(model);
    const index = refs.timestepIndex as number;
    const t = timeOfIndex(denoiser.schedule, index);
    const x = pattern(refs.x);
    const raw = await model.predict(x, t, { kind: "none" });
    const { x0Hat, logVariance } = await denoiser.denoise(x, t, { kind: "none" });
    const alphaBar = alphaBarAt(denoiser.schedule, index);
    const beta = betaAt(denoiser.schedule, index);
    const posterior = (beta * (1 - alphaBarAt(denoiser.schedule, index - 1))) / (1 - alphaBar);
    const plane = x.size;
    for (const i of [0, 100, 500, plane - 1]) {
      const eps = raw.data[i];
      const v = raw.data[plane + i];
      expect(x0Hat.data[i]).toBeCloseTo(
        (x.data[i] - Math.sqrt(1 - alphaBar) * eps) / Math.sqrt(alphaBar),
        4,
      );
      const frac = (v + 1) / 2;
      const expected = frac * Math.log(beta) + (1 - frac) * Math.log(posterior);
      expect(logVariance?.data[i]).toBeCloseTo(expected, 4);
    }
  });

  it("runs the VJP graph of the raw output", async () => {
    const ref = refs.vjp;
    const t = timeOfIndex(new Denoiser(model).schedule, refs.timestepIndex);
    const out = await (model.vjp as NonNullable<OnnxModel["vjp"]>)(
      pattern(refs.x),
      t,
      { kind: "none" },
      pattern(ref.g),
    );
    expectProbe(out.vjp, ref.raw, 1e-4, "vjp");
    expectProbe(out.output, refs.output, 1e-4, "vjp graph output");
  });

  it("describes the released checkpoints", () => {
    expect(ADM_CHECKPOINTS.ffhq256.numChannels).toBe(128);
    expect(ADM_CHECKPOINTS.imagenet256.attentionResolutions).toEqual([32, 16, 8]);
    const manifest = admManifest({
      name: "adm-ffhq256",
      version: "1",
      files: { denoiser: { path: "denoiser.onnx", sha256: "0".repeat(64) } },
    });
    expect(manifest.resolution).toEqual([256, 256]);
    expect(manifest.spatial).toEqual({ kind: "static", size: [256, 256] });
    expect(manifest.io).toEqual({ x: "x", t: "timesteps", output: "output", g: "g", vjp: "vjp" });
  });
});
