import { IndexError, ShapeError, ValueError, fmtShape } from "../errors.js";

export type Shape = readonly number[];

/** Number of elements of a shape (1 for the 0-d shape `[]`). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-order) strides of a contiguous tensor. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The most elements one tensor can hold: the longest typed array JavaScript engines allocate (2³²). */
export const MAX_ELEMENTS = 2 ** 32;

export function assertValidShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape)) {
    const got = typeof shape === "number" ? String(shape) : shape === null ? "null" : typeof shape;
    throw new ShapeError(`${op}: the shape must be an array of non-negative integers, got ${got}${typeof shape === "number" ? `; write ${op}([${shape}])` : ""}.`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid shape ${fmtShape(shape)}; dimensions must be non-negative integers.`);
    }
  }
  const size = sizeOf(shape);
  if (size > MAX_ELEMENTS) {
    throw new ShapeError(`${op}: shape ${fmtShape(shape)} has ${size} elements, more than one tensor can hold (${MAX_ELEMENTS}); use a smaller shape or split the work into batches.`);
  }
}

/** NumPy broadcasting: the shape both operands stretch to, or a ShapeError naming the op. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together ` +
          `(axis ${i - n} has sizes ${da} and ${db}; sizes must match or one of them must be 1). ` +
          `Reshape or unsqueeze one operand so that trailing axes line up.`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides for reading an operand of shape `shape` as if it had the broadcast shape `outShape`:
 * stretched axes get stride 0.
 */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  const strides = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < shape.length; i++) strides[i + offset] = shape[i] === 1 ? 0 : own[i]!;
  return strides;
}

/** Resolves a possibly negative axis against `ndim`, or throws an IndexError naming the op. */
export function normalizeAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    const range = ndim === 0 ? "none: the tensor is 0-d" : `[${-ndim}, ${ndim - 1}]`;
    throw new IndexError(`${op}: axis ${axis} is out of range for a tensor with ${ndim} dimensions (valid: ${range}).`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** Resolves `axis` (undefined = all axes, a number or a list) to sorted unique axes. */
export function normalizeAxes(op: string, axis: number | readonly number[] | undefined, ndim: number): number[] {
  if (axis === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : axis;
  const axes = list.map((a) => normalizeAxis(op, a, ndim));
  const unique = [...new Set(axes)].sort((x, y) => x - y);
  if (unique.length !== axes.length) throw new ValueError(`${op}: axis list ${JSON.stringify(list)} repeats an axis (negative axes count from the end, so -1 and ${ndim - 1} are the same); list each axis once.`);
  return unique;
}

/** Resolves a reshape target with at most one -1. */
export function resolveShape(op: string, from: Shape, to: readonly number[]): number[] {
  const size = sizeOf(from);
  let infer = -1;
  let known = 1;
  to.forEach((d, i) => {
    if (d === -1) {
      if (infer >= 0) throw new ShapeError(`${op}: only one dimension can be -1, got ${fmtShape(to)}.`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid target shape ${fmtShape(to)}; use non-negative integers and at most one -1.`);
    } else known *= d;
  });
  const out = [...to];
  if (infer >= 0) {
    if (known === 0 || size % known !== 0) {
      throw new ShapeError(`${op}: cannot reshape ${fmtShape(from)} (${size} elements) to ${fmtShape(to)}: ${size} is not a multiple of ${known}, the product of the other sizes, so no size fits the -1. Pick sizes whose product divides ${size}.`);
    }
    out[infer] = size / known;
  }
  if (sizeOf(out) !== size) {
    throw new ShapeError(
      `${op}: cannot reshape ${fmtShape(from)} (${size} elements) to ${fmtShape(to)} (${sizeOf(out)} elements); the element counts must match.`,
    );
  }
  return out;
}
