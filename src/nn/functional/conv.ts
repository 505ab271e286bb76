/**
 * Convolution and pooling functionals (`torch.nn.functional.conv2d`, `max_pool2d`, `avg_pool2d`,
 * `adaptive_avg_pool2d`). The ops themselves live in src/ops (one definition each); conv2d here
 * adds PyTorch's string paddings "same" and "valid" on top of the op's numeric padding.
 */
import { ValueError } from "../../errors.js";
import { conv2d as conv2dOp, pad, type Conv2dOptions as OpConv2dOptions, type Size2 } from "../../ops/index.js";
import { Tensor, assertTensor } from "../../tensor/tensor.js";

export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions, type AdaptiveSize, type Size2 } from "../../ops/index.js";

/** A convolution's padding: zeros on both sides (an int or [height, width]), or "same" / "valid". */
export type Padding2d = Size2 | "same" | "valid";

/** Options of conv2d (torch.nn.functional.conv2d). */
export interface Conv2dOptions extends Omit<OpConv2dOptions, "padding"> {
  /**
   * Zeros added on both sides of each spatial axis (default 0), or "valid" (none) or "same":
   * the output has the input's size (stride 1 only); the dilated kernel's extent − 1 is split as
   * PyTorch does, the smaller half before, so an even kernel pads one more after than before.
   */
  padding?: Padding2d;
}

const pairOf = (v: Size2 | undefined, fallback: number): [number, number] => (v === undefined ? [fallback, fallback] : typeof v === "number" ? [v, v] : [v[0], v[1]]);

/**
 * The numeric padding of a padding option: [top, bottom, left, right], for "same" from the
 * kernel size and dilation. Numbers are passed through (the op checks them).
 */
export function resolvePadding2d(fn: string, padding: Padding2d | undefined, kernelSize: readonly [number, number], options: { stride?: Size2; dilation?: Size2 }): Size2 | [number, number, number, number] {
  if (padding === undefined || padding === "valid") return 0;
  if (padding !== "same") {
    if (typeof padding === "string") throw new ValueError(`${fn}: padding must be a non-negative integer, a [height, width] pair, "same" or "valid", got ${JSON.stringify(padding)}.`);
    return padding;
  }
  const stride = pairOf(options.stride, 1);
  if (stride[0] !== 1 || stride[1] !== 1) {
    throw new ValueError(`${fn}: padding "same" needs stride 1 (got stride ${JSON.stringify(options.stride)}), as in PyTorch; give the padding as a number for a strided convolution.`);
  }
  const dil = pairOf(options.dilation, 1);
  const total = [dil[0] * (kernelSize[0] - 1), dil[1] * (kernelSize[1] - 1)] as const;
  const before = [Math.floor(total[0] / 2), Math.floor(total[1] / 2)] as const;
  if (total[0] % 2 === 0 && total[1] % 2 === 0) return [before[0], before[1]];
  return [before[0], total[0] - before[0], before[1], total[1] - before[1]];
}

/**
 * 2-D convolution (torch.nn.functional.conv2d): x [N, C, H, W] (or [C, H, W]), weight
 * [O, C/groups, kH, kW], bias [O] or null → [N, O, outH, outW] with
 * outH = ⌊(H + padTop + padBottom − dilation·(kH − 1) − 1) / stride⌋ + 1 (likewise outW).
 * As the op `conv2d` (see src/ops/conv.ts), plus `padding: "same" | "valid"`.
 * @example conv2d(x, w, b, { padding: "same" }); // x [8, 3, 32, 32], w [16, 3, 3, 3] → [8, 16, 32, 32]
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  assertTensor("conv2d", "x", x);
  assertTensor("conv2d", "weight", weight);
  const kernel = weight.ndim === 4 ? ([weight.shape[2]!, weight.shape[3]!] as const) : ([1, 1] as const);
  const p = resolvePadding2d("conv2d", options.padding, kernel, options);
  if (Array.isArray(p) && p.length === 4) {
    // An even "same" kernel: pad unevenly first (the op pads symmetrically).
    const unbatched = x.ndim === 3;
    const spatial: [number, number][] = [[p[0], p[1]], [p[2], p[3]]];
    const padded = pad(x, [...(unbatched ? [[0, 0]] : [[0, 0], [0, 0]]) as [number, number][], ...spatial]);
    return conv2dOp(padded, weight, bias, { ...options, padding: 0 });
  }
  return conv2dOp(x, weight, bias, { ...options, padding: p as Size2 });
}
