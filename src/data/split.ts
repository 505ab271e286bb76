/**
 * Seeded splits of a dataset: randomSplit (sizes or fractions, like torch.utils.data.random_split)
 * and trainValSplit (optionally stratified by class label).
 */
import { ShapeError, ValueError, fmtShape } from "../errors.js";
import { Generator } from "../tensor/random.js";
import { Tensor } from "../tensor/tensor.js";
import { TensorDataset, toTensorDataset, type Dataset } from "./dataset.js";
import { apportion, checkBool, checkInt, checkOptions, checkSeed, describeValue, permutation, shuffleInPlace } from "./util.js";

/** Options of randomSplit. */
export interface RandomSplitOptions {
  /** Seed of the permutation (any integer). Default 0. */
  seed?: number;
}

/** Options of trainValSplit. */
export interface TrainValSplitOptions {
  /** Seed of the permutation (any integer). Default 0. */
  seed?: number;
  /** Keep each class's share the same in both parts (y must hold integer labels [N]). Default false. */
  stratify?: boolean;
}

/** `[train, val]`, also readable as `{ train, val }`. */
export type TrainValSplit = [TensorDataset, TensorDataset] & { readonly train: TensorDataset; readonly val: TensorDataset };

/**
 * Splits a dataset into disjoint random parts that together hold every sample once.
 * `sizes` are sample counts summing to N, or fractions summing to 1 (each part gets the floor or
 * the ceiling of fraction·N, the leftover samples going to the largest remainders). The samples
 * come from one permutation drawn from Generator(seed): part 0 takes its first sizes[0], part 1
 * the next, and so on; each part keeps that random order.
 * @example const [train, val, test] = randomSplit(ds, [0.8, 0.1, 0.1], { seed: 0 });
 */
export function randomSplit(dataset: Dataset<readonly [Tensor, Tensor]>, sizes: readonly number[], options: RandomSplitOptions = {}): TensorDataset[] {
  const o = checkOptions("randomSplit", options, ["seed"]);
  const seed = checkSeed("randomSplit", o.seed ?? 0);
  const ds = toTensorDataset("randomSplit", dataset);
  const n = ds.length;
  const counts = resolveSizes(sizes, n);
  const perm = permutation(n, new Generator(seed));
  const parts: TensorDataset[] = [];
  let at = 0;
  for (const c of counts) {
    parts.push(ds.subset(perm.subarray(at, at + c)));
    at += c;
  }
  return parts;
}

function resolveSizes(sizes: readonly number[], n: number): number[] {
  if (!Array.isArray(sizes) || sizes.length === 0 || sizes.some((s) => typeof s !== "number" || !Number.isFinite(s) || s < 0)) {
    throw new ValueError(`randomSplit: sizes must be a non-empty list of counts or fractions ≥ 0, got ${describeValue(sizes)}.`);
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  if (sizes.every(Number.isInteger) && total === n) return [...sizes];
  if (Math.abs(total - 1) <= 1e-9 && sizes.every((s) => s <= 1)) {
    // Fractions: apportion N in proportion to them (exact integer arithmetic on scaled weights).
    const scale = Math.min(1e9, Math.max(1, Math.floor(2 ** 52 / Math.max(1, n))));
    const weights = sizes.map((s) => Math.round(s * scale));
    return apportion(n, weights, weights.map(() => n));
  }
  throw new ValueError(`randomSplit: sizes ${JSON.stringify(sizes)} are neither counts summing to the ${n} samples nor fractions summing to 1.`);
}

/**
 * Splits off a validation set of round(valFraction·N) samples; the rest is the training set.
 * Without `stratify`, the validation set is the first samples of a permutation drawn from
 * Generator(seed). With `stratify`, every class c gets the floor or the ceiling of
 * valFraction·N·(n_c / N) validation samples (largest remainders take the ceiling; their sum is
 * exactly round(valFraction·N)), taken as the first samples of class c in that same permutation.
 * Both parts keep the permutation's order, so they come out shuffled, not grouped by class.
 * Fit normalisation statistics on the training part only.
 * @example const { train, val } = trainValSplit(ds, 0.1, { seed: 0, stratify: true });
 */
export function trainValSplit(dataset: Dataset<readonly [Tensor, Tensor]>, valFraction: number, options: TrainValSplitOptions = {}): TrainValSplit {
  const o = checkOptions("trainValSplit", options, ["seed", "stratify"]);
  const seed = checkSeed("trainValSplit", o.seed ?? 0);
  const stratify = checkBool("trainValSplit", "stratify", o.stratify ?? false);
  if (typeof valFraction !== "number" || !(valFraction >= 0 && valFraction <= 1)) {
    throw new ValueError(`trainValSplit: valFraction must be a number in [0, 1], got ${describeValue(valFraction)}.`);
  }
  const ds = toTensorDataset("trainValSplit", dataset);
  const n = ds.length;
  const nVal = Math.round(valFraction * n);
  const perm = permutation(n, new Generator(seed));
  const isVal = new Uint8Array(n);
  if (!stratify) {
    for (let i = 0; i < nVal; i++) isVal[perm[i]!] = 1;
  } else {
    const labels = classLabels("trainValSplit", ds.y);
    const classes = [...new Set(labels)].sort((a, b) => a - b);
    const slot = new Map(classes.map((c, i) => [c, i]));
    const counts = classes.map(() => 0);
    for (const l of labels) counts[slot.get(l)!]!++;
    const want = apportion(nVal, counts);
    for (const i of perm) {
      const c = slot.get(labels[i]!)!;
      if (want[c]! > 0) {
        want[c]!--;
        isVal[i] = 1;
      }
    }
  }
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  for (const i of perm) (isVal[i] ? valIdx : trainIdx).push(i);
  const train = ds.subset(trainIdx);
  const val = ds.subset(valIdx);
  const out = [train, val] as unknown as TrainValSplit;
  Object.defineProperties(out, { train: { value: train }, val: { value: val } });
  return out;
}

/** The integer class labels of a 1-D label tensor (int32, or floats/bools holding integers). */
export function classLabels(name: string, y: Tensor): number[] {
  if (y.ndim !== 1) throw new ShapeError(`${name}: stratifying needs class labels y of shape [N], got ${fmtShape(y.shape)}.`);
  const labels = Array.from(y.data as ArrayLike<number>);
  const bad = labels.findIndex((v) => !Number.isInteger(v));
  if (bad >= 0) throw new ValueError(`${name}: stratifying needs integer class labels, but y[${bad}] is ${labels[bad]}.`);
  return labels;
}

/** Options of stratifiedSplit. */
export interface StratifiedSplitOptions {
  /** Training samples, apportioned over the classes by their counts. */
  trainSize: number;
  /** Test samples (disjoint from the training ones), apportioned likewise. */
  testSize: number;
  /** Seed of the split. Default 0. */
  seed?: number;
  /** The shape of one sample; default [features] (e.g. [1, 28, 28] for images). */
  sampleShape?: readonly number[];
  /** Class names, stored on the datasets. */
  classes?: readonly string[];
  /** The caller's name in error messages. Default "stratifiedSplit". */
  op?: string;
}

/**
 * Seeded, stratified, disjoint train and test sets from samples grouped by class: `byClass[c]`
 * holds class c's samples back to back, each `features` values long (float32). This is the split
 * of `loadMnist` (chainrule/node), usable in browsers on the same digits:
 *
 * 1. g = new Generator(seed).
 * 2. Class c (n_c samples) gets train_c = the floor or the ceiling of trainSize·n_c/N (largest
 *    remainders take the ceilings, ties to the lower class), and test_c likewise of testSize, at
 *    most n_c − train_c.
 * 3. For c = 0, 1, …: a permutation of 0…n_c−1 is drawn from g; its first train_c samples go to
 *    the training set, the next test_c to the test set.
 * 4. The training set, then the test set, is shuffled with g (Fisher–Yates).
 *
 * @returns x float32 [n, ...sampleShape], y int32 [n] for each part.
 * @example const { train, test } = stratifiedSplit(byClass, 784, { trainSize: 8000, testSize: 2000 });
 */
export function stratifiedSplit(byClass: readonly Float32Array[], features: number, options: StratifiedSplitOptions): { train: TensorDataset; test: TensorDataset } {
  const op = options.op ?? "stratifiedSplit";
  const o = checkOptions(op, options, ["trainSize", "testSize", "seed", "sampleShape", "classes", "op"]);
  const trainSize = checkInt(op, "trainSize", o.trainSize, 0);
  const testSize = checkInt(op, "testSize", o.testSize, 0);
  const seed = checkSeed(op, o.seed ?? 0);
  const sampleShape = [...(o.sampleShape ?? [features])];
  if (sampleShape.reduce((a, b) => a * b, 1) !== features) throw new ShapeError(`${op}: sampleShape ${fmtShape(sampleShape)} does not hold ${features} features per sample; give a shape whose sizes multiply to ${features}.`);
  const counts = byClass.map((x, c) => {
    if (!(x instanceof Float32Array) || x.length % features !== 0) throw new ShapeError(`${op}: the samples of class ${c} (${describeValue(x)}) are not a Float32Array of whole ${features}-value samples.`);
    return x.length / features;
  });
  const total = counts.reduce((a, b) => a + b, 0);
  if (trainSize + testSize > total) throw new ValueError(`${op}: trainSize + testSize = ${trainSize + testSize}, but there are only ${total} samples; ask for fewer.`);
  const g = new Generator(seed);
  const trainCounts = apportion(trainSize, counts);
  const testCounts = apportion(testSize, counts, counts.map((n, c) => n - trainCounts[c]!));
  // Samples as class·stride + index within the class.
  const stride = Math.max(1, ...counts);
  const trainIds: number[] = [];
  const testIds: number[] = [];
  for (let c = 0; c < counts.length; c++) {
    const perm = permutation(counts[c]!, g);
    for (let k = 0; k < trainCounts[c]!; k++) trainIds.push(c * stride + perm[k]!);
    for (let k = trainCounts[c]!; k < trainCounts[c]! + testCounts[c]!; k++) testIds.push(c * stride + perm[k]!);
  }
  shuffleInPlace(trainIds, g);
  shuffleInPlace(testIds, g);
  const make = (ids: number[]): TensorDataset => {
    const n = ids.length;
    const x = new Float32Array(n * features);
    const y = new Int32Array(n);
    ids.forEach((id, k) => {
      const c = Math.floor(id / stride);
      const i = id % stride;
      x.set(byClass[c]!.subarray(i * features, (i + 1) * features), k * features);
      y[k] = c;
    });
    return new TensorDataset(Tensor.fromStorage(x, [n, ...sampleShape], "float32"), Tensor.fromStorage(y, [n], "int32"), o.classes ? { classes: [...o.classes] } : {});
  };
  return { train: make(trainIds), test: make(testIds) };
}
