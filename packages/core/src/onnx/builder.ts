import { TweedieError } from "../errors.js";
import type {
  AttributeObject,
  DimensionObject,
  ModelObject,
  NodeObject,
  TensorProtoObject,
  ValueInfoObject,
} from "./proto.js";
import { encodeModel, int64Value, ONNX_ATTRIBUTE_TYPE, ONNX_DATA_TYPE } from "./proto.js";
import type { OnnxDim, OnnxDtype, OnnxTensor, OnnxValueInfo } from "./types.js";
import { dimsSize } from "./types.js";

/** A node attribute. Its key selects the ONNX attribute type that is written. */
export type AttributeValue =
  | { int: number | bigint }
  | { float: number }
  | { ints: readonly (number | bigint)[] }
  | { floats: readonly number[] }
  | { string: string }
  | { tensor: OnnxTensor };

export interface GraphBuilderOptions {
  /** Graph name stored in the model. */
  name?: string;
  /** Default-domain opset version; 17 unless given. */
  opset?: number;
  /** ONNX IR version; 8 unless given (the IR of opset 17). */
  irVersion?: number;
  producerName?: string;
  docString?: string;
}

/**
 * Builds an ONNX model from TypeScript: graph inputs and outputs with element type and
 * dims (sizes or symbolic names), initializers from typed arrays, and nodes with
 * attributes. `toBytes()` returns the serialized ModelProto that onnxruntime loads.
 */
export class GraphBuilder {
  readonly name: string;
  readonly opset: number;
  readonly irVersion: number;
  private readonly producerName: string;
  private readonly docString: string | undefined;
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly initializers: TensorProtoObject[] = [];
  private readonly nodes: NodeObject[] = [];
  private readonly metadata: { key: string; value: string }[] = [];
  private readonly names = new Set<string>();

  constructor(options: GraphBuilderOptions = {}) {
    this.name = options.name ?? "graph";
    this.opset = options.opset ?? 17;
    this.irVersion = options.irVersion ?? 8;
    this.producerName = options.producerName ?? "tweedie";
    this.docString = options.docString;
  }

  /** Declares a graph input. Returns its name. */
  input(name: string, dtype: OnnxDtype, dims: readonly OnnxDim[]): string {
    this.claim(name);
    this.inputs.push({ name, dtype, dims: [...dims] });
    return name;
  }

  /** Declares a graph output; some node must produce a value of this name. */
  output(name: string, dtype: OnnxDtype, dims: readonly OnnxDim[]): string {
    this.outputs.push({ name, dtype, dims: [...dims] });
    return name;
  }

  /** Adds a constant tensor stored in the model (raw_data, little-endian). Returns its name. */
  initializer(name: string, tensor: OnnxTensor): string {
    this.claim(name);
    this.initializers.push({ ...tensorProto(tensor, name) });
    return name;
  }

  /**
   * Adds a node. Outputs are value names that later nodes or graph outputs refer to.
   * Returns the first output name so that chains read as expressions.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    domain?: string,
  ): string {
    for (const output of outputs) this.claim(output);
    const node: NodeObject = {
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([name, value]) => attributeProto(name, value)),
    };
    if (domain !== undefined) node.domain = domain;
    this.nodes.push(node);
    return outputs[0];
  }

  /** Stores a key/value pair in the model's metadata_props. */
  meta(key: string, value: string): this {
    this.metadata.push({ key, value });
    return this;
  }

  /** Returns the ModelProto as a plain object, checking that every graph output is produced. */
  toModel(): ModelObject {
    const produced = new Set<string>([
      ...this.inputs.map((v) => v.name),
      ...this.initializers.map((t) => t.name ?? ""),
      ...this.nodes.flatMap((n) => n.output ?? []),
    ]);
    for (const output of this.outputs) {
      if (!produced.has(output.name)) {
        throw new TweedieError("graph output is not produced by any node", {
          code: "missing",
          path: [this.name, output.name],
          expected: "an input, initializer or node output of that name",
          received: output.name,
        });
      }
    }
    const model: ModelObject = {
      irVersion: this.irVersion,
      producerName: this.producerName,
      opsetImport: [{ domain: "", version: this.opset }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfoProto),
        output: this.outputs.map(valueInfoProto),
      },
      metadataProps: this.metadata,
    };
    if (this.docString !== undefined) model.docString = this.docString;
    return model;
  }

  /** Serializes the model into ModelProto bytes. */
  toBytes(): Uint8Array {
    return encodeModel(this.toModel());
  }

  private claim(name: string): void {
    if (name === "" || this.names.has(name)) {
      throw new TweedieError("graph value names must be unique and non-empty", {
        code: "invalid_value",
        path: [this.name, name],
        expected: "a name not used before in this graph",
        received: name,
      });
    }
    this.names.add(name);
  }
}

function valueInfoProto(value: OnnxValueInfo): ValueInfoObject {
  const dim: DimensionObject[] = value.dims.map((d) =>
    typeof d === "number" ? { dimValue: d } : { dimParam: d },
  );
  return {
    name: value.name,
    type: { tensorType: { elemType: ONNX_DATA_TYPE[value.dtype], shape: { dim } } },
  };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Returns the bytes of a typed array in little-endian order, as ONNX raw_data requires. */
function littleEndianBytes(tensor: OnnxTensor): Uint8Array {
  const { data } = tensor;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return bytes;
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  return bytes;
}

/** Converts a tensor value into a TensorProto object with raw_data. */
export function tensorProto(tensor: OnnxTensor, name?: string): TensorProtoObject {
  const expected = dimsSize(tensor.dims);
  if (tensor.data.length !== expected) {
    throw new TweedieError("initializer data length does not match its dims", {
      code: "shape_mismatch",
      path: name === undefined ? [] : [name],
      expected: `${expected} values for dims [${tensor.dims.join(", ")}]`,
      received: tensor.data.length,
    });
  }
  const proto: TensorProtoObject = {
    dims: [...tensor.dims],
    dataType: ONNX_DATA_TYPE[tensor.dtype],
    rawData: littleEndianBytes(tensor),
  };
  if (name !== undefined) proto.name = name;
  return proto;
}

function attributeProto(name: string, value: AttributeValue): AttributeObject {
  if ("int" in value) return { name, type: ONNX_ATTRIBUTE_TYPE.int, i: int64Value(value.int) };
  if ("float" in value) return { name, type: ONNX_ATTRIBUTE_TYPE.float, f: value.float };
  if ("ints" in value)
    return { name, type: ONNX_ATTRIBUTE_TYPE.ints, ints: value.ints.map(int64Value) };
  if ("floats" in value)
    return { name, type: ONNX_ATTRIBUTE_TYPE.floats, floats: [...value.floats] };
  if ("string" in value) {
    return { name, type: ONNX_ATTRIBUTE_TYPE.string, s: new TextEncoder().encode(value.string) };
  }
  return { name, type: ONNX_ATTRIBUTE_TYPE.tensor, t: tensorProto(value.tensor) };
}
