import { getBackend, type BinaryOp, type UnaryOp } from "../backend/index.js";
import { DTypeError } from "../errors.js";
import { allocate, isFloat, promoteTypes, type DType } from "../tensor/dtype.js";
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
    const data = allocate(dtype, 1);
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

/** Runs a unary kernel into a new tensor of `dtype`. */
export function mapUnary(x: Tensor, op: UnaryOp, dtype: DType = x.dtype, p0?: number, p1?: number): Tensor {
  const src = x.dtype === dtype || !isFloat(dtype) ? x : x.to(dtype);
  const out = allocate(dtype, x.size);
  getBackend().unary(op, src.data, out, p0, p1);
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
  const out = allocate(dtype, n);
  const direct = (t: Tensor): boolean => t.size === n || t.size === 1;
  getBackend().binary(
    op,
    a.data,
    direct(a) ? undefined : broadcastStrides(a.shape, shape),
    b.data,
    direct(b) ? undefined : broadcastStrides(b.shape, shape),
    out,
    shape,
  );
  return Tensor.fromStorage(out, shape, dtype);
}

/** The float dtype an op computes in for an input of `dtype` (ints and bools become float32). */
export function floatDType(dtype: DType): DType {
  return isFloat(dtype) ? dtype : "float32";
}
