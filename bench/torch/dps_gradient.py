"""DPS gradient cost, PyTorch side: a small U-Net with random weights, exported to ONNX
for onnxruntime-node, and timed under PyTorch autograd on the same CPU.

    python bench/torch/dps_gradient.py export --out bench-results/torch --sizes 64,256
    python bench/torch/dps_gradient.py time --sizes 64,256 --threads 1 --repeats 5
    python bench/torch/dps_gradient.py serve --sizes 64,256 --threads 1

`export` writes one Tweedie model package per size (unet-<S>/: tweedie-model.json, the
forward graph with dynamic batch and sides, and a VJP graph at batch 1 and S x S), plus
reference inputs and outputs (reference-<S>.bin) that the Node side checks its graphs
against. `time` prints one JSON object with the median forward and forward+backward
times. `serve` reads one request per line from stdin ("forward 256",
"forward_backward 256" or "forward_backward_parameters 256"), runs it once and prints its
wall and CPU seconds as one JSON line, so the Node side can alternate single calls of the
two engines under the same machine load.
All subcommands build the same weights from --seed.

The VJP graph is traced with make_fx and exported by torch.onnx (dynamo, opset 18).
onnxruntime has no autograd, so the backward pass is written out as ordinary operators.
The trace decomposes the backward ops into forward ones: convolution backward becomes a
transposed convolution and nearest-upsampling backward a block sum. Group norm, SiLU
and sigmoid backward use torch's own decompositions.
"""

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CHANNELS = 32
EMBEDDING = 128
GROUPS = 8
# The timestep the benchmark uses, on a 1000-step DDPM schedule (index input).
TIMESTEP = 500.0


def timestep_embedding(t, dim):
    """Sinusoidal embedding of the timestep index, cos half then sin half."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(EMBEDDING, cout)
        self.norm2 = nn.GroupNorm(GROUPS, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class TinyUNet(nn.Module):
    """An epsilon-prediction U-Net with one downsampling level: x [N, 3, H, W], t [N]."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Sequential(
            nn.Linear(CHANNELS, EMBEDDING), nn.SiLU(), nn.Linear(EMBEDDING, EMBEDDING)
        )
        self.conv_in = nn.Conv2d(3, CHANNELS, 3, padding=1)
        self.block_in = ResBlock(CHANNELS, CHANNELS)
        self.down = nn.Conv2d(CHANNELS, 2 * CHANNELS, 3, stride=2, padding=1)
        self.mid1 = ResBlock(2 * CHANNELS, 2 * CHANNELS)
        self.mid2 = ResBlock(2 * CHANNELS, 2 * CHANNELS)
        self.up = nn.Conv2d(2 * CHANNELS, 2 * CHANNELS, 3, padding=1)
        self.block_out = ResBlock(3 * CHANNELS, CHANNELS)
        self.norm_out = nn.GroupNorm(GROUPS, CHANNELS)
        self.conv_out = nn.Conv2d(CHANNELS, 3, 3, padding=1)

    def forward(self, x, t):
        emb = self.embed(timestep_embedding(t, CHANNELS))
        skip = self.block_in(self.conv_in(x), emb)
        h = self.mid2(self.mid1(self.down(skip), emb), emb)
        h = self.up(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.block_out(torch.cat([h, skip], dim=1), emb)
        return self.conv_out(F.silu(self.norm_out(h)))


def build_model(seed):
    torch.manual_seed(seed)
    model = TinyUNet().eval()
    model.requires_grad_(False)
    return model


def reference_inputs(size, seed):
    generator = torch.Generator().manual_seed(seed + size)
    x = torch.randn(1, 3, size, size, generator=generator)
    g = torch.randn(1, 3, size, size, generator=generator)
    return x, torch.tensor([TIMESTEP]), g


# ---- VJP graph export ----------------------------------------------------------------


def convolution_backward(
    grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
    output_padding, groups, output_mask,
):
    """Gradient of a plain 2-D convolution with respect to its input only."""
    if transposed or output_mask[1] or output_mask[2]:
        raise NotImplementedError("only the input gradient of a plain convolution is decomposed")
    extra = []
    for axis in range(2):
        size_in = input.shape[2 + axis]
        size_out = grad_output.shape[2 + axis]
        kernel = weight.shape[2 + axis]
        covered = (size_out - 1) * stride[axis] - 2 * padding[axis] + dilation[axis] * (kernel - 1) + 1
        extra.append(size_in - covered)
    grad_input = F.conv_transpose2d(
        grad_output, weight, stride=stride, padding=padding, output_padding=extra,
        groups=groups, dilation=dilation,
    )
    return grad_input, None, None


def upsample_nearest2d_backward(grad_output, output_size, input_size, scales_h=None, scales_w=None):
    """Gradient of nearest upsampling by an integer factor: a sum over each block."""
    n, c, h, w = input_size
    fh, fw = output_size[0] // h, output_size[1] // w
    return grad_output.reshape(n, c, h, fh, w, fw).sum(dim=(3, 5))


def export_vjp(model, size, path):
    from torch._decomp import get_decompositions
    from torch.fx.experimental.proxy_tensor import make_fx

    aten = torch.ops.aten
    table = get_decompositions(
        [aten.native_group_norm_backward, aten.silu_backward, aten.sigmoid_backward]
    )
    table[aten.convolution_backward.default] = convolution_backward
    table[aten.upsample_nearest2d_backward.default] = upsample_nearest2d_backward

    def vjp(x, t, g):
        output, pullback = torch.func.vjp(lambda value: model(value, t), x)
        return output, pullback(g)[0]

    x, t, g = reference_inputs(size, 0)
    traced = make_fx(vjp, decomposition_table=table)(x, t, g)
    torch.onnx.export(
        traced, (x, t, g), path, dynamo=True, opset_version=18, external_data=False,
        input_names=["x_t", "timestep", "cotangent"], output_names=["eps", "vjp"],
    )


def export_forward(model, path):
    x, t, _ = reference_inputs(8, 0)
    torch.onnx.export(
        model, (x, t), path, dynamo=False, opset_version=17,
        input_names=["x_t", "timestep"], output_names=["eps"],
        dynamic_axes={
            "x_t": {0: "batch", 2: "height", 3: "width"},
            "timestep": {0: "batch"},
            "eps": {0: "batch", 2: "height", 3: "width"},
        },
    )


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def write_package(model, size, out_dir, seed):
    folder = os.path.join(out_dir, f"unet-{size}")
    os.makedirs(folder, exist_ok=True)
    forward = os.path.join(folder, "denoiser.onnx")
    vjp = os.path.join(folder, "denoiser-vjp.onnx")
    export_forward(model, forward)
    export_vjp(model, size, vjp)
    manifest = {
        "name": f"bench-unet-{size}",
        "version": "0.0.0",
        "files": {
            "denoiser": {"path": "denoiser.onnx", "sha256": sha256(forward)},
            "vjp": {"path": "denoiser-vjp.onnx", "sha256": sha256(vjp)},
        },
        "parameterisation": "epsilon",
        "schedule": {"kind": "vp-linear", "betaStart": 0.0001, "betaEnd": 0.02, "steps": 1000},
        "timestepInput": {"kind": "index"},
        "resolution": [size, size],
        "channels": 3,
        "space": "pixel",
        "conditioning": {"kind": "none"},
        "learnedVariance": False,
        "dtype": "float32",
        # Input names avoid "t" and "g": the traced VJP graph has initializers of those names.
        "io": {"x": "x_t", "t": "timestep", "output": "eps", "g": "cotangent", "vjp": "vjp"},
        "spatial": {"kind": "static", "size": [size, size]},
    }
    with open(os.path.join(folder, "tweedie-model.json"), "w") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")

    # Reference values: x, g, eps(x) and J^T g, float32 little-endian, one after another.
    x, t, g = reference_inputs(size, seed)
    x.requires_grad_(True)
    eps = model(x, t)
    (grad,) = torch.autograd.grad(eps, x, g)
    values = [x.detach(), g, eps.detach(), grad]
    with open(os.path.join(out_dir, f"reference-{size}.bin"), "wb") as handle:
        for value in values:
            handle.write(value.numpy().astype("<f4").tobytes())
    return folder


# ---- timing --------------------------------------------------------------------------


def median_seconds(run, repeats):
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_calls(model, size, seed):
    """Builds the timed calls at one size: forward without autograd, forward+backward for
    the input gradient (what DPS needs), and, for reference only, forward+backward that
    also computes every parameter's gradient, as a training step would."""
    x, t, g = reference_inputs(size, seed)
    trainable = build_model(seed).requires_grad_(True)
    parameters = list(trainable.parameters())

    def forward():
        with torch.no_grad():
            model(x, t)

    def forward_backward():
        value = x.detach().requires_grad_(True)
        torch.autograd.grad(model(value, t), value, g)

    def forward_backward_parameters():
        value = x.detach().requires_grad_(True)
        torch.autograd.grad(trainable(value, t), [value, *parameters], g)

    return {
        "forward": forward,
        "forward_backward": forward_backward,
        "forward_backward_parameters": forward_backward_parameters,
    }


def time_model(model, size, repeats, seed):
    calls = timed_calls(model, size, seed)
    forward, forward_backward = calls["forward"], calls["forward_backward"]
    return {
        "size": size,
        "forwardSeconds": median_seconds(forward, repeats),
        "forwardBackwardSeconds": median_seconds(forward_backward, repeats),
    }


def serve(model, sizes, seed):
    calls = {size: timed_calls(model, size, seed) for size in sizes}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        kinds = calls[sizes[0]].keys()
        if len(parts) != 2 or parts[0] not in kinds or int(parts[1]) not in calls:
            expected = "|".join(kinds)
            print(json.dumps({"error": f"invalid request {line.strip()!r}: expected {expected} SIZE with SIZE in {sizes}"}), flush=True)
            continue
        run = calls[int(parts[1])][parts[0]]
        cpu_start = time.process_time()
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        print(json.dumps({"seconds": seconds, "cpuSeconds": cpu_seconds}), flush=True)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["export", "time", "serve"])
    parser.add_argument("--sizes", default="64,256", help="square image sides, comma-separated")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and inputs")
    parser.add_argument("--out", default="bench-results/torch", help="export folder")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure")
    options = parser.parse_args(argv)
    sizes = [int(size) for size in options.sizes.split(",")]
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    model = build_model(options.seed)
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "seed": options.seed,
        "timestep": TIMESTEP,
    }
    if options.command == "export":
        os.makedirs(options.out, exist_ok=True)
        packages = [write_package(model, size, options.out, options.seed) for size in sizes]
        print(json.dumps({**info, "packages": packages}))
    elif options.command == "time":
        timings = [time_model(model, size, options.repeats, options.seed) for size in sizes]
        print(json.dumps({**info, "timings": timings}))
    else:
        print(json.dumps(info), flush=True)
        serve(model, sizes, options.seed)


if __name__ == "__main__":
    main(sys.argv[1:])
