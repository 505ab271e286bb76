import { DTypeError, ShapeError, ValueError, fmtShape } from "../errors.js";

import type { DType } from "../tensor/dtype.js";
import { zeros } from "../tensor/creation.js";
import type { Generator } from "../tensor/random.js";
import type { Tensor } from "../tensor/tensor.js";
import { matmul } from "../ops/matmul.js";
import { indexSelect, reshape, flatten } from "../ops/shape-ops.js";
import { max } from "../ops/reduce.js";
import { add } from "../ops/elementwise.js";
import { dropout } from "./functional/index.js";
import * as init from "./init.js";
import { Module } from "./module.js";
import { Parameter } from "./parameter.js";

/** Options shared by layers that create parameters. */
export interface LayerOptions {
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Generator for the initial values (default: the global one). */
  generator?: Generator;
}

function emptyParam(shape: number[], dtype: DType | undefined): Parameter {
  return new Parameter(zeros(shape, { dtype: dtype ?? "float32" }));
}

/**
 * Affine layer y = x·Wᵀ + b with PyTorch's layout: `weight` [outFeatures, inFeatures],
 * `bias` [outFeatures]. Input `[..., inFeatures]` → output `[..., outFeatures]`.
 * Default initialisation (PyTorch's): weight and bias ~ U(−1/√inFeatures, 1/√inFeatures).
 * @example const fc = new Linear(784, 100); fc.forward(x) // x: [N, 784] → [N, 100]
 */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LayerOptions & { bias?: boolean } = {}) {
    super();
    for (const [name, v] of [["inFeatures", inFeatures], ["outFeatures", outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(`Linear: ${name} must be a positive integer, got ${v}.`);
    }
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = emptyParam([outFeatures, inFeatures], options.dtype);
    init.uniform(this.weight, -bound, bound, options);
    this.bias = null;
    if (options.bias ?? true) {
      this.bias = emptyParam([outFeatures], options.dtype);
      init.uniform(this.bias, -bound, bound, options);
    }
  }

  forward(x: Tensor): Tensor {
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new ShapeError(
        `${this.describe()}: expected input of shape [..., ${this.inFeatures}] (inFeatures = ${this.inFeatures}), got ${fmtShape(x.shape)}. ` +
          `Check the previous layer's output size or flatten the input first.`,
      );
    }
    // x·Wᵀ reads W transposed in place: no copy.
    const y = matmul(x, this.weight, { transB: true });
    return this.bias ? add(y, this.bias) : y;
  }

  protected override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** max(0, x). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** x for x > 0, negativeSlope·x otherwise. */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
  protected override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/** 1 / (1 + e⁻ˣ). */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/** tanh(x). */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

/** x for x > 0, α(eˣ − 1) otherwise. */
export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.elu(this.alpha);
  }
  protected override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

/** log(1 + e^(βx))/β, linear above the threshold. */
export class Softplus extends Module {
  constructor(readonly beta = 1, readonly threshold = 20) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.softplus({ beta: this.beta, threshold: this.threshold });
  }
  protected override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/** Returns its input. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flattens axes startDim…endDim (default: all but the batch axis): [N, 1, 28, 28] → [N, 784]. */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  protected override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/**
 * Unflattens axis `dim` into `sizes` (torch.nn.Unflatten): `new Unflatten(1, [1, 28, 28])` turns
 * [N, 784] into [N, 1, 28, 28], so a convnet can take the flat vectors an MLP takes.
 */
export class Unflatten extends Module {
  readonly sizes: number[];
  constructor(readonly dim: number, sizes: readonly number[]) {
    super();
    if (!Number.isInteger(dim)) throw new ValueError(`Unflatten: dim must be an integer, got ${String(dim)}.`);
    if (sizes.length === 0 || !sizes.every((d) => Number.isInteger(d) && (d >= 1 || d === -1))) {
      throw new ValueError(`Unflatten: sizes must be positive integers (one may be -1), got ${JSON.stringify(sizes)}.`);
    }
    this.sizes = [...sizes];
  }
  forward(x: Tensor): Tensor {
    const d = this.dim < 0 ? this.dim + x.ndim : this.dim;
    if (d < 0 || d >= x.ndim) throw new ShapeError(`${this.describe()}: dim ${this.dim} is out of range for input of shape ${fmtShape(x.shape)}.`);
    const known = this.sizes.reduce((a, b) => (b === -1 ? a : a * b), 1);
    if (this.sizes.includes(-1) ? x.shape[d]! % known !== 0 : known !== x.shape[d]) {
      throw new ShapeError(`${this.describe()}: axis ${d} of the input (shape ${fmtShape(x.shape)}) has ${x.shape[d]} elements, which do not unflatten into ${fmtShape(this.sizes)}.`);
    }
    return reshape(x, [...x.shape.slice(0, d), ...this.sizes, ...x.shape.slice(d + 1)]);
  }
  protected override extraRepr(): string {
    return `dim=${this.dim}, sizes=${fmtShape(this.sizes)}`;
  }
}

/**
 * Maxout (Goodfellow et al.): k affine pieces per output unit and their maximum,
 * y_j = max_i (x·W_{j,i}ᵀ + b_{j,i}). Input [..., inFeatures] → [..., outFeatures].
 * Its parameters live in one Linear of outFeatures·k units, ordered [outFeatures, k].
 */
export class Maxout extends Module {
  linear: Linear;
  constructor(readonly inFeatures: number, readonly outFeatures: number, readonly pieces: number, options: LayerOptions & { bias?: boolean } = {}) {
    super();
    if (!Number.isInteger(pieces) || pieces < 1) throw new ValueError(`Maxout: pieces must be a positive integer, got ${pieces}.`);
    this.linear = new Linear(inFeatures, outFeatures * pieces, options);
  }
  forward(x: Tensor): Tensor {
    const z = this.linear.forward(x);
    return max(reshape(z, [...z.shape.slice(0, -1), this.outFeatures, this.pieces]), { axis: -1 });
  }
  protected override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, pieces=${this.pieces}`;
  }
}

/**
 * Inverted dropout: in training mode zeroes each element with probability p and scales the rest
 * by 1/(1−p); in eval mode returns the input. The mask comes from `generator` (seedable).
 */
export class Dropout extends Module {
  private readonly _generator: Generator | undefined;
  constructor(readonly p = 0.5, options: { generator?: Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ValueError(`Dropout: p must be in [0, 1], got ${p}.`);
    this._generator = options.generator;
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, ...(this._generator ? { generator: this._generator } : {}) });
  }
  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * A lookup table of word vectors: `weight` [numEmbeddings, embeddingDim], initialised N(0, 1)
 * like PyTorch. Input int32 indices of any shape → [...indices.shape, embeddingDim]. Only the
 * rows that were looked up receive gradient (summed where an index repeats).
 */
export class Embedding extends Module {
  weight: Parameter;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: LayerOptions = {}) {
    super();
    for (const [name, v] of [["numEmbeddings", numEmbeddings], ["embeddingDim", embeddingDim]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(`Embedding: ${name} must be a positive integer, got ${v}.`);
    }
    this.weight = emptyParam([numEmbeddings, embeddingDim], options.dtype);
    init.normal(this.weight, 1, options);
  }
  forward(indices: Tensor): Tensor {
    if (indices.dtype !== "int32") {
      throw new DTypeError(`${this.describe()}: indices must be int32, got ${indices.dtype}. Create them with { dtype: "int32" }.`);
    }
    const flat = reshape(indices, [indices.size]);
    const data = flat._checkable(this.describe(), "indices");
    for (let i = 0; i < data.length; i++) {
      if (data[i]! < 0 || data[i]! >= this.numEmbeddings) {
        throw new ShapeError(`${this.describe()}: index ${data[i]} at flat position ${i} is outside the table of ${this.numEmbeddings} embeddings; valid indices are 0…${this.numEmbeddings - 1} (a larger vocabulary needs a larger numEmbeddings).`);
      }
    }
    return reshape(indexSelect(this.weight, 0, flat), [...indices.shape, this.embeddingDim]);
  }
  protected override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}

/**
 * Modules applied in order; children are named "0", "1", ... (PyTorch's state-dict names).
 * @example new Sequential(new Linear(784, 100), new ReLU(), new Linear(100, 10))
 */
export class Sequential extends Module {
  private readonly _layers: Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw new ValueError(`Sequential: argument ${i} is not a Module.`);
      // Provisional path for messages; a parent model renames it when its tree is walked.
      m._path ??= String(i);
    });
    this._layers = layers;
  }
  protected override entries(): [string, unknown][] {
    return this._layers.map((m, i) => [String(i), m]);
  }
  /** Number of layers. */
  get length(): number {
    return this._layers.length;
  }
  /** The i-th layer (negative counts from the end). */
  at(i: number): Module {
    const m = this._layers.at(i);
    if (!m) throw new ValueError(`Sequential.at: index ${i} is out of range for ${this._layers.length} layers.`);
    return m;
  }
  /** Adds a layer at the end; returns this. */
  append(module: Module): this {
    this._layers.push(module);
    return this;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this._layers[Symbol.iterator]();
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this._layers) y = layer.forward(y);
    return y;
  }
}

export type Activation = "relu" | "leakyRelu" | "sigmoid" | "tanh" | "elu" | "softplus" | "identity";

/** The module for an activation name. */
export function activationModule(name: Activation): Module {
  switch (name) {
    case "relu":
      return new ReLU();
    case "leakyRelu":
      return new LeakyReLU();
    case "sigmoid":
      return new Sigmoid();
    case "tanh":
      return new Tanh();
    case "elu":
      return new ELU();
    case "softplus":
      return new Softplus();
    case "identity":
      return new Identity();
    default:
      throw new ValueError(`activation: unknown activation "${String(name)}"; use one of relu, leakyRelu, sigmoid, tanh, elu, softplus, identity.`);
  }
}

export interface MlpOptions extends LayerOptions {
  /** Activation between layers (default "relu"). */
  activation?: Activation;
  /** Dropout probability after each activation (default 0: none). */
  dropout?: number;
  bias?: boolean;
}

/**
 * A multilayer perceptron from its layer sizes: `mlp([784, 100, 10])` is the lecture's 2-layer
 * net f = W2·max(0, W1·x), `mlp([784, 100, 100, 10])` the 3-layer net. No activation after the
 * last layer (it outputs scores/logits).
 */
export function mlp(sizes: readonly number[], options: MlpOptions = {}): Sequential {
  if (sizes.length < 2) throw new ValueError(`mlp: need at least an input and an output size, got ${fmtShape(sizes)}.`);
  const layers: Module[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i]!, sizes[i + 1]!, options));
    if (i + 2 < sizes.length) {
      layers.push(activationModule(options.activation ?? "relu"));
      if (options.dropout) layers.push(new Dropout(options.dropout, options.generator ? { generator: options.generator } : {}));
    }
  }
  return new Sequential(...layers);
}

