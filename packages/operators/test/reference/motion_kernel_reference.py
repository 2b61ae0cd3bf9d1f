"""Reference data for the motion-blur kernel port (size 61, intensity 0.5).

Re-implements the steps of LeviBorodenko/motionblur's Kernel class with numpy's random
functions and PIL (line width 1, GaussianBlur radius 1, LANCZOS resize) and writes
test/fixtures/motion-kernel-reference.json with
- stats: mean and standard deviation of three kernel statistics over 20,000 seeds;
- renders: trajectory points of three seeds with the 8-bit kernel image PIL makes of them.

Run from packages/operators: /usr/bin/python3 test/reference/motion_kernel_reference.py
(numpy and Pillow 9.4), then `pnpm exec biome format --write test/fixtures`.
"""

import json
import math

import numpy as np
import PIL
from PIL import Image, ImageDraw, ImageFilter

SIZE = 61
INTENSITY = 0.5
EPS = 0.1


def trajectory(rs: np.random.RandomState) -> list[tuple[float, float]]:
    canvas = 2 * SIZE
    diagonal = math.sqrt(2) * canvas
    max_length = 0.75 * diagonal * (rs.uniform() + rs.uniform(0, INTENSITY**2))
    steps: list[float] = []
    while sum(steps) < max_length:
        step = rs.beta(1, 30) * (1 - INTENSITY + EPS) * diagonal
        if step < max_length:
            steps.append(step)
    max_angle = rs.uniform(0, INTENSITY * math.pi)
    jitter = rs.beta(2, 20)
    angles = [rs.uniform(-max_angle, max_angle)]
    while len(angles) < len(steps):
        angle = rs.triangular(0, INTENSITY * max_angle, max_angle + EPS)
        sign = np.sign(angles[-1])
        angles.append(angle * (-sign if rs.uniform() < jitter else sign))
    path = np.cumsum(np.asarray(steps) * np.exp(1j * np.asarray(angles)))
    path = path - path.sum() / len(steps)
    path = path * np.exp(1j * rs.uniform(0, math.pi))
    path = path + (canvas + 1j * canvas) / 2
    return [(float(p.real), float(p.imag)) for p in path]


def render(points: list[tuple[float, float]]) -> np.ndarray:
    canvas = 2 * SIZE
    diagonal = math.sqrt(2) * canvas
    image = Image.new("RGB", (canvas, canvas))
    ImageDraw.Draw(image).line(xy=points, width=int(diagonal / 150))
    image = image.filter(ImageFilter.GaussianBlur(radius=int(diagonal * 0.01)))
    image = image.resize((SIZE, SIZE), resample=Image.LANCZOS).convert("L")
    return np.asarray(image, dtype=np.float64)


def statistics(k: np.ndarray) -> tuple[float, float, float]:
    """Radius of gyration (px), number of non-zero pixels, largest value."""
    rows, cols = np.mgrid[0 : k.shape[0], 0 : k.shape[1]]
    cr = (k * rows).sum()
    cc = (k * cols).sum()
    gyration = math.sqrt((k * ((rows - cr) ** 2 + (cols - cc) ** 2)).sum())
    return gyration, float((k > 0).sum()), float(k.max())


def main() -> None:
    rows = []
    for seed in range(20000):
        image = render(trajectory(np.random.RandomState(seed)))
        rows.append(statistics(image / image.sum()))
    values = np.array(rows)
    stats = {
        name: {"mean": round(float(column.mean()), 4), "std": round(float(column.std()), 4)}
        for name, column in zip(["gyration", "nonzero", "max"], values.T)
    }
    renders = []
    for seed in (0, 1, 2):
        points = trajectory(np.random.RandomState(seed))
        renders.append({"seed": seed, "points": points, "kernel": render(points).astype(int).ravel().tolist()})
    out = {"pillow": PIL.__version__, "seeds": 20000, "stats": stats, "renders": renders}
    with open("test/fixtures/motion-kernel-reference.json", "w") as f:
        json.dump(out, f)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
