import type { DType, FloatStorage, Storage } from "../tensor/dtype.js";

/**
 * Storage that lives on a device (a GPU buffer) rather than in JavaScript memory. A tensor over
 * it has no synchronous `data`: its elements are read with `await t.dataAsync()`. Only the
 * backend that made it (`device`) can run kernels on it; it passes through the ops, typed as
 * `Storage`, untouched. Freed like wasm blocks: by tidy()/dispose(), or the garbage collector.
 */
export abstract class DeviceStorage {
  /** The backend whose memory holds it ("webgpu"). */
  abstract readonly device: string;
  abstract readonly dtype: DType;
  /** Number of elements. */
  abstract readonly length: number;
  /** Bytes as the host dtype would take (what scopes and statistics count). */
  get byteLength(): number {
    return this.length * (this.dtype === "float64" ? 8 : this.dtype === "bool" ? 1 : 4);
  }
  /** A host copy of the elements (flushing the device's pending work first). */
  abstract read(): Promise<Storage>;
  /** Overwrites every element with host values (in order with the kernels queued so far). */
  abstract write(src: ArrayLike<number>): void;
  /** Sets every element to `value` (a kernel, in order). */
  abstract fill(value: number): void;
  /**
   * The host values this storage was uploaded from, while no kernel has written it since (a
   * creation function's data: labels, indices). Lets ops validate such inputs synchronously;
   * never handed to users (writing into it would not reach the device).
   */
  mirror: Storage | undefined = undefined;
}

/** Whether storage lives on a device (typed as Storage where it passes through ops). */
export function isDeviceStorage(s: unknown): s is DeviceStorage {
  return s instanceof DeviceStorage;
}

/** Copies host values into storage, wherever it lives (a typed array's `set`). */
export function writeStorage(dst: Storage, src: ArrayLike<number>): void {
  if (isDeviceStorage(dst)) dst.write(src);
  else dst.set(src);
}

/** Sets every element of storage, wherever it lives (a typed array's `fill`). */
export function fillStorage(dst: Storage, value: number): void {
  if (isDeviceStorage(dst)) dst.fill(value);
  else dst.fill(value);
}

/**
 * Where a backend wants tensor storage to live (the wasm backend: in WebAssembly memory, so its
 * kernels read and write tensors in place). `allocate` returns undefined to leave it to an
 * ordinary JavaScript typed array.
 */
export interface StorageAllocator {
  /**
   * Storage for n elements of dtype (zero-filled when `zero`), or undefined for a plain typed
   * array. `scoped`: made inside tidy(), which frees it (else only the garbage collector does).
   */
  allocate(dtype: DType, n: number, zero: boolean, scoped: boolean): Storage | undefined;
  /** Frees storage this allocator made, now (scope(), dispose()); storage it did not make is ignored. */
  release(x: Storage): void;
  /**
   * A device allocator (webgpu): storage it makes is DeviceStorage, filled from host values
   * with `upload`; `scopeEnd` runs when the outermost tidy()/tidyEach() scope closes (a step).
   */
  readonly device?: {
    upload(src: Storage, dtype: DType): Storage;
    scopeEnd(): void;
  };
}

/** Elementwise maps of one operand. `p0`/`p1` carry parameters (leakyRelu's slope, elu's alpha, softplus' beta and threshold). */
export type UnaryOp =
  | "neg" | "exp" | "log" | "sqrt" | "abs" | "sign" | "tanh" | "sigmoid"
  | "relu" | "leakyRelu" | "elu" | "softplus" | "logicalNot" | "isFinite";

/** Elementwise maps of two broadcast operands. Comparisons write 0/1. */
export type BinaryOp =
  | "add" | "sub" | "mul" | "div" | "pow" | "maximum" | "minimum"
  | "eq" | "ne" | "gt" | "ge" | "lt" | "le";

export type ReduceOp = "sum" | "max" | "min" | "argmax" | "argmin";

/** The row-wise softmax kernels (over the last axis). */
export type SoftmaxOp = "softmax" | "logSoftmax";

/** One SGD update's hyperparameters (`torch.optim.SGD`; src/optim/sgd.ts). */
export interface SGDUpdate {
  lr: number;
  /** μ; 0: no momentum buffer (pass null for it). */
  momentum: number;
  /** τ. */
  dampening: number;
  nesterov: boolean;
  /** Coupled L2 penalty λ (g ← g + λθ); 0: none. */
  weightDecay: number;
  maximize: boolean;
  /** The momentum buffer is new: b ← g rather than μ·b + (1 − τ)·g. */
  firstStep: boolean;
}

/** One Adam/AdamW update's hyperparameters (`torch.optim.Adam`/`AdamW`; src/optim/adam.ts). */
export interface AdamUpdate {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** λ; 0: none. */
  weightDecay: number;
  /** AdamW: θ ← θ·(1 − lr·λ) (decoupled); else Adam's coupled g ← g + λθ. */
  decoupled: boolean;
  maximize: boolean;
  /** This parameter's update count t, from 1 (the bias corrections 1 − βᵗ). */
  step: number;
}

/** One RMSprop update's hyperparameters (`torch.optim.RMSprop`; src/optim/rmsprop.ts). */
export interface RMSpropUpdate {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  maximize: boolean;
}

/** One Adagrad update's hyperparameters (`torch.optim.Adagrad`; src/optim/adagrad.ts). */
export interface AdagradUpdate {
  /** This step's decayed learning rate lr / (1 + (t − 1)·lrDecay). */
  clr: number;
  weightDecay: number;
  eps: number;
  maximize: boolean;
}

/**
 * Sliding 2-D windows over `c` planes of `h` × `w` elements (row-major, plane after plane): the
 * geometry of the convolution and pooling kernels. Output position (i, j) of a plane reads the
 * kernel taps (a, b), a < kh, b < kw, at input row i·strideH − padH + a·dilH and column
 * j·strideW − padW + b·dilW; taps outside the plane fall in the (zero) padding. For im2col and
 * col2im the planes are one image's channels; for pooling, all N·C planes of a batch.
 */
export interface Window2d {
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilH: number;
  dilW: number;
  outH: number;
  outW: number;
}

/**
 * The kernels a backend provides: plain functions over typed arrays and shapes, with no
 * knowledge of Tensor or autograd. The JavaScript backend is the reference; faster backends
 * (WebAssembly, GPU) implement the same interface and must agree with it.
 */
export interface Backend {
  readonly name: string;
  /**
   * A device backend (webgpu): its allocator hands out DeviceStorage, values come back only
   * asynchronously, and `write` copies host values into its storage.
   */
  readonly device?: {
    /** Copies host elements into device storage this backend made (same length and dtype). */
    write(dst: Storage, src: ArrayLike<number>): void;
    /** Ends and submits the pending command encoder (a step's kernels); no readback. */
    flush(): void;
  };
  /** Where tensors live while this backend is active; absent: plain typed arrays. */
  readonly allocator?: StorageAllocator;
  /** out[i] = f(x[i]). */
  unary(op: UnaryOp, x: Storage, out: Storage, p0?: number, p1?: number): void;
  /**
   * out[idx] = f(a[idx·aStrides], b[idx·bStrides]) over `outShape`; broadcast axes have stride 0.
   * An operand's strides may be undefined when it has as many elements as the output (read
   * contiguously) or exactly one (a scalar).
   */
  binary(op: BinaryOp, a: Storage, aStrides: readonly number[] | undefined, b: Storage, bStrides: readonly number[] | undefined, out: Storage, outShape: readonly number[]): void;
  /** out = cond ? a : b, all three read through broadcast strides. */
  where(cond: Storage, cStrides: readonly number[], a: Storage, aStrides: readonly number[], b: Storage, bStrides: readonly number[], out: Storage, outShape: readonly number[]): void;
  /** Reduces the middle axis of x viewed as [outer, len, inner] into out [outer, inner]. */
  reduce(op: ReduceOp, x: Storage, outer: number, len: number, inner: number, out: Storage): void;
  /**
   * out[m,n] = op(A)[m,k] · op(B)[k,n] for one matrix of a batch; op(A) = Aᵀ when transA
   * (then A is stored [k,m]), likewise B. Transposed operands are read in place, never copied.
   */
  matmul(a: Storage, aOffset: number, b: Storage, bOffset: number, out: Storage, outOffset: number, m: number, k: number, n: number, transA: boolean, transB: boolean): void;
  /** Copies the strided view (offset, strides, shape) of src into contiguous out (permute, expand, slice). */
  copyStrided(src: Storage, offset: number, strides: readonly number[], shape: readonly number[], out: Storage): void;
  /** Writes (or adds, when accumulate) contiguous src into the strided view (offset, strides, shape) of out (pad, slice's backward, concat). */
  scatterStrided(src: Storage, out: Storage, offset: number, strides: readonly number[], shape: readonly number[], accumulate: boolean): void;
  /**
   * Take-along-axis: x viewed [outer, xLen, inner], index [outer, idxLen, inner] → out [outer, idxLen, inner].
   * With `indexIsVector` the index is one list [idxLen] shared by every (outer, inner) (indexSelect).
   * Indices are already validated.
   */
  gather(x: Storage, index: Int32Array, outer: number, xLen: number, idxLen: number, inner: number, out: Storage, indexIsVector: boolean): void;
  /** The adjoint of gather: out[o, index[o,j,i], i] += src[o,j,i] (out viewed [outer, outLen, inner]). */
  scatterAdd(src: Storage, index: Int32Array, outer: number, outLen: number, idxLen: number, inner: number, out: Storage, indexIsVector: boolean): void;
  /** Converts between dtypes; to bool means x ≠ 0, to int32 truncates toward zero. */
  cast(x: Storage, out: Storage): void;
  /**
   * Softmax (or log-softmax) of each of `rows` contiguous rows of `cols` elements, into out
   * (x's float dtype; may be x itself). Each row is shifted by its maximum (by 0 where that is
   * ±∞ or NaN), so logits in the thousands stay finite: softmax = e^(x−m)·(1/Σe^(x−m)),
   * logSoftmax = (x − m) − log Σe^(x−m). With `stats` (2·rows float64s), row r's shift m goes
   * to stats[2r] and its log Σe^(x−m) (float64, before any rounding to x's dtype) to
   * stats[2r + 1]: crossEntropy's loss is then lse − (x_y − m) from the same pass.
   */
  softmax(op: SoftmaxOp, x: Storage, rows: number, cols: number, out: Storage, stats?: Float64Array): void;
  /**
   * The column matrix of `images` images (default 1) for convolution as a matrix product:
   * x[xOffset…] holds the images one after the other, each g.c planes of g.h × g.w, and
   * cols[colsOffset…] gets [c·kh·kw, images·outH·outW]: row (ch, a, b), column n·outH·outW + i·outW + j
   * = image n's x[ch, i·strideH − padH + a·dilH, j·strideW − padW + b·dilW], or 0 where that tap
   * lies in the padding. Float32 or float64 (x and cols alike).
   */
  im2col(x: FloatStorage, xOffset: number, g: Window2d, cols: FloatStorage, colsOffset: number, images?: number): void;
  /**
   * The adjoint of im2col: ADDS every element of the column matrix cols[colsOffset…]
   * ([c·kh·kw, images·outH·outW]) into the image element it was read from, x[xOffset…] (taps in
   * the padding are dropped). Convolution's gradient with respect to its input.
   */
  col2im(cols: FloatStorage, colsOffset: number, g: Window2d, x: FloatStorage, xOffset: number, images?: number): void;
  /**
   * Convolution of a batch (cross-correlation, one group): x [images, g.c, g.h, g.w], weight
   * [outChannels, g.c, g.kh, g.kw], bias [outChannels] or null → out [images, outChannels,
   * g.outH, g.outW] (every element written): out[n, o, i, j] = bias[o] + Σ_{c,a,b}
   * x[n, c, i·strideH − padH + a·dilH, j·strideW − padW + b·dilW]·weight[o, c, a, b], zeros
   * outside the image. Float32 or float64 (all four alike).
   */
  conv2d(x: FloatStorage, weight: FloatStorage, bias: FloatStorage | null, images: number, outChannels: number, g: Window2d, out: FloatStorage): void;
  /**
   * Max pooling of each of the g.c planes of x into out [c, outH, outW]; `indices` gets the flat
   * position (row·w + column, within the plane) of each window's maximum: the first one on
   * ties, a NaN wins (the last one), as PyTorch does. Padding never wins (it is −∞); every
   * window must hold at least one element of the plane.
   */
  maxPool2d(x: FloatStorage, g: Window2d, out: FloatStorage, indices: Int32Array): void;
  /**
   * Average pooling of each of the g.c planes of x into out [c, outH, outW]: the window's sum
   * divided by its size clipped to the padded plane (countIncludePad, PyTorch's default) or by
   * the number of plane elements it covers; 0 for a window that covers none (ceil mode).
   */
  avgPool2d(x: FloatStorage, g: Window2d, out: FloatStorage, countIncludePad: boolean): void;
  /** The adjoint of avgPool2d: ADDS gradOut [c, outH, outW] / divisor into every element of its window in gradIn [c, h, w]. */
  avgPool2dBackward(gradOut: FloatStorage, g: Window2d, gradIn: FloatStorage, countIncludePad: boolean): void;
  /**
   * Normalisation forward over x viewed as [outer, c, inner] (batchNorm and groupNorm in
   * training). `groups` = 0: batch norm, one statistic per channel over every (outer, inner);
   * groups = G ≥ 1 (dividing c): group norm, one per (sample o, group g) over the contiguous run
   * of (c/G)·inner elements. Writes mean and invstd = 1/√(biased variance + eps) per statistic
   * (c of them, or outer·G, sample-major; accumulated in float64) and out = (x − μ)·invstd·w[ch]
   * + b[ch] (weight, bias: [c] in x's dtype, or null for 1 and 0). x, out: float32 or float64 alike.
   */
  normForward(x: FloatStorage, outer: number, c: number, inner: number, groups: number, eps: number,
    weight: FloatStorage | null, bias: FloatStorage | null, out: FloatStorage, mean: Float64Array, invstd: Float64Array): void;
  /**
   * The adjoint of normForward, from gradOut dy, x and the saved mean and invstd: writes
   * dx = invstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dy·w[ch] (means over each statistic's
   * elements), and, when given, dweight[ch] = Σ dy·x̂ and dbias[ch] = Σ dy (sums over outer and inner).
   */
  normBackward(dy: FloatStorage, x: FloatStorage, outer: number, c: number, inner: number, groups: number,
    mean: Float64Array, invstd: Float64Array, weight: FloatStorage | null, dx: FloatStorage, dweight: FloatStorage | null, dbias: FloatStorage | null): void;
  /**
   * One SGD step on a parameter, in place: param (and momentumBuf, when momentum ≠ 0) are
   * updated from grad, which has as many elements (any dtype; usually the param's).
   */
  sgdUpdate(param: FloatStorage, grad: ArrayLike<number>, momentumBuf: FloatStorage | null, h: SGDUpdate): void;
  /**
   * One Adam/AdamW step on a parameter, in place: param, expAvg (m), expAvgSq (v) and, with
   * AMSGrad, maxExpAvgSq (v̂max; null without) are updated from grad.
   */
  adamUpdate(param: FloatStorage, grad: ArrayLike<number>, expAvg: FloatStorage, expAvgSq: FloatStorage, maxExpAvgSq: FloatStorage | null, h: AdamUpdate): void;
  /**
   * One RMSprop step in place: squareAvg (v), and when given momentumBuf (b, momentum > 0) and
   * gradAvg (centered), from grad: v ← αv + (1 − α)g²; d = √(v − ḡ²) + eps (centered, ḡ ← αḡ + (1 − α)g)
   * or √v + eps; θ ← θ − lr·b with b ← μb + g/d, or θ ← θ − lr·g/d.
   */
  rmspropUpdate(param: FloatStorage, grad: ArrayLike<number>, squareAvg: FloatStorage, momentumBuf: FloatStorage | null, gradAvg: FloatStorage | null, h: RMSpropUpdate): void;
  /** One Adagrad step in place: s ← s + g²; θ ← θ − clr·g/(√s + eps). */
  adagradUpdate(param: FloatStorage, grad: ArrayLike<number>, sum: FloatStorage, h: AdagradUpdate): void;
}
