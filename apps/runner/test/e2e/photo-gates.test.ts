import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli, tempDir, writeConfig } from "./helpers.js";

/**
 * Builds the config of the restoration gates in docs/restoration.md: the two held-out
 * photos, one sample each, on the ONNX patches priors. The tests apply the gate limits
 * themselves. Box inpainting runs on the multiscale prior and the 32x32 box, the box
 * that docs/restoration.md applies the inpainting limit to.
 */
const gateConfig = (out: string) => `name: photo-gates
datasets:
  - kind: embedded-samples
    name: photos
    split: heldout
    preprocess: { resize: shortSideCrop, size: 128, filter: lanczos3 }
    model: embedded:patches
  - kind: embedded-samples
    name: photos-multiscale
    split: heldout
    preprocess: { resize: shortSideCrop, size: 128, filter: lanczos3 }
    model: embedded:patches-multiscale
tasks:
  - name: sr4
    datasets: [photos]
    operator: { kind: sr-bicubic, scale: 4 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
  - name: deblur
    datasets: [photos]
    operator: { kind: gaussian-blur, size: 61, sigma: 3 }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
  - name: inpaint-box32
    datasets: [photos-multiscale]
    operator: { kind: inpainting, pattern: box, placement: centred, boxSize: [32, 32] }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
  - name: inpaint-box
    datasets: [photos]
    operator: { kind: inpainting, pattern: box, placement: centred }
    noise: { kind: gaussian, sigma: 0.05, range: "[-1,1]" }
solvers:
  - name: dps
    preset: dps-patches-128-sr
    tasks: [sr4]
  - name: dps
    preset: dps-patches-128-deblur
    tasks: [deblur]
  - name: dps
    preset: dps-patches-128-inpainting
    tasks: [inpaint-box32]
  - name: flowdps
    preset: flowdps-embedded-proximal
    tasks: [sr4, inpaint-box]
  - name: flowdps
    preset: flowdps-embedded-deblur
    tasks: [deblur]
  - name: pseudo-inverse
    tasks: [sr4]
  - name: measurement
    tasks: [deblur]
  - name: mean-fill
    tasks: [inpaint-box32]
model: embedded:patches
seeds: [0]
metrics: { profile: canonical }
output: { location: ${JSON.stringify(out)} }
`;

interface Row {
  task: string;
  preset: string;
  item: string;
  psnr: number;
  consistency: number | null;
}

const rows: Row[] = [];

/** Mean PSNR over the two photos of one task and solver (preset, or name for baselines). */
function meanPsnr(task: string, preset: string): number {
  const found = rows.filter((row) => row.task === task && row.preset === preset);
  expect(found.map((row) => row.item).sort()).toEqual(["chelsea.png", "flower.png"]);
  return found.reduce((sum, row) => sum + row.psnr, 0) / found.length;
}

describe("photo restoration gates", () => {
  beforeAll(async () => {
    const out = await tempDir("photo-gates");
    const config = await writeConfig(out, gateConfig(out));
    const result = await runCli(["run", config, "--workers", "2", "--log-format", "plain"]);
    expect(result.code, result.stderr).toBe(0);
    const cells = join(out, "photo-gates", "cells");
    for (const cell of await readdir(cells)) {
      const record = JSON.parse(await readFile(join(cells, cell, "record.json"), "utf8"));
      expect(record.status, cell).toBe("ok");
      rows.push({
        task: record.task.name,
        preset: record.solver.preset ?? record.solver.name,
        item: record.item.id,
        psnr: record.metrics.psnr,
        consistency: record.metrics.consistency ?? null,
      });
    }
  }, 600_000);

  it("SR x4 samplers near the pseudo-inverse", () => {
    const pinv = meanPsnr("sr4", "pseudo-inverse");
    expect(meanPsnr("sr4", "flowdps-embedded-proximal")).toBeGreaterThan(pinv - 1.5);
    expect(meanPsnr("sr4", "dps-patches-128-sr")).toBeGreaterThan(pinv - 2.5);
  });

  it("FlowDPS deblur 1 dB over y", () => {
    const blurry = meanPsnr("deblur", "measurement");
    expect(meanPsnr("deblur", "flowdps-embedded-deblur")).toBeGreaterThan(blurry + 1);
  });

  it("multiscale DPS inpainting beats mean fill", () => {
    const meanFill = meanPsnr("inpaint-box32", "mean-fill");
    expect(meanPsnr("inpaint-box32", "dps-patches-128-inpainting")).toBeGreaterThan(meanFill + 1.5);
  });

  it("every sampler consistent with y", () => {
    const samplers = rows.filter(
      (row) => row.preset.startsWith("dps-") || row.preset.startsWith("flowdps-"),
    );
    // DPS on three tasks and FlowDPS on three, two photos each.
    expect(samplers).toHaveLength(12);
    for (const row of samplers) {
      const label = `${row.task} ${row.preset} ${row.item}`;
      expect(row.consistency, label).toBeGreaterThanOrEqual(0.7);
      expect(row.consistency, label).toBeLessThanOrEqual(1.3);
    }
  });
});
