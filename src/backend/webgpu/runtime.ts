/// <reference types="@webgpu/types" />
import { DTypeError, DeviceError } from "../../errors.js";
import type { DType, Storage } from "../../tensor/dtype.js";
import { DeviceStorage } from "../backend.js";

/**
 * The webgpu backend's runtime: one GPUDevice, a pool of storage buffers by size class, and
 * one open command encoder (one compute pass) that every kernel appends its dispatch to.
 *
 * - **Batching.** Kernels never submit: each dispatch joins the open pass (WebGPU orders
 *   dispatches of a pass and makes each one's writes visible to the next). The encoder is
 *   ended and submitted (`flush`) when values are read back, when a host write would land in a
 *   buffer the open encoder still uses, when a tidy()/tidyEach() scope closes (a training
 *   step), or after `MAX_PENDING` dispatches. Nothing reads back inside a step.
 * - **Parameters** of every dispatch (sizes, strides, scalars) go to one arena buffer, 256-byte
 *   slots, written once per flush just before the submit (queue operations run in order, so the
 *   arena is never rewritten under a running command buffer).
 * - **Memory.** Buffers come in size classes (four per power of two) and go back to their
 *   class's free list when their storage is freed (tidy, dispose, or the garbage collector
 *   through a FinalizationRegistry), so a training loop reuses the buffers of the step before.
 *   A buffer freed while the open encoder uses it may be handed to a later dispatch of the same
 *   encoder: dispatches are ordered, so that is safe; a host write into it flushes first.
 * - **Element types on the GPU:** float32 as f32, int32 as i32, bool as u32 (0/1, four bytes);
 *   float64 has no GPU type and stays on the CPU backends.
 */

/** Dispatches in one encoder before it is submitted anyway (a loop that never reads back). */
const MAX_PENDING = 4096;
/** Bytes of one dispatch's parameter slot (minStorageBufferOffsetAlignment is at most 256). */
const SLOT = 256;
/** Parameter words per slot. */
export const SLOT_WORDS = SLOT / 4;
const USAGE = 0x0080 /* STORAGE */ | 0x0004 /* COPY_SRC */ | 0x0008; /* COPY_DST */

/** The WGSL element type of a dtype on the GPU. */
export function wgslType(dtype: DType): "f32" | "i32" | "u32" {
  switch (dtype) {
    case "float32": return "f32";
    case "int32": return "i32";
    case "bool": return "u32";
    case "float64":
      throw new DTypeError("webgpu: float64 tensors cannot live on the GPU (WebGPU has no float64). Keep float64 work (gradcheck, scientific use) on the CPU backends: setBackend(\"wasm\") or setBackend(\"js\"); use float32 on webgpu.");
  }
}

/** Bytes of a buffer class that holds `bytes` (at least 16; four classes per power of two). */
function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 1024) return Math.ceil(b / 256) * 256;
  const step = 2 ** (Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / step) * step;
}

/** A GPU buffer of a size class, and the flush epoch whose encoder last used it. */
export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  readonly size: number;
  epoch: number;
}

/** Tensor storage in a GPU buffer (see DeviceStorage). */
export class GpuStorage extends DeviceStorage {
  readonly device = "webgpu";
  /** @internal Null once freed. */
  _buf: PooledBuffer | null;
  constructor(
    readonly runtime: GpuRuntime,
    readonly dtype: DType,
    readonly length: number,
    buf: PooledBuffer,
  ) {
    super();
    this._buf = buf;
  }
  read(): Promise<Storage> {
    return this.runtime.read(this);
  }
  write(src: ArrayLike<number>): void {
    if (src.length !== this.length) throw new Error(`webgpu: writing ${src.length} values into storage of ${this.length} (internal error)`);
    this.runtime.write(this, src);
  }
  fill(value: number): void {
    this.runtime.filler(this, value);
  }
}

/** What `memoryStats()` reports about GPU memory (`webgpu` field). */
export interface GpuMemoryStats {
  /** Bytes in GPU buffers now holding tensors. */
  allocatedBytes: number;
  /** Bytes in freed buffers kept for reuse. */
  pooledBytes: number;
  /** Buffers now holding tensors. */
  liveBuffers: number;
  /** Buffers ever created (a flat training loop stops creating them after its first step). */
  createdBuffers: number;
  /** Buffers freed by the garbage collector since start. */
  collected: number;
  /** Buffers freed by tidy()/dispose() since start. */
  released: number;
  /** Command encoders submitted since start. */
  submits: number;
  /** Kernel dispatches since start. */
  dispatches: number;
}

export interface Binding {
  storage: Storage;
  /** Written by the kernel (a host array here is an internal error). */
  write?: boolean;
}

export class GpuRuntime {
  private readonly free = new Map<number, PooledBuffer[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  /** Incremented by every flush: buffers whose epoch equals it are used by the open encoder. */
  private epoch = 1;
  private arena: GPUBuffer;
  private arenaSlots: number;
  private params: Uint32Array;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Each pipeline's bind group layout (getBindGroupLayout makes a new object per call). */
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  /** Host arrays uploaded for the open encoder (inputs made from JavaScript data). */
  private uploads = new Map<Storage, PooledBuffer>();
  private temps: PooledBuffer[] = [];
  private readonly registry: FinalizationRegistry<PooledBuffer>;
  readonly stats: GpuMemoryStats = { allocatedBytes: 0, pooledBytes: 0, liveBuffers: 0, createdBuffers: 0, collected: 0, released: 0, submits: 0, dispatches: 0 };
  /** Set by the backend: a fill kernel. */
  filler: (s: GpuStorage, value: number) => void = () => {
    throw new Error("webgpu: no fill kernel (internal error)");
  };
  /** Why the device was lost (a driver reset, the tab in the background for long, destroy()), once it was. */
  lost: string | undefined;
  /** An uncaptured device error (validation, out of memory), reported at the next readback. */
  private deviceError: string | null = null;

  constructor(readonly device: GPUDevice, readonly adapterName: string, readonly fallbackAdapter = false) {
    this.arenaSlots = 1024;
    this.arena = this.makeArena();
    this.params = new Uint32Array(this.arenaSlots * SLOT_WORDS);
    this.registry = new FinalizationRegistry((buf) => {
      this.stats.collected++;
      this.recycle(buf);
    });
    void device.lost?.then((info) => {
      this.lost = `${info.reason}${info.message ? `: ${info.message}` : ""}`;
    });
    device.addEventListener?.("uncapturederror", (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      this.deviceError ??= err?.message ?? String(err);
    });
  }

  private makeArena(): GPUBuffer {
    return this.device.createBuffer({ size: this.arenaSlots * SLOT, usage: 0x0080 | 0x0008 });
  }

  // ------------------------------------------------------------------ memory

  private take(bytes: number): PooledBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.stats.pooledBytes -= size;
      return reused;
    }
    this.stats.createdBuffers++;
    return { buffer: this.device.createBuffer({ size, usage: USAGE }), size, epoch: 0 };
  }

  private recycle(buf: PooledBuffer): void {
    this.stats.allocatedBytes -= buf.size;
    this.stats.liveBuffers--;
    this.stats.pooledBytes += buf.size;
    let list = this.free.get(buf.size);
    if (!list) this.free.set(buf.size, (list = []));
    list.push(buf);
  }

  /** New device storage for n elements of dtype; zero-filled (in order, by a kernel) when `zero`. */
  allocate(dtype: DType, n: number, zero: boolean, fill: (s: GpuStorage) => void): GpuStorage {
    wgslType(dtype);
    const buf = this.take(Math.max(1, n) * 4);
    this.stats.allocatedBytes += buf.size;
    this.stats.liveBuffers++;
    const s = new GpuStorage(this, dtype, n, buf);
    this.registry.register(s, buf, s);
    if (zero && n > 0) fill(s);
    return s;
  }

  /** Frees device storage now (tidy, dispose). */
  release(s: GpuStorage): void {
    const buf = s._buf;
    if (buf === null) return;
    s._buf = null;
    this.registry.unregister(s);
    this.stats.released++;
    this.recycle(buf);
  }

  /** The pooled buffer behind storage, uploading a host array (once per encoder). */
  private bufferOf(s: Storage, write: boolean): PooledBuffer {
    if (s instanceof GpuStorage) {
      if (s._buf === null) throw new Error("webgpu: a kernel was given freed storage (internal error)");
      if (write) s.mirror = undefined;
      return s._buf;
    }
    if (write) throw new Error("webgpu: a kernel's output is a host array (internal error: outputs must come from allocateStorage)");
    let up = this.uploads.get(s);
    if (!up) {
      up = this.take(Math.max(16, s.length * 4));
      // A pooled buffer the open encoder used must not be written ahead of it.
      if (up.epoch === this.epoch) this.flush();
      this.stats.allocatedBytes += up.size;
      this.stats.liveBuffers++;
      this.device.queue.writeBuffer(up.buffer, 0, toGpuWords(s) as Uint32Array<ArrayBuffer>);
      this.uploads.set(s, up);
      this.temps.push(up);
    }
    return up;
  }

  /** Copies host elements into device storage (flushing first if the open encoder uses its buffer). */
  write(dst: GpuStorage, src: ArrayLike<number>, dstOffset = 0): void {
    const buf = dst._buf;
    if (buf === null) throw new Error("webgpu: write into freed storage (internal error)");
    if (buf.epoch === this.epoch) this.flush();
    dst.mirror = undefined;
    const words = toGpuWords(src, dst.dtype);
    if (words.byteLength > 0) this.device.queue.writeBuffer(buf.buffer, dstOffset * 4, words as Uint32Array<ArrayBuffer>);
  }

  // ------------------------------------------------------------------ kernels

  pipeline(key: string, code: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const source = code();
      const module = this.device.createShaderModule({ code: source, label: key });
      // A WGSL error is an internal bug: name the kernel and the line at the next readback.
      module.getCompilationInfo?.().then((info) => {
        const errs = info.messages.filter((m) => m.type === "error");
        if (errs.length > 0) this.deviceError ??= `kernel ${key} does not compile: ${errs.map((m) => `line ${m.lineNum}: ${m.message} [${source.split("\n")[m.lineNum - 1]?.trim()}]`).join("; ")}`;
      });
      p = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Appends one dispatch to the open pass: `bindings` at @binding(1…) of group 0, the parameter
   * words at @binding(0) (a read-only storage array<u32>), `groups` workgroups (x, y).
   */
  dispatch(pipeline: GPUComputePipeline, params: ArrayLike<number>, bindings: readonly Binding[], groups: readonly [number, number?, number?]): void {
    if (this.lost !== undefined) this.throwLost();
    if (params.length > SLOT_WORDS) throw new Error(`webgpu: ${params.length} parameter words exceed a slot (internal error)`);
    if (this.pending >= MAX_PENDING) this.flush();
    // Uploads first: one may flush, which must not happen after this dispatch's buffers are marked.
    const bufs = bindings.map((b) => this.bufferOf(b.storage, b.write === true));
    if (this.pending >= this.arenaSlots) this.growArena();
    const slot = this.pending++;
    const base = slot * SLOT_WORDS;
    for (let i = 0; i < params.length; i++) this.params[base + i] = params[i]!;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arena, offset: slot * SLOT, size: SLOT } }];
    for (let i = 0; i < bufs.length; i++) {
      const buf = bufs[i]!;
      buf.epoch = this.epoch;
      entries.push({ binding: i + 1, resource: { buffer: buf.buffer } });
    }
    let layout = this.layouts.get(pipeline);
    if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
    const group = this.device.createBindGroup({ layout, entries });
    const pass = this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(Math.max(1, groups[0]), Math.max(1, groups[1] ?? 1), Math.max(1, groups[2] ?? 1));
    this.stats.dispatches++;
  }

  private growArena(): void {
    // Slots already recorded point into the old arena: submit them first.
    this.flush();
    this.arenaSlots *= 2;
    this.arena.destroy();
    this.arena = this.makeArena();
    this.params = new Uint32Array(this.arenaSlots * SLOT_WORDS);
  }

  private openPass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    this.encoder ??= this.device.createCommandEncoder();
    this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  /** Ends the open pass and submits the encoder (no readback). */
  flush(): void {
    if (this.encoder === null) return;
    this.pass?.end();
    this.pass = null;
    if (this.pending > 0) this.device.queue.writeBuffer(this.arena, 0, this.params as Uint32Array<ArrayBuffer>, 0, this.pending * SLOT_WORDS);
    this.device.queue.submit([this.encoder.finish()]);
    this.stats.submits++;
    this.encoder = null;
    this.pending = 0;
    this.epoch++;
    for (const t of this.temps) this.recycle(t);
    this.temps = [];
    this.uploads = new Map();
  }

  private throwLost(): never {
    throw new DeviceError(`webgpu: the GPU device was lost (${this.lost}); tensors on it are gone. Switch to a CPU backend (setBackend("wasm")), or open the GPU again with backendReady("webgpu") after setBackend("wasm"), and rebuild the model from saved weights.`);
  }

  /** Reads device storage back to a host typed array of its dtype. */
  async read(s: GpuStorage): Promise<Storage> {
    if (this.lost !== undefined) this.throwLost();
    const buf = s._buf;
    if (buf === null) throw new Error("webgpu: read of freed storage");
    const bytes = Math.max(4, s.length * 4);
    const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: 0x0001 /* MAP_READ */ | 0x0008 });
    this.encoder ??= this.device.createCommandEncoder();
    this.pass?.end();
    this.pass = null;
    this.encoder.copyBufferToBuffer(buf.buffer, 0, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(0x0001);
    } catch (e) {
      staging.destroy();
      throw new Error(`webgpu: reading a tensor back failed: ${String(e)}${this.deviceError ? ` (device error: ${this.deviceError})` : ""}`);
    }
    const words = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    if (this.deviceError !== null) {
      const msg = this.deviceError;
      this.deviceError = null;
      throw new Error(`webgpu: the device reported an error: ${msg}`);
    }
    return fromGpuWords(words, s.dtype, s.length);
  }
}

/** Host elements as the 4-byte words the GPU holds for dtype (bool → u32 0/1). */
function toGpuWords(src: ArrayLike<number>, dtype?: DType): Uint32Array | Float32Array | Int32Array {
  if (src instanceof Float32Array || src instanceof Int32Array) return src;
  if (src instanceof Uint8Array || dtype === "bool") return Uint32Array.from(src as ArrayLike<number>, (v) => (v !== 0 ? 1 : 0));
  if (dtype === "int32") return Int32Array.from(src as ArrayLike<number>);
  if (src instanceof Float64Array) throw new DTypeError("webgpu: float64 data cannot go to the GPU (WebGPU has no float64); cast it to float32 first: x.to(\"float32\"), or keep float64 work on the CPU backends.");
  return Float32Array.from(src as ArrayLike<number>);
}

function fromGpuWords(words: ArrayBuffer, dtype: DType, n: number): Storage {
  switch (dtype) {
    case "float32": return new Float32Array(words, 0, n);
    case "int32": return new Int32Array(words, 0, n);
    case "bool": return Uint8Array.from(new Uint32Array(words, 0, n));
    default: throw new DTypeError(`webgpu: no ${dtype} storage on the GPU`);
  }
}
