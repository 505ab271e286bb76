import type { DType, Storage } from "../tensor/dtype.js";

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

/**
 * The kernels a backend provides: plain functions over typed arrays and shapes, with no
 * knowledge of Tensor or autograd. The JavaScript backend is the reference; faster backends
 * (WebAssembly, GPU) implement the same interface and must agree with it.
 */
export interface Backend {
  readonly name: string;
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
}
