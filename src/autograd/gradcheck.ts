import { DTypeError, GraphError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { randn } from "../tensor/creation.js";
import { Generator } from "../tensor/random.js";
import { gradients } from "./functional.js";
import { noGrad } from "./mode.js";

export interface NumericalGradientOptions {
  /** Step of the centred difference (f(x+h) − f(x−h)) / 2h. Default 1e-6. */
  h?: number;
}

/**
 * The gradient of scalar `f` at `x` by centred finite differences, one element at a time:
 * ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h. Use float64: float32 loses most digits here.
 * @returns a tensor shaped like x.
 */
export function numericalGradient(f: (x: Tensor) => Tensor, x: Tensor, options: NumericalGradientOptions = {}): Tensor {
  const h = options.h ?? 1e-6;
  const probe = Tensor.fromStorage(x._buf.slice(), x.shape, x.dtype);
  const out = new Float64Array(x.size);
  const evaluate = (): number => {
    const y = noGrad(() => f(probe));
    if (y.size !== 1) throw new ValueError(`numericalGradient: f must return a single-element tensor, got shape [${y.shape.join(", ")}].`);
    return y.item();
  };
  for (let i = 0; i < x.size; i++) {
    const saved = probe.data[i]!;
    probe.data[i] = saved + h;
    const plus = evaluate();
    probe.data[i] = saved - h;
    const minus = evaluate();
    probe.data[i] = saved;
    out[i] = (plus - minus) / (2 * h);
  }
  return Tensor.fromStorage(x.dtype === "float64" ? out : Float32Array.from(out), x.shape, x.dtype === "float64" ? "float64" : "float32");
}

export interface GradcheckOptions {
  /** Finite-difference step. Default 1e-6. */
  eps?: number;
  /** Absolute tolerance. Default 1e-5. */
  atol?: number;
  /** Relative tolerance: an element passes when |a − n| ≤ atol + rtol·|n|. Default 1e-3. */
  rtol?: number;
  /** Seed of the random upstream gradient used for non-scalar outputs. Default 0. */
  seed?: number;
}

/** What gradcheck found for one input. */
export interface InputCheck {
  /** Position of the input in the argument list. */
  input: number;
  /** max |analytic − numerical| over the elements. */
  maxAbsError: number;
  /** max |a − n| / max(|a|, |n|, 1e-300) over the elements. */
  maxRelError: number;
  /** Whether every element is within atol + rtol·|n|. */
  ok: boolean;
  /** The first element outside the tolerance (flat index), if any, with both values. */
  worst?: { index: number; analytic: number; numerical: number };
}

export interface GradcheckReport {
  ok: boolean;
  inputs: InputCheck[];
  /** A readable summary (names the failing input and element). */
  message: string;
}

/**
 * Compares every float64 input's analytic gradient (backward) with its numerical one (centred
 * differences). For a non-scalar output it checks the vector-Jacobian product with a seeded
 * random upstream gradient v, i.e. the gradients of Σ f(x)·v. Only inputs that require grad are
 * checked.
 * @example gradcheck((a, b) => a.mul(b).sum(), [a, b]).ok
 */
export function gradcheck(f: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  inputs.forEach((t, i) => {
    if (t.requiresGrad && t.dtype !== "float64") {
      throw new DTypeError(`gradcheck: input ${i} is ${t.dtype}; finite differences need float64. Create inputs with { dtype: "float64" } or use .to("float64").`);
    }
  });
  const checked = inputs.flatMap((t, i) => (t.requiresGrad ? [i] : []));
  if (checked.length === 0) throw new GraphError(`gradcheck: no input requires grad; mark the inputs to check with { requiresGrad: true }.`);

  // Fresh copies, so the caller's tensors and their .grad are never touched.
  const leaves = inputs.map((t) => {
    const copy = Tensor.fromStorage(t._buf.slice(), t.shape, t.dtype);
    if (t.requiresGrad) copy.requiresGrad = true;
    return copy;
  });
  const out = f(...leaves);
  const v = out.size === 1 ? null : randn(out.shape, { dtype: "float64", generator: new Generator(options.seed ?? 0) });
  if (!out.requiresGrad) throw new GraphError(`gradcheck: f's output does not depend on the inputs that require grad.`);
  const analytic = gradients(out, checked.map((i) => leaves[i]!), { gradOutput: v ?? undefined });

  const objective = (): number => {
    const y = noGrad(() => f(...leaves));
    if (!v) return y.item();
    let s = 0;
    for (let j = 0; j < y.size; j++) s += y.data[j]! * v.data[j]!;
    return s;
  };

  const reports = checked.map((inputIndex, k): InputCheck => {
    const leaf = leaves[inputIndex]!;
    const a = analytic[k]!.data;
    let maxAbsError = 0;
    let maxRelError = 0;
    let worst: InputCheck["worst"];
    for (let j = 0; j < leaf.size; j++) {
      const saved = leaf.data[j]!;
      leaf.data[j] = saved + eps;
      const plus = objective();
      leaf.data[j] = saved - eps;
      const minus = objective();
      leaf.data[j] = saved;
      const n = (plus - minus) / (2 * eps);
      const err = Math.abs(a[j]! - n);
      maxAbsError = Math.max(maxAbsError, err);
      maxRelError = Math.max(maxRelError, err / Math.max(Math.abs(a[j]!), Math.abs(n), 1e-300));
      if (!(err <= atol + rtol * Math.abs(n)) && !worst) worst = { index: j, analytic: a[j]!, numerical: n };
    }
    return { input: inputIndex, maxAbsError, maxRelError, ok: worst === undefined, ...(worst ? { worst } : {}) };
  });
  const failed = reports.filter((r) => !r.ok);
  const message =
    failed.length === 0
      ? `gradcheck passed for ${reports.length} input(s): max abs error ${Math.max(...reports.map((r) => r.maxAbsError)).toExponential(2)}.`
      : failed
          .map((r) => `gradcheck failed for input ${r.input} at flat index ${r.worst!.index}: analytic ${r.worst!.analytic}, numerical ${r.worst!.numerical} (max abs error ${r.maxAbsError.toExponential(2)}, max rel error ${r.maxRelError.toExponential(2)}; atol ${atol}, rtol ${rtol}).`)
          .join("\n");
  return { ok: failed.length === 0, inputs: reports, message };
}
