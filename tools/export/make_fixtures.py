"""Builds the tiny model fixtures of @tweedie/core's model tests.

    python tools/export/make_fixtures.py [--out packages/core/test/fixtures/models]

Writes four packages of randomly initialised tiny networks with the real input and output
signatures, plus `references.json` in each. A reference file lists token ids for a set of
prompts and probes (sum, absolute sum and a few values) of every intermediate tensor that
PyTorch computes. The TypeScript tests compare them with the same path through
onnxruntime-node.

- sd15/: Stable Diffusion 1.5 layout (PNDMScheduler, CLIP tokenizer as vocab.json +
  merges.txt, int32 input_ids as the original diffusers ONNX export had, UNet timestep an
  int64 scalar as Optimum exports it), with unet/vjp.onnx and vae_decoder/vjp.onnx.
- sd3/: Stable Diffusion 3 layout (FlowMatchEulerDiscreteScheduler shift 3, CLIP-L and
  CLIP-G with projections and hidden states, T5, tokenizer.json files; tokenizer_2 pads
  with "!"), with transformer/vjp.onnx and vae_decoder/vjp.onnx.
- flux/: Flux layout (dynamic shifting, packed latents, img_ids/txt_ids/guidance inputs).
- adm/: a guided-diffusion ADM package (tweedie-model.json, 6 output channels) with vjp.onnx.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tweedie_export.layout import (  # noqa: E402
    export_clip,
    export_flux_transformer,
    export_sd3_transformer,
    export_t5,
    export_unet,
    export_vae,
    write_json,
)
from tweedie_export.adm import write_adm_package  # noqa: E402
from tweedie_export.text import (  # noqa: E402
    CORPUS,
    EOS,
    learn_clip_bpe,
    tiny_clip,
    tiny_t5,
    write_clip_tokenizer,
    write_t5_tokenizer,
)
from tweedie_export.tiny import (  # noqa: E402
    TinyAdmUNet,
    TinyCondUNet,
    TinyFluxTransformer,
    TinySD3Transformer,
    TinyVaeDecoder,
    TinyVaeEncoder,
)

PROMPT = "a photo of a closed face"
TOKENIZER_CASES = [
    "",
    PROMPT,
    "A HIGH quality   photo of a dog!!",
    "two dogs, 3 cats & 12 birds; isn't it?",
    "café crème brûlée",
    "a zebra \U0001f993 in the grass",
    " ".join(CORPUS),
]
LATENT = (1, 4, 8, 8)
IMAGE = (1, 3, 32, 32)
WIDTHS = (8, 16, 16)


def pattern(shape, phase: float = 0.0) -> torch.Tensor:
    """A deterministic test input: 0.9 sin(0.37 i + phase) over the flat index i."""
    n = math.prod(shape)
    return (0.9 * torch.sin(0.37 * torch.arange(n, dtype=torch.float64) + phase)).float().reshape(shape)


def probe(tensor: torch.Tensor) -> dict:
    flat = tensor.detach().double().reshape(-1)
    n = flat.numel()
    indices = sorted({0, n // 5, 2 * n // 5, 3 * n // 5, 4 * n // 5, n - 1})
    return {
        "shape": list(tensor.shape),
        "sum": flat.sum().item(),
        "sumAbs": flat.abs().sum().item(),
        "indices": indices,
        "values": [flat[i].item() for i in indices],
    }


def vae_config(scaling: float, shift: float | None, latent_channels: int) -> dict:
    config = {
        "_class_name": "AutoencoderKL",
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": latent_channels,
        "block_out_channels": list(WIDTHS),
        "down_block_types": ["DownEncoderBlock2D"] * len(WIDTHS),
        "up_block_types": ["UpDecoderBlock2D"] * len(WIDTHS),
        "sample_size": IMAGE[2],
        "scaling_factor": scaling,
    }
    if shift is not None:
        config["shift_factor"] = shift
    return config


def build_vae(root, scaling, shift, seed, decoder_vjp=True):
    torch.manual_seed(seed)
    encoder, decoder = TinyVaeEncoder(LATENT[1], WIDTHS).eval(), TinyVaeDecoder(LATENT[1], WIDTHS).eval()
    export_vae(
        encoder,
        decoder,
        root,
        pattern((2, *IMAGE[1:])),
        pattern((2, *LATENT[1:])),
        vae_config(scaling, shift, LATENT[1]),
        decoder_vjp_example=(pattern(LATENT, 0.5),) if decoder_vjp else None,
    )
    image = pattern(IMAGE, 0.2)
    moments = encoder(image)
    mean, logvar = moments.chunk(2, dim=1)
    shift_value = shift or 0.0
    z = pattern(LATENT, 0.5)
    g = pattern(IMAGE, 1.1)
    zr = z.clone().requires_grad_()
    (vjp,) = torch.autograd.grad(decoder(zr), zr, g)
    return decoder, {
        "image": {"shape": list(IMAGE), "phase": 0.2},
        "encodeMean": probe(scaling * (mean - shift_value)),
        "encodeStd": probe(scaling * torch.exp(0.5 * logvar.clamp(-30, 20))),
        "decoderVjp": {"z": {"shape": list(LATENT), "phase": 0.5}, "g": {"shape": list(IMAGE), "phase": 1.1}, "raw": probe(vjp)},
    }


def clip_ids(tokenizer, text, length=77):
    return tokenizer(text, padding="max_length", max_length=length, truncation=True).input_ids


def t5_ids(tokenizer, text, length):
    return tokenizer(text, padding="max_length", max_length=length, truncation=True).input_ids


def write_tokenizers(root, clip_specs, t5_folder=None, t5_lengths=()):
    """Writes CLIP tokenizer folders (name, pad, as_json) and an optional T5 one; returns
    (tokenizers, reference ids for TOKENIZER_CASES)."""
    vocab, merges = learn_clip_bpe(CORPUS, 150)
    tokenizers, cases = {}, {}
    for name, pad, as_json in clip_specs:
        tok = write_clip_tokenizer(os.path.join(root, name), vocab, merges, pad, as_json)
        tokenizers[name] = tok
        cases[name] = {"maxLength": 77, "ids": [clip_ids(tok, text) for text in TOKENIZER_CASES]}
    if t5_folder is not None:
        tok = write_t5_tokenizer(os.path.join(root, t5_folder))
        tokenizers[t5_folder] = tok
        cases[t5_folder] = [
            {"maxLength": length, "ids": [t5_ids(tok, text, length) for text in TOKENIZER_CASES]}
            for length in t5_lengths
        ]
    return tokenizers, cases, len(vocab)


def alphas_cumprod_scaled_linear(start, end, steps):
    betas = np.linspace(math.sqrt(start), math.sqrt(end), steps, dtype=np.float64) ** 2
    return np.cumprod(1 - betas)


def build_sd15(root):
    write_json(
        os.path.join(root, "model_index.json"),
        {
            "_class_name": "StableDiffusionPipeline",
            "_diffusers_version": "0.30.1",
            "scheduler": ["diffusers", "PNDMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
            "safety_checker": [None, None],
            "feature_extractor": [None, None],
            "requires_safety_checker": False,
        },
    )
    write_json(
        os.path.join(root, "scheduler", "scheduler_config.json"),
        {
            "_class_name": "PNDMScheduler",
            "_diffusers_version": "0.30.1",
            "beta_end": 0.012,
            "beta_schedule": "scaled_linear",
            "beta_start": 0.00085,
            "clip_sample": False,
            "num_train_timesteps": 1000,
            "set_alpha_to_one": False,
            "skip_prk_steps": True,
            "steps_offset": 1,
            "trained_betas": None,
        },
    )
    tokenizers, cases, vocab_size = write_tokenizers(root, [("tokenizer", EOS, False)])
    tok = tokenizers["tokenizer"]
    clip = tiny_clip(vocab_size, 16, False, tok.eos_token_id, tok.pad_token_id, tok.bos_token_id, seed=1)
    export_clip(clip, os.path.join(root, "text_encoder"), torch.tensor([clip_ids(tok, PROMPT)], dtype=torch.int32), False)

    torch.manual_seed(2)
    unet = TinyCondUNet(LATENT[1], 16, 16).eval()
    context = torch.zeros(1, 77, 16)
    export_unet(
        unet,
        os.path.join(root, "unet"),
        (pattern((2, *LATENT[1:])), torch.tensor(500, dtype=torch.int64), pattern((2, 77, 16))),
        vjp_example=(pattern(LATENT), torch.tensor(500, dtype=torch.int64), context),
    )
    write_json(
        os.path.join(root, "unet", "config.json"),
        {"_class_name": "UNet2DConditionModel", "in_channels": LATENT[1], "out_channels": LATENT[1], "cross_attention_dim": 16, "sample_size": LATENT[2]},
    )
    decoder, vae_refs = build_vae(root, 0.18215, None, seed=3)

    # References: text -> embeddings -> batched CFG at step 500 -> x0Hat -> decode.
    with torch.no_grad():
        ids = torch.tensor([clip_ids(tok, ""), clip_ids(tok, PROMPT)], dtype=torch.int32)
        embeddings = clip(input_ids=ids).last_hidden_state
        x = pattern(LATENT)
        out = unet(torch.cat([x, x]), torch.tensor(500), embeddings)
        guided = out[0:1] + 7.5 * (out[1:2] - out[0:1])
        ab = alphas_cumprod_scaled_linear(0.00085, 0.012, 1000)[500]
        x0 = (x.double() - math.sqrt(1 - ab) * guided.double()) / math.sqrt(ab)
        decoded = decoder((x0 / 0.18215).float())
    xr = x.clone().requires_grad_()
    g = pattern(LATENT, 0.7)
    (unet_vjp,) = torch.autograd.grad(unet(xr, torch.tensor(500), embeddings[1:2]), xr, g)
    write_json(
        os.path.join(root, "references.json"),
        {
            "tokenizerTexts": TOKENIZER_CASES,
            "tokenizers": cases,
            "prompt": PROMPT,
            "embeddings": {"uncond": probe(embeddings[0:1]), "cond": probe(embeddings[1:2])},
            "denoise": {
                "x": {"shape": list(LATENT), "phase": 0.0},
                "timestepIndex": 500,
                "cfgScale": 7.5,
                "rawUncond": probe(out[0:1]),
                "rawCond": probe(out[1:2]),
                "x0Hat": probe(x0),
                "decoded": probe(decoded),
            },
            "unetVjp": {"g": {"shape": list(LATENT), "phase": 0.7}, "raw": probe(unet_vjp)},
            "vae": vae_refs,
        },
    )


def sd3_embeddings(tokenizers, encoders, text, t5_length):
    """SD3's prompt assembly: CLIP-L and CLIP-G penultimate states concatenated (2048 in the
    real model), zero-padded to the T5 width, followed by the T5 states; pooled = both
    projections concatenated."""
    states, pooled = [], []
    for name, enc in (("tokenizer", encoders["text_encoder"]), ("tokenizer_2", encoders["text_encoder_2"])):
        ids = torch.tensor([clip_ids(tokenizers[name], text)])
        out = enc(input_ids=ids, output_hidden_states=True)
        states.append(out.hidden_states[-2])
        pooled.append(out.text_embeds)
    clip_states = torch.cat(states, dim=-1)
    t5 = encoders["text_encoder_3"](input_ids=torch.tensor([t5_ids(tokenizers["tokenizer_3"], text, t5_length)])).last_hidden_state
    clip_states = torch.nn.functional.pad(clip_states, (0, t5.shape[-1] - clip_states.shape[-1]))
    return torch.cat([clip_states, t5], dim=-2), torch.cat(pooled, dim=-1)


def build_sd3(root):
    write_json(
        os.path.join(root, "model_index.json"),
        {
            "_class_name": "StableDiffusion3Pipeline",
            "_diffusers_version": "0.30.1",
            "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
            "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
            "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
            "text_encoder_3": ["transformers", "T5EncoderModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "tokenizer_2": ["transformers", "CLIPTokenizer"],
            "tokenizer_3": ["transformers", "T5TokenizerFast"],
            "transformer": ["diffusers", "SD3Transformer2DModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        },
    )
    write_json(
        os.path.join(root, "scheduler", "scheduler_config.json"),
        {"_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.30.1", "num_train_timesteps": 1000, "shift": 3.0},
    )
    tokenizers, cases, vocab_size = write_tokenizers(
        root, [("tokenizer", EOS, True), ("tokenizer_2", "!", True)], "tokenizer_3", (77, 24)
    )
    encoders = {}
    for index, (name, tok_name, width) in enumerate((("text_encoder", "tokenizer", 16), ("text_encoder_2", "tokenizer_2", 24))):
        tok = tokenizers[tok_name]
        encoders[name] = tiny_clip(vocab_size, width, True, tok.eos_token_id, tok.pad_token_id, tok.bos_token_id, seed=10 + index)
        export_clip(encoders[name], os.path.join(root, name), torch.tensor([clip_ids(tok, PROMPT)]), True)
    t5_tok = tokenizers["tokenizer_3"]
    encoders["text_encoder_3"] = tiny_t5(len(t5_tok), 48, seed=12)
    export_t5(encoders["text_encoder_3"], os.path.join(root, "text_encoder_3"), torch.tensor([t5_ids(t5_tok, PROMPT, 77)]))

    torch.manual_seed(13)
    transformer = TinySD3Transformer(LATENT[1], 32, 48, 40).eval()
    export_sd3_transformer(
        transformer,
        os.path.join(root, "transformer"),
        (pattern((2, *LATENT[1:])), pattern((2, 154, 48)), pattern((2, 40)), torch.tensor([750.0, 750.0])),
        vjp_example=(pattern(LATENT), pattern((1, 154, 48)), pattern((1, 40)), torch.tensor([750.0])),
    )
    write_json(
        os.path.join(root, "transformer", "config.json"),
        {"_class_name": "SD3Transformer2DModel", "in_channels": LATENT[1], "out_channels": LATENT[1], "joint_attention_dim": 48, "pooled_projection_dim": 40, "patch_size": 2, "sample_size": LATENT[2]},
    )
    decoder, vae_refs = build_vae(root, 1.5305, 0.0609, seed=14)

    with torch.no_grad():
        cond, pooled_cond = sd3_embeddings(tokenizers, encoders, PROMPT, 77)
        uncond, pooled_uncond = sd3_embeddings(tokenizers, encoders, "", 77)
        short, _ = sd3_embeddings(tokenizers, encoders, PROMPT, 24)
        x = pattern(LATENT)
        sigma = 0.75
        out = transformer(torch.cat([x, x]), torch.cat([uncond, cond]), torch.cat([pooled_uncond, pooled_cond]), torch.tensor([1000 * sigma] * 2))
        velocity = out[0:1] + 2.0 * (out[1:2] - out[0:1])
        x0 = x - sigma * velocity
        decoded = decoder(x0 / 1.5305 + 0.0609)
    xr = x.clone().requires_grad_()
    g = pattern(LATENT, 0.7)
    (vjp,) = torch.autograd.grad(transformer(xr, cond, pooled_cond, torch.tensor([750.0])), xr, g)
    write_json(
        os.path.join(root, "references.json"),
        {
            "tokenizerTexts": TOKENIZER_CASES,
            "tokenizers": cases,
            "prompt": PROMPT,
            "embeddings": {
                "uncond": probe(uncond),
                "cond": probe(cond),
                "pooledUncond": probe(pooled_uncond),
                "pooledCond": probe(pooled_cond),
                "condT5Length24": probe(short),
            },
            "denoise": {
                "x": {"shape": list(LATENT), "phase": 0.0},
                "sigma": sigma,
                "cfgScale": 2.0,
                "rawUncond": probe(out[0:1]),
                "rawCond": probe(out[1:2]),
                "x0Hat": probe(x0),
                "decoded": probe(decoded),
            },
            "transformerVjp": {"sigma": sigma, "g": {"shape": list(LATENT), "phase": 0.7}, "raw": probe(vjp)},
            "vae": vae_refs,
        },
    )


def pack(latents):
    b, c, h, w = latents.shape
    return latents.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), 4 * c)


def unpack(tokens, c, h, w):
    b = tokens.shape[0]
    return tokens.reshape(b, h // 2, w // 2, c, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)


def image_ids(h, w):
    ids = torch.zeros(h // 2, w // 2, 3)
    ids[..., 1] = torch.arange(h // 2)[:, None]
    ids[..., 2] = torch.arange(w // 2)[None, :]
    return ids.reshape(-1, 3)


def build_flux(root):
    write_json(
        os.path.join(root, "model_index.json"),
        {
            "_class_name": "FluxPipeline",
            "_diffusers_version": "0.31.0",
            "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "text_encoder_2": ["transformers", "T5EncoderModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "tokenizer_2": ["transformers", "T5TokenizerFast"],
            "transformer": ["diffusers", "FluxTransformer2DModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        },
    )
    write_json(
        os.path.join(root, "scheduler", "scheduler_config.json"),
        {
            "_class_name": "FlowMatchEulerDiscreteScheduler",
            "_diffusers_version": "0.31.0",
            "base_image_seq_len": 256,
            "base_shift": 0.5,
            "max_image_seq_len": 4096,
            "max_shift": 1.15,
            "num_train_timesteps": 1000,
            "shift": 3.0,
            "use_dynamic_shifting": True,
        },
    )
    tokenizers, cases, vocab_size = write_tokenizers(root, [("tokenizer", EOS, True)], "tokenizer_2", (512, 24))
    tok = tokenizers["tokenizer"]
    clip = tiny_clip(vocab_size, 16, False, tok.eos_token_id, tok.pad_token_id, tok.bos_token_id, seed=20)
    export_clip(clip, os.path.join(root, "text_encoder"), torch.tensor([clip_ids(tok, PROMPT)]), False)
    t5_tok = tokenizers["tokenizer_2"]
    t5 = tiny_t5(len(t5_tok), 48, seed=21)
    export_t5(t5, os.path.join(root, "text_encoder_2"), torch.tensor([t5_ids(t5_tok, PROMPT, 512)]))

    torch.manual_seed(22)
    c, h, w = LATENT[1:]
    transformer = TinyFluxTransformer(4 * c, 32, 48, 16, guidance=True).eval()
    ids = image_ids(h, w)
    export_flux_transformer(
        transformer,
        os.path.join(root, "transformer"),
        (pack(pattern((2, c, h, w))), pattern((2, 512, 48)), pattern((2, 16)), torch.tensor([0.6, 0.6]), ids, torch.zeros(512, 3), torch.tensor([3.5, 3.5])),
        guidance=True,
        vjp_example=(pack(pattern(LATENT)), pattern((1, 512, 48)), pattern((1, 16)), torch.tensor([0.6]), ids, torch.zeros(512, 3), torch.tensor([3.5])),
    )
    write_json(
        os.path.join(root, "transformer", "config.json"),
        {"_class_name": "FluxTransformer2DModel", "in_channels": 4 * c, "joint_attention_dim": 48, "pooled_projection_dim": 16, "patch_size": 1, "guidance_embeds": True},
    )
    decoder, vae_refs = build_vae(root, 0.3611, 0.1159, seed=23, decoder_vjp=False)

    with torch.no_grad():
        def embed(text):
            pooled = clip(input_ids=torch.tensor([clip_ids(tok, text)])).pooler_output
            states = t5(input_ids=torch.tensor([t5_ids(t5_tok, text, 512)])).last_hidden_state
            return states, pooled

        cond, pooled_cond = embed(PROMPT)
        uncond, pooled_uncond = embed("")
        x = pattern(LATENT)
        sigma = 0.6
        packed = transformer(
            pack(torch.cat([x, x])), torch.cat([uncond, cond]), torch.cat([pooled_uncond, pooled_cond]),
            torch.tensor([sigma, sigma]), ids, torch.zeros(512, 3), torch.tensor([3.5, 3.5]),
        )
        out = unpack(packed, c, h, w)
        velocity = out[0:1] + 2.0 * (out[1:2] - out[0:1])
        x0 = x - sigma * velocity
        decoded = decoder(x0 / 0.3611 + 0.1159)
    # The VJP with respect to the packed tokens, unpacked: what the model returns for an NCHW g.
    xr = pack(x).clone().requires_grad_()
    g = pattern(LATENT, 0.7)
    out_packed = transformer(xr, cond, pooled_cond, torch.tensor([sigma]), ids, torch.zeros(512, 3), torch.tensor([3.5]))
    (vjp_packed,) = torch.autograd.grad(out_packed, xr, pack(g))
    seq = (h // 2) * (w // 2)
    slope = (1.15 - 0.5) / (4096 - 256)
    mu = slope * seq + (0.5 - slope * 256)
    write_json(
        os.path.join(root, "references.json"),
        {
            "tokenizerTexts": TOKENIZER_CASES,
            "tokenizers": cases,
            "prompt": PROMPT,
            "embeddings": {"uncond": probe(uncond), "cond": probe(cond), "pooledUncond": probe(pooled_uncond), "pooledCond": probe(pooled_cond)},
            "dynamicShift": {"imageSeqLen": seq, "mu": mu, "shift": math.exp(mu)},
            "denoise": {
                "x": {"shape": list(LATENT), "phase": 0.0},
                "sigma": sigma,
                "guidanceScale": 3.5,
                "cfgScale": 2.0,
                "rawUncond": probe(out[0:1]),
                "rawCond": probe(out[1:2]),
                "x0Hat": probe(x0),
                "decoded": probe(decoded),
            },
            "transformerVjp": {"sigma": sigma, "g": {"shape": list(LATENT), "phase": 0.7}, "raw": probe(unpack(vjp_packed, c, h, w))},
            "vae": vae_refs,
        },
    )


def build_adm(root):
    torch.manual_seed(30)
    unet = TinyAdmUNet(3, 16).eval()
    size = 16
    write_adm_package(unet, root, "adm-tiny", size, vjp_batch=1)
    x = pattern((1, 3, size, size))
    g = pattern((1, 6, size, size), 0.7)
    xr = x.clone().requires_grad_()
    out = unet(xr, torch.tensor([500]))
    (vjp,) = torch.autograd.grad(out, xr, g)
    write_json(
        os.path.join(root, "references.json"),
        {
            "x": {"shape": [1, 3, size, size], "phase": 0.0},
            "timestepIndex": 500,
            "output": probe(out),
            "vjp": {"g": {"shape": [1, 6, size, size], "phase": 0.7}, "raw": probe(vjp)},
        },
    )


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "packages", "core", "test", "fixtures", "models")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=default_out, help="folder that receives sd15/, sd3/, flux/ and adm/")
    args = parser.parse_args()
    torch.set_num_threads(2)
    for name, build in (("sd15", build_sd15), ("sd3", build_sd3), ("flux", build_flux), ("adm", build_adm)):
        root = os.path.join(args.out, name)
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        build(root)
        print(f"wrote {root}")


if __name__ == "__main__":
    main()
