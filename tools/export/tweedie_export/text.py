"""Tiny text encoders and tokenizer files in the formats real pipelines ship.

- CLIP: a byte-level BPE vocabulary (`vocab.json` and `merges.txt`, CLIP's format: the 256
  byte symbols, the same with `</w>`, the merges in order, then `<|startoftext|>` and
  `<|endoftext|>`), learned here from `CORPUS` with the BPE merge rule, and saved either
  as those two files or as `tokenizer.json` through transformers' CLIPTokenizer.
- T5: a SentencePiece unigram model (`spiece.model`) trained on `CORPUS` with the
  sentencepiece library, converted to `tokenizer.json` through transformers' T5Tokenizer.
- Encoders: transformers CLIPTextModel, CLIPTextModelWithProjection and T5EncoderModel
  with small configs and random weights.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import tempfile

import torch
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    T5Config,
    T5EncoderModel,
    T5Tokenizer,
)

CORPUS = [
    "a photo of a closed face",
    "a photo of a closed face of a dog",
    "a high quality photo of a mountain lake at sunset",
    "a handwritten digit 3",
    "a handwritten digit 8",
    "a cat sitting on a wooden table",
    "a zebra standing in the grass",
    "a horse running on the beach",
    "out of focus, depth of field",
    "an oil painting of a red house with a blue door",
    "two dogs playing in the snow",
    "a portrait of a smiling woman wearing glasses",
    "a bowl of fresh fruit, apples and oranges",
    "the city skyline at night with bright lights",
    "a black and white photograph of an old car",
    "a small bird on a branch in spring",
]

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
CLIP_SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")


def byte_symbols() -> dict[int, str]:
    """GPT-2's byte-to-unicode map: printable bytes map to themselves, the rest to 256+."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\u00a1"), ord("\u00ac") + 1))
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def learn_clip_bpe(corpus: list[str], merges: int) -> tuple[dict[str, int], list[str]]:
    """Learns `merges` BPE merges on CLIP-style words (lowercase, last symbol + `</w>`)."""
    symbols = byte_symbols()
    words = collections.Counter()
    for line in corpus:
        for word in CLIP_SPLIT.findall(line.lower()):
            chars = [symbols[b] for b in word.encode("utf-8")]
            chars[-1] += "</w>"
            words[tuple(chars)] += 1

    merge_list: list[str] = []
    for _ in range(merges):
        pairs = collections.Counter()
        for word, count in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        # The most frequent pair; ties go to the lexicographically smallest for determinism.
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merge_list.append(f"{best[0]} {best[1]}")
        merged = collections.Counter()
        for word, count in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += count
        words = merged

    base = [symbols[b] for b in range(256)]
    tokens = base + [s + "</w>" for s in base] + [m.replace(" ", "") for m in merge_list]
    tokens += [BOS, EOS]
    return {token: i for i, token in enumerate(tokens)}, merge_list


def write_clip_tokenizer(folder: str, vocab: dict[str, int], merges: list[str], pad_token: str, as_json: bool) -> CLIPTokenizer:
    """Writes a CLIP tokenizer folder: tokenizer.json (as_json) or vocab.json + merges.txt."""
    pairs = [tuple(m.split(" ")) for m in merges]
    tokenizer = CLIPTokenizer(vocab=vocab, merges=pairs, pad_token=pad_token, model_max_length=77)
    os.makedirs(folder, exist_ok=True)
    if as_json:
        tokenizer.save_pretrained(folder)
        for name in ("vocab.json", "merges.txt"):
            if os.path.exists(os.path.join(folder, name)):
                os.remove(os.path.join(folder, name))
    else:
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
        config = {
            "tokenizer_class": "CLIPTokenizer",
            "model_max_length": 77,
            "bos_token": BOS,
            "eos_token": EOS,
            "unk_token": EOS,
            "pad_token": pad_token,
            "do_lower_case": True,
        }
        with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
            json.dump(config, f, indent=2)
        special = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": pad_token}
        with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
            json.dump(special, f, indent=2)
    return tokenizer


def write_t5_tokenizer(folder: str, vocab_size: int = 100, extra_ids: int = 2, keep_spiece: bool = False) -> T5Tokenizer:
    """Trains a SentencePiece unigram model on CORPUS and writes tokenizer.json (and
    spiece.model with `keep_spiece`; Tweedie reads only tokenizer.json)."""
    import sentencepiece as spm

    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus_file = os.path.join(tmp, "corpus.txt")
        with open(corpus_file, "w") as f:
            f.write("\n".join(CORPUS * 4) + "\n")
        prefix = os.path.join(tmp, "spiece")
        spm.SentencePieceTrainer.train(
            input=corpus_file,
            model_prefix=prefix,
            vocab_size=vocab_size,
            model_type="unigram",
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            normalization_rule_name="nmt_nfkc",
            character_coverage=1.0,
            seed_sentencepiece_size=1000,
            num_threads=1,
            minloglevel=2,
        )
        shutil.copy(prefix + ".model", os.path.join(folder, "spiece.model"))
    tokenizer = T5Tokenizer.from_pretrained(folder, extra_ids=extra_ids, model_max_length=512)
    tokenizer.save_pretrained(folder)
    if not keep_spiece:
        os.remove(os.path.join(folder, "spiece.model"))
    return tokenizer


def tiny_clip(vocab_size: int, hidden: int, projection: bool, eos_id: int, pad_id: int, bos_id: int, seed: int) -> torch.nn.Module:
    """A 2-layer CLIP text encoder of width `hidden` (with a projection of the same width)."""
    torch.manual_seed(seed)
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        projection_dim=hidden,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        hidden_act="quick_gelu",
    )
    config._attn_implementation = "eager"
    model = CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)
    return model.eval()


def tiny_t5(vocab_size: int, d_model: int, seed: int) -> torch.nn.Module:
    """A 2-layer T5 v1.1-style encoder (gated GELU) of width `d_model`."""
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_model // 2,
        d_ff=2 * d_model,
        num_layers=2,
        num_heads=2,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        use_cache=False,
        pad_token_id=0,
        eos_token_id=1,
    )
    config._attn_implementation = "eager"
    return T5EncoderModel(config).eval()
