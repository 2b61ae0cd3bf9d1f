import protobuf from "protobufjs";
import { TweedieError } from "../errors.js";

/**
 * The subset of the ONNX protobuf schema that Tweedie writes and reads, declared through
 * protobufjs reflection. Field numbers and types follow the ONNX specification (onnx.proto
 * at IR version 8, as onnx 1.12 ships it). Decoding skips messages and fields not listed. Field names are camelCase and only matter inside this process: the
 * wire format carries field numbers.
 */

type FieldSpec = [name: string, id: number, type: string, rule?: "repeated", packed?: boolean];

function message(name: string, fields: readonly FieldSpec[]): protobuf.Type {
  const type = new protobuf.Type(name);
  for (const [fieldName, id, fieldType, rule, packed] of fields) {
    const options = packed === undefined ? undefined : { packed };
    type.add(new protobuf.Field(fieldName, id, fieldType, rule ?? "optional", undefined, options));
  }
  return type;
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_DATA_TYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
} as const;

/** ONNX AttributeProto.AttributeType codes. */
export const ONNX_ATTRIBUTE_TYPE = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  graph: 5,
  floats: 6,
  ints: 7,
  strings: 8,
} as const;

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const onnx = new protobuf.Namespace("onnx");
  root.add(onnx);

  onnx.add(
    message("StringStringEntryProto", [
      ["key", 1, "string"],
      ["value", 2, "string"],
    ]),
  );
  onnx.add(
    message("OperatorSetIdProto", [
      ["domain", 1, "string"],
      ["version", 2, "int64"],
    ]),
  );

  const dimension = message("Dimension", [
    ["dimValue", 1, "int64"],
    ["dimParam", 2, "string"],
    ["denotation", 3, "string"],
  ]);
  dimension.add(new protobuf.OneOf("value", ["dimValue", "dimParam"]));
  const shape = message("TensorShapeProto", [["dim", 1, "Dimension", "repeated"]]);
  shape.add(dimension);
  onnx.add(shape);

  const tensorType = message("Tensor", [
    ["elemType", 1, "int32"],
    ["shape", 2, "TensorShapeProto"],
  ]);
  const typeProto = message("TypeProto", [
    ["tensorType", 1, "Tensor"],
    ["denotation", 6, "string"],
  ]);
  typeProto.add(tensorType);
  typeProto.add(new protobuf.OneOf("value", ["tensorType"]));
  onnx.add(typeProto);

  onnx.add(
    message("ValueInfoProto", [
      ["name", 1, "string"],
      ["type", 2, "TypeProto"],
      ["docString", 3, "string"],
    ]),
  );
  onnx.add(
    message("TensorProto", [
      ["dims", 1, "int64", "repeated", false],
      ["dataType", 2, "int32"],
      ["floatData", 4, "float", "repeated", true],
      ["int32Data", 5, "int32", "repeated", true],
      ["int64Data", 7, "int64", "repeated", true],
      ["name", 8, "string"],
      ["rawData", 9, "bytes"],
      ["doubleData", 10, "double", "repeated", true],
      ["docString", 12, "string"],
    ]),
  );
  onnx.add(
    message("AttributeProto", [
      ["name", 1, "string"],
      ["f", 2, "float"],
      ["i", 3, "int64"],
      ["s", 4, "bytes"],
      ["t", 5, "TensorProto"],
      ["g", 6, "GraphProto"],
      ["floats", 7, "float", "repeated", false],
      ["ints", 8, "int64", "repeated", false],
      ["strings", 9, "bytes", "repeated"],
      ["docString", 13, "string"],
      ["type", 20, "int32"],
      ["refAttrName", 21, "string"],
    ]),
  );
  onnx.add(
    message("NodeProto", [
      ["input", 1, "string", "repeated"],
      ["output", 2, "string", "repeated"],
      ["name", 3, "string"],
      ["opType", 4, "string"],
      ["attribute", 5, "AttributeProto", "repeated"],
      ["docString", 6, "string"],
      ["domain", 7, "string"],
    ]),
  );
  onnx.add(
    message("GraphProto", [
      ["node", 1, "NodeProto", "repeated"],
      ["name", 2, "string"],
      ["initializer", 5, "TensorProto", "repeated"],
      ["docString", 10, "string"],
      ["input", 11, "ValueInfoProto", "repeated"],
      ["output", 12, "ValueInfoProto", "repeated"],
      ["valueInfo", 13, "ValueInfoProto", "repeated"],
    ]),
  );
  onnx.add(
    message("ModelProto", [
      ["irVersion", 1, "int64"],
      ["producerName", 2, "string"],
      ["producerVersion", 3, "string"],
      ["domain", 4, "string"],
      ["modelVersion", 5, "int64"],
      ["docString", 6, "string"],
      ["graph", 7, "GraphProto"],
      ["opsetImport", 8, "OperatorSetIdProto", "repeated"],
      ["metadataProps", 14, "StringStringEntryProto", "repeated"],
    ]),
  );

  root.resolveAll();
  return root;
}

const root = buildRoot();

/** The ModelProto message type; every other message is reached through it. */
export const ModelProtoType: protobuf.Type = root.lookupType("onnx.ModelProto");

// Plain-object shapes of the decoded messages (int64 fields decoded as numbers).

export interface DimensionObject {
  dimValue?: number;
  dimParam?: string;
}
export interface TypeProtoObject {
  tensorType?: { elemType?: number; shape?: { dim?: DimensionObject[] } };
}
export interface ValueInfoObject {
  name?: string;
  type?: TypeProtoObject;
  docString?: string;
}
export interface TensorProtoObject {
  dims?: number[];
  dataType?: number;
  name?: string;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
}
export interface AttributeObject {
  name: string;
  type: number;
  f?: number;
  /** A number when decoded; a number or Long when written. */
  i?: number | object;
  s?: Uint8Array;
  t?: TensorProtoObject;
  floats?: number[];
  ints?: (number | object)[];
  strings?: Uint8Array[];
}
export interface NodeObject {
  input?: string[];
  output?: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute?: AttributeObject[];
}
export interface GraphObject {
  name?: string;
  node?: NodeObject[];
  initializer?: TensorProtoObject[];
  input?: ValueInfoObject[];
  output?: ValueInfoObject[];
  docString?: string;
}
export interface ModelObject {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  modelVersion?: number;
  docString?: string;
  graph?: GraphObject;
  opsetImport?: { domain?: string; version?: number }[];
  metadataProps?: { key?: string; value?: string }[];
}

/** Encodes a ModelProto given as a plain object. */
export function encodeModel(model: ModelObject): Uint8Array {
  const error = ModelProtoType.verify(model);
  if (error !== null) {
    throw new TweedieError("invalid ONNX ModelProto", { code: "invalid_value", received: error });
  }
  return ModelProtoType.encode(
    ModelProtoType.fromObject(model as Record<string, unknown>),
  ).finish();
}

/** Decodes ModelProto bytes into a plain object (int64 as numbers, bytes as Uint8Array). */
export function decodeModel(bytes: Uint8Array): ModelObject {
  const message = ModelProtoType.decode(bytes);
  return ModelProtoType.toObject(message, { longs: Number, arrays: true }) as ModelObject;
}

/** Returns an int64 field value: a number when it is a safe integer, else a Long. */
export function int64Value(value: number | bigint): number | object {
  if (typeof value === "number" || Number.isSafeInteger(Number(value))) return Number(value);
  const Long = protobuf.util.Long as unknown as { fromString(text: string): object };
  return Long.fromString(value.toString());
}
