// Checks shared by the functionals of nn/functional/.
import { DTypeError, ValueError } from "../../errors.js";
import { isFloat } from "../../tensor/dtype.js";
import type { Tensor } from "../../tensor/tensor.js";

/** A DTypeError unless x is float32 or float64. */
export function checkFloat(fn: string, arg: string, x: Tensor): void {
  if (!isFloat(x.dtype)) {
    throw new DTypeError(`${fn}: '${arg}' must be a float32 or float64 tensor, got ${x.dtype}. Cast it with ${arg}.to("float32") (or "float64").`);
  }
}

/** A number option that must be finite (and ≥ min when given). */
export function checkNumber(fn: string, name: string, value: unknown, min?: number, max?: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || (min !== undefined && value < min) || (max !== undefined && value > max)) {
    const range = min !== undefined && max !== undefined ? ` in [${min}, ${max}]` : min !== undefined ? ` ≥ ${min}` : "";
    throw new ValueError(`${fn}: ${name} must be a finite number${range}, got ${String(value)}.`);
  }
  return value;
}
