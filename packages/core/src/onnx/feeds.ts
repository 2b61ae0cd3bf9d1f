/** Conversions between core Tensors and graph feeds, and batch chunking for static-batch graphs. */
import { TweedieError } from "../errors.js";
import { Tensor } from "../tensor.js";
import type { OnnxSession } from "./adapter.js";
import { runSession } from "./adapter.js";
import { float32ToFloat16Bits, fromFloat16Bits, toFloat16Bits } from "./float16.js";
import type { OnnxDtype, OnnxTensor } from "./types.js";

/** Converts a float32 Tensor into a feed of `dtype` (float32, or float16 bit patterns). */
export function tensorFeed(tensor: Tensor, dtype: OnnxDtype): OnnxTensor {
  const dims = [...tensor.shape];
  if (dtype === "float16") return { dtype, data: toFloat16Bits(tensor.data), dims };
  return { dtype: "float32", data: tensor.data, dims };
}

/** Builds a feed of `dtype` holding `values`; integer types round to the nearest integer. */
export function numberFeed(
  values: ArrayLike<number>,
  dtype: OnnxDtype,
  dims: readonly number[],
): OnnxTensor {
  switch (dtype) {
    case "float32":
      return { dtype, data: Float32Array.from(values), dims };
    case "float16":
      return { dtype, data: toFloat16Bits(values), dims };
    case "int32":
      return { dtype, data: Int32Array.from(values, (v) => Math.round(v)), dims };
    case "int64":
      return {
        dtype,
        data: BigInt64Array.from(Array.from(values, (v) => BigInt(Math.round(v)))),
        dims,
      };
  }
}

/**
 * Builds a feed of `dtype` with every element equal to `value`, as `numberFeed` would from
 * an array of copies, without building that array (timestep and label feeds of every run).
 */
export function filledFeed(value: number, dtype: OnnxDtype, dims: readonly number[]): OnnxTensor {
  let size = 1;
  for (const dim of dims) size *= dim;
  switch (dtype) {
    case "float32":
      return { dtype, data: new Float32Array(size).fill(value), dims };
    case "float16":
      return { dtype, data: new Uint16Array(size).fill(float32ToFloat16Bits(value)), dims };
    case "int32":
      return { dtype, data: new Int32Array(size).fill(Math.round(value)), dims };
    case "int64":
      return { dtype, data: new BigInt64Array(size).fill(BigInt(Math.round(value))), dims };
  }
}

/** Converts a float32 or float16 graph output into a Tensor. */
export function outputTensor(value: OnnxTensor, file: string, name: string): Tensor {
  if (value.dtype === "float32") return new Tensor(value.data, value.dims);
  if (value.dtype === "float16") return new Tensor(fromFloat16Bits(value.data), value.dims);
  throw new TweedieError(`${file}: output ${name} has element type ${value.dtype}`, {
    code: "dtype_mismatch",
    path: [file, name],
    expected: "float32 or float16",
    received: value.dtype,
  });
}

type AnyTypedArray = OnnxTensor["data"];

function allocateLike(data: AnyTypedArray, length: number): AnyTypedArray {
  const Constructor = data.constructor as new (n: number) => AnyTypedArray;
  return new Constructor(length);
}

/** Items [start, start + count) of a batch-first tensor, padded to `size` items by repeating the last one. */
function batchSlice(
  tensor: OnnxTensor,
  batch: number,
  start: number,
  count: number,
  size: number,
): OnnxTensor {
  const stride = tensor.data.length / batch;
  const out = allocateLike(tensor.data, size * stride);
  const source = tensor.data as unknown as {
    subarray(a: number, b: number): ArrayLike<number> & ArrayLike<bigint>;
  };
  const target = out as unknown as {
    set(values: ArrayLike<number> | ArrayLike<bigint>, offset: number): void;
  };
  target.set(source.subarray(start * stride, (start + count) * stride), 0);
  const last = source.subarray((start + count - 1) * stride, (start + count) * stride);
  for (let i = count; i < size; i++) target.set(last, i * stride);
  return { ...tensor, data: out, dims: [size, ...tensor.dims.slice(1)] } as OnnxTensor;
}

function concatBatches(parts: readonly OnnxTensor[], counts: readonly number[]): OnnxTensor {
  const first = parts[0];
  const itemSize = first.data.length / first.dims[0];
  const total = counts.reduce((a, b) => a + b, 0);
  const out = allocateLike(first.data, total * itemSize);
  const target = out as unknown as {
    set(values: ArrayLike<number> | ArrayLike<bigint>, offset: number): void;
  };
  let offset = 0;
  parts.forEach((part, i) => {
    const source = part.data as unknown as {
      subarray(a: number, b: number): ArrayLike<number> & ArrayLike<bigint>;
    };
    target.set(source.subarray(0, counts[i] * itemSize), offset);
    offset += counts[i] * itemSize;
  });
  return { ...first, data: out, dims: [total, ...first.dims.slice(1)] } as OnnxTensor;
}

/**
 * Runs a session on `batch` samples. `perSample` feeds have the batch as their first dim;
 * `shared` feeds go to every run unchanged. A graph exported with a fixed batch size
 * (`staticBatch`) runs in chunks of that size, the last one padded by repeating its last
 * sample, and the padded results are dropped.
 */
export async function runBatched(
  session: OnnxSession,
  perSample: Readonly<Record<string, OnnxTensor>>,
  shared: Readonly<Record<string, OnnxTensor>>,
  batch: number,
  staticBatch: number | null,
  outputNames: readonly string[],
): Promise<Record<string, OnnxTensor>> {
  if (staticBatch === null || staticBatch === batch) {
    return runSession(session, { ...perSample, ...shared }, outputNames);
  }
  const results: Record<string, OnnxTensor>[] = [];
  const counts: number[] = [];
  for (let start = 0; start < batch; start += staticBatch) {
    const count = Math.min(staticBatch, batch - start);
    const feeds: Record<string, OnnxTensor> = { ...shared };
    for (const [name, tensor] of Object.entries(perSample)) {
      feeds[name] = batchSlice(tensor, batch, start, count, staticBatch);
    }
    results.push(await runSession(session, feeds, outputNames));
    counts.push(count);
  }
  const merged: Record<string, OnnxTensor> = {};
  for (const name of outputNames)
    merged[name] = concatBatches(
      results.map((r) => r[name]),
      counts,
    );
  return merged;
}
