import { DTypeError } from "../errors.js";
import { allocateStorage, deviceActive } from "./storage.js";

/**
 * Element types. `float32` is the default; `float64` is for gradient checking and
 * scientific work; `int32` holds indices and labels; `bool` holds masks (one byte each).
 */
export type DType = "float32" | "float64" | "int32" | "bool";

/** The typed array that stores each dtype. */
export interface StorageFor {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  bool: Uint8Array;
}
export type Storage = Float32Array | Float64Array | Int32Array | Uint8Array;
export type FloatStorage = Float32Array | Float64Array;

export const DTYPES: readonly DType[] = ["bool", "int32", "float32", "float64"];

const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && x in RANK;
}

export function assertDType(op: string, dtype: unknown): DType {
  if (!isDType(dtype)) {
    throw new DTypeError(`${op}: unknown dtype ${JSON.stringify(dtype)}; use one of ${DTYPES.join(", ")}.`);
  }
  return dtype;
}

export function isFloat(dtype: DType): dtype is "float32" | "float64" {
  return dtype === "float32" || dtype === "float64";
}

/**
 * Type promotion for binary ops, as in PyTorch and NumPy: bool < int32 < float32 < float64.
 * Mixing float32 with float64 gives float64; an integer or bool tensor with a float tensor
 * gives the float dtype.
 */
export function promoteTypes(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

/**
 * Allocates zeroed storage for `size` elements of `dtype` (in the active backend's memory: with
 * the wasm backend, a pooled block of WebAssembly memory).
 */
export function allocate(dtype: DType, size: number): Storage {
  return allocateStorage(dtype, size, true);
}

/**
 * Zeroed storage that JavaScript code fills element by element: the backend's memory (wasm),
 * or a plain typed array where the backend keeps tensors on a device (webgpu), whose storage
 * JavaScript cannot index. Creation functions then move it to the device (adoptHost).
 */
export function allocateHost(dtype: DType, size: number): Storage {
  if (!deviceActive()) return allocateStorage(dtype, size, true);
  switch (dtype) {
    case "float32": return new Float32Array(size);
    case "float64": return new Float64Array(size);
    case "int32": return new Int32Array(size);
    case "bool": return new Uint8Array(size);
  }
}

/** As allocate, without zero-filling reused memory: for outputs a kernel overwrites whole. */
export function allocateUninit(dtype: DType, size: number): Storage {
  return allocateStorage(dtype, size, false);
}

/** The dtype whose storage is this typed array, or undefined. */
export function dtypeOfStorage(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Uint8Array) return "bool";
  return undefined;
}
