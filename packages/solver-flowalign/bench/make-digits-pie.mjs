#!/usr/bin/env node
// Writes the digits editing benchmark in PIE-Bench layout: bench/digits-pie/mapping_file.json
// and one 8-bit grayscale PNG per source under annotation_images/. The sources are
// held-out rows of data/digits (row index mod 5 = 4, never seen by the prior's fit):
// 8 per fixed pair (3->8, 1->7, 0->6, 5->6, 4->9) and 40 random rows with a random other
// target class, all drawn from one named seed, so rerunning the script gives the same
// bytes. Besides the PIE-Bench fields, each entry records its data row, the labels and
// the exact pixel values 0..16 (`digits_pixels`), because the 8-bit PNG cannot hold
// v / 16 exactly.
//
// Usage: pnpm exec nx run core:build && node bench/make-digits-pie.mjs
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync } from "node:zlib";
import {
  createRng,
  DIGITS_DATA_FILE,
  digitsSplit,
  permutation,
  randint,
  readDigitsFile,
} from "@tweedie/core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const outDir = join(here, "digits-pie");
const imageDir = "0_random_140";

const FIXED_PAIRS = [
  [3, 8],
  [1, 7],
  [0, 6],
  [5, 6],
  [4, 9],
];
const PER_FIXED_PAIR = 8;
const RANDOM_EDITS = 40;
const SEED = "tweedie/solver-flowalign/digits-pie";

/** A PNG chunk: length, type, data, CRC-32 of type and data. */
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Encodes an 8-bit grayscale image (rows of bytes) as PNG, filter type 0 on every row. */
function encodeGrayPng(pixels, width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grayscale
  const raw = Buffer.alloc(height * (width + 1));
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) raw[r * (width + 1) + 1 + c] = pixels[r * width + c];
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const file = readDigitsFile(join(repo, "data", "digits", DIGITS_DATA_FILE));
const heldOut = Array.from(digitsSplit(file.count).heldOut);
const rng = createRng(SEED);

const picks = [];
const used = new Set();
FIXED_PAIRS.forEach(([source, target], pair) => {
  const rows = heldOut.filter((row) => file.labels[row] === source);
  const order = permutation(rng.split("fixed", pair), rows.length);
  for (let k = 0; k < PER_FIXED_PAIR; k++) {
    const row = rows[order[k]];
    used.add(row);
    picks.push({ row, source, target });
  }
});
const free = heldOut.filter((row) => !used.has(row));
const order = permutation(rng.split("random", "rows"), free.length);
const offsets = randint(rng.split("random", "targets"), 1, 10, RANDOM_EDITS);
for (let k = 0; k < RANDOM_EDITS; k++) {
  const row = free[order[k]];
  const source = file.labels[row];
  picks.push({ row, source, target: (source + offsets[k]) % 10 });
}

mkdirSync(join(outDir, "annotation_images", imageDir), { recursive: true });
const mapping = {};
picks.forEach(({ row, source, target }, index) => {
  const id = String(index).padStart(12, "0");
  const values = Array.from({ length: 64 }, (_, i) =>
    Math.round(((file.images[row * 64 + i] + 1) * 16) / 2),
  );
  const imagePath = `${imageDir}/${id}.png`;
  const png = encodeGrayPng(
    values.map((v) => Math.round((255 * v) / 16)),
    8,
    8,
  );
  writeFileSync(join(outDir, "annotation_images", imagePath), png);
  mapping[id] = {
    image_path: imagePath,
    original_prompt: `a handwritten digit ${source}`,
    editing_prompt: `a handwritten digit ${target}`,
    editing_instruction: `Change the digit ${source} to ${target}`,
    editing_type_id: "0",
    blended_word: `${source} ${target}`,
    mask: [0, 64],
    digits_row: row,
    source_label: source,
    target_label: target,
    digits_pixels: values,
  };
});
/**
 * JSON with two-space indentation in the layout of the repository's formatter (Biome,
 * line width 100): a number array that fits stays on its key's line, a longer one fills
 * lines one indentation deeper.
 */
function formatJson(value) {
  const lines = JSON.stringify(value, null, 2).split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^(\s*)(".*": )?\[$/);
    if (!open) {
      out.push(lines[i]);
      continue;
    }
    let end = i + 1;
    while (!/^\s*\],?$/.test(lines[end])) end++;
    const items = lines.slice(i + 1, end).map((line) => line.trim().replace(/,$/, ""));
    const close = lines[end].trim();
    const single = `${lines[i]}${items.join(", ")}${close}`;
    if (single.length <= 100 || items.length === 0) {
      out.push(single);
    } else {
      const indent = `${open[1]}  `;
      const filled = [];
      let line = indent;
      items.forEach((item, k) => {
        const piece = k < items.length - 1 ? `${item},` : item;
        if (line !== indent && line.length + 1 + piece.length > 100) {
          filled.push(line);
          line = indent;
        }
        line += line === indent ? piece : ` ${piece}`;
      });
      out.push(lines[i], ...filled, line, `${open[1]}${close}`);
    }
    i = end;
  }
  return out.join("\n");
}
const text = formatJson(mapping);
writeFileSync(join(outDir, "mapping_file.json"), `${text}\n`);
console.log(`wrote ${picks.length} entries to ${join(outDir, "mapping_file.json")}`);
