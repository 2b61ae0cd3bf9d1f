"""Reference outputs of the DPS Gaussian blur, a reflect-padded correlation and phase
retrieval, written to test/fixtures/operator-reference.json.

Inputs are closed-form so the tests rebuild them: x[c, i, j] = sin(0.7 i + 1.3 j + c).
- gaussian-blur: scipy.ndimage.gaussian_filter of a 61 x 61 delta (sigma 3), numpy
  "reflect" padding by 30 (PyTorch ReflectionPad2d), valid 2-D correlation; 3 x 20 x 23.
- correlation: the 5 x 5 kernel k[u, v] = (1 + u + 2 v) / 75 (not symmetric), reflect
  padding by 2, valid correlation; 3 x 7 x 9.
- phase-retrieval: zero padding int(2 / 8 * side) per side, then DPS's centred
  orthonormal transform fftshift(fft2(ifftshift(x), norm="ortho")), magnitude; 2 x 6 x 5.

Run from packages/operators: /usr/bin/python3 test/reference/operator_reference.py, then
`pnpm exec biome format --write test/fixtures` to keep the fixture in the repository style.
"""

import json

import numpy as np
import scipy
from scipy import ndimage, signal


def image(c: int, h: int, w: int) -> np.ndarray:
    ch, i, j = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    return np.sin(0.7 * i + 1.3 * j + ch)


def reflect_correlate(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    pad = (k.shape[0] - 1) // 2
    return np.stack(
        [signal.correlate2d(np.pad(plane, pad, mode="reflect"), k, mode="valid") for plane in x]
    )


def main() -> None:
    delta = np.zeros((61, 61))
    delta[30, 30] = 1
    gaussian = ndimage.gaussian_filter(delta, sigma=3.0)
    blurred = reflect_correlate(image(3, 20, 23), gaussian)

    u, v = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    kernel = (1 + u + 2 * v) / 75
    correlated = reflect_correlate(image(3, 7, 9), kernel)

    x = image(2, 6, 5)
    pad_h, pad_w = int(2.0 / 8 * 6), int(2.0 / 8 * 5)
    padded = np.pad(x, ((0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    spectrum = np.fft.fftshift(
        np.fft.fft2(np.fft.ifftshift(padded, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )
    magnitude = np.abs(spectrum)

    out = {
        "scipy": scipy.__version__,
        "gaussianKernelCentre": float(gaussian[30, 30]),
        "gaussianKernelRow30": gaussian[30, 18:43].tolist(),
        "gaussianBlur": {"shape": [3, 20, 23], "y": blurred.ravel().tolist()},
        "correlation": {"shape": [3, 7, 9], "kernel": kernel.ravel().tolist(), "y": correlated.ravel().tolist()},
        "phaseRetrieval": {"shape": [2, 6, 5], "outputShape": list(magnitude.shape), "y": magnitude.ravel().tolist()},
    }
    with open("test/fixtures/operator-reference.json", "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
