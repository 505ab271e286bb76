/**
 * Classification counts read straight from a model's output and the targets: argmax over the last
 * axis against the labels, and a confusion matrix. Plain loops over the tensors' storage, no graph.
 */
import type { Tensor } from "../tensor/tensor.js";

/**
 * The predicted and true class of every sample whose target can be read as a class:
 * - `y` holds one class index per row of `output` (shape `output.shape[:-1]`, or any shape with
 *   that many elements, int32 or integral floats): those are the labels;
 * - `y` has the output's own size (one-hot or probabilities): the label is y's argmax per row.
 * Anything else (a regression target) gives `undefined`: accuracy is not defined.
 * Labels outside [0, C) (e.g. an ignore index of -100) or not integers are skipped.
 * Calls `visit(trueClass, predictedClass)` for each sample kept; returns the number of classes C.
 */
export function forEachPrediction(output: Tensor, y: Tensor, visit: (label: number, predicted: number) => void): number | undefined {
  if (output.ndim === 0) return undefined;
  const c = output.shape[output.ndim - 1]!;
  if (c === 0) return undefined;
  const rows = output.size / c;
  const out = output.data;
  const target = y.data;
  if (y.size === rows && (y.dtype === "int32" || y.dtype === "float32" || y.dtype === "float64")) {
    for (let r = 0; r < rows; r++) {
      const label = Number(target[r]);
      if (!(Number.isInteger(label) && label >= 0 && label < c)) continue;
      visit(label, argmaxRow(out, r * c, c));
    }
    return c;
  }
  if (y.size === output.size && c > 1) {
    for (let r = 0; r < rows; r++) visit(argmaxRow(target, r * c, c), argmaxRow(out, r * c, c));
    return c;
  }
  return undefined;
}

/** The index of the largest of `data[start .. start + n)` (the first one on ties; NaN never wins). */
function argmaxRow(data: ArrayLike<number | boolean>, start: number, n: number): number {
  let best = 0;
  let value = Number(data[start]);
  for (let j = 1; j < n; j++) {
    const v = Number(data[start + j]);
    if (v > value || (Number.isNaN(value) && !Number.isNaN(v))) {
      value = v;
      best = j;
    }
  }
  return best;
}

/** Correct predictions and samples counted in one batch (`counted` 0 when accuracy is undefined). */
export function countCorrect(output: Tensor, y: Tensor): { correct: number; counted: number } {
  let correct = 0;
  let counted = 0;
  forEachPrediction(output, y, (label, predicted) => {
    counted++;
    if (label === predicted) correct++;
  });
  return { correct, counted };
}
