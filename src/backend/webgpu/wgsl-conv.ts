import { HEADER } from "./wgsl.js";

/**
 * WGSL sources of the webgpu backend's convolution, pooling and normalisation kernels
 * (dispatched by ./conv.ts). Conventions as ./wgsl.ts: parameters in @binding(0) as u32 words
 * (floats as bits, read with `pf`), operands from @binding(1…), 256 threads per workgroup.
 *
 * Every kernel is deterministic: one thread per output element, which loops over the inputs
 * that contribute to it in the reference's order (no atomics), or one workgroup per statistic
 * with a fixed reduction tree.
 *
 * The sliding-window kernels read a Window2d from P[1…13]: c, h, w, kh, kw, strideH, strideW,
 * padH, padW, dilH, dilW, outH, outW (P[0]: the number of threads that do work).
 */

/** The Window2d fields in P[1…13], as i32 (`GEOMETRY`) and their parameter words (`windowWords`). */
const GEOMETRY = /* wgsl */ `
  let c = i32(P[1]); let h = i32(P[2]); let w = i32(P[3]);
  let kh = i32(P[4]); let kw = i32(P[5]);
  let sH = i32(P[6]); let sW = i32(P[7]);
  let pH = i32(P[8]); let pW = i32(P[9]);
  let dH = i32(P[10]); let dW = i32(P[11]);
  let outH = i32(P[12]); let outW = i32(P[13]);`;

/** The first parameter word after the geometry. */
export const AFTER_GEOMETRY = 14;

/** The thread's element index in a 1-D kernel (as ./wgsl.ts' MAIN_1D). */
const MAIN_1D = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;`;

/** ⌈a / b⌉ for a ≥ 0, b > 0; 0 for a ≤ 0 (where callers clamp to 0 anyway). */
const CEIL_DIV = /* wgsl */ `
fn ceilDivPos(a: i32, b: i32) -> i32 { if (a <= 0) { return 0; } return (a + b - 1) / b; }
`;

// ------------------------------------------------------------------ im2col / col2im

/**
 * The column matrix, one thread per element of cols: [c·kh·kw, images·outH·outW] (the
 * Backend's layout), or with `imageMajor` [images, c·kh·kw, outH·outW] (one matrix per image,
 * for batched products). P: [total, geometry, xOffset, colsOffset, images].
 */
export function im2colKernel(imageMajor: boolean): string {
  const locate = imageMajor
    ? `let n = i / (ckk * l);
  let row = (i / l) % ckk;
  let p = i % l;`
    : `let nl = images * l;
  let row = i / nl;
  let col = i % nl;
  let n = col / l;
  let p = col % l;`;
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  ${GEOMETRY}
  let xOff = P[14]; let cOff = P[15]; let images = P[16];
  let l = u32(outH * outW);
  let khw = u32(kh * kw);
  let ckk = u32(c) * khw;
  ${locate}
  let oi = i32(p / u32(outW));
  let oj = i32(p % u32(outW));
  let ch = row / khw;
  let t = row % khw;
  let a = i32(t / u32(kw));
  let b = i32(t % u32(kw));
  let ih = oi * sH - pH + a * dH;
  let iw = oj * sW - pW + b * dW;
  var v = 0.0;
  if (ih >= 0 && ih < h && iw >= 0 && iw < w) {
    v = X[xOff + n * u32(c * h * w) + (ch * u32(h) + u32(ih)) * u32(w) + u32(iw)];
  }
  C[cOff + i] = v;
}`;
}

/**
 * The adjoint of im2col, one thread per IMAGE element: adds the column entries that read it,
 * in the reference's order (kernel row a, then column b), to its current value.
 * P: [total = images·c·h·w, geometry, xOffset, colsOffset, images].
 */
export function col2imKernel(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> C: array<f32>;
@group(0) @binding(2) var<storage, read_write> X: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  ${GEOMETRY}
  let xOff = P[14]; let cOff = P[15]; let images = P[16];
  let hw = u32(h * w);
  let image = u32(c) * hw;
  let n = i / image;
  let r = i % image;
  let ch = i32(r / hw);
  let q = r % hw;
  let ih = i32(q / u32(w));
  let iw = i32(q % u32(w));
  let l = u32(outH * outW);
  let nl = images * l;
  var acc = X[xOff + i];
  for (var a = 0; a < kh; a = a + 1) {
    let ti = ih + pH - a * dH;
    if (ti < 0 || ti % sH != 0) { continue; }
    let oi = ti / sH;
    if (oi >= outH) { continue; }
    for (var b = 0; b < kw; b = b + 1) {
      let tj = iw + pW - b * dW;
      if (tj < 0 || tj % sW != 0) { continue; }
      let oj = tj / sW;
      if (oj >= outW) { continue; }
      let row = u32((ch * kh + a) * kw + b);
      acc = acc + C[cOff + row * nl + n * l + u32(oi * outW + oj)];
    }
  }
  X[xOff + i] = acc;
}`;
}

// ------------------------------------------------------------------ conv2d

/** Reduction taps per weight tile of the direct convolution (one per thread). */
export const CONV_CHUNK = 256;

/**
 * Direct convolution. A workgroup of 256 threads covers 256 consecutive output positions
 * (image n, row i, column j, flattened over the batch) × `ocb` output channels: each thread
 * keeps ocb accumulators (bias first), and the workgroup walks the c·kh·kw taps in the
 * reference's order (channel, kernel row, kernel column) in tiles of CONV_CHUNK, the weights of
 * the tile staged in workgroup memory; each input value read is used for all ocb channels.
 * Taps in the padding are skipped. Workgroups: (positions, in the 2-D grid of grid1d) × ⌈o/ocb⌉ in z.
 * P: [images·outH·outW, geometry, outChannels, c·kh·kw].
 */
export function conv2dKernel(ocb: number, hasBias: boolean): string {
  const ks = Array.from({ length: ocb }, (_, k) => k);
  const init = ks.map((k) => `var acc${k} = ${hasBias ? `B[min(o0 + ${k}u, oc - 1u)]` : "0.0"};`).join("\n  ");
  const load = ks.map((k) => `Ws[${k * CONV_CHUNK}u + l] = Wt[min(o0 + ${k}u, oc - 1u) * ckk + min(r0 + l, ckk - 1u)];`).join("\n    ");
  const fmas = ks.map((k) => `acc${k} = fma(xv, Ws[${k * CONV_CHUNK}u + rr], acc${k});`).join("\n          ");
  const store = ks.map((k) => `if (o0 + ${k}u < oc) { O[(n * oc + o0 + ${k}u) * lp + p] = acc${k}; }`).join("\n    ");
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
${hasBias ? "@group(0) @binding(3) var<storage, read> B: array<f32>;" : ""}
@group(0) @binding(${hasBias ? 4 : 3}) var<storage, read_write> O: array<f32>;
var<workgroup> Ws: array<f32, ${ocb * CONV_CHUNK}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  ${GEOMETRY}
  let total = P[0];
  let oc = P[14];
  let ckk = P[15];
  let q = (wg.x + wg.y * nw.x) * 256u + l;
  let valid = q < total;
  let qq = min(q, total - 1u);
  let lp = u32(outH * outW);
  let n = qq / lp;
  let p = qq % lp;
  let ih0 = i32(p / u32(outW)) * sH - pH;
  let iw0 = i32(p % u32(outW)) * sW - pW;
  let hw = u32(h * w);
  let xb = n * u32(c) * hw;
  let o0 = wg.z * ${ocb}u;
  ${init}
  var ch = 0u;
  var a = 0;
  var b = 0;
  for (var r0 = 0u; r0 < ckk; r0 = r0 + ${CONV_CHUNK}u) {
    ${load}
    workgroupBarrier();
    let cnt = min(${CONV_CHUNK}u, ckk - r0);
    for (var rr = 0u; rr < cnt; rr = rr + 1u) {
      let ih = ih0 + a * dH;
      let iw = iw0 + b * dW;
      if (ih >= 0 && ih < h && iw >= 0 && iw < w) {
        let xv = X[xb + ch * hw + u32(ih) * u32(w) + u32(iw)];
          ${fmas}
      }
      b = b + 1;
      if (b == kw) {
        b = 0;
        a = a + 1;
        if (a == kh) { a = 0; ch = ch + 1u; }
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    ${store}
  }
}`;
}

// ------------------------------------------------------------------ pooling

/**
 * Max pooling, one thread per output: the in-plane taps of its window in row-major order,
 * from −∞; a larger value or a NaN takes over (the first maximum on ties, the last NaN), as the
 * reference. Writes the value and its position row·w + column within the plane.
 * P: [c·outH·outW, geometry].
 */
export function maxPool2dKernel(): string {
  return `${HEADER}${CEIL_DIV}
fn tapLo(start: i32, k: i32, dil: i32) -> i32 { if (start >= 0) { return 0; } return min(ceilDivPos(-start, dil), k); }
fn tapHi(start: i32, n: i32, k: i32, dil: i32) -> i32 { return max(min(k, ceilDivPos(n - start, dil)), 0); }
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
@group(0) @binding(3) var<storage, read_write> I: array<i32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  ${GEOMETRY}
  let lp = u32(outH * outW);
  let plane = i / lp;
  let r = i % lp;
  let ih0 = i32(r / u32(outW)) * sH - pH;
  let iw0 = i32(r % u32(outW)) * sW - pW;
  let aLo = tapLo(ih0, kh, dH);
  let aHi = tapHi(ih0, h, kh, dH);
  let bLo = tapLo(iw0, kw, dW);
  let bHi = tapHi(iw0, w, kw, dW);
  let base = plane * u32(h * w);
  var best = -inff();
  var at = (ih0 + aLo * dH) * w + iw0 + bLo * dW;
  for (var a = aLo; a < aHi; a = a + 1) {
    let row = (ih0 + a * dH) * w + iw0;
    for (var b = bLo; b < bHi; b = b + 1) {
      let idx = row + b * dW;
      let v = X[base + u32(idx)];
      if (isnan(v) || (!isnan(best) && v > best)) {
        best = v;
        at = idx;
      }
    }
  }
  O[i] = best;
  I[i] = at;
}`;
}

/**
 * Max pooling's backward, one thread per INPUT element: the sum of gradOut over the windows
 * whose saved maximum (indices) is this element, in output order, as the reference's scatter
 * adds them (no atomics: the same result on every run, overlapping windows included). Windows
 * that contain it: output row oi with oi·strideH − padH + a·dilH = its row for a tap a (a from
 * the last, so oi ascends), likewise columns. P: [c·h·w, geometry].
 */
export function maxPool2dBackwardKernel(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> D: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  ${GEOMETRY}
  let hw = u32(h * w);
  let plane = i / hw;
  let q = i % hw;
  let me = i32(q);
  let r = i32(q / u32(w));
  let col = i32(q % u32(w));
  let gBase = plane * u32(outH * outW);
  var acc = 0.0;
  for (var a = kh - 1; a >= 0; a = a - 1) {
    let t = r + pH - a * dH;
    if (t < 0 || t % sH != 0) { continue; }
    let oi = t / sH;
    if (oi >= outH) { continue; }
    for (var b = kw - 1; b >= 0; b = b - 1) {
      let u = col + pW - b * dW;
      if (u < 0 || u % sW != 0) { continue; }
      let oj = u / sW;
      if (oj >= outW) { continue; }
      let o = gBase + u32(oi * outW + oj);
      if (I[o] == me) { acc = acc + G[o]; }
    }
  }
  D[i] = acc;
}`;
}

/** Average pooling's window along one axis: [in-plane lo, in-plane hi, padded size] (the reference's avgWindow). */
const AVG_WINDOW = /* wgsl */ `
fn avgWindow(i: i32, n: i32, k: i32, stride: i32, pad: i32) -> vec3<i32> {
  let start = i * stride - pad;
  let end = min(start + k, n + pad);
  return vec3<i32>(max(start, 0), min(end, n), end - start);
}
fn divisor(rw: vec3<i32>, cw: vec3<i32>, includePad: bool) -> i32 {
  if (rw.x >= rw.y || cw.x >= cw.y) { return 0; }
  if (includePad) { return rw.z * cw.z; }
  return (rw.y - rw.x) * (cw.y - cw.x);
}
`;

/**
 * Average pooling, one thread per output: its window's sum (row-major) / its divisor; 0 for
 * a window that covers no element. P: [c·outH·outW, geometry, countIncludePad].
 */
export function avgPool2dKernel(): string {
  return `${HEADER}${AVG_WINDOW}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  ${GEOMETRY}
  let lp = u32(outH * outW);
  let plane = i / lp;
  let r = i % lp;
  let rw = avgWindow(i32(r / u32(outW)), h, kh, sH, pH);
  let cw = avgWindow(i32(r % u32(outW)), w, kw, sW, pW);
  let d = divisor(rw, cw, P[14] == 1u);
  if (d == 0) { O[i] = 0.0; return; }
  let base = plane * u32(h * w);
  var s = 0.0;
  for (var y = rw.x; y < rw.y; y = y + 1) {
    for (var x = cw.x; x < cw.y; x = x + 1) { s = s + X[base + u32(y * w + x)]; }
  }
  O[i] = s / f32(d);
}`;
}

/**
 * The adjoint of average pooling, one thread per INPUT element: adds gradOut / divisor of every
 * window that contains it (output rows ⌈(r + pad − k + 1)/stride⌉ … ⌊(r + pad)/stride⌋, likewise
 * columns), in output order, to its current value. P: [c·h·w, geometry, countIncludePad].
 */
export function avgPool2dBackwardKernel(): string {
  return `${HEADER}${CEIL_DIV}${AVG_WINDOW}
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> D: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  ${GEOMETRY}
  let includePad = P[14] == 1u;
  let hw = u32(h * w);
  let plane = i / hw;
  let q = i % hw;
  let r = i32(q / u32(w));
  let col = i32(q % u32(w));
  let iLo = ceilDivPos(r + pH - kh + 1, sH);
  let iHi = min((r + pH) / sH, outH - 1);
  let jLo = ceilDivPos(col + pW - kw + 1, sW);
  let jHi = min((col + pW) / sW, outW - 1);
  let gBase = plane * u32(outH * outW);
  var acc = D[i];
  for (var oi = iLo; oi <= iHi; oi = oi + 1) {
    let rw = avgWindow(oi, h, kh, sH, pH);
    for (var oj = jLo; oj <= jHi; oj = oj + 1) {
      let cw = avgWindow(oj, w, kw, sW, pW);
      let d = divisor(rw, cw, includePad);
      if (d != 0) { acc = acc + G[gBase + u32(oi * outW + oj)] / f32(d); }
    }
  }
  D[i] = acc;
}`;
}

// ------------------------------------------------------------------ batch / group normalisation

/** A workgroup tree over sv (256 entries; every thread calls it, uniform control flow). */
const TREE = (arrays: string[]): string => `
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (l < s) { ${arrays.map((a) => `${a}[l] = ${a}[l] + ${a}[l + s];`).join(" ")} }
    workgroupBarrier();
  }`;

/** The workgroup's index in a grid1d(count·256) grid, clamped to count − 1 (so that no thread returns early: barriers stay uniform). */
const WG_MAIN = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let wgi = wg.x + wg.y * nw.x;`;

/**
 * normForward's statistics, one workgroup per statistic s: its m elements are
 * X[s·baseStride + (k / innerP)·strideO + k % innerP], k < m (batch norm: channel s of every
 * sample; group norm: one contiguous run). Two passes (the mean, then Σ (x − μ)²), each a
 * per-thread sum and a tree. P: [stats, m, innerP, strideO, baseStride, eps].
 */
export function normStatsKernel(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> M: array<f32>;
@group(0) @binding(3) var<storage, read_write> IS: array<f32>;
var<workgroup> sv: array<f32, 256>;
${WG_MAIN}
  let stats = P[0];
  let st = min(wgi, stats - 1u);
  let m = P[1]; let innerP = P[2]; let strideO = P[3];
  let base = st * P[4];
  var acc = 0.0;
  for (var k = l; k < m; k = k + 256u) { acc = acc + X[base + (k / innerP) * strideO + k % innerP]; }
  sv[l] = acc;
  ${TREE(["sv"])}
  let mu = workgroupUniformLoad(&sv[0]) / f32(m);
  workgroupBarrier();
  var v = 0.0;
  for (var k = l; k < m; k = k + 256u) { let d = X[base + (k / innerP) * strideO + k % innerP] - mu; v = v + d * d; }
  sv[l] = v;
  ${TREE(["sv"])}
  if (l == 0u && wgi < stats) {
    M[st] = mu;
    IS[st] = 1.0 / sqrt(sv[0] / f32(m) + pf(5u));
  }
}`;
}

/** The statistic of element i of x [outer, c, inner]: channel (batch norm) or (sample, group). */
const STAT_OF = /* wgsl */ `
fn statOf(o: u32, ch: u32, groups: u32, cg: u32) -> u32 { if (groups == 0u) { return ch; } return o * groups + ch / cg; }
`;

/**
 * normForward's output, one thread per element: (x − μ)·(invstd·w[ch]) + b[ch].
 * P: [total, c, inner, groups, cg].
 */
export function normApplyKernel(hasW: boolean, hasB: boolean): string {
  let bi = 4;
  const wDecl = hasW ? `@group(0) @binding(${bi++}) var<storage, read> Wt: array<f32>;` : "";
  const bDecl = hasB ? `@group(0) @binding(${bi++}) var<storage, read> Bs: array<f32>;` : "";
  return `${HEADER}${STAT_OF}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> M: array<f32>;
@group(0) @binding(3) var<storage, read> IS: array<f32>;
${wDecl}
${bDecl}
@group(0) @binding(${bi}) var<storage, read_write> O: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let c = P[1]; let inner = P[2];
  let ch = (i / inner) % c;
  let o = i / (c * inner);
  let st = statOf(o, ch, P[3], P[4]);
  let q = IS[st]${hasW ? " * Wt[ch]" : ""};
  O[i] = (X[i] - M[st]) * q + ${hasB ? "Bs[ch]" : "0.0"};
}`;
}

/**
 * normBackward's per-run sums over the inner elements of each (sample o, channel ch):
 * S[r] = Σ dy, S[runs + r] = Σ dy·(x − μ), r = o·c + ch. `wide`: one workgroup per run (a
 * tree); else one thread per run. P: [runs, c, inner, groups, cg].
 */
export function normRunSumsKernel(wide: boolean): string {
  const decls = `${HEADER}${STAT_OF}
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> S: array<f32>;`;
  if (!wide) {
    return `${decls}
${MAIN_1D}
  let runs = P[0];
  if (i >= runs) { return; }
  let c = P[1]; let inner = P[2];
  let mu = M[statOf(i / c, i % c, P[3], P[4])];
  var a = 0.0;
  var b = 0.0;
  let base = i * inner;
  for (var k = 0u; k < inner; k = k + 1u) { let g = DY[base + k]; a = a + g; b = b + g * (X[base + k] - mu); }
  S[i] = a;
  S[runs + i] = b;
}`;
  }
  return `${decls}
var<workgroup> s0: array<f32, 256>;
var<workgroup> s1: array<f32, 256>;
${WG_MAIN}
  let runs = P[0];
  let run = min(wgi, runs - 1u);
  let c = P[1]; let inner = P[2];
  let mu = M[statOf(run / c, run % c, P[3], P[4])];
  var a = 0.0;
  var b = 0.0;
  let base = run * inner;
  for (var k = l; k < inner; k = k + 256u) { let g = DY[base + k]; a = a + g; b = b + g * (X[base + k] - mu); }
  s0[l] = a;
  s1[l] = b;
  ${TREE(["s0", "s1"])}
  if (l == 0u && wgi < runs) {
    S[run] = s0[0];
    S[runs + run] = s1[0];
  }
}`;
}

/**
 * normBackward per channel, one workgroup per channel ch summing over the samples o:
 * dbias[ch] = Σ S0, dweight[ch] = Σ invstd(o, ch)·S1; for batch norm (`batch`) also the
 * coefficients of dx: with p = invstd·w[ch], a = Σ S0, b = Σ S1, q = −p·invstd²·b/m and
 * r = −p·a/m into COEF[ch], COEF[c + ch]. P: [c, outer, groups, cg, m (f32)].
 */
export function normChannelKernel(batch: boolean, hasW: boolean, hasDW: boolean, hasDB: boolean): string {
  let bi = 3;
  const decls: string[] = [];
  if (batch && hasW) decls.push(`@group(0) @binding(${bi++}) var<storage, read> Wt: array<f32>;`);
  if (hasDW) decls.push(`@group(0) @binding(${bi++}) var<storage, read_write> DW: array<f32>;`);
  if (hasDB) decls.push(`@group(0) @binding(${bi++}) var<storage, read_write> DB: array<f32>;`);
  if (batch) decls.push(`@group(0) @binding(${bi++}) var<storage, read_write> COEF: array<f32>;`);
  return `${HEADER}${STAT_OF}
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> IS: array<f32>;
${decls.join("\n")}
var<workgroup> sb: array<f32, 256>;
var<workgroup> sw: array<f32, 256>;
var<workgroup> s1: array<f32, 256>;
${WG_MAIN}
  let c = P[0];
  let ch = min(wgi, c - 1u);
  let outer = P[1]; let groups = P[2]; let cg = P[3];
  let runs = outer * c;
  var a = 0.0;
  var ws = 0.0;
  var b = 0.0;
  for (var o = l; o < outer; o = o + 256u) {
    let r = o * c + ch;
    let v0 = S[r];
    let v1 = S[runs + r];
    a = a + v0;
    ws = ws + IS[statOf(o, ch, groups, cg)] * v1;
    b = b + v1;
  }
  sb[l] = a;
  sw[l] = ws;
  s1[l] = b;
  ${TREE(["sb", "sw", "s1"])}
  if (l == 0u && wgi < c) {
    ${hasDW ? "DW[ch] = sw[0];" : ""}
    ${hasDB ? "DB[ch] = sb[0];" : ""}
    ${batch ? `let isd = IS[ch];
    let p = isd${hasW ? " * Wt[ch]" : ""};
    let m = pf(4u);
    COEF[ch] = (-p * isd * isd * s1[0]) / m;
    COEF[c + ch] = (-p * sb[0]) / m;` : ""}
  }
}`;
}

/**
 * Group norm's coefficients of dx, one thread per statistic (sample o, group g): with
 * a = Σ_ch w[ch]·S0, b = Σ_ch w[ch]·S1 over the group's channels, q = −invstd³·b/m and
 * r = −invstd·a/m into COEF[s], COEF[stats + s]. P: [stats, groups, c, cg, m (f32)].
 */
export function normGroupCoefKernel(hasW: boolean): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> IS: array<f32>;
${hasW ? "@group(0) @binding(3) var<storage, read> Wt: array<f32>;" : ""}
@group(0) @binding(${hasW ? 4 : 3}) var<storage, read_write> COEF: array<f32>;
${MAIN_1D}
  let stats = P[0];
  if (i >= stats) { return; }
  let groups = P[1]; let c = P[2]; let cg = P[3];
  let o = i / groups;
  let g = i % groups;
  let runs = (stats / groups) * c;
  var a = 0.0;
  var b = 0.0;
  for (var j = 0u; j < cg; j = j + 1u) {
    let ch = g * cg + j;
    let wc = ${hasW ? "Wt[ch]" : "1.0"};
    a = a + wc * S[o * c + ch];
    b = b + wc * S[runs + o * c + ch];
  }
  let isd = IS[i];
  let m = pf(4u);
  COEF[i] = (-isd * isd * isd * b) / m;
  COEF[stats + i] = (-isd * a) / m;
}`;
}

/**
 * normBackward's dx, one thread per element: dy·p + ((x − μ)·q + r), p = invstd·w[ch], q and
 * r the statistic's coefficients. P: [total, c, inner, groups, cg, stats].
 */
export function normDxKernel(hasW: boolean): string {
  return `${HEADER}${STAT_OF}
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> M: array<f32>;
@group(0) @binding(4) var<storage, read> IS: array<f32>;
@group(0) @binding(5) var<storage, read> COEF: array<f32>;
${hasW ? "@group(0) @binding(6) var<storage, read> Wt: array<f32>;" : ""}
@group(0) @binding(${hasW ? 7 : 6}) var<storage, read_write> DX: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let c = P[1]; let inner = P[2];
  let ch = (i / inner) % c;
  let o = i / (c * inner);
  let st = statOf(o, ch, P[3], P[4]);
  let p = IS[st]${hasW ? " * Wt[ch]" : ""};
  DX[i] = DY[i] * p + ((X[i] - M[st]) * COEF[st] + COEF[P[5] + st]);
}`;
}
