"""ADM (guided-diffusion) U-Nets as Tweedie model packages.

A package is a folder with `denoiser.onnx` (inputs x [N, 3, S, S] float and timesteps [N]
int64, the integer step index; output `output` [N, 6, S, S]: epsilon, then the variance
interpolation value v), optionally `vjp.onnx` (the same inputs plus `g` [B, 6, S, S];
outputs `output` and `vjp` = J^T g with J = d output / d x, at a fixed batch B), and
`tweedie-model.json`, the manifest that @tweedie/core's admManifest describes.
"""

from __future__ import annotations

import hashlib
import os

import torch

from .graphs import export_forward, export_vjp
from .layout import write_json

# guided-diffusion create_model arguments of the checkpoints DPS uses
# (DPS2022/diffusion-posterior-sampling configs/model_config.yaml and
# imagenet_model_config.yaml at commit effbde7).
_ADM_256 = dict(
    image_size=256,
    channel_mult="",
    learn_sigma=True,
    class_cond=False,
    use_checkpoint=False,
    num_heads=4,
    num_head_channels=64,
    num_heads_upsample=-1,
    use_scale_shift_norm=True,
    dropout=0.0,
    resblock_updown=True,
    use_fp16=False,
    use_new_attention_order=False,
)
ADM_CHECKPOINTS = {
    "ffhq256": dict(_ADM_256, num_channels=128, num_res_blocks=1, attention_resolutions="16"),
    "imagenet256": dict(_ADM_256, num_channels=256, num_res_blocks=2, attention_resolutions="32,16,8"),
}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_adm_package(
    unet: torch.nn.Module,
    out: str,
    name: str,
    size: int,
    vjp_batch: int | None = 1,
    version: str = "1",
    device: str = "cpu",
) -> dict:
    """Exports `unet(x, timesteps)` and writes the package; returns the manifest."""
    os.makedirs(out, exist_ok=True)
    unet = unet.eval().to(device)
    x = torch.randn(2, 3, size, size, device=device)
    steps = torch.tensor([500, 500], dtype=torch.int64, device=device)
    export_forward(
        unet,
        (x, steps),
        os.path.join(out, "denoiser.onnx"),
        ["x", "timesteps"],
        ["output"],
        {"x": {0: "batch", 2: "height", 3: "width"}, "timesteps": {0: "batch"}, "output": {0: "batch", 2: "height", 3: "width"}},
    )
    files = {"denoiser": {"path": "denoiser.onnx", "sha256": _sha256(os.path.join(out, "denoiser.onnx"))}}
    if vjp_batch:
        example = (x[:1].repeat(vjp_batch, 1, 1, 1), steps[:1].repeat(vjp_batch))
        export_vjp(unet, 0, example, os.path.join(out, "vjp.onnx"), ["x", "timesteps"], "output")
        files["vjp"] = {"path": "vjp.onnx", "sha256": _sha256(os.path.join(out, "vjp.onnx"))}
    manifest = {
        "name": name,
        "version": version,
        "files": files,
        "parameterisation": "epsilon",
        "schedule": {"kind": "vp-linear", "betaStart": 0.0001, "betaEnd": 0.02, "steps": 1000},
        "timestepInput": {"kind": "index"},
        "resolution": [size, size],
        "channels": 3,
        "space": "pixel",
        "conditioning": {"kind": "none"},
        "learnedVariance": True,
        "dtype": "float32",
        "io": {"x": "x", "t": "timesteps", "output": "output", "g": "g", "vjp": "vjp"},
        "spatial": {"kind": "static", "size": [size, size]},
    }
    write_json(os.path.join(out, "tweedie-model.json"), manifest)
    return manifest
