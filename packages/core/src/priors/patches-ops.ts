import type { AttributeValue, GraphBuilder } from "../onnx/builder.js";

/**
 * Writes ONNX nodes with generated value names, so that graph code reads as a chain of
 * expressions: `const z = ops.op("MatMul", [x, w])`. Names are `<prefix><op>_<n>`; a
 * distinct prefix keeps subgraph names apart from the names of their outer graph.
 */
export class GraphOps {
  private counter = 0;

  constructor(
    readonly graph: GraphBuilder,
    private readonly prefix = "",
  ) {}

  /** Adds a node with one output and returns the output's name. */
  op(
    type: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
  ): string {
    const output = `${this.prefix}${type.toLowerCase()}_${this.counter++}`;
    return this.graph.node(type, inputs, [output], attributes);
  }

  /** Adds a node with several outputs and returns their names in order. */
  multi(
    type: string,
    inputs: readonly string[],
    outputs: number,
    attributes: Record<string, AttributeValue> = {},
  ): string[] {
    const names = Array.from(
      { length: outputs },
      (_, i) => `${this.prefix}${type.toLowerCase()}_${this.counter}_${i}`,
    );
    this.counter++;
    this.graph.node(type, inputs, names, attributes);
    return names;
  }

  /** Adds an int64 constant (1-D, or a scalar when `scalar` is set) and returns its name. */
  int64(values: readonly number[], scalar = false): string {
    const name = `${this.prefix}const_i64_${this.counter++}`;
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.graph.initializer(name, {
      dtype: "int64",
      data,
      dims: scalar ? [] : [values.length],
    });
  }

  /** Adds a float32 constant with the given dims (a scalar for dims []) and returns its name. */
  float32(values: Float32Array | readonly number[], dims: readonly number[]): string {
    const name = `${this.prefix}const_f32_${this.counter++}`;
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.graph.initializer(name, { dtype: "float32", data, dims });
  }

  /** Adds a named float32 initializer (model weights) and returns its name. */
  weights(name: string, data: Float32Array, dims: readonly number[]): string {
    return this.graph.initializer(name, { dtype: "float32", data, dims });
  }
}

/** Component weights below this are set to zero (see `flushTiny`). */
export const TINY_WEIGHT = 1e-20;

/**
 * Sets values below TINY_WEIGHT to zero. Softmax weights of far components reach the
 * float32 subnormal range, and products with subnormal operands run many times slower
 * on x86 CPUs unless flush-to-zero is on, which onnxruntime does not set by default. The
 * change to any weighted sum is below 1e-20 relative per dropped weight.
 */
export function flushTiny(ops: GraphOps, value: string): string {
  const tiny = ops.op("Less", [value, ops.float32([TINY_WEIGHT], [])]);
  return ops.op("Where", [tiny, ops.float32([0], []), value]);
}
