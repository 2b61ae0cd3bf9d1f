"""Fashion-MNIST classifier for measuring sample quality.

`train` fits a small CNN on the 60k training images and reports its accuracy on the 10k
test images. `samples` draws conditional samples from the diffusion U-Net (DDIM, eta 0,
classifier-free guidance), optionally split into shards that run as separate processes.
`score` reports how often the classifier assigns each sample the class it was
conditioned on, per class and overall, and writes a sample grid PNG.

Usage:
  python classifier.py train --out /tmp/fashion-run
  python classifier.py samples --out /tmp/fashion-run [--shard 0/4] [--per-class 100 --steps 50 --guidance 2]
  python classifier.py score --out /tmp/fashion-run [same --per-class, --steps, --guidance]
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


def load_unet(run: str) -> tuple[FashionUNet, int]:
    state = torch.load(os.path.join(run, "checkpoint.pt"))
    unet = FashionUNet(tuple(state["channels"]))
    unet.load_state_dict(state["ema"])
    unet.eval()
    return unet, state["step"]


def sample_labels(per_class: int) -> torch.Tensor:
    return torch.arange(NUM_CLASSES).repeat_interleave(per_class)


def samples_name(args: argparse.Namespace) -> str:
    return f"samples-g{args.guidance:g}-s{args.steps}"


def samples(args: argparse.Namespace) -> None:
    """Draw the chunks of shard k of n (chunks i with i mod n = k) into <name>-chunks/.

    Chunk i draws its initial noise from a generator seeded by (seed, i), so the samples
    do not depend on how the chunks are split across processes.
    """
    unet, _ = load_unet(args.out)
    labels = sample_labels(args.per_class)
    folder = os.path.join(args.out, samples_name(args) + "-chunks")
    os.makedirs(folder, exist_ok=True)
    shard, shards = (int(v) for v in args.shard.split("/"))
    began = time.time()
    for i, start in enumerate(range(0, labels.shape[0], args.chunk)):
        if i % shards != shard:
            continue
        generator = torch.Generator().manual_seed(args.seed * 100_003 + i)
        x = ddim_sample(unet, labels[start: start + args.chunk], args.steps, args.guidance, generator)
        torch.save({"start": start, "x": x}, os.path.join(folder, f"chunk-{i:03d}.pt"))
        print(f"chunk {i} ({x.shape[0]} samples) done, {time.time() - began:.0f} s", flush=True)


def score(args: argparse.Namespace) -> None:
    """Classify every chunk that `samples` wrote; report class accuracy and write a grid PNG."""
    _, step = load_unet(args.out)
    classifier = FashionClassifier()
    classifier.load_state_dict(torch.load(os.path.join(args.out, "classifier.pt")))
    classifier.eval()
    labels = sample_labels(args.per_class)
    name = samples_name(args)
    folder = os.path.join(args.out, name + "-chunks")
    x = torch.full((labels.shape[0], 1, 28, 28), float("nan"))
    for file in sorted(os.listdir(folder)):
        chunk = torch.load(os.path.join(folder, file))
        x[chunk["start"]: chunk["start"] + chunk["x"].shape[0]] = chunk["x"]
    missing = int(torch.isnan(x).flatten(1).any(1).sum())
    if missing:
        raise SystemExit(f"{folder}: {missing} of {labels.shape[0]} samples missing; run the remaining shards")
    _, pred = accuracy(classifier, x, labels)
    per_class = {CLASS_NAMES[c]: round((pred[labels == c] == c).float().mean().item(), 4)
                 for c in range(NUM_CLASSES)}
    confusion = torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long)
    for true, guess in zip(labels.tolist(), pred.tolist()):
        confusion[true, guess] += 1
    # A 10 x 10 grid: row c shows the first 10 samples of class c.
    rows = torch.cat([x[labels == c][:10] for c in range(NUM_CLASSES)])
    write_png(os.path.join(args.out, f"{name}.png"), image_grid(rows, NUM_CLASSES))
    record = {"steps_ddim": args.steps, "guidance": args.guidance, "per_class": args.per_class,
              "chunk": args.chunk, "seed": args.seed,
              "class_accuracy": round((pred == labels).float().mean().item(), 4),
              "class_accuracy_per_class": per_class,
              "confusion_rows_true_columns_predicted": confusion.tolist(),
              "step_of_checkpoint": step}
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
    p_samples = sub.add_parser("samples", help="draw guided DDIM samples (one shard of the chunks)")
    p_score = sub.add_parser("score", help="class accuracy of the drawn samples, and a PNG grid")
    for p in (p_samples, p_score):
        p.add_argument("--out", required=True)
        p.add_argument("--per-class", type=int, default=100)
        p.add_argument("--steps", type=int, default=50, help="DDIM steps")
        p.add_argument("--guidance", type=float, default=2.0, help="CFG scale w")
        p.add_argument("--chunk", type=int, default=100, help="samples per DDIM batch")
        p.add_argument("--seed", type=int, default=1)
    p_samples.add_argument("--shard", default="0/1", help="k/n: draw chunks i with i mod n = k")
    for p in (p_train, p_samples, p_score):
        p.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    {"train": train, "samples": samples, "score": score}[args.command](args)


if __name__ == "__main__":
    main()
