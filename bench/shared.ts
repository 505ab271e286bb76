/**
 * Shared by the CPU benchmark (bench/core.ts) and the GPU one (bench/webgpu-page.ts): the data
 * every library gets (one LCG, PyTorch's Linear init), result comparison and layout helpers.
 * Browser-safe.
 */

/** The learning rate of the training rows. */
export const TRAIN_LR = 0.05;

/** A training row's data (784→256→10-style MLP). */
export interface TrainSpec {
  batch: number;
  sizes: [number, number, number];
  lr: number;
  x: Float32Array;
  /** Class labels in [0, out). */
  y: Int32Array;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

/** Arrays concatenated into one float32 array. */
export function concat(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Labels as one-hot float32 rows (TF.js' softmaxCrossEntropy and the jax-js loss take these). */
export function oneHot(y: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(y.length * classes);
  for (let i = 0; i < y.length; i++) out[i * classes + y[i]!] = 1;
  return out;
}

/** Deterministic float32 data shared by every library (an LCG, uniform in [lo, hi)). */
export function randomData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return out;
}

export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>, segments?: number[]): number {
  if (a.length !== b.length) return Infinity;
  const parts = segments ?? [a.length];
  if (parts.reduce((s, n) => s + n, 0) !== a.length) return Infinity;
  let worst = 0;
  let start = 0;
  for (const len of parts) {
    let diff = 0;
    let scale = segments ? 0 : 1;
    for (let i = start; i < start + len; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      if (!(d <= diff)) diff = d; // a NaN counts as the largest difference
      scale = Math.max(scale, Math.abs(a[i]!));
    }
    const r = diff === 0 ? 0 : diff / (scale || Number.MIN_VALUE);
    if (!(r <= worst)) worst = r;
    start += len;
  }
  return worst;
}

/** A training row's data: x uniform in [0, 1), labels uniform, parameters PyTorch's Linear init U(±1/√fan_in). */
export function trainSpec(batch: number, sizes: [number, number, number], seed: number): TrainSpec {
  const [ni, nh, no] = sizes;
  const y = new Int32Array(batch);
  const u = randomData(batch, seed, 0, no);
  for (let i = 0; i < batch; i++) y[i] = Math.min(no - 1, Math.floor(u[i]!));
  const k1 = 1 / Math.sqrt(ni);
  const k2 = 1 / Math.sqrt(nh);
  return {
    batch,
    sizes,
    lr: TRAIN_LR,
    x: randomData(batch * ni, seed + 1, 0, 1),
    y,
    w1: randomData(ni * nh, seed + 2, -k1, k1),
    b1: randomData(nh, seed + 3, -k1, k1),
    w2: randomData(nh * no, seed + 4, -k2, k2),
    b2: randomData(no, seed + 5, -k2, k2),
  };
}

/** NCHW (or OIHW) data as NHWC (HWIO for weights: [O, I, H, W] → [H, W, I, O]). */
export function toChannelsLast(data: Float32Array, [a, b, h, w]: number[], weight: boolean): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < a!; i++)
    for (let j = 0; j < b!; j++)
      for (let y = 0; y < h!; y++)
        for (let x = 0; x < w!; x++) {
          const v = data[((i * b! + j) * h! + y) * w! + x]!;
          out[weight ? ((y * w! + x) * b! + j) * a! + i : ((i * h! + y) * w! + x) * b! + j] = v;
        }
  return out;
}

/** The inverse of toChannelsLast (shape: the NCHW / OIHW one). */
export function fromChannelsLast(data: ArrayLike<number>, [a, b, h, w]: number[], weight: boolean): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < a!; i++)
    for (let j = 0; j < b!; j++)
      for (let y = 0; y < h!; y++)
        for (let x = 0; x < w!; x++) out[((i * b! + j) * h! + y) * w! + x] = data[weight ? ((y * w! + x) * b! + j) * a! + i : ((i * h! + y) * w! + x) * b! + j]!;
  return out;
}
