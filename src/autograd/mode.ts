import type { Tensor } from "../tensor/tensor.js";

let gradEnabled = true;
let anomalyEnabled = false;

/** Whether ops record graph nodes now. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Turns graph recording on or off globally; prefer the scoped `noGrad(fn)`. Returns the previous setting. */
export function setGradEnabled(enabled: boolean): boolean {
  const previous = gradEnabled;
  gradEnabled = enabled;
  return previous;
}

/**
 * Runs `fn` without recording a graph (inference, parameter updates), like `torch.no_grad()`.
 * The scope is synchronous: code after an `await` inside `fn` runs outside it.
 * @example const pred = noGrad(() => model.forward(x));
 */
export function noGrad<T>(fn: () => T): T {
  const previous = setGradEnabled(false);
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Runs `fn` with graph recording on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  const previous = setGradEnabled(true);
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Whether `detectAnomaly` checks every op's output for NaN/Inf now. */
export function isAnomalyEnabled(): boolean {
  return anomalyEnabled;
}

/** Turns anomaly detection on or off globally. Returns the previous setting. */
export function setDetectAnomaly(enabled: boolean): boolean {
  const previous = anomalyEnabled;
  anomalyEnabled = enabled;
  return previous;
}

/**
 * Runs `fn` with anomaly detection: every op's forward output and every gradient in backward is
 * checked for NaN/Inf, and the first one found throws an `AnomalyError` naming the op and the
 * line of user code that created it. Slower; use it to hunt a NaN, not in production.
 */
export function detectAnomaly<T>(fn: () => T): T {
  const previous = setDetectAnomaly(true);
  try {
    return fn();
  } finally {
    anomalyEnabled = previous;
  }
}

// ------------------------------------------------------------------ graph capture (for pictures)

/** One entry of the scope stack: a Module's dotted path or a user-named scope. */
export interface ScopeEntry {
  readonly name: string;
  readonly kind: "module" | "scope";
  /** For a module: its class name ("Linear"). */
  readonly type?: string;
}

/**
 * @internal What `defineOp` records on each node while a capture is active (a `scope` or
 * `withGraphValues`). Immutable: nodes keep a reference to the `scopes` array they were made in.
 */
export interface CaptureState {
  /** Under `withGraphValues`: backward keeps every node's inputs and records its gradients. */
  readonly values: boolean;
  readonly scopes: readonly ScopeEntry[];
  /** Composite ops being built, outermost first (see `composite`). */
  readonly composites: readonly CompositeEntry[];
}

/**
 * @internal One call of a composite op: a function built from primitives (eval-mode batchNorm,
 * layerNorm, softmax over an inner axis) that an exporter may write as one operator. Recorded
 * only while a capture is active.
 */
export interface CompositeEntry {
  /** The function's name ("batchNorm", "layerNorm", "softmax", "globalAvgPool2d"). */
  readonly name: string;
  /** Its tensor arguments in order; null where an optional one was not given. */
  readonly inputs: readonly (Tensor | null)[];
  /** Its other arguments (eps, axis...). */
  readonly params: Readonly<Record<string, unknown>>;
  /** The tensor it returned (set when it returns). */
  output: Tensor | undefined;
}

const NO_SCOPES: readonly ScopeEntry[] = Object.freeze([]);
const NO_COMPOSITES: readonly CompositeEntry[] = Object.freeze([]);
let capture: CaptureState | null = null;

/** @internal The active capture, or null (the usual case: then nothing extra is recorded). */
export function getCapture(): CaptureState | null {
  return capture;
}

/**
 * Runs `fn` keeping what pictures and explanations need: nodes created inside remember their
 * scope, and a backward pass through them records each node's upstream gradient, the gradient
 * it sent to each input and the order it was visited in, and keeps the node's inputs (so the
 * forward values stay readable) even when the graph is released. Without it chainrule keeps
 * none of this, so the ordinary path costs nothing extra. Synchronous, like `noGrad`.
 * @example
 * const f = withGraphValues(() => { const f = x.add(y).mul(z); f.backward(); return f; });
 * console.log(viz.explain(f));
 */
export function withGraphValues<T>(fn: () => T): T {
  const previous = capture;
  capture = { values: true, scopes: previous?.scopes ?? NO_SCOPES, composites: previous?.composites ?? NO_COMPOSITES };
  try {
    return fn();
  } finally {
    capture = previous;
  }
}

/** Whether `withGraphValues` is active now. */
export function isGraphValuesEnabled(): boolean {
  return capture !== null && capture.values;
}

/**
 * Runs `fn` inside a named scope: every node created inside records it, so a picture can draw
 * the whole scope as one gate (`toDot(f, { collapse: ["sigmoid"] })`). Scopes nest.
 * @example const s = scope("sigmoid", () => x.neg().exp().add(1).reciprocal());
 */
export function scope<T>(name: string, fn: () => T): T {
  return withScope({ name, kind: "scope" }, fn);
}

/** @internal Pushes a scope entry (also used for Module paths) around `fn`. */
export function withScope<T>(entry: ScopeEntry, fn: () => T): T {
  const previous = capture;
  capture = { values: previous?.values ?? false, scopes: [...(previous?.scopes ?? NO_SCOPES), entry], composites: previous?.composites ?? NO_COMPOSITES };
  try {
    return fn();
  } finally {
    capture = previous;
  }
}

/**
 * @internal Runs `fn`, a composite op built from primitives, and while a capture is active
 * records on every node it creates that they belong to this call of `name` (with its tensor
 * `inputs` and `params`), so the ONNX exporter writes one operator (BatchNormalization,
 * LayerNormalization...) instead of its primitives. Outside a capture it only calls `fn`.
 */
export function composite(name: string, inputs: readonly (Tensor | null)[], params: Record<string, unknown>, fn: () => Tensor): Tensor {
  const previous = capture;
  if (previous === null) return fn();
  const entry: CompositeEntry = { name, inputs, params, output: undefined };
  capture = { values: previous.values, scopes: previous.scopes, composites: [...previous.composites, entry] };
  try {
    entry.output = fn();
    return entry.output;
  } finally {
    capture = previous;
  }
}
