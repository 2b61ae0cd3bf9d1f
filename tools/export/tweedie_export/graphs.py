"""ONNX export of forward graphs and of vector-Jacobian-product (VJP) graphs.

Forward graphs use the TorchScript exporter (opset 17) with dynamic batch and spatial
axes, as Optimum exports diffusers pipelines. VJP graphs follow the recipe that works with
torch 2.13: trace the joint forward and backward graph with `make_fx` and a small
decomposition table, then export that graph with the dynamo exporter (opset 18) and the
weights embedded. `make_fx` traces with real tensors, so a VJP graph has static shapes:
one file per (batch, height, width).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import onnx
import torch
import torch.nn.functional as F
from torch._decomp import get_decompositions
from torch.fx.experimental.proxy_tensor import make_fx

aten = torch.ops.aten

FORWARD_OPSET = 17
VJP_OPSET = 18
LARGE_GRAPH_BYTES = 1_800_000_000


def export_forward(
    module: torch.nn.Module,
    args: tuple[Any, ...],
    path: str,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """Export `module(*args)` to `path` with the given names and dynamic axes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            path,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=dynamic_axes,
            opset_version=FORWARD_OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
    # The checker reads a path itself, so graphs with external weights (over 2 GiB) work too.
    onnx.checker.check_model(path)


def _convolution_backward(
    grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
    output_padding, groups, output_mask,
):
    """aten.convolution_backward for 1-D and 2-D non-transposed convolutions, in exportable ops."""
    dims = input.dim() - 2
    if transposed or dims not in (1, 2):
        raise NotImplementedError("only 1-D and 2-D non-transposed convolutions are supported")
    grad_input = grad_weight = grad_bias = None
    if output_mask[0]:
        # The transposed convolution returns the input size up to the rows and columns the
        # strided forward pass skipped; output_padding adds them back.
        extra = []
        for axis in range(dims):
            size = (grad_output.shape[2 + axis] - 1) * stride[axis] - 2 * padding[axis]
            size += dilation[axis] * (weight.shape[2 + axis] - 1) + 1
            extra.append(input.shape[2 + axis] - size)
        transpose = F.conv_transpose2d if dims == 2 else F.conv_transpose1d
        grad_input = transpose(grad_output, weight, None, stride, padding, extra, groups, dilation)
    if output_mask[1]:
        grad_weight = _conv_weight_grad(grad_output, input, weight, stride, padding, dilation, groups)
    if output_mask[2]:
        grad_bias = grad_output.sum(dim=[0, *range(2, grad_output.dim())])
    return grad_input, grad_weight, grad_bias


def _conv_weight_grad(grad_output, input, weight, stride, padding, dilation, groups):
    """Weight gradient; VJP graphs never need it because weights are constants."""
    raise NotImplementedError("VJP graphs differentiate with respect to inputs only")


def _upsample_nearest2d_backward(grad_output, output_size, input_size, scales_h=None, scales_w=None):
    """Nearest-neighbour x2 (or any integer factor) upsampling backward: sum each block."""
    n, c, h, w = input_size
    fh = output_size[0] // h
    fw = output_size[1] // w
    return grad_output.reshape(n, c, h, fh, w, fw).sum(dim=(3, 5))


def vjp_decompositions() -> dict[Any, Callable[..., Any]]:
    """Decompositions that turn the backward ops of the tiny and real networks into ops the
    dynamo exporter can translate. The full core ATen table fails on aten.empty_permuted."""
    table = get_decompositions(
        [
            aten.native_group_norm_backward,
            aten.native_layer_norm_backward,
            aten.silu_backward,
            aten.sigmoid_backward,
            aten.gelu_backward,
            aten._softmax_backward_data,
            aten.tanh_backward,
            aten.threshold_backward,
        ]
    )
    table[aten.convolution_backward.default] = _convolution_backward
    table[aten.upsample_nearest2d_backward.default] = _upsample_nearest2d_backward
    return table


def export_vjp(
    forward: Callable[..., torch.Tensor],
    primal_index: int,
    args: tuple[torch.Tensor, ...],
    path: str,
    input_names: Sequence[str],
    output_name: str,
    cotangent_name: str = "g",
    vjp_name: str = "vjp",
) -> None:
    """Export a graph with inputs (*args, g) and outputs (forward output, J^T g), where J is
    the Jacobian of `forward(*args)` with respect to `args[primal_index]`."""

    def joint(*inputs: torch.Tensor):
        *primal_args, cotangent = inputs

        def along(x: torch.Tensor) -> torch.Tensor:
            call = list(primal_args)
            call[primal_index] = x
            return forward(*call)

        output, pullback = torch.func.vjp(along, primal_args[primal_index])
        (vjp,) = pullback(cotangent)
        return output, vjp

    with torch.no_grad():
        example_output = forward(*args)
    cotangent = torch.randn_like(example_output)
    graph = make_fx(joint, decomposition_table=vjp_decompositions())(*args, cotangent)

    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Protobuf files stop at 2 GiB; larger graphs keep their weights in path + ".data".
    large = _constant_bytes(graph) > LARGE_GRAPH_BYTES
    torch.onnx.export(
        graph,
        (*args, cotangent),
        path,
        input_names=[*input_names, cotangent_name],
        output_names=[output_name, vjp_name],
        opset_version=VJP_OPSET,
        dynamo=True,
        external_data=large,
        optimize=True,
    )
    strip_metadata(path)
    onnx.checker.check_model(path if large else onnx.load(path))


def _constant_bytes(graph: torch.fx.GraphModule) -> int:
    """Counts the bytes of the tensors a traced graph contains (make_fx stores weights as attributes)."""
    total = 0
    for node in graph.graph.nodes:
        if node.op == "get_attr":
            value = getattr(graph, node.target)
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
    return total


def strip_metadata(path: str) -> None:
    """Drops the per-node source locations and intermediate value_info the dynamo exporter
    writes; they double the file size and onnxruntime does not need them."""
    model = onnx.load(path, load_external_data=False)
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    del model.graph.value_info[:]
    onnx.save(model, path)
