"""Exports a diffusers pipeline (Stable Diffusion 1.x, Stable Diffusion 3, Flux) to the
ONNX folder layout that @tweedie/core's loadDiffusersPackage reads, with optional VJP graphs.

    python tools/export/export_diffusers.py --model stable-diffusion-v1-5/stable-diffusion-v1-5 \\
        --out models/sd15 --height 512 --width 512 --vjp unet,vae_decoder
    python tools/export/export_diffusers.py --model stabilityai/stable-diffusion-3-medium-diffusers \\
        --out models/sd3 --height 768 --width 768 --vjp vae_decoder --dtype float16 --device cuda

Needs PyTorch 2.x, diffusers, transformers, onnx and onnxscript; --model is a local folder
or a Hub id that diffusers can load on the exporting machine. The forward graphs take the
names and dynamic axes of Optimum's `optimum-cli export onnx`, so an Optimum export of the
same pipeline works as well, and --only-vjp adds VJP graphs to it. VJP graphs have the
static shapes of --height, --width and --vjp-batch:

- unet/vjp.onnx or transformer/vjp.onnx: the denoiser's inputs plus g -> (output, vjp);
- vae_decoder/vjp.onnx: (latent_sample, g) -> (sample, vjp).

NOTE: the diffusers loading path of this script has not run, because the development
machine had neither diffusers nor weights. The export functions it calls are the ones
make_fixtures.py runs on tiny networks with the same signatures.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tweedie_export.layout import (  # noqa: E402
    FluxCall,
    SD3Call,
    UNetCall,
    export_clip,
    export_flux_transformer,
    export_sd3_transformer,
    export_t5,
    export_unet,
    export_vae,
    write_json,
)
from tweedie_export.graphs import export_vjp  # noqa: E402

DTYPES = {"float32": torch.float32, "float16": torch.float16}


def family_of(pipe) -> str:
    name = type(pipe).__name__
    if name.startswith("StableDiffusion3"):
        return "sd3"
    if name.startswith("Flux"):
        return "flux"
    if name.startswith("StableDiffusion") and "XL" not in name:
        return "sd"
    raise SystemExit(f"unsupported pipeline class {name}: expected StableDiffusion, StableDiffusion3 or Flux")


class VaeEncoder(torch.nn.Module):
    """sample -> latent_parameters, the Gaussian moments of AutoencoderKL's latent_dist."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.encode(sample).latent_dist.parameters


class VaeDecoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample).sample


def save_tokenizer(tokenizer, folder: str) -> None:
    """Saves a tokenizer with tokenizer.json, converting slow (SentencePiece) ones to fast."""
    if not getattr(tokenizer, "is_fast", True):
        from transformers import AutoTokenizer

        tokenizer.save_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
    tokenizer.save_pretrained(folder)


def export_text(pipe, family: str, out: str, device: str, t5_length: int) -> None:
    clip_ids = torch.zeros(1, 77, dtype=torch.int64, device=device)
    parts = {
        "sd": [("tokenizer", "text_encoder", "clip")],
        "sd3": [("tokenizer", "text_encoder", "clip-projection"), ("tokenizer_2", "text_encoder_2", "clip-projection"), ("tokenizer_3", "text_encoder_3", "t5")],
        "flux": [("tokenizer", "text_encoder", "clip"), ("tokenizer_2", "text_encoder_2", "t5")],
    }[family]
    for tokenizer_name, encoder_name, kind in parts:
        encoder = getattr(pipe, encoder_name, None)
        if encoder is None:
            continue
        save_tokenizer(getattr(pipe, tokenizer_name), os.path.join(out, tokenizer_name))
        folder = os.path.join(out, encoder_name)
        if kind == "t5":
            # NOTE: T5 overflows in float16 (known for T5 v1.1); the encoder is exported in float32.
            export_t5(encoder.float(), folder, torch.zeros(1, t5_length, dtype=torch.int64, device=device))
        else:
            export_clip(encoder, folder, clip_ids, projection=kind == "clip-projection")


def denoiser_examples(pipe, family: str, batch: int, height: int, width: int, dtype, device: str, t5_length: int):
    vae_factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    h, w = height // vae_factor, width // vae_factor
    channels = pipe.vae.config.latent_channels
    if family == "sd":
        context = pipe.text_encoder.config.hidden_size
        return (
            torch.randn(batch, channels, h, w, dtype=dtype, device=device),
            torch.tensor(500, dtype=torch.int64, device=device),
            torch.randn(batch, 77, context, dtype=dtype, device=device),
        )
    config = pipe.transformer.config
    sequence = 77 + t5_length if family == "sd3" else t5_length
    text = torch.randn(batch, sequence, config.joint_attention_dim, dtype=dtype, device=device)
    pooled = torch.randn(batch, config.pooled_projection_dim, dtype=dtype, device=device)
    if family == "sd3":
        return (torch.randn(batch, channels, h, w, dtype=dtype, device=device), text, pooled, torch.full((batch,), 500.0, dtype=dtype, device=device))
    tokens = (h // 2) * (w // 2)
    img_ids = torch.zeros(tokens, 3, dtype=dtype, device=device)
    img_ids[:, 1] = torch.arange(h // 2, device=device).repeat_interleave(w // 2)
    img_ids[:, 2] = torch.arange(w // 2, device=device).repeat(h // 2)
    example = [
        torch.randn(batch, tokens, 4 * channels, dtype=dtype, device=device),
        text,
        pooled,
        torch.full((batch,), 0.5, dtype=dtype, device=device),
        img_ids,
        torch.zeros(sequence, 3, dtype=dtype, device=device),
    ]
    if config.guidance_embeds:
        example.append(torch.full((batch,), 3.5, dtype=dtype, device=device))
    return tuple(example)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="diffusers pipeline folder or Hub id")
    parser.add_argument("--out", required=True, help="folder to write")
    parser.add_argument("--height", type=int, default=512, help="image height in pixels for the example inputs and VJP graphs")
    parser.add_argument("--width", type=int, default=512, help="image width in pixels")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="weights and graph inputs (T5 stays float32)")
    parser.add_argument("--device", default="cpu", help="device for tracing (cuda for SD3 and Flux)")
    parser.add_argument("--vjp", default="", help="comma-separated VJP graphs to add: denoiser, vae_decoder")
    parser.add_argument("--vjp-batch", type=int, default=1, help="batch size of the VJP graphs")
    parser.add_argument("--t5-length", type=int, default=77, help="T5 tokens of the example inputs (SD3 77 as FlowDPS; Flux 512)")
    parser.add_argument("--only-vjp", action="store_true", help="write only the VJP graphs (into an existing Optimum export)")
    args = parser.parse_args()

    from diffusers import DiffusionPipeline  # type: ignore[import-not-found]

    dtype = DTYPES[args.dtype]
    pipe = DiffusionPipeline.from_pretrained(args.model, torch_dtype=dtype).to(args.device)
    family = family_of(pipe)
    out = args.out
    vjps = {part.strip() for part in args.vjp.split(",") if part.strip()}
    unknown = vjps - {"denoiser", "vae_decoder"}
    if unknown:
        raise SystemExit(f"--vjp: unknown graphs {sorted(unknown)}; expected denoiser, vae_decoder")

    example = denoiser_examples(pipe, family, 2, args.height, args.width, dtype, args.device, args.t5_length)
    vjp_example = denoiser_examples(pipe, family, args.vjp_batch, args.height, args.width, dtype, args.device, args.t5_length)
    denoiser = pipe.unet if family == "sd" else pipe.transformer
    folder = os.path.join(out, "unet" if family == "sd" else "transformer")
    vae_factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    latent = (args.vjp_batch, pipe.vae.config.latent_channels, args.height // vae_factor, args.width // vae_factor)

    if not args.only_vjp:
        pipe.save_config(out)
        pipe.scheduler.save_config(os.path.join(out, "scheduler"))
        export_text(pipe, family, out, args.device, args.t5_length)
        if family == "sd":
            export_unet(denoiser, folder, example)
        elif family == "sd3":
            export_sd3_transformer(denoiser, folder, example)
        else:
            export_flux_transformer(denoiser, folder, example, guidance=bool(denoiser.config.guidance_embeds))
        write_json(os.path.join(folder, "config.json"), dict(denoiser.config))
        image = torch.randn(1, 3, args.height, args.width, dtype=dtype, device=args.device)
        export_vae(VaeEncoder(pipe.vae), VaeDecoder(pipe.vae), out, image, torch.randn(*latent, dtype=dtype, device=args.device), dict(pipe.vae.config))

    if "denoiser" in vjps:
        call = {"sd": UNetCall, "sd3": SD3Call}.get(family)
        if call is not None:
            wrapped = call(denoiser)
        else:
            wrapped = FluxCall(denoiser, bool(denoiser.config.guidance_embeds))
        names = {
            "sd": ["sample", "timestep", "encoder_hidden_states"],
            "sd3": ["hidden_states", "encoder_hidden_states", "pooled_projections", "timestep"],
            "flux": ["hidden_states", "encoder_hidden_states", "pooled_projections", "timestep", "img_ids", "txt_ids", "guidance"],
        }[family][: len(vjp_example)]
        output = "out_sample" if family == "sd" else "out_hidden_states"
        export_vjp(wrapped.eval(), 0, vjp_example, os.path.join(folder, "vjp.onnx"), names, output)
    if "vae_decoder" in vjps:
        z = torch.randn(*latent, dtype=dtype, device=args.device)
        export_vjp(VaeDecoder(pipe.vae).eval(), 0, (z,), os.path.join(out, "vae_decoder", "vjp.onnx"), ["latent_sample"], "sample")
    print(f"wrote {out} ({family})")


if __name__ == "__main__":
    main()
