import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { readImage } from "@tweedie/eval";
import { describe, expect, it } from "vitest";
import {
  LPIPS_MANIFEST,
  lpipsBackboneGraph,
  lpipsReference,
  writeFeatureModel,
} from "../../../../packages/eval/test/network-helpers.js";
import { runCli, tempDir } from "./helpers.js";

const FIXTURES = join(import.meta.dirname, "../../../../packages/eval/test/fixtures");
const REFERENCE = join(FIXTURES, "astronaut-crop.png");
const BLURRED = join(FIXTURES, "astronaut-blurred.png");

/** Reads a PNG on [-1, 1], as `tweedie score` does. */
async function signedImage(path: string) {
  const image = await readImage(path);
  return { data: image.data.map((v) => 2 * v - 1), shape: image.shape };
}

describe("tweedie score", () => {
  it("runs LPIPS through a feature model folder", async () => {
    const dir = await tempDir("score-features");
    const models = join(dir, "features");
    await mkdir(models);
    // A small real ONNX backbone in the LPIPS layout; lpipsReference computes its LPIPS in float64.
    await writeFeatureModel(models, LPIPS_MANIFEST, lpipsBackboneGraph());
    const result = await runCli([
      "score",
      REFERENCE,
      BLURRED,
      "--metrics",
      "lpips",
      "--feature-models",
      models,
    ]);
    expect(result.code).toBe(0);
    const lpips = JSON.parse(result.stdout).metrics.lpips;
    expect(lpips.status).toBe("ok");
    const expected = lpipsReference(await signedImage(REFERENCE), await signedImage(BLURRED));
    expect(Math.abs(lpips.value - expected) / expected).toBeLessThan(1e-5);
  });

  it("names the flag when the folder is missing", async () => {
    const dir = await tempDir("score-features-missing");
    const result = await runCli([
      "score",
      REFERENCE,
      BLURRED,
      "--feature-models",
      join(dir, "absent"),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--feature-models: feature model folder not found");
  });

  it("reports LPIPS as unavailable without a folder", async () => {
    const result = await runCli(["score", REFERENCE, BLURRED, "--metrics", "lpips"], {
      TWEEDIE_FEATURE_MODELS: "",
    });
    expect(result.code).toBe(0);
    const lpips = JSON.parse(result.stdout).metrics.lpips;
    expect(lpips.status).toBe("unavailable");
    expect(lpips.reason).toContain("tweedie score --feature-models DIR");
  });
});
