import { DeviceError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";

/** The first NaN or ±Inf in a float tensor, or undefined. */
export function findNonFinite(t: Tensor): { index: number; value: number } | undefined {
  if (t.dtype !== "float32" && t.dtype !== "float64") return undefined;
  if (t.onDevice) {
    throw new DeviceError("detectAnomaly: anomaly mode reads every op's output on the host, which the webgpu backend cannot do synchronously. Hunt the NaN on a CPU backend (setBackend(\"wasm\"), the same model and seed), then come back to webgpu.");
  }
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) return { index: i, value: v };
  }
  return undefined;
}

/**
 * The directory of chainrule's own modules (src/ or dist/) as stack frames print it, where this
 * module was loaded from a file tree (not bundled): every frame inside it is the library's own,
 * whichever part (ops, nn layers, optimizers, the Trainer). Undefined in a bundle.
 */
const OWN_ROOT: string | undefined = (() => {
  try {
    const url = import.meta.url;
    const m = /^(.*[\\/])autograd[\\/]anomaly\.[cm]?[jt]s$/.exec(url);
    if (!m) return undefined;
    const root = m[1]!;
    return root.startsWith("file://") ? decodeURIComponent(new URL(root).pathname).replace(/^\/([A-Za-z]:)/, "$1") : root;
  } catch {
    return undefined;
  }
})();

/** Whether a stack frame is inside chainrule's own sources. */
function isOwnFrame(frame: string): boolean {
  if (/[\\/](chainrule[\\/](src|dist)|src[\\/](autograd|ops|tensor|backend))[\\/]/.test(frame)) return true;
  if (OWN_ROOT === undefined) return false;
  const path = frame.replace(/\\/g, "/");
  const root = OWN_ROOT.replace(/\\/g, "/");
  return path.includes(root) || path.includes(`file://${root}`);
}

/**
 * The current stack, deep enough to reach the user's code: an op called from a layer inside a
 * Sequential inside the Trainer is more than the 10 frames V8 keeps by default.
 */
export function deepStack(): string | undefined {
  const E = Error as { stackTraceLimit?: number };
  const limit = E.stackTraceLimit;
  E.stackTraceLimit = 100;
  try {
    return new Error().stack;
  } finally {
    E.stackTraceLimit = limit;
  }
}

/** The first stack frame outside chainrule's own sources: where the user's code called the op. */
export function userFrame(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const frames = stack.split("\n").slice(1).map((l) => l.trim().replace(/^at /, ""));
  // Frames with no file (a generator's next(), new Promise) say nothing about where the call was.
  const noFile = (f: string): boolean => /(^|\()(<anonymous>|native)\)?$/.test(f);
  return frames.find((f) => !isOwnFrame(f) && !noFile(f) && !f.includes("node:internal")) ?? frames[0];
}

/** Largest |value| of a float tensor on the host (0 for an empty or non-float one). */
export function maxAbs(t: Tensor): number {
  if ((t.dtype !== "float32" && t.dtype !== "float64") || t.onDevice) return 0;
  let m = 0;
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i]!);
    if (a > m) m = a;
  }
  return m;
}

/** What usually makes `op` produce `value` from finite inputs, and what to do about it. */
export function anomalyHint(op: string, value: number, inputs: readonly Tensor[]): string {
  const nan = Number.isNaN(value);
  switch (op) {
    case "log":
      return nan ? "log of a negative number is NaN: keep its input positive (e.g. x.clamp(1e-12).log(), or logSoftmax instead of log(softmax))." : "log(0) is -Infinity: clamp its input away from 0 (e.g. x.clamp(1e-12).log()).";
    case "div":
      return nan ? "0/0 is NaN (or ∞/∞): add a small epsilon to the denominator (a.div(b.add(1e-12)))." : "a division by 0 gives ±Infinity: add a small epsilon to the denominator (a.div(b.add(1e-12))).";
    case "sqrt":
      return "sqrt of a negative number is NaN: clamp its input at 0 first (x.clamp(0).sqrt()).";
    case "pow":
      return "a negative base to a fractional power is NaN, and large powers overflow: check the base and exponent.";
  }
  // An overflow: name the largest input, and the usual cause when it is a parameter.
  let k = -1;
  let largest = 0;
  inputs.forEach((t, i) => {
    const m = maxAbs(t);
    if (m > largest) [largest, k] = [m, i];
  });
  if (k < 0) return nan ? "Check the values fed to it." : "An overflow: check the values fed to it.";
  const input = inputs[k]!;
  const param = input.isLeaf && input.requiresGrad;
  return (
    `${nan ? "Its inputs are finite but" : "An overflow:"} the largest |input| is ${largest.toPrecision(3)} (input #${k}, shape [${input.shape.join(", ")}]${param ? ", a parameter" : ""}). ` +
    (param || largest > 1e15
      ? "Weights this large come from an exploding optimizer step: lower the learning rate, or clip the gradients (optim.clipGradNorm) before step()."
      : "Scale the inputs down (standardise them), or compute in float64.")
  );
}
