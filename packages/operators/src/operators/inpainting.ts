import {
  createRng,
  type Operator,
  randint,
  type Shape,
  sampleWithoutReplacement,
  type Tensor,
  TweedieError,
} from "@tweedie/core";
import { mapImages } from "../batch.js";
import { deepFreeze } from "../freeze.js";
import { hashFloat32 } from "../hash.js";
import type {
  BoxInpaintingSpec,
  GivenMaskInpaintingSpec,
  InpaintingSpec,
  RandomInpaintingSpec,
} from "../spec.js";

/**
 * Inpainting: y = m * x with an H x W mask m shared by every channel, 1 where a pixel is
 * observed and 0 where it is missing. Because m is binary, A^T = A^+ = A.
 */
export class InpaintingOperator implements Operator {
  readonly linear = true;
  readonly spec: InpaintingSpec;
  readonly outputShape: Shape;
  /** SHA-256 of the mask's float32 bytes. */
  readonly maskHash: string;
  private readonly mask: Float32Array;

  constructor(
    spec: InpaintingSpec,
    readonly inputShape: Shape,
  ) {
    const { mask, resolved } = buildMask(spec, inputShape[1], inputShape[2]);
    this.mask = mask;
    this.spec = deepFreeze(resolved);
    this.maskHash = hashFloat32(mask);
    this.outputShape = inputShape;
    Object.freeze(this);
  }

  /** Returns a copy of the H x W mask (row-major, 1 = observed). */
  maskValues(): Float32Array {
    return this.mask.slice();
  }

  forward(x: Tensor): Tensor {
    return this.multiply(x, "x");
  }

  adjoint(y: Tensor): Tensor {
    return this.multiply(y, "y");
  }

  pseudoInverse(y: Tensor): Tensor {
    return this.multiply(y, "y");
  }

  private multiply(x: Tensor, name: string): Tensor {
    const [channels, height, width] = this.inputShape;
    const plane = height * width;
    const mask = this.mask;
    return mapImages(x, this.inputShape, this.outputShape, name, (src, dst) => {
      for (let c = 0; c < channels; c++) {
        const offset = c * plane;
        for (let k = 0; k < plane; k++) dst[offset + k] = mask[k] * src[offset + k];
      }
    });
  }
}

function buildMask(
  spec: InpaintingSpec,
  height: number,
  width: number,
): { mask: Float32Array; resolved: InpaintingSpec } {
  switch (spec.pattern) {
    case "box":
      return boxMask(spec, height, width);
    case "random":
      return randomMask(spec, height, width);
    case "mask":
      return { mask: givenMask(spec, height, width), resolved: spec };
  }
}

/**
 * Builds a mask with a box of zeros. DPS (random_sq_bbox) uses a 128 x 128 box with its
 * top-left corner uniform on [16, 111]^2 in a 256 x 256 image. Other sizes scale the box
 * (half of each side) and the margin (one sixteenth) proportionally. The drawn corner is
 * recorded in the resolved spec.
 */
function boxMask(
  spec: BoxInpaintingSpec,
  height: number,
  width: number,
): { mask: Float32Array; resolved: BoxInpaintingSpec } {
  const boxSize = spec.boxSize ?? [Math.floor(height / 2), Math.floor(width / 2)];
  const margin = spec.margin ?? [Math.floor(height / 16), Math.floor(width / 16)];
  const [boxHeight, boxWidth] = boxSize;
  // Corners run over [margin, side - margin - box), as numpy's randint(margin, maxt).
  const topLimit = height - margin[0] - boxHeight;
  const leftLimit = width - margin[1] - boxWidth;
  if (boxHeight < 1 || boxWidth < 1 || topLimit <= margin[0] || leftLimit <= margin[1]) {
    throw new TweedieError(
      `box ${boxHeight}x${boxWidth} with margin ${margin[0]}x${margin[1]} does not fit image ${height}x${width}`,
      {
        code: "invalid_value",
        path: ["boxSize"],
        expected: "box + 2 margin + 1 <= image side on each axis",
        received: { boxSize, margin, imageSize: [height, width] },
      },
    );
  }

  let top = spec.top;
  let left = spec.left;
  const seed = spec.seed;
  if (top === undefined || left === undefined) {
    if (spec.placement === "centred") {
      top = Math.floor((height - boxHeight) / 2);
      left = Math.floor((width - boxWidth) / 2);
    } else {
      if (seed === undefined) {
        throw new TweedieError("a randomly placed box needs a seed", {
          code: "missing",
          path: ["seed"],
          expected: "an integer or string seed, or top and left",
        });
      }
      const rng = createRng(seed).split("inpainting-box");
      top = randint(rng.split("top"), margin[0], topLimit, 1)[0];
      left = randint(rng.split("left"), margin[1], leftLimit, 1)[0];
    }
  }
  if (top + boxHeight > height || left + boxWidth > width) {
    throw new TweedieError("box lies outside the image", {
      code: "out_of_range",
      path: ["top"],
      expected: `top <= ${height - boxHeight} and left <= ${width - boxWidth}`,
      received: { top, left },
    });
  }

  const mask = new Float32Array(height * width).fill(1);
  for (let r = top; r < top + boxHeight; r++)
    mask.fill(0, r * width + left, r * width + left + boxWidth);
  const resolved: BoxInpaintingSpec = {
    ...spec,
    boxSize: [boxHeight, boxWidth],
    margin: [margin[0], margin[1]],
    top,
    left,
  };
  return { mask, resolved };
}

/**
 * DPS random masking (mask_generator, "random"): a missing fraction p ~ U(low, high),
 * then floor(H * W * p) pixel positions drawn uniformly without replacement. The ratio
 * and the positions come from separate child streams of the seed, so a recorded ratio
 * rebuilds the same positions.
 */
function randomMask(
  spec: RandomInpaintingSpec,
  height: number,
  width: number,
): { mask: Float32Array; resolved: RandomInpaintingSpec } {
  const rng = createRng(spec.seed).split("inpainting-random");
  const [low, high] = spec.ratioRange;
  const ratio = spec.ratio ?? low + (high - low) * rng.split("ratio").uniform64(1)[0];
  const total = height * width;
  const missing = Math.floor(total * ratio);
  const mask = new Float32Array(total).fill(1);
  for (const index of sampleWithoutReplacement(rng.split("positions"), total, missing)) {
    mask[index] = 0;
  }
  return { mask, resolved: { ...spec, ratio, ratioRange: [low, high] } };
}

function givenMask(spec: GivenMaskInpaintingSpec, height: number, width: number): Float32Array {
  if (spec.mask.length !== height || spec.mask.some((row) => row.length !== width)) {
    throw new TweedieError("inpainting mask does not match the image size", {
      code: "shape_mismatch",
      path: ["mask"],
      expected: `${height} rows of ${width} values`,
      received: `${spec.mask.length} rows of ${[...new Set(spec.mask.map((row) => row.length))].join("/")} values`,
    });
  }
  const mask = new Float32Array(height * width);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const value = spec.mask[r][c];
      if (spec.threshold !== undefined) {
        mask[r * width + c] = value >= spec.threshold ? 1 : 0;
      } else if (value === 0 || value === 1) {
        mask[r * width + c] = value;
      } else {
        throw new TweedieError("inpainting mask values must be 0 (missing) or 1 (observed)", {
          code: "invalid_value",
          path: ["mask", r, c],
          expected: "0 or 1, or set threshold to binarise",
          received: value,
        });
      }
    }
  }
  return mask;
}
