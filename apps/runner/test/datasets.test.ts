import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import {
  checkDataset,
  DatasetError,
  type DatasetManifest,
  datasetSchema,
  decodePieBenchMask,
  digitPixels,
  loadDataset,
  loadPieBench,
  planGeometry,
  type ResolvedDataset,
  rleProblems,
  stripBrackets,
} from "../src/index.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const IMAGES = join(FIXTURES, "images");
const PIE = join(FIXTURES, "pie-bench");

/** Parses dataset options through the config schema, as a config would. */
function dataset(options: Record<string, unknown>): ResolvedDataset {
  const parsed = datasetSchema.parse(options);
  return { ...parsed, name: parsed.name ?? parsed.kind } as ResolvedDataset;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "tweedie-datasets-"));
}

/** Writes files in the given order, each a copy of a fixture image. */
async function writeInOrder(dir: string, files: [string, string][]): Promise<void> {
  for (const [name, fixture] of files) await copyFile(join(IMAGES, fixture), join(dir, name));
}

function sha256Of(mask: Uint8Array): string {
  return sha256(mask);
}

function ones(mask: Uint8Array): number {
  return mask.reduce((sum, value) => sum + value, 0);
}

describe("folder dataset", () => {
  const files: [string, string][] = [
    ["img10.png", "gray8.png"],
    ["img1.png", "pal_trns.png"],
    ["img2.png", "gray16.png"],
  ];

  it("sorts by name bytes, not by creation or listing order", async () => {
    const dir = await tempDir();
    await writeInOrder(dir, files);
    const manifest = await loadDataset(dataset({ kind: "folder", root: dir }));
    expect(manifest.items.map((item) => item.id)).toEqual(["img1.png", "img10.png", "img2.png"]);
    for (const item of manifest.items) {
      expect(item.sha256).toBe(sha256(await readFile(join(dir, item.id))));
      expect(item.contentHash).toBe(item.sha256);
    }
  });

  it("takes the same first two files and hash on every machine", async () => {
    const one = await tempDir();
    const two = await tempDir();
    await writeInOrder(one, files);
    await writeInOrder(two, [...files].reverse());
    const a = await loadDataset(dataset({ kind: "folder", root: one, limit: 2 }));
    const b = await loadDataset(dataset({ kind: "folder", root: two, limit: 2 }));
    expect(a.items.map((item) => item.id)).toEqual(["img1.png", "img10.png"]);
    expect(b.hash).toBe(a.hash);
    // sha256 of Python's json.dumps(sort_keys=True, separators=(",", ":")) of
    // {kind, policy, items}, computed once from the fixture bytes.
    expect(a.hash).toBe("6c8da2eecb8566ff6f5c6acadefd73425abe1b1451655e57317a691d59bffcef");
  });

  it("changes the manifest hash when a file changes", async () => {
    const dir = await tempDir();
    await writeInOrder(dir, files);
    const before = await loadDataset(dataset({ kind: "folder", root: dir }));
    await copyFile(join(IMAGES, "rgb16.png"), join(dir, "img2.png"));
    const after = await loadDataset(dataset({ kind: "folder", root: dir }));
    expect(after.hash).not.toBe(before.hash);
  });

  it("fails on an empty or missing folder", async () => {
    const dir = await tempDir();
    await expect(loadDataset(dataset({ kind: "folder", root: dir }))).rejects.toThrow(
      "dataset folder has no images",
    );
    await expect(loadDataset(dataset({ kind: "folder", root: join(dir, "nope") }))).rejects.toThrow(
      "cannot list dataset folder",
    );
  });
});

describe("ffhq and div2k", () => {
  it("reads FFHQ from thousand-file folders", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "00000"));
    for (const name of ["00001.png", "00000.png", "00002.png"]) {
      await copyFile(join(IMAGES, "gray8.png"), join(dir, "00000", name));
    }
    const manifest = await loadDataset(dataset({ kind: "ffhq", root: dir, limit: 3 }));
    expect(manifest.items.map((item) => item.path)).toEqual([
      "00000/00000.png",
      "00000/00001.png",
      "00000/00002.png",
    ]);
    expect(manifest.selection).toEqual({ start: 0, limit: 3 });
  });

  it("fails instead of evaluating fewer than the default 1000 FFHQ images", async () => {
    const dir = await tempDir();
    await copyFile(join(IMAGES, "gray8.png"), join(dir, "00000.png"));
    await expect(loadDataset(dataset({ kind: "ffhq", root: dir }))).rejects.toThrow(
      "dataset is missing 999 of 1000 files: 00001.png, 00002.png, 00003.png, 00004.png, 00005.png and 994 more",
    );
  });

  it("records the DIV2K validation files and resize policy", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "DIV2K_valid_HR"));
    for (const name of ["0802.png", "0801.png"]) {
      await copyFile(join(IMAGES, "rgb16.png"), join(dir, "DIV2K_valid_HR", name));
    }
    const manifest = await loadDataset(
      dataset({
        kind: "div2k",
        root: dir,
        limit: 2,
        preprocess: { resize: "shortSideCrop", size: 32 },
      }),
    );
    expect(manifest.items.map((item) => item.path)).toEqual([
      "DIV2K_valid_HR/0801.png",
      "DIV2K_valid_HR/0802.png",
    ]);
    expect(manifest.policy.preprocess).toEqual({
      resize: "shortSideCrop",
      size: 32,
      filter: "lanczos3",
    });
    await expect(loadDataset(dataset({ kind: "div2k", root: dir }))).rejects.toThrow(
      "dataset is missing 98 of 100 files",
    );
  });

  it("plans resize and crop from the upright size", () => {
    expect(
      planGeometry(2040, 1356, { resize: "shortSideCrop", size: 768, filter: "cubic" }),
    ).toEqual({
      resize: { width: 1155, height: 768, filter: "cubic" },
      crop: { left: 193, top: 0, width: 768, height: 768 },
      width: 768,
      height: 768,
    });
    expect(planGeometry(255, 257, { resize: "stretch", size: 256, filter: "lanczos3" })).toEqual({
      resize: { width: 256, height: 256, filter: "lanczos3" },
      crop: null,
      width: 256,
      height: 256,
    });
    expect(planGeometry(255, 257, { resize: "none" })).toEqual({
      resize: null,
      crop: null,
      width: 255,
      height: 257,
    });
  });
});

describe("embedded samples and digits", () => {
  it("lists the two held-out sample photos by name", async () => {
    const manifest = await loadDataset(dataset({ kind: "embedded-samples" }));
    expect(manifest.items.map((item) => [item.id, item.sha256])).toEqual([
      ["chelsea.png", "700658d508372413ce65feea975a8d8f8c8a976a0998193979724be647654fab"],
      ["flower.png", "e858da6afe14af12a3da565211de71cbfaaab2ca590db5a6c5f9f44309f0ff29"],
    ]);
    const train = await loadDataset(dataset({ kind: "embedded-samples", split: "train" }));
    expect(train.items).toHaveLength(6);
    expect(train.items.map((item) => item.id)).not.toContain("chelsea.png");
  });

  it("holds out every fifth digits row", async () => {
    const manifest = await loadDataset(dataset({ kind: "digits" }));
    expect(manifest.items).toHaveLength(359);
    const first = manifest.items[0];
    expect(first.id).toBe("row-0004");
    expect(first.sha256).toBe("6c444662c37f8187ab0575c1c5a6e4ee1a047b4578c602aef69760e448e53f3a");
    expect(first.annotation).toMatchObject({
      kind: "digit",
      label: 4,
      row: 4,
      prompt: "a handwritten digit 4",
    });
    expect(manifest.policy.pixels).toBe("2 v / 16 - 1");
    const threes = await loadDataset(dataset({ kind: "digits", classes: [3] }));
    expect(threes.items).toHaveLength(52);
  });

  it("maps digit values 0..16 onto [-1, 1]", () => {
    expect(Array.from(digitPixels([0, 4, 8, 12, 16]))).toEqual([-1, -0.5, 0, 0.5, 1]);
  });
});

describe("PIE-Bench masks", () => {
  // Expected counts and hashes come from a direct numpy transcription of the reference
  // decoder (zeros, runs clamped at the end, border set to 1), run once.
  it.each([
    [[], 2044, "99b96bdd83015e9cc8d69f717071fbf7dd7c51d6ea631af932bb4ddc004d4581"],
    [
      [131328, 200, 131840, 200, 132352, 200],
      2644,
      "eca817ba8e44f992145eaf0760983e736e1725f0988a5286f0620bf78ac54677",
    ],
    [[510, 4], 2045, "fbbdff8bc65f61bef451c62007370a2763c23d4d4cfaa2c564766f8deb27f8eb"],
    [[262140, 100], 2044, "99b96bdd83015e9cc8d69f717071fbf7dd7c51d6ea631af932bb4ddc004d4581"],
    [
      [1000, 0, 5000, 300, 5100, 300],
      2442,
      "19d02c11d9c6a424879b34958663fb19d17001618a9a128fb32dacac9fa2f524",
    ],
  ])("decodes %j like the reference", (rle, count, hash) => {
    const mask = decodePieBenchMask(rle);
    expect(mask).toHaveLength(262144);
    expect(ones(mask)).toBe(count);
    expect(sha256Of(mask)).toBe(hash);
  });

  it("names each malformed RLE", () => {
    expect(rleProblems([5])).toEqual(["mask RLE has odd length 1"]);
    expect(rleProblems([300000, 5])).toEqual(["run 0 start 300000 beyond 262144 pixels"]);
    expect(rleProblems([10, -3])).toEqual(["run 0 has negative length -3"]);
    expect(rleProblems([262140, 100])).toEqual([]);
    expect(() => decodePieBenchMask([5], "000000000001")).toThrow(
      "entry 000000000001: mask RLE has odd length 1",
    );
  });

  it("strips the bracket markers", () => {
    expect(stripBrackets("a slanted [rusty] mountain [bicycle]")).toBe(
      "a slanted rusty mountain bicycle",
    );
  });
});

describe("PIE-Bench dataset", () => {
  it("loads entries in key order with their annotations", async () => {
    const manifest = await loadPieBench(dataset({ kind: "pie-bench", root: PIE }) as never);
    expect(manifest.items.map((item) => item.id)).toEqual(["000000000000", "111000000000"]);
    const [random, object] = manifest.items;
    expect(random.annotation).toMatchObject({
      kind: "pie-bench",
      sourcePrompt: "a blue sky over a field",
      targetPrompt: "a blue sunset over a field",
      editingTypeId: "0",
      blendedWord: null,
      maskRle: [],
    });
    expect(object.annotation).toMatchObject({
      rawSourcePrompt: "a painting of a [cat] sitting on a chair",
      sourcePrompt: "a painting of a cat sitting on a chair",
      editingTypeId: "1",
      blendedWord: { source: "cat", target: "dog" },
    });
    expect(object.path).toBe(
      "annotation_images/1_change_object_80/1_artificial/1_animal/111000000000.jpg",
    );
    expect(object.sha256).toBe(sha256(await readFile(join(PIE, object.path ?? ""))));
    expect(object.contentHash).not.toBe(object.sha256);
    const onlyType1 = await loadPieBench(
      dataset({ kind: "pie-bench", root: PIE, types: ["1"] }) as never,
    );
    expect(onlyType1.items.map((item) => item.id)).toEqual(["111000000000"]);
  });

  /** Copies the fixture's images and writes a mapping file with the given entries. */
  async function pieWith(entries: Record<string, Record<string, unknown>>): Promise<string> {
    const dir = await tempDir();
    const image = "0_random_140/000000000000.jpg";
    await mkdir(join(dir, "annotation_images", "0_random_140"), { recursive: true });
    await copyFile(join(PIE, "annotation_images", image), join(dir, "annotation_images", image));
    const base = {
      image_path: image,
      original_prompt: "a [cat]",
      editing_prompt: "a [dog]",
      editing_instruction: "",
      editing_type_id: "0",
      blended_word: "",
      mask: [],
    };
    const mapping = Object.fromEntries(
      Object.entries(entries).map(([key, entry]) => [key, { ...base, ...entry }]),
    );
    await writeFile(join(dir, "mapping_file.json"), JSON.stringify(mapping));
    return dir;
  }

  async function loadError(root: string): Promise<DatasetError> {
    const error = await loadPieBench(dataset({ kind: "pie-bench", root }) as never).catch(
      (caught) => caught,
    );
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }

  it("rejects malformed RLEs naming the entry and the problem", async () => {
    const root = await pieWith({
      "000000000001": { mask: [5] },
      "000000000002": { mask: [262140, 100] },
      "000000000003": { mask: [300000, 5] },
      "000000000004": { mask: [10, -3] },
    });
    const error = await loadError(root);
    expect(error.lines()).toEqual([
      "entry 000000000001: mask RLE has odd length 1 (received [5])",
      "entry 000000000003: run 0 start 300000 beyond 262144 pixels (received [300000,5])",
      "entry 000000000004: run 0 has negative length -3 (received [10,-3])",
    ]);
  });

  it("warns about a clamped run during the check", async () => {
    const root = await pieWith({ "000000000002": { mask: [262140, 100] } });
    const manifest = await loadPieBench(dataset({ kind: "pie-bench", root }) as never);
    const { report } = await checkDataset(manifest);
    expect(report.items[0]).toEqual({
      id: "000000000002",
      problems: [],
      warnings: ["mask run 0 extends past pixel 262144 and is clamped"],
    });
  });

  it("rejects image paths that escape the dataset root", async () => {
    const outside = await tempDir();
    await copyFile(join(IMAGES, "gray8.png"), join(outside, "secret.png"));
    const root = await pieWith({
      "000000000001": { image_path: "../../secret.png" },
      "000000000002": { image_path: "/etc/hostname" },
      "000000000003": { image_path: "link.png" },
    });
    await symlink(join(outside, "secret.png"), join(root, "annotation_images", "link.png"));
    const lines = (await loadError(root)).lines();
    expect(lines[0]).toBe(
      'entry 000000000001: image_path escapes the dataset root (expected "a path inside annotation_images/", received "../../secret.png")',
    );
    expect(lines[1]).toBe(
      'entry 000000000002: image_path escapes the dataset root (expected "a path inside annotation_images/", received "/etc/hostname")',
    );
    expect(lines[2]).toMatch(
      /^entry 000000000003: image_path escapes the dataset root .*a link to/,
    );
  });

  it("requires editing_type_id as a string and blended_word as two words", async () => {
    const root = await pieWith({
      "000000000001": { editing_type_id: 1 },
      "000000000002": { blended_word: "cat" },
    });
    expect((await loadError(root)).lines()).toEqual([
      'entry 000000000001: editing_type_id invalid type (expected "string", received 1)',
      'entry 000000000002: blended_word must be two words separated by one space (expected "\\"<source word> <target word>\\" or \\"\\"", received "cat")',
    ]);
  });
});

describe("image checks", () => {
  async function checkFixtures(options: Record<string, unknown> = {}): Promise<{
    manifest: DatasetManifest;
    problems: Record<string, string[]>;
  }> {
    const manifest = await loadDataset(dataset({ kind: "folder", root: IMAGES, ...options }));
    const checked = await checkDataset(manifest);
    const problems = Object.fromEntries(
      checked.report.items.map((item) => [item.id, item.problems]),
    );
    return { manifest: checked.manifest, problems };
  }

  function checkOf(manifest: DatasetManifest, id: string) {
    const item = manifest.items.find((candidate) => candidate.id === id);
    if (!item?.check) throw new Error(`no check for ${id}`);
    return item.check;
  }

  it("finds a truncated JPEG only when decoding", async () => {
    const dir = await tempDir();
    // Large enough that 60 % of the file still contains the whole header.
    const noise = Uint8Array.from({ length: 256 * 256 * 3 }, (_, i) => (i * 2654435761) % 251);
    const jpeg = await sharp(noise, { raw: { width: 256, height: 256, channels: 3 } })
      .jpeg()
      .toBuffer();
    await writeFile(join(dir, "cut.jpg"), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
    const manifest = await loadDataset(dataset({ kind: "folder", root: dir }));
    const headers = await checkDataset(manifest);
    expect(headers.report.items[0].problems).toEqual([]);
    const decoded = await checkDataset(manifest, { decode: true });
    expect(decoded.report.items[0].problems).toEqual([
      "decoding failed: VipsJpeg: premature end of JPEG image",
    ]);
  });

  it("reports byte-identical images as a problem of the second", async () => {
    const dir = await tempDir();
    await copyFile(join(IMAGES, "gray8.png"), join(dir, "a.png"));
    await copyFile(join(IMAGES, "gray8.png"), join(dir, "b.png"));
    const manifest = await loadDataset(dataset({ kind: "folder", root: dir }));
    const { report } = await checkDataset(manifest);
    expect(report.items.map((item) => [item.id, item.problems])).toEqual([
      ["a.png", []],
      ["b.png", ["same content as a.png, so their cells would coincide"]],
    ]);
    expect(report.failed).toBe(1);
  });

  it("records orientation, bit depth and channel handling", async () => {
    const { manifest, problems } = await checkFixtures();
    const orient = checkOf(manifest, "orient6.jpg");
    expect(orient).toMatchObject({
      storedWidth: 255,
      storedHeight: 257,
      orientation: 6,
      orientationApplied: true,
      uprightWidth: 257,
      uprightHeight: 255,
      bitDepth: 8,
      channelAction: "none",
    });
    expect(orient.geometry).toEqual({ resize: null, crop: null, width: 257, height: 255 });
    expect(checkOf(manifest, "gray16.png")).toMatchObject({
      bitDepth: 16,
      sourceChannels: 1,
      channelAction: "grey-to-rgb",
    });
    expect(checkOf(manifest, "rgb16.png")).toMatchObject({
      bitDepth: 16,
      sourceChannels: 3,
      channelAction: "none",
    });
    expect(checkOf(manifest, "gray8.png")).toMatchObject({
      bitDepth: 8,
      channelAction: "grey-to-rgb",
    });
    expect(problems["orient6.jpg"]).toEqual([]);
    expect(problems["gray16.png"]).toEqual([]);
    expect(problems["rgba.png"]).toEqual([
      "4 channels with alpha; set channels.alpha: composite to blend over a background",
    ]);
    expect(problems["pal_trns.png"]).toEqual([
      "palette with transparency, decoded as 4 channels with alpha; set channels.alpha: composite to blend over a background",
    ]);
  });

  it("accepts alpha when compositing is declared", async () => {
    const { manifest, problems } = await checkFixtures({ channels: { alpha: "composite" } });
    expect(problems["rgba.png"]).toEqual([]);
    expect(checkOf(manifest, "pal_trns.png").channelAction).toBe("composite-alpha");
  });

  it("applies the pixel limit before decoding", async () => {
    const { problems } = await checkFixtures({ maxPixels: 10000 });
    expect(problems["orient6.jpg"]).toEqual(["255 x 257 = 65535 pixels exceeds maxPixels 10000"]);
    expect(problems["gray8.png"]).toEqual([]);
  });

  it("crops the upright image, not the stored one", async () => {
    const { manifest } = await checkFixtures({
      preprocess: { resize: "shortSideCrop", size: 128 },
    });
    expect(checkOf(manifest, "orient6.jpg").geometry).toEqual({
      resize: { width: 129, height: 128, filter: "lanczos3" },
      crop: { left: 0, top: 0, width: 128, height: 128 },
      width: 128,
      height: 128,
    });
  });

  it("detects a changed file when verifying hashes", async () => {
    const dir = await tempDir();
    await copyFile(join(IMAGES, "gray8.png"), join(dir, "a.png"));
    const manifest = await loadDataset(dataset({ kind: "folder", root: dir }));
    await copyFile(join(IMAGES, "gray16.png"), join(dir, "a.png"));
    const { report } = await checkDataset(manifest, { verifyHashes: true });
    expect(report.failed).toBe(1);
    expect(report.items[0].problems[0]).toMatch(/^content changed: sha256 f85478d9/);
  });

  it("requires 512 x 512 PIE-Bench images", async () => {
    const root = await tempDir();
    await mkdir(join(root, "annotation_images"));
    await copyFile(join(IMAGES, "gray8.png"), join(root, "annotation_images", "a.png"));
    const entry = {
      image_path: "a.png",
      original_prompt: "a",
      editing_prompt: "b",
      editing_type_id: "0",
      mask: [],
    };
    await writeFile(join(root, "mapping_file.json"), JSON.stringify({ "000000000009": entry }));
    const manifest = await loadPieBench(dataset({ kind: "pie-bench", root }) as never);
    const { report } = await checkDataset(manifest);
    expect(report.items[0].problems).toEqual(["size 64 x 48; expected 512 x 512"]);
  });
});
