import { getBackend } from "../backend/index.js";
import type { FloatStorage } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import { Optimizer, buffer, checkBoolean, checkNonNegative, nextStep, type ParamGroup, type ParamState, type ParamsInput, type StateKind } from "./optimizer.js";

/** Adagrad's hyperparameters (each parameter group has its own copy). */
export interface AdagradHyperparams {
  /** Learning rate (default 0.01). */
  lr: number;
  /** Learning-rate decay: the step size at update t is lr / (1 + (t − 1)·lrDecay) (default 0). */
  lrDecay: number;
  /** Coupled L2 penalty λ: g ← g + λθ (default 0). */
  weightDecay: number;
  /** Starting value of the sum of squared gradients (default 0). */
  initialAccumulatorValue: number;
  /** Added to the denominator after the square root (default 1e-10). */
  eps: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}
export type AdagradOptions = Partial<AdagradHyperparams>;

const DEFAULTS: AdagradHyperparams = { lr: 0.01, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false };

/**
 * Adagrad, exactly `torch.optim.Adagrad` (single-tensor path). For each parameter θ with
 * gradient g, at its t-th update (t = 1, 2, …; the sum S starts at initialAccumulatorValue):
 *
 *     g ← −g if maximize;  g ← g + λθ if weightDecay λ ≠ 0
 *     clr = lr / (1 + (t − 1)·lrDecay)
 *     S ← S + g²
 *     θ ← θ − clr·g/(√S + eps)
 *
 * State per parameter: `step` and `sum`, created at the parameter's first update (PyTorch
 * creates them in the constructor; the numbers are the same).
 */
export class Adagrad extends Optimizer<AdagradHyperparams> {
  constructor(params: ParamsInput<AdagradHyperparams>, options: AdagradOptions = {}) {
    super("Adagrad", params, DEFAULTS, options);
  }

  protected override validateGroup(h: AdagradHyperparams, where: string): void {
    checkNonNegative("Adagrad", "lr", h.lr, where);
    checkNonNegative("Adagrad", "lrDecay", h.lrDecay, where);
    checkNonNegative("Adagrad", "weightDecay", h.weightDecay, where);
    checkNonNegative("Adagrad", "initialAccumulatorValue", h.initialAccumulatorValue, where);
    checkNonNegative("Adagrad", "eps", h.eps, where);
    checkBoolean("Adagrad", "maximize", h.maximize, where);
  }

  protected override stateKinds(): Record<string, StateKind> {
    return { step: "number", sum: "array" };
  }

  protected override update(param: FloatStorage, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<AdagradHyperparams>, tensor: Tensor): void {
    const { lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize } = group;
    const step = nextStep(state);
    const sum = buffer(state, "sum", tensor, initialAccumulatorValue);
    const clr = lr / (1 + (step - 1) * lrDecay);
    // The loop is the backend's kernel (src/backend/js.ts has the reference).
    getBackend().adagradUpdate(param, grad, sum, { clr, weightDecay, eps, maximize });
  }
}
