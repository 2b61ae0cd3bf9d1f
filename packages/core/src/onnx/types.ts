/** Element types that cross the onnxruntime boundary. */
export type OnnxDtype = "float32" | "float16" | "int32" | "int64";

/**
 * A tensor value fed to or fetched from an ONNX graph. float16 data is carried as IEEE 754
 * half-precision bit patterns in a Uint16Array on every Node version, so callers never
 * depend on whether `Float16Array` exists.
 */
export type OnnxTensor =
  | { dtype: "float32"; data: Float32Array; dims: readonly number[] }
  | { dtype: "float16"; data: Uint16Array; dims: readonly number[] }
  | { dtype: "int32"; data: Int32Array; dims: readonly number[] }
  | { dtype: "int64"; data: BigInt64Array; dims: readonly number[] };

/** A dimension of a graph input or output: a fixed size or a symbolic name such as "N". */
export type OnnxDim = number | string;

/** Name, element type and shape of a graph input or output. */
export interface OnnxValueInfo {
  name: string;
  dtype: OnnxDtype;
  dims: readonly OnnxDim[];
}

export const ONNX_DTYPES: readonly OnnxDtype[] = ["float32", "float16", "int32", "int64"];

/** Number of elements a tensor with these dims holds. */
export function dimsSize(dims: readonly number[]): number {
  let size = 1;
  for (const dim of dims) size *= dim;
  return size;
}
