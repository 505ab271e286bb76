import type { Tensor } from "./tensor.js";
import { stridesOf } from "./shape.js";

/** Above this many elements a printout shows only the first and last `EDGE` items per axis. */
const THRESHOLD = 1000;
const EDGE = 3;

/** Indices along an axis of length n that a printout shows; -1 marks the "..." gap. */
function shownIndices(n: number, summarize: boolean): number[] {
  if (!summarize || n <= 2 * EDGE) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: EDGE }, (_, i) => i), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)];
}

/** A formatter for every number the printout shows, so that columns line up (PyTorch's rules). */
function numberFormatter(values: number[], dtype: string): (v: number) => string {
  if (dtype === "bool") return (v) => (v ? "true" : "false");
  if (dtype === "int32") return (v) => String(v);
  const finite = values.filter((v) => Number.isFinite(v));
  const abs = finite.map(Math.abs).filter((v) => v > 0);
  const maxAbs = abs.length ? Math.max(...abs) : 0;
  const minAbs = abs.length ? Math.min(...abs) : 0;
  const special = (v: number): string | undefined => (Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : undefined);
  if (finite.every((v) => Number.isInteger(v)) && maxAbs < 1e8) return (v) => special(v) ?? `${v}.`;
  if (maxAbs >= 1e8 || (minAbs > 0 && minAbs < 1e-4) || maxAbs / (minAbs || 1) > 1e3) {
    return (v) => special(v) ?? v.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2");
  }
  return (v) => special(v) ?? v.toFixed(4);
}

/** NumPy/PyTorch-style printout: `tensor([[1., 2.], [3., 4.]], dtype=float64, requiresGrad=true)`. */
export function formatTensor(t: Tensor): string {
  if (t.onDevice) {
    // Values on the GPU cannot be read synchronously.
    const extras = [`shape=[${t.shape.join(", ")}]`, `dtype=${t.dtype}`, "device=webgpu"];
    if (t.gradFn) extras.push(`gradFn=<${t.gradFn.op.name}>`);
    else if (t.requiresGrad) extras.push("requiresGrad=true");
    return `tensor(<on the GPU: await t.toArrayAsync()>, ${extras.join(", ")})`;
  }
  const summarize = t.size > THRESHOLD;
  const strides = stridesOf(t.shape);
  const shown: number[] = [];
  const collect = (dim: number, offset: number): void => {
    if (dim === t.ndim) {
      shown.push(t.data[offset]!);
      return;
    }
    for (const i of shownIndices(t.shape[dim]!, summarize)) if (i >= 0) collect(dim + 1, offset + i * strides[dim]!);
  };
  collect(0, 0);
  const fmt = numberFormatter(shown, t.dtype);
  const width = Math.max(0, ...shown.map((v) => fmt(v).length));
  const prefix = "tensor(";
  const render = (dim: number, offset: number): string => {
    if (dim === t.ndim) return fmt(t.data[offset]!).padStart(width);
    const parts = shownIndices(t.shape[dim]!, summarize).map((i) => (i < 0 ? "..." : render(dim + 1, offset + i * strides[dim]!)));
    const indent = " ".repeat(prefix.length + dim + 1);
    const separator = dim === t.ndim - 1 ? ", " : "," + "\n".repeat(t.ndim - dim - 1) + indent;
    return `[${parts.join(separator)}]`;
  };
  const extras: string[] = [];
  if (t.size === 0) extras.push(`size=[${t.shape.join(", ")}]`);
  if (t.dtype !== "float32") extras.push(`dtype=${t.dtype}`);
  if (t.gradFn) extras.push(`gradFn=<${t.gradFn.op.name}>`);
  else if (t.requiresGrad) extras.push("requiresGrad=true");
  return `${prefix}${render(0, 0)}${extras.map((e) => `, ${e}`).join("")})`;
}
