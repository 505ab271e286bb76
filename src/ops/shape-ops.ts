import { getBackend } from "../backend/index.js";
import type { InputGrads } from "../autograd/node.js";
import { defineOp } from "../autograd/define-op.js";
import { DTypeError, IndexError, ShapeError, ValueError, fmtShape } from "../errors.js";
import { allocate, allocateUninit, assertDType, isFloat, type DType } from "../tensor/dtype.js";
import { deviceActive } from "../tensor/storage.js";
import { normalizeAxes, normalizeAxis, resolveShape, sizeOf, stridesOf, assertValidShape } from "../tensor/shape.js";
import { Tensor, assertTensor } from "../tensor/tensor.js";
import { sumToShape } from "../autograd/sum-to-shape.js";

// ------------------------------------------------------------------ reshape family (shares storage)

const reshapeOp = defineOp<[Tensor, readonly number[]], readonly number[]>({
  name: "reshape",
  forward(ctx, x, shape) {
    ctx.save(x.shape);
    return Tensor.fromStorage(x._buf, shape, x.dtype);
  },
  backward: (ctx, gradOut): InputGrads => [reshape(gradOut, ctx.saved)],
  describe: (_x, shape) => ({ shape }),
});

/** The same elements in a new shape (one entry may be −1: inferred). Shares storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  assertTensor("reshape", "x", x);
  return reshapeOp(x, resolveShape("reshape", x.shape, shape));
}

/** Flattens axes startDim…endDim into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  assertTensor("flatten", "x", x);
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeAxis("flatten", startDim, x.ndim);
  const e = normalizeAxis("flatten", endDim, x.ndim);
  if (s > e) throw new IndexError(`flatten: startDim (${startDim}) comes after endDim (${endDim}).`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Removes size-1 axes (all of them, or the given ones, which must have size 1). */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  assertTensor("squeeze", "x", x);
  const axes = axis === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normalizeAxes("squeeze", axis, x.ndim);
  for (const a of axes) {
    if (x.shape[a] !== 1) throw new ShapeError(`squeeze: axis ${a} of shape ${fmtShape(x.shape)} has size ${x.shape[a]}, not 1; only size-1 axes can be removed (reshape changes sizes).`);
  }
  return reshape(x, x.shape.filter((_, i) => !axes.includes(i)));
}

/** Inserts a size-1 axis at `axis` (−1 appends). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  assertTensor("unsqueeze", "x", x);
  const a = normalizeAxis("unsqueeze", axis, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

// ------------------------------------------------------------------ permute / transpose

const permuteOp = defineOp<[Tensor, readonly number[]], readonly number[]>({
  name: "permute",
  forward(ctx, x, dims) {
    ctx.save(dims);
    const strides = stridesOf(x.shape);
    const shape = dims.map((d) => x.shape[d]!);
    const out = allocate(x.dtype, x.size);
    getBackend().copyStrided(x._buf, 0, dims.map((d) => strides[d]!), shape, out);
    return Tensor.fromStorage(out, shape, x.dtype);
  },
  backward(ctx, gradOut) {
    const dims = ctx.saved;
    const inverse = new Array<number>(dims.length);
    dims.forEach((d, i) => (inverse[d] = i));
    return [permute(gradOut, inverse)];
  },
  describe: (_x, dims) => ({ dims }),
});

/** Reorders axes: output axis k is input axis dims[k]. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  assertTensor("permute", "x", x);
  const norm = dims.map((d) => normalizeAxis("permute", d, x.ndim));
  if (norm.length !== x.ndim || new Set(norm).size !== norm.length) {
    throw new ShapeError(`permute: dims ${fmtShape(dims)} must list each of the ${x.ndim} axes of shape ${fmtShape(x.shape)} exactly once.`);
  }
  return permuteOp(x, norm);
}

/** Swaps two axes (by default the last two: the matrix transpose). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  assertTensor("transpose", "x", x);
  if (x.ndim < 2 && dim0 === -2 && dim1 === -1) return reshape(x, x.shape);
  const a = normalizeAxis("transpose", dim0, x.ndim);
  const b = normalizeAxis("transpose", dim1, x.ndim);
  const dims = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, dims);
}

// ------------------------------------------------------------------ expand

const expandOp = defineOp<[Tensor, readonly number[]], readonly number[]>({
  name: "expand",
  forward(ctx, x, shape) {
    ctx.save(x.shape);
    const own = stridesOf(x.shape);
    const lead = shape.length - x.ndim;
    const strides = shape.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : own[i - lead]!));
    const out = allocate(x.dtype, sizeOf(shape));
    getBackend().copyStrided(x._buf, 0, strides, shape, out);
    return Tensor.fromStorage(out, shape, x.dtype);
  },
  // A broadcast copies a value to many places: their gradients sum back (the copy gate).
  backward: (ctx, gradOut): InputGrads => [sumToShape(gradOut, ctx.saved, "expand")],
  describe: (_x, shape) => ({ shape }),
});

/**
 * Broadcasts x to `shape` (NumPy rules: new leading axes, size-1 axes stretched; −1 keeps a size).
 * Unlike PyTorch the result is a copy, so it can be written safely.
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  assertTensor("expand", "x", x);
  const lead = shape.length - x.ndim;
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead]! : d));
  assertValidShape("expand", target);
  const ok = lead >= 0 && x.shape.every((d, i) => d === 1 || d === target[i + lead]);
  if (!ok) {
    throw new ShapeError(`expand: cannot broadcast shape ${fmtShape(x.shape)} to ${fmtShape(shape)}; each axis must match or have size 1, and the target needs at least as many axes.`);
  }
  if (lead === 0 && x.shape.every((d, i) => d === target[i])) return reshape(x, x.shape);
  return expandOp(x, target);
}

// ------------------------------------------------------------------ boxes: slice and pad are each other's adjoint

/** A strided box inside a larger shape: per axis a start, a step and a length. */
interface Box {
  readonly starts: readonly number[];
  readonly steps: readonly number[];
  readonly lens: readonly number[];
}

function boxView(shape: readonly number[], box: Box): { offset: number; strides: number[] } {
  const strides = stridesOf(shape);
  let offset = 0;
  for (let i = 0; i < shape.length; i++) offset += box.starts[i]! * strides[i]!;
  return { offset, strides: strides.map((s, i) => s * box.steps[i]!) };
}

const sliceBoxOp = defineOp<[Tensor, Box], [readonly number[], Box]>({
  name: "slice",
  forward(ctx, x, box) {
    ctx.save([x.shape, box]);
    const { offset, strides } = boxView(x.shape, box);
    const out = allocate(x.dtype, sizeOf(box.lens));
    getBackend().copyStrided(x._buf, offset, strides, box.lens, out);
    return Tensor.fromStorage(out, box.lens, x.dtype);
  },
  // The gradient lands where the slice was read from; zero elsewhere.
  backward: (ctx, gradOut): InputGrads => [padBoxOp(gradOut, ctx.saved[0], ctx.saved[1], 0)],
  describe: (_x, box) => ({ starts: box.starts, steps: box.steps, lens: box.lens }),
});

const padBoxOp = defineOp<[Tensor, readonly number[], Box, number], Box>({
  name: "pad",
  forward(ctx, x, shape, box, value) {
    ctx.save(box);
    const out = allocate(x.dtype, sizeOf(shape));
    if (value !== 0) out.fill(value);
    const { offset, strides } = boxView(shape, box);
    getBackend().scatterStrided(x._buf, out, offset, strides, box.lens, false);
    return Tensor.fromStorage(out, shape, x.dtype);
  },
  backward: (ctx, gradOut): InputGrads => [sliceBoxOp(gradOut, ctx.saved)],
  describe: (_x, shape, box, value) => ({ shape, starts: box.starts, value }),
});

/**
 * Elements start ≤ i < end (every `step`-th) along `axis`, like `x[start:end:step]`. Negative
 * start/end count from the end and out-of-range bounds are clipped, as in Python.
 */
export function slice(x: Tensor, axis: number, start = 0, end?: number, step = 1): Tensor {
  assertTensor("slice", "x", x);
  const a = normalizeAxis("slice", axis, x.ndim);
  if (!Number.isInteger(step) || step < 1) throw new ValueError(`slice: step must be a positive integer, got ${step}.`);
  const n = x.shape[a]!;
  const clip = (v: number): number => Math.min(n, Math.max(0, v < 0 ? v + n : v));
  const s = clip(start);
  const e = end === undefined ? n : clip(end);
  const len = Math.max(0, Math.ceil((e - s) / step));
  const box: Box = {
    starts: x.shape.map((_, i) => (i === a ? s : 0)),
    steps: x.shape.map((_, i) => (i === a ? step : 1)),
    lens: x.shape.map((d, i) => (i === a ? len : d)),
  };
  return sliceBoxOp(x, box);
}

/** `length` elements from `start` along `axis` (torch.narrow); the range must be inside the axis. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  assertTensor("narrow", "x", x);
  const a = normalizeAxis("narrow", axis, x.ndim);
  if (start < 0 || length < 0 || start + length > x.shape[a]!) {
    throw new IndexError(`narrow: range [${start}, ${start + length}) is outside axis ${a} of shape ${fmtShape(x.shape)}; start must be ≥ 0 and start + length ≤ ${x.shape[a]} (use slice for Python-style clipped bounds).`);
  }
  return slice(x, a, start, start + length);
}

/** Splits along `axis` into chunks of `size` (the last may be smaller) or of the listed sizes. */
export function split(x: Tensor, sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
  assertTensor("split", "x", x);
  const a = normalizeAxis("split", axis, x.ndim);
  const n = x.shape[a]!;
  let sizes: number[];
  if (typeof sizeOrSections === "number") {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections < 1) throw new ValueError(`split: chunk size must be a positive integer, got ${sizeOrSections}.`);
    sizes = [];
    for (let s = 0; s < n; s += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - s));
  } else {
    sizes = [...sizeOrSections];
    const total = sizes.reduce((p, q) => p + q, 0);
    if (total !== n || sizes.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new ShapeError(`split: sizes ${fmtShape(sizes)} must be non-negative integers summing to ${n}, the size of axis ${a} of shape ${fmtShape(x.shape)}.`);
    }
  }
  let offset = 0;
  return sizes.map((s) => {
    const part = slice(x, a, offset, offset + s);
    offset += s;
    return part;
  });
}

/**
 * Pads with a constant: `padding[i] = [before, after]` for axis i (NumPy's per-axis form; list
 * fewer pairs than axes to pad only the leading axes, or give one pair per axis).
 */
export function pad(x: Tensor, padding: readonly (readonly [number, number])[], value = 0): Tensor {
  assertTensor("pad", "x", x);
  if (padding.length > x.ndim) throw new ShapeError(`pad: ${padding.length} [before, after] pairs for a tensor with ${x.ndim} axes (shape ${fmtShape(x.shape)}).`);
  const pairs = x.shape.map((_, i) => padding[i] ?? [0, 0]);
  for (const [b, e] of pairs) {
    if (!Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < 0) throw new ValueError(`pad: padding amounts must be non-negative integers, got ${JSON.stringify(padding)}.`);
  }
  const shape = x.shape.map((d, i) => d + pairs[i]![0] + pairs[i]![1]);
  return padBoxOp(x, shape, { starts: pairs.map((p) => p[0]), steps: x.shape.map(() => 1), lens: x.shape }, value);
}

// ------------------------------------------------------------------ concat / stack

const concatOp = defineOp<[readonly Tensor[], number], [number, number[]]>({
  name: "concat",
  forward(ctx, tensors, axis) {
    const first = tensors[0]!;
    const sizes = tensors.map((t) => t.shape[axis]!);
    ctx.save([axis, sizes]);
    const shape = first.shape.map((d, i) => (i === axis ? sizes.reduce((p, q) => p + q, 0) : d));
    const out = allocate(first.dtype, sizeOf(shape));
    const strides = stridesOf(shape);
    let start = 0;
    for (const t of tensors) {
      getBackend().scatterStrided(t._buf, out, start * strides[axis]!, strides, t.shape, false);
      start += t.shape[axis]!;
    }
    return Tensor.fromStorage(out, shape, first.dtype);
  },
  backward(ctx, gradOut) {
    const [axis, sizes] = ctx.saved;
    let start = 0;
    return sizes.map((s, i) => {
      const g = ctx.needsInputGrad[i] ? slice(gradOut, axis, start, start + s) : null;
      start += s;
      return g;
    });
  },
  describe: (_t, axis) => ({ axis }),
});

function checkSameDType(op: string, tensors: readonly Tensor[]): DType {
  const dtype = tensors[0]!.dtype;
  const other = tensors.find((t) => t.dtype !== dtype);
  if (other) throw new DTypeError(`${op}: all tensors must have one dtype, got ${dtype} and ${other.dtype}; cast with .to(dtype) first.`);
  return dtype;
}

/** Joins tensors along an existing axis; all other axes must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new ValueError(`concat: expected a non-empty list of tensors.`);
  tensors.forEach((t, i) => assertTensor("concat", `tensors[${i}]`, t));
  checkSameDType("concat", tensors);
  const first = tensors[0]!;
  const a = normalizeAxis("concat", axis, first.ndim);
  tensors.forEach((t, i) => {
    if (t.ndim !== first.ndim || t.shape.some((d, j) => j !== a && d !== first.shape[j])) {
      throw new ShapeError(`concat: tensors[${i}] has shape ${fmtShape(t.shape)} but tensors[0] has ${fmtShape(first.shape)}; all axes except the concat axis ${a} must match.`);
    }
  });
  return concatOp(tensors, a);
}

/** Joins same-shaped tensors along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new ValueError(`stack: expected a non-empty list of tensors.`);
  tensors.forEach((t, i) => {
    assertTensor("stack", `tensors[${i}]`, t);
    if (t.ndim !== tensors[0]!.ndim || t.shape.some((d: number, j: number) => d !== tensors[0]!.shape[j])) {
      throw new ShapeError(`stack: tensors[${i}] has shape ${fmtShape(t.shape)} but tensors[0] has ${fmtShape(tensors[0]!.shape)}; stack needs equal shapes.`);
    }
  });
  const a = normalizeAxis("stack", axis, tensors[0]!.ndim + 1);
  return concat(tensors.map((t) => unsqueeze(t, a)), a);
}

// ------------------------------------------------------------------ gather / indexSelect

function checkIndex(op: string, index: Tensor, bound: number, axis: number, shape: readonly number[]): Int32Array {
  if (index.dtype !== "int32") throw new DTypeError(`${op}: the index must be an int32 tensor, got ${index.dtype}. Create it with { dtype: "int32" } or cast with .to("int32").`);
  index._checkable(op, "index");
  const data = index._hostValues() as Int32Array;
  for (let i = 0; i < data.length; i++) {
    const k = data[i]!;
    if (k < 0 || k >= bound) throw new IndexError(`${op}: index ${k} (at flat position ${i}) is out of range for axis ${axis} of size ${bound} (shape ${fmtShape(shape)}); valid indices are 0…${bound - 1}.`);
  }
  return data;
}

function axisView(shape: readonly number[], axis: number): [number, number] {
  return [sizeOf(shape.slice(0, axis)), sizeOf(shape.slice(axis + 1))];
}

const gatherOp = defineOp<[Tensor, number, Tensor], [Tensor, number, readonly number[]]>({
  name: "gather",
  forward(ctx, x, axis, index) {
    ctx.save([index, axis, x.shape]);
    const [outer, inner] = axisView(x.shape, axis);
    const out = allocate(x.dtype, index.size);
    getBackend().gather(x._buf, index._buf as Int32Array, outer, x.shape[axis]!, index.shape[axis]!, inner, out, false);
    return Tensor.fromStorage(out, index.shape, x.dtype);
  },
  // Gradients go back to the positions that were read; repeated indices accumulate.
  backward: (ctx, gradOut): InputGrads => [scatterAddOp(gradOut, ctx.saved[1], ctx.saved[0], ctx.saved[2])],
  describe: (_x, axis) => ({ axis }),
});

const scatterAddOp = defineOp<[Tensor, number, Tensor, readonly number[]], [Tensor, number]>({
  name: "scatterAdd",
  forward(ctx, src, axis, index, shape) {
    ctx.save([index, axis]);
    const [outer, inner] = axisView(shape, axis);
    const out = allocate(src.dtype, sizeOf(shape));
    getBackend().scatterAdd(src._buf, index._buf as Int32Array, outer, shape[axis]!, index.shape[axis]!, inner, out, false);
    return Tensor.fromStorage(out, shape, src.dtype);
  },
  backward: (ctx, gradOut): InputGrads => [gatherOp(gradOut, ctx.saved[1], ctx.saved[0]), null],
  describe: (_s, axis, _i, shape) => ({ axis, shape }),
});

/**
 * Take along an axis (torch.gather): out[i][j] = x[i][index[i][j]] for axis 1. `index` is int32
 * with x's rank and x's sizes on every other axis; the output has index's shape.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  assertTensor("gather", "x", x);
  assertTensor("gather", "index", index);
  const a = normalizeAxis("gather", axis, x.ndim);
  if (index.ndim !== x.ndim || index.shape.some((d, i) => i !== a && d !== x.shape[i])) {
    throw new ShapeError(`gather: index shape ${fmtShape(index.shape)} must equal x shape ${fmtShape(x.shape)} on every axis except ${a}.`);
  }
  checkIndex("gather", index, x.shape[a]!, a, x.shape);
  return gatherOp(x, a, index);
}

const indexSelectOp = defineOp<[Tensor, number, Tensor], [Tensor, number, readonly number[]]>({
  name: "indexSelect",
  forward(ctx, x, axis, index) {
    ctx.save([index, axis, x.shape]);
    const [outer, inner] = axisView(x.shape, axis);
    const shape = x.shape.map((d, i) => (i === axis ? index.size : d));
    const out = allocate(x.dtype, sizeOf(shape));
    getBackend().gather(x._buf, index._buf as Int32Array, outer, x.shape[axis]!, index.size, inner, out, true);
    return Tensor.fromStorage(out, shape, x.dtype);
  },
  backward: (ctx, gradOut): InputGrads => [indexAddOp(gradOut, ctx.saved[1], ctx.saved[0], ctx.saved[2])],
  describe: (_x, axis) => ({ axis }),
});

const indexAddOp = defineOp<[Tensor, number, Tensor, readonly number[]], [Tensor, number]>({
  name: "indexAdd",
  forward(ctx, src, axis, index, shape) {
    ctx.save([index, axis]);
    const [outer, inner] = axisView(shape, axis);
    const out = allocate(src.dtype, sizeOf(shape));
    getBackend().scatterAdd(src._buf, index._buf as Int32Array, outer, shape[axis]!, index.size, inner, out, true);
    return Tensor.fromStorage(out, shape, src.dtype);
  },
  backward: (ctx, gradOut): InputGrads => [indexSelectOp(gradOut, ctx.saved[1], ctx.saved[0]), null],
  describe: (_s, axis, _i, shape) => ({ axis, shape }),
});

/**
 * The slices at the listed positions along `axis` (torch.index_select); rows of an embedding
 * table, for example. Repeated positions accumulate gradient.
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor | readonly number[]): Tensor {
  assertTensor("indexSelect", "x", x);
  if (!(index instanceof Tensor)) {
    if (!Array.isArray(index)) throw new ValueError(`indexSelect: 'index' must be an int32 Tensor or an array of integers, got ${index === null ? "null" : typeof index}.`);
    index.forEach((k, i) => {
      if (!Number.isInteger(k)) throw new IndexError(`indexSelect: index[${i}] is ${k}, not an integer; positions along an axis are whole numbers 0, 1, 2, ...`);
    });
  }
  const idx = index instanceof Tensor ? index : Tensor.fromStorage(Int32Array.from(index), [index.length], "int32");
  if (idx.ndim > 1) throw new ShapeError(`indexSelect: the index must be 0-d or 1-D, got shape ${fmtShape(idx.shape)}; flatten it and reshape the result.`);
  const a = normalizeAxis("indexSelect", axis, x.ndim);
  checkIndex("indexSelect", idx, x.shape[a]!, a, x.shape);
  return indexSelectOp(x, a, idx);
}

// ------------------------------------------------------------------ dtype casts and copies

const castOp = defineOp<[Tensor, DType], DType>({
  name: "cast",
  forward(ctx, x, dtype) {
    ctx.save(x.dtype);
    const out = allocate(dtype, x.size);
    getBackend().cast(x._buf, out);
    return Tensor.fromStorage(out, x.shape, dtype);
  },
  backward: (ctx, gradOut): InputGrads => [gradOut.to(ctx.saved)],
  describe: (_x, dtype) => ({ dtype }),
});

/** x converted to `dtype` (x itself when it already has it). Casting to int32 truncates; to bool tests ≠ 0. */
export function cast(x: Tensor, dtype: DType): Tensor {
  assertTensor("to", "x", x);
  if (x.dtype === dtype) return x;
  assertDType("to", dtype);
  if (!isFloat(dtype) && x.requiresGrad) return castOp(x.detach(), dtype);
  return castOp(x, dtype);
}

const cloneOp = defineOp({
  name: "clone",
  forward(_ctx, x: Tensor) {
    // allocate, not data.slice(): the copy lives where the backend keeps tensors (wasm memory).
    const out = allocateUninit(x.dtype, x.size);
    if (deviceActive()) getBackend().copyStrided(x._buf, 0, [1], [x.size], out);
    else out.set(x.data);
    return Tensor.fromStorage(out, x.shape, x.dtype);
  },
  backward: (_ctx, gradOut) => [gradOut],
});

/** A copy with its own storage; gradients pass through unchanged. */
export function clone(x: Tensor): Tensor {
  assertTensor("clone", "x", x);
  return cloneOp(x);
}

/** NumPy's name for `expand`: broadcasts x to `shape` (a copy). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  return expand(x, shape);
}
