import {
  type Conditioning,
  concatBatch,
  concatConditioning,
  type Denoiser,
  type Operator,
  operatorVjp,
  Tensor,
  type VjpMode,
} from "@tweedie/core";

/** Inputs of the guidance gradient at one step. Tensors hold the whole batch of samples. */
export interface GradientInput {
  denoiser: Denoiser;
  operator: Operator;
  /** Measurement, batch 1 (shared by every sample) or one per sample. */
  y: Tensor;
  xt: Tensor;
  t: number;
  cond: Conditioning;
  /** x0Hat after clipping. */
  x0Hat: Tensor;
  /** 1 where the clip passes the gradient (|x0Hat| <= 1 before clipping); null without clipping. */
  clipMask: Uint8Array | null;
  mode: VjpMode;
  /** Finite-difference probe size in units of x_t: fdProbe sigma_t. */
  probe: number;
}

export interface GradientResult {
  /** grad_{x_t} ||y - A(x0Hat)|| per sample. */
  gradient: Tensor;
  /** ||y - A(x0Hat)|| per sample, in float64. */
  residualNorms: Float64Array;
}

/**
 * Computes grad_{x_t} ||y_n - A(x0Hat_n)|| for every sample n separately:
 * g = J^T (mask * dL/dx0Hat) with dL/dx0Hat = -A^T (y - A x0Hat) / ||y - A x0Hat|| (through
 * the operator's VJP for nonlinear operators) and J = d x0Hat / d x_t. A zero residual
 * gives a zero gradient, not 0 / 0.
 */
export async function residualNormGradient(input: GradientInput): Promise<GradientResult> {
  const { operator, x0Hat, clipMask } = input;
  const predicted = operator.forward(x0Hat);
  const batch = x0Hat.batch;
  const perMeasurement = predicted.size / batch;
  const cotangent = new Float32Array(predicted.size);
  const residualNorms = new Float64Array(batch);
  for (let n = 0; n < batch; n++) {
    const yOffset = input.y.batch === 1 ? 0 : n * perMeasurement;
    const offset = n * perMeasurement;
    let squares = 0;
    for (let i = 0; i < perMeasurement; i++) {
      const r = input.y.data[yOffset + i] - predicted.data[offset + i];
      cotangent[offset + i] = r;
      squares += r * r;
    }
    const residualNorm = Math.sqrt(squares);
    residualNorms[n] = residualNorm;
    // d||r|| / dA(x0Hat) = -r / ||r||, set to zero where the residual is exactly zero.
    const factor = residualNorm > 0 ? -1 / residualNorm : 0;
    for (let i = 0; i < perMeasurement; i++) cotangent[offset + i] *= factor;
  }
  const x0Cotangent = operatorVjp(operator, x0Hat, new Tensor(cotangent, predicted.shape));
  const data = x0Cotangent.data;
  if (clipMask) for (let i = 0; i < data.length; i++) if (clipMask[i] === 0) data[i] = 0;

  let nonZero = false;
  for (let i = 0; i < data.length && !nonZero; i++) nonZero = data[i] !== 0;
  if (!nonZero) return { gradient: Tensor.zeros(input.xt.shape), residualNorms };
  const v = x0Cotangent.reshape(input.xt.shape);
  const gradient =
    input.mode === "vjp"
      ? (await input.denoiser.vjp(input.xt, input.t, input.cond, v)).vjp
      : await perSampleJvp(input, v);
  return { gradient, residualNorms };
}

/**
 * Central finite difference J v, with the probe scaled per sample: item n moves by
 * d_n = probe / rms(v_n), so every value moves by about `probe` whatever the other samples
 * hold, and J v_n = (x0Hat(x_n + d_n v_n) - x0Hat(x_n - d_n v_n)) / (2 d_n). Both sides
 * run in one doubled-batch call when the conditioning concatenates.
 */
async function perSampleJvp(input: GradientInput, v: Tensor): Promise<Tensor> {
  const { xt, denoiser, t, cond } = input;
  const batch = xt.batch;
  const size = xt.size / batch;
  const plus = new Float32Array(xt.size);
  const minus = new Float32Array(xt.size);
  const deltas = new Float64Array(batch);
  for (let n = 0; n < batch; n++) {
    let squares = 0;
    for (let i = n * size; i < (n + 1) * size; i++) squares += v.data[i] * v.data[i];
    const rms = Math.sqrt(squares / size);
    deltas[n] = rms > 0 ? input.probe / rms : 0;

    for (let i = n * size; i < (n + 1) * size; i++) {
      plus[i] = xt.data[i] + deltas[n] * v.data[i];
      minus[i] = xt.data[i] - deltas[n] * v.data[i];
    }
  }

  const plusTensor = new Tensor(plus, xt.shape);
  const minusTensor = new Tensor(minus, xt.shape);
  const joint = concatConditioning(cond, cond, batch);
  let x0Plus: Tensor;
  let x0Minus: Tensor;
  if (joint) {
    const both = await denoiser.denoise(concatBatch([plusTensor, minusTensor]), t, joint, {
      clipX0: false,
    });
    x0Plus = new Tensor(both.x0Hat.data.subarray(0, xt.size), xt.shape);
    x0Minus = new Tensor(both.x0Hat.data.subarray(xt.size), xt.shape);
  } else {
    x0Plus = (await denoiser.denoise(plusTensor, t, cond, { clipX0: false })).x0Hat;
    x0Minus = (await denoiser.denoise(minusTensor, t, cond, { clipX0: false })).x0Hat;
  }

  const out = new Float32Array(xt.size);
  for (let n = 0; n < batch; n++) {
    if (deltas[n] === 0) continue;
    const scale = 1 / (2 * deltas[n]);
    for (let i = n * size; i < (n + 1) * size; i++)
      out[i] = scale * (x0Plus.data[i] - x0Minus.data[i]);
  }
  return new Tensor(out, xt.shape);
}
