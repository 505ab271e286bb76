/**
 * The browser-safe data module: TensorDataset, DataLoader (batching, dropLast, per-(seed, epoch)
 * shuffles, every sample once per epoch), seeded splits and stratification, the Standardizer and
 * the synthetic 2-D datasets.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DTypeError, IndexError, ShapeError, Tensor, ValueError, arange, data, tensor } from "../src/index.js";

const { TensorDataset, DataLoader, randomSplit, trainValSplit, Standardizer, spiral, moons, circles, collate } = data;

/** A dataset whose y is the sample id and whose x rows are [id, 10·id], so batches can be checked. */
function ids(n: number, labels?: (i: number) => number): InstanceType<typeof TensorDataset> {
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) [x[2 * i], x[2 * i + 1]] = [i, 10 * i];
  const y = Int32Array.from({ length: n }, (_, i) => (labels ? labels(i) : i));
  return new TensorDataset(tensor(x, { shape: [n, 2] }), tensor(y, { shape: [n] }));
}

const ys = (t: Tensor): number[] => Array.from(t.data);

function epochIds(loader: InstanceType<typeof DataLoader>): number[][] {
  return [...loader].map(([x, y]) => {
    expect(ys(x)).toEqual(ys(y).flatMap((i) => [i, 10 * i])); // rows stay paired with their labels
    return ys(y);
  });
}

describe("TensorDataset", () => {
  it("holds x [N, ...] and y [N]; get, batch and subset", () => {
    const ds = ids(5);
    expect(ds.length).toBe(5);
    const [x2, y2] = ds.get(2);
    expect(x2.shape).toEqual([2]);
    expect(y2.shape).toEqual([]);
    expect(x2.toArray()).toEqual([2, 20]);
    expect(y2.item()).toBe(2);
    expect(y2.dtype).toBe("int32");
    const [xb, yb] = ds.batch(Int32Array.of(4, 0, 4));
    expect(xb.shape).toEqual([3, 2]);
    expect(ys(yb)).toEqual([4, 0, 4]);
    const sub = ds.subset([3, 1]);
    expect(sub.length).toBe(2);
    expect(ys(sub.y)).toEqual([3, 1]);
    expect(sub.x.toArray()).toEqual([[3, 30], [1, 10]]);
  });

  it("batch equals indexSelect on axis 0 for every dtype and rank; gradients flow to an x that requires grad", () => {
    const idx = Int32Array.of(2, 0, 2, 1);
    const cases = [
      tensor(Float64Array.from({ length: 3 * 2 * 2 * 2 }, (_, i) => i / 7), { shape: [3, 2, 2, 2] }),
      tensor([[true, false], [false, false], [true, true]]),
      tensor([5, 6, 7], { dtype: "int32" }),
    ];
    for (const x of cases) {
      const ds = new TensorDataset(x, tensor([0, 1, 2], { dtype: "int32" }));
      const [xb, yb] = ds.batch(idx);
      const ref = x.indexSelect(0, tensor(idx));
      expect([xb.shape, xb.dtype, xb.toArray()]).toEqual([ref.shape, ref.dtype, ref.toArray()]);
      expect(ys(yb)).toEqual([2, 0, 2, 1]);
    }
    const w = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
    const [xb] = new TensorDataset(w, tensor([0, 1, 2], { dtype: "int32" })).batch([2, 2, 0]);
    xb.sum().backward();
    expect(w.grad!.toArray()).toEqual([[1, 1], [0, 0], [2, 2]]);
  });

  it("rejects different sample counts, 0-d tensors and bad indices", () => {
    expect(() => new TensorDataset(tensor([[1], [2], [3]]), tensor([0, 1], { dtype: "int32" }))).toThrow(ShapeError);
    expect(() => new TensorDataset(tensor([[1], [2], [3]]), tensor([0, 1], { dtype: "int32" }))).toThrow(/3 samples.*2/);
    expect(() => new TensorDataset(tensor(1), tensor(1))).toThrow(ShapeError);
    const ds = ids(3);
    expect(() => ds.get(3)).toThrow(IndexError);
    expect(() => ds.get(-1)).toThrow(IndexError);
    expect(() => ds.batch([0, 7])).toThrow(IndexError);
    expect(() => ds.batch([0.5])).toThrow(IndexError);
  });

  it("carries class names into subsets", () => {
    const ds = new TensorDataset(tensor([[1], [2]]), tensor([0, 1], { dtype: "int32" }), { classes: ["cat", "dog"] });
    expect(ds.subset([1]).classes).toEqual(["cat", "dog"]);
    expect(ids(2).classes).toBeUndefined();
  });

  it("collate stacks samples and checks shapes and dtypes", () => {
    const [x, y] = collate([ids(3).get(0), ids(3).get(2)]);
    expect(x.toArray()).toEqual([[0, 0], [2, 20]]);
    expect(y.dtype).toBe("int32");
    expect(ys(y)).toEqual([0, 2]);
    expect(() => collate([[tensor([1, 2]), tensor(0)], [tensor([1]), tensor(0)]])).toThrow(ShapeError);
    expect(() => collate([[tensor([1]), tensor(0)], [tensor([1], { dtype: "float64" }), tensor(0)]])).toThrow(DTypeError);
  });
});

describe("DataLoader", () => {
  it("batches in order, with a short last batch unless dropLast", () => {
    const loader = new DataLoader(ids(10), { batchSize: 4 });
    expect(loader.length).toBe(3);
    expect(loader.size).toBe(10);
    expect(loader.batchSize).toBe(4);
    expect(epochIds(loader)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const dropped = new DataLoader(ids(10), { batchSize: 4, dropLast: true });
    expect(dropped.length).toBe(2);
    expect(dropped.size).toBe(8);
    expect(epochIds(dropped)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    const exact = new DataLoader(ids(8), { batchSize: 4, dropLast: true });
    expect([exact.length, exact.size]).toEqual([2, 8]);
  });

  it("defaults: batchSize 128, no shuffle, no dropLast, seed 0, epoch 0", () => {
    const loader = new DataLoader(ids(300));
    expect([loader.batchSize, loader.shuffle, loader.dropLast, loader.seed, loader.epoch]).toEqual([128, false, false, 0, 0]);
    expect(epochIds(loader).map((b) => b.length)).toEqual([128, 128, 44]);
    expect(loader.stateDict()).toEqual({ seed: 0, epoch: 0 });
  });

  it("rejects unknown options (listing the valid ones) and bad values", () => {
    expect(() => new DataLoader(ids(3), { batchsize: 2 } as never)).toThrow(ValueError);
    expect(() => new DataLoader(ids(3), { batchsize: 2 } as never)).toThrow(/unknown option 'batchsize'.*'batchSize', 'shuffle', 'dropLast', 'seed'/);
    for (const batchSize of [0, -1, 1.5, Number.NaN, "4"]) {
      expect(() => new DataLoader(ids(3), { batchSize: batchSize as number })).toThrow(/batchSize must be an integer ≥ 1/);
    }
    expect(() => new DataLoader(ids(3), { shuffle: 1 as never })).toThrow(ValueError);
    expect(() => new DataLoader(ids(3), { seed: 0.5 })).toThrow(ValueError);
    expect(() => new DataLoader([1, 2] as never)).toThrow(ValueError);
    expect(() => new DataLoader(ids(3)).setEpoch(-1)).toThrow(ValueError);
  });

  it("the shuffle of epoch e depends on (seed, e) only; iterating does not advance the epoch", () => {
    const a = new DataLoader(ids(50), { batchSize: 8, shuffle: true, seed: 7 });
    const e0 = epochIds(a);
    expect(epochIds(a)).toEqual(e0); // same epoch until setEpoch
    expect(e0.flat()).not.toEqual([...Array(50).keys()]);
    a.setEpoch(1);
    const e1 = epochIds(a);
    expect(e1).not.toEqual(e0);
    a.setEpoch(0);
    expect(epochIds(a)).toEqual(e0);
    // A fresh loader (a resumed run) reproduces any epoch directly.
    const b = new DataLoader(ids(50), { batchSize: 8, shuffle: true, seed: 7 });
    expect(epochIds(b.setEpoch(1))).toEqual(e1);
    const c = new DataLoader(ids(50), { batchSize: 8, shuffle: true, seed: 8 });
    expect(epochIds(c)).not.toEqual(e0);
    // The order does not depend on the batch size.
    const d = new DataLoader(ids(50), { batchSize: 50, shuffle: true, seed: 7 });
    expect(epochIds(d.setEpoch(1)).flat()).toEqual(e1.flat());
  });

  it("stateDict / loadStateDict resume the same batches", () => {
    const a = new DataLoader(ids(20), { batchSize: 6, shuffle: true, seed: 3 }).setEpoch(4);
    const state = a.stateDict();
    expect(state).toEqual({ seed: 3, epoch: 4 });
    const b = new DataLoader(ids(20), { batchSize: 6, shuffle: true }).loadStateDict(JSON.parse(JSON.stringify(state)));
    expect([b.seed, b.epoch]).toEqual([3, 4]);
    expect(epochIds(b)).toEqual(epochIds(a));
    expect(() => b.loadStateDict({ seed: 1 } as never)).toThrow(ValueError);
    expect(() => b.loadStateDict({ seed: 1, epoch: 0, extra: 1 } as never)).toThrow(/unknown option 'extra'/);
  });

  it("batches(start) resumes inside an epoch", () => {
    const loader = new DataLoader(ids(20), { batchSize: 6, shuffle: true, seed: 1 });
    const all = epochIds(loader);
    expect([...loader.batches(2)].map(([, y]) => ys(y))).toEqual(all.slice(2));
  });

  it("batches any Dataset<[x, y]> by collating its samples, like a TensorDataset", () => {
    const ds = ids(11);
    const plain = { length: ds.length, get: (i: number) => ds.get(i) };
    const a = new DataLoader(plain, { batchSize: 4, shuffle: true, seed: 2 });
    const b = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 2 });
    const batchesA = [...a];
    expect(batchesA.map(([x, y]) => [x.toArray(), y.toArray()])).toEqual([...b].map(([x, y]) => [x.toArray(), y.toArray()]));
    expect(batchesA[0]![0].shape).toEqual([4, 2]);
    expect(batchesA[0]![1].shape).toEqual([4]);
  });

  it("an empty dataset gives no batches", () => {
    const empty = new TensorDataset(tensor(new Float32Array(0), { shape: [0, 3] }), tensor(new Int32Array(0)));
    const loader = new DataLoader(empty, { shuffle: true });
    expect([loader.length, loader.size, [...loader].length]).toEqual([0, 0, 0]);
  });

  it("every sample exactly once per epoch (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        (n, batchSize, shuffle, dropLast, seed, epoch) => {
          const loader = new DataLoader(ids(n), { batchSize, shuffle, dropLast, seed }).setEpoch(epoch);
          const batches = epochIds(loader);
          expect(batches.length).toBe(loader.length);
          const seen = batches.flat();
          expect(seen.length).toBe(loader.size);
          expect(new Set(seen).size).toBe(seen.length);
          batches.forEach((b, i) => {
            if (i < batches.length - 1 || dropLast) expect(b.length).toBe(batchSize);
            else expect(b.length).toBe(n - i * batchSize);
          });
          if (dropLast) expect(seen.length).toBe(Math.floor(n / batchSize) * batchSize);
          else expect([...seen].sort((p, q) => p - q)).toEqual([...Array(n).keys()]);
          if (!shuffle) expect(seen).toEqual([...Array(seen.length).keys()]);
        },
      ),
      { numRuns: 150, seed: 42 },
    );
  });
});

describe("randomSplit", () => {
  it("splits by counts or fractions into disjoint parts that hold every sample", () => {
    const ds = ids(10);
    const parts = randomSplit(ds, [6, 3, 1], { seed: 1 });
    expect(parts.map((p) => p.length)).toEqual([6, 3, 1]);
    const all = parts.flatMap((p) => ys(p.y));
    expect([...all].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    parts.forEach((p) => expect(ys(p.x).filter((_, k) => k % 2 === 0)).toEqual(ys(p.y))); // rows kept with labels
    expect(randomSplit(ds, [0.7, 0.3], { seed: 1 }).map((p) => p.length)).toEqual([7, 3]);
    expect(randomSplit(ids(7), [0.5, 0.5]).map((p) => p.length)).toEqual([4, 3]);
    expect(randomSplit(ids(10), [1 / 3, 1 / 3, 1 / 3]).map((p) => p.length)).toEqual([4, 3, 3]);
  });

  it("is deterministic per seed", () => {
    const ds = ids(30);
    const a = randomSplit(ds, [20, 10], { seed: 5 }).map((p) => ys(p.y));
    expect(randomSplit(ds, [20, 10], { seed: 5 }).map((p) => ys(p.y))).toEqual(a);
    expect(randomSplit(ds, [20, 10], { seed: 6 }).map((p) => ys(p.y))).not.toEqual(a);
  });

  it("rejects sizes that are neither counts summing to N nor fractions summing to 1", () => {
    expect(() => randomSplit(ids(10), [5, 4])).toThrow(/neither counts summing to the 10 samples nor fractions/);
    expect(() => randomSplit(ids(10), [0.5, 0.6])).toThrow(ValueError);
    expect(() => randomSplit(ids(10), [])).toThrow(ValueError);
    expect(() => randomSplit(ids(10), [-1, 11])).toThrow(ValueError);
    expect(() => randomSplit(ids(10), [5, 5], { seed: 1, shuffle: true } as never)).toThrow(/unknown option 'shuffle'/);
  });

  it("parts are disjoint and complete for any N and fractions (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 80 }), fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 4 }), fc.integer(), (n, w, seed) => {
        const total = w.reduce((a, b) => a + b, 0);
        const fractions = w.map((v) => v / total);
        const parts = randomSplit(ids(n), fractions, { seed });
        const all = parts.flatMap((p) => ys(p.y));
        expect([...all].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
        parts.forEach((p, i) => expect(Math.abs(p.length - fractions[i]! * n)).toBeLessThan(1 + 1e-9));
      }),
      { numRuns: 100, seed: 7 },
    );
  });
});

describe("trainValSplit", () => {
  it("splits off round(f·N) validation samples, disjoint and complete; [train, val] or { train, val }", () => {
    const ds = ids(25);
    const split = trainValSplit(ds, 0.2, { seed: 3 });
    const [train, val] = split;
    expect(split.train).toBe(train);
    expect(split.val).toBe(val);
    expect([train.length, val.length]).toEqual([20, 5]);
    const all = [...ys(train.y), ...ys(val.y)].sort((a, b) => a - b);
    expect(all).toEqual([...Array(25).keys()]);
    expect(ys(trainValSplit(ds, 0.2, { seed: 3 }).val.y)).toEqual(ys(val.y));
    expect(trainValSplit(ds, 0).val.length).toBe(0);
    expect(() => trainValSplit(ds, 1.5)).toThrow(ValueError);
    expect(() => trainValSplit(ds, 0.1, { stratified: true } as never)).toThrow(/unknown option 'stratified'.*'seed', 'stratify'/);
  });

  it("stratify keeps each class's share in both parts (floor or ceiling of its proportion)", () => {
    // Class sizes 50, 30, 15, 5 (in an interleaved order).
    const classOf = (i: number): number => (i % 20 < 10 ? 0 : i % 20 < 16 ? 1 : i % 20 < 19 ? 2 : 3);
    const n = 100;
    const labelled = new TensorDataset(ids(n).x, tensor(Int32Array.from({ length: n }, (_, i) => classOf(i)), { shape: [n] }));
    for (const f of [0.1, 0.25, 0.33]) {
      const { train, val } = trainValSplit(labelled, f, { seed: 9, stratify: true });
      expect(val.length).toBe(Math.round(f * n));
      expect(train.length + val.length).toBe(n);
      const sizes = [50, 30, 15, 5];
      sizes.forEach((size, c) => {
        const inVal = ys(val.y).filter((l) => l === c).length;
        expect(Math.abs(inVal - (val.length * size) / n)).toBeLessThan(1);
      });
      // Disjoint and complete, by the rows' ids.
      const ids0 = [...train.x.toArray() as number[][], ...val.x.toArray() as number[][]].map((r) => r[0]!);
      expect(ids0.sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
    }
  });

  it("stratify needs integer labels [N]", () => {
    const ds = new TensorDataset(tensor([[1], [2]]), tensor([0.5, 1]));
    expect(() => trainValSplit(ds, 0.5, { stratify: true })).toThrow(/integer class labels/);
    const ds2 = new TensorDataset(tensor([[1], [2]]), tensor([[0], [1]], { dtype: "int32" }));
    expect(() => trainValSplit(ds2, 0.5, { stratify: true })).toThrow(ShapeError);
  });
});

describe("Standardizer", () => {
  it("per feature on [N, D]: transformed training data has mean 0 and std 1", () => {
    const x = tensor([[1, 10, 5], [2, 20, 5], [3, 60, 5], [6, 30, 5]]);
    const s = new Standardizer().fit(x);
    expect(s.mean.shape).toEqual([1, 3]);
    expect(Array.from(s.mean.data)).toEqual([3, 30, 5]);
    expect(s.axis).toEqual([0]);
    const z = s.transform(x);
    expect(z.dtype).toBe("float32");
    const cols = [0, 1, 2].map((j) => (z.toArray() as number[][]).map((r) => r[j]!));
    for (const col of cols.slice(0, 2)) {
      const m = col.reduce((a, b) => a + b, 0) / col.length;
      const v = col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length;
      expect(m).toBeCloseTo(0, 6);
      expect(v).toBeCloseTo(1, 5);
    }
    // A constant feature: std 0 is replaced by 1, so it becomes 0, never NaN.
    expect(cols[2]).toEqual([0, 0, 0, 0]);
    expect(s.std.data[2]).toBe(1);
  });

  it("a constant feature whose mean is not exact in floating point still gives 0, not noise", () => {
    const x = tensor(new Float64Array(7).fill(0.1), { shape: [7, 1] });
    const z = new Standardizer().fitTransform(x);
    expect(Array.from(z.data).every((v) => Math.abs(v) < 1e-9)).toBe(true);
    expect(Array.from(z.data).some(Number.isNaN)).toBe(false);
  });

  it("per channel on [N, C, H, W] (axes 0, 2, 3), matching a direct computation", () => {
    const N = 3, C = 2, H = 2, W = 3;
    const values = Float32Array.from({ length: N * C * H * W }, (_, i) => ((i * 37) % 11) + (Math.floor(i / (H * W)) % C) * 100);
    const x = tensor(values, { shape: [N, C, H, W] });
    const s = new Standardizer().fit(x);
    expect(s.axis).toEqual([0, 2, 3]);
    expect(s.mean.shape).toEqual([1, C, 1, 1]);
    for (let c = 0; c < C; c++) {
      const vals: number[] = [];
      for (let n = 0; n < N; n++) for (let k = 0; k < H * W; k++) vals.push(values[(n * C + c) * H * W + k]!);
      const m = vals.reduce((a, b) => a + b, 0) / vals.length;
      const sd = Math.sqrt(vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length);
      expect(s.mean.data[c]).toBeCloseTo(m, 10);
      expect(s.std.data[c]).toBeCloseTo(sd, 10);
    }
    // Other N and other H, W are fine; a different channel count is not.
    expect(s.transform(tensor(new Float32Array(1 * C * 4 * 4), { shape: [1, C, 4, 4] })).shape).toEqual([1, C, 4, 4]);
    expect(() => s.transform(tensor(new Float32Array(3 * H * W), { shape: [1, 3, H, W] }))).toThrow(ShapeError);
  });

  it("fits on training data and applies the same statistics to other data; explicit axis; int input", () => {
    const train = tensor([[0, 0], [2, 4]]);
    const s = new Standardizer().fit(train);
    expect(s.transform(tensor([[1, 2], [3, 6]])).toArray()).toEqual([[0, 0], [2, 2]]);
    expect(s.transform(tensor([[1, 2]], { dtype: "int32" })).dtype).toBe("float32");
    expect(s.transform(tensor([[1, 2]], { dtype: "float64" })).dtype).toBe("float64");
    expect(s.inverseTransform(s.transform(tensor([[5, -3]]))).toArray()).toEqual([[5, -3]]);
    const rows = new Standardizer().fit(tensor([[1, 3], [5, 5]]), { axis: 1 });
    expect(Array.from(rows.mean.data)).toEqual([2, 5]);
    expect(rows.mean.shape).toEqual([2, 1]);
    expect(Array.from(new Standardizer().fit(arange(4)).mean.data)).toEqual([1.5]);
  });

  it("stateDict round-trips; errors for an unfitted standardizer, bad shapes and options", () => {
    const s = new Standardizer().fit(tensor([[1, 2], [3, 8]]));
    const t = Standardizer.fromStateDict(s.stateDict());
    const x = tensor([[0.5, 7]]);
    expect(t.transform(x).toArray()).toEqual(s.transform(x).toArray());
    expect(s.stateDict().axis).toEqual([0]);
    expect(() => new Standardizer().transform(x)).toThrow(/not fitted yet/);
    expect(() => s.transform(tensor([[1, 2, 3]]))).toThrow(ShapeError);
    expect(() => s.transform(tensor([1, 2]))).toThrow(ShapeError);
    expect(() => new Standardizer().fit(x, { axes: 0 } as never)).toThrow(/unknown option 'axes'/);
    expect(() => new Standardizer().fit(x, { axis: 2 })).toThrow(IndexError);
    expect(() => new Standardizer().fit(tensor(new Float32Array(0), { shape: [0, 2] }))).toThrow(ValueError);
  });

  it("transformDataset keeps y", () => {
    const ds = ids(4);
    const out = new Standardizer().fit(ds.x).transformDataset(ds);
    expect(out.y).toBe(ds.y);
    expect(out.x.shape).toEqual([4, 2]);
  });
});

describe("synthetic datasets", () => {
  it("spiral: x float32 [K·N, 2], y int32 grouped by class, the CS231n formula", () => {
    const ds = spiral({ classes: 3, pointsPerClass: 100, seed: 0 });
    expect(ds.x.shape).toEqual([300, 2]);
    expect(ds.y.shape).toEqual([300]);
    expect([ds.x.dtype, ds.y.dtype]).toEqual(["float32", "int32"]);
    expect(ys(ds.y)).toEqual([...Array(300)].map((_, k) => Math.floor(k / 100)));
    // Without noise: radius linspace(0, 1, N), angle linspace(4j, 4(j+1), N), x = (r sin t, r cos t).
    const clean = spiral({ classes: 2, pointsPerClass: 5, noise: 0 });
    const pts = clean.x.toArray() as number[][];
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < 5; i++) {
        const r = i / 4, t = 4 * j + i;
        expect(pts[j * 5 + i]![0]).toBeCloseTo(r * Math.sin(t), 6);
        expect(pts[j * 5 + i]![1]).toBeCloseTo(r * Math.cos(t), 6);
      }
    }
    // The noise moves the angle only: the radius is still linspace(0, 1, N).
    const noisy = (ds.x.toArray() as number[][]).slice(0, 100).map(([a, b]) => Math.hypot(a!, b!));
    noisy.forEach((r, i) => expect(r).toBeCloseTo(i / 99, 5));
  });

  it("spiral, moons and circles are deterministic per seed", () => {
    for (const make of [(seed: number) => spiral({ seed }), (seed: number) => moons({ seed }), (seed: number) => circles({ seed })]) {
      expect(Array.from(make(4).x.data)).toEqual(Array.from(make(4).x.data));
      expect(Array.from(make(4).x.data)).not.toEqual(Array.from(make(5).x.data));
    }
  });

  it("moons and circles: shapes, class balance, geometry without noise", () => {
    const m = moons({ n: 101, noise: 0 });
    expect(m.x.shape).toEqual([101, 2]);
    expect(ys(m.y).filter((l) => l === 0).length).toBe(50);
    const mp = m.x.toArray() as number[][];
    mp.forEach(([a, b], k) => {
      const [cx, cy] = k < 50 ? [0, 0] : [1, 0.5];
      expect(Math.hypot(a! - cx, b! - cy)).toBeCloseTo(1, 5);
    });
    const c = circles({ n: 200, noise: 0, factor: 0.3 });
    expect(c.x.shape).toEqual([200, 2]);
    expect([c.x.dtype, c.y.dtype]).toEqual(["float32", "int32"]);
    (c.x.toArray() as number[][]).forEach(([a, b], k) => expect(Math.hypot(a!, b!)).toBeCloseTo(k < 100 ? 1 : 0.3, 5));
    expect(() => circles({ factor: 1 })).toThrow(ValueError);
    expect(() => moons({ n: 1 })).toThrow(ValueError);
  });

  it("reject unknown options and bad values", () => {
    expect(() => spiral({ points: 10 } as never)).toThrow(/unknown option 'points'; the options are 'classes', 'pointsPerClass', 'noise', 'seed'/);
    expect(() => spiral({ classes: 0 })).toThrow(ValueError);
    expect(() => spiral({ noise: -1 })).toThrow(ValueError);
    expect(() => moons({ samples: 10 } as never)).toThrow(ValueError);
  });

  it("a spiral trains through the DataLoader end to end (shapes fit a model's input)", () => {
    const ds = spiral({ pointsPerClass: 10, seed: 1 });
    const { train, val } = trainValSplit(ds, 0.2, { seed: 1, stratify: true });
    const norm = new Standardizer().fit(train.x);
    const loader = new DataLoader(norm.transformDataset(train), { batchSize: 8, shuffle: true, seed: 1 });
    const sizes = [...loader].map(([x, y]) => [x.shape, y.shape]);
    expect(sizes[0]).toEqual([[8, 2], [8]]);
    expect(loader.size).toBe(24);
    expect(val.length).toBe(6);
  });
});
