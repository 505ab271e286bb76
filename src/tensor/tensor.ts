import { DeviceError, GraphError, ShapeError, ValueError, fmtShape } from "../errors.js";
import { isDeviceStorage } from "../backend/backend.js";
import type { Node } from "../autograd/node.js";
import { runBackward, type BackwardOptions } from "../autograd/engine.js";
import { isFloat, type DType, type Storage } from "./dtype.js";
import { sizeOf } from "./shape.js";
import { formatTensor } from "./format.js";
import { dropGradient, trackTensor } from "./storage.js";
import * as ops from "../ops/index.js";
import type { AxisOptions, ReduceOptions, VarOptions } from "../ops/reduce.js";
import type { SoftplusOptions } from "../ops/elementwise.js";

/** A number, or an array of (arrays of) numbers/booleans, as `toArray()` returns and `tensor()` takes. */
export type NestedArray = number | boolean | NestedArray[];

/** A tensor or a plain number (a number takes the tensor's dtype, as in PyTorch). */
export type TensorLike = Tensor | number;

/**
 * An n-dimensional array with contiguous row-major storage, and a node of the computational
 * graph: ops on tensors that require grad record how they were computed, and `backward()`
 * walks that record with the chain rule.
 *
 * Create tensors with `tensor()`, `zeros()`, `randn()` and friends, not with `new`.
 */
export class Tensor {
  /** Gradient accumulated by `backward()` (same shape and dtype as this tensor), or null. */
  grad: Tensor | null = null;
  /** The graph node that computed this tensor; null for leaves (created, not computed). */
  gradFn: Node | null = null;
  /** A name shown in errors and graph pictures. */
  label: string | undefined;
  private _requiresGrad = false;
  /** The elements; null once freed by tidy() or dispose(). */
  private _data: Storage | null;

  /** @internal Use `tensor()` and the other creation functions. */
  constructor(
    data: Storage,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {
    if (data.length !== sizeOf(shape)) {
      throw new ShapeError(`Tensor: storage holds ${data.length} elements but shape ${fmtShape(shape)} needs ${sizeOf(shape)}.`);
    }
    this._data = data;
    trackTensor(this, data);
  }

  /**
   * Contiguous row-major elements. Shared by views such as `reshape`, so treat it as
   * read-only; with the wasm backend it is a view into WebAssembly memory, valid while this
   * tensor is alive (copy it, e.g. with `Float32Array.from`, to keep it longer). A tensor on
   * the webgpu backend lives in GPU memory and has no synchronous data: `await t.dataAsync()`.
   */
  get data(): Storage {
    return this._host("data", "dataAsync()");
  }

  /** The host elements, or a clear error naming the async form when they live on a device. */
  private _host(what: string, asyncForm: string): Storage {
    const d = this._buf;
    if (isDeviceStorage(d)) {
      throw new DeviceError(`${what}: this tensor (shape ${fmtShape(this.shape)}, ${this.dtype}) lives in ${d.device} (GPU) memory, which cannot be read synchronously. Use \`await t.${asyncForm}\` instead (it works on every backend).`);
    }
    return d;
  }

  /**
   * @internal The storage as the active backend's kernels take it: a typed array, or the
   * device backend's DeviceStorage (typed as Storage; never index it). Throws once freed.
   */
  get _buf(): Storage {
    const d = this._data;
    if (d === null) {
      throw new GraphError(`Tensor${this.label ? ` '${this.label}'` : ""} of shape ${fmtShape(this.shape)} was freed (by tidy() or dispose()) and cannot be used. Return it from the tidy() function, or keep(t) it, to use it afterwards.`);
    }
    return d;
  }

  /**
   * @internal The elements where JavaScript can read them now: the host storage, or the host
   * values a device tensor was made from (until a kernel wrote it); null otherwise. For ops
   * that validate indices and labels.
   */
  _hostValues(): Storage | null {
    const d = this._buf;
    return isDeviceStorage(d) ? d.mirror ?? null : d;
  }

  /** @internal `_hostValues()`, or a DeviceError naming the op and the argument where none exist. */
  _checkable(op: string, arg: string): Storage {
    const v = this._hostValues();
    if (v === null) {
      throw new DeviceError(`${op}: '${arg}' (shape ${fmtShape(this.shape)}) was computed on the GPU, so its values cannot be checked synchronously on the webgpu backend. Pass ${arg} made from JavaScript data (a DataLoader's batch, tensor(...)), or read it first: tensor(await ${arg}.dataAsync(), { dtype: "${this.dtype}", shape: [${this.shape.join(", ")}] }).`);
    }
    return v;
  }

  /** Whether this tensor's elements live on a device backend (webgpu): read them with the async methods. */
  get onDevice(): boolean {
    return isDeviceStorage(this._data);
  }

  /**
   * The elements, on every backend: a host copy for a tensor on the GPU (read back after the
   * work queued so far), the storage itself (as `data`) on the CPU backends.
   */
  async dataAsync(): Promise<Storage> {
    const d = this._buf;
    return isDeviceStorage(d) ? d.read() : d;
  }

  /** `item()` on every backend, including webgpu. */
  async itemAsync(): Promise<number> {
    this._checkItem();
    return (await this.dataAsync())[0]!;
  }

  /** `toArray()` on every backend, including webgpu. */
  async toArrayAsync(): Promise<NestedArray> {
    return this._nest(await this.dataAsync());
  }

  /** @internal The storage, or null once freed (no error). */
  _storage(): Storage | null {
    return this._data;
  }

  /** @internal Marks this tensor freed (its storage was handed back by tidy/dispose). */
  _free(): void {
    this._data = null;
  }

  /** Whether gradients are computed for this tensor. Only float tensors can require grad. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  set requiresGrad(value: boolean) {
    if (value && !isFloat(this.dtype)) {
      throw new GraphError(`requiresGrad: only float32/float64 tensors can require gradients, this one is ${this.dtype}. Cast it first: x.to("float32").`);
    }
    if (!value && this.gradFn) {
      throw new GraphError(`requiresGrad: cannot turn off gradients of a tensor computed by '${this.gradFn.op.name}'; use x.detach() to get a copy outside the graph.`);
    }
    this._requiresGrad = value;
  }

  /** Number of elements. */
  get size(): number {
    return this._data === null ? sizeOf(this.shape) : this._data.length;
  }
  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }
  /** True for tensors created by the user rather than computed by an op. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** Sets requiresGrad and returns this tensor (chainable, like `requires_grad_()`). */
  requiresGrad_(value = true): this {
    this.requiresGrad = value;
    return this;
  }

  /** Names this tensor for error messages and graph pictures; returns this. */
  named(label: string): this {
    this.label = label;
    return this;
  }

  /** The single element of a tensor with one element. */
  item(): number {
    this._checkItem();
    return this._host("item", "itemAsync()")[0]!;
  }

  private _checkItem(): void {
    if (this.size !== 1) {
      throw new ShapeError(`item: only a tensor with exactly one element can be read as a number, this one has shape ${fmtShape(this.shape)} (${this.size} elements). Reduce it first (e.g. .sum()) or use toArray().`);
    }
  }

  /** The elements as nested arrays (bool tensors give booleans). */
  toArray(): NestedArray {
    return this._nest(this._host("toArray", "toArrayAsync()"));
  }

  private _nest(data: Storage): NestedArray {
    const asBool = this.dtype === "bool";
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return asBool ? data[offset] !== 0 : data[offset]!;
      const n = this.shape[dim]!;
      const step = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * step);
      return out;
    };
    return build(0, 0);
  }

  /** NumPy/PyTorch-style printout, truncated for large tensors. */
  toString(): string {
    return formatTensor(this);
  }

  // ---------------------------------------------------------------- autograd

  /**
   * Backpropagates from this tensor: fills `.grad` of every leaf it depends on that requires
   * grad (accumulating into what is there). A scalar needs no argument; otherwise pass the
   * upstream gradient, shaped like this tensor.
   */
  backward(gradient?: Tensor | BackwardOptions, options?: BackwardOptions): void {
    if (gradient !== undefined && !(gradient instanceof Tensor)) {
      options = gradient;
      gradient = undefined;
    }
    if (!this.requiresGrad) {
      throw new GraphError(`backward: this tensor does not require grad and has no graph behind it. Create the inputs with { requiresGrad: true } (or call requiresGrad_()) before computing it, and do not compute it inside noGrad().`);
    }
    if (gradient === undefined) {
      if (this.size !== 1) {
        throw new GraphError(`backward: called without a gradient on a tensor of shape ${fmtShape(this.shape)}; a gradient can be implied only for a single-element (scalar) output. Reduce it first (e.g. .sum() or .mean()) or pass the upstream gradient: y.backward(gradOut).`);
      }
      gradient = ops.onesLike(this);
    }
    runBackward(this, gradient, options);
  }

  /** Keep this (non-leaf) tensor's gradient in `.grad` during backward. */
  retainGrad(): this {
    if (this.gradFn) this.gradFn.retainedOutput = this;
    return this;
  }

  /** Clears the accumulated gradient. */
  zeroGrad(): void {
    dropGradient(this.grad);
    this.grad = null;
  }

  /** A tensor sharing this one's data but outside the graph (no gradient flows back). */
  detach(): Tensor {
    const t = new Tensor(this._buf, this.shape, this.dtype);
    t.label = this.label;
    return t;
  }

  // ---------------------------------------------------------------- ops (defined in src/ops)

  add(other: TensorLike): Tensor { return ops.add(this, other); }
  sub(other: TensorLike): Tensor { return ops.sub(this, other); }
  mul(other: TensorLike): Tensor { return ops.mul(this, other); }
  div(other: TensorLike): Tensor { return ops.div(this, other); }
  pow(exponent: TensorLike): Tensor { return ops.pow(this, exponent); }
  maximum(other: TensorLike): Tensor { return ops.maximum(this, other); }
  minimum(other: TensorLike): Tensor { return ops.minimum(this, other); }
  eq(other: TensorLike): Tensor { return ops.eq(this, other); }
  ne(other: TensorLike): Tensor { return ops.ne(this, other); }
  gt(other: TensorLike): Tensor { return ops.gt(this, other); }
  ge(other: TensorLike): Tensor { return ops.ge(this, other); }
  lt(other: TensorLike): Tensor { return ops.lt(this, other); }
  le(other: TensorLike): Tensor { return ops.le(this, other); }
  neg(): Tensor { return ops.neg(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  square(): Tensor { return ops.square(this); }
  reciprocal(): Tensor { return ops.reciprocal(this); }
  abs(): Tensor { return ops.abs(this); }
  sign(): Tensor { return ops.sign(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  relu(): Tensor { return ops.relu(this); }
  leakyRelu(negativeSlope?: number): Tensor { return ops.leakyRelu(this, negativeSlope); }
  elu(alpha?: number): Tensor { return ops.elu(this, alpha); }
  softplus(options?: SoftplusOptions): Tensor { return ops.softplus(this, options); }
  clamp(min?: number | null, max?: number | null): Tensor { return ops.clamp(this, min, max); }
  logicalNot(): Tensor { return ops.logicalNot(this); }
  isFinite(): Tensor { return ops.isFinite(this); }

  sum(options?: ReduceOptions): Tensor { return ops.sum(this, options); }
  mean(options?: ReduceOptions): Tensor { return ops.mean(this, options); }
  max(options?: ReduceOptions): Tensor { return ops.max(this, options); }
  min(options?: ReduceOptions): Tensor { return ops.min(this, options); }
  argmax(options?: AxisOptions): Tensor { return ops.argmax(this, options); }
  argmin(options?: AxisOptions): Tensor { return ops.argmin(this, options); }
  logsumexp(options?: ReduceOptions): Tensor { return ops.logsumexp(this, options); }
  var(options?: VarOptions): Tensor { return ops.variance(this, options); }
  std(options?: VarOptions): Tensor { return ops.std(this, options); }

  matmul(other: Tensor): Tensor { return ops.matmul(this, other); }
  /** All axes reversed (the matrix transpose for 2-D), like NumPy's `.T`. */
  get T(): Tensor { return ops.permute(this, this.shape.map((_, i) => this.ndim - 1 - i)); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return ops.transpose(this, dim0, dim1); }
  permute(dims: readonly number[]): Tensor { return ops.permute(this, dims); }
  reshape(shape: readonly number[]): Tensor { return ops.reshape(this, shape); }
  view(shape: readonly number[]): Tensor { return ops.reshape(this, shape); }
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  squeeze(axis?: number | readonly number[]): Tensor { return ops.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return ops.unsqueeze(this, axis); }
  expand(shape: readonly number[]): Tensor { return ops.expand(this, shape); }
  broadcastTo(shape: readonly number[]): Tensor { return ops.broadcastTo(this, shape); }
  slice(axis: number, start?: number, end?: number, step?: number): Tensor { return ops.slice(this, axis, start, end, step); }
  narrow(axis: number, start: number, length: number): Tensor { return ops.narrow(this, axis, start, length); }
  split(sizeOrSections: number | readonly number[], axis = 0): Tensor[] { return ops.split(this, sizeOrSections, axis); }
  gather(axis: number, index: Tensor): Tensor { return ops.gather(this, axis, index); }
  indexSelect(axis: number, index: Tensor | readonly number[]): Tensor { return ops.indexSelect(this, axis, index); }
  pad(padding: readonly (readonly [number, number])[], value?: number): Tensor { return ops.pad(this, padding, value); }
  softmax(axis = -1): Tensor { return ops.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return ops.logSoftmax(this, axis); }
  /** This tensor converted to `dtype` (the same tensor when it already has it). */
  to(dtype: DType): Tensor { return ops.cast(this, dtype); }
  /** A copy with its own storage (differentiable). */
  clone(): Tensor { return ops.clone(this); }

  /** @internal A tensor of the given shape over new or shared storage, outside the graph. */
  static fromStorage(data: Storage, shape: readonly number[], dtype: DType): Tensor {
    return new Tensor(data, shape, dtype);
  }
}

/** Throws unless `x` is a Tensor; used at public entry points to catch plain arrays early. */
export function assertTensor(op: string, arg: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) {
    const got = Array.isArray(x) ? "an array" : x === null ? "null" : typeof x;
    throw new ValueError(`${op}: argument '${arg}' must be a Tensor, got ${got}. Wrap data with tensor(...).`);
  }
}
