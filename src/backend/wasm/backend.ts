import type { Storage } from "../../tensor/dtype.js";
import type { Backend, BinaryOp, ReduceOp, UnaryOp } from "../backend.js";
import { collapse, directStrides, jsBackend } from "../js.js";
import { KERNELS_WASM_BASE64 } from "./kernels.generated.js";
import { threadedMatmul } from "./threads.js";

/**
 * The WebAssembly SIMD backend. Its kernels (assembly/kernels.ts, compiled by
 * assembly/build.mjs into kernels.generated.ts) run on 128-bit vectors: 4 float32 or 2 float64
 * lanes. Operands stay in JavaScript typed arrays, freed by the garbage collector: each call
 * copies its inputs into a scratch region of the module's linear memory (grown on demand,
 * never shrunk), runs the kernel there and copies the result back. Whatever it does not
 * implement (int32 and bool, broadcasting beyond rows × columns, log, pow, gather/scatter,
 * strided copies...) is the JavaScript backend's kernel; so are calls too small to repay the
 * copies (see `wasmTuning`). Large matmuls run on several threads where a thread provider is
 * registered (./threads.ts; the Node entry does). docs/backend.md has the details and the numerics.
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
  reduceF32(op: number, x: number, outer: number, len: number, inner: number, out: number): void;
  reduceF64(op: number, x: number, outer: number, len: number, inner: number, out: number): void;
  gemmF32(a: number, b: number, c: number, m: number, k: number, n: number, transA: number, transB: number, pa: number, pb: number): void;
  gemmF64(a: number, b: number, c: number, m: number, k: number, n: number, transA: number, transB: number, pa: number, pb: number): void;
  /** Matmul blocking: rows of A per packed block, steps of k per packed block. */
  GEMM_MC: WebAssembly.Global;
  GEMM_KC: WebAssembly.Global;
}

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

/** Every region is a whole number of these bytes, with at least SLACK to spare: the kernels run whole vectors (up to 16 elements) past the last element. */
const BLOCK = 128;
const SLACK = 64;
const PAGE = 65536;

type Float = Float32Array | Float64Array;
const isF32 = (x: Storage): x is Float32Array => x instanceof Float32Array;
const isF64 = (x: Storage): x is Float64Array => x instanceof Float64Array;

/** A bump allocator over the module's memory, reset at the start of every kernel call. */
class Scratch {
  f32!: Float32Array;
  f64!: Float64Array;
  u8!: Uint8Array;
  private top: number;
  /** Bytes of memory now (only this object grows it). */
  private capacity = 0;

  constructor(private readonly memory: WebAssembly.Memory, private readonly base: number) {
    this.top = base;
    this.views();
  }

  private views(): void {
    const buf = this.memory.buffer;
    this.capacity = buf.byteLength;
    this.f32 = new Float32Array(buf);
    this.f64 = new Float64Array(buf);
    this.u8 = new Uint8Array(buf);
  }

  /** Starts a call's layout. */
  reset(): void {
    this.top = this.base;
  }

  /** Reserves `bytes` (rounded up to whole blocks); returns its byte offset. */
  take(bytes: number): number {
    const at = this.top;
    this.top += Math.ceil((bytes + SLACK) / BLOCK) * BLOCK;
    return at;
  }

  /** Makes every region taken since reset() addressable, growing the memory if needed. */
  commit(): void {
    if (this.top > this.capacity) {
      this.memory.grow(Math.ceil((this.top - this.capacity) / PAGE));
      this.views(); // growing detached the old buffer
    }
  }

  /** Copies a float array in at `at`. */
  put(x: Float, at: number): void {
    if (isF32(x)) this.f32.set(x, at / 4);
    else this.f64.set(x, at / 8);
  }

  /** Copies n elements at `at` into `out` (from `outOffset`). */
  get(out: Storage, at: number, n: number, outOffset = 0): void {
    if (isF32(out)) out.set(this.f32.subarray(at / 4, at / 4 + n), outOffset);
    else if (isF64(out)) out.set(this.f64.subarray(at / 8, at / 8 + n), outOffset);
    else out.set(this.u8.subarray(at, at + n), outOffset);
  }

  /** Stores one value of x splatted over 16 bytes (a scalar operand read with step 0). */
  splat(x: Float, at: number): void {
    if (isF32(x)) this.f32.fill(x[0]!, at / 4, at / 4 + 4);
    else this.f64.fill(x[0]!, at / 8, at / 8 + 2);
  }
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The smallest module using a SIMD instruction (i8x16.popcnt); validates only where WebAssembly SIMD exists. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Whether this runtime has WebAssembly with 128-bit SIMD. */
export function simdSupported(): boolean {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** Builds the backend object around an instantiated kernels module. */
function createWasmBackend(k: KernelExports): Backend {
  const mem = new Scratch(k.memory, Math.ceil(k.heapBase() / BLOCK) * BLOCK);
  const MC = k.GEMM_MC.value as number;
  const KC = k.GEMM_KC.value as number;

  /** Copies an operand in, full or splatted; returns [offset, step per vector]. */
  const operand = (x: Float, n: number, full: number): [number, number] => {
    if (x.length === n && n !== 1) {
      mem.put(x, full);
      return [full, 16];
    }
    mem.splat(x, full);
    return [full, 0];
  };

  return {
    ...jsBackend,
    name: "wasm",

    unary(op: UnaryOp, x: Storage, out: Storage, p0?: number, p1?: number): void {
      const n = x.length;
      // Tiny arrays never touch WebAssembly: the copies in and out would cost more than the kernel.
      if (n < wasmTuning.minElements) {
        jsBackend.unary(op, x, out, p0, p1);
        return;
      }
      const code = isF32(x) && isF32(out) ? UNARY_F32[op] : isF64(x) && isF64(out) ? UNARY_F64[op] : undefined;
      if (code === undefined || out.length !== n) {
        jsBackend.unary(op, x, out, p0, p1);
        return;
      }
      const bytes = n * x.BYTES_PER_ELEMENT;
      mem.reset();
      const px = mem.take(bytes);
      const po = mem.take(bytes);
      mem.commit();
      mem.put(x as Float, px);
      (isF32(x) ? k.unaryF32 : k.unaryF64)(code, px, po, n);
      mem.get(out, po, n);
    },

    binary(op, a, aStrides, b, bStrides, out, outShape): void {
      const n = out.length;
      // Tiny arrays never touch WebAssembly: the copies in and out would cost more than the kernel.
      if (n < wasmTuning.minElements) {
        jsBackend.binary(op, a, aStrides, b, bStrides, out, outShape);
        return;
      }
      const sameFloat = (isF32(a) && isF32(b)) || (isF64(a) && isF64(b));
      const arith = ARITH[op];
      const cmp = COMPARE[op];
      const fits = arith !== undefined ? out.constructor === a.constructor : cmp !== undefined && out instanceof Uint8Array;
      if (!sameFloat || !fits) {
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
        mem.reset();
        const pa = mem.take(n * size);
        const pb = fb === fa ? pa : mem.take(n * size);
        const po = mem.take(kind === 0 ? n * size : n);
        mem.commit();
        const [oa, sa] = operand(fa, n, pa);
        const [ob, sb] = fb === fa ? [oa, sa] : operand(fb, n, pb);
        const [x, sx, y, sy] = swap ? [ob, sb, oa, sa] : [oa, sa, ob, sb];
        if (kind === 0) (f32 ? k.binaryF32 : k.binaryF64)(code, x, sx, y, sy, po, n);
        else (f32 ? k.compareF32 : k.compareF64)(code, invert ? 1 : 0, x, sx, y, sy, po, n);
        mem.get(out, po, n);
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
      mem.reset();
      const pa = mem.take(a.length * size);
      const pb = mem.take(b.length * size);
      const po = mem.take(kind === 0 ? n * size : n);
      mem.commit();
      mem.put(fa, pa);
      mem.put(fb, pb);
      const ra = nd === 2 ? stA![0]! * size : 0, rb = nd === 2 ? stB![0]! * size : 0;
      const run = f32 ? k.rowsF32 : k.rowsF64;
      if (swap) run(kind, code, invert ? 1 : 0, pb, rb, innerB, pa, ra, innerA, po, rows, cols);
      else run(kind, code, invert ? 1 : 0, pa, ra, innerA, pb, rb, innerB, po, rows, cols);
      mem.get(out, po, n);
    },

    where(cond, cStrides, a, aStrides, b, bStrides, out, outShape): void {
      const n = out.length;
      const sameFloat = (isF32(a) && isF32(b) && isF32(out)) || (isF64(a) && isF64(b) && isF64(out));
      const direct = [cond, a, b].every((x) => x.length === n || x.length === 1);
      if (!sameFloat || !direct || !(cond instanceof Uint8Array) || n < wasmTuning.minElements) {
        jsBackend.where(cond, cStrides, a, aStrides, b, bStrides, out, outShape);
        return;
      }
      const fa = a as Float, fb = b as Float;
      const bytes = n * fa.BYTES_PER_ELEMENT;
      mem.reset();
      const pc = mem.take(n);
      const pa = mem.take(bytes);
      const pb = mem.take(bytes);
      const po = mem.take(bytes);
      mem.commit();
      let sc = 16;
      if (cond.length === n && n !== 1) mem.u8.set(cond, pc);
      else {
        mem.u8.fill(cond[0]!, pc, pc + 16);
        sc = 0;
      }
      const [oa, sa] = operand(fa, n, pa);
      const [ob, sb] = operand(fb, n, pb);
      (isF32(fa) ? k.whereF32 : k.whereF64)(pc, sc, oa, sa, ob, sb, po, n);
      mem.get(out, po, n);
    },

    reduce(op, x, outer, len, inner, out): void {
      const code = REDUCE[op];
      const total = outer * len * inner;
      const ok = code !== undefined && ((isF32(x) && isF32(out)) || (isF64(x) && isF64(out)));
      if (!ok || total < wasmTuning.minElements || x.length !== total || (op !== "sum" && len === 0)) {
        jsBackend.reduce(op, x, outer, len, inner, out);
        return;
      }
      const size = x.BYTES_PER_ELEMENT;
      mem.reset();
      const px = mem.take(total * size);
      const po = mem.take(outer * inner * size);
      mem.commit();
      mem.put(x as Float, px);
      (isF32(x) ? k.reduceF32 : k.reduceF64)(code, px, outer, len, inner, po);
      mem.get(out, po, outer * inner);
    },

    matmul(a, aOffset, b, bOffset, out, outOffset, m, k_, n, transA, transB): void {
      const f32 = isF32(a) && isF32(b) && isF32(out);
      const f64 = isF64(a) && isF64(b) && isF64(out);
      if ((!f32 && !f64) || m * k_ * n < wasmTuning.minMatmulMacs) {
        jsBackend.matmul(a, aOffset, b, bOffset, out, outOffset, m, k_, n, transA, transB);
        return;
      }
      if (m * k_ * n >= wasmTuning.minThreadedMacs && threadedMatmul(a as Float, aOffset, b as Float, bOffset, out as Float, outOffset, m, k_, n, transA, transB)) return;
      const size = f32 ? 4 : 8;
      const kc = Math.min(KC, k_);
      const mr = Math.ceil(Math.min(MC, m) / 4) * 4;
      const nr = f32 ? Math.ceil(n / 8) * 8 : Math.ceil(n / 4) * 4;
      mem.reset();
      const pa = mem.take(m * k_ * size);
      const pb = mem.take(k_ * n * size);
      const pc = mem.take(m * n * size);
      const packA = mem.take(mr * kc * size);
      const packB = mem.take(nr * kc * size);
      mem.commit();
      mem.put((a as Float).subarray(aOffset, aOffset + m * k_), pa);
      mem.put((b as Float).subarray(bOffset, bOffset + k_ * n), pb);
      (f32 ? k.gemmF32 : k.gemmF64)(pa, pb, pc, m, k_, n, transA ? 1 : 0, transB ? 1 : 0, packA, packB);
      mem.get(out, pc, m * n, outOffset);
    },
  };
}

/** The outcome of loading the wasm backend: ready, compiling in the background, or unavailable (with why). */
export type WasmLoad =
  | { status: "ready"; backend: Backend }
  | { status: "pending"; promise: Promise<Backend | undefined> }
  | { status: "unavailable"; reason: string };

function instantiate(module: WebAssembly.Module): Backend {
  return createWasmBackend(new WebAssembly.Instance(module, {}).exports as unknown as KernelExports);
}

/** A wasm backend over another build of the kernels module (benchmarks of kernel variants). */
export function wasmBackendFromBytes(bytes: Uint8Array<ArrayBuffer>): Backend {
  return instantiate(new WebAssembly.Module(bytes));
}

/**
 * Compiles the kernels. Synchronously where the runtime allows it (Node, workers, most
 * browsers); where synchronous compilation is refused (Chromium's main thread limits it to
 * small modules) the module compiles asynchronously and the result is `pending`.
 */
export function loadWasmBackend(): WasmLoad {
  if (!simdSupported()) return { status: "unavailable", reason: "this JavaScript runtime has no WebAssembly SIMD" };
  const bytes = decodeBase64(KERNELS_WASM_BASE64);
  try {
    return { status: "ready", backend: instantiate(new WebAssembly.Module(bytes)) };
  } catch (e) {
    if (!(e instanceof RangeError)) return { status: "unavailable", reason: `the kernels did not compile (${e instanceof Error ? e.message : String(e)})` };
  }
  return {
    status: "pending",
    promise: WebAssembly.compile(bytes).then(instantiate, () => undefined),
  };
}
