import { describe, expect, it } from "vitest";
import { dpsParamsSchema, dpsPlugin, dpsPresets, respacedZeta } from "../src/index.js";

describe("DPS params", () => {
  it("fill the documented defaults", () => {
    expect(dpsParamsSchema.parse({})).toEqual({
      steps: 1000,
      zeta: 0.3,
      gradient: "auto",
      fdProbe: 1e-2,
      clipX0: true,
      samples: 1,
      sampleOffset: 0,
      variance: "auto",
      eta: 1,
    });
  });

  it("plugin declares name, version and tasks", () => {
    expect(dpsPlugin.name).toBe("dps");
    expect(dpsPlugin.version).toBe("1.0.0");
    expect(dpsPlugin.tasks).toEqual(["restoration"]);
    expect(dpsPlugin.paramsSchema).toBe(dpsParamsSchema);
  });

  it("reject unknown keys and out-of-range values", () => {
    expect(dpsParamsSchema.safeParse({ zeta: -0.1 }).success).toBe(false);
    expect(dpsParamsSchema.safeParse({ steps: 0 }).success).toBe(false);
    expect(dpsParamsSchema.safeParse({ fdProbe: 0 }).success).toBe(false);
    expect(dpsParamsSchema.safeParse({ gradient: "autograd" }).success).toBe(false);
    expect(dpsParamsSchema.safeParse({ scale: 0.3 }).success).toBe(false);
  });

  it("reject eta with a variance that ignores it", () => {
    const result = dpsParamsSchema.safeParse({ eta: 0.5, variance: "learned" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].path).toEqual(["eta"]);
    expect(dpsParamsSchema.safeParse({ eta: 0.5, variance: "posterior" }).success).toBe(true);
  });

  it("SR x4 paper and repo presets differ only in zeta", () => {
    const repo = dpsPresets["dps-ffhq-sr4-repo"];
    const paper = dpsPresets["dps-ffhq-sr4-paper"];
    expect(repo.params).toEqual({ steps: 1000, zeta: 0.3 });
    expect(paper.params).toEqual({ steps: 1000, zeta: 2 });
  });

  it("every preset names a source and parses", () => {
    for (const [name, preset] of Object.entries(dpsPresets)) {
      expect(preset.source.length, name).toBeGreaterThan(20);
      expect(dpsParamsSchema.safeParse(preset.params).success, name).toBe(true);
    }
  });

  it("respaced presets keep zeta x steps", () => {
    expect(respacedZeta(1, 100)).toBe(10);
    expect(dpsPresets["dps-patches-128-100steps"].params.zeta).toBe(10);
    expect(dpsPresets["dps-patches-128-250steps"].params.zeta).toBe(4);
    expect(dpsPresets["dps-patches-256-100steps"].params.zeta).toBe(20);
  });
});
