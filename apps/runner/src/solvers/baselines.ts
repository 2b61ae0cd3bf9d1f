import {
  add,
  conjugateGradient,
  type Operator,
  type Problem,
  type RestorationProblem,
  type SolverPlugin,
  sub,
  Tensor,
  TweedieError,
} from "@tweedie/core";
import { z } from "zod";

/**
 * Baselines that every sampler is compared against: closed-form or least-squares
 * inverses with no prior. They are plain solver plugins so that the runner, the
 * leaderboard and the report treat them like any other method.
 */

function restoration(problem: Problem, solver: string): RestorationProblem {
  if (problem.kind !== "restoration") {
    throw new TweedieError(`${solver} solves restoration problems only`, {
      code: "unsupported",
      path: ["solver"],
      received: problem.kind,
    });
  }
  return problem;
}

function batchOf(problem: RestorationProblem): number {
  return problem.y.batch;
}

function requireLinear(
  op: Operator,
  solver: string,
): Required<Pick<Operator, "adjoint">> & Operator {
  if (!op.linear || !op.adjoint) {
    throw new TweedieError(`${solver} needs a linear operator with an adjoint`, {
      code: "unsupported",
      path: ["operator"],
      received: op.spec.kind,
    });
  }
  return op as Required<Pick<Operator, "adjoint">> & Operator;
}

/** The image Tikhonov regularisation shrinks the solution towards. */
export type TikhonovCentre = "constant" | "zero";

/**
 * Solves min ||y - A x||^2 + lambda ||x - m||^2 by conjugate gradient, item by item. With
 * `centre` "zero", m = 0 (mid-grey on [-1, 1]), the textbook form (A^T A + lambda I)^-1 A^T y.
 * With "constant", m is the constant image per channel whose A m fits y best in least
 * squares (for a blur, the mean of y). Pixels the data barely determine, such as the edge
 * pixels of a blur with mirror boundaries, then fall back to the image's own level
 * instead of mid-grey, which otherwise draws a light or dark frame.
 */
export function tikhonov(
  op: Operator,
  y: Tensor,
  shape: readonly number[],
  lambda: number,
  maxIterations: number,
  centre: TikhonovCentre = "zero",
): Tensor {
  const linear = requireLinear(op, "tikhonov");
  const outputs: Tensor[] = [];
  for (let n = 0; n < y.batch; n++) {
    const item = y.item(n);
    const prior = centre === "constant" ? constantFit(linear, item, shape) : undefined;
    const residual = prior ? sub(item, linear.forward(prior)) : item;
    const rhs = linear.adjoint(residual);
    const apply = (x: Tensor): Tensor => {
      const ata = linear.adjoint(linear.forward(x));
      const out = new Float32Array(x.size);
      for (let i = 0; i < out.length; i++) out[i] = ata.data[i] + lambda * x.data[i];
      return new Tensor(out, x.shape);
    };
    const update = conjugateGradient(apply, rhs, Tensor.zeros(rhs.shape), {
      maxIterations,
      tolerance: 1e-6,
    }).x;
    outputs.push(prior ? add(prior, update) : update);
  }
  return stack(outputs, shape);
}

/**
 * Returns the image that is constant c_k on each channel k with c_k = <A 1_k, y> / ||A 1_k||^2,
 * where 1_k is one on channel k and zero elsewhere: the least-squares constant fit of y.
 */
function constantFit(op: Operator, y: Tensor, shape: readonly number[]): Tensor {
  const [channels, height, width] = shape.slice(-3);
  const plane = height * width;
  const out = new Float32Array(channels * plane);
  for (let k = 0; k < channels; k++) {
    const indicator = new Float32Array(channels * plane);
    indicator.fill(1, k * plane, (k + 1) * plane);
    const response = op.forward(new Tensor(indicator, [1, channels, height, width]));
    let dot = 0;
    let energy = 0;
    for (let i = 0; i < response.size; i++) {
      dot += response.data[i] * y.data[i];
      energy += response.data[i] * response.data[i];
    }
    out.fill(energy > 0 ? dot / energy : 0, k * plane, (k + 1) * plane);
  }
  return new Tensor(out, [1, channels, height, width]);
}

function stack(items: readonly Tensor[], shape: readonly number[]): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(items.length * size);
  items.forEach((item, n) => {
    out.set(item.data, n * size);
  });
  return new Tensor(out, [items.length, ...shape]);
}

const pseudoInverseParams = z
  .object({
    /** Tikhonov weight used when the operator has no closed-form pseudo-inverse. */
    lambda: z.number().positive().default(1e-2),
    maxIterations: z.number().int().positive().default(100),
    /**
     * The image the Tikhonov solution shrinks towards: "constant", the least-squares
     * constant image per channel, or "zero", mid-grey (the textbook form).
     */
    centre: z.enum(["constant", "zero"]).default("constant"),
  })
  .strict();

export const pseudoInversePlugin: SolverPlugin<z.infer<typeof pseudoInverseParams>> = {
  name: "pseudo-inverse",
  version: "1.0.0",
  description:
    "A^+ y: the operator's closed-form pseudo-inverse (least squares for SR), else Tikhonov min ||y - A x||^2 + lambda ||x - m||^2 by conjugate gradient (deblur), m the least-squares constant image per channel unless centre is zero.",
  tasks: ["restoration"],
  paramsSchema: pseudoInverseParams,
  presets: {},
  requires: { space: "pixel" },
  create(params) {
    return {
      async solve(problem) {
        const p = restoration(problem, "pseudo-inverse");
        const closedForm = p.operator.pseudoInverse;
        const x = closedForm
          ? closedForm.call(p.operator, p.y)
          : tikhonov(p.operator, p.y, p.shape, params.lambda, params.maxIterations, params.centre);
        const mode = closedForm
          ? "closed-form"
          : `tikhonov(lambda=${params.lambda}, centre=${params.centre})`;
        return { x: clamp(x), nfe: 0, steps: 0, diagnostics: { mode } };
      },
    };
  },
};

/** Keys cubic kernel with a = -0.5 (Keys 1981), as MATLAB's imresize uses. */
function cubic(x: number): number {
  const ax = Math.abs(x);
  if (ax <= 1) return 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1;
  if (ax < 2) return -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2;
  return 0;
}

/** Upsamples one axis by an integer factor with pixel-centre alignment and symmetric borders. */
function upsampleAxis(
  src: Float32Array,
  lines: number,
  length: number,
  stride: number,
  lineStride: number,
  factor: number,
  outLength: number,
  outStride: number,
  outLineStride: number,
  dst: Float32Array,
): void {
  for (let j = 0; j < outLength; j++) {
    const centre = (j + 0.5) / factor - 0.5;
    const left = Math.floor(centre) - 1;
    const taps: number[] = [];
    const index: number[] = [];
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      const i = left + k;
      const w = cubic(centre - i);
      let s = i;
      if (s < 0) s = -s - 1;
      if (s >= length) s = 2 * length - s - 1;
      taps.push(w);
      index.push(s);
      sum += w;
    }
    for (let line = 0; line < lines; line++) {
      let acc = 0;
      for (let k = 0; k < 4; k++) acc += taps[k] * src[line * lineStride + index[k] * stride];
      dst[line * outLineStride + j * outStride] = acc / sum;
    }
  }
}

/** Bicubic upsampling of [N, C, h, w] by an integer factor. */
export function bicubicUpsample(y: Tensor, factor: number): Tensor {
  const [n, c, h, w] = y.shape;
  const H = h * factor;
  const W = w * factor;
  const rows = new Float32Array(n * c * h * W);
  upsampleAxis(y.data, n * c * h, w, 1, w, factor, W, 1, W, rows);
  const out = new Float32Array(n * c * H * W);
  for (let plane = 0; plane < n * c; plane++) {
    upsampleAxis(
      rows.subarray(plane * h * W),
      W,
      h,
      W,
      1,
      factor,
      H,
      W,
      1,
      out.subarray(plane * H * W),
    );
  }
  return new Tensor(out, [n, c, H, W]);
}

function scaleOf(op: Operator): number {
  const scale = Number(op.spec.factor ?? op.spec.scale);
  if (!Number.isInteger(scale) || scale < 1 || !op.spec.kind.startsWith("sr")) {
    throw new TweedieError("bicubic upsampling needs a super-resolution operator", {
      code: "unsupported",
      path: ["operator"],
      expected: "an sr-* operator with an integer factor",
      received: op.spec.kind,
    });
  }
  return scale;
}

const noParams = z.object({}).strict();

export const bicubicPlugin: SolverPlugin<z.infer<typeof noParams>> = {
  name: "bicubic",
  version: "1.0.0",
  description:
    "Bicubic upsampling of the low-resolution measurement (Keys a = -0.5, symmetric borders); SR only.",
  tasks: ["restoration"],
  paramsSchema: noParams,
  presets: {},
  requires: { space: "pixel" },
  create() {
    return {
      async solve(problem) {
        const p = restoration(problem, "bicubic");
        return {
          x: clamp(bicubicUpsample(p.y, scaleOf(p.operator))),
          nfe: 0,
          steps: 0,
          diagnostics: {},
        };
      },
    };
  },
};

export const meanFillPlugin: SolverPlugin<z.infer<typeof noParams>> = {
  name: "mean-fill",
  version: "1.0.0",
  description:
    "Inpainting baseline: observed pixels kept, missing pixels set to the per-channel mean of the observed ones.",
  tasks: ["restoration"],
  paramsSchema: noParams,
  presets: {},
  requires: { space: "pixel" },
  create() {
    return {
      async solve(problem) {
        const p = restoration(problem, "mean-fill");
        if (!p.operator.spec.kind.startsWith("inpaint")) {
          throw new TweedieError("mean-fill needs an inpainting operator", {
            code: "unsupported",
            path: ["operator"],
            received: p.operator.spec.kind,
          });
        }
        const [c, h, w] = p.shape;
        const mask = p.operator.forward(Tensor.full([1, c, h, w], 1)).data;
        const out = new Float32Array(batchOf(p) * c * h * w);
        for (let n = 0; n < batchOf(p); n++) {
          for (let ch = 0; ch < c; ch++) {
            const base = (n * c + ch) * h * w;
            let sum = 0;
            let count = 0;
            for (let i = 0; i < h * w; i++) {
              if (mask[ch * h * w + i] > 0.5) {
                sum += p.y.data[base + i];
                count++;
              }
            }
            const mean = count > 0 ? sum / count : 0;
            for (let i = 0; i < h * w; i++)
              out[base + i] = mask[ch * h * w + i] > 0.5 ? p.y.data[base + i] : mean;
          }
        }
        return {
          x: clamp(new Tensor(out, [batchOf(p), c, h, w])),
          nfe: 0,
          steps: 0,
          diagnostics: {},
        };
      },
    };
  },
};

export const measurementPlugin: SolverPlugin<z.infer<typeof noParams>> = {
  name: "measurement",
  version: "1.0.0",
  description:
    "Returns y itself, for operators whose output has the image's shape (deblurring, denoising): the floor every restoration must beat.",
  tasks: ["restoration"],
  paramsSchema: noParams,
  presets: {},
  requires: { space: "pixel" },
  create() {
    return {
      async solve(problem) {
        const p = restoration(problem, "measurement");
        const expected = p.shape.join("x");
        const received = p.y.shape.slice(1).join("x");
        if (expected !== received) {
          throw new TweedieError("the measurement baseline needs y with the image's shape", {
            code: "unsupported",
            expected,
            received,
          });
        }
        return { x: clamp(p.y.clone()), nfe: 0, steps: 0, diagnostics: {} };
      },
    };
  },
};

function clamp(x: Tensor): Tensor {
  for (let i = 0; i < x.size; i++) x.data[i] = Math.min(1, Math.max(-1, x.data[i]));
  return x;
}
