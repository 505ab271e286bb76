import type { Storage } from "../tensor/dtype.js";
import type { Backend, BinaryOp, ReduceOp, UnaryOp } from "./backend.js";

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
  // Branch-free: (v + |v|) / 2 avoids a mispredicted branch per element on random signs and keeps NaN.
  relu: (x, o, n) => { for (let i = 0; i < n; i++) { const v = x[i]!; o[i] = (v + Math.abs(v)) * 0.5; } },
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
function collapse(shape: readonly number[], stridesList: readonly (readonly number[])[]): [number[], number[][]] {
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

function gemm(a: Storage, ao: number, b: Storage, bo: number, out: Storage, oo: number, m: number, k: number, n: number, transA: boolean, transB: boolean): void {
  // A(i,p) at ao + i*ars + p*acs; B(p,j) at bo + p*brs + j*bcs.
  const ars = transA ? 1 : k, acs = transA ? m : 1;
  const brs = transB ? 1 : n, bcs = transB ? k : 1;
  for (let i = 0; i < m * n; i++) out[oo + i] = 0;
  if (!transB) {
    // i-p-j order: the inner loop streams a row of B and a row of out.
    for (let i = 0; i < m; i++) {
      const orow = oo + i * n;
      for (let p = 0; p < k; p++) {
        const av = a[ao + i * ars + p * acs]!;
        if (av === 0) continue;
        const brow = bo + p * brs;
        for (let j = 0; j < n; j++) out[orow + j] += av * b[brow + j]!;
      }
    }
  } else {
    // B stored [n, k]: a dot product of A's row with B's row for each output element.
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        const bj = bo + j * bcs;
        let ai = ao + i * ars;
        for (let p = 0; p < k; p++, ai += acs) s += a[ai]! * b[bj + p]!;
        out[oo + i * n + j] = s;
      }
    }
  }
}

function reduce(op: ReduceOp, x: Storage, outer: number, len: number, inner: number, out: Storage): void {
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    for (let i = 0; i < inner; i++) {
      let idx = base + i;
      switch (op) {
        case "sum": {
          let s = 0;
          for (let j = 0; j < len; j++, idx += inner) s += x[idx]!;
          out[o * inner + i] = s;
          break;
        }
        case "max":
        case "min":
        case "argmax":
        case "argmin": {
          // NaN wins (it is propagated), and the first of tied values is chosen.
          const wantMax = op === "max" || op === "argmax";
          let best = x[idx]!;
          let bestJ = 0;
          for (let j = 1; j < len && best === best; j++) {
            idx += inner;
            const v = x[idx]!;
            if (v !== v || (wantMax ? v > best : v < best)) { best = v; bestJ = j; }
          }
          out[o * inner + i] = op === "max" || op === "min" ? best : bestJ;
          break;
        }
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
    forEachRow(outShape, [aStrides, bStrides], (off, io, n, inner) => kernel(a, off[0]!, inner[0]!, b, off[1]!, inner[1]!, out, io, n));
  },
  where(cond, cStrides, a, aStrides, b, bStrides, out, outShape) {
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
};
