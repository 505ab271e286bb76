import { ChainruleError, ShapeError, ValueError, fmtShape } from "../errors.js";
import type { Generator } from "../tensor/random.js";
import type { Tensor } from "../tensor/tensor.js";
import { zeros } from "../tensor/creation.js";
import type { DType } from "../tensor/dtype.js";
import { adaptiveAvgPool2d, avgPool2d, conv2d, dropout2d, maxPool2d, resolvePadding2d, type AdaptiveSize, type Padding2d, type Size2 } from "./functional/index.js";
import * as init from "./init.js";
import { Module } from "./module.js";
import { Parameter } from "./parameter.js";

// Convolutional layers on NCHW tensors: Conv2d, the pools, Dropout2d. Each forward is the
// functional form (one definition per op); the modules hold the parameters and options, check
// the input against them, and put the layer's path into the messages of errors from the op.

/** [height, width] of a Size2, checked: integers ≥ min. */
function pairOption(layer: string, name: string, v: Size2 | undefined, fallback: readonly [number, number], min: number): [number, number] {
  const p = v === undefined ? fallback : typeof v === "number" ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((n) => Number.isInteger(n) && n >= min)) {
    throw new ValueError(`${layer}: ${name} must be ${min === 0 ? "a non-negative" : "a positive"} integer or a [height, width] pair of them, got ${JSON.stringify(v)}.`);
  }
  return [p[0]!, p[1]!];
}

/** Pool padding is at most half the kernel (PyTorch's rule), checked when the layer is made rather than at its first forward. */
function checkPoolPadding(layer: string, padding: [number, number], kernel: [number, number]): void {
  if (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2) {
    throw new ValueError(`${layer}: padding must be at most half the kernel size, got padding [${padding.join(", ")}] with kernelSize [${kernel.join(", ")}]; use padding ≤ ${Math.floor(kernel[0] / 2)}${kernel[0] !== kernel[1] ? `, ${Math.floor(kernel[1] / 2)}` : ""} or a larger kernel.`);
  }
}

/** Runs the op; an error it throws gets this module's name and path in front (same class). */
function withPath<T>(module: Module, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ChainruleError && module._path !== undefined && !e.message.includes(module.describe())) e.message = `${module.describe()}: ${e.message}`;
    throw e;
  }
}

export interface Conv2dOptions {
  /** Step between windows. Default 1. */
  stride?: Size2;
  /** Zeros on both sides of each spatial axis (default 0), or "valid" (none) or "same" (output size = input size; stride 1). */
  padding?: Padding2d;
  /** Spacing between kernel taps. Default 1. */
  dilation?: Size2;
  /** Channels split into this many independent groups (groups = inChannels: depthwise). Default 1. */
  groups?: number;
  /** Learn a bias per output channel. Default true. */
  bias?: boolean;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Generator for the initial values (default: the global one). */
  generator?: Generator;
}

/**
 * 2-D convolution layer (torch.nn.Conv2d): x [N, inChannels, H, W] → [N, outChannels, outH, outW],
 * outH = ⌊(H + 2·padding − dilation·(kH − 1) − 1) / stride⌋ + 1 (likewise outW).
 * Parameters in PyTorch's layout: `weight` [outChannels, inChannels / groups, kH, kW],
 * `bias` [outChannels]; both initialised as PyTorch does, U(−1/√fanIn, 1/√fanIn) with
 * fanIn = (inChannels / groups)·kH·kW.
 * @example const conv = new Conv2d(1, 16, 3, { padding: 1 }); conv.forward(x) // [N, 1, 28, 28] → [N, 16, 28, 28]
 */
export class Conv2d extends Module {
  weight: Parameter;
  bias: Parameter | null = null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | "same" | "valid";
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Size2, options: Conv2dOptions = {}) {
    super();
    const name = "Conv2d";
    for (const [arg, v] of [["inChannels", inChannels], ["outChannels", outChannels]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ValueError(`${name}: ${arg} must be a positive integer, got ${String(v)}.`);
    }
    this.kernelSize = pairOption(name, "kernelSize", kernelSize, [1, 1], 1);
    this.stride = pairOption(name, "stride", options.stride, [1, 1], 1);
    this.dilation = pairOption(name, "dilation", options.dilation, [1, 1], 1);
    const padding = options.padding;
    this.padding = padding === "same" || padding === "valid" ? padding : pairOption(name, "padding", padding as Size2 | undefined, [0, 0], 0);
    // Checks "same" against the stride now, not at the first forward.
    resolvePadding2d(name, this.padding, this.kernelSize, { stride: this.stride, dilation: this.dilation });
    const groups = options.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new ValueError(
        `${name}: groups must be a positive integer that divides both inChannels (${inChannels}) and outChannels (${outChannels}), got ${String(options.groups)}.`,
      );
    }
    this.groups = groups;
    const fanIn = (inChannels / groups) * this.kernelSize[0] * this.kernelSize[1];
    const bound = 1 / Math.sqrt(fanIn);
    const dtype = options.dtype ?? "float32";
    const gen = options.generator ? { generator: options.generator } : {};
    this.weight = new Parameter(zeros([outChannels, inChannels / groups, ...this.kernelSize], { dtype }));
    init.uniform(this.weight, -bound, bound, gen);
    if (options.bias ?? true) {
      this.bias = new Parameter(zeros([outChannels], { dtype }));
      init.uniform(this.bias, -bound, bound, gen);
    }
  }

  forward(x: Tensor): Tensor {
    if ((x.ndim !== 4 && x.ndim !== 3) || x.shape[x.ndim - 3] !== this.inChannels) {
      const got = x.ndim === 4 || x.ndim === 3 ? `${x.shape[x.ndim - 3]} channels (shape ${fmtShape(x.shape)})` : `shape ${fmtShape(x.shape)}`;
      throw new ShapeError(
        `${this.describe()}: expected input [N, ${this.inChannels}, H, W] (inChannels = ${this.inChannels}, weight ${fmtShape(this.weight.shape)}), got ${got}. ` +
          `Check the previous layer's output channels${x.ndim === 2 ? ", or reshape flat inputs to images first, e.g. x.reshape([-1, 1, 28, 28])" : ""}.`,
      );
    }
    return withPath(this, () => conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups }));
  }

  protected override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(", ")}], stride=[${this.stride.join(", ")}]`];
    parts.push(`padding=${typeof this.padding === "string" ? JSON.stringify(this.padding) : `[${this.padding.join(", ")}]`}`);
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) parts.push(`dilation=[${this.dilation.join(", ")}]`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (this.bias === null) parts.push("bias=false");
    return parts.join(", ");
  }
}

/** Options of MaxPool2d. */
export interface MaxPool2dOptions {
  /** Step between windows. Default: kernelSize. */
  stride?: Size2;
  /** Implicit −∞ padding on both sides, at most half the kernel. Default 0. */
  padding?: Size2;
  /** Spacing between window taps. Default 1. */
  dilation?: Size2;
  /** Round the output size up (a last, partial window). Default false. */
  ceilMode?: boolean;
}

/** The options of a pool, as stored and printed. */
function poolRepr(kernel: [number, number], stride: [number, number], padding: [number, number], ceilMode: boolean): string {
  return `kernelSize=[${kernel.join(", ")}], stride=[${stride.join(", ")}], padding=[${padding.join(", ")}], ceilMode=${ceilMode}`;
}

/**
 * 2-D max pooling (torch.nn.MaxPool2d): [N, C, H, W] → [N, C, outH, outW], each output the
 * maximum of its window. The gradient goes to each window's maximum (the first one on ties).
 * @example new MaxPool2d(2).forward(x) // [N, 16, 28, 28] → [N, 16, 14, 14]
 */
export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly ceilMode: boolean;
  constructor(kernelSize: Size2, options: MaxPool2dOptions = {}) {
    super();
    this.kernelSize = pairOption("MaxPool2d", "kernelSize", kernelSize, [1, 1], 1);
    this.stride = pairOption("MaxPool2d", "stride", options.stride, this.kernelSize, 1);
    this.padding = pairOption("MaxPool2d", "padding", options.padding, [0, 0], 0);
    this.dilation = pairOption("MaxPool2d", "dilation", options.dilation, [1, 1], 1);
    checkPoolPadding("MaxPool2d", this.padding, this.kernelSize);
    this.ceilMode = options.ceilMode ?? false;
  }
  forward(x: Tensor): Tensor {
    return withPath(this, () => maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode }));
  }
  protected override extraRepr(): string {
    return poolRepr(this.kernelSize, this.stride, this.padding, this.ceilMode) + (this.dilation[0] !== 1 || this.dilation[1] !== 1 ? `, dilation=[${this.dilation.join(", ")}]` : "");
  }
}

/** Options of AvgPool2d. */
export interface AvgPool2dOptions {
  /** Step between windows. Default: kernelSize. */
  stride?: Size2;
  /** Implicit zero padding on both sides, at most half the kernel. Default 0. */
  padding?: Size2;
  /** Round the output size up. Default false. */
  ceilMode?: boolean;
  /** Divide by the whole window, padding included (default, as PyTorch), or only by the input elements it covers. */
  countIncludePad?: boolean;
}

/**
 * 2-D average pooling (torch.nn.AvgPool2d): [N, C, H, W] → [N, C, outH, outW], each output its
 * window's mean (see countIncludePad for padded windows).
 * @example new AvgPool2d(2).forward(x) // [N, 16, 28, 28] → [N, 16, 14, 14]
 */
export class AvgPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  constructor(kernelSize: Size2, options: AvgPool2dOptions = {}) {
    super();
    this.kernelSize = pairOption("AvgPool2d", "kernelSize", kernelSize, [1, 1], 1);
    this.stride = pairOption("AvgPool2d", "stride", options.stride, this.kernelSize, 1);
    this.padding = pairOption("AvgPool2d", "padding", options.padding, [0, 0], 0);
    checkPoolPadding("AvgPool2d", this.padding, this.kernelSize);
    this.ceilMode = options.ceilMode ?? false;
    this.countIncludePad = options.countIncludePad ?? true;
  }
  forward(x: Tensor): Tensor {
    return withPath(this, () =>
      avgPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad }),
    );
  }
  protected override extraRepr(): string {
    return `${poolRepr(this.kernelSize, this.stride, this.padding, this.ceilMode)}, countIncludePad=${this.countIncludePad}`;
  }
}

/**
 * Adaptive 2-D average pooling (torch.nn.AdaptiveAvgPool2d): [N, C, H, W] → [N, C, outH, outW]
 * for any H, W; `new AdaptiveAvgPool2d(1)` is global average pooling ([N, C, 1, 1]).
 * @example new Sequential(new AdaptiveAvgPool2d(1), new Flatten()) // [N, 64, 7, 7] → [N, 64]
 */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: AdaptiveSize) {
    super();
    const p = typeof outputSize === "number" ? [outputSize, outputSize] : outputSize;
    if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => v === null || (Number.isInteger(v) && v >= 1))) {
      throw new ValueError(`AdaptiveAvgPool2d: outputSize must be a positive integer or a [height, width] pair of them (null keeps the input size), got ${JSON.stringify(outputSize)}.`);
    }
  }
  forward(x: Tensor): Tensor {
    return withPath(this, () => adaptiveAvgPool2d(x, this.outputSize));
  }
  protected override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

/**
 * Channel dropout (torch.nn.Dropout2d): in training mode each feature map of each sample is
 * zeroed with probability p (the rest scaled by 1/(1 − p)); in eval mode the identity.
 * Input [N, C, H, W] or [C, H, W].
 */
export class Dropout2d extends Module {
  private readonly _generator: Generator | undefined;
  constructor(readonly p = 0.5, options: { generator?: Generator } = {}) {
    super();
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new ValueError(`Dropout2d: p is the probability of dropping a channel and must be in [0, 1], got ${String(p)}.`);
    this._generator = options.generator;
  }
  forward(x: Tensor): Tensor {
    return withPath(this, () => dropout2d(x, this.p, { training: this.training, ...(this._generator ? { generator: this._generator } : {}) }));
  }
  protected override extraRepr(): string {
    return `p=${this.p}`;
  }
}
