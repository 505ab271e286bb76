import { DTypeError } from "../../errors.js";
import type { FloatStorage, Storage } from "../../tensor/dtype.js";
import type { Window2d } from "../backend.js";
import { fbits, type WebGpuBackend } from "./backend.js";
import type { GpuStorage } from "./runtime.js";
import { grid1d } from "./wgsl.js";
import * as K from "./wgsl-conv.js";

/**
 * Convolution, pooling and normalisation kernels of the webgpu backend (WGSL in
 * ./wgsl-conv.ts), float32 only. Every kernel writes each output element from one thread, so
 * results do not depend on scheduling; the "adds into" kernels (col2im, avgPool2dBackward) read
 * the element's current value and add its contributions in the reference's order.
 */
export function convKernels(be: WebGpuBackend) {
  const f32 = (what: string, ...ss: (Storage | null)[]): void => {
    for (const s of ss) {
      if (s !== null && be.type(s) !== "f32") throw new DTypeError(`webgpu: ${what} runs in float32 on the GPU; cast the tensors with .to("float32") first.`);
    }
  };
  /** The Window2d as parameter words P[1…13] after P[0] = total. */
  const words = (total: number, g: Window2d, ...more: number[]): number[] => [
    total, g.c, g.h, g.w, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, g.outH, g.outW, ...more,
  ];
  /** Float32 scratch in GPU memory for one call (released once its dispatches are queued: they run in order). */
  const scratch = (n: number): Storage => be.rt.allocate("float32", Math.max(1, n), false, () => {}) as unknown as Storage;
  const release = (s: Storage): void => be.rt.release(s as unknown as GpuStorage);
  const s = (x: unknown): Storage => x as Storage;

  return {
    im2col(x: FloatStorage, xOffset: number, g: Window2d, cols: FloatStorage, colsOffset: number, images: number): void {
      const total = g.c * g.kh * g.kw * images * g.outH * g.outW;
      if (total === 0) return;
      f32("im2col", x, cols);
      be.run("im2col", () => K.im2colKernel(false), words(total, g, xOffset, colsOffset, images), [x, { w: cols }], grid1d(total));
    },

    /**
     * im2col of a batch into one [c·kh·kw, outH·outW] matrix per image, one after the other
     * ([images, c·kh·kw, outH·outW]; not in the Backend interface: ops/conv.ts' weight gradient
     * on this backend, a batched product per image).
     */
    im2colImages(x: FloatStorage, g: Window2d, cols: FloatStorage, images: number): void {
      const total = g.c * g.kh * g.kw * images * g.outH * g.outW;
      if (total === 0) return;
      f32("im2col", x, cols);
      be.run("im2col:images", () => K.im2colKernel(true), words(total, g, 0, 0, images), [x, { w: cols }], grid1d(total));
    },

    col2im(cols: FloatStorage, colsOffset: number, g: Window2d, x: FloatStorage, xOffset: number, images: number): void {
      const total = images * g.c * g.h * g.w;
      if (total === 0 || g.outH * g.outW === 0) return;
      f32("col2im", x, cols);
      be.run("col2im", K.col2imKernel, words(total, g, xOffset, colsOffset, images), [cols, { w: x }], grid1d(total));
    },

    conv2d(x: FloatStorage, w: FloatStorage, b: FloatStorage | null, images: number, o: number, g: Window2d, out: FloatStorage): void {
      const total = images * g.outH * g.outW;
      if (total === 0 || o === 0) return;
      f32("conv2d", x, w, b, out);
      const ckk = g.c * g.kh * g.kw;
      if (ckk === 0) {
        // No taps: the bias alone (or zeros).
        if (b === null) be.fill(out as unknown as GpuStorage, 0);
        else be.copyStrided(b, 0, [0, 1, 0], [images, o, g.outH * g.outW], out);
        return;
      }
      const ocb = o >= 8 ? 8 : o >= 4 ? 4 : o >= 2 ? 2 : 1;
      const [gx, gy] = grid1d(total);
      const bindings = b === null ? [x, w, { w: out }] : [x, w, b, { w: out }];
      be.run(`conv2d:${ocb}:${b !== null}`, () => K.conv2dKernel(ocb, b !== null), words(total, g, o, ckk), bindings, [gx, gy, Math.ceil(o / ocb)]);
    },

    maxPool2d(x: FloatStorage, g: Window2d, out: FloatStorage, indices: Int32Array): void {
      const total = g.c * g.outH * g.outW;
      if (total === 0) return;
      f32("maxPool2d", x, out);
      be.run("maxPool2d", K.maxPool2dKernel, words(total, g), [x, { w: out }, { w: s(indices) }], grid1d(total));
    },

    /**
     * Max pooling's backward (not in the Backend interface: ops/conv.ts calls it on this
     * backend in place of scatterAdd by the indices): writes every element of gradIn [c, h, w].
     */
    maxPool2dBackward(gy: FloatStorage, indices: Int32Array, g: Window2d, gx: FloatStorage): void {
      const total = g.c * g.h * g.w;
      if (total === 0) return;
      f32("maxPool2dBackward", gy, gx);
      be.run("maxPool2dBackward", K.maxPool2dBackwardKernel, words(total, g), [gy, s(indices), { w: gx }], grid1d(total));
    },

    avgPool2d(x: FloatStorage, g: Window2d, out: FloatStorage, countIncludePad: boolean): void {
      const total = g.c * g.outH * g.outW;
      if (total === 0) return;
      f32("avgPool2d", x, out);
      be.run("avgPool2d", K.avgPool2dKernel, words(total, g, countIncludePad ? 1 : 0), [x, { w: out }], grid1d(total));
    },

    avgPool2dBackward(gy: FloatStorage, g: Window2d, gx: FloatStorage, countIncludePad: boolean): void {
      const total = g.c * g.h * g.w;
      if (total === 0 || g.outH * g.outW === 0) return;
      f32("avgPool2dBackward", gy, gx);
      be.run("avgPool2dBackward", K.avgPool2dBackwardKernel, words(total, g, countIncludePad ? 1 : 0), [gy, { w: gx }], grid1d(total));
    },

    /** mean and invstd: float32 GPU storage (typed Float64Array by the Backend interface). */
    normForward(x: FloatStorage, outer: number, c: number, inner: number, groups: number, eps: number, w: FloatStorage | null, b: FloatStorage | null, out: FloatStorage, mean: Float64Array, invstd: Float64Array): void {
      const total = outer * c * inner;
      const stats = groups === 0 ? c : outer * groups;
      if (stats === 0) return;
      f32("normForward", x, w, b, out, s(mean), s(invstd));
      const cg = groups === 0 ? 1 : c / groups;
      // Statistic st's elements: batch norm, channel st of every sample; group norm, one run.
      const m = groups === 0 ? outer * inner : cg * inner;
      const statWords = groups === 0 ? [stats, m, Math.max(1, inner), c * inner, inner, fbits(eps)] : [stats, m, Math.max(1, m), 0, m, fbits(eps)];
      be.run("normStats", K.normStatsKernel, statWords, [x, { w: s(mean) }, { w: s(invstd) }], grid1d(stats * 256));
      if (total === 0) return;
      const bindings: (Storage | { w: Storage })[] = [x, s(mean), s(invstd)];
      if (w !== null) bindings.push(w);
      if (b !== null) bindings.push(b);
      bindings.push({ w: out });
      be.run(`normApply:${w !== null}:${b !== null}`, () => K.normApplyKernel(w !== null, b !== null), [total, c, inner, groups, cg], bindings, grid1d(total));
    },

    normBackward(dy: FloatStorage, x: FloatStorage, outer: number, c: number, inner: number, groups: number, mean: Float64Array, invstd: Float64Array, w: FloatStorage | null, dx: FloatStorage, dw: FloatStorage | null, db: FloatStorage | null): void {
      const runs = outer * c;
      const total = runs * inner;
      const batch = groups === 0;
      const stats = batch ? c : outer * groups;
      if (runs === 0) return;
      f32("normBackward", dy, x, w, dx, dw, db, s(mean), s(invstd));
      const cg = batch ? 1 : c / groups;
      const m = batch ? outer * inner : cg * inner;
      // Per (sample, channel): Σ dy and Σ dy·(x − μ).
      const sums = scratch(2 * runs);
      const wide = inner >= 128;
      be.run(`normRunSums:${wide}`, () => K.normRunSumsKernel(wide), [runs, c, inner, groups, cg], [dy, x, s(mean), { w: sums }], grid1d(wide ? runs * 256 : runs));
      // dx = dy·p + ((x − μ)·q + r): q and r per statistic.
      const coef = scratch(2 * stats);
      if (batch || dw !== null || db !== null) {
        const bindings: (Storage | { w: Storage })[] = [sums, s(invstd)];
        if (batch && w !== null) bindings.push(w);
        if (dw !== null) bindings.push({ w: dw });
        if (db !== null) bindings.push({ w: db });
        if (batch) bindings.push({ w: coef });
        const hasW = batch && w !== null;
        be.run(`normChannel:${batch}:${hasW}:${dw !== null}:${db !== null}`, () => K.normChannelKernel(batch, hasW, dw !== null, db !== null), [c, outer, groups, cg, fbits(m)], bindings, grid1d(c * 256));
      }
      if (!batch) {
        const bindings: (Storage | { w: Storage })[] = [sums, s(invstd)];
        if (w !== null) bindings.push(w);
        bindings.push({ w: coef });
        be.run(`normGroupCoef:${w !== null}`, () => K.normGroupCoefKernel(w !== null), [stats, groups, c, cg, fbits(m)], bindings, grid1d(stats));
      }
      if (total > 0) {
        const bindings: (Storage | { w: Storage })[] = [dy, x, s(mean), s(invstd), coef];
        if (w !== null) bindings.push(w);
        bindings.push({ w: dx });
        be.run(`normDx:${w !== null}`, () => K.normDxKernel(w !== null), [total, c, inner, groups, cg, stats], bindings, grid1d(total));
      }
      release(sums);
      release(coef);
    },
  };
}
