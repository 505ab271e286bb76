/**
 * Small seeded 2-D classification datasets: the CS231n spiral, two moons and two circles.
 * Each returns a TensorDataset with x float32 [N, 2] and y int32 [N], samples grouped by class.
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
