import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { TweedieError } from "@tweedie/core";
import { z } from "zod";

/**
 * float32 arrays in NumPy's .npy format (format 1.0 written; 1.0, 2.0 and 3.0 read),
 * little-endian '<f4', C order. The value range, which .npy cannot hold, goes into a
 * sidecar JSON file `<path>.json`.
 */

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
/** NumPy aligns the data start to 64 bytes. */
const ALIGNMENT = 64;
/** NumPy leaves room in the header for the first dimension to grow to 21 digits. */
const GROWTH_DIGITS = 21;

export interface NpyArray {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export const npySidecarSchema = z.object({
  schema: z.literal("tweedie.npy"),
  version: z.literal(1),
  dtype: z.literal("float32"),
  shape: z.array(z.number().int().nonnegative()),
  /** [low, high] of the values the array is meant to hold, such as [0, 1]. */
  valueRange: z.tuple([z.number(), z.number()]),
});

export type NpySidecar = z.infer<typeof npySidecarSchema>;

export interface ReadNpyResult extends NpyArray {
  /** From the sidecar; null when `<path>.json` does not exist. */
  readonly valueRange: readonly [number, number] | null;
}

/** Encodes a float32 array as .npy format 1.0 bytes. */
export function encodeNpy(array: NpyArray): Buffer {
  const size = checkShape(array.shape, array.data.length, "array");
  const dims = array.shape.map(String);
  const tuple = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  if (dims.length > 0) header += " ".repeat(Math.max(0, GROWTH_DIGITS - dims[0].length));
  const unpadded = MAGIC.length + 4 + header.length + 1;
  header += `${" ".repeat((ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT)}\n`;
  if (header.length > 0xffff) {
    throw new TweedieError("npy header is too long for format 1.0", {
      code: "unsupported",
      expected: "at most 65535 header bytes",
      received: header.length,
    });
  }

  const out = Buffer.alloc(MAGIC.length + 4 + header.length + size * 4);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, "latin1");
  const dataStart = 10 + header.length;
  for (let i = 0; i < size; i++) out.writeFloatLE(array.data[i], dataStart + 4 * i);
  return out;
}

/** Decodes .npy bytes that contain a little-endian float32 C-order array. */
export function decodeNpy(bytes: Buffer, source = "npy"): NpyArray {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) {
    throw new TweedieError(`${source}: not an .npy file`, {
      code: "invalid_value",
      path: [source],
      expected: "the magic string \\x93NUMPY",
    });
  }
  const major = bytes[6];
  if (major < 1 || major > 3) {
    throw new TweedieError(`${source}: unsupported .npy format version ${major}.${bytes[7]}`, {
      code: "unsupported",
      path: [source],
      expected: "format 1.0, 2.0 or 3.0",
      received: `${major}.${bytes[7]}`,
    });
  }

  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.toString(
    major === 3 ? "utf8" : "latin1",
    headerStart,
    headerStart + headerLength,
  );
  const { descr, fortranOrder, shape } = parseHeader(header, source);
  if (descr !== "<f4") {
    throw new TweedieError(`${source}: unsupported dtype ${descr}`, {
      code: "dtype_mismatch",
      path: [source, "descr"],
      expected: "<f4 (little-endian float32)",
      received: descr,
    });
  }
  if (fortranOrder) {
    throw new TweedieError(`${source}: Fortran-order arrays are not supported`, {
      code: "unsupported",
      path: [source, "fortran_order"],
      expected: false,
      received: true,
    });
  }

  const size = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  if (bytes.length - dataStart !== size * 4) {
    throw new TweedieError(`${source}: data length does not match the header shape`, {
      code: "shape_mismatch",
      path: [source],
      expected: `${size * 4} bytes for shape (${shape.join(", ")})`,
      received: `${bytes.length - dataStart} bytes`,
    });
  }
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = bytes.readFloatLE(dataStart + 4 * i);
  return { data, shape };
}

/** Writes `<path>` (.npy) and its sidecar `<path>.json` with the value range. */
export async function writeNpy(
  path: string,
  array: NpyArray,
  options: { readonly valueRange: readonly [number, number] },
): Promise<void> {
  const sidecar: NpySidecar = {
    schema: "tweedie.npy",
    version: 1,
    dtype: "float32",
    shape: [...array.shape],
    valueRange: [options.valueRange[0], options.valueRange[1]],
  };
  const parsed = npySidecarSchema.safeParse(sidecar);
  if (!parsed.success || !(sidecar.valueRange[1] > sidecar.valueRange[0])) {
    throw new TweedieError("valueRange must be [low, high] with finite low < high", {
      code: "invalid_value",
      path: ["valueRange"],
      received: options.valueRange,
    });
  }
  const bytes = encodeNpy(array);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  await writeFile(`${path}.json`, `${JSON.stringify(sidecar, null, 2)}\n`);
}

/** Reads a float32 .npy file and, when present, the value range from `<path>.json`. */
export async function readNpy(path: string): Promise<ReadNpyResult> {
  const bytes = await readFile(path).catch((cause: unknown) => {
    const missing = (cause as NodeJS.ErrnoException)?.code === "ENOENT";
    throw new TweedieError(missing ? "file not found" : "cannot read file", {
      code: missing ? "not_found" : "io_failed",
      path: [path],
      cause,
    });
  });
  const array = decodeNpy(bytes, path);
  const sidecarText = await readFile(`${path}.json`, "utf8").catch(() => null);
  if (sidecarText === null) return { ...array, valueRange: null };

  const sidecarPath = `${path}.json`;
  let json: unknown;
  try {
    json = JSON.parse(sidecarText);
  } catch (cause) {
    throw new TweedieError(`${sidecarPath}: not valid JSON`, {
      code: "invalid_value",
      path: [sidecarPath],
      cause,
    });
  }
  const parsed = npySidecarSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TweedieError(`${sidecarPath}: ${issue.message}`, {
      code: "invalid_value",
      path: [sidecarPath, ...issue.path.map(String)],
      cause: parsed.error,
    });
  }
  const sameShape =
    parsed.data.shape.length === array.shape.length &&
    parsed.data.shape.every((d, i) => d === array.shape[i]);
  if (!sameShape) {
    throw new TweedieError(`${sidecarPath}: shape differs from the .npy header`, {
      code: "shape_mismatch",
      path: [sidecarPath, "shape"],
      expected: [...array.shape],
      received: parsed.data.shape,
    });
  }
  return { ...array, valueRange: parsed.data.valueRange };
}

function parseHeader(
  header: string,
  source: string,
): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new TweedieError(`${source}: malformed .npy header`, {
      code: "invalid_value",
      path: [source],
      expected: "a dict with 'descr', 'fortran_order' and 'shape'",
      received: header.trim(),
    });
  }
  const shape = shapeText
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TweedieError(`${source}: malformed shape in .npy header`, {
      code: "invalid_value",
      path: [source, "shape"],
      received: shapeText,
    });
  }
  return { descr, fortranOrder: fortran === "True", shape };
}

function checkShape(shape: readonly number[], length: number, name: string): number {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || size !== length) {
    throw new TweedieError(`${name} data length does not match its shape`, {
      code: "shape_mismatch",
      path: [name],
      expected: `${size} values for shape [${shape.join(", ")}]`,
      received: length,
    });
  }
  return size;
}
