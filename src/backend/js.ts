import type { FloatStorage, Storage } from "../tensor/dtype.js";
import type { AdagradUpdate, AdamUpdate, RMSpropUpdate, Backend, BinaryOp, ReduceOp, SGDUpdate, SoftmaxOp, UnaryOp, Window2d } from "./backend.js";

// Each op gets its own loop: V8 does not inline a function passed into a shared loop once that
// loop has seen several, so a generic `map(f)` costs 2-3x more per element.

type UnaryLoop = (x: Storage, out: Storage, n: number, p0: number, p1: number) => void;

const UNARY: Record<UnaryOp, UnaryLoop> = {
  neg: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = -x[i]!; },
  exp: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = Math.exp(x[i]!); },
  log: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = Math.log(x[i]!); },
  sqrt: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = Math.sqrt(x[i]!); },
  abs: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = Math.abs(x[i]!); },
  sign: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = Math.sign(x[i]!); },
  tanh: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = Math.tanh(x[i]!); },
  // Stable on both sides: never exponentiates a large positive number.
  sigmoid: (x, o, n) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      if (v >= 0) o[i] = 1 / (1 + Math.exp(-v));
      else { const e = Math.exp(v); o[i] = e / (1 + e); }
    }
  },
  // Branch-free (Math.max compiles to a max instruction; a branch mispredicts on random signs),
  // keeps NaN, gives +0 for −0 and 0 for −∞. (h + |h| with h = v/2 gave NaN for −∞.)
  relu: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = Math.max(x[i]!, 0); },
  leakyRelu: (x, o, n, slope) => { for (let i = 0; i < n; i++) { const v = x[i]!; o[i] = v > 0 ? v : v * slope; } },
  elu: (x, o, n, alpha) => { for (let i = 0; i < n; i++) { const v = x[i]!; o[i] = v > 0 ? v : alpha * Math.expm1(v); } },
  // softplus(x) = log(1 + exp(βx)) / β, written as max(z,0) + log1p(exp(-|z|)) so it never overflows;
  // above the threshold (βx > t) it returns x, as PyTorch does.
  softplus: (x, o, n, beta, threshold) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const z = v * beta;
      o[i] = z > threshold ? v : (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))) / beta;
    }
  },
  logicalNot: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = x[i] === 0 ? 1 : 0; },
  isFinite: (x, o, n) => { for (let i = 0; i < n; i++) o[i] = Number.isFinite(x[i]!) ? 1 : 0; },
};

/** One row of a binary op: n elements, a and b read with their own strides. */
type BinaryRow = (a: Storage, ia: number, sa: number, b: Storage, ib: number, sb: number, o: Storage, io: number, n: number) => void;

const BINARY: Record<BinaryOp, BinaryRow> = {
  add: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! + b[ib]!; },
  sub: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! - b[ib]!; },
  mul: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! * b[ib]!; },
  div: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! / b[ib]!; },
  pow: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = Math.pow(a[ia]!, b[ib]!); },
  // NaN-propagating like torch.maximum: (x > y || x !== x) picks x when x is NaN; y's NaN wins otherwise.
  maximum: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) { const x = a[ia]!, y = b[ib]!; o[io + j] = x > y || x !== x ? x : y; }
  },
  minimum: (a, ia, sa, b, ib, sb, o, io, n) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) { const x = a[ia]!, y = b[ib]!; o[io + j] = x < y || x !== x ? x : y; }
  },
  eq: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! === b[ib]! ? 1 : 0; },
  ne: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! !== b[ib]! ? 1 : 0; },
  gt: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! > b[ib]! ? 1 : 0; },
  ge: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! >= b[ib]! ? 1 : 0; },
  lt: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! < b[ib]! ? 1 : 0; },
  le: (a, ia, sa, b, ib, sb, o, io, n) => { for (let j = 0; j < n; j++, ia += sa, ib += sb) o[io + j] = a[ia]! <= b[ib]! ? 1 : 0; },
};

/**
 * Merges adjacent axes that are contiguous for every operand, so most broadcasts run as a few
 * long rows. Returns the merged shape and each operand's merged strides.
 */
export function collapse(shape: readonly number[], stridesList: readonly (readonly number[])[]): [number[], number[][]] {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    const mergeable =
      last >= 0 && stridesList.every((s, k) => outStrides[k]![last] === s[d]! * size);
    if (mergeable) {
      outShape[last]! *= size;
      stridesList.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(size);
      stridesList.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  return [outShape, outStrides];
}

/** Strides of an operand passed without them: contiguous when it has the output's size, 0 for a scalar. */
export function directStrides(x: Storage, shape: readonly number[]): number[] {
  if (x.length === 1) return shape.map(() => 0);
  const strides = new Array<number>(shape.length);
  for (let i = shape.length - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Calls `row(offsets, rowLength)` for every row of the (collapsed) iteration space. */
function forEachRow(shape: readonly number[], strides: readonly (readonly number[])[], row: (offsets: number[], outOffset: number, n: number, inner: readonly number[]) => void): void {
  const [cs, cst] = collapse(shape, strides);
  const nd = cs.length;
  if (nd === 0) {
    row(cst.map(() => 0), 0, 1, cst.map(() => 0));
    return;
  }
  const n = cs[nd - 1]!;
  const inner = cst.map((s) => s[nd - 1]!);
  const rows = cs.reduce((p, d) => p * d, 1) / n;
  const counter = new Array<number>(nd - 1).fill(0);
  const offsets = cst.map(() => 0);
  for (let r = 0, outOffset = 0; r < rows; r++, outOffset += n) {
    row(offsets, outOffset, n, inner);
    for (let d = nd - 2; d >= 0; d--) {
      counter[d]!++;
      for (let k = 0; k < offsets.length; k++) offsets[k]! += cst[k]![d]!;
      if (counter[d]! < cs[d]!) break;
      for (let k = 0; k < offsets.length; k++) offsets[k]! -= cst[k]![d]! * cs[d]!;
      counter[d] = 0;
    }
  }
}

// Matmul: op(A) and op(B) are packed into 4-wide panels (which is also where a transposed
// operand is read in its own layout, never copied whole), then a 4×4 register-tiled
// micro-kernel accumulates each block of C in 16 locals over a k-block of KC steps.
const MR = 4;
const NR = 4;
const KC = 256;
let packA = new Float64Array(0);
let packB = new Float64Array(0);

function gemm(a: Storage, ao: number, b: Storage, bo: number, out: Storage, oo: number, m: number, k: number, n: number, transA: boolean, transB: boolean): void {
  // A(i,p) at ao + i*ars + p*acs; B(p,j) at bo + p*brs + j*bcs.
  const ars = transA ? 1 : k, acs = transA ? m : 1;
  const brs = transB ? 1 : n, bcs = transB ? k : 1;
  out.fill(0, oo, oo + m * n);
  if (m === 0 || n === 0 || k === 0) return;
  const mPanels = Math.ceil(m / MR);
  const nPanels = Math.ceil(n / NR);
  const kc = Math.min(KC, k);
  if (packA.length < mPanels * MR * kc) packA = new Float64Array(mPanels * MR * kc);
  if (packB.length < nPanels * NR * kc) packB = new Float64Array(nPanels * NR * kc);
  const pa = packA, pb = packB;
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kb = Math.min(KC, k - p0);
    // Pack B[p0:p0+kb, :] as nPanels panels of [kb][NR], zero-padded past n. The loop order
    // follows B's own layout so that reads are sequential either way (B or Bᵀ stored).
    for (let jp = 0; jp < nPanels; jp++) {
      const base = jp * NR * kb;
      for (let c = 0; c < NR; c++) {
        const j = jp * NR + c;
        if (j >= n) for (let p = 0; p < kb; p++) pb[base + p * NR + c] = 0;
        else if (transB) {
          let src = bo + p0 * brs + j * bcs;
          for (let p = 0; p < kb; p++, src += brs) pb[base + p * NR + c] = b[src]!;
        }
      }
      if (!transB) {
        const cols = Math.min(NR, n - jp * NR);
        for (let p = 0; p < kb; p++) {
          const src = bo + (p0 + p) * brs + jp * NR;
          for (let c = 0; c < cols; c++) pb[base + p * NR + c] = b[src + c]!;
        }
      }
    }
    // Pack A[:, p0:p0+kb] as mPanels panels of [kb][MR], zero-padded past m.
    for (let ip = 0; ip < mPanels; ip++) {
      const base = ip * MR * kb;
      for (let r = 0; r < MR; r++) {
        const i = ip * MR + r;
        if (i >= m) for (let p = 0; p < kb; p++) pa[base + p * MR + r] = 0;
        else if (!transA) {
          let src = ao + i * ars + p0 * acs;
          for (let p = 0; p < kb; p++, src += acs) pa[base + p * MR + r] = a[src]!;
        }
      }
      if (transA) {
        const rows = Math.min(MR, m - ip * MR);
        for (let p = 0; p < kb; p++) {
          const src = ao + (p0 + p) * acs + ip * MR;
          for (let r = 0; r < rows; r++) pa[base + p * MR + r] = a[src + r]!;
        }
      }
    }
    for (let ip = 0; ip < mPanels; ip++) {
      const aBase = ip * MR * kb;
      const rows = Math.min(MR, m - ip * MR);
      for (let jp = 0; jp < nPanels; jp++) {
        const bBase = jp * NR * kb;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let p = 0, ai = aBase, bi = bBase; p < kb; p++, ai += MR, bi += NR) {
          const a0 = pa[ai]!, a1 = pa[ai + 1]!, a2 = pa[ai + 2]!, a3 = pa[ai + 3]!;
          const b0 = pb[bi]!, b1 = pb[bi + 1]!, b2 = pb[bi + 2]!, b3 = pb[bi + 3]!;
          c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
          c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
          c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
          c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        }
        const cols = Math.min(NR, n - jp * NR);
        const o = oo + ip * MR * n + jp * NR;
        if (rows === MR && cols === NR) {
          out[o] += c00; out[o + 1] += c01; out[o + 2] += c02; out[o + 3] += c03;
          out[o + n] += c10; out[o + n + 1] += c11; out[o + n + 2] += c12; out[o + n + 3] += c13;
          out[o + 2 * n] += c20; out[o + 2 * n + 1] += c21; out[o + 2 * n + 2] += c22; out[o + 2 * n + 3] += c23;
          out[o + 3 * n] += c30; out[o + 3 * n + 1] += c31; out[o + 3 * n + 2] += c32; out[o + 3 * n + 3] += c33;
        } else {
          const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
          for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[o + r * n + c] += tile[r * NR + c]!;
        }
      }
    }
  }
}

function reduce(op: ReduceOp, x: Storage, outer: number, len: number, inner: number, out: Storage): void {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) out[o] = reduceRun(op, x, o * len, len);
    return;
  }
  // Reducing a non-last axis: sweep the rows of [len, inner] in memory order, keeping one
  // running value per output column, instead of striding down each column.
  const wantMax = op === "max" || op === "argmax";
  const isArg = op === "argmax" || op === "argmin";
  const best = isArg ? new Float64Array(inner) : undefined;
  for (let o = 0; o < outer; o++) {
    const ob = o * inner;
    const xb = o * len * inner;
    if (op === "sum") {
      for (let i = 0; i < inner; i++) out[ob + i] = 0;
      for (let j = 0; j < len; j++) {
        const row = xb + j * inner;
        for (let i = 0; i < inner; i++) out[ob + i] += x[row + i]!;
      }
      continue;
    }
    const acc = best ?? out;
    const accBase = best ? 0 : ob;
    for (let i = 0; i < inner; i++) {
      acc[accBase + i] = x[xb + i]!;
      if (isArg) out[ob + i] = 0;
    }
    for (let j = 1; j < len; j++) {
      const row = xb + j * inner;
      for (let i = 0; i < inner; i++) {
        const v = x[row + i]!;
        const cur = acc[accBase + i]!;
        // NaN wins (it propagates); on ties the first position is kept.
        if (cur === cur && (v !== v || (wantMax ? v > cur : v < cur))) {
          acc[accBase + i] = v;
          if (isArg) out[ob + i] = j;
        }
      }
    }
  }
}

/** Reduces `len` contiguous elements from `start`. */
function reduceRun(op: ReduceOp, x: Storage, start: number, len: number): number {
  if (op === "sum") {
    let s = 0;
    for (let j = start; j < start + len; j++) s += x[j]!;
    return s;
  }
  const wantMax = op === "max" || op === "argmax";
  let best = x[start]!;
  let bestJ = 0;
  for (let j = 1; j < len && best === best; j++) {
    const v = x[start + j]!;
    if (v !== v || (wantMax ? v > best : v < best)) {
      best = v;
      bestJ = j;
    }
  }
  return op === "max" || op === "min" ? best : bestJ;
}

/** Scratch for e^(x − m) of one row when the output is not float64: a float32 softmax keeps float64 until its one rounding. */
let expRow = new Float64Array(0);

/**
 * Softmax or log-softmax of `rows` contiguous rows (see Backend.softmax). A row is shifted by
 * its maximum m, or by 0 where m is not finite: a row holding NaN, or whose maximum is −∞
 * (every element −∞), is then NaN throughout; one whose maximum is +∞ is NaN at its +∞
 * elements and 0 (softmax) or −∞ (logSoftmax) elsewhere, with log Σ = +∞ (the limits).
 */
function softmaxRows(op: SoftmaxOp, x: Storage, rows: number, cols: number, out: Storage, stats?: Float64Array): void {
  const wide = out instanceof Float64Array;
  if (!wide && expRow.length < cols) expRow = new Float64Array(cols);
  const e: Storage = wide ? out : expRow;
  for (let r = 0, off = 0; r < rows; r++, off += cols) {
    let mx = -Infinity;
    for (let j = off; j < off + cols; j++) {
      const v = x[j]!;
      if (v > mx || v !== v) mx = v;
    }
    if (!(mx - mx === 0)) {
      // NaN or ±∞: the rule above, element by element.
      for (let j = off; j < off + cols; j++) out[j] = mx === Infinity && x[j] !== Infinity ? (op === "softmax" ? 0 : -Infinity) : NaN;
      if (stats) {
        stats[2 * r] = 0;
        stats[2 * r + 1] = mx === Infinity || mx === -Infinity ? mx : NaN;
      }
      continue;
    }
    let sum = 0;
    if (op === "softmax") {
      const eo = wide ? off : 0;
      for (let j = 0; j < cols; j++) {
        const v = Math.exp(x[off + j]! - mx);
        e[eo + j] = v;
        sum += v;
      }
      const inv = 1 / sum;
      for (let j = 0; j < cols; j++) out[off + j] = e[eo + j]! * inv;
      if (stats) {
        stats[2 * r] = mx;
        stats[2 * r + 1] = Math.log(sum);
      }
    } else {
      for (let j = off; j < off + cols; j++) sum += Math.exp(x[j]! - mx);
      const lse = Math.log(sum);
      for (let j = off; j < off + cols; j++) out[j] = x[j]! - mx - lse;
      if (stats) {
        stats[2 * r] = mx;
        stats[2 * r + 1] = lse;
      }
    }
  }
}

/** The reference SGD step: torch.optim.SGD's single-tensor loop, in float64 arithmetic, stored in the param's dtype. */
function sgdUpdate(param: FloatStorage, grad: ArrayLike<number>, buf: FloatStorage | null, h: SGDUpdate): void {
  const { lr, momentum, dampening, nesterov, weightDecay, maximize, firstStep } = h;
  const n = param.length;
  for (let i = 0; i < n; i++) {
    let d = maximize ? -grad[i]! : grad[i]!;
    if (weightDecay !== 0) d = d + weightDecay * param[i]!;
    if (buf !== null) {
      buf[i] = firstStep ? d : momentum * buf[i]! + (1 - dampening) * d;
      d = nesterov ? d + momentum * buf[i]! : buf[i]!;
    }
    param[i] = param[i]! - lr * d;
  }
}

/** The reference RMSprop step: torch.optim.RMSprop's single-tensor loop, in float64 arithmetic. */
function rmspropUpdate(param: FloatStorage, grad: ArrayLike<number>, sq: FloatStorage, buf: FloatStorage | null, avgG: FloatStorage | null, h: RMSpropUpdate): void {
  const { lr, alpha, eps, weightDecay, momentum, maximize } = h;
  const n = param.length;
  for (let i = 0; i < n; i++) {
    let g = maximize ? -grad[i]! : grad[i]!;
    if (weightDecay !== 0) g = g + weightDecay * param[i]!;
    sq[i] = alpha * sq[i]! + (1 - alpha) * g * g;
    let d: number;
    if (avgG !== null) {
      avgG[i] = alpha * avgG[i]! + (1 - alpha) * g;
      d = Math.sqrt(sq[i]! - avgG[i]! * avgG[i]!) + eps;
    } else {
      d = Math.sqrt(sq[i]!) + eps;
    }
    if (buf !== null) {
      buf[i] = momentum * buf[i]! + g / d;
      param[i] = param[i]! - lr * buf[i]!;
    } else {
      param[i] = param[i]! - lr * (g / d);
    }
  }
}

/** The reference Adagrad step: torch.optim.Adagrad's single-tensor loop, in float64 arithmetic. */
function adagradUpdate(param: FloatStorage, grad: ArrayLike<number>, sum: FloatStorage, h: AdagradUpdate): void {
  const { clr, weightDecay, eps, maximize } = h;
  const n = param.length;
  for (let i = 0; i < n; i++) {
    let g = maximize ? -grad[i]! : grad[i]!;
    if (weightDecay !== 0) g = g + weightDecay * param[i]!;
    sum[i] = sum[i]! + g * g;
    const std = Math.sqrt(sum[i]!) + eps;
    param[i] = param[i]! - clr * (g / std);
  }
}

/** Adam's per-step scalars: step size lr/(1 − β₁ᵗ), √(1 − β₂ᵗ), and AdamW's decay factor 1 − lr·λ. */
export function adamScalars(h: AdamUpdate): { stepSize: number; bc2Sqrt: number; decay: number } {
  const biasCorrection1 = 1 - Math.pow(h.beta1, h.step);
  const biasCorrection2 = 1 - Math.pow(h.beta2, h.step);
  return { stepSize: h.lr / biasCorrection1, bc2Sqrt: Math.sqrt(biasCorrection2), decay: 1 - h.lr * h.weightDecay };
}

/** The reference Adam/AdamW step: torch.optim.Adam's single-tensor loop, in float64 arithmetic, stored in the param's dtype. */
function adamUpdate(param: FloatStorage, grad: ArrayLike<number>, m: FloatStorage, v: FloatStorage, vmax: FloatStorage | null, h: AdamUpdate): void {
  const { beta1, beta2, eps, weightDecay, decoupled, maximize } = h;
  const { stepSize, bc2Sqrt, decay } = adamScalars(h);
  const n = param.length;
  for (let i = 0; i < n; i++) {
    let g = maximize ? -grad[i]! : grad[i]!;
    if (weightDecay !== 0) {
      if (decoupled) param[i] = param[i]! * decay;
      else g = g + weightDecay * param[i]!;
    }
    m[i] = beta1 * m[i]! + (1 - beta1) * g;
    v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
    let second = v[i]!;
    if (vmax !== null) {
      vmax[i] = Math.max(vmax[i]!, second);
      second = vmax[i]!;
    }
    const denom = Math.sqrt(second) / bc2Sqrt + eps;
    param[i] = param[i]! - stepSize * (m[i]! / denom);
  }
}

// Convolution and pooling. A window's taps along one axis, for output position i, are
// i·stride − pad + t·dil for t < k; the in-plane ones are t in [tapLo, tapHi).

/** The first output column j ≥ 0 whose tap j·stride + shift lies at or past `lo` (a column bound of im2col's copy runs). */
function firstAtOrPast(lo: number, shift: number, stride: number, outLen: number): number {
  return Math.min(outLen, Math.max(0, Math.ceil((lo - shift) / stride)));
}

/**
 * im2col/col2im's loop over the runs of the column matrix (one row of cols, one image n, one
 * output row i: outW elements from `colsAt`; rows of cols are `images`·outH·outW long). A run
 * whose input row lies in the padding goes to zero(colsAt, outW); any other to run(colsAt, xRow,
 * jLo, jHi, shift): its input row starts at xRow (from the first image), and output column j
 * reads input column j·strideW + shift, inside the row for j in [jLo, jHi).
 */
function forEachColsRun(g: Window2d, images: number, run: (colsAt: number, xRow: number, jLo: number, jHi: number, shift: number) => void, zero: (colsAt: number, n: number) => void): void {
  const { c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW, outH, outW } = g;
  const l = outH * outW;
  const image = c * h * w;
  for (let ch = 0, row = 0; ch < c; ch++) {
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++, row++) {
        // Input column of output column j: j·strideW + shift; in the plane for j in [jLo, jHi).
        const shift = b * dilW - padW;
        const jLo = firstAtOrPast(0, shift, strideW, outW);
        const jHi = Math.max(jLo, firstAtOrPast(w, shift, strideW, outW));
        for (let n = 0; n < images; n++) {
          for (let i = 0; i < outH; i++) {
            const at = (row * images + n) * l + i * outW;
            const ih = i * strideH - padH + a * dilH;
            if (ih < 0 || ih >= h) zero(at, outW);
            else run(at, n * image + (ch * h + ih) * w, jLo, jHi, shift);
          }
        }
      }
    }
  }
}

function im2col(x: FloatStorage, xOffset: number, g: Window2d, cols: FloatStorage, colsOffset: number, images = 1): void {
  const { strideW, outW } = g;
  forEachColsRun(
    g,
    images,
    (at, xRow, jLo, jHi, shift) => {
      const o = colsOffset + at;
      for (let j = 0; j < jLo; j++) cols[o + j] = 0;
      for (let j = jLo, ix = xOffset + xRow + jLo * strideW + shift; j < jHi; j++, ix += strideW) cols[o + j] = x[ix]!;
      for (let j = jHi; j < outW; j++) cols[o + j] = 0;
    },
    (at, n) => cols.fill(0, colsOffset + at, colsOffset + at + n),
  );
}

function col2im(cols: FloatStorage, colsOffset: number, g: Window2d, x: FloatStorage, xOffset: number, images = 1): void {
  const { strideW } = g;
  forEachColsRun(
    g,
    images,
    (at, xRow, jLo, jHi, shift) => {
      const o = colsOffset + at;
      for (let j = jLo, ix = xOffset + xRow + jLo * strideW + shift; j < jHi; j++, ix += strideW) x[ix] += cols[o + j]!;
    },
    () => {},
  );
}

/**
 * Direct convolution, the reference: each output plane summed in float64 (bias first, then the
 * taps channel by channel, kernel row by row), rounded once to the output's dtype.
 */
function conv2d(x: FloatStorage, weight: FloatStorage, bias: FloatStorage | null, images: number, outChannels: number, g: Window2d, out: FloatStorage): void {
  const { c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW, outH, outW } = g;
  const l = outH * outW;
  const acc = new Float64Array(l);
  for (let n = 0; n < images; n++) {
    for (let o = 0; o < outChannels; o++) {
      acc.fill(bias === null ? 0 : bias[o]!);
      for (let ch = 0; ch < c; ch++) {
        const plane = (n * c + ch) * h * w;
        for (let a = 0; a < kh; a++) {
          for (let b = 0; b < kw; b++) {
            const wv = weight[((o * c + ch) * kh + a) * kw + b]!;
            const shift = b * dilW - padW;
            const jLo = firstAtOrPast(0, shift, strideW, outW);
            const jHi = Math.max(jLo, firstAtOrPast(w, shift, strideW, outW));
            for (let i = 0; i < outH; i++) {
              const ih = i * strideH - padH + a * dilH;
              if (ih < 0 || ih >= h) continue;
              const row = plane + ih * w + shift;
              for (let j = jLo, at = i * outW; j < jHi; j++) acc[at + j] += wv * x[row + j * strideW]!;
            }
          }
        }
      }
      out.set(acc, (n * outChannels + o) * l);
    }
  }
}

/**
 * The in-plane taps [lo, hi) of the window at output position i along an axis of length n
 * (first tap at i·stride − pad, taps dil apart, k of them).
 */
function tapRange(i: number, n: number, k: number, stride: number, pad: number, dil: number): [number, number] {
  const start = i * stride - pad;
  const lo = start >= 0 ? 0 : Math.ceil(-start / dil);
  const hi = Math.min(k, Math.ceil((n - start) / dil));
  return [Math.min(lo, k), Math.max(hi, 0)];
}

function maxPool2d(x: FloatStorage, g: Window2d, out: FloatStorage, indices: Int32Array): void {
  const { c, h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW, outH, outW } = g;
  for (let p = 0, o = 0; p < c; p++) {
    const plane = p * h * w;
    for (let i = 0; i < outH; i++) {
      const [aLo, aHi] = tapRange(i, h, kh, strideH, padH, dilH);
      const ih0 = i * strideH - padH;
      for (let j = 0; j < outW; j++, o++) {
        const [bLo, bHi] = tapRange(j, w, kw, strideW, padW, dilW);
        const iw0 = j * strideW - padW;
        // As PyTorch: start from −∞ at the first in-plane tap; a larger value or a NaN takes over.
        let best = -Infinity;
        let at = (ih0 + aLo * dilH) * w + iw0 + bLo * dilW;
        for (let a = aLo; a < aHi; a++) {
          const row = (ih0 + a * dilH) * w + iw0;
          for (let b = bLo; b < bHi; b++) {
            const v = x[plane + row + b * dilW]!;
            if (v > best || v !== v) {
              best = v;
              at = row + b * dilW;
            }
          }
        }
        out[o] = best;
        indices[o] = at;
      }
    }
  }
}

/** Average pooling's window on one axis: the in-plane range [lo, hi) of input positions and the padded size (PyTorch's count_include_pad divisor factor). */
function avgWindow(i: number, n: number, k: number, stride: number, pad: number): [number, number, number] {
  const start = i * stride - pad;
  const end = Math.min(start + k, n + pad);
  return [Math.max(start, 0), Math.min(end, n), end - start];
}

/** Visits every window of average pooling: fn(outIndex, planeOffset, rowLo, rowHi, colLo, colHi, divisor); empty windows get divisor 0. */
function forEachAvgWindow(g: Window2d, countIncludePad: boolean, fn: (o: number, plane: number, r0: number, r1: number, c0: number, c1: number, divisor: number) => void): void {
  const { c, h, w, kh, kw, strideH, strideW, padH, padW, outH, outW } = g;
  for (let p = 0, o = 0; p < c; p++) {
    for (let i = 0; i < outH; i++) {
      const [r0, r1, rs] = avgWindow(i, h, kh, strideH, padH);
      for (let j = 0; j < outW; j++, o++) {
        const [c0, c1, cs] = avgWindow(j, w, kw, strideW, padW);
        const empty = r0 >= r1 || c0 >= c1;
        fn(o, p * h * w, r0, r1, c0, c1, empty ? 0 : countIncludePad ? rs * cs : (r1 - r0) * (c1 - c0));
      }
    }
  }
}

function avgPool2d(x: FloatStorage, g: Window2d, out: FloatStorage, countIncludePad: boolean): void {
  const w = g.w;
  forEachAvgWindow(g, countIncludePad, (o, plane, r0, r1, c0, c1, divisor) => {
    if (divisor === 0) {
      out[o] = 0;
      return;
    }
    let s = 0;
    for (let r = r0; r < r1; r++) for (let col = c0; col < c1; col++) s += x[plane + r * w + col]!;
    out[o] = s / divisor;
  });
}

function avgPool2dBackward(gradOut: FloatStorage, g: Window2d, gradIn: FloatStorage, countIncludePad: boolean): void {
  const w = g.w;
  forEachAvgWindow(g, countIncludePad, (o, plane, r0, r1, c0, c1, divisor) => {
    if (divisor === 0) return;
    const v = gradOut[o]! / divisor;
    for (let r = r0; r < r1; r++) for (let col = c0; col < c1; col++) gradIn[plane + r * w + col] += v;
  });
}

// ------------------------------------------------------------------ batch and group normalisation
//
// x viewed as [outer, c, inner]; groups = 0: one statistic per channel (batch norm), else one per
// (sample, group) over a contiguous run of (c/groups)·inner elements (group norm). Sums in
// float64 (two passes: the mean, then Σ (x − μ)²); each output element is computed in float64
// and rounded once, as assembly/norm.ts does (it only sums in another order).

function normForward(x: FloatStorage, outer: number, c: number, inner: number, groups: number, eps: number,
  weight: FloatStorage | null, bias: FloatStorage | null, out: FloatStorage, mean: Float64Array, invstd: Float64Array): void {
  const affine = (start: number, mu: number, q: number, r: number): void => {
    for (let i = start, e = start + inner; i < e; i++) out[i] = (x[i]! - mu) * q + r;
  };
  if (groups === 0) {
    const m = outer * inner;
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let o = 0; o < outer; o++) for (let i = (o * c + ch) * inner, e = i + inner; i < e; i++) s += x[i]!;
      const mu = s / m;
      let v = 0;
      for (let o = 0; o < outer; o++) for (let i = (o * c + ch) * inner, e = i + inner; i < e; i++) { const d = x[i]! - mu; v += d * d; }
      const is = 1 / Math.sqrt(v / m + eps);
      mean[ch] = mu;
      invstd[ch] = is;
      const q = is * (weight ? weight[ch]! : 1), r = bias ? bias[ch]! : 0;
      for (let o = 0; o < outer; o++) affine((o * c + ch) * inner, mu, q, r);
    }
    return;
  }
  const cg = c / groups;
  const len = cg * inner;
  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < groups; g++) {
      const base = (o * c + g * cg) * inner;
      let s = 0;
      for (let i = base; i < base + len; i++) s += x[i]!;
      const mu = s / len;
      let v = 0;
      for (let i = base; i < base + len; i++) { const d = x[i]! - mu; v += d * d; }
      const is = 1 / Math.sqrt(v / len + eps);
      mean[o * groups + g] = mu;
      invstd[o * groups + g] = is;
      for (let j = 0; j < cg; j++) {
        const ch = g * cg + j;
        affine(base + j * inner, mu, is * (weight ? weight[ch]! : 1), bias ? bias[ch]! : 0);
      }
    }
  }
}

function normBackward(dy: FloatStorage, x: FloatStorage, outer: number, c: number, inner: number, groups: number,
  mean: Float64Array, invstd: Float64Array, weight: FloatStorage | null, dx: FloatStorage, dweight: FloatStorage | null, dbias: FloatStorage | null): void {
  const cg = groups === 0 ? 1 : c / groups;
  const stat = (o: number, ch: number): number => (groups === 0 ? ch : o * groups + Math.floor(ch / cg));
  // Per run (o, ch): S0 = Σ dy, S1 = Σ dy·(x − μ).
  const s0 = new Float64Array(outer * c), s1 = new Float64Array(outer * c);
  for (let o = 0; o < outer; o++) {
    for (let ch = 0; ch < c; ch++) {
      const mu = mean[stat(o, ch)]!;
      let a = 0, b = 0;
      for (let i = (o * c + ch) * inner, e = i + inner; i < e; i++) { const g = dy[i]!; a += g; b += g * (x[i]! - mu); }
      s0[o * c + ch] = a;
      s1[o * c + ch] = b;
    }
  }
  for (let ch = 0; ch < c; ch++) {
    let sw = 0, sb = 0;
    for (let o = 0; o < outer; o++) { sb += s0[o * c + ch]!; sw += invstd[stat(o, ch)]! * s1[o * c + ch]!; }
    if (dweight) dweight[ch] = sw;
    if (dbias) dbias[ch] = sb;
  }
  // dx = p·dy + q·(x − μ) + r.
  const run = (start: number, mu: number, p: number, q: number, r: number): void => {
    for (let i = start, e = start + inner; i < e; i++) dx[i] = dy[i]! * p + ((x[i]! - mu) * q + r);
  };
  if (groups === 0) {
    const m = outer * inner;
    for (let ch = 0; ch < c; ch++) {
      let a = 0, b = 0;
      for (let o = 0; o < outer; o++) { a += s0[o * c + ch]!; b += s1[o * c + ch]!; }
      const mu = mean[ch]!, is = invstd[ch]!;
      const p = is * (weight ? weight[ch]! : 1);
      const q = (-p * is * is * b) / m, r = (-p * a) / m;
      for (let o = 0; o < outer; o++) run((o * c + ch) * inner, mu, p, q, r);
    }
    return;
  }
  const m = cg * inner;
  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < groups; g++) {
      let a = 0, b = 0;
      for (let j = 0; j < cg; j++) {
        const ch = g * cg + j;
        const wc = weight ? weight[ch]! : 1;
        a += wc * s0[o * c + ch]!;
        b += wc * s1[o * c + ch]!;
      }
      const mu = mean[o * groups + g]!, is = invstd[o * groups + g]!;
      const q = (-is * is * is * b) / m, r = (-is * a) / m;
      for (let j = 0; j < cg; j++) {
        const ch = g * cg + j;
        run((o * c + ch) * inner, mu, is * (weight ? weight[ch]! : 1), q, r);
      }
    }
  }
}

export const jsBackend: Backend = {
  name: "js",
  unary(op, x, out, p0 = 0, p1 = 0) {
    UNARY[op](x, out, x.length, p0, p1);
  },
  binary(op, a, aStrides, b, bStrides, out, outShape) {
    const kernel = BINARY[op];
    // Fast paths by size alone: an operand with as many elements as the output is read
    // contiguously, and a one-element operand is a scalar.
    const n = out.length;
    if ((a.length === n || a.length === 1) && (b.length === n || b.length === 1)) {
      kernel(a, 0, a.length === 1 && n !== 1 ? 0 : 1, b, 0, b.length === 1 && n !== 1 ? 0 : 1, out, 0, n);
      return;
    }
    forEachRow(outShape, [aStrides ?? directStrides(a, outShape), bStrides ?? directStrides(b, outShape)], (off, io, n, inner) => kernel(a, off[0]!, inner[0]!, b, off[1]!, inner[1]!, out, io, n));
  },
  where(cond, cStrides, a, aStrides, b, bStrides, out, outShape) {
    const n = out.length;
    if ([cond, a, b].every((x) => x.length === n || x.length === 1)) {
      const sc = cond.length === n ? 1 : 0, sa = a.length === n ? 1 : 0, sb = b.length === n ? 1 : 0;
      for (let j = 0, ic = 0, ia = 0, ib = 0; j < n; j++, ic += sc, ia += sa, ib += sb) out[j] = cond[ic] ? a[ia]! : b[ib]!;
      return;
    }
    forEachRow(outShape, [cStrides, aStrides, bStrides], (off, io, n, inner) => {
      let ic = off[0]!, ia = off[1]!, ib = off[2]!;
      const sc = inner[0]!, sa = inner[1]!, sb = inner[2]!;
      for (let j = 0; j < n; j++, ic += sc, ia += sa, ib += sb) out[io + j] = cond[ic] ? a[ia]! : b[ib]!;
    });
  },
  reduce,
  matmul: gemm,
  copyStrided(src, offset, strides, shape, out) {
    forEachRow(shape, [strides], (off, io, n, inner) => {
      let is = offset + off[0]!;
      const s = inner[0]!;
      for (let j = 0; j < n; j++, is += s) out[io + j] = src[is]!;
    });
  },
  scatterStrided(src, out, offset, strides, shape, accumulate) {
    forEachRow(shape, [strides], (off, is, n, inner) => {
      let io = offset + off[0]!;
      const s = inner[0]!;
      if (accumulate) for (let j = 0; j < n; j++, io += s) out[io] += src[is + j]!;
      else for (let j = 0; j < n; j++, io += s) out[io] = src[is + j]!;
    });
  },
  gather(x, index, outer, xLen, idxLen, inner, out, indexIsVector) {
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idxLen; j++) {
        const ob = (o * idxLen + j) * inner;
        for (let i = 0; i < inner; i++) {
          const k = indexIsVector ? index[j]! : index[ob + i]!;
          out[ob + i] = x[(o * xLen + k) * inner + i]!;
        }
      }
    }
  },
  scatterAdd(src, index, outer, outLen, idxLen, inner, out, indexIsVector) {
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idxLen; j++) {
        const sb = (o * idxLen + j) * inner;
        for (let i = 0; i < inner; i++) {
          const k = indexIsVector ? index[j]! : index[sb + i]!;
          out[(o * outLen + k) * inner + i] += src[sb + i]!;
        }
      }
    }
  },
  cast(x, out) {
    if (out instanceof Uint8Array) for (let i = 0; i < x.length; i++) out[i] = x[i] !== 0 ? 1 : 0;
    else if (out instanceof Int32Array) for (let i = 0; i < x.length; i++) out[i] = Math.trunc(x[i]!);
    else out.set(x);
  },
  softmax: softmaxRows,
  im2col,
  col2im,
  conv2d,
  maxPool2d,
  avgPool2d,
  avgPool2dBackward,
  sgdUpdate,
  adamUpdate,
  rmspropUpdate,
  adagradUpdate,
  normForward,
  normBackward,
};
