"""Shared pieces of the Fashion-MNIST tools: the IDX reader, the class-conditional U-Net,
the VP-linear schedule and a DDIM sampler with classifier-free guidance."""

import gzip
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
CLASS_NAMES = [
    "t-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]
NUM_CLASSES = 10
NULL_LABEL = 10
STEPS = 1000
BETA_START = 1e-4
BETA_END = 0.02
SIZE = 28


def read_idx(path: str) -> np.ndarray:
    """Read a gzipped IDX file (big-endian header: magic, then one uint32 per dim)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise ValueError(f"{path}: expected unsigned byte data (0x08); received 0x{dtype_code:02x}")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return body.reshape(dims)


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 [N, 28, 28], labels uint8 [N]) of the `train` or `t10k` split."""
    images = read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return images, labels


def to_model_range(images: np.ndarray) -> torch.Tensor:
    """Map uint8 pixels v to x = 2 v / 255 - 1 in [-1, 1], shaped [N, 1, 28, 28]."""
    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
    return x * (2.0 / 255.0) - 1.0


def alpha_bars() -> torch.Tensor:
    """Return alphaBar_i = prod_{j <= i} (1 - beta_j) for the linear betas, in float64."""
    betas = torch.linspace(BETA_START, BETA_END, STEPS, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Embed the step index t (as a float) with sines and cosines, as the DDPM U-Net does."""
    half = dim // 2
    freqs = torch.exp(
        torch.arange(half, dtype=torch.float32, device=t.device) * (-math.log(10000.0) / half)
    )
    angles = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class FashionUNet(nn.Module):
    """Class-conditional epsilon-prediction U-Net on 28x28: 28 -> 14 -> 7 and back.

    Inputs: x [N, 1, 28, 28] float32, t [N] int64 step index in 0..999, label [N] int64
    (0..9 a class, 10 the null label). Output: eps [N, 1, 28, 28].
    """

    def __init__(self, channels: tuple[int, int, int] = (32, 64, 96), emb_dim: int = 128):
        super().__init__()
        c0, c1, c2 = channels
        self.channels = channels
        self.emb_dim = emb_dim
        self.time_mlp = nn.Sequential(
            nn.Linear(emb_dim // 2, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.label_emb = nn.Embedding(NUM_CLASSES + 1, emb_dim)
        self.conv_in = nn.Conv2d(1, c0, 3, padding=1)
        self.down0 = ResBlock(c0, c0, emb_dim)
        self.pool0 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.down1 = ResBlock(c1, c1, emb_dim)
        self.pool1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid0 = ResBlock(c2, c2, emb_dim)
        self.mid1 = ResBlock(c2, c2, emb_dim)
        self.up1 = ResBlock(c2 + c1, c1, emb_dim)
        self.up0 = ResBlock(c1 + c0, c0, emb_dim)
        self.norm_out = nn.GroupNorm(8, c0)
        self.conv_out = nn.Conv2d(c0, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.emb_dim // 2)) + self.label_emb(label)
        emb = F.silu(emb)
        h0 = self.down0(self.conv_in(x), emb)
        h1 = self.down1(self.pool0(h0), emb)
        h = self.mid1(self.mid0(self.pool1(h1), emb), emb)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.up1(torch.cat([h, h1], dim=1), emb)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.up0(torch.cat([h, h0], dim=1), emb)
        return self.conv_out(F.silu(self.norm_out(h)))


class FashionClassifier(nn.Module):
    """Small CNN on [-1, 1] images [N, 1, 28, 28]; returns logits [N, 10]."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 64), nn.ReLU(),
            nn.Linear(64, NUM_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def ddim_sample(
    model: nn.Module,
    labels: torch.Tensor,
    steps: int = 50,
    guidance: float = 2.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Deterministic DDIM (eta = 0) with classifier-free guidance
    eps = eps_null + w (eps_label - eps_null), on an evenly spaced grid of training steps
    from 999 down to 0. Returns samples in [-1, 1] (clipped x0Hat at the last step)."""
    abar = alpha_bars()
    n = labels.shape[0]
    x = torch.randn(n, 1, SIZE, SIZE, generator=generator)
    grid = torch.linspace(STEPS - 1, 0, steps).round().long().tolist()
    null = torch.full_like(labels, NULL_LABEL)
    for k, i in enumerate(grid):
        t = torch.full((n,), i, dtype=torch.long)
        eps_both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null]))
        eps_label, eps_null = eps_both[:n], eps_both[n:]
        eps = eps_null + guidance * (eps_label - eps_null)
        a = abar[i].item()
        x0 = ((x - math.sqrt(1 - a) * eps) / math.sqrt(a)).clamp(-1, 1)
        eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
        if k + 1 < len(grid):
            a_next = abar[grid[k + 1]].item()
            x = math.sqrt(a_next) * x0 + math.sqrt(1 - a_next) * eps
        else:
            x = x0
    return x


def write_png(path: str, image: np.ndarray) -> None:
    """Write an 8-bit greyscale PNG from a uint8 array [H, W] (zlib, no filter)."""
    import struct
    import zlib

    height, width = image.shape
    raw = b"".join(b"\x00" + image[row].astype(np.uint8).tobytes() for row in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def image_grid(x: torch.Tensor, rows: int, pad: int = 2) -> np.ndarray:
    """Tile [N, 1, H, W] images in [-1, 1] into a uint8 grid with `rows` rows."""
    n, _, h, w = x.shape
    cols = (n + rows - 1) // rows
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 128, dtype=np.uint8)
    pixels = ((x[:, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    for k in range(n):
        r, c = divmod(k, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = pixels[k]
    return grid
