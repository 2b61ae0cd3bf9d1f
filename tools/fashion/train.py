"""Train the class-conditional Fashion-MNIST diffusion U-Net on the CPU.

Epsilon prediction on the VP-linear schedule (1000 steps, betas 1e-4..0.02), images at
28x28 mapped to [-1, 1], classifier-free guidance dropout (the label is replaced by the
null label 10 with probability 0.1), AdamW and an EMA of the weights. Batches, timesteps
and noise are drawn from generators seeded by (seed, step), so a resumed run repeats the
uninterrupted one. A checkpoint is written every --checkpoint-every steps; the loss curve
goes to loss.csv and the recipe, time and hardware to record.json in --out.

Usage: python train.py --out /tmp/fashion-run [--steps 1000] [--resume]
"""

import argparse
import csv
import json
import math
import os
import platform
import time

import torch

from common import (
    BETA_END, BETA_START, NULL_LABEL, STEPS, FashionUNet, alpha_bars, load_split,
    parameter_count, to_model_range,
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def learning_rate(step: int, args: argparse.Namespace) -> float:
    """Linear warmup, then cosine decay to 10% of the base rate at the last step."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def batch_indices(step: int, batch: int, count: int, seed: int) -> torch.Tensor:
    """Indices of the training images of `step`: epoch e uses a permutation seeded by (seed, e)."""
    first = step * batch
    out = []
    while len(out) < batch:
        epoch, offset = divmod(first + len(out), count)
        perm = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
        out.extend(perm[offset: offset + batch - len(out)].tolist())
    return torch.tensor(out)


def save_atomic(obj: dict, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder for checkpoints and logs")
    parser.add_argument("--steps", type=int, default=1000, help="optimizer steps")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--ema", type=float, default=0.999, help="EMA decay (with warmup)")
    parser.add_argument("--cfg-dropout", type=float, default=0.1)
    parser.add_argument("--channels", default="32,48,64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--max-minutes", type=float, default=70.0,
                        help="stop early (with a checkpoint) after this much wall time")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    channels = tuple(int(c) for c in args.channels.split(","))

    images, labels = load_split("train")
    x_all = to_model_range(images).contiguous(memory_format=torch.channels_last)
    y_all = torch.from_numpy(labels.astype("int64"))
    count = x_all.shape[0]
    abar = alpha_bars().to(torch.float32)

    model = FashionUNet(channels).to(memory_format=torch.channels_last)
    ema = FashionUNet(channels).to(memory_format=torch.channels_last)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)

    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    start_step, elapsed_before = 0, 0.0
    if args.resume and os.path.exists(ckpt_path):
        state = torch.load(ckpt_path)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        start_step, elapsed_before = state["step"], state["elapsed_s"]
        print(f"resumed at step {start_step}", flush=True)

    loss_path = os.path.join(args.out, "loss.csv")
    loss_file = open(loss_path, "a" if start_step > 0 else "w", newline="")
    writer = csv.writer(loss_file)
    if start_step == 0:
        writer.writerow(["step", "images", "elapsed_s", "lr", "loss_mean_25"])

    def checkpoint(step: int, elapsed: float) -> None:
        save_atomic({"model": model.state_dict(), "ema": ema.state_dict(),
                     "optimizer": optimizer.state_dict(), "step": step, "elapsed_s": elapsed,
                     "channels": channels}, ckpt_path)

    began = time.time()
    window: list[float] = []
    step = start_step
    model.train()
    while step < args.steps:
        lr = learning_rate(step, args)
        for group in optimizer.param_groups:
            group["lr"] = lr
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        idx = batch_indices(step, args.batch, count, args.seed)
        x0 = x_all[idx]
        label = y_all[idx].clone()
        label[torch.rand(args.batch, generator=gen) < args.cfg_dropout] = NULL_LABEL
        t = torch.randint(0, STEPS, (args.batch,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen).contiguous(memory_format=torch.channels_last)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps

        loss = (model(xt, t, label) - eps).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), model.parameters()):
                p_ema.lerp_(p, 1 - decay)
        step += 1
        window.append(loss.item())

        elapsed = elapsed_before + time.time() - began
        if step % 25 == 0:
            mean = sum(window) / len(window)
            window.clear()
            writer.writerow([step, step * args.batch, f"{elapsed:.1f}", f"{lr:.3g}", f"{mean:.5f}"])
            loss_file.flush()
            print(f"step {step} loss {mean:.4f} lr {lr:.2e} {elapsed / 60:.1f} min", flush=True)
        if step % args.checkpoint_every == 0:
            checkpoint(step, elapsed)
        if elapsed > args.max_minutes * 60:
            print(f"stopping at step {step}: time budget of {args.max_minutes} min spent", flush=True)
            break

    elapsed = elapsed_before + time.time() - began
    checkpoint(step, elapsed)
    loss_file.close()
    record = {
        "recipe": {
            "model": "FashionUNet", "channels": list(channels), "embedding_dim": ema.emb_dim,
            "parameters": parameter_count(ema), "resolution": [28, 28],
            "pixel_range": "[-1, 1], x = 2 v / 255 - 1", "parameterisation": "epsilon",
            "schedule": {"kind": "vp-linear", "betaStart": BETA_START, "betaEnd": BETA_END,
                         "steps": STEPS},
            "optimizer": "AdamW", "lr": args.lr, "warmup_steps": args.warmup,
            "lr_schedule": "linear warmup, cosine decay to 0.1 x lr",
            "weight_decay": args.weight_decay, "batch": args.batch, "steps": step,
            "planned_steps": args.steps, "ema_decay": args.ema,
            "cfg_dropout": args.cfg_dropout, "seed": args.seed,
            "training_images": count, "epochs": step * args.batch / count,
        },
        "time_s": round(elapsed, 1),
        "hardware": {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
                     "torch_threads": args.threads, "torch": torch.__version__,
                     "python": platform.python_version()},
    }
    with open(os.path.join(args.out, "record.json"), "w") as f:
        json.dump(record, f, indent=2)
    print(json.dumps(record, indent=2), flush=True)


if __name__ == "__main__":
    main()
