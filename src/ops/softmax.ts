import { getBackend } from "../backend/index.js";
import { defineOp } from "../autograd/define-op.js";
import { composite } from "../autograd/mode.js";
import { isFloat } from "../tensor/dtype.js";
import { assertTensor, Tensor } from "../tensor/tensor.js";
import { normalizeAxis } from "../tensor/shape.js";
import { div, exp, mul, sub } from "./elementwise.js";
import { logsumexp, max, sum } from "./reduce.js";
import { allocateOutput } from "./util.js";

/** Runs the backend's row-wise kernel over the last axis of x (a float tensor). */
function lastAxis(op: "softmax" | "logSoftmax", x: Tensor): Tensor {
  const cols = x.shape[x.ndim - 1]!;
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = allocateOutput(x.dtype, x.size, false);
  getBackend().softmax(op, x._buf, rows, cols, out);
  return Tensor.fromStorage(out, x.shape, x.dtype);
}

// One primitive each over the last axis: one kernel pass per row (max, exp-sum, write) instead
// of five ops, and a backward written with tensor ops (y saved), so gradients of gradients work.

const softmaxLast = defineOp<[Tensor], Tensor>({
  name: "softmax",
  forward(ctx, x) {
    const y = lastAxis("softmax", x);
    ctx.save(y);
    return y;
  },
  // dx = y·(g − Σ g·y) along the axis.
  backward(ctx, gradOut) {
    const y = ctx.saved;
    return [mul(y, sub(gradOut, sum(mul(gradOut, y), { axis: -1, keepDim: true })))];
  },
  describe: () => ({ axis: -1 }),
});

const logSoftmaxLast = defineOp<[Tensor], Tensor>({
  name: "logSoftmax",
  forward(ctx, x) {
    const y = lastAxis("logSoftmax", x);
    ctx.save(y);
    return y;
  },
  // dx = g − softmax(x)·Σ g, with softmax(x) = e^y.
  backward(ctx, gradOut) {
    const y = ctx.saved;
    return [sub(gradOut, mul(exp(y), sum(gradOut, { axis: -1, keepDim: true })))];
  },
  describe: () => ({ axis: -1 }),
});

/**
 * exp(x) / Σ exp(x) along `axis` (default last), computed as exp(x − max) so large logits do
 * not overflow. Over the last axis it is one op (the backend's softmax kernel; backward
 * y·(g − Σ g·y)); over another axis it is composed of exp, sub, max and sum (the max is a
 * constant shift that cancels, so it carries no gradient). Integer inputs give float32.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertTensor("softmax", "x", x);
  const a = normalizeAxis("softmax", axis, x.ndim);
  const xf = isFloat(x.dtype) ? x : x.to("float32");
  if (a === x.ndim - 1) return softmaxLast(xf);
  return composite("softmax", [xf], { axis: a }, () => {
    const e = exp(sub(xf, max(xf.detach(), { axis: a, keepDim: true })));
    return div(e, sum(e, { axis: a, keepDim: true }));
  });
}

/**
 * log softmax(x) = x − logsumexp(x) along `axis` (default last), stable for large logits. Over
 * the last axis it is one op (the backend's kernel; backward g − e^y·Σ g), over another axis
 * x − logsumexp(x). Integer inputs give float32.
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  assertTensor("logSoftmax", "x", x);
  const a = normalizeAxis("logSoftmax", axis, x.ndim);
  const xf = isFloat(x.dtype) ? x : x.to("float32");
  if (a === x.ndim - 1) return logSoftmaxLast(xf);
  return composite("logSoftmax", [xf], { axis: a }, () => sub(xf, logsumexp(xf, { axis: a, keepDim: true })));
}
