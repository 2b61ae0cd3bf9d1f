#!/usr/bin/python3
"""Crop and resize the sample photos to 256x256 RGB PNG files in this folder.

Run once with Debian's Python, which has python3-skimage 0.19 and python3-sklearn 1.2:

    /usr/bin/python3 data/samples/prepare.py

Every crop is a square box (left, top, size) in source pixels, resized to 256x256 with
Pillow's Lanczos filter. The two motorcycle crops come from the left and the right image
of one stereo pair. The left box covers columns 0-339 and the right box 401-740. The
ground-truth disparity shipped with the pair (motorcycle_disp.npz) is at most 60 pixels,
so a point seen in the left box appears in the right image at column 339 or less, and
the two files share no scene content.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

SKIMAGE = Path("/usr/lib/python3/dist-packages/skimage/data")
SKLEARN = Path("/usr/lib/python3/dist-packages/sklearn/datasets/images")
OUT = Path(__file__).resolve().parent
SIZE = 256

# name: (source file, left, top, square side in source pixels, split)
CROPS = {
    "astronaut": (SKIMAGE / "astronaut.png", 0, 0, 512, "train"),
    "coffee": (SKIMAGE / "coffee.png", 100, 0, 400, "train"),
    "rocket": (SKIMAGE / "rocket.jpg", 106, 0, 427, "train"),
    "china": (SKLEARN / "china.jpg", 106, 0, 427, "train"),
    "motorcycle_left": (SKIMAGE / "motorcycle_left.png", 0, 0, 340, "train"),
    "motorcycle_right": (SKIMAGE / "motorcycle_right.png", 401, 160, 340, "train"),
    "chelsea": (SKIMAGE / "chelsea.png", 75, 0, 300, "heldout"),
    "flower": (SKLEARN / "flower.jpg", 120, 0, 427, "heldout"),
}

MAX_DISPARITY = 60.0


def check_motorcycle_boxes() -> None:
    """Fail if the two motorcycle boxes could show the same scene point."""
    disp = np.load(SKIMAGE / "motorcycle_disp.npz")["arr_0"]
    finite = disp[np.isfinite(disp)]
    if finite.max() > MAX_DISPARITY:
        raise SystemExit(f"motorcycle disparity {finite.max():.1f} exceeds {MAX_DISPARITY}")
    _, left, _, side, _ = CROPS["motorcycle_left"]
    _, right, _, _, _ = CROPS["motorcycle_right"]
    if left + side - 1 >= right:
        raise SystemExit("motorcycle boxes overlap in columns")


def main() -> None:
    check_motorcycle_boxes()
    split = {"train": [], "heldout": []}
    for name, (source, left, top, side, part) in CROPS.items():
        image = Image.open(source).convert("RGB")
        width, height = image.size
        if left + side > width or top + side > height:
            raise SystemExit(f"{name}: box {left},{top},{side} outside {width}x{height}")
        crop = image.crop((left, top, left + side, top + side))
        crop = crop.resize((SIZE, SIZE), Image.LANCZOS)
        crop.save(OUT / f"{name}.png", optimize=False)
        split[part].append(f"{name}.png")
        print(f"{name}: {source.name} {width}x{height} box ({left}, {top}) side {side} -> {SIZE}x{SIZE}")
    (OUT / "split.json").write_text(json.dumps(split, indent=2) + "\n")


if __name__ == "__main__":
    main()
