/** Dropout functionals (`torch.nn.functional.dropout`, `dropout2d`): inverted dropout, seeded masks. */
import { ShapeError, ValueError, fmtShape } from "../../errors.js";
import { mul } from "../../ops/index.js";
import { allocate } from "../../tensor/dtype.js";
import { defaultGenerator } from "../../tensor/random.js";
import { Tensor, assertTensor } from "../../tensor/tensor.js";
import { checkFloat } from "./util.js";
import type { Generator } from "../../tensor/random.js";

/** Options of `dropout`. */
export interface DropoutOptions {
  /** Drop only while training (default true, as `torch.nn.functional.dropout`); false gives x itself. */
  training?: boolean;
  /** Where the mask is drawn from (default: the global generator seeded by `manualSeed`). */
  generator?: Generator;
}

/**
 * Inverted dropout (`torch.nn.functional.dropout`): each element is zeroed with probability p
 * and the kept ones are scaled by 1/(1 − p), so the expected value is unchanged and evaluation
 * needs no rescaling. Returns x itself when `training` is false or p = 0; p = 1 gives zeros.
 * The mask takes one `generator.random()` draw per element, in row-major order (element kept
 * when the draw is ≥ p). p outside [0, 1]: ValueError. Output: x's shape.
 *
 * @example
 * const h = dropout(relu(x), 0.5, { training: true, generator: new Generator(42) });
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  const fn = "dropout";
  assertTensor(fn, "x", x);
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new ValueError(`${fn}: p is the probability of dropping an element and must be in [0, 1], got ${String(p)}.`);
  checkFloat(fn, "x", x);
  if (options.training === false || p === 0) return x;
  return mul(x, dropMask(x.shape, x.dtype, p, options.generator));
}

/** The mask of inverted dropout: 0 with probability p, else 1/(1 − p); one `random()` draw per element, row-major. */
function dropMask(shape: readonly number[], dtype: Tensor["dtype"], p: number, generator: Generator | undefined): Tensor {
  const g = generator ?? defaultGenerator;
  const size = shape.reduce((a, b) => a * b, 1);
  const mask = allocate(dtype, size);
  if (p < 1) {
    const scale = 1 / (1 - p);
    for (let i = 0; i < size; i++) mask[i] = g.random() < p ? 0 : scale;
  }
  return Tensor.fromStorage(mask, shape, dtype);
}

/**
 * Channel dropout (`torch.nn.functional.dropout2d`, Tompson et al. 2015): in training, each
 * channel of each sample is zeroed as a whole with probability p and the kept ones are scaled by
 * 1/(1 − p). Neighbouring pixels of a feature map are strongly correlated, so dropping single
 * pixels (plain dropout) barely regularises a convnet; dropping whole maps does.
 * x: [N, C, H, W] (or unbatched [C, H, W], whose channels are dropped); output: x's shape. One
 * `generator.random()` draw per (sample, channel), in row-major order. Returns x itself when
 * `training` is false or p = 0.
 *
 * @example
 * const h = dropout2d(conv.forward(x), 0.1, { training: model.training, generator: new Generator(0) });
 */
export function dropout2d(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  const fn = "dropout2d";
  assertTensor(fn, "x", x);
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new ValueError(`${fn}: p is the probability of dropping a channel and must be in [0, 1], got ${String(p)}.`);
  checkFloat(fn, "x", x);
  if (x.ndim !== 4 && x.ndim !== 3) {
    throw new ShapeError(`${fn}: 'x' must have shape [N, C, H, W] (or unbatched [C, H, W]), got ${fmtShape(x.shape)}. For [N, C] features use dropout.`);
  }
  if (options.training === false || p === 0) return x;
  const channels = x.ndim === 4 ? x.shape.slice(0, 2) : x.shape.slice(0, 1);
  return mul(x, dropMask([...channels, 1, 1], x.dtype, p, options.generator));
}
