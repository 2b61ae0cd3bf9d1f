import { createRng, type Operator, type Shape, type Tensor } from "@tweedie/core";
import { buildOperator } from "../src/index.js";

/**
 * Every operator the property suites run over: one entry per (spec, image shape). Sizes
 * are odd and non-square where the operator allows; super-resolution needs sides
 * divisible by its scale.
 */
export interface OperatorCase {
  readonly name: string;
  readonly spec: Record<string, unknown> & { kind: string };
  readonly imageShape: Shape;
}

const kernel5 = Array.from({ length: 25 }, (_, i) => ((i * 7) % 11) / 100);

export const operatorCases: readonly OperatorCase[] = [
  { name: "identity 3x17x24", spec: { kind: "identity" }, imageShape: [3, 17, 24] },
  { name: "identity 3x255x257", spec: { kind: "identity" }, imageShape: [3, 255, 257] },
  {
    name: "sr-avgpool x4 3x68x76",
    spec: { kind: "sr-avgpool", scale: 4 },
    imageShape: [3, 68, 76],
  },
  {
    name: "sr-avgpool x3 1x15x21",
    spec: { kind: "sr-avgpool", scale: 3 },
    imageShape: [1, 15, 21],
  },
  {
    name: "sr-bicubic x4 3x68x76",
    spec: { kind: "sr-bicubic", scale: 4 },
    imageShape: [3, 68, 76],
  },
  {
    name: "sr-bicubic x3 3x18x27",
    spec: { kind: "sr-bicubic", scale: 3 },
    imageShape: [3, 18, 27],
  },
  {
    name: "sr-bicubic x12 1x48x72",
    spec: { kind: "sr-bicubic", scale: 12 },
    imageShape: [1, 48, 72],
  },
  {
    name: "sr-bicubic x12 truncate 0.03 1x48x72",
    spec: { kind: "sr-bicubic", scale: 12, truncate: 0.03 },
    imageShape: [1, 48, 72],
  },
  {
    name: "sr-bicubic x4 truncate 0.45 3x68x76",
    spec: { kind: "sr-bicubic", scale: 4, truncate: 0.45 },
    imageShape: [3, 68, 76],
  },
  { name: "gaussian-blur 3x17x24", spec: { kind: "gaussian-blur" }, imageShape: [3, 17, 24] },
  { name: "gaussian-blur 3x255x257", spec: { kind: "gaussian-blur" }, imageShape: [3, 255, 257] },
  {
    name: "gaussian-blur sigma 1.6 size 9 1x5x7",
    spec: { kind: "gaussian-blur", size: 9, sigma: 1.6 },
    imageShape: [1, 5, 7],
  },
  { name: "motion-blur 3x17x24", spec: { kind: "motion-blur", seed: 1 }, imageShape: [3, 17, 24] },
  {
    name: "motion-blur 3x255x257",
    spec: { kind: "motion-blur", seed: 2 },
    imageShape: [3, 255, 257],
  },
  {
    name: "motion-blur given 5x5 kernel 2x7x9",
    spec: { kind: "motion-blur", size: 5, seed: "given", kernel: kernel5 },
    imageShape: [2, 7, 9],
  },
  {
    name: "inpainting box 3x17x24",
    spec: { kind: "inpainting", pattern: "box", seed: 4 },
    imageShape: [3, 17, 24],
  },
  {
    name: "inpainting random 3x255x257",
    spec: { kind: "inpainting", pattern: "random", seed: 5 },
    imageShape: [3, 255, 257],
  },
  {
    name: "inpainting mask 1x3x4",
    spec: {
      kind: "inpainting",
      pattern: "mask",
      mask: [
        [1, 0, 1, 1],
        [0, 0, 1, 0],
        [1, 1, 1, 0],
      ],
    },
    imageShape: [1, 3, 4],
  },
  { name: "colorization 3x17x24", spec: { kind: "colorization" }, imageShape: [3, 17, 24] },
  {
    name: "colorization BT.601 3x255x257",
    spec: { kind: "colorization", weights: [0.299, 0.587, 0.114] },
    imageShape: [3, 255, 257],
  },
  { name: "phase-retrieval 2x6x5", spec: { kind: "phase-retrieval" }, imageShape: [2, 6, 5] },
  {
    name: "phase-retrieval unshifted 1x9x12",
    spec: { kind: "phase-retrieval", shift: false, oversample: 1 },
    imageShape: [1, 9, 12],
  },
  {
    name: "compose blur then avgpool 3x18x24",
    spec: {
      kind: "compose",
      operators: [{ kind: "gaussian-blur" }, { kind: "sr-avgpool", scale: 2 }],
    },
    imageShape: [3, 18, 24],
  },
  {
    name: "compose colorization then bicubic 3x20x28",
    spec: {
      kind: "compose",
      operators: [{ kind: "colorization" }, { kind: "sr-bicubic", scale: 4 }],
    },
    imageShape: [3, 20, 28],
  },
  {
    name: "compose motion blur then phase retrieval 1x8x6",
    spec: {
      kind: "compose",
      operators: [
        { kind: "motion-blur", size: 5, seed: "given", kernel: kernel5 },
        { kind: "phase-retrieval" },
      ],
    },
    imageShape: [1, 8, 6],
  },
];

const built = new Map<string, Operator>();

/** Builds the operator of a case once per test file. */
export function operatorOf(c: OperatorCase): Operator {
  let op = built.get(c.name);
  if (op === undefined) {
    op = buildOperator(c.spec, { imageShape: c.imageShape });
    built.set(c.name, op);
  }
  return op;
}

export const linearCases = operatorCases.filter((c) => operatorOf(c).linear);
export const pseudoInverseCases = operatorCases.filter((c) => operatorOf(c).pseudoInverse);
export const nonlinearCases = operatorCases.filter((c) => !operatorOf(c).linear);

/** Standard normals of `shape` from a named stream. */
export function randomTensor(shape: Shape, ...keys: (string | number)[]): Tensor {
  return createRng(20240611)
    .split(...keys)
    .normalTensor(shape);
}

/** Inner product accumulated in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** ||a - b|| / ||b||, in float64. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff += (a[i] - b[i]) ** 2;
  return Math.sqrt(diff) / norm(b);
}
