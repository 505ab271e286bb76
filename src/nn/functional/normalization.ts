/**
 * Normalisation functionals (`torch.nn.functional.batch_norm`, `group_norm`, `layer_norm`).
 * Training-mode batchNorm and groupNorm are primitives (`defineOp`) over the backend's
 * normForward/normBackward kernels (one pass for the statistics and output, one for the
 * gradients); their backward is the same formula written with tensor ops whenever a graph is
 * being recorded (createGraph), so second derivatives work. Eval-mode batchNorm and layerNorm
 * are composed from the differentiable ops of `src/ops`. Shapes and conventions:
 * docs/nn.md#normalisation.
 */
import { defineOp } from "../../autograd/define-op.js";
import { composite, isGradEnabled } from "../../autograd/mode.js";
import { isDeviceStorage } from "../../backend/backend.js";
import { getBackend } from "../../backend/index.js";
import { DeviceError, ShapeError, ValueError, fmtShape } from "../../errors.js";
import { add, div, mean, mul, reshape, sqrt, square, sub, sum } from "../../ops/index.js";
import { allocateUninit, type FloatStorage } from "../../tensor/dtype.js";
import { deviceActive } from "../../tensor/storage.js";
import { shapesEqual } from "../../tensor/shape.js";
import { Tensor, assertTensor } from "../../tensor/tensor.js";
import { checkFloat, checkNumber } from "./util.js";

/** Options of `batchNorm`. */
export interface BatchNormOptions {
  /** true: normalise with the batch statistics (and update the running ones); false: with the running statistics. */
  training: boolean;
  /** Weight of the new batch statistic in the running average (default 0.1, as PyTorch). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /**
   * @internal The running-average weight as a scalar float32 tensor in place of `momentum`
   * (nn.BatchNorm's cumulative average, 1/numBatchesTracked, on a device where the count never
   * leaves the GPU). Only with running statistics in device storage.
   */
  momentumTensor?: Tensor;
}

function checkChannelVector(fn: string, name: string, t: Tensor | null, c: number, xShape: readonly number[]): void {
  if (t === null || t === undefined) return;
  assertTensor(fn, name, t);
  if (t.ndim !== 1 || t.shape[0] !== c) {
    throw new ShapeError(`${fn}: '${name}' must have shape [${c}] (one value per channel, axis 1 of x ${fmtShape(xShape)}), got ${fmtShape(t.shape)}.`);
  }
}

/** The non-tensor arguments of the normalisation primitive. */
interface NormSpec {
  /** 0: batch norm (statistics per channel); G ≥ 1: group norm with G groups. */
  groups: number;
  eps: number;
  /** Given: forward puts the statistics here too (batchNorm's running statistics need them, recorded or not). */
  stats?: { mean?: Tensor; invstd?: Tensor };
}

interface NormSaved {
  x: Tensor;
  weight: Tensor | null;
  spec: NormSpec;
  hasBias: boolean;
  /**
   * Per statistic (C of them, or N·G): the mean and 1/√(biased variance + eps), float64 on the
   * host; float32 device storage where tensors live on a device (as tensors, so that tidy()
   * sees them in the graph and keeps them while it is alive).
   */
  mean: Tensor;
  invstd: Tensor;
}

/** Storage for n statistics: float64 on the host, float32 where the backend keeps tensors on a device. */
function statTensor(n: number): Tensor {
  if (deviceActive()) return Tensor.fromStorage(allocateUninit("float32", n), [n], "float32");
  return Tensor.fromStorage(new Float64Array(n), [n], "float64");
}
/** The statistics' storage as the backend interface types it (device storage passes through untouched). */
const statBuf = (t: Tensor): Float64Array => t._buf as unknown as Float64Array;

/** x's shape as [outer, C, inner]: N, C and the product of the trailing axes. */
function norm3(x: Tensor): [number, number, number] {
  const outer = x.shape[0]!, c = x.shape[1]!;
  return [outer, c, outer * c === 0 ? 0 : x.size / (outer * c)];
}

/**
 * The composed gradient (tensor ops, so recorded under createGraph): with x̂ = (x − μ)·invstd
 * recomputed from x, dx = invstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = g·w; dw = Σ g·x̂,
 * db = Σ g over every axis but 1.
 */
function composedNormBackward(x: Tensor, weight: Tensor | null, g: Tensor, spec: NormSpec): [Tensor, Tensor, Tensor] {
  const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  const dxhatFull = weight !== null ? mul(g, reshape(weight, bshape)) : g;
  let xhat: Tensor;
  let dx: Tensor;
  if (spec.groups === 0) {
    const mu = mean(x, { axis: axes, keepDim: true });
    const centered = sub(x, mu);
    const invstd = div(1, sqrt(add(mean(square(centered), { axis: axes, keepDim: true }), spec.eps)));
    xhat = mul(centered, invstd);
    const m1 = mean(dxhatFull, { axis: axes, keepDim: true });
    const m2 = mean(mul(dxhatFull, xhat), { axis: axes, keepDim: true });
    dx = mul(invstd, sub(sub(dxhatFull, m1), mul(xhat, m2)));
  } else {
    const n = x.shape[0]!;
    const gshape = [n, spec.groups, x.size / Math.max(1, n * spec.groups)];
    const xg = reshape(x, gshape);
    const mu = mean(xg, { axis: 2, keepDim: true });
    const centered = sub(xg, mu);
    const invstd = div(1, sqrt(add(mean(square(centered), { axis: 2, keepDim: true }), spec.eps)));
    const xhatG = mul(centered, invstd);
    const dxhat = reshape(dxhatFull, gshape);
    const m1 = mean(dxhat, { axis: 2, keepDim: true });
    const m2 = mean(mul(dxhat, xhatG), { axis: 2, keepDim: true });
    dx = reshape(mul(invstd, sub(sub(dxhat, m1), mul(xhatG, m2))), x.shape);
    xhat = reshape(xhatG, x.shape);
  }
  return [dx, sum(mul(g, xhat), { axis: axes }), sum(g, { axis: axes })];
}

/**
 * Training-mode batch norm (groups 0) and group norm as one primitive: the backend's
 * normForward gives the output and the float64 statistics (kept for backward); backward is the
 * backend's normBackward, or the composed formula while a graph is being recorded.
 */
const normOp = defineOp<[Tensor, Tensor | null, Tensor | null, NormSpec], NormSaved>({
  name: "norm",
  forward(ctx, x, weight, bias, spec) {
    const [outer, c, inner] = norm3(x);
    const stats = spec.groups === 0 ? c : outer * spec.groups;
    const meanS = statTensor(stats), invstd = statTensor(stats);
    const out = allocateUninit(x.dtype, x.size) as FloatStorage;
    getBackend().normForward(x._buf as FloatStorage, outer, c, inner, spec.groups, spec.eps,
      weight !== null ? (weight._buf as FloatStorage) : null, bias !== null ? (bias._buf as FloatStorage) : null, out, statBuf(meanS), statBuf(invstd));
    if (spec.stats !== undefined) Object.assign(spec.stats, { mean: meanS, invstd });
    ctx.save({ x, weight, spec: { groups: spec.groups, eps: spec.eps }, hasBias: bias !== null, mean: meanS, invstd });
    return Tensor.fromStorage(out, x.shape, x.dtype);
  },
  backward(ctx, gradOut) {
    const { x, weight, spec, hasBias: bias, mean: meanS, invstd } = ctx.saved;
    if (isGradEnabled()) {
      const [dx, dw, db] = composedNormBackward(x, weight, gradOut, spec);
      return [dx, ...(weight !== null ? [dw] : []), ...(bias ? [db] : [])];
    }
    const [outer, c, inner] = norm3(x);
    const wantW = weight !== null && ctx.needsInputGrad[1] === true;
    const wantB = bias && ctx.needsInputGrad[weight !== null ? 2 : 1] === true;
    const dx = allocateUninit(x.dtype, x.size) as FloatStorage;
    const dw = wantW ? (allocateUninit(x.dtype, c) as FloatStorage) : null;
    const db = wantB ? (allocateUninit(x.dtype, c) as FloatStorage) : null;
    getBackend().normBackward(gradOut._buf as FloatStorage, x._buf as FloatStorage, outer, c, inner, spec.groups, statBuf(meanS), statBuf(invstd),
      weight !== null ? (weight._buf as FloatStorage) : null, dx, dw, db);
    const grads: (Tensor | null)[] = [Tensor.fromStorage(dx, x.shape, x.dtype)];
    if (weight !== null) grads.push(dw !== null ? Tensor.fromStorage(dw, [c], x.dtype) : null);
    if (bias) grads.push(db !== null ? Tensor.fromStorage(db, [c], x.dtype) : null);
    return grads;
  },
  describe: (_x, _w, _b, spec) => (spec.groups === 0 ? { kind: "batchNorm", eps: spec.eps } : { kind: "groupNorm", numGroups: spec.groups, eps: spec.eps }),
});

/**
 * Batch normalisation (`torch.nn.functional.batch_norm`) over channel axis 1 of x [N, C],
 * [N, C, L] or [N, C, H, W] (any rank ≥ 2): y = (x − μ)/√(σ² + eps)·weight + bias per channel.
 *
 * - Training: μ and σ² are the batch statistics over every axis but 1, with the BIASED
 *   variance (divide by the count n); gradients flow through μ and σ². If `runningMean` /
 *   `runningVar` are given they are updated IN PLACE (their storage, outside the graph; on a
 *   device by kernels, nothing read back):
 *   running ← (1 − momentum)·running + momentum·batch, with the UNBIASED variance σ²·n/(n − 1)
 *   for runningVar, exactly as PyTorch. Needs n > 1 (ValueError otherwise).
 * - Eval: normalises with `runningMean` and `runningVar` (both required).
 *
 * `weight`, `bias`, `runningMean`, `runningVar`: [C] or null. Output: x's shape.
 *
 * @example
 * const rm = zeros([3]), rv = ones([3]);
 * const y = batchNorm(x, rm, rv, gamma, beta, { training: true }); // rm, rv now updated
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  options: BatchNormOptions,
): Tensor {
  const fn = "batchNorm";
  assertTensor(fn, "x", x);
  checkFloat(fn, "x", x);
  if (options === undefined || typeof options.training !== "boolean") {
    throw new ValueError(`${fn}: options.training must be true or false (batch statistics or running statistics).`);
  }
  const momentum = checkNumber(fn, "momentum", options.momentum ?? 0.1);
  const eps = checkNumber(fn, "eps", options.eps ?? 1e-5, 0);
  if (x.ndim < 2) {
    throw new ShapeError(`${fn}: 'x' must have shape [N, C], [N, C, L] or [N, C, H, W] (channels on axis 1), got ${fmtShape(x.shape)}. For one sample add the batch axis: x.unsqueeze(0).`);
  }
  const c = x.shape[1]!;
  checkChannelVector(fn, "runningMean", runningMean, c, x.shape);
  checkChannelVector(fn, "runningVar", runningVar, c, x.shape);
  checkChannelVector(fn, "weight", weight, c, x.shape);
  checkChannelVector(fn, "bias", bias, c, x.shape);
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  if (options.training) {
    const n = x.size / c;
    if (n <= 1) throw new ValueError(`${fn}: training needs more than 1 value per channel, got x of shape ${fmtShape(x.shape)}; use a larger batch, or training: false.`);
    // One primitive (the backend's kernels): the output and the per-channel mean and
    // invstd = 1/√(σ² + eps), σ² biased; weight and bias are applied inside.
    const stats: NonNullable<NormSpec["stats"]> = {};
    const y = normOp(x, weight ?? null, bias ?? null, { groups: 0, eps, stats });
    updateRunningStats(runningMean, runningVar, stats.mean!, stats.invstd!, options.momentumTensor ?? momentum, eps, n / (n - 1));
    return y;
  }
  if (runningMean === null || runningVar === null) {
    throw new ValueError(`${fn}: eval mode (training: false) normalises with the running statistics, so runningMean and runningVar must be given.`);
  }
  // Composed from ops; recorded as one composite so an ONNX export writes BatchNormalization.
  return composite("batchNorm", [x, weight, bias, runningMean, runningVar], { eps }, () => {
    let xhat = mul(sub(x, reshape(runningMean, bshape)), div(1, sqrt(add(reshape(runningVar, bshape), eps))));
    if (weight !== null) xhat = mul(xhat, reshape(weight, bshape));
    if (bias !== null) xhat = add(xhat, reshape(bias, bshape));
    return xhat;
  });
}

/**
 * running ← (1 − momentum)·running + momentum·batch, in place (outside the graph), from the
 * batch's mean and invstd: the variance is 1/invstd² − eps (biased), times `unbias` for
 * runningVar. On the host, per element in float64; where the statistics are device storage, as
 * tensor ops on the device whose result is copied into the running tensors' own storage (they
 * keep their identity; nothing is read back).
 */
function updateRunningStats(runningMean: Tensor | null, runningVar: Tensor | null, meanS: Tensor, invstd: Tensor, momentum: number | Tensor, eps: number, unbias: number): void {
  if (runningMean === null && runningVar === null) return;
  const c = meanS.size;
  if (!isDeviceStorage(meanS._buf)) {
    if (typeof momentum !== "number") throw new Error("batchNorm: momentumTensor needs device storage (internal error)");
    const mu = meanS.data, is = invstd.data;
    if (runningMean !== null) {
      const rm = runningMean.data;
      for (let j = 0; j < c; j++) rm[j] = (1 - momentum) * rm[j]! + momentum * mu[j]!;
    }
    if (runningVar !== null) {
      const rv = runningVar.data;
      for (let j = 0; j < c; j++) {
        const variance = 1 / (is[j]! * is[j]!) - eps; // biased
        rv[j] = (1 - momentum) * rv[j]! + momentum * variance * unbias;
      }
    }
    return;
  }
  const be = getBackend();
  const keepW = typeof momentum === "number" ? 1 - momentum : sub(1, momentum);
  const into = (running: Tensor, name: string, batch: Tensor): void => {
    if (!isDeviceStorage(running._buf)) {
      throw new DeviceError(`batchNorm: '${name}' is in host memory but the batch statistics were computed on the GPU (${be.name}); create the layer (or its running statistics) after switching to that backend, so that they live there too.`);
    }
    const next = add(mul(running, keepW), mul(batch, momentum));
    be.copyStrided(next.to(running.dtype)._buf, 0, [1], [c], running._buf);
  };
  if (runningMean !== null) into(runningMean, "runningMean", meanS);
  if (runningVar !== null) into(runningVar, "runningVar", mul(sub(div(1, mul(invstd, invstd)), eps), unbias));
}

/**
 * Layer normalisation (`torch.nn.functional.layer_norm`): each sample is normalised over its
 * trailing axes `normalizedShape` with the BIASED variance, y = (x − μ)/√(σ² + eps)·weight + bias.
 *
 * Shapes: x [..., *normalizedShape]; `weight`, `bias`: normalizedShape, or null. Output: x's shape.
 *
 * @example
 * const y = layerNorm(x, [512], gamma, beta); // x [batch, tokens, 512]
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[] | number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const fn = "layerNorm";
  assertTensor(fn, "x", x);
  checkFloat(fn, "x", x);
  checkNumber(fn, "eps", eps, 0);
  const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  const k = shape.length;
  if (k === 0 || k > x.ndim || !shapesEqual(x.shape.slice(x.ndim - k), shape)) {
    throw new ShapeError(
      `${fn}: normalizedShape ${fmtShape(shape)} must be the trailing axes of x, whose shape is ${fmtShape(x.shape)}. ` +
        `Pass normalizedShape = ${fmtShape(x.shape.slice(-Math.max(1, Math.min(k, x.ndim))))} or reshape x.`,
    );
  }
  for (const [name, t] of [["weight", weight], ["bias", bias]] as const) {
    if (t === null || t === undefined) continue;
    assertTensor(fn, name, t);
    if (!shapesEqual(t.shape, shape)) throw new ShapeError(`${fn}: '${name}' must have shape normalizedShape = ${fmtShape(shape)}, got ${fmtShape(t.shape)}.`);
  }
  const axes = shape.map((_, i) => x.ndim - k + i);
  return composite("layerNorm", [x, weight ?? null, bias ?? null], { axis: x.ndim - k, eps }, () => {
    const mu = mean(x, { axis: axes, keepDim: true });
    const centered = sub(x, mu);
    const variance = mean(square(centered), { axis: axes, keepDim: true });
    let y = mul(centered, div(1, sqrt(add(variance, eps))));
    if (weight !== null && weight !== undefined) y = mul(y, weight);
    if (bias !== null && bias !== undefined) y = add(y, bias);
    return y;
  });
}

/**
 * Group normalisation (`torch.nn.functional.group_norm`, Wu & He 2018): the C channels of
 * x [N, C, *] (any trailing spatial axes, e.g. [N, C, H, W]) are split into `numGroups` groups of
 * C/numGroups consecutive channels, and each sample's group is normalised over its channels
 * and positions with the BIASED variance: y = (x − μ)/√(σ² + eps)·weight[c] + bias[c].
 * Unlike batch norm it uses no batch statistics, so it behaves the same in training and eval
 * and at any batch size. numGroups = 1 normalises each sample over all of C, H, W (LayerNorm
 * over [C, H, W] without per-element affine); numGroups = C is instance normalisation.
 *
 * Shapes: x [N, C, *]; `weight`, `bias`: [C] or null. Output: x's shape.
 *
 * @example
 * const y = groupNorm(x, 4, gamma, beta); // x [8, 32, 16, 16], gamma/beta [32]
 */
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const fn = "groupNorm";
  assertTensor(fn, "x", x);
  checkFloat(fn, "x", x);
  checkNumber(fn, "eps", eps, 0);
  if (x.ndim < 2) {
    throw new ShapeError(`${fn}: 'x' must have shape [N, C, *] (channels on axis 1), got ${fmtShape(x.shape)}. For one sample add the batch axis: x.unsqueeze(0).`);
  }
  const [n, c] = x.shape as [number, number];
  if (!Number.isInteger(numGroups) || numGroups < 1 || c % numGroups !== 0) {
    throw new ValueError(`${fn}: numGroups must be a positive integer that divides the ${c} channels of x (shape ${fmtShape(x.shape)}), got ${String(numGroups)}.`);
  }
  checkChannelVector(fn, "weight", weight, c, x.shape);
  checkChannelVector(fn, "bias", bias, c, x.shape);
  if (x.size === 0) {
    // Nothing to normalise: the composed form keeps the empty shapes and graph.
    const grouped = reshape(x, [n, numGroups, x.size / Math.max(1, n * numGroups)]);
    const mu = mean(grouped, { axis: 2, keepDim: true });
    let y = reshape(sub(grouped, mu), x.shape);
    const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    if (weight !== null) y = mul(y, reshape(weight, bshape));
    if (bias !== null) y = add(y, reshape(bias, bshape));
    return y;
  }
  // One primitive (the backend's kernels), weight and bias applied inside.
  return normOp(x, weight ?? null, bias ?? null, { groups: numGroups, eps });
}
