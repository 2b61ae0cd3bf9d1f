"""Fashion-MNIST classifier for measuring sample quality.

`train` fits a small CNN on the 60k training images and reports its accuracy on the 10k
test images. `samples` draws conditional samples from the diffusion U-Net (DDIM, eta 0,
classifier-free guidance) and reports how often the classifier assigns each sample the
class it was conditioned on, per class and overall, and writes a sample grid PNG.

Usage:
  python classifier.py train --out /tmp/fashion-run
  python classifier.py samples --out /tmp/fashion-run [--per-class 100 --steps 50 --guidance 2]
"""

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

from common import (
    CLASS_NAMES, NUM_CLASSES, FashionClassifier, FashionUNet, ddim_sample, image_grid,
    load_split, parameter_count, to_model_range, write_png,
)


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, torch.Tensor]:
    model.eval()
    pred = torch.cat([model(x[i: i + 1000]).argmax(1) for i in range(0, x.shape[0], 1000)])
    return (pred == y).float().mean().item(), pred


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    x_train = to_model_range(load_split("train")[0])
    y_train = torch.from_numpy(load_split("train")[1].astype("int64"))
    x_test = to_model_range(load_split("t10k")[0])
    y_test = torch.from_numpy(load_split("t10k")[1].astype("int64"))

    model = FashionClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps_per_epoch = x_train.shape[0] // args.batch
    total = steps_per_epoch * args.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=total)
    began = time.time()
    history = []
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(x_train.shape[0], generator=torch.Generator().manual_seed(epoch))
        for k in range(steps_per_epoch):
            idx = perm[k * args.batch: (k + 1) * args.batch]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        test_acc, _ = accuracy(model, x_test, y_test)
        history.append({"epoch": epoch + 1, "last_loss": round(loss.item(), 4),
                        "test_accuracy": round(test_acc, 4), "elapsed_s": round(time.time() - began, 1)})
        print(history[-1], flush=True)

    test_acc, pred = accuracy(model, x_test, y_test)
    per_class = {CLASS_NAMES[c]: round((pred[y_test == c] == c).float().mean().item(), 4)
                 for c in range(NUM_CLASSES)}
    torch.save(model.state_dict(), os.path.join(args.out, "classifier.pt"))
    record = {"parameters": parameter_count(model), "epochs": args.epochs, "batch": args.batch,
              "optimizer": "AdamW, one-cycle lr 2e-3", "seed": args.seed,
              "test_accuracy": round(test_acc, 4), "test_accuracy_per_class": per_class,
              "history": history, "time_s": round(time.time() - began, 1),
              "torch_threads": torch.get_num_threads()}
    with open(os.path.join(args.out, "classifier-record.json"), "w") as f:
        json.dump(record, f, indent=2)
    print(json.dumps(record, indent=2))


def samples(args: argparse.Namespace) -> None:
    state = torch.load(os.path.join(args.out, "checkpoint.pt"))
    unet = FashionUNet(tuple(state["channels"]))
    unet.load_state_dict(state["ema"])
    unet.eval()
    classifier = FashionClassifier()
    classifier.load_state_dict(torch.load(os.path.join(args.out, "classifier.pt")))
    classifier.eval()

    labels = torch.arange(NUM_CLASSES).repeat_interleave(args.per_class)
    generator = torch.Generator().manual_seed(args.seed)
    began = time.time()
    chunks = []
    for i in range(0, labels.shape[0], args.chunk):
        chunks.append(ddim_sample(unet, labels[i: i + args.chunk], args.steps, args.guidance, generator))
        print(f"{i + args.chunk} samples, {time.time() - began:.0f} s", flush=True)
    x = torch.cat(chunks)
    _, pred = accuracy(classifier, x, labels)
    per_class = {CLASS_NAMES[c]: round((pred[labels == c] == c).float().mean().item(), 4)
                 for c in range(NUM_CLASSES)}
    overall = (pred == labels).float().mean().item()
    # A 10 x 10 grid: row c holds the first 10 samples of class c.
    rows = torch.cat([x[labels == c][:10] for c in range(NUM_CLASSES)])
    name = f"samples-g{args.guidance:g}-s{args.steps}"
    write_png(os.path.join(args.out, f"{name}.png"), image_grid(rows, NUM_CLASSES))
    torch.save({"x": x, "labels": labels, "pred": pred}, os.path.join(args.out, f"{name}.pt"))
    record = {"steps_ddim": args.steps, "guidance": args.guidance, "per_class": args.per_class,
              "seed": args.seed, "class_accuracy": round(overall, 4),
              "class_accuracy_per_class": per_class, "time_s": round(time.time() - began, 1),
              "step_of_checkpoint": state["step"]}
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(record, f, indent=2)
    print(json.dumps(record, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train the classifier and report test accuracy")
    p_train.add_argument("--out", required=True)
    p_train.add_argument("--epochs", type=int, default=3)
    p_train.add_argument("--batch", type=int, default=128)
    p_train.add_argument("--seed", type=int, default=0)
    p_samples = sub.add_parser("samples", help="class accuracy of conditional U-Net samples")
    p_samples.add_argument("--out", required=True)
    p_samples.add_argument("--per-class", type=int, default=100)
    p_samples.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p_samples.add_argument("--guidance", type=float, default=2.0, help="CFG scale w")
    p_samples.add_argument("--chunk", type=int, default=200, help="samples per DDIM batch")
    p_samples.add_argument("--seed", type=int, default=1)
    for p in (p_train, p_samples):
        p.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train(args) if args.command == "train" else samples(args)


if __name__ == "__main__":
    main()
