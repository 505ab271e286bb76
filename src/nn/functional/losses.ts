/**
 * Loss functions and regularisers (PyTorch's `torch.nn.functional`, in camelCase).
 *
 * Everything here is composed from the differentiable ops of `src/ops`, except two primitives
 * made with `defineOp`, each for a stated reason:
 * - `crossEntropy`: a fused log-softmax + pick (stable for logits in the thousands, one pass
 *   over the data instead of ~8 ops, and an analytic backward softmax − target);
 * - `binaryCrossEntropy`: PyTorch clamps its logs at −100; composed, the gradient at p = 0 or 1
 *   would be 0/0 = NaN, so the op has its own bounded backward, as PyTorch's has.
 * Both backwards are written with tensor ops (cross-entropy's whenever a graph is being
 * recorded, i.e. under `createGraph`), so second derivatives work.
 *
 * Formulas, reduction rules and conventions: docs/losses.md.
 */
import { defineOp } from "../../autograd/define-op.js";
import { isGradEnabled } from "../../autograd/mode.js";
import { DTypeError, IndexError, ShapeError, ValueError, fmtShape } from "../../errors.js";
import {
  abs,
  add,
  div,
  gather,
  log,
  logSoftmax,
  maximum,
  mean,
  mul,
  neg,
  permute,
  relu,
  reshape,
  softmax,
  softplus,
  square,
  sub,
  sum,
  where,
} from "../../ops/index.js";
import { zeros } from "../../tensor/creation.js";
import { allocateHost, allocateUninit, type DType, type Storage } from "../../tensor/dtype.js";
import { adoptHost, deviceActive, dispose } from "../../tensor/storage.js";
import { getBackend } from "../../backend/index.js";
import { broadcastShapes, shapesEqual, stridesOf } from "../../tensor/shape.js";
import { Tensor, assertTensor } from "../../tensor/tensor.js";
import { checkFloat, checkNumber } from "./util.js";

// ================================================================== shared helpers

/** How a loss reduces its per-element values: their mean (default), their sum, or none (keep them). */
export type Reduction = "mean" | "sum" | "none";

function checkReduction(fn: string, reduction: unknown): Reduction {
  if (reduction === "mean" || reduction === "sum" || reduction === "none") return reduction;
  throw new ValueError(`${fn}: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}.`);
}

/** Applies a reduction to a tensor of per-element losses. */
function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === "none") return loss;
  return reduction === "sum" ? sum(loss) : mean(loss);
}


function checkSameShape(fn: string, nameA: string, a: Tensor, nameB: string, b: Tensor): void {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new ShapeError(
      `${fn}: '${nameA}' has shape ${fmtShape(a.shape)} but '${nameB}' has shape ${fmtShape(b.shape)}; they must be equal ` +
        `(losses do not broadcast: a [N] vs [N, 1] mix-up would silently give an [N, N] loss). Reshape one of them, e.g. ${nameB}.reshape(${fmtShape(a.shape)}).`,
    );
  }
}


/** Multi-index of flat position `i` in `shape`, as printed in messages: `[1, 3]`. */
function positionOf(i: number, shape: readonly number[]): string {
  if (shape.length === 0) return "[]";
  const strides = stridesOf(shape);
  return `[${strides.map((s, d) => Math.floor(i / s) % shape[d]!).join(", ")}]`;
}

/** Class-index inputs: scores or log-probabilities seen as [M, C] (class axis last) and labels [M]. */
interface ClassInputs {
  /** The scores as [M, C] (a differentiable view/permutation of the caller's tensor). */
  x2: Tensor;
  labels: Int32Array;
  m: number;
  c: number;
  /** The shape of an unreduced loss (the labels' shape). */
  outShape: readonly number[];
}

/**
 * Checks scores [N, C, d1, ...] (or [C], unbatched) against int32 labels [N, d1, ...] (or 0-d)
 * and moves the class axis last: PyTorch's layout for cross-entropy and NLL.
 */
function classInputs(fn: string, xName: string, x: Tensor, labels: Tensor, ignoreIndex: number | null, allowExtraDims: boolean): ClassInputs {
  assertTensor(fn, xName, x);
  assertTensor(fn, "labels", labels);
  checkFloat(fn, xName, x);
  if (labels.dtype !== "int32") {
    throw new DTypeError(
      `${fn}: 'labels' must be an int32 tensor of class indices, got ${labels.dtype}. Create them with { dtype: "int32" } or cast with labels.to("int32").`,
    );
  }
  const minRank = allowExtraDims ? 1 : 2;
  if (x.ndim < minRank || (!allowExtraDims && x.ndim > 2)) {
    const want = allowExtraDims ? "[N, C], [N, C, d1, ...] or unbatched [C]" : "[N, C]";
    throw new ShapeError(`${fn}: '${xName}' must have shape ${want}, got ${fmtShape(x.shape)}. Flatten extra axes first, e.g. ${xName}.reshape([-1, C]).`);
  }
  const c = x.ndim === 1 ? x.shape[0]! : x.shape[1]!;
  const expected = x.ndim === 1 ? [] : [x.shape[0]!, ...x.shape.slice(2)];
  if (!shapesEqual(labels.shape, expected)) {
    throw new ShapeError(
      `${fn}: '${xName}' has shape ${fmtShape(x.shape)} so 'labels' must have shape ${fmtShape(expected)} (one class index per ${x.ndim === 1 ? "input" : "sample"}), ` +
        `but it has shape ${fmtShape(labels.shape)}. Pass one label per row of ${xName}${labels.ndim === 2 && labels.shape[1] === 1 ? ` (squeeze the labels: labels.reshape([${labels.shape[0]}]))` : ""}.`,
    );
  }
  const data = labels._checkable(fn, "labels") as Int32Array;
  for (let i = 0; i < data.length; i++) {
    const y = data[i]!;
    if (y === ignoreIndex) continue;
    if (y < 0 || y >= c) {
      throw new IndexError(
        `${fn}: labels${positionOf(i, labels.shape)} = ${y} is out of range for C = ${c} classes (${xName} shape ${fmtShape(x.shape)}); ` +
          `each label must be in [0, ${c})${ignoreIndex === null ? "" : ` or equal ignoreIndex (${ignoreIndex})`}.`,
      );
    }
  }
  const m = data.length;
  let x2: Tensor;
  if (x.ndim === 1) x2 = reshape(x, [1, c]);
  else if (x.ndim === 2) x2 = x;
  else x2 = reshape(permute(x, [0, ...x.shape.slice(2).map((_, i) => i + 2), 1]), [m, c]);
  return { x2, labels: data, m, c, outShape: labels.shape };
}

/** The class weights as numbers (length C), or null; a ShapeError unless weight is [C]. */
function classWeights(fn: string, weight: Tensor | null | undefined, c: number): Float64Array | null {
  if (weight === undefined || weight === null) return null;
  assertTensor(fn, "weight", weight);
  if (weight.ndim !== 1 || weight.shape[0] !== c) {
    throw new ShapeError(`${fn}: 'weight' must have shape [${c}] (one weight per class, C = ${c}), got ${fmtShape(weight.shape)}.`);
  }
  return Float64Array.from(weight._checkable(fn, "weight") as ArrayLike<number>);
}

function checkIgnoreIndex(fn: string, ignoreIndex: unknown): number {
  if (typeof ignoreIndex !== "number" || !Number.isInteger(ignoreIndex)) throw new ValueError(`${fn}: ignoreIndex must be an integer, got ${String(ignoreIndex)}.`);
  return ignoreIndex;
}

/** A constant tensor over a Float64Array's values, in `dtype` (on the device where the backend keeps tensors there). */
function constant(values: Float64Array, shape: readonly number[], dtype: DType): Tensor {
  const out = allocateHost(dtype, values.length);
  out.set(values);
  return Tensor.fromStorage(adoptHost(out, dtype), shape, dtype);
}

// ================================================================== cross-entropy

/** Options of `crossEntropy`, as in `torch.nn.functional.cross_entropy`. */
export interface CrossEntropyOptions {
  /** "mean" (default): divided by the summed weights of the counted targets; "sum"; "none": one loss per sample. */
  reduction?: Reduction;
  /** ε in [0, 1]: the target puts 1 − ε on the label and ε/C on every class (default 0). */
  labelSmoothing?: number;
  /** Per-class weights [C] (a constant: it gets no gradient). */
  weight?: Tensor | null;
  /** Samples whose label equals this are skipped: loss 0, gradient 0, not counted in the mean. Default −100. */
  ignoreIndex?: number;
}

interface CESpec {
  labels: Int32Array;
  weight: Float64Array | null;
  smoothing: number;
  ignoreIndex: number;
  reduction: Reduction;
}

interface CESaved {
  x: Tensor;
  spec: CESpec;
  /** Σ of the target weights of the counted samples (the divisor of "mean"). */
  denom: number;
  /** Q[n] = Σ_c q[n, c], the total target mass of row n (0 for ignored rows). */
  mass: Float64Array;
  /** softmax(x) [M, C] from forward, in x's dtype (the backend's kernel; rows of ignored samples too). */
  probs: Storage;
}

/** q[n, c]: the weighted target distribution of row n (times its class weights), written into `row`. */
function targetRow(spec: CESpec, y: number, c: number, row: Float64Array): void {
  const { weight, smoothing } = spec;
  const share = smoothing / c;
  for (let j = 0; j < c; j++) row[j] = share * (weight ? weight[j]! : 1);
  row[y] = row[y]! + (1 - smoothing) * (weight ? weight[y]! : 1);
}

/**
 * Softmax cross-entropy as ONE primitive, for stability and speed. One call of the backend's
 * softmax kernel gives each row's shift m (its max), log Σe^(x−m) (in float64) and softmax(x)
 * (kept for backward); −log p_j = lse − (x_j − m), both terms accurate, so logits in the
 * thousands give finite losses and gradients. One pass picks and weights the targets, instead
 * of the ~8 ops of logSoftmax + gather + weighting. The gradient is g·(p·Q − q), with q the
 * (smoothed, weighted) target distribution of the row and Q its total mass: without a graph
 * being recorded, the backend's broadcast kernels apply it to the kept softmax pass by pass;
 * under `createGraph` it is written with tensor ops (softmax of the saved logits), so it is
 * itself differentiable.
 */
const crossEntropyOp = defineOp<[Tensor, CESpec], CESaved>({
  name: "crossEntropy",
  forward(ctx, x, spec) {
    const [m, c] = x.shape as [number, number];
    const { labels, weight, smoothing, ignoreIndex, reduction } = spec;
    const xd = x.data;
    const losses = new Float64Array(m);
    const mass = new Float64Array(m);
    // stats: per row, the shift m (0 where the max is ±∞ or NaN) and log Σe^(x−m).
    const stats = new Float64Array(2 * m);
    const probs = allocateUninit(x.dtype, m * c);
    getBackend().softmax("softmax", xd, m, c, probs, stats);
    const q = new Float64Array(smoothing === 0 ? 0 : c);
    let denom = 0;
    for (let n = 0; n < m; n++) {
      const y = labels[n]!;
      if (y === ignoreIndex) continue;
      const off = n * c;
      const mx = stats[2 * n]!;
      const lse = stats[2 * n + 1]!;
      // −log p_j = lse − (x_j − max): both terms accurate, nothing overflows.
      const wy = weight ? weight[y]! : 1;
      if (smoothing === 0) {
        losses[n] = wy * (lse - (xd[off + y]! - mx));
        mass[n] = wy;
      } else {
        targetRow(spec, y, c, q);
        let loss = 0;
        let total = 0;
        for (let j = 0; j < c; j++) {
          loss += q[j]! * (lse - (xd[off + j]! - mx));
          total += q[j]!;
        }
        losses[n] = loss;
        mass[n] = total;
      }
      denom += wy;
    }
    // The softmax is kept only when the op is recorded (backward will need it).
    if (ctx.needsInputGrad[0] === true) ctx.save({ x, spec, denom, mass, probs });
    else dispose(Tensor.fromStorage(probs, [m, c], x.dtype));
    if (reduction === "none") return constant(losses, [m], x.dtype);
    let s = 0;
    for (let n = 0; n < m; n++) s += losses[n]!;
    return constant(Float64Array.of(reduction === "sum" ? s : s / denom), [], x.dtype);
  },
  backward(ctx, gradOut) {
    const { x, spec, denom, mass, probs } = ctx.saved;
    const [m, c] = x.shape as [number, number];
    const { labels, weight, smoothing, ignoreIndex, reduction } = spec;
    if (isGradEnabled()) {
      // createGraph: the same formula with recorded ops, differentiable in x and in gradOut.
      const qAll = new Float64Array(m * c);
      for (let n = 0; n < m; n++) {
        const y = labels[n]!;
        if (y === ignoreIndex) continue;
        if (smoothing === 0) qAll[n * c + y] = weight ? weight[y]! : 1;
        else targetRow(spec, y, c, qAll.subarray(n * c, n * c + c));
      }
      const local = sub(mul(softmax(x, -1), constant(mass, [m, 1], x.dtype)), constant(qAll, [m, c], x.dtype));
      const g = reduction === "none" ? reshape(gradOut, [m, 1]) : reduction === "sum" ? gradOut : div(gradOut, denom);
      return [mul(g, local)];
    }
    // g·(p·Q − q) from the kept softmax p, by the backend's broadcast kernels, one pass per
    // factor in the order of the formula (a [M, 1] column: ·Q, ·g; a [C] row: − ε·w_j/C),
    // each from one buffer into another (the wasm kernels may not run in place; p is kept
    // intact for another backward); then the label of each row, and the ignored rows.
    const be = getBackend();
    const go = gradOut.data;
    const shape = [m, c];
    const COL = [1, 0];
    const make = (n: number): Storage => (x.dtype === "float64" ? new Float64Array(n) : new Float32Array(n));
    const scale = reduction === "mean" ? 1 / denom : 1;
    const g = new Float64Array(m);
    for (let n = 0; n < m; n++) if (labels[n] !== ignoreIndex) g[n] = (reduction === "none" ? go[n]! : go[0]!) * scale;
    const base = new Float64Array(smoothing === 0 ? 0 : c);
    for (let j = 0; j < base.length; j++) base[j] = (smoothing / c) * (weight ? weight[j]! : 1);
    const passes: [op: "mul" | "sub", operand: Float64Array, strides: number[]][] = [];
    // ·Q (Q = 1 for every counted row when unweighted and unsmoothed).
    if (weight !== null || smoothing !== 0) passes.push(["mul", mass, COL]);
    if (smoothing !== 0) passes.push(["sub", base, [0, 1]]);
    passes.push(["mul", g, COL]);
    const out = allocateUninit(x.dtype, m * c);
    const spare = passes.length > 1 ? allocateUninit(x.dtype, m * c) : out;
    let cur = probs;
    passes.forEach(([op, operand, strides], i) => {
      const dst = (passes.length - 1 - i) % 2 === 0 ? out : spare;
      const b = make(operand.length);
      b.set(operand);
      be.binary(op, cur, undefined, b, strides, dst, shape);
      cur = dst;
    });
    if (spare !== out) dispose(Tensor.fromStorage(spare, [m, c], x.dtype));
    for (let n = 0; n < m; n++) {
      const y = labels[n]!;
      const off = n * c;
      if (y === ignoreIndex) {
        out.fill(0, off, off + c); // ignored: zero gradient
        continue;
      }
      // q_y (as targetRow makes it): w_y, or ε·w_y/C + (1 − ε)·w_y.
      const wy = weight ? weight[y]! : 1;
      const qy = smoothing === 0 ? wy : base[y]! + (1 - smoothing) * wy;
      out[off + y] = g[n]! * (probs[off + y]! * mass[n]! - qy);
    }
    return [Tensor.fromStorage(out, [m, c], x.dtype)];
  },
  describe: (_x, spec) => ({ reduction: spec.reduction, labelSmoothing: spec.smoothing, ignoreIndex: spec.ignoreIndex, weighted: spec.weight !== null }),
});

/**
 * crossEntropy on a device backend (webgpu), where the primitive's host loops cannot run: the
 * same loss, Σ_c q[n, c]·(−logSoftmax(x)[n, c]) per row with q the (smoothed, weighted) target
 * distribution built on the host from the labels, from recorded ops (logSoftmax is one kernel
 * and one primitive), so backward is g·(p·Q − q) through autograd. No value is read back.
 */
function crossEntropyComposed(x: Tensor, spec: CESpec): Tensor {
  const [m, c] = x.shape as [number, number];
  const { labels, weight, smoothing, ignoreIndex, reduction } = spec;
  const q = new Float64Array(m * c);
  let denom = 0;
  for (let n = 0; n < m; n++) {
    const y = labels[n]!;
    if (y === ignoreIndex) continue;
    if (smoothing === 0) q[n * c + y] = weight ? weight[y]! : 1;
    else targetRow(spec, y, c, q.subarray(n * c, n * c + c));
    denom += weight ? weight[y]! : 1;
  }
  const perRow = neg(sum(mul(logSoftmax(x, -1), constant(q, [m, c], x.dtype)), { axis: 1 }));
  if (reduction === "none") return perRow;
  const total = sum(perRow);
  return reduction === "sum" ? total : div(total, denom);
}

/**
 * Softmax cross-entropy between logits and integer class labels, like
 * `torch.nn.functional.cross_entropy`: the loss of sample n is −log softmax(x_n)[y_n].
 *
 * Shapes: `logits` [N, C] with `labels` [N]; or [N, C, d1, ...] with labels [N, d1, ...]
 * (class axis 1, e.g. per-pixel labels); or unbatched [C] with a 0-d label. Labels are int32
 * in [0, C) or equal to `ignoreIndex`. Output: a 0-d tensor, or the labels' shape with
 * reduction "none".
 *
 * With label smoothing ε and class weights w (PyTorch's exact rules):
 * loss_n = (1 − ε)·w[y_n]·(−log p_n[y_n]) + (ε/C)·Σ_c w[c]·(−log p_n[c]); "mean" divides the sum
 * by Σ_n w[y_n] over the samples not ignored (N when unweighted; NaN if every sample is ignored).
 *
 * One fused primitive (see the op above): stable for logits in the thousands in float32 and
 * float64, and twice differentiable.
 *
 * Throws DTypeError for non-int32 labels or integer logits, IndexError for a label outside
 * [0, C) (naming its position, value and C), ShapeError when the shapes do not match.
 *
 * @example
 * const logits = tensor([[2, 1, 0.1], [0.5, 2.5, 0.3]], { requiresGrad: true });
 * const labels = tensor([0, 1], { dtype: "int32" });
 * const loss = crossEntropy(logits, labels); // 0-d, ≈ 0.3185
 * loss.backward();                           // logits.grad = (softmax(logits) − onehot) / 2
 */
export function crossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const fn = "crossEntropy";
  const reduction = checkReduction(fn, options.reduction ?? "mean");
  const smoothing = checkNumber(fn, "labelSmoothing", options.labelSmoothing ?? 0, 0, 1);
  const ignoreIndex = checkIgnoreIndex(fn, options.ignoreIndex ?? -100);
  const { x2, labels: y, c, outShape } = classInputs(fn, "logits", logits, labels, ignoreIndex, true);
  const weight = classWeights(fn, options.weight, c);
  const spec: CESpec = { labels: y, weight, smoothing, ignoreIndex, reduction };
  const out = deviceActive() ? crossEntropyComposed(x2, spec) : crossEntropyOp(x2, spec);
  return reduction === "none" && !shapesEqual(out.shape, outShape) ? reshape(out, outShape) : out;
}

// ================================================================== NLL

/** Options of `nllLoss`, as in `torch.nn.functional.nll_loss`. */
export interface NllLossOptions {
  /** "mean" (default): divided by the summed weights of the counted targets; "sum"; "none". */
  reduction?: Reduction;
  /** Per-class weights [C] (a constant: it gets no gradient). */
  weight?: Tensor | null;
  /** Samples whose label equals this are skipped (loss 0, not counted). Default −100. */
  ignoreIndex?: number;
}

/**
 * Negative log-likelihood of log-probabilities, like `torch.nn.functional.nll_loss`:
 * loss_n = −w[y_n]·logProbs[n, y_n]. Feed it `x.logSoftmax(1)`; `crossEntropy` does both in one
 * stable step. "mean" divides by Σ_n w[y_n] over the samples not ignored.
 *
 * Shapes: `logProbs` [N, C] (or [N, C, d1, ...], or [C]), `labels` int32 [N] (or [N, d1, ...], or 0-d).
 * Output 0-d, or the labels' shape with reduction "none". Composed from gather and where.
 *
 * @example
 * const logp = tensor([[-0.1, -2.4], [-1.6, -0.2]], { requiresGrad: true });
 * nllLoss(logp, tensor([0, 1], { dtype: "int32" })); // (0.1 + 0.2) / 2 = 0.15
 */
export function nllLoss(logProbs: Tensor, labels: Tensor, options: NllLossOptions = {}): Tensor {
  const fn = "nllLoss";
  const reduction = checkReduction(fn, options.reduction ?? "mean");
  const ignoreIndex = checkIgnoreIndex(fn, options.ignoreIndex ?? -100);
  const { x2, labels: y, m, c, outShape } = classInputs(fn, "logProbs", logProbs, labels, ignoreIndex, true);
  const weight = classWeights(fn, options.weight, c);
  const safe = new Int32Array(m);
  const w = new Float64Array(m);
  const keep = new Uint8Array(m);
  let denom = 0;
  for (let n = 0; n < m; n++) {
    if (y[n] === ignoreIndex) continue;
    safe[n] = y[n]!;
    keep[n] = 1;
    w[n] = weight ? weight[y[n]!]! : 1;
    denom += w[n]!;
  }
  const picked = reshape(gather(x2, 1, Tensor.fromStorage(safe, [m, 1], "int32")), [m]);
  // where (not a multiply by 0) so that an ignored row holding −∞ gives 0, not NaN.
  const losses = where(Tensor.fromStorage(keep, [m], "bool"), neg(mul(picked, constant(w, [m], x2.dtype))), 0);
  if (reduction === "none") return reshape(losses, outShape);
  return reduction === "sum" ? sum(losses) : div(sum(losses), denom);
}

// ================================================================== hinge losses

/** Options of `svmLoss`. */
export interface SvmLossOptions {
  /** Δ, the margin the correct class must win by (default 1). */
  margin?: number;
  /** "mean" (default, over the N samples), "sum", or "none" (one loss per sample, [N]). */
  reduction?: Reduction;
}

/** Options of `multiMarginLoss`, as in `torch.nn.functional.multi_margin_loss`. */
export interface MultiMarginLossOptions extends SvmLossOptions {
  /** 1 (hinge, default) or 2 (squared hinge). */
  p?: number;
  /** Per-class weights [C]: sample n's terms are multiplied by weight[y_n] (a constant). */
  weight?: Tensor | null;
}

/** max(0, s_j − s_y + margin) for every j, with the j = y terms masked out: [N, C]. */
function hingeTerms(fn: string, scores: Tensor, labels: Tensor, margin: number): { terms: Tensor; y: Int32Array; n: number; c: number } {
  const { labels: y, m: n, c } = classInputs(fn, "scores", scores, labels, null, false);
  const correct = gather(scores, 1, Tensor.fromStorage(y, [n, 1], "int32")); // s_y, [N, 1]
  const isLabel = new Uint8Array(n * c);
  for (let i = 0; i < n; i++) isLabel[i * c + y[i]!] = 1;
  // relu passes gradient only where its output is > 0: at the kink (s_j − s_y + Δ = 0) the gradient is 0.
  const terms = where(Tensor.fromStorage(isLabel, [n, c], "bool"), 0, relu(add(sub(scores, correct), margin)));
  return { terms, y, n, c };
}

/**
 * The multiclass SVM (hinge) loss of CS231n:
 * L_n = Σ_{j ≠ y_n} max(0, s_j − s_{y_n} + Δ), averaged over the N samples ("mean"), with
 * NO division by the number of classes C. It equals C · `multiMarginLoss` (p = 1, no weight).
 * At the kink (a term exactly 0) the gradient is 0.
 *
 * Shapes: `scores` [N, C], `labels` int32 [N] in [0, C). Output 0-d, or [N] with "none".
 * Composed from gather, relu and sum.
 *
 * @example
 * const scores = tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]]);
 * svmLoss(scores, tensor([0, 1, 2], { dtype: "int32" }), { reduction: "none" }); // [2.9, 0, 12.9]
 */
export function svmLoss(scores: Tensor, labels: Tensor, options: SvmLossOptions = {}): Tensor {
  const fn = "svmLoss";
  const reduction = checkReduction(fn, options.reduction ?? "mean");
  const margin = checkNumber(fn, "margin", options.margin ?? 1);
  const { terms } = hingeTerms(fn, scores, labels, margin);
  return reduce(sum(terms, { axis: 1 }), reduction);
}

/**
 * PyTorch's multi-class margin loss (`torch.nn.functional.multi_margin_loss`):
 * L_n = Σ_{j ≠ y_n} w[y_n]·max(0, Δ − s_{y_n} + s_j)^p / C — note the division by C, which the
 * CS231n `svmLoss` does not have (svmLoss = C · multiMarginLoss for p = 1 without weights).
 * The weight multiplies after the power, as PyTorch's kernel does. "mean" averages over N
 * (not over the weights). At the kink the gradient is 0.
 *
 * Shapes: `scores` [N, C], `labels` int32 [N], `weight` [C]. Output 0-d, or [N] with "none".
 *
 * @example
 * const scores = tensor([[0.1, 0.2, 0.4, 0.8]]);
 * multiMarginLoss(scores, tensor([3], { dtype: "int32" })); // (0.3 + 0.4 + 0.6) / 4 = 0.325
 */
export function multiMarginLoss(scores: Tensor, labels: Tensor, options: MultiMarginLossOptions = {}): Tensor {
  const fn = "multiMarginLoss";
  const reduction = checkReduction(fn, options.reduction ?? "mean");
  const margin = checkNumber(fn, "margin", options.margin ?? 1);
  const p = options.p ?? 1;
  if (p !== 1 && p !== 2) throw new ValueError(`${fn}: p must be 1 or 2 (as in PyTorch), got ${String(p)}.`);
  const { terms, y, n, c } = hingeTerms(fn, scores, labels, margin);
  const weight = classWeights(fn, options.weight, c);
  let per = p === 2 ? square(terms) : terms;
  if (weight) {
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = weight[y[i]!]!;
    per = mul(per, constant(w, [n, 1], scores.dtype));
  }
  return reduce(div(sum(per, { axis: 1 }), c), reduction);
}

// ================================================================== binary cross-entropy

/** Options of `binaryCrossEntropyWithLogits`, as in PyTorch. */
export interface BceWithLogitsOptions {
  /** "mean" (default, over all elements), "sum", or "none" (x's shape). */
  reduction?: Reduction;
  /** Weight of the positive term, broadcast against x (typically [C], one per class); a constant. */
  posWeight?: Tensor | null;
  /** Rescales each element's loss, broadcast against x; a constant. */
  weight?: Tensor | null;
}

function checkBroadcastsTo(fn: string, name: string, t: Tensor, xName: string, shape: readonly number[]): void {
  const b = broadcastShapes(`${fn} ('${name}' against '${xName}')`, t.shape, shape);
  if (!shapesEqual(b, shape)) {
    throw new ShapeError(`${fn}: '${name}' of shape ${fmtShape(t.shape)} would broadcast '${xName}' ${fmtShape(shape)} to ${fmtShape(b)}; it must broadcast to ${fmtShape(shape)} itself.`);
  }
}

/**
 * Binary cross-entropy on logits (`torch.nn.functional.binary_cross_entropy_with_logits`):
 * ℓ = −w·[pw·t·log σ(x) + (1 − t)·log(1 − σ(x))], computed as
 * w·[(1 − t)·softplus(x) + pw·t·softplus(−x)] with softplus(z) = max(z, 0) + log1p(e^−|z|).
 * Both terms are positive (no cancellation) and log1p keeps the tiny tails, so it is exact to
 * a few ulps for any |x| (x = ±50, ±1000 included) and never overflows. Without posWeight it
 * equals the familiar max(x, 0) − x·t + log(1 + e^−|x|). The target gets a gradient too.
 *
 * Shapes: `x` and `target` the same shape (float); `weight`, `posWeight` broadcast to it.
 * Output 0-d, or x's shape with "none".
 *
 * @example
 * const x = tensor([2.0, -1.0, 50.0], { dtype: "float64", requiresGrad: true });
 * binaryCrossEntropyWithLogits(x, tensor([1, 0, 1], { dtype: "float64" }), { reduction: "none" });
 * // [0.126928…, 0.313261…, 1.9287498479639178e-22]
 */
export function binaryCrossEntropyWithLogits(x: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  const fn = "binaryCrossEntropyWithLogits";
  const reduction = checkReduction(fn, options.reduction ?? "mean");
  assertTensor(fn, "x", x);
  assertTensor(fn, "target", target);
  checkFloat(fn, "x", x);
  checkFloat(fn, "target", target);
  checkSameShape(fn, "x", x, "target", target);
  const sp = { threshold: Infinity }; // never switch to the linear approximation: exact tails
  let positive = mul(target, softplus(neg(x), sp)); // t·(−log σ(x))
  if (options.posWeight) {
    assertTensor(fn, "posWeight", options.posWeight);
    checkBroadcastsTo(fn, "posWeight", options.posWeight, "x", x.shape);
    positive = mul(positive, options.posWeight.detach()); // a constant, as in PyTorch
  }
  let loss = add(mul(sub(1, target), softplus(x, sp)), positive); // + (1 − t)·(−log(1 − σ(x)))
  if (options.weight) {
    assertTensor(fn, "weight", options.weight);
    checkBroadcastsTo(fn, "weight", options.weight, "x", x.shape);
    loss = mul(loss, options.weight.detach()); // a constant, as in PyTorch
  }
  return reduce(loss, reduction);
}

/** Options of `binaryCrossEntropy`. */
export interface BceOptions {
  /** "mean" (default), "sum", or "none" (probs' shape). */
  reduction?: Reduction;
  /** Rescales each element's loss, broadcast against probs; a constant. */
  weight?: Tensor | null;
}

/**
 * Elementwise BCE on probabilities with PyTorch's log clamp. A primitive for stability: with
 * the logs clamped at −100, a composed backward would compute 0/0 = NaN at p = 0 or 1; this one
 * uses PyTorch's bounded formula (p − t)/max(p(1 − p), ε) with ε = float32(1e-12). Written with tensor ops, so it is
 * twice differentiable. The target's gradient is log(1 − p) − log p, with the same clamp.
 */
/** PyTorch's EPSILON of the BCE backward, a C++ `float` 1e-12: exactly 9.999999960041972e-13. */
const BCE_EPSILON = Math.fround(1e-12);

const bceOp = defineOp<[Tensor, Tensor], [Tensor, Tensor]>({
  name: "binaryCrossEntropy",
  forward(ctx, p, t) {
    ctx.save([p, t]);
    const logP = maximum(log(p), -100);
    const log1mP = maximum(log(sub(1, p)), -100);
    // t·(−log p) + (1 − t)·(−log(1 − p)): a sum of non-negative terms, so an exact 0 prints as 0, not −0.
    return add(mul(t, neg(logP)), mul(sub(1, t), neg(log1mP)));
  },
  backward(ctx, gradOut) {
    const [p, t] = ctx.saved;
    return [
      ctx.needsInputGrad[0] ? mul(gradOut, div(sub(p, t), maximum(mul(sub(1, p), p), BCE_EPSILON))) : null,
      ctx.needsInputGrad[1] ? mul(gradOut, sub(maximum(log(sub(1, p)), -100), maximum(log(p), -100))) : null,
    ];
  },
});

/**
 * Binary cross-entropy between probabilities and targets
 * (`torch.nn.functional.binary_cross_entropy`): ℓ = −w·[t·log p + (1 − t)·log(1 − p)], each log
 * clamped to ≥ −100 as PyTorch does, so p = 0 or 1 gives at most 100 rather than ∞. Prefer
 * `binaryCrossEntropyWithLogits` on logits: it is exact where σ saturates.
 *
 * Shapes: `probs` and `target` the same shape (probs in [0, 1], else ValueError); `weight`
 * broadcast to it. Output 0-d, or probs' shape with "none".
 *
 * @example
 * binaryCrossEntropy(tensor([0.9, 0.2]), tensor([1, 0])); // (−log 0.9 − log 0.8) / 2 ≈ 0.1643
 */
export function binaryCrossEntropy(probs: Tensor, target: Tensor, options: BceOptions = {}): Tensor {
  const fn = "binaryCrossEntropy";
  const reduction = checkReduction(fn, options.reduction ?? "mean");
  assertTensor(fn, "probs", probs);
  assertTensor(fn, "target", target);
  checkFloat(fn, "probs", probs);
  checkFloat(fn, "target", target);
  checkSameShape(fn, "probs", probs, "target", target);
  // Checked where the values are on the host; probs computed on the GPU (webgpu) are not, and a
  // value outside [0, 1] gives a NaN loss there.
  const pd = probs._hostValues() ?? [];
  for (let i = 0; i < pd.length; i++) {
    if (!(pd[i]! >= 0 && pd[i]! <= 1)) {
      throw new ValueError(`${fn}: probs${positionOf(i, probs.shape)} = ${pd[i]} is not a probability in [0, 1]. Apply sigmoid first, or use binaryCrossEntropyWithLogits on the logits.`);
    }
  }
  const t = target.dtype === probs.dtype ? target : target.to(probs.dtype);
  let loss = bceOp(probs, t);
  if (options.weight) {
    assertTensor(fn, "weight", options.weight);
    checkBroadcastsTo(fn, "weight", options.weight, "probs", probs.shape);
    loss = mul(loss, options.weight.detach()); // a constant, as in PyTorch
  }
  return reduce(loss, reduction);
}

// ================================================================== regression losses

/** Options of the regression losses. */
export interface RegressionLossOptions {
  /** "mean" (default, over all elements), "sum", or "none" (the input's shape). */
  reduction?: Reduction;
}

function regressionInputs(fn: string, input: Tensor, target: Tensor): void {
  assertTensor(fn, "input", input);
  assertTensor(fn, "target", target);
  checkFloat(fn, "input", input);
  checkSameShape(fn, "input", input, "target", target);
}

/**
 * Mean squared error (`torch.nn.functional.mse_loss`): ℓ = (input − target)², both inputs
 * differentiable. Shapes must be equal (no broadcasting, unlike PyTorch which warns and
 * broadcasts). Output 0-d, or the input's shape with "none".
 *
 * @example
 * mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0])); // (0 + 4 + 9) / 3 = 4.333…
 */
export function mseLoss(input: Tensor, target: Tensor, options: RegressionLossOptions = {}): Tensor {
  const reduction = checkReduction("mseLoss", options.reduction ?? "mean");
  regressionInputs("mseLoss", input, target);
  return reduce(square(sub(input, target)), reduction);
}

/**
 * Mean absolute error (`torch.nn.functional.l1_loss`): ℓ = |input − target|; gradient
 * sign(input − target), 0 where they are equal. Shapes must be equal. Output 0-d, or the
 * input's shape with "none".
 *
 * @example
 * l1Loss(tensor([1, 2, 3]), tensor([1, 0, 0])); // (0 + 2 + 3) / 3 = 1.666…
 */
export function l1Loss(input: Tensor, target: Tensor, options: RegressionLossOptions = {}): Tensor {
  const reduction = checkReduction("l1Loss", options.reduction ?? "mean");
  regressionInputs("l1Loss", input, target);
  return reduce(abs(sub(input, target)), reduction);
}

/** Options of `smoothL1Loss`. */
export interface SmoothL1LossOptions extends RegressionLossOptions {
  /** β ≥ 0 where the loss turns from quadratic to linear (default 1); β = 0 is the L1 loss. */
  beta?: number;
}

/**
 * Smooth L1 loss (`torch.nn.functional.smooth_l1_loss`): with d = input − target,
 * ℓ = 0.5·d²/β where |d| < β, else |d| − 0.5·β. Shapes must be equal.
 *
 * @example
 * smoothL1Loss(tensor([0.5, 3]), tensor([0, 0]), { reduction: "none" }); // [0.125, 2.5]
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options: SmoothL1LossOptions = {}): Tensor {
  const fn = "smoothL1Loss";
  const reduction = checkReduction(fn, options.reduction ?? "mean");
  const beta = checkNumber(fn, "beta", options.beta ?? 1, 0);
  regressionInputs(fn, input, target);
  const d = sub(input, target);
  const a = abs(d);
  // β = 0 would put 0/0 in the unused branch (and NaN in its gradient): it is exactly L1.
  if (beta === 0) return reduce(a, reduction);
  return reduce(where(a.detach().lt(beta), div(mul(square(d), 0.5), beta), sub(a, 0.5 * beta)), reduction);
}

/** Options of `huberLoss`. */
export interface HuberLossOptions extends RegressionLossOptions {
  /** δ > 0 where the loss turns from quadratic to linear (default 1). */
  delta?: number;
}

/**
 * Huber loss (`torch.nn.functional.huber_loss`): with d = input − target,
 * ℓ = 0.5·d² where |d| < δ, else δ·(|d| − 0.5·δ). It is δ·smoothL1Loss with β = δ.
 *
 * @example
 * huberLoss(tensor([0.5, 3]), tensor([0, 0]), { reduction: "none", delta: 2 }); // [0.125, 4]
 */
export function huberLoss(input: Tensor, target: Tensor, options: HuberLossOptions = {}): Tensor {
  const fn = "huberLoss";
  const reduction = checkReduction(fn, options.reduction ?? "mean");
  const delta = checkNumber(fn, "delta", options.delta ?? 1, 0);
  if (delta === 0) throw new ValueError(`${fn}: delta must be > 0, got 0 (use l1Loss for no quadratic zone).`);
  regressionInputs(fn, input, target);
  const d = sub(input, target);
  const a = abs(d);
  return reduce(where(a.detach().lt(delta), mul(square(d), 0.5), mul(sub(a, 0.5 * delta), delta)), reduction);
}

// ================================================================== regularisers

function regularization(fn: string, params: Iterable<Tensor>, lambda: number, term: (p: Tensor) => Tensor): Tensor {
  checkNumber(fn, "lambda", lambda, 0);
  if (params === null || typeof (params as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== "function") {
    throw new ValueError(`${fn}: 'params' must be an iterable of tensors (an array, or model.parameters()), got ${params === null ? "null" : typeof params}.`);
  }
  let total: Tensor | null = null;
  let i = 0;
  for (const p of params) {
    assertTensor(fn, `params[${i++}]`, p);
    const s = sum(term(p));
    total = total === null ? s : add(total, s);
  }
  return total === null ? zeros([]) : mul(total, lambda);
}

/**
 * The L2 regulariser λ·R(W) with R(W) = Σ_W Σ_i W_i², the "data loss + λR(W)" of CS231n, as a
 * 0-d tensor (0 for no parameters). Its gradient is 2λW, so PyTorch's `weight_decay = wd`
 * (gradient wd·W) corresponds to λ = wd/2. λ must be a finite number ≥ 0.
 *
 * @example
 * const loss = crossEntropy(scores, y).add(l2Regularization([W1, W2], 1e-3));
 */
export function l2Regularization(params: Iterable<Tensor>, lambda: number): Tensor {
  return regularization("l2Regularization", params, lambda, square);
}

/**
 * The L1 regulariser λ·Σ_W Σ_i |W_i| as a 0-d tensor (gradient λ·sign(W), 0 at W_i = 0).
 *
 * @example
 * const loss = mseLoss(pred, y).add(l1Regularization(model.parameters(), 1e-4));
 */
export function l1Regularization(params: Iterable<Tensor>, lambda: number): Tensor {
  return regularization("l1Regularization", params, lambda, abs);
}
