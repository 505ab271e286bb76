import { getBackend } from "../backend/index.js";
import { ValueError } from "../errors.js";
import type { FloatStorage } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import { Optimizer, buffer, checkBoolean, checkNonNegative, type ParamGroup, type ParamState, type ParamsInput, type StateKind } from "./optimizer.js";

/** SGD's hyperparameters (each parameter group has its own copy). */
export interface SGDHyperparams {
  /** Learning rate (default 1e-3, as in PyTorch ≥ 2.2). */
  lr: number;
  /** Momentum factor μ (default 0: plain SGD). */
  momentum: number;
  /** Dampening τ of the momentum (default 0). */
  dampening: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** Coupled L2 penalty λ: g ← g + λθ (default 0). */
  weightDecay: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}
export type SGDOptions = Partial<SGDHyperparams>;

const DEFAULTS: SGDHyperparams = { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };

/**
 * Stochastic gradient descent with optional momentum, Nesterov momentum, dampening and weight
 * decay, exactly `torch.optim.SGD` (single-tensor path). For each parameter θ with gradient g:
 *
 *     g ← −g if maximize;  g ← g + λθ if weightDecay λ ≠ 0
 *     if μ ≠ 0:  b ← g at the first update, else b ← μ·b + (1 − τ)·g
 *                g ← g + μ·b if nesterov, else g ← b
 *     θ ← θ − lr·g
 *
 * State per parameter: `momentumBuffer` (only when momentum ≠ 0).
 * @example const opt = new optim.SGD(params, { lr: 0.1, momentum: 0.9 });
 */
export class SGD extends Optimizer<SGDHyperparams> {
  constructor(params: ParamsInput<SGDHyperparams>, options: SGDOptions = {}) {
    super("SGD", params, DEFAULTS, options);
  }

  protected override validateGroup(h: SGDHyperparams, where: string): void {
    checkNonNegative("SGD", "lr", h.lr, where);
    checkNonNegative("SGD", "momentum", h.momentum, where);
    checkNonNegative("SGD", "weightDecay", h.weightDecay, where);
    if (typeof h.dampening !== "number" || Number.isNaN(h.dampening)) {
      throw new ValueError(`SGD: option 'dampening' must be a number, got ${String(h.dampening)}${where}.`);
    }
    checkBoolean("SGD", "nesterov", h.nesterov, where);
    checkBoolean("SGD", "maximize", h.maximize, where);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new ValueError(`SGD: option 'nesterov' requires momentum > 0 and dampening = 0, got momentum ${h.momentum} and dampening ${h.dampening}${where}.`);
    }
  }

  protected override stateKinds(): Record<string, StateKind> {
    return { momentumBuffer: "array" };
  }

  protected override update(param: FloatStorage, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<SGDHyperparams>, tensor: Tensor): void {
    const { lr, momentum, dampening, nesterov, weightDecay, maximize } = group;
    let buf: FloatStorage | null = null;
    let firstStep = false;
    if (momentum !== 0) {
      firstStep = state.momentumBuffer === undefined || typeof state.momentumBuffer === "number";
      buf = buffer(state, "momentumBuffer", tensor);
    }
    // The loop is the backend's kernel (src/backend/js.ts has the reference).
    getBackend().sgdUpdate(param, grad, buf, { lr, momentum, dampening, nesterov, weightDecay, maximize, firstStep });
  }
}
