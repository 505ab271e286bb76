/**
 * Gradient clipping, after `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`. Both change
 * the parameters' `.grad` in place and skip parameters whose grad is null.
 */
import { getBackend } from "../backend/index.js";
import { isDeviceStorage } from "../backend/backend.js";
import { DeviceError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { scalar } from "../tensor/creation.js";
import { noGrad } from "../autograd/mode.js";
import { abs, add, div, maximum, minimum, pow, sqrt, square } from "../ops/elementwise.js";
import { max, sum } from "../ops/reduce.js";

/** Options of clipGradNorm. */
export interface ClipGradNormOptions {
  /** The p of the p-norm: any p > 0, or Infinity for the max-norm (default 2). */
  normType?: number;
  /** Throw a ValueError when the total norm is NaN or ±Infinity (default false: the grads become NaN). */
  errorIfNonfinite?: boolean;
}

function gradsOf(op: string, params: Tensor | Iterable<Tensor>): Tensor[] {
  const list = params instanceof Tensor ? [params] : params !== null && typeof params === "object" && Symbol.iterator in params ? [...params] : null;
  if (list === null) throw new ValueError(`${op}: params must be a Tensor or an iterable of Tensors, got ${params === null ? "null" : typeof params}.`);
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ValueError(`${op}: params[${i}] must be a Tensor, got ${p === null ? "null" : typeof p}.`);
    if (p.grad !== null) grads.push(p.grad);
  });
  return grads;
}

/**
 * Rescales the gradients so that their total norm is at most `maxNorm`, exactly as
 * `torch.nn.utils.clip_grad_norm_`: the total norm is the p-norm of the per-tensor p-norms
 * (the p-norm of all gradient elements together; the largest |g| for Infinity), and every
 * gradient is multiplied by
 *
 *     coef = min(1, maxNorm / (total + 1e-6))
 *
 * (only when coef < 1, i.e. when total + 1e-6 > maxNorm, or NaN). Returns the total norm BEFORE
 * clipping, computed in float64. With no gradients it returns 0.
 * @example const norm = clipGradNorm(model.parameters(), 1.0);
 */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, options: ClipGradNormOptions = {}): number {
  const op = "clipGradNorm";
  const { normType, errorIfNonfinite } = checkClip(op, maxNorm, options);
  const grads = gradsOf(op, params);
  if (grads.length === 0) return 0;
  if (grads.some((g) => g.onDevice)) {
    throw new DeviceError(`${op}: the gradients live on the GPU (webgpu backend), so their norm cannot be returned as a number synchronously. Use clipGradNormTensor(params, maxNorm): it clips on the GPU and returns the norm as a 0-d tensor (read it with await norm.itemAsync()).`);
  }
  let total: number;
  if (normType === Infinity) {
    total = 0;
    for (const g of grads) {
      const d = g.data;
      for (let i = 0; i < d.length; i++) {
        const a = Math.abs(d[i]!);
        if (a > total || Number.isNaN(a)) total = a;
      }
    }
  } else {
    const p = normType;
    let acc = 0;
    for (const g of grads) {
      const d = g.data;
      let s = 0;
      if (p === 2) for (let i = 0; i < d.length; i++) s += d[i]! * d[i]!;
      else if (p === 1) for (let i = 0; i < d.length; i++) s += Math.abs(d[i]!);
      else for (let i = 0; i < d.length; i++) s += Math.pow(Math.abs(d[i]!), p);
      const norm = p === 2 ? Math.sqrt(s) : p === 1 ? s : Math.pow(s, 1 / p);
      acc += p === 2 ? norm * norm : p === 1 ? norm : Math.pow(norm, p);
    }
    total = p === 2 ? Math.sqrt(acc) : p === 1 ? acc : Math.pow(acc, 1 / p);
  }
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new ValueError(`${op}: the total norm of order ${normType} of the gradients is ${total}; pass errorIfNonfinite: false to clip anyway.`);
  }
  const coef = maxNorm / (total + 1e-6);
  // PyTorch multiplies by clamp(coef, max=1): a NaN total makes every gradient NaN.
  if (coef < 1 || Number.isNaN(coef)) scaleOnce(grads, (x) => x * coef);
  return total;
}

function checkClip(op: string, maxNorm: number, options: ClipGradNormOptions): Required<ClipGradNormOptions> {
  const { normType = 2, errorIfNonfinite = false } = options;
  if (typeof maxNorm !== "number" || Number.isNaN(maxNorm)) throw new ValueError(`${op}: maxNorm must be a number, got ${String(maxNorm)}.`);
  if (typeof normType !== "number" || !(normType > 0)) throw new ValueError(`${op}: option 'normType' must be a number > 0 or Infinity, got ${String(normType)}.`);
  return { normType, errorIfNonfinite };
}

/**
 * clipGradNorm that returns the total norm as a 0-d tensor (as torch.nn.utils.clip_grad_norm_
 * does) instead of a number, so that it works on every backend: on the webgpu backend the norm
 * and the clipping are computed on the GPU, with nothing read back (`errorIfNonfinite` needs the
 * value, so it is refused there). On the CPU backends it is clipGradNorm with its result wrapped.
 */
export function clipGradNormTensor(params: Tensor | Iterable<Tensor>, maxNorm: number, options: ClipGradNormOptions = {}): Tensor {
  const op = "clipGradNormTensor";
  const { normType, errorIfNonfinite } = checkClip(op, maxNorm, options);
  const list = params instanceof Tensor ? [params] : params !== null && typeof params === "object" && Symbol.iterator in params ? [...params] : params;
  const grads = gradsOf(op, list);
  if (!grads.some((g) => g.onDevice)) return scalar(clipGradNorm(list, maxNorm, options));
  if (errorIfNonfinite) throw new DeviceError(`${op}: errorIfNonfinite needs the norm's value, which lives on the GPU; check \`await norm.itemAsync()\` yourself.`);
  return noGrad(() => {
    const p = normType;
    const parts = grads.map((g) => (p === Infinity ? max(abs(g)) : p === 2 ? sum(square(g)) : p === 1 ? sum(abs(g)) : sum(pow(abs(g), p))));
    let acc = parts[0]!;
    for (let i = 1; i < parts.length; i++) acc = p === Infinity ? maximum(acc, parts[i]!) : add(acc, parts[i]!);
    const total = p === Infinity || p === 1 ? acc : p === 2 ? sqrt(acc) : pow(acc, 1 / p);
    // coef = min(1, maxNorm / (total + 1e-6)); a NaN total makes every gradient NaN, as in PyTorch.
    const coef = minimum(div(maxNorm, add(total, 1e-6)), 1);
    scaleOnDevice(grads, "mul", coef._buf);
    return total;
  });
}

/** g ← g op c for every gradient storage (once each), by the backend's broadcast kernel, in place. */
function scaleOnDevice(grads: Tensor[], op: "mul" | "minimum" | "maximum", c: ArrayLike<number>): void {
  const done = new Set<unknown>();
  const be = getBackend();
  for (const g of grads) {
    const d = g._buf;
    if (done.has(d)) continue;
    done.add(d);
    be.binary(op, d, undefined, c as never, undefined, d, g.shape);
  }
}

/**
 * Clamps every gradient element into [−clipValue, clipValue], in place, like
 * `torch.nn.utils.clip_grad_value_`.
 */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  const op = "clipGradValue";
  if (typeof clipValue !== "number" || !(clipValue >= 0)) throw new ValueError(`${op}: clipValue must be a number ≥ 0, got ${String(clipValue)}.`);
  const grads = gradsOf(op, params);
  if (grads.some((g) => isDeviceStorage(g._buf))) {
    scaleOnDevice(grads, "minimum", Float32Array.of(clipValue));
    scaleOnDevice(grads, "maximum", Float32Array.of(-clipValue));
    return;
  }
  scaleOnce(grads, (x) => (x > clipValue ? clipValue : x < -clipValue ? -clipValue : x));
}

/** Applies `f` to each gradient element, visiting each storage once even if grads share it. */
function scaleOnce(grads: Tensor[], f: (x: number) => number): void {
  const done = new Set<unknown>();
  for (const g of grads) {
    const d = g.data;
    if (done.has(d)) continue;
    done.add(d);
    for (let i = 0; i < d.length; i++) d[i] = f(d[i]!);
  }
}
