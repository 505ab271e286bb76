import { getBackend, type ReduceOp } from "../backend/index.js";
import { defineOp } from "../autograd/define-op.js";
import { IndexError } from "../errors.js";
import { allocate, isFloat, type DType } from "../tensor/dtype.js";
import { normalizeAxes, normalizeAxis, sizeOf } from "../tensor/shape.js";
import { Tensor, assertTensor } from "../tensor/tensor.js";
import { div, eq, exp, isFinite, log, mul, sqrt, square, sub, where, add } from "./elementwise.js";
import { expand, reshape } from "./shape-ops.js";

/** Which axes to reduce and whether to keep them as size 1. */
export interface ReduceOptions {
  /** An axis, a list of axes (negative counts from the end), or undefined for all axes. */
  axis?: number | readonly number[];
  /** Keep reduced axes as size-1 dimensions. Default false. */
  keepDim?: boolean;
}
/** One axis (or undefined for the flattened tensor). */
export interface AxisOptions {
  axis?: number;
  keepDim?: boolean;
}
export interface VarOptions extends ReduceOptions {
  /** Subtracted from the count in the denominator: 1 (default, unbiased, as PyTorch) or 0 (biased). */
  correction?: number;
}

/** The shape with reduced axes kept as 1. */
function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}
function outShape(shape: readonly number[], axes: readonly number[], keepDim: boolean): number[] {
  return keepDim ? keptShape(shape, axes) : shape.filter((_, i) => !axes.includes(i));
}

/**
 * Reduces `axes` with a kernel that reduces one middle axis; runs of adjacent axes are one
 * call, other runs are reduced in turn from the last one.
 */
function reduceKernel(op: ReduceOp, x: Tensor, axes: readonly number[], dtype: DType): Tensor {
  let data = x._buf;
  let shape = [...x.shape];
  const runs: [number, number][] = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a) last[1] = a + 1;
    else runs.push([a, a + 1]);
  }
  if (runs.length === 0) {
    const copy = allocate(dtype, x.size);
    getBackend().cast(data, copy);
    return Tensor.fromStorage(copy, shape, dtype);
  }
  for (let r = runs.length - 1; r >= 0; r--) {
    const [s, e] = runs[r]!;
    const outer = sizeOf(shape.slice(0, s));
    const len = sizeOf(shape.slice(s, e));
    const inner = sizeOf(shape.slice(e));
    const out = allocate(dtype, outer * inner);
    getBackend().reduce(op, data, outer, len, inner, out);
    data = out;
    shape = [...shape.slice(0, s), ...new Array<number>(e - s).fill(1), ...shape.slice(e)];
  }
  return Tensor.fromStorage(data, shape, dtype);
}

const sumOp = defineOp<[Tensor, readonly number[], boolean], [readonly number[], readonly number[]]>({
  name: "sum",
  forward(ctx, x, axes, keepDim) {
    const dtype: DType = isFloat(x.dtype) ? x.dtype : "int32";
    const kept = reduceKernel("sum", x, axes, dtype);
    ctx.save([x.shape, kept.shape]);
    return keepDim ? kept : Tensor.fromStorage(kept._buf, outShape(x.shape, axes, false), dtype);
  },
  // Every element contributed with local gradient 1: the upstream gradient is copied back.
  backward(ctx, gradOut) {
    const [inShape, kept] = ctx.saved;
    return [expand(reshape(gradOut, kept), inShape)];
  },
  describe: (_x, axes, keepDim) => ({ axis: axes, keepDim }),
});

/** Sum over `axis` (all axes by default). Integer and bool inputs sum to int32. */
export function sum(x: Tensor, options: ReduceOptions = {}): Tensor {
  assertTensor("sum", "x", x);
  return sumOp(x, normalizeAxes("sum", options.axis, x.ndim), options.keepDim ?? false);
}

/** Mean over `axis` (all axes by default): the sum divided by the count. */
export function mean(x: Tensor, options: ReduceOptions = {}): Tensor {
  assertTensor("mean", "x", x);
  const axes = normalizeAxes("mean", options.axis, x.ndim);
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  return div(sum(isFloat(x.dtype) ? x : x.to("float32"), options), count);
}

function extremumOp(name: "max" | "min") {
  return defineOp<[Tensor, readonly number[], boolean], [Tensor, Tensor, readonly number[]]>({
    name,
    forward(ctx, x, axes, keepDim) {
      if (x.size === 0) throw new IndexError(`${name}: cannot reduce an empty tensor (shape [${x.shape.join(", ")}]); there is no ${name === "max" ? "maximum" : "minimum"}.`);
      const kept = reduceKernel(name, x, axes, x.dtype);
      ctx.save([x, kept, kept.shape]);
      return keepDim ? kept : Tensor.fromStorage(kept._buf, outShape(x.shape, axes, false), x.dtype);
    },
    // Routes the gradient to the element that was chosen; tied elements share it evenly
    // (like torch.amax), so the result does not depend on scan order.
    backward(ctx, gradOut) {
      const [x, kept, keptShape] = ctx.saved;
      const mask = eq(x, kept).to(x.dtype);
      const share = div(mask, sum(mask, { axis: keptShape.flatMap((d, i) => (d === 1 && x.shape[i] !== 1 ? [i] : [])), keepDim: true }));
      return [mul(reshape(gradOut, keptShape), share)];
    },
    describe: (_x, axes, keepDim) => ({ axis: axes, keepDim }),
  });
}
const maxOp = extremumOp("max");
const minOp = extremumOp("min");

/** Maximum over `axis` (all axes by default). Ties share the gradient evenly. */
export function max(x: Tensor, options: ReduceOptions = {}): Tensor {
  assertTensor("max", "x", x);
  return maxOp(x, normalizeAxes("max", options.axis, x.ndim), options.keepDim ?? false);
}
/** Minimum over `axis` (all axes by default). Ties share the gradient evenly. */
export function min(x: Tensor, options: ReduceOptions = {}): Tensor {
  assertTensor("min", "x", x);
  return minOp(x, normalizeAxes("min", options.axis, x.ndim), options.keepDim ?? false);
}

function argReduce(name: "argmax" | "argmin", x: Tensor, options: AxisOptions): Tensor {
  assertTensor(name, "x", x);
  if (x.size === 0) throw new IndexError(`${name}: cannot reduce an empty tensor (shape [${x.shape.join(", ")}]).`);
  if (options.axis === undefined) {
    const flat = reduceKernel(name, Tensor.fromStorage(x._buf, [x.size], x.dtype), [0], "int32");
    return options.keepDim ? Tensor.fromStorage(flat._buf, x.shape.map(() => 1), "int32") : Tensor.fromStorage(flat._buf, [], "int32");
  }
  const axis = normalizeAxis(name, options.axis, x.ndim);
  const kept = reduceKernel(name, x, [axis], "int32");
  return Tensor.fromStorage(kept._buf, outShape(x.shape, [axis], options.keepDim ?? false), "int32");
}
/** Index (int32) of the largest element along `axis`, or in the flattened tensor; the first one on ties. */
export function argmax(x: Tensor, options: AxisOptions = {}): Tensor {
  return argReduce("argmax", x, options);
}
/** Index (int32) of the smallest element along `axis`, or in the flattened tensor; the first one on ties. */
export function argmin(x: Tensor, options: AxisOptions = {}): Tensor {
  return argReduce("argmin", x, options);
}

/**
 * log Σ exp(x) over `axis`, computed stably as m + log Σ exp(x − m) with m the (constant) max.
 * Its gradient is softmax(x).
 */
export function logsumexp(x: Tensor, options: ReduceOptions = {}): Tensor {
  assertTensor("logsumexp", "x", x);
  const axes = normalizeAxes("logsumexp", options.axis, x.ndim);
  const m = max(x.detach(), { axis: axes, keepDim: true });
  const shift = where(isFinite(m), m, 0);
  const out = add(log(sum(exp(sub(x, shift)), { axis: axes, keepDim: true })), shift);
  return options.keepDim ? out : reshape(out, outShape(x.shape, axes, false));
}

/** Variance over `axis`: Σ(x − mean)² / (n − correction); correction 1 (unbiased) by default, as PyTorch. */
export function variance(x: Tensor, options: VarOptions = {}): Tensor {
  assertTensor("var", "x", x);
  const axes = normalizeAxes("var", options.axis, x.ndim);
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  const xf = isFloat(x.dtype) ? x : x.to("float32");
  const centered = sub(xf, mean(xf, { axis: axes, keepDim: true }));
  return div(sum(square(centered), { axis: axes, keepDim: options.keepDim ?? false }), Math.max(0, count - (options.correction ?? 1)));
}
/** Standard deviation: √var (same options). */
export function std(x: Tensor, options: VarOptions = {}): Tensor {
  return sqrt(variance(x, options));
}
