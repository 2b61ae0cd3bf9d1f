import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphBuilder, type Logger, type OnnxTensor } from "@tweedie/core";
import type { ImageArray } from "../src/index.js";

/**
 * Small real ONNX feature models for the network-metric tests, built with core's
 * GraphBuilder, and float64 reference implementations of what they compute.
 */

export const f32 = (data: ArrayLike<number>, dims: number[]): OnnxTensor => ({
  dtype: "float32",
  data: Float32Array.from(data),
  dims,
});

/** Deterministic weights in [-1, 1) from an index and a salt. */
export function weights(count: number, salt: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.sin(i * 12.9898 + salt * 78.233) * 0.9);
}

/** The integer formula of make_network_goldens.py `feature_set`. */
export function featureSet(count: number, dim: number, salt: number): Float64Array {
  const out = new Float64Array(count * dim);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) {
      const base = ((i * 37 + d * 11 + salt * 7) % 23) / 23;
      const mix = ((i * (d + 3) + salt) % 17) / 17;
      out[i * dim + d] = base + 0.5 * mix;
    }
    // numpy's out[:, 1:] += 0.3 * out[:, :-1] reads the values before the update.
    for (let d = dim - 1; d >= 1; d--) out[i * dim + d] += 0.3 * out[i * dim + d - 1];
  }
  return out;
}

/** The integer formula of make_network_goldens.py `image_pattern`, values on [0, 255]. */
export function imagePattern(channels: number, height: number, width: number): ImageArray {
  const data = new Float32Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        data[(c * height + y) * width + x] = (x * 29 + y * 53 + c * 71 + x * y * 7) % 256;
      }
    }
  }
  return { data, shape: [channels, height, width] };
}

/** A smooth test image on [0, 1] that differs per seed. */
export function smoothImage(height: number, width: number, seed: number): ImageArray {
  const data = new Float32Array(3 * height * width);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = 0.5 + 0.4 * Math.sin(x * (0.3 + 0.05 * c) + y * 0.21 * (seed + 1) + seed);
        data[(c * height + y) * width + x] = v;
      }
    }
  }
  return { data, shape: [3, height, width] };
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "tweedie-features-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes `<name>.onnx` and `<name>.feature.json` (with the file's real SHA-256) into `dir`. */
export async function writeFeatureModel(
  dir: string,
  manifest: Record<string, unknown> & { name: string },
  bytes: Uint8Array,
): Promise<string> {
  const file = `${manifest.name}.onnx`;
  await writeFile(join(dir, file), bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const full = {
    schema: "tweedie.feature-model",
    version: 1,
    file,
    sha256,
    description: `test graph ${manifest.name}`,
    ...manifest,
  };
  await writeFile(join(dir, `${manifest.name}.feature.json`), JSON.stringify(full, null, 2));
  return sha256;
}

/** A logger that records every call. */
export function recordingLogger(): Logger & { readonly warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug() {},
    info() {},
    warn(message) {
      warnings.push(message);
    },
    error() {},
  };
}

// LPIPS: a two-layer conv "backbone" (3 -> 4 channels, 3x3, pad 1; then 4 -> 5, 3x3,
// stride 2, pad 1), ReLU after each; the two activations are the LPIPS layers.

export const LPIPS_W1 = weights(4 * 3 * 9, 1);
export const LPIPS_B1 = weights(4, 2).map((v) => v * 0.1);
export const LPIPS_W2 = weights(5 * 4 * 9, 3);
export const LPIPS_B2 = weights(5, 4).map((v) => v * 0.1);
export const LPIPS_HEADS = [
  [0.2, 0.5, 0.1, 0.9],
  [0.3, 0.05, 0.7, 0.4, 0.25],
];
/** lpips v0.1 ScalingLayer shift and scale, used as the manifest's normalisation. */
export const LPIPS_SHIFT = [-0.03, -0.088, -0.188];
export const LPIPS_SCALE = [0.458, 0.448, 0.45];

export function lpipsBackboneGraph(): Uint8Array {
  const graph = new GraphBuilder({ name: "tiny_lpips" });
  graph.input("x", "float32", ["N", 3, "H", "W"]);
  graph.initializer("w1", f32(LPIPS_W1, [4, 3, 3, 3]));
  graph.initializer("b1", f32(LPIPS_B1, [4]));
  graph.initializer("w2", f32(LPIPS_W2, [5, 4, 3, 3]));
  graph.initializer("b2", f32(LPIPS_B2, [5]));
  graph.node("Conv", ["x", "w1", "b1"], ["h1"], {
    kernel_shape: { ints: [3, 3] },
    pads: { ints: [1, 1, 1, 1] },
  });
  graph.node("Relu", ["h1"], ["relu1"]);
  graph.node("Conv", ["relu1", "w2", "b2"], ["h2"], {
    kernel_shape: { ints: [3, 3] },
    pads: { ints: [1, 1, 1, 1] },
    strides: { ints: [2, 2] },
  });
  graph.node("Relu", ["h2"], ["relu2"]);
  graph.output("relu1", "float32", ["N", 4, "H", "W"]);
  graph.output("relu2", "float32", ["N", 5, "H2", "W2"]);
  return graph.toBytes();
}

export const LPIPS_MANIFEST = {
  name: "lpips-alex",
  kind: "lpips",
  input: { name: "x", dtype: "float32", layout: "NCHW", channels: 3, size: { kind: "any" } },
  valueRange: [-1, 1],
  resize: { kind: "none" },
  normalization: { mean: LPIPS_SHIFT, std: LPIPS_SCALE },
  outputs: ["relu1", "relu2"],
  lpipsWeights: LPIPS_HEADS,
};

/** Direct float64 convolution of a CHW image (one batch item), zero padding. */
export function conv2d(
  input: Float64Array,
  channels: number,
  height: number,
  width: number,
  kernel: readonly number[],
  bias: readonly number[],
  outChannels: number,
  size: number,
  stride: number,
  pad: number,
): { data: Float64Array; height: number; width: number } {
  const outH = Math.floor((height + 2 * pad - size) / stride) + 1;
  const outW = Math.floor((width + 2 * pad - size) / stride) + 1;
  const out = new Float64Array(outChannels * outH * outW);
  for (let o = 0; o < outChannels; o++) {
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        let sum = bias[o];
        for (let c = 0; c < channels; c++) {
          for (let ky = 0; ky < size; ky++) {
            for (let kx = 0; kx < size; kx++) {
              const iy = y * stride + ky - pad;
              const ix = x * stride + kx - pad;
              if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
              sum +=
                kernel[((o * channels + c) * size + ky) * size + kx] *
                input[(c * height + iy) * width + ix];
            }
          }
        }
        out[(o * outH + y) * outW + x] = sum;
      }
    }
  }
  return { data: out, height: outH, width: outW };
}

/** LPIPS of the tiny backbone in float64, from images on [-1, 1]: the test's reference. */
export function lpipsReference(a: ImageArray, b: ImageArray): number {
  const features = (image: ImageArray) => {
    const [, height, width] = image.shape;
    const plane = height * width;
    const x = Float64Array.from(image.data, (v, i) => {
      const c = Math.floor(i / plane);
      return (v - LPIPS_SHIFT[c]) / LPIPS_SCALE[c];
    });
    const h1 = conv2d(x, 3, height, width, LPIPS_W1, LPIPS_B1, 4, 3, 1, 1);
    const r1 = h1.data.map((v) => Math.max(v, 0));
    const h2 = conv2d(r1, 4, h1.height, h1.width, LPIPS_W2, LPIPS_B2, 5, 3, 2, 1);
    const r2 = h2.data.map((v) => Math.max(v, 0));
    return [
      { data: r1, channels: 4, plane: h1.height * h1.width },
      { data: r2, channels: 5, plane: h2.height * h2.width },
    ];
  };
  const fa = features(a);
  const fb = features(b);
  let total = 0;
  fa.forEach((layer, l) => {
    const { channels, plane } = layer;
    let sum = 0;
    for (let p = 0; p < plane; p++) {
      let na = 0;
      let nb = 0;
      for (let c = 0; c < channels; c++) {
        na += layer.data[c * plane + p] ** 2;
        nb += fb[l].data[c * plane + p] ** 2;
      }
      for (let c = 0; c < channels; c++) {
        const d =
          layer.data[c * plane + p] / (Math.sqrt(na) + 1e-10) -
          fb[l].data[c * plane + p] / (Math.sqrt(nb) + 1e-10);
        sum += LPIPS_HEADS[l][c] * d * d;
      }
    }
    total += sum / plane;
  });
  return total;
}

// "Inception": flatten an 8x8 RGB image and multiply by a fixed 192 x 8 matrix.

export const INCEPTION_DIM = 8;
export const INCEPTION_W = weights(192 * INCEPTION_DIM, 7).map((v) => v * 0.05);

export function linearFeatureGraph(): Uint8Array {
  const graph = new GraphBuilder({ name: "tiny_inception" });
  graph.input("images", "float32", ["N", 3, 8, 8]);
  graph.initializer("shape", { dtype: "int64", data: BigInt64Array.from([0n, -1n]), dims: [2] });
  graph.initializer("w", f32(INCEPTION_W, [192, INCEPTION_DIM]));
  graph.node("Reshape", ["images", "shape"], ["flat"]);
  graph.node("MatMul", ["flat", "w"], ["pool3"]);
  graph.output("pool3", "float32", ["N", INCEPTION_DIM]);
  return graph.toBytes();
}

export function inceptionManifest(resize: Record<string, unknown>, name = "inception-fid") {
  return {
    name,
    kind: "inception",
    input: {
      name: "images",
      dtype: "float32",
      layout: "NCHW",
      channels: 3,
      size: { kind: "static", height: 8, width: 8 },
    },
    valueRange: [0, 255],
    resize,
    outputs: ["pool3"],
  };
}

// CLIP: the image tower flattens an 8x8 image and projects it to 6 dims; the text tower
// averages rows of a 20 x 6 embedding table over 5 token ids.

export const CLIP_IMAGE_W = weights(192 * 6, 11).map((v) => v * 0.1);
export const CLIP_TABLE = weights(20 * 6, 13);

export function clipImageGraph(): Uint8Array {
  const graph = new GraphBuilder({ name: "tiny_clip_image" });
  graph.input("pixel_values", "float32", [1, 3, 8, 8]);
  graph.initializer("shape", { dtype: "int64", data: BigInt64Array.from([1n, -1n]), dims: [2] });
  graph.initializer("w", f32(CLIP_IMAGE_W, [192, 6]));
  graph.node("Reshape", ["pixel_values", "shape"], ["flat"]);
  graph.node("MatMul", ["flat", "w"], ["image_embeds"]);
  graph.output("image_embeds", "float32", [1, 6]);
  return graph.toBytes();
}

export function clipTextGraph(): Uint8Array {
  const graph = new GraphBuilder({ name: "tiny_clip_text" });
  graph.input("input_ids", "int64", [1, 5]);
  graph.initializer("table", f32(CLIP_TABLE, [20, 6]));
  graph.node("Gather", ["table", "input_ids"], ["rows"], { axis: { int: 0 } });
  graph.node("ReduceMean", ["rows"], ["text_embeds"], {
    axes: { ints: [1] },
    keepdims: { int: 0 },
  });
  graph.output("text_embeds", "float32", [1, 6]);
  return graph.toBytes();
}

/** Test tokenizer: character codes modulo 20, padded with 0 or truncated to 5 ids. */
export const tinyTokenizer = {
  encode(text: string): number[] {
    const ids = [...text].slice(0, 5).map((ch) => (ch.codePointAt(0) ?? 0) % 20);
    while (ids.length < 5) ids.push(0);
    return ids;
  },
};

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export const CLIP_IMAGE_MANIFEST = {
  name: "clip-vit-l14-image",
  kind: "clip-image",
  input: {
    name: "pixel_values",
    dtype: "float32",
    layout: "NCHW",
    channels: 3,
    size: { kind: "static", height: 8, width: 8 },
  },
  valueRange: [0, 1],
  resize: {
    kind: "shorter-side",
    size: 8,
    centerCrop: [8, 8],
    filter: "bicubic",
    antialias: true,
  },
  normalization: { mean: CLIP_MEAN, std: CLIP_STD },
  outputs: ["image_embeds"],
};

export const CLIP_TEXT_MANIFEST = {
  name: "clip-vit-l14-text",
  kind: "clip-text",
  input: { name: "input_ids", dtype: "int64", layout: "tokens", contextLength: 5 },
  outputs: ["text_embeds"],
};

/** The tiny text tower in float64. */
export function clipTextReference(text: string): Float64Array {
  const ids = tinyTokenizer.encode(text);
  const out = new Float64Array(6);
  for (const id of ids) for (let d = 0; d < 6; d++) out[d] += CLIP_TABLE[id * 6 + d] / ids.length;
  return out;
}

// ViT qkv: 8x8 patches (stride-8 conv, 3 -> 4 channels) as tokens after a CLS token, then
// a 4 -> 12 projection: [q (4), k (4), v (4)] per token, 2 heads of 2 dims.

export const VIT_PATCH_W = weights(4 * 3 * 64, 17).map((v) => v * 0.01);
export const VIT_PATCH_B = weights(4, 18).map((v) => v * 0.1);
export const VIT_CLS = weights(4, 19);
export const VIT_QKV_W = weights(4 * 12, 23);

export function vitQkvGraph(): Uint8Array {
  const graph = new GraphBuilder({ name: "tiny_vit_qkv" });
  graph.input("image", "float32", [1, 3, "H", "W"]);
  graph.initializer("patch_w", f32(VIT_PATCH_W, [4, 3, 8, 8]));
  graph.initializer("patch_b", f32(VIT_PATCH_B, [4]));
  graph.initializer("cls", f32(VIT_CLS, [1, 1, 4]));
  graph.initializer("qkv_w", f32(VIT_QKV_W, [4, 12]));
  graph.initializer("flat_shape", {
    dtype: "int64",
    data: BigInt64Array.from([1n, 4n, -1n]),
    dims: [3],
  });
  graph.node("Conv", ["image", "patch_w", "patch_b"], ["patches"], {
    kernel_shape: { ints: [8, 8] },
    strides: { ints: [8, 8] },
  });
  graph.node("Reshape", ["patches", "flat_shape"], ["flat"]);
  graph.node("Transpose", ["flat"], ["tokens"], { perm: { ints: [0, 2, 1] } });
  graph.node("Concat", ["cls", "tokens"], ["sequence"], { axis: { int: 1 } });
  graph.node("MatMul", ["sequence", "qkv_w"], ["qkv"]);
  graph.output("qkv", "float32", [1, "T", 12]);
  return graph.toBytes();
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

export const VIT_MANIFEST = {
  name: "dino-vitb8",
  kind: "vit-qkv",
  heads: 2,
  input: {
    name: "image",
    dtype: "float32",
    layout: "NCHW",
    channels: 3,
    size: { kind: "multiple", multiple: 8 },
  },
  valueRange: [0, 255],
  resize: { kind: "shorter-side", size: 16, maxSize: 480, filter: "bilinear", antialias: false },
  normalization: { mean: IMAGENET_MEAN, std: IMAGENET_STD },
  outputs: ["qkv"],
};

/** Keys' cosine self-similarity of the tiny ViT in float64, from the network's input. */
export function vitSelfSimilarityReference(x: Float64Array, height: number, width: number) {
  const patches = conv2d(x, 3, height, width, VIT_PATCH_W, VIT_PATCH_B, 4, 8, 8, 0);
  const count = patches.height * patches.width;
  const tokens: number[][] = [VIT_CLS.slice()];
  for (let p = 0; p < count; p++) tokens.push([0, 1, 2, 3].map((c) => patches.data[c * count + p]));
  const keys = tokens.map((t) =>
    [4, 5, 6, 7].map((col) => t.reduce((sum, v, r) => sum + v * VIT_QKV_W[r * 12 + col], 0)),
  );
  const n = keys.length;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dot = keys[i].reduce((s, v, d) => s + v * keys[j][d], 0);
      const ni = Math.hypot(...keys[i]);
      const nj = Math.hypot(...keys[j]);
      out[i * n + j] = dot / Math.max(ni * nj, 1e-8);
    }
  }
  return out;
}
