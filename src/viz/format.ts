/**
 * Number and value formatting shared by the pictures (dot.ts) and the explanations
 * (explain.ts), and the short symbols of the gates. Browser-safe.
 */
import type { TraceValue } from "./trace.js";

/**
 * A number with `digits` decimals, as the lecture writes them ("-4.00", "0.73"). Numbers that
 * would round to zero but are not zero keep two significant digits ("0.0012", "6.5e-4"), so a
 * small gradient never prints as 0.
 */
export function fixed(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 0.5 * 10 ** -digits) return tiny(v);
  const s = v.toFixed(digits);
  return Number(s) === 0 ? (0).toFixed(digits) : s;
}

/**
 * A number as short as it can be: whole numbers exactly ("-12", "3"), others with `digits`
 * decimals ("0.73"), tiny ones with two significant digits.
 */
export function short(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  if (v !== 0 && Math.abs(v) < 0.5 * 10 ** -digits) return tiny(v);
  const s = v.toFixed(digits);
  return Number(s) === 0 ? "0" : s;
}

/** A number too small for the decimals: two significant digits ("0.0012", "-1.8e-10"). */
function tiny(v: number): string {
  return Math.abs(v) < 1e-3 ? v.toExponential(1) : v.toPrecision(2);
}

/** Elements as nested brackets for a row-major `shape`: `[[0.09, 0.18], [0.10, 0.21]]`. */
export function nested(values: readonly number[], shape: readonly number[], fmt: (v: number) => string): string {
  if (shape.length === 0) return fmt(values[0]!);
  const build = (dim: number, offset: number): string => {
    if (dim === shape.length) return fmt(values[offset]!);
    const n = shape[dim]!;
    let step = 1;
    for (let d = dim + 1; d < shape.length; d++) step *= shape[d]!;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(build(dim + 1, offset + i * step));
    return `[${parts.join(", ")}]`;
  };
  return build(0, 0);
}

/** A shape as "32×100" (a scalar as "scalar"). */
export function shapeText(shape: readonly number[]): string {
  return shape.length === 0 ? "scalar" : shape.join("×");
}

export interface ValueTextOptions {
  /** Decimals (default 2). */
  digits?: number;
  /** Up to this many elements are printed in full (default 4). */
  maxElements?: number;
  /** How bigger tensors are summarised: "stats" (min/mean/max, default) or "first" (the first few values). */
  summary?: "stats" | "first";
  /** The number formatter: "short" (whole numbers exact, default) or "fixed" (always `digits` decimals). */
  style?: "short" | "fixed";
}

/**
 * A value in one short line: a scalar as its number, a small tensor as its elements, a bigger
 * one as its shape and a summary ("32×100 min -1.2 mean 0.01 max 2.3").
 */
export function valueText(v: TraceValue, options: ValueTextOptions = {}): string {
  const digits = options.digits ?? 2;
  const fmt = options.style === "fixed" ? (x: number) => fixed(x, digits) : (x: number) => short(x, digits);
  const maxElements = options.maxElements ?? 4;
  if (v.values && v.size <= maxElements) return nested(v.values, v.shape, fmt);
  if (options.summary === "first" && (v.values ?? v.head)) {
    const head = (v.values ?? v.head)!.slice(0, Math.max(1, Math.min(maxElements, 4)));
    return `${shapeText(v.shape)} [${head.map(fmt).join(", ")}, …]`;
  }
  return `${shapeText(v.shape)} min ${fmt(v.min)} mean ${fmt(v.mean)} max ${fmt(v.max)}`;
}

/** Ops whose scalar constant operand is written into the gate's symbol ("+1", "*-1", "1/x"). */
const INFIX: Record<string, string> = { add: "+", sub: "-", mul: "*", div: "/", pow: "^" };

/**
 * The gate's short symbol, as the lecture draws it: "+", "*", "exp", and with a scalar
 * constant operand folded in: "+1", "*-1", "1/x", "^2", "max(0, x)"... `constants[i]` is the
 * value of input i when it is a folded constant.
 */
export function gateSymbol(op: string, constants: readonly (number | undefined)[] = []): string {
  const [c0, c1] = constants;
  const infix = INFIX[op];
  if (infix !== undefined) {
    if (c1 !== undefined && c0 === undefined) return `${infix}${short(c1, 4)}`;
    if (c0 !== undefined && c1 === undefined) {
      if (op === "add" || op === "mul") return `${infix}${short(c0, 4)}`;
      return `${short(c0, 4)}${infix}x`;
    }
    return infix;
  }
  if (op === "neg") return "*-1";
  if (op === "maximum" || op === "minimum") {
    const name = op === "maximum" ? "max" : "min";
    const c = c1 ?? c0;
    return c !== undefined && (c0 === undefined) !== (c1 === undefined) ? `${name}(${short(c, 4)}, x)` : name;
  }
  return op;
}

/** Escapes text for a Graphviz HTML-like label. */
export function html(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
