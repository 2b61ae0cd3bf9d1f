import { deflateSync } from "node:zlib";

/**
 * Encodes a palette PNG for tests (colour type 3, 8-bit indices, PLTE + tRNS) with the
 * palette exactly as given. sharp's own palette output re-quantises colours, so it cannot
 * store a chosen RGB value under a fully transparent entry.
 */
export function encodePalettePng(
  width: number,
  height: number,
  indices: Uint8Array,
  palette: readonly (readonly [number, number, number, number])[],
): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth of an index
  header[9] = 3; // colour type: palette
  const rows = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) {
    rows[y * (width + 1)] = 0; // filter type None
    for (let x = 0; x < width; x++) rows[y * (width + 1) + 1 + x] = indices[y * width + x];
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("PLTE", Buffer.from(palette.flatMap((entry) => entry.slice(0, 3)))),
    chunk("tRNS", Buffer.from(palette.map(([, , , a]) => a))),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** CRC-32 (ISO 3309, reflected polynomial 0xEDB88320) as PNG chunks use it. */
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
