import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeNpy, encodeNpy, readNpy, writeNpy } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tweedie-eval-npy-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The array make_goldens.py saved with numpy 1.24: k / 8 for k = 0..23, shape (2, 3, 4). */
const expected = Float32Array.from({ length: 24 }, (_, k) => k / 8);

describe("npy", () => {
  it("reads a file written by numpy", async () => {
    const array = await readNpy(join(FIXTURES, "small-f32.npy"));
    expect(array.shape).toEqual([2, 3, 4]);
    expect(array.data).toEqual(expected);
    expect(array.valueRange).toBeNull();
  });

  it("writes the same bytes as numpy", async () => {
    const numpyBytes = await readFile(join(FIXTURES, "small-f32.npy"));
    const ours = encodeNpy({ data: expected, shape: [2, 3, 4] });
    expect(ours.subarray(0, 128).toString("latin1")).toBe(
      numpyBytes.subarray(0, 128).toString("latin1"),
    );
    expect(ours.equals(numpyBytes)).toBe(true);
  });

  it("aligns the header to 64 bytes for any shape", () => {
    for (const shape of [[], [5], [3, 512, 512], [1, 3, 1024, 1024]]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const bytes = encodeNpy({ data: new Float32Array(size), shape });
      const headerLength = bytes.readUInt16LE(8);
      expect((10 + headerLength) % 64, `shape ${shape}`).toBe(0);
      expect(bytes[10 + headerLength - 1]).toBe(0x0a);
      expect(decodeNpy(bytes).shape).toEqual(shape);
    }
  });

  it("round-trips with the value range in a sidecar", async () => {
    const path = join(dir, "out", "x0Hat.npy");
    const data = Float32Array.from([-1, -0.25, 0.5, 1, 0.125, Math.fround(Math.PI)]);
    await writeNpy(path, { data, shape: [1, 2, 3] }, { valueRange: [-1, 1] });
    const back = await readNpy(path);
    expect(back).toEqual({ data, shape: [1, 2, 3], valueRange: [-1, 1] });
    const sidecar = JSON.parse(await readFile(`${path}.json`, "utf8"));
    expect(sidecar).toEqual({
      schema: "tweedie.npy",
      version: 1,
      dtype: "float32",
      shape: [1, 2, 3],
      valueRange: [-1, 1],
    });
  });

  it("rejects other dtypes, Fortran order and truncated data", () => {
    const good = encodeNpy({ data: expected, shape: [2, 3, 4] });
    const withHeader = (from: string, to: string) =>
      Buffer.from(good.toString("latin1").replace(from, to), "latin1");
    expect(() => decodeNpy(withHeader("'<f4'", "'<f8'"), "a.npy")).toThrow(
      "a.npy: unsupported dtype <f8",
    );
    expect(() => decodeNpy(withHeader("False", "True "), "b.npy")).toThrow(/Fortran-order/);
    expect(() => decodeNpy(good.subarray(0, good.length - 4), "c.npy")).toThrow(
      /data length does not match/,
    );
    expect(() => decodeNpy(Buffer.from("hello world"), "d.npy")).toThrow(/not an .npy file/);
  });

  it("rejects a sidecar that disagrees with the array", async () => {
    const path = join(dir, "mismatch.npy");
    await writeNpy(path, { data: expected, shape: [2, 3, 4] }, { valueRange: [0, 1] });
    await writeFile(
      `${path}.json`,
      JSON.stringify({
        schema: "tweedie.npy",
        version: 1,
        dtype: "float32",
        shape: [24],
        valueRange: [0, 1],
      }),
    );
    await expect(readNpy(path)).rejects.toThrow(/shape differs from the .npy header/);
    await expect(
      writeNpy(path, { data: expected, shape: [2, 3, 4] }, { valueRange: [1, 0] }),
    ).rejects.toThrow(/valueRange/);
  });
});
