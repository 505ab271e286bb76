/**
 * Convolution and pooling: the kernels (im2col, col2im, maxPool2d, avgPool2d and its adjoint)
 * and the ops built on them (conv2d, maxPool2d, avgPool2d).
 *
 * - Kernels against definitions written here (naive loops), and the wasm kernels against the
 *   js reference bit for bit (the wasm ones copy, or add in the reference's order), for
 *   float32 and float64, random geometries (fast-check, seeded: strides, paddings larger than
 *   the kernel, dilations, non-square windows), operands at offsets inside larger arrays, in
 *   wasm memory or not; the size thresholds of the wasm backend are 0 so every wasm path runs.
 * - Ops in float64 against a naive direct convolution / pooling, gradcheck of x, weight and
 *   bias, second derivatives (createGraph) through every backward op, on both backends.
 * - Kink and edge rules: ties in max pooling (the first maximum gets the gradient, as PyTorch),
 *   NaN, ceil mode, count_include_pad, unbatched input, groups, 1×1 kernels, empty batches.
 * - Errors name the op, the argument and the shapes.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Backend, Window2d } from "../src/backend/backend.js";
import { jsBackend } from "../src/backend/js.js";
import { loadWasmBackend, simdSupported, wasmTuning } from "../src/backend/wasm/backend.js";
import {
  ShapeError,
  ValueError,
  Generator,
  enableGrad,
  avgPool2d,
  conv2d,
  getBackend,
  gradcheck,
  gradients,
  maxPool2d,
  setBackend,
  tensor,
  type Tensor,
} from "../src/index.js";

const SEED = 20261214;
const initialBackend = getBackend().name;
const savedTuning = { ...wasmTuning };
beforeAll(() => {
  wasmTuning.minElements = 0;
  wasmTuning.minMatmulMacs = 0;
});
afterAll(() => Object.assign(wasmTuning, savedTuning));
afterEach(() => setBackend(initialBackend));

const BACKENDS = simdSupported() ? ["js", "wasm"] : ["js"];

type FloatArray = Float32Array | Float64Array;
type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;
const FLOATS: ["float32" | "float64", FloatCtor][] = [["float32", Float32Array], ["float64", Float64Array]];

const show = (v: number | undefined): string => (Object.is(v, -0) ? "-0" : String(v));
/** Bit for bit, NaN equal to NaN. */
function expectSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(b.length, `${what}: length`).toBe(a.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) expect.fail(`${what}: element ${i}: ${show(a[i])} vs ${show(b[i])}`);
  }
}
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) expect.fail(`${what}: element ${i} is ${a}, expected ${e} (|diff| ${Math.abs(a - e)})`);
  }
}
function values(ctor: FloatCtor, n: number, g: Generator, integers = false): FloatArray {
  const x = new ctor(n);
  for (let i = 0; i < n; i++) x[i] = integers ? Math.floor(g.random() * 7) - 3 : g.normal();
  return x;
}

const convOut = (n: number, k: number, s: number, p: number, d: number): number => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

// ------------------------------------------------------------------ definitions written out

/** im2col by its definition: cols[(ch, a, b), (i, j)] = x[ch, i·sH − pH + a·dH, j·sW − pW + b·dW] or 0. */
function naiveIm2col(x: ArrayLike<number>, xOffset: number, g: Window2d): number[] {
  const out: number[] = [];
  for (let ch = 0; ch < g.c; ch++)
    for (let a = 0; a < g.kh; a++)
      for (let b = 0; b < g.kw; b++)
        for (let i = 0; i < g.outH; i++)
          for (let j = 0; j < g.outW; j++) {
            const ih = i * g.strideH - g.padH + a * g.dilH;
            const iw = j * g.strideW - g.padW + b * g.dilW;
            out.push(ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? x[xOffset + (ch * g.h + ih) * g.w + iw]! : 0);
          }
  return out;
}

/** Direct convolution, float64: out[n, o, i, j] = bias[o] + Σ x[n, group(o)·cg + c, …]·w[o, c, a, b]. */
function naiveConv(
  x: ArrayLike<number>, [n, c, h, w]: number[], wt: ArrayLike<number>, [o, cg, kh, kw]: number[], bias: ArrayLike<number> | null,
  [sh, sw]: number[], [ph, pw]: number[], [dh, dw]: number[], groups: number,
): { data: number[]; shape: number[] } {
  const oh = convOut(h!, kh!, sh!, ph!, dh!), ow = convOut(w!, kw!, sw!, pw!, dw!);
  const og = o! / groups;
  const data: number[] = [];
  for (let b = 0; b < n!; b++)
    for (let f = 0; f < o!; f++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = bias ? bias[f]! : 0;
          const g0 = Math.floor(f / og) * cg!;
          for (let cc = 0; cc < cg!; cc++)
            for (let a = 0; a < kh!; a++)
              for (let q = 0; q < kw!; q++) {
                const ih = i * sh! - ph! + a * dh!, iw = j * sw! - pw! + q * dw!;
                if (ih < 0 || ih >= h! || iw < 0 || iw >= w!) continue;
                s += x[((b * c! + g0 + cc) * h! + ih) * w! + iw]! * wt[((f * cg! + cc) * kh! + a) * kw! + q]!;
              }
          data.push(s);
        }
  return { data, shape: [n!, o!, oh, ow] };
}

/** PyTorch's pooling output size. */
function poolOut(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let out = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

/** Max pooling by its definition (PyTorch's CPU rule: from −∞, a larger value or a NaN takes over; the first maximum wins ties). */
function naiveMaxPool(x: ArrayLike<number>, g: Window2d): { values: number[]; indices: number[] } {
  const values: number[] = [], indices: number[] = [];
  for (let p = 0; p < g.c; p++)
    for (let i = 0; i < g.outH; i++)
      for (let j = 0; j < g.outW; j++) {
        let best = -Infinity, at = -1;
        for (let a = 0; a < g.kh; a++)
          for (let b = 0; b < g.kw; b++) {
            const ih = i * g.strideH - g.padH + a * g.dilH, iw = j * g.strideW - g.padW + b * g.dilW;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
            const v = x[p * g.h * g.w + ih * g.w + iw]!;
            if (at < 0) at = ih * g.w + iw;
            if (v > best || Number.isNaN(v)) {
              best = v;
              at = ih * g.w + iw;
            }
          }
        values.push(best);
        indices.push(at);
      }
  return { values, indices };
}

/** Average pooling by PyTorch's formula: the window clipped to the padded input sets the divisor (countIncludePad), then to the input. */
function naiveAvgPool(x: ArrayLike<number>, g: Window2d, includePad: boolean): number[] {
  const out: number[] = [];
  for (let p = 0; p < g.c; p++)
    for (let i = 0; i < g.outH; i++)
      for (let j = 0; j < g.outW; j++) {
        const hs = i * g.strideH - g.padH, ws = j * g.strideW - g.padW;
        const he = Math.min(hs + g.kh, g.h + g.padH), we = Math.min(ws + g.kw, g.w + g.padW);
        let s = 0, count = 0;
        for (let r = Math.max(hs, 0); r < Math.min(he, g.h); r++)
          for (let q = Math.max(ws, 0); q < Math.min(we, g.w); q++) {
            s += x[p * g.h * g.w + r * g.w + q]!;
            count++;
          }
        out.push(count === 0 ? 0 : s / (includePad ? (he - hs) * (we - ws) : count));
      }
  return out;
}

// ------------------------------------------------------------------ kernels

/** A conv geometry (any padding, dilation, stride) with at least one output position. */
const convGeometry = fc
  .record({
    c: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 11 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    strideH: fc.integer({ min: 1, max: 3 }),
    strideW: fc.integer({ min: 1, max: 3 }),
    padH: fc.integer({ min: 0, max: 3 }),
    padW: fc.integer({ min: 0, max: 3 }),
    dilH: fc.integer({ min: 1, max: 3 }),
    dilW: fc.integer({ min: 1, max: 3 }),
  })
  .map((r): Window2d => ({ ...r, outH: convOut(r.h, r.kh, r.strideH, r.padH, r.dilH), outW: convOut(r.w, r.kw, r.strideW, r.padW, r.dilW) }))
  .filter((g) => g.outH >= 1 && g.outW >= 1);

/** A pooling geometry: padding at most half the kernel, floor or ceil mode, every window touching the input (max pooling's rule). */
const poolGeometry = fc
  .record({
    c: fc.integer({ min: 1, max: 5 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 10 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    strideH: fc.integer({ min: 1, max: 3 }),
    strideW: fc.integer({ min: 1, max: 3 }),
    padH: fc.integer({ min: 0, max: 2 }),
    padW: fc.integer({ min: 0, max: 2 }),
    dilH: fc.integer({ min: 1, max: 2 }),
    dilW: fc.integer({ min: 1, max: 2 }),
    ceil: fc.boolean(),
  })
  .filter((r) => r.padH <= r.kh / 2 && r.padW <= r.kw / 2)
  .map((r): Window2d => ({ ...r, outH: poolOut(r.h, r.kh, r.strideH, r.padH, r.dilH, r.ceil), outW: poolOut(r.w, r.kw, r.strideW, r.padW, r.dilW, r.ceil) }))
  .filter((g) => g.outH >= 1 && g.outW >= 1 && naiveMaxPool(new Float64Array(g.c * g.h * g.w), g).indices.every((i) => i >= 0));

/** Average pooling has no dilation. */
const avgGeometry = poolGeometry.map((g) => ({ ...g, dilH: 1, dilW: 1 })).filter((g) => g.outH >= 1 && g.outW >= 1);

describe("convolution and pooling kernels: js reference against definitions, wasm against js", () => {
  let wasm: Backend | undefined;
  beforeAll(() => {
    const load = simdSupported() ? loadWasmBackend() : undefined;
    if (load && load.status !== "ready") throw new Error(`wasm backend did not load: ${JSON.stringify(load)}`);
    wasm = load?.backend;
  });
  /** n elements of ctor in wasm memory where the wasm backend keeps tensors there (else a plain array). */
  function resident(ctor: FloatCtor, n: number): FloatArray {
    const a = wasm?.allocator?.allocate(ctor === Float32Array ? "float32" : "float64", n, true, false);
    return (a as FloatArray | undefined) ?? new ctor(n);
  }
  const kinds = ["plain", "resident"] as const;
  const make = (kind: (typeof kinds)[number], ctor: FloatCtor, from: ArrayLike<number>): FloatArray => {
    const a = kind === "plain" ? new ctor(from.length) : resident(ctor, from.length);
    a.set(from);
    return a;
  };

  for (const [dtype, ctor] of FLOATS) {
    it(`im2col ${dtype}: the definition, at offsets inside larger arrays, touching nothing else`, () => {
      fc.assert(
        fc.property(convGeometry, fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.integer(), fc.constantFrom(...kinds), (g, xOff, cOff, seed, kind) => {
          const gen = new Generator(seed);
          const n = g.c * g.h * g.w;
          const total = g.c * g.kh * g.kw * g.outH * g.outW;
          const x = values(ctor, xOff + n + 3, gen);
          const expected = naiveIm2col(x, xOff, g);
          for (const be of wasm ? [jsBackend, wasm] : [jsBackend]) {
            const cols = make(kind, ctor, new ctor(cOff + total + 4).fill(7.5));
            be.im2col(make(kind, ctor, x), xOff, g, cols, cOff);
            const what = `im2col ${be.name} ${kind} ${JSON.stringify(g)}`;
            expectSame(cols.subarray(cOff, cOff + total), ctor.from(expected), what);
            expect([...cols.subarray(0, cOff), ...cols.subarray(cOff + total)].every((v) => v === 7.5), `${what}: wrote outside its block`).toBe(true);
          }
        }),
        { seed: SEED, numRuns: 150 },
      );
    });

    it(`col2im ${dtype}: adds every column back where im2col read it (the adjoint); wasm identical to js`, () => {
      fc.assert(
        fc.property(convGeometry, fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.integer(), fc.constantFrom(...kinds), (g, xOff, cOff, seed, kind) => {
          const gen = new Generator(seed);
          const n = g.c * g.h * g.w;
          const total = g.c * g.kh * g.kw * g.outH * g.outW;
          const cols = values(ctor, cOff + total, gen, true);
          const x0 = values(ctor, xOff + n + 3, gen, true);
          // Integer values: every sum is exact, so the expected image is the definition's.
          const expected = Array.from(x0);
          const probe = new Float64Array(x0.length);
          for (let k = 0; k < n; k++) {
            probe.fill(0);
            probe[xOff + k] = 1;
            const pick = naiveIm2col(probe, xOff, g);
            for (let r = 0; r < total; r++) if (pick[r] === 1) expected[xOff + k]! += cols[cOff + r]!;
          }
          for (const be of wasm ? [jsBackend, wasm] : [jsBackend]) {
            const x = make(kind, ctor, x0);
            be.col2im(make(kind, ctor, cols), cOff, g, x, xOff);
            expectSame(x, ctor.from(expected), `col2im ${be.name} ${kind} ${JSON.stringify(g)}`);
          }
          // Arbitrary floats: wasm adds in the reference's order, so the results are identical.
          const fx = values(ctor, xOff + n, gen), fcols = values(ctor, cOff + total, gen);
          if (wasm) {
            const [a, b] = [make(kind, ctor, fx), make(kind, ctor, fx)];
            jsBackend.col2im(fcols, cOff, g, a, xOff);
            wasm.col2im(make(kind, ctor, fcols), cOff, g, b, xOff);
            expectSame(a, b, `col2im floats ${kind} ${JSON.stringify(g)}`);
          }
        }),
        { seed: SEED, numRuns: 100 },
      );
    });

    it(`maxPool2d ${dtype}: values and first-max indices by the definition, with ties and NaN; wasm identical`, () => {
      fc.assert(
        fc.property(poolGeometry, fc.integer(), fc.constantFrom(...kinds), fc.constantFrom(0, 0, 0.1), (g, seed, kind, nanRate) => {
          const gen = new Generator(seed);
          const n = g.c * g.h * g.w;
          // Small integers: many ties; sometimes NaN.
          const x = values(ctor, n, gen, true).map((v) => (gen.random() < nanRate ? NaN : v));
          const expected = naiveMaxPool(x, g);
          for (const be of wasm ? [jsBackend, wasm] : [jsBackend]) {
            const m = g.c * g.outH * g.outW;
            const out = make(kind, ctor, new ctor(m));
            const indices = new Int32Array(m);
            be.maxPool2d(make(kind, ctor, x), g, out, indices);
            const what = `maxPool2d ${be.name} ${kind} ${JSON.stringify(g)}`;
            expectSame(out, ctor.from(expected.values), `${what}: values`);
            expectSame(indices, expected.indices, `${what}: indices`);
          }
        }),
        { seed: SEED, numRuns: 150 },
      );
    });

    it(`avgPool2d ${dtype} and its adjoint: PyTorch's divisors (count_include_pad, ceil mode), wasm identical`, () => {
      fc.assert(
        fc.property(avgGeometry, fc.boolean(), fc.integer(), fc.constantFrom(...kinds), (g, includePad, seed, kind) => {
          const gen = new Generator(seed);
          const n = g.c * g.h * g.w, m = g.c * g.outH * g.outW;
          const x = values(ctor, n, gen);
          const expected = naiveAvgPool(x, g, includePad);
          const gradOut = values(ctor, m, gen);
          const base = values(ctor, n, gen);
          const outs: FloatArray[] = [], grads: FloatArray[] = [];
          for (const be of wasm ? [jsBackend, wasm] : [jsBackend]) {
            const out = make(kind, ctor, new ctor(m).fill(9));
            be.avgPool2d(make(kind, ctor, x), g, out, includePad);
            expectClose(out, expected, dtype === "float32" ? 1e-6 : 1e-14, `avgPool2d ${be.name} ${kind} ${JSON.stringify(g)} includePad ${includePad}`);
            const gi = make(kind, ctor, base);
            be.avgPool2dBackward(make(kind, ctor, gradOut), g, gi, includePad);
            outs.push(out);
            grads.push(gi);
          }
          if (outs.length === 2) {
            expectSame(outs[0]!, outs[1]!, `avgPool2d wasm vs js ${kind} ${JSON.stringify(g)}`);
            expectSame(grads[0]!, grads[1]!, `avgPool2dBackward wasm vs js ${kind} ${JSON.stringify(g)}`);
          }
          // The adjoint: <avgPool(x), gOut> = <x, avgPoolBackward(gOut)> (the base it added into subtracted).
          const lhs = expected.reduce((s, v, i) => s + v * gradOut[i]!, 0);
          const rhs = Array.from(grads[0]!).reduce((s, v, i) => s + (v - base[i]!) * x[i]!, 0);
          expect(Math.abs(lhs - rhs)).toBeLessThan(dtype === "float32" ? 1e-4 * (1 + Math.abs(lhs)) : 1e-12 * (1 + Math.abs(lhs)));
        }),
        { seed: SEED, numRuns: 150 },
      );
    });
  }

  it("im2col and col2im of a batch image inside a larger tensor, and larger sizes (the SIMD runs)", () => {
    const g: Window2d = { c: 3, h: 37, w: 45, kh: 3, kw: 5, strideH: 1, strideW: 1, padH: 1, padW: 2, dilH: 1, dilW: 1, outH: 37, outW: 45 };
    const gen = new Generator(3);
    for (const [, ctor] of FLOATS) {
      const n = g.c * g.h * g.w, total = g.c * g.kh * g.kw * g.outH * g.outW;
      const x = values(ctor, 3 * n, gen);
      const expected = naiveIm2col(x, n, g);
      for (const be of wasm ? [jsBackend, wasm] : [jsBackend]) {
        const cols = new ctor(total);
        be.im2col(x, n, g, cols, 0);
        expectSame(cols, ctor.from(expected), `im2col ${be.name}`);
      }
      if (wasm) {
        const cols = values(ctor, total, gen);
        const a = values(ctor, 3 * n, gen), b = ctor.from(a);
        jsBackend.col2im(cols, 0, g, a, n);
        wasm.col2im(cols, 0, g, b, n);
        expectSame(a, b, "col2im large");
      }
    }
  });
});

// ------------------------------------------------------------------ ops

const arr = (gen: Generator, n: number): Float64Array => Float64Array.from({ length: n }, () => gen.normal());
const t64 = (data: ArrayLike<number>, shape: number[], requiresGrad = false): Tensor => tensor(Array.from(data), { shape, dtype: "float64", requiresGrad });
const gradcheckOk = (f: (...ts: Tensor[]) => Tensor, inputs: Tensor[]): void => {
  const report = gradcheck(f, inputs);
  expect(report.ok, report.message).toBe(true);
};

const convCase = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  cPerGroup: fc.integer({ min: 1, max: 3 }),
  oPerGroup: fc.integer({ min: 1, max: 3 }),
  groups: fc.constantFrom(1, 1, 2, 3),
  h: fc.integer({ min: 1, max: 8 }),
  w: fc.integer({ min: 1, max: 8 }),
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 4 }),
  stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
  dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  bias: fc.boolean(),
  seed: fc.integer(),
}).filter((c) => convOut(c.h, c.kh, c.stride[0], c.padding[0], c.dilation[0]) >= 1 && convOut(c.w, c.kw, c.stride[1], c.padding[1], c.dilation[1]) >= 1);

for (const backend of BACKENDS) {
  describe(`conv2d on ${backend}`, () => {
    it("forward (float64) equals a direct convolution for random shapes, strides, paddings, dilations, groups", () => {
      setBackend(backend);
      fc.assert(
        fc.property(convCase, (c) => {
          const gen = new Generator(c.seed);
          const C = c.cPerGroup * c.groups, O = c.oPerGroup * c.groups;
          const xs = [c.n, C, c.h, c.w], ws = [O, c.cPerGroup, c.kh, c.kw];
          const x = arr(gen, c.n * C * c.h * c.w), w = arr(gen, O * c.cPerGroup * c.kh * c.kw), b = c.bias ? arr(gen, O) : null;
          const y = conv2d(t64(x, xs), t64(w, ws), b && t64(b, [O]), { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
          const ref = naiveConv(x, xs, w, ws, b, c.stride, c.padding, c.dilation, c.groups);
          expect(y.shape).toEqual(ref.shape);
          expect(y.dtype).toBe("float64");
          expectClose(y.data, ref.data, 1e-12, `conv2d ${JSON.stringify(c)}`);
        }),
        { seed: SEED, numRuns: 120 },
      );
    });

    it("gradcheck (float64) of x, weight and bias", () => {
      setBackend(backend);
      fc.assert(
        fc.property(convCase, (c) => {
          const gen = new Generator(c.seed);
          const C = c.cPerGroup * c.groups, O = c.oPerGroup * c.groups;
          const x = t64(arr(gen, c.n * C * c.h * c.w), [c.n, C, c.h, c.w], true);
          const w = t64(arr(gen, O * c.cPerGroup * c.kh * c.kw), [O, c.cPerGroup, c.kh, c.kw], true);
          const b = t64(arr(gen, O), [O], true);
          const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
          if (c.bias) gradcheckOk((x, w, b) => conv2d(x!, w!, b!, opts), [x, w, b]);
          else gradcheckOk((x, w) => conv2d(x!, w!, null, opts), [x, w]);
        }),
        { seed: SEED + 1, numRuns: 25 },
      );
    });

    it("second derivatives (createGraph): the gradient ops differentiate into each other", () => {
      setBackend(backend);
      const gen = new Generator(11);
      for (const [opts, xs, ws] of [
        [{ padding: 1 }, [2, 3, 5, 4], [2, 3, 3, 3]],
        [{ stride: [2, 1], padding: [0, 2], dilation: [1, 2], groups: 2 }, [1, 4, 6, 5], [4, 2, 2, 3]],
        [{}, [2, 3, 3, 3], [2, 3, 1, 1]],
      ] as const) {
        const O = ws[0];
        const v = t64(arr(gen, 200), [200]);
        const [r1, r2, r3] = [t64(arr(gen, (xs as readonly number[]).reduce((a, b) => a * b)), [...xs]), t64(arr(gen, (ws as readonly number[]).reduce((a, b) => a * b)), [...ws]), t64(arr(gen, O), [O])];
        // F = <dL/dx, r1> + <dL/dW, r2> + <dL/db, r3> with L = Σ v ⊙ conv(x, W, b)²: its gradient is the second derivatives.
        // (enableGrad: gradcheck evaluates f under noGrad for its finite differences.)
        const f = (x: Tensor, w: Tensor, b: Tensor): Tensor => enableGrad(() => {
          const y = conv2d(x, w, b, opts);
          const l = y.mul(y).mul(v.slice(0, 0, y.size).reshape(y.shape)).sum();
          const [dx, dw, db] = gradients(l, [x, w, b], { createGraph: true });
          return dx!.mul(r1).sum().add(dw!.mul(r2).sum()).add(db!.mul(r3).sum());
        });
        gradcheckOk(f, [t64(arr(gen, r1.size), [...xs], true), t64(arr(gen, r2.size), [...ws], true), t64(arr(gen, O), [O], true)]);
      }
    });

    it("an unbatched [C, H, W] input, int inputs (float32), 1×1 kernels, float32 close to float64, an empty batch", () => {
      setBackend(backend);
      const gen = new Generator(5);
      const x = arr(gen, 3 * 4 * 5), w = arr(gen, 2 * 3 * 2 * 2);
      const y3 = conv2d(t64(x, [3, 4, 5]), t64(w, [2, 3, 2, 2]), null, { padding: [1, 0] });
      const y4 = conv2d(t64(x, [1, 3, 4, 5]), t64(w, [2, 3, 2, 2]), null, { padding: [1, 0] });
      expect(y3.shape).toEqual([2, 5, 4]);
      expectSame(y3.data, y4.data, "unbatched");

      const xi = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { shape: [1, 1, 3, 3], dtype: "int32" });
      const yi = conv2d(xi, tensor([[[[1, 0], [0, -1]]]], { dtype: "int32" }));
      expect(yi.dtype).toBe("float32");
      expect(Array.from(yi.data)).toEqual([-4, -4, -4, -4]);

      // 1×1, stride 1, no padding: the image is its own column matrix.
      const x1 = arr(gen, 2 * 4 * 3 * 3), w1 = arr(gen, 6 * 2 * 1 * 1), b1 = arr(gen, 6);
      const y1 = conv2d(t64(x1, [2, 4, 3, 3]), t64(w1, [6, 2, 1, 1]), t64(b1, [6]), { groups: 2 });
      expect(y1.shape).toEqual([2, 6, 3, 3]);
      expectClose(y1.data, naiveConv(x1, [2, 4, 3, 3], w1, [6, 2, 1, 1], b1, [1, 1], [0, 0], [1, 1], 2).data, 1e-12, "1×1");
      gradcheckOk((x, w, b) => conv2d(x!, w!, b!, { groups: 2 }), [t64(x1, [2, 4, 3, 3], true), t64(w1, [6, 2, 1, 1], true), t64(b1, [6], true)]);

      const x32 = tensor(Float32Array.from(arr(gen, 2 * 3 * 9 * 7)), { shape: [2, 3, 9, 7] });
      const w32 = tensor(Float32Array.from(arr(gen, 4 * 3 * 3 * 2)), { shape: [4, 3, 3, 2] });
      const y32 = conv2d(x32, w32, null, { stride: 2, padding: 1 });
      const y64 = conv2d(x32.to("float64"), w32.to("float64"), null, { stride: 2, padding: 1 });
      expect(y32.dtype).toBe("float32");
      expectClose(y32.data, y64.data, 1e-5, "float32");

      const x0 = tensor(new Float64Array(0), { shape: [0, 3, 4, 4], dtype: "float64", requiresGrad: true });
      const w0 = t64(arr(gen, 2 * 3 * 3 * 3), [2, 3, 3, 3], true);
      const y0 = conv2d(x0, w0, null, { padding: 1 });
      expect(y0.shape).toEqual([0, 2, 4, 4]);
      y0.sum().backward();
      expect(x0.grad!.shape).toEqual([0, 3, 4, 4]);
      expect(Array.from(w0.grad!.data).every((v) => v === 0)).toBe(true);
    });
  });

  describe(`maxPool2d and avgPool2d on ${backend}`, () => {
    const poolCase = fc.record({
      n: fc.integer({ min: 1, max: 3 }),
      c: fc.integer({ min: 1, max: 3 }),
      h: fc.integer({ min: 1, max: 8 }),
      w: fc.integer({ min: 1, max: 8 }),
      k: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 })),
      stride: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { nil: undefined }),
      padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
      dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
      ceilMode: fc.boolean(),
      countIncludePad: fc.boolean(),
      seed: fc.integer(),
    }).filter((c) => c.padding[0] <= c.k[0] / 2 && c.padding[1] <= c.k[1] / 2);
    type PoolCase = typeof poolCase extends fc.Arbitrary<infer T> ? T : never;
    const geometry = (c: PoolCase, dilation: readonly number[]): Window2d => {
      const s = c.stride ?? c.k;
      return {
        c: c.n * c.c, h: c.h, w: c.w, kh: c.k[0], kw: c.k[1], strideH: s[0], strideW: s[1], padH: c.padding[0], padW: c.padding[1], dilH: dilation[0]!, dilW: dilation[1]!,
        outH: poolOut(c.h, c.k[0], s[0], c.padding[0], dilation[0]!, c.ceilMode), outW: poolOut(c.w, c.k[1], s[1], c.padding[1], dilation[1]!, c.ceilMode),
      };
    };
    const valid = (g: Window2d, max: boolean): boolean => g.outH >= 1 && g.outW >= 1 && (!max || naiveMaxPool(new Float64Array(g.c * g.h * g.w), g).indices.every((i) => i >= 0));

    it("forward (float64) equals the definitions; gradcheck of x (distinct values)", () => {
      setBackend(backend);
      fc.assert(
        fc.property(poolCase, (c) => {
          const gen = new Generator(c.seed);
          const shape = [c.n, c.c, c.h, c.w];
          const x = arr(gen, c.n * c.c * c.h * c.w);
          const gMax = geometry(c, c.dilation);
          if (valid(gMax, true)) {
            const opts = { kernelSize: c.k, stride: c.stride, padding: c.padding, dilation: c.dilation, ceilMode: c.ceilMode };
            const y = maxPool2d(t64(x, shape), opts);
            expect(y.shape).toEqual([c.n, c.c, gMax.outH, gMax.outW]);
            expectSame(y.data, naiveMaxPool(x, gMax).values, `maxPool2d ${JSON.stringify(c)}`);
            gradcheckOk((x) => maxPool2d(x!, opts), [t64(x, shape, true)]);
          }
          const gAvg = geometry(c, [1, 1]);
          if (valid(gAvg, false)) {
            const opts = { kernelSize: c.k, stride: c.stride, padding: c.padding, ceilMode: c.ceilMode, countIncludePad: c.countIncludePad };
            const y = avgPool2d(t64(x, shape), opts);
            expect(y.shape).toEqual([c.n, c.c, gAvg.outH, gAvg.outW]);
            expectClose(y.data, naiveAvgPool(x, gAvg, c.countIncludePad), 1e-14, `avgPool2d ${JSON.stringify(c)}`);
            gradcheckOk((x) => avgPool2d(x!, opts), [t64(x, shape, true)]);
          }
        }),
        { seed: SEED + 2, numRuns: 60 },
      );
    });

    it("ties: the whole gradient goes to the first maximum of each window (PyTorch's argmax); overlapping windows add up", () => {
      setBackend(backend);
      const x = tensor([[[[1, 3, 3, 0], [3, 2, 1, 3], [0, 0, 5, 5], [0, 0, 5, 5]]]], { dtype: "float64", requiresGrad: true });
      const y = maxPool2d(x, { kernelSize: 2 });
      expect(Array.from(y.data)).toEqual([3, 3, 0, 5]);
      y.sum().backward();
      expect(Array.from(x.grad!.data)).toEqual([0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
      // Stride 1: the centre is the maximum of all four windows.
      const z = tensor([[[[0, 1, 0], [1, 9, 1], [0, 1, 0]]]], { dtype: "float64", requiresGrad: true });
      maxPool2d(z, { kernelSize: 2, stride: 1 }).sum().backward();
      expect(Array.from(z.grad!.data)).toEqual([0, 0, 0, 0, 4, 0, 0, 0, 0]);
    });

    it("padding: −∞ for max pooling; count_include_pad and ceil mode for average pooling, as PyTorch", () => {
      setBackend(backend);
      const x = tensor([[[[-1, -2, -3], [-4, -5, -6], [-7, -8, -9]]]], { dtype: "float64" });
      expect(Array.from(maxPool2d(x, { kernelSize: 2, padding: 1 }).data)).toEqual([-1, -2, -4, -5]);
      const ones = tensor(new Float64Array(9).fill(1), { shape: [1, 1, 3, 3], dtype: "float64" });
      // PyTorch: avg_pool2d(ones(1,1,3,3), 2, padding=1) = [[.25, .5], [.5, 1]]; count_include_pad=False gives ones.
      expect(Array.from(avgPool2d(ones, { kernelSize: 2, padding: 1 }).data)).toEqual([0.25, 0.5, 0.5, 1]);
      expect(Array.from(avgPool2d(ones, { kernelSize: 2, padding: 1, countIncludePad: false }).data)).toEqual([1, 1, 1, 1]);
      // Ceil mode: a last, partial window (3 = 2 + 1), divided by the part inside the padded input.
      const r = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { shape: [1, 1, 3, 3], dtype: "float64" });
      expect(Array.from(avgPool2d(r, { kernelSize: 2, ceilMode: true }).data)).toEqual([3, 4.5, 7.5, 9]);
      expect(Array.from(maxPool2d(r, { kernelSize: 2, ceilMode: true }).data)).toEqual([5, 6, 8, 9]);
      expect(maxPool2d(r, { kernelSize: 2 }).shape).toEqual([1, 1, 1, 1]);
    });

    it("second derivatives (createGraph) through both pooling backwards; NaN propagates; unbatched and int inputs", () => {
      setBackend(backend);
      const gen = new Generator(8);
      const v = t64(arr(gen, 200), [200]);
      const r = t64(arr(gen, 2 * 3 * 6 * 5), [2, 3, 6, 5]);
      for (const pool of [(x: Tensor) => maxPool2d(x, { kernelSize: 2, stride: 2, padding: 1 }), (x: Tensor) => avgPool2d(x, { kernelSize: [2, 3], stride: 2, padding: 1, countIncludePad: false })]) {
        // (enableGrad: gradcheck evaluates f under noGrad for its finite differences.)
        const f = (x: Tensor): Tensor => enableGrad(() => {
          const y = pool(x);
          const [dx] = gradients(y.mul(y).mul(v.slice(0, 0, y.size).reshape(y.shape)).sum(), [x], { createGraph: true });
          return dx!.mul(r).sum();
        });
        gradcheckOk(f, [t64(arr(gen, r.size), [2, 3, 6, 5], true)]);
      }
      const nan = tensor([[[1, NaN], [2, 3]]], { dtype: "float64" });
      expect(Number.isNaN(maxPool2d(nan, { kernelSize: 2 }).data[0])).toBe(true);
      expect(maxPool2d(nan, { kernelSize: 2 }).shape).toEqual([1, 1, 1]);
      const xi = tensor([[[1, 5], [2, 3]]], { dtype: "int32" });
      expect(maxPool2d(xi, { kernelSize: 2 }).dtype).toBe("float32");
      expect(Array.from(avgPool2d(xi, { kernelSize: 2 }).data)).toEqual([2.75]);
    });
  });
}

describe("errors name the op, the argument and the shapes", () => {
  const x = tensor(new Float32Array(2 * 3 * 5 * 5), { shape: [2, 3, 5, 5] });
  const w = tensor(new Float32Array(4 * 3 * 3 * 3), { shape: [4, 3, 3, 3] });
  it("conv2d", () => {
    expect(() => conv2d(tensor(new Float32Array(15), { shape: [3, 5] }), w)).toThrow(ShapeError);
    expect(() => conv2d(tensor(new Float32Array(15), { shape: [3, 5] }), w)).toThrow(/conv2d: x must be \[N, C, H, W\].*got shape \[3, 5\]/);
    expect(() => conv2d(x, tensor(new Float32Array(12), { shape: [4, 3] }))).toThrow(/conv2d: weight must be \[outChannels, inChannels \/ groups, kH, kW\], got shape \[4, 3\]/);
    expect(() => conv2d(x, tensor(new Float32Array(4 * 2 * 9), { shape: [4, 2, 3, 3] }))).toThrow(/conv2d: x has 3 channels \(shape \[2, 3, 5, 5\]\) but weight \(shape \[4, 2, 3, 3\]\) expects 2/);
    expect(() => conv2d(x, w, tensor(new Float32Array(3)))).toThrow(/conv2d: bias must be \[4\].*got shape \[3\]/);
    expect(() => conv2d(x, tensor(new Float32Array(4 * 3 * 36), { shape: [4, 3, 6, 6] }))).toThrow(ShapeError);
    expect(() => conv2d(x, tensor(new Float32Array(4 * 3 * 36), { shape: [4, 3, 6, 6] }))).toThrow(/conv2d: the kernel \(6 × 6\) is larger than the padded input \(5 × 5 with padding 0, 0 → 5 × 5\); x shape \[2, 3, 5, 5\], weight shape \[4, 3, 6, 6\]/);
    expect(() => conv2d(x, w, null, { dilation: 3 })).toThrow(/dilated to 7 × 7/);
    expect(conv2d(x, tensor(new Float32Array(4 * 3 * 36), { shape: [4, 3, 6, 6] }), null, { padding: 1 }).shape).toEqual([2, 4, 2, 2]);
    expect(() => conv2d(x, w, null, { stride: 0 })).toThrow(ValueError);
    expect(() => conv2d(x, w, null, { stride: 0 })).toThrow(/conv2d: stride must be a positive integer or a \[height, width\] pair of them, got 0/);
    expect(() => conv2d(x, w, null, { stride: [1, -2] })).toThrow(/conv2d: stride must be a positive integer/);
    expect(() => conv2d(x, w, null, { padding: -1 })).toThrow(/conv2d: padding must be a non-negative integer/);
    expect(() => conv2d(x, w, null, { padding: 1.5 })).toThrow(/conv2d: padding must be a non-negative integer/);
    expect(() => conv2d(x, w, null, { groups: 2 })).toThrow(/conv2d: groups = 2 must divide both the input channels \(3, x shape \[2, 3, 5, 5\]\) and the output channels \(4/);
    expect(() => conv2d(x, w, null, { groups: 0 })).toThrow(/conv2d: groups must be a positive integer/);
  });
  it("maxPool2d and avgPool2d", () => {
    expect(() => maxPool2d(tensor([1, 2, 3]), { kernelSize: 1 })).toThrow(/maxPool2d: x must be \[N, C, H, W\].*got shape \[3\]/);
    expect(() => avgPool2d(x, { kernelSize: 6 })).toThrow(ShapeError);
    expect(() => avgPool2d(x, { kernelSize: 6 })).toThrow(/avgPool2d: the window \(6 × 6\) is larger than the padded input \(5 × 5 with padding 0, 0\); x shape \[2, 3, 5, 5\]/);
    expect(() => maxPool2d(x, { kernelSize: 2, stride: 0 })).toThrow(/maxPool2d: stride must be a positive integer/);
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(/maxPool2d: padding must be at most half the kernel size, got padding \[2, 2\] with kernelSize \[2, 2\]/);
    expect(() => maxPool2d(x, {} as never)).toThrow(/maxPool2d: options.kernelSize is required/);
    expect(() => avgPool2d(x, undefined as never)).toThrow(/avgPool2d: options.kernelSize is required/);
    // With dilation a window can fall between the input's elements, into the padding only.
    const one = tensor([[[[1]]]]);
    expect(() => maxPool2d(one, { kernelSize: 2, stride: 1, padding: 1, dilation: 2 })).toThrow(/maxPool2d: window 0 along the height covers only padding/);
  });
});
