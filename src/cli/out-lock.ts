/**
 * One `chainrule train` at a time per --out directory. Two runs writing the same directory would
 * interleave their checkpoints and final files (each file whole, thanks to the atomic writes, but
 * from different runs), so a run takes DIR/.chainrule.lock first: created with the exclusive flag
 * (`wx`: the creation fails if the file exists), holding the owner's PID, host, start time and
 * command line as JSON. A second run finds it and stops with exit code 1, naming the owner and
 * what to do. The lock is removed when the run ends, on success and on errors (and by an 'exit'
 * handler if the process exits from elsewhere).
 *
 * Signals: no SIGINT/SIGTERM handler is installed, on purpose. Training runs synchronously, and
 * Node runs a signal's JavaScript handler only when the event loop turns, so a handler would hold
 * Ctrl-C (and `kill`) back until the run ended. The process dies at once instead, and the lock it
 * leaves names a PID that is no longer running: the next run takes it over with a note, exactly
 * as after a SIGKILL, an out-of-memory kill or a power cut. A PID since reused by an unrelated
 * process is told apart by its start time where /proc has one (Linux).
 *
 * Once the lock is held, the temporary files that killed runs left behind (writeFileAtomic's
 * .NAME.PID.HEX.tmp, from a write cut short before its rename) are removed, with a note.
 */
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { processAlive, removeStaleTempFiles } from "../io/node-fs.js";
import { CliError } from "./common.js";

/** The lock's name inside the --out directory. */
export const LOCK_FILE = ".chainrule.lock";

/** What the lock file holds (JSON). */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** ISO time the run took the lock. */
  startedAt: string;
  /** The command line, for the message another run prints. */
  command: string;
  /** The process's start time in clock ticks since boot (/proc/PID/stat), where the platform has it. */
  processStart?: string;
  /** /proc/sys/kernel/random/boot_id, where the platform has it. */
  bootId?: string;
  /** Random: tells this run's lock from a later one at the same path. */
  token: string;
}

/** A held lock; release() is idempotent. */
export interface OutLock {
  readonly path: string;
  readonly holder: LockHolder;
  release(): void;
}

export interface LockOptions {
  /** Where notes go (a stale lock taken over, leftover temporary files removed). */
  note?: (text: string) => void;
  /** The command line recorded in the lock (default: this process's script and arguments). */
  command?: string;
  /** How long an empty or unreadable lock file may stay so before it counts as abandoned (ms, default 1000). */
  unreadableMs?: number;
}

/** The --out directory is held by another run that is (or may be) alive. */
export class OutDirLockedError extends CliError {
  constructor(
    message: string,
    readonly lockPath: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(message, 1);
    this.name = "OutDirLockedError";
  }
}

/** A stale lock moved aside by takeOver: the PID of the run that moved it. */
const ASIDE = /^\.chainrule\.lock\.(\d+)\.[0-9a-f]{8}\.stale$/;

/** Tries to take the lock this many times (a lock freed or taken over between two tries makes another; waiting on an unreadable one does not count). */
const MAX_TRIES = 50;

/**
 * Takes DIR/.chainrule.lock (making DIR if needed) or throws OutDirLockedError. A lock whose PID
 * is no longer running (or now belongs to another process) is taken over, with a note.
 * @example const lock = lockOutDir(opts.out, { note: io.err }); try { ... } finally { lock.release(); }
 */
export function lockOutDir(dir: string, options: LockOptions = {}): OutLock {
  const note = options.note ?? (() => undefined);
  const unreadableMs = options.unreadableMs ?? 1000;
  const created = !existsSync(dir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new CliError(`--out ${dir}: cannot create the directory (${(error as Error).message}).`);
  }
  const path = join(dir, LOCK_FILE);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    command: options.command ?? commandLine(),
    ...procIdentity(process.pid),
    token: randomBytes(8).toString("hex"),
  };
  const text = `${JSON.stringify(holder, null, 2)}\n`;
  let unreadableSince: number | undefined;
  for (let tries = 0; ; ) {
    if (tries++ >= MAX_TRIES) throw new OutDirLockedError(`--out ${dir}: could not take the lock ${path} (other runs kept taking it); try again.`, path, undefined);
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new CliError(`--out ${dir}: cannot create the lock file ${path} (${(error as Error).message}); the directory must be writable.`);
      }
      const found = readLock(path);
      if (found === undefined) continue; // released in the meantime: try again
      const { raw, holder: other } = found;
      if (other === undefined) {
        // Empty or not JSON: a run that is writing it right now, or one killed between creating
        // and writing it (or a file that is not ours). Give a writer a moment, then take it over.
        unreadableSince ??= Date.now();
        if (Date.now() - unreadableSince < unreadableMs) {
          sleep(20);
          tries--; // waiting, not contending
          continue;
        }
        if (takeOver(path, raw)) note(`note: ${path} was empty or unreadable for ${unreadableMs} ms (a run killed while taking it?); taking it over.\n`);
        unreadableSince = undefined;
        continue;
      }
      const verdict = judge(other);
      if (verdict.alive) throw new OutDirLockedError(lockedMessage(dir, path, other, verdict.sameHost), path, other);
      if (takeOver(path, raw)) note(`note: ${dir} was locked by PID ${other.pid} (started ${other.startedAt}), ${verdict.why}; taking over its lock ${path}.\n`);
      continue;
    }
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } catch (error) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // Keep the original error.
      }
      throw new CliError(`--out ${dir}: cannot write the lock file ${path} (${(error as Error).message}).`);
    }
    closeSync(fd);
    break;
  }

  // Held: no other chainrule run writes here now, so leftover temporary files are debris (and so
  // is a stale lock that a run killed while taking it over had moved aside).
  const removed = [...removeStaleTempFiles(dir), ...removeAsideLocks(dir)];
  if (removed.length > 0) note(`note: removed ${removed.length} unfinished temporary file${removed.length > 1 ? "s" : ""} left in ${dir} by an interrupted run (${removed.join(", ")}).\n`);

  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off("exit", release);
    // Only our own lock: never one that a later run took over (e.g. after a PID check misfired).
    const found = readLock(path);
    if (found?.holder?.token === holder.token) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
    if (created) {
      try {
        rmdirSync(dir); // only when empty: a run that stopped before writing anything leaves no directory behind
      } catch {
        // Not empty (the usual case), or gone.
      }
    }
  };
  process.on("exit", release);
  return { path, holder, release };
}

/** The lock file's text and, when it parses as a lock, its holder; undefined when there is no file. */
export function readLock(path: string): { raw: string; holder: LockHolder | undefined } | undefined {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return { raw: "", holder: undefined };
  }
  try {
    const h = JSON.parse(raw) as Partial<LockHolder> | null;
    if (h && typeof h === "object" && Number.isSafeInteger(h.pid) && h.pid! > 0 && typeof h.hostname === "string" && typeof h.token === "string") {
      return { raw, holder: { startedAt: "?", command: "?", ...h } as LockHolder };
    }
  } catch {
    // Not JSON.
  }
  return { raw, holder: undefined };
}

/** Whether the holder may still be running, and if not, why not (for the note). */
function judge(h: LockHolder): { alive: true; sameHost: boolean } | { alive: false; why: string } {
  // Another machine (a shared filesystem): its PIDs cannot be checked from here.
  if (h.hostname !== hostname()) return { alive: true, sameHost: false };
  const here = procIdentity(h.pid);
  if (h.bootId !== undefined && here.bootId !== undefined && h.bootId !== here.bootId) return { alive: false, why: "from before the machine restarted" };
  if (h.pid === process.pid) {
    // This very process: another run inside it (in-process use), unless the lock predates it.
    if (h.processStart !== undefined && here.processStart !== undefined && h.processStart !== here.processStart) return { alive: false, why: "whose PID now belongs to this process" };
    return { alive: true, sameHost: true };
  }
  if (!processAlive(h.pid)) return { alive: false, why: "which is no longer running" };
  if (h.processStart !== undefined && here.processStart !== undefined && h.processStart !== here.processStart) return { alive: false, why: "which is no longer running (its PID now belongs to another process)" };
  return { alive: true, sameHost: true };
}

function lockedMessage(dir: string, path: string, h: LockHolder, sameHost: boolean): string {
  const who = `PID ${h.pid}${sameHost ? "" : ` on host ${h.hostname}`}, started ${h.startedAt}${h.command && h.command !== "?" ? `: ${h.command}` : ""}`;
  return (
    `--out ${dir} is in use by another chainrule run (${who}); it holds the lock ${path}.\n` +
    `Wait for that run to finish (or stop it: kill ${h.pid}${sameHost ? "" : ` on ${h.hostname}`}), or pass a different --out directory.` +
    (sameHost ? "" : ` If that run is no longer alive, delete ${path} and run again (this machine cannot check a PID of another host).`)
  );
}

/**
 * Removes the stale lock at `path` if it still holds `raw`: it is first renamed aside (atomic), so
 * that two runs taking over the same stale lock cannot both remove it, and a fresh lock that
 * another run made in between is put back. Returns whether the stale lock was the one removed.
 */
function takeOver(path: string, raw: string): boolean {
  const aside = join(dirname(path), `${LOCK_FILE}.${process.pid}.${randomBytes(4).toString("hex")}.stale`);
  try {
    renameSync(path, aside);
  } catch {
    return false; // someone else moved or removed it first
  }
  let moved = "";
  try {
    moved = readFileSync(aside, "utf8");
  } catch {
    // Unreadable: treat as the stale one.
    moved = raw;
  }
  if (moved !== raw) {
    // A live run's new lock: back into place (link fails if yet another lock appeared; then that one stands).
    try {
      linkSync(aside, path);
    } catch {
      // Leave the newer one.
    }
    try {
      unlinkSync(aside);
    } catch {
      // Nothing more to do.
    }
    return false;
  }
  try {
    unlinkSync(aside);
  } catch {
    // Gone already.
  }
  return true;
}

/** Removes the locks that takeOver moved aside, of runs no longer running (killed in between). */
function removeAsideLocks(dir: string): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = ASIDE.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // Gone already.
    }
  }
  return removed;
}

/** The process's start time and the boot id, from /proc (Linux); empty elsewhere. */
function procIdentity(pid: number): { processStart?: string; bootId?: string } {
  const out: { processStart?: string; bootId?: string } = {};
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name "(...)": state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = fields[19];
    if (start !== undefined && /^\d+$/.test(start)) out.processStart = start;
  } catch {
    // No /proc, or no such process.
  }
  try {
    out.bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    // Not Linux.
  }
  return out;
}

/** This process's command line (the script and its arguments; quoted where a shell would need it). */
function commandLine(): string {
  return process.argv
    .slice(1)
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)))
    .join(" ");
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
