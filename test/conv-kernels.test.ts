/**
 * The batch convolution kernels of the backend interface: im2col/col2im over several images at
 * once (columns [c·kh·kw, images·outH·outW]) and conv2d (a whole batch, one group, bias fused).
 *
 * - js (the reference) against definitions written here; wasm against js: im2col/col2im bit for
 *   bit (they copy, or add in the reference's order), conv2d within float32 rounding (the wasm
 *   kernel sums in another order; float64 is the reference's own code), float32 and float64, odd
 *   sizes (channels not a multiple of 4, batches whose columns end mid-panel or whose panels
 *   straddle two images), strides, paddings, dilations, operands at offsets and in wasm memory or not.
 * - Threads: conv2d and the batched im2col/col2im on 2 and 3 threads give the 1-thread result
 *   bit for bit.
 * - The op: conv2d's three products over a batch agree with a direct convolution, and a few
 *   hundred training steps keep the wasm memory flat.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Backend, Window2d } from "../src/backend/backend.js";
import { jsBackend } from "../src/backend/js.js";
import { loadWasmBackend, simdSupported, wasmTuning } from "../src/backend/wasm/backend.js";
import { threadStats } from "../src/backend/wasm/threads.js";
import { allocate } from "../src/tensor/dtype.js";
import { conv2d, getBackend, getNumThreads, maxPool2d, memoryStats, nn, optim, setBackend, setNumThreads, tensor, tidy, type Tensor } from "../src/node.js";

const SEED = 20260311;
const savedTuning = { ...wasmTuning };
const initialBackend = getBackend().name;
const initialThreads = getNumThreads();
afterEach(() => {
  Object.assign(wasmTuning, savedTuning);
  setNumThreads(initialThreads);
  setBackend(initialBackend);
});

type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;
const FLOATS: [string, FloatCtor][] = [["float32", Float32Array], ["float64", Float64Array]];

function values(ctor: FloatCtor, n: number, seed: number): Float32Array | Float64Array {
  const out = new ctor(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5 + Math.sin(i) * 1e-3;
  }
  return out;
}

function expectSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(b.length, `${what}: length`).toBe(a.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) expect.fail(`${what}: element ${i}: ${a[i]} vs ${b[i]}`);
}
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) expect.fail(`${what}: element ${i} is ${a}, expected ${e}`);
  }
}

const outSize = (n: number, k: number, s: number, p: number, d: number): number => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

/** A random geometry with at least one output position. */
const geometry = fc
  .record({
    c: fc.integer({ min: 1, max: 6 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 13 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    strideH: fc.integer({ min: 1, max: 3 }),
    strideW: fc.integer({ min: 1, max: 3 }),
    padH: fc.integer({ min: 0, max: 3 }),
    padW: fc.integer({ min: 0, max: 3 }),
    dilH: fc.integer({ min: 1, max: 2 }),
    dilW: fc.integer({ min: 1, max: 2 }),
  })
  .map((g) => ({ ...g, outH: outSize(g.h, g.kh, g.strideH, g.padH, g.dilH), outW: outSize(g.w, g.kw, g.strideW, g.padW, g.dilW) }))
  .filter((g) => g.outH >= 1 && g.outW >= 1);

/** Batched im2col by its definition. */
function naiveIm2col(x: ArrayLike<number>, xOffset: number, g: Window2d, images: number): number[] {
  const out: number[] = [];
  for (let ch = 0; ch < g.c; ch++)
    for (let a = 0; a < g.kh; a++)
      for (let b = 0; b < g.kw; b++)
        for (let n = 0; n < images; n++)
          for (let i = 0; i < g.outH; i++)
            for (let j = 0; j < g.outW; j++) {
              const ih = i * g.strideH - g.padH + a * g.dilH;
              const iw = j * g.strideW - g.padW + b * g.dilW;
              out.push(ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? x[xOffset + ((n * g.c + ch) * g.h + ih) * g.w + iw]! : 0);
            }
  return out;
}

/** Direct convolution by its definition (float64). */
function naiveConv(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, images: number, o: number, g: Window2d): number[] {
  const out: number[] = [];
  for (let n = 0; n < images; n++)
    for (let f = 0; f < o; f++)
      for (let i = 0; i < g.outH; i++)
        for (let j = 0; j < g.outW; j++) {
          let s = bias ? bias[f]! : 0;
          for (let ch = 0; ch < g.c; ch++)
            for (let a = 0; a < g.kh; a++)
              for (let b = 0; b < g.kw; b++) {
                const ih = i * g.strideH - g.padH + a * g.dilH, iw = j * g.strideW - g.padW + b * g.dilW;
                if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) s += x[((n * g.c + ch) * g.h + ih) * g.w + iw]! * w[((f * g.c + ch) * g.kh + a) * g.kw + b]!;
              }
          out.push(s);
        }
  return out;
}

describe("batched im2col, col2im and conv2d: js reference against the definitions", () => {
  it("im2col of several images is the definition; col2im is its adjoint (⟨im2col x, y⟩ = ⟨x, col2im y⟩)", () => {
    fc.assert(
      fc.property(geometry, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 5 }), (g, images, off) => {
        const image = g.c * g.h * g.w;
        const total = g.c * g.kh * g.kw * images * g.outH * g.outW;
        const x = values(Float64Array, off + images * image, 3 + off);
        const cols = new Float64Array(total + off).fill(9);
        jsBackend.im2col(x, off, g, cols, off, images);
        expectSame(naiveIm2col(x, off, g, images), cols.subarray(off), "im2col");
        const y = values(Float64Array, total, 7);
        const back = new Float64Array(images * image);
        jsBackend.col2im(y, 0, g, back, 0, images);
        let lhs = 0, rhs = 0;
        const cx = naiveIm2col(x, off, g, images);
        for (let i = 0; i < total; i++) lhs += cx[i]! * y[i]!;
        for (let i = 0; i < back.length; i++) rhs += x[off + i]! * back[i]!;
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-9 * (1 + Math.abs(lhs)));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it("conv2d is the direct convolution (float64 exactly up to summation order), bias or none", () => {
    fc.assert(
      fc.property(geometry, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), (g, images, o, withBias) => {
        const x = values(Float64Array, images * g.c * g.h * g.w, 11);
        const w = values(Float64Array, o * g.c * g.kh * g.kw, 13);
        const bias = withBias ? values(Float64Array, o, 17) : null;
        const out = new Float64Array(images * o * g.outH * g.outW).fill(NaN);
        jsBackend.conv2d(x, w, bias, images, o, g, out);
        expectClose(out, naiveConv(x, w, bias, images, o, g), 1e-12, "conv2d");
      }),
      { seed: SEED, numRuns: 60 },
    );
  });
});

describe.skipIf(!simdSupported())("batched convolution kernels: wasm against the js reference", () => {
  let wasm: Backend;
  beforeAll(() => {
    const load = loadWasmBackend();
    if (load.status !== "ready") throw new Error(`wasm backend: ${load.status}`);
    wasm = load.backend;
  });
  afterAll(() => Object.assign(wasmTuning, savedTuning));

  for (const [name, Ctor] of FLOATS) {
    it(`${name}: im2col and col2im of several images, at offsets, bit for bit`, () => {
      wasmTuning.minElements = 0;
      fc.assert(
        fc.property(geometry, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 }), (g, images, off) => {
          const image = g.c * g.h * g.w;
          const total = g.c * g.kh * g.kw * images * g.outH * g.outW;
          const x = values(Ctor, off + images * image, 5 + images);
          const a = new Ctor(off + total + 2).fill(3);
          const b = new Ctor(off + total + 2).fill(3);
          jsBackend.im2col(x, off, g, a, off, images);
          wasm.im2col(x, off, g, b, off, images);
          expectSame(a, b, "im2col");
          const y = values(Ctor, off + total, 19);
          const dx1 = values(Ctor, off + images * image + 1, 23);
          const dx2 = Ctor.from(dx1);
          jsBackend.col2im(y, off, g, dx1, off, images);
          wasm.col2im(y, off, g, dx2, off, images);
          expectSame(dx1, dx2, "col2im");
        }),
        { seed: SEED, numRuns: 80 },
      );
    });

    it(`${name}: conv2d over random geometries, odd channel counts and batches (panels straddling images), bias or none`, () => {
      wasmTuning.minMatmulMacs = 0;
      fc.assert(
        fc.property(geometry, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), (g, images, o, withBias) => {
          const x = values(Ctor, images * g.c * g.h * g.w, 29 + o);
          const w = values(Ctor, o * g.c * g.kh * g.kw, 31);
          const bias = withBias ? values(Ctor, o, 37) : null;
          const ref = new Ctor(images * o * g.outH * g.outW).fill(NaN);
          const got = new Ctor(ref.length).fill(NaN);
          jsBackend.conv2d(x, w, bias, images, o, g, ref);
          wasm.conv2d(x, w, bias, images, o, g, got);
          if (Ctor === Float64Array) expectSame(ref, got, "conv2d");
          else expectClose(got, ref, 2e-6 * g.c * g.kh * g.kw, "conv2d");
        }),
        { seed: SEED, numRuns: 120 },
      );
    });
  }

  for (const [name, Ctor] of FLOATS) {
    it(`${name}: 2×2 stride-2 max pooling (the vector path) and its scatter-add backward, ties and NaN included, bit for bit`, () => {
      wasmTuning.minElements = 0;
      for (const [c, h, w] of [[3, 8, 8], [2, 7, 11], [5, 14, 14], [1, 2, 19], [4, 29, 30]] as const) {
        const outH = Math.floor(h / 2), outW = Math.floor(w / 2);
        const g: Window2d = { c, h, w, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, dilH: 1, dilW: 1, outH, outW };
        // Few distinct values (ties), some NaN and −∞.
        const x = values(Ctor, c * h * w, h * 7 + w);
        for (let i = 0; i < x.length; i++) x[i] = i % 13 === 5 ? NaN : i % 17 === 3 ? -Infinity : Math.round(x[i]! * 4);
        const m = c * outH * outW;
        const [v1, v2] = [new Ctor(m), new Ctor(m)];
        const [i1, i2] = [new Int32Array(m), new Int32Array(m)];
        jsBackend.maxPool2d(x, g, v1, i1);
        wasm.maxPool2d(x, g, v2, i2);
        expectSame(v1, v2, `values ${c}×${h}×${w}`);
        expectSame(i1, i2, `indices ${c}×${h}×${w}`);
        const gy = values(Ctor, m, 3);
        const [d1, d2] = [values(Ctor, c * h * w, 5), values(Ctor, c * h * w, 5)];
        jsBackend.scatterAdd(gy, i1, c, h * w, outH * outW, 1, d1, false);
        wasm.scatterAdd(gy, i1, c, h * w, outH * outW, 1, d2, false);
        expectSame(d1, d2, `scatterAdd ${c}×${h}×${w}`);
      }
    });
  }

  it("float32 conv2d on tensors in wasm memory (the registered backend) writes every element and nothing more", () => {
    setBackend("wasm");
    const g: Window2d = { c: 3, h: 7, w: 11, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, outH: 7, outW: 11 };
    const images = 3, o = 6;
    const x = allocate("float32", images * g.c * g.h * g.w) as Float32Array;
    x.set(values(Float32Array, x.length, 41));
    const w = allocate("float32", o * g.c * 9) as Float32Array;
    w.set(values(Float32Array, w.length, 43));
    const out = allocate("float32", images * o * g.outH * g.outW + 8) as Float32Array;
    out.fill(5);
    const ref = new Float32Array(out.length).fill(5);
    getBackend().conv2d(x, w, null, images, o, g, out.subarray(0, out.length - 8));
    jsBackend.conv2d(x, w, null, images, o, g, ref.subarray(0, ref.length - 8));
    expectClose(out, ref, 1e-5, "conv2d");
    expectSame(out.subarray(out.length - 8), new Float32Array(8).fill(5), "past the end");
  });
});

describe.skipIf(!simdSupported())("batched convolution kernels on threads", () => {
  beforeAll(() => setBackend("wasm"));

  const shapes: [string, Window2d, number, number][] = [
    ["3×3 pad 1, 16 → 32 channels", { c: 16, h: 14, w: 14, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, outH: 14, outW: 14 }, 9, 32],
    ["odd: 3 → 5 channels, stride 2, 5×4 kernel", { c: 3, h: 23, w: 19, kh: 5, kw: 4, strideH: 2, strideW: 2, padH: 2, padW: 1, dilH: 1, dilW: 1, outH: 12, outW: 9 }, 7, 5],
  ];
  for (const [what, g, images, o] of shapes) {
    it(`${what}: conv2d, im2col and col2im on 2 and 3 threads equal 1 thread bit for bit`, () => {
      wasmTuning.minThreadedMacs = 0;
      wasmTuning.minThreadedElements = 0;
      const be = getBackend();
      const x = values(Float32Array, images * g.c * g.h * g.w, 47);
      const w = values(Float32Array, o * g.c * g.kh * g.kw, 53);
      const bias = values(Float32Array, o, 59);
      const total = g.c * g.kh * g.kw * images * g.outH * g.outW;
      const run = (threads: number): Float32Array[] => {
        setNumThreads(threads);
        const y = allocate("float32", images * o * g.outH * g.outW) as Float32Array;
        be.conv2d(x, w, bias, images, o, g, y);
        const cols = allocate("float32", total) as Float32Array;
        be.im2col(x, 0, g, cols, 0, images);
        const dx = allocate("float32", x.length) as Float32Array;
        dx.set(values(Float32Array, x.length, 61));
        be.col2im(cols, 0, g, dx, 0, images);
        return [Float32Array.from(y), Float32Array.from(cols), Float32Array.from(dx)];
      };
      const one = run(1);
      const calls = threadStats.calls;
      for (const threads of [2, 3]) {
        const many = run(threads);
        one.forEach((a, i) => expectSame(a, many[i]!, `${threads} threads, result ${i}`));
      }
      if (getNumThreads() > 1) expect(threadStats.calls).toBeGreaterThan(calls);
    });
  }
});

describe("conv2d over a batch: the three products, and memory over a training run", () => {
  for (const name of simdSupported() ? ["js", "wasm"] : ["js"]) {
    it(`${name}: forward, input and weight gradients of a batch match a direct convolution (stride 1 and 2, groups)`, () => {
      setBackend(name);
      for (const [stride, groups] of [[1, 1], [2, 1], [1, 2]] as const) {
        const [n, c, h, w, o] = [3, 4, 9, 7, 6];
        const xd = values(Float64Array, n * c * h * w, 67);
        const wd = values(Float64Array, o * (c / groups) * 9, 71);
        const x = tensor(xd, { shape: [n, c, h, w], dtype: "float64", requiresGrad: true });
        const wt = tensor(wd, { shape: [o, c / groups, 3, 3], dtype: "float64", requiresGrad: true });
        const y = conv2d(x, wt, null, { padding: 1, stride, groups });
        const gy = values(Float64Array, y.size, 73);
        y.mul(tensor(gy, { shape: y.shape, dtype: "float64" })).sum().backward();
        // By the definition: y = Σ x·w, so dL/dx and dL/dw are sums of gy against w and x.
        const oh = y.shape[2]!, ow = y.shape[3]!;
        const cg = c / groups, og = o / groups;
        const ey = new Float64Array(y.size), ex = new Float64Array(xd.length), ew = new Float64Array(wd.length);
        for (let b = 0; b < n; b++)
          for (let f = 0; f < o; f++)
            for (let i = 0; i < oh; i++)
              for (let j = 0; j < ow; j++) {
                const yi = ((b * o + f) * oh + i) * ow + j;
                for (let cc = 0; cc < cg; cc++)
                  for (let a = 0; a < 3; a++)
                    for (let q = 0; q < 3; q++) {
                      const ih = i * stride - 1 + a, iw = j * stride - 1 + q;
                      if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                      const xi = ((b * c + Math.floor(f / og) * cg + cc) * h + ih) * w + iw;
                      const wi = ((f * cg + cc) * 3 + a) * 3 + q;
                      ey[yi] += xd[xi]! * wd[wi]!;
                      ex[xi] += gy[yi]! * wd[wi]!;
                      ew[wi] += gy[yi]! * xd[xi]!;
                    }
              }
        expectClose(y.data, ey, 1e-12, `y, stride ${stride}, groups ${groups}`);
        expectClose(x.grad!.data, ex, 1e-12, `dx, stride ${stride}, groups ${groups}`);
        expectClose(wt.grad!.data, ew, 1e-12, `dw, stride ${stride}, groups ${groups}`);
      }
    });
  }

  it.skipIf(!simdSupported())("wasm: 300 steps of a small convnet keep the wasm memory flat", () => {
    setBackend("wasm");
    const x = tensor(values(Float32Array, 16 * 1 * 12 * 12, 79), { shape: [16, 1, 12, 12] });
    const labels = tensor(Int32Array.from({ length: 16 }, (_, i) => i % 10), { shape: [16], dtype: "int32" });
    const w1 = tensor(values(Float32Array, 8 * 9, 83), { shape: [8, 1, 3, 3], requiresGrad: true });
    const b1 = tensor(new Float32Array(8), { shape: [8], requiresGrad: true });
    const w2 = tensor(values(Float32Array, 8 * 36 * 10, 89).map((v) => v * 0.1), { shape: [8 * 36, 10], requiresGrad: true });
    const opt = new optim.SGD([w1, b1, w2], { lr: 0.01 });
    const step = (): void =>
      tidy(() => {
        opt.zeroGrad();
        const h: Tensor = maxPool2d(conv2d(x, w1, b1, { padding: 1 }).relu(), { kernelSize: 2 });
        nn.functional.crossEntropy(h.reshape([16, 8 * 36]).matmul(w2), labels).backward();
        opt.step();
      });
    for (let i = 0; i < 50; i++) step();
    const before = memoryStats();
    for (let i = 0; i < 250; i++) step();
    const after = memoryStats();
    // The scratch (column matrices, reordered gradients) comes back to the pool every step.
    expect(after.memoryBytes).toBe(before.memoryBytes);
    expect(after.allocatedBytes).toBeLessThanOrEqual(before.allocatedBytes);
    expect(after.fallbacks).toBe(before.fallbacks);
  });
});
