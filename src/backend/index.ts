import { ValueError } from "../errors.js";
import type { Backend } from "./backend.js";
import { jsBackend } from "./js.js";
import { enableBrowserThreads } from "./wasm/threads-browser.js";
import { loadWasmBackend, setWasmMemoryLimit, wasmMemoryStats } from "./wasm/backend.js";
import type { WasmMemoryStats } from "./wasm/heap.js";
import { setStorageAllocator } from "../tensor/storage.js";
import type { WebGpuBackend, GpuMemoryStats } from "./webgpu/index.js";

export type { Backend, BinaryOp, ReduceOp, UnaryOp, StorageAllocator } from "./backend.js";
export { jsBackend } from "./js.js";
export { setNumThreads, getNumThreads, registerThreadProvider, type ThreadProvider } from "./wasm/threads.js";

// The default backend is "wasm" (WebAssembly SIMD) wherever it loads, else "js" (the
// TypeScript reference). The environment variable CHAINRULE_BACKEND=js|wasm picks one at start,
// and setBackend() at any time.

const registry = new Map<string, Backend>([["js", jsBackend]]);
let active: Backend = jsBackend;

/** Makes `backend` the one ops call, and new tensors live where it wants them. */
function activate(backend: Backend): void {
  active = backend;
  setStorageAllocator(backend.allocator);
}
/** Set once setBackend is called: a backend that finishes loading later no longer takes over. */
let chosen = false;

/** CHAINRULE_BACKEND, where a `process.env` exists (Node, or a bundler that defines it). */
function requestedBackend(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const name = env?.CHAINRULE_BACKEND?.trim();
  return name ? name : undefined;
}
const requested = requestedBackend();

/** Registers the wasm backend and, unless CHAINRULE_BACKEND or setBackend chose another, makes it active. */
function adoptWasm(backend: Backend): void {
  registry.set(backend.name, backend);
  if (!chosen && requested !== "js") activate(backend);
}

const wasmLoad = loadWasmBackend();
// Web Workers share the wasm memory in a cross-origin-isolated page; a no-op anywhere else.
enableBrowserThreads();
/** Why setBackend("wasm") cannot work, when it cannot. */
let wasmMissing: string | undefined;
let ready: Promise<void> = Promise.resolve();
if (wasmLoad.status === "ready") {
  adoptWasm(wasmLoad.backend);
} else if (wasmLoad.status === "pending") {
  wasmMissing = "it is still compiling; await backendReady() first";
  ready = wasmLoad.promise.then((backend) => {
    if (backend) {
      wasmMissing = undefined;
      adoptWasm(backend);
    } else {
      wasmMissing = "its module failed to compile";
    }
  });
} else {
  wasmMissing = wasmLoad.reason;
}

if (requested === "webgpu") {
  console.warn(`chainrule: CHAINRULE_BACKEND="webgpu" cannot be chosen at start-up (a GPU opens asynchronously); using "${active.name}". Call \`await backendReady("webgpu"); setBackend("webgpu")\` instead.`);
} else if (requested !== undefined && requested !== "js" && requested !== "wasm") {
  console.warn(`chainrule: CHAINRULE_BACKEND="${requested}" names no backend ("js" or "wasm"); using "${active.name}".`);
} else if (requested === "wasm" && wasmLoad.status === "unavailable") {
  console.warn(`chainrule: CHAINRULE_BACKEND="wasm", but the wasm backend is unavailable (${wasmMissing}); using "js".`);
}

/** The backend whose kernels every op calls now. */
export function getBackend(): Backend {
  return active;
}

/**
 * Makes a registered backend the one every op uses from now on: `"wasm"` (WebAssembly SIMD,
 * the default where the runtime has it), `"js"` (the TypeScript reference, always there), or
 * one added with registerBackend.
 */
export function setBackend(name: string): void {
  const backend = registry.get(name);
  if (!backend) {
    const why =
      name === "wasm" && wasmMissing ? ` The wasm backend is unavailable: ${wasmMissing}.`
      : name === "webgpu" ? " The webgpu backend is set up asynchronously: `await backendReady(\"webgpu\")` first (it rejects, saying why, where there is no GPU)."
      : "";
    throw new ValueError(`setBackend: unknown backend "${name}"; registered backends: ${[...registry.keys()].join(", ")}.${why}`);
  }
  chosen = true;
  activate(backend);
}

/** Adds a backend that implements the kernel interface, so `setBackend(backend.name)` can select it. */
export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** Names of the registered backends. */
export function listBackends(): string[] {
  return [...registry.keys()];
}

/**
 * Resolves once the wasm backend has loaded (or failed to). It loads synchronously at import
 * almost everywhere; only where a runtime refuses synchronous WebAssembly compilation of a
 * module this size (a browser's main thread may) does it arrive later, and ops run on "js"
 * until then.
 */
export function backendReady(name?: string): Promise<void> {
  if (name === "webgpu") return webgpuReady();
  if (name !== undefined && name !== "wasm" && name !== "js" && !registry.has(name)) {
    return Promise.reject(new ValueError(`backendReady: unknown backend "${name}"; use "wasm", "js" or "webgpu".`));
  }
  return ready;
}

let webgpu: Promise<WebGpuBackend> | undefined;
let webgpuBackend: WebGpuBackend | undefined;

/**
 * Opens the GPU (`navigator.gpu` in browsers; the optional `webgpu` package in Node) and
 * registers the "webgpu" backend, so that `setBackend("webgpu")` can select it. Rejects with a
 * DeviceError that says why where no adapter exists; the active backend is left as it was.
 */
function webgpuReady(): Promise<void> {
  // A lost device (driver reset, destroy()) is replaced by a new one.
  if (webgpuBackend?.rt.lost !== undefined && active !== webgpuBackend) {
    webgpu = undefined;
    webgpuBackend = undefined;
    registry.delete("webgpu");
  }
  webgpu ??= import("./webgpu/index.js").then((m) => m.createWebGpuBackend()).then((b) => {
    webgpuBackend = b;
    registry.set(b.name, b);
    return b;
  });
  const p = webgpu;
  // A failed attempt may be retried (a later call tries again).
  p.catch(() => { if (webgpu === p) webgpu = undefined; });
  return p.then(() => undefined);
}

/** What `memoryStats()` reports: the wasm backend's memory (all zeros where it never loaded), and the GPU's once the webgpu backend is set up. */
export type MemoryStats = WasmMemoryStats & { webgpu?: GpuMemoryStats };

/**
 * Where tensor memory stands: the WebAssembly memory's size, the bytes in live blocks and in
 * the pool of freed ones, and how blocks were freed (by tidy()/dispose() or the garbage
 * collector). Like `torch.cuda.memory_stats()`, for watching a training loop stay flat.
 */
export function memoryStats(): MemoryStats {
  const wasm: MemoryStats = wasmMemoryStats() ?? { resident: false, memoryBytes: 0, allocatedBytes: 0, pooledBytes: 0, liveBlocks: 0, limitBytes: 0, outsideTidyLimitBytes: 0, outsideTidyBytes: 0, fallbacks: 0, collected: 0, released: 0 };
  return webgpuBackend ? { ...wasm, webgpu: { ...webgpuBackend.rt.stats } } : wasm;
}

/**
 * Caps the bytes of live tensors kept in WebAssembly memory: `bytes` for all (default 2 GiB),
 * `options.outsideTidy` for those made outside any tidy() (default 64 MiB: their blocks come back
 * only when the garbage collector runs its callbacks, after an `await`, so a long synchronous
 * loop without tidy would otherwise fill memory). Past a cap, new tensors are ordinary JavaScript
 * arrays: correct, slower (each kernel copies them in and out), freed by the collector.
 */
export function setMemoryLimit(bytes?: number, options: { outsideTidy?: number } = {}): void {
  const check = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!(v >= 0) || !Number.isFinite(v))) throw new ValueError(`setMemoryLimit: ${name} must be a number of bytes ≥ 0, got ${v}.`);
  };
  check("bytes", bytes);
  check("options.outsideTidy", options.outsideTidy);
  setWasmMemoryLimit(bytes, options.outsideTidy);
}
