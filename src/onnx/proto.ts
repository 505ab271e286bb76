/**
 * ONNX's protobuf messages, from the `onnx-proto` package (protobufjs code generated from the
 * published onnx.proto, ONNX 1.10, IR version 8). Browser-safe. This file only adapts it: the
 * enum values chainrule uses and int64 fields, which protobufjs decodes as a number or as a
 * Long ({ low, high }) depending on whether the `long` package is installed.
 */
import onnxProto from "onnx-proto";
import type { onnx as P } from "onnx-proto";

export type { P };

/** The generated message classes (`pb.ModelProto.encode(...)`, `.decode(bytes)`). */
export const pb = onnxProto.onnx;

/** TensorProto.DataType values. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType values. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** Names of TensorProto.DataType values, for messages. */
export const DATA_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(pb.TensorProto.DataType).map(([k, v]) => [v as number, k]));

/** A protobuf int64 (number, Long or a numeric string) as a JS number; NaN when it does not fit exactly. */
export function int64(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") return Number(v);
  if (v !== null && typeof v === "object" && "low" in v && "high" in v) {
    const { low, high, unsigned } = v as { low: number; high: number; unsigned?: boolean };
    const value = (unsigned ? high >>> 0 : high) * 4294967296 + (low >>> 0);
    return Number.isSafeInteger(value) ? value : NaN;
  }
  return NaN;
}
