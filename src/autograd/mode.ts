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
