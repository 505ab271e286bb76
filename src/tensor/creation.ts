import { DTypeError, ShapeError, ValueError, fmtShape } from "../errors.js";
import { adoptHost } from "./storage.js";
import { allocateHost as allocate, assertDType, dtypeOfStorage, type DType, type Storage } from "./dtype.js";
import { defaultGenerator, type Generator } from "./random.js";
import { MAX_ELEMENTS, assertValidShape, sizeOf, stridesOf } from "./shape.js";
import { Tensor, type NestedArray } from "./tensor.js";

/** Options shared by the creation functions. */
export interface CreateOptions {
  /** Element type; float32 unless stated otherwise. */
  dtype?: DType;
  /** Make the new tensor a leaf that collects gradients. */
  requiresGrad?: boolean;
}

/** Options of the random creation functions. */
export interface RandomOptions extends CreateOptions {
  /** The generator to draw from (default: the global one seeded by `manualSeed`). */
  generator?: Generator;
}

export interface TensorOptions extends CreateOptions {
  /** Shape for flat data (a typed array or a flat list); inferred from nested arrays otherwise. */
  shape?: readonly number[];
}

type TypedInput = Storage | Int8Array | Int16Array | Uint16Array | Uint32Array | Uint8ClampedArray;

/** Flat position `i` of `shape` as the multi-index messages print: `[1, 2]`. */
function positionOf(i: number, shape: readonly number[]): string {
  const strides = stridesOf(shape);
  return `[${strides.map((st, d) => Math.floor(i / st) % shape[d]!).join(", ")}]`;
}

/**
 * Throws a ValueError where `v` would silently become another number in `dtype`: int32 has no
 * NaN or ±Infinity (they would become 0) and wraps values outside [−2³¹, 2³¹) (3e9 would become
 * −1294967296); fractions truncate toward zero, as `.to("int32")` does. bool takes any number
 * but NaN, which is neither true nor false.
 */
function checkStorable(op: string, v: number, dtype: DType, what: () => string): void {
  if (dtype === "int32") {
    if (v > -2147483649 && v < 2147483648) return;
    const why = Number.isFinite(v) ? "it is outside int32's range [-2147483648, 2147483647]" : "int32 has no NaN or Infinity";
    throw new ValueError(`${op}: ${what()} is ${v}, which dtype int32 cannot store (${why}). Fix or drop that value, or keep a float dtype (float32, float64).`);
  }
  if (dtype === "bool" && Number.isNaN(v)) {
    throw new ValueError(`${op}: ${what()} is NaN, which is neither true nor false, so dtype bool cannot store it. Replace the NaN first, or keep a float dtype.`);
  }
}

/** Whether numbers of this typed array may not fit `dtype` exactly (so each one is checked). */
function needsCheck(data: ArrayLike<number>, dtype: DType): boolean {
  if (dtype === "int32") return !(data instanceof Int32Array || data instanceof Int16Array || data instanceof Int8Array || data instanceof Uint16Array || data instanceof Uint8Array || data instanceof Uint8ClampedArray);
  return dtype === "bool" && (data instanceof Float32Array || data instanceof Float64Array);
}

function finish(data: Storage, shape: readonly number[], dtype: DType, options: CreateOptions | undefined): Tensor {
  const t = Tensor.fromStorage(adoptHost(data, dtype), [...shape], dtype);
  if (options?.requiresGrad) t.requiresGrad = true;
  return t;
}

/**
 * A tensor from nested arrays, a flat list or typed array with `shape`, or a number (0-d).
 * Data is copied. Numbers default to float32 (pass `dtype: "int32"` for labels), booleans to bool;
 * a Float64Array/Int32Array keeps its dtype. int32 truncates fractions toward zero (as
 * `.to("int32")`); NaN, ±Infinity and numbers outside int32's range are a ValueError, as is NaN
 * for bool.
 * @example tensor([[1, 2], [3, 4]], { dtype: "float64", requiresGrad: true })
 */
export function tensor(data: NestedArray | TypedInput, options: TensorOptions = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const own = dtypeOfStorage(data);
    const dtype = options.dtype ? assertDType("tensor", options.dtype) : own === "bool" || own === undefined ? "float32" : own;
    const shape = options.shape ?? [data.length];
    assertValidShape("tensor", shape);
    if (sizeOf(shape) !== data.length) {
      throw new ShapeError(`tensor: ${data.length} values cannot fill shape ${fmtShape(shape)} (${sizeOf(shape)} elements).`);
    }
    if (needsCheck(data as ArrayLike<number>, dtype)) {
      for (let i = 0; i < data.length; i++) checkStorable("tensor", data[i]!, dtype, () => `data[${i}]`);
    }
    const out = allocate(dtype, data.length);
    if (dtype === "bool") for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0 ? 1 : 0;
    else out.set(data as ArrayLike<number>);
    return finish(out, shape, dtype, options);
  }
  const shape: number[] = [];
  let probe: NestedArray = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0]!;
  }
  const flat: (number | boolean)[] = [];
  const walk = (node: NestedArray, dim: number, path: number[]): void => {
    if (dim === shape.length) {
      if (Array.isArray(node)) throw new ShapeError(`tensor: ragged nested array: element at [${path.join(", ")}] is an array, but its siblings are scalars.`);
      if (typeof node !== "number" && typeof node !== "boolean") throw new DTypeError(`tensor: element at [${path.join(", ")}] is ${typeof node}; only numbers and booleans can be stored.`);
      flat.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      throw new ShapeError(`tensor: ragged nested array: the list at [${path.join(", ")}] has ${Array.isArray(node) ? node.length : "no"} elements, expected ${shape[dim]} like its siblings.`);
    }
    node.forEach((child, i) => walk(child, dim + 1, [...path, i]));
  };
  walk(data, 0, []);
  const dtype = options.dtype ? assertDType("tensor", options.dtype) : typeof flat[0] === "boolean" ? "bool" : "float32";
  if (dtype === "int32" || dtype === "bool") {
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i]!;
      if (typeof v === "number") checkStorable("tensor", v, dtype, () => (shape.length === 0 ? "the value" : `the element at ${positionOf(i, shape)}`));
    }
  }
  const out = allocate(dtype, flat.length);
  // bool stores 0/1 (x != 0), never the number itself: a Uint8Array would keep 2 and wrap 256 to 0.
  if (dtype === "bool") for (let i = 0; i < flat.length; i++) out[i] = Number(flat[i]) !== 0 ? 1 : 0;
  else for (let i = 0; i < flat.length; i++) out[i] = Number(flat[i]);
  let finalShape: readonly number[] = shape;
  if (options.shape) {
    assertValidShape("tensor", options.shape);
    if (sizeOf(options.shape) !== flat.length) {
      throw new ShapeError(`tensor: ${flat.length} values cannot fill shape ${fmtShape(options.shape)} (${sizeOf(options.shape)} elements).`);
    }
    finalShape = options.shape;
  }
  return finish(out, finalShape, dtype, options);
}

/** A 0-d tensor holding one number. */
export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return filled("scalar", [], value, options);
}

function filled(op: string, shape: readonly number[], value: number, options: CreateOptions): Tensor {
  assertValidShape(op, shape);
  const dtype = assertDType(op, options.dtype ?? "float32");
  if (typeof value !== "number") throw new ValueError(`${op}: the fill value must be a number, got ${value === null ? "null" : typeof value}.`);
  checkStorable(op, value, dtype, () => "the fill value");
  const data = allocate(dtype, sizeOf(shape));
  if (value !== 0) data.fill(dtype === "bool" ? 1 : value);
  return finish(data, shape, dtype, options);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  return filled("full", shape, value, options);
}
/** A tensor of zeros. */
export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return filled("zeros", shape, 0, options);
}
/** A tensor of ones. */
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return filled("ones", shape, 1, options);
}
/** Zeros with the shape (and, unless given, the dtype) of `like`. */
export function zerosLike(like: Tensor, options: CreateOptions = {}): Tensor {
  return full(like.shape, 0, { dtype: like.dtype, ...options });
}
/** Ones with the shape (and, unless given, the dtype) of `like`. */
export function onesLike(like: Tensor, options: CreateOptions = {}): Tensor {
  return full(like.shape, 1, { dtype: like.dtype, ...options });
}
/** `value` with the shape (and, unless given, the dtype) of `like`. */
export function fullLike(like: Tensor, value: number, options: CreateOptions = {}): Tensor {
  return full(like.shape, value, { dtype: like.dtype, ...options });
}

/**
 * Evenly spaced values in [start, end) with `step`, like `torch.arange`. `arange(n)` is 0…n−1.
 * float32 unless `dtype` is given.
 */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (typeof step !== "number" || step === 0 || !Number.isFinite(step)) throw new ValueError(`arange: step must be a non-zero finite number, got ${step}.`);
  if (typeof start !== "number" || typeof end !== "number" || !Number.isFinite(start) || !Number.isFinite(end)) {
    throw new ValueError(`arange: start and end must be finite numbers, got start ${start} and end ${end}.`);
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > MAX_ELEMENTS) throw new ValueError(`arange: [${start}, ${end}) in steps of ${step} is ${n} values, more than one tensor can hold (${MAX_ELEMENTS}); use a larger step or a smaller range.`);
  const dtype = assertDType("arange", options.dtype ?? "float32");
  if (dtype === "int32") {
    // Truncated, a fractional start or step would repeat or skip values: [0, 0.25, 0.5, 0.75] → [0, 0, 0, 0].
    if (!Number.isInteger(start) || !Number.isInteger(step)) {
      throw new ValueError(`arange: dtype int32 needs an integer start and step, got start ${start} and step ${step} (their values would truncate to repeated integers); use a float dtype, or integer bounds.`);
    }
    if (n > 0) checkStorable("arange", start + (n - 1) * step, dtype, () => "the last value");
  }
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return finish(data, [n], dtype, options);
}

/** `steps` values from start to end inclusive, evenly spaced. */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new ValueError(`linspace: steps must be a non-negative integer, got ${steps}.`);
  if (typeof start !== "number" || typeof end !== "number" || !Number.isFinite(start) || !Number.isFinite(end)) {
    throw new ValueError(`linspace: start and end must be finite numbers, got start ${start} and end ${end}.`);
  }
  if (steps > MAX_ELEMENTS) throw new ValueError(`linspace: ${steps} steps are more than one tensor can hold (${MAX_ELEMENTS}).`);
  const dtype = assertDType("linspace", options.dtype ?? "float32");
  const data = allocate(dtype, steps);
  const delta = steps > 1 ? (end - start) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) data[i] = i === steps - 1 && steps > 1 ? end : start + i * delta;
  return finish(data, [steps], dtype, options);
}

/** The n×m identity matrix (m defaults to n). */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  for (const [name, v] of [["n", n], ["m", m]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new ValueError(`eye: ${name} (the number of ${name === "n" ? "rows" : "columns"}) must be a non-negative integer, got ${v}.`);
  }
  assertValidShape("eye", [n, m]);
  const dtype = assertDType("eye", options.dtype ?? "float32");
  const data = allocate(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return finish(data, [n, m], dtype, options);
}

function randomFloat(op: string, shape: readonly number[], options: RandomOptions, draw: (g: Generator) => number): Tensor {
  assertValidShape(op, shape);
  const dtype = assertDType(op, options.dtype ?? "float32");
  if (dtype !== "float32" && dtype !== "float64") throw new DTypeError(`${op}: dtype must be float32 or float64, got ${dtype}; use randint for integers.`);
  const g = options.generator ?? defaultGenerator;
  const data = allocate(dtype, sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(g);
  return finish(data, shape, dtype, options);
}

/** Uniform samples in [0, 1). */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return randomFloat("rand", shape, options, (g) => g.random());
}
/** Standard normal samples. */
export function randn(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return randomFloat("randn", shape, options, (g) => g.normal());
}
/** Uniform integers in [low, high); int32 unless `dtype` is given. */
export function randint(low: number, high: number, shape: readonly number[], options: RandomOptions = {}): Tensor {
  assertValidShape("randint", shape);
  if (!Number.isInteger(low) || !Number.isInteger(high)) throw new ValueError(`randint: low and high must be integers (the range is [low, high)), got [${low}, ${high}).`);
  const dtype = assertDType("randint", options.dtype ?? "int32");
  const g = options.generator ?? defaultGenerator;
  const data = allocate(dtype, sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = g.randint(low, high);
  return finish(data, shape, dtype, options);
}
