/**
 * Seeded data augmentation on NCHW image batches (torchvision's RandomCrop and
 * RandomHorizontalFlip, applied per sample). They are input preprocessing, outside the graph:
 * the result is a new tensor with no gradient. Every draw comes from `generator`, so the same
 * seed gives the same batch; as a DataLoader `transform` the generator is seeded per
 * (seed, epoch, batch), so resumed runs see the same augmented data.
 */
import { ShapeError, ValueError, fmtShape } from "../errors.js";
import { allocateHost } from "../tensor/dtype.js";
import { defaultGenerator, type Generator } from "../tensor/random.js";
import { Tensor, assertTensor } from "../tensor/tensor.js";

function images(fn: string, x: Tensor): [number, number, number, number] {
  assertTensor(fn, "x", x);
  if (x.ndim !== 4) throw new ShapeError(`${fn}: x must be a batch of images [N, C, H, W], got ${fmtShape(x.shape)}. Reshape flat vectors first, e.g. x.reshape([-1, 3, 32, 32]).`);
  return x.shape as [number, number, number, number];
}

/**
 * A random `size` × `size` (or [h, w]) crop of each image after zero-padding it by `padding`
 * on every side (CIFAR-10's usual 32 × 32 crop of a 40 × 40 padded image: `padding: 4`). Each
 * sample's offset is drawn uniformly: two `generator.randint` draws per sample, row then column.
 * x [N, C, H, W] → [N, C, size, size].
 * @example randomCrop(x, 32, { padding: 4, generator: new Generator(0) })
 */
export function randomCrop(x: Tensor, size: number | readonly [number, number], options: { padding?: number; generator?: Generator } = {}): Tensor {
  const fn = "randomCrop";
  const [n, c, h, w] = images(fn, x);
  const pad = options.padding ?? 0;
  const [oh, ow] = typeof size === "number" ? [size, size] : size;
  if (!Number.isInteger(pad) || pad < 0) throw new ValueError(`${fn}: padding must be a non-negative integer, got ${String(options.padding)}.`);
  if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 1 || ow < 1 || oh > h + 2 * pad || ow > w + 2 * pad) {
    throw new ValueError(`${fn}: size must be positive integers no larger than the padded image (${h + 2 * pad} × ${w + 2 * pad}), got ${JSON.stringify(size)}.`);
  }
  const g = options.generator ?? defaultGenerator;
  const src = x._checkable(fn, "x");
  const out = allocateHost(x.dtype, n * c * oh * ow);
  for (let i = 0; i < n; i++) {
    const top = g.randint(0, h + 2 * pad - oh + 1) - pad;
    const left = g.randint(0, w + 2 * pad - ow + 1) - pad;
    for (let ch = 0; ch < c; ch++) {
      const from = (i * c + ch) * h * w;
      const to = (i * c + ch) * oh * ow;
      for (let r = 0; r < oh; r++) {
        const sr = top + r;
        if (sr < 0 || sr >= h) continue;
        for (let col = 0; col < ow; col++) {
          const sc = left + col;
          if (sc >= 0 && sc < w) out[to + r * ow + col] = src[from + sr * w + sc]!;
        }
      }
    }
  }
  return Tensor.fromStorage(out, [n, c, oh, ow], x.dtype);
}

/**
 * Mirrors each image left to right with probability p (default 0.5): one `generator.random()`
 * draw per sample. x [N, C, H, W] → the same shape.
 * @example randomHorizontalFlip(x, { generator: new Generator(0) })
 */
export function randomHorizontalFlip(x: Tensor, options: { p?: number; generator?: Generator } = {}): Tensor {
  const fn = "randomHorizontalFlip";
  const [n, c, h, w] = images(fn, x);
  const p = options.p ?? 0.5;
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new ValueError(`${fn}: p is the probability of flipping and must be in [0, 1], got ${String(options.p)}.`);
  const g = options.generator ?? defaultGenerator;
  const src = x._checkable(fn, "x");
  const out = allocateHost(x.dtype, x.size);
  out.set(src);
  for (let i = 0; i < n; i++) {
    if (!(g.random() < p)) continue;
    for (let row = (i * c) * h; row < (i + 1) * c * h; row++) {
      const base = row * w;
      for (let col = 0; col < w; col++) out[base + col] = src[base + w - 1 - col]!;
    }
  }
  return Tensor.fromStorage(out, x.shape, x.dtype);
}
