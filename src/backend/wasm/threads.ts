import { ValueError } from "../../errors.js";
import type { WasmHeap } from "./heap.js";

/**
 * Multi-threaded matmul for the wasm backend, with a synchronous API. The kernels' threads build
 * (assembly/build.mjs: imported, shared memory) is instantiated on the backend's one shared
 * WebAssembly.Memory, where the tensors live, by the calling thread and by N − 1 workers. The
 * rows of C are split into chunks (whole 4-row panels), the workers' parts are posted
 * through a control block of Int32 slots (Atomics.store + Atomics.notify), the calling thread
 * computes its own part and then Atomics.wait's for the others. Every thread runs the same
 * kernel over whole rows, and each element of C goes through the same additions in the same
 * order whichever rows a call covers, so the result is the 1-thread result bit for bit.
 *
 * This module imports nothing from Node: a thread provider supplies the workers —
 * worker_threads (src/backend/wasm/threads-node.ts, registered by the "chainrule/node" entry),
 * or Web Workers (./threads-browser.ts, registered by the main entry in a cross-origin-isolated
 * page). Without one everything runs on the calling thread. On a browser's main thread, which
 * may not block, the workers start in the background and the calling thread spins (instead of
 * Atomics.wait) for the others' last chunks.
 */

/** Starts workers: the Node entry registers one built on worker_threads. */
export interface ThreadProvider {
  /** The machine's logical cores: the default thread count. */
  cores: number;
  /**
   * Starts a worker running `source` (JavaScript that reads the constant `workerData`, which
   * the provider defines before it) with `data` as workerData (structured-cloned; it
   * holds a WebAssembly.Module, a shared WebAssembly.Memory and a SharedArrayBuffer). The worker
   * must never keep the process alive (Node: worker.unref()); `onError` is called if it dies.
   */
  spawn(source: string, data: unknown, onError: (error: unknown) => void): { terminate(): unknown };
  /**
   * Whether a spawned worker starts while the spawning thread blocks (Node's worker_threads: yes,
   * the default). No for Web Workers: a worker spawned from another worker starts only once the
   * spawning worker returns to its event loop, so blocking for it would stall until the timeout.
   */
  startsWhileBlocked?: boolean;
}

let provider: ThreadProvider | undefined;
let requested = 1;
/** Set when the pool could not be made to work: why (threads stay off from then on). */
let broken: string | undefined;

/** Installs the worker provider (the Node entry does) and makes its core count the thread count. */
export function registerThreadProvider(p: ThreadProvider): void {
  if (provider) return;
  provider = p;
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object") {
    broken = "this runtime has no SharedArrayBuffer";
    return;
  }
  requested = Math.max(1, Math.floor(p.cores) || 1);
}

/**
 * Sets how many threads a large matmul of the wasm backend is split across (the calling thread
 * included). The "chainrule/node" entry sets it to the number of cores
 * (os.availableParallelism()); elsewhere it is 1, and where no worker threads exist (browsers, the
 * main entry alone) any value runs on one thread.
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new ValueError(`setNumThreads: expected a positive integer, got ${n}.`);
  requested = Math.min(n, MAX_THREADS);
}

/** The number of threads large matmuls run on now (1 where worker threads are unavailable). */
export function getNumThreads(): number {
  return provider && !broken ? requested : 1;
}

/** Why threads are off, if they are (no provider registered, or the workers failed to start). */
export function threadsUnavailableReason(): string | undefined {
  if (!provider) return "no thread provider is registered (import \"chainrule/node\" in Node; in a browser the page must be cross-origin isolated)";
  return broken;
}

const MAX_THREADS = 64;
/** Int32 slots per worker in the control block, after a header of HEADER slots. */
const SLOTS = 32;
const HEADER = 16;
// Header slots: DONE counts the workers finished with the current job; FAILED is set by a worker whose kernel threw.
const DONE = 0;
const FAILED = 1;
/** The next chunk of rows of C to take (Atomics.add), in a rows job. */
const NEXT = 2;
/** Threads done packing their share of op(B), in a rows job (a barrier before the rows). */
const PACKED = 3;
/** The control block: the header, then SLOTS per worker (at most MAX_THREADS − 1 workers). */
const CONTROL_SLOTS = HEADER + SLOTS * MAX_THREADS;
/** At most this many chunks of rows of C per product. */
const MAX_CHUNKS = 1024;
// Per-worker slots (from HEADER + index·SLOTS): GEN is bumped to post a job (−1: exit), READY set
// once the worker's instance exists, then the job: its kind (JOB_*) and the kernel's arguments.
const GEN = 0;
const READY = 1;
const JOB = 2;
const JOB_ROWS_F32 = 0;
const JOB_ROWS_F64 = 1;
/** Calls one kernel export: slot JOB+1 its index in CALLABLE, JOB+2 the argument count, then the arguments. */
const JOB_CALL = 4;
/** The kernels a JOB_CALL may run (elementwise kernels over a part of their range). */
const CALLABLE = [
  "unaryF32", "unaryF64", "binaryF32", "binaryF64", "compareF32", "compareF64", "whereF32", "whereF64", "rowsF32", "rowsF64",
  "im2colF32", "im2colF64", "col2imF32", "col2imF64", "conv2dF32",
] as const;
export type CallableKernel = (typeof CALLABLE)[number];

/** Atomics.load polls before a thread sleeps in Atomics.wait (about 50–100 µs). */
const SPIN = 20_000;

/** The worker's source (JavaScript with \`workerData\` in scope: the provider supplies it). */
const WORKER_SOURCE = `
const { module, memory, control, index } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const c = new Int32Array(control);
const callable = ${JSON.stringify(CALLABLE)};
const base = ${HEADER} + index * ${SLOTS};
Atomics.store(c, base + ${READY}, 1);
Atomics.notify(c, base + ${READY});
let gen = 0;
for (;;) {
  // Spin a little before sleeping: the next job usually follows within microseconds (op(B) packed,
  // then the rows of C; the next product), and waking a sleeping thread costs tens of them.
  for (let i = 0; i < ${SPIN} && Atomics.load(c, base + ${GEN}) === gen; i++);
  Atomics.wait(c, base + ${GEN}, gen);
  const g = Atomics.load(c, base + ${GEN});
  if (g === gen) continue;
  if (g === -1) break;
  gen = g;
  const j = base + ${JOB};
  const kind = c[j];
  try {
    if (kind === ${JOB_ROWS_F32} || kind === ${JOB_ROWS_F64}) {
      // This thread's share of op(B)'s panels, then a barrier (spinning: every thread is awake),
      // then chunks of rows of C, taken one at a time until none is left.
      const f = kind === ${JOB_ROWS_F64} ? k.gemmRowsF64 : k.gemmRowsF32;
      const m = c[j + 4], rows = c[j + 12], chunks = c[j + 13], parts = c[j + 16];
      try {
        (kind === ${JOB_ROWS_F64} ? k.packBF64 : k.packBF32)(c[j + 2], c[j + 5], c[j + 6], c[j + 8], c[j + 10], c[j + 14], c[j + 15]);
      } finally {
        Atomics.add(c, ${PACKED}, 1);
      }
      while (Atomics.load(c, ${PACKED}) < parts);
      for (let i = Atomics.add(c, ${NEXT}, 1); i < chunks; i = Atomics.add(c, ${NEXT}, 1)) {
        f(c[j + 1], c[j + 2], c[j + 3], m, c[j + 5], c[j + 6], c[j + 7], c[j + 8], c[j + 9], c[j + 10], c[j + 11], i * rows, Math.min(m, (i + 1) * rows), 1);
      }
    } else if (kind === ${JOB_CALL}) {
      const f = k[callable[c[j + 1]]];
      const argc = c[j + 2];
      const args = new Array(argc);
      for (let i = 0; i < argc; i++) args[i] = c[j + 3 + i];
      f(...args);
    }
  } catch (e) {
    Atomics.store(c, ${FAILED}, 1);
  }
  Atomics.add(c, ${DONE}, 1);
  Atomics.notify(c, ${DONE});
}
`;

type Kernel = (...args: number[]) => void;
interface ThreadKernels extends Record<CallableKernel, Kernel> {
  heapBase(): number;
  gemmRowsF32(a: number, b: number, c: number, m: number, k: number, n: number, transA: number, transB: number, pa: number, pb: number, edge: number, r0: number, r1: number, packed: number): void;
  gemmRowsF64(a: number, b: number, c: number, m: number, k: number, n: number, transA: number, transB: number, pa: number, pb: number, edge: number, r0: number, r1: number, packed: number): void;
  packBF32(b: number, k: number, n: number, transB: number, pb: number, jp0: number, jp1: number): void;
  packBF64(b: number, k: number, n: number, transB: number, pb: number, jp0: number, jp1: number): void;
  GEMM_MC: WebAssembly.Global;
  GEMM_KC: WebAssembly.Global;
}

/** How long to wait for a new worker to instantiate the module before giving threads up. */
const START_TIMEOUT_MS = 30_000;

interface Pool {
  module: WebAssembly.Module;
  heap: WasmHeap;
  k: ThreadKernels;
  control: Int32Array;
  workers: { terminate(): unknown }[];
}

/** The threads build and the backend's shared memory, once the wasm backend runs on one. */
let shared: { module: WebAssembly.Module; heap: WasmHeap } | undefined;
let pool: Pool | undefined;

/** Products computed on several threads so far (for tests). */
export const threadStats = { matmuls: 0, calls: 0 };

/** @internal The wasm backend's threads build and its shared memory (set when the backend loads). */
export function attachThreads(module: WebAssembly.Module, heap: WasmHeap): void {
  shared = { module, heap };
}

function fail(why: string): undefined {
  broken = why;
  if (pool) for (const w of pool.workers) void w.terminate();
  pool = undefined;
  return undefined;
}

/**
 * Whether this thread may block in Atomics.wait: yes in Node and in workers, no on a browser's
 * main thread, which must neither block nor wait for a worker to start (a worker starts only
 * once the main thread returns to its event loop; a Web Worker's own workers likewise only once
 * it returns to its event loop: see ThreadProvider.startsWhileBlocked).
 */
let blockable: boolean | undefined;
function canBlock(): boolean {
  if (blockable === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockable = true;
    } catch {
      blockable = false;
    }
  }
  return blockable;
}

/**
 * The pool with at least `workers` workers started and ready, or undefined if threads cannot
 * run (or, where this thread cannot block, while its workers are still starting: they are
 * spawned at the first call and used from the first call after they are ready).
 */
function ensurePool(workers: number): Pool | undefined {
  if (broken || !provider || !shared) return undefined;
  try {
    if (!pool) {
      const memory = shared.heap.memory;
      const k = new WebAssembly.Instance(shared.module, { env: { memory } }).exports as unknown as ThreadKernels;
      const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
      pool = { module: shared.module, heap: shared.heap, k, control, workers: [] };
    }
    const p = pool;
    while (p.workers.length < workers) {
      const index = p.workers.length;
      const slot = HEADER + index * SLOTS;
      Atomics.store(p.control, slot + GEN, 0);
      Atomics.store(p.control, slot + READY, 0);
      p.workers.push(provider.spawn(WORKER_SOURCE, { module: p.module, memory: p.heap.memory, control: p.control.buffer, index }, (e) => {
        // A worker that dies (it should not) turns threads off for the next call.
        broken ??= `a worker thread failed (${e instanceof Error ? e.message : String(e)})`;
      }));
      // Worker start-up runs on its own thread: block until it has instantiated the module
      // (where it can start meanwhile; elsewhere it is used from the first call after it is ready).
      if (provider.startsWhileBlocked !== false && canBlock() && Atomics.wait(p.control, slot + READY, 0, START_TIMEOUT_MS) === "timed-out" && Atomics.load(p.control, slot + READY) !== 1) {
        return fail("a worker thread did not start");
      }
    }
    for (let i = 0; i < workers; i++) if (Atomics.load(p.control, HEADER + i * SLOTS + READY) !== 1) return undefined;
    return p;
  } catch (e) {
    return fail(`threads could not start (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Posts a job (its slot values, from `job(t)`) to workers 1 … parts − 1. */
function postJobs(p: Pool, parts: number, job: (t: number) => readonly number[]): void {
  const c = p.control;
  Atomics.store(c, DONE, 0);
  Atomics.store(c, FAILED, 0);
  for (let t = 1; t < parts; t++) {
    const slot = HEADER + (t - 1) * SLOTS;
    const args = job(t);
    for (let i = 0; i < args.length; i++) c[slot + JOB + i] = args[i]! | 0;
    const g = (Atomics.load(c, slot + GEN) + 1) & 0x3fffffff;
    Atomics.store(c, slot + GEN, g === 0 ? 1 : g);
    Atomics.notify(c, slot + GEN);
  }
}

/** Waits for workers 1 … parts − 1 to finish their jobs; false if one failed (threads are then off). */
function joinJobs(p: Pool, parts: number): boolean {
  const c = p.control;
  // Spin first (the workers usually finish within microseconds of this thread), then sleep.
  for (let i = 0; i < SPIN && Atomics.load(c, DONE) < parts - 1; i++);
  if (canBlock()) for (let d = Atomics.load(c, DONE); d < parts - 1; d = Atomics.load(c, DONE)) Atomics.wait(c, DONE, d);
  else while (Atomics.load(c, DONE) < parts - 1); // a browser's main thread may not block: spin (the wait is the workers' last part)
  if (Atomics.load(c, FAILED)) {
    fail("a worker thread's kernel failed");
    return false; // the caller recomputes on one thread
  }
  return true;
}

/**
 * Runs kernel `name` once per entry of `calls` (argument lists over disjoint parts of the
 * output), the first on this thread and the others on workers, and waits for all. Returns false
 * (having run nothing) when threads are off or fewer than two calls are given; the caller then
 * runs the whole range itself. Only for elementwise kernels, whose parts are independent, so
 * the result is the 1-thread result bit for bit.
 */
export function threadedCalls(mem: WasmHeap, name: CallableKernel, calls: readonly (readonly number[])[]): boolean {
  const parts = Math.min(calls.length, getNumThreads());
  if (parts < 2 || parts !== calls.length || !shared || shared.heap !== mem) return false;
  const p = ensurePool(parts - 1);
  if (!p) return false;
  const index = CALLABLE.indexOf(name);
  postJobs(p, parts, (t) => [JOB_CALL, index, calls[t]!.length, ...calls[t]!]);
  (p.k[name] as (...args: number[]) => void)(...calls[0]!);
  if (!joinJobs(p, parts)) return false;
  threadStats.calls++;
  return true;
}

/**
 * C = op(A)·op(B) on getNumThreads() threads, operands already in the shared memory at byte
 * offsets pa, pb, pc, when threads are on and the product has at least 2 chunks of rows; returns
 * false (having done nothing) otherwise, and the caller runs it on one thread. Scratch comes
 * from `mem.temp` (freed by the caller's `mem.end()`).
 */
export function threadedMatmul(mem: WasmHeap, f32: boolean, pa: number, pb: number, pc: number, m: number, k: number, n: number, transA: boolean, transB: boolean): boolean {
  const threads = Math.min(getNumThreads(), Math.floor(m / 8));
  if (threads < 2 || k === 0 || n === 0 || !shared || shared.heap !== mem) return false;
  const parts = threads;
  // Chunks of rows of C (whole 4-row panels), about 8 per thread.
  const chunkRows = Math.max(16, Math.ceil(m / (8 * parts) / 4) * 4);
  const chunks = Math.ceil(m / chunkRows);
  if (chunks < 2 || chunks > MAX_CHUNKS) return false;
  const p = ensurePool(parts - 1);
  if (!p) return false;

  const size = f32 ? 4 : 8;
  const MC = p.k.GEMM_MC.value as number;
  const KC = p.k.GEMM_KC.value as number;
  const kc = Math.min(KC, k);
  const mr = Math.ceil(Math.min(MC, chunkRows) / 4) * 4;
  const nr = f32 ? Math.ceil(n / 8) * 8 : Math.ceil(n / 4) * 4;
  /** All of op(B), packed once (by every thread, a share of the panels each) and read by all. */
  const packedB = mem.temp(nr * k * size);
  const scratch: [number, number][] = [];
  for (let t = 0; t < parts; t++) scratch.push([mem.temp(mr * kc * size), mem.temp(128)]);

  const post = (job: (t: number) => number[]): void => postJobs(p, parts, job);
  const join = (): boolean => joinJobs(p, parts);
  const c = p.control;

  // One job: every thread packs its share of op(B)'s panels, waits at a barrier (spinning: all
  // threads are awake), then takes chunks of whole 4-row panels of C one at a time (which
  // balances the load when a core is shared).
  const panels = nr / (f32 ? 8 : 4);
  const share = Math.ceil(panels / parts);
  Atomics.store(c, NEXT, 0);
  Atomics.store(c, PACKED, 0);
  post((t) => {
    const [packA, edge] = scratch[t]!;
    return [f32 ? JOB_ROWS_F32 : JOB_ROWS_F64, pa, pb, pc, m, k, n, transA ? 1 : 0, transB ? 1 : 0, packA, packedB, edge, chunkRows, chunks, Math.min(panels, t * share), Math.min(panels, (t + 1) * share), parts];
  });
  try {
    (f32 ? p.k.packBF32 : p.k.packBF64)(pb, k, n, transB ? 1 : 0, packedB, 0, Math.min(panels, share));
  } finally {
    Atomics.add(c, PACKED, 1);
  }
  while (Atomics.load(c, PACKED) < parts);
  if (Atomics.load(c, FAILED)) {
    join();
    return false;
  }
  const kernel = f32 ? p.k.gemmRowsF32 : p.k.gemmRowsF64;
  const [packA, edge] = scratch[0]!;
  for (let i = Atomics.add(c, NEXT, 1); i < chunks; i = Atomics.add(c, NEXT, 1)) {
    kernel(pa, pb, pc, m, k, n, transA ? 1 : 0, transB ? 1 : 0, packA, packedB, edge, i * chunkRows, Math.min(m, (i + 1) * chunkRows), 1);
  }
  if (!join()) return false;
  threadStats.matmuls++;
  return true;
}

/**
 * Splits an elementwise kernel's range [0, n) into one part per thread (whole multiples of
 * `unit` elements, 64 by default, so that no part's whole-vector tail runs into another's; 1 for
 * kernels over whole images) and runs them with
 * threadedCalls; `args(start, count)` gives a part's argument list. False when threads are off.
 */
export function threadedRange(mem: WasmHeap, name: CallableKernel, n: number, args: (start: number, count: number) => readonly number[], unit = 64): boolean {
  const threads = Math.min(getNumThreads(), Math.ceil(n / unit));
  if (threads < 2) return false;
  const per = Math.ceil(n / threads / unit) * unit;
  const calls: (readonly number[])[] = [];
  for (let s = 0; s < n; s += per) calls.push(args(s, Math.min(per, n - s)));
  return threadedCalls(mem, name, calls);
}
