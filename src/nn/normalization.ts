import { isDeviceStorage } from "../backend/backend.js";
import { getBackend } from "../backend/index.js";
import { ShapeError, ValueError, fmtShape } from "../errors.js";
import { add, div } from "../ops/index.js";
import type { DType } from "../tensor/dtype.js";
import { ones, scalar, zeros } from "../tensor/creation.js";
import type { Tensor } from "../tensor/tensor.js";
import { batchNorm, groupNorm, layerNorm } from "./functional/index.js";
import { Module } from "./module.js";
import { Parameter } from "./parameter.js";

export interface BatchNormOptions {
  /** Added to the variance before the square root. Default 1e-5. */
  eps?: number;
  /**
   * Weight of each new batch statistic in the running averages (default 0.1), or null for a
   * cumulative average: factor 1/numBatchesTracked, so every batch counts equally (PyTorch's
   * momentum=None).
   */
  momentum?: number | null;
  /** Learnable scale (weight) and shift (bias). Default true. */
  affine?: boolean;
  /** Keep running mean/variance for eval mode. Default true; false normalises with batch statistics in eval mode too. */
  trackRunningStats?: boolean;
  dtype?: DType;
}

/**
 * What BatchNorm1d and BatchNorm2d share: per-channel statistics over every axis but 1.
 * In training mode the batch's mean and BIASED variance normalise the input, and the running
 * statistics are updated with the UNBIASED variance: running ← (1 − m)·running + m·batch
 * (PyTorch; CS231n's assignment keeps the biased one: see docs/nn.md#batch-normalisation).
 * In eval mode the running statistics normalise it. State-dict names are PyTorch's: weight,
 * bias, running_mean, running_var, num_batches_tracked.
 */
abstract class BatchNormBase extends Module {
  weight: Parameter | null = null;
  bias: Parameter | null = null;
  runningMean: Tensor | null = null;
  runningVar: Tensor | null = null;
  /** Training batches seen (an int32 scalar); drives momentum = null. */
  numBatchesTracked: Tensor | null = null;
  readonly eps: number;
  readonly momentum: number | null;

  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    const name = new.target.name;
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new ValueError(`${name}: numFeatures must be a positive integer (the channel count), got ${String(numFeatures)}.`);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    if (!(this.eps >= 0) || !Number.isFinite(this.eps)) throw new ValueError(`${name}: eps must be a finite number ≥ 0, got ${String(options.eps)}.`);
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) throw new ValueError(`${name}: momentum must be in [0, 1] or null (cumulative average), got ${String(options.momentum)}.`);
    const dtype = options.dtype ?? "float32";
    if (options.affine ?? true) {
      this.weight = new Parameter(ones([numFeatures], { dtype }));
      this.bias = new Parameter(zeros([numFeatures], { dtype }));
    }
    if (options.trackRunningStats ?? true) {
      this.registerBuffer("runningMean", zeros([numFeatures], { dtype }), "running_mean");
      this.registerBuffer("runningVar", ones([numFeatures], { dtype }), "running_var");
      this.registerBuffer("numBatchesTracked", scalar(0, { dtype: "int32" }), "num_batches_tracked");
    }
  }

  /** Throws unless x has a rank this layer accepts. */
  protected abstract checkInput(x: Tensor): void;

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    // Batch statistics in training mode, and in eval mode too when no running statistics are kept.
    const useBatchStats = this.training || this.runningMean === null;
    let momentum = this.momentum ?? 0;
    let momentumTensor: Tensor | undefined;
    const tracked = this.numBatchesTracked;
    if (this.training && tracked !== null) {
      if (isDeviceStorage(tracked._buf)) {
        // On a device the count stays there: incremented by a kernel, in place, and the
        // cumulative average's weight 1/count computed from it on the device.
        const be = getBackend();
        be.copyStrided(add(tracked, 1).to(tracked.dtype)._buf, 0, [1], [1], tracked._buf);
        if (this.momentum === null) momentumTensor = div(1, tracked.to("float32"));
      } else {
        const seen = (tracked.data[0]! += 1);
        if (this.momentum === null) momentum = 1 / seen;
      }
    }
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, { training: useBatchStats, momentum, eps: this.eps, ...(momentumTensor ? { momentumTensor } : {}) });
  }

  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== null}, trackRunningStats=${this.runningMean !== null}`;
  }
}

/**
 * Batch normalisation of features (torch.nn.BatchNorm1d): input [N, C] or [N, C, L], statistics
 * per channel C over N (and L). Defaults as PyTorch: eps 1e-5, momentum 0.1.
 * @example const bn = new BatchNorm1d(100); bn.forward(h) // h [N, 100]
 */
export class BatchNorm1d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[1] !== this.numFeatures) {
      throw new ShapeError(
        `${this.describe()}: expected input [N, ${this.numFeatures}] or [N, ${this.numFeatures}, L], got ${fmtShape(x.shape)}.` +
          (x.ndim === 4 ? " For images [N, C, H, W] use BatchNorm2d." : ""),
      );
    }
  }
}

/**
 * Batch normalisation of feature maps (torch.nn.BatchNorm2d, "spatial batch norm" in CS231n):
 * input [N, C, H, W], one mean and variance per channel over N, H and W, so every position of
 * a feature map is normalised alike. Output: the input's shape. Defaults: eps 1e-5, momentum 0.1.
 * @example const bn = new BatchNorm2d(16); bn.forward(conv.forward(x)) // [N, 16, H, W]
 */
export class BatchNorm2d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4 || x.shape[1] !== this.numFeatures) {
      throw new ShapeError(
        `${this.describe()}: expected input [N, ${this.numFeatures}, H, W], got ${fmtShape(x.shape)}.` +
          (x.ndim === 2 || x.ndim === 3 ? " For features [N, C] or [N, C, L] use BatchNorm1d." : x.ndim !== 4 ? " Add the batch axis for one image: x.unsqueeze(0)." : ""),
      );
    }
  }
}

/** Layer normalisation over the trailing `normalizedShape` axes, with learnable weight and bias. */
export class LayerNorm extends Module {
  weight: Parameter | null = null;
  bias: Parameter | null = null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | readonly number[], readonly options: { eps?: number; elementwiseAffine?: boolean; dtype?: DType } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    if (options.elementwiseAffine ?? true) {
      this.weight = new Parameter(ones(this.normalizedShape, { dtype: options.dtype ?? "float32" }));
      this.bias = new Parameter(zeros(this.normalizedShape, { dtype: options.dtype ?? "float32" }));
    }
  }
  forward(x: Tensor): Tensor {
    const k = this.normalizedShape.length;
    if (x.ndim < k || x.shape.slice(x.ndim - k).some((d, i) => d !== this.normalizedShape[i])) {
      throw new ShapeError(`${this.describe()}: expected input ending in ${fmtShape(this.normalizedShape)}, got ${fmtShape(x.shape)}.`);
    }
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.options.eps ?? 1e-5);
  }
  protected override extraRepr(): string {
    return `${fmtShape(this.normalizedShape)}, eps=${this.options.eps ?? 1e-5}`;
  }
}

/**
 * Group normalisation (torch.nn.GroupNorm): the channels of x [N, C, *] split into numGroups
 * groups, each sample's group normalised over its channels and positions, then a per-channel
 * weight [C] and bias [C]. No batch statistics: the same in training and eval, at any batch size.
 * @example const gn = new GroupNorm(4, 32); gn.forward(x) // x [N, 32, H, W]
 */
export class GroupNorm extends Module {
  weight: Parameter | null = null;
  bias: Parameter | null = null;
  readonly eps: number;
  constructor(readonly numGroups: number, readonly numChannels: number, options: { eps?: number; affine?: boolean; dtype?: DType } = {}) {
    super();
    for (const [name, v] of [["numGroups", numGroups], ["numChannels", numChannels]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(`GroupNorm: ${name} must be a positive integer, got ${String(v)}.`);
    }
    if (numChannels % numGroups !== 0) throw new ValueError(`GroupNorm: numGroups (${numGroups}) must divide numChannels (${numChannels}).`);
    this.eps = options.eps ?? 1e-5;
    if (options.affine ?? true) {
      this.weight = new Parameter(ones([numChannels], { dtype: options.dtype ?? "float32" }));
      this.bias = new Parameter(zeros([numChannels], { dtype: options.dtype ?? "float32" }));
    }
  }
  forward(x: Tensor): Tensor {
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) {
      throw new ShapeError(`${this.describe()}: expected input [N, ${this.numChannels}, *], got ${fmtShape(x.shape)}.`);
    }
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
  protected override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.weight !== null}`;
  }
}
