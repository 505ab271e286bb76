import { getBackend } from "../backend/index.js";
import { ValueError } from "../errors.js";
import type { FloatStorage } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import { Optimizer, buffer, checkBoolean, checkNonNegative, nextStep, type ParamGroup, type ParamState, type ParamsInput, type StateKind } from "./optimizer.js";

/** Adam's and AdamW's hyperparameters (each parameter group has its own copy). */
export interface AdamHyperparams {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates (β₁, β₂) of the first and second moment estimates (default [0.9, 0.999]), each in [0, 1). */
  betas: [number, number];
  /** Added to the denominator after the square root (default 1e-8). */
  eps: number;
  /** Weight decay λ: coupled L2 (g ← g + λθ) in Adam (default 0), decoupled (θ ← θ(1 − lr·λ)) in AdamW (default 1e-2). */
  weightDecay: number;
  /** Use the maximum of all second-moment estimates so far (AMSGrad; default false). */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}
export type AdamOptions = Partial<AdamHyperparams>;

const ADAM_DEFAULTS: AdamHyperparams = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
const ADAMW_DEFAULTS: AdamHyperparams = { ...ADAM_DEFAULTS, weightDecay: 1e-2 };

function validate(name: string, h: AdamHyperparams, where: string): void {
  checkNonNegative(name, "lr", h.lr, where);
  checkNonNegative(name, "eps", h.eps, where);
  checkNonNegative(name, "weightDecay", h.weightDecay, where);
  checkBoolean(name, "amsgrad", h.amsgrad, where);
  checkBoolean(name, "maximize", h.maximize, where);
  const b = h.betas as unknown;
  if (!Array.isArray(b) || b.length !== 2) {
    throw new ValueError(`${name}: option 'betas' must be a pair [beta1, beta2], got ${JSON.stringify(b)}${where}.`);
  }
  b.forEach((beta: unknown, i) => {
    if (typeof beta !== "number" || !(beta >= 0 && beta < 1)) {
      throw new ValueError(`${name}: option 'betas' must have both entries in [0, 1), got betas[${i}] = ${String(beta)}${where}.`);
    }
  });
}

/**
 * The shared Adam/AdamW step, exactly PyTorch's single-tensor path. At the parameter's t-th
 * update (m, v, v̂max start at 0):
 *
 *     g ← −g if maximize
 *     Adam:  g ← g + λθ if λ ≠ 0            AdamW:  θ ← θ·(1 − lr·λ)
 *     m ← β₁·m + (1 − β₁)·g
 *     v ← β₂·v + (1 − β₂)·g²
 *     amsgrad: vmax ← max(vmax, v) and use vmax for v below
 *     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)
 */
function adamUpdate(param: FloatStorage, grad: ArrayLike<number>, state: ParamState, group: AdamHyperparams, tensor: Tensor, decoupled: boolean): void {
  const { lr, eps, weightDecay, amsgrad, maximize } = group;
  const [beta1, beta2] = group.betas;
  const step = nextStep(state);
  const m = buffer(state, "expAvg", tensor);
  const v = buffer(state, "expAvgSq", tensor);
  const vmax = amsgrad ? buffer(state, "maxExpAvgSq", tensor) : null;
  // The loop is the backend's kernel (src/backend/js.ts has the reference).
  getBackend().adamUpdate(param, grad, m, v, vmax, { lr, beta1, beta2, eps, weightDecay, decoupled, maximize, step });
}

const ADAM_STATE: Record<string, StateKind> = { step: "number", expAvg: "array", expAvgSq: "array", maxExpAvgSq: "array" };

/**
 * Adam, exactly `torch.optim.Adam` (single-tensor path), with coupled L2 weight decay
 * (g ← g + λθ) and optional AMSGrad. At the parameter's t-th update:
 *
 *     m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²
 *     θ ← θ − lr·m̂/(√v̂ + eps),  m̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ)
 *
 * computed as θ − (lr/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + eps), as PyTorch does. State per parameter:
 * `step`, `expAvg`, `expAvgSq`, plus `maxExpAvgSq` with amsgrad.
 */
export class Adam extends Optimizer<AdamHyperparams> {
  constructor(params: ParamsInput<AdamHyperparams>, options: AdamOptions = {}) {
    super("Adam", params, ADAM_DEFAULTS, options);
  }
  protected override validateGroup(h: AdamHyperparams, where: string): void {
    validate("Adam", h, where);
  }
  protected override stateKinds(): Record<string, StateKind> {
    return ADAM_STATE;
  }
  protected override update(param: FloatStorage, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<AdamHyperparams>, tensor: Tensor): void {
    adamUpdate(param, grad, state, group, tensor, false);
  }
}

/**
 * AdamW, exactly `torch.optim.AdamW` (single-tensor path): Adam with decoupled weight decay.
 * Each update first shrinks the parameter, θ ← θ·(1 − lr·λ), then applies the Adam update with
 * the raw gradient. weightDecay defaults to 1e-2.
 */
export class AdamW extends Optimizer<AdamHyperparams> {
  constructor(params: ParamsInput<AdamHyperparams>, options: AdamOptions = {}) {
    super("AdamW", params, ADAMW_DEFAULTS, options);
  }
  protected override validateGroup(h: AdamHyperparams, where: string): void {
    validate("AdamW", h, where);
  }
  protected override stateKinds(): Record<string, StateKind> {
    return ADAM_STATE;
  }
  protected override update(param: FloatStorage, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<AdamHyperparams>, tensor: Tensor): void {
    adamUpdate(param, grad, state, group, tensor, true);
  }
}
