import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  editDistance,
  nearestKey,
  parseManifest,
  readManifest,
  TweedieError,
} from "../src/index.js";
import { tempDir } from "./onnx-fixtures.js";

const HASH = "0".repeat(64);

function validManifest(): Record<string, unknown> {
  return {
    name: "digits",
    version: "0.1.0",
    files: { denoiser: { path: "denoiser.onnx", sha256: HASH } },
    parameterisation: "epsilon",
    schedule: { kind: "vp-linear", betaStart: 0.0001, betaEnd: 0.02, steps: 1000 },
    timestepInput: { kind: "index" },
    resolution: [8, 8],
    channels: 1,
    space: "pixel",
    conditioning: { kind: "label", prompts: { "a handwritten digit 3": 3 }, nullLabel: 10 },
    learnedVariance: false,
    dtype: "float32",
    io: { x: "x", t: "t", label: "label", output: "eps" },
    spatial: { kind: "static", size: [8, 8] },
  };
}

function errorFor(value: unknown): TweedieError {
  try {
    parseManifest(value);
  } catch (error) {
    expect(error).toBeInstanceOf(TweedieError);
    return error as TweedieError;
  }
  throw new Error("parseManifest accepted an invalid manifest");
}

describe("parseManifest", () => {
  it("accepts a valid manifest and fills defaults", () => {
    const manifest = parseManifest(validManifest());
    expect(manifest.io.g).toBe("g");
    expect(manifest.io.vjp).toBe("vjp");
    expect(manifest.conditioning).toEqual({
      kind: "label",
      prompts: { "a handwritten digit 3": 3 },
      nullLabel: 10,
    });
  });

  it("names an invalid enum value", () => {
    const error = errorFor({ ...validManifest(), parameterisation: "eps" });
    expect(error.message).toBe(
      'tweedie-model.json: parameterisation: expected one of epsilon, x0, v, velocity; received "eps"',
    );
    expect(error.path).toEqual(["tweedie-model.json", "parameterisation"]);
    expect(error.expected).toBe("one of epsilon, x0, v, velocity");
    expect(error.received).toBe("eps");
  });

  it("names a missing field", () => {
    const manifest = validManifest();
    delete manifest.channels;
    const error = errorFor(manifest);
    expect(error.message).toBe(
      "tweedie-model.json: channels: expected a number; received nothing (the field is missing)",
    );
    expect(error.path).toEqual(["tweedie-model.json", "channels"]);
  });

  it("hints the nearest key for a misspelt one", () => {
    const manifest = validManifest();
    manifest.parametrisation = manifest.parameterisation;
    delete manifest.parameterisation;
    const error = errorFor(manifest);
    expect(error.path).toEqual(["tweedie-model.json", "parametrisation"]);
    expect(error.hint).toBe('did you mean "parameterisation"?');
    expect(error.message).toMatch(
      /^tweedie-model\.json: parametrisation: unknown key; expected one of the keys name, version, files/,
    );
    expect(error.message).toContain('did you mean "parameterisation"?');
    expect(error.message).toContain("(1 more: parameterisation)");
  });

  it("hints keys inside a discriminated union", () => {
    const error = errorFor({
      ...validManifest(),
      schedule: { kind: "vp-linear", betaStrat: 0.0001, betaEnd: 0.02, steps: 1000 },
    });
    expect(error.path).toEqual(["tweedie-model.json", "schedule", "betaStrat"]);
    expect(error.hint).toBe('did you mean "betaStart"?');
  });

  it("lists the kinds for an unknown schedule kind", () => {
    const error = errorFor({ ...validManifest(), schedule: { kind: "linear", steps: 1000 } });
    expect(error.message).toBe(
      'tweedie-model.json: schedule.kind: expected one of vp-linear, scaled-linear, cosine, rectified-flow; received "linear"',
    );
  });

  it("rejects non-integer labels and bad hashes", () => {
    const labels = errorFor({
      ...validManifest(),
      conditioning: { kind: "label", prompts: { three: 2.5 }, nullLabel: 10 },
    });
    expect(labels.path).toEqual(["tweedie-model.json", "conditioning", "prompts", "three"]);
    expect(labels.message).toBe(
      "tweedie-model.json: conditioning.prompts.three: expected an integer; received 2.5",
    );
    const hash = errorFor({
      ...validManifest(),
      files: { denoiser: { path: "denoiser.onnx", sha256: "abc" } },
    });
    expect(hash.path).toEqual(["tweedie-model.json", "files", "denoiser", "sha256"]);
  });

  it("rejects paths that leave the package", () => {
    const error = errorFor({
      ...validManifest(),
      files: { denoiser: { path: "../x.onnx", sha256: HASH } },
    });
    expect(error.path).toEqual(["tweedie-model.json", "files", "denoiser", "path"]);
    expect(error.received).toBe("../x.onnx");
  });

  it("checks fields that depend on each other", () => {
    const alphaSigma = errorFor({ ...validManifest(), timestepInput: { kind: "alpha-sigma" } });
    expect(alphaSigma.path).toEqual(["tweedie-model.json", "io", "alpha"]);
    const noLabel = errorFor({ ...validManifest(), io: { x: "x", t: "t", output: "eps" } });
    expect(noLabel.message).toBe(
      "tweedie-model.json: io.label: expected an input name (conditioning is label); received nothing (the field is missing)",
    );
    const latent = errorFor({ ...validManifest(), space: "latent" });
    expect(latent.path).toEqual(["tweedie-model.json", "vae"]);
    const size = errorFor({ ...validManifest(), spatial: { kind: "static", size: [16, 16] } });
    expect(size.path).toEqual(["tweedie-model.json", "spatial", "size"]);
    expect(size.expected).toBe("the resolution [8, 8]");
    const flowIndex = errorFor({
      ...validManifest(),
      schedule: { kind: "rectified-flow", shift: 3 },
    });
    expect(flowIndex.path).toEqual(["tweedie-model.json", "timestepInput", "kind"]);
  });
});

describe("readManifest", () => {
  it("names the file for invalid JSON", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "tweedie-model.json"), "{ name: ");
    await expect(readManifest(dir)).rejects.toThrow(
      `${join(dir, "tweedie-model.json")}: invalid JSON`,
    );
  });

  it("names the full path in field errors", async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, "tweedie-model.json"),
      JSON.stringify({ ...validManifest(), dtype: "bfloat16" }),
    );
    await expect(readManifest(dir)).rejects.toThrow(
      `${join(dir, "tweedie-model.json")}: dtype: expected one of float32, float16; received "bfloat16"`,
    );
  });

  it("reports a missing manifest as not found", async () => {
    const dir = await tempDir();
    const error = await readManifest(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TweedieError);
    expect((error as TweedieError).code).toBe("not_found");
  });
});

describe("nearestKey", () => {
  it("measures edit distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("suggests only close keys", () => {
    expect(nearestKey("chanels", ["channels", "space"])).toBe("channels");
    expect(nearestKey("timestepinput", ["timestepInput"])).toBe("timestepInput");
    expect(nearestKey("colour", ["channels", "space"])).toBeUndefined();
  });
});
