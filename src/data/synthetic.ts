/**
 * Small seeded 2-D classification datasets: the CS231n spiral, two moons, two circles, XOR and
 * Gaussian blobs. Each returns a TensorDataset with x float32 [N, 2] and y int32 [N], samples grouped by class.
 */
import { ValueError } from "../errors.js";
import { Generator } from "../tensor/random.js";
import { Tensor } from "../tensor/tensor.js";
import { TensorDataset } from "./dataset.js";
import { checkInt, checkNonNegative, checkOptions, checkSeed, describeValue } from "./util.js";

/** Options of spiral. */
export interface SpiralOptions {
  /** Number of classes (arms). Default 3. */
  classes?: number;
  /** Points per class. Default 100. */
  pointsPerClass?: number;
  /** Standard deviation of the noise added to the angle. Default 0.2. */
  noise?: number;
  /** Seed of the noise. Default 0. */
  seed?: number;
}

/** Options of moons. */
export interface MoonsOptions {
  /** Number of points (⌊n/2⌋ in the upper moon, class 0; the rest in the lower one, class 1). Default 200. */
  n?: number;
  /** Standard deviation of the Gaussian noise added to both coordinates. Default 0.1. */
  noise?: number;
  /** Seed of the noise. Default 0. */
  seed?: number;
}

/** Options of circles. */
export interface CirclesOptions {
  /** Number of points (⌊n/2⌋ on the outer circle, class 0; the rest on the inner one, class 1). Default 200. */
  n?: number;
  /** Standard deviation of the Gaussian noise added to both coordinates. Default 0.05. */
  noise?: number;
  /** Radius of the inner circle (the outer one has radius 1), in (0, 1). Default 0.5. */
  factor?: number;
  /** Seed of the noise. Default 0. */
  seed?: number;
}

/** Options of xor. */
export interface XorOptions {
  /** Number of points (⌊n/2⌋ in the quadrants x·y > 0, class 0; the rest where x·y < 0, class 1). Default 200. */
  n?: number;
  /** Standard deviation of the Gaussian noise added to both coordinates. Default 0.05. */
  noise?: number;
  /** Seed of the positions and the noise. Default 0. */
  seed?: number;
}

/** Options of blobs. */
export interface BlobsOptions {
  /** Number of classes (blobs). Default 3, or the number of `centers` when they are given. */
  classes?: number;
  /** Points per class. Default 100 (unless `n` is given; not both). */
  pointsPerClass?: number;
  /** Total number of points, split over the classes as evenly as possible (the first n mod K classes get one more). */
  n?: number;
  /** Standard deviation of each blob (the same in both coordinates). Default 0.25. */
  std?: number;
  /** The blobs' centers as [x, y] pairs. Default: `classes` points evenly on the unit circle, the first at (1, 0). */
  centers?: readonly (readonly [number, number])[];
  /** Seed of the points. Default 0. */
  seed?: number;
}

/** `steps` evenly spaced values from start to end, inclusive (NumPy's linspace). */
function linspaceAt(start: number, end: number, steps: number, i: number): number {
  if (steps === 1) return start;
  return i === steps - 1 ? end : start + (i * (end - start)) / (steps - 1);
}

function build(x: Float32Array, y: Int32Array): TensorDataset {
  return new TensorDataset(Tensor.fromStorage(x, [y.length, 2], "float32"), Tensor.fromStorage(y, [y.length], "int32"));
}

/**
 * The spiral of CS231n's "Putting it together" notes: for class j, N points with radius
 * r = linspace(0, 1, N) and angle t = linspace(4j, 4(j+1), N) + noise·randn, at
 * (r·sin t, r·cos t). Not linearly separable; a small MLP separates it.
 * @example const ds = spiral({ classes: 3, pointsPerClass: 100, seed: 0 }); // x [300, 2], y [300]
 */
export function spiral(options: SpiralOptions = {}): TensorDataset {
  const o = checkOptions("spiral", options, ["classes", "pointsPerClass", "noise", "seed"]);
  const K = checkInt("spiral", "classes", o.classes ?? 3, 1);
  const N = checkInt("spiral", "pointsPerClass", o.pointsPerClass ?? 100, 1);
  const noise = checkNonNegative("spiral", "noise", o.noise ?? 0.2);
  const g = new Generator(checkSeed("spiral", o.seed ?? 0));
  const x = new Float32Array(K * N * 2);
  const y = new Int32Array(K * N);
  for (let j = 0; j < K; j++) {
    for (let i = 0; i < N; i++) {
      const r = linspaceAt(0, 1, N, i);
      const t = linspaceAt(4 * j, 4 * (j + 1), N, i) + g.normal() * noise;
      const k = j * N + i;
      x[2 * k] = r * Math.sin(t);
      x[2 * k + 1] = r * Math.cos(t);
      y[k] = j;
    }
  }
  return build(x, y);
}

/**
 * Two interleaving half circles (scikit-learn's make_moons, unshuffled): ⌊n/2⌋ points at
 * (cos θ, sin θ), class 0, and the rest at (1 − cos θ, 0.5 − sin θ), class 1, θ = linspace(0, π),
 * plus Gaussian noise of standard deviation `noise` on each coordinate.
 */
export function moons(options: MoonsOptions = {}): TensorDataset {
  const o = checkOptions("moons", options, ["n", "noise", "seed"]);
  const n = checkInt("moons", "n", o.n ?? 200, 2);
  const noise = checkNonNegative("moons", "noise", o.noise ?? 0.1);
  const g = new Generator(checkSeed("moons", o.seed ?? 0));
  const nOut = Math.floor(n / 2);
  const nIn = n - nOut;
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const inner = k >= nOut;
    const th = inner ? linspaceAt(0, Math.PI, nIn, k - nOut) : linspaceAt(0, Math.PI, nOut, k);
    const px = inner ? 1 - Math.cos(th) : Math.cos(th);
    const py = inner ? 0.5 - Math.sin(th) : Math.sin(th);
    x[2 * k] = px + noise * g.normal();
    x[2 * k + 1] = py + noise * g.normal();
    y[k] = inner ? 1 : 0;
  }
  return build(x, y);
}

/**
 * A circle inside another (scikit-learn's make_circles, unshuffled): ⌊n/2⌋ points on the unit
 * circle, class 0, and the rest on a circle of radius `factor`, class 1, each at angles
 * 2πk/count (k = 0…count−1), plus Gaussian noise of standard deviation `noise` on each coordinate.
 */
export function circles(options: CirclesOptions = {}): TensorDataset {
  const o = checkOptions("circles", options, ["n", "noise", "factor", "seed"]);
  const n = checkInt("circles", "n", o.n ?? 200, 2);
  const noise = checkNonNegative("circles", "noise", o.noise ?? 0.05);
  const factor = o.factor ?? 0.5;
  if (typeof factor !== "number" || !(factor > 0 && factor < 1)) throw new ValueError(`circles: factor must be a number in (0, 1), got ${describeValue(factor)}.`);
  const g = new Generator(checkSeed("circles", o.seed ?? 0));
  const nOut = Math.floor(n / 2);
  const nIn = n - nOut;
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const inner = k >= nOut;
    const th = inner ? (2 * Math.PI * (k - nOut)) / nIn : (2 * Math.PI * k) / nOut;
    const r = inner ? factor : 1;
    x[2 * k] = r * Math.cos(th) + noise * g.normal();
    x[2 * k + 1] = r * Math.sin(th) + noise * g.normal();
    y[k] = inner ? 1 : 0;
  }
  return build(x, y);
}

/**
 * The XOR problem: points uniform in the four quadrants of the square [−1, 1]², the label the
 * exclusive or of (x > 0) and (y > 0), so no line separates the classes. Class 0 has ⌊n/2⌋ points,
 * the first half (rounded up) in the quadrant x, y > 0 and the rest in x, y < 0; class 1 has the rest,
 * the first half (rounded up) in x < 0 < y and the rest in y < 0 < x. The label is that of the
 * quadrant the point was drawn in; Gaussian noise of standard deviation `noise` is then added to
 * both coordinates (so with noise a few points near the axes cross over).
 * @example const ds = xor({ n: 200, noise: 0.05, seed: 0 }); // x [200, 2], y [200]: 100 of each class
 */
export function xor(options: XorOptions = {}): TensorDataset {
  const o = checkOptions("xor", options, ["n", "noise", "seed"]);
  const n = checkInt("xor", "n", o.n ?? 200, 4);
  const noise = checkNonNegative("xor", "noise", o.noise ?? 0.05);
  const g = new Generator(checkSeed("xor", o.seed ?? 0));
  const counts = [Math.floor(n / 2), n - Math.floor(n / 2)];
  // Per class, the signs of (x, y) in its first and its second quadrant.
  const quadrants = [
    [[1, 1], [-1, -1]],
    [[-1, 1], [1, -1]],
  ] as const;
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  let k = 0;
  for (let c = 0; c < 2; c++) {
    const first = Math.ceil(counts[c]! / 2);
    for (let i = 0; i < counts[c]!; i++, k++) {
      const [sx, sy] = quadrants[c]![i < first ? 0 : 1]!;
      const u = g.random();
      const v = g.random();
      x[2 * k] = sx * u + noise * g.normal();
      x[2 * k + 1] = sy * v + noise * g.normal();
      y[k] = c;
    }
  }
  return build(x, y);
}

/** Validates blobs' `centers`: a non-empty array of finite [x, y] pairs. */
function checkCenters(centers: unknown): [number, number][] {
  const ok =
    Array.isArray(centers) &&
    centers.length > 0 &&
    centers.every((c) => Array.isArray(c) && c.length === 2 && c.every((v) => typeof v === "number" && Number.isFinite(v)));
  if (!ok) throw new ValueError(`blobs: centers must be a non-empty array of [x, y] pairs of finite numbers, got ${describeValue(centers)}.`);
  return (centers as [number, number][]).map(([a, b]) => [a, b]);
}

/** `total` split into K parts as evenly as possible, the first total mod K parts one larger. */
function evenSplit(total: number, K: number): number[] {
  return Array.from({ length: K }, (_, j) => Math.floor(total / K) + (j < total % K ? 1 : 0));
}

/**
 * Gaussian blobs (scikit-learn's make_blobs, unshuffled): class j's points are drawn from a normal
 * distribution with mean centers[j] and standard deviation `std` in both coordinates. Without
 * `centers`, the K centers lie evenly on the unit circle, (cos 2πj/K, sin 2πj/K). The sizes are
 * `pointsPerClass` each, or `n` split as evenly as possible (the first n mod K classes get one more).
 * @example const ds = blobs({ classes: 4, pointsPerClass: 50, std: 0.2, seed: 0 }); // x [200, 2], y [200]
 * @example blobs({ centers: [[0, 0], [2, 2]], n: 101 }); // 51 points around (0, 0), 50 around (2, 2)
 */
export function blobs(options: BlobsOptions = {}): TensorDataset {
  const o = checkOptions("blobs", options, ["classes", "pointsPerClass", "n", "std", "centers", "seed"]);
  const given = o.centers === undefined ? undefined : checkCenters(o.centers);
  const K = checkInt("blobs", "classes", o.classes ?? given?.length ?? 3, 1);
  if (given && given.length !== K) throw new ValueError(`blobs: classes is ${K} but ${given.length} centers were given; give one center per class (or leave classes out).`);
  if (o.n !== undefined && o.pointsPerClass !== undefined) throw new ValueError("blobs: give either n or pointsPerClass, not both.");
  const sizes = o.n !== undefined ? evenSplit(checkInt("blobs", "n", o.n, K), K) : new Array<number>(K).fill(checkInt("blobs", "pointsPerClass", o.pointsPerClass ?? 100, 1));
  const std = checkNonNegative("blobs", "std", o.std ?? 0.25);
  const centers = given ?? Array.from({ length: K }, (_, j) => [Math.cos((2 * Math.PI * j) / K), Math.sin((2 * Math.PI * j) / K)] as [number, number]);
  const g = new Generator(checkSeed("blobs", o.seed ?? 0));
  const total = sizes.reduce((a, b) => a + b, 0);
  const x = new Float32Array(2 * total);
  const y = new Int32Array(total);
  let k = 0;
  for (let j = 0; j < K; j++) {
    const [cx, cy] = centers[j]!;
    for (let i = 0; i < sizes[j]!; i++, k++) {
      x[2 * k] = cx + std * g.normal();
      x[2 * k + 1] = cy + std * g.normal();
      y[k] = j;
    }
  }
  return build(x, y);
}
