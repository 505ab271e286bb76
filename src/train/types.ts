/**
 * The Trainer's public types: loaders, options, the history it records and the events it emits.
 */
import type { Module } from "../nn/module.js";
import type { AnyOptimizer } from "../optim/lr-scheduler.js";
import type { Tensor } from "../tensor/tensor.js";
import type { ProgressMode, ProgressStream } from "./progress.js";

/**
 * What the Trainer needs of a data loader (chainrule's `data.DataLoader` is one): an iterable of
 * `[x, y]` batches with `length` batches per epoch. `setEpoch(e)` (0-based) is called at the
 * start of every epoch so a shuffling loader can give epoch e its own order; `stateDict` /
 * `loadStateDict`, when present, are saved in and restored from checkpoints.
 */
export interface Loader {
  [Symbol.iterator](): Iterator<readonly [Tensor, Tensor]>;
  /** Batches per epoch. */
  readonly length: number;
  /** Samples per epoch (optional; the Trainer counts them itself). */
  readonly size?: number;
  setEpoch?(epoch: number): void;
  stateDict?(): unknown;
  loadStateDict?(state: never): void;
}

/** A learning-rate schedule: any `optim` scheduler (stepped once per epoch; ReduceLROnPlateau with a metric). */
export interface SchedulerLike {
  step(...args: never[]): void;
  stateDict(): Record<string, unknown>;
  loadStateDict(state: Record<string, unknown>): void;
}

export interface EarlyStoppingOptions {
  /** Epochs without improvement tolerated; training stops after `patience` such epochs in a row. */
  patience: number;
  /** The smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /** What must improve: validation accuracy (up) or validation loss (down). */
  metric: "valAccuracy" | "valLoss";
}

/** One training step, as the "step" event reports it. */
export interface StepEvent {
  /** The epoch, 1-based. */
  epoch: number;
  /** The batch within the epoch, 0-based. */
  batch: number;
  /** Batches in this epoch. */
  batches: number;
  /** Steps done since the first epoch of the run (this one included), 1-based. */
  step: number;
  /** This batch's loss (before the update). */
  loss: number;
  /** Samples in this batch. */
  batchSize: number;
  /** The learning rate of the first parameter group during this step. */
  lr: number;
}

/** One epoch's numbers. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's samples (each batch's loss weighted by its size). */
  trainLoss: number;
  /** Argmax accuracy of the outputs seen during the epoch's steps (NaN when not a classification). */
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** The learning rate used during the epoch (first parameter group). */
  lr: number;
  /** Wall-clock seconds of the epoch, validation included. */
  seconds: number;
  /** Training samples per second (training steps only). */
  samplesPerSecond: number;
}

/** Everything a run records: only numbers, never tensors. */
export interface History {
  steps: { loss: number[] };
  epochs: EpochRecord[];
  /** The epoch with the best validation accuracy (1-based), when there is a validation loader. */
  bestEpoch?: number;
  bestValAccuracy?: number;
  stoppedEarly: boolean;
}

/** What `evaluate` returns. */
export interface EvaluateResult {
  /** Mean loss over the samples (each batch's loss weighted by its size). */
  loss: number;
  /** Fraction of samples whose argmax matches the label (NaN when not a classification). */
  accuracy: number;
  /** `confusion[trueClass][predictedClass]` counts ([] when not a classification). */
  confusion: number[][];
  /** Samples seen. */
  samples: number;
}

/** The events and their payloads. */
export interface TrainerEvents {
  step: (event: StepEvent) => void;
  epoch: (record: EpochRecord) => void;
  end: (history: History) => void;
}

export interface TrainerOptions {
  model: Module;
  /** loss(output, y) → a scalar tensor, e.g. `nn.functional.crossEntropy`. */
  loss: (output: Tensor, y: Tensor) => Tensor;
  optimizer: AnyOptimizer;
  trainLoader: Loader;
  valLoader?: Loader;
  /** Total epochs of the run (a resumed run counts the epochs already done). */
  epochs: number;
  /** Stepped once per epoch, after validation; ReduceLROnPlateau gets the validation loss. */
  scheduler?: SchedulerLike;
  earlyStopping?: EarlyStoppingOptions;
  /** Keep the weights of the epoch with the best validation accuracy and load them at the end (default true). */
  restoreBestWeights?: boolean;
  /** Write `checkpoint.safetensors` here (atomically) at the end of each epoch. */
  checkpointDir?: string;
  /** Default: "bar" when `stream` is a terminal, else "lines". */
  progress?: ProgressMode;
  /** Where lines go (default: written to `stream`). */
  log?: (line: string) => void;
  /** Where the bar is drawn and, without `log`, lines written (default process.stdout). */
  stream?: ProgressStream;
  /** Clip the gradients' total 2-norm to this before each optimizer step. */
  gradClipNorm?: number;
  onStep?: TrainerEvents["step"];
  onEpoch?: TrainerEvents["epoch"];
  onEnd?: TrainerEvents["end"];
}
