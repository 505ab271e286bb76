/**
 * Shared pieces of the `chainrule` command: where output goes, the errors that set the exit
 * code, and the option parsers (each names what it expects, for commander's error message).
 */
import { statSync, unlinkSync, writeFileSync, type Stats } from "node:fs";
import { dirname, extname, join } from "node:path";
import { InvalidArgumentError } from "commander";
import type { ProgressStream } from "../train/index.js";

/** Where a command writes. The bin writes to process.stdout/stderr; tests capture the text. */
export interface CliIO {
  /** Writes to standard output (the text includes its own newlines). */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Whether standard output is a terminal (the default progress display depends on it). */
  isTTY: boolean;
  /** Where a live progress bar is drawn (process.stdout for the bin); default: `out`. */
  stream?: ProgressStream;
}

/** The process's own streams. */
export function processIO(): CliIO {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
    stream: process.stdout,
  };
}

/** A failure that ends the command with a message and an exit code (1 unless given). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Exit code of a usage error (a wrong option or argument), as commander reports them. */
export const USAGE_EXIT_CODE = 2;

/** A usage error found after commander's own checks (e.g. an option that another one requires). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, USAGE_EXIT_CODE);
    this.name = "UsageError";
  }
}

// ------------------------------------------------------------------ output paths

/** Why a file-system call failed, in words, then Node's message. */
export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: "the directory does not exist",
    ENOTDIR: "a part of the path is a file, not a directory",
    EISDIR: "it is a directory",
    EEXIST: "it already exists",
    EACCES: "permission denied",
    EPERM: "permission denied",
    EROFS: "the file system is read-only",
    ENOSPC: "the disk is full",
  };
  return `${code && words[code] ? `${words[code]}: ` : ""}${(error as Error).message}`;
}

/**
 * Checks, before any work, that `file` (the value of `option`) can be written: its directory
 * exists and takes a new file (a probe file is written and removed there), and the path is not
 * a directory. A CliError names the option, the path and why.
 */
export function checkWritableFile(option: string, file: string): void {
  const dir = dirname(file);
  let stat: Stats | undefined;
  try {
    stat = statSync(file);
  } catch {
    stat = undefined;
  }
  if (stat?.isDirectory()) throw new CliError(`${option} ${file}: it is a directory; give a file name, e.g. ${option} ${join(file, `out${extname(file) || ""}`)}.`);
  const probe = join(dir, `.chainrule-write-test-${process.pid}`);
  try {
    writeFileSync(probe, "");
    unlinkSync(probe);
  } catch (error) {
    throw new CliError(`${option} ${file}: cannot write there (${fsReason(error)}); give a path in a directory that exists and can be written.`);
  }
}

// ------------------------------------------------------------------ option parsers

/** An integer ≥ 1. */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\+?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("Expected a positive integer (1, 2, 3, ...).");
  }
  return n;
}

/** An integer ≥ 0. */
export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\+?\d+\s*$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError("Expected a non-negative integer (0, 1, 2, ...).");
  }
  return n;
}

function parseFinite(value: string): number {
  const n = value.trim() === "" ? NaN : Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError("Expected a number (e.g. 0.1 or 1e-3).");
  return n;
}

/** A finite number > 0. */
export function parsePositiveNumber(value: string): number {
  const n = parseFinite(value);
  if (!(n > 0)) throw new InvalidArgumentError("Expected a number greater than 0 (e.g. 0.1 or 1e-3).");
  return n;
}

/** A finite number ≥ 0. */
export function parseNonNegativeNumber(value: string): number {
  const n = parseFinite(value);
  if (!(n >= 0)) throw new InvalidArgumentError("Expected a number ≥ 0 (e.g. 0 or 1e-4).");
  return n;
}

/** A fraction in [0, 1). */
export function parseFraction(value: string): number {
  const n = parseFinite(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError("Expected a fraction in [0, 1) (e.g. 0.1).");
  return n;
}

/** Hidden layer sizes: "100" (one hidden layer) or "100,50" (two). */
export function parseHidden(value: string): number[] {
  const parts = value.split(",").map((s) => s.trim());
  const sizes = parts.map((s) => (/^\+?\d+$/.test(s) ? Number(s) : NaN));
  if (parts.length === 0 || sizes.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new InvalidArgumentError('Expected hidden layer sizes as positive integers separated by commas, e.g. "100" or "100,100".');
  }
  return sizes;
}

// ------------------------------------------------------------------ text helpers

/** Formats rows as an aligned table; `align` per column ("l" or "r", default "l"). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ("l" | "r")[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (align[i] === "r" ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n") + "\n";
}

/** "12.3 s" or "2 min 03 s". */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${String(Math.round(seconds - 60 * m)).padStart(2, "0")} s`;
}

/** 0.9731 → "97.31%". */
export function percent(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

/** A shape as "[784, 100]". */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
