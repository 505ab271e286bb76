/**
 * Tests of src/nn/functional.ts: losses, regularisers, normalisation and dropout.
 *
 * 1. Properties (fast-check, seeded): for random N, C, options and data, every function's
 *    forward matches an independent plain-JavaScript float64 reference written here from the
 *    formulas (own log-softmax, own loops), and a float64 gradcheck passes.
 * 2. PyTorch 1.13 reference values for the option combinations the shared golden file does not
 *    cover (test/fixtures/losses-torch.json, made by test/fixtures/gen_losses_torch.py).
 * 3. The shared golden batch_norm case's running statistics (`extra`).
 * 4. Numerics: cross-entropy on logits in the thousands (float32 and float64), its double
 *    backward against a composed logSoftmax + gather reference, BCE-with-logits at |x| = 50,
 *    100, 1000 against high-precision BigInt references.
 * 5. Conventions (hinge kink, svm = C·multiMargin, λ = wd/2) and every error path.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DTypeError, Generator, IndexError, ShapeError, Tensor, ValueError, enableGrad, gradcheck, gradients, ones, tensor, zeros } from "../src/index.js";
import {
  batchNorm,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  dropout,
  huberLoss,
  l1Loss,
  l1Regularization,
  l2Regularization,
  layerNorm,
  mseLoss,
  multiMarginLoss,
  nllLoss,
  smoothL1Loss,
  svmLoss,
  type Reduction,
} from "../src/nn/functional/index.js";

const FC_SEED = 20240603;
const NUM_RUNS = 12;

// ================================================================== helpers

/** mulberry32: a seeded generator for input data, independent of chainrule's. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function normals(r: () => number, n: number, scale = 1): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
  return out;
}
function uniforms(r: () => number, n: number, lo = 0, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}
const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function f64(data: readonly number[], shape: readonly number[], requiresGrad = false): Tensor {
  return tensor(Float64Array.from(data), { shape, dtype: "float64", requiresGrad });
}
function i32(data: readonly number[], shape: readonly number[] = [data.length]): Tensor {
  return tensor(Int32Array.from(data), { shape, dtype: "int32" });
}

/** |a − e| ≤ tol·max(1, |e|) for every element (NaN only where expected NaN). */
function expectClose(actual: Tensor, expected: readonly number[] | number, tol = 1e-12, what = "value"): void {
  const exp = typeof expected === "number" ? [expected] : expected;
  expect(actual.size, `${what}: size`).toBe(exp.length);
  for (let i = 0; i < exp.length; i++) {
    const a = actual.data[i]!;
    const e = exp[i]!;
    if (Number.isNaN(e)) {
      expect(a, `${what}[${i}]`).toBeNaN();
      continue;
    }
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) expect.fail(`${what}[${i}] = ${a}, expected ${e} (|diff| ${Math.abs(a - e)}, tol ${tol})`);
  }
}

function reduceRef(per: readonly number[], reduction: Reduction, denom = per.length): number[] | number {
  if (reduction === "none") return [...per];
  const s = per.reduce((a, b) => a + b, 0);
  return reduction === "sum" ? s : s / denom;
}

function expectGradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], what: string): void {
  const report = gradcheck(f, inputs, { atol: 1e-6, rtol: 1e-4 });
  expect(report.ok, `${what}: ${report.message}`).toBe(true);
}

const reductionArb = fc.constantFrom<Reduction>("mean", "sum", "none");
const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

// ================================================================== plain-JS references

interface CERefOptions {
  reduction: Reduction;
  eps: number;
  w: number[] | null;
  ignore: number;
}
/** PyTorch's cross_entropy: (1 − ε)·w_y·(−log p_y) + ε/C·Σ_c w_c·(−log p_c); mean divides by Σ w_y of counted rows. */
function refCrossEntropy(x: readonly number[], m: number, c: number, y: readonly number[], o: CERefOptions): number[] | number {
  const per: number[] = [];
  let denom = 0;
  for (let n = 0; n < m; n++) {
    if (y[n] === o.ignore) {
      per.push(0);
      continue;
    }
    const row = x.slice(n * c, n * c + c);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
    const wc = (j: number): number => (o.w ? o.w[j]! : 1);
    const nll = wc(y[n]!) * (lse - row[y[n]!]!);
    let smooth = 0;
    for (let j = 0; j < c; j++) smooth += wc(j) * (lse - row[j]!);
    per.push((1 - o.eps) * nll + (o.eps / c) * smooth);
    denom += wc(y[n]!);
  }
  return reduceRef(per, o.reduction, denom);
}

function refNll(x: readonly number[], m: number, c: number, y: readonly number[], reduction: Reduction, w: number[] | null, ignore: number): number[] | number {
  const per: number[] = [];
  let denom = 0;
  for (let n = 0; n < m; n++) {
    if (y[n] === ignore) {
      per.push(0);
      continue;
    }
    const wy = w ? w[y[n]!]! : 1;
    per.push(-wy * x[n * c + y[n]!]!);
    denom += wy;
  }
  return reduceRef(per, reduction, denom);
}

/** Σ_{j≠y} w_y·max(0, s_j − s_y + Δ)^p / divisor, per sample. */
function refHinge(s: readonly number[], n: number, c: number, y: readonly number[], margin: number, p: number, w: number[] | null, divisor: number): number[] {
  const per: number[] = [];
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (let j = 0; j < c; j++) {
      if (j === y[i]) continue;
      const z = s[i * c + j]! - s[i * c + y[i]!]! + margin;
      if (z > 0) total += (w ? w[y[i]!]! : 1) * z ** p;
    }
    per.push(total / divisor);
  }
  return per;
}

/** −log σ(z) = log(1 + e^−z), without cancellation. */
function softplusNeg(z: number): number {
  return z >= 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z));
}

// ================================================================== 1. properties: forward vs reference + gradcheck

describe("crossEntropy", () => {
  it("property: forward = reference and gradcheck, over N, C, reductions, weights, label smoothing, ignoreIndex", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        seedArb,
        reductionArb,
        fc.constantFrom(0, 0.25, 1),
        fc.boolean(),
        fc.constantFrom(-100, 1, null),
        (m, c, seed, reduction, eps, weighted, ignore) => {
          const r = rng(seed);
          const x = normals(r, m * c, 3);
          const ignoreIndex = ignore ?? -100;
          // Some rows are ignored (also any row whose label equals ignoreIndex = 1); row 0 is
          // always counted, since a mean over no rows is NaN.
          const y = Array.from({ length: m }, (_, n) => (n > 0 && ignore !== null && r() < 0.3 ? ignoreIndex : Math.floor(r() * c)));
          if (y[0] === ignoreIndex) y[0] = 0;
          const w = weighted ? uniforms(r, c, 0.2, 2) : null;
          const options = { reduction, labelSmoothing: eps, ignoreIndex, weight: w ? f64(w, [c]) : null };
          const out = crossEntropy(f64(x, [m, c]), i32(y), options);
          expect(out.shape).toEqual(reduction === "none" ? [m] : []);
          expectClose(out, refCrossEntropy(x, m, c, y, { reduction, eps, w, ignore: ignoreIndex }), 1e-12, "crossEntropy");
          expectGradcheck((xt) => crossEntropy(xt, i32(y), options), [f64(x, [m, c], true)], "crossEntropy");
        },
      ),
      { seed: FC_SEED, numRuns: 25 },
    );
  });

  it("[N, C, d1, d2] input with [N, d1, d2] labels equals the [N·d1·d2, C] computation", () => {
    const r = rng(5);
    const x = normals(r, 2 * 3 * 2 * 2);
    const y = [0, 2, 1, -100, 2, 2, 0, 1];
    const xt = f64(x, [2, 3, 2, 2], true);
    const out = crossEntropy(xt, i32(y, [2, 2, 2]), { reduction: "none", labelSmoothing: 0.1 });
    expect(out.shape).toEqual([2, 2, 2]);
    // class axis last, by hand
    const rows: number[] = [];
    for (let n = 0; n < 2; n++) for (let p = 0; p < 4; p++) for (let k = 0; k < 3; k++) rows.push(x[n * 12 + k * 4 + p]!);
    expectClose(out, refCrossEntropy(rows, 8, 3, y, { reduction: "none", eps: 0.1, w: null, ignore: -100 }) as number[]);
    expectGradcheck((t) => crossEntropy(t, i32(y, [2, 2, 2]), { labelSmoothing: 0.1 }), [xt], "crossEntropy 4-D");
  });

  it("unbatched [C] logits with a 0-d label", () => {
    const out = crossEntropy(f64([1, 2, 3], [3]), i32([2], []));
    expectClose(out, refCrossEntropy([1, 2, 3], 1, 3, [2], { reduction: "mean", eps: 0, w: null, ignore: -100 }));
    expect(crossEntropy(f64([1, 2, 3], [3]), i32([2], []), { reduction: "none" }).shape).toEqual([]);
  });

  it("every sample ignored: mean is NaN (0/0, as PyTorch), sum is 0", () => {
    expect(crossEntropy(f64([1, 2], [1, 2]), i32([-100])).item()).toBeNaN();
    expect(crossEntropy(f64([1, 2], [1, 2]), i32([-100]), { reduction: "sum" }).item()).toBe(0);
  });

  it("the documented example", () => {
    const logits = tensor([[2, 1, 0.1], [0.5, 2.5, 0.3]], { requiresGrad: true });
    const loss = crossEntropy(logits, tensor([0, 1], { dtype: "int32" }));
    expect(loss.dtype).toBe("float32");
    expect(loss.item()).toBeCloseTo(0.3185, 4);
  });
});

describe("nllLoss", () => {
  it("property: forward = reference and gradcheck, with weights, reductions, ignoreIndex", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), seedArb, reductionArb, fc.boolean(), (m, c, seed, reduction, weighted) => {
        const r = rng(seed);
        const x = normals(r, m * c);
        const y = Array.from({ length: m }, (_, n) => (n > 0 && r() < 0.3 ? -100 : Math.floor(r() * c)));
        const w = weighted ? uniforms(r, c, 0.2, 2) : null;
        const options = { reduction, weight: w ? f64(w, [c]) : null };
        const out = nllLoss(f64(x, [m, c]), i32(y), options);
        expectClose(out, refNll(x, m, c, y, reduction, w, -100), 1e-12, "nllLoss");
        expectGradcheck((xt) => nllLoss(xt, i32(y), options), [f64(x, [m, c], true)], "nllLoss");
      }),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("nllLoss(logSoftmax(x)) = crossEntropy(x)", () => {
    const x = f64(normals(rng(3), 12), [4, 3]);
    const y = i32([0, 2, 1, 1]);
    const w = f64([0.5, 1, 2], [3]);
    expectClose(nllLoss(x.logSoftmax(1), y, { weight: w }), crossEntropy(x, y, { weight: w }).item(), 1e-14);
  });

  it("an ignored row holding −∞ gives 0, not NaN", () => {
    const logp = f64([-Infinity, 0, -0.5, -1], [2, 2]);
    expect(nllLoss(logp, i32([-100, 1]), { reduction: "sum" }).item()).toBe(1);
  });
});

describe("svmLoss and multiMarginLoss", () => {
  it("property: svmLoss forward = reference (no division by C) and gradcheck", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), seedArb, reductionArb, fc.constantFrom(1, 0.5, 2), (n, c, seed, reduction, margin) => {
        const r = rng(seed);
        const s = normals(r, n * c);
        const y = Array.from({ length: n }, () => Math.floor(r() * c));
        const out = svmLoss(f64(s, [n, c]), i32(y), { reduction, margin });
        expectClose(out, reduceRef(refHinge(s, n, c, y, margin, 1, null, 1), reduction), 1e-12, "svmLoss");
        expectGradcheck((t) => svmLoss(t, i32(y), { reduction, margin }), [f64(s, [n, c], true)], "svmLoss");
      }),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("property: multiMarginLoss forward = reference (divided by C), p = 1 and 2, weights, and gradcheck", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        seedArb,
        reductionArb,
        fc.constantFrom(1, 2),
        fc.boolean(),
        (n, c, seed, reduction, p, weighted) => {
          const r = rng(seed);
          const s = normals(r, n * c);
          const y = Array.from({ length: n }, () => Math.floor(r() * c));
          const w = weighted ? uniforms(r, c, 0.2, 2) : null;
          const options = { reduction, p, weight: w ? f64(w, [c]) : null };
          const out = multiMarginLoss(f64(s, [n, c]), i32(y), options);
          expectClose(out, reduceRef(refHinge(s, n, c, y, 1, p, w, c), reduction), 1e-12, "multiMarginLoss");
          expectGradcheck((t) => multiMarginLoss(t, i32(y), options), [f64(s, [n, c], true)], "multiMarginLoss");
        },
      ),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("svmLoss = C · multiMarginLoss (p = 1, no weights), values and gradients", () => {
    const c = 5;
    const s = normals(rng(11), 4 * c, 2);
    const y = i32([0, 4, 2, 2]);
    const a = f64(s, [4, c], true);
    const b = f64(s, [4, c], true);
    svmLoss(a, y, { margin: 0.7 }).backward();
    multiMarginLoss(b, y, { margin: 0.7 }).mul(c).backward();
    expectClose(svmLoss(a, y, { margin: 0.7 }), multiMarginLoss(a, y, { margin: 0.7 }).item() * c, 1e-14);
    expectClose(a.grad!, [...b.grad!.data], 1e-14);
  });

  it("the CS231n example: per-sample losses [2.9, 0, 12.9]", () => {
    const scores = tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]], { dtype: "float64" });
    expectClose(svmLoss(scores, i32([0, 1, 2]), { reduction: "none" }), [2.9, 0, 12.9], 1e-14);
    expectClose(multiMarginLoss(tensor([[0.1, 0.2, 0.4, 0.8]], { dtype: "float64" }), i32([3])), 0.325, 1e-14);
  });

  it("the hinge gradient at exactly the kink is 0 (and 1 just past it)", () => {
    // Row 0: s_1 − s_0 + 1 = 0 exactly (the kink); s_2 − s_0 + 1 = 0.5 > 0 (active).
    for (const loss of [svmLoss, multiMarginLoss]) {
      const s = f64([1, 0, 0.5], [1, 3], true);
      loss(s, i32([0]), { reduction: "sum" }).backward();
      const k = loss === svmLoss ? 1 : 1 / 3;
      expectClose(s.grad!, [-1 * k, 0, 1 * k], 1e-15, "kink gradient");
    }
    const s2 = f64([1, 0, 0.5], [1, 3], true);
    multiMarginLoss(s2, i32([0]), { p: 2, reduction: "sum" }).backward();
    expectClose(s2.grad!, [-1 / 3, 0, 1 / 3], 1e-15, "squared hinge at the kink");
  });
});

describe("binaryCrossEntropyWithLogits", () => {
  it("property: forward = reference and gradcheck in x and target, with posWeight and weight", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        seedArb,
        reductionArb,
        fc.boolean(),
        fc.boolean(),
        (n, c, seed, reduction, withPos, withWeight) => {
          const r = rng(seed);
          const x = normals(r, n * c, 4);
          const t = uniforms(r, n * c);
          const pw = withPos ? uniforms(r, c, 0.2, 3) : null;
          const w = withWeight ? uniforms(r, n, 0.2, 2) : null;
          const per = x.map((xi, i) => {
            const p = pw ? pw[i % c]! : 1;
            const wi = w ? w[Math.floor(i / c)]! : 1;
            return wi * (p * t[i]! * softplusNeg(xi) + (1 - t[i]!) * softplusNeg(-xi));
          });
          const options = { reduction, posWeight: pw ? f64(pw, [c]) : null, weight: w ? f64(w, [n, 1]) : null };
          expectClose(binaryCrossEntropyWithLogits(f64(x, [n, c]), f64(t, [n, c]), options), reduceRef(per, reduction), 1e-12, "bceWithLogits");
          expectGradcheck((xt, tt) => binaryCrossEntropyWithLogits(xt, tt, options), [f64(x, [n, c], true), f64(t, [n, c], true)], "bceWithLogits");
        },
      ),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("without posWeight it equals max(x, 0) − x·t + log(1 + e^−|x|)", () => {
    const x = normals(rng(8), 6, 3);
    const t = uniforms(rng(9), 6);
    const classic = x.map((xi, i) => Math.max(xi, 0) - xi * t[i]! + Math.log1p(Math.exp(-Math.abs(xi))));
    expectClose(binaryCrossEntropyWithLogits(f64(x, [6]), f64(t, [6]), { reduction: "none" }), classic, 1e-13);
  });
});

describe("binaryCrossEntropy (probabilities)", () => {
  it("property: forward = reference and gradcheck in probs and target", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), seedArb, reductionArb, fc.boolean(), (n, c, seed, reduction, weighted) => {
        const r = rng(seed);
        const p = uniforms(r, n * c, 0.02, 0.98);
        const t = uniforms(r, n * c);
        const w = weighted ? uniforms(r, c, 0.2, 2) : null;
        const per = p.map((pi, i) => -(w ? w[i % c]! : 1) * (t[i]! * Math.log(pi) + (1 - t[i]!) * Math.log(1 - pi)));
        const options = { reduction, weight: w ? f64(w, [c]) : null };
        expectClose(binaryCrossEntropy(f64(p, [n, c]), f64(t, [n, c]), options), reduceRef(per, reduction), 1e-12, "bce");
        expectGradcheck((pt, tt) => binaryCrossEntropy(pt, tt, options), [f64(p, [n, c], true), f64(t, [n, c], true)], "bce");
      }),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("logs are clamped at −100: p = 0 or 1 gives at most 100 and finite gradients", () => {
    const p = f64([0, 1, 0, 1], [4], true);
    const out = binaryCrossEntropy(p, f64([1, 0, 0, 1], [4]), { reduction: "none" });
    expect([...out.data]).toEqual([100, 100, 0, 0]);
    out.sum().backward();
    // PyTorch: (p − t)/max(p(1 − p), ε), ε = 1e-12 as a C++ float
    expect([...p.grad!.data].map((v) => v + 0)).toEqual([-1 / Math.fround(1e-12), 1 / Math.fround(1e-12), 0, 0]);
  });

  it("double backward is finite and matches the analytic second derivative", () => {
    // ℓ = −t log p − (1 − t) log(1 − p): dℓ/dp = (p − t)/(p(1 − p)); d²ℓ/dp² = t/p² + (1 − t)/(1 − p)².
    const p = f64([0.3, 0.8], [2], true);
    const t = f64([1, 0.25], [2]);
    const [g] = gradients(binaryCrossEntropy(p, t, { reduction: "sum" }), [p], { createGraph: true });
    const [h] = gradients(g!.sum(), [p]);
    expectClose(h!, [1 / 0.09, 0.25 / 0.64 + 0.75 / 0.04], 1e-12);
  });
});

describe("regression losses", () => {
  const cases = [
    { name: "mseLoss", f: mseLoss, ref: (d: number) => d * d },
    { name: "l1Loss", f: l1Loss, ref: (d: number) => Math.abs(d) },
    { name: "smoothL1Loss β=0.7", f: (a: Tensor, b: Tensor, o: { reduction: Reduction }) => smoothL1Loss(a, b, { ...o, beta: 0.7 }), ref: (d: number) => (Math.abs(d) < 0.7 ? (0.5 * d * d) / 0.7 : Math.abs(d) - 0.35) },
    { name: "smoothL1Loss β=0", f: (a: Tensor, b: Tensor, o: { reduction: Reduction }) => smoothL1Loss(a, b, { ...o, beta: 0 }), ref: (d: number) => Math.abs(d) },
    { name: "huberLoss δ=1.5", f: (a: Tensor, b: Tensor, o: { reduction: Reduction }) => huberLoss(a, b, { ...o, delta: 1.5 }), ref: (d: number) => (Math.abs(d) < 1.5 ? 0.5 * d * d : 1.5 * (Math.abs(d) - 0.75)) },
  ];
  for (const c of cases) {
    it(`property: ${c.name} forward = reference and gradcheck in both inputs`, () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }), seedArb, reductionArb, (shape, seed, reduction) => {
          const r = rng(seed);
          const n = sizeOf(shape);
          const a = normals(r, n, 2);
          const b = normals(r, n);
          expectClose(c.f(f64(a, shape), f64(b, shape), { reduction }), reduceRef(a.map((ai, i) => c.ref(ai - b[i]!)), reduction), 1e-12, c.name);
          expectGradcheck((x, y) => c.f(x, y, { reduction }), [f64(a, shape, true), f64(b, shape, true)], c.name);
        }),
        { seed: FC_SEED, numRuns: NUM_RUNS },
      );
    });
  }

  it("l1Loss gradient is 0 where input = target", () => {
    const a = f64([1, 2], [2], true);
    l1Loss(a, f64([1, 0], [2]), { reduction: "sum" }).backward();
    expect([...a.grad!.data]).toEqual([0, 1]);
  });

  it("huberLoss = δ · smoothL1Loss(β = δ)", () => {
    const a = f64(normals(rng(4), 8, 3), [8]);
    const b = f64(normals(rng(5), 8), [8]);
    expectClose(huberLoss(a, b, { delta: 2 }), smoothL1Loss(a, b, { beta: 2 }).item() * 2, 1e-14);
  });
});

describe("regularisers", () => {
  it("property: l2Regularization = λ·Σ‖W‖², gradient 2λW; l1Regularization = λ·Σ|W|", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), { minLength: 1, maxLength: 3 }), seedArb, (shapes, seed) => {
        const r = rng(seed);
        const lambda = 0.01 + r();
        const data = shapes.map((s) => normals(r, sizeOf(s)));
        const all = data.flat();
        const params = shapes.map((s, i) => f64(data[i]!, s, true));
        expectClose(l2Regularization(params, lambda), lambda * all.reduce((acc, v) => acc + v * v, 0), 1e-13);
        expectClose(l1Regularization(params, lambda), lambda * all.reduce((acc, v) => acc + Math.abs(v), 0), 1e-13);
        l2Regularization(params, lambda).backward();
        params.forEach((p, i) => expectClose(p.grad!, data[i]!.map((v) => 2 * lambda * v), 1e-14));
        expectGradcheck((...ps) => l2Regularization(ps, lambda), shapes.map((s, i) => f64(data[i]!, s, true)), "l2Regularization");
      }),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("PyTorch's weight_decay wd is λ = wd/2: the gradient of l2Regularization(λ = wd/2) is wd·W", () => {
    const wd = 1e-3;
    const W = f64([0.5, -2, 3], [3], true);
    l2Regularization([W], wd / 2).backward();
    expectClose(W.grad!, [0.5 * wd, -2 * wd, 3 * wd], 1e-16);
  });

  it("accepts any iterable (a generator of parameters); an empty one gives 0", () => {
    const W = f64([1, 2], [2]);
    function* params(): IterableIterator<Tensor> {
      yield W;
      yield W;
    }
    expect(l2Regularization(params(), 0.5).item()).toBe(5);
    expect(l2Regularization([], 0.5).item()).toBe(0);
  });

  it("rejects a negative or non-finite λ and non-tensors", () => {
    expect(() => l2Regularization([f64([1], [1])], -1)).toThrow(ValueError);
    expect(() => l1Regularization([f64([1], [1])], Number.NaN)).toThrow(ValueError);
    expect(() => l2Regularization([[1, 2]] as unknown as Tensor[], 1)).toThrow(/params\[0\]/);
  });
});

// ------------------------------------------------------------------ normalisation

/** Per-channel batch norm over all axes but 1 (biased variance), in plain JS. */
function refBatchNorm(x: readonly number[], shape: readonly number[], mean: number[] | null, variance: number[] | null, w: number[] | null, b: number[] | null, eps: number) {
  const c = shape[1]!;
  const inner = sizeOf(shape.slice(2));
  const chan = (i: number): number => Math.floor(i / inner) % c;
  const mu = mean ?? Array.from({ length: c }, () => 0);
  const va = variance ?? Array.from({ length: c }, () => 0);
  const count = x.length / c;
  if (!mean) x.forEach((v, i) => (mu[chan(i)]! += v / count));
  if (!variance) x.forEach((v, i) => (va[chan(i)]! += (v - mu[chan(i)]!) ** 2 / count));
  const y = x.map((v, i) => ((v - mu[chan(i)]!) / Math.sqrt(va[chan(i)]! + eps)) * (w ? w[chan(i)]! : 1) + (b ? b[chan(i)]! : 0));
  return { y, mu, va, count };
}

describe("batchNorm", () => {
  const shapeArb = fc.tuple(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 })).map(([n, c, rest]) => [n, c, ...rest]);

  it("property: training forward = reference, running stats updated with the unbiased variance, gradcheck through mean and var", () => {
    fc.assert(
      fc.property(shapeArb, seedArb, fc.boolean(), fc.constantFrom(0.1, 0.5), (shape, seed, affine, momentum) => {
        const r = rng(seed);
        const c = shape[1]!;
        const x = normals(r, sizeOf(shape), 2).map((v) => v + 1);
        const w = affine ? normals(r, c) : null;
        const b = affine ? normals(r, c) : null;
        const rm0 = normals(r, c);
        const rv0 = uniforms(r, c, 0.5, 2);
        const rm = f64(rm0, [c]);
        const rv = f64(rv0, [c]);
        const eps = 1e-5;
        const ref = refBatchNorm(x, shape, null, null, w, b, eps);
        const wt = w ? f64(w, [c]) : null;
        const bt = b ? f64(b, [c]) : null;
        expectClose(batchNorm(f64(x, shape), rm, rv, wt, bt, { training: true, momentum, eps }), ref.y, 1e-12, "batchNorm");
        expectClose(rm, rm0.map((v, j) => (1 - momentum) * v + momentum * ref.mu[j]!), 1e-13, "runningMean");
        expectClose(rv, rv0.map((v, j) => (1 - momentum) * v + momentum * ref.va[j]! * (ref.count / (ref.count - 1))), 1e-13, "runningVar");
        const inputs = [f64(x, shape, true), ...(affine ? [f64(w!, [c], true), f64(b!, [c], true)] : [])];
        expectGradcheck((xt, wt2, bt2) => batchNorm(xt!, null, null, wt2 ?? null, bt2 ?? null, { training: true, eps }), inputs, "batchNorm training");
      }),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("property: eval mode uses (and leaves untouched) the running stats; gradcheck", () => {
    fc.assert(
      fc.property(shapeArb, seedArb, (shape, seed) => {
        const r = rng(seed);
        const c = shape[1]!;
        const x = normals(r, sizeOf(shape));
        const rm0 = normals(r, c);
        const rv0 = uniforms(r, c, 0.5, 2);
        const w = normals(r, c);
        const b = normals(r, c);
        const rm = f64(rm0, [c]);
        const rv = f64(rv0, [c]);
        const out = batchNorm(f64(x, shape), rm, rv, f64(w, [c]), f64(b, [c]), { training: false, eps: 1e-3 });
        expectClose(out, refBatchNorm(x, shape, rm0, rv0, w, b, 1e-3).y, 1e-12, "batchNorm eval");
        expect([...rm.data]).toEqual(rm0);
        expect([...rv.data]).toEqual(rv0);
        expectGradcheck((xt, wt, bt) => batchNorm(xt!, rm, rv, wt!, bt!, { training: false, eps: 1e-3 }), [f64(x, shape, true), f64(w, [c], true), f64(b, [c], true)], "batchNorm eval");
      }),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("float32 running stats are written in place (same objects, new values)", () => {
    const x = tensor([[1, 2], [3, 6]]);
    const rm = zeros([2]);
    const rv = ones([2]);
    const data = rm.data;
    batchNorm(x, rm, rv, null, null, { training: true });
    expect(rm.data).toBe(data);
    expectClose(rm, [0.2, 0.4], 1e-7);
    expectClose(rv, [0.9 + 0.1 * 2, 0.9 + 0.1 * 8], 1e-7); // unbiased variances 2 and 8
  });

  it("errors: channel vectors of the wrong length, rank < 2, one value per channel in training, eval without running stats", () => {
    const x = zeros([4, 3]);
    expect(() => batchNorm(x, null, null, zeros([4]), null, { training: true })).toThrow(ShapeError);
    expect(() => batchNorm(x, null, null, zeros([4]), null, { training: true })).toThrow(/'weight' must have shape \[3\].*got \[4\]/);
    expect(() => batchNorm(zeros([3]), null, null, null, null, { training: true })).toThrow(ShapeError);
    expect(() => batchNorm(zeros([1, 3]), null, null, null, null, { training: true })).toThrow(ValueError);
    expect(() => batchNorm(x, null, null, null, null, { training: false })).toThrow(/runningMean and runningVar/);
  });
});

describe("layerNorm", () => {
  it("property: forward = reference (biased variance over the trailing axes) and gradcheck", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }),
        seedArb,
        fc.boolean(),
        (lead, norm, seed, affine) => {
          const r = rng(seed);
          const shape = [...lead, ...norm];
          const k = sizeOf(norm);
          const x = normals(r, sizeOf(shape), 2);
          const w = affine ? normals(r, k) : null;
          const b = affine ? normals(r, k) : null;
          const y: number[] = [];
          for (let g = 0; g < x.length / k; g++) {
            const row = x.slice(g * k, g * k + k);
            const mu = row.reduce((s, v) => s + v, 0) / k;
            const va = row.reduce((s, v) => s + (v - mu) ** 2, 0) / k;
            row.forEach((v, i) => y.push(((v - mu) / Math.sqrt(va + 1e-5)) * (w ? w[i]! : 1) + (b ? b[i]! : 0)));
          }
          const wt = w ? f64(w, norm) : null;
          const bt = b ? f64(b, norm) : null;
          expectClose(layerNorm(f64(x, shape), norm, wt, bt), y, 1e-12, "layerNorm");
          const inputs = [f64(x, shape, true), ...(affine ? [f64(w!, norm, true), f64(b!, norm, true)] : [])];
          // k = 1: the output is identically 0 (x − μ = 0), still a valid check.
          expectGradcheck((xt, w2, b2) => layerNorm(xt!, norm, w2 ?? null, b2 ?? null), inputs, "layerNorm");
        },
      ),
      { seed: FC_SEED, numRuns: NUM_RUNS },
    );
  });

  it("errors: normalizedShape that is not the trailing axes, weight of the wrong shape", () => {
    expect(() => layerNorm(zeros([2, 3]), [2])).toThrow(ShapeError);
    expect(() => layerNorm(zeros([2, 3]), [2])).toThrow(/trailing axes.*\[2, 3\]/);
    expect(() => layerNorm(zeros([2, 3]), [3], zeros([2]))).toThrow(/'weight' must have shape/);
    expect(layerNorm(zeros([2, 3]), 3).shape).toEqual([2, 3]); // a number is one axis
  });
});

describe("dropout", () => {
  it("inverted dropout: kept values scaled by 1/(1 − p), mask from the given generator, reproducible", () => {
    const x = f64(Array.from({ length: 2000 }, () => 1), [2000], true);
    const y = dropout(x, 0.25, { training: true, generator: new Generator(3) });
    const y2 = dropout(x, 0.25, { training: true, generator: new Generator(3) });
    expect([...y.data]).toEqual([...y2.data]);
    const g = new Generator(3);
    const expected = Array.from({ length: 2000 }, () => (g.random() < 0.25 ? 0 : 1 / 0.75));
    expect([...y.data]).toEqual(expected);
    const kept = expected.filter((v) => v !== 0).length / 2000;
    expect(kept).toBeGreaterThan(0.7);
    expect(kept).toBeLessThan(0.8);
    y.sum().backward();
    expect([...x.grad!.data]).toEqual(expected); // the gradient is the mask
    expectGradcheck((t) => dropout(t, 0.4, { generator: new Generator(9) }), [f64(normals(rng(1), 10), [10], true)], "dropout");
  });

  it("identity when not training or p = 0 (x itself); zeros when p = 1; default generator otherwise", () => {
    const x = tensor([1, 2, 3]);
    expect(dropout(x, 0.5, { training: false })).toBe(x);
    expect(dropout(x, 0)).toBe(x);
    const xg = f64([1, 2, 3], [3], true);
    const z = dropout(xg, 1);
    expect([...z.data]).toEqual([0, 0, 0]);
    z.sum().backward();
    expect([...xg.grad!.data]).toEqual([0, 0, 0]);
    expect(dropout(x, 0.5).shape).toEqual([3]);
  });

  it("p outside [0, 1] is a ValueError", () => {
    for (const p of [-0.1, 1.5, Number.NaN]) expect(() => dropout(tensor([1]), p)).toThrow(ValueError);
  });
});

// ================================================================== 2. PyTorch reference values (fixture)

interface FixTensor {
  shape: number[];
  data: number[];
}
interface FixInput extends FixTensor {
  name: string;
  dtype: "float64" | "int64";
  requires_grad: boolean;
}
interface FixCase {
  name: string;
  options: Record<string, unknown>;
  inputs: FixInput[];
  output: FixTensor;
  upstream: FixTensor;
  grads: (FixTensor | null)[];
  extra?: Record<string, FixTensor>;
}

const FIXTURE = JSON.parse(readFileSync(fileURLToPath(new URL("fixtures/losses-torch.json", import.meta.url)), "utf8")) as { torch_version: string; cases: FixCase[] };

/** Checks every element with |a − b| ≤ 1e-9 + 1e-9·|b| (the golden tolerance). */
function expectGolden(actual: Tensor | null | undefined, expected: FixTensor, what: string): void {
  expect(actual, `${what}: missing`).toBeInstanceOf(Tensor);
  expect(actual!.shape, `${what}: shape`).toEqual(expected.shape);
  expect(actual!.dtype, `${what}: dtype`).toBe("float64");
  expected.data.forEach((b, i) => {
    const a = actual!.data[i]!;
    if (!(Math.abs(a - b) <= 1e-9 + 1e-9 * Math.abs(b))) expect.fail(`${what}: element ${i} is ${a}, expected ${b}`);
  });
}

function runFixture(c: FixCase): void {
  const ins = c.inputs.map((inp) => (inp.dtype === "int64" ? i32(inp.data, inp.shape) : f64(inp.data, inp.shape, inp.requires_grad)));
  const byName = (n: string): Tensor | null => {
    const i = c.inputs.findIndex((inp) => inp.name === n);
    return i < 0 ? null : ins[i]!;
  };
  const o = c.options;
  const reduction = (o.reduction ?? "mean") as Reduction;
  const [a, b] = ins as [Tensor, Tensor];
  let rm: Tensor | null = null;
  let rv: Tensor | null = null;
  if (c.extra) {
    rm = f64(c.extra.running_mean_initial!.data, c.extra.running_mean_initial!.shape);
    rv = f64(c.extra.running_var_initial!.data, c.extra.running_var_initial!.shape);
  }
  const out = c.name.startsWith("cross_entropy")
    ? crossEntropy(a, b, { reduction, labelSmoothing: o.labelSmoothing as number, ignoreIndex: o.ignoreIndex as number, weight: byName("weight") })
    : c.name.startsWith("nll_loss")
      ? nllLoss(a, b, { reduction, ignoreIndex: o.ignoreIndex as number, weight: byName("weight") })
      : c.name.startsWith("multi_margin")
        ? multiMarginLoss(a, b, { reduction, p: o.p as number, margin: o.margin as number, weight: byName("weight") })
        : c.name.startsWith("bce_logits")
          ? binaryCrossEntropyWithLogits(a, b, { reduction, posWeight: byName("posWeight"), weight: byName("weight") })
          : c.name.startsWith("bce_")
            ? binaryCrossEntropy(a, b, { reduction, weight: byName("weight") })
            : c.name.startsWith("l1_")
              ? l1Loss(a, b, { reduction })
              : c.name.startsWith("mse_")
                ? mseLoss(a, b, { reduction })
                : c.name.startsWith("smooth_l1")
                  ? smoothL1Loss(a, b, { reduction, beta: o.beta as number })
                  : c.name.startsWith("huber")
                    ? huberLoss(a, b, { reduction, delta: o.delta as number })
                    : c.name.startsWith("batch_norm")
                      ? batchNorm(a, rm, rv, byName("weight"), byName("bias"), { training: o.training as boolean, momentum: o.momentum as number, eps: o.eps as number })
                      : c.name.startsWith("layer_norm")
                        ? layerNorm(a, o.normalizedShape as number[], byName("weight"), byName("bias"), o.eps as number)
                        : undefined;
  if (out === undefined) throw new Error(`no handler for fixture case ${c.name}`);
  expectGolden(out, c.output, `${c.name} output`);
  out.backward(f64(c.upstream.data, c.upstream.shape));
  c.inputs.forEach((inp, i) => {
    const g = c.grads[i];
    if (g) expectGolden(ins[i]!.grad, g, `${c.name} grad of ${inp.name}`);
    else expect(ins[i]!.grad, `${c.name}: ${inp.name} got a gradient`).toBeNull();
  });
  if (c.extra) {
    expectGolden(rm, c.extra.running_mean_after!, `${c.name} running mean`);
    expectGolden(rv, c.extra.running_var_after!, `${c.name} running var`);
  }
}

describe(`PyTorch ${FIXTURE.torch_version} reference values (test/fixtures/losses-torch.json)`, () => {
  it("the fixture has cases", () => expect(FIXTURE.cases.length).toBeGreaterThan(40));
  for (const c of FIXTURE.cases) it(c.name, () => runFixture(c));
});

// ================================================================== 3. the shared golden batch_norm case's running stats

const GOLDEN_DIR = new URL("../../shared/golden/", import.meta.url);
const haveGolden = existsSync(fileURLToPath(GOLDEN_DIR));
if (!haveGolden && process.env.CI) throw new Error(`losses tests: CI must provide ${fileURLToPath(GOLDEN_DIR)}.`);

describe.skipIf(!haveGolden)("golden batch_norm case: running statistics after one training step", () => {
  it("running mean and var match case.extra", () => {
    const golden = JSON.parse(readFileSync(fileURLToPath(new URL("golden-public.json", GOLDEN_DIR)), "utf8")) as { cases: (FixCase & { op: string; params: Record<string, number> })[] };
    const cases = golden.cases.filter((c) => c.op === "batch_norm");
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const [x, w, b] = c.inputs.map((inp) => f64(inp.data, inp.shape, inp.requires_grad)) as [Tensor, Tensor, Tensor];
      const e = c.extra!;
      const rm = f64(e.running_mean_initial!.data, e.running_mean_initial!.shape);
      const rv = f64(e.running_var_initial!.data, e.running_var_initial!.shape);
      const out = batchNorm(x, rm, rv, w, b, { training: true, momentum: c.params.momentum, eps: c.params.eps });
      expectGolden(out, c.output, `${c.name} output`);
      expectGolden(rm, e.running_mean_after!, `${c.name} running mean`);
      expectGolden(rv, e.running_var_after!, `${c.name} running var`);
    }
  });
});

// ================================================================== 4. numerics

describe("crossEntropy numerics", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`logits [[1000, 0, −1000]] give finite losses and gradients in ${dtype}`, () => {
      for (const label of [0, 1, 2]) {
        const x = tensor([[1000, 0, -1000]], { dtype, requiresGrad: true });
        const loss = crossEntropy(x, i32([label]));
        expect(loss.dtype).toBe(dtype);
        expect(loss.item()).toBe([0, 1000, 2000][label]);
        loss.backward();
        const onehot = [0, 1, 2].map((j) => (j === label ? 1 : 0));
        expect([...x.grad!.data].map((v) => v + 0)).toEqual([1 - onehot[0]!, 0 - onehot[1]!, 0 - onehot[2]!]); // + 0: −0 → 0
      }
      const big = tensor([[5000, 4999, -3000], [-1e4, -1e4 + 1, -1e4 + 2]], { dtype, requiresGrad: true });
      const loss = crossEntropy(big, i32([1, 0]), { labelSmoothing: 0.1 });
      expect(Number.isFinite(loss.item())).toBe(true);
      loss.backward();
      expect([...big.grad!.data].every(Number.isFinite)).toBe(true);
      // Row 1 is row [0, 1, 2] shifted: the same loss as small logits.
      const shifted = crossEntropy(tensor([[0, 1, 2]], { dtype: "float64" }), i32([0]), { labelSmoothing: 0.1, reduction: "none" }).item();
      const row1 = crossEntropy(big, i32([1, 0]), { labelSmoothing: 0.1, reduction: "none" }).data[1]!;
      expect(Math.abs(row1 - shifted)).toBeLessThan(dtype === "float32" ? 1e-6 : 1e-15);
    });
  }

  /** The composed reference: logSoftmax + gather with PyTorch's weighting, from existing ops. */
  function composedCE(x: Tensor, y: readonly number[], o: { reduction: Reduction; eps: number; w: number[] | null; ignore: number }): Tensor {
    const [m, c] = x.shape as [number, number];
    const lp = x.logSoftmax(-1);
    const keep = y.map((v) => (v === o.ignore ? 0 : 1));
    const wy = y.map((v, n) => (keep[n] ? (o.w ? o.w[v]! : 1) : 0));
    const nll = lp.gather(1, i32(y.map((v) => (v === o.ignore ? 0 : v)), [m, 1])).reshape([m]).mul(f64(wy, [m])).neg();
    const smooth = lp.mul(f64(o.w ?? Array.from({ length: c }, () => 1), [c])).sum({ axis: 1 }).neg().mul(f64(keep, [m]));
    const per = nll.mul(1 - o.eps).add(smooth.mul(o.eps / c));
    return o.reduction === "none" ? per : o.reduction === "sum" ? per.sum() : per.sum().div(wy.reduce((s, v) => s + v, 0));
  }

  it("double backward (Hessian-vector products) matches the composed logSoftmax + gather reference", () => {
    const m = 4;
    const c = 3;
    const r = rng(77);
    const xv = normals(r, m * c, 2);
    const v = f64(normals(r, m * c), [m, c]);
    const y = [0, 2, -100, 1];
    for (const reduction of ["mean", "sum", "none"] as const) {
      for (const [eps, w] of [[0, null], [0.2, [0.5, 1.5, 2]]] as const) {
        const o = { reduction, eps, w: w ? [...w] : null, ignore: -100 };
        const up = reduction === "none" ? f64(normals(r, m), [m]) : undefined;
        const run = (f: (x: Tensor) => Tensor): [Tensor, Tensor] => {
          const x = f64(xv, [m, c], true);
          const [g] = gradients(f(x), [x], { createGraph: true, gradOutput: up });
          const [hv] = gradients(g!.mul(v).sum(), [x]);
          return [g!, hv!];
        };
        const ours = run((x) => crossEntropy(x, i32(y), { reduction, labelSmoothing: eps, weight: o.w ? f64(o.w, [c]) : null }));
        const ref = run((x) => composedCE(x, y, o));
        expectClose(ours[0], [...ref[0].data], 1e-14, `grad (${reduction}, ε=${eps})`);
        expectClose(ours[1], [...ref[1].data], 1e-13, `Hv (${reduction}, ε=${eps})`);
        // The fused first-order path (no createGraph) gives the same gradient.
        const x = f64(xv, [m, c], true);
        const [plain] = gradients(crossEntropy(x, i32(y), { reduction, labelSmoothing: eps, weight: o.w ? f64(o.w, [c]) : null }), [x], { gradOutput: up });
        expectClose(plain!, [...ours[0].data], 1e-15, "fused vs recorded backward");
      }
    }
  });

  it("gradcheck of the gradient itself (second derivatives against finite differences)", () => {
    const y = i32([1, 0, 2]);
    const w = f64([0.3, 1, 2], [3]);
    // enableGrad: gradcheck evaluates f under noGrad for its finite differences.
    const gradFn = (x: Tensor): Tensor => enableGrad(() => gradients(crossEntropy(x, y, { labelSmoothing: 0.1, weight: w }), [x], { createGraph: true })[0]!);
    expectGradcheck(gradFn, [f64(normals(rng(13), 9), [3, 3], true)], "d/dx of the crossEntropy gradient");
  });

  it("float32 double backward at logits in the thousands stays finite", () => {
    const x = tensor([[1000, 0, -1000], [3, 2, 1]], { requiresGrad: true });
    const [g] = gradients(crossEntropy(x, i32([1, 0])), [x], { createGraph: true });
    const [h] = gradients(g!.square().sum(), [x]);
    expect([...h!.data].every(Number.isFinite)).toBe(true);
  });
});

// ------------------------------------------------------------------ BCE with logits at |x| ≥ 50, against BigInt references

const DIGITS = 150n;
const SCALE = 10n ** DIGITS;
/** e as a fixed-point BigInt (value·10^150), from Σ 1/k!. */
const E_FIXED = (() => {
  let term = SCALE;
  let s = 0n;
  for (let k = 1n; term > 0n; k++) {
    s += term;
    term /= k;
  }
  return s;
})();
/** e^−a for a non-negative integer a, fixed point. */
function expNegInt(a: number): bigint {
  let p = SCALE;
  for (let i = 0; i < a; i++) p = (p * E_FIXED) / SCALE;
  return (SCALE * SCALE) / p;
}
/** log(1 + u) for 0 ≤ u ≤ 1e-10 (fixed point): u − u²/2 + u³/3, the next term is below 1e−40·u. */
function log1pSmall(u: bigint): bigint {
  const u2 = (u * u) / SCALE;
  return u - u2 / 2n + (u2 * u) / SCALE / 3n;
}
/** A fixed-point BigInt to the nearest double, through its decimal expansion. */
function toDouble(v: bigint): number {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const s = `${a / SCALE}.${(a % SCALE).toString().padStart(Number(DIGITS), "0")}`;
  return neg ? -Number.parseFloat(s) : Number.parseFloat(s);
}

describe("binaryCrossEntropyWithLogits at |x| = 25, 36, 50, 100, 1000 (float64)", () => {
  it("loss and gradient match high-precision references to a few ulps", () => {
    // 25 and 36 too: a softplus that switches to the linear branch above 20 (PyTorch's default threshold) is off there by e^−25 ≈ 1e−11.
    for (const mag of [25, 36, 50, 100, 1000]) {
      const u = expNegInt(mag); // e^−|x| (0 at this precision for 1000: e^−1000 ≈ 5e−435 is 0 as a double too)
      const spSmall = log1pSmall(u); // softplus(−|x|) = log(1 + e^−|x|)
      const spLarge = BigInt(mag) * SCALE + spSmall; // softplus(|x|) = |x| + log(1 + e^−|x|)
      const sigSmall = (u * SCALE) / (SCALE + u); // σ(−|x|)
      const sigLarge = (SCALE * SCALE) / (SCALE + u); // σ(|x|)
      for (const sgn of [1, -1]) {
        const x = sgn * mag;
        for (const t of [0, 1, 0.25]) {
          const tF = BigInt(t * 4); // t in quarters, exact
          // ℓ = (1 − t)·softplus(x) + t·softplus(−x);  dℓ/dx = (1 − t)·σ(x) − t·σ(−x)
          const spX = sgn > 0 ? spLarge : spSmall;
          const spNegX = sgn > 0 ? spSmall : spLarge;
          const sigX = sgn > 0 ? sigLarge : sigSmall;
          const sigNegX = sgn > 0 ? sigSmall : sigLarge;
          const loss = toDouble(((4n - tF) * spX + tF * spNegX) / 4n);
          const grad = toDouble(((4n - tF) * sigX - tF * sigNegX) / 4n);
          const xt = f64([x], [1], true);
          const out = binaryCrossEntropyWithLogits(xt, f64([t], [1]), { reduction: "sum" });
          out.backward();
          const what = `x = ${x}, t = ${t}`;
          const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-15 * Math.abs(b) || (b === 0 && a === 0);
          if (!close(out.item(), loss)) expect.fail(`${what}: loss ${out.item()}, reference ${loss}`);
          if (!close(xt.grad!.item(), grad)) expect.fail(`${what}: gradient ${xt.grad!.item()}, reference ${grad}`);
        }
      }
    }
    // Spot values: ℓ(50, t = 1) = log(1 + e^−50) ≈ e^−50, which a naive log(1 + exp(−50)) rounds to 0.
    expect(binaryCrossEntropyWithLogits(f64([50], [1]), f64([1], [1])).item()).toBeCloseTo(1.9287498479639178e-22, 36);
    expect(binaryCrossEntropyWithLogits(f64([-1000], [1]), f64([1], [1])).item()).toBe(1000);
  });

  it("float32 at |x| = 1000 is finite", () => {
    const x = tensor([1000, -1000, 1000, -1000], { requiresGrad: true });
    const out = binaryCrossEntropyWithLogits(x, tensor([1, 0, 0, 1]), { reduction: "none" });
    expect([...out.data]).toEqual([0, 0, 1000, 1000]);
    out.sum().backward();
    expect([...x.grad!.data].map((v) => v + 0)).toEqual([0, 0, 1, -1]); // + 0 turns −0 into 0
  });
});

// ================================================================== 5. errors

describe("errors", () => {
  const x = zeros([4, 5], { dtype: "float64" });

  it("float labels → DTypeError telling how to fix it", () => {
    for (const f of [crossEntropy, nllLoss, svmLoss, multiMarginLoss]) {
      expect(() => f(x, tensor([0, 1, 2, 3]))).toThrow(DTypeError);
      expect(() => f(x, tensor([0, 1, 2, 3]))).toThrow(/int32.*got float32/);
    }
    expect(() => crossEntropy(zeros([4, 5], { dtype: "int32" }), i32([0, 1, 2, 3]))).toThrow(DTypeError);
  });

  it("a label out of [0, C) → IndexError naming the position, the value and C", () => {
    expect(() => crossEntropy(x, i32([0, 1, 7, 3]))).toThrow(IndexError);
    expect(() => crossEntropy(x, i32([0, 1, 7, 3]))).toThrow(/labels\[2\] = 7 .*C = 5/);
    expect(() => crossEntropy(x, i32([0, -1, 2, 3]))).toThrow(/labels\[1\] = -1/);
    expect(() => svmLoss(x, i32([0, 1, 5, 3]))).toThrow(/labels\[2\] = 5 .*C = 5/);
    expect(() => nllLoss(x, i32([0, 1, 2, 9]))).toThrow(IndexError);
    expect(() => crossEntropy(zeros([2, 3, 2]), i32([0, 1, 2, 3], [2, 2]))).toThrow(/labels\[1, 1\] = 3/);
    // the ignore index itself is not checked
    expect(() => crossEntropy(x, i32([0, 1, -100, 3]))).not.toThrow();
    expect(() => crossEntropy(x, i32([0, 1, 9, 3]), { ignoreIndex: 9 })).not.toThrow();
  });

  it("shape mismatches → ShapeError naming the function, the argument and both shapes", () => {
    expect(() => crossEntropy(x, i32([0, 1, 2]))).toThrow(ShapeError);
    expect(() => crossEntropy(x, i32([0, 1, 2]))).toThrow(/crossEntropy: 'logits' has shape \[4, 5\] so 'labels' must have shape \[4\].*\[3\]/);
    expect(() => crossEntropy(x, i32([0, 1, 2, 3], [4, 1]))).toThrow(/squeeze/);
    expect(() => svmLoss(zeros([2, 3, 4]), i32([0, 1]))).toThrow(ShapeError);
    expect(() => crossEntropy(x, i32([0, 1, 2, 3]), { weight: zeros([4]) })).toThrow(/'weight' must have shape \[5\]/);
    expect(() => mseLoss(zeros([4, 1]), zeros([4]))).toThrow(/mseLoss: 'input' has shape \[4, 1\] but 'target' has shape \[4\]/);
    expect(() => binaryCrossEntropyWithLogits(zeros([2, 3]), zeros([3]))).toThrow(ShapeError);
    expect(() => binaryCrossEntropyWithLogits(zeros([2, 3]), zeros([2, 3]), { posWeight: zeros([2]) })).toThrow(ShapeError);
    expect(() => binaryCrossEntropyWithLogits(zeros([2, 3]), zeros([2, 3]), { weight: zeros([4, 2, 3]) })).toThrow(/must broadcast to \[2, 3\]/);
  });

  it("bad option values → ValueError", () => {
    const y = i32([0, 1, 2, 3]);
    expect(() => crossEntropy(x, y, { reduction: "avg" as Reduction })).toThrow(ValueError);
    expect(() => crossEntropy(x, y, { labelSmoothing: 1.5 })).toThrow(ValueError);
    expect(() => crossEntropy(x, y, { ignoreIndex: 0.5 })).toThrow(ValueError);
    expect(() => multiMarginLoss(x, y, { p: 3 })).toThrow(/p must be 1 or 2/);
    expect(() => svmLoss(x, y, { margin: Number.NaN })).toThrow(ValueError);
    expect(() => smoothL1Loss(x, x, { beta: -1 })).toThrow(ValueError);
    expect(() => huberLoss(x, x, { delta: 0 })).toThrow(ValueError);
    expect(() => binaryCrossEntropy(tensor([1.5]), tensor([1]))).toThrow(/probs\[0\] = 1.5/);
    expect(() => crossEntropy([[1, 2]] as unknown as Tensor, y)).toThrow(/must be a Tensor/);
  });
});
