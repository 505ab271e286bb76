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

/** The first stack frame outside chainrule's own sources: where the user's code called the op. */
export function userFrame(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const frames = stack.split("\n").slice(1).map((l) => l.trim().replace(/^at /, ""));
  const own = /[\\/](chainrule[\\/](src|dist)|src[\\/](autograd|ops|tensor|backend))[\\/]/;
  return frames.find((f) => !own.test(f) && !f.includes("node:internal")) ?? frames[0];
}
