import type { Storage } from "../../tensor/dtype.js";
import type { Backend, BinaryOp, ReduceOp, UnaryOp, Window2d } from "../backend.js";
import { adamScalars, collapse, directStrides, jsBackend } from "../js.js";
import { KERNELS_RELAXED_THREADS_WASM_BASE64, KERNELS_RELAXED_WASM_BASE64, KERNELS_THREADS_WASM_BASE64, KERNELS_WASM_BASE64 } from "./kernels.generated.js";
import { WasmHeap, type WasmMemoryStats } from "./heap.js";
import { attachThreads, getNumThreads, threadedCalls, threadedMatmul, threadedRange } from "./threads.js";

/**
 * The WebAssembly SIMD backend. Its kernels (assembly/kernels.ts, compiled by
 * assembly/build.mjs into kernels.generated.ts) run on 128-bit vectors: 4 float32 or 2 float64
 * lanes. Where the memory can be shared, tensors live in it (./heap.ts: pooled blocks, freed by
 * tidy()/dispose() or the garbage collector) and kernels read and write them in place; other
 * arrays (and every array where the memory cannot be shared) are copied into temporary blocks
 * and back. Whatever it does not implement (int32 and bool, broadcasting beyond rows × columns,
 * log, pow, gather/scatter, strided copies...) is the JavaScript backend's kernel; so are tiny
 * calls on arrays outside wasm memory (see `wasmTuning`). Large matmuls and elementwise kernels
 * run on several threads where a thread provider is registered (./threads.ts; the Node entry
 * does, and the main entry in cross-origin-isolated pages). docs/backend.md has the details.
 */

/** The functions assembly/kernels.ts exports (pointers are byte offsets into `memory`). */
interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  unaryF32(op: number, x: number, out: number, n: number): void;
  unaryF64(op: number, x: number, out: number, n: number): void;
  binaryF32(op: number, a: number, sa: number, b: number, sb: number, out: number, n: number): void;
  binaryF64(op: number, a: number, sa: number, b: number, sb: number, out: number, n: number): void;
  compareF32(op: number, invert: number, a: number, sa: number, b: number, sb: number, out: number, n: number): void;
  compareF64(op: number, invert: number, a: number, sa: number, b: number, sb: number, out: number, n: number): void;
  rowsF32(kind: number, op: number, invert: number, a: number, ars: number, aInner: number, b: number, brs: number, bInner: number, out: number, rows: number, cols: number): void;
  rowsF64(kind: number, op: number, invert: number, a: number, ars: number, aInner: number, b: number, brs: number, bInner: number, out: number, rows: number, cols: number): void;
  whereF32(cond: number, sc: number, a: number, sa: number, b: number, sb: number, out: number, n: number): void;
  whereF64(cond: number, sc: number, a: number, sa: number, b: number, sb: number, out: number, n: number): void;
  copy2d32(src: number, s0: number, s1: number, out: number, rows: number, cols: number): void;
  copy2d64(src: number, s0: number, s1: number, out: number, rows: number, cols: number): void;
  reduceF32(op: number, x: number, outer: number, len: number, inner: number, out: number): void;
  reduceF64(op: number, x: number, outer: number, len: number, inner: number, out: number): void;
  gemmF32(a: number, b: number, c: number, m: number, k: number, n: number, transA: number, transB: number, pa: number, pb: number): void;
  gemmF64(a: number, b: number, c: number, m: number, k: number, n: number, transA: number, transB: number, pa: number, pb: number): void;
  /** Matmul blocking: rows of A per packed block, steps of k per packed block. */
  GEMM_MC: WebAssembly.Global;
  GEMM_KC: WebAssembly.Global;
  /** Row-wise softmax (op 0) or logSoftmax (op 1), float32. */
  softmaxF32(op: number, x: number, out: number, rows: number, cols: number, stats: number): void;
  /** One SGD step; arrays that are written come as an input and an output pointer. */
  sgdF32(pIn: number, pOut: number, g: number, bIn: number, bOut: number, n: number, lr: number, momentum: number, damp1: number, wd: number, flags: number): void;
  sgdF64(pIn: number, pOut: number, g: number, bIn: number, bOut: number, n: number, lr: number, momentum: number, damp1: number, wd: number, flags: number): void;
  /** One Adam/AdamW step (x: v̂max with AMSGrad). */
  adamF32(pIn: number, pOut: number, g: number, mIn: number, mOut: number, vIn: number, vOut: number, xIn: number, xOut: number, n: number,
    beta1: number, omb1: number, beta2: number, omb2: number, eps: number, wd: number, decay: number, stepSize: number, bc2Sqrt: number, flags: number): void;
  adamF64(pIn: number, pOut: number, g: number, mIn: number, mOut: number, vIn: number, vOut: number, xIn: number, xOut: number, n: number,
    beta1: number, omb1: number, beta2: number, omb2: number, eps: number, wd: number, decay: number, stepSize: number, bc2Sqrt: number, flags: number): void;
  /** One image's column matrix (im2col) and its adjoint (col2im: xOut ← xIn + the columns put back). */
  im2colF32(x: number, cols: number, ...geometryImagesLd: [...WindowArgs, number, number]): void;
  im2colF64(x: number, cols: number, ...geometryImagesLd: [...WindowArgs, number, number]): void;
  col2imF32(cols: number, xIn: number, xOut: number, ...geometryImagesLd: [...WindowArgs, number, number]): void;
  col2imF64(cols: number, xIn: number, xOut: number, ...geometryImagesLd: [...WindowArgs, number, number]): void;
  /** Convolution as an implicit matrix product: the weights packed once, then column panels jp0 … jp1 of the batch's output. */
  packConvWeightsF32(w: number, o: number, k: number, dst: number): void;
  conv2dF32(x: number, pa: number, bias: number, y: number, scratch: number, ...geometryImagesO: [...WindowArgs, number, number, number, number]): void;
  /** scatterAdd with inner = 1 and a full index (max pooling's backward). */
  scatterAddRowsF32(src: number, index: number, out: number, rows: number, outLen: number, idxLen: number): void;
  scatterAddRowsF64(src: number, index: number, out: number, rows: number, outLen: number, idxLen: number): void;
  /** Pooling over c planes (max: values and int32 indices; avg and its adjoint, gOut ← gIn + …). */
  maxPool2dF32(x: number, out: number, indices: number, ...geometry: WindowArgs): void;
  maxPool2dF64(x: number, out: number, indices: number, ...geometry: WindowArgs): void;
  avgPool2dF32(x: number, out: number, ...geometry: [...PoolArgs, number]): void;
  avgPool2dF64(x: number, out: number, ...geometry: [...PoolArgs, number]): void;
  avgPool2dBackwardF32(g: number, gIn: number, gOut: number, ...geometry: [...PoolArgs, number]): void;
  avgPool2dBackwardF64(g: number, gIn: number, gOut: number, ...geometry: [...PoolArgs, number]): void;
  /** Batch (groups 0) and group normalisation (assembly/norm.ts); pointer 0: no weight, bias, dweight or dbias. */
  normForwardF32(x: number, y: number, w: number, b: number, mean: number, invstd: number, outer: number, c: number, inner: number, groups: number, eps: number): void;
  normForwardF64(x: number, y: number, w: number, b: number, mean: number, invstd: number, outer: number, c: number, inner: number, groups: number, eps: number): void;
  normBackwardF32(dy: number, x: number, dx: number, w: number, mean: number, invstd: number, dw: number, db: number, scratch: number, outer: number, c: number, inner: number, groups: number): void;
  normBackwardF64(dy: number, x: number, dx: number, w: number, mean: number, invstd: number, dw: number, db: number, scratch: number, outer: number, c: number, inner: number, groups: number): void;
}

/** A Window2d as the kernels take it: c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW, outH, outW. */
type WindowArgs = [number, number, number, number, number, number, number, number, number, number, number, number, number];
/** The same without the dilations (average pooling has none). */
type PoolArgs = [number, number, number, number, number, number, number, number, number, number, number];
const windowArgs = (g: Window2d): WindowArgs => [g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, g.outH, g.outW];
const poolArgs = (g: Window2d): PoolArgs => [g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.outH, g.outW];

// Optimizer flags, shared with assembly/kernels.ts (OPT_*).
const OPT_MAXIMIZE = 1;
const OPT_DECAY = 2;
const OPT_DECOUPLED = 4;
const OPT_AMSGRAD = 8;
const OPT_MOMENTUM = 16;
const OPT_FIRST = 32;
const OPT_NESTEROV = 64;

/**
 * Below these sizes a call goes to the JavaScript kernel, whose per-call cost is lower than
 * the copies in and out of WebAssembly memory. Tests set them to 0 to reach every wasm path.
 */
export const wasmTuning = {
  /** Elements of the output (unary, binary, where) or of the input (reduce). */
  minElements: 64,
  /** m·k·n of one matrix product. */
  minMatmulMacs: 4096,
  /** m·k·n from which a matmul is split across threads (when getNumThreads() > 1). */
  minThreadedMacs: 2 ** 21,
  /** Elements of a strided copy (copyStrided) from which it runs in wasm, in tiles. */
  minCopyElements: 4096,
  /**
   * Elements from which an elementwise kernel (unary; same-shape or scalar binary and
   * comparison) is split across threads. The cheap ones (relu, add...) are bound by memory
   * bandwidth, which a second core hardly adds to (on this 2-core VM 2^20-element relu and add
   * ran no faster, often slower, on 2 threads); exp, sigmoid and tanh cost ~10× more per element
   * and split from 1/64 of it (2^15 elements).
   */
  minThreadedElements: 2 ** 21,
};

// Op codes shared with assembly/kernels.ts.
const UNARY_F32: Partial<Record<UnaryOp, number>> = { neg: 0, abs: 1, sqrt: 2, relu: 3, exp: 4, sigmoid: 5, tanh: 6 };
const UNARY_F64: Partial<Record<UnaryOp, number>> = { neg: 0, abs: 1, sqrt: 2, relu: 3 };
const ARITH: Partial<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 };
/** Comparisons as [kernel op (0 eq, 1 lt, 2 le), swap operands, invert result]. */
const COMPARE: Partial<Record<BinaryOp, readonly [number, boolean, boolean]>> = {
  eq: [0, false, false],
  ne: [0, false, true],
  lt: [1, false, false],
  gt: [1, true, false],
  le: [2, false, false],
  ge: [2, true, false],
};
const REDUCE: Partial<Record<ReduceOp, number>> = { sum: 0, max: 1, min: 2 };

type Float = Float32Array | Float64Array;

const isF32 = (x: Storage): x is Float32Array => x instanceof Float32Array;
const isF64 = (x: Storage): x is Float64Array => x instanceof Float64Array;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The smallest module using a SIMD instruction (i8x16.popcnt); validates only where WebAssembly SIMD exists. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** The smallest module using a relaxed-SIMD instruction (f32x4.relaxed_madd). */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  253, 133, 2, 11,
]);

/**
 * Whether this runtime runs relaxed SIMD (the kernels then use fused multiply-adds in matmul).
 * Chromium and Node ≥ 22 have it; Node 20 has it behind V8's --experimental-wasm-relaxed-simd,
 * which is turned on here (through process.getBuiltinModule, so nothing Node-only is imported)
 * unless CHAINRULE_RELAXED_SIMD=0. Set CHAINRULE_RELAXED_SIMD=0 to use the plain SIMD build.
 */
export function relaxedSimdSupported(): boolean {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined>; getBuiltinModule?: (id: string) => unknown } }).process;
  if (proc?.env?.CHAINRULE_RELAXED_SIMD === "0") return false;
  try {
    if (WebAssembly.validate(RELAXED_PROBE)) return true;
    const v8 = proc?.getBuiltinModule?.("node:v8") as { setFlagsFromString?: (flags: string) => void } | undefined;
    if (typeof v8?.setFlagsFromString !== "function") return false;
    v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/** Whether this runtime has WebAssembly with 128-bit SIMD. */
export function simdSupported(): boolean {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** Builds the backend object around an instantiated kernels module and its memory manager. */
function createWasmBackend(k: KernelExports, mem: WasmHeap): Backend {
  const MC = k.GEMM_MC.value as number;
  const KC = k.GEMM_KC.value as number;

  return {
    ...jsBackend,
    name: "wasm",
    allocator: mem.resident ? mem : undefined,

    unary(op: UnaryOp, x: Storage, out: Storage, p0?: number, p1?: number): void {
      const n = x.length;
      const code = isF32(x) && isF32(out) ? UNARY_F32[op] : isF64(x) && isF64(out) ? UNARY_F64[op] : undefined;
      // Tiny arrays never touch WebAssembly unless they live there: copying would cost more than the kernel.
      if (code === undefined || out.length !== n || (n < wasmTuning.minElements && !mem.owns(x))) {
        jsBackend.unary(op, x, out, p0, p1);
        return;
      }
      try {
        const px = mem.input(x);
        const po = mem.output(out);
        const f32 = isF32(x);
        const size = f32 ? 4 : 8;
        const costly = op === "exp" || op === "sigmoid" || op === "tanh";
        const threaded =
          n >= (costly ? wasmTuning.minThreadedElements / 64 : wasmTuning.minThreadedElements) &&
          px !== po && // a part re-run after a failed worker must not see its own output
          threadedRange(mem, f32 ? "unaryF32" : "unaryF64", n, (s, c) => [code, px + s * size, po + s * size, c]);
        if (!threaded) (f32 ? k.unaryF32 : k.unaryF64)(code, px, po, n);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    binary(op, a, aStrides, b, bStrides, out, outShape): void {
      const n = out.length;
      const sameFloat = (isF32(a) && isF32(b)) || (isF64(a) && isF64(b));
      const arith = ARITH[op];
      const cmp = COMPARE[op];
      const fits = arith !== undefined ? out.constructor === a.constructor : cmp !== undefined && out instanceof Uint8Array;
      // Tiny arrays never touch WebAssembly unless they live there: copying would cost more than the kernel.
      if (!sameFloat || !fits || (n < wasmTuning.minElements && !mem.owns(out))) {
        jsBackend.binary(op, a, aStrides, b, bStrides, out, outShape);
        return;
      }
      const fa = a as Float, fb = b as Float;
      const f32 = isF32(fa);
      const size = fa.BYTES_PER_ELEMENT;
      const [code, swap, invert] = arith !== undefined ? [arith, false, false] : cmp!;
      const kind = arith !== undefined ? 0 : 1;
      if ((a.length === n || a.length === 1) && (b.length === n || b.length === 1)) {
        // Same shape, or a scalar operand: one streaming pass.
        try {
          const [oa, sa] = mem.operand(fa, n);
          const [ob, sb] = fb === fa ? [oa, sa] : mem.operand(fb, n);
          const po = mem.output(out);
          const [x, sx, y, sy] = swap ? [ob, sb, oa, sa] : [oa, sa, ob, sb];
          const outSize = kind === 0 ? size : 1;
          // A part's operand pointer moves with the part unless the operand is a splatted scalar (step 0).
          const at = (p: number, step: number, s: number): number => (step === 0 ? p : p + s * size);
          const threaded =
            n >= wasmTuning.minThreadedElements &&
            po !== x && po !== y && // a part re-run after a failed worker must not see its own output
            (kind === 0
              ? threadedRange(mem, f32 ? "binaryF32" : "binaryF64", n, (s, c) => [code, at(x, sx, s), sx, at(y, sy, s), sy, po + s * outSize, c])
              : threadedRange(mem, f32 ? "compareF32" : "compareF64", n, (s, c) => [code, invert ? 1 : 0, at(x, sx, s), sx, at(y, sy, s), sy, po + s * outSize, c]));
          if (!threaded) {
            if (kind === 0) (f32 ? k.binaryF32 : k.binaryF64)(code, x, sx, y, sy, po, n);
            else (f32 ? k.compareF32 : k.compareF64)(code, invert ? 1 : 0, x, sx, y, sy, po, n);
          }
          mem.end();
        } catch (e) {
          mem.abort();
          throw e;
        }
        return;
      }
      // Broadcasting that collapses to rows × cols where each operand either runs along a row or
      // holds one value per row (a bias row added to a matrix, a [B,1] column subtracted from
      // [B,C]); anything else is the js kernel's.
      const [shape, [stA, stB]] = collapse(outShape, [aStrides ?? directStrides(a, outShape), bStrides ?? directStrides(b, outShape)]);
      const nd = shape.length;
      const innerA = stA![nd - 1]!, innerB = stB![nd - 1]!;
      if (nd === 0 || nd > 2 || innerA > 1 || innerB > 1) {
        jsBackend.binary(op, a, aStrides, b, bStrides, out, outShape);
        return;
      }
      const rows = nd === 2 ? shape[0]! : 1;
      const cols = shape[nd - 1]!;
      // The rows kernel runs each row's last vector past its end, into the next row: written in
      // place over an operand it would clobber that row before reading it.
      if (mem.overlaps(out, a) || mem.overlaps(out, b)) {
        jsBackend.binary(op, a, aStrides, b, bStrides, out, outShape);
        return;
      }
      try {
        const pa = mem.input(fa);
        const pb = mem.input(fb);
        const po = mem.output(out);
        const ra = nd === 2 ? stA![0]! * size : 0, rb = nd === 2 ? stB![0]! * size : 0;
        const run = f32 ? k.rowsF32 : k.rowsF64;
        if (swap) run(kind, code, invert ? 1 : 0, pb, rb, innerB, pa, ra, innerA, po, rows, cols);
        else run(kind, code, invert ? 1 : 0, pa, ra, innerA, pb, rb, innerB, po, rows, cols);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    where(cond, cStrides, a, aStrides, b, bStrides, out, outShape): void {
      const n = out.length;
      const sameFloat = (isF32(a) && isF32(b) && isF32(out)) || (isF64(a) && isF64(b) && isF64(out));
      const direct = [cond, a, b].every((x) => x.length === n || x.length === 1);
      if (!sameFloat || !direct || !(cond instanceof Uint8Array) || (n < wasmTuning.minElements && !mem.owns(out))) {
        jsBackend.where(cond, cStrides, a, aStrides, b, bStrides, out, outShape);
        return;
      }
      try {
        const [pc, sc] = mem.operand(cond, n);
        const [oa, sa] = mem.operand(a as Float, n);
        const [ob, sb] = mem.operand(b as Float, n);
        const po = mem.output(out);
        (isF32(a) ? k.whereF32 : k.whereF64)(pc, sc, oa, sa, ob, sb, po, n);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    copyStrided(src, offset, strides, shape, out): void {
      // Strided views (permute, expand, slice) of 4- and 8-byte elements, as 2-D slices in tiles:
      // the js kernel walks a transpose's source column by column, missing the cache on each read.
      const size = src.BYTES_PER_ELEMENT;
      const [dims, [st]] = collapse(shape, [strides]);
      const nd = dims.length;
      const n = out.length;
      const run = dims[nd - 1] ?? 0;
      if (nd >= 2 && st![nd - 1] === 1 && run >= 32 && src.constructor === out.constructor && n >= wasmTuning.minCopyElements) {
        // Contiguous runs (a permute that keeps the last axis, as convolution's [N, O, L] ↔ [O, N, L]):
        // one native copy per run.
        const lead = dims.slice(0, nd - 1);
        const index = new Array<number>(lead.length).fill(0);
        for (let o = 0; o < n; o += run) {
          let off = offset;
          for (let d = 0; d < lead.length; d++) off += index[d]! * st![d]!;
          (out as Float32Array).set((src as Float32Array).subarray(off, off + run), o);
          for (let d = lead.length - 1; d >= 0; d--) {
            if (++index[d]! < lead[d]!) break;
            index[d] = 0;
          }
        }
        return;
      }
      if ((size !== 4 && size !== 8) || out.BYTES_PER_ELEMENT !== size || nd < 2 || n < wasmTuning.minCopyElements || st![nd - 1] === 1) {
        jsBackend.copyStrided(src, offset, strides, shape, out);
        return;
      }
      const rows = dims[nd - 2]!, cols = dims[nd - 1]!;
      const s0 = st![nd - 2]!, s1 = st![nd - 1]!;
      try {
        const ps = mem.input(src);
        const po = mem.output(out);
        const f = size === 4 ? k.copy2d32 : k.copy2d64;
        // The leading axes (a batch of 2-D slices) one slice at a time.
        const lead = dims.slice(0, nd - 2);
        const index = new Array<number>(lead.length).fill(0);
        const slices = n / (rows * cols);
        for (let t = 0; t < slices; t++) {
          let off = offset;
          for (let d = 0; d < lead.length; d++) off += index[d]! * st![d]!;
          f(ps + off * size, s0, s1, po + t * rows * cols * size, rows, cols);
          for (let d = lead.length - 1; d >= 0; d--) {
            if (++index[d]! < lead[d]!) break;
            index[d] = 0;
          }
        }
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    scatterAdd(src, index, outer, outLen, idxLen, inner, out, indexIsVector): void {
      const f32 = isF32(src) && isF32(out);
      const total = outer * idxLen;
      if (inner !== 1 || indexIsVector || (!f32 && !(isF64(src) && isF64(out))) || (total < wasmTuning.minElements && !mem.owns(out)) || index.length < total || src.length < total) {
        jsBackend.scatterAdd(src, index, outer, outLen, idxLen, inner, out, indexIsVector);
        return;
      }
      try {
        const ps = mem.input(src, 0, total);
        const pi = mem.input(index, 0, total);
        const pIn = mem.input(out, 0, outer * outLen);
        const po = mem.output(out, 0, outer * outLen, true);
        if (pIn !== po) new Uint8Array(k.memory.buffer, po, outer * outLen * out.BYTES_PER_ELEMENT).set(new Uint8Array(k.memory.buffer, pIn, outer * outLen * out.BYTES_PER_ELEMENT));
        (f32 ? k.scatterAddRowsF32 : k.scatterAddRowsF64)(ps, pi, po, outer, outLen, idxLen);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    reduce(op, x, outer, len, inner, out): void {
      const code = REDUCE[op];
      const total = outer * len * inner;
      const ok = code !== undefined && ((isF32(x) && isF32(out)) || (isF64(x) && isF64(out)));
      if (!ok || (total < wasmTuning.minElements && !mem.owns(x)) || x.length !== total || (op !== "sum" && len === 0)) {
        jsBackend.reduce(op, x, outer, len, inner, out);
        return;
      }
      try {
        const px = mem.input(x);
        const po = mem.output(out);
        (isF32(x) ? k.reduceF32 : k.reduceF64)(code, px, outer, len, inner, po);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    matmul(a, aOffset, b, bOffset, out, outOffset, m, k_, n, transA, transB): void {
      const f32 = isF32(a) && isF32(b) && isF32(out);
      const f64 = isF64(a) && isF64(b) && isF64(out);
      if ((!f32 && !f64) || m * k_ * n < wasmTuning.minMatmulMacs) {
        jsBackend.matmul(a, aOffset, b, bOffset, out, outOffset, m, k_, n, transA, transB);
        return;
      }
      const size = f32 ? 4 : 8;
      try {
        const pa = mem.input(a, aOffset, m * k_);
        const pb = mem.input(b, bOffset, k_ * n);
        // The matmul kernels write exactly the m×n block of C (edge tiles go through scratch).
        const pc = mem.output(out, outOffset, m * n, true);
        if (m * k_ * n < wasmTuning.minThreadedMacs || !threadedMatmul(mem, f32, pa, pb, pc, m, k_, n, transA, transB)) {
          const kc = Math.min(KC, k_);
          const mr = Math.ceil(Math.min(MC, m) / 4) * 4;
          const nr = f32 ? Math.ceil(n / 8) * 8 : Math.ceil(n / 4) * 4;
          const packA = mem.temp(mr * kc * size);
          const packB = mem.temp(nr * kc * size);
          (f32 ? k.gemmF32 : k.gemmF64)(pa, pb, pc, m, k_, n, transA ? 1 : 0, transB ? 1 : 0, packA, packB);
        }
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    softmax(op, x, rows, cols, out, stats): void {
      const n = rows * cols;
      // float64 stays the reference's (Math.exp); so do tiny non-resident calls.
      if (!isF32(x) || !isF32(out) || x.length !== n || out.length !== n || n === 0 || (n < wasmTuning.minElements && !mem.owns(x))) {
        jsBackend.softmax(op, x, rows, cols, out, stats);
        return;
      }
      try {
        const px = mem.input(x);
        const po = mem.output(out);
        const ps = stats ? mem.output(stats, 0, 2 * rows) : 0;
        k.softmaxF32(op === "softmax" ? 0 : 1, px, po, rows, cols, ps);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    im2col(x, xOffset, g, cols, colsOffset, images = 1): void {
      const image = g.c * g.h * g.w;
      const l = g.outH * g.outW;
      const total = g.c * g.kh * g.kw * l * images;
      const f32 = isF32(x) && isF32(cols);
      if ((!f32 && !(isF64(x) && isF64(cols))) || (total < wasmTuning.minElements && !mem.owns(cols))) {
        jsBackend.im2col(x, xOffset, g, cols, colsOffset, images);
        return;
      }
      try {
        const size = f32 ? 4 : 8;
        const px = mem.input(x, xOffset, image * images);
        const pc = mem.output(cols, colsOffset, total, true);
        const geometry = windowArgs(g);
        // Large batches: the images split across threads (each writes its own columns).
        const threaded =
          total >= wasmTuning.minThreadedElements / 4 &&
          threadedRange(mem, f32 ? "im2colF32" : "im2colF64", images, (s, count) => [px + s * image * size, pc + s * l * size, ...geometry, count, l * images], 1);
        if (!threaded) (f32 ? k.im2colF32 : k.im2colF64)(px, pc, ...geometry, images, l * images);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    col2im(cols, colsOffset, g, x, xOffset, images = 1): void {
      const image = g.c * g.h * g.w;
      const l = g.outH * g.outW;
      const total = g.c * g.kh * g.kw * l * images;
      const f32 = isF32(x) && isF32(cols);
      if ((!f32 && !(isF64(x) && isF64(cols))) || (total < wasmTuning.minElements && !mem.owns(x))) {
        jsBackend.col2im(cols, colsOffset, g, x, xOffset, images);
        return;
      }
      try {
        const size = f32 ? 4 : 8;
        // x is read and written: in place where resident, else copied in and back.
        const pc = mem.input(cols, colsOffset, total);
        const pIn = mem.input(x, xOffset, image * images);
        const pOut = mem.output(x, xOffset, image * images, true);
        const geometry = windowArgs(g);
        const threaded =
          total >= wasmTuning.minThreadedElements / 4 &&
          threadedRange(mem, f32 ? "col2imF32" : "col2imF64", images, (s, count) => [pc + s * l * size, pIn + s * image * size, pOut + s * image * size, ...geometry, count, l * images], 1);
        if (!threaded) (f32 ? k.col2imF32 : k.col2imF64)(pc, pIn, pOut, ...geometry, images, l * images);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    conv2d(x, weight, bias, images, outChannels, g, out): void {
      const kk = g.c * g.kh * g.kw;
      const l = g.outH * g.outW;
      const total = images * l;
      const macs = total * outChannels * kk;
      // float64 (and tiny non-resident calls) stay the reference's.
      if (!isF32(x) || !isF32(weight) || !isF32(out) || (bias !== null && !isF32(bias)) || total === 0 || (macs < wasmTuning.minMatmulMacs && !mem.owns(out))) {
        jsBackend.conv2d(x, weight, bias, images, outChannels, g, out);
        return;
      }
      try {
        const px = mem.input(x, 0, images * g.c * g.h * g.w);
        const pw = mem.input(weight, 0, outChannels * kk);
        const pbias = bias === null ? 0 : mem.input(bias, 0, outChannels);
        const py = mem.output(out, 0, total * outChannels, true);
        const pa = mem.temp(Math.ceil(outChannels / 4) * 16 * kk);
        k.packConvWeightsF32(pw, outChannels, kk, pa);
        const panels = Math.ceil(total / 8);
        const geometry = windowArgs(g);
        const scratchBytes = kk * 32 + 256;
        // Large products: the column panels split across threads, each with its own panel scratch.
        const threads = macs >= wasmTuning.minThreadedMacs ? Math.min(getNumThreads(), panels) : 1;
        let threaded = false;
        if (threads > 1) {
          const per = Math.ceil(panels / threads);
          const calls: number[][] = [];
          for (let p0 = 0; p0 < panels; p0 += per) calls.push([px, pa, pbias, py, mem.temp(scratchBytes), ...geometry, images, outChannels, p0, Math.min(panels, p0 + per)]);
          threaded = threadedCalls(mem, "conv2dF32", calls);
        }
        if (!threaded) k.conv2dF32(px, pa, pbias, py, mem.temp(scratchBytes), ...geometry, images, outChannels, 0, panels);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    maxPool2d(x, g, out, indices): void {
      const n = g.c * g.h * g.w;
      const total = g.c * g.outH * g.outW;
      const f32 = isF32(x) && isF32(out);
      if ((!f32 && !(isF64(x) && isF64(out))) || (n < wasmTuning.minElements && !mem.owns(x))) {
        jsBackend.maxPool2d(x, g, out, indices);
        return;
      }
      try {
        const px = mem.input(x, 0, n);
        const po = mem.output(out, 0, total, true);
        const pi = mem.output(indices, 0, total, true);
        (f32 ? k.maxPool2dF32 : k.maxPool2dF64)(px, po, pi, ...windowArgs(g));
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    avgPool2d(x, g, out, countIncludePad): void {
      const n = g.c * g.h * g.w;
      const total = g.c * g.outH * g.outW;
      const f32 = isF32(x) && isF32(out);
      if ((!f32 && !(isF64(x) && isF64(out))) || (n < wasmTuning.minElements && !mem.owns(x))) {
        jsBackend.avgPool2d(x, g, out, countIncludePad);
        return;
      }
      try {
        const px = mem.input(x, 0, n);
        const po = mem.output(out, 0, total, true);
        (f32 ? k.avgPool2dF32 : k.avgPool2dF64)(px, po, ...poolArgs(g), countIncludePad ? 1 : 0);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    avgPool2dBackward(gradOut, g, gradIn, countIncludePad): void {
      const n = g.c * g.h * g.w;
      const total = g.c * g.outH * g.outW;
      const f32 = isF32(gradOut) && isF32(gradIn);
      if ((!f32 && !(isF64(gradOut) && isF64(gradIn))) || (n < wasmTuning.minElements && !mem.owns(gradIn))) {
        jsBackend.avgPool2dBackward(gradOut, g, gradIn, countIncludePad);
        return;
      }
      try {
        const pg = mem.input(gradOut, 0, total);
        const pIn = mem.input(gradIn, 0, n);
        const pOut = mem.output(gradIn, 0, n, true);
        (f32 ? k.avgPool2dBackwardF32 : k.avgPool2dBackwardF64)(pg, pIn, pOut, ...poolArgs(g), countIncludePad ? 1 : 0);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    normForward(x, outer, c, inner, groups, eps, weight, bias, out, mean, invstd): void {
      const n = outer * c * inner;
      const f32 = isF32(x);
      const like = (a: unknown): boolean => (f32 ? a instanceof Float32Array : a instanceof Float64Array);
      if (!like(out) || (weight !== null && !like(weight)) || (bias !== null && !like(bias)) || x.length !== n || n === 0 ||
        (n < wasmTuning.minElements && !mem.owns(x))) {
        jsBackend.normForward(x, outer, c, inner, groups, eps, weight, bias, out, mean, invstd);
        return;
      }
      const stats = groups === 0 ? c : outer * groups;
      try {
        const px = mem.input(x);
        const pw = weight !== null ? mem.input(weight, 0, c) : 0;
        const pb = bias !== null ? mem.input(bias, 0, c) : 0;
        const po = mem.output(out, 0, n, true);
        const pm = mem.output(mean, 0, stats, true);
        const pi = mem.output(invstd, 0, stats, true);
        (f32 ? k.normForwardF32 : k.normForwardF64)(px, po, pw, pb, pm, pi, outer, c, inner, groups, eps);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    normBackward(dy, x, outer, c, inner, groups, mean, invstd, weight, dx, dweight, dbias): void {
      const n = outer * c * inner;
      const f32 = isF32(x);
      const like = (a: unknown): boolean => (f32 ? a instanceof Float32Array : a instanceof Float64Array);
      if (!like(dy) || !like(dx) || (weight !== null && !like(weight)) || (dweight !== null && !like(dweight)) || (dbias !== null && !like(dbias)) ||
        x.length !== n || dy.length !== n || n === 0 || (n < wasmTuning.minElements && !mem.owns(x))) {
        jsBackend.normBackward(dy, x, outer, c, inner, groups, mean, invstd, weight, dx, dweight, dbias);
        return;
      }
      const stats = groups === 0 ? c : outer * groups;
      try {
        const pdy = mem.input(dy);
        const px = mem.input(x);
        const pw = weight !== null ? mem.input(weight, 0, c) : 0;
        const pm = mem.input(mean, 0, stats);
        const pi = mem.input(invstd, 0, stats);
        const scratch = mem.temp(outer * c * 16);
        const pdx = mem.output(dx, 0, n, true);
        const pdw = dweight !== null ? mem.output(dweight, 0, c, true) : 0;
        const pdb = dbias !== null ? mem.output(dbias, 0, c, true) : 0;
        (f32 ? k.normBackwardF32 : k.normBackwardF64)(pdy, px, pdx, pw, pm, pi, pdw, pdb, scratch, outer, c, inner, groups);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    sgdUpdate(param, grad, buf, h): void {
      const n = param.length;
      const f32 = isF32(param);
      const like = (a: unknown): a is Float => (f32 ? a instanceof Float32Array : a instanceof Float64Array);
      if (!like(grad) || grad.length !== n || (buf !== null && (!like(buf) || buf.length !== n)) || n === 0 || (n < wasmTuning.minElements && !mem.owns(param))) {
        jsBackend.sgdUpdate(param, grad, buf, h);
        return;
      }
      const flags = (h.maximize ? OPT_MAXIMIZE : 0) | (h.weightDecay !== 0 ? OPT_DECAY : 0) |
        (buf !== null ? OPT_MOMENTUM | (h.firstStep ? OPT_FIRST : 0) | (h.nesterov ? OPT_NESTEROV : 0) : 0);
      try {
        // Inputs first (copied in where not resident), then the outputs (in place where resident).
        const pIn = mem.input(param);
        const pg = mem.input(grad);
        const bIn = buf !== null && !h.firstStep ? mem.input(buf) : 0;
        const pOut = mem.output(param);
        const bOut = buf !== null ? mem.output(buf) : 0;
        (f32 ? k.sgdF32 : k.sgdF64)(pIn, pOut, pg, bIn, bOut, n, h.lr, h.momentum, 1 - h.dampening, h.weightDecay, flags);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },

    adamUpdate(param, grad, m, v, vmax, h): void {
      const n = param.length;
      const f32 = isF32(param);
      const like = (a: unknown): a is Float => (f32 ? a instanceof Float32Array : a instanceof Float64Array) && (a as Float).length === n;
      if (!like(grad) || !like(m) || !like(v) || (vmax !== null && !like(vmax)) || n === 0 || (n < wasmTuning.minElements && !mem.owns(param))) {
        jsBackend.adamUpdate(param, grad, m, v, vmax, h);
        return;
      }
      const { stepSize, bc2Sqrt, decay } = adamScalars(h);
      const flags = (h.maximize ? OPT_MAXIMIZE : 0) | (h.weightDecay !== 0 ? OPT_DECAY : 0) | (h.decoupled && h.weightDecay !== 0 ? OPT_DECOUPLED : 0) | (vmax !== null ? OPT_AMSGRAD : 0);
      try {
        const pIn = mem.input(param);
        const pg = mem.input(grad);
        const mIn = mem.input(m);
        const vIn = mem.input(v);
        const xIn = vmax !== null ? mem.input(vmax) : 0;
        const pOut = mem.output(param);
        const mOut = mem.output(m);
        const vOut = mem.output(v);
        const xOut = vmax !== null ? mem.output(vmax) : 0;
        (f32 ? k.adamF32 : k.adamF64)(pIn, pOut, pg, mIn, mOut, vIn, vOut, xIn, xOut, n,
          h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.eps, h.weightDecay, decay, stepSize, bc2Sqrt, flags);
        mem.end();
      } catch (e) {
        mem.abort();
        throw e;
      }
    },
  };
}

/** The outcome of loading the wasm backend: ready, compiling in the background, or unavailable (with why). */
export type WasmLoad =
  | { status: "ready"; backend: Backend }
  | { status: "pending"; promise: Promise<Backend | undefined> }
  | { status: "unavailable"; reason: string };

/** Which build of the kernels loaded (the bench reports it). */
export const buildInfo = { relaxedSimd: false };

/** The WebAssembly memory manager of the active wasm backend (memoryStats() reads it). */
let activeHeap: WasmHeap | undefined;
/** The wasm memory's statistics, or undefined when the wasm backend never loaded. */
export function wasmMemoryStats(): WasmMemoryStats | undefined {
  return activeHeap?.stats();
}
/** Sets the bytes of live tensors kept in WebAssembly memory (all, and those made outside tidy()), beyond which new tensors are plain JavaScript arrays. */
export function setWasmMemoryLimit(bytes: number | undefined, outsideTidy: number | undefined): void {
  if (!activeHeap) return;
  if (bytes !== undefined) activeHeap.limit = bytes;
  if (outsideTidy !== undefined) activeHeap.unscopedLimit = outsideTidy;
}

/** A shared WebAssembly.Memory (tensors can live in it and threads can share it), or undefined where this runtime has none. */
function sharedMemory(): WebAssembly.Memory | undefined {
  if (typeof SharedArrayBuffer !== "function") return undefined;
  try {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true } as WebAssembly.MemoryDescriptor);
    return memory.buffer instanceof SharedArrayBuffer ? memory : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Instantiates the kernels: the threads build on a shared memory where one exists (tensors then
 * live in it), else the plain build on its own memory (tensors stay in JavaScript arrays).
 */
function instantiate(plain: WebAssembly.Module, threaded: WebAssembly.Module | undefined): Backend {
  const memory = threaded ? sharedMemory() : undefined;
  let k: KernelExports;
  let heap: WasmHeap;
  if (threaded && memory) {
    k = { ...(new WebAssembly.Instance(threaded, { env: { memory } }).exports as unknown as KernelExports), memory };
    heap = new WasmHeap(memory, k.heapBase(), true);
    // The first backend loaded is the one the registry uses: its memory is the threads' (a second
    // load, as tests make, gets a backend of its own that runs on one thread).
    if (activeHeap === undefined) attachThreads(threaded, heap);
  } else {
    k = new WebAssembly.Instance(plain, {}).exports as unknown as KernelExports;
    heap = new WasmHeap(k.memory, k.heapBase(), false);
  }
  activeHeap ??= heap;
  return createWasmBackend(k, heap);
}

/** A wasm backend over another build of the kernels module (benchmarks of kernel variants); its tensors stay in JavaScript arrays. */
export function wasmBackendFromBytes(bytes: Uint8Array<ArrayBuffer>): Backend {
  const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as KernelExports;
  return createWasmBackend(k, new WasmHeap(k.memory, k.heapBase(), false));
}

/**
 * Compiles the kernels. Synchronously where the runtime allows it (Node, workers, most
 * browsers); where synchronous compilation is refused (Chromium's main thread limits it to
 * small modules) the module compiles asynchronously and the result is `pending`.
 */
export function loadWasmBackend(): WasmLoad {
  if (!simdSupported()) return { status: "unavailable", reason: "this JavaScript runtime has no WebAssembly SIMD" };
  const relaxed = relaxedSimdSupported();
  buildInfo.relaxedSimd = relaxed;
  const bytes = decodeBase64(relaxed ? KERNELS_RELAXED_WASM_BASE64 : KERNELS_WASM_BASE64);
  const threadBytes = typeof SharedArrayBuffer === "function" ? decodeBase64(relaxed ? KERNELS_RELAXED_THREADS_WASM_BASE64 : KERNELS_THREADS_WASM_BASE64) : undefined;
  try {
    return { status: "ready", backend: instantiate(new WebAssembly.Module(bytes), threadBytes && new WebAssembly.Module(threadBytes)) };
  } catch (e) {
    if (!(e instanceof RangeError)) return { status: "unavailable", reason: `the kernels did not compile (${e instanceof Error ? e.message : String(e)})` };
  }
  return {
    status: "pending",
    promise: Promise.all([WebAssembly.compile(bytes), threadBytes && WebAssembly.compile(threadBytes).catch(() => undefined)]).then(
      ([plain, threaded]) => instantiate(plain, threaded),
      () => undefined,
    ),
  };
}
