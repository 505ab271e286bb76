/**
 * The first layer's weights as images (CS231n's "templates"): row j of W1 [hidden, features] is
 * what hidden unit j responds to, drawn as one tile shaped like an input image. Each tile is
 * min-max scaled on its own (its smallest weight black, its largest white); the tiles are laid
 * out in a grid with a 1-pixel gap and encoded as an 8-bit RGB PNG with pngjs (pure JavaScript).
 */
import { PNG } from "pngjs";
import { ValueError } from "../errors.js";

/** One image's layout in a feature vector: channel-major ([C, H, W]), as MNIST and the CIFAR-10 binaries store it. */
export interface ImageShape {
  channels: 1 | 3;
  height: number;
  width: number;
}

export interface WeightsImageOptions {
  /** Each tile pixel becomes scale×scale pixels (default 2). */
  scale?: number;
  /** Tiles per row (default ⌈√hidden⌉). */
  columns?: number;
  /** Draw at most this many units (default all). */
  maxTiles?: number;
  /** Gray level of the gap between tiles, 0–255 (default 40). */
  background?: number;
}

/** A weight matrix: its values row-major and its shape [rows, columns]. */
export interface WeightMatrix {
  data: ArrayLike<number>;
  shape: readonly number[];
}

/**
 * Draws the rows of `weight` ([hidden, C·H·W]) as a grid of image tiles and returns the PNG bytes.
 * @example writeFileAtomic("weights.png", weightsImage(model.at(0).weight, { channels: 1, height: 28, width: 28 }))
 */
export function weightsImage(weight: WeightMatrix, image: ImageShape, options: WeightsImageOptions = {}): Uint8Array {
  const { channels, height, width } = image;
  const features = channels * height * width;
  if (weight.shape.length !== 2 || weight.shape[1] !== features) {
    throw new ValueError(`weightsImage: expected a weight of shape [hidden, ${features}] for ${channels}×${height}×${width} images, got [${weight.shape.join(", ")}].`);
  }
  const scale = options.scale ?? 2;
  const tiles = Math.min(weight.shape[0]!, options.maxTiles ?? Infinity);
  if (!Number.isInteger(scale) || scale < 1) throw new ValueError(`weightsImage: scale must be a positive integer, got ${scale}.`);
  if (tiles < 1) throw new ValueError(`weightsImage: the weight has no rows to draw.`);
  const columns = Math.min(tiles, options.columns ?? Math.ceil(Math.sqrt(tiles)));
  const rows = Math.ceil(tiles / columns);
  const gap = 1;
  const tileW = width * scale;
  const tileH = height * scale;
  const png = new PNG({ width: columns * (tileW + gap) + gap, height: rows * (tileH + gap) + gap, colorType: 2, inputHasAlpha: true });
  const bg = options.background ?? 40;
  png.data.fill(bg);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;

  const data = weight.data;
  for (let t = 0; t < tiles; t++) {
    const off = t * features;
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k < features; k++) {
      const v = data[off + k]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo;
    const x0 = gap + (t % columns) * (tileW + gap);
    const y0 = gap + Math.floor(t / columns) * (tileH + gap);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const rgb = [0, 0, 0];
        for (let ch = 0; ch < 3; ch++) {
          const v = data[off + (channels === 1 ? 0 : ch) * height * width + r * width + c]!;
          rgb[ch] = range > 0 && Number.isFinite(range) ? Math.round((255 * (v - lo)) / range) : 128;
        }
        for (let dy = 0; dy < scale; dy++) {
          let p = ((y0 + r * scale + dy) * png.width + x0 + c * scale) * 4;
          for (let dx = 0; dx < scale; dx++, p += 4) {
            png.data[p] = rgb[0]!;
            png.data[p + 1] = rgb[1]!;
            png.data[p + 2] = rgb[2]!;
          }
        }
      }
    }
  }
  const bytes = PNG.sync.write(png, { colorType: 2, inputHasAlpha: true });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The 8 bytes every PNG file starts with. */
export const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
