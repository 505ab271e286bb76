/**
 * `onnx.loadModel(bytes)`: an ONNX file as a chainrule Module. Its float initializers become
 * Parameters (trainable: backward runs through the graph, which is evaluated with chainrule's
 * differentiable ops), BatchNormalization's statistics become buffers, and the operators keep
 * their inference (eval-mode) meaning. Browser-safe.
 *
 * Everything is checked before the module exists, so a bad file gives one OnnxImportError and no
 * half-built model: the protobuf, the opset, every initializer's dtype, dims and byte length, each
 * node's operator and attributes, that every value is defined, and that the graph has no cycle.
 */
import { DataError, fmtShape } from "../errors.js";
import { Module, type LoadStateDictOptions, type LoadStateDictResult, type StateDict } from "../nn/module.js";
import { Parameter } from "../nn/parameter.js";
import { batchNorm, layerNorm } from "../nn/functional/normalization.js";
import { adaptiveAvgPool2d } from "../ops/adaptive-pool.js";
import { avgPool2d, conv2d, maxPool2d } from "../ops/conv.js";
import * as ops from "../ops/elementwise.js";
import { matmul } from "../ops/matmul.js";
import { max, mean, min, sum } from "../ops/reduce.js";
import { broadcastTo, concat, gather, indexSelect, pad, permute, reshape, slice } from "../ops/shape-ops.js";
import { logSoftmax, softmax } from "../ops/softmax.js";
import type { DType } from "../tensor/dtype.js";
import { broadcastShapes } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { defineOwn, halfToFloatBits } from "../io/safetensors.js";
import { AttrType, DATA_TYPE_NAMES, DataType, int64, pb, type P } from "./proto.js";

/** A malformed, hostile or unsupported ONNX file. The message names the node, initializer or field. */
export class OnnxImportError extends DataError {}

/** The oldest default-domain opset the reader takes (Softmax, Reduce*, Squeeze changed meaning before 13). */
export const MIN_IMPORT_OPSET = 13;
/** The newest opset whose operators the reader knows. */
export const MAX_IMPORT_OPSET = 21;

export interface LoadModelOptions {
  /** Float dtype of the parameters and the computation (default float32; float64 for gradient checks). */
  dtype?: "float32" | "float64";
}

const FN = "onnx.loadModel";

function fail(message: string): never {
  throw new OnnxImportError(`${FN}: ${message}`);
}

// ------------------------------------------------------------------ tensors

function toInt32(v: number): number {
  // int64 bounds such as Slice's "to the end" (INT64_MAX) saturate; real indices fit.
  if (Number.isNaN(v)) return 2147483647;
  return Math.max(-2147483648, Math.min(2147483647, v));
}

/** A TensorProto as a chainrule tensor; every length is checked against the dims first. */
export function decodeTensor(t: P.ITensorProto, what: string, floatDType: "float32" | "float64"): Tensor {
  const dims = (t.dims ?? []).map(int64);
  for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) fail(`${what} has dims ${JSON.stringify(dims)}; every dim must be a non-negative integer.`);
  let size = 1;
  for (const d of dims) {
    size *= d;
    if (size > 2 ** 31) fail(`${what} has dims ${fmtShape(dims)}, over 2³¹ elements; that is larger than any tensor chainrule can hold.`);
  }
  if (t.dataLocation === 1) fail(`${what} keeps its data in an external file (${(t.externalData ?? []).map((e) => `${e.key}=${e.value}`).join(", ")}); save the model with its tensors inside (onnx.save_model(model, path, save_as_external_data=False)).`);
  const type = t.dataType ?? 0;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const itemSize: Record<number, number> = { [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.BOOL]: 1, [DataType.FLOAT16]: 2, [DataType.BFLOAT16]: 2, [DataType.UINT8]: 1, [DataType.INT8]: 1 };
  const bytesPer = itemSize[type];
  if (bytesPer === undefined) fail(`${what} has data type ${DATA_TYPE_NAMES[type] ?? type}; the reader takes FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8, UINT8, INT32, INT64 and BOOL.`);
  const typed: unknown[] | undefined =
    type === DataType.FLOAT ? t.floatData ?? undefined
    : type === DataType.DOUBLE ? t.doubleData ?? undefined
    : type === DataType.INT64 ? t.int64Data ?? undefined
    : t.int32Data ?? undefined;
  const typedLength = typed?.length ?? 0;
  if (raw !== undefined) {
    if (raw.length !== size * bytesPer) fail(`${what}: raw_data has ${raw.length} bytes but dims ${fmtShape(dims)} of ${DATA_TYPE_NAMES[type]} need ${size * bytesPer}; the file is truncated or corrupt.`);
  } else if (typedLength !== size) {
    fail(`${what}: dims ${fmtShape(dims)} need ${size} values but the tensor holds ${typedLength}; the file is truncated or corrupt.`);
  }
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const at = (i: number): number => {
    if (view === undefined) return type === DataType.INT64 ? int64(typed![i]) : Number(typed![i]);
    switch (type) {
      case DataType.FLOAT: return view.getFloat32(4 * i, true);
      case DataType.DOUBLE: return view.getFloat64(8 * i, true);
      case DataType.INT32: return view.getInt32(4 * i, true);
      case DataType.INT64: return Number(view.getBigInt64(8 * i, true));
      case DataType.BOOL: case DataType.UINT8: return view.getUint8(i);
      case DataType.INT8: return view.getInt8(i);
      default: return view.getUint16(2 * i, true);
    }
  };
  const isFloatType = type === DataType.FLOAT || type === DataType.DOUBLE || type === DataType.FLOAT16 || type === DataType.BFLOAT16;
  if (isFloatType) {
    const out = floatDType === "float64" ? new Float64Array(size) : new Float32Array(size);
    if (type === DataType.FLOAT16 || type === DataType.BFLOAT16) {
      const bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
      for (let i = 0; i < size; i++) {
        const h = at(i) & 0xffff;
        bits[0] = type === DataType.FLOAT16 ? halfToFloatBits(h) : h << 16;
        out[i] = f[0]!;
      }
    } else for (let i = 0; i < size; i++) out[i] = at(i);
    return Tensor.fromStorage(out, dims, floatDType);
  }
  if (type === DataType.BOOL) {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = at(i) ? 1 : 0;
    return Tensor.fromStorage(out, dims, "bool");
  }
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = toInt32(at(i));
  return Tensor.fromStorage(out, dims, "int32");
}

// ------------------------------------------------------------------ attributes

class Attrs {
  private readonly byName = new Map<string, P.IAttributeProto>();
  constructor(readonly node: string, list: readonly P.IAttributeProto[]) {
    for (const a of list) {
      if (!a.name) fail(`${node} has an attribute without a name.`);
      this.byName.set(a.name, a);
    }
  }
  private get(name: string, type: number): P.IAttributeProto | undefined {
    const a = this.byName.get(name);
    if (a === undefined) return undefined;
    // type may be absent in files from old writers; infer from the field that is set.
    if (a.type && a.type !== type) fail(`${this.node}: attribute '${name}' has type ${a.type}, expected ${type} (see AttributeProto.AttributeType).`);
    return a;
  }
  int(name: string, fallback: number): number {
    const a = this.get(name, AttrType.INT);
    if (a === undefined) return fallback;
    const v = int64(a.i ?? 0);
    if (!Number.isSafeInteger(v)) fail(`${this.node}: attribute '${name}' is not an integer that fits.`);
    return v;
  }
  ints(name: string, fallback: number[] | undefined): number[] | undefined {
    const a = this.get(name, AttrType.INTS);
    if (a === undefined) return fallback;
    const v = (a.ints ?? []).map(int64);
    if (!v.every(Number.isSafeInteger)) fail(`${this.node}: attribute '${name}' has a value that is not an integer that fits.`);
    return v;
  }
  float(name: string, fallback: number): number {
    const a = this.get(name, AttrType.FLOAT);
    return a === undefined ? fallback : Number(a.f ?? 0);
  }
  string(name: string, fallback: string): string {
    const a = this.get(name, AttrType.STRING);
    return a === undefined ? fallback : new TextDecoder().decode(a.s ?? new Uint8Array());
  }
  tensor(name: string): P.ITensorProto | undefined {
    return this.get(name, AttrType.TENSOR)?.t ?? undefined;
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
}

// ------------------------------------------------------------------ operators

/** Values an operator gets at run time: its inputs (undefined where omitted) and what it may read from constants. */
type Run = (inputs: (Tensor | undefined)[]) => Tensor[];

interface OpCtx {
  node: string;
  attrs: Attrs;
  opset: number;
  /** Number of inputs and outputs the node lists. */
  inputs: number;
  outputs: number;
  dtype: "float32" | "float64";
}

function need(ctx: OpCtx, inputs: (Tensor | undefined)[], i: number, what: string): Tensor {
  const t = inputs[i];
  if (t === undefined) fail(`${ctx.node}: input ${i} (${what}) is required.`);
  return t;
}

/** Integer values of a shape-like tensor (Reshape's shape, Slice's starts...). */
function intsOf(t: Tensor): number[] {
  return Array.from(t.data, Number);
}

function normAxis(ctx: OpCtx, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new OnnxImportError(`${FN}: ${ctx.node}: axis ${axis} is out of range for an input of rank ${rank}.`);
  return a;
}

function onlyOutputs(ctx: OpCtx, n: number, why: string): void {
  if (ctx.outputs > n) fail(`${ctx.node} asks for ${ctx.outputs} outputs; the reader gives ${n} (${why}).`);
}

/** [top, left, bottom, right] pads as symmetric [h, w], or undefined when they are not symmetric. */
function symmetricPads(pads: number[]): [number, number] | undefined {
  return pads[0] === pads[2] && pads[1] === pads[3] ? [pads[0]!, pads[1]!] : undefined;
}

/** Pads from auto_pad (SAME_UPPER/LOWER, VALID) or the pads attribute, for the input's spatial size. */
function resolvePads(ctx: OpCtx, x: Tensor, kernel: number[], strides: number[], dilations: number[]): number[] {
  const autoPad = ctx.attrs.string("auto_pad", "NOTSET");
  if (autoPad === "NOTSET") return ctx.attrs.ints("pads", [0, 0, 0, 0])!;
  if (autoPad === "VALID") return [0, 0, 0, 0];
  const pads = [0, 0, 0, 0];
  for (let i = 0; i < 2; i++) {
    const n = x.shape[2 + i]!;
    const out = Math.ceil(n / strides[i]!);
    const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - n);
    const small = Math.floor(total / 2);
    pads[i] = autoPad === "SAME_LOWER" ? total - small : small;
    pads[i + 2] = total - pads[i]!;
  }
  return pads;
}

function spatial(ctx: OpCtx, x: Tensor, what: string): void {
  if (x.ndim !== 4) fail(`${ctx.node}: ${what} needs a 4-D input [N, C, H, W], got shape ${fmtShape(x.shape)}; the reader supports 2-D convolution and pooling only.`);
}

function checkLength(ctx: OpCtx, name: string, v: number[] | undefined, n: number): void {
  if (v !== undefined && v.length !== n) fail(`${ctx.node}: attribute '${name}' has ${v.length} values, expected ${n} (2-D ${name === "pads" ? "[top, left, bottom, right]" : "[height, width]"}).`);
}

function poolRun(ctx: OpCtx, kind: "max" | "avg"): Run {
  const kernel = ctx.attrs.ints("kernel_shape", undefined);
  if (kernel === undefined) fail(`${ctx.node} has no kernel_shape attribute.`);
  checkLength(ctx, "kernel_shape", kernel, 2);
  const strides = ctx.attrs.ints("strides", [1, 1])!;
  const dilations = ctx.attrs.ints("dilations", [1, 1])!;
  checkLength(ctx, "strides", strides, 2);
  checkLength(ctx, "dilations", dilations, 2);
  checkLength(ctx, "pads", ctx.attrs.ints("pads", undefined), 4);
  const ceilMode = ctx.attrs.int("ceil_mode", 0) === 1;
  const countIncludePad = ctx.attrs.int("count_include_pad", 0) === 1;
  if (kind === "max") onlyOutputs(ctx, 1, "MaxPool's Indices output is not supported");
  if (kind === "avg" && (dilations[0] !== 1 || dilations[1] !== 1)) fail(`${ctx.node}: AveragePool with dilations is not supported.`);
  return (inputs) => {
    let x = need(ctx, inputs, 0, "X");
    spatial(ctx, x, kind === "max" ? "MaxPool" : "AveragePool");
    const pads = resolvePads(ctx, x, kernel, strides, dilations);
    let padding = symmetricPads(pads);
    if (padding === undefined) {
      if (kind === "avg" && !countIncludePad) fail(`${ctx.node}: AveragePool with unequal pads ${JSON.stringify(pads)} and count_include_pad=0 is not supported.`);
      x = pad(x, [[0, 0], [0, 0], [pads[0]!, pads[2]!], [pads[1]!, pads[3]!]], kind === "max" ? -Infinity : 0);
      padding = [0, 0];
    }
    if (kind === "max") return [maxPool2d(x, { kernelSize: kernel as [number, number], stride: strides as [number, number], padding, dilation: dilations as [number, number], ceilMode })];
    return [avgPool2d(x, { kernelSize: kernel as [number, number], stride: strides as [number, number], padding, ceilMode, countIncludePad })];
  };
}

function reduceRun(ctx: OpCtx, f: typeof sum): Run {
  const keepDim = ctx.attrs.int("keepdims", 1) === 1;
  const noop = ctx.attrs.int("noop_with_empty_axes", 0) === 1;
  // ReduceSum takes axes as an input from opset 13, the others from opset 18.
  const axesFromInput = f === sum || ctx.opset >= 18;
  const attrAxes = axesFromInput ? undefined : ctx.attrs.ints("axes", undefined);
  return (inputs) => {
    const x = need(ctx, inputs, 0, "data");
    const axesT = axesFromInput ? inputs[1] : undefined;
    const axes = axesT !== undefined ? intsOf(axesT) : attrAxes;
    if (axes === undefined || axes.length === 0) {
      if (noop) return [x];
      return [f(x, { axis: x.shape.map((_, i) => i), keepDim })];
    }
    return [f(x, { axis: axes.map((a) => normAxis(ctx, a, x.ndim)), keepDim })];
  };
}

const CAST_TO: Record<number, DType> = { [DataType.FLOAT]: "float32", [DataType.DOUBLE]: "float64", [DataType.INT32]: "int32", [DataType.INT64]: "int32", [DataType.BOOL]: "bool", [DataType.FLOAT16]: "float32" };

/** What each supported operator does, built (and its attributes checked) at load time. */
const OPERATORS: Record<string, (ctx: OpCtx) => Run> = {
  Identity: (ctx) => (i) => [need(ctx, i, 0, "input")],
  Dropout: (ctx) => {
    onlyOutputs(ctx, 1, "Dropout's mask output is not supported");
    return (i) => {
      const training = i[2];
      if (training !== undefined && training.data[0]) fail(`${ctx.node}: Dropout with training_mode true is not supported; the reader keeps inference semantics.`);
      return [need(ctx, i, 0, "data")];
    };
  },
  Add: (ctx) => (i) => [ops.add(need(ctx, i, 0, "A"), need(ctx, i, 1, "B"))],
  Sub: (ctx) => (i) => [ops.sub(need(ctx, i, 0, "A"), need(ctx, i, 1, "B"))],
  Mul: (ctx) => (i) => [ops.mul(need(ctx, i, 0, "A"), need(ctx, i, 1, "B"))],
  Div: (ctx) => (i) => [ops.div(need(ctx, i, 0, "A"), need(ctx, i, 1, "B"))],
  Pow: (ctx) => (i) => [ops.pow(need(ctx, i, 0, "X"), need(ctx, i, 1, "Y"))],
  Max: (ctx) => (i) => [i.map((t, k) => t ?? need(ctx, i, k, "data")).reduce((a, b) => ops.maximum(a, b))],
  Min: (ctx) => (i) => [i.map((t, k) => t ?? need(ctx, i, k, "data")).reduce((a, b) => ops.minimum(a, b))],
  Neg: (ctx) => (i) => [ops.neg(need(ctx, i, 0, "X"))],
  Exp: (ctx) => (i) => [ops.exp(need(ctx, i, 0, "input"))],
  Log: (ctx) => (i) => [ops.log(need(ctx, i, 0, "input"))],
  Sqrt: (ctx) => (i) => [ops.sqrt(need(ctx, i, 0, "X"))],
  Abs: (ctx) => (i) => [ops.abs(need(ctx, i, 0, "X"))],
  Reciprocal: (ctx) => (i) => [ops.reciprocal(need(ctx, i, 0, "X"))],
  Relu: (ctx) => (i) => [ops.relu(need(ctx, i, 0, "X"))],
  Sigmoid: (ctx) => (i) => [ops.sigmoid(need(ctx, i, 0, "X"))],
  Tanh: (ctx) => (i) => [ops.tanh(need(ctx, i, 0, "input"))],
  LeakyRelu: (ctx) => {
    const alpha = ctx.attrs.float("alpha", 0.01);
    return (i) => [ops.leakyRelu(need(ctx, i, 0, "X"), alpha)];
  },
  Elu: (ctx) => {
    const alpha = ctx.attrs.float("alpha", 1);
    return (i) => [ops.elu(need(ctx, i, 0, "X"), alpha)];
  },
  // ln(1 + eˣ); chainrule's linear branch above x = 20 differs from it by under 2e-9 and cannot overflow.
  Softplus: (ctx) => (i) => [ops.softplus(need(ctx, i, 0, "X"))],
  Softmax: (ctx) => {
    const axis = ctx.attrs.int("axis", -1);
    return (i) => {
      const x = need(ctx, i, 0, "input");
      return [softmax(x, normAxis(ctx, axis, x.ndim))];
    };
  },
  LogSoftmax: (ctx) => {
    const axis = ctx.attrs.int("axis", -1);
    return (i) => {
      const x = need(ctx, i, 0, "input");
      return [logSoftmax(x, normAxis(ctx, axis, x.ndim))];
    };
  },
  MatMul: (ctx) => (i) => [matmul(need(ctx, i, 0, "A"), need(ctx, i, 1, "B"))],
  Gemm: (ctx) => {
    const alpha = ctx.attrs.float("alpha", 1), beta = ctx.attrs.float("beta", 1);
    const transA = ctx.attrs.int("transA", 0) === 1, transB = ctx.attrs.int("transB", 0) === 1;
    return (i) => {
      const a = need(ctx, i, 0, "A"), b = need(ctx, i, 1, "B");
      if (a.ndim !== 2 || b.ndim !== 2) fail(`${ctx.node}: Gemm needs 2-D A and B, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}.`);
      let y = matmul(a, b, { transA, transB });
      if (alpha !== 1) y = ops.mul(y, alpha);
      const c = i[2];
      if (c !== undefined) y = ops.add(y, beta === 1 ? c : ops.mul(c, beta));
      return [y];
    };
  },
  Conv: (ctx) => {
    const strides = ctx.attrs.ints("strides", [1, 1])!, dilations = ctx.attrs.ints("dilations", [1, 1])!;
    checkLength(ctx, "strides", strides, 2);
    checkLength(ctx, "dilations", dilations, 2);
    checkLength(ctx, "pads", ctx.attrs.ints("pads", undefined), 4);
    const group = ctx.attrs.int("group", 1);
    return (i) => {
      let x = need(ctx, i, 0, "X");
      const w = need(ctx, i, 1, "W");
      spatial(ctx, x, "Conv");
      if (w.ndim !== 4) fail(`${ctx.node}: Conv's weight must be 4-D [M, C/group, kH, kW], got ${fmtShape(w.shape)}.`);
      const kernel = ctx.attrs.ints("kernel_shape", [w.shape[2]!, w.shape[3]!])!;
      if (kernel[0] !== w.shape[2] || kernel[1] !== w.shape[3]) fail(`${ctx.node}: kernel_shape ${JSON.stringify(kernel)} disagrees with the weight's shape ${fmtShape(w.shape)}.`);
      const pads = resolvePads(ctx, x, kernel, strides, dilations);
      let padding = symmetricPads(pads);
      if (padding === undefined) {
        x = pad(x, [[0, 0], [0, 0], [pads[0]!, pads[2]!], [pads[1]!, pads[3]!]]);
        padding = [0, 0];
      }
      return [conv2d(x, w, i[2] ?? null, { stride: strides as [number, number], padding, dilation: dilations as [number, number], groups: group })];
    };
  },
  MaxPool: (ctx) => poolRun(ctx, "max"),
  AveragePool: (ctx) => poolRun(ctx, "avg"),
  GlobalAveragePool: (ctx) => (i) => {
    const x = need(ctx, i, 0, "X");
    spatial(ctx, x, "GlobalAveragePool");
    return [adaptiveAvgPool2d(x, 1)];
  },
  BatchNormalization: (ctx) => {
    if (ctx.attrs.int("training_mode", 0) === 1) fail(`${ctx.node}: BatchNormalization with training_mode=1 is not supported; the reader keeps inference semantics.`);
    onlyOutputs(ctx, 1, "the running-statistics outputs exist only in training mode");
    const eps = ctx.attrs.float("epsilon", 1e-5);
    return (i) => [batchNorm(need(ctx, i, 0, "X"), need(ctx, i, 3, "input_mean"), need(ctx, i, 4, "input_var"), need(ctx, i, 1, "scale"), need(ctx, i, 2, "B"), { training: false, eps })];
  },
  LayerNormalization: (ctx) => {
    onlyOutputs(ctx, 1, "Mean and InvStdDev outputs are not supported");
    const axis = ctx.attrs.int("axis", -1), eps = ctx.attrs.float("epsilon", 1e-5);
    return (i) => {
      const x = need(ctx, i, 0, "X");
      const a = normAxis(ctx, axis, x.ndim);
      return [layerNorm(x, x.shape.slice(a), need(ctx, i, 1, "Scale"), i[2] ?? null, eps)];
    };
  },
  Flatten: (ctx) => {
    const axis = ctx.attrs.int("axis", 1);
    return (i) => {
      const x = need(ctx, i, 0, "input");
      const a = axis < 0 ? axis + x.ndim : axis;
      if (a < 0 || a > x.ndim) fail(`${ctx.node}: Flatten axis ${axis} is out of range for an input of rank ${x.ndim}.`);
      const lead = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
      return [reshape(x, [lead, lead === 0 ? 0 : x.size / lead])];
    };
  },
  Reshape: (ctx) => {
    const allowZero = ctx.attrs.int("allowzero", 0) === 1;
    return (i) => {
      const x = need(ctx, i, 0, "data");
      const shape = intsOf(need(ctx, i, 1, "shape")).map((d, k) => (d === 0 && !allowZero ? x.shape[k] ?? fail(`${ctx.node}: Reshape's shape has 0 at axis ${k}, past the input's rank ${x.ndim}.`) : d));
      return [reshape(x, shape)];
    };
  },
  Transpose: (ctx) => {
    const perm = ctx.attrs.ints("perm", undefined);
    return (i) => {
      const x = need(ctx, i, 0, "data");
      return [permute(x, perm ?? x.shape.map((_, k) => x.ndim - 1 - k))];
    };
  },
  Concat: (ctx) => {
    if (!ctx.attrs.has("axis")) fail(`${ctx.node}: Concat needs its axis attribute.`);
    const axis = ctx.attrs.int("axis", 0);
    return (i) => {
      const xs = i.map((t, k) => t ?? need(ctx, i, k, "inputs"));
      return [concat(xs, normAxis(ctx, axis, xs[0]!.ndim))];
    };
  },
  Squeeze: (ctx) => (i) => {
    const x = need(ctx, i, 0, "data");
    const axes = i[1] ? intsOf(i[1]).map((a) => normAxis(ctx, a, x.ndim)) : x.shape.flatMap((d, k) => (d === 1 ? [k] : []));
    for (const a of axes) if (x.shape[a] !== 1) fail(`${ctx.node}: Squeeze of axis ${a}, which has size ${x.shape[a]} in ${fmtShape(x.shape)}.`);
    return [reshape(x, x.shape.filter((_, k) => !axes.includes(k)))];
  },
  Unsqueeze: (ctx) => (i) => {
    const x = need(ctx, i, 0, "data");
    const rank = x.ndim + intsOf(need(ctx, i, 1, "axes")).length;
    const axes = intsOf(i[1]!).map((a) => normAxis(ctx, a, rank));
    const shape: number[] = [];
    let k = 0;
    for (let d = 0; d < rank; d++) shape.push(axes.includes(d) ? 1 : x.shape[k++]!);
    return [reshape(x, shape)];
  },
  Shape: (ctx) => (i) => {
    const x = need(ctx, i, 0, "data");
    return [Tensor.fromStorage(Int32Array.from(x.shape), [x.ndim], "int32")];
  },
  Gather: (ctx) => {
    const axis = ctx.attrs.int("axis", 0);
    return (i) => {
      const x = need(ctx, i, 0, "data"), idx = need(ctx, i, 1, "indices");
      const a = normAxis(ctx, axis, x.ndim);
      const n = x.shape[a]!;
      const flat = Array.from(idx.data, (v) => {
        const k = Number(v) < 0 ? Number(v) + n : Number(v);
        if (k < 0 || k >= n) fail(`${ctx.node}: Gather index ${v} is out of range for axis ${a} of size ${n}.`);
        return k;
      });
      const picked = indexSelect(x, a, flat);
      return [reshape(picked, [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)])];
    };
  },
  GatherElements: (ctx) => {
    const axis = ctx.attrs.int("axis", 0);
    return (i) => {
      const x = need(ctx, i, 0, "data");
      return [gather(x, normAxis(ctx, axis, x.ndim), need(ctx, i, 1, "indices"))];
    };
  },
  Slice: (ctx) => (i) => {
    let x = need(ctx, i, 0, "data");
    const starts = intsOf(need(ctx, i, 1, "starts")), ends = intsOf(need(ctx, i, 2, "ends"));
    const axes = i[3] ? intsOf(i[3]) : starts.map((_, k) => k);
    const steps = i[4] ? intsOf(i[4]) : starts.map(() => 1);
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) fail(`${ctx.node}: Slice's starts, ends, axes and steps must have one value per sliced axis.`);
    starts.forEach((s, k) => {
      if (steps[k]! < 1) fail(`${ctx.node}: Slice with step ${steps[k]} is not supported (positive steps only).`);
      x = slice(x, normAxis(ctx, axes[k]!, x.ndim), s, ends[k]!, steps[k]!);
    });
    return [x];
  },
  Pad: (ctx) => {
    const mode = ctx.attrs.string("mode", "constant");
    if (mode !== "constant") fail(`${ctx.node}: Pad mode "${mode}" is not supported (constant only).`);
    return (i) => {
      const x = need(ctx, i, 0, "data");
      const pads = intsOf(need(ctx, i, 1, "pads"));
      if (pads.length !== 2 * x.ndim) fail(`${ctx.node}: Pad has ${pads.length} pads for an input of rank ${x.ndim}; expected ${2 * x.ndim}.`);
      if (i[3] !== undefined) fail(`${ctx.node}: Pad with an axes input is not supported.`);
      if (pads.some((p) => p < 0)) fail(`${ctx.node}: negative pads (cropping) are not supported.`);
      const value = i[2] !== undefined ? Number(i[2].data[0] ?? 0) : 0;
      return [pad(x, x.shape.map((_, k) => [pads[k]!, pads[k + x.ndim]!] as const), value)];
    };
  },
  Expand: (ctx) => (i) => {
    const x = need(ctx, i, 0, "input");
    return [broadcastTo(x, broadcastShapes("Expand", x.shape, intsOf(need(ctx, i, 1, "shape"))))];
  },
  Where: (ctx) => (i) => [ops.where(need(ctx, i, 0, "condition"), need(ctx, i, 1, "X"), need(ctx, i, 2, "Y"))],
  Cast: (ctx) => {
    const to = ctx.attrs.int("to", 0);
    const dtype = CAST_TO[to];
    if (dtype === undefined) fail(`${ctx.node}: Cast to ${DATA_TYPE_NAMES[to] ?? to} is not supported.`);
    const target = dtype === "float32" || dtype === "float64" ? ctx.dtype : dtype;
    return (i) => [need(ctx, i, 0, "input").to(target)];
  },
  ReduceSum: (ctx) => reduceRun(ctx, sum),
  ReduceMean: (ctx) => reduceRun(ctx, mean),
  ReduceMax: (ctx) => reduceRun(ctx, max),
  ReduceMin: (ctx) => reduceRun(ctx, min),
};

/** The operators loadModel understands (default domain). */
export const SUPPORTED_OPERATORS: readonly string[] = Object.freeze([...Object.keys(OPERATORS), "Constant"].sort());

// ------------------------------------------------------------------ the module

interface Step {
  name: string;
  inputs: string[];
  outputs: string[];
  run: Run;
}

interface GraphValue {
  name: string;
  dtype: DType;
  /** Static sizes; null for a symbolic or unknown axis. Undefined when the file gives no shape. */
  shape: (number | null)[] | undefined;
}

/**
 * An ONNX graph as a Module: `forward(...inputs)` returns the first graph output, `run(inputs)`
 * all of them by name. Its initializers are its parameters (`namedParameters()` uses the
 * initializer names, so `stateDict()` keys are the ONNX names), except BatchNormalization's
 * statistics, which are buffers.
 */
export class OnnxModel extends Module {
  /** The graph inputs (initializers excluded), in order. */
  readonly inputs: readonly GraphValue[];
  /** The graph outputs, in order. */
  readonly outputs: readonly GraphValue[];
  /** The default-domain opset of the file. */
  readonly opset: number;
  /** Producer recorded in the file ("pytorch", "chainrule", ...). */
  readonly producer: string;
  private readonly _steps: Step[];
  private readonly _paramNames: string[];
  private readonly _constants: Map<string, Tensor>;

  /** @internal Use onnx.loadModel. */
  constructor(parts: { inputs: GraphValue[]; outputs: GraphValue[]; opset: number; producer: string; steps: Step[]; params: Map<string, Tensor>; buffers: Map<string, Tensor>; constants: Map<string, Tensor> }) {
    super();
    this.inputs = parts.inputs;
    this.outputs = parts.outputs;
    this.opset = parts.opset;
    this.producer = parts.producer;
    this._steps = parts.steps;
    this._constants = parts.constants;
    this._paramNames = [...parts.params.keys()];
    const fields = this as unknown as Record<string, unknown>;
    for (const [name, t] of parts.params) fields[`param:${name}`] = new Parameter(t);
    for (const [name, t] of parts.buffers) this.registerBuffer(`buffer:${name}`, t, name);
    this.eval();
  }

  protected override entries(): [string, unknown][] {
    const fields = this as unknown as Record<string, unknown>;
    return this._paramNames.map((name) => [name, fields[`param:${name}`]]);
  }

  /**
   * The parameters and buffers by their ONNX names. The names come from the file, so one such as
   * "__proto__" or "constructor" must stay an own entry (an assignment would set the object's
   * prototype instead and lose the tensor).
   */
  override stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, p] of this.namedParameters()) defineOwn(out, name, p.detach());
    for (const [name, b] of this.namedBuffers()) defineOwn(out, name, b.detach());
    return out;
  }

  override async stateDictAsync(): Promise<StateDict> {
    const out: StateDict = {};
    for (const [name, t] of Object.entries(this.stateDict())) defineOwn(out, name, Tensor.fromStorage((await t.dataAsync()).slice(), t.shape, t.dtype));
    return out;
  }

  /** Module.loadStateDict on the dict's own entries only: a parameter named "constructor" must not find Object.prototype.constructor. */
  override loadStateDict(stateDict: StateDict, options?: LoadStateDictOptions): LoadStateDictResult {
    const own: StateDict = Object.create(null) as StateDict;
    if (stateDict !== null && typeof stateDict === "object") for (const [k, v] of Object.entries(stateDict)) defineOwn(own, k, v);
    return super.loadStateDict(own, options);
  }

  /** The value of every graph output, by name. `inputs`: one tensor per graph input, in order or by name. */
  run(inputs: readonly Tensor[] | Record<string, Tensor>): Record<string, Tensor> {
    const list = Array.isArray(inputs) ? inputs : this.inputs.map((v) => (inputs as Record<string, Tensor>)[v.name]!);
    if (list.length !== this.inputs.length || list.some((t) => !(t instanceof Tensor))) {
      throw new OnnxImportError(`OnnxModel: the graph takes ${this.inputs.length} input(s) (${this.inputs.map((v) => `'${v.name}' ${this.describeShape(v)}`).join(", ")}), got ${Array.isArray(inputs) ? `${inputs.length} tensor(s)` : `names ${JSON.stringify(Object.keys(inputs))}`}.`);
    }
    const values = new Map<string, Tensor>(this._constants);
    const fields = this as unknown as Record<string, unknown>;
    for (const name of this._paramNames) values.set(name, fields[`param:${name}`] as Tensor);
    for (const [name, b] of this.namedBuffers()) values.set(name, b);
    this.inputs.forEach((v, i) => {
      const t = list[i]!;
      const bad = v.shape !== undefined && (t.ndim !== v.shape.length || v.shape.some((d, k) => d !== null && d !== t.shape[k]));
      if (bad) throw new OnnxImportError(`OnnxModel: input '${v.name}' must have shape ${this.describeShape(v)}, got ${fmtShape(t.shape)}.`);
      const want = v.dtype === "float32" || v.dtype === "float64" ? this.floatDType() : v.dtype;
      values.set(v.name, t.dtype === want ? t : t.to(want));
    });
    for (const step of this._steps) {
      const args = step.inputs.map((n) => (n === "" ? undefined : values.get(n)!));
      const outs = step.run(args);
      step.outputs.forEach((n, k) => {
        if (n !== "" && outs[k] !== undefined) values.set(n, outs[k]!);
      });
    }
    return Object.fromEntries(this.outputs.map((v) => [v.name, values.get(v.name)!]));
  }

  /** The first graph output for the given inputs (one per graph input, in order). */
  forward(...inputs: Tensor[]): Tensor {
    return this.run(inputs)[this.outputs[0]!.name]!;
  }

  private floatDType(): "float32" | "float64" {
    const fields = this as unknown as Record<string, unknown>;
    const p = this._paramNames.length > 0 ? (fields[`param:${this._paramNames[0]}`] as Tensor) : undefined;
    return p?.dtype === "float64" ? "float64" : "float32";
  }

  private describeShape(v: GraphValue): string {
    return v.shape === undefined ? "(any shape)" : `[${v.shape.map((d) => d ?? "?").join(", ")}]`;
  }

  protected override extraRepr(): string {
    return `inputs=${this.inputs.map((v) => `${v.name}${this.describeShape(v)}`).join(", ")}, outputs=${this.outputs.map((v) => v.name).join(", ")}, opset=${this.opset}, operators=${this._steps.length}`;
  }
}

function graphValue(v: P.IValueInfoProto, where: string): GraphValue {
  if (!v.name) fail(`${where} has a value without a name.`);
  const tt = v.type?.tensorType;
  const elem = tt?.elemType ?? DataType.FLOAT;
  const dtype = CAST_TO[elem];
  if (dtype === undefined) fail(`${where} '${v.name}' has element type ${DATA_TYPE_NAMES[elem] ?? elem}; the reader takes float, double, float16, int32, int64 and bool values.`);
  const shape = tt?.shape ? (tt.shape.dim ?? []).map((d) => ((d as P.TensorShapeProto.Dimension).value === "dimValue" ? int64(d.dimValue) : null)) : undefined;
  if (shape?.some((d) => d !== null && (!Number.isSafeInteger(d) || d < 0))) fail(`${where} '${v.name}' has a negative or huge dimension.`);
  return { name: v.name, dtype, shape };
}

/**
 * Reads an ONNX model (the bytes of a .onnx file) as a trainable Module with eval-mode semantics.
 * Operators: SUPPORTED_OPERATORS (default domain, opset 13 to 21).
 * @example
 * const model = onnx.loadModel(readFileSync("model.onnx"));
 * const probs = model.forward(x).softmax();
 */
export function loadModel(bytes: Uint8Array | ArrayBuffer, options: LoadModelOptions = {}): OnnxModel {
  const data = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  if (!(data instanceof Uint8Array)) fail(`expected the bytes of a .onnx file (Uint8Array or ArrayBuffer), got ${typeof bytes}.`);
  if (data.length === 0) fail("the file is empty.");
  const dtype = options.dtype ?? "float32";
  let model: P.ModelProto;
  try {
    model = pb.ModelProto.decode(data);
  } catch (e) {
    fail(`not an ONNX model: the protobuf could not be decoded (${e instanceof Error ? e.message : String(e)}); the file (${data.length} bytes) is truncated, corrupt or not ONNX.`);
  }
  const graph = model.graph;
  if (!graph) fail(`the file (${data.length} bytes) decodes but holds no graph; it is not an ONNX model.`);
  const opsets = model.opsetImport ?? [];
  const main = opsets.find((o) => !o.domain || o.domain === "ai.onnx");
  if (!main) fail(`the model imports no default-domain (ai.onnx) opset; imports: ${JSON.stringify(opsets.map((o) => o.domain))}.`);
  const opset = int64(main.version ?? 0);
  if (!(opset >= MIN_IMPORT_OPSET)) fail(`the model uses opset ${opset}, below the minimum ${MIN_IMPORT_OPSET}; convert it first (python: onnx.version_converter.convert_version(model, 17)).`);
  if (opset > MAX_IMPORT_OPSET) fail(`the model uses opset ${opset}; the reader knows opsets ${MIN_IMPORT_OPSET} to ${MAX_IMPORT_OPSET}. Re-export with an older opset.`);

  // Initializers.
  const initializers = new Map<string, Tensor>();
  for (const [k, t] of (graph.initializer ?? []).entries()) {
    if (!t.name) fail(`initializer #${k} has no name.`);
    if (initializers.has(t.name)) fail(`two initializers are named '${t.name}'.`);
    initializers.set(t.name, decodeTensor(t, `initializer '${t.name}'`, dtype));
  }
  if ((graph.sparseInitializer ?? []).length > 0) fail("sparse initializers are not supported.");

  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? "")).map((v) => graphValue(v, "graph input"));
  const outputs = (graph.output ?? []).map((v) => graphValue(v, "graph output"));
  if (outputs.length === 0) fail("the graph declares no output.");
  const names = new Set<string>();
  for (const v of [...inputs, ...outputs]) {
    if (inputs.includes(v) && names.has(v.name)) fail(`two graph inputs are named '${v.name}'.`);
    names.add(v.name);
  }

  // Nodes: each operator built (attributes checked) now; Constant evaluated now.
  const constants = new Map<string, Tensor>();
  interface Pending { index: number; step: Step }
  const pending: Pending[] = [];
  const producedBy = new Map<string, string>();
  for (const [index, n] of (graph.node ?? []).entries()) {
    const opType = n.opType ?? "";
    const label = `node #${index}${n.name ? ` '${n.name}'` : ""} (${opType || "no op_type"})`;
    if (n.domain && n.domain !== "ai.onnx") fail(`${label} is in domain '${n.domain}'; the reader supports the default ONNX domain only.`);
    const outs = n.output ?? [];
    if (outs.length === 0) fail(`${label} has no outputs.`);
    for (const o of outs) {
      if (o === "") continue;
      if (producedBy.has(o) || initializers.has(o) || inputs.some((v) => v.name === o)) fail(`${label} writes '${o}', which ${producedBy.has(o) ? `${producedBy.get(o)} also writes` : "is already a graph input or initializer"}; every value must have one producer.`);
      producedBy.set(o, label);
    }
    const attrs = new Attrs(label, n.attribute ?? []);
    if (opType === "Constant") {
      const t = attrs.tensor("value");
      let value: Tensor;
      if (t) value = decodeTensor(t, `${label} value`, dtype);
      else if (attrs.has("value_float")) value = Tensor.fromStorage(dtype === "float64" ? new Float64Array([attrs.float("value_float", 0)]) : new Float32Array([attrs.float("value_float", 0)]), [], dtype);
      else if (attrs.has("value_int")) value = Tensor.fromStorage(new Int32Array([toInt32(attrs.int("value_int", 0))]), [], "int32");
      else if (attrs.has("value_ints")) {
        const v = attrs.ints("value_ints", [])!;
        value = Tensor.fromStorage(Int32Array.from(v.map(toInt32)), [v.length], "int32");
      } else fail(`${label} has no value attribute the reader understands (value, value_float, value_int, value_ints).`);
      constants.set(outs[0]!, value);
      continue;
    }
    // Own operators only: "toString" or "constructor" must not find Object.prototype's functions.
    const make = Object.hasOwn(OPERATORS, opType) ? OPERATORS[opType] : undefined;
    if (make === undefined) fail(`${label}: operator '${opType}' is not supported. The reader supports: ${SUPPORTED_OPERATORS.join(", ")}.`);
    const ctx: OpCtx = { node: label, attrs, opset, inputs: (n.input ?? []).length, outputs: outs.length, dtype };
    pending.push({ index, step: { name: label, inputs: [...(n.input ?? [])], outputs: [...outs], run: make(ctx) } });
  }

  // Order the nodes so every value is computed before it is read (Kahn); what is left is a cycle or an undefined name.
  const available = new Set<string>(["", ...initializers.keys(), ...constants.keys(), ...inputs.map((v) => v.name)]);
  const steps: Step[] = [];
  let remaining = pending;
  while (remaining.length > 0) {
    const next: Pending[] = [];
    for (const p of remaining) {
      if (p.step.inputs.every((n) => available.has(n))) {
        steps.push(p.step);
        for (const o of p.step.outputs) available.add(o);
      } else next.push(p);
    }
    if (next.length === remaining.length) {
      const undefinedName = next.flatMap((p) => p.step.inputs.filter((n) => !available.has(n) && !producedBy.has(n)).map((n) => [p.step.name, n] as const))[0];
      if (undefinedName) fail(`${undefinedName[0]} reads '${undefinedName[1]}', which no node, graph input or initializer defines.`);
      fail(`the graph has a cycle through ${next.slice(0, 4).map((p) => p.step.name).join(", ")}${next.length > 4 ? ` and ${next.length - 4} more` : ""}; an ONNX graph must be acyclic.`);
    }
    remaining = next;
  }
  for (const v of outputs) if (!available.has(v.name)) fail(`graph output '${v.name}' is not computed by any node.`);

  // Float initializers are parameters, except batch-norm statistics (buffers); integer ones are constants.
  const statistics = new Set<string>();
  for (const s of steps) if (s.name.endsWith("(BatchNormalization)")) for (const k of [3, 4]) if (s.inputs[k]) statistics.add(s.inputs[k]!);
  const params = new Map<string, Tensor>(), buffers = new Map<string, Tensor>();
  for (const [name, t] of initializers) {
    if (t.dtype !== "float32" && t.dtype !== "float64") constants.set(name, t);
    else if (statistics.has(name)) buffers.set(name, t);
    else params.set(name, t);
  }
  return new OnnxModel({ inputs, outputs, opset, producer: model.producerName ?? "", steps, params, buffers, constants });
}
