/// <reference types="@webgpu/types" />
import { DTypeError, DeviceError } from "../../errors.js";
import { dtypeOfStorage, type DType, type FloatStorage, type Storage } from "../../tensor/dtype.js";
import type { AdagradUpdate, AdamUpdate, RMSpropUpdate, Backend, BinaryOp, ReduceOp, SGDUpdate, SoftmaxOp, StorageAllocator, UnaryOp, Window2d } from "../backend.js";
import { adamScalars, collapse, directStrides } from "../js.js";
import { GpuRuntime, GpuStorage, wgslType } from "./runtime.js";
import { convKernels } from "./conv.js";
import * as K from "./wgsl.js";

/**
 * The webgpu backend: tensors in GPU buffers, kernels in WGSL (./wgsl.ts, ./conv.ts), one
 * command encoder per step (./runtime.ts). float32, int32 and bool; float64 stays on the CPU
 * backends. Inputs that are host arrays (tensors made before the switch, a DataLoader's batch)
 * are uploaded once per encoder; outputs always come from the allocator, on the GPU.
 */

const f32bits = new Float32Array(1);
const u32bits = new Uint32Array(f32bits.buffer);
const i32bits = new Int32Array(f32bits.buffer);
/** The bits of a float as a u32 parameter word. */
export function fbits(v: number): number {
  f32bits[0] = v;
  return u32bits[0]!;
}

function storageDType(s: Storage): DType {
  if (s instanceof GpuStorage) return s.dtype;
  const d = dtypeOfStorage(s);
  if (d === undefined) throw new Error("webgpu: unknown storage (internal error)");
  return d;
}

/** A parameter word holding a host scalar's value in the GPU type of dtype. */
function scalarWord(s: Storage, dtype: DType): number {
  const v = Number(s[0]);
  if (dtype === "float32") return fbits(v);
  if (dtype === "bool") return v !== 0 ? 1 : 0;
  i32bits[0] = v;
  return u32bits[0]!;
}

const isHostScalar = (s: Storage): boolean => !(s instanceof GpuStorage) && s.length === 1;

function contiguous(strides: readonly number[], shape: readonly number[]): boolean {
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== s) return false;
    s *= shape[d]!;
  }
  return true;
}

/**
 * Kernel choices (tests and benchmarks set them). `matmul`: "tiles" (64×64 workgroup tiles
 * staged through workgroup memory, the usual GPU design), "registers" (4×4 outputs per thread
 * straight from memory, no workgroup memory or barriers), or "auto": registers on a fallback
 * (CPU) adapter such as SwiftShader, where barriers are costly — measured there 9× faster at
 * n = 256 and 512 (`CHAINRULE_WEBGPU_MATMUL=tiles|registers npm run bench -- webgpu matmul`) —
 * and tiles on a GPU, pending a measurement on one.
 */
export const webgpuTuning: { matmul: "auto" | "tiles" | "registers" } = { matmul: "auto" };

/** Parameter words of the strided copy/write kernels: [n, nd, offset, …, shape, strides] over the merged axes. */
function stridedParams(what: "copy" | "write", n: number, offset: number, strides: readonly number[], shape: readonly number[]): number[] {
  const [cs, [cst]] = collapse(shape, [strides]);
  if (cs.length > K.MAX_DIMS) throw new DeviceError(`webgpu: a strided ${what} over ${cs.length} non-mergeable axes; at most ${K.MAX_DIMS} are supported on the GPU.`);
  const params = new Array<number>(K.stridesAt(1)).fill(0);
  params[0] = n;
  params[1] = cs.length;
  params[2] = offset;
  cs.forEach((v, d) => {
    params[K.SHAPE_AT + d] = v;
    params[K.stridesAt(0) + d] = cst![d]! | 0;
  });
  return params;
}

export class WebGpuBackend implements Backend {
  readonly name = "webgpu";
  readonly allocator: StorageAllocator;
  readonly device: NonNullable<Backend["device"]>;
  readonly conv: ReturnType<typeof convKernels>;

  constructor(readonly rt: GpuRuntime) {
    this.allocator = {
      allocate: (dtype, n, zero) => this.rt.allocate(dtype, n, zero, (s) => this.fill(s, 0)) as unknown as Storage,
      release: (s) => {
        if (s instanceof GpuStorage) this.rt.release(s);
      },
      device: {
        upload: (src, dtype) => {
          const s = this.rt.allocate(dtype, src.length, false, () => {});
          this.rt.write(s, src);
          if (dtype !== "float32" || src.length <= 4096) s.mirror = src;
          return s as unknown as Storage;
        },
        scopeEnd: () => this.rt.flush(),
      },
    };
    this.device = {
      write: (dst, src) => this.rt.write(dst as unknown as GpuStorage, src),
      flush: () => this.rt.flush(),
    };
    this.conv = convKernels(this);
    rt.filler = (s, v) => this.fill(s, v);
  }

  /** @internal Runs one kernel (see GpuRuntime.dispatch). */
  run(key: string, code: () => string, params: ArrayLike<number>, bindings: readonly (Storage | { w: Storage })[], groups: readonly [number, number?, number?]): void {
    const pipeline = this.rt.pipeline(key, code);
    const list = bindings.map((b) => (b instanceof GpuStorage || ArrayBuffer.isView(b) ? { storage: b as Storage } : { storage: (b as { w: Storage }).w, write: true }));
    // An output that is also an input (in place: gradient accumulation, softmax into x) cannot
    // be bound twice in one dispatch: the kernel writes a temporary, copied over afterwards.
    const aliased = list.findIndex((b) => b.write === true && list.some((o) => o !== b && o.storage === b.storage));
    if (aliased < 0) {
      this.rt.dispatch(pipeline, params, list, groups);
      return;
    }
    const target = list[aliased]!.storage as unknown as GpuStorage;
    const temp = this.rt.allocate(target.dtype, target.length, false, () => {});
    list[aliased] = { storage: temp as unknown as Storage, write: true };
    this.rt.dispatch(pipeline, params, list, groups);
    this.copyStrided(temp as unknown as Storage, 0, [1], [target.length], target as unknown as Storage);
    this.rt.release(temp);
  }

  /** @internal The WGSL type of storage (host or device). */
  type(s: Storage): K.GpuType {
    return wgslType(storageDType(s));
  }

  fill(s: GpuStorage, value: number): void {
    const t = wgslType(s.dtype);
    const word = t === "f32" ? fbits(value) : value >>> 0;
    this.run(`fill:${t}`, () => K.fillKernel(t), [s.length, 0, word], [{ w: s as unknown as Storage }], K.grid1d(s.length));
  }

  unary(op: UnaryOp, x: Storage, out: Storage, p0 = 0, p1 = 0): void {
    const n = out.length;
    if (n === 0) return;
    const tin = this.type(x), tout = this.type(out);
    this.run(`unary:${op}:${tin}:${tout}`, () => K.unaryKernel(op, tin, tout), [n, 0, fbits(p0), fbits(p1)], [x, { w: out }], K.grid1d(n));
  }

  /** Modes, parameter words and bindings of strided operands (binary, where). */
  private operands(ops: readonly { s: Storage; strides: readonly number[] | undefined }[], outShape: readonly number[], n: number): { modes: K.OperandMode[]; params: number[]; bindings: Storage[] } {
    // Broadcast operands need strides over the collapsed shape.
    const full = ops.map((o) => o.strides ?? directStrides(o.s, outShape));
    const [shape, strides] = collapse(outShape, full);
    if (shape.length > K.MAX_DIMS) throw new DeviceError(`webgpu: a broadcast over ${shape.length} non-mergeable axes; at most ${K.MAX_DIMS} are supported on the GPU.`);
    const params = new Array<number>(K.stridesAt(ops.length)).fill(0);
    params[0] = n;
    params[1] = shape.length;
    shape.forEach((v, d) => (params[K.SHAPE_AT + d] = v));
    const modes: K.OperandMode[] = [];
    const bindings: Storage[] = [];
    ops.forEach((o, k) => {
      let mode: K.OperandMode;
      if (o.s.length === 1 && n !== 1) mode = isHostScalar(o.s) ? "p" : "s";
      else if (o.s.length === 1) mode = isHostScalar(o.s) ? "p" : "c";
      else if (o.strides === undefined || (o.s.length === n && contiguous(o.strides, outShape))) mode = "c";
      else mode = "b";
      modes.push(mode);
      if (mode === "p") params[2 + k] = scalarWord(o.s, storageDType(o.s));
      else bindings.push(o.s);
      if (mode === "b") strides[k]!.forEach((v, d) => (params[K.stridesAt(k) + d] = v | 0));
    });
    return { modes, params, bindings };
  }

  binary(op: BinaryOp, a: Storage, aStrides: readonly number[] | undefined, b: Storage, bStrides: readonly number[] | undefined, out: Storage, outShape: readonly number[]): void {
    const n = out.length;
    if (n === 0) return;
    const t = this.type(a), tout = this.type(out);
    const { modes, params, bindings } = this.operands([{ s: a, strides: aStrides }, { s: b, strides: bStrides }], outShape, n);
    const [ma, mb] = modes as [K.OperandMode, K.OperandMode];
    this.run(`binary:${op}:${t}:${tout}:${ma}${mb}`, () => K.binaryKernel(op, t, tout, ma, mb), params, [...bindings, { w: out }], K.grid1d(n));
  }

  where(cond: Storage, cStrides: readonly number[], a: Storage, aStrides: readonly number[], b: Storage, bStrides: readonly number[], out: Storage, outShape: readonly number[]): void {
    const n = out.length;
    if (n === 0) return;
    const tc = this.type(cond), t = this.type(out);
    const { modes, params, bindings } = this.operands([{ s: cond, strides: cStrides }, { s: a, strides: aStrides }, { s: b, strides: bStrides }], outShape, n);
    const [mc, ma, mb] = modes as [K.OperandMode, K.OperandMode, K.OperandMode];
    this.run(`where:${tc}:${t}:${mc}${ma}${mb}`, () => K.whereKernel(tc, t, mc, ma, mb), params, [...bindings, { w: out }], K.grid1d(n));
  }

  reduce(op: ReduceOp, x: Storage, outer: number, len: number, inner: number, out: Storage): void {
    const total = outer * inner;
    if (total === 0) return;
    const t = this.type(x), tout = this.type(out);
    if (len === 0) {
      if (op !== "sum") throw new DeviceError(`webgpu: ${op} of an empty axis`);
      this.fill(out as unknown as GpuStorage, 0);
      return;
    }
    if (inner === 1 && len >= 64) {
      this.run(`reduceRows:${op}:${t}:${tout}`, () => K.reduceRowsKernel(op, t, tout), [outer, len], [x, { w: out }], K.grid1d(outer * 256));
    } else {
      this.run(`reduceCols:${op}:${t}:${tout}`, () => K.reduceColumnsKernel(op, t, tout), [total, len, inner], [x, { w: out }], K.grid1d(total));
    }
  }

  matmul(a: Storage, aOffset: number, b: Storage, bOffset: number, out: Storage, outOffset: number, m: number, k: number, n: number, transA: boolean, transB: boolean): void {
    this.matmulBatch(a, aOffset, 0, b, bOffset, 0, out, outOffset, 0, 1, m, k, n, transA, transB);
  }

  /** `batch` products at once: matrix i of A at aOffset + i·aStride (likewise B, C). */
  matmulBatch(a: Storage, aOffset: number, aStride: number, b: Storage, bOffset: number, bStride: number, out: Storage, outOffset: number, outStride: number, batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean): void {
    if (m === 0 || n === 0 || batch === 0) return;
    if (this.type(out) !== "f32") throw new DTypeError("webgpu: matmul runs in float32 on the GPU; cast integer operands first: x.to(\"float32\").");
    if (k === 0) {
      // An empty sum: C is zero.
      this.run("fill:f32:range", () => K.fillKernel("f32"), [out.length, 0, 0], [{ w: out }], K.grid1d(out.length));
      return;
    }
    const t = `${transA ? "T" : "N"}${transB ? "T" : "N"}`;
    const params = [m, k, n, aOffset, bOffset, outOffset, aStride, bStride, outStride];
    const kind = webgpuTuning.matmul === "auto" ? (this.rt.fallbackAdapter ? "registers" : "tiles") : webgpuTuning.matmul;
    if (kind === "registers") {
      this.run(`matmulRegisters:${t}`, () => K.matmulRegistersKernel(transA, transB), params, [a, b, { w: out }], [Math.ceil(n / K.REG_TILE), Math.ceil(m / K.REG_TILE), batch]);
    } else {
      this.run(`matmul:${t}`, () => K.matmulKernel(transA, transB), params, [a, b, { w: out }], [Math.ceil(n / K.TILE), Math.ceil(m / K.TILE), batch]);
    }
  }

  copyStrided(src: Storage, offset: number, strides: readonly number[], shape: readonly number[], out: Storage): void {
    const n = out.length;
    if (n === 0) return;
    const t = this.type(out);
    const params = stridedParams("copy", n, offset, strides, shape);
    this.run(`copyStrided:${t}`, () => K.copyStridedKernel(t), params, [src, { w: out }], K.grid1d(n));
  }

  scatterStrided(src: Storage, out: Storage, offset: number, strides: readonly number[], shape: readonly number[], accumulate: boolean): void {
    const n = src.length;
    if (n === 0) return;
    const t = this.type(out);
    const params = stridedParams("write", n, offset, strides, shape);
    this.run(`scatterStrided:${t}:${accumulate}`, () => K.scatterStridedKernel(t, accumulate), params, [src, { w: out }], K.grid1d(n));
  }

  gather(x: Storage, index: Int32Array, outer: number, xLen: number, idxLen: number, inner: number, out: Storage, indexIsVector: boolean): void {
    const total = outer * idxLen * inner;
    if (total === 0) return;
    const t = this.type(out);
    this.run(`gather:${t}`, () => K.gatherKernel(t), [total, xLen, idxLen, inner, indexIsVector ? 1 : 0], [x, index, { w: out }], K.grid1d(total));
  }

  scatterAdd(src: Storage, index: Int32Array, outer: number, outLen: number, idxLen: number, inner: number, out: Storage, indexIsVector: boolean): void {
    if (this.type(out) !== "f32") throw new DTypeError("webgpu: scatterAdd accumulates float32 on the GPU.");
    if (idxLen <= 16) {
      const total = outer * outLen * inner;
      if (total === 0) return;
      this.run("scatterAdd", () => K.scatterAddKernel(), [total, outLen, idxLen, inner, indexIsVector ? 1 : 0], [src, index, { w: out }], K.grid1d(total));
    } else {
      const total = outer * idxLen * inner;
      if (total === 0) return;
      this.run("scatterAdd:atomic", () => K.scatterAddAtomicKernel(), [total, outLen, idxLen, inner, indexIsVector ? 1 : 0], [src, index, { w: out }], K.grid1d(total));
    }
  }

  cast(x: Storage, out: Storage): void {
    const n = out.length;
    if (n === 0) return;
    const tin = this.type(x), tout = this.type(out);
    this.run(`cast:${tin}:${tout}`, () => K.castKernel(tin, tout), [n], [x, { w: out }], K.grid1d(n));
  }

  softmax(op: SoftmaxOp, x: Storage, rows: number, cols: number, out: Storage, stats?: Float64Array): void {
    if (stats !== undefined) throw new Error("webgpu: softmax statistics are host arrays (internal error: crossEntropy takes its composed path on a device)");
    if (rows === 0 || cols === 0) return;
    if (this.type(out) !== "f32") throw new DTypeError("webgpu: softmax runs in float32 on the GPU.");
    this.run(`softmax:${op}`, () => K.softmaxKernel(op), [rows, cols], [x, { w: out }], K.grid1d(rows * 256));
  }

  im2col(x: FloatStorage, xOffset: number, g: Window2d, cols: FloatStorage, colsOffset: number, images = 1): void {
    this.conv.im2col(x, xOffset, g, cols, colsOffset, images);
  }
  col2im(cols: FloatStorage, colsOffset: number, g: Window2d, x: FloatStorage, xOffset: number, images = 1): void {
    this.conv.col2im(cols, colsOffset, g, x, xOffset, images);
  }
  conv2d(x: FloatStorage, weight: FloatStorage, bias: FloatStorage | null, images: number, outChannels: number, g: Window2d, out: FloatStorage): void {
    this.conv.conv2d(x, weight, bias, images, outChannels, g, out);
  }
  maxPool2d(x: FloatStorage, g: Window2d, out: FloatStorage, indices: Int32Array): void {
    this.conv.maxPool2d(x, g, out, indices);
  }
  avgPool2d(x: FloatStorage, g: Window2d, out: FloatStorage, countIncludePad: boolean): void {
    this.conv.avgPool2d(x, g, out, countIncludePad);
  }
  avgPool2dBackward(gradOut: FloatStorage, g: Window2d, gradIn: FloatStorage, countIncludePad: boolean): void {
    this.conv.avgPool2dBackward(gradOut, g, gradIn, countIncludePad);
  }
  normForward(x: FloatStorage, outer: number, c: number, inner: number, groups: number, eps: number, weight: FloatStorage | null, bias: FloatStorage | null, out: FloatStorage, mean: Float64Array, invstd: Float64Array): void {
    this.conv.normForward(x, outer, c, inner, groups, eps, weight, bias, out, mean, invstd);
  }
  normBackward(dy: FloatStorage, x: FloatStorage, outer: number, c: number, inner: number, groups: number, mean: Float64Array, invstd: Float64Array, weight: FloatStorage | null, dx: FloatStorage, dweight: FloatStorage | null, dbias: FloatStorage | null): void {
    this.conv.normBackward(dy, x, outer, c, inner, groups, mean, invstd, weight, dx, dweight, dbias);
  }

  sgdUpdate(param: FloatStorage, grad: ArrayLike<number>, momentumBuf: FloatStorage | null, h: SGDUpdate): void {
    const n = param.length;
    if (n === 0) return;
    const hasBuf = momentumBuf !== null;
    const params = [n, fbits(h.lr), fbits(h.momentum), fbits(h.dampening), h.nesterov ? 1 : 0, fbits(h.weightDecay), h.maximize ? 1 : 0, h.firstStep ? 1 : 0];
    const bindings: (Storage | { w: Storage })[] = [{ w: param }, grad as Storage];
    if (hasBuf) bindings.push({ w: momentumBuf });
    this.run(`sgd:${hasBuf}`, () => K.sgdKernel(hasBuf), params, bindings, K.grid1d(n));
  }

  adamUpdate(param: FloatStorage, grad: ArrayLike<number>, expAvg: FloatStorage, expAvgSq: FloatStorage, maxExpAvgSq: FloatStorage | null, h: AdamUpdate): void {
    const n = param.length;
    if (n === 0) return;
    const { stepSize, bc2Sqrt, decay } = adamScalars(h);
    const ams = maxExpAvgSq !== null;
    const params = [n, fbits(h.beta1), fbits(h.beta2), fbits(h.eps), fbits(h.weightDecay), h.decoupled ? 1 : 0, h.maximize ? 1 : 0, fbits(stepSize), fbits(bc2Sqrt), fbits(decay)];
    const bindings: (Storage | { w: Storage })[] = [{ w: param }, grad as Storage, { w: expAvg }, { w: expAvgSq }];
    if (ams) bindings.push({ w: maxExpAvgSq });
    this.run(`adam:${ams}`, () => K.adamKernel(ams), params, bindings, K.grid1d(n));
  }

  rmspropUpdate(param: FloatStorage, grad: ArrayLike<number>, squareAvg: FloatStorage, momentumBuf: FloatStorage | null, gradAvg: FloatStorage | null, h: RMSpropUpdate): void {
    const n = param.length;
    if (n === 0) return;
    const hasBuf = momentumBuf !== null, centered = gradAvg !== null;
    const bindings: (Storage | { w: Storage })[] = [{ w: param }, grad as Storage, { w: squareAvg }];
    if (hasBuf) bindings.push({ w: momentumBuf });
    if (centered) bindings.push({ w: gradAvg });
    this.run(`rmsprop:${hasBuf}:${centered}`, () => K.rmspropKernel(hasBuf, centered), [n, fbits(h.lr), fbits(h.alpha), fbits(h.eps), fbits(h.weightDecay), fbits(h.momentum), h.maximize ? 1 : 0], bindings, K.grid1d(n));
  }

  adagradUpdate(param: FloatStorage, grad: ArrayLike<number>, sum: FloatStorage, h: AdagradUpdate): void {
    const n = param.length;
    if (n === 0) return;
    this.run("adagrad", () => K.adagradKernel(), [n, fbits(h.clr), fbits(h.weightDecay), fbits(h.eps), h.maximize ? 1 : 0], [{ w: param }, grad as Storage, { w: sum }], K.grid1d(n));
  }
}
