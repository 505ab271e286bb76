/**
 * DataLoader: mini-batches of a dataset, in order or shuffled. The shuffle of epoch e is a pure
 * function of (seed, e), so a run resumed at epoch e sees exactly the batches it would have seen.
 */
import { ValueError } from "../errors.js";
import { Generator } from "../tensor/random.js";
import type { Tensor } from "../tensor/tensor.js";
import { collate, isDataset, type Dataset } from "./dataset.js";
import { checkBool, checkInt, checkOptions, checkSeed, describeValue, mixSeed, permutation } from "./util.js";

/** Options of `new DataLoader(dataset, options)`. */
export interface DataLoaderOptions {
  /** Samples per batch (a positive integer). Default 128. */
  batchSize?: number;
  /** Draw a new order of the samples for each epoch. Default false (the dataset's order). */
  shuffle?: boolean;
  /** Leave out the last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Seed of the shuffles (any integer). Default 0. */
  seed?: number;
  /**
   * Applied to each batch before it is yielded (data augmentation, e.g. `data.randomCrop`).
   * `generator` is seeded by (seed, epoch, batch index) alone, so a resumed run, or the same
   * seed again, sees the same augmented batches.
   */
  transform?: BatchTransform;
}

/** A batch transform: [x, y] → [x', y'], drawing its randomness only from `generator`. */
export type BatchTransform = (batch: [Tensor, Tensor], generator: Generator) => [Tensor, Tensor];

/** What `DataLoader.stateDict()` saves: everything that decides the order of the batches. */
export interface DataLoaderState {
  seed: number;
  epoch: number;
}

const OPTIONS = ["batchSize", "shuffle", "dropLast", "seed", "transform"] as const;

/** A dataset the loader can batch: `batch(indices)` (TensorDataset) or else `get(i)` + collate. */
type Batchable = Dataset<readonly [Tensor, Tensor]> & { batch?(indices: Int32Array): [Tensor, Tensor] };

/**
 * Iterates a dataset in mini-batches of [x, y]. A TensorDataset is gathered with its
 * `batch(indices)` (one call per batch); any other Dataset<[Tensor, Tensor]> is read sample by sample and
 * stacked (`collate`).
 *
 * With `shuffle`, epoch e's order is a permutation drawn from a generator seeded by (seed, e)
 * alone. Iterating does **not** advance the epoch: call `setEpoch(e)` before each epoch (a
 * training loop does), and a resumed run that calls `setEpoch(e)` gets the same batches again.
 * @example
 * const loader = new DataLoader(train, { batchSize: 64, shuffle: true, seed: 1 });
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   loader.setEpoch(epoch);
 *   for (const [x, y] of loader) { ... }
 * }
 */
export class DataLoader implements Iterable<[Tensor, Tensor]> {
  readonly dataset: Batchable;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether each epoch has its own order. */
  readonly shuffle: boolean;
  /** Whether a last, short batch is left out. */
  readonly dropLast: boolean;
  private _seed: number;
  private _epoch = 0;
  private readonly _transform: BatchTransform | undefined;

  constructor(dataset: Dataset<readonly [Tensor, Tensor]>, options: DataLoaderOptions = {}) {
    if (!isDataset(dataset)) {
      throw new ValueError(`DataLoader: expected a dataset (a TensorDataset, or any { length, get(i) } giving [x, y]), got ${describeValue(dataset)}.`);
    }
    const o = checkOptions("DataLoader", options, OPTIONS);
    this.dataset = dataset;
    this.batchSize = checkInt("DataLoader", "batchSize", o.batchSize ?? 128, 1);
    this.shuffle = checkBool("DataLoader", "shuffle", o.shuffle ?? false);
    this.dropLast = checkBool("DataLoader", "dropLast", o.dropLast ?? false);
    this._seed = checkSeed("DataLoader", o.seed ?? 0);
    if (o.transform !== undefined && typeof o.transform !== "function") throw new ValueError(`DataLoader: transform must be a function (batch, generator) => batch, got ${describeValue(o.transform)}.`);
    this._transform = o.transform;
  }

  /** The seed of the shuffles. */
  get seed(): number {
    return this._seed;
  }

  /** The epoch whose order the next iteration uses (set with `setEpoch`). */
  get epoch(): number {
    return this._epoch;
  }

  /** Batches per epoch: ⌈N / batchSize⌉, or ⌊N / batchSize⌋ with dropLast. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Samples per epoch: N, or N rounded down to whole batches with dropLast. */
  get size(): number {
    return this.dropLast ? this.length * this.batchSize : this.dataset.length;
  }

  /** Selects the epoch (a non-negative integer) whose order the next iterations use. */
  setEpoch(epoch: number): this {
    this._epoch = checkInt("DataLoader.setEpoch", "epoch", epoch, 0);
    return this;
  }

  /**
   * The order of the samples in `epoch` (default: the current one): 0…N−1 without shuffle, else
   * the permutation drawn from Generator(mix(seed, epoch)). Includes the samples dropLast leaves out.
   */
  order(epoch: number = this._epoch): Int32Array {
    checkInt("DataLoader.order", "epoch", epoch, 0);
    const n = this.dataset.length;
    if (this.shuffle) return permutation(n, new Generator(mixSeed(this._seed, epoch)));
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return p;
  }

  /**
   * The batches of the current epoch, starting at batch `start` (to resume inside an epoch).
   * The order is fixed when iteration begins.
   */
  *batches(start = 0): IterableIterator<[Tensor, Tensor]> {
    checkInt("DataLoader.batches", "start", start, 0);
    const order = this.order();
    const count = this.length;
    const bs = this.batchSize;
    const ds = this.dataset;
    for (let b = start; b < count; b++) {
      const idx = order.subarray(b * bs, Math.min(order.length, (b + 1) * bs));
      const batch = typeof ds.batch === "function" ? ds.batch(idx.slice()) : collate(Array.from(idx, (i) => ds.get(i)));
      yield this._transform ? this._transform(batch, new Generator(mixSeed(mixSeed(this._seed, this._epoch), b + 1))) : batch;
    }
  }

  [Symbol.iterator](): IterableIterator<[Tensor, Tensor]> {
    return this.batches(0);
  }

  /** { seed, epoch }: with the dataset and options, all that decides the batches. */
  stateDict(): DataLoaderState {
    return { seed: this._seed, epoch: this._epoch };
  }

  /** Restores `{ seed, epoch }` from `stateDict()`. */
  loadStateDict(state: DataLoaderState): this {
    if (state === null || typeof state !== "object") throw new ValueError(`DataLoader.loadStateDict: expected { seed, epoch }, got ${describeValue(state)}.`);
    checkOptions("DataLoader.loadStateDict", state, ["seed", "epoch"]);
    const seed = checkSeed("DataLoader.loadStateDict", state.seed);
    const epoch = checkInt("DataLoader.loadStateDict", "epoch", state.epoch, 0);
    this._seed = seed;
    this._epoch = epoch;
    return this;
  }
}
