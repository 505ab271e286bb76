/**
 * `Trainer`: the training loop with validation, schedules, early stopping, best weights, progress
 * output and exactly resumable checkpoints (Node-only: exported from "chainrule/node").
 * See docs/train.md.
 */
export { Trainer, CHECKPOINT_FILE } from "./trainer.js";
export type { Loader, SchedulerLike, EarlyStoppingOptions, StepEvent, EpochRecord, History, EvaluateResult, TrainerEvents, TrainerOptions } from "./types.js";
export type { ProgressMode, ProgressStream } from "./progress.js";
