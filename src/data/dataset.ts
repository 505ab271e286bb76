/**
 * Datasets: anything with a length and an indexed `get`, and TensorDataset, a pair of tensors
 * (inputs and targets) sharing their first axis.
 */
import { DTypeError, IndexError, ShapeError, ValueError, fmtShape } from "../errors.js";
import { allocateHost } from "../tensor/dtype.js";
import { sizeOf } from "../tensor/shape.js";
import { Tensor, assertTensor } from "../tensor/tensor.js";
import { indexSelect, reshape } from "../ops/shape-ops.js";
import { checkOptions, describeValue } from "./util.js";

/** A dataset: `length` samples, read one at a time with `get(i)` (0 ≤ i < length). */
export interface Dataset<T> {
  readonly length: number;
  get(i: number): T;
}

/** Options of `new TensorDataset(x, y, options)`. */
export interface TensorDatasetOptions {
  /** Names of the classes, by label (y = k is `classes[k]`), carried by subsets and splits. */
  classes?: readonly string[];
}

/** Sample indices as an Int32Array or a list of numbers. */
export type Indices = Int32Array | readonly number[];

/**
 * Inputs `x` [N, ...] and targets `y` [N, ...] (class labels: int32 [N]) as a dataset of N
 * samples. `get(i)` gives one sample [x_i, y_i]; `batch(indices)` gathers many at once (like
 * `indexSelect` on axis 0), which is what DataLoader uses.
 * @example const ds = new TensorDataset(x, y); const [xb, yb] = ds.batch(Int32Array.of(0, 5, 7));
 */
export class TensorDataset implements Dataset<[Tensor, Tensor]> {
  /** Inputs, [N, ...]. */
  readonly x: Tensor;
  /** Targets, [N, ...] (class labels: int32 [N]). */
  readonly y: Tensor;
  /** Class names by label, when known (e.g. the MNIST digits, the CIFAR-10 classes). */
  readonly classes: readonly string[] | undefined;

  constructor(x: Tensor, y: Tensor, options: TensorDatasetOptions = {}) {
    assertTensor("TensorDataset", "x", x);
    assertTensor("TensorDataset", "y", y);
    const { classes } = checkOptions("TensorDataset", options, ["classes"]);
    if (x.ndim === 0 || y.ndim === 0) {
      throw new ShapeError(`TensorDataset: x and y need a first (sample) axis, got x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)}.`);
    }
    if (x.shape[0] !== y.shape[0]) {
      throw new ShapeError(`TensorDataset: x has ${x.shape[0]} samples (shape ${fmtShape(x.shape)}) but y has ${y.shape[0]} (shape ${fmtShape(y.shape)}); the first axes must be equal.`);
    }
    if (classes !== undefined && (!Array.isArray(classes) || classes.some((c) => typeof c !== "string"))) {
      throw new ValueError(`TensorDataset: classes must be a list of strings, got ${describeValue(classes)}.`);
    }
    this.x = x;
    this.y = y;
    this.classes = classes === undefined ? undefined : Object.freeze([...classes]);
  }

  /** Number of samples, N. */
  get length(): number {
    return this.x.shape[0]!;
  }

  /** Sample i: [x_i, y_i] with shapes x.shape[1:] and y.shape[1:] (a label is 0-d). Copies. */
  get(i: number): [Tensor, Tensor] {
    const n = this.length;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new IndexError(`TensorDataset.get: index ${describeValue(i)} is out of range for ${n} samples; valid indices are 0…${n - 1}.`);
    }
    return [row(this.x, i), row(this.y, i)];
  }

  /**
   * The samples at `indices`, gathered: [x[indices], y[indices]], i.e. `indexSelect` on axis 0.
   * Tensors outside the graph are gathered by copying whole rows (typed-array `set`, several
   * times faster than the general kernel); a tensor that requires grad goes through
   * `indexSelect`, so gradients flow back to it.
   */
  batch(indices: Indices): [Tensor, Tensor] {
    const index = toIndexTensor("TensorDataset.batch", indices, this.length);
    return [gatherRows(this.x, index), gatherRows(this.y, index)];
  }

  /** A new TensorDataset of the samples at `indices` (in that order; copies). */
  subset(indices: Indices): TensorDataset {
    const [x, y] = this.batch(indices);
    return new TensorDataset(x, y, this.classes ? { classes: this.classes } : {});
  }
}

function row(t: Tensor, i: number): Tensor {
  const size = sizeOf(t.shape.slice(1));
  const host = t._hostValues();
  if (host === null) return reshape(indexSelect(t, 0, [i]), t.shape.slice(1));
  return Tensor.fromStorage(host.slice(i * size, (i + 1) * size), t.shape.slice(1), t.dtype);
}

/**
 * Rows `index` of t, copied on the host where its values are there (a dataset made from
 * JavaScript data; labels on the webgpu backend keep their host values), else by the backend's
 * gather kernel (a dataset whose tensors live on the GPU).
 */
function gatherRows(t: Tensor, index: Tensor): Tensor {
  const src = t._hostValues();
  if (t.requiresGrad || src === null) return indexSelect(t, 0, index);
  const idx = index.data as Int32Array;
  const size = sizeOf(t.shape.slice(1));
  const out = allocateHost(t.dtype, idx.length * size);
  if (size === 1) for (let j = 0; j < idx.length; j++) out[j] = src[idx[j]!]!;
  else for (let j = 0; j < idx.length; j++) out.set(src.subarray(idx[j]! * size, (idx[j]! + 1) * size), j * size);
  return Tensor.fromStorage(out, [idx.length, ...t.shape.slice(1)], t.dtype);
}

function toIndexTensor(name: string, indices: Indices, n: number): Tensor {
  let data: Int32Array;
  if (indices instanceof Int32Array) data = indices;
  else if (Array.isArray(indices)) {
    data = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const k = indices[i];
      if (typeof k !== "number" || !Number.isInteger(k)) throw new IndexError(`${name}: indices[${i}] is ${describeValue(k)}, not an integer.`);
      data[i] = k;
    }
  } else {
    throw new ValueError(`${name}: indices must be an Int32Array or a list of integers, got ${describeValue(indices)}.`);
  }
  for (let i = 0; i < data.length; i++) {
    const k = data[i]!;
    if (k < 0 || k >= n) throw new IndexError(`${name}: index ${k} (at position ${i}) is out of range for ${n} samples; valid indices are 0…${n - 1}.`);
  }
  return Tensor.fromStorage(data, [data.length], "int32");
}

/**
 * Stacks samples [x_i, y_i] into one batch [x, y] (each gains a first axis of length B). All x_i
 * must share one shape and dtype, and so must all y_i. The result is outside the graph (a copy).
 */
export function collate(samples: readonly (readonly [Tensor, Tensor])[]): [Tensor, Tensor] {
  if (!Array.isArray(samples) || samples.length === 0) throw new ValueError(`collate: expected a non-empty list of [x, y] samples.`);
  return [stackRows(samples, 0), stackRows(samples, 1)];
}

function stackRows(samples: readonly (readonly [Tensor, Tensor])[], k: 0 | 1): Tensor {
  const what = k === 0 ? "x" : "y";
  const first = samples[0]![k];
  assertTensor("collate", `samples[0][${k}]`, first);
  const size = first.size;
  const out = allocateHost(first.dtype, size * samples.length);
  samples.forEach((s, i) => {
    const t = s[k];
    assertTensor("collate", `samples[${i}][${k}]`, t);
    if (t.dtype !== first.dtype) throw new DTypeError(`collate: sample ${i}'s ${what} is ${t.dtype} but sample 0's is ${first.dtype}; every sample needs the same dtype.`);
    if (t.ndim !== first.ndim || t.shape.some((d, j) => d !== first.shape[j])) {
      throw new ShapeError(`collate: sample ${i}'s ${what} has shape ${fmtShape(t.shape)} but sample 0's has ${fmtShape(first.shape)}; every sample needs the same shape.`);
    }
    out.set(t._checkable("collate", `samples[${i}][${k}]`), i * size);
  });
  return Tensor.fromStorage(out, [samples.length, ...first.shape], first.dtype);
}

/** Whether `d` has the Dataset shape (a numeric `length` and a `get` method). */
export function isDataset(d: unknown): d is Dataset<unknown> {
  return typeof d === "object" && d !== null && typeof (d as Dataset<unknown>).length === "number" && typeof (d as Dataset<unknown>).get === "function";
}

/** A TensorDataset as is; any other Dataset<[Tensor, Tensor]> collated into one (copies). */
export function toTensorDataset(name: string, dataset: Dataset<readonly [Tensor, Tensor]>): TensorDataset {
  if (dataset instanceof TensorDataset) return dataset;
  if (!isDataset(dataset)) throw new ValueError(`${name}: expected a TensorDataset or a Dataset ({ length, get(i) }), got ${describeValue(dataset)}.`);
  const samples: (readonly [Tensor, Tensor])[] = [];
  for (let i = 0; i < dataset.length; i++) samples.push(dataset.get(i));
  if (samples.length === 0) throw new ValueError(`${name}: the dataset is empty, and an empty Dataset other than a TensorDataset has no shape to copy.`);
  const [x, y] = collate(samples);
  return new TensorDataset(x, y);
}
