"""Writers for the Optimum / diffusers ONNX folder layout that Tweedie reads.

    model_index.json                      pipeline class and components
    scheduler/scheduler_config.json       the diffusers scheduler config
    unet/model.onnx | transformer/model.onnx (+ config.json)
    unet/vjp.onnx | transformer/vjp.onnx  optional: (inputs..., g) -> (output, vjp)
    text_encoder*/model.onnx (+ config.json), tokenizer*/
    vae_encoder/model.onnx, vae_decoder/model.onnx (+ config.json, the AutoencoderKL config)
    vae_decoder/vjp.onnx                  optional: (latent_sample, g) -> (sample, vjp)

Graph input and output names are Optimum's: sample / timestep / encoder_hidden_states ->
out_sample (UNet); hidden_states / encoder_hidden_states / pooled_projections / timestep
(+ img_ids, txt_ids, guidance for Flux) -> out_hidden_states; input_ids -> last_hidden_state,
pooler_output or text_embeds, hidden_states.0 ... hidden_states.N (CLIP) and
last_hidden_state (T5); sample -> latent_parameters (VAE encoder, the Gaussian moments);
latent_sample -> sample (VAE decoder). VJP graphs add the cotangent input `g` (shaped like
the output) and the output `vjp` (shaped like the differentiated input).
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

from .graphs import export_forward, export_vjp


def write_json(path: str, value: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def _output_tensor(result: Any) -> torch.Tensor:
    """The main output of a diffusers module (`.sample`, a tuple's first item) or a tensor."""
    if isinstance(result, torch.Tensor):
        return result
    if hasattr(result, "sample"):
        return result.sample
    return result[0]


class UNetCall(torch.nn.Module):
    def __init__(self, unet: torch.nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return _output_tensor(self.unet(sample, timestep, encoder_hidden_states))


class SD3Call(torch.nn.Module):
    def __init__(self, transformer: torch.nn.Module):
        super().__init__()
        self.transformer = transformer

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep):
        return _output_tensor(
            self.transformer(
                hidden_states=hidden_states,
                encoder_hidden_states=encoder_hidden_states,
                pooled_projections=pooled_projections,
                timestep=timestep,
            )
        )


class FluxCall(torch.nn.Module):
    def __init__(self, transformer: torch.nn.Module, guidance: bool):
        super().__init__()
        self.transformer = transformer
        self.guidance = guidance

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep, img_ids, txt_ids, guidance=None):
        kwargs = dict(
            hidden_states=hidden_states,
            encoder_hidden_states=encoder_hidden_states,
            pooled_projections=pooled_projections,
            timestep=timestep,
            img_ids=img_ids,
            txt_ids=txt_ids,
        )
        if self.guidance:
            kwargs["guidance"] = guidance
        return _output_tensor(self.transformer(**kwargs))


class ClipCall(torch.nn.Module):
    """CLIP text encoder returning (pooled, last_hidden_state, hidden_states...) as Optimum names them."""

    def __init__(self, model: torch.nn.Module, projection: bool):
        super().__init__()
        self.model = model
        self.projection = projection

    def forward(self, input_ids):
        out = self.model(input_ids=input_ids, output_hidden_states=True)
        pooled = out.text_embeds if self.projection else out.pooler_output
        return (out.last_hidden_state, pooled, *out.hidden_states)


class T5Call(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids).last_hidden_state


def export_unet(unet, folder, example, vjp_example=None):
    """UNet2DConditionModel-like network to `folder/model.onnx` (and `vjp.onnx`)."""
    call = UNetCall(unet).eval()
    names = ["sample", "timestep", "encoder_hidden_states"]
    export_forward(
        call,
        example,
        os.path.join(folder, "model.onnx"),
        names,
        ["out_sample"],
        {
            "sample": {0: "batch_size", 2: "height", 3: "width"},
            "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
            "out_sample": {0: "batch_size", 2: "height", 3: "width"},
        },
    )
    if vjp_example is not None:
        export_vjp(call, 0, vjp_example, os.path.join(folder, "vjp.onnx"), names, "out_sample")


def export_sd3_transformer(transformer, folder, example, vjp_example=None):
    call = SD3Call(transformer).eval()
    names = ["hidden_states", "encoder_hidden_states", "pooled_projections", "timestep"]
    export_forward(
        call,
        example,
        os.path.join(folder, "model.onnx"),
        names,
        ["out_hidden_states"],
        {
            "hidden_states": {0: "batch_size", 2: "height", 3: "width"},
            "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
            "pooled_projections": {0: "batch_size"},
            "timestep": {0: "step"},
            "out_hidden_states": {0: "batch_size", 2: "height", 3: "width"},
        },
    )
    if vjp_example is not None:
        export_vjp(call, 0, vjp_example, os.path.join(folder, "vjp.onnx"), names, "out_hidden_states")


def export_flux_transformer(transformer, folder, example, guidance: bool, vjp_example=None):
    call = FluxCall(transformer, guidance).eval()
    names = ["hidden_states", "encoder_hidden_states", "pooled_projections", "timestep", "img_ids", "txt_ids"]
    axes = {
        "hidden_states": {0: "batch_size", 1: "packed_height_width"},
        "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
        "pooled_projections": {0: "batch_size"},
        "timestep": {0: "batch_size"},
        "img_ids": {0: "packed_height_width"},
        "txt_ids": {0: "sequence_length"},
        "out_hidden_states": {0: "batch_size", 1: "packed_height_width"},
    }
    if guidance:
        names.append("guidance")
        axes["guidance"] = {0: "batch_size"}
    export_forward(call, example, os.path.join(folder, "model.onnx"), names, ["out_hidden_states"], axes)
    if vjp_example is not None:
        export_vjp(call, 0, vjp_example, os.path.join(folder, "vjp.onnx"), names, "out_hidden_states")


def export_clip(model, folder, example_ids, projection: bool):
    """CLIPTextModel (pooler_output) or CLIPTextModelWithProjection (text_embeds), with hidden states."""
    layers = model.config.num_hidden_layers
    pooled = "text_embeds" if projection else "pooler_output"
    hidden = [f"hidden_states.{i}" for i in range(layers + 1)]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}, pooled: {0: "batch_size"}}
    for name in ["last_hidden_state", *hidden]:
        axes[name] = {0: "batch_size", 1: "sequence_length"}
    export_forward(
        ClipCall(model, projection).eval(),
        (example_ids,),
        os.path.join(folder, "model.onnx"),
        ["input_ids"],
        ["last_hidden_state", pooled, *hidden],
        axes,
    )
    model.config.to_json_file(os.path.join(folder, "config.json"))


def export_t5(model, folder, example_ids):
    export_forward(
        T5Call(model).eval(),
        (example_ids,),
        os.path.join(folder, "model.onnx"),
        ["input_ids"],
        ["last_hidden_state"],
        {"input_ids": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "sequence_length"}},
    )
    model.config.to_json_file(os.path.join(folder, "config.json"))


def export_vae(encoder, decoder, root, example_image, example_latent, vae_config, decoder_vjp_example=None):
    """VAE encoder (sample -> latent_parameters) and decoder (latent_sample -> sample)."""
    export_forward(
        encoder.eval(),
        (example_image,),
        os.path.join(root, "vae_encoder", "model.onnx"),
        ["sample"],
        ["latent_parameters"],
        {
            "sample": {0: "batch_size", 2: "sample_height", 3: "sample_width"},
            "latent_parameters": {0: "batch_size", 2: "latent_height", 3: "latent_width"},
        },
    )
    export_forward(
        decoder.eval(),
        (example_latent,),
        os.path.join(root, "vae_decoder", "model.onnx"),
        ["latent_sample"],
        ["sample"],
        {
            "latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"},
            "sample": {0: "batch_size", 2: "sample_height", 3: "sample_width"},
        },
    )
    for part in ("vae_encoder", "vae_decoder"):
        write_json(os.path.join(root, part, "config.json"), vae_config)
    if decoder_vjp_example is not None:
        export_vjp(
            decoder.eval(),
            0,
            decoder_vjp_example,
            os.path.join(root, "vae_decoder", "vjp.onnx"),
            ["latent_sample"],
            "sample",
        )
