/**
 * Table-driven tests of every differentiable op.
 *
 * Each entry of CASES names an op, how to build its inputs (shapes and a value domain), how to
 * call it, and a plain-JavaScript float64 reference of its forward pass written from the input
 * arrays alone (own broadcasting, own index arithmetic; nothing from chainrule's kernels).
 * Every entry then gets, automatically:
 *   1. a forward check against the reference (float64, |a − e| ≤ 1e-12·max(1, |e|));
 *   2. a float64 gradcheck (finite differences against backward);
 *   3. cheap PyTorch-style guards: zero upstream gives zero gradients, each gradient has its
 *      input's shape and dtype, backward is deterministic (twice, fresh graph or retained graph);
 *   4. a fast-check property that repeats 1-3 over random shapes (rank 0..3, dims 1..4) and,
 *      for broadcasting ops, random broadcasting patterns; seeded, so every run is the same.
 * Forward-only ops (comparisons, argmax/argmin) get 1 and 4 with exact equality.
 * Kink conventions, dtype promotion and numerically hard inputs have their own tests below.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Generator,
  Tensor,
  abs,
  add,
  argmax,
  argmin,
  clamp,
  clone,
  concat,
  div,
  elu,
  eq,
  exp,
  expand,
  flatten,
  gather,
  ge,
  gradcheck,
  gradients,
  gt,
  indexSelect,
  le,
  leakyRelu,
  log,
  logSoftmax,
  logsumexp,
  lt,
  matmul,
  max,
  maximum,
  mean,
  min,
  minimum,
  mul,
  narrow,
  ne,
  neg,
  pad,
  permute,
  pow,
  randn,
  reciprocal,
  relu,
  reshape,
  sigmoid,
  sign,
  slice,
  softmax,
  softplus,
  split,
  sqrt,
  square,
  squeeze,
  stack,
  std,
  sub,
  sum,
  tanh,
  tensor,
  transpose,
  unsqueeze,
  variance,
  where,
  zerosLike,
  type DType,
  type GradcheckOptions,
} from "../src/index.js";

/** fast-check runs per property (kept small: the whole file must stay fast on 2 cores). */
const NUM_RUNS = 25;
const FC_SEED = 42;

// ================================================================== float64 reference arrays

interface Nd {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

const numel = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i]! + idx[i]!;
  return flat;
}

/** NumPy broadcasting of any number of shapes. */
function broadcastRef(...shapes: (readonly number[])[]): number[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - n + i] ?? 1;
      if (v !== 1) {
        if (d !== 1 && d !== v) throw new Error(`reference: shapes ${JSON.stringify(shapes)} do not broadcast`);
        d = v;
      }
    }
    out.push(d);
  }
  return out;
}

/** x read at a (possibly longer) broadcast index: trailing axes line up, size-1 axes repeat. */
function at(x: Nd, idx: readonly number[]): number {
  const off = idx.length - x.shape.length;
  let flat = 0;
  for (let i = 0; i < x.shape.length; i++) flat = flat * x.shape[i]! + (x.shape[i] === 1 ? 0 : idx[off + i]!);
  return x.data[flat]!;
}

function mapRef(f: (...v: number[]) => number, ...xs: Nd[]): Nd {
  const shape = broadcastRef(...xs.map((x) => x.shape));
  const data: number[] = [];
  for (let i = 0; i < numel(shape); i++) {
    const idx = unravel(i, shape);
    data.push(f(...xs.map((x) => at(x, idx))));
  }
  return { shape, data };
}

function broadcastToRef(x: Nd, shape: readonly number[]): Nd {
  const data: number[] = [];
  for (let i = 0; i < numel(shape); i++) data.push(at(x, unravel(i, shape)));
  return { shape: [...shape], data };
}

function normAxes(axis: number | readonly number[] | undefined, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  return (typeof axis === "number" ? [axis] : [...axis]).map((a) => (a < 0 ? a + rank : a));
}

/** Groups the elements of each reduced slice (in increasing flat order) and maps each group to one value. */
function reduceRef(x: Nd, axis: number | readonly number[] | undefined, keepDim: boolean, f: (vals: number[]) => number): Nd {
  const axes = normAxes(axis, x.shape.length);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: numel(kept) }, () => []);
  for (let i = 0; i < numel(x.shape); i++) {
    const idx = unravel(i, x.shape).map((v, j) => (axes.includes(j) ? 0 : v));
    groups[ravel(idx, kept)]!.push(x.data[i]!);
  }
  return { shape: keepDim ? kept : x.shape.filter((_, i) => !axes.includes(i)), data: groups.map(f) };
}

/** Applies f to every 1-D slice along `axis` (same shape out). */
function alongAxisRef(x: Nd, axis: number, f: (vals: number[]) => number[]): Nd {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const out = new Array<number>(x.data.length);
  for (let i = 0; i < numel(x.shape); i++) {
    const idx = unravel(i, x.shape);
    if (idx[a] !== 0) continue;
    const positions = Array.from({ length: x.shape[a]! }, (_, k) => ravel(idx.map((v, j) => (j === a ? k : v)), x.shape));
    const res = f(positions.map((p) => x.data[p]!));
    positions.forEach((p, k) => (out[p] = res[k]!));
  }
  return { shape: x.shape, data: out };
}

function permuteRef(x: Nd, dims: readonly number[]): Nd {
  const shape = dims.map((d) => x.shape[d]!);
  const data: number[] = [];
  for (let o = 0; o < numel(shape); o++) {
    const oidx = unravel(o, shape);
    const iidx = new Array<number>(x.shape.length);
    dims.forEach((d, k) => (iidx[d] = oidx[k]!));
    data.push(x.data[ravel(iidx, x.shape)]!);
  }
  return { shape, data };
}

/** Elements at positions `indices` along `axis` (repeats allowed). */
function takeRef(x: Nd, axis: number, indices: readonly number[]): Nd {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const shape = x.shape.map((d, i) => (i === a ? indices.length : d));
  const data: number[] = [];
  for (let o = 0; o < numel(shape); o++) {
    const idx = unravel(o, shape);
    idx[a] = indices[idx[a]!]!;
    data.push(x.data[ravel(idx, x.shape)]!);
  }
  return { shape, data };
}

/** Python's x[start:end:step] positions for an axis of length n. */
function pySliceIndices(n: number, start: number | undefined, end: number | undefined, step: number): number[] {
  const norm = (v: number): number => Math.min(n, Math.max(0, v < 0 ? v + n : v));
  const s = start === undefined ? 0 : norm(start);
  const e = end === undefined ? n : norm(end);
  const out: number[] = [];
  for (let i = s; i < e; i += step) out.push(i);
  return out;
}

function matmulRef(a: Nd, b: Nd, transA = false, transB = false): Nd {
  const swapLast = (x: Nd): Nd => {
    const r = x.shape.length;
    return permuteRef(x, x.shape.map((_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i)));
  };
  let A = transA && a.shape.length >= 2 ? swapLast(a) : a;
  let B = transB && b.shape.length >= 2 ? swapLast(b) : b;
  const vecA = A.shape.length === 1;
  const vecB = B.shape.length === 1;
  if (vecA) A = { shape: [1, A.shape[0]!], data: A.data };
  if (vecB) B = { shape: [B.shape[0]!, 1], data: B.data };
  const m = A.shape[A.shape.length - 2]!;
  const k = A.shape[A.shape.length - 1]!;
  const n = B.shape[B.shape.length - 1]!;
  if (B.shape[B.shape.length - 2] !== k) throw new Error("reference matmul: inner dimensions differ");
  const batch = broadcastRef(A.shape.slice(0, -2), B.shape.slice(0, -2));
  const data: number[] = [];
  for (let t = 0; t < numel(batch); t++) {
    const bidx = unravel(t, batch);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += at(A, [...bidx, i, p]) * at(B, [...bidx, p, j]);
        data.push(s);
      }
    }
  }
  const shape = [...batch];
  if (!vecA) shape.push(m);
  if (!vecB) shape.push(n);
  return { shape, data };
}

const sumOf = (v: readonly number[]): number => v.reduce((p, q) => p + q, 0);
const meanOf = (v: readonly number[]): number => sumOf(v) / v.length;
const varOf = (v: readonly number[], correction: number): number => {
  const m = meanOf(v);
  return sumOf(v.map((x) => (x - m) ** 2)) / (v.length - correction);
};
const sigmoidRef = (x: number): number => 1 / (1 + Math.exp(-x));

// ================================================================== deterministic value domains

type Rng = () => number;

/** mulberry32: a tiny seeded generator for the input values (independent of chainrule's). */
function rngFrom(seed: number): Rng {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

interface Shaped<P> {
  shapes: number[][];
  params: P;
}
type Domain<P> = (rng: Rng, n: number, sample: Shaped<P>) => number[];

const uniform = (lo: number, hi: number): Domain<unknown> => (rng, n) => Array.from({ length: n }, () => lo + (hi - lo) * rng());
/** Uniform in [lo, hi] but at least `gap` away from each of `points` (keeps gradcheck off kinks). */
const avoiding = (lo: number, hi: number, points: readonly number[], gap: number): Domain<unknown> => (rng, n) =>
  Array.from({ length: n }, () => {
    for (;;) {
      const v = lo + (hi - lo) * rng();
      if (points.every((p) => Math.abs(v - p) >= gap)) return v;
    }
  });
/** Pairwise distinct values at least ~0.2 apart, in random order (no ties for max/min). */
const distinct: Domain<unknown> = (rng, n) => {
  const keys = Array.from({ length: n }, () => rng());
  const order = keys.map((_, i) => i).sort((p, q) => keys[p]! - keys[q]!);
  const out = new Array<number>(n);
  order.forEach((pos, rank) => (out[pos] = (rank - (n - 1) / 2) * 0.25 + 0.05 * rng()));
  return out;
};
/** Multiples of 0.5 plus `offset`: two grids with different offsets never tie. */
const grid = (offset: number): Domain<unknown> => (rng, n) => Array.from({ length: n }, () => Math.floor(rng() * 8 - 4) * 0.5 + offset);
/** Small integers (as floats), so that ties and equalities are frequent. */
const ints = (lo: number, hi: number): Domain<unknown> => (rng, n) => Array.from({ length: n }, () => lo + Math.floor(rng() * (hi - lo + 1)));

interface InputSpec<P> {
  domain: Domain<P>;
  /** float64 (default) or int32 (indices). */
  dtype?: "float64" | "int32";
  /** Whether the input requires grad (default: true for float64). */
  grad?: boolean;
}
const f64 = <P>(domain: Domain<P>): InputSpec<P> => ({ domain });
const constF64 = <P>(domain: Domain<P>): InputSpec<P> => ({ domain, grad: false });

// ================================================================== shape generators

const dimArb = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank = 0, maxRank = 3): fc.Arbitrary<number[]> => fc.array(dimArb, { minLength: minRank, maxLength: maxRank });

/** A shape that broadcasts to `out`: some leading axes dropped, some axes set to 1. */
function broadcastSource(out: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([rank, ones]) => out.slice(out.length - rank).map((d, i) => (ones[out.length - rank + i] ? 1 : d)));
}

/** k shapes with a random broadcasting pattern; one of them (random) has the full broadcast shape. */
function broadcastShapesArb(k: number): fc.Arbitrary<number[][]> {
  return shapeArb(0, 3).chain((out) =>
    fc.tuple(fc.integer({ min: 0, max: k - 1 }), fc.array(broadcastSource(out), { minLength: k, maxLength: k })).map(([full, shapes]) =>
      shapes.map((s, i) => (i === full ? [...out] : s)),
    ),
  );
}

const noParams = <P>(shapes: fc.Arbitrary<number[][]>, params: P): fc.Arbitrary<Shaped<P>> => shapes.map((s) => ({ shapes: s, params }));

// ================================================================== the table

interface Case<P> {
  name: string;
  inputs: InputSpec<P>[];
  /** The hand-picked example used by the fixed forward check, gradcheck and guards. */
  fixed: Shaped<P>;
  /** Random shapes (and parameters) for the property. */
  gen: fc.Arbitrary<Shaped<P>>;
  fn: (xs: Tensor[], p: P) => Tensor;
  ref: (xs: Nd[], p: P) => Nd;
  /** Output dtype (default float64). */
  outDType?: DType;
  /** false for forward-only ops (comparisons, argmax): exact forward checks only. */
  differentiable?: boolean;
  gc?: GradcheckOptions;
  /** What the property randomises, for its test name. */
  randomizes?: string;
}

type AnyCase = Case<any>;
const def = <P>(c: Case<P>): AnyCase => c;

const CASES: AnyCase[] = [];

function unaryCase(name: string, fn: (x: Tensor) => Tensor, ref: (v: number) => number, domain: Domain<unknown>, extra: Partial<Case<undefined>> = {}): void {
  CASES.push(
    def<undefined>({
      name,
      inputs: [f64(domain)],
      fixed: { shapes: [[2, 3]], params: undefined },
      gen: noParams(shapeArb().map((s) => [s]), undefined),
      fn: ([x]) => fn(x!),
      ref: ([x]) => mapRef(ref, x!),
      randomizes: "shapes",
      ...extra,
    }),
  );
}

function binaryCase(name: string, fn: (a: Tensor, b: Tensor) => Tensor, ref: (a: number, b: number) => number, domA: Domain<unknown>, domB: Domain<unknown>): void {
  CASES.push(
    def<undefined>({
      name,
      inputs: [f64(domA), f64(domB)],
      fixed: { shapes: [[2, 3, 4], [3, 1]], params: undefined },
      gen: noParams(broadcastShapesArb(2), undefined),
      fn: ([a, b]) => fn(a!, b!),
      ref: ([a, b]) => mapRef(ref, a!, b!),
      randomizes: "shapes and broadcasting patterns",
    }),
  );
}

// ------------------------------------------------------------------ binary elementwise (broadcast)

const ANY = uniform(-2, 2);
binaryCase("add", add, (a, b) => a + b, ANY, ANY);
binaryCase("sub", sub, (a, b) => a - b, ANY, ANY);
binaryCase("mul", mul, (a, b) => a * b, ANY, ANY);
binaryCase("div (|b| ≥ 0.5)", div, (a, b) => a / b, ANY, avoiding(-2, 2, [0], 0.5));
binaryCase("pow (a > 0)", pow, (a, b) => Math.exp(b * Math.log(a)), uniform(0.3, 2.5), ANY);
binaryCase("maximum (no ties)", maximum, (a, b) => (a > b ? a : b), grid(0.1), grid(0.35));
binaryCase("minimum (no ties)", minimum, (a, b) => (a < b ? a : b), grid(0.1), grid(0.35));
binaryCase("Tensor methods a.add(b).mul(b).sub(a)", (a, b) => a.add(b).mul(b).sub(a), (a, b) => (a + b) * b - a, ANY, ANY);

// with a plain number on one side
unaryCase("add(x, 2.5)", (x) => add(x, 2.5), (v) => v + 2.5, ANY);
unaryCase("sub(1, x) (number on the left)", (x) => sub(1, x), (v) => 1 - v, ANY);
unaryCase("mul(x, -3)", (x) => mul(x, -3), (v) => -3 * v, ANY);
unaryCase("div(2, x) (number on the left)", (x) => div(2, x), (v) => 2 / v, avoiding(-2, 2, [0], 0.5));
unaryCase("pow(x, 3) (integer exponent, any sign)", (x) => pow(x, 3), (v) => v * v * v, ANY);
unaryCase("pow(x, 0.5) (x > 0)", (x) => pow(x, 0.5), (v) => Math.sqrt(v), uniform(0.2, 3));
unaryCase("pow(2, x) (number base)", (x) => pow(2, x), (v) => Math.exp(v * Math.LN2), ANY);

// ------------------------------------------------------------------ unary elementwise

unaryCase("neg", neg, (v) => -v, ANY);
unaryCase("exp", exp, (v) => Math.E ** v, uniform(-3, 3));
unaryCase("log (x > 0)", log, (v) => Math.log(v), uniform(0.1, 3));
unaryCase("sqrt (x > 0)", sqrt, (v) => v ** 0.5, uniform(0.1, 3));
unaryCase("abs (|x| ≥ 0.05)", abs, (v) => (v < 0 ? -v : v), avoiding(-2, 2, [0], 0.05));
unaryCase("sign (zero gradient)", sign, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0), avoiding(-2, 2, [0], 0.05));
unaryCase("tanh", tanh, (v) => (Math.exp(2 * v) - 1) / (Math.exp(2 * v) + 1), uniform(-3, 3));
unaryCase("sigmoid", sigmoid, sigmoidRef, uniform(-6, 6));
unaryCase("relu (|x| ≥ 0.01)", relu, (v) => (v > 0 ? v : 0), avoiding(-2, 2, [0], 0.01));
unaryCase("leakyRelu (default slope 0.01)", (x) => leakyRelu(x), (v) => (v > 0 ? v : 0.01 * v), avoiding(-2, 2, [0], 0.01));
unaryCase("leakyRelu (slope 0.2, method)", (x) => x.leakyRelu(0.2), (v) => (v > 0 ? v : 0.2 * v), avoiding(-2, 2, [0], 0.01));
unaryCase("elu (default alpha 1)", (x) => elu(x), (v) => (v > 0 ? v : Math.expm1(v)), avoiding(-3, 3, [0], 0.01));
unaryCase("elu (alpha 0.5)", (x) => elu(x, 0.5), (v) => (v > 0 ? v : 0.5 * Math.expm1(v)), avoiding(-3, 3, [0], 0.01));
unaryCase("softplus (default beta 1)", (x) => softplus(x), (v) => Math.log(1 + Math.exp(v)), uniform(-5, 5));
unaryCase("softplus (beta 2)", (x) => softplus(x, { beta: 2 }), (v) => Math.log(1 + Math.exp(2 * v)) / 2, uniform(-4, 4));
unaryCase(
  "softplus (beta 0.5, threshold 1: linear above βx > 1)",
  (x) => x.softplus({ beta: 0.5, threshold: 1 }),
  (v) => (0.5 * v > 1 ? v : Math.log(1 + Math.exp(0.5 * v)) / 0.5),
  avoiding(-4, 5, [2], 0.02),
);
unaryCase("softplus (beta 1, linear region x > 20)", (x) => softplus(x), (v) => v, uniform(21, 30));
unaryCase("square", square, (v) => v * v, ANY);
unaryCase("reciprocal (|x| ≥ 0.5)", reciprocal, (v) => 1 / v, avoiding(-2, 2, [0], 0.5));
unaryCase("clamp(x, -0.5, 0.5)", (x) => clamp(x, -0.5, 0.5), (v) => (v < -0.5 ? -0.5 : v > 0.5 ? 0.5 : v), avoiding(-1.5, 1.5, [-0.5, 0.5], 0.01));
unaryCase("clamp(x, min 0.2)", (x) => clamp(x, 0.2), (v) => (v < 0.2 ? 0.2 : v), avoiding(-1.5, 1.5, [0.2], 0.01));
unaryCase("clamp(x, null, max -0.3) (method)", (x) => x.clamp(null, -0.3), (v) => (v > -0.3 ? -0.3 : v), avoiding(-1.5, 1.5, [-0.3], 0.01));
unaryCase("clone", clone, (v) => v, ANY);

// ------------------------------------------------------------------ where (three-way broadcast)

CASES.push(
  def<undefined>({
    name: "where(c > 0, a, b)",
    inputs: [constF64(ANY), f64(ANY), f64(ANY)],
    fixed: { shapes: [[3, 1], [2, 3, 4], [4]], params: undefined },
    gen: noParams(broadcastShapesArb(3), undefined),
    fn: ([c, a, b]) => where(c!.gt(0), a!, b!),
    ref: ([c, a, b]) => mapRef((cv, av, bv) => (cv > 0 ? av : bv), c!, a!, b!),
    randomizes: "shapes and three-way broadcasting",
  }),
  def<undefined>({
    name: "where(c <= 0.5, a, 0) (number branch)",
    inputs: [constF64(ANY), f64(ANY)],
    fixed: { shapes: [[2, 3], [3]], params: undefined },
    gen: noParams(broadcastShapesArb(2), undefined),
    fn: ([c, a]) => where(c!.le(0.5), a!, 0),
    ref: ([c, a]) => mapRef((cv, av) => (cv <= 0.5 ? av : 0), c!, a!),
    randomizes: "shapes and broadcasting patterns",
  }),
);

// ------------------------------------------------------------------ comparisons (forward only)

const COMPARISONS: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => boolean][] = [
  ["eq", eq, (a, b) => a === b],
  ["ne", ne, (a, b) => a !== b],
  ["gt", gt, (a, b) => a > b],
  ["ge", ge, (a, b) => a >= b],
  ["lt", lt, (a, b) => a < b],
  ["le", le, (a, b) => a <= b],
];
for (const [name, fn, ref] of COMPARISONS) {
  CASES.push(
    def<undefined>({
      name: `${name} (bool mask, forward only)`,
      inputs: [constF64(ints(-1, 1)), constF64(ints(-1, 1))],
      fixed: { shapes: [[2, 3, 4], [3, 1]], params: undefined },
      gen: noParams(broadcastShapesArb(2), undefined),
      fn: ([a, b]) => fn(a!, b!),
      ref: ([a, b]) => mapRef((x, y) => (ref(x, y) ? 1 : 0), a!, b!),
      outDType: "bool",
      differentiable: false,
      randomizes: "shapes and broadcasting patterns",
    }),
  );
}

// ------------------------------------------------------------------ reductions

interface ReduceParams {
  axis?: number | number[];
  keepDim?: boolean;
}

/** The kinds of axis argument, each with a generator of random valid instances. */
const AXIS_KINDS: { label: string; random: string; fixed: ReduceParams; gen: (rank: number) => fc.Arbitrary<ReduceParams>; minRank: number }[] = [
  { label: "axis undefined", random: "shapes (all axes)", fixed: {}, gen: () => fc.constant({}), minRank: 0 },
  { label: "axis undefined, keepDim", random: "shapes (all axes, keepDim)", fixed: { keepDim: true }, gen: () => fc.constant({ keepDim: true }), minRank: 0 },
  { label: "axis 1", random: "shapes and one non-negative axis", fixed: { axis: 1 }, gen: (r) => fc.integer({ min: 0, max: r - 1 }).map((axis) => ({ axis })), minRank: 1 },
  {
    label: "axis -1, keepDim",
    random: "shapes and one negative axis, keepDim",
    fixed: { axis: -1, keepDim: true },
    gen: (r) => fc.integer({ min: -r, max: -1 }).map((axis) => ({ axis, keepDim: true })),
    minRank: 1,
  },
  {
    label: "axis list [0, 2]",
    random: "shapes and axis lists",
    fixed: { axis: [0, 2] },
    gen: (r) => fc.subarray(Array.from({ length: r }, (_, i) => i), { minLength: 1 }).map((axis) => ({ axis })),
    minRank: 1,
  },
  {
    label: "axis list with negatives [-1, 0], keepDim",
    random: "shapes and unordered axis lists with negatives, keepDim",
    fixed: { axis: [-1, 0], keepDim: true },
    gen: (r) =>
      fc
        .tuple(fc.shuffledSubarray(Array.from({ length: r }, (_, i) => i), { minLength: 1 }), fc.array(fc.boolean(), { minLength: r, maxLength: r }))
        .map(([axes, negs]) => ({ axis: axes.map((a, i) => (negs[i] ? a - r : a)), keepDim: true })),
    minRank: 1,
  },
];

function reductionCount(shape: readonly number[], p: ReduceParams): number {
  return normAxes(p.axis, shape.length).reduce((n, a) => n * shape[a]!, 1);
}

const REDUCTIONS: {
  name: string;
  fn: (x: Tensor, p: ReduceParams) => Tensor;
  ref: (vals: number[]) => number;
  domain: Domain<unknown>;
  minCount?: number;
}[] = [
  { name: "sum", fn: (x, p) => sum(x, p), ref: sumOf, domain: ANY },
  { name: "mean", fn: (x, p) => mean(x, p), ref: meanOf, domain: ANY },
  { name: "max (distinct values)", fn: (x, p) => max(x, p), ref: (v) => Math.max(...v), domain: distinct },
  { name: "min (distinct values)", fn: (x, p) => x.min(p), ref: (v) => Math.min(...v), domain: distinct },
  { name: "logsumexp", fn: (x, p) => logsumexp(x, p), ref: (v) => Math.log(sumOf(v.map(Math.exp))), domain: uniform(-3, 3) },
  { name: "var (unbiased)", fn: (x, p) => x.var(p), ref: (v) => varOf(v, 1), domain: ANY, minCount: 2 },
  { name: "var (correction 0)", fn: (x, p) => variance(x, { ...p, correction: 0 }), ref: (v) => varOf(v, 0), domain: ANY },
  { name: "std (unbiased)", fn: (x, p) => std(x, p), ref: (v) => Math.sqrt(varOf(v, 1)), domain: ANY, minCount: 2 },
];

for (const r of REDUCTIONS) {
  for (const kind of AXIS_KINDS) {
    const minCount = r.minCount ?? 1;
    CASES.push(
      def<ReduceParams>({
        name: `${r.name} (${kind.label})`,
        inputs: [f64(r.domain)],
        fixed: { shapes: [[2, 3, 4]], params: kind.fixed },
        gen: shapeArb(kind.minRank, 3)
          .chain((s) => kind.gen(s.length).map((params) => ({ shapes: [s], params })))
          .filter((s) => reductionCount(s.shapes[0]!, s.params) >= minCount),
        fn: ([x], p) => r.fn(x!, p),
        ref: ([x], p) => reduceRef(x!, p.axis, p.keepDim ?? false, r.ref),
        randomizes: kind.random,
      }),
    );
  }
}

interface ArgParams {
  axis?: number;
  keepDim?: boolean;
}
const ARG_KINDS: { label: string; fixed: ArgParams; gen: (rank: number) => fc.Arbitrary<ArgParams>; minRank: number }[] = [
  { label: "flattened", fixed: {}, gen: () => fc.constant({}), minRank: 0 },
  { label: "flattened, keepDim", fixed: { keepDim: true }, gen: () => fc.constant({ keepDim: true }), minRank: 0 },
  { label: "axis 1", fixed: { axis: 1 }, gen: (r) => fc.integer({ min: 0, max: r - 1 }).map((axis) => ({ axis })), minRank: 1 },
  { label: "axis -1, keepDim", fixed: { axis: -1, keepDim: true }, gen: (r) => fc.integer({ min: -r, max: -1 }).map((axis) => ({ axis, keepDim: true })), minRank: 1 },
];
for (const [name, fn, better] of [
  ["argmax", argmax, (v: number, best: number) => v > best],
  ["argmin", argmin, (v: number, best: number) => v < best],
] as const) {
  for (const kind of ARG_KINDS) {
    CASES.push(
      def<ArgParams>({
        name: `${name} (${kind.label}; first index on ties; forward only)`,
        inputs: [constF64(ints(-1, 1))],
        fixed: { shapes: [[2, 3, 4]], params: kind.fixed },
        gen: shapeArb(kind.minRank, 3).chain((s) => kind.gen(s.length).map((params) => ({ shapes: [s], params }))),
        fn: ([x], p) => fn(x!, p),
        ref: ([x], p) => {
          const firstBest = (v: number[]): number => v.reduce((bi, val, i) => (better(val, v[bi]!) ? i : bi), 0);
          if (p.axis !== undefined) return reduceRef(x!, p.axis, p.keepDim ?? false, firstBest);
          return { shape: p.keepDim ? x!.shape.map(() => 1) : [], data: [firstBest([...x!.data])] };
        },
        outDType: "int32",
        differentiable: false,
        randomizes: "shapes and axes",
      }),
    );
  }
}

// ------------------------------------------------------------------ matmul

interface MatmulParams {
  transA: boolean;
  transB: boolean;
}
const NO_TRANS: MatmulParams = { transA: false, transB: false };
const mnk = fc.tuple(dimArb, dimArb, dimArb);
/** Batch shapes for a and b that broadcast together (one of them may have no batch axes). */
const batchPair = broadcastShapesArb(2).filter((s) => s.every((b) => b.length <= 2));

function matmulCase(name: string, fixed: Shaped<MatmulParams>, gen: fc.Arbitrary<Shaped<MatmulParams>>, method = false): void {
  CASES.push(
    def<MatmulParams>({
      name,
      inputs: [f64(ANY), f64(ANY)],
      fixed,
      gen,
      fn: ([a, b], p) => (method ? a!.matmul(b!) : matmul(a!, b!, p)),
      ref: ([a, b], p) => matmulRef(a!, b!, p.transA, p.transB),
      randomizes: "m, k, n and batch shapes",
    }),
  );
}

matmulCase("matmul 2-D [m,k]·[k,n]", { shapes: [[3, 4], [4, 2]], params: NO_TRANS }, mnk.map(([m, k, n]) => ({ shapes: [[m, k], [k, n]], params: NO_TRANS })));
matmulCase("matmul 2-D (Tensor.matmul method)", { shapes: [[2, 3], [3, 3]], params: NO_TRANS }, mnk.map(([m, k, n]) => ({ shapes: [[m, k], [k, n]], params: NO_TRANS })), true);
matmulCase(
  "matmul batched with broadcast batch axes [2,1,m,k]·[3,k,n]",
  { shapes: [[2, 1, 3, 4], [3, 4, 2]], params: NO_TRANS },
  fc.tuple(mnk, batchPair).map(([[m, k, n], [ba, bb]]) => ({ shapes: [[...ba!, m, k], [...bb!, k, n]], params: NO_TRANS })),
);
matmulCase("matmul batched·2-D [b,m,k]·[k,n]", { shapes: [[2, 3, 4], [4, 2]], params: NO_TRANS }, fc.tuple(mnk, dimArb).map(([[m, k, n], b]) => ({ shapes: [[b, m, k], [k, n]], params: NO_TRANS })));
matmulCase(
  "matmul matrix-vector [m,k]·[k] (optionally batched)",
  { shapes: [[3, 4], [4]], params: NO_TRANS },
  fc.tuple(mnk, shapeArb(0, 2)).map(([[m, k], batch]) => ({ shapes: [[...batch, m, k], [k]], params: NO_TRANS })),
);
matmulCase(
  "matmul vector-matrix [k]·[k,n] (optionally batched)",
  { shapes: [[4], [2, 4, 3]], params: NO_TRANS },
  fc.tuple(mnk, shapeArb(0, 2)).map(([[, k, n], batch]) => ({ shapes: [[k], [...batch, k, n]], params: NO_TRANS })),
);
matmulCase("matmul vector-vector dot [k]·[k] → 0-d", { shapes: [[5], [5]], params: NO_TRANS }, dimArb.map((k) => ({ shapes: [[k], [k]], params: NO_TRANS })));
matmulCase("matmul transA (a stored [k,m])", { shapes: [[4, 3], [4, 2]], params: { transA: true, transB: false } }, mnk.map(([m, k, n]) => ({ shapes: [[k, m], [k, n]], params: { transA: true, transB: false } })));
matmulCase("matmul transB (b stored [n,k])", { shapes: [[3, 4], [2, 4]], params: { transA: false, transB: true } }, mnk.map(([m, k, n]) => ({ shapes: [[m, k], [n, k]], params: { transA: false, transB: true } })));
matmulCase(
  "matmul transA+transB batched, random flags",
  { shapes: [[2, 4, 3], [1, 2, 4]], params: { transA: true, transB: true } },
  fc.tuple(mnk, batchPair, fc.boolean(), fc.boolean()).map(([[m, k, n], [ba, bb], transA, transB]) => ({
    shapes: [[...ba!, ...(transA ? [k, m] : [m, k])], [...bb!, ...(transB ? [n, k] : [k, n])]],
    params: { transA, transB },
  })),
);

// ------------------------------------------------------------------ shape ops

/** A random shape together with a random axis in [-rank, rank) (rank ≥ 1). */
const shapeWithAxis = (minRank = 1): fc.Arbitrary<[number[], number]> => shapeArb(minRank, 3).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 })));
const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

interface TransposeParams {
  dim0?: number;
  dim1?: number;
}
CASES.push(
  def<TransposeParams>({
    name: "transpose (default: last two axes; 0-d and 1-D unchanged)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 3, 4]], params: {} },
    gen: noParams(shapeArb().map((s) => [s]), {}),
    fn: ([x]) => transpose(x!),
    ref: ([x]) => {
      const r = x!.shape.length;
      return r < 2 ? x! : permuteRef(x!, x!.shape.map((_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i)));
    },
    randomizes: "shapes",
  }),
  def<TransposeParams>({
    name: "transpose(dim0, dim1) with negative dims",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 3, 4]], params: { dim0: -3, dim1: 2 } },
    gen: shapeArb(1, 3).chain((s) =>
      fc.tuple(fc.integer({ min: -s.length, max: s.length - 1 }), fc.integer({ min: -s.length, max: s.length - 1 })).map(([dim0, dim1]) => ({ shapes: [s], params: { dim0, dim1 } })),
    ),
    fn: ([x], p) => x!.transpose(p.dim0, p.dim1),
    ref: ([x], p) => {
      const r = x!.shape.length;
      const a = normAxis(p.dim0!, r);
      const b = normAxis(p.dim1!, r);
      return permuteRef(x!, x!.shape.map((_, i) => (i === a ? b : i === b ? a : i)));
    },
    randomizes: "shapes and dims",
  }),
  def<undefined>({
    name: "T (all axes reversed)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 3, 4]], params: undefined },
    gen: noParams(shapeArb().map((s) => [s]), undefined),
    fn: ([x]) => x!.T,
    ref: ([x]) => permuteRef(x!, x!.shape.map((_, i) => x!.shape.length - 1 - i)),
    randomizes: "shapes",
  }),
  def<{ dims: number[] }>({
    name: "permute (random permutation, negative dims)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 3, 4]], params: { dims: [-1, 0, 1] } },
    gen: shapeArb(0, 3).chain((s) =>
      fc
        .tuple(fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }))
        .map(([perm, negs]) => ({ shapes: [s], params: { dims: perm.map((d, i) => (negs[i] ? d - s.length : d)) } })),
    ),
    fn: ([x], p) => permute(x!, p.dims),
    ref: ([x], p) => permuteRef(x!, p.dims.map((d) => normAxis(d, x!.shape.length))),
    randomizes: "shapes and permutations",
  }),
  def<{ target: number[] }>({
    name: "reshape with -1",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 3, 4]], params: { target: [4, -1] } },
    // the target: the dims reordered (same product), plus a 1, one of them replaced by -1
    gen: shapeArb(0, 3).chain((s) =>
      fc
        .tuple(fc.shuffledSubarray([...s, 1], { minLength: s.length + 1, maxLength: s.length + 1 }), fc.nat())
        .map(([t, k]) => ({ shapes: [s], params: { target: t.map((d, i) => (i === k % t.length ? -1 : d)) } })),
    ),
    fn: ([x], p) => reshape(x!, p.target),
    ref: ([x], p) => {
      const known = p.target.filter((d) => d !== -1).reduce((q, d) => q * d, 1);
      return { shape: p.target.map((d) => (d === -1 ? numel(x!.shape) / known : d)), data: x!.data };
    },
    randomizes: "shapes and targets",
  }),
  def<{ start: number; end: number }>({
    name: "flatten(startDim, endDim)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 3, 4]], params: { start: 1, end: -1 } },
    gen: shapeArb(1, 3).chain((s) =>
      fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), fc.integer({ min: 0, max: s.length - 1 }), fc.boolean()).map(([i, j, neg]) => {
        const [a, b] = i <= j ? [i, j] : [j, i];
        return { shapes: [s], params: { start: a, end: neg ? b - s.length : b } };
      }),
    ),
    fn: ([x], p) => flatten(x!, p.start, p.end),
    ref: ([x], p) => {
      const s = x!.shape;
      const a = normAxis(p.start, s.length);
      const b = normAxis(p.end, s.length);
      return { shape: [...s.slice(0, a), numel(s.slice(a, b + 1)), ...s.slice(b + 1)], data: x!.data };
    },
    randomizes: "shapes and axis ranges",
  }),
  def<undefined>({
    name: "flatten (0-d becomes [1])",
    inputs: [f64(ANY)],
    fixed: { shapes: [[]], params: undefined },
    gen: noParams(shapeArb().map((s) => [s]), undefined),
    fn: ([x]) => x!.flatten(),
    ref: ([x]) => ({ shape: [numel(x!.shape)], data: x!.data }),
    randomizes: "shapes",
  }),
  def<undefined>({
    name: "squeeze (all size-1 axes)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 1, 3, 1]], params: undefined },
    gen: noParams(shapeArb(0, 4).map((s) => [s]), undefined),
    fn: ([x]) => squeeze(x!),
    ref: ([x]) => ({ shape: x!.shape.filter((d) => d !== 1), data: x!.data }),
    randomizes: "shapes",
  }),
  def<{ axis: number }>({
    name: "squeeze(axis) (negative axis)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 1, 3, 1]], params: { axis: -1 } },
    gen: shapeWithAxis().map(([s, axis]) => ({ shapes: [s.map((d, i) => (i === normAxis(axis, s.length) ? 1 : d))], params: { axis } })),
    fn: ([x], p) => x!.squeeze(p.axis),
    ref: ([x], p) => ({ shape: x!.shape.filter((_, i) => i !== normAxis(p.axis, x!.shape.length)), data: x!.data }),
    randomizes: "shapes and axes",
  }),
  def<{ axis: number }>({
    name: "unsqueeze(axis) (negative axis appends)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 3]], params: { axis: -1 } },
    gen: shapeArb().chain((s) => fc.integer({ min: -s.length - 1, max: s.length }).map((axis) => ({ shapes: [s], params: { axis } }))),
    fn: ([x], p) => unsqueeze(x!, p.axis),
    ref: ([x], p) => {
      const a = normAxis(p.axis, x!.shape.length + 1);
      return { shape: [...x!.shape.slice(0, a), 1, ...x!.shape.slice(a)], data: x!.data };
    },
    randomizes: "shapes and axes",
  }),
  def<{ target: number[] }>({
    name: "expand (new leading axes, size-1 axes stretched, -1 keeps)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[3, 1]], params: { target: [2, -1, 4] } },
    gen: shapeArb(0, 3).chain((out) =>
      fc.tuple(broadcastSource(out), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length })).map(([src, keep]) => ({
        shapes: [src],
        // -1 is allowed on the source's own axes only
        params: { target: out.map((d, i) => (i >= out.length - src.length && keep[i] && src[i - out.length + src.length] === d ? -1 : d)) },
      })),
    ),
    fn: ([x], p) => expand(x!, p.target),
    ref: ([x], p) => {
      const lead = p.target.length - x!.shape.length;
      return broadcastToRef(x!, p.target.map((d, i) => (d === -1 ? x!.shape[i - lead]! : d)));
    },
    randomizes: "source and target shapes",
  }),
  def<{ target: number[] }>({
    name: "broadcastTo (method)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[4]], params: { target: [2, 3, 4] } },
    gen: shapeArb(0, 3).chain((out) => broadcastSource(out).map((src) => ({ shapes: [src], params: { target: out } }))),
    fn: ([x], p) => x!.broadcastTo(p.target),
    ref: ([x], p) => broadcastToRef(x!, p.target),
    randomizes: "source and target shapes",
  }),
);

interface SliceParams {
  axis: number;
  start?: number;
  end?: number;
  step?: number;
}
CASES.push(
  def<SliceParams>({
    name: "slice (negative and out-of-range bounds, step)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[3, 5, 2]], params: { axis: 1, start: -4, end: -1, step: 2 } },
    gen: shapeWithAxis().chain(([s, axis]) => {
      const n = s[normAxis(axis, s.length)]!;
      const bound = fc.option(fc.integer({ min: -n - 2, max: n + 2 }), { nil: undefined });
      return fc.tuple(bound, bound, fc.integer({ min: 1, max: 3 })).map(([start, end, step]) => ({ shapes: [s], params: { axis, start, end, step } }));
    }),
    fn: ([x], p) => (p.start === undefined ? slice(x!, p.axis, undefined, p.end, p.step) : x!.slice(p.axis, p.start, p.end, p.step)),
    ref: ([x], p) => takeRef(x!, p.axis, pySliceIndices(x!.shape[normAxis(p.axis, x!.shape.length)]!, p.start, p.end, p.step ?? 1)),
    randomizes: "shapes, axes, bounds and steps",
  }),
  def<{ axis: number; start: number; length: number }>({
    name: "narrow(axis, start, length)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[3, 4]], params: { axis: -1, start: 1, length: 2 } },
    gen: shapeWithAxis().chain(([s, axis]) => {
      const n = s[normAxis(axis, s.length)]!;
      return fc
        .integer({ min: 0, max: n })
        .chain((start) => fc.integer({ min: 0, max: n - start }).map((length) => ({ shapes: [s], params: { axis, start, length } })));
    }),
    fn: ([x], p) => narrow(x!, p.axis, p.start, p.length),
    ref: ([x], p) => takeRef(x!, p.axis, Array.from({ length: p.length }, (_, i) => p.start + i)),
    randomizes: "shapes, axes and ranges",
  }),
);

/** Shapes of 1–3 tensors that agree except on `axis`. */
const concatShapes = shapeWithAxis().chain(([s, axis]) =>
  fc.array(dimArb, { minLength: 1, maxLength: 3 }).map((sizes) => ({
    shapes: sizes.map((d) => s.map((v, i) => (i === normAxis(axis, s.length) ? d : v))),
    params: { axis },
  })),
);
function concatRef(xs: readonly Nd[], axis: number): Nd {
  const a = normAxis(axis, xs[0]!.shape.length);
  const offsets: number[] = [];
  let total = 0;
  for (const x of xs) {
    offsets.push(total);
    total += x.shape[a]!;
  }
  const shape = xs[0]!.shape.map((d, i) => (i === a ? total : d));
  const data: number[] = [];
  for (let o = 0; o < numel(shape); o++) {
    const idx = unravel(o, shape);
    let k = xs.length - 1;
    while (offsets[k]! > idx[a]!) k--;
    idx[a] = idx[a]! - offsets[k]!;
    data.push(xs[k]!.data[ravel(idx, xs[k]!.shape)]!);
  }
  return { shape, data };
}

// concat/stack take a variable number of inputs: inputs lists the maximum (3); fn uses as many as shapes.
CASES.push(
  def<{ axis: number }>({
    name: "concat (1-3 tensors, negative axis)",
    inputs: [f64(ANY), f64(ANY), f64(ANY)],
    fixed: { shapes: [[2, 1, 3], [2, 2, 3], [2, 4, 3]], params: { axis: -2 } },
    gen: concatShapes,
    fn: (xs, p) => concat(xs, p.axis),
    ref: (xs, p) => concatRef(xs, p.axis),
    randomizes: "shapes, axes and tensor counts",
  }),
  def<{ axis: number }>({
    name: "stack (1-3 tensors, new axis anywhere)",
    inputs: [f64(ANY), f64(ANY), f64(ANY)],
    fixed: { shapes: [[2, 3], [2, 3], [2, 3]], params: { axis: 1 } },
    gen: shapeArb().chain((s) =>
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: -s.length - 1, max: s.length })).map(([count, axis]) => ({ shapes: Array.from({ length: count }, () => s), params: { axis } })),
    ),
    fn: (xs, p) => stack(xs, p.axis),
    ref: (xs, p) => {
      const a = normAxis(p.axis, xs[0]!.shape.length + 1);
      return concatRef(xs.map((x) => ({ shape: [...x.shape.slice(0, a), 1, ...x.shape.slice(a)], data: x.data })), a);
    },
    randomizes: "shapes, axes and tensor counts",
  }),
);

/** Chunk sizes of split(n, size): full chunks, the last one smaller. */
function chunkSizes(n: number, size: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < n; s += size) out.push(Math.min(size, n - s));
  return out;
}
CASES.push(
  def<{ axis: number; size: number; part: number }>({
    name: "split(chunk size) → one part (the last may be smaller)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[5, 2]], params: { axis: 0, size: 2, part: 2 } },
    gen: shapeWithAxis().chain(([s, axis]) =>
      fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat()).map(([size, k]) => {
        const parts = chunkSizes(s[normAxis(axis, s.length)]!, size).length;
        return { shapes: [s], params: { axis, size, part: k % parts } };
      }),
    ),
    fn: ([x], p) => x!.split(p.size, p.axis)[p.part]!,
    ref: ([x], p) => {
      const a = normAxis(p.axis, x!.shape.length);
      const sizes = chunkSizes(x!.shape[a]!, p.size);
      const start = sumOf(sizes.slice(0, p.part));
      return takeRef(x!, a, Array.from({ length: sizes[p.part]! }, (_, i) => start + i));
    },
    randomizes: "shapes, axes, chunk sizes and parts",
  }),
  def<{ axis: number; sections: number[] }>({
    name: "split(sections) → every part scaled by (k+1) and rejoined",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 6]], params: { axis: -1, sections: [1, 0, 3, 2] } },
    gen: shapeWithAxis().chain(([s, axis]) => {
      const n = s[normAxis(axis, s.length)]!;
      // random cut points (sorted, may repeat: empty sections are allowed)
      return fc.array(fc.integer({ min: 0, max: n }), { maxLength: 3 }).map((cuts) => {
        const c = [0, ...cuts.sort((p, q) => p - q), n];
        return { shapes: [s], params: { axis, sections: c.slice(1).map((v, i) => v - c[i]!) } };
      });
    }),
    fn: ([x], p) => concat(split(x!, p.sections, p.axis).map((part, k) => part.mul(k + 1)), p.axis),
    ref: ([x], p) => {
      const a = normAxis(p.axis, x!.shape.length);
      const factor: number[] = p.sections.flatMap((len, k) => new Array<number>(len).fill(k + 1));
      const data = x!.data.map((v, i) => v * factor[unravel(i, x!.shape)[a]!]!);
      return { shape: x!.shape, data };
    },
    randomizes: "shapes, axes and sections",
  }),
);

/** Random int32 indices in [0, size of `axis` of input 0). */
const indexDomain = (axisOf: (p: { axis: number }) => number): Domain<{ axis: number }> => (rng, n, s) => {
  const size = s.shapes[0]![normAxis(axisOf(s.params), s.shapes[0]!.length)]!;
  return Array.from({ length: n }, () => Math.floor(rng() * size));
};
CASES.push(
  def<{ axis: number }>({
    name: "gather(axis, index) (repeated indices accumulate)",
    inputs: [f64(ANY), { domain: indexDomain((p) => p.axis), dtype: "int32" }],
    fixed: { shapes: [[3, 4], [3, 6]], params: { axis: 1 } },
    gen: shapeWithAxis().chain(([s, axis]) =>
      dimArb.map((d) => ({ shapes: [s, s.map((v, i) => (i === normAxis(axis, s.length) ? d : v))], params: { axis } })),
    ),
    fn: ([x, index], p) => gather(x!, p.axis, index!),
    ref: ([x, index], p) => {
      const a = normAxis(p.axis, x!.shape.length);
      const data = index!.data.map((k, i) => {
        const idx = unravel(i, index!.shape);
        idx[a] = k;
        return x!.data[ravel(idx, x!.shape)]!;
      });
      return { shape: index!.shape, data };
    },
    randomizes: "shapes, axes and indices",
  }),
  def<{ axis: number; index: number[] }>({
    name: "indexSelect(axis, number[]) (repeated indices accumulate)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[4, 3]], params: { axis: 0, index: [2, 0, 2, 2, 3] } },
    gen: shapeWithAxis().chain(([s, axis]) => {
      const n = s[normAxis(axis, s.length)]!;
      return fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: 5 }).map((index) => ({ shapes: [s], params: { axis, index } }));
    }),
    fn: ([x], p) => x!.indexSelect(p.axis, p.index),
    ref: ([x], p) => takeRef(x!, p.axis, p.index),
    randomizes: "shapes, axes and index lists",
  }),
  def<{ axis: number }>({
    name: "indexSelect(axis, int32 tensor)",
    inputs: [f64(ANY), { domain: indexDomain((p) => p.axis), dtype: "int32" }],
    fixed: { shapes: [[2, 3], [4]], params: { axis: -1 } },
    gen: shapeWithAxis().chain(([s, axis]) => fc.integer({ min: 1, max: 5 }).map((len) => ({ shapes: [s, [len]], params: { axis } }))),
    fn: ([x, index], p) => indexSelect(x!, p.axis, index!),
    ref: ([x, index], p) => takeRef(x!, p.axis, index!.data),
    randomizes: "shapes, axes and indices",
  }),
);

CASES.push(
  def<{ padding: [number, number][]; value: number }>({
    name: "pad (leading axes, constant value)",
    inputs: [f64(ANY)],
    fixed: { shapes: [[2, 3]], params: { padding: [[1, 0], [2, 1]], value: 1.5 } },
    gen: shapeArb(0, 3).chain((s) =>
      fc
        .tuple(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), { maxLength: s.length }), fc.constantFrom(0, -0.75))
        .map(([padding, value]) => ({ shapes: [s], params: { padding, value } })),
    ),
    fn: ([x], p) => pad(x!, p.padding, p.value),
    ref: ([x], p) => {
      const pairs = x!.shape.map((_, i) => p.padding[i] ?? [0, 0]);
      const shape = x!.shape.map((d, i) => d + pairs[i]![0] + pairs[i]![1]);
      const data = new Array<number>(numel(shape)).fill(p.value);
      for (let i = 0; i < numel(x!.shape); i++) data[ravel(unravel(i, x!.shape).map((v, j) => v + pairs[j]![0]), shape)] = x!.data[i]!;
      return { shape, data };
    },
    randomizes: "shapes, paddings and values",
  }),
);

// ------------------------------------------------------------------ softmax family

for (const [name, fn, ref] of [
  ["softmax", softmax, (v: number[]) => v.map((x) => Math.exp(x) / sumOf(v.map(Math.exp)))],
  ["logSoftmax", logSoftmax, (v: number[]) => v.map((x) => x - Math.log(sumOf(v.map(Math.exp))))],
] as const) {
  CASES.push(
    def<{ axis?: number }>({
      name: `${name} (default axis -1)`,
      inputs: [f64(uniform(-3, 3))],
      fixed: { shapes: [[2, 5]], params: {} },
      gen: noParams(shapeArb(1, 3).map((s) => [s]), {}),
      fn: ([x]) => fn(x!),
      ref: ([x]) => alongAxisRef(x!, -1, ref),
      randomizes: "shapes",
    }),
    def<{ axis?: number }>({
      name: `${name} (explicit axis, method)`,
      inputs: [f64(uniform(-3, 3))],
      fixed: { shapes: [[3, 2, 4]], params: { axis: 1 } },
      gen: shapeWithAxis().map(([s, axis]) => ({ shapes: [s], params: { axis } })),
      fn: ([x], p) => (name === "softmax" ? x!.softmax(p.axis) : x!.logSoftmax(p.axis)),
      ref: ([x], p) => alongAxisRef(x!, p.axis!, ref),
      randomizes: "shapes and axes",
    }),
  );
}

// ------------------------------------------------------------------ casts

unaryCase("to('float32') from float64 (backward casts back to float64)", (x) => x.to("float32"), Math.fround, ANY, {
  outDType: "float32",
  gc: { eps: 1e-2 },
});
unaryCase("to('float32').to('float64') round trip", (x) => x.to("float32").to("float64").mul(3), (v) => 3 * Math.fround(v), ANY, { gc: { eps: 1e-2 } });

// ================================================================== running the table

interface Built {
  nds: Nd[];
  /** Fresh input tensors (new leaves) for each call. */
  make: () => Tensor[];
}

function build(c: AnyCase, s: Shaped<unknown>, seed: number): Built {
  const rng = rngFrom(seed);
  const nds: Nd[] = [];
  const specs: InputSpec<unknown>[] = [];
  s.shapes.forEach((shape, i) => {
    const spec = c.inputs[i] as InputSpec<unknown> | undefined;
    if (!spec) throw new Error(`${c.name}: ${s.shapes.length} shapes but only ${c.inputs.length} input specs`);
    specs.push(spec);
    nds.push({ shape, data: spec.domain(rng, numel(shape), s) });
  });
  const make = (): Tensor[] =>
    nds.map((x, i) => {
      const spec = specs[i]!;
      if (spec.dtype === "int32") return tensor(Int32Array.from(x.data), { shape: x.shape, dtype: "int32" });
      return tensor(Float64Array.from(x.data), { shape: x.shape, dtype: "float64", requiresGrad: spec.grad ?? true });
    });
  return { nds, make };
}

const describeSample = (s: Shaped<unknown>): string => `shapes ${JSON.stringify(s.shapes)}${s.params === undefined ? "" : `, params ${JSON.stringify(s.params)}`}`;

function checkForward(c: AnyCase, s: Shaped<unknown>, seed: number): void {
  const { nds, make } = build(c, s, seed);
  const out = c.fn(make(), s.params);
  const expected = c.ref(nds, s.params);
  const where = `${c.name} with ${describeSample(s)}`;
  expect(out.dtype, `${where}: dtype`).toBe(c.outDType ?? "float64");
  expect([...out.shape], `${where}: shape`).toEqual([...expected.shape]);
  const exact = c.differentiable === false;
  for (let i = 0; i < expected.data.length; i++) {
    const a = out.data[i]!;
    const e = expected.data[i]!;
    const ok = exact ? a === e : Math.abs(a - e) <= 1e-12 * Math.max(1, Math.abs(e));
    if (!ok) throw new Error(`${where}: forward differs from the float64 reference at flat index ${i}: got ${a}, expected ${e}`);
  }
  if (exact) expect(out.requiresGrad, `${where}: a ${out.dtype} output carries no gradient`).toBe(false);
}

function gradInputs(xs: Tensor[]): Tensor[] {
  return xs.filter((x) => x.requiresGrad);
}

function checkGradcheck(c: AnyCase, s: Shaped<unknown>, seed: number): void {
  const { make } = build(c, s, seed);
  const report = gradcheck((...ts) => c.fn(ts, s.params), make(), c.gc);
  if (!report.ok) throw new Error(`${c.name} with ${describeSample(s)}:\n${report.message}`);
}

function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.size !== b.size) return false;
  for (let i = 0; i < a.size; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

/** PyTorch-gradcheck-style cheap guards. */
function checkGuards(c: AnyCase, s: Shaped<unknown>, seed: number): void {
  const { make } = build(c, s, seed);
  const where = `${c.name} with ${describeSample(s)}`;

  // zero upstream → zero gradients, each of its input's shape and dtype
  {
    const xs = make();
    const inputs = gradInputs(xs);
    const y = c.fn(xs, s.params);
    const grads = gradients(y, inputs, { gradOutput: zerosLike(y) });
    grads.forEach((g, i) => {
      expect([...g.shape], `${where}: zero-upstream grad shape of input ${i}`).toEqual([...inputs[i]!.shape]);
      expect(g.dtype, `${where}: grad dtype of input ${i}`).toBe(inputs[i]!.dtype);
      for (let j = 0; j < g.size; j++) if (g.data[j] !== 0) throw new Error(`${where}: zero upstream gave gradient ${g.data[j]} at flat index ${j} of input ${i}`);
    });
  }

  // backward through a fresh graph, twice: same shapes, identical bits
  const upstream = (y: Tensor): Tensor => randn(y.shape, { dtype: y.dtype as "float32" | "float64", generator: new Generator(seed) });
  const once = (): Tensor[] => {
    const xs = make();
    const inputs = gradInputs(xs);
    const y = c.fn(xs, s.params);
    y.backward(upstream(y));
    return inputs.map((x, i) => {
      if (!x.grad) throw new Error(`${where}: input ${i} got no .grad`);
      expect([...x.grad.shape], `${where}: grad shape of input ${i}`).toEqual([...x.shape]);
      expect(x.grad.dtype, `${where}: grad dtype of input ${i}`).toBe(x.dtype);
      return x.grad;
    });
  };
  const g1 = once();
  const g2 = once();
  g1.forEach((g, i) => expect(sameBits(g, g2[i]!), `${where}: backward is not deterministic for input ${i}`).toBe(true));

  // the same graph twice (retainGraph): identical bits again
  const xs = make();
  const inputs = gradInputs(xs);
  const y = c.fn(xs, s.params);
  const v = upstream(y);
  y.backward(v, { retainGraph: true });
  const first = inputs.map((x) => x.grad!);
  inputs.forEach((x) => x.zeroGrad());
  y.backward(v);
  inputs.forEach((x, i) => expect(sameBits(x.grad!, first[i]!), `${where}: a retained graph gave different gradients for input ${i}`).toBe(true));
}

describe("table of ops", () => {
  it("every case name is unique", () => {
    const names = CASES.map((c) => c.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  for (const c of CASES) {
    describe(c.name, () => {
      const seed = hashName(c.name);
      it(`forward matches the float64 reference (${describeSample(c.fixed)})`, () => checkForward(c, c.fixed, seed));
      if (c.differentiable !== false) {
        it("float64 gradcheck passes", () => checkGradcheck(c, c.fixed, seed));
        it("zero upstream → zero grads; grad shape = input shape; deterministic backward", () => checkGuards(c, c.fixed, seed));
      }
      it(`property: random ${c.randomizes ?? "shapes"}`, () => {
        fc.assert(
          fc.property(c.gen, fc.integer({ min: 0, max: 0x7fffffff }), (s, dataSeed) => {
            checkForward(c, s, dataSeed);
            if (c.differentiable !== false) {
              checkGradcheck(c, s, dataSeed);
              checkGuards(c, s, dataSeed);
            }
          }),
          { seed: FC_SEED, numRuns: NUM_RUNS },
        );
      });
    });
  }
});

// ================================================================== kinks: conventions asserted exactly

function f64Leaf(data: number | number[] | number[][]): Tensor {
  return tensor(data, { dtype: "float64", requiresGrad: true });
}
/** Gradient of sum(f(x) * upstream) w.r.t. x, where upstream defaults to ones. */
function gradOf(f: (x: Tensor) => Tensor, x: Tensor): number[] {
  const y = f(x);
  y.backward(tensor(new Float64Array(y.size).fill(1), { shape: y.shape, dtype: y.dtype }));
  return Array.from(x.grad!.data);
}

describe("kinks (conventions shared with PyTorch, asserted exactly)", () => {
  it("relu(−∞) = 0, relu(NaN) = NaN, relu(−0) = +0, in float32 and float64 (as torch.relu)", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const out = Array.from(relu(tensor([-Infinity, NaN, -0, Infinity, -3], { dtype })).data);
      expect(out.map((v) => (Object.is(v, -0) ? "-0" : v))).toEqual([0, NaN, 0, Infinity, 0]);
    }
  });
  it("relu'(0) = 0 (and 1 for x > 0, 0 for x < 0)", () => {
    expect(gradOf(relu, f64Leaf([-1, 0, 2]))).toEqual([0, 0, 1]);
  });
  it("leakyRelu'(0) = slope (default 0.01; 0.2 when given)", () => {
    expect(gradOf((x) => leakyRelu(x), f64Leaf([-1, 0, 2]))).toEqual([0.01, 0.01, 1]);
    expect(gradOf((x) => leakyRelu(x, 0.2), f64Leaf([-1, 0, 2]))).toEqual([0.2, 0.2, 1]);
  });
  it("abs'(0) = 0 (and ±1 elsewhere)", () => {
    expect(gradOf(abs, f64Leaf([-3, 0, 2]))).toEqual([-1, 0, 1]);
  });
  it("sign has zero gradient everywhere, 0 included", () => {
    expect(gradOf(sign, f64Leaf([-3, 0, 2]))).toEqual([0, 0, 0]);
  });
  it("maximum/minimum tie: each input gets half", () => {
    for (const op of [maximum, minimum]) {
      const a = f64Leaf([1, 2, 5]);
      const b = f64Leaf([1, 3, 4]);
      op(a, b).backward(tensor([10, 10, 10], { dtype: "float64" }));
      const aWins = op === maximum ? [5, 0, 10] : [5, 10, 0];
      expect(Array.from(a.grad!.data)).toEqual(aWins);
      expect(Array.from(b.grad!.data)).toEqual(aWins.map((g) => (g === 5 ? 5 : 10 - g)));
    }
  });
  it("maximum tie under broadcasting: the broadcast input sums its halves", () => {
    const a = f64Leaf([2, 2, 1, 3]);
    const b = f64Leaf(2);
    maximum(a, b).sum().backward();
    expect(Array.from(a.grad!.data)).toEqual([0.5, 0.5, 0, 1]);
    expect(b.grad!.item()).toBe(0.5 + 0.5 + 1);
  });
  it("max/min reduction with ties: the gradient is split evenly among tied elements", () => {
    expect(gradOf((x) => max(x), f64Leaf([1, 3, 3, 2]))).toEqual([0, 0.5, 0.5, 0]);
    expect(gradOf((x) => min(x), f64Leaf([1, 3, 1, 1]))).toEqual([1 / 3, 0, 1 / 3, 1 / 3]);
    expect(gradOf((x) => max(x, { axis: 1 }), f64Leaf([[1, 1], [2, 0]]))).toEqual([0.5, 0.5, 1, 0]);
    expect(gradOf((x) => min(x, { axis: 0, keepDim: true }), f64Leaf([[1, 4], [1, 4], [2, 4]]))).toEqual([0.5, 1 / 3, 0.5, 1 / 3, 0, 1 / 3]);
    expect(gradOf((x) => max(x), f64Leaf([7, 7, 7, 7]))).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(gradOf((x) => max(x, { axis: [0, 1] }), f64Leaf([[5, 1], [0, 5]]))).toEqual([0.5, 0, 0, 0.5]);
  });
  it("clamp at exactly the bound: gradient 1 (passes); outside: 0", () => {
    expect(gradOf((x) => clamp(x, -1, 1), f64Leaf([-2, -1, 0.5, 1, 2]))).toEqual([0, 1, 1, 1, 0]);
    expect(gradOf((x) => clamp(x, 0), f64Leaf([-1, 0, 1]))).toEqual([0, 1, 1]);
    expect(gradOf((x) => clamp(x, null, 0), f64Leaf([-1, 0, 1]))).toEqual([1, 1, 0]);
  });
  it("where routes the gradient only to the chosen branch (exactly, no mixing)", () => {
    const c = tensor([1, -1, 2, -2], { dtype: "float64" });
    const a = f64Leaf([10, 20, 30, 40]);
    const b = f64Leaf([1, 2, 3, 4]);
    where(c.gt(0), a, b).backward(tensor([0.1, 0.2, 0.3, 0.4], { dtype: "float64" }));
    expect(Array.from(a.grad!.data)).toEqual([0.1, 0, 0.3, 0]);
    expect(Array.from(b.grad!.data)).toEqual([0, 0.2, 0, 0.4]);
  });
  it("where with a broadcast branch sums the routed gradient", () => {
    const c = tensor([[true, false], [true, true]]);
    const a = f64Leaf(3);
    const b = f64Leaf([[1, 2], [3, 4]]);
    where(c, a, b).sum().backward();
    expect(a.grad!.item()).toBe(3);
    expect(Array.from(b.grad!.data)).toEqual([0, 1, 0, 0]);
  });
  it("indexSelect/gather with repeated indices accumulate gradients", () => {
    expect(gradOf((x) => indexSelect(x, 0, [0, 0, 2, 0]), f64Leaf([1, 2, 3]))).toEqual([3, 0, 1]);
    const index = tensor([[1, 1, 1], [0, 2, 0]], { dtype: "int32" });
    expect(gradOf((x) => gather(x, 1, index), f64Leaf([[1, 2, 3], [4, 5, 6]]))).toEqual([0, 3, 0, 2, 0, 1]);
  });
  it("pow(0, b): the exponent's gradient is 0 where the base is 0 (no NaN)", () => {
    const a = f64Leaf([0, 2]);
    const b = f64Leaf([2, 3]);
    pow(a, b).sum().backward();
    expect(Array.from(a.grad!.data)).toEqual([0, 12]);
    expect(b.grad!.data[0]).toBe(0);
    expect(b.grad!.data[1]).toBeCloseTo(8 * Math.log(2), 14);
  });
});

// ================================================================== numerically hard inputs

describe("softmax family with large logits", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`softmax/logSoftmax/logsumexp of logits ~ ±1000 stay finite and exact (${dtype})`, () => {
      const big = tensor([1000, 1001, 1002], { dtype, requiresGrad: true });
      const small = tensor([-1000, -1001, -1002], { dtype });
      const z = Math.log(1 + Math.exp(-1) + Math.exp(-2));
      const expectedSoftmax = [Math.exp(-2) / (1 + Math.exp(-1) + Math.exp(-2)), Math.exp(-1) / (1 + Math.exp(-1) + Math.exp(-2)), 1 / (1 + Math.exp(-1) + Math.exp(-2))];
      const tol = dtype === "float64" ? 1e-12 : 1e-6;
      const s = softmax(big);
      Array.from(s.data).forEach((v, i) => expect(Math.abs(v - expectedSoftmax[i]!)).toBeLessThan(tol));
      const ls = logSoftmax(big);
      Array.from(ls.data).forEach((v, i) => expect(Math.abs(v - (i - 2 - z))).toBeLessThan(dtype === "float64" ? 1e-12 : 1e-4));
      const lse = logsumexp(big);
      expect(Math.abs(lse.item() - (1002 + z)) / 1002).toBeLessThan(tol);
      const lseSmall = logsumexp(small);
      expect(Math.abs(lseSmall.item() - (-1000 + z)) / 1000).toBeLessThan(tol);
      expect(Array.from(softmax(small).data).every(Number.isFinite)).toBe(true);
      // gradients are finite too: d logsumexp / dx = softmax(x)
      logsumexp(big).backward();
      Array.from(big.grad!.data).forEach((g, i) => expect(Math.abs(g - expectedSoftmax[i]!)).toBeLessThan(tol));
      big.zeroGrad();
      logSoftmax(big).sum().backward();
      expect(Array.from(big.grad!.data).every(Number.isFinite)).toBe(true);
    });
  }
  it("softmax with a -Infinity logit gives it probability 0", () => {
    const s = softmax(tensor([0, -Infinity, 0], { dtype: "float64" }));
    expect(Array.from(s.data)).toEqual([0.5, 0, 0.5]);
  });
});

// ================================================================== dtypes

describe("dtypes", () => {
  it("float32 is the default (creation and arithmetic)", () => {
    expect(tensor([1, 2]).dtype).toBe("float32");
    expect(tensor(3).dtype).toBe("float32");
    expect(randn([2]).dtype).toBe("float32");
    expect(add(tensor([1]), tensor([2])).dtype).toBe("float32");
    expect(exp(tensor([1])).dtype).toBe("float32");
  });
  it("float32 with float64 promotes to float64 (either order, broadcast, matmul, where)", () => {
    const a = tensor([[1, 2]], { dtype: "float32" });
    const b = tensor([[0.1], [0.2]], { dtype: "float64" });
    for (const op of [add, sub, mul, div, maximum, minimum, pow]) {
      expect(op(a, b).dtype).toBe("float64");
      expect(op(b, a).dtype).toBe("float64");
    }
    expect(add(a, b).data[0]).toBe(1 + 0.1);
    expect(matmul(b, a).dtype).toBe("float64");
    expect(where(tensor([true, false]), a, b).dtype).toBe("float64");
  });
  it("a float32 leaf used in float64 arithmetic gets a float32 gradient", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    mul(x, tensor([0.5, 0.25], { dtype: "float64" })).sum().backward();
    expect(x.grad!.dtype).toBe("float32");
    expect(Array.from(x.grad!.data)).toEqual([0.5, 0.25]);
  });
  it("to(): float32 → float64 backward gives a float32 gradient; float64 → float32 gives float64", () => {
    const x = tensor([1.5, -2], { requiresGrad: true });
    x.to("float64").mul(3).sum().backward();
    expect(x.grad!.dtype).toBe("float32");
    expect(Array.from(x.grad!.data)).toEqual([3, 3]);
    const y = tensor([1.5, -2], { dtype: "float64", requiresGrad: true });
    const y32 = y.to("float32");
    expect(y32.dtype).toBe("float32");
    y32.mul(3).sum().backward();
    expect(y.grad!.dtype).toBe("float64");
    expect(Array.from(y.grad!.data)).toEqual([3, 3]);
  });
  it("int32 tensor + 1.5 gives float32; + 2 stays int32; a float64 tensor + 1.5 stays float64", () => {
    const i = tensor([1, 2], { dtype: "int32" });
    const r = add(i, 1.5);
    expect(r.dtype).toBe("float32");
    expect(Array.from(r.data)).toEqual([2.5, 3.5]);
    expect(add(i, 2).dtype).toBe("int32");
    expect(add(1.5, i).dtype).toBe("float32");
    expect(add(tensor([1], { dtype: "float64" }), 1.5).dtype).toBe("float64");
    expect(add(i, tensor([0.5])).dtype).toBe("float32");
  });
  it("comparisons give dtype bool (float, int and mixed inputs) and no gradient", () => {
    const x = tensor([1, 2, 3], { dtype: "float64", requiresGrad: true });
    const i = tensor([2, 2, 2], { dtype: "int32" });
    for (const op of [eq, ne, gt, ge, lt, le]) {
      expect(op(x, 2).dtype).toBe("bool");
      expect(op(i, i).dtype).toBe("bool");
      expect(op(x, i).dtype).toBe("bool");
      expect(op(x, 2).requiresGrad).toBe(false);
    }
    expect(gt(x, i).toArray()).toEqual([false, false, true]);
  });
  it("div of int32 gives float32 (true division)", () => {
    const r = div(tensor([7, -7, 1], { dtype: "int32" }), tensor([2, 2, 3], { dtype: "int32" }));
    expect(r.dtype).toBe("float32");
    expect(Array.from(r.data)).toEqual([3.5, -3.5, Math.fround(1 / 3)]);
    expect(div(tensor([7], { dtype: "int32" }), 2).dtype).toBe("float32");
  });
  it("sum of int32/bool gives int32; mean and unary float ops of int32 give float32", () => {
    const i = tensor([1, 2], { dtype: "int32" });
    expect(sum(i).dtype).toBe("int32");
    expect(sum(tensor([true, false, true])).item()).toBe(2);
    expect(mean(i).dtype).toBe("float32");
    expect(mean(i).item()).toBe(1.5);
    expect(exp(i).dtype).toBe("float32");
    expect(sqrt(i).dtype).toBe("float32");
  });
  it("argmax/argmin give int32", () => {
    expect(argmax(tensor([1, 3, 2])).dtype).toBe("int32");
    expect(argmin(tensor([[1, 3, 2]]), { axis: 1 }).dtype).toBe("int32");
  });
});
