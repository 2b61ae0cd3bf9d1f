import { TweedieError } from "@tweedie/core";
import { type OperatorSpecValue, operatorSpecSchema, parseSpec } from "./spec.js";

/**
 * Throws before any work when an image side is not a multiple of `scale`. The message
 * names both, for example "image 255x257 is not divisible by scale 4".
 */
export function checkDivisible(height: number, width: number, scale: number): void {
  if (height % scale === 0 && width % scale === 0) return;
  const crop = cropToScale(height, width, scale);
  throw new TweedieError(`image ${height}x${width} is not divisible by scale ${scale}`, {
    code: "invalid_value",
    path: ["imageShape"],
    expected: `height and width divisible by ${scale}`,
    received: `${height}x${width}`,
    hint: `crop to ${crop.height}x${crop.width} (cropToScale gives the box)`,
  });
}

/** A crop box in pixels: rows [top, top + height), columns [left, left + width). */
export interface CropBox {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/**
 * Returns the largest crop of a height x width image whose sides are multiples of
 * `scale`. Policy "centre" splits the removed rows and columns evenly, taking the odd one
 * from the bottom or right. Policy "top-left" keeps the top-left corner. The caller applies the
 * box to the ground truth and records it, so metrics use the same crop.
 */
export function cropToScale(
  height: number,
  width: number,
  scale: number,
  policy: "centre" | "top-left" = "centre",
): CropBox {
  if (!Number.isInteger(scale) || scale < 1) {
    throw new TweedieError("scale must be a positive integer", {
      code: "invalid_value",
      path: ["scale"],
      expected: "a positive integer",
      received: scale,
    });
  }
  const croppedHeight = height - (height % scale);
  const croppedWidth = width - (width % scale);
  if (croppedHeight === 0 || croppedWidth === 0) {
    throw new TweedieError(`image ${height}x${width} is smaller than scale ${scale}`, {
      code: "invalid_value",
      path: ["imageShape"],
      expected: `sides of at least ${scale}`,
      received: `${height}x${width}`,
    });
  }
  if (policy === "top-left") return { top: 0, left: 0, height: croppedHeight, width: croppedWidth };
  return {
    top: Math.floor((height - croppedHeight) / 2),
    left: Math.floor((width - croppedWidth) / 2),
    height: croppedHeight,
    width: croppedWidth,
  };
}

/**
 * Returns the number that image sides must be multiples of for `spec` to build: the
 * scale of a super-resolution operator, and for a composition the least common multiple
 * over its stages of (the downscaling before the stage) x (the stage's scale). Other
 * operators need 1. The spec is validated first.
 */
export function requiredDivisor(spec: unknown): number {
  return divisorOf(parseSpec(operatorSpecSchema, spec, "operator spec"));
}

function divisorOf(spec: OperatorSpecValue): number {
  if (spec.kind === "sr-avgpool" || spec.kind === "sr-bicubic") return spec.scale;
  if (spec.kind !== "compose") return 1;
  let before = 1;
  let required = 1;
  for (const stage of spec.operators) {
    const divisor = divisorOf(stage);
    required = lcm(required, before * divisor);
    before *= stageScale(stage);
  }
  return required;
}

function stageScale(spec: OperatorSpecValue): number {
  if (spec.kind === "sr-avgpool" || spec.kind === "sr-bicubic") return spec.scale;
  if (spec.kind === "compose") return spec.operators.reduce((s, stage) => s * stageScale(stage), 1);
  return 1;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
