import { fillStorage, isDeviceStorage } from "../backend/backend.js";
import { ValueError, fmtShape } from "../errors.js";
import { defaultGenerator, type Generator } from "../tensor/random.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * Initialisers fill a tensor's storage in place and return it (PyTorch's `nn.init.*_`). They
 * draw from `generator` (default: the global one seeded by `manualSeed`).
 */
export interface InitOptions {
  generator?: Generator;
}

export type Nonlinearity = "linear" | "sigmoid" | "tanh" | "relu" | "leakyRelu" | "selu";

/** fanIn and fanOut of a weight: [out, in] for linear, [out, in, ...kernel] for convolutions. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new ValueError(`init: fan in/out needs a tensor with at least 2 dimensions, got shape ${fmtShape(t.shape)}.`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
  }
}

function fill(t: Tensor, draw: () => number): Tensor {
  const d = t._buf;
  if (isDeviceStorage(d)) {
    // Drawn on the host (the same numbers as on every backend for a seed), then uploaded.
    const host = new Float32Array(d.length);
    for (let i = 0; i < host.length; i++) host[i] = draw();
    d.write(host);
    return t;
  }
  for (let i = 0; i < d.length; i++) d[i] = draw();
  return t;
}

/** U(a, b). */
export function uniform(t: Tensor, a = 0, b = 1, options: InitOptions = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  return fill(t, () => a + (b - a) * g.random());
}

/** N(mean, std²). `normal(w, 0.01)` is the lecture's `0.01 · randn`. */
export function normal(t: Tensor, std = 1, options: InitOptions & { mean?: number } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  const mean = options.mean ?? 0;
  return fill(t, () => mean + std * g.normal());
}

/** Every element = value. */
export function constant(t: Tensor, value: number): Tensor {
  fillStorage(t._buf, value);
  return t;
}

/** Every element = 0. */
export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

/** Every element = 1. */
export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

/** Glorot/Xavier uniform: U(−a, a) with a = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -a, a, options);
}

/** Glorot/Xavier normal: N(0, std²) with std = gain·√(2 / (fanIn + fanOut)). */
export function xavierNormal(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal(t, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), options);
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the following leaky ReLU (used with nonlinearity "leakyRelu"). Default 0. */
  a?: number;
  /** Preserve the variance of the forward pass ("fanIn", default) or of the backward pass ("fanOut"). */
  mode?: "fanIn" | "fanOut";
  /** Default "leakyRelu" with a = 0, i.e. ReLU: gain √2. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, options: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t);
  const fan = (options.mode ?? "fanIn") === "fanIn" ? fanIn : fanOut;
  return calculateGain(options.nonlinearity ?? "leakyRelu", options.a ?? 0) / Math.sqrt(fan);
}

/** He/Kaiming uniform: U(−b, b) with b = gain·√(3 / fan). */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform(t, -bound, bound, options);
}

/** He/Kaiming normal: N(0, std²) with std = gain / √fan (√(2/fanIn) for ReLU). */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, kaimingStd(t, options), options);
}
