import { deflateSync, inflateSync } from "node:zlib";
import { TweedieError } from "../errors.js";

/**
 * A minimal PNG codec for the sample photos, so that core reads and writes them without
 * an image library. It decodes 8-bit greyscale, RGB and RGBA images without interlacing
 * (colour types 0, 2 and 6; every filter type of the PNG specification, section 9) and
 * encodes 8-bit RGB. Anything else is rejected with the header field that is unsupported.
 */

/** An 8-bit image in HWC order: `data[(y * width + x) * channels + c]`. */
export interface RasterImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
  readonly data: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS_BY_COLOUR_TYPE: Readonly<Record<number, 1 | 3 | 4>> = { 0: 1, 2: 3, 6: 4 };

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, polynomial 0xedb88320) as PNG chunks use it. */
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pngError(label: string, message: string, expected: unknown, received: unknown) {
  return new TweedieError(message, { code: "io_failed", path: [label], expected, received });
}

/** The Paeth predictor of the PNG specification (section 9.4). */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** Reverses the per-scanline filters of a decompressed image stream into `out`. */
function unfilter(
  raw: Uint8Array,
  out: Uint8Array,
  width: number,
  height: number,
  bpp: number,
  label: string,
) {
  const stride = width * bpp;
  if (raw.length < height * (stride + 1)) {
    throw pngError(label, "PNG image data is truncated", height * (stride + 1), raw.length);
  }
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let i = 0; i < stride; i++) {
      const left = i >= bpp ? out[row + i - bpp] : 0;
      const up = y > 0 ? out[prev + i] : 0;
      const upLeft = y > 0 && i >= bpp ? out[prev + i - bpp] : 0;
      let predictor: number;
      switch (filter) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = left;
          break;
        case 2:
          predictor = up;
          break;
        case 3:
          predictor = (left + up) >>> 1;
          break;
        case 4:
          predictor = paeth(left, up, upLeft);
          break;
        default:
          throw pngError(label, "PNG scanline has an unknown filter type", "0 to 4", filter);
      }
      out[row + i] = (raw[src + i] + predictor) & 0xff;
    }
  }
}

/** Decodes a PNG file's bytes; `label` names the file in errors. */
export function decodePng(bytes: Uint8Array, label = "<png>"): RasterImage {
  for (let i = 0; i < SIGNATURE.length; i++) {
    if (bytes[i] !== SIGNATURE[i]) {
      throw pngError(
        label,
        "file is not a PNG image",
        "the 8-byte PNG signature",
        Array.from(bytes.subarray(0, 8)),
      );
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = SIGNATURE.length;
  let width = 0;
  let height = 0;
  let channels: 1 | 3 | 4 = 3;
  const idat: Uint8Array[] = [];
  while (offset + 12 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const dataStart = offset + 8;
    const dataEnd = dataStart + length;
    if (dataEnd + 4 > bytes.length)
      throw pngError(label, `PNG chunk ${type} is truncated`, length, bytes.length - dataStart);
    const crc = view.getUint32(dataEnd);
    if (crc !== crc32(bytes, offset + 4, dataEnd)) {
      throw pngError(
        label,
        `PNG chunk ${type} fails its CRC check`,
        crc32(bytes, offset + 4, dataEnd),
        crc,
      );
    }
    if (type === "IHDR") {
      width = view.getUint32(dataStart);
      height = view.getUint32(dataStart + 4);
      const bitDepth = bytes[dataStart + 8];
      const colourType = bytes[dataStart + 9];
      const interlace = bytes[dataStart + 12];
      if (bitDepth !== 8) throw pngError(label, "unsupported PNG bit depth", 8, bitDepth);
      const mapped = CHANNELS_BY_COLOUR_TYPE[colourType];
      if (mapped === undefined) {
        throw pngError(
          label,
          "unsupported PNG colour type",
          "0 (grey), 2 (RGB) or 6 (RGBA)",
          colourType,
        );
      }
      if (interlace !== 0)
        throw pngError(label, "interlaced PNG files are not supported", 0, interlace);
      channels = mapped;
    } else if (type === "IDAT") {
      idat.push(bytes.subarray(dataStart, dataEnd));
    } else if (type === "IEND") {
      break;
    }
    offset = dataEnd + 4;
  }
  if (width === 0 || height === 0 || idat.length === 0) {
    throw pngError(
      label,
      "PNG file has no IHDR or IDAT chunk",
      "IHDR and IDAT chunks",
      `${idat.length} IDAT chunks`,
    );
  }
  const raw = inflateSync(Buffer.concat(idat));
  const data = new Uint8Array(width * height * channels);
  unfilter(raw, data, width, height, channels, label);
  return { width, height, channels, data };
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** Encodes an 8-bit RGB image (HWC) as PNG with filter type 0 on every scanline. */
export function encodePng(image: RasterImage): Uint8Array {
  const { width, height, channels, data } = image;
  if (channels !== 3 || data.length !== width * height * 3) {
    throw new TweedieError("encodePng takes 8-bit RGB data of width x height x 3 bytes", {
      code: "shape_mismatch",
      path: ["image"],
      expected: `3 channels and ${width * height * 3} bytes`,
      received: `${channels} channels and ${data.length} bytes`,
    });
  }
  const header = new Uint8Array(13);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, width);
  headerView.setUint32(4, height);
  header[8] = 8;
  header[9] = 2;
  const stride = width * 3;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++)
    raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  return Buffer.concat(parts);
}
