import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTokenizer, TweedieError } from "../src/index.js";
import { copyFixture, FIXTURES, readReferences } from "./models-helpers.js";

const CASE_NAMES = [
  "empty",
  "prompt",
  "caps and spaces",
  "punctuation",
  "accents",
  "emoji",
  "long corpus",
];

interface CaseSet {
  maxLength: number;
  ids: number[][];
}

/** Reads the prompts and their reference ids per token length (a T5 folder has several lengths). */
async function cases(pkg: string, folder: string): Promise<{ texts: string[]; sets: CaseSet[] }> {
  const references = await readReferences(pkg);
  const entry = references.tokenizers[folder];
  return { texts: references.tokenizerTexts, sets: Array.isArray(entry) ? entry : [entry] };
}

const FOLDERS: [string, string][] = [
  ["sd15", "tokenizer"],
  ["sd3", "tokenizer"],
  ["sd3", "tokenizer_2"],
  ["sd3", "tokenizer_3"],
  ["flux", "tokenizer"],
  ["flux", "tokenizer_2"],
];

describe("tokenizers against transformers 5.17", () => {
  it.each(FOLDERS)("%s/%s gives the reference ids", async (pkg, folder) => {
    const tokenizer = await loadTokenizer(join(FIXTURES, pkg, folder));
    const { texts, sets } = await cases(pkg, folder);
    expect(texts).toHaveLength(CASE_NAMES.length);
    for (const set of sets) {
      texts.forEach((text, i) => {
        expect(
          tokenizer.encode(text, set.maxLength),
          `${CASE_NAMES[i]} at length ${set.maxLength}`,
        ).toEqual(set.ids[i]);
      });
    }
  });

  it("reads CLIP vocab.json + merges.txt without tokenizer.json", async () => {
    const tokenizer = await loadTokenizer(join(FIXTURES, "sd15", "tokenizer"));
    expect(tokenizer.source).toBe("clip-vocab");
    expect(tokenizer.modelMaxLength).toBe(77);
  });

  it("pads with the token the config names", async () => {
    const clipL = await loadTokenizer(join(FIXTURES, "sd3", "tokenizer"));
    const clipG = await loadTokenizer(join(FIXTURES, "sd3", "tokenizer_2"));
    const t5 = await loadTokenizer(join(FIXTURES, "sd3", "tokenizer_3"));
    // CLIP-L pads with <|endoftext|> (its end token), CLIP-G with "!", T5 with <pad> = 0.
    expect(clipL.padId).toBe(clipL.suffix[0]);
    expect(clipG.padId).toBe(33);
    expect(clipG.padId).not.toBe(clipG.suffix[0]);
    expect(t5.padId).toBe(0);
    expect(t5.prefix).toEqual([]);
    expect(t5.suffix).toEqual([1]);
    expect(clipL.encode("", 5)).toEqual([
      ...clipL.prefix,
      ...clipL.suffix,
      clipL.padId,
      clipL.padId,
      clipL.padId,
    ]);
  });

  it("keeps the end token when truncating", async () => {
    const tokenizer = await loadTokenizer(join(FIXTURES, "sd15", "tokenizer"));
    const long = (await readReferences("sd15")).tokenizerTexts.at(-1) as string;
    const ids = tokenizer.encode(long, 77);
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(tokenizer.prefix[0]);
    expect(ids[76]).toBe(tokenizer.suffix[0]);
    expect(tokenizer.tokenize(long).length).toBeGreaterThan(75);
  });

  it("rejects a length below the special tokens", async () => {
    const tokenizer = await loadTokenizer(join(FIXTURES, "sd15", "tokenizer"));
    expect(() => tokenizer.encode("a", 1)).toThrow(TweedieError);
  });
});

describe("tokenizer folder errors", () => {
  it("names tokenizer.json for a SentencePiece-only folder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tweedie-spiece-"));
    await writeFile(join(dir, "spiece.model"), "not read");
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ pad_token: "<pad>" }));
    const error = await loadTokenizer(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TweedieError);
    expect((error as TweedieError).code).toBe("unsupported");
    expect((error as TweedieError).message).toContain(join(dir, "tokenizer.json"));
    expect((error as TweedieError).hint).toContain("T5TokenizerFast");
    await rm(dir, { recursive: true });
  });

  it("reports an empty folder as not found", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tweedie-empty-"));
    const error = await loadTokenizer(dir).catch((e: unknown) => e);
    expect((error as TweedieError).code).toBe("not_found");
    expect((error as TweedieError).path).toEqual([join(dir, "tokenizer.json")]);
    await rm(dir, { recursive: true });
  });

  it("names pad_token when the config has none", async () => {
    const dir = await copyFixture("sd3");
    const folder = join(dir, "tokenizer_2");
    await writeFile(
      join(folder, "tokenizer_config.json"),
      JSON.stringify({ model_max_length: 77 }),
    );
    const error = await loadTokenizer(folder).catch((e: unknown) => e);
    expect((error as TweedieError).path).toEqual([
      join(folder, "tokenizer_config.json"),
      "pad_token",
    ]);
    await rm(dir, { recursive: true });
  });
});
