"""Exports a guided-diffusion ADM checkpoint (the DPS networks) as a Tweedie model package.

    python tools/export/export_adm.py --checkpoint ffhq_10m.pt --config ffhq256 \\
        --guided-diffusion ~/src/guided-diffusion --out models/adm-ffhq256

Needs PyTorch 2.x (make_fx for the VJP graph), onnx and onnxscript, and a checkout of
openai/guided-diffusion (or the copy inside DPS2022/diffusion-posterior-sampling) for
`guided_diffusion.script_util.create_model`. Writes denoiser.onnx (dynamic batch),
vjp.onnx (static batch --vjp-batch at 256 x 256) and tweedie-model.json.

NOTE: the guided-diffusion path of this script has not run, because the development
machine had no checkpoint and no guided-diffusion checkout. The export functions it calls
are the ones make_fixtures.py runs on the tiny ADM U-Net.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tweedie_export.adm import ADM_CHECKPOINTS, write_adm_package  # noqa: E402


class AdmForward(torch.nn.Module):
    """guided-diffusion's UNetModel.forward(x, timesteps) with timesteps as int64 [N]."""

    def __init__(self, unet: torch.nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, x, timesteps):
        return self.unet(x, timesteps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="the .pt state dict (ffhq_10m.pt, imagenet256.pt)")
    parser.add_argument("--config", required=True, choices=sorted(ADM_CHECKPOINTS), help="architecture of the checkpoint")
    parser.add_argument("--guided-diffusion", required=True, help="folder that contains the guided_diffusion package")
    parser.add_argument("--out", required=True, help="package folder to write")
    parser.add_argument("--name", help="package name (default adm-CONFIG)")
    parser.add_argument("--vjp-batch", type=int, default=1, help="batch size of vjp.onnx; 0 skips the VJP graph")
    parser.add_argument("--device", default="cpu", help="device for tracing, e.g. cuda (the VJP trace of the ImageNet model needs tens of GiB)")
    args = parser.parse_args()

    sys.path.insert(0, args.guided_diffusion)
    from guided_diffusion.script_util import create_model  # type: ignore[import-not-found]

    settings = ADM_CHECKPOINTS[args.config]
    unet = create_model(**settings)
    unet.load_state_dict(torch.load(args.checkpoint, map_location="cpu"))
    manifest = write_adm_package(
        AdmForward(unet),
        args.out,
        args.name or f"adm-{args.config}",
        settings["image_size"],
        vjp_batch=args.vjp_batch,
        device=args.device,
    )
    print(f"wrote {args.out}: {', '.join(entry['path'] for entry in manifest['files'].values())}")


if __name__ == "__main__":
    main()
