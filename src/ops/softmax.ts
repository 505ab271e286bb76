import { assertTensor, type Tensor } from "../tensor/tensor.js";
import { normalizeAxis } from "../tensor/shape.js";
import { div, exp, sub } from "./elementwise.js";
import { logsumexp, max, sum } from "./reduce.js";

/**
 * exp(x) / Σ exp(x) along `axis` (default last), computed as exp(x − max) so large logits do
 * not overflow. The max is a constant shift (it cancels), so it carries no gradient.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertTensor("softmax", "x", x);
  const a = normalizeAxis("softmax", axis, x.ndim);
  const e = exp(sub(x, max(x.detach(), { axis: a, keepDim: true })));
  return div(e, sum(e, { axis: a, keepDim: true }));
}

/** log softmax(x) = x − logsumexp(x) along `axis` (default last), stable for large logits. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  assertTensor("logSoftmax", "x", x);
  const a = normalizeAxis("logSoftmax", axis, x.ndim);
  return sub(x, logsumexp(x, { axis: a, keepDim: true }));
}
