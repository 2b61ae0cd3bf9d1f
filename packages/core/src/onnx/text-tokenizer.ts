/**
 * Tokenizer folders as pipelines export them, read with @huggingface/tokenizers 0.2.0 (a
 * pure-JavaScript reader of `tokenizer.json`).
 *
 * A folder holds either `tokenizer.json` (what transformers' `save_pretrained` writes for
 * every tokenizer it backs with the tokenizers library, CLIP and T5 included), or CLIP's
 * `vocab.json` and `merges.txt` (the Stable Diffusion 1.5 repository ships only these).
 * For the second case this module builds the tokenizer.json description that transformers
 * 5.17's CLIPTokenizer builds from the same two files: NFC, whitespace runs to one space,
 * lowercase; CLIP's split pattern; byte-level BPE with the `</w>` end-of-word suffix;
 * `<|startoftext|>` ... `<|endoftext|>` around the text.
 *
 * @huggingface/tokenizers 0.2.0 cannot read SentencePiece `spiece.model` files (T5), so a
 * folder with only `spiece.model` is rejected with the conversion to run. Its `Precompiled`
 * normaliser ignores the charsmap and applies NFKC plus whitespace rules instead, which
 * matches the nmt_nfkc charsmap on the prompts the tests cover. It pads and truncates
 * nothing, so `encode` below does both, as transformers does with
 * `padding="max_length", truncation=True`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { TweedieError } from "../errors.js";
import type { JsonObject } from "./diffusers-files.js";
import { fieldError, isFile, readJsonObject } from "./diffusers-files.js";

export interface TextTokenizer {
  readonly folder: string;
  /** `tokenizer.json`, or `clip-vocab` for a CLIP vocab.json + merges.txt folder. */
  readonly source: "tokenizer.json" | "clip-vocab";
  /** Id of the padding token named by the folder's config. */
  readonly padId: number;
  /** `model_max_length` of tokenizer_config.json, when given. */
  readonly modelMaxLength: number | null;
  /** Special-token ids placed before and after the text. */
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
  /**
   * Token ids of `text` with the special tokens, truncated to `length` (the text is cut,
   * the special tokens stay) and padded with the padding token to exactly `length`.
   */
  encode(text: string, length: number): number[];
  /** Token ids of `text` without special tokens, truncation or padding. */
  tokenize(text: string): number[];
}

const CLIP_BOS = "<|startoftext|>";
const CLIP_EOS = "<|endoftext|>";
/** CLIP's pre-tokenizer pattern (transformers 5.17, CLIPTokenizer). */
const CLIP_SPLIT =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** Returns the text of a token entry, which configs give as a string or as {content: string}. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object" && "content" in value) {
    const content = (value as { content: unknown }).content;
    if (typeof content === "string") return content;
  }
  return undefined;
}

/** tokenizer_config.json overlaid by special_tokens_map.json; either may be absent. */
async function readConfig(folder: string): Promise<{ config: JsonObject; file: string }> {
  const configFile = join(folder, "tokenizer_config.json");
  const specialFile = join(folder, "special_tokens_map.json");
  const config: JsonObject = (await isFile(configFile))
    ? await readJsonObject(configFile, "tokenizer config")
    : {};
  if (await isFile(specialFile)) {
    const special = await readJsonObject(specialFile, "special tokens map");
    for (const [key, value] of Object.entries(special)) config[key] ??= value;
  }
  return { config, file: configFile };
}

/** Builds the tokenizer.json description of a CLIP tokenizer from vocab.json and merges.txt. */
async function clipDescription(folder: string, config: JsonObject): Promise<JsonObject> {
  const vocabFile = join(folder, "vocab.json");
  const vocab = await readJsonObject(vocabFile, "CLIP vocabulary");
  const mergesFile = join(folder, "merges.txt");
  const merges = (await readFile(mergesFile, "utf8"))
    .split("\n")
    .filter((line) => line.length > 0 && !line.startsWith("#version"))
    .map((line) => line.trim());

  const bos = tokenText(config.bos_token) ?? CLIP_BOS;
  const eos = tokenText(config.eos_token) ?? CLIP_EOS;
  const unk = tokenText(config.unk_token) ?? CLIP_EOS;
  const pad = tokenText(config.pad_token);
  const specials = [...new Set([bos, eos, unk, ...(pad === undefined ? [] : [pad])])];
  const addedTokens = specials.map((content) => {
    const id = vocab[content];
    if (typeof id !== "number") {
      throw fieldError(vocabFile, content, "an id for this special token", id);
    }
    return {
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    };
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "NFC" },
        { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
        { type: "Lowercase" },
      ],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: CLIP_SPLIT }, behavior: "Removed", invert: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: "RobertaProcessing",
      sep: [eos, vocab[eos]],
      cls: [bos, vocab[bos]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: "",
      end_of_word_suffix: "</w>",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/** Special-token ids a post-processor puts before and after a single sequence. */
function specialPlacement(
  processor: unknown,
  file: string,
): { prefix: number[]; suffix: number[] } {
  const prefix: number[] = [];
  const suffix: number[] = [];
  const visit = (node: unknown) => {
    if (node === null || node === undefined) return;
    const p = node as JsonObject;
    switch (p.type) {
      case "Sequence":
        for (const child of (p.processors as unknown[]) ?? []) visit(child);
        return;
      case "RobertaProcessing":
      case "BertProcessing": {
        const cls = p.cls as [string, number];
        const sep = p.sep as [string, number];
        prefix.push(cls[1]);
        suffix.push(sep[1]);
        return;
      }
      case "TemplateProcessing": {
        const specials = (p.special_tokens ?? {}) as Record<string, { ids: number[] }>;
        let seenSequence = false;
        for (const piece of (p.single as JsonObject[]) ?? []) {
          if ("Sequence" in piece) {
            seenSequence = true;
            continue;
          }
          const id = (piece.SpecialToken as { id: string } | undefined)?.id;
          const ids = id === undefined ? undefined : specials[id]?.ids;
          if (ids === undefined) {
            throw fieldError(
              file,
              "post_processor.single",
              "special tokens listed in special_tokens",
              piece,
            );
          }
          (seenSequence ? suffix : prefix).push(...ids);
        }
        return;
      }
      case "ByteLevel":
        return;
      default:
        throw fieldError(
          file,
          "post_processor.type",
          "RobertaProcessing, BertProcessing, TemplateProcessing, ByteLevel or Sequence",
          p.type,
        );
    }
  };
  visit(processor);
  return { prefix, suffix };
}

/**
 * Loads the tokenizer in `folder`. Errors name the file and field: a folder with neither
 * tokenizer.json nor vocab.json + merges.txt, a SentencePiece-only folder, or a padding
 * token that is missing or not in the vocabulary.
 */
export async function loadTokenizer(folder: string): Promise<TextTokenizer> {
  const jsonFile = join(folder, "tokenizer.json");
  const { config, file: configFile } = await readConfig(folder);
  let description: JsonObject;
  let source: TextTokenizer["source"];
  let describedIn = jsonFile;
  if (await isFile(jsonFile)) {
    description = await readJsonObject(jsonFile, "tokenizer");
    source = "tokenizer.json";
  } else if (
    (await isFile(join(folder, "vocab.json"))) &&
    (await isFile(join(folder, "merges.txt")))
  ) {
    const tokenizerClass = config.tokenizer_class;
    if (tokenizerClass !== undefined && !/^CLIPTokenizer(Fast)?$/.test(String(tokenizerClass))) {
      throw fieldError(
        configFile,
        "tokenizer_class",
        "CLIPTokenizer or CLIPTokenizerFast (vocab.json + merges.txt are read as CLIP's byte-level BPE)",
        tokenizerClass,
        "export tokenizer.json with transformers: AutoTokenizer.from_pretrained(folder).save_pretrained(folder)",
      );
    }
    description = await clipDescription(folder, config);
    source = "clip-vocab";
    describedIn = join(folder, "vocab.json");
  } else if (await isFile(join(folder, "spiece.model"))) {
    throw new TweedieError(
      `${jsonFile}: missing; @huggingface/tokenizers 0.2.0 cannot read the SentencePiece model spiece.model`,
      {
        code: "unsupported",
        path: [jsonFile],
        expected: "tokenizer.json next to spiece.model",
        received: "spiece.model only",
        hint: "convert it with transformers: T5TokenizerFast.from_pretrained(folder).save_pretrained(folder)",
      },
    );
  } else {
    throw new TweedieError(`${jsonFile}: tokenizer not found`, {
      code: "not_found",
      path: [jsonFile],
      expected: "tokenizer.json, or vocab.json and merges.txt (CLIP)",
      received: "neither",
    });
  }

  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(description, config);
  } catch (cause) {
    throw new TweedieError(
      `${describedIn}: @huggingface/tokenizers could not read it: ${(cause as Error).message}`,
      {
        code: "unsupported",
        path: [describedIn],
        cause,
      },
    );
  }

  const padText = tokenText(config.pad_token);
  if (padText === undefined) {
    throw fieldError(configFile, "pad_token", "the padding token", config.pad_token);
  }
  const padId = tokenizer.token_to_id(padText);
  if (padId === undefined) {
    throw fieldError(configFile, "pad_token", "a token of the vocabulary", padText);
  }
  const { prefix, suffix } = specialPlacement(description.post_processor, describedIn);
  const maxLength = config.model_max_length;
  const tokenize = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).ids;

  return {
    folder,
    source,
    padId,
    // transformers writes a huge sentinel (1e30) when a tokenizer has no maximum.
    modelMaxLength: typeof maxLength === "number" && maxLength < 1e9 ? maxLength : null,
    prefix,
    suffix,
    tokenize,
    encode(text, length) {
      const room = length - prefix.length - suffix.length;
      if (!Number.isInteger(length) || room < 0) {
        throw new TweedieError("token sequence length too small for the special tokens", {
          code: "out_of_range",
          path: [folder, "length"],
          expected: `an integer >= ${prefix.length + suffix.length}`,
          received: length,
        });
      }
      const content = tokenize(text).slice(0, room);
      const ids = [...prefix, ...content, ...suffix];
      while (ids.length < length) ids.push(padId);
      return ids;
    },
  };
}
