/**
 * The datasets the command trains and evaluates on, each split into train / validation / test
 * the same way every time for the same options (so `chainrule eval` rebuilds the test split).
 * The validation split always comes from the training data, never from the test data.
 */
import { DataError, Tensor, data, type DType } from "../index.js";
import { loadCifar10, loadMnist, loadMnistIdx } from "../data/node.js";
import { CliError, UsageError } from "./common.js";
import type { DatasetInfo, Normalization } from "./model.js";
import type { ImageShape } from "./weights-image.js";

export const DATASETS = ["mnist", "mnist-idx", "cifar10", "spiral"] as const;
export type DatasetName = (typeof DATASETS)[number];

export const NORMALIZATIONS = ["none", "standardize"] as const;
export type NormalizationName = (typeof NORMALIZATIONS)[number];

/** Per-dataset defaults (`--normalize`): pixels in [0, 1] train well as they are; CIFAR-10 is standardised per feature. */
export const DEFAULT_NORMALIZATION: Record<DatasetName, NormalizationName> = {
  mnist: "none",
  "mnist-idx": "none",
  cifar10: "standardize",
  spiral: "none",
};

/** Spiral: the CS231n "Putting it together" data, 3 arms. */
export const SPIRAL = { classes: 3, pointsPerClass: 300, noise: 0.2, testFraction: 0.2 } as const;

export interface DataOptions {
  dataset: DatasetName;
  dataDir?: string;
  /** Training samples (before the validation split): mnist default 8000; files default all. */
  trainSize?: number;
  /** Test samples: mnist default 2000; files default all. */
  testSize?: number;
  /** Fraction of the training samples held out for validation (best weights). */
  valFraction: number;
  seed: number;
  normalize?: NormalizationName;
  dtype?: DType;
  /** Skip the training data (eval needs only the test split, and the normalisation is given). */
  testOnly?: boolean;
  /** Normalisation to apply instead of fitting one (eval). */
  normalization?: Normalization;
}

export interface PreparedData {
  train?: data.TensorDataset;
  val?: data.TensorDataset;
  test: data.TensorDataset;
  classes: string[];
  features: number;
  image?: ImageShape;
  normalization?: Normalization;
  info: DatasetInfo;
}

function requireDir(dataset: DatasetName, dir: string | undefined): string {
  if (dir === undefined || dir === "") {
    const what = dataset === "cifar10" ? "the CIFAR-10 binary batches (data_batch_1.bin … test_batch.bin)" : "the MNIST IDX files (train-images-idx3-ubyte …)";
    throw new UsageError(`--dataset ${dataset} needs --data-dir DIR, the directory holding ${what}.`);
  }
  return dir;
}

/** Runs a file loader; its DataError (a missing or malformed file) names --data-dir, exit code 1. */
function fromDataDir<T>(dir: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof DataError) throw new CliError(`--data-dir ${dir}: ${error.message}`);
    throw error;
  }
}

function limitOption(n: number | undefined): { limit?: number } {
  return n === undefined ? {} : { limit: n };
}

/** Loads the raw splits: [train (undefined when testOnly), test, classes, image layout]. */
function loadRaw(o: DataOptions): { train?: data.TensorDataset; test: data.TensorDataset; classes: string[]; image?: ImageShape; options: Record<string, unknown> } {
  switch (o.dataset) {
    case "mnist": {
      const trainSize = o.trainSize ?? 8000;
      const testSize = o.testSize ?? 2000;
      const { train, test, classes } = loadMnist({ trainSize, testSize, seed: o.seed });
      return { ...(o.testOnly ? {} : { train }), test, classes, image: { channels: 1, height: 28, width: 28 }, options: { trainSize, testSize, seed: o.seed } };
    }
    case "mnist-idx": {
      const dir = requireDir(o.dataset, o.dataDir);
      const test = fromDataDir(dir, () => loadMnistIdx(dir, { split: "test", ...limitOption(o.testSize) }));
      const train = o.testOnly ? undefined : fromDataDir(dir, () => loadMnistIdx(dir, { split: "train", ...limitOption(o.trainSize) }));
      return {
        ...(train ? { train } : {}),
        test,
        classes: [...(test.classes ?? data.MNIST_CLASSES)],
        image: { channels: 1, height: 28, width: 28 },
        options: { ...limitOption(o.trainSize), ...(o.testSize ? { testSize: o.testSize } : {}) },
      };
    }
    case "cifar10": {
      const dir = requireDir(o.dataset, o.dataDir);
      const test = fromDataDir(dir, () => loadCifar10(dir, { split: "test", ...limitOption(o.testSize) }));
      const train = o.testOnly ? undefined : fromDataDir(dir, () => loadCifar10(dir, { split: "train", ...limitOption(o.trainSize) }));
      return {
        ...(train ? { train } : {}),
        test,
        classes: [...(test.classes ?? data.CIFAR10_CLASSES)],
        image: { channels: 3, height: 32, width: 32 },
        options: { ...limitOption(o.trainSize), ...(o.testSize ? { testSize: o.testSize } : {}) },
      };
    }
    case "spiral": {
      const all = data.spiral({ classes: SPIRAL.classes, pointsPerClass: SPIRAL.pointsPerClass, noise: SPIRAL.noise, seed: o.seed });
      // A stratified, seeded test split: the same points every time for the same seed.
      const { train, val: test } = data.trainValSplit(all, SPIRAL.testFraction, { seed: o.seed, stratify: true });
      const classes = Array.from({ length: SPIRAL.classes }, (_, k) => `arm ${k}`);
      return { ...(o.testOnly ? {} : { train }), test, classes, options: { ...SPIRAL, seed: o.seed } };
    }
    default:
      throw new UsageError(`unknown dataset "${String(o.dataset)}"; use one of ${DATASETS.join(", ")}.`);
  }
}

function withClasses(ds: data.TensorDataset, x: Tensor, classes: readonly string[]): data.TensorDataset {
  return new data.TensorDataset(x, ds.y, { classes });
}

function standardizerOf(n: Normalization, features: number): data.Standardizer {
  return data.Standardizer.fromStateDict({
    mean: Tensor.fromStorage(Float64Array.from(n.mean), [1, features], "float64"),
    std: Tensor.fromStorage(Float64Array.from(n.std), [1, features], "float64"),
    axis: [0],
  });
}

/**
 * Loads a dataset and prepares its splits: the validation split (stratified, seeded) from the
 * training data, then the normalisation fitted on the training part only and applied to all.
 */
export function prepareData(o: DataOptions): PreparedData {
  const raw = loadRaw(o);
  const features = raw.test.x.shape[1]!;
  const classes = raw.classes;
  let train = raw.train;
  let val: data.TensorDataset | undefined;
  if (train && o.valFraction > 0) {
    const split = data.trainValSplit(train, o.valFraction, { seed: o.seed, stratify: true });
    train = split.train;
    val = split.val;
  }

  let normalization = o.normalization;
  if (!normalization && train && (o.normalize ?? DEFAULT_NORMALIZATION[o.dataset]) === "standardize") {
    const s = new data.Standardizer().fit(train.x, { axis: 0 });
    normalization = { mean: Array.from(s.mean.data as Float64Array), std: Array.from(s.std.data as Float64Array) };
  }
  const dtype = o.dtype ?? "float32";
  const scaler = normalization ? standardizerOf(normalization, features) : undefined;
  const prep = (ds: data.TensorDataset | undefined): data.TensorDataset | undefined => {
    if (!ds) return undefined;
    let x = scaler ? scaler.transform(ds.x) : ds.x;
    if (x.dtype !== dtype) x = x.to(dtype);
    return x === ds.x && ds.classes ? ds : withClasses(ds, x, classes);
  };
  const info: DatasetInfo = { name: o.dataset, options: { ...raw.options, valFraction: o.valFraction } };
  if (raw.image) info.imageShape = [raw.image.channels, raw.image.height, raw.image.width];
  const out: PreparedData = { test: prep(raw.test)!, classes, features, info };
  const t = prep(train);
  const v = prep(val);
  if (t) out.train = t;
  if (v) out.val = v;
  if (raw.image) out.image = raw.image;
  if (normalization) out.normalization = normalization;
  return out;
}

/** The image layout recorded in a model's metadata, if any. */
export function imageShapeOf(info: DatasetInfo | undefined): ImageShape | undefined {
  const s = info?.imageShape;
  if (!s || (s[0] !== 1 && s[0] !== 3)) return undefined;
  return { channels: s[0], height: s[1], width: s[2] };
}
