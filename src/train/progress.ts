/**
 * The Trainer's progress output: a live bar on a terminal (the npm package cli-progress), one
 * plain line per epoch, one JSON object per epoch (JSON lines, for scripts), or nothing.
 */
import cliProgress from "cli-progress";
import type { EpochRecord } from "./types.js";

/** How the Trainer reports progress. */
export type ProgressMode = "bar" | "lines" | "json" | "none";

/** Where the bar is drawn: a writable stream (process.stdout by default). */
export interface ProgressStream {
  write(chunk: string): unknown;
  /** A terminal: the bar is drawn only when this is true. */
  isTTY?: boolean;
  /** Terminal width. */
  columns?: number;
}

/** What the live bar shows during an epoch. */
export interface BarState {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  samplesPerSecond: number;
  /** Seconds left for the whole run (NaN while unknown). */
  etaSeconds: number;
}

export interface Reporter {
  epochStart(epoch: number, epochs: number, batches: number): void;
  step(state: BarState): void;
  epochEnd(record: EpochRecord, epochs: number): void;
  /** A free-form message (resuming, early stop, restored weights); JSON mode and none drop it. */
  message(line: string): void;
  close(): void;
}

export function fmtNumber(x: number | undefined, digits = 4): string {
  if (x === undefined) return "-";
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return x.toFixed(digits);
}

function fmtPercent(x: number | undefined): string {
  return x === undefined || Number.isNaN(x) ? "-" : `${(x * 100).toFixed(2)}%`;
}

function fmtLr(x: number): string {
  return Number.isFinite(x) && x !== 0 ? x.toPrecision(3).replace(/\.?0+(e|$)/, "$1") : String(x);
}

/** `m:ss` or `h:mm:ss`. */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

/** The plain one-line summary of an epoch ("lines" mode, and the line left behind by the bar). */
export function formatEpochLine(r: EpochRecord, epochs: number): string {
  const parts = [
    `epoch ${r.epoch}/${epochs}`,
    `loss ${fmtNumber(r.trainLoss)}`,
    `acc ${fmtPercent(r.trainAccuracy)}`,
  ];
  if (r.valLoss !== undefined) parts.push(`val_loss ${fmtNumber(r.valLoss)}`);
  if (r.valAccuracy !== undefined) parts.push(`val_acc ${fmtPercent(r.valAccuracy)}`);
  parts.push(`lr ${fmtLr(r.lr)}`, `${r.seconds.toFixed(2)} s`, `${Math.round(r.samplesPerSecond)} samples/s`);
  return parts.join("  ");
}

/** JSON for one epoch: the record's fields; NaN and ±Infinity, which JSON lacks, become null. */
export function formatEpochJson(r: EpochRecord): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v));
}

export function makeReporter(mode: ProgressMode, log: (line: string) => void, stream: ProgressStream): Reporter {
  switch (mode) {
    case "none":
      return { epochStart() {}, step() {}, epochEnd() {}, message() {}, close() {} };
    case "json":
      return { epochStart() {}, step() {}, epochEnd: (r) => log(formatEpochJson(r)), message() {}, close() {} };
    case "lines":
      return { epochStart() {}, step() {}, epochEnd: (r, epochs) => log(formatEpochLine(r, epochs)), message: log, close() {} };
    case "bar":
      return new BarReporter(log, stream);
  }
}

/** One cli-progress bar per epoch, cleared at the epoch's end and replaced by the epoch's line. */
class BarReporter implements Reporter {
  private bar: cliProgress.SingleBar | undefined;

  constructor(
    private readonly log: (line: string) => void,
    private readonly stream: ProgressStream,
  ) {}

  epochStart(epoch: number, epochs: number, batches: number): void {
    this.stop();
    this.bar = new cliProgress.SingleBar(
      {
        format: "epoch {epochLabel} |{bar}| {value}/{total} | loss {lossLabel} | acc {accLabel} | {speedLabel} samples/s | ETA {etaLabel}",
        stream: this.stream as unknown as NodeJS.WritableStream,
        clearOnComplete: true,
        // fit() is synchronous, so no handler could undo terminal modes after Ctrl-C: change none
        // (a hidden cursor or line wrapping turned off would outlive the process).
        hideCursor: false,
        linewrap: true,
        barsize: 24,
        fps: 20,
        // Never print when the stream is not a terminal (the Trainer uses lines there).
        noTTYOutput: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(batches, 0, { epochLabel: `${epoch}/${epochs}`, lossLabel: "-", accLabel: "-", speedLabel: "-", etaLabel: "--:--" });
  }

  step(s: BarState): void {
    this.bar?.update(s.batch, {
      epochLabel: `${s.epoch}/${s.epochs}`,
      lossLabel: fmtNumber(s.loss),
      accLabel: fmtPercent(s.accuracy),
      speedLabel: String(Math.round(s.samplesPerSecond)),
      etaLabel: fmtDuration(s.etaSeconds),
    });
  }

  epochEnd(record: EpochRecord, epochs: number): void {
    this.stop();
    this.log(formatEpochLine(record, epochs));
  }

  message(line: string): void {
    this.log(line);
  }

  close(): void {
    this.stop();
  }

  private stop(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
    }
  }
}
