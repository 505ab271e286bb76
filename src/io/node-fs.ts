/**
 * Saving and loading safetensors files and checkpoints on disk (Node.js only; exported from
 * "chainrule/node"). Every write is atomic: the bytes go to a temporary file in the target's
 * directory, are flushed to disk, and the temporary file is renamed over the target. A crash or an
 * error at any point leaves the previous file whole, never a half-written one.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Tensor } from "../tensor/tensor.js";
import { deserialize, type SerializeOptions } from "./safetensors.js";
import { loadShards, parseShardIndex } from "./sharded.js";
import {
  bytesToStateDict,
  checkpointFromBytes,
  checkpointToBytes,
  stateDictToBytes,
  type Checkpoint,
  type CheckpointInput,
  type StateDictSource,
  type StateTree,
} from "./checkpoint.js";

/** Largest chunk handed to one write call (Node refuses single writes above 2 GiB). */
const WRITE_CHUNK = 1 << 30;

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, then rename
 * over `path`. On any error the temporary file is removed and an existing `path` is untouched.
 * An existing file's permission bits are kept.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  // The name says whose it is (see removeStaleTempFiles): .<name>.<pid>.<12 hex digits>.tmp
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx");
    try {
      fchmodSync(fd, statSync(path).mode & 0o777);
    } catch {
      // No existing file (or no permission to read its mode): keep the default mode.
    }
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(WRITE_CHUNK, bytes.length - at));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Already failing; the original error is the one to report.
      }
    }
    try {
      unlinkSync(temp);
    } catch {
      // Never created, or already gone.
    }
    throw error;
  }
  syncDirectory(dir);
}

/** writeFileAtomic's temporary files: the target's name, the writer's PID, 12 random hex digits. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Whether a process with this id exists (EPERM: it does, owned by another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files that writeFileAtomic left in `dir` when its process was killed
 * between creating one and renaming it (SIGKILL, a power cut): those whose writer's PID is no
 * longer running. Files of live processes, and every other file, are left alone. Returns the
 * names removed. The targets themselves were never touched by such a write.
 */
export function removeStaleTempFiles(dir: string, alive: (pid: number) => boolean = processAlive): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || alive(Number(m[2]))) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // Gone already, or not ours to remove: either way nothing reads it.
    }
  }
  return removed;
}

/** Flushes the directory entry of the rename (best effort: not every platform can open a directory). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // The rename itself has happened; only its durability across a power cut is unconfirmed.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Saves a state dict, or a Module (anything with `stateDict()`), as a safetensors file that
 * PyTorch's `safetensors.torch.load_file` reads. The write is atomic.
 * @example save(model, "model.safetensors", { metadata: { epoch: "3" } })
 */
export function save(modelOrStateDict: StateDictSource, path: string, options: { metadata?: Record<string, string> } & SerializeOptions = {}): void {
  writeFileAtomic(path, stateDictToBytes(modelOrStateDict, options));
}

/** Loads the tensors of a safetensors file, by name (see `loadWithMetadata` for the metadata). */
export function load(path: string): Record<string, Tensor> {
  return bytesToStateDict(readFileSync(path));
}

/**
 * Loads a sharded checkpoint (Hugging Face's model.safetensors.index.json and its shards, read
 * from the index's folder), or a single safetensors file when given one.
 * @example model.loadStateDict(loadSharded("llm/model.safetensors.index.json"));
 */
export function loadSharded(path: string): Record<string, Tensor> {
  if (!path.endsWith(".json")) return load(path);
  const index = parseShardIndex(readFileSync(path, "utf8"), path);
  return loadShards(index, (file) => readFileSync(join(dirname(path), file)), path);
}

/** Loads a safetensors file's tensors and its `__metadata__` strings. */
export function loadWithMetadata(path: string): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  return deserialize(readFileSync(path));
}

/**
 * Saves a checkpoint ({ model, optimizer?, meta? }) as one safetensors file, atomically.
 * @example saveCheckpoint("run/last.safetensors", { model, optimizer: opt.stateDict(), meta: { epoch } })
 */
export function saveCheckpoint(path: string, checkpoint: CheckpointInput): void {
  writeFileAtomic(path, checkpointToBytes(checkpoint));
}

/** Loads a checkpoint written by saveCheckpoint (a plain safetensors file gives `{ model }`). */
export function loadCheckpoint<O = StateTree, M = StateTree>(path: string): Checkpoint<O, M> {
  return checkpointFromBytes<O, M>(readFileSync(path));
}
