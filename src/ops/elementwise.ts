import { getBackend, type BinaryOp, type UnaryOp } from "../backend/index.js";
import { defineOp } from "../autograd/define-op.js";
import { allocate } from "../tensor/dtype.js";
import { broadcastShapes, broadcastStrides, sizeOf } from "../tensor/shape.js";
import { Tensor, assertTensor, type TensorLike } from "../tensor/tensor.js";
import { binaryOperands, floatDType, mapBinary, mapUnary } from "./util.js";
import { zerosLike } from "../tensor/creation.js";

// ------------------------------------------------------------------ binary arithmetic
// Each backward returns gradients of the broadcast shape; the engine sums them back to each
// input's own shape (sumToShape), so no op here deals with broadcasting in backward.

const addOp = defineOp({
  name: "add",
  forward: (_ctx, a: Tensor, b: Tensor) => mapBinary("add", "add", a, b, a.dtype),
  // The add gate distributes: both inputs get the upstream gradient unchanged.
  backward: (_ctx, gradOut) => [gradOut, gradOut],
});

// Primitive for speed (one kernel pass instead of add + neg).
const subOp = defineOp({
  name: "sub",
  forward: (_ctx, a: Tensor, b: Tensor) => mapBinary("sub", "sub", a, b, a.dtype),
  backward: (ctx, gradOut) => [gradOut, ctx.needsInputGrad[1] ? neg(gradOut) : null],
});

const mulOp = defineOp<[Tensor, Tensor], [Tensor, Tensor]>({
  name: "mul",
  forward(ctx, a, b) {
    ctx.save([a, b]);
    return mapBinary("mul", "mul", a, b, a.dtype);
  },
  // The mul gate swaps: each input's local gradient is the other input.
  backward(ctx, gradOut) {
    const [a, b] = ctx.saved;
    return [ctx.needsInputGrad[0] ? mul(gradOut, b) : null, ctx.needsInputGrad[1] ? mul(gradOut, a) : null];
  },
});

const divOp = defineOp<[Tensor, Tensor], [Tensor, Tensor]>({
  name: "div",
  forward(ctx, a, b) {
    ctx.save([a, b]);
    return mapBinary("div", "div", a, b, a.dtype);
  },
  // d(a/b)/da = 1/b, d(a/b)/db = -a/b².
  backward(ctx, gradOut) {
    const [a, b] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? div(gradOut, b) : null,
      ctx.needsInputGrad[1] ? neg(div(mul(gradOut, a), mul(b, b))) : null,
    ];
  },
});

const powOp = defineOp<[Tensor, Tensor], [Tensor, Tensor, Tensor]>({
  name: "pow",
  forward(ctx, a, b) {
    const out = mapBinary("pow", "pow", a, b, a.dtype);
    ctx.save([a, b, out]);
    return out;
  },
  // d(a^b)/da = b·a^(b−1); d(a^b)/db = a^b·ln a, taken as 0 where a = 0 (as PyTorch does).
  backward(ctx, gradOut) {
    const [a, b, out] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? mul(gradOut, mul(b, pow(a, sub(b, 1)))) : null,
      ctx.needsInputGrad[1] ? where(eq(a, 0), 0, mul(gradOut, mul(out, log(a)))) : null,
    ];
  },
});

function extremum(name: "maximum" | "minimum") {
  return defineOp<[Tensor, Tensor], [Tensor, Tensor]>({
    name,
    forward(ctx, a, b) {
      ctx.save([a, b]);
      return mapBinary(name, name, a, b, a.dtype);
    },
    // The max gate routes: the whole gradient goes to the chosen input; on a tie each gets half
    // (PyTorch's rule for maximum/minimum).
    backward(ctx, gradOut) {
      const [a, b] = ctx.saved;
      const aWins = name === "maximum" ? gt(a, b) : lt(a, b);
      const half = mul(gradOut, 0.5);
      const tie = eq(a, b);
      return [
        ctx.needsInputGrad[0] ? where(aWins, gradOut, where(tie, half, 0)) : null,
        ctx.needsInputGrad[1] ? where(aWins, 0, where(tie, half, gradOut)) : null,
      ];
    },
  });
}
const maximumOp = extremum("maximum");
const minimumOp = extremum("minimum");

/** a + b, broadcast. `a: [...]`, `b: [...]` → broadcast shape. */
export function add(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands("add", a, b, "int32");
  return addOp(x, y);
}
/** a − b, broadcast. */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands("sub", a, b, "int32");
  return subOp(x, y);
}
/** a · b elementwise, broadcast. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands("mul", a, b, "int32");
  return mulOp(x, y);
}
/** a / b (true division: integer inputs give float32), broadcast. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands("div", a, b, "float32");
  return divOp(x, y);
}
/** a ** b elementwise, broadcast; computed in float (integer inputs give float32). */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands("pow", a, b, "float32");
  return powOp(x, y);
}
/** Elementwise maximum, broadcast. NaN propagates. On ties the gradient is split evenly. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands("maximum", a, b);
  return maximumOp(x, y);
}
/** Elementwise minimum, broadcast. NaN propagates. On ties the gradient is split evenly. */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = binaryOperands("minimum", a, b);
  return minimumOp(x, y);
}

// ------------------------------------------------------------------ comparisons (bool masks, no gradient)

function comparison(op: BinaryOp) {
  return (a: TensorLike, b: TensorLike): Tensor => {
    const [x, y] = binaryOperands(op, a, b);
    return mapBinary(op, op, x, y, "bool");
  };
}
/** Elementwise a == b as a bool mask. */
export const eq = comparison("eq");
/** Elementwise a != b as a bool mask. */
export const ne = comparison("ne");
/** Elementwise a > b as a bool mask. */
export const gt = comparison("gt");
/** Elementwise a >= b as a bool mask. */
export const ge = comparison("ge");
/** Elementwise a < b as a bool mask. */
export const lt = comparison("lt");
/** Elementwise a <= b as a bool mask. */
export const le = comparison("le");

/** Elementwise logical not (true where x == 0), as a bool mask. */
export function logicalNot(x: Tensor): Tensor {
  assertTensor("logicalNot", "x", x);
  return mapUnary(x, "logicalNot", "bool");
}
/** True where x is neither NaN nor ±Infinity. */
export function isFinite(x: Tensor): Tensor {
  assertTensor("isFinite", "x", x);
  return mapUnary(x, "isFinite", "bool");
}

// ------------------------------------------------------------------ where

const whereOp = defineOp<[Tensor, Tensor, Tensor], Tensor>({
  name: "where",
  forward(ctx, cond, a, b) {
    ctx.save(cond);
    const shape = broadcastShapes("where", broadcastShapes("where", cond.shape, a.shape), b.shape);
    const out = allocate(a.dtype, sizeOf(shape));
    getBackend().where(cond._buf, broadcastStrides(cond.shape, shape), a._buf, broadcastStrides(a.shape, shape), b._buf, broadcastStrides(b.shape, shape), out, shape);
    return Tensor.fromStorage(out, shape, a.dtype);
  },
  // Routes like the max gate: each element's gradient goes to the branch that was chosen.
  backward(ctx, gradOut) {
    const cond = ctx.saved;
    return [
      null,
      ctx.needsInputGrad[1] ? where(cond, gradOut, 0) : null,
      ctx.needsInputGrad[2] ? where(cond, 0, gradOut) : null,
    ];
  },
});

/**
 * Elementwise `cond ? a : b`, all three broadcast together. `cond` is a mask (any dtype:
 * non-zero means true). Gradients flow to `a` where cond holds and to `b` elsewhere.
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  assertTensor("where", "cond", cond);
  const [x, y] = binaryOperands("where", a, b);
  return whereOp(cond, x, y);
}

// ------------------------------------------------------------------ unary

/** Defines a float unary op from its kernel and its backward (given x, out and gradOut). */
function unaryOp(name: string, kernel: UnaryOp, backward: (gradOut: Tensor, x: Tensor, out: Tensor, p0: number, p1: number) => Tensor | null, p0 = 0, p1 = 0) {
  const op = defineOp<[Tensor, number, number], [Tensor, Tensor, number, number]>({
    name,
    forward(ctx, x, a0, a1) {
      const out = mapUnary(x, kernel, floatDType(x.dtype), a0, a1);
      ctx.save([x, out, a0, a1]);
      return out;
    },
    backward(ctx, gradOut) {
      const [x, out, a0, a1] = ctx.saved;
      return [backward(gradOut, x, out, a0, a1)];
    },
    describe: (_x, a0, a1) => (name === "leakyRelu" ? { negativeSlope: a0 } : name === "elu" ? { alpha: a0 } : name === "softplus" ? { beta: a0, threshold: a1 } : {}),
  });
  return (x: Tensor, a0 = p0, a1 = p1): Tensor => {
    assertTensor(name, "x", x);
    return op(x, a0, a1);
  };
}

const negOp = defineOp({
  name: "neg",
  forward: (_ctx, x: Tensor) => mapUnary(x, "neg"),
  backward: (_ctx, gradOut) => [neg(gradOut)],
});
/** −x. */
export function neg(x: Tensor): Tensor {
  assertTensor("neg", "x", x);
  return negOp(x.dtype === "bool" ? x.to("int32") : x);
}

/** eˣ. */
export const exp = unaryOp("exp", "exp", (g, _x, out) => mul(g, out));
/** Natural logarithm. */
export const log = unaryOp("log", "log", (g, x) => div(g, x));
/** √x. */
export const sqrt = unaryOp("sqrt", "sqrt", (g, _x, out) => div(g, mul(out, 2)));
/** |x|. Gradient sign(x), which is 0 at x = 0 (PyTorch's choice). */
export const abs = unaryOp("abs", "abs", (g, x) => mul(g, sign(x)));
/** sign(x) ∈ {−1, 0, 1}; its gradient is zero everywhere. */
export const sign = unaryOp("sign", "sign", (g) => zerosLike(g));
/** tanh(x); local gradient 1 − tanh²(x), read from the output. */
export const tanh = unaryOp("tanh", "tanh", (g, _x, out) => mul(g, sub(1, mul(out, out))));
/**
 * σ(x) = 1 / (1 + e⁻ˣ). One primitive gate (for stability and speed) whose local gradient
 * σ(x)(1 − σ(x)) is read from the output, as in the lecture.
 */
export const sigmoid = unaryOp("sigmoid", "sigmoid", (g, _x, out) => mul(g, mul(out, sub(1, out))));
/**
 * max(x, 0). Written as a routing gate: the gradient passes where the output is positive and
 * is 0 elsewhere, including at exactly x = 0 (PyTorch's choice).
 */
export const relu = unaryOp("relu", "relu", (g, _x, out) => where(gt(out, 0), g, 0));
/** x for x > 0, slope·x otherwise (default slope 0.01). At x = 0 the gradient is the slope. */
export const leakyRelu = unaryOp("leakyRelu", "leakyRelu", (g, x, _out, slope) => where(gt(x, 0), g, mul(g, slope)), 0.01);
/** x for x > 0, α(eˣ − 1) otherwise (default α = 1). Local gradient for x ≤ 0 is out + α. */
export const elu = unaryOp("elu", "elu", (g, x, out, alpha) => where(gt(x, 0), g, mul(g, add(out, alpha))), 1);

/** Options of softplus, as in PyTorch. */
export interface SoftplusOptions {
  /** Sharpness β in log(1 + e^(βx))/β. Default 1. */
  beta?: number;
  /** Above βx > threshold the output is x itself (linear). Default 20. */
  threshold?: number;
}
const softplusOp = unaryOp("softplus", "softplus", (g, x, _out, beta, threshold) =>
  where(gt(mul(x, beta), threshold), g, mul(g, sigmoid(mul(x, beta)))),
);
/** log(1 + e^(βx))/β, computed without overflow; local gradient σ(βx). */
export function softplus(x: Tensor, options: SoftplusOptions = {}): Tensor {
  return softplusOp(x, options.beta ?? 1, options.threshold ?? 20);
}

/** x² (x·x: the gradient is the sum of both branches, 2x). */
export function square(x: Tensor): Tensor {
  return mul(x, x);
}
/** 1/x. */
export function reciprocal(x: Tensor): Tensor {
  return div(1, x);
}

/**
 * Limits x to [min, max] (either bound may be null). The gradient passes where the input is
 * inside the closed interval, bounds included, as in PyTorch.
 */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  assertTensor("clamp", "x", x);
  let out = x;
  if (min !== undefined && min !== null) out = where(lt(out, min), min, out);
  if (max !== undefined && max !== null) out = where(gt(out, max), max, out);
  return out === x ? add(x, 0) : out;
}

