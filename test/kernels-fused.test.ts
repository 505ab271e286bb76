/**
 * The fused kernels: row-wise softmax/logSoftmax and the optimizer updates (sgdUpdate,
 * adamUpdate), on the JavaScript reference and on the WebAssembly SIMD backend.
 *
 * - Kernel parity (fast-check, seeded; the wasm size thresholds set to 0): float64 results are
 *   identical bit for bit (softmax float64 is the reference's own kernel; the float64 optimizer
 *   kernels use the reference's operation order); float32 within a few ulp (softmax, which
 *   uses the polynomial exp) or within float32 rounding of each term (the optimizers compute in
 *   float32). Odd lengths, 0 and 1 elements, NaN and ±Infinity, every option combination.
 * - Operands that live in wasm memory (updated in place), that do not (copied in and back), or
 *   that are part of a block; in-place softmax (out = x).
 * - The library: softmax/logSoftmax as primitives (first and second derivatives against the
 *   composed formulas), crossEntropy and the optimizers under setBackend("wasm") against "js".
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AdamUpdate, Backend, SGDUpdate, SoftmaxOp } from "../src/backend/backend.js";
import { jsBackend } from "../src/backend/js.js";
import { loadWasmBackend, simdSupported, wasmTuning } from "../src/backend/wasm/backend.js";
import { Generator, getBackend, gradcheck, gradients, logSoftmax, nn, optim, setBackend, softmax, tensor, type Tensor } from "../src/index.js";

const SEED = 20261201;
const initialBackend = getBackend().name;
afterEach(() => setBackend(initialBackend));

type FloatArray = Float32Array | Float64Array;
type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;
const FLOATS: ["float32" | "float64", FloatCtor][] = [["float32", Float32Array], ["float64", Float64Array]];

const show = (v: number | undefined): string => (Object.is(v, -0) ? "-0" : String(v));
function expectSame(js: ArrayLike<number>, w: ArrayLike<number>, what: string): void {
  expect(w.length, `${what}: length`).toBe(js.length);
  for (let i = 0; i < js.length; i++) {
    // NaN equals NaN (its payload may differ); otherwise bit for bit, ±0 included.
    if (!Object.is(js[i], w[i]) && !(Number.isNaN(js[i]) && Number.isNaN(w[i]))) expect.fail(`${what}: element ${i}: js ${show(js[i])}, wasm ${show(w[i])}`);
  }
}
/** |js − wasm| ≤ tol(i) (NaN and infinities must match exactly; a NaN tolerance checks only those). */
function expectClose(js: ArrayLike<number>, w: ArrayLike<number>, tol: (i: number) => number, what: string): void {
  expect(w.length, `${what}: length`).toBe(js.length);
  for (let i = 0; i < js.length; i++) {
    const x = js[i]!, y = w[i]!;
    if (!Number.isFinite(x)) {
      if (!Object.is(x, y) && !(Number.isNaN(x) && Number.isNaN(y))) expect.fail(`${what}: element ${i}: js ${x}, wasm ${y}`);
    } else if (!(Math.abs(x - y) <= tol(i)) && !Number.isNaN(tol(i))) {
      // (A NaN tolerance: the bound's magnitudes involve an infinite input; only non-finite results are compared.)
      expect.fail(`${what}: element ${i}: js ${x}, wasm ${y}, |diff| ${Math.abs(x - y)} > ${tol(i)}`);
    }
  }
}
/** The float32 ulp at |v| (the subnormal spacing below 2^-126). */
const ulp32 = (v: number): number => {
  const a = Math.abs(v);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
};
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1000, -1000, 88.5, -104];

let wasm: Backend;
const savedTuning = { ...wasmTuning };

describe.skipIf(!simdSupported())("fused kernels: wasm agrees with the js reference", () => {
  beforeAll(() => {
    const load = loadWasmBackend();
    if (load.status !== "ready") throw new Error(`wasm backend did not load: ${JSON.stringify(load)}`);
    wasm = load.backend;
    wasmTuning.minElements = 0;
  });
  afterAll(() => Object.assign(wasmTuning, savedTuning));

  /** n elements of ctor, in wasm memory (a whole block) where this wasm backend keeps tensors, else a plain array. */
  function resident(ctor: FloatCtor, n: number): FloatArray {
    const a = wasm.allocator?.allocate(ctor === Float32Array ? "float32" : "float64", n, true, false);
    return (a as FloatArray | undefined) ?? new ctor(n);
  }

  // ---------------------------------------------------------------- softmax / logSoftmax

  /** rows × cols values: normal·scale, sometimes shifted by ±1000, with special values sprinkled in. */
  const softmaxCase = fc.record({
    rows: fc.integer({ min: 0, max: 5 }),
    cols: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 41 }) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 300 }) }),
    scale: fc.constantFrom(0.5, 3, 30),
    shift: fc.constantFrom(0, 1000, -1000),
    special: fc.constantFrom(0, 0, 0.05, 0.3),
    seed: fc.integer({ min: 0, max: 1e9 }),
  });
  function draw(ctor: FloatCtor, c: { rows: number; cols: number; scale: number; shift: number; special: number; seed: number }): FloatArray {
    const g = new Generator(c.seed);
    const x = new ctor(c.rows * c.cols);
    for (let i = 0; i < x.length; i++) x[i] = g.random() < c.special ? SPECIAL[Math.floor(g.random() * SPECIAL.length)]! : g.normal() * c.scale + c.shift;
    return x;
  }
  /** The tolerance of float32 wasm against the js reference (docs/backend.md: softmax ≤ 3 ulp, logSoftmax ≤ 2 ulp, measured). */
  const tolerance = (op: SoftmaxOp, js: ArrayLike<number>) => (i: number) => (op === "softmax" ? 4 * ulp32(js[i]!) : 3 * ulp32(js[i]!) + 1e-14);

  for (const [dtype, ctor] of FLOATS) {
    for (const op of ["softmax", "logSoftmax"] as const) {
      it(`${op} ${dtype}: every row length, large and special logits`, () => {
        fc.assert(
          fc.property(softmaxCase, (c) => {
            const x = draw(ctor, c);
            const js = new ctor(x.length);
            const w = new ctor(x.length);
            const statsJ = new Float64Array(2 * c.rows);
            const statsW = new Float64Array(2 * c.rows);
            jsBackend.softmax(op, x, c.rows, c.cols, js, statsJ);
            wasm.softmax(op, x, c.rows, c.cols, w, statsW);
            const what = `${op} ${dtype} [${c.rows}, ${c.cols}] scale ${c.scale} shift ${c.shift}`;
            if (dtype === "float64") {
              expectSame(js, w, what);
              expectSame(statsJ, statsW, `${what}: stats`);
            } else {
              expectClose(js, w, tolerance(op, js), what);
              // The shift is the same float; log Σ is float64 of float32 exps (each within ~1.5 ulp).
              expectClose(statsJ, statsW, (i) => (i % 2 === 0 ? 0 : 3e-7), `${what}: stats`);
            }
            // Without stats, the same output.
            const plain = new ctor(x.length);
            wasm.softmax(op, x, c.rows, c.cols, plain);
            expectSame(w, plain, `${what}: without stats`);
            // Rows come out normalized: Σ softmax = 1, Σ e^logSoftmax = 1 (where the row is finite).
            for (let r = 0; r < c.rows; r++) {
              const row = Array.from(w.subarray(r * c.cols, (r + 1) * c.cols));
              if (c.cols === 0 || !row.every(Number.isFinite)) continue;
              const total = row.reduce((s, v) => s + (op === "softmax" ? v : Math.exp(v)), 0);
              expect(Math.abs(total - 1), `${what}: row ${r} sums to ${total}`).toBeLessThan(dtype === "float32" ? 1e-5 : 1e-13);
            }
            // In place (out = x) gives the same, on both backends; so does x in wasm memory.
            for (const be of [jsBackend, wasm]) {
              const inPlace = ctor.from(x);
              be.softmax(op, inPlace, c.rows, c.cols, inPlace);
              expectSame(be === wasm ? w : js, inPlace, `${what} in place on ${be.name}`);
            }
            const rx = resident(ctor, x.length);
            rx.set(x);
            const ro = resident(ctor, x.length);
            wasm.softmax(op, rx, c.rows, c.cols, ro);
            expectSame(w, ro, `${what} resident`);
            wasm.softmax(op, rx, c.rows, c.cols, rx);
            expectSame(w, rx, `${what} resident, in place`);
            wasm.allocator?.release(rx);
            wasm.allocator?.release(ro);
          }),
          { seed: SEED, numRuns: 150 },
        );
      });
    }
  }

  it("softmax rows with NaN or a non-finite maximum: NaN throughout, or the limits at +∞ (both backends)", () => {
    for (const [, ctor] of FLOATS) {
      const rows = [
        [1, NaN, 2, 3, 4],
        [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
        [Infinity, 1, -Infinity, 1e30, Infinity],
        [0, -Infinity, 0, -Infinity, 0],
        [-Infinity, 5, -Infinity, -Infinity, -Infinity],
      ];
      const x = ctor.from(rows.flat());
      const expected = {
        softmax: [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, 0, 0, 0, NaN, 1 / 3, 0, 1 / 3, 0, 1 / 3, 0, 1, 0, 0, 0],
        logSoftmax: [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, -Infinity, -Infinity, -Infinity, NaN, -Math.log(3), -Infinity, -Math.log(3), -Infinity, -Math.log(3), -Infinity, 0, -Infinity, -Infinity, -Infinity],
      };
      for (const op of ["softmax", "logSoftmax"] as const) {
        for (const be of [jsBackend, wasm]) {
          const out = new ctor(x.length);
          const stats = new Float64Array(10);
          be.softmax(op, x, 5, 5, out, stats);
          const want = ctor.from(expected[op]);
          expectClose(want, out, (i) => 2 * ulp32(want[i]!), `${op} ${ctor.name} on ${be.name}`);
          // Where the max is not finite: shift 0 and log Σe^x (NaN, −∞, +∞); elsewhere the max and log Σe^(x−max).
          expectClose([0, NaN, 0, -Infinity, 0, Infinity, 0, Math.log(3), 5, 0], stats, () => 1e-7, `${op} ${ctor.name} on ${be.name}: stats`);
        }
      }
    }
  });

  it("1 element per row: softmax 1 and logSoftmax 0 (finite), for every row count", () => {
    for (const [, ctor] of FLOATS) {
      for (const rows of [1, 2, 3, 4, 5, 9]) {
        const x = new ctor(rows);
        for (let i = 0; i < rows; i++) x[i] = i * 37.5 - 100;
        for (const be of [jsBackend, wasm]) {
          const s = new ctor(rows);
          const l = new ctor(rows);
          be.softmax("softmax", x, rows, 1, s);
          be.softmax("logSoftmax", x, rows, 1, l);
          expect(Array.from(s)).toEqual(Array.from({ length: rows }, () => 1));
          expect(Array.from(l).map((v) => v + 0)).toEqual(Array.from({ length: rows }, () => 0));
        }
      }
    }
  });

  // ---------------------------------------------------------------- optimizer updates

  /** Values for parameters, gradients and state: mostly moderate, sometimes tiny, large or special. */
  function values(ctor: FloatCtor, n: number, g: Generator, special: boolean, positive = false): FloatArray {
    const x = new ctor(n);
    for (let i = 0; i < n; i++) {
      const r = g.random();
      const v = special && r < 0.08 ? SPECIAL[Math.floor(g.random() * SPECIAL.length)]! : r < 0.15 ? g.normal() * 1e-6 : r < 0.2 ? g.normal() * 50 : g.normal();
      x[i] = positive ? Math.abs(v) : v;
    }
    return x;
  }
  const lengths = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 9), fc.integer({ min: 10, max: 80 }), fc.integer({ min: 200, max: 400 }));
  const sgdCase = fc.record({
    n: lengths,
    lr: fc.constantFrom(0, 0.1, 1e-3, 0.5),
    momentum: fc.constantFrom(0, 0, 0.9, 0.5),
    dampening: fc.constantFrom(0, 0, 0.1),
    nesterov: fc.boolean(),
    weightDecay: fc.constantFrom(0, 0, 1e-2, 0.3),
    maximize: fc.boolean(),
    firstStep: fc.boolean(),
    special: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1e9 }),
  });

  for (const [dtype, ctor] of FLOATS) {
    it(`sgdUpdate ${dtype}: every option combination, every length${dtype === "float64" ? ": identical" : ": within float32 rounding"}`, () => {
      fc.assert(
        fc.property(sgdCase, (c) => {
          const nesterov = c.nesterov && c.momentum > 0 && c.dampening === 0;
          const h: SGDUpdate = { lr: c.lr, momentum: c.momentum, dampening: c.dampening, nesterov, weightDecay: c.weightDecay, maximize: c.maximize, firstStep: c.firstStep };
          const g = new Generator(c.seed);
          const p0 = values(ctor, c.n, g, c.special);
          const grad = values(ctor, c.n, g, c.special);
          const b0 = c.momentum !== 0 ? values(ctor, c.n, g, c.special) : null;
          const run = (be: Backend): [FloatArray, FloatArray | null] => {
            const p = ctor.from(p0);
            const b = b0 && ctor.from(b0);
            be.sgdUpdate(p, grad, b, h);
            return [p, b];
          };
          const [pj, bj] = run(jsBackend);
          const [pw, bw] = run(wasm);
          const what = `sgd ${dtype} n=${c.n} ${JSON.stringify(h)}`;
          if (dtype === "float64") {
            expectSame(pj, pw, `${what}: param`);
            if (bj) expectSame(bj, bw!, `${what}: momentum buffer`);
            return;
          }
          // float32: each step of the formula rounds (lr, μ, 1 − τ and λ too); bound by the terms' magnitudes.
          const u = 2 ** -24;
          const d = (i: number) => Math.abs(grad[i]!) + c.weightDecay * Math.abs(p0[i]!);
          const buf = (i: number) => (b0 && !c.firstStep ? c.momentum * Math.abs(b0[i]!) : 0) + Math.abs(1 - c.dampening) * d(i);
          const step = (i: number) => (b0 ? (nesterov ? d(i) + c.momentum * buf(i) : buf(i)) : d(i));
          if (bj) expectClose(bj, bw!, (i) => 8 * u * buf(i) + 2 ** -140, `${what}: momentum buffer`);
          expectClose(pj, pw, (i) => 4 * u * Math.abs(p0[i]!) + 16 * u * c.lr * step(i) + 2 ** -140, `${what}: param`);
        }),
        { seed: SEED, numRuns: 300 },
      );
    });
  }

  const adamCase = fc.record({
    n: lengths,
    lr: fc.constantFrom(1e-3, 0.01, 0.5),
    betas: fc.constantFrom([0.9, 0.999], [0.8, 0.9], [0, 0.5]),
    eps: fc.constantFrom(1e-8, 1e-3),
    weightDecay: fc.constantFrom(0, 0, 1e-2, 0.3),
    decoupled: fc.boolean(),
    amsgrad: fc.boolean(),
    maximize: fc.boolean(),
    step: fc.constantFrom(1, 2, 3, 10, 1000),
    special: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1e9 }),
  });

  for (const [dtype, ctor] of FLOATS) {
    it(`adamUpdate ${dtype}: Adam, AdamW, amsgrad, maximize, every length${dtype === "float64" ? ": identical" : ": within float32 rounding"}`, () => {
      fc.assert(
        fc.property(adamCase, (c) => {
          const h: AdamUpdate = { lr: c.lr, beta1: c.betas[0]!, beta2: c.betas[1]!, eps: c.eps, weightDecay: c.weightDecay, decoupled: c.decoupled, maximize: c.maximize, step: c.step };
          const g = new Generator(c.seed);
          const p0 = values(ctor, c.n, g, c.special);
          const grad = values(ctor, c.n, g, c.special);
          const m0 = c.step === 1 ? new ctor(c.n) : values(ctor, c.n, g, c.special);
          const v0 = c.step === 1 ? new ctor(c.n) : values(ctor, c.n, g, c.special, true);
          const x0 = c.amsgrad ? (c.step === 1 ? new ctor(c.n) : values(ctor, c.n, g, c.special, true)) : null;
          const run = (be: Backend): FloatArray[] => {
            const p = ctor.from(p0), m = ctor.from(m0), v = ctor.from(v0), x = x0 && ctor.from(x0);
            be.adamUpdate(p, grad, m, v, x, h);
            return x ? [p, m, v, x] : [p, m, v];
          };
          const js = run(jsBackend);
          const w = run(wasm);
          const what = `adam ${dtype} n=${c.n} ${JSON.stringify(h)} amsgrad=${c.amsgrad}`;
          const names = ["param", "expAvg", "expAvgSq", "maxExpAvgSq"];
          if (dtype === "float64") {
            js.forEach((a, k) => expectSame(a, w[k]!, `${what}: ${names[k]}`));
            return;
          }
          const u = 2 ** -24;
          const [b1, b2] = c.betas as [number, number];
          const gg = (i: number) => Math.abs(grad[i]!) + (c.decoupled ? 0 : c.weightDecay * Math.abs(p0[i]!));
          expectClose(js[1]!, w[1]!, (i) => 6 * u * (b1 * Math.abs(m0[i]!) + (1 - b1) * gg(i)) + 2 ** -140, `${what}: expAvg`);
          expectClose(js[2]!, w[2]!, (i) => 8 * u * (b2 * v0[i]! + (1 - b2) * gg(i) ** 2) + 2 ** -140, `${what}: expAvgSq`);
          if (x0) expectClose(js[3]!, w[3]!, (i) => 8 * u * Math.max(x0[i]!, b2 * v0[i]! + (1 - b2) * gg(i) ** 2) + 2 ** -140, `${what}: maxExpAvgSq`);
          // θ − stepSize·m/(√v/bc2 + eps): m's error over the denominator (m may cancel), the
          // denominator's own few roundings, and θ's (after AdamW's decay) rounding.
          const stepSize = c.lr / (1 - b1 ** c.step);
          const bc2 = Math.sqrt(1 - b2 ** c.step);
          const second = x0 ? js[3]! : js[2]!;
          expectClose(js[0]!, w[0]!, (i) => {
            const pd = c.decoupled && c.weightDecay !== 0 ? p0[i]! * (1 - c.lr * c.weightDecay) : p0[i]!;
            const denom = Math.sqrt(second[i]!) / bc2 + c.eps;
            const mMag = b1 * Math.abs(m0[i]!) + (1 - b1) * gg(i);
            return 4 * u * Math.abs(pd) + (16 * u * stepSize * mMag) / denom + 2 ** -140;
          }, `${what}: param`);
        }),
        { seed: SEED, numRuns: 300 },
      );
    });
  }

  it("optimizer kernels update in place whether the arrays live in wasm memory, are plain arrays, or part of a block", () => {
    for (const [, ctor] of FLOATS) {
      for (const n of [1, 5, 64, 130]) {
        const g = new Generator(n);
        const p0 = values(ctor, n, g, false);
        const grad = values(ctor, n, g, false);
        const b0 = values(ctor, n, g, false);
        const m0 = values(ctor, n, g, false);
        const v0 = values(ctor, n, g, false, true);
        const sgd: SGDUpdate = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.01, maximize: false, firstStep: false };
        const adam: AdamUpdate = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, maximize: false, step: 3 };
        const ref = (): FloatArray[] => {
          const [p, b, p2, m, v, x] = [p0, b0, p0, m0, v0, v0].map((a) => ctor.from(a));
          wasm.sgdUpdate(p!, grad, b!, sgd);
          wasm.adamUpdate(p2!, grad, m!, v!, x!, adam);
          return [p!, b!, p2!, m!, v!, x!];
        };
        const expected = ref();
        const layouts: [string, (src: FloatArray) => FloatArray][] = [
          ["resident", (src) => { const a = resident(ctor, n); a.set(src); return a; }],
          ["part of a block", (src) => { const a = resident(ctor, n + 3).subarray(1, n + 1); a.set(src); return a; }],
          ["plain", (src) => ctor.from(src)],
        ];
        for (const [pl, makeP] of layouts) {
          for (const [sl, makeS] of layouts) {
            const gr = pl === "plain" ? ctor.from(grad) : makeP(grad);
            const [p, b, p2, m, v, x] = [makeP(p0), makeS(b0), makeP(p0), makeS(m0), makeS(v0), makeS(v0)];
            wasm.sgdUpdate(p, gr, b, sgd);
            wasm.adamUpdate(p2, gr, m, v, x, adam);
            const what = `${ctor.name} n=${n}, param ${pl}, state ${sl}`;
            [p, b, p2, m, v, x].forEach((a, k) => expectSame(expected[k]!, a, `${what}: array ${k}`));
            expectSame(grad, gr, `${what}: the gradient is not written`);
          }
        }
      }
    }
  });

  it("with the default thresholds, small plain arrays go to the js kernels (identical in float32 too)", () => {
    Object.assign(wasmTuning, savedTuning);
    try {
      const x = Float32Array.from([0.5, -1.25, 3, 20, -7]);
      for (const op of ["softmax", "logSoftmax"] as const) {
        const a = new Float32Array(5), b = new Float32Array(5);
        jsBackend.softmax(op, x, 1, 5, a);
        wasm.softmax(op, x, 1, 5, b);
        expectSame(a, b, op);
      }
      const run = (be: Backend) => {
        const p = Float32Array.from([1, 2, 3]);
        const m = new Float32Array(3), v = new Float32Array(3);
        be.adamUpdate(p, Float32Array.from([0.1, -0.2, 0.3]), m, v, null, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, maximize: false, step: 1 });
        be.sgdUpdate(p, Float32Array.from([0.1, -0.2, 0.3]), null, { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false, firstStep: false });
        return p;
      };
      expectSame(run(jsBackend), run(wasm), "small optimizer steps");
    } finally {
      wasmTuning.minElements = 0;
    }
  });
});

// ------------------------------------------------------------------ the library

describe("softmax and logSoftmax as primitives (last axis)", () => {
  /** The composed forms they replaced. */
  const composedSoftmax = (x: Tensor): Tensor => {
    const e = x.sub(x.detach().max({ axis: -1, keepDim: true })).exp();
    return e.div(e.sum({ axis: -1, keepDim: true }));
  };
  const composedLogSoftmax = (x: Tensor): Tensor => x.sub(x.logsumexp({ axis: -1, keepDim: true }));

  for (const backend of ["js", "wasm"]) {
    it(`forward, gradient and second derivative match the composed formulas (float64, ${backend})`, () => {
      if (backend === "wasm" && !simdSupported()) return;
      setBackend(backend);
      const g = new Generator(5);
      for (const shape of [[7], [3, 5], [2, 3, 9], [4, 1], [130, 3]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const xv = Float64Array.from({ length: n }, () => g.normal() * 2);
        const v = tensor(Float64Array.from({ length: n }, () => g.normal()), { shape, dtype: "float64" });
        const w = tensor(Float64Array.from({ length: n }, () => g.normal()), { shape, dtype: "float64" });
        for (const [name, fused, composed] of [["softmax", softmax, composedSoftmax], ["logSoftmax", logSoftmax, composedLogSoftmax]] as const) {
          const run = (f: (x: Tensor) => Tensor) => {
            const x = tensor(xv, { shape, dtype: "float64", requiresGrad: true });
            const y = f(x);
            const [dx] = gradients(y.mul(w).sum(), [x], { createGraph: true });
            const [hv] = gradients(dx!.mul(v).sum(), [x]);
            return [y, dx!, hv!].map((t) => Float64Array.from(t.data));
          };
          const ours = run(fused);
          const ref = run(composed);
          const close = (a: Float64Array, b: Float64Array, tol: number, what: string) =>
            a.forEach((val, i) => expect(Math.abs(val - b[i]!), `${name} [${shape}] ${what}[${i}]`).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!))));
          close(ours[0]!, ref[0]!, 1e-15, "forward");
          close(ours[1]!, ref[1]!, 1e-14, "gradient");
          close(ours[2]!, ref[2]!, 1e-13, "second derivative");
          expect(gradcheck((x) => fused(x).mul(w).sum(), [tensor(xv, { shape, dtype: "float64", requiresGrad: true })]).ok).toBe(true);
        }
      }
    });
  }

  it("the op is one node over the last axis (any negative or positive spelling); other axes stay composed", () => {
    const x = tensor([[1, 2, 3], [4, 5, 7]], { requiresGrad: true });
    expect(softmax(x).gradFn!.op.name).toBe("softmax");
    expect(softmax(x, 1).gradFn!.op.name).toBe("softmax");
    expect(logSoftmax(x, -1).gradFn!.op.name).toBe("logSoftmax");
    expect(softmax(x, 0).gradFn!.op.name).not.toBe("softmax");
    expect(logSoftmax(x, 0).gradFn!.op.name).not.toBe("logSoftmax");
    const s0 = softmax(x, 0).data;
    expect(Math.abs(s0[0]! - 1 / (1 + Math.exp(3)))).toBeLessThan(1e-7);
  });

  it("integer inputs give float32; empty tensors give empty results", () => {
    const s = softmax(tensor([[1, 2], [3, 3]], { dtype: "int32" }));
    expect(s.dtype).toBe("float32");
    expect(Array.from(s.data)).toEqual([Math.fround(1 / (1 + Math.E)), Math.fround(Math.E / (1 + Math.E)), 0.5, 0.5]);
    expect(logSoftmax(tensor(new Float32Array(0), { shape: [2, 0] })).shape).toEqual([2, 0]);
    expect(softmax(tensor(new Float32Array(0), { shape: [0, 4] })).shape).toEqual([0, 4]);
  });
});

describe.skipIf(!simdSupported())("crossEntropy and the optimizers under setBackend('wasm') and setBackend('js')", () => {
  function onBoth<T>(f: () => T): [T, T] {
    setBackend("js");
    const js = f();
    setBackend("wasm");
    const w = f();
    return [js, w];
  }

  it("crossEntropy [300, 37] float32 with weights, label smoothing and ignored rows: loss and gradient agree", () => {
    const g = new Generator(11);
    const m = 300, c = 37;
    const xv = Float32Array.from({ length: m * c }, () => g.normal() * 4);
    const labels = Int32Array.from({ length: m }, (_, i) => (i % 17 === 3 ? -100 : Math.floor(g.random() * c)));
    const weight = Float32Array.from({ length: c }, () => 0.2 + g.random());
    for (const options of [{}, { labelSmoothing: 0.1 }, { weight: tensor(weight) }, { weight: tensor(weight), labelSmoothing: 0.2, reduction: "sum" as const }, { reduction: "none" as const }]) {
      const [js, w] = onBoth(() => {
        const x = tensor(xv, { shape: [m, c], requiresGrad: true });
        const loss = nn.functional.crossEntropy(x, tensor(labels, { dtype: "int32" }), options);
        const values = Float32Array.from(loss.data);
        loss.sum().backward();
        return { values, grad: Float32Array.from(x.grad!.data) };
      });
      js.values.forEach((v, i) => expect(Math.abs(v - w.values[i]!), `loss ${i} ${JSON.stringify(options)}`).toBeLessThanOrEqual(4e-7 * Math.abs(v) + 1e-7));
      const scale = js.grad.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
      js.grad.forEach((v, i) => expect(Math.abs(v - w.grad[i]!), `grad ${i} ${JSON.stringify(options)}`).toBeLessThanOrEqual(1e-6 * scale));
      for (let n = 0; n < m; n++) if (labels[n] === -100) for (let j = 0; j < c; j++) expect(w.grad[n * c + j]).toBe(0);
    }
  });

  it("crossEntropy float32 at logits in the thousands on the wasm kernel: exact losses", () => {
    setBackend("wasm");
    const saved = wasmTuning.minElements;
    wasmTuning.minElements = 0;
    try {
      for (const label of [0, 1, 2]) {
        const loss = nn.functional.crossEntropy(tensor([[1000, 0, -1000]]), tensor([label], { dtype: "int32" }));
        expect(loss.item()).toBe([0, 1000, 2000][label]);
      }
    } finally {
      wasmTuning.minElements = saved;
    }
  });

  const RULES: [string, (ps: Tensor[]) => optim.Optimizer<optim.Hyperparams>][] = [
    ["SGD", (ps) => new optim.SGD(ps, { lr: 0.1 })],
    ["SGD momentum, dampening, weight decay", (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 })],
    ["SGD nesterov, maximize", (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.8, nesterov: true, maximize: true })],
    ["Adam", (ps) => new optim.Adam(ps, { lr: 0.01 })],
    ["Adam coupled weight decay, amsgrad", (ps) => new optim.Adam(ps, { lr: 0.02, weightDecay: 0.1, amsgrad: true, betas: [0.8, 0.9] })],
    ["AdamW", (ps) => new optim.AdamW(ps, { lr: 0.01 })],
    ["AdamW amsgrad maximize", (ps) => new optim.AdamW(ps, { lr: 0.01, amsgrad: true, maximize: true })],
  ];

  for (const dtype of ["float64", "float32"] as const) {
    for (const [name, make] of RULES) {
      it(`${name} (${dtype}): 6 steps on both backends give ${dtype === "float64" ? "identical" : "close"} parameters and state`, () => {
        const g = new Generator(3);
        const shapes = [[17, 9], [300], [3]];
        const init = shapes.map((s) => Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => g.normal()));
        const grads = Array.from({ length: 6 }, () => shapes.map((s) => Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => g.normal() * 0.1)));
        const [js, w] = onBoth(() => {
          const ps = init.map((v, i) => tensor(v, { shape: shapes[i]!, dtype, requiresGrad: true }));
          const opt = make(ps);
          for (const step of grads) {
            ps.forEach((p, i) => (p.grad = tensor(step[i]!, { shape: shapes[i]!, dtype })));
            opt.step();
          }
          const state = ps.flatMap((p) => Object.values(opt.state.get(p)!).filter((s): s is Float32Array | Float64Array => typeof s !== "number").map((s) => Array.from(s)));
          return { params: ps.map((p) => Array.from(p.data)), state };
        });
        const all = (r: { params: number[][]; state: number[][] }) => [...r.params, ...r.state];
        const [a, b] = [all(js), all(w)];
        expect(b.length).toBe(a.length);
        a.forEach((arr, k) => {
          if (dtype === "float64") expectSame(arr, b[k]!, `${name} array ${k}`);
          else arr.forEach((v, i) => expect(Math.abs(v - b[k]![i]!), `${name} array ${k}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
        });
      });
    }
  }
});

describe("in-place broadcasting binary ops (output aliasing an operand)", () => {
  it("a bias row added in place gives the out-of-place result on both backends", async () => {
    const { getBackend, setBackend } = await import("../src/index.js");
    const before = getBackend().name;
    for (const name of ["js", "wasm"]) {
      try {
        setBackend(name);
      } catch {
        continue; // wasm unavailable here
      }
      const be = getBackend();
      const { randn } = await import("../src/index.js");
      for (const cols of [3, 5, 7, 10, 33]) {
        const rows = 64;
        // Tensors' storage: with the wasm backend, blocks of its memory (read and written in place).
        const x = randn([rows, cols]).data as Float32Array;
        // The bias is followed by other values in memory (the kernel reads whole vectors past its end).
        const bias = (randn([cols + 64]).mul(10).data as Float32Array).subarray(0, cols);
        const ref = randn([rows, cols]).data as Float32Array;
        be.binary("add", x, undefined, bias, [0, 1], ref, [rows, cols]);
        be.binary("add", x, undefined, bias, [0, 1], x, [rows, cols]);
        expect(Array.from(x), `${name} cols=${cols}`).toEqual(Array.from(ref));
      }
    }
    setBackend(before);
  });
});
