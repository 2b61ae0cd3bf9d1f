import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import {
  getMetric,
  listMetrics,
  type PairMetric,
  PROFILE_NAMES,
  registerMetric,
  score,
  scoreRecordSchema,
} from "../src/index.js";
import golden from "./fixtures/golden.json" with { type: "json" };
import { expectClose, fixture } from "./helpers.js";

describe("score", () => {
  it("names the conventions of every metric", async () => {
    const reference = await fixture("astronaut-crop.png");
    const output = await fixture("astronaut-noisy.png");
    const record = score(reference, output, {
      profile: "canonical",
      range: [0, 1],
      metrics: ["psnr", "ssim", "mse", "lpips"],
    });
    expect(record).toMatchObject({ schema: "tweedie.score", version: 1, profile: "canonical" });
    expect(record.shape).toEqual([3, 96, 128]);
    for (const result of Object.values(record.metrics)) {
      expect(result.profile).toBe("canonical");
      expect(result.conventions.valueRange).toBeDefined();
      expect(result.conventions).toHaveProperty("window");
      expect(result.conventions).toHaveProperty("backbone");
    }
    expect(record.metrics.ssim.conventions.window).toEqual({
      kind: "gaussian",
      size: 11,
      sigma: 1.5,
    });
    expect(record.metrics.psnr.conventions.window).toBeNull();
    expect(record.metrics.lpips).toMatchObject({
      status: "unavailable",
      value: null,
      conventions: { backbone: "alex", valueRange: [-1, 1] },
    });
    expectClose(record.metrics.psnr.value ?? Number.NaN, golden.astronautNoisy.psnr, 1e-4, "PSNR");
  });

  it("round-trips through JSON and the record schema", async () => {
    const reference = await fixture("astronaut-crop.png");
    const record = score(reference, reference, { profile: "canonical", range: [0, 1] });
    const parsed = scoreRecordSchema.parse(JSON.parse(JSON.stringify(record)));
    expect(parsed).toEqual(record);
    expect(parsed.metrics.psnr.status).toBe("infinite");
  });

  it("runs only available metrics by default", async () => {
    const reference = await fixture("astronaut-crop.png");
    const record = score(reference, reference, { profile: "pie-compat", range: [0, 1] });
    expect(Object.keys(record.metrics).sort()).toEqual(["mse", "psnr", "ssim"]);
  });

  it("marks non-finite pixels as undefined", () => {
    const reference = { data: new Float32Array(3 * 16 * 16).fill(0.5), shape: [3, 16, 16] };
    const output = { data: reference.data.slice(), shape: reference.shape };
    output.data[5] = Number.NaN;
    const record = score(reference, output, { profile: "canonical", range: [0, 1] });
    for (const result of Object.values(record.metrics)) {
      expect(result.status).toBe("undefined");
      expect(result).toHaveProperty("reason");
      expect((result as { reason: string }).reason).toContain("output: 1");
    }
  });

  it("counts values outside the declared range", () => {
    const reference = { data: new Float32Array(3 * 16 * 16).fill(0.5), shape: [1, 3, 16, 16] };
    const output = { data: reference.data.map((v, i) => (i < 4 ? 1.2 : v)), shape: [1, 3, 16, 16] };
    const record = score(reference, output, { profile: "canonical", range: [0, 1] });
    expect(record.outOfRange).toEqual({ reference: 0, output: 4 });
    expect(record.shape).toEqual([3, 16, 16]);
  });

  it("rejects a missing or inverted range", () => {
    const image = { data: new Float32Array(3 * 16 * 16), shape: [3, 16, 16] };
    const bad = [
      [1, 0],
      [0, 0],
      [0, Number.NaN],
    ] as unknown as [number, number][];
    for (const range of bad) {
      expect(() => score(image, image, { profile: "canonical", range })).toThrow(TweedieError);
    }
  });

  it("rejects unknown profiles and metrics with the valid names", () => {
    const image = { data: new Float32Array(3 * 16 * 16), shape: [3, 16, 16] };
    try {
      score(image, image, { profile: "canonical", range: [0, 1], metrics: ["psnr_y"] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TweedieError);
      expect((error as TweedieError).expected).toEqual(["mse", "psnr", "ssim", "lpips"]);
    }
    expect(() => score(image, image, { profile: "nope" as "canonical", range: [0, 1] })).toThrow(
      /unknown metric profile/,
    );
  });

  it("rejects images of different shapes", () => {
    const a = { data: new Float32Array(3 * 16 * 16), shape: [3, 16, 16] };
    const b = { data: new Float32Array(3 * 16 * 17), shape: [3, 16, 17] };
    expect(() => score(a, b, { profile: "canonical", range: [0, 1] })).toThrow(/differ in shape/);
  });
});

describe("metric registry", () => {
  it("has psnr, ssim and mse in every profile", () => {
    for (const profile of PROFILE_NAMES) {
      for (const name of ["psnr", "ssim", "mse"]) {
        const metric = getMetric(name, profile);
        expect(metric.unavailable).toBeNull();
        expect(metric.higherIsBetter).toBe(name !== "mse");
      }
    }
    expect(listMetrics("pie-compat").map((m) => m.name)).toContain("structure_distance");
  });

  it("lets a network metric replace its placeholder", () => {
    const placeholder = getMetric("lpips", "dps-compat");
    expect(placeholder.unavailable).toMatch(/ONNX/);
    expect(() => registerMetric(placeholder)).toThrow(/already registered/);

    // A stand-in "network" that reports the mean input, to show the [-1, 1] conversion.
    const seen: number[] = [];
    const replacement: PairMetric = {
      ...placeholder,
      unavailable: null,
      compute: ({ output }) => {
        seen.push(Math.min(...output.data), Math.max(...output.data));
        return { status: "ok", value: 0.25 };
      },
    };
    registerMetric(replacement, { replace: true });
    try {
      const image = { data: new Float32Array(3 * 16 * 16).fill(255), shape: [3, 16, 16] };
      image.data[0] = 0;
      const record = score(image, image, {
        profile: "dps-compat",
        range: [0, 255],
        metrics: ["lpips"],
      });
      expect(record.metrics.lpips).toMatchObject({ status: "ok", value: 0.25 });
      expect(record.metrics.lpips.conventions.backbone).toBe("vgg");
      expect(seen).toEqual([-1, 1]);
    } finally {
      registerMetric(placeholder, { replace: true });
    }
  });
});
