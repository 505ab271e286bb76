import { GraphError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { onesLike, zerosLike } from "../tensor/creation.js";
import { runBackward } from "./engine.js";
import { enableGrad, isGradEnabled } from "./mode.js";

export interface GradOptions {
  /** Make the returned gradients differentiable (for second derivatives). */
  createGraph?: boolean;
  /** Keep the graph after computing the gradients. Defaults to createGraph. */
  retainGraph?: boolean;
}

/**
 * Gradients of a scalar `output` with respect to `inputs`, returned rather than accumulated into
 * `.grad` (torch.autograd.grad). An input the output does not depend on gets a zero gradient.
 */
export function gradients(output: Tensor, inputs: readonly Tensor[], options: GradOptions & { gradOutput?: Tensor } = {}): Tensor[] {
  if (!output.requiresGrad) {
    throw new GraphError(`grad: the output does not depend on any input that requires grad. Create the inputs with { requiresGrad: true }.`);
  }
  const gradOut = options.gradOutput ?? (output.size === 1 ? onesLike(output) : undefined);
  if (!gradOut) {
    throw new GraphError(`grad: the output has shape [${output.shape.join(", ")}]; pass gradOutput for a non-scalar output, or reduce it to a scalar first.`);
  }
  const result = runBackward(output, gradOut, options, inputs)!;
  return result.map((g, i) => g ?? zerosLike(inputs[i]!));
}

type Fn = (...args: Tensor[]) => Tensor;

function prepare(name: string, args: readonly Tensor[], argnums: number | readonly number[] | undefined): { inputs: Tensor[]; which: number[] } {
  const which = argnums === undefined ? [0] : typeof argnums === "number" ? [argnums] : [...argnums];
  for (const i of which) {
    if (!Number.isInteger(i) || i < 0 || i >= args.length) throw new ValueError(`${name}: argnums entry ${i} is out of range for ${args.length} arguments.`);
  }
  const inputs = args.map((a, i) => {
    if (!(a instanceof Tensor)) throw new ValueError(`${name}: argument ${i} must be a Tensor.`);
    // A fresh leaf per call that shares the caller's data; outer graphs still flow through when createGraph is used.
    return which.includes(i) && !a.requiresGrad ? a.detach().requiresGrad_() : a;
  });
  return { inputs, which };
}

/**
 * JAX-style `valueAndGrad(f, argnums)`: returns a function computing f's (scalar) value and its
 * gradient with respect to argument `argnums` (default 0), or a list of gradients when `argnums`
 * is a list. Nested calls give differentiable gradients, so `grad(grad(f))` gives second derivatives.
 * @example const [loss, dw] = valueAndGrad((w) => w.mul(x).sum())(w);
 */
export function valueAndGrad(f: Fn, argnums?: number): (...args: Tensor[]) => [Tensor, Tensor];
export function valueAndGrad(f: Fn, argnums: readonly number[]): (...args: Tensor[]) => [Tensor, Tensor[]];
export function valueAndGrad(f: Fn, argnums?: number | readonly number[]): (...args: Tensor[]) => [Tensor, Tensor | Tensor[]];
export function valueAndGrad(f: Fn, argnums?: number | readonly number[]): (...args: Tensor[]) => [Tensor, Tensor | Tensor[]] {
  return (...args) => {
    const { inputs, which } = prepare("valueAndGrad", args, argnums);
    const value = enableGrad(() => f(...inputs));
    if (!(value instanceof Tensor) || value.size !== 1) {
      throw new GraphError(`valueAndGrad: f must return a single-element tensor, got ${value instanceof Tensor ? `shape [${value.shape.join(", ")}]` : typeof value}.`);
    }
    // Keep the backward pass differentiable only when an argument belongs to an outer graph
    // (grad(grad(f)), or a tensor that requires grad): then an outer gradient can flow through
    // this one. At top level the gradient is plain and the graph is freed.
    const nested = isGradEnabled() && args.some((a) => a.requiresGrad);
    const grads = gradients(value, which.map((i) => inputs[i]!), { createGraph: nested });
    return [value, typeof argnums === "object" ? grads : grads[0]!];
  };
}

/** JAX-style `grad(f, argnums)`: a function returning the gradient of scalar f (see valueAndGrad). */
export function grad(f: Fn, argnums?: number): (...args: Tensor[]) => Tensor;
export function grad(f: Fn, argnums: readonly number[]): (...args: Tensor[]) => Tensor[];
export function grad(f: Fn, argnums?: number | readonly number[]): (...args: Tensor[]) => Tensor | Tensor[];
export function grad(f: Fn, argnums?: number | readonly number[]): (...args: Tensor[]) => Tensor | Tensor[] {
  const vg = valueAndGrad(f, argnums);
  return (...args) => vg(...args)[1];
}
