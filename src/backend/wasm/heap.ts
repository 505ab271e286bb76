import type { DType, Storage } from "../../tensor/dtype.js";
import type { StorageAllocator } from "../backend.js";

/**
 * The wasm backend's memory manager: one WebAssembly.Memory, cut into blocks by a pooling
 * allocator.
 *
 * Tensors live here ("resident"), as typed-array views into the memory, where the memory is
 * shared (a SharedArrayBuffer: Node, and cross-origin-isolated browsers). Growing a shared
 * memory never detaches the views already handed out, so a kernel reads its operands and
 * writes its result in place: no copies in or out. Where the memory cannot be shared, growing
 * it would detach every view, so tensors stay in ordinary JavaScript arrays and each kernel
 * copies its operands into temporary blocks and the result back out.
 *
 * Blocks come in size classes (4 per power of two, multiples of 128 bytes, each with at least
 * 64 bytes to spare after its last element: the kernels run whole vectors past it). A freed
 * block goes on its class's free list and is handed out again, so the tensors of one training
 * step reuse the blocks of the step before and memory stays flat. A tensor's block is freed
 * when the view is garbage-collected (a FinalizationRegistry), or earlier by `tidy()` /
 * `dispose()` (src/tensor/storage.ts). Past `limit` bytes of live tensors (`unscopedLimit` for
 * tensors made outside any tidy(), which wait for the collector), new tensors fall back to
 * JavaScript arrays: slower (copied per kernel) but never out of memory here.
 */

const PAGE = 65536;
/** Block granularity and alignment (bytes). */
export const BLOCK = 128;
/** Bytes a block keeps beyond the data: kernels read and write whole vectors past the end. */
export const SLACK = 64;
/** Storages smaller than this are never resident (the per-block bookkeeping would cost more than copying them). */
const MIN_RESIDENT_BYTES = 256;
/** 4 GiB: wasm32's ceiling. */
const MAX_PAGES = 65536;

/** The live-block table's index of a block at byte offset `ptr` (its offset in BLOCK units). */
function blockKey(ptr: number): number {
  return (ptr / BLOCK) | 0;
}

/**
 * Live blocks: the size class of the block starting at each BLOCK-aligned offset (0: none), in
 * an Int32Array grown with the memory (4 bytes per 128 of memory). A Map here cost 40 µs per
 * insertion once 80,000 blocks were live (a 4×10^4-op chain ran 10× slower on wasm than on js).
 */
class LiveTable {
  private cls = new Int32Array(1024);
  size = 0;
  get(key: number): number | undefined {
    const c = key < this.cls.length ? this.cls[key]! : 0;
    return c === 0 ? undefined : c;
  }
  set(key: number, cls: number): void {
    if (key >= this.cls.length) {
      const grown = new Int32Array(Math.max(key + 1, this.cls.length * 2));
      grown.set(this.cls);
      this.cls = grown;
    }
    if (this.cls[key] === 0) this.size++;
    this.cls[key] = cls;
  }
  delete(key: number): void {
    if (key < this.cls.length && this.cls[key] !== 0) {
      this.cls[key] = 0;
      this.size--;
    }
  }
}

/** The size class (bytes) of a block that holds `bytes` of data. */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes + SLACK, BLOCK);
  if (b <= 2048) return Math.ceil(b / BLOCK) * BLOCK;
  const step = 2 ** (Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / step) * step;
}

/** What `memoryStats()` reports about the wasm memory. */
export interface WasmMemoryStats {
  /** Whether tensors live in WebAssembly memory (false: JavaScript arrays, copied per kernel). */
  resident: boolean;
  /** Bytes of the WebAssembly memory (it grows, never shrinks). */
  memoryBytes: number;
  /** Bytes in blocks now in use (tensors and a running kernel's scratch). */
  allocatedBytes: number;
  /** Bytes in freed blocks kept for reuse. */
  pooledBytes: number;
  /** Blocks now in use. */
  liveBlocks: number;
  /** Live tensor bytes beyond which new tensors are JavaScript arrays instead. */
  limitBytes: number;
  /** The same for tensors made outside any tidy() (their blocks wait for the garbage collector). */
  outsideTidyLimitBytes: number;
  /** Bytes in blocks of live tensors made outside any tidy(). */
  outsideTidyBytes: number;
  /** Tensors that were given JavaScript arrays because the limit was reached (since start). */
  fallbacks: number;
  /** Blocks freed by the garbage collector (FinalizationRegistry) since start. */
  collected: number;
  /** Blocks freed explicitly (scope(), dispose()) since start. */
  released: number;
}

export class WasmHeap implements StorageAllocator {
  f32!: Float32Array;
  f64!: Float64Array;
  u8!: Uint8Array;
  i32!: Int32Array;
  private buffer!: ArrayBufferLike;
  /** Every buffer object this memory has had (a shared memory gives a new one per growth; all stay valid). */
  private readonly buffers = new Set<ArrayBufferLike>();
  private top: number;
  /** Live blocks: byte offset → size class. */
  private readonly live = new LiveTable();
  /** Freed blocks by size class. */
  private readonly pools = new Map<number, number[]>();
  private allocated = 0;
  private pooled = 0;
  private residentBytes = 0;
  private fallbacks = 0;
  private collected = 0;
  private released = 0;
  /** Live resident tensor bytes beyond which new tensors are JavaScript arrays. */
  limit = 2 ** 31;
  /**
   * The same limit for tensors made outside any tidy(). Their blocks come back only when the
   * garbage collector finds them unreachable, which in a long synchronous loop is never; past
   * this many bytes such tensors are JavaScript arrays, which the collector frees by itself.
   */
  unscopedLimit = 2 ** 26;
  private unscopedBytes = 0;
  /** Blocks of tensors made outside any tidy(). */
  private readonly unscoped = new Set<number>();
  /** Tensor views handed out and not yet released (a block reused later gets a new view). */
  private readonly views = new WeakSet<Storage>();
  private readonly registry = new FinalizationRegistry<number>((ptr) => {
    this.collected++;
    this.releaseTensorBlock(ptr);
  });

  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
    /** Tensors may live here: the memory is shared, so growing it never detaches a view. */
    readonly resident: boolean,
  ) {
    this.top = Math.ceil(base / BLOCK) * BLOCK;
    this.refresh();
  }

  /** Re-reads memory.buffer after a growth (a new buffer object; the old views of an unshared memory are detached). */
  private refresh(): void {
    const buf = this.memory.buffer;
    if (buf === this.buffer) return;
    this.buffer = buf;
    this.buffers.add(buf);
    this.f32 = new Float32Array(buf);
    this.f64 = new Float64Array(buf);
    this.u8 = new Uint8Array(buf);
    this.i32 = new Int32Array(buf);
  }

  /** A block for `bytes` of data (its byte offset), or -1 when the memory cannot grow that far. */
  alloc(bytes: number): number {
    const cls = sizeClass(bytes);
    const pool = this.pools.get(cls);
    let ptr: number;
    if (pool !== undefined && pool.length > 0) {
      ptr = pool.pop()!;
      this.pooled -= cls;
    } else {
      ptr = this.top;
      const end = ptr + cls;
      if (end > this.buffer.byteLength) {
        const have = this.buffer.byteLength / PAGE;
        // Grow by at least an eighth, so that a growing working set does not grow it per block.
        const want = Math.max(Math.ceil(end / PAGE), Math.ceil(have * 1.125));
        const pages = Math.min(MAX_PAGES, want) - have;
        if (have + pages < Math.ceil(end / PAGE)) return -1;
        try {
          this.memory.grow(pages);
        } catch {
          try {
            this.memory.grow(Math.ceil(end / PAGE) - have);
          } catch {
            return -1;
          }
        }
        this.refresh();
      }
      this.top = end;
    }
    this.live.set(blockKey(ptr), cls);
    this.allocated += cls;
    return ptr;
  }

  /** Returns a block to its pool. */
  free(ptr: number): void {
    const cls = this.live.get(blockKey(ptr));
    if (cls === undefined) return;
    this.live.delete(blockKey(ptr));
    this.allocated -= cls;
    this.pooled += cls;
    let pool = this.pools.get(cls);
    if (pool === undefined) this.pools.set(cls, (pool = []));
    pool.push(ptr);
  }

  private releaseTensorBlock(ptr: number): void {
    const cls = this.live.get(blockKey(ptr));
    if (cls !== undefined) {
      this.residentBytes -= cls;
      if (this.unscoped.delete(ptr)) this.unscopedBytes -= cls;
    }
    this.free(ptr);
  }

  /** Whether `x` is a view into this memory (a resident tensor, or a part of one of at least 256 bytes: smaller parts are copied like any array). */
  owns(x: Storage): boolean {
    // No tensor block is this small; and reading .buffer of a small on-heap typed array makes V8 allocate one.
    if (x.byteLength < MIN_RESIDENT_BYTES) return false;
    const buf = x.buffer;
    return buf === this.buffer || this.buffers.has(buf);
  }

  /** Whether two arrays share memory: views of one memory (whichever buffer object each has) or of one buffer, with overlapping byte ranges. */
  overlaps(x: Storage, y: Storage): boolean {
    const same = x.buffer === y.buffer || (this.buffers.has(x.buffer) && this.buffers.has(y.buffer));
    return same && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
  }

  /** Whether `x` is a whole resident block's view (so a kernel may write whole vectors past its end). */
  ownsBlock(x: Storage): boolean {
    if (!this.owns(x)) return false;
    const cls = this.live.get(blockKey(x.byteOffset));
    return cls !== undefined && x.byteLength + SLACK <= cls;
  }

  // ---------------------------------------------------------------- StorageAllocator

  allocate(dtype: DType, n: number, zero: boolean, scoped: boolean): Storage | undefined {
    if (!this.resident) return undefined;
    const size = dtype === "float64" ? 8 : dtype === "bool" ? 1 : 4;
    const bytes = n * size;
    if (bytes < MIN_RESIDENT_BYTES) return undefined;
    if (this.residentBytes + bytes > this.limit || (!scoped && this.unscopedBytes + bytes > this.unscopedLimit)) {
      this.fallbacks++;
      return undefined;
    }
    const fresh = this.top;
    const ptr = this.alloc(bytes);
    if (ptr < 0) {
      this.fallbacks++;
      return undefined;
    }
    const cls = this.live.get(blockKey(ptr))!;
    this.residentBytes += cls;
    if (!scoped) {
      this.unscoped.add(ptr);
      this.unscopedBytes += cls;
    }
    const buf = this.buffer;
    const view: Storage =
      dtype === "float32" ? new Float32Array(buf, ptr, n)
      : dtype === "float64" ? new Float64Array(buf, ptr, n)
      : dtype === "int32" ? new Int32Array(buf, ptr, n)
      : new Uint8Array(buf, ptr, n);
    // A block from the bump pointer is fresh memory (zero); a pooled one holds old data.
    if (zero && ptr < fresh) view.fill(0);
    this.registry.register(view, ptr, view);
    this.views.add(view);
    return view;
  }

  release(x: Storage): void {
    if (!this.views.has(x)) return;
    this.views.delete(x);
    this.registry.unregister(x);
    this.released++;
    this.releaseTensorBlock(x.byteOffset);
  }

  stats(): WasmMemoryStats {
    return {
      resident: this.resident,
      memoryBytes: this.memory.buffer.byteLength,
      allocatedBytes: this.allocated,
      pooledBytes: this.pooled,
      liveBlocks: this.live.size,
      limitBytes: this.limit,
      outsideTidyLimitBytes: this.unscopedLimit,
      outsideTidyBytes: this.unscopedBytes,
      fallbacks: this.fallbacks,
      collected: this.collected,
      released: this.released,
    };
  }

  // ---------------------------------------------------------------- a kernel call's operands

  /** Temporary blocks of the current kernel call, freed by `end()`. */
  private temps: number[] = [];
  /** Non-resident outputs to copy back at `end()`: [ptr, out, outOffset, n]. */
  private outs: [number, Storage, number, number][] = [];

  /** A temporary block for the current call (freed by end()). Throws if memory is exhausted. */
  temp(bytes: number): number {
    const ptr = this.alloc(bytes);
    if (ptr < 0) throw new RangeError(`chainrule wasm backend: WebAssembly memory is exhausted (a kernel needs ${bytes} more bytes)`);
    this.temps.push(ptr);
    return ptr;
  }

  /** The byte offset of x[offset…offset+n) in memory: in place when resident, else copied into a temporary block. */
  input(x: Storage, offset = 0, n = x.length - offset): number {
    if (this.owns(x)) return x.byteOffset + offset * x.BYTES_PER_ELEMENT;
    const ptr = this.temp(n * x.BYTES_PER_ELEMENT);
    this.put(x, offset, n, ptr);
    return ptr;
  }

  /** An operand of n elements read with a step: in place when full-length, else its one value splatted over 16 bytes (step 0). */
  operand(x: Storage, n: number): [number, number] {
    if (x.length === n && n !== 1) return [this.input(x), 16];
    const ptr = this.temp(16);
    if (x instanceof Float32Array) this.f32.fill(x[0]!, ptr / 4, ptr / 4 + 4);
    else if (x instanceof Float64Array) this.f64.fill(x[0]!, ptr / 8, ptr / 8 + 2);
    else this.u8.fill(x[0]!, ptr, ptr + 16);
    return [ptr, 0];
  }

  /**
   * Where a kernel writes out[offset…offset+n): in place when `out` is a whole resident block
   * (or, with `exact`, any resident view: the kernel writes no further), else a temporary block
   * copied back by end().
   */
  output(out: Storage, offset = 0, n = out.length - offset, exact = false): number {
    if (exact ? this.owns(out) : offset === 0 && this.ownsBlock(out)) return out.byteOffset + offset * out.BYTES_PER_ELEMENT;
    const ptr = this.temp(n * out.BYTES_PER_ELEMENT);
    this.outs.push([ptr, out, offset, n]);
    return ptr;
  }

  /** Finishes a kernel call: copies non-resident outputs back and frees its temporary blocks. */
  end(): void {
    if (this.outs.length > 0) {
      for (const [ptr, out, offset, n] of this.outs) this.get(out, ptr, n, offset);
      this.outs.length = 0;
    }
    for (const ptr of this.temps) this.free(ptr);
    this.temps.length = 0;
  }

  /** Drops a failed call's temporaries without copying anything back. */
  abort(): void {
    this.outs.length = 0;
    for (const ptr of this.temps) this.free(ptr);
    this.temps.length = 0;
  }

  private put(x: Storage, offset: number, n: number, ptr: number): void {
    const src = offset === 0 && n === x.length ? x : x.subarray(offset, offset + n);
    if (src instanceof Float32Array) this.f32.set(src, ptr / 4);
    else if (src instanceof Float64Array) this.f64.set(src, ptr / 8);
    else if (src instanceof Int32Array) this.i32.set(src, ptr / 4);
    else this.u8.set(src, ptr);
  }

  private get(out: Storage, ptr: number, n: number, offset: number): void {
    if (out instanceof Float32Array) out.set(this.f32.subarray(ptr / 4, ptr / 4 + n), offset);
    else if (out instanceof Float64Array) out.set(this.f64.subarray(ptr / 8, ptr / 8 + n), offset);
    else if (out instanceof Int32Array) out.set(this.i32.subarray(ptr / 4, ptr / 4 + n), offset);
    else out.set(this.u8.subarray(ptr, ptr + n), offset);
  }
}
