/**
 * The normalisation kernels (Backend.normForward/normBackward, assembly/norm.ts) and the
 * training-mode batchNorm/groupNorm primitives built on them:
 * - wasm against the js reference, float32 (~1e-5) and float64 (~1e-12), odd sizes (inner 1, 3,
 *   17; C = 1; N = 1 for group norm), with and without weight and bias, in wasm memory or not;
 * - the kernels against the composed tensor-op formula (forward and backward);
 * - float64 gradcheck of batchNorm and groupNorm, and double backward (createGraph) agreeing
 *   with the composed version.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Backend } from "../src/backend/backend.js";
import { jsBackend } from "../src/backend/js.js";
import { loadWasmBackend, simdSupported, wasmTuning } from "../src/backend/wasm/backend.js";
import { batchNorm, groupNorm } from "../src/nn/functional/normalization.js";
import { add, div, getBackend, gradcheck, gradients, mean, mul, reshape, setBackend, sqrt, square, sub, sum, tensor, type Tensor } from "../src/node.js";

const savedTuning = { ...wasmTuning };
const initialBackend = getBackend().name;
afterEach(() => {
  Object.assign(wasmTuning, savedTuning);
  setBackend(initialBackend);
});

type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;
const FLOATS: [string, FloatCtor, number][] = [["float32", Float32Array, 1e-5], ["float64", Float64Array, 1e-12]];

function values(ctor: FloatCtor, n: number, seed: number, shift = 0): Float32Array | Float64Array {
  const out = new ctor(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 + shift;
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) expect.fail(`${what}: element ${i} is ${a}, expected ${e}`);
  }
}

const wasm: Backend | undefined = (() => {
  if (!simdSupported()) return undefined;
  const load = loadWasmBackend();
  return load.status === "ready" ? load.backend : undefined;
})();

/** [outer, c, inner, groups]: groups 0 is batch norm. */
const CASES: [number, number, number, number][] = [
  [4, 3, 1, 0], [5, 1, 3, 0], [3, 6, 17, 0], [2, 5, 16, 0], [1, 4, 17, 0], [7, 2, 3, 0],
  [1, 6, 17, 3], [2, 6, 1, 2], [1, 1, 3, 1], [3, 8, 17, 4], [2, 4, 5, 4], [1, 5, 16, 1],
];

function runKernels(be: Backend, ctor: FloatCtor, [outer, c, inner, groups]: [number, number, number, number], affine: boolean) {
  const n = outer * c * inner;
  const x = values(ctor, n, 11 + n, 0.7);
  const dy = values(ctor, n, 97 + n);
  const w = affine ? values(ctor, c, 5, 1) : null;
  const b = affine ? values(ctor, c, 6) : null;
  const stats = groups === 0 ? c : outer * groups;
  const out = new ctor(n), mu = new Float64Array(stats), is = new Float64Array(stats);
  be.normForward(x, outer, c, inner, groups, 1e-5, w, b, out, mu, is);
  const dx = new ctor(n), dw = new ctor(c), db = new ctor(c);
  be.normBackward(dy, x, outer, c, inner, groups, mu, is, w, dx, dw, db);
  return { x, dy, w, b, out, mu, is, dx, dw, db };
}

describe.skipIf(wasm === undefined)("normForward/normBackward: wasm against the js reference", () => {
  for (const [dtype, ctor, tol] of FLOATS) {
    for (const affine of [true, false]) {
      it(`${dtype}, ${affine ? "with" : "without"} weight and bias, odd sizes`, () => {
        wasmTuning.minElements = 0;
        for (const cs of CASES) {
          const r = runKernels(jsBackend, ctor, cs, affine);
          const s = runKernels(wasm!, ctor, cs, affine);
          const what = `${dtype} [${cs.join(", ")}]`;
          expectClose(s.mu, r.mu, tol, `${what} mean`);
          expectClose(s.is, r.is, tol, `${what} invstd`);
          expectClose(s.out, r.out, tol, `${what} out`);
          expectClose(s.dx, r.dx, tol, `${what} dx`);
          expectClose(s.dw, r.dw, tol * 10, `${what} dw`);
          expectClose(s.db, r.db, tol * 10, `${what} db`);
        }
      });
    }
  }

  it("tensors that live in wasm memory give the same results (batchNorm and groupNorm ops)", () => {
    wasmTuning.minElements = 0;
    const run = (name: string) => {
      setBackend(name);
      const x = tensor(Array.from(values(Float32Array, 2 * 6 * 17, 3, 0.2))).reshape([2, 6, 17]);
      x.requiresGrad = true;
      const w = tensor(Array.from(values(Float32Array, 6, 4, 1)), { requiresGrad: true });
      const b = tensor(Array.from(values(Float32Array, 6, 5)), { requiresGrad: true });
      const y = add(mul(batchNorm(x, null, null, w, b, { training: true }), 2), groupNorm(x, 3, w, b));
      const [gx, gw, gb] = gradients(sum(mul(y, y)), [x, w, b]);
      return [y, gx!, gw!, gb!].map((t) => Array.from(t.data));
    };
    const r = run("js");
    const s = run("wasm");
    for (let i = 0; i < r.length; i++) expectClose(s[i]!, r[i]!, 1e-5, `output ${i}`);
  });
});

/** The composed forward, as batchNorm and groupNorm were written before the kernels. */
function composedBatchNorm(x: Tensor, w: Tensor | null, b: Tensor | null, eps = 1e-5): Tensor {
  const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  const centered = sub(x, mean(x, { axis: axes, keepDim: true }));
  let y = mul(centered, div(1, sqrt(add(mean(square(centered), { axis: axes, keepDim: true }), eps))));
  if (w !== null) y = mul(y, reshape(w, bshape));
  if (b !== null) y = add(y, reshape(b, bshape));
  return y;
}
function composedGroupNorm(x: Tensor, groups: number, w: Tensor | null, b: Tensor | null, eps = 1e-5): Tensor {
  const n = x.shape[0]!;
  const g = reshape(x, [n, groups, x.size / (n * groups)]);
  const centered = sub(g, mean(g, { axis: 2, keepDim: true }));
  let y = reshape(mul(centered, div(1, sqrt(add(mean(square(centered), { axis: 2, keepDim: true }), eps)))), x.shape);
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  if (w !== null) y = mul(y, reshape(w, bshape));
  if (b !== null) y = add(y, reshape(b, bshape));
  return y;
}

function t64(shape: number[], seed: number, shift = 0): Tensor {
  const n = shape.reduce((a, c) => a * c, 1);
  const t = tensor(Array.from(values(Float64Array, n, seed, shift)), { dtype: "float64" }).reshape(shape);
  t.requiresGrad = true;
  return t;
}

const SHAPES: [number[], number][] = [[[4, 3], 0], [[3, 1, 3], 0], [[2, 4, 17], 0], [[2, 3, 2, 3], 0], [[1, 6, 17], 3], [[2, 4, 3], 2], [[1, 1, 3], 1], [[3, 4, 1], 4]];

for (const backend of ["js", "wasm"]) {
  describe.skipIf(backend === "wasm" && wasm === undefined)(`batchNorm and groupNorm on ${backend}`, () => {
    const apply = (x: Tensor, groups: number, w: Tensor | null, b: Tensor | null): Tensor =>
      groups === 0 ? batchNorm(x, null, null, w, b, { training: true }) : groupNorm(x, groups, w, b);
    const composed = (x: Tensor, groups: number, w: Tensor | null, b: Tensor | null): Tensor =>
      groups === 0 ? composedBatchNorm(x, w, b) : composedGroupNorm(x, groups, w, b);

    it("agree with the composed formula, forward and backward (float64)", () => {
      setBackend(backend);
      wasmTuning.minElements = 0;
      for (const [shape, groups] of SHAPES) {
        for (const affine of [true, false]) {
          const c = shape[1]!;
          const x = t64(shape, 7, 0.3), w = affine ? t64([c], 8, 1) : null, b = affine ? t64([c], 9) : null;
          const gy = t64(shape, 10);
          const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
          const y1 = apply(x, groups, w, b), y2 = composed(x, groups, w, b);
          expectClose(y1.data, y2.data, 1e-12, `forward ${shape} g${groups}`);
          const g1 = gradients(sum(mul(y1, gy)), inputs), g2 = gradients(sum(mul(y2, gy)), inputs);
          g1.forEach((g, i) => expectClose(g.data, g2[i]!.data, 1e-11, `grad ${i} ${shape} g${groups}`));
        }
      }
    });

    it("pass a float64 gradcheck, with and without weight and bias", () => {
      setBackend(backend);
      wasmTuning.minElements = 0;
      for (const [shape, groups] of SHAPES) {
        const c = shape[1]!;
        const x = t64(shape, 21, 0.5), w = t64([c], 22, 1), b = t64([c], 23);
        const gy = t64(shape, 24);
        const check = (f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) => {
          const report = gradcheck(f, inputs);
          expect(report.ok, report.message).toBe(true);
        };
        check((xx, ww, bb) => sum(mul(apply(xx!, groups, ww!, bb!), gy)), [x, w, b]);
        check((xx) => sum(mul(apply(xx!, groups, null, null), gy)), [x]);
        check((xx, ww) => sum(mul(apply(xx!, groups, ww!, null), gy)), [x, w]);
      }
    });

    it("double backward (createGraph) agrees with the composed version", () => {
      setBackend(backend);
      wasmTuning.minElements = 0;
      for (const [shape, groups] of SHAPES) {
        const c = shape[1]!;
        const x = t64(shape, 31, 0.5), w = t64([c], 32, 1), b = t64([c], 33);
        const gy = t64(shape, 34);
        const second = (f: typeof apply) => {
          const [gx, gw] = gradients(sum(mul(square(f(x, groups, w, b)), gy)), [x, w], { createGraph: true });
          return gradients(add(sum(square(gx!)), sum(mul(gw!, gw!))), [x, w, b]);
        };
        const k = second(apply), r = second(composed);
        k.forEach((g, i) => expectClose(g.data, r[i]!.data, 1e-9, `second-order grad ${i} ${shape} g${groups}`));
      }
    });
  });
}
