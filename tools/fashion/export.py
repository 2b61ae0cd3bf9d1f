"""Export the EMA U-Net and the classifier to ONNX and write the fashion model package.

Graphs (opset 18, torch.onnx.export with dynamo=True, weights embedded):
- denoiser.onnx: x_t [N, 1, 28, 28] float32, timestep [N] int64 step index (0..999),
  label [N] int64 (10 = unconditional) -> eps.
  The batch dim is dynamic.
- denoiser-vjp.onnx: x_t, timestep, label and g [1, 1, 28, 28] -> eps and vjp = J^T g with
  J = d eps / d x. It is the joint forward and backward graph traced by make_fx, so its
  shapes are static: batch 1, and the loader runs larger batches one sample at a time.
- classifier.onnx: x [N, 1, 28, 28] -> logits [N, 10], for measuring sample quality.

The script runs every graph through onnxruntime (Python) and compares it with torch. The
maximum absolute differences go to model.json in the package and export-checks.json in
the run folder.

Usage: python export.py --run /tmp/fashion-run --package ../../packages/core/assets/priors/fashion
"""

import argparse
import hashlib
import json
import math
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch._decomp import get_decompositions
from torch.fx.experimental.proxy_tensor import make_fx

from common import (
    BETA_END, BETA_START, CLASS_NAMES, NULL_LABEL, SIZE, STEPS, FashionClassifier, FashionUNet,
    alpha_bars, parameter_count, read_idx, to_model_range,
)

OPSET = 18
SUBSET_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../data/fashion")
# Graph input names. make_fx names the transposes of Linear weights "t", "t_2", ..., and
# the exporter turns them into initializers, so a graph input named "t" would collide.
INPUTS = ("x_t", "timestep", "label")
ARTICLES = {"ankle boot": "an"}


def prompts() -> dict[str, int]:
    """Map prompt text to classes: "a photo of a dress" and short names such as "dress"."""
    table: dict[str, int] = {}
    short = {"t-shirt/top": ["t-shirt", "top", "t-shirt/top"], "trouser": ["trouser", "trousers"],
             "sandal": ["sandal", "sandals"], "sneaker": ["sneaker", "sneakers"],
             "ankle boot": ["ankle boot", "ankle boots", "boot"]}
    for label, name in enumerate(CLASS_NAMES):
        article = ARTICLES.get(name, "a")
        table[f"a photo of {article} {name}"] = label
        for alias in short.get(name, [name]):
            table[alias] = label
    return table


def conv_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation,
                  transposed, output_padding, groups, output_mask):
    """Input gradient of a 2-D convolution as a transposed convolution.

    The output_padding restores the rows and columns that a strided convolution drops.
    Weight and bias gradients are not needed for J^T g and are rejected.
    """
    if transposed or output_mask[1] or output_mask[2]:
        raise NotImplementedError("only the input gradient of a plain convolution is decomposed")
    extra = []
    for axis in range(2):
        size_in = input.shape[2 + axis]
        size_out = grad_output.shape[2 + axis]
        k = weight.shape[2 + axis]
        rebuilt = (size_out - 1) * stride[axis] - 2 * padding[axis] + dilation[axis] * (k - 1) + 1
        extra.append(size_in - rebuilt)
    grad_input = F.conv_transpose2d(grad_output, weight, None, stride, padding, extra, groups,
                                    dilation)
    return grad_input, None, None


def upsample_nearest_backward(grad_output, output_size, input_size, scales_h=None, scales_w=None):
    """Gradient of integer-factor nearest upsampling: the sum over each factor x factor block."""
    n, c, h, w = input_size
    fh, fw = output_size[0] // h, output_size[1] // w
    return grad_output.reshape(n, c, h, fh, w, fw).sum(dim=(3, 5))


def decomposition_table() -> dict:
    aten = torch.ops.aten
    table = get_decompositions([
        aten.native_group_norm_backward, aten.silu_backward, aten.sigmoid_backward,
    ])
    table[aten.convolution_backward.default] = conv_backward
    table[aten.upsample_nearest2d_backward.default] = upsample_nearest_backward
    return table


def replace_filled_ones(graph: torch.fx.GraphModule) -> int:
    """Rewrite sub_(fill_(empty_like(s), 1), s) as rsub(s, 1) and return the count.

    The SiLU backward that make_fx records builds 1 - sigmoid(x) from a filled tensor of
    the activation's shape. The exporter would store each one as an initializer (about
    0.9 MB in all for this network), where a scalar constant does the same.
    """
    aten = torch.ops.aten
    replaced = 0
    for node in list(graph.graph.nodes):
        if node.target is not aten.fill_.Scalar or node.args[1] != 1.0:
            continue
        empty = node.args[0]
        if getattr(empty, "target", None) is not aten.empty_like.default:
            continue
        users = list(node.users)
        if len(users) != 1 or users[0].target is not aten.sub_.Tensor or users[0].args[0] is not node:
            continue
        sub = users[0]
        with graph.graph.inserting_before(sub):
            rsub = graph.graph.call_function(aten.rsub.Scalar, (sub.args[1], 1.0))
        sub.replace_all_uses_with(rsub)
        graph.graph.erase_node(sub)
        graph.graph.erase_node(node)
        if not empty.users:
            graph.graph.erase_node(empty)
        replaced += 1
    graph.graph.lint()
    graph.recompile()
    return replaced


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def export_denoiser(model: FashionUNet, path: str) -> None:
    x = torch.randn(2, 1, SIZE, SIZE)
    t = torch.tensor([10, 500])
    label = torch.tensor([3, NULL_LABEL])
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        model, (x, t, label), path, dynamo=True, opset_version=OPSET, external_data=False,
        input_names=list(INPUTS), output_names=["eps"],
        dynamic_shapes={"x": {0: batch}, "t": {0: batch}, "label": {0: batch}},
    )


def export_vjp(model: FashionUNet, path: str) -> None:
    def eps_and_vjp(x, t, label, g):
        eps, pullback = torch.func.vjp(lambda x_: model(x_, t, label), x)
        return eps, pullback(g)[0]

    example = (torch.randn(1, 1, SIZE, SIZE), torch.tensor([500]), torch.tensor([3]),
               torch.randn(1, 1, SIZE, SIZE))
    graph = make_fx(eps_and_vjp, decomposition_table=decomposition_table())(*example)
    graph.eval()
    replaced = replace_filled_ones(graph)
    if replaced == 0:
        raise RuntimeError("expected filled-ones tensors from the SiLU backward; the trace changed")
    torch.onnx.export(
        graph, example, path, dynamo=True, opset_version=OPSET, external_data=False,
        input_names=[*INPUTS, "g"], output_names=["eps", "vjp"],
    )


def export_classifier(model: FashionClassifier, path: str) -> None:
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        model, (torch.randn(2, 1, SIZE, SIZE),), path, dynamo=True, opset_version=OPSET,
        external_data=False, input_names=["x"], output_names=["logits"],
        dynamic_shapes={"x": {0: batch}},
    )


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feeds(x: torch.Tensor, t: torch.Tensor, label: torch.Tensor) -> dict:
    return dict(zip(INPUTS, (x.numpy(), t.numpy(), label.numpy())))


def check_graphs(model: FashionUNet, classifier: FashionClassifier, folder: str) -> dict:
    """Return the max abs differences between onnxruntime and torch on random inputs."""
    gen = torch.Generator().manual_seed(123)
    denoiser = session(os.path.join(folder, "denoiser.onnx"))
    vjp = session(os.path.join(folder, "denoiser-vjp.onnx"))
    results: dict = {"denoiser_eps": 0.0, "vjp_eps": 0.0, "vjp_vjp": 0.0, "classifier_logits": 0.0,
                     "max_abs_eps": 0.0, "max_abs_vjp": 0.0}
    for batch, steps in [(1, [0]), (3, [999, 500, 20]), (8, [0, 100, 200, 300, 400, 600, 800, 999])]:
        x = torch.randn(batch, 1, SIZE, SIZE, generator=gen)
        t = torch.tensor(steps)
        label = torch.randint(0, NULL_LABEL + 1, (batch,), generator=gen)
        with torch.no_grad():
            expected = model(x, t, label)
        (got,) = denoiser.run(["eps"], feeds(x, t, label))
        results["denoiser_eps"] = max(results["denoiser_eps"], float(np.abs(got - expected.numpy()).max()))
        results["max_abs_eps"] = max(results["max_abs_eps"], float(expected.abs().max()))
    for step in [0, 50, 250, 500, 750, 999]:
        for label_value in [0, 7, NULL_LABEL]:
            x = torch.randn(1, 1, SIZE, SIZE, generator=gen).requires_grad_(True)
            g = torch.randn(1, 1, SIZE, SIZE, generator=gen)
            t = torch.tensor([step])
            label = torch.tensor([label_value])
            eps = model(x, t, label)
            (grad,) = torch.autograd.grad(eps, x, g)
            got_eps, got_vjp = vjp.run(["eps", "vjp"], {**feeds(x.detach(), t, label), "g": g.numpy()})
            results["vjp_eps"] = max(results["vjp_eps"], float(np.abs(got_eps - eps.detach().numpy()).max()))
            results["vjp_vjp"] = max(results["vjp_vjp"], float(np.abs(got_vjp - grad.numpy()).max()))
            results["max_abs_vjp"] = max(results["max_abs_vjp"], float(grad.abs().max()))
    classify = session(os.path.join(folder, "classifier.onnx"))
    x = torch.randn(5, 1, SIZE, SIZE, generator=gen)
    with torch.no_grad():
        expected = classifier(x)
    (got,) = classify.run(["logits"], {"x": x.numpy()})
    results["classifier_logits"] = float(np.abs(got - expected.numpy()).max())
    return {k: float(f"{v:.3g}") for k, v in results.items()}


def probe(phase: float) -> torch.Tensor:
    """Return the fixed direction sqrt(2) sin(0.731 i + phase), shaped [1, 1, 28, 28], that the TypeScript tests rebuild."""
    i = torch.arange(SIZE * SIZE, dtype=torch.float64)
    return (math.sqrt(2.0) * torch.sin(0.731 * i + phase)).reshape(1, 1, SIZE, SIZE)


def references(model: FashionUNet, classifier: FashionClassifier) -> dict:
    """Compute the torch outputs that the TypeScript tests compare with the ONNX graphs.

    x_t = alpha x0 + sigma probe(0.3) at step 300 (in float64, then rounded to float32) for
    held-out image 0; eps with its true label and with the null label; J^T g for
    g = probe(1.1) with its true label; and the classifier's predictions for the held-out
    subset.
    """
    images = read_idx(os.path.join(SUBSET_DIR, "t10k-first100-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(SUBSET_DIR, "t10k-first100-labels-idx1-ubyte.gz"))
    x_all = to_model_range(images)
    step = 300
    abar = alpha_bars()[step].item()
    x0 = x_all[:1].to(torch.float64)
    xt = (math.sqrt(abar) * x0 + math.sqrt(1 - abar) * probe(0.3)).to(torch.float32)
    g = probe(1.1).to(torch.float32)
    t = torch.tensor([step])
    true_label = torch.tensor([int(labels[0])])
    pixels = [0, 100, 200, 300, 400, 500, 600, 783]

    def summary(v: torch.Tensor) -> dict:
        flat = v.detach().reshape(-1).to(torch.float64)
        return {"l2": flat.norm().item(), "values": [flat[p].item() for p in pixels]}

    xt_grad = xt.clone().requires_grad_(True)
    eps = model(xt_grad, t, true_label)
    (vjp,) = torch.autograd.grad(eps, xt_grad, g)
    with torch.no_grad():
        eps_null = model(xt, t, torch.tensor([NULL_LABEL]))
        predictions = classifier(x_all).argmax(1)
    return {
        "image": 0, "label": int(labels[0]), "step": step, "pixels": pixels,
        "eps": summary(eps), "epsNull": summary(eps_null), "vjp": summary(vjp),
        "classifierPredictions": predictions.tolist(),
        "classifierCorrect": int((predictions == torch.from_numpy(labels.astype("int64"))).sum()),
    }


def graph_summary(path: str) -> dict:
    graph = onnx.load(path)
    inputs = {}
    for value in graph.graph.input:
        tensor = value.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in tensor.shape.dim]
        inputs[value.name] = {"dtype": onnx.TensorProto.DataType.Name(tensor.elem_type).lower(), "dims": dims}
    ops = sorted({node.op_type for node in graph.graph.node})
    return {"bytes": os.path.getsize(path), "opset": graph.opset_import[0].version,
            "ir_version": graph.ir_version, "inputs": inputs, "ops": ops}


def manifest(folder: str) -> dict:
    def entry(name: str) -> dict:
        return {"path": name, "sha256": sha256(os.path.join(folder, name))}

    return {
        "name": "fashion",
        "version": "1.0.0",
        "files": {"denoiser": entry("denoiser.onnx"), "vjp": entry("denoiser-vjp.onnx")},
        "parameterisation": "epsilon",
        "schedule": {"kind": "vp-linear", "betaStart": BETA_START, "betaEnd": BETA_END, "steps": STEPS},
        "timestepInput": {"kind": "index"},
        "resolution": [SIZE, SIZE],
        "channels": 1,
        "space": "pixel",
        "conditioning": {"kind": "label", "prompts": prompts(), "nullLabel": NULL_LABEL},
        "learnedVariance": False,
        "dtype": "float32",
        "io": {"x": INPUTS[0], "t": INPUTS[1], "label": INPUTS[2], "output": "eps", "g": "g",
               "vjp": "vjp"},
        "spatial": {"kind": "static", "size": [SIZE, SIZE]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="training folder (checkpoint.pt, classifier.pt)")
    parser.add_argument("--package", required=True, help="model package folder to write")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--record-only", action="store_true",
                        help="keep the graphs in --package; recheck them and rewrite the manifest and model.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    state = torch.load(os.path.join(args.run, "checkpoint.pt"))
    model = FashionUNet(tuple(state["channels"]))
    model.load_state_dict(state["ema"])
    model.eval().requires_grad_(False)
    classifier = FashionClassifier()
    classifier.load_state_dict(torch.load(os.path.join(args.run, "classifier.pt")))
    classifier.eval().requires_grad_(False)

    os.makedirs(args.package, exist_ok=True)
    if not args.record_only:
        export_denoiser(model, os.path.join(args.package, "denoiser.onnx"))
        export_vjp(model, os.path.join(args.package, "denoiser-vjp.onnx"))
        export_classifier(classifier, os.path.join(args.package, "classifier.onnx"))
    for name in ["denoiser.onnx", "denoiser-vjp.onnx", "classifier.onnx"]:
        onnx.checker.check_model(os.path.join(args.package, name))
        leftover = os.path.join(args.package, name + ".data")
        if os.path.exists(leftover):
            raise RuntimeError(f"{leftover}: weights were written as external data")

    checks = check_graphs(model, classifier, args.package)
    print(json.dumps(checks, indent=2))
    with open(os.path.join(args.package, "tweedie-model.json"), "w") as f:
        json.dump(manifest(args.package), f, indent=2)
        f.write("\n")

    record = {"checkpoint_step": state["step"], "parameters": parameter_count(model),
              "classifier_parameters": parameter_count(classifier), "export_checks": checks,
              "references": references(model, classifier),
              "graphs": {name: graph_summary(os.path.join(args.package, name))
                         for name in ["denoiser.onnx", "denoiser-vjp.onnx", "classifier.onnx"]},
              "torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__}
    for extra in ["record.json", "classifier-record.json"]:
        path = os.path.join(args.run, extra)
        if os.path.exists(path):
            with open(path) as f:
                record[extra.removesuffix(".json").replace("-", "_")] = json.load(f)
    for name in sorted(os.listdir(args.run)):
        if name.startswith("samples-") and name.endswith(".json"):
            with open(os.path.join(args.run, name)) as f:
                record.setdefault("samples", {})[name.removesuffix(".json")] = json.load(f)
    for path in [os.path.join(args.run, "export-checks.json"), os.path.join(args.package, "model.json")]:
        with open(path, "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
    print(json.dumps({k: v for k, v in record.items() if k != "graphs"}, indent=2))


if __name__ == "__main__":
    main()
