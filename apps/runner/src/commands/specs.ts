import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { Tensor, TweedieError } from "@tweedie/core";
import { readImage, readNpy, writeImage, writeNpy } from "@tweedie/eval";
import { getPreset, operatorPresets } from "@tweedie/operators";

/**
 * Reads a spec option: inline JSON (`{"kind": "sr-avgpool", "scale": 4}`), `@FILE` with
 * JSON in it, or an operator preset name (`dps-sr4`), whose noise comes along.
 */
export async function readSpec(
  option: string,
  text: string,
): Promise<{ spec: Record<string, unknown>; presetNoise?: Record<string, unknown> }> {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return { spec: parseJson(option, trimmed) };
  if (trimmed.startsWith("@")) {
    const file = trimmed.slice(1);
    const content = await readFile(file, "utf8").catch((cause: unknown) => {
      const missing = (cause as NodeJS.ErrnoException)?.code === "ENOENT";
      // One path element: renderError joins elements with "." and "--operator.FILE" misreads.
      throw new TweedieError(missing ? "spec file not found" : "cannot read spec file", {
        code: missing ? "not_found" : "io_failed",
        path: [`${option} @${file}`],
        cause,
      });
    });
    return { spec: parseJson(`${option} ${file}`, content) };
  }
  if (Object.hasOwn(operatorPresets, trimmed)) {
    const preset = getPreset(trimmed);
    return { spec: { ...preset.operator }, presetNoise: { ...preset.noise } };
  }
  throw new TweedieError("invalid spec", {
    code: "invalid_value",
    path: [option],
    expected: `inline JSON, @FILE, or a preset (${Object.keys(operatorPresets).join(", ")})`,
    received: text,
  });
}

function parseJson(where: string, text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch (cause) {
    throw new TweedieError("spec is not valid JSON", {
      code: "invalid_value",
      path: [where],
      received: text.slice(0, 120),
      cause,
    });
  }
  throw new TweedieError("spec must be a JSON object", {
    code: "invalid_type",
    path: [where],
    received: text.slice(0, 120),
  });
}

/**
 * Reads an image as [1, C, H, W] on [-1, 1]: PNG/JPEG (upright, 8 or 16 bit) or `.npy`
 * whose sidecar states its value range (a bare `.npy` is taken to be on [-1, 1]).
 */
export async function readTensor(path: string): Promise<{ x: Tensor; note: string }> {
  if (extname(path).toLowerCase() === ".npy") {
    const array = await readNpy(path);
    const [low, high] = array.valueRange ?? [-1, 1];
    const data = Float32Array.from(array.data, (v) => (2 * (v - low)) / (high - low) - 1);
    const shape =
      array.shape.length === 3
        ? [1, ...array.shape]
        : array.shape.length === 2
          ? [1, 1, ...array.shape]
          : [...array.shape];
    return {
      x: new Tensor(data, shape),
      note: array.valueRange
        ? `value range [${low}, ${high}] from the sidecar`
        : "no sidecar: taken as [-1, 1]",
    };
  }
  const image = await readImage(path);
  const [, h, w] = image.shape;
  // A grey file stays one channel here, so noise and solvers see the file's own data.
  const channels = image.meta.channelPolicy === "grey-to-rgb" ? 1 : 3;
  const data = Float32Array.from(image.data.subarray(0, channels * h * w), (v) => 2 * v - 1);
  return {
    x: new Tensor(data, [1, channels, h, w]),
    note: `${image.meta.bitDepth}-bit, ${channels} channel(s), orientation ${image.meta.orientation}`,
  };
}

/** Writes item 0 of a [N, C, H, W] tensor on [-1, 1] as PNG (8 or 16 bit) or exact `.npy` on [-1, 1]. */
/**
 * Writes sample 0 as .npy (exact, with a [-1, 1] sidecar) or .png (clipped to [-1, 1]).
 * Returns how many values the PNG clipped, so callers can warn, and 0 for .npy.
 */
export async function writeTensor(path: string, x: Tensor, bitDepth: 8 | 16): Promise<number> {
  const item = x.item(0);
  const shape = item.shape.slice(1);
  const extension = extname(path).toLowerCase();
  if (extension === ".npy") {
    await writeNpy(path, { data: item.data, shape }, { valueRange: [-1, 1] });
    return 0;
  }
  if (extension !== ".png") {
    throw new TweedieError("unsupported output file type", {
      code: "invalid_value",
      path: ["--out"],
      expected: ".png (8 or 16 bits, clipped to [-1, 1]) or .npy (exact)",
      received: path,
    });
  }
  let clipped = 0;
  for (const value of item.data) if (value < -1 || value > 1) clipped++;
  const unit = Float32Array.from(item.data, (v) => Math.min(1, Math.max(0, (v + 1) / 2)));
  await writeImage(path, { data: unit, shape: shape as [number, number, number] }, { bitDepth });
  return clipped;
}

/** Warns on stderr when writing a PNG clipped values that a .npy would keep. */
export function warnClipped(
  clipped: number,
  total: number,
  path: string,
  ctx: { stderr: (line: string) => void },
): void {
  if (clipped === 0) return;
  ctx.stderr(
    `warning: ${clipped} of ${total} values lie outside [-1, 1] and were clipped in ${path}; write .npy to keep them`,
  );
}

export function parseBitDepth(value: string | undefined): 8 | 16 {
  if (value === undefined || value === "8") return 8;
  if (value === "16") return 16;
  throw new TweedieError("invalid bit depth", {
    code: "invalid_value",
    path: ["--bit-depth"],
    expected: [8, 16],
    received: value,
  });
}

/**
 * Fits an image to a model's channel count. A file read as 3 equal channels (grey files
 * are expanded on reading) becomes 1 channel for a 1-channel model. Any other mismatch is
 * rejected with the file and both counts.
 */
export function matchChannels(x: Tensor, channels: number, file: string): Tensor {
  const [n, c, h, w] = x.shape;
  if (c === channels) return x;
  if (channels === 1 && c === 3) {
    const plane = h * w;
    const grey = x.data.subarray(0, plane);
    const equal = grey.every((v, i) => v === x.data[plane + i] && v === x.data[2 * plane + i]);
    if (equal) return new Tensor(Float32Array.from(grey), [n, 1, h, w]);
  }
  throw new TweedieError("image channels do not match the model", {
    code: "shape_mismatch",
    path: [file],
    expected: `${channels} channel(s)`,
    received: c,
  });
}
