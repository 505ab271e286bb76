/**
 * Standardizer: per-feature (or per-channel) mean and standard deviation, fitted on training data
 * and applied to any split, like scikit-learn's StandardScaler.
 */
import { IndexError, ShapeError, ValueError, fmtShape } from "../errors.js";
import { isFloat } from "../tensor/dtype.js";
import { Tensor, assertTensor } from "../tensor/tensor.js";
import { TensorDataset } from "./dataset.js";
import { checkOptions, describeValue } from "./util.js";

/** Options of `Standardizer.fit`. */
export interface StandardizerFitOptions {
  /**
   * The axes the statistics are taken over (negative counts from the end). Default: every axis
   * but axis 1, so [N, D] gets per-feature statistics (axis 0) and [N, C, H, W] per-channel
   * ones (axes 0, 2, 3); a 1-D [N] gets one mean and std.
   */
  axis?: number | readonly number[];
}

/** What `Standardizer.stateDict()` saves. mean and std are float64, shaped like x with the axes kept as 1. */
export interface StandardizerState {
  mean: Tensor;
  std: Tensor;
  axis: number[];
}

/**
 * x ↦ (x − mean) / std, with mean and std computed by `fit` over the given axes (population std,
 * in float64). A constant feature has std 0 and is divided by 1 instead (it becomes 0, not NaN).
 *
 * Fit on the training split only and apply the same transform to validation and test data:
 * statistics computed on all the data leak information from the held-out samples.
 * @example
 * const norm = new Standardizer().fit(train.x);            // [N, D]: per feature
 * const xTrain = norm.transform(train.x), xTest = norm.transform(test.x);
 * new Standardizer().fit(images);                           // [N, C, H, W]: per channel
 */
export class Standardizer {
  private _mean: Tensor | null = null;
  private _std: Tensor | null = null;
  private _axis: number[] | null = null;

  /** Whether `fit` (or `loadStateDict`) has run. */
  get fitted(): boolean {
    return this._mean !== null;
  }

  /** The fitted means (float64, x's shape with the reduced axes kept as 1). */
  get mean(): Tensor {
    return this.need("mean")[0];
  }

  /** The fitted divisors: the standard deviations, with 1 where a feature is constant. */
  get std(): Tensor {
    return this.need("std")[1];
  }

  /** The reduced axes, normalised and sorted. */
  get axis(): readonly number[] {
    return this.need("axis")[2];
  }

  /** Computes mean and std of `x` over `axis` (see StandardizerFitOptions); returns this. */
  fit(x: Tensor, options: StandardizerFitOptions = {}): this {
    assertTensor("Standardizer.fit", "x", x);
    const o = checkOptions("Standardizer.fit", options, ["axis"]);
    if (x.ndim === 0) throw new ShapeError(`Standardizer.fit: x must have at least one axis (the samples), got a 0-d tensor.`);
    const axes = normalizeAxes(o.axis ?? x.shape.map((_, i) => i).filter((i) => i !== 1), x.ndim);
    const statShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const features = statShape.reduce((a, b) => a * b, 1);
    const count = x.size / Math.max(1, features);
    if (x.size === 0 || count === 0) throw new ValueError(`Standardizer.fit: x of shape ${fmtShape(x.shape)} has no samples to fit on.`);
    const mean = accumulate(x, statShape, null).map((s) => s / count);
    const sq = accumulate(x, statShape, mean);
    const std = sq.map((s, f) => {
      const sd = Math.sqrt(s / count);
      // Constant features (up to rounding of the mean) are divided by 1, as in scikit-learn.
      return !(sd > 10 * Number.EPSILON * Math.max(1, Math.abs(mean[f]!))) ? 1 : sd;
    });
    this._mean = Tensor.fromStorage(mean, statShape, "float64");
    this._std = Tensor.fromStorage(std, statShape, "float64");
    this._axis = axes;
    return this;
  }

  /** (x − mean) / std. x needs the fitted shape on the kept axes; int/bool x gives float32. */
  transform(x: Tensor): Tensor {
    const [mean, std] = this.forInput("transform", x);
    return castIn(x).sub(mean).div(std);
  }

  /** fit(x, options), then transform(x). */
  fitTransform(x: Tensor, options: StandardizerFitOptions = {}): Tensor {
    return this.fit(x, options).transform(x);
  }

  /** x · std + mean: undoes transform. */
  inverseTransform(x: Tensor): Tensor {
    const [mean, std] = this.forInput("inverseTransform", x);
    return castIn(x).mul(std).add(mean);
  }

  /** A TensorDataset with x transformed and the same y (and classes). */
  transformDataset(dataset: TensorDataset): TensorDataset {
    if (!(dataset instanceof TensorDataset)) throw new ValueError(`Standardizer.transformDataset: expected a TensorDataset, got ${describeValue(dataset)}.`);
    return new TensorDataset(this.transform(dataset.x), dataset.y, dataset.classes ? { classes: dataset.classes } : {});
  }

  /** { mean, std, axis }, to save with a checkpoint (e.g. in its `meta`). */
  stateDict(): StandardizerState {
    const [mean, std, axis] = this.need("stateDict");
    return { mean, std, axis: [...axis] };
  }

  /** Restores a state from `stateDict()`; returns this. */
  loadStateDict(state: StandardizerState): this {
    if (state === null || typeof state !== "object") throw new ValueError(`Standardizer.loadStateDict: expected { mean, std, axis }, got ${describeValue(state)}.`);
    checkOptions("Standardizer.loadStateDict", state, ["mean", "std", "axis"]);
    const { mean, std, axis } = state;
    assertTensor("Standardizer.loadStateDict", "mean", mean);
    assertTensor("Standardizer.loadStateDict", "std", std);
    if (!Array.isArray(axis)) throw new ValueError(`Standardizer.loadStateDict: axis must be a list of axes, got ${describeValue(axis)}.`);
    const axes = normalizeAxes(axis, mean.ndim);
    if (mean.ndim !== std.ndim || mean.shape.some((d, i) => d !== std.shape[i]) || axes.some((a) => mean.shape[a] !== 1)) {
      throw new ShapeError(`Standardizer.loadStateDict: mean ${fmtShape(mean.shape)} and std ${fmtShape(std.shape)} must have one shape, with size 1 on the axes ${JSON.stringify(axes)}.`);
    }
    this._mean = mean.to("float64").detach();
    this._std = std.to("float64").detach();
    this._axis = axes;
    return this;
  }

  /** A Standardizer restored from `stateDict()`. */
  static fromStateDict(state: StandardizerState): Standardizer {
    return new Standardizer().loadStateDict(state);
  }

  private need(op: string): [Tensor, Tensor, number[]] {
    if (!this._mean || !this._std || !this._axis) throw new ValueError(`Standardizer.${op}: not fitted yet; call fit(trainX) first.`);
    return [this._mean, this._std, this._axis];
  }

  /** mean and std in the dtype transform computes in, after checking x's shape. */
  private forInput(op: string, x: Tensor): [Tensor, Tensor] {
    assertTensor(`Standardizer.${op}`, "x", x);
    const [mean, std, axes] = this.need(op);
    if (x.ndim !== mean.ndim || mean.shape.some((d, i) => !axes.includes(i) && d !== x.shape[i])) {
      const want = mean.shape.map((d, i) => (axes.includes(i) ? "*" : String(d)));
      throw new ShapeError(`Standardizer.${op}: x has shape ${fmtShape(x.shape)} but the fit was on [${want.join(", ")}] (* = any size); the kept axes must match.`);
    }
    const dtype = isFloat(x.dtype) ? x.dtype : "float32";
    return [mean.to(dtype), std.to(dtype)];
  }
}

function castIn(x: Tensor): Tensor {
  return isFloat(x.dtype) ? x : x.to("float32");
}

function normalizeAxes(axis: number | readonly number[], ndim: number): number[] {
  const list = typeof axis === "number" ? [axis] : axis;
  if (!Array.isArray(list) || list.length === 0) throw new ValueError(`Standardizer: axis must be an axis or a non-empty list of axes, got ${describeValue(axis)}.`);
  const out = new Set<number>();
  for (const a of list) {
    if (typeof a !== "number" || !Number.isInteger(a) || a < -ndim || a >= ndim) {
      throw new IndexError(`Standardizer: axis ${describeValue(a)} is out of range for ${ndim} dimensions; valid axes are ${-ndim}…${ndim - 1}.`);
    }
    out.add(a < 0 ? a + ndim : a);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Per-feature sums over x (each element goes to the flat index of its position in `statShape`,
 * x's shape with the reduced axes set to 1): of the values, or with `mean`, of the squared
 * deviations (v − mean[f])².
 */
function accumulate(x: Tensor, statShape: readonly number[], mean: Float64Array | null): Float64Array {
  const shape = x.shape;
  const nd = shape.length;
  const out = new Float64Array(statShape.reduce((a, b) => a * b, 1));
  const fstride = new Array<number>(nd).fill(0);
  for (let a = nd - 1, s = 1; a >= 0; a--) {
    fstride[a] = statShape[a] === 1 ? 0 : s;
    s *= statShape[a]!;
  }
  const data = x.data;
  const last = shape[nd - 1]!;
  const fsLast = fstride[nd - 1]!;
  const coord = new Array<number>(nd).fill(0);
  let base = 0;
  for (let p = 0; p < data.length; ) {
    if (mean === null) {
      if (fsLast === 0) {
        let acc = 0;
        for (let j = 0; j < last; j++) acc += data[p++]!;
        out[base]! += acc;
      } else for (let j = 0, f = base; j < last; j++, f += fsLast) out[f]! += data[p++]!;
    } else {
      if (fsLast === 0) {
        let acc = 0;
        const m = mean[base]!;
        for (let j = 0; j < last; j++) {
          const d = data[p++]! - m;
          acc += d * d;
        }
        out[base]! += acc;
      } else {
        for (let j = 0, f = base; j < last; j++, f += fsLast) {
          const d = data[p++]! - mean[f]!;
          out[f]! += d * d;
        }
      }
    }
    // Odometer over the axes before the last one.
    let a = nd - 2;
    for (; a >= 0; a--) {
      coord[a]!++;
      base += fstride[a]!;
      if (coord[a]! < shape[a]!) break;
      base -= fstride[a]! * coord[a]!;
      coord[a] = 0;
    }
    if (a < 0) break;
  }
  return out;
}
