import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import {
  buildOperator,
  getPreset,
  noiseSpecSchema,
  operatorPresets,
  operatorSpecSchema,
  parseNoiseSpec,
} from "../src/index.js";

function thrown(fn: () => unknown): TweedieError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TweedieError) return error;
    throw error;
  }
  throw new Error("expected a TweedieError");
}

describe("operator spec validation", () => {
  it("names an unknown kind and lists the valid ones", () => {
    const error = thrown(() => buildOperator({ kind: "deblur" }, { imageShape: [3, 8, 8] }));
    expect(error.message).toBe("operator spec field kind has an unknown value");
    expect(error.path).toEqual(["kind"]);
    expect(String(error.expected)).toContain('"sr-bicubic"');
    expect(error.received).toBe("deblur");
  });

  it("names a misspelt field", () => {
    const error = thrown(() =>
      buildOperator({ kind: "sr-bicubic", scale: 4, truncat: 0.03 }, { imageShape: [3, 8, 8] }),
    );
    expect(error.message).toBe("operator spec has unknown field truncat");
    expect(error.path).toEqual(["truncat"]);
  });

  it("names a field with the wrong type and the value received", () => {
    const error = thrown(() =>
      buildOperator({ kind: "sr-avgpool", scale: 2.5 }, { imageShape: [3, 8, 8] }),
    );
    expect(error.path).toEqual(["scale"]);
    expect(error.expected).toBe("an integer");
    expect(error.received).toBe(2.5);
  });

  it("names a missing field", () => {
    const error = thrown(() => buildOperator({ kind: "motion-blur" }, { imageShape: [3, 8, 8] }));
    expect(error.code).toBe("missing");
    expect(error.message).toBe("operator spec field seed is missing");
  });

  it("reports the path inside a composition", () => {
    const error = thrown(() =>
      buildOperator(
        { kind: "compose", operators: [{ kind: "identity" }, { kind: "sr-avgpool", scale: 0 }] },
        { imageShape: [3, 8, 8] },
      ),
    );
    expect(error.path).toEqual(["operators", 1, "scale"]);
    expect(error.code).toBe("out_of_range");
  });

  it("rejects an even blur size", () => {
    const error = thrown(() =>
      buildOperator({ kind: "gaussian-blur", size: 60 }, { imageShape: [3, 8, 8] }),
    );
    expect(error.path).toEqual(["size"]);
    expect(error.received).toBe(60);
  });

  it("fills in documented defaults", () => {
    const op = buildOperator({ kind: "gaussian-blur" }, { imageShape: [3, 8, 8] });
    expect(op.spec).toEqual({ kind: "gaussian-blur", size: 61, sigma: 3, truncate: 4 });
  });

  it("rejects a malformed image shape", () => {
    const error = thrown(() => buildOperator({ kind: "identity" }, { imageShape: [8, 8] }));
    expect(error.path).toEqual(["imageShape"]);
  });

  it("exports schemas that accept every preset", () => {
    for (const preset of Object.values(operatorPresets)) {
      expect(operatorSpecSchema.safeParse(preset.operator).success, preset.name).toBe(true);
      expect(noiseSpecSchema.safeParse(preset.noise).success, preset.name).toBe(true);
    }
  });

  it("rejects an unknown noise kind", () => {
    const error = thrown(() => parseNoiseSpec({ kind: "speckle" }));
    expect(error.path).toEqual(["kind"]);
    expect(error.received).toBe("speckle");
  });
});

describe("presets", () => {
  it.each(Object.values(operatorPresets))("$name builds at its image size", (preset) => {
    const op = buildOperator(preset.operator, { imageShape: [3, ...preset.imageSize] });
    expect(op.spec.kind).toBe(preset.operator.kind);
    expect(preset.source).toMatch(/^[\w-]+\/[\w-]+ /);
    expect(parseNoiseSpec(preset.noise)).toEqual(preset.noise);
  });

  it("gives the DPS output sizes", () => {
    const sr = getPreset("dps-sr4");
    expect(buildOperator(sr.operator, { imageShape: [3, 256, 256] }).outputShape).toEqual([
      3, 64, 64,
    ]);
    const pr = getPreset("dps-phase-retrieval");
    expect(buildOperator(pr.operator, { imageShape: [3, 256, 256] }).outputShape).toEqual([
      3, 384, 384,
    ]);
    const avg = getPreset("flowdps-sr12-avgpool");
    expect(buildOperator(avg.operator, { imageShape: [3, 768, 768] }).outputShape).toEqual([
      3, 64, 64,
    ]);
  });

  it("rejects an unknown name with the list of presets", () => {
    const error = thrown(() => getPreset("dps-sr8"));
    expect(error.code).toBe("not_found");
    expect(String(error.expected)).toContain("dps-sr4");
  });
});
