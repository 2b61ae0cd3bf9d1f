import { describe, expect, it } from "vitest";
import {
  applyResize,
  describeResize,
  type ImageArray,
  imageToFeatureInput,
  parseFeatureManifest,
  resample,
  resizedSize,
} from "../src/index.js";
import golden from "./fixtures/network-golden.json" with { type: "json" };
import { IMAGENET_MEAN, IMAGENET_STD, imagePattern, VIT_MANIFEST } from "./network-helpers.js";

function maxAbsDiff(actual: ArrayLike<number>, expected: readonly number[]): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

describe("resample", () => {
  const [c, h, w] = golden.resize.input;
  const image = imagePattern(c, h, w);

  it("matches PIL bicubic when shrinking", () => {
    const out = resample(image, 4, 6, { filter: "bicubic", antialias: true });
    expect(out.shape).toEqual([3, 4, 6]);
    expect(maxAbsDiff(out.data, golden.resize.bicubicDown)).toBeLessThan(1e-5);
  });

  it("matches PIL bicubic when enlarging", () => {
    const out = resample(image, 14, 17, { filter: "bicubic", antialias: true });
    expect(maxAbsDiff(out.data, golden.resize.bicubicUp)).toBeLessThan(1e-5);
  });

  it("matches PIL bilinear with antialias", () => {
    const out = resample(image, 4, 6, { filter: "bilinear", antialias: true });
    expect(maxAbsDiff(out.data, golden.resize.bilinearAntialiasDown)).toBeLessThan(1e-5);
  });

  it("matches torch bilinear without antialias", () => {
    const down = resample(image, 4, 6, { filter: "bilinear", antialias: false });
    expect(maxAbsDiff(down.data, golden.resize.bilinearDown)).toBeLessThan(2e-5);
    const up = resample(image, 14, 17, { filter: "bilinear", antialias: false });
    expect(maxAbsDiff(up.data, golden.resize.bilinearUp)).toBeLessThan(2e-5);
  });

  it("gives different pixels on the two FID paths", () => {
    // Shrinking with and without antialias differ: the resize path changes FID.
    const clean = resample(image, 4, 6, { filter: "bicubic", antialias: true });
    const legacy = resample(image, 4, 6, { filter: "bilinear", antialias: false });
    expect(maxAbsDiff(clean.data, [...legacy.data])).toBeGreaterThan(1);
  });

  it("keeps the size when nothing changes", () => {
    expect(resample(image, h, w, { filter: "bicubic", antialias: true })).toBe(image);
  });
});

describe("resize rules", () => {
  it("follows torchvision's shorter-side rule with max_size", () => {
    const rule = {
      kind: "shorter-side",
      size: 224,
      maxSize: 480,
      filter: "bilinear",
      antialias: false,
      clamp: false,
    } as const;
    expect(resizedSize(rule, 512, 512)).toEqual([224, 224]);
    expect(resizedSize(rule, 512, 768)).toEqual([224, 336]);
    expect(resizedSize(rule, 300, 1000)).toEqual([144, 480]);
    expect(resizedSize(rule, 1000, 300)).toEqual([480, 144]);
  });

  it("crops the centre after resizing", () => {
    const image = imagePattern(1, 6, 10);
    const rule = {
      kind: "shorter-side",
      size: 6,
      centerCrop: [4, 4] as [number, number],
      filter: "bicubic",
      antialias: true,
      clamp: false,
    } as const;
    const out = applyResize(image, rule, [0, 255]);
    expect(out.shape).toEqual([1, 4, 4]);
    // top (6 - 4) // 2 = 1, left (10 - 4) // 2 = 3
    expect(out.data[0]).toBe(image.data[1 * 10 + 3]);
  });

  it("clamps overshoot to the value range", () => {
    const step: ImageArray = {
      data: Float32Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 0 : 255)),
      shape: [1, 4, 4],
    };
    const rule = {
      kind: "exact",
      height: 7,
      width: 7,
      filter: "bicubic",
      antialias: true,
    } as const;
    const raw = applyResize(step, { ...rule, clamp: false }, [0, 255]);
    expect(Math.min(...raw.data)).toBeLessThan(0);
    const clamped = applyResize(step, { ...rule, clamp: true }, [0, 255]);
    expect(Math.min(...clamped.data)).toBe(0);
    expect(Math.max(...clamped.data)).toBe(255);
  });

  it("names library, filter and antialias", () => {
    expect(
      describeResize({
        kind: "exact",
        height: 299,
        width: 299,
        filter: "bicubic",
        antialias: true,
        clamp: true,
      }),
    ).toBe(
      "to 299x299 by @tweedie/eval bicubic, antialias (PIL BICUBIC algorithm), clamped to the value range",
    );
    expect(
      describeResize({
        kind: "shorter-side",
        size: 224,
        maxSize: 480,
        filter: "bilinear",
        antialias: false,
        clamp: false,
      }),
    ).toBe(
      "shorter side to 224, longer side at most 480 by @tweedie/eval bilinear, no antialias (torch interpolate, align_corners=False)",
    );
  });
});

describe("feature input", () => {
  it("feeds DINO 0-255 values with ImageNet statistics", () => {
    // PIE-Bench does not divide by 255 before ImageNet normalisation.
    const manifest = parseFeatureManifest(dinoManifestJson(), "dino.feature.json");
    if (manifest.kind !== "vit-qkv") throw new Error("wrong kind");
    const image: ImageArray = { data: new Float32Array(3 * 16 * 16).fill(1), shape: [3, 16, 16] };
    const tensor = imageToFeatureInput(image, [0, 1], manifest);
    expect(tensor.dims).toEqual([1, 3, 16, 16]);
    const data = tensor.data as Float32Array;
    for (let c = 0; c < 3; c++) {
      expect(data[c * 256]).toBeCloseTo((255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], 3);
    }
    expect(data[0]).toBeGreaterThan(1000);
  });

  it("rejects an image the size rule does not allow", () => {
    const manifest = parseFeatureManifest(
      { ...dinoManifestJson(), resize: { kind: "none" } },
      "dino.feature.json",
    );
    if (manifest.kind !== "vit-qkv") throw new Error("wrong kind");
    const image: ImageArray = { data: new Float32Array(3 * 12 * 16), shape: [3, 12, 16] };
    expect(() => imageToFeatureInput(image, [0, 1], manifest)).toThrow(
      "feature model dino-vitb8 takes sides that are multiples of 8; the image is 12x16 after its resize rule",
    );
  });
});

function dinoManifestJson() {
  return {
    schema: "tweedie.feature-model",
    version: 1,
    file: "dino.onnx",
    sha256: "0".repeat(64),
    description: "test",
    ...VIT_MANIFEST,
  };
}
