import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DIGITS_DATA_FILE, readDigitsFile } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { readDigitsEditingMapping } from "../src/index.js";

const BENCH = new URL("../bench/digits-pie/", import.meta.url);
const mapping = JSON.parse(readFileSync(new URL("mapping_file.json", BENCH), "utf8")) as Record<
  string,
  Record<string, unknown>
>;
const data = readDigitsFile(
  fileURLToPath(new URL(`../../../data/digits/${DIGITS_DATA_FILE}`, import.meta.url)),
);

describe("digits editing mapping file", () => {
  it("holds 80 PIE-Bench entries over the full 8x8 mask", () => {
    const ids = Object.keys(mapping);
    expect(ids).toHaveLength(80);
    expect(ids.every((id) => /^\d{12}$/.test(id))).toBe(true);
    for (const entry of Object.values(mapping)) {
      expect(entry.editing_type_id).toBe("0");
      expect(entry.mask).toEqual([0, 64]);
      expect(entry.original_prompt).toBe(`a handwritten digit ${entry.source_label}`);
      expect(entry.editing_prompt).toBe(`a handwritten digit ${entry.target_label}`);
      expect(entry.blended_word).toBe(`${entry.source_label} ${entry.target_label}`);
      expect(entry.target_label).not.toBe(entry.source_label);
    }
  });

  it("edits 8 held-out digits per fixed pair", () => {
    const pairs = Object.values(mapping).map((e) => `${e.source_label}->${e.target_label}`);
    for (const pair of ["3->8", "1->7", "0->6", "5->6", "4->9"]) {
      expect(pairs.filter((p) => p === pair).length, pair).toBeGreaterThanOrEqual(8);
    }
    const rows = Object.values(mapping).map((e) => e.digits_row as number);
    expect(new Set(rows).size).toBe(80);
    expect(rows.every((row) => row % 5 === 4)).toBe(true);
  });

  it("stores the data rows' exact pixels and labels", () => {
    for (const entry of Object.values(mapping)) {
      const row = entry.digits_row as number;
      const pixels = Array.from(
        data.images.subarray(row * 64, (row + 1) * 64),
        (x) => ((x + 1) * 16) / 2,
      );
      expect(entry.digits_pixels).toEqual(pixels);
      expect(entry.source_label).toBe(data.labels[row]);
    }
  });

  it("points to an 8x8 grayscale PNG per entry", () => {
    for (const entry of Object.values(mapping)) {
      const png = readFileSync(new URL(`annotation_images/${entry.image_path}`, BENCH));
      expect(png.subarray(0, 8)).toEqual(
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
      expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
      expect([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]]).toEqual([8, 8, 8, 0]);
    }
  });

  it("reads into [-1, 1] sources", () => {
    const entries = readDigitsEditingMapping(fileURLToPath(new URL("mapping_file.json", BENCH)));
    expect(entries[0].source.shape).toEqual([1, 1, 8, 8]);
    const first = Object.values(mapping)[0].digits_pixels as number[];
    expect(Array.from(entries[0].source.data)).toEqual(first.map((v) => (2 * v) / 16 - 1));
  });
});
