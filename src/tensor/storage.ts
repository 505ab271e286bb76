import { ValueError } from "../errors.js";
import type { StorageAllocator } from "../backend/backend.js";
import type { DType, Storage } from "./dtype.js";
import type { Tensor } from "./tensor.js";

/**
 * Where tensor storage comes from, and memory scopes.
 *
 * Every tensor's elements are allocated here: by the active backend's allocator when it has
 * one (the wasm backend puts tensors in WebAssembly memory, pooled), else as plain typed arrays.
 * Pooled storage is returned to its pool when the garbage collector finds it unreachable (a
 * FinalizationRegistry); `tidy(fn)` returns it as soon as fn ends, which keeps a training loop's
 * memory flat without waiting for the collector (whose callbacks run only when the event loop
 * turns, never inside one long synchronous loop).
 */

let allocator: StorageAllocator | undefined;

/** @internal Installed by the backend registry when the active backend changes. */
export function setStorageAllocator(a: StorageAllocator | undefined): void {
  allocator = a;
}

/** Whether the active backend keeps tensors on a device (webgpu): JavaScript cannot index its storage. */
export function deviceActive(): boolean {
  return allocator?.device !== undefined;
}

/**
 * Storage for values JavaScript has just written (a creation function's): moved to the device
 * when the active backend keeps tensors there, else returned as it is.
 */
export function adoptHost(data: Storage, dtype: DType): Storage {
  const device = allocator?.device;
  if (device === undefined || data.length === 0) return data;
  const s = device.upload(data, dtype);
  owners.set(s, allocator!);
  if (frames.length > 0) frames[frames.length - 1]!.storages.push(s);
  return s;
}

/** Allocators that have made pooled storage (so a scope can hand it back to the right one). */
const owners = new WeakMap<Storage, StorageAllocator>();

interface Frame {
  /** Pooled storages allocated while this frame was innermost. */
  storages: Storage[];
  /** Tensors created over pooled-size storage while this frame was innermost. */
  tensors: Tensor[];
}
const frames: Frame[] = [];
/** Storage that no scope frees: parameters, gradients, optimizer state, module buffers, keep(). */
const persistent = new WeakSet<Storage>();

/** Storage smaller than this is never pooled, so tensors over it need no tracking. */
const TRACK_BYTES = 256;

/** @internal Zero-filled (when `zero`) storage for n elements of dtype. */
export function allocateStorage(dtype: DType, n: number, zero: boolean): Storage {
  if (allocator !== undefined) {
    const s = allocator.allocate(dtype, n, zero, frames.length > 0);
    if (s !== undefined) {
      owners.set(s, allocator);
      if (frames.length > 0) frames[frames.length - 1]!.storages.push(s);
      return s;
    }
  }
  try {
    switch (dtype) {
      case "float32":
        return new Float32Array(n);
      case "float64":
        return new Float64Array(n);
      case "int32":
        return new Int32Array(n);
      case "bool":
        return new Uint8Array(n);
    }
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const bytes = n * (dtype === "float64" ? 8 : dtype === "bool" ? 1 : 4);
    throw new ValueError(`allocate: cannot allocate a tensor of ${n} ${dtype} elements (${(bytes / 2 ** 30).toFixed(1)} GiB): ${error.message}. Use a smaller shape or batch, or split the work.`);
  }
}

/** @internal Called by the Tensor constructor: a tensor created inside tidy() over pooled-size storage. */
export function trackTensor(t: Tensor, data: Storage): void {
  if (frames.length > 0 && data.byteLength >= TRACK_BYTES) frames[frames.length - 1]!.tensors.push(t);
}

/** @internal Storage that outlives every scope (a parameter's, a gradient's, optimizer state). */
export function markPersistent(data: Storage): void {
  if (owners.has(data)) persistent.add(data);
}

/**
 * @internal A gradient that a zeroGrad() drops (sets to null) stops living on by design: inside a
 * tidy() it becomes one of the scope's own tensors (freed at its end unless returned or kept), so
 * a loop that zeroes gradients by setting them to null inside tidy does not pile up old ones.
 * Outside any scope the garbage collector frees it, as before.
 */
export function dropGradient(t: Tensor | null): void {
  if (t === null || frames.length === 0) return;
  const s = t._storage();
  if (s === null || !owners.has(s) || !persistent.has(s)) return;
  persistent.delete(s);
  const top = frames[frames.length - 1]!;
  top.storages.push(s);
  top.tensors.push(t);
}

/** Collects the storages reachable from a value: tensors, their graphs (inputs and saved values), arrays, plain objects, Maps. */
function reachable(value: unknown, into: Set<Storage>, seen: Set<unknown>, depth: number): void {
  if (value === null || typeof value !== "object" || depth > 64 || seen.has(value)) return;
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    into.add(value as Storage);
    return;
  }
  const t = value as { _storage?: () => Storage | null; gradFn?: unknown; grad?: unknown };
  if (typeof t._storage === "function") {
    const s = t._storage();
    if (s) into.add(s);
    reachable(t.grad, into, seen, depth + 1);
    reachable(t.gradFn, into, seen, depth + 1);
    return;
  }
  const node = value as { inputs?: unknown; peekSaved?: () => unknown };
  if (typeof node.peekSaved === "function") {
    reachable(node.inputs, into, seen, depth + 1);
    reachable(node.peekSaved(), into, seen, depth + 1);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) reachable(v, into, seen, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) reachable(v, into, seen, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) reachable(v, into, seen, depth + 1);
  }
}

/**
 * Runs `fn` in a memory scope: when it returns, the pooled storage of every tensor created
 * inside is handed back for reuse, except what fn returns (tensors, arrays or plain objects of
 * them, with the graphs behind them, so `loss.backward()` still works outside), what `keep()`
 * marked, and what lives on by design (parameters, gradients, optimizer state, module buffers).
 * Tensors it freed throw a clear error if used afterwards. Scopes nest; what a scope returns
 * belongs to the scope around it. The Trainer runs every step in one. (As TF.js's `tidy`.)
 *
 * Without tidy nothing leaks: storage goes back to the pool when the garbage collector finds its
 * tensor unreachable, which it does when the event loop turns (after an `await`), not inside one
 * long synchronous loop; wrap such a loop's body in tidy.
 *
 * @example
 * for (const [x, y] of loader) {
 *   const loss = tidy(() => {
 *     opt.zeroGrad();
 *     const l = nn.functional.crossEntropy(model.forward(x), y);
 *     l.backward();
 *     opt.step();
 *     return l.item();
 *   });
 * }
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== "function") throw new ValueError(`tidy: expected a function, got ${typeof fn}.`);
  const frame: Frame = { storages: [], tensors: [] };
  frames.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(frame, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    close(frame, undefined);
    throw new ValueError("tidy: the function returned a Promise; tidy takes a synchronous function (await inside it would let other code's tensors into the scope). Call tidy around the synchronous part.");
  }
  close(frame, result);
  return result;
}

function close(frame: Frame, result: unknown): void {
  // Frames close in order even when fn threw past inner ones.
  while (frames.length > 0 && frames.pop() !== frame);
  // A step ended: a device backend submits the step's kernels (one command encoder per step).
  if (frames.length === 0) allocator?.device?.scopeEnd();
  const parent = frames.length > 0 ? frames[frames.length - 1] : undefined;
  if (frame.storages.length === 0) {
    if (parent) for (const t of frame.tensors) parent.tensors.push(t);
    return;
  }
  const escaping = new Set<Storage>();
  if (result !== undefined) reachable(result, escaping, new Set(), 0);
  const freed = new Set<Storage>();
  for (const s of frame.storages) {
    if (persistent.has(s)) continue;
    if (escaping.has(s)) {
      parent?.storages.push(s);
      continue;
    }
    owners.get(s)?.release(s);
    freed.add(s);
  }
  for (const t of frame.tensors) {
    const s = t._storage();
    if (s !== null && freed.has(s)) t._free();
    else parent?.tensors.push(t);
  }
}

/**
 * Iterates `iterable` with each iteration in its own memory scope: what the producer makes for
 * the item (a DataLoader's batch) and everything the loop body computes go back to the pool when
 * the loop moves on to the next item (or stops), as if each iteration's body were wrapped in
 * tidy() together with the fetch of its item. Parameters, gradients, optimizer state and keep()'d
 * tensors live on; a tensor of one iteration used in a later one throws. Numbers (loss.item())
 * are the way to carry results out. The Trainer iterates its loaders this way.
 *
 * @example
 * for (const [x, y] of tidyEach(loader)) {
 *   opt.zeroGrad();
 *   const loss = nn.functional.crossEntropy(model.forward(x), y);
 *   loss.backward();
 *   opt.step();
 *   losses.push(loss.item());
 * }
 */
export function* tidyEach<T>(iterable: Iterable<T>): Generator<T, void, undefined> {
  const it = iterable[Symbol.iterator]();
  let frame: Frame | undefined;
  let done = false;
  try {
    for (;;) {
      frame = { storages: [], tensors: [] };
      frames.push(frame);
      const r = it.next();
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
      close(frame, undefined);
      frame = undefined;
    }
  } finally {
    if (frame) close(frame, undefined);
    if (!done) it.return?.();
  }
}

/** Marks a tensor to survive every enclosing tidy() (its storage then goes back to the pool when it is garbage-collected). Returns it. */
export function keep<T extends Tensor>(t: T): T {
  const s = t._storage();
  if (s) persistent.add(s);
  return t;
}

/**
 * Frees a tensor's storage now (pooled storage goes back to the pool), like TF.js's dispose().
 * The tensor throws if used afterwards; other views of the same storage (from reshape, detach)
 * must not be used either. Never needed for correctness: the garbage collector frees it anyway.
 */
export function dispose(...tensors: (Tensor | readonly Tensor[])[]): void {
  for (const item of tensors) {
    for (const t of Array.isArray(item) ? (item as readonly Tensor[]) : [item as Tensor]) {
      const s = t._storage();
      if (s === null) continue;
      owners.get(s)?.release(s);
      persistent.delete(s);
      t._free();
    }
  }
}
