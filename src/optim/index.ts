/**
 * `optim`: optimizers, learning-rate schedules and gradient clipping, after `torch.optim`
 * (exported from the main entry as the namespace `optim`). See docs/optim.md.
 * @example
 * const opt = new optim.Adam(params, { lr: 1e-3 });
 * const sched = new optim.CosineAnnealingLR(opt, { tMax: 100 });
 */
export {
  Optimizer,
  type Hyperparams,
  type ParamGroup,
  type ParamGroupInput,
  type ParamsInput,
  type ParamState,
  type StateValue,
  type StateKind,
  type SavedParamGroup,
  type OptimizerStateDict,
} from "./optimizer.js";
export { SGD, type SGDHyperparams, type SGDOptions } from "./sgd.js";
export { RMSprop, type RMSpropHyperparams, type RMSpropOptions } from "./rmsprop.js";
export { Adam, AdamW, type AdamHyperparams, type AdamOptions } from "./adam.js";
export { Adagrad, type AdagradHyperparams, type AdagradOptions } from "./adagrad.js";
export {
  LRScheduler,
  StepLR,
  MultiStepLR,
  ExponentialLR,
  CosineAnnealingLR,
  LinearLR,
  SequentialLR,
  ChainedScheduler,
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  type SchedulerStateDict,
  type AnyOptimizer,
} from "./lr-scheduler.js";
export { clipGradNorm, clipGradNormTensor, clipGradValue, type ClipGradNormOptions } from "./clip.js";
