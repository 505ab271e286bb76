import { deviceActive } from "../tensor/storage.js";
import { getBackend } from "../backend/index.js";
import type { Window2d } from "../backend/backend.js";
import type { WebGpuBackend } from "../backend/webgpu/backend.js";
import type { InputGrads } from "../autograd/node.js";
import { defineOp } from "../autograd/define-op.js";
import { ShapeError, ValueError, fmtShape } from "../errors.js";
import { allocate, allocateUninit, promoteTypes, type DType, type FloatStorage, type Storage } from "../tensor/dtype.js";
import { Tensor, assertTensor } from "../tensor/tensor.js";
import { sum } from "./reduce.js";
import { reshape } from "./shape-ops.js";

// Convolution as a matrix product (im2col) and pooling, NCHW as in PyTorch.
//
// conv2d is a primitive for speed: over the whole batch at once, im2col lays the receptive
// fields out as the columns of a [C·kh·kw, N·outH·outW] matrix and one matmul with the weight
// viewed [O, C·kh·kw] gives the output (the backend's conv2d kernel; the wasm one never
// materialises the columns). Its two gradients are ops of their own, each linear in both of its
// arguments, and the three differentiate into one another:
//
//   y  = conv(x, W)           dx = convInputGrad(dy, W)     (Wᵀ·dy, then col2im)
//                             dW = convWeightGrad(x, dy)    (dy·colsᵀ over all N·L columns)
//   convInputGrad(g, W):      d/dg = conv(·, W),            d/dW = convWeightGrad(·, g)
//   convWeightGrad(x, g):     d/dx = convInputGrad(g, ·),   d/dg = conv(x, ·)
//
// so gradients of gradients (createGraph) are exact to any order. Pooling likewise: max
// pooling's backward scatters by the saved argmax indices (its own backward is a gather), and
// average pooling's backward is its adjoint kernel (whose backward is average pooling again).

/** An int, or [height, width]. */
export type Size2 = number | readonly [number, number];

/** Options of conv2d (torch.nn.functional.conv2d). */
export interface Conv2dOptions {
  /** Step between windows. Default 1. */
  stride?: Size2;
  /** Zeros added on both sides of each spatial axis. Default 0. */
  padding?: Size2;
  /** Spacing between kernel taps. Default 1. */
  dilation?: Size2;
  /** Input and output channels split into this many independent groups. Default 1. */
  groups?: number;
}

/** Options of maxPool2d (torch.nn.functional.max_pool2d). */
export interface MaxPool2dOptions {
  /** Window size. */
  kernelSize: Size2;
  /** Step between windows. Default: kernelSize. */
  stride?: Size2;
  /** Implicit −∞ padding on both sides; at most half the kernel size. Default 0. */
  padding?: Size2;
  /** Spacing between window taps. Default 1. */
  dilation?: Size2;
  /** Round the output size up (a last, partial window) instead of down. Default false. */
  ceilMode?: boolean;
}

/** Options of avgPool2d (torch.nn.functional.avg_pool2d). */
export interface AvgPool2dOptions {
  /** Window size. */
  kernelSize: Size2;
  /** Step between windows. Default: kernelSize. */
  stride?: Size2;
  /** Implicit zero padding on both sides; at most half the kernel size. Default 0. */
  padding?: Size2;
  /** Round the output size up instead of down. Default false. */
  ceilMode?: boolean;
  /** Divide by the whole window, padding included (PyTorch's default), or only by the input elements it covers. Default true. */
  countIncludePad?: boolean;
}

// ------------------------------------------------------------------ shared helpers

/** A Size2 as [height, width], checked to be integers ≥ min. */
function pair(op: string, name: string, v: Size2 | undefined, fallback: readonly [number, number], min: number): [number, number] {
  const p = v === undefined ? fallback : typeof v === "number" ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((n) => Number.isInteger(n) && n >= min)) {
    throw new ValueError(`${op}: ${name} must be ${min === 0 ? "a non-negative" : "a positive"} integer or a [height, width] pair of them, got ${JSON.stringify(v)}.`);
  }
  return [p[0]!, p[1]!];
}

/** x as [N, C, H, W] (an unbatched [C, H, W] gets N = 1), or a ShapeError naming the op. */
function batched(op: string, x: Tensor): Tensor {
  if (x.ndim === 4) return x;
  if (x.ndim === 3) return reshape(x, [1, ...x.shape]);
  throw new ShapeError(`${op}: x must be [N, C, H, W] (or unbatched [C, H, W]), got shape ${fmtShape(x.shape)}.`);
}

/** The float dtype of an op over these tensors (ints and bools compute in float32). */
function floatOf(tensors: readonly (Tensor | null)[]): DType {
  let dtype: DType = "float32";
  for (const t of tensors) if (t !== null) dtype = promoteTypes(dtype, t.dtype);
  return dtype;
}

const asDType = (t: Tensor, dtype: DType): Tensor => (t.dtype === dtype ? t : t.to(dtype));

/** Scratch storage for one op call (in the backend's memory, where kernels read it in place), handed back by `release`. */
function scratch(dtype: DType, n: number): FloatStorage {
  return allocateUninit(dtype, n) as FloatStorage;
}
function release(s: FloatStorage): void {
  getBackend().allocator?.release(s);
}

// ------------------------------------------------------------------ conv2d

/** The geometry of one conv2d: x [n, g.c, g.h, g.w], weight [o, g.c/groups, g.kh, g.kw], output [n, o, g.outH, g.outW]. */
interface ConvSpec {
  n: number;
  o: number;
  groups: number;
  g: Window2d;
}

/** Rows of each group's weight block ((C/groups)·kh·kw), output channels per group, output positions per image and elements per image. */
function groupSizes(s: ConvSpec): { ck: number; og: number; l: number; image: number } {
  const { g, o, groups } = s;
  return { ck: (g.c / groups) * g.kh * g.kw, og: o / groups, l: g.outH * g.outW, image: g.c * g.h * g.w };
}

/** The batch's column matrix [C·kh·kw, N·L] (im2col of every image at once), in scratch storage. */
function batchCols(xd: FloatStorage, s: ConvSpec, dtype: DType): FloatStorage {
  const { g, n } = s;
  const cols = scratch(dtype, g.c * g.kh * g.kw * n * g.outH * g.outW);
  getBackend().im2col(xd, 0, g, cols, 0, n);
  return cols;
}

/** gradOut [N, O, L] reordered to [O, N·L] (the layout of the batch's matrix product), in scratch storage. */
function channelsFirst(gradOut: Tensor, s: ConvSpec): FloatStorage {
  const { n, o } = s;
  const l = s.g.outH * s.g.outW;
  const out = scratch(gradOut.dtype, o * n * l);
  getBackend().copyStrided(gradOut._buf, 0, [l, o * l, 1], [o, n, l], out);
  return out;
}

/**
 * y = conv(x, W) (+ bias) for the whole batch: one backend convolution kernel (the wasm one an
 * implicit matrix product W · cols over all N·L columns, straight into y's layout); with groups,
 * the batch's column matrix, one matmul per group into [O, N·L], and a reorder to [N, O, L].
 */
/**
 * Whether the backend's direct conv2d kernel is the fast way: the wasm kernel is float32 only
 * (its float64 form is the js reference's direct loops), so float64 on wasm takes the batched
 * im2col + packed matmul path, which is SIMD in both dtypes.
 */
const directConv = (be: { name: string }, dtype: DType): boolean => dtype === "float32" || be.name === "js";

function convForward(x: Tensor, w: Tensor, bias: Tensor | null, s: ConvSpec): Tensor {
  const { n, o, groups, g } = s;
  const { ck, og, l } = groupSizes(s);
  const be = getBackend();
  const dtype = x.dtype;
  const xd = x._buf as FloatStorage;
  const shape = [n, o, g.outH, g.outW];
  if (groups === 1 && directConv(be, dtype)) {
    const out = allocateUninit(dtype, n * o * l) as FloatStorage;
    be.conv2d(xd, w._buf as FloatStorage, bias === null ? null : (bias._buf as FloatStorage), n, o, g, out);
    return Tensor.fromStorage(out, shape, dtype);
  }
  const nl = n * l;
  const cols = batchCols(xd, s, dtype);
  const perChannel = scratch(dtype, o * nl);
  for (let k = 0; k < groups; k++) be.matmul(w._buf, k * og * ck, cols, k * ck * nl, perChannel, k * og * nl, og, ck, nl, false, false);
  release(cols);
  const out = allocateUninit(dtype, n * o * l) as FloatStorage;
  be.copyStrided(perChannel, 0, [l, nl, 1], [n, o, l], out);
  release(perChannel);
  if (bias === null) return Tensor.fromStorage(out, shape, dtype);
  // The bias, one value per output channel, repeated per image so that the add is a
  // [n·o, l] + [n·o, 1] broadcast: rows × columns, which every backend runs fast. (Into a new
  // array: the binary kernels are not meant to run in place.)
  const perRow = scratch(dtype, n * o);
  be.copyStrided(bias._buf, 0, [0, 1], [n, o], perRow);
  const biased = allocateUninit(dtype, n * o * l);
  be.binary("add", out, undefined, perRow, [1, 0], biased, [n * o, l]);
  release(perRow);
  release(out);
  return Tensor.fromStorage(biased, shape, dtype);
}

/**
 * dx = col2im(Wᵀ · dy) for the whole batch. With stride 1 (one group) that is a convolution
 * of dy with the kernel flipped and its channel axes swapped, padded by dil·(k − 1) − pad, which
 * runs on the forward kernel; otherwise dy as [O, N·L], one matmul per group into the batch's
 * column matrix, and one col2im.
 */
function convInputGrad(gradOut: Tensor, w: Tensor, s: ConvSpec): Tensor {
  const { n, o, groups, g } = s;
  const { ck, og, l, image } = groupSizes(s);
  const be = getBackend();
  const dtype = gradOut.dtype;
  const padH = g.dilH * (g.kh - 1) - g.padH;
  const padW = g.dilW * (g.kw - 1) - g.padW;
  if (groups === 1 && directConv(be, dtype) && g.strideH === 1 && g.strideW === 1 && padH >= 0 && padW >= 0) {
    const { c, kh, kw } = g;
    const taps = kh * kw;
    const flipped = scratch(dtype, c * o * taps);
    if (deviceActive()) {
      // The same flip as one strided copy (negative strides), on the device.
      be.copyStrided(w._buf, taps - 1, [taps, c * taps, -kw, -1], [c, o, kh, kw], flipped);
    } else {
      const wd = w.data;
      for (let oc = 0; oc < o; oc++) {
        for (let ch = 0; ch < c; ch++) {
          const from = (oc * c + ch) * taps;
          const to = (ch * o + oc) * taps + taps - 1;
          for (let t = 0; t < taps; t++) flipped[to - t] = wd[from + t]!;
        }
      }
    }
    const back: Window2d = { ...g, c: o, h: g.outH, w: g.outW, padH, padW, outH: g.h, outW: g.w };
    const dx = allocateUninit(dtype, n * image) as FloatStorage;
    be.conv2d(gradOut._buf as FloatStorage, flipped, null, n, c, back, dx);
    release(flipped);
    return Tensor.fromStorage(dx, [n, g.c, g.h, g.w], dtype);
  }
  const nl = n * l;
  const dy = channelsFirst(gradOut, s);
  const cols = scratch(dtype, g.c * g.kh * g.kw * nl);
  for (let k = 0; k < groups; k++) be.matmul(w._buf, k * og * ck, dy, k * og * nl, cols, k * ck * nl, ck, og, nl, true, false);
  release(dy);
  // col2im adds into zeros.
  const dx = allocate(dtype, n * image) as FloatStorage;
  be.col2im(cols, 0, g, dx, 0, n);
  release(cols);
  return Tensor.fromStorage(dx, [n, g.c, g.h, g.w], dtype);
}

/**
 * dW = dy · colsᵀ over the whole batch (a sum over all N·L columns inside one matmul per
 * group). Where a group's weight block has more columns than rows, its transpose cols · dyᵀ is
 * computed (more rows of C to split across threads; the same products in the same order) and
 * transposed back.
 */
function convWeightGrad(x: Tensor, gradOut: Tensor, s: ConvSpec): Tensor {
  const { n, o, groups, g } = s;
  const { ck, og, l } = groupSizes(s);
  const be = getBackend();
  const dtype = x.dtype;
  if (be.name === "webgpu") {
    // One product per image, dy_n [og, L] · cols_nᵀ [L, ck] (a batched matmul: N·⌈ck/64⌉·⌈og/64⌉
    // workgroups, where one product over all N·L columns has only ⌈ck/64⌉·⌈og/64⌉), then
    // the sum over the images. dy is gradOut as it is ([N, O, L]).
    const gpu = be as WebGpuBackend;
    const ckAll = g.c * g.kh * g.kw;
    const cols = scratch(dtype, n * ckAll * l);
    gpu.conv.im2colImages(x._buf as FloatStorage, g, cols, n);
    const partial = scratch(dtype, n * o * ck);
    for (let k = 0; k < groups; k++) gpu.matmulBatch(gradOut._buf, k * og * l, o * l, cols, k * ck * l, ckAll * l, partial, k * og * ck, o * ck, n, og, l, ck, false, true);
    release(cols);
    const dw = allocateUninit(dtype, o * ck) as FloatStorage;
    be.reduce("sum", partial, 1, n, o * ck, dw);
    release(partial);
    return Tensor.fromStorage(dw, [o, g.c / groups, g.kh, g.kw], dtype);
  }
  const nl = n * l;
  const dy = channelsFirst(gradOut, s);
  const cols = batchCols(x._buf as FloatStorage, s, dtype);
  const dw = allocateUninit(dtype, o * ck) as FloatStorage;
  const transposed = ck > og;
  const block = transposed ? scratch(dtype, ck * og) : null;
  for (let k = 0; k < groups; k++) {
    if (block === null) {
      be.matmul(dy, k * og * nl, cols, k * ck * nl, dw, k * og * ck, og, nl, ck, false, true);
    } else {
      be.matmul(cols, k * ck * nl, dy, k * og * nl, block, 0, ck, nl, og, false, true);
      // block [ck, og] transposed into group k's rows of dw ([og, ck] at k·og·ck).
      if (deviceActive()) be.scatterStrided(block, dw, k * og * ck, [1, ck], [ck, og], false);
      else be.copyStrided(block, 0, [1, og], [og, ck], dw.subarray(k * og * ck, (k + 1) * og * ck));
    }
  }
  if (block !== null) release(block);
  release(cols);
  release(dy);
  return Tensor.fromStorage(dw, [o, g.c / groups, g.kh, g.kw], dtype);
}

const describeConv = (s: ConvSpec): Record<string, unknown> => ({
  stride: [s.g.strideH, s.g.strideW],
  padding: [s.g.padH, s.g.padW],
  dilation: [s.g.dilH, s.g.dilW],
  groups: s.groups,
});

const conv2dOp = defineOp<[Tensor, Tensor, Tensor | null, ConvSpec], [Tensor, Tensor, boolean, ConvSpec]>({
  name: "conv2d",
  forward(ctx, x, w, bias, s) {
    ctx.save([x, w, bias !== null, s]);
    return convForward(x, w, bias, s);
  },
  backward(ctx, gradOut): InputGrads {
    const [x, w, hasBias, s] = ctx.saved;
    const gx = ctx.needsInputGrad[0] ? conv2dInputGradOp(gradOut, w, s) : null;
    const gw = ctx.needsInputGrad[1] ? conv2dWeightGradOp(x, gradOut, s) : null;
    if (!hasBias) return [gx, gw];
    return [gx, gw, ctx.needsInputGrad[2] ? sum(gradOut, { axis: [0, 2, 3] }) : null];
  },
  describe: (_x, _w, _b, s) => describeConv(s),
});

const conv2dInputGradOp = defineOp<[Tensor, Tensor, ConvSpec], [Tensor, Tensor, ConvSpec]>({
  name: "conv2dInputGrad",
  forward(ctx, gradOut, w, s) {
    ctx.save([gradOut, w, s]);
    return convInputGrad(gradOut, w, s);
  },
  // Linear in each argument: its vector-Jacobian products are the forward conv and the weight gradient.
  backward(ctx, gg): InputGrads {
    const [gradOut, w, s] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? conv2dOp(gg, w, null, s) : null,
      ctx.needsInputGrad[1] ? conv2dWeightGradOp(gg, gradOut, s) : null,
    ];
  },
  describe: (_g, _w, s) => describeConv(s),
});

const conv2dWeightGradOp = defineOp<[Tensor, Tensor, ConvSpec], [Tensor, Tensor, ConvSpec]>({
  name: "conv2dWeightGrad",
  forward(ctx, x, gradOut, s) {
    ctx.save([x, gradOut, s]);
    return convWeightGrad(x, gradOut, s);
  },
  backward(ctx, gg): InputGrads {
    const [x, gradOut, s] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? conv2dInputGradOp(gradOut, gg, s) : null,
      ctx.needsInputGrad[1] ? conv2dOp(x, gg, null, s) : null,
    ];
  },
  describe: (_x, _g, s) => describeConv(s),
});

/** PyTorch's convolution output size: floor((n + 2·pad − dil·(k − 1) − 1) / stride) + 1. */
const convOutSize = (n: number, k: number, stride: number, pad: number, dil: number): number => Math.floor((n + 2 * pad - dil * (k - 1) - 1) / stride) + 1;

/**
 * 2-D convolution (cross-correlation, as torch.nn.functional.conv2d): x [N, C, H, W],
 * weight [O, C/groups, kH, kW], bias [O] (optional) → [N, O, outH, outW] with
 * outH = ⌊(H + 2·padding − dilation·(kH − 1) − 1) / stride⌋ + 1 (likewise outW), and
 * out[n, o, i, j] = bias[o] + Σ_{c,a,b} x[n, g·C/groups + c, i·stride − padding + a·dilation, j·stride − padding + b·dilation]·weight[o, c, a, b]
 * (g: o's group; zeros outside the image). An unbatched x [C, H, W] gives [O, outH, outW].
 * stride, padding and dilation are an int or a [height, width] pair. Gradients flow to x, weight
 * and bias, to any order (createGraph). Computed for the whole batch as one matrix product (im2col).
 * @example const y = conv2d(x, w, b, { padding: 1 }); // x [8, 3, 32, 32], w [16, 3, 3, 3] → [8, 16, 32, 32]
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  assertTensor("conv2d", "x", x);
  assertTensor("conv2d", "weight", weight);
  if (bias !== undefined && bias !== null) assertTensor("conv2d", "bias", bias);
  const b = bias ?? null;
  const xb = batched("conv2d", x);
  if (weight.ndim !== 4) {
    throw new ShapeError(`conv2d: weight must be [outChannels, inChannels / groups, kH, kW], got shape ${fmtShape(weight.shape)} (x has shape ${fmtShape(x.shape)}).`);
  }
  const [stride, padding, dilation] = [
    pair("conv2d", "stride", options.stride, [1, 1], 1),
    pair("conv2d", "padding", options.padding, [0, 0], 0),
    pair("conv2d", "dilation", options.dilation, [1, 1], 1),
  ];
  const groups = options.groups ?? 1;
  const [n, c, h, w] = xb.shape as [number, number, number, number];
  const [o, cg, kh, kw] = weight.shape as [number, number, number, number];
  if (!Number.isInteger(groups) || groups < 1) throw new ValueError(`conv2d: groups must be a positive integer, got ${JSON.stringify(options.groups)}.`);
  if (c % groups !== 0 || o % groups !== 0) {
    throw new ShapeError(`conv2d: groups = ${groups} must divide both the input channels (${c}, x shape ${fmtShape(x.shape)}) and the output channels (${o}, weight shape ${fmtShape(weight.shape)}).`);
  }
  if (cg * groups !== c) {
    throw new ShapeError(
      `conv2d: x has ${c} channels (shape ${fmtShape(x.shape)}) but weight (shape ${fmtShape(weight.shape)}) expects ${cg}${groups > 1 ? `·${groups} groups = ${cg * groups}` : ""}: ` +
        `weight must be [outChannels, inChannels / groups, kH, kW].`,
    );
  }
  if (kh < 1 || kw < 1 || o < 1) throw new ShapeError(`conv2d: weight shape ${fmtShape(weight.shape)} has an empty axis.`);
  if (b !== null && (b.ndim !== 1 || b.shape[0] !== o)) {
    throw new ShapeError(`conv2d: bias must be [${o}] (one per output channel of weight ${fmtShape(weight.shape)}), got shape ${fmtShape(b.shape)}.`);
  }
  const outH = convOutSize(h, kh, stride[0], padding[0], dilation[0]);
  const outW = convOutSize(w, kw, stride[1], padding[1], dilation[1]);
  if (outH < 1 || outW < 1) {
    const ekh = dilation[0] * (kh - 1) + 1, ekw = dilation[1] * (kw - 1) + 1;
    throw new ShapeError(
      `conv2d: the kernel (${kh} × ${kw}${dilation[0] > 1 || dilation[1] > 1 ? `, dilated to ${ekh} × ${ekw}` : ""}) is larger than the padded input ` +
        `(${h} × ${w} with padding ${padding[0]}, ${padding[1]} → ${h + 2 * padding[0]} × ${w + 2 * padding[1]}); x shape ${fmtShape(x.shape)}, weight shape ${fmtShape(weight.shape)}.`,
    );
  }
  const dtype = floatOf([x, weight, b]);
  const g: Window2d = { c, h, w, kh, kw, strideH: stride[0], strideW: stride[1], padH: padding[0], padW: padding[1], dilH: dilation[0], dilW: dilation[1], outH, outW };
  const y = conv2dOp(asDType(xb, dtype), asDType(weight, dtype), b === null ? null : asDType(b, dtype), { n, o, groups, g });
  return x.ndim === 3 ? reshape(y, [o, outH, outW]) : y;
}

// ------------------------------------------------------------------ pooling

/** One pooling call: g over all N·C planes, the input and output shapes [N, C, H, W] / [N, C, outH, outW]. */
interface PoolSpec {
  g: Window2d;
  inShape: readonly number[];
  outShape: readonly number[];
  countIncludePad: boolean;
}

const maxPool2dOp = defineOp<[Tensor, PoolSpec], [Tensor, PoolSpec]>({
  name: "maxPool2d",
  forward(ctx, x, s) {
    const { g } = s;
    const m = g.outH * g.outW;
    const out = allocateUninit(x.dtype, g.c * m) as FloatStorage;
    const indices = allocateUninit("int32", g.c * m) as Int32Array;
    getBackend().maxPool2d(x._buf as FloatStorage, g, out, indices);
    ctx.save([Tensor.fromStorage(indices, [g.c, m], "int32"), s]);
    return Tensor.fromStorage(out, s.outShape, x.dtype);
  },
  // The whole gradient of a window goes to its maximum (the first one on ties).
  backward(ctx, gradOut): InputGrads {
    const [indices, s] = ctx.saved;
    return [maxPool2dBackwardOp(gradOut, indices, s)];
  },
  describe: (_x, s) => describePool(s),
});

/** Scatters gradOut to the argmax positions (their sum where windows overlap); its own backward gathers from them. */
const maxPool2dBackwardOp = defineOp<[Tensor, Tensor, PoolSpec], [Tensor, PoolSpec]>({
  name: "maxPool2dBackward",
  forward(ctx, gradOut, indices, s) {
    const { g } = s;
    const be = getBackend();
    let dx: Storage;
    if (be.name === "webgpu") {
      // One thread per input element summing the windows whose maximum it is (deterministic,
      // where a scatter by the indices would need atomics for overlapping windows).
      dx = allocateUninit(gradOut.dtype, g.c * g.h * g.w);
      (be as WebGpuBackend).conv.maxPool2dBackward(gradOut._buf as FloatStorage, indices._buf as Int32Array, g, dx as FloatStorage);
    } else {
      dx = allocate(gradOut.dtype, g.c * g.h * g.w);
      be.scatterAdd(gradOut._buf, indices._buf as Int32Array, g.c, g.h * g.w, g.outH * g.outW, 1, dx, false);
    }
    ctx.save([indices, s]);
    return Tensor.fromStorage(dx, s.inShape, gradOut.dtype);
  },
  backward(ctx, gg): InputGrads {
    const [indices, s] = ctx.saved;
    return [maxPool2dGatherOp(gg, indices, s), null];
  },
  describe: (_g, _i, s) => describePool(s),
});

/**
 * The adjoint of maxPool2dBackward: each window's value of a [N, C, H, W] tensor at its argmax
 * (a gather by the saved indices, valid by construction, so never checked on the host: they
 * may live on the GPU); its backward scatters again.
 */
const maxPool2dGatherOp = defineOp<[Tensor, Tensor, PoolSpec], [Tensor, PoolSpec]>({
  name: "maxPool2dGather",
  forward(ctx, x, indices, s) {
    const { g } = s;
    const m = g.outH * g.outW;
    const out = allocateUninit(x.dtype, g.c * m);
    getBackend().gather(x._buf, indices._buf as Int32Array, g.c, g.h * g.w, m, 1, out, false);
    ctx.save([indices, s]);
    return Tensor.fromStorage(out, s.outShape, x.dtype);
  },
  backward(ctx, gg): InputGrads {
    const [indices, s] = ctx.saved;
    return [maxPool2dBackwardOp(gg, indices, s), null];
  },
  describe: (_x, _i, s) => describePool(s),
});

const avgPool2dOp = defineOp<[Tensor, PoolSpec], PoolSpec>({
  name: "avgPool2d",
  forward(ctx, x, s) {
    const out = allocateUninit(x.dtype, s.g.c * s.g.outH * s.g.outW) as FloatStorage;
    getBackend().avgPool2d(x._buf as FloatStorage, s.g, out, s.countIncludePad);
    ctx.save(s);
    return Tensor.fromStorage(out, s.outShape, x.dtype);
  },
  // Linear: the backward is the adjoint kernel (each window's gradient / divisor spread over the window).
  backward(ctx, gradOut): InputGrads {
    return [avgPool2dBackwardOp(gradOut, ctx.saved)];
  },
  describe: (_x, s) => describePool(s),
});

const avgPool2dBackwardOp = defineOp<[Tensor, PoolSpec], PoolSpec>({
  name: "avgPool2dBackward",
  forward(ctx, gradOut, s) {
    const dx = allocate(gradOut.dtype, s.g.c * s.g.h * s.g.w) as FloatStorage;
    getBackend().avgPool2dBackward(gradOut._buf as FloatStorage, s.g, dx, s.countIncludePad);
    ctx.save(s);
    return Tensor.fromStorage(dx, s.inShape, gradOut.dtype);
  },
  // The adjoint of the adjoint: average pooling again.
  backward(ctx, gg): InputGrads {
    return [avgPool2dOp(gg, ctx.saved)];
  },
  describe: (_g, s) => describePool(s),
});

function describePool(s: PoolSpec): Record<string, unknown> {
  const { g } = s;
  return { kernelSize: [g.kh, g.kw], stride: [g.strideH, g.strideW], padding: [g.padH, g.padW], dilation: [g.dilH, g.dilW], countIncludePad: s.countIncludePad };
}

/** PyTorch's pooling output size (pooling_output_shape): floor or ceil mode, a last window must start inside the input or its left padding. */
function poolOutSize(n: number, k: number, stride: number, pad: number, dil: number, ceilMode: boolean): number {
  let out = Math.floor((n + 2 * pad - dil * (k - 1) - 1 + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= n + pad) out--;
  return out;
}

/** Checks a pooling call and returns its spec (x already [N, C, H, W]). */
function poolSpec(
  op: string,
  x: Tensor,
  xb: Tensor,
  opts: { kernelSize: Size2; stride?: Size2; padding?: Size2; dilation?: Size2; ceilMode?: boolean },
  countIncludePad: boolean,
): PoolSpec {
  if (opts === null || typeof opts !== "object" || opts.kernelSize === undefined) {
    throw new ValueError(`${op}: options.kernelSize is required (an int or a [height, width] pair), e.g. ${op}(x, { kernelSize: 2 }).`);
  }
  const kernel = pair(op, "kernelSize", opts.kernelSize, [1, 1], 1);
  const stride = pair(op, "stride", opts.stride, kernel, 1);
  const padding = pair(op, "padding", opts.padding, [0, 0], 0);
  const dilation = pair(op, "dilation", opts.dilation, [1, 1], 1);
  const ceilMode = opts.ceilMode ?? false;
  if (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2) {
    throw new ValueError(`${op}: padding must be at most half the kernel size, got padding [${padding.join(", ")}] with kernelSize [${kernel.join(", ")}].`);
  }
  const [n, c, h, w] = xb.shape as [number, number, number, number];
  const outH = poolOutSize(h, kernel[0], stride[0], padding[0], dilation[0], ceilMode);
  const outW = poolOutSize(w, kernel[1], stride[1], padding[1], dilation[1], ceilMode);
  if (outH < 1 || outW < 1) {
    throw new ShapeError(
      `${op}: the window (${kernel[0]} × ${kernel[1]}${dilation[0] > 1 || dilation[1] > 1 ? `, dilation ${dilation[0]}, ${dilation[1]}` : ""}) is larger than the padded input ` +
        `(${h} × ${w} with padding ${padding[0]}, ${padding[1]}); x shape ${fmtShape(x.shape)}.`,
    );
  }
  const g: Window2d = { c: n * c, h, w, kh: kernel[0], kw: kernel[1], strideH: stride[0], strideW: stride[1], padH: padding[0], padW: padding[1], dilH: dilation[0], dilW: dilation[1], outH, outW };
  return { g, inShape: xb.shape, outShape: [n, c, outH, outW], countIncludePad };
}

/** Throws unless every max-pooling window along an axis holds an element of the input (with dilation a window can fall between them, into the padding). */
function checkWindowsHitInput(op: string, axis: string, n: number, k: number, stride: number, pad: number, dil: number, out: number, x: Tensor): void {
  for (let i = 0; i < out; i++) {
    const start = i * stride - pad;
    const first = start >= 0 ? start : start + Math.ceil(-start / dil) * dil;
    if (first >= n || first > start + (k - 1) * dil) {
      throw new ShapeError(`${op}: window ${i} along the ${axis} covers only padding (size ${n}, kernel ${k}, stride ${stride}, padding ${pad}, dilation ${dil}); x shape ${fmtShape(x.shape)}. Use less padding or dilation.`);
    }
  }
}

/**
 * 2-D max pooling (torch.nn.functional.max_pool2d): x [N, C, H, W] (or [C, H, W]) →
 * [N, C, outH, outW], each the maximum of its window; outH = ⌊(H + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1
 * (⌈…⌉ with ceilMode, a last window starting inside the input or its left padding). stride
 * defaults to kernelSize; padding (at most half the kernel) is −∞. The gradient goes whole to each
 * window's maximum: the first one on ties, as PyTorch's argmax; a NaN in a window wins.
 * @example maxPool2d(x, { kernelSize: 2 }); // [8, 16, 32, 32] → [8, 16, 16, 16]
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  assertTensor("maxPool2d", "x", x);
  const xb = batched("maxPool2d", x);
  const s = poolSpec("maxPool2d", x, xb, options, true);
  const { g } = s;
  checkWindowsHitInput("maxPool2d", "height", g.h, g.kh, g.strideH, g.padH, g.dilH, g.outH, x);
  checkWindowsHitInput("maxPool2d", "width", g.w, g.kw, g.strideW, g.padW, g.dilW, g.outW, x);
  const y = maxPool2dOp(asDType(xb, floatOf([x])), s);
  return x.ndim === 3 ? reshape(y, s.outShape.slice(1)) : y;
}

/**
 * 2-D average pooling (torch.nn.functional.avg_pool2d): x [N, C, H, W] (or [C, H, W]) →
 * [N, C, outH, outW], each its window's sum / the window's size (padding counted, PyTorch's
 * default; `countIncludePad: false` divides by the input elements covered). Output size as
 * maxPool2d without dilation; stride defaults to kernelSize. Linear, so its gradient spreads
 * each output's gradient / divisor evenly over the window.
 * @example avgPool2d(x, { kernelSize: 2 }); // [8, 16, 32, 32] → [8, 16, 16, 16]
 */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  assertTensor("avgPool2d", "x", x);
  const xb = batched("avgPool2d", x);
  const s = poolSpec("avgPool2d", x, xb, { ...options, dilation: undefined }, options?.countIncludePad ?? true);
  const y = avgPool2dOp(asDType(xb, floatOf([x])), s);
  return x.ndim === 3 ? reshape(y, s.outShape.slice(1)) : y;
}
