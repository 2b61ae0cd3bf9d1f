import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { TweedieError } from "@tweedie/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadItemImage } from "../src/exec/item-pixels.js";
import {
  buildManifest,
  ConfigError,
  datasetSchema,
  FASHION_CLASSES,
  fashionPrompt,
  loadDataset,
  parseConfig,
  planCells,
  type ResolvedDataset,
  type SolverInfo,
} from "../src/index.js";
import { tempDir } from "./e2e/helpers.js";

const DATA = fileURLToPath(new URL("../../../data/fashion/", import.meta.url));
const IMAGES = join(DATA, "t10k-first100-images-idx3-ubyte.gz");
const LABELS = join(DATA, "t10k-first100-labels-idx1-ubyte.gz");
const MODEL_MANIFEST = fileURLToPath(
  new URL("../../../packages/core/assets/priors/fashion/tweedie-model.json", import.meta.url),
);

function dataset(options: Record<string, unknown>): ResolvedDataset {
  const parsed = datasetSchema.parse(options);
  return { ...parsed, name: parsed.name ?? parsed.kind } as ResolvedDataset;
}

/**
 * Decodes the committed IDX files without the runner's code: the header is 16 bytes for
 * images (magic, count, rows, columns) and 8 for labels (magic, count).
 */
async function decodeIndependently(): Promise<{ pixels: Uint8Array; labels: Uint8Array }> {
  const images = gunzipSync(await readFile(IMAGES));
  const labels = gunzipSync(await readFile(LABELS));
  expect(images.readUInt32BE(0)).toBe(0x0803);
  expect(labels.readUInt32BE(0)).toBe(0x0801);
  return { pixels: images.subarray(16), labels: labels.subarray(8) };
}

async function loadError(options: Record<string, unknown>): Promise<TweedieError> {
  const error = await loadDataset(dataset(options)).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TweedieError);
  return error as TweedieError;
}

describe("fashion dataset", () => {
  it("loads the 100 held-out images with labels", async () => {
    const manifest = await loadDataset(dataset({ kind: "fashion" }));
    const { pixels, labels } = await decodeIndependently();
    expect(manifest.kind).toBe("fashion");
    expect(manifest.items).toHaveLength(100);
    expect(manifest.policy.pixels).toBe("2 v / 255 - 1");
    expect(manifest.items[0].id).toBe("test-00000");
    expect(manifest.items[99].id).toBe("test-00099");
    manifest.items.forEach((item, index) => {
      expect(item.annotation).toMatchObject({
        kind: "fashion",
        index,
        label: labels[index],
        className: FASHION_CLASSES[labels[index]],
        prompt: fashionPrompt(labels[index]),
      });
      const bytes = pixels.subarray(index * 784, (index + 1) * 784);
      expect(item.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    });
    // Test image 0 of Fashion-MNIST is an ankle boot, image 1 a pullover.
    expect(manifest.items[0].annotation).toMatchObject({
      label: 9,
      prompt: "a photo of an ankle boot",
    });
    expect(manifest.items[1].annotation).toMatchObject({
      label: 2,
      prompt: "a photo of a pullover",
    });
  });

  it("gives items the pixels of the IDX file", async () => {
    const manifest = await loadDataset(dataset({ kind: "fashion", limit: 5 }));
    const { pixels } = await decodeIndependently();
    for (const [index, item] of manifest.items.entries()) {
      const image = await loadItemImage(manifest, item);
      expect(image.x.shape).toEqual([1, 1, 28, 28]);
      const expected = Float32Array.from(
        pixels.subarray(index * 784, (index + 1) * 784),
        (v) => (2 * v) / 255 - 1,
      );
      expect(image.x.data).toEqual(expected);
      expect(image.source).toEqual({ index, label: (item.annotation as { label: number }).label });
    }
  });

  it("filters classes before the limit", async () => {
    const manifest = await loadDataset(dataset({ kind: "fashion", classes: [0, 3], limit: 10 }));
    const { labels } = await decodeIndependently();
    const expected = [...labels.keys()].filter((i) => labels[i] === 0 || labels[i] === 3);
    expect(manifest.items.map((item) => item.id)).toEqual(
      expected.slice(0, 10).map((i) => `test-${String(i).padStart(5, "0")}`),
    );
    expect(await loadDataset(dataset({ kind: "fashion", classes: [0] }))).toHaveProperty(
      "items.length",
      8,
    );
  });

  it("uses prompts from the model's label table", async () => {
    const manifest = JSON.parse(await readFile(MODEL_MANIFEST, "utf8"));
    const prompts = manifest.conditioning.prompts as Record<string, number>;
    for (let label = 0; label < 10; label++) expect(prompts[fashionPrompt(label)]).toBe(label);
  });

  it("rejects a missing file by path", async () => {
    const missing = join(DATA, "missing-images-idx3-ubyte.gz");
    const error = await loadError({ kind: "fashion", images: missing });
    expect(error.code).toBe("not_found");
    expect(error.path).toEqual([missing]);
  });

  it("rejects a corrupt gzip file by path", async () => {
    const file = join(await tempDir("fashion"), "images.gz");
    await writeFile(file, Buffer.from("not gzip at all"));
    const error = await loadError({ kind: "fashion", images: file });
    expect(error.code).toBe("invalid_value");
    expect(error.path).toEqual([file]);
    expect(error.message).toContain("not valid gzip");
  });

  it("rejects a truncated IDX file", async () => {
    const file = join(await tempDir("fashion"), "images.gz");
    const bytes = gunzipSync(await readFile(IMAGES));
    await writeFile(file, gzipSync(bytes.subarray(0, bytes.length - 1)));
    const error = await loadError({ kind: "fashion", images: file });
    expect(error.path).toEqual([file]);
    expect(error.message).toContain("data length does not match");
    expect(error.received).toBe(bytes.length - 1);
  });

  it("rejects labels that do not match the images", async () => {
    const dir = await tempDir("fashion");
    const labels = gunzipSync(await readFile(LABELS));
    const short = Buffer.from(labels.subarray(0, 8 + 99));
    short.writeUInt32BE(99, 4);
    const shortFile = join(dir, "short.gz");
    await writeFile(shortFile, gzipSync(short));
    const count = await loadError({ kind: "fashion", labels: shortFile });
    expect(count.path).toEqual([shortFile]);
    expect(count.message).toContain("wrong size of dimension 0");

    const bad = Buffer.from(labels);
    bad[8 + 7] = 10;
    const badFile = join(dir, "bad.gz");
    await writeFile(badFile, gzipSync(bad));
    const range = await loadError({ kind: "fashion", labels: badFile });
    expect(range.path).toEqual([badFile]);
    expect(range.message).toBe("fashion label 7 is out of range");
  });

  it("rejects a limit beyond the selection", async () => {
    const error = await loadError({ kind: "fashion", name: "shirts", classes: [6], limit: 9 });
    expect(error.code).toBe("out_of_range");
    expect(error.path).toEqual(["shirts", "limit"]);
    expect(error.received).toBe(9);
    expect(() => datasetSchema.parse({ kind: "fashion", limit: 0 })).toThrow();
  });
});

describe("restoration prompt", () => {
  const base = {
    name: "p",
    datasets: [{ kind: "fashion", limit: 1 }],
    solvers: [{ name: "dps" }],
    model: "embedded:fashion",
  };

  it("accepts a string or the item's prompt", () => {
    for (const prompt of ["a photo of a dress", { from: "item" }]) {
      const config = parseConfig(
        { ...base, tasks: [{ operator: { kind: "inpainting" }, prompt }] },
        { baseDir: "/tmp" },
      );
      expect(config.tasks[0]).toMatchObject({ kind: "restoration", prompt });
    }
  });

  it("rejects a prompt on an editing task", () => {
    let error: unknown;
    try {
      parseConfig(
        { ...base, tasks: [{ editing: { target: "dress" }, prompt: "dress" }] },
        { baseDir: "/tmp" },
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((issue) => issue.path)).toEqual([["tasks", 0, "prompt"]]);
    expect(issues[0].message).toContain("prompt applies to a restoration task");
  });
});

describe("restoration prompt in the plan", () => {
  const dps: SolverInfo = {
    name: "dps",
    version: "1.0.0",
    tasks: ["restoration"],
    paramsSchema: z.strictObject({ steps: z.number().int().default(10) }),
    presets: {},
  };
  const model = { ref: "embedded:fashion", hash: "f".repeat(64), scheduleSteps: 1000 };
  const tasks = [
    { name: "plain", operator: { kind: "inpainting" } },
    { name: "fixed", operator: { kind: "inpainting" }, prompt: "a photo of a dress" },
    { name: "class", operator: { kind: "inpainting" }, prompt: { from: "item" } },
  ];

  it("resolves each item's class prompt", async () => {
    const config = parseConfig(
      {
        name: "p",
        datasets: [{ kind: "fashion", limit: 2 }],
        tasks,
        solvers: [{ name: "dps" }],
        model: "embedded:fashion",
      },
      { baseDir: "/tmp" },
    );
    const manifest = await loadDataset(config.datasets[0]);
    const { cells } = planCells({ config, manifests: [manifest], model, solvers: [dps] });
    const prompts = cells
      .map((cell) => [
        cell.task.name,
        cell.item.id,
        cell.task.kind === "restoration" ? cell.task.prompt : "?",
      ])
      .sort((a, b) => String(a).localeCompare(String(b)));
    expect(prompts).toEqual([
      ["class", "test-00000", "a photo of an ankle boot"],
      ["class", "test-00001", "a photo of a pullover"],
      ["fixed", "test-00000", "a photo of a dress"],
      ["fixed", "test-00001", "a photo of a dress"],
      ["plain", "test-00000", undefined],
      ["plain", "test-00001", undefined],
    ]);
    // A task without a prompt hashes no prompt key, so its cell ids stay as before.
    const plain = cells.find((cell) => cell.task.name === "plain");
    expect(Object.keys(plain?.content.task as object).sort()).toEqual([
      "kind",
      "noise",
      "operator",
    ]);
    expect(new Set(cells.map((cell) => cell.id)).size).toBe(6);
  });

  it("rejects the item prompt without class prompts", () => {
    const config = parseConfig(
      {
        name: "p",
        datasets: [{ kind: "folder", root: "/data" }],
        tasks: [tasks[2]],
        solvers: [{ name: "dps" }],
        model: "embedded:fashion",
      },
      { baseDir: "/tmp" },
    );
    const manifest = buildManifest({
      name: "folder",
      kind: "folder",
      root: "/data",
      selection: {},
      policy: {
        order: "bytewise",
        preprocess: null,
        channels: null,
        maxPixels: null,
        pixels: "u8 / 127.5 - 1",
      },
      items: [{ id: "a.png", path: "a.png", sha256: "0".repeat(64), contentHash: "0".repeat(64) }],
    });
    let error: unknown;
    try {
      planCells({ config, manifests: [manifest], model, solvers: [dps] });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((issue) => issue.path)).toEqual([["tasks", "class", "prompt"]]);
    expect(issues[0].code).toBe("missing");
  });
});
