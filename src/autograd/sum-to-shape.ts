import { ShapeError, fmtShape } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { reshape } from "../ops/shape-ops.js";
import { sum } from "../ops/reduce.js";

/**
 * Sums a gradient of a broadcast shape back to the shape of the input that was broadcast:
 * over the leading axes the input lacked, and over axes where the input had size 1.
 * Done once here, in the engine, instead of in every op's backward. Differentiable.
 */
export function sumToShape(g: Tensor, shape: readonly number[], op: string): Tensor {
  const lead = g.ndim - shape.length;
  if (lead < 0) {
    throw new ShapeError(`${op}: backward returned a gradient of shape ${fmtShape(g.shape)} for an input of shape ${fmtShape(shape)}.`);
  }
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== g.shape[i]) {
      throw new ShapeError(`${op}: backward returned a gradient of shape ${fmtShape(g.shape)} that does not broadcast to its input's shape ${fmtShape(shape)}.`);
    }
  }
  const reduced = axes.length > 0 ? sum(g, { axis: axes, keepDim: true }) : g;
  return reshape(reduced, shape);
}
