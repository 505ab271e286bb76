import { getBackend, type BinaryOp, type UnaryOp } from "../backend/index.js";
import { DTypeError } from "../errors.js";
import { deviceActive } from "../tensor/storage.js";
import { allocate, allocateHost, allocateUninit, isFloat, promoteTypes, type DType, type Storage } from "../tensor/dtype.js";
import { broadcastShapes, broadcastStrides, shapesEqual, sizeOf } from "../tensor/shape.js";
import { Tensor, assertTensor, type TensorLike } from "../tensor/tensor.js";

const constants: Record<DType, Map<number, Tensor>> = { float32: new Map(), float64: new Map(), int32: new Map(), bool: new Map() };

/**
 * A 0-d constant tensor holding `value` (the plain numbers in `x.mul(2)`). Constants are
 * immutable and never require grad, so recent ones are shared instead of allocated per op.
 */
export function scalarTensor(value: number, dtype: DType): Tensor {
  const cache = constants[dtype];
  let t = cache.get(value);
  if (t === undefined || Object.is(value, -0)) {
    // A host array on every backend: the webgpu kernels take a one-element host operand as a parameter.
    const data = deviceActive() ? allocateHost(dtype, 1) : allocate(dtype, 1);
    data[0] = value;
    t = Tensor.fromStorage(data, [], dtype);
    if (cache.size >= 4096) cache.clear();
    if (!Object.is(value, -0)) cache.set(value, t);
  }
  return t;
}

/** The dtype a plain number takes next to a tensor of `dtype` (PyTorch's rule: it does not widen a float tensor). */
function dtypeForNumber(op: string, value: number, dtype: DType): DType {
  if (isFloat(dtype)) return dtype;
  if (!Number.isInteger(value)) return "float32";
  if (value > 2147483647 || value < -2147483648) {
    throw new DTypeError(`${op}: the number ${value} does not fit in int32, the dtype of the other operand; cast the tensor first, e.g. x.to("float64").`);
  }
  return dtype === "bool" ? "int32" : dtype;
}

/** Both operands of a binary op as tensors of one promoted dtype. */
export function binaryOperands(op: string, a: TensorLike, b: TensorLike, minimum?: DType): [Tensor, Tensor, DType] {
  if (typeof a === "number" && typeof b === "number") {
    throw new DTypeError(`${op}: at least one operand must be a Tensor, got two numbers.`);
  }
  if (typeof a !== "number") assertTensor(op, "a", a);
  if (typeof b !== "number") assertTensor(op, "b", b);
  let dtype =
    typeof a === "number" ? dtypeForNumber(op, a, (b as Tensor).dtype)
    : typeof b === "number" ? dtypeForNumber(op, b, a.dtype)
    : promoteTypes(a.dtype, b.dtype);
  if (minimum) dtype = promoteTypes(dtype, minimum);
  const ta = typeof a === "number" ? scalarTensor(a, dtype) : a.dtype === dtype ? a : a.to(dtype);
  const tb = typeof b === "number" ? scalarTensor(b, dtype) : b.dtype === dtype ? b : b.to(dtype);
  return [ta, tb, dtype];
}

/** Outputs of at most this many bytes are carved out of a shared slab (see allocateOutput). */
const SMALL_BYTES = 64;
const SLAB_BYTES = 4096;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * A zeroed array for an op's output. Tiny ones (≤ 64 bytes) are views into a shared 4 KiB
 * slab instead of arrays of their own: V8 gives every `new Float32Array(n)` its own
 * ArrayBuffer, which makes a tiny tensor cost 3–4× as much to create and to collect, and a
 * graph of many small ops is dominated by that. Slab space is never reused (so it stays zeroed),
 * and a slab is freed once no view into it is alive: at worst a long-lived tiny tensor keeps
 * 4 KiB alive.
 */
export function allocateOutput(dtype: DType, n: number, zero = true): Storage {
  const bytes = dtype === "float64" ? 8 * n : dtype === "bool" ? n : 4 * n;
  if (bytes > SMALL_BYTES || n === 0 || deviceActive()) return zero ? allocate(dtype, n) : allocateUninit(dtype, n);
  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const offset = slabUsed;
  slabUsed += (bytes + 7) & ~7; // keeps every view 8-byte aligned (float64 needs it)
  switch (dtype) {
    case "float32":
      return new Float32Array(slab, offset, n);
    case "float64":
      return new Float64Array(slab, offset, n);
    case "int32":
      return new Int32Array(slab, offset, n);
    case "bool":
      return new Uint8Array(slab, offset, n);
  }
}

/** Runs a unary kernel into a new tensor of `dtype`. */
export function mapUnary(x: Tensor, op: UnaryOp, dtype: DType = x.dtype, p0?: number, p1?: number): Tensor {
  const src = x.dtype === dtype || !isFloat(dtype) ? x : x.to(dtype);
  const out = allocateOutput(dtype, x.size, false);
  getBackend().unary(op, src._buf, out, p0, p1);
  return Tensor.fromStorage(out, x.shape, dtype);
}

/** The broadcast shape of a and b, with the common cases (equal shapes, a scalar side) found without allocating. */
export function binaryShape(name: string, a: Tensor, b: Tensor): readonly number[] {
  if (shapesEqual(a.shape, b.shape)) return a.shape;
  if (b.size === 1 && b.ndim <= a.ndim) return a.shape;
  if (a.size === 1 && a.ndim <= b.ndim) return b.shape;
  return broadcastShapes(name, a.shape, b.shape);
}

/** Runs a broadcasting binary kernel into a new tensor of `dtype`. */
export function mapBinary(name: string, op: BinaryOp, a: Tensor, b: Tensor, dtype: DType): Tensor {
  const shape = binaryShape(name, a, b);
  const n = sizeOf(shape);
  const out = allocateOutput(dtype, n, false);
  // Strides only where an operand is broadcast along some axes (not same-size, not a scalar).
  const aSize = a.size;
  const bSize = b.size;
  getBackend().binary(
    op,
    a._buf,
    aSize === n || aSize === 1 ? undefined : broadcastStrides(a.shape, shape),
    b._buf,
    bSize === n || bSize === 1 ? undefined : broadcastStrides(b.shape, shape),
    out,
    shape,
  );
  return Tensor.fromStorage(out, shape, dtype);
}

/** The float dtype an op computes in for an input of `dtype` (ints and bools become float32). */
export function floatDType(dtype: DType): DType {
  return isFloat(dtype) ? dtype : "float32";
}
