import { getBackend } from "../backend/index.js";
import type { FloatStorage } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import { Optimizer, buffer, checkBoolean, checkNonNegative, nextStep, type ParamGroup, type ParamState, type ParamsInput, type StateKind } from "./optimizer.js";

/** RMSprop's hyperparameters (each parameter group has its own copy). */
export interface RMSpropHyperparams {
  /** Learning rate (default 0.01). */
  lr: number;
  /** Smoothing constant α of the squared-gradient average (default 0.99). */
  alpha: number;
  /** Added to the denominator after the square root (default 1e-8). */
  eps: number;
  /** Coupled L2 penalty λ: g ← g + λθ (default 0). */
  weightDecay: number;
  /** Momentum factor μ (default 0). */
  momentum: number;
  /** Divide by an estimate of the gradient's variance instead of its second moment (default false). */
  centered: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}
export type RMSpropOptions = Partial<RMSpropHyperparams>;

const DEFAULTS: RMSpropHyperparams = { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };

/**
 * RMSprop, exactly `torch.optim.RMSprop` (single-tensor path). For each parameter θ with
 * gradient g (v, ḡ and b start at 0):
 *
 *     g ← −g if maximize;  g ← g + λθ if weightDecay λ ≠ 0
 *     v ← α·v + (1 − α)·g²
 *     if centered:  ḡ ← α·ḡ + (1 − α)·g;  d = √(v − ḡ²) + eps     else  d = √v + eps
 *     if μ > 0:  b ← μ·b + g/d;  θ ← θ − lr·b                       else  θ ← θ − lr·g/d
 *
 * eps is added outside the square root and there is no bias correction. State per parameter:
 * `step`, `squareAvg`, plus `momentumBuffer` (momentum > 0) and `gradAvg` (centered).
 */
export class RMSprop extends Optimizer<RMSpropHyperparams> {
  constructor(params: ParamsInput<RMSpropHyperparams>, options: RMSpropOptions = {}) {
    super("RMSprop", params, DEFAULTS, options);
  }

  protected override validateGroup(h: RMSpropHyperparams, where: string): void {
    checkNonNegative("RMSprop", "lr", h.lr, where);
    checkNonNegative("RMSprop", "alpha", h.alpha, where);
    checkNonNegative("RMSprop", "eps", h.eps, where);
    checkNonNegative("RMSprop", "weightDecay", h.weightDecay, where);
    checkNonNegative("RMSprop", "momentum", h.momentum, where);
    checkBoolean("RMSprop", "centered", h.centered, where);
    checkBoolean("RMSprop", "maximize", h.maximize, where);
  }

  protected override stateKinds(): Record<string, StateKind> {
    return { step: "number", squareAvg: "array", momentumBuffer: "array", gradAvg: "array" };
  }

  protected override update(param: FloatStorage, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<RMSpropHyperparams>, tensor: Tensor): void {
    const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = group;
    nextStep(state);
    const sq = buffer(state, "squareAvg", tensor);
    const buf = momentum > 0 ? buffer(state, "momentumBuffer", tensor) : undefined;
    const avgG = centered ? buffer(state, "gradAvg", tensor) : undefined;
    // The loop is the backend's kernel (src/backend/js.ts has the reference).
    getBackend().rmspropUpdate(param, grad, sq, buf ?? null, avgG ?? null, { lr, alpha, eps, weightDecay, momentum, maximize });
  }
}
