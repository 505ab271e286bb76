// chainrule's WebAssembly SIMD kernels (AssemblyScript; built by assembly/build.mjs with
// `--enable simd --runtime stub -O3`). Nothing here allocates: every pointer is a byte offset
// into linear memory that the JavaScript side (src/backend/wasm/backend.ts) laid out in its
// scratch region, above __heap_base, and every region is padded so that the vector loops may
// run whole vectors past the last element (16 floats for f32 streams, 8 for f64).
//
// The float32 kernels agree exactly with the JavaScript reference backend wherever IEEE
// arithmetic allows it (neg, abs, sqrt, relu, add, sub, mul, div, maximum, minimum,
// comparisons, where, sums over a non-last axis); exp, sigmoid and tanh use the polynomial
// below (within a few ulp); last-axis sums and matmul add in another order.

/** Where the scratch region may begin. */
export function heapBase(): usize {
  return __heap_base;
}

// Op codes; src/backend/wasm/backend.ts uses the same numbers.
const U_NEG: i32 = 0;
const U_ABS: i32 = 1;
const U_SQRT: i32 = 2;
const U_RELU: i32 = 3;
const U_EXP: i32 = 4;
const U_SIGMOID: i32 = 5;
const U_TANH: i32 = 6;

const B_ADD: i32 = 0;
const B_SUB: i32 = 1;
const B_MUL: i32 = 2;
const B_DIV: i32 = 3;
const B_MAX: i32 = 4;
const B_MIN: i32 = 5;
// Comparisons: eq, lt, le run as written; ne is !eq, gt(a, b) is lt(b, a), ge(a, b) is le(b, a)
// (the JavaScript side swaps the operands and sets `invert`).
const C_EQ: i32 = 0;
const C_LT: i32 = 1;
const C_LE: i32 = 2;

const R_SUM: i32 = 0;
const R_MAX: i32 = 1;
const R_MIN: i32 = 2;

// ------------------------------------------------------------------ exp (float32)
//
// Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite: ln2 = C1 + C2, C1 exact in 9
// bits so n·C1 is exact), e^r by a degree-7 polynomial (1 + r + r²·P(r)), then the product
// with 2^n, applied as two factors 2^(n>>1)·2^(n−(n>>1)) so that results in the subnormal
// range round once and overflow gives +Infinity. x is clamped to [-104, 89] first (outside,
// the result is 0 or +Infinity anyway); NaN passes through.

const LOG2E: f32 = 1.44269504088896341;
const ROUNDER: f32 = 12582912.0; // 1.5·2²³
const ROUNDER_BITS: i32 = 0x4b400000;
const EXP_C1: f32 = 0.693359375;
const EXP_C2: f32 = -2.12194440e-4;
const EXP_P0: f32 = 1.9875691500e-4;
const EXP_P1: f32 = 1.3981999507e-3;
const EXP_P2: f32 = 8.3334519073e-3;
const EXP_P3: f32 = 4.1665795894e-2;
const EXP_P4: f32 = 1.6666665459e-1;
const EXP_P5: f32 = 5.0000001201e-1;

// @ts-ignore: decorator
@inline function expF32x4(x0: v128): v128 {
  // pmax/pmin keep x when it is NaN (the comparison is false), and cost one instruction each.
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-104.0)), f32x4.splat(89.0));
  // n = round(x·log2 e) by the 1.5·2²³ trick: adding it leaves n in the low mantissa bits
  // (|n| ≤ 150), so the integer comes from the bits and no float→int conversion is needed.
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUNDER));
  const fx = f32x4.sub(t, f32x4.splat(ROUNDER));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(EXP_C1)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(EXP_C2)));
  const z = f32x4.mul(r, r);
  let y = f32x4.add(f32x4.mul(f32x4.splat(EXP_P0), r), f32x4.splat(EXP_P1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(EXP_P2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(EXP_P3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(EXP_P4));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(EXP_P5));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), r), f32x4.splat(1.0));
  const n = i32x4.sub(t, i32x4.splat(ROUNDER_BITS)); // NaN gives garbage here, but y is NaN already
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

const SIGN_F32: i32 = 0x80000000;

// Cephes' tanhf: an odd polynomial for |x| < 0.625, else 1 − 2/(e^{2|x|} + 1) with x's sign.
const TANH_P0: f32 = -5.70498872745e-3;
const TANH_P1: f32 = 2.06390887954e-2;
const TANH_P2: f32 = -5.37397155531e-2;
const TANH_P3: f32 = 1.33314422036e-1;
const TANH_P4: f32 = -3.33332819422e-1;

// @ts-ignore: decorator
@inline function tanhF32x4(x: v128): v128 {
  // Computed on |x|, then x's sign is put back: tanh is odd, and tanh(−0) = −0.
  const sign = v128.and(x, i32x4.splat(SIGN_F32));
  const ax = f32x4.abs(x);
  const one = f32x4.splat(1.0);
  const e = expF32x4(f32x4.add(ax, ax));
  const big = f32x4.sub(one, f32x4.div(f32x4.splat(2.0), f32x4.add(e, one)));
  const z = f32x4.mul(ax, ax);
  let p = f32x4.add(f32x4.mul(f32x4.splat(TANH_P0), z), f32x4.splat(TANH_P1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(TANH_P2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(TANH_P3));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(TANH_P4));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), ax), ax);
  return v128.or(v128.bitselect(big, small, f32x4.gt(ax, f32x4.splat(0.625))), sign);
}

// σ(x) = 1/(1 + e^{−x}) for x ≥ 0 and e^{x}/(1 + e^{x}) below, as the reference does: with
// e = e^{−|x|} both are (x ≥ 0 ? 1 : e) / (1 + e), one division.
// @ts-ignore: decorator
@inline function sigmoidF32x4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  const e = expF32x4(f32x4.neg(f32x4.abs(x)));
  const num = v128.bitselect(one, e, f32x4.ge(x, f32x4.splat(0.0)));
  return f32x4.div(num, f32x4.add(one, e));
}

// ------------------------------------------------------------------ unary

/** out[i] = f(x[i]) for i < n (rounded up to whole vectors), float32. */
export function unaryF32(op: i32, x: usize, out: usize, n: i32): void {
  const end = x + ((<usize>(n + 3) >> 2) << 4);
  const d = out - x;
  const zero = f32x4.splat(0.0);
  switch (op) {
    case U_NEG: for (let p = x; p < end; p += 16) v128.store(p + d, f32x4.neg(v128.load(p))); break;
    case U_ABS: for (let p = x; p < end; p += 16) v128.store(p + d, f32x4.abs(v128.load(p))); break;
    case U_SQRT: for (let p = x; p < end; p += 16) v128.store(p + d, f32x4.sqrt(v128.load(p))); break;
    // max(x, +0): NaN stays NaN and −0 gives +0, like the reference's h + |h|.
    case U_RELU: {
      // Four vectors per iteration: this op is bound by memory traffic and loop overhead.
      let p = x;
      for (; p + 64 <= end; p += 64) {
        const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
        v128.store(p + d, f32x4.max(v0, zero));
        v128.store(p + d, f32x4.max(v1, zero), 16);
        v128.store(p + d, f32x4.max(v2, zero), 32);
        v128.store(p + d, f32x4.max(v3, zero), 48);
      }
      for (; p < end; p += 16) v128.store(p + d, f32x4.max(v128.load(p), zero));
      break;
    }
    case U_EXP: for (let p = x; p < end; p += 16) v128.store(p + d, expF32x4(v128.load(p))); break;
    case U_SIGMOID: for (let p = x; p < end; p += 16) v128.store(p + d, sigmoidF32x4(v128.load(p))); break;
    case U_TANH: for (let p = x; p < end; p += 16) v128.store(p + d, tanhF32x4(v128.load(p))); break;
    default: unreachable();
  }
}

/** out[i] = f(x[i]), float64 (neg, abs, sqrt, relu only: the transcendental ones stay in JavaScript). */
export function unaryF64(op: i32, x: usize, out: usize, n: i32): void {
  const end = x + ((<usize>(n + 1) >> 1) << 4);
  const d = out - x;
  const zero = f64x2.splat(0.0);
  switch (op) {
    case U_NEG: for (let p = x; p < end; p += 16) v128.store(p + d, f64x2.neg(v128.load(p))); break;
    case U_ABS: for (let p = x; p < end; p += 16) v128.store(p + d, f64x2.abs(v128.load(p))); break;
    case U_SQRT: for (let p = x; p < end; p += 16) v128.store(p + d, f64x2.sqrt(v128.load(p))); break;
    case U_RELU: for (let p = x; p < end; p += 16) v128.store(p + d, f64x2.max(v128.load(p), zero)); break;
    default: unreachable();
  }
}

// ------------------------------------------------------------------ binary

// The reference's maximum: x > y || x !== x ? x : y (NaN from either side propagates; on a
// tie, including ±0, y is returned). Written with masks so the result is the same bit for bit.
// @ts-ignore: decorator
@inline function maxF32x4(x: v128, y: v128): v128 {
  return v128.bitselect(x, y, v128.or(f32x4.gt(x, y), f32x4.ne(x, x)));
}
// @ts-ignore: decorator
@inline function minF32x4(x: v128, y: v128): v128 {
  return v128.bitselect(x, y, v128.or(f32x4.lt(x, y), f32x4.ne(x, x)));
}
// @ts-ignore: decorator
@inline function maxF64x2(x: v128, y: v128): v128 {
  return v128.bitselect(x, y, v128.or(f64x2.gt(x, y), f64x2.ne(x, x)));
}
// @ts-ignore: decorator
@inline function minF64x2(x: v128, y: v128): v128 {
  return v128.bitselect(x, y, v128.or(f64x2.lt(x, y), f64x2.ne(x, x)));
}

/**
 * out[i] = a[i] op b[i], float32. `sa`/`sb` are the byte steps per vector: 16 for a full
 * operand, 0 for a scalar that the caller stored splatted (four copies).
 */
export function binaryF32(op: i32, a: usize, sa: usize, b: usize, sb: usize, out: usize, n: i32): void {
  const end = out + ((<usize>(n + 3) >> 2) << 4);
  switch (op) {
    case B_ADD: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, f32x4.add(v128.load(a), v128.load(b))); break;
    case B_SUB: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, f32x4.sub(v128.load(a), v128.load(b))); break;
    case B_MUL: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, f32x4.mul(v128.load(a), v128.load(b))); break;
    case B_DIV: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, f32x4.div(v128.load(a), v128.load(b))); break;
    case B_MAX: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, maxF32x4(v128.load(a), v128.load(b))); break;
    case B_MIN: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, minF32x4(v128.load(a), v128.load(b))); break;
    default: unreachable();
  }
}

/** float64 version of binaryF32 (a scalar is stored twice in its 16 bytes). */
export function binaryF64(op: i32, a: usize, sa: usize, b: usize, sb: usize, out: usize, n: i32): void {
  const end = out + ((<usize>(n + 1) >> 1) << 4);
  switch (op) {
    case B_ADD: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, f64x2.add(v128.load(a), v128.load(b))); break;
    case B_SUB: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, f64x2.sub(v128.load(a), v128.load(b))); break;
    case B_MUL: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, f64x2.mul(v128.load(a), v128.load(b))); break;
    case B_DIV: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, f64x2.div(v128.load(a), v128.load(b))); break;
    case B_MAX: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, maxF64x2(v128.load(a), v128.load(b))); break;
    case B_MIN: for (let o = out; o < end; o += 16, a += sa, b += sb) v128.store(o, minF64x2(v128.load(a), v128.load(b))); break;
    default: unreachable();
  }
}

/** Scratch for a column-broadcast operand splatted for one row (a and b: 16 bytes each). */
const ROW_SPLAT: usize = memory.data(32, 16);

/**
 * A broadcast binary op over rows: out[r, j] = A(r, j) op B(r, j) for r < rows, j < cols, with
 * A(r, j) = a[r·ars + j] when aInner, else a[r·ars] (one value per row), likewise B; row strides
 * in bytes. `kind` 0 runs arithmetic op `op` (float32 out), 1 runs comparison `op` with `invert`
 * (one byte out). Each row is one call of the streaming kernels; a row's last vector may run past
 * its end into the next row, which is written afterwards, or into the caller's padding.
 */
export function rowsF32(kind: i32, op: i32, invert: i32, a: usize, ars: usize, aInner: bool, b: usize, brs: usize, bInner: bool, out: usize, rows: i32, cols: i32): void {
  const orow = kind == 0 ? <usize>cols << 2 : <usize>cols;
  for (let r = 0; r < rows; r++, a += ars, b += brs, out += orow) {
    let pa = a, sa: usize = 16, pb = b, sb: usize = 16;
    if (!aInner) { v128.store(ROW_SPLAT, v128.load32_splat(a)); pa = ROW_SPLAT; sa = 0; }
    if (!bInner) { v128.store(ROW_SPLAT, v128.load32_splat(b), 16); pb = ROW_SPLAT + 16; sb = 0; }
    if (kind == 0) binaryF32(op, pa, sa, pb, sb, out, cols);
    else compareF32(op, invert, pa, sa, pb, sb, out, cols);
  }
}

/** float64 version of rowsF32. */
export function rowsF64(kind: i32, op: i32, invert: i32, a: usize, ars: usize, aInner: bool, b: usize, brs: usize, bInner: bool, out: usize, rows: i32, cols: i32): void {
  const orow = kind == 0 ? <usize>cols << 3 : <usize>cols;
  for (let r = 0; r < rows; r++, a += ars, b += brs, out += orow) {
    let pa = a, sa: usize = 16, pb = b, sb: usize = 16;
    if (!aInner) { v128.store(ROW_SPLAT, v128.load64_splat(a)); pa = ROW_SPLAT; sa = 0; }
    if (!bInner) { v128.store(ROW_SPLAT, v128.load64_splat(b), 16); pb = ROW_SPLAT + 16; sb = 0; }
    if (kind == 0) binaryF64(op, pa, sa, pb, sb, out, cols);
    else compareF64(op, invert, pa, sa, pb, sb, out, cols);
  }
}

// @ts-ignore: decorator
@inline function cmpF32x4(op: i32, x: v128, y: v128): v128 {
  return op == C_EQ ? f32x4.eq(x, y) : op == C_LT ? f32x4.lt(x, y) : f32x4.le(x, y);
}
// @ts-ignore: decorator
@inline function cmpF64x2(op: i32, x: v128, y: v128): v128 {
  return op == C_EQ ? f64x2.eq(x, y) : op == C_LT ? f64x2.lt(x, y) : f64x2.le(x, y);
}

/**
 * out[i] = (a[i] cmp b[i]) ^ invert as one byte (0/1), float32 operands, 16 elements per
 * step. Steps `sa`/`sb` are bytes per 4 elements (16, or 0 for a splatted scalar).
 */
export function compareF32(op: i32, invert: i32, a: usize, sa: usize, b: usize, sb: usize, out: usize, n: i32): void {
  const end = out + ((<usize>(n + 15) >> 4) << 4);
  const flip = i8x16.splat(<i8>invert);
  const one = i8x16.splat(1);
  for (let o = out; o < end; o += 16) {
    const m0 = cmpF32x4(op, v128.load(a), v128.load(b));
    const m1 = cmpF32x4(op, v128.load(a + sa), v128.load(b + sb));
    const m2 = cmpF32x4(op, v128.load(a + 2 * sa), v128.load(b + 2 * sb));
    const m3 = cmpF32x4(op, v128.load(a + 3 * sa), v128.load(b + 3 * sb));
    a += 4 * sa;
    b += 4 * sb;
    const bytes = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(m0, m1), i16x8.narrow_i32x4_s(m2, m3));
    v128.store(o, v128.xor(v128.and(bytes, one), flip));
  }
}

/** float64 version of compareF32 (steps are bytes per 2 elements). */
export function compareF64(op: i32, invert: i32, a: usize, sa: usize, b: usize, sb: usize, out: usize, n: i32): void {
  const end = out + ((<usize>(n + 15) >> 4) << 4);
  const flip = i8x16.splat(<i8>invert);
  const one = i8x16.splat(1);
  for (let o = out; o < end; o += 16) {
    // Each f64 mask is two equal 32-bit halves: keep the even halves, four elements per vector.
    const q0 = v128.shuffle<i32>(cmpF64x2(op, v128.load(a), v128.load(b)), cmpF64x2(op, v128.load(a + sa), v128.load(b + sb)), 0, 2, 4, 6);
    const q1 = v128.shuffle<i32>(cmpF64x2(op, v128.load(a + 2 * sa), v128.load(b + 2 * sb)), cmpF64x2(op, v128.load(a + 3 * sa), v128.load(b + 3 * sb)), 0, 2, 4, 6);
    const q2 = v128.shuffle<i32>(cmpF64x2(op, v128.load(a + 4 * sa), v128.load(b + 4 * sb)), cmpF64x2(op, v128.load(a + 5 * sa), v128.load(b + 5 * sb)), 0, 2, 4, 6);
    const q3 = v128.shuffle<i32>(cmpF64x2(op, v128.load(a + 6 * sa), v128.load(b + 6 * sb)), cmpF64x2(op, v128.load(a + 7 * sa), v128.load(b + 7 * sb)), 0, 2, 4, 6);
    a += 8 * sa;
    b += 8 * sb;
    const bytes = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
    v128.store(o, v128.xor(v128.and(bytes, one), flip));
  }
}

/**
 * out[i] = cond[i] ≠ 0 ? a[i] : b[i], float32, with a one-byte cond; 16 elements per step.
 * `sc` is the cond step per 16 elements (16, or 0 for a splatted scalar), `sa`/`sb` the
 * operand steps per 4 elements.
 */
export function whereF32(cond: usize, sc: usize, a: usize, sa: usize, b: usize, sb: usize, out: usize, n: i32): void {
  const end = out + ((<usize>(n + 15) >> 4) << 6);
  const zero = i32x4.splat(0);
  for (let o = out; o < end; o += 64, cond += sc) {
    const c = v128.load(cond);
    const lo = i16x8.extend_low_i8x16_u(c);
    const hi = i16x8.extend_high_i8x16_u(c);
    const m0 = i32x4.ne(i32x4.extend_low_i16x8_u(lo), zero);
    const m1 = i32x4.ne(i32x4.extend_high_i16x8_u(lo), zero);
    const m2 = i32x4.ne(i32x4.extend_low_i16x8_u(hi), zero);
    const m3 = i32x4.ne(i32x4.extend_high_i16x8_u(hi), zero);
    v128.store(o, v128.bitselect(v128.load(a), v128.load(b), m0));
    v128.store(o, v128.bitselect(v128.load(a + sa), v128.load(b + sb), m1), 16);
    v128.store(o, v128.bitselect(v128.load(a + 2 * sa), v128.load(b + 2 * sb), m2), 32);
    v128.store(o, v128.bitselect(v128.load(a + 3 * sa), v128.load(b + 3 * sb), m3), 48);
    a += 4 * sa;
    b += 4 * sb;
  }
}

/** float64 version of whereF32 (operand steps per 2 elements). */
export function whereF64(cond: usize, sc: usize, a: usize, sa: usize, b: usize, sb: usize, out: usize, n: i32): void {
  const end = out + ((<usize>(n + 15) >> 4) << 7);
  const zero = i64x2.splat(0);
  for (let o = out; o < end; o += 128, cond += sc) {
    const c = v128.load(cond);
    const lo = i16x8.extend_low_i8x16_u(c);
    const hi = i16x8.extend_high_i8x16_u(c);
    const w0 = i32x4.extend_low_i16x8_u(lo);
    const w1 = i32x4.extend_high_i16x8_u(lo);
    const w2 = i32x4.extend_low_i16x8_u(hi);
    const w3 = i32x4.extend_high_i16x8_u(hi);
    const m0 = i64x2.ne(i64x2.extend_low_i32x4_u(w0), zero), m1 = i64x2.ne(i64x2.extend_high_i32x4_u(w0), zero);
    const m2 = i64x2.ne(i64x2.extend_low_i32x4_u(w1), zero), m3 = i64x2.ne(i64x2.extend_high_i32x4_u(w1), zero);
    const m4 = i64x2.ne(i64x2.extend_low_i32x4_u(w2), zero), m5 = i64x2.ne(i64x2.extend_high_i32x4_u(w2), zero);
    const m6 = i64x2.ne(i64x2.extend_low_i32x4_u(w3), zero), m7 = i64x2.ne(i64x2.extend_high_i32x4_u(w3), zero);
    v128.store(o, v128.bitselect(v128.load(a), v128.load(b), m0));
    v128.store(o, v128.bitselect(v128.load(a + sa), v128.load(b + sb), m1), 16);
    v128.store(o, v128.bitselect(v128.load(a + 2 * sa), v128.load(b + 2 * sb), m2), 32);
    v128.store(o, v128.bitselect(v128.load(a + 3 * sa), v128.load(b + 3 * sb), m3), 48);
    v128.store(o, v128.bitselect(v128.load(a + 4 * sa), v128.load(b + 4 * sb), m4), 64);
    v128.store(o, v128.bitselect(v128.load(a + 5 * sa), v128.load(b + 5 * sb), m5), 80);
    v128.store(o, v128.bitselect(v128.load(a + 6 * sa), v128.load(b + 6 * sb), m6), 96);
    v128.store(o, v128.bitselect(v128.load(a + 7 * sa), v128.load(b + 7 * sb), m7), 112);
    a += 8 * sa;
    b += 8 * sb;
  }
}

// ------------------------------------------------------------------ reductions
//
// x viewed as [outer, len, inner] → out [outer, inner]. Over the last axis (inner = 1) float32
// sums accumulate in float64 (four lanes), so they are at least as accurate as the reference's
// sequential float64 sum; max/min keep one running value per lane with the reference's rule
// (NaN sticks; a later element wins only when strictly greater), then merge the lanes in order.
// Over another axis the rows of [len, inner] are swept in memory order with one running value
// per column, exactly as the reference does, so those results are identical.

// @ts-ignore: decorator
@inline function pickF32x4(op: i32, cur: v128, v: v128): v128 {
  const better = op == R_MAX ? f32x4.gt(v, cur) : f32x4.lt(v, cur);
  return v128.bitselect(v, cur, v128.and(f32x4.eq(cur, cur), v128.or(f32x4.ne(v, v), better)));
}
// @ts-ignore: decorator
@inline function pickF64x2(op: i32, cur: v128, v: v128): v128 {
  const better = op == R_MAX ? f64x2.gt(v, cur) : f64x2.lt(v, cur);
  return v128.bitselect(v, cur, v128.and(f64x2.eq(cur, cur), v128.or(f64x2.ne(v, v), better)));
}
// @ts-ignore: decorator
@inline function pickScalar<T>(op: i32, cur: T, v: T): T {
  return cur == cur && (v != v || (op == R_MAX ? v > cur : v < cur)) ? v : cur;
}

export function reduceF32(op: i32, x: usize, outer: i32, len: i32, inner: i32, out: usize): void {
  if (inner == 1) {
    const vecs = len >> 2;
    for (let o = 0; o < outer; o++) {
      let p = x + ((<usize>o * <usize>len) << 2);
      const tailEnd = p + (<usize>len << 2);
      if (op == R_SUM) {
        let s0 = f64x2.splat(0.0), s1 = f64x2.splat(0.0), s2 = f64x2.splat(0.0), s3 = f64x2.splat(0.0);
        let j = 0;
        for (; j + 2 <= vecs; j += 2, p += 32) {
          const v = v128.load(p);
          const w = v128.load(p, 16);
          s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
          s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 0, 1)));
          s2 = f64x2.add(s2, f64x2.promote_low_f32x4(w));
          s3 = f64x2.add(s3, f64x2.promote_low_f32x4(v128.shuffle<i32>(w, w, 2, 3, 0, 1)));
        }
        if (j < vecs) {
          const v = v128.load(p);
          s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
          s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 0, 1)));
          p += 16;
        }
        const t = f64x2.add(f64x2.add(s0, s2), f64x2.add(s1, s3));
        let s = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
        for (; p < tailEnd; p += 4) s += <f64>load<f32>(p);
        store<f32>(out + (<usize>o << 2), <f32>s);
      } else {
        let best: f32;
        if (vecs > 0) {
          let cur = v128.load(p);
          p += 16;
          for (let j = 1; j < vecs; j++, p += 16) cur = pickF32x4(op, cur, v128.load(p));
          best = f32x4.extract_lane(cur, 0);
          best = pickScalar<f32>(op, best, f32x4.extract_lane(cur, 1));
          best = pickScalar<f32>(op, best, f32x4.extract_lane(cur, 2));
          best = pickScalar<f32>(op, best, f32x4.extract_lane(cur, 3));
        } else {
          best = load<f32>(p);
          p += 4;
        }
        for (; p < tailEnd; p += 4) best = pickScalar<f32>(op, best, load<f32>(p));
        store<f32>(out + (<usize>o << 2), best);
      }
    }
    return;
  }
  const rowBytes = <usize>inner << 2;
  const vecEnd = (<usize>(inner >> 2)) << 4;
  for (let o = 0; o < outer; o++) {
    const ob = out + <usize>o * rowBytes;
    let xb = x + <usize>o * <usize>len * rowBytes;
    if (op == R_SUM) {
      memory.fill(ob, 0, rowBytes);
      for (let j = 0; j < len; j++, xb += rowBytes) {
        let i: usize = 0;
        for (; i < vecEnd; i += 16) v128.store(ob + i, f32x4.add(v128.load(ob + i), v128.load(xb + i)));
        for (; i < rowBytes; i += 4) store<f32>(ob + i, load<f32>(ob + i) + load<f32>(xb + i));
      }
    } else {
      memory.copy(ob, xb, rowBytes);
      xb += rowBytes;
      for (let j = 1; j < len; j++, xb += rowBytes) {
        let i: usize = 0;
        for (; i < vecEnd; i += 16) v128.store(ob + i, pickF32x4(op, v128.load(ob + i), v128.load(xb + i)));
        for (; i < rowBytes; i += 4) store<f32>(ob + i, pickScalar<f32>(op, load<f32>(ob + i), load<f32>(xb + i)));
      }
    }
  }
}

export function reduceF64(op: i32, x: usize, outer: i32, len: i32, inner: i32, out: usize): void {
  if (inner == 1) {
    const vecs = len >> 1;
    for (let o = 0; o < outer; o++) {
      let p = x + ((<usize>o * <usize>len) << 3);
      const tailEnd = p + (<usize>len << 3);
      if (op == R_SUM) {
        let s0 = f64x2.splat(0.0), s1 = f64x2.splat(0.0);
        let j = 0;
        for (; j + 2 <= vecs; j += 2, p += 32) {
          s0 = f64x2.add(s0, v128.load(p));
          s1 = f64x2.add(s1, v128.load(p, 16));
        }
        if (j < vecs) {
          s0 = f64x2.add(s0, v128.load(p));
          p += 16;
        }
        const t = f64x2.add(s0, s1);
        let s = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
        for (; p < tailEnd; p += 8) s += load<f64>(p);
        store<f64>(out + (<usize>o << 3), s);
      } else {
        let best: f64;
        if (vecs > 0) {
          let cur = v128.load(p);
          p += 16;
          for (let j = 1; j < vecs; j++, p += 16) cur = pickF64x2(op, cur, v128.load(p));
          best = pickScalar<f64>(op, f64x2.extract_lane(cur, 0), f64x2.extract_lane(cur, 1));
        } else {
          best = load<f64>(p);
          p += 8;
        }
        for (; p < tailEnd; p += 8) best = pickScalar<f64>(op, best, load<f64>(p));
        store<f64>(out + (<usize>o << 3), best);
      }
    }
    return;
  }
  const rowBytes = <usize>inner << 3;
  const vecEnd = (<usize>(inner >> 1)) << 4;
  for (let o = 0; o < outer; o++) {
    const ob = out + <usize>o * rowBytes;
    let xb = x + <usize>o * <usize>len * rowBytes;
    if (op == R_SUM) {
      memory.fill(ob, 0, rowBytes);
      for (let j = 0; j < len; j++, xb += rowBytes) {
        let i: usize = 0;
        for (; i < vecEnd; i += 16) v128.store(ob + i, f64x2.add(v128.load(ob + i), v128.load(xb + i)));
        for (; i < rowBytes; i += 8) store<f64>(ob + i, load<f64>(ob + i) + load<f64>(xb + i));
      }
    } else {
      memory.copy(ob, xb, rowBytes);
      xb += rowBytes;
      for (let j = 1; j < len; j++, xb += rowBytes) {
        let i: usize = 0;
        for (; i < vecEnd; i += 16) v128.store(ob + i, pickF64x2(op, v128.load(ob + i), v128.load(xb + i)));
        for (; i < rowBytes; i += 8) store<f64>(ob + i, pickScalar<f64>(op, load<f64>(ob + i), load<f64>(xb + i)));
      }
    }
  }
}

// ------------------------------------------------------------------ matmul
//
// C[m,n] = op(A)[m,k] · op(B)[k,n] (GotoBLAS-style). For each block of KC steps of k, op(B)
// is packed into panels of NR columns ([kb][NR] each, zero-padded past n), then for each
// block of MC rows op(A) is packed into panels of MR rows ([kb][MR]); a register-tiled
// micro-kernel multiplies one A panel by one B panel into an MR×NR tile of C held in
// registers. Transposed operands are read in their own layout while packing (a 4×4 shuffle
// transpose where the panel runs across rows), so every transpose combination runs at the
// same speed. float32: MR×NR = 4×8 (eight f32x4 accumulators); float64: 4×4 (eight f64x2).
// The A block (MC·KC·4 = 128 KiB) stays in L2 while one B panel (KC·NR·4 = 8 KiB) stays in L1.

const KC: i32 = 256;
const MC: i32 = 128;
/** The blocking, for the caller's packing buffers: ceil(min(MC, m)/4)·4·min(KC, k) elements for A, ceil(n/NR)·NR·min(KC, k) for B. */
export const GEMM_KC = KC;
export const GEMM_MC = MC;

/**
 * a·b + c for the micro-kernels. The relaxed-SIMD build (`--enable relaxed-simd`, used where the
 * engine has it: Chromium, Node ≥ 22, Node 20 with its flag) emits one fused multiply-add
 * (rounded once where the CPU fuses, as x86 with FMA does); the plain build a multiply and an add.
 */
// @ts-ignore: decorator
@inline function maddF32(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}
// @ts-ignore: decorator
@inline function maddF64(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f64x2.relaxed_madd(a, b, c);
  return f64x2.add(c, f64x2.mul(a, b));
}

/** A tile of C that does not fit the matrix edge is written here first (8 vectors). */
const EDGE: usize = memory.data(128, 16);

/**
 * Packs W-wide panels from a source whose panel index runs along memory: element (i, p) of the
 * panelled operand is src[p·ld + i], for i < count, p < kb. dst holds ceil(count/W) panels of
 * [kb][W] (4-byte elements), zero-padded past count.
 */
function packAlongF32(dst: usize, src: usize, ld: i32, count: i32, kb: i32, W: i32): void {
  const ldb = <usize>ld << 2;
  const wb = <usize>W << 2;
  for (let q = 0; q < count; q += W) {
    const cols = min(W, count - q);
    let s = src + (<usize>q << 2);
    if (cols == W) {
      if (W == 8) {
        for (let p = 0; p < kb; p++, s += ldb, dst += 32) {
          v128.store(dst, v128.load(s));
          v128.store(dst, v128.load(s, 16), 16);
        }
      } else {
        for (let p = 0; p < kb; p++, s += ldb, dst += 16) v128.store(dst, v128.load(s));
      }
    } else {
      for (let p = 0; p < kb; p++, s += ldb, dst += wb) {
        for (let c = 0; c < W; c++) store<f32>(dst + (<usize>c << 2), c < cols ? load<f32>(s + (<usize>c << 2)) : 0);
      }
    }
  }
}

/**
 * Packs W-wide panels from a source whose panel index runs across rows: element (i, p) is
 * src[i·ld + p]. Groups of 4 rows × 4 steps are transposed with shuffles.
 */
function packAcrossF32(dst: usize, src: usize, ld: i32, count: i32, kb: i32, W: i32): void {
  const ldb = <usize>ld << 2;
  const wb = <usize>W << 2;
  const kb4 = kb & ~3;
  for (let q = 0; q < count; q += W, dst += <usize>kb * wb) {
    for (let g = 0; g < W; g += 4) {
      const r0 = q + g;
      const rows = min(4, count - r0);
      const d = dst + (<usize>g << 2);
      const s0 = src + <usize>r0 * ldb;
      if (rows == 4) {
        const s1 = s0 + ldb, s2 = s1 + ldb, s3 = s2 + ldb;
        let p = 0;
        for (; p < kb4; p += 4) {
          const off = <usize>p << 2;
          const a0 = v128.load(s0 + off), a1 = v128.load(s1 + off), a2 = v128.load(s2 + off), a3 = v128.load(s3 + off);
          const t0 = v128.shuffle<i32>(a0, a1, 0, 4, 1, 5);
          const t1 = v128.shuffle<i32>(a0, a1, 2, 6, 3, 7);
          const t2 = v128.shuffle<i32>(a2, a3, 0, 4, 1, 5);
          const t3 = v128.shuffle<i32>(a2, a3, 2, 6, 3, 7);
          const dp = d + <usize>p * wb;
          v128.store(dp, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
          v128.store(dp + wb, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
          v128.store(dp + 2 * wb, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
          v128.store(dp + 3 * wb, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
        }
        for (; p < kb; p++) {
          const off = <usize>p << 2;
          const dp = d + <usize>p * wb;
          store<f32>(dp, load<f32>(s0 + off));
          store<f32>(dp, load<f32>(s1 + off), 4);
          store<f32>(dp, load<f32>(s2 + off), 8);
          store<f32>(dp, load<f32>(s3 + off), 12);
        }
      } else {
        for (let p = 0; p < kb; p++) {
          const dp = d + <usize>p * wb;
          for (let r = 0; r < 4; r++) {
            store<f32>(dp + (<usize>r << 2), r < rows ? load<f32>(s0 + <usize>r * ldb + (<usize>p << 2)) : 0);
          }
        }
      }
    }
  }
}

/** Writes (or adds, when accumulating) one 4×8 tile, or its rows×cols corner at an edge. */
// @ts-ignore: decorator
@inline function storeTileF32(c: usize, ldc: usize, rows: i32, cols: i32, acc: bool, edge: usize,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128): void {
  if (rows == 4 && cols == 8) {
    if (acc) {
      v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c, f32x4.add(v128.load(c, 16), c01), 16); c += ldc;
      v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c, f32x4.add(v128.load(c, 16), c11), 16); c += ldc;
      v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c, f32x4.add(v128.load(c, 16), c21), 16); c += ldc;
      v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c, f32x4.add(v128.load(c, 16), c31), 16);
    } else {
      v128.store(c, c00); v128.store(c, c01, 16); c += ldc;
      v128.store(c, c10); v128.store(c, c11, 16); c += ldc;
      v128.store(c, c20); v128.store(c, c21, 16); c += ldc;
      v128.store(c, c30); v128.store(c, c31, 16);
    }
    return;
  }
  v128.store(edge, c00); v128.store(edge, c01, 16);
  v128.store(edge, c10, 32); v128.store(edge, c11, 48);
  v128.store(edge, c20, 64); v128.store(edge, c21, 80);
  v128.store(edge, c30, 96); v128.store(edge, c31, 112);
  for (let r = 0; r < rows; r++, c += ldc) {
    for (let j = 0; j < cols; j++) {
      const v = load<f32>(edge + ((<usize>(r * 8 + j)) << 2));
      const at = c + (<usize>j << 2);
      store<f32>(at, acc ? load<f32>(at) + v : v);
    }
  }
}

/** One 4×8 tile of C from an A panel [kb][4] and a B panel [kb][8]. */
function kernelF32(pa: usize, pb: usize, kb: i32, c: usize, ldc: usize, rows: i32, cols: i32, acc: bool, edge: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kb; p++, pa += 16, pb += 32) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = maddF32(a, b0, c00);
    c01 = maddF32(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = maddF32(a, b0, c10);
    c11 = maddF32(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = maddF32(a, b0, c20);
    c21 = maddF32(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = maddF32(a, b0, c30);
    c31 = maddF32(a, b1, c31);
  }
  storeTileF32(c, ldc, rows, cols, acc, edge, c00, c01, c10, c11, c20, c21, c30, c31);
}

/**
 * C = op(A)·op(B), float32. A is [m,k] ([k,m] when transA), B is [k,n] ([n,k] when transB),
 * C is [m,n]; pa/pb are packing buffers of MC·KC and ceil(n/8)·8·KC floats.
 */
export function gemmF32(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, transA: bool, transB: bool, pa: usize, pb: usize): void {
  gemmRowsF32(a, b, c, m, k, n, transA, transB, pa, pb, EDGE, 0, m, false);
}

/**
 * Packs op(B) whole, as gemmRowsF32 with `packed` reads it: the block of KC steps from pc at
 * pb + pc·ceil(n/8)·8 floats, its panels as gemmF32 packs them. Only panels jp0 ≤ jp < jp1, so
 * that threads can share the work.
 */
export function packBF32(b: usize, k: i32, n: i32, transB: bool, pb: usize, jp0: i32, jp1: i32): void {
  const nr = ((n + 7) >> 3) << 3;
  const c0 = jp0 << 3;
  const c1 = min(n, jp1 << 3);
  if (c1 <= c0) return;
  for (let pc = 0; pc < k; pc += KC) {
    const kb = min(KC, k - pc);
    const dst = pb + ((<usize>pc * <usize>nr) << 2) + ((<usize>jp0 * <usize>kb) << 5);
    if (transB) packAcrossF32(dst, b + ((<usize>c0 * <usize>k + <usize>pc) << 2), k, c1 - c0, kb, 8);
    else packAlongF32(dst, b + ((<usize>pc * <usize>n + <usize>c0) << 2), n, c1 - c0, kb, 8);
  }
}

/**
 * Rows r0 ≤ i < r1 of C = op(A)·op(B), float32, as gemmF32 computes them (every element of C
 * runs through the same additions in the same order whichever rows a call covers, so threads
 * that split the rows of C produce the 1-thread result bit for bit). `edge` is 128 bytes of
 * scratch for the tiles at the matrix edge: each thread passes its own. With `packed`, pb holds
 * all of op(B) packed by packBF32 (shared by the threads) and b is not read.
 */
export function gemmRowsF32(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, transA: bool, transB: bool, pa: usize, pb: usize, edge: usize, r0: i32, r1: i32, packed: bool): void {
  if (r1 <= r0 || n == 0) return;
  const ldc = <usize>n << 2;
  if (k == 0) {
    memory.fill(c + <usize>r0 * ldc, 0, <usize>(r1 - r0) * ldc);
    return;
  }
  const nPanels = (n + 7) >> 3;
  for (let pc = 0; pc < k; pc += KC) {
    const kb = min(KC, k - pc);
    // op(B)(p, j): B[(pc+p)·n + j], or B[j·k + pc + p] when transposed; with `packed`, pb holds
    // every block already (packBF32) and b is not read.
    const pbb = packed ? pb + ((<usize>pc * <usize>(nPanels << 3)) << 2) : pb;
    if (!packed) {
      if (transB) packAcrossF32(pb, b + (<usize>pc << 2), k, n, kb, 8);
      else packAlongF32(pb, b + ((<usize>pc * <usize>n) << 2), n, n, kb, 8);
    }
    for (let ic = r0; ic < r1; ic += MC) {
      const mb = min(MC, r1 - ic);
      // op(A)(i, p): A[(ic+i)·k + pc + p], or A[(pc+p)·m + ic + i] when transposed.
      if (transA) packAlongF32(pa, a + ((<usize>pc * <usize>m + <usize>ic) << 2), m, mb, kb, 4);
      else packAcrossF32(pa, a + ((<usize>ic * <usize>k + <usize>pc) << 2), k, mb, kb, 4);
      const mPanels = (mb + 3) >> 2;
      for (let jp = 0; jp < nPanels; jp++) {
        const cols = min(8, n - (jp << 3));
        const bp = pbb + ((<usize>jp * <usize>kb) << 5);
        let cp = c + <usize>ic * ldc + (<usize>jp << 5);
        for (let ip = 0; ip < mPanels; ip++, cp += ldc << 2) {
          kernelF32(pa + ((<usize>ip * <usize>kb) << 4), bp, kb, cp, ldc, min(4, mb - (ip << 2)), cols, pc > 0, edge);
        }
      }
    }
  }
}

/** Packs 4-wide float64 panels: element (i, p) is src[i·si + p·sp] (strides in elements). */
function packF64(dst: usize, src: usize, si: i32, sp: i32, count: i32, kb: i32): void {
  const sib = <usize>si << 3;
  const spb = <usize>sp << 3;
  for (let q = 0; q < count; q += 4) {
    const rows = min(4, count - q);
    for (let r = 0; r < 4; r++) {
      let s = src + <usize>(q + r) * sib;
      let d = dst + (<usize>r << 3);
      if (r < rows) for (let p = 0; p < kb; p++, s += spb, d += 32) store<f64>(d, load<f64>(s));
      else for (let p = 0; p < kb; p++, d += 32) store<f64>(d, 0);
    }
    dst += <usize>kb << 5;
  }
}

/** One 4×4 float64 tile of C from an A panel [kb][4] and a B panel [kb][4]. */
function kernelF64(pa: usize, pb: usize, kb: i32, c: usize, ldc: usize, rows: i32, cols: i32, acc: bool, edge: usize): void {
  let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c10 = f64x2.splat(0), c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0), c21 = f64x2.splat(0), c30 = f64x2.splat(0), c31 = f64x2.splat(0);
  for (let p = 0; p < kb; p++, pa += 32, pb += 32) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load64_splat(pa);
    c00 = maddF64(a, b0, c00);
    c01 = maddF64(a, b1, c01);
    a = v128.load64_splat(pa, 8);
    c10 = maddF64(a, b0, c10);
    c11 = maddF64(a, b1, c11);
    a = v128.load64_splat(pa, 16);
    c20 = maddF64(a, b0, c20);
    c21 = maddF64(a, b1, c21);
    a = v128.load64_splat(pa, 24);
    c30 = maddF64(a, b0, c30);
    c31 = maddF64(a, b1, c31);
  }
  if (rows == 4 && cols == 4) {
    if (acc) {
      v128.store(c, f64x2.add(v128.load(c), c00)); v128.store(c, f64x2.add(v128.load(c, 16), c01), 16); c += ldc;
      v128.store(c, f64x2.add(v128.load(c), c10)); v128.store(c, f64x2.add(v128.load(c, 16), c11), 16); c += ldc;
      v128.store(c, f64x2.add(v128.load(c), c20)); v128.store(c, f64x2.add(v128.load(c, 16), c21), 16); c += ldc;
      v128.store(c, f64x2.add(v128.load(c), c30)); v128.store(c, f64x2.add(v128.load(c, 16), c31), 16);
    } else {
      v128.store(c, c00); v128.store(c, c01, 16); c += ldc;
      v128.store(c, c10); v128.store(c, c11, 16); c += ldc;
      v128.store(c, c20); v128.store(c, c21, 16); c += ldc;
      v128.store(c, c30); v128.store(c, c31, 16);
    }
    return;
  }
  v128.store(edge, c00); v128.store(edge, c01, 16);
  v128.store(edge, c10, 32); v128.store(edge, c11, 48);
  v128.store(edge, c20, 64); v128.store(edge, c21, 80);
  v128.store(edge, c30, 96); v128.store(edge, c31, 112);
  for (let r = 0; r < rows; r++, c += ldc) {
    for (let j = 0; j < cols; j++) {
      const v = load<f64>(edge + ((<usize>(r * 4 + j)) << 3));
      const at = c + (<usize>j << 3);
      store<f64>(at, acc ? load<f64>(at) + v : v);
    }
  }
}

/** C = op(A)·op(B), float64 (as gemmF32; pa/pb hold MC·KC and ceil(n/4)·4·KC doubles). */
export function gemmF64(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, transA: bool, transB: bool, pa: usize, pb: usize): void {
  gemmRowsF64(a, b, c, m, k, n, transA, transB, pa, pb, EDGE, 0, m, false);
}

/** packBF32 for float64: blocks at pb + pc·ceil(n/4)·4 doubles, panels of 4 columns. */
export function packBF64(b: usize, k: i32, n: i32, transB: bool, pb: usize, jp0: i32, jp1: i32): void {
  const nr = ((n + 3) >> 2) << 2;
  const c0 = jp0 << 2;
  const c1 = min(n, jp1 << 2);
  if (c1 <= c0) return;
  for (let pc = 0; pc < k; pc += KC) {
    const kb = min(KC, k - pc);
    const dst = pb + ((<usize>pc * <usize>nr) << 3) + ((<usize>jp0 * <usize>kb) << 5);
    if (transB) packF64(dst, b + ((<usize>c0 * <usize>k + <usize>pc) << 3), k, 1, c1 - c0, kb);
    else packF64(dst, b + ((<usize>pc * <usize>n + <usize>c0) << 3), 1, n, c1 - c0, kb);
  }
}

/** Rows r0 ≤ i < r1 of C, float64 (as gemmRowsF32). */
export function gemmRowsF64(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, transA: bool, transB: bool, pa: usize, pb: usize, edge: usize, r0: i32, r1: i32, packed: bool): void {
  if (r1 <= r0 || n == 0) return;
  const ldc = <usize>n << 3;
  if (k == 0) {
    memory.fill(c + <usize>r0 * ldc, 0, <usize>(r1 - r0) * ldc);
    return;
  }
  const nPanels = (n + 3) >> 2;
  for (let pc = 0; pc < k; pc += KC) {
    const kb = min(KC, k - pc);
    const pbb = packed ? pb + ((<usize>pc * <usize>(nPanels << 2)) << 3) : pb;
    if (!packed) {
      if (transB) packF64(pb, b + (<usize>pc << 3), k, 1, n, kb);
      else packF64(pb, b + ((<usize>pc * <usize>n) << 3), 1, n, n, kb);
    }
    for (let ic = r0; ic < r1; ic += MC) {
      const mb = min(MC, r1 - ic);
      if (transA) packF64(pa, a + ((<usize>pc * <usize>m + <usize>ic) << 3), 1, m, mb, kb);
      else packF64(pa, a + ((<usize>ic * <usize>k + <usize>pc) << 3), k, 1, mb, kb);
      const mPanels = (mb + 3) >> 2;
      for (let jp = 0; jp < nPanels; jp++) {
        const cols = min(4, n - (jp << 2));
        const bp = pbb + ((<usize>jp * <usize>kb) << 5);
        let cp = c + <usize>ic * ldc + (<usize>jp << 5);
        for (let ip = 0; ip < mPanels; ip++, cp += ldc << 2) {
          kernelF64(pa + ((<usize>ip * <usize>kb) << 5), bp, kb, cp, ldc, min(4, mb - (ip << 2)), cols, pc > 0, edge);
        }
      }
    }
  }
}

// ------------------------------------------------------------------ softmax / logSoftmax (float32)
//
// Each of `rows` contiguous rows of `cols` elements, as the reference (src/backend/js.ts) does:
// m = the row's maximum; e = e^(x − m); softmax = e·(1/Σe), logSoftmax = (x − m) − log Σe. The
// float64 kernels are the reference's (no float64 exp here). Whole vectors run along the row,
// its last 1–3 elements one padded vector (−∞: e = 0); nothing is read or written past a row.
//
// - e^(x − m) is expF32x4's polynomial (x − m ≤ 0, so without its upper clamp, and scaled by
//   one power of two where no lane's result is below 2⁻¹²⁶, which is the same result). x − m
//   is rounded in float32 (as PyTorch does), which alone would cost up to |x − m|·2⁻²⁴ of
//   relative error in e (1e-6 at x − m = −16): its rounding error is recovered exactly (Knuth's
//   TwoSum) and applied as e + e·err.
// - Σe accumulates in float64 (four lanes) and log Σe is float64 (NativeMath.log), rounded to
//   float32 once; logSoftmax is (x − m) − log Σe in float32 (both terms ≤ 0: no cancellation).
// - softmax multiplies by 1/Σe rounded to float32.
// - Rows whose maximum is not finite follow the reference's rule in a scalar loop: NaN
//   anywhere or every element −∞ give NaN throughout; a +∞ maximum gives NaN at the +∞
//   elements and 0 (softmax) or −∞ (logSoftmax) elsewhere.

const S_SOFTMAX: i32 = 0;

/** expF32x4 for x ≤ 0 (and −∞; not NaN). */
// @ts-ignore: decorator
@inline function expNonPositiveF32x4(x0: v128): v128 {
  const x = f32x4.pmax(x0, f32x4.splat(-104.0));
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUNDER));
  const fx = f32x4.sub(t, f32x4.splat(ROUNDER));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(EXP_C1)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(EXP_C2)));
  const z = f32x4.mul(r, r);
  let y = f32x4.add(f32x4.mul(f32x4.splat(EXP_P0), r), f32x4.splat(EXP_P1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(EXP_P2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(EXP_P3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(EXP_P4));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(EXP_P5));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), r), f32x4.splat(1.0));
  const n = i32x4.sub(t, i32x4.splat(ROUNDER_BITS));
  // 2^n is a float32 for n ≥ −126: one exact scaling (a subnormal result rounds once either way).
  if (i32x4.all_true(i32x4.ge_s(n, i32x4.splat(-126)))) return f32x4.mul(y, i32x4.shl(i32x4.add(n, i32x4.splat(127)), 23));
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  return f32x4.mul(f32x4.mul(y, i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23)), i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23));
}

/** e^(x − m) for one vector; nm = −m splatted (m finite, x ≤ m or −∞). */
// @ts-ignore: decorator
@inline function expShiftedF32x4(x: v128, nm: v128): v128 {
  const s = f32x4.add(x, nm);
  // TwoSum: err = (x + nm) − s exactly (NaN where x = −∞; there e = 0 and err is dropped).
  const bb = f32x4.sub(s, x);
  const err = f32x4.add(f32x4.sub(x, f32x4.sub(s, bb)), f32x4.sub(nm, bb));
  const e = expNonPositiveF32x4(s);
  const corr = f32x4.mul(e, err);
  return v128.bitselect(f32x4.add(e, corr), e, f32x4.eq(corr, corr));
}

/**
 * Softmax (op 0) or logSoftmax (op 1) of `rows` rows of `cols` float32s, x → out (may be x).
 * With `stats` ≠ 0, row r's shift (its max, or 0 where that is not finite) and log Σe^(x−shift)
 * go to the float64s at stats + 16r and stats + 16r + 8.
 */
export function softmaxF32(op: i32, x: usize, out: usize, rows: i32, cols: i32, stats: usize): void {
  const rowBytes = <usize>cols << 2;
  const vecBytes = (<usize>(cols >> 2)) << 4;
  const pairBytes = (<usize>(cols >> 3)) << 5;
  const rem = cols & 3;
  const d = out - x;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    const rowEnd = xr + rowBytes;
    const tail = xr + vecBytes;
    // 1. The maximum (f32x4.max and max propagate NaN), two vectors per step.
    let m0 = f32x4.splat(-Infinity), m1 = m0;
    let p = xr;
    for (; p < xr + pairBytes; p += 32) {
      m0 = f32x4.max(m0, v128.load(p));
      m1 = f32x4.max(m1, v128.load(p, 16));
    }
    if (p < tail) m0 = f32x4.max(m0, v128.load(p));
    const mv = f32x4.max(m0, m1);
    let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (p = tail; p < rowEnd; p += 4) mx = max(mx, load<f32>(p));
    if (!(mx - mx == 0)) {
      for (p = xr; p < rowEnd; p += 4) {
        const v = load<f32>(p);
        store<f32>(p + d, mx == Infinity && v != Infinity ? (op == S_SOFTMAX ? <f32>0 : -Infinity) : NaN);
      }
      if (stats != 0) {
        store<f64>(stats + (<usize>r << 4), 0);
        store<f64>(stats + (<usize>r << 4), mx == Infinity || mx == -Infinity ? <f64>mx : NaN, 8);
      }
      continue;
    }
    // 2. e = e^(x − m) (stored for softmax) and Σe in float64.
    const nm = f32x4.splat(-mx);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    for (p = xr; p < tail; p += 16) {
      const e = expShiftedF32x4(v128.load(p), nm);
      if (op == S_SOFTMAX) v128.store(p + d, e);
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(e));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<i32>(e, e, 2, 3, 0, 1)));
    }
    if (rem != 0) {
      let t = f32x4.replace_lane(f32x4.splat(-Infinity), 0, load<f32>(tail));
      if (rem > 1) t = f32x4.replace_lane(t, 1, load<f32>(tail, 4));
      if (rem > 2) t = f32x4.replace_lane(t, 2, load<f32>(tail, 8));
      const e = expShiftedF32x4(t, nm);
      if (op == S_SOFTMAX) {
        store<f32>(tail + d, f32x4.extract_lane(e, 0));
        if (rem > 1) store<f32>(tail + d, f32x4.extract_lane(e, 1), 4);
        if (rem > 2) store<f32>(tail + d, f32x4.extract_lane(e, 2), 8);
      }
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(e));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<i32>(e, e, 2, 3, 0, 1)));
    }
    const st = f64x2.add(s0, s1);
    const sum = f64x2.extract_lane(st, 0) + f64x2.extract_lane(st, 1);
    const lse64 = op == S_SOFTMAX && stats == 0 ? 0 : Math.log(sum);
    if (stats != 0) {
      store<f64>(stats + (<usize>r << 4), <f64>mx);
      store<f64>(stats + (<usize>r << 4), lse64, 8);
    }
    // 3. Scale (softmax) or subtract the log-sum (logSoftmax).
    if (op == S_SOFTMAX) {
      const inv = <f32>(1.0 / sum);
      const vinv = f32x4.splat(inv);
      for (p = xr + d; p < tail + d; p += 16) v128.store(p, f32x4.mul(v128.load(p), vinv));
      for (; p < rowEnd + d; p += 4) store<f32>(p, load<f32>(p) * inv);
    } else {
      const lse = <f32>lse64;
      const vl = f32x4.splat(lse);
      for (p = xr; p < tail; p += 16) v128.store(p + d, f32x4.sub(f32x4.add(v128.load(p), nm), vl));
      for (; p < rowEnd; p += 4) store<f32>(p + d, (load<f32>(p) - mx) - lse);
    }
  }
}

// ------------------------------------------------------------------ optimizer updates
//
// One step of SGD or Adam/AdamW on a parameter, elementwise, in the reference's operation order
// (src/backend/js.ts; JavaScript has no fused multiply-add and neither does WebAssembly SIMD):
// the float64 kernels give the reference's results bit for bit. The float32 kernels compute in
// float32 (as PyTorch does for float32 parameters; the reference computes in float64 and rounds
// each stored value). Arrays that are updated come as an input and an output pointer (the same
// one when the array lives in wasm memory; the caller copies otherwise). Whole vectors: every
// region is padded past n.
//
// The options are flags; each loop body is an @inline function whose flag arguments are
// constants at the common call sites below, so those loops have no branches (a branch per
// option per vector cost about 30%); other combinations run with the flags tested per vector.

const OPT_MAXIMIZE: i32 = 1;
/** weightDecay ≠ 0. */
const OPT_DECAY: i32 = 2;
/** AdamW: decoupled weight decay θ ← θ·(1 − lr·λ). */
const OPT_DECOUPLED: i32 = 4;
const OPT_AMSGRAD: i32 = 8;
/** SGD with a momentum buffer. */
const OPT_MOMENTUM: i32 = 16;
/** The momentum buffer's first step: b ← d. */
const OPT_FIRST: i32 = 32;
const OPT_NESTEROV: i32 = 64;

/** SGD over [0, end) bytes, float32 (see sgdF32). */
// @ts-ignore: decorator
@inline function sgdLoopF32(pIn: usize, pOut: usize, g: usize, bIn: usize, bOut: usize, end: usize, lr: f64, momentum: f64, damp1: f64, wd: f64, flags: i32): void {
  const vlr = f32x4.splat(<f32>lr), vmom = f32x4.splat(<f32>momentum), vdamp = f32x4.splat(<f32>damp1), vwd = f32x4.splat(<f32>wd);
  for (let i: usize = 0; i < end; i += 16) {
    const p = v128.load(pIn + i);
    let d = v128.load(g + i);
    if (flags & OPT_MAXIMIZE) d = f32x4.neg(d);
    if (flags & OPT_DECAY) d = f32x4.add(d, f32x4.mul(vwd, p));
    if (flags & OPT_MOMENTUM) {
      let b = d;
      if (!(flags & OPT_FIRST)) b = f32x4.add(f32x4.mul(vmom, v128.load(bIn + i)), f32x4.mul(vdamp, d));
      v128.store(bOut + i, b);
      d = flags & OPT_NESTEROV ? f32x4.add(d, f32x4.mul(vmom, b)) : b;
    }
    v128.store(pOut + i, f32x4.sub(p, f32x4.mul(vlr, d)));
  }
}

/**
 * SGD, float32: d = ±g (+ λθ); with momentum b = first ? d : μb + (1 − τ)d and d = nesterov ?
 * d + μb : b; θ ← θ − lr·d. `damp1` is 1 − τ.
 */
export function sgdF32(pIn: usize, pOut: usize, g: usize, bIn: usize, bOut: usize, n: i32, lr: f64, momentum: f64, damp1: f64, wd: f64, flags: i32): void {
  const end = (<usize>(n + 3) >> 2) << 4;
  switch (flags) {
    case 0: sgdLoopF32(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, 0); break;
    case OPT_DECAY: sgdLoopF32(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, OPT_DECAY); break;
    case OPT_MOMENTUM: sgdLoopF32(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, OPT_MOMENTUM); break;
    case OPT_MOMENTUM | OPT_DECAY: sgdLoopF32(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, OPT_MOMENTUM | OPT_DECAY); break;
    case OPT_MOMENTUM | OPT_NESTEROV: sgdLoopF32(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, OPT_MOMENTUM | OPT_NESTEROV); break;
    case OPT_MOMENTUM | OPT_NESTEROV | OPT_DECAY: sgdLoopF32(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, OPT_MOMENTUM | OPT_NESTEROV | OPT_DECAY); break;
    default: sgdLoopF32(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, flags);
  }
}

/** SGD over [0, end) bytes, float64 (the reference's arithmetic exactly). */
// @ts-ignore: decorator
@inline function sgdLoopF64(pIn: usize, pOut: usize, g: usize, bIn: usize, bOut: usize, end: usize, lr: f64, momentum: f64, damp1: f64, wd: f64, flags: i32): void {
  const vlr = f64x2.splat(lr), vmom = f64x2.splat(momentum), vdamp = f64x2.splat(damp1), vwd = f64x2.splat(wd);
  for (let i: usize = 0; i < end; i += 16) {
    const p = v128.load(pIn + i);
    let d = v128.load(g + i);
    if (flags & OPT_MAXIMIZE) d = f64x2.neg(d);
    if (flags & OPT_DECAY) d = f64x2.add(d, f64x2.mul(vwd, p));
    if (flags & OPT_MOMENTUM) {
      let b = d;
      if (!(flags & OPT_FIRST)) b = f64x2.add(f64x2.mul(vmom, v128.load(bIn + i)), f64x2.mul(vdamp, d));
      v128.store(bOut + i, b);
      d = flags & OPT_NESTEROV ? f64x2.add(d, f64x2.mul(vmom, b)) : b;
    }
    v128.store(pOut + i, f64x2.sub(p, f64x2.mul(vlr, d)));
  }
}

/** SGD, float64. */
export function sgdF64(pIn: usize, pOut: usize, g: usize, bIn: usize, bOut: usize, n: i32, lr: f64, momentum: f64, damp1: f64, wd: f64, flags: i32): void {
  const end = (<usize>(n + 1) >> 1) << 4;
  switch (flags) {
    case 0: sgdLoopF64(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, 0); break;
    case OPT_MOMENTUM: sgdLoopF64(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, OPT_MOMENTUM); break;
    default: sgdLoopF64(pIn, pOut, g, bIn, bOut, end, lr, momentum, damp1, wd, flags);
  }
}

/** Adam over [0, end) bytes, float32 (see adamF32). */
// @ts-ignore: decorator
@inline function adamLoopF32(pIn: usize, pOut: usize, g: usize, mIn: usize, mOut: usize, vIn: usize, vOut: usize, xIn: usize, xOut: usize, end: usize,
  beta1: f64, omb1: f64, beta2: f64, omb2: f64, eps: f64, wd: f64, decayBy: f64, stepSize: f64, bc2Sqrt: f64, flags: i32): void {
  const vb1 = f32x4.splat(<f32>beta1), vomb1 = f32x4.splat(<f32>omb1), vb2 = f32x4.splat(<f32>beta2), vomb2 = f32x4.splat(<f32>omb2);
  const veps = f32x4.splat(<f32>eps), vwd = f32x4.splat(<f32>wd), vdecay = f32x4.splat(<f32>decayBy);
  const vstep = f32x4.splat(<f32>stepSize), vbc2 = f32x4.splat(<f32>bc2Sqrt);
  for (let i: usize = 0; i < end; i += 16) {
    let p = v128.load(pIn + i);
    let gr = v128.load(g + i);
    if (flags & OPT_MAXIMIZE) gr = f32x4.neg(gr);
    if (flags & OPT_DECAY) {
      if (flags & OPT_DECOUPLED) p = f32x4.mul(p, vdecay);
      else gr = f32x4.add(gr, f32x4.mul(vwd, p));
    }
    const m = f32x4.add(f32x4.mul(vb1, v128.load(mIn + i)), f32x4.mul(vomb1, gr));
    v128.store(mOut + i, m);
    let v = f32x4.add(f32x4.mul(vb2, v128.load(vIn + i)), f32x4.mul(f32x4.mul(vomb2, gr), gr));
    v128.store(vOut + i, v);
    if (flags & OPT_AMSGRAD) {
      v = f32x4.max(v128.load(xIn + i), v);
      v128.store(xOut + i, v);
    }
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(v), vbc2), veps);
    v128.store(pOut + i, f32x4.sub(p, f32x4.mul(vstep, f32x4.div(m, denom))));
  }
}

/**
 * Adam/AdamW, float32: g = ±g; λ ≠ 0: θ ← θ·decay (AdamW) or g ← g + λθ (Adam);
 * m ← β₁m + (1 − β₁)g; v ← β₂v + ((1 − β₂)g)g; amsgrad: v̂ ← max(v̂, v), used for v;
 * θ ← θ − stepSize·(m/(√v/bc2Sqrt + eps)). `x` is v̂max.
 */
export function adamF32(pIn: usize, pOut: usize, g: usize, mIn: usize, mOut: usize, vIn: usize, vOut: usize, xIn: usize, xOut: usize, n: i32,
  beta1: f64, omb1: f64, beta2: f64, omb2: f64, eps: f64, wd: f64, decayBy: f64, stepSize: f64, bc2Sqrt: f64, flags: i32): void {
  const end = (<usize>(n + 3) >> 2) << 4;
  const W = OPT_DECAY | OPT_DECOUPLED;
  switch (flags) {
    case 0: adamLoopF32(pIn, pOut, g, mIn, mOut, vIn, vOut, xIn, xOut, end, beta1, omb1, beta2, omb2, eps, wd, decayBy, stepSize, bc2Sqrt, 0); break;
    case W: adamLoopF32(pIn, pOut, g, mIn, mOut, vIn, vOut, xIn, xOut, end, beta1, omb1, beta2, omb2, eps, wd, decayBy, stepSize, bc2Sqrt, W); break;
    case OPT_AMSGRAD: adamLoopF32(pIn, pOut, g, mIn, mOut, vIn, vOut, xIn, xOut, end, beta1, omb1, beta2, omb2, eps, wd, decayBy, stepSize, bc2Sqrt, OPT_AMSGRAD); break;
    case W | OPT_AMSGRAD: adamLoopF32(pIn, pOut, g, mIn, mOut, vIn, vOut, xIn, xOut, end, beta1, omb1, beta2, omb2, eps, wd, decayBy, stepSize, bc2Sqrt, W | OPT_AMSGRAD); break;
    case OPT_DECAY: adamLoopF32(pIn, pOut, g, mIn, mOut, vIn, vOut, xIn, xOut, end, beta1, omb1, beta2, omb2, eps, wd, decayBy, stepSize, bc2Sqrt, OPT_DECAY); break;
    default: adamLoopF32(pIn, pOut, g, mIn, mOut, vIn, vOut, xIn, xOut, end, beta1, omb1, beta2, omb2, eps, wd, decayBy, stepSize, bc2Sqrt, flags);
  }
}

/** Adam over [0, end) bytes, float64 (the reference's arithmetic exactly; f64x2.max is Math.max). */
// @ts-ignore: decorator
@inline function adamLoopF64(pIn: usize, pOut: usize, g: usize, mIn: usize, mOut: usize, vIn: usize, vOut: usize, xIn: usize, xOut: usize, end: usize,
  beta1: f64, omb1: f64, beta2: f64, omb2: f64, eps: f64, wd: f64, decayBy: f64, stepSize: f64, bc2Sqrt: f64, flags: i32): void {
  const vb1 = f64x2.splat(beta1), vomb1 = f64x2.splat(omb1), vb2 = f64x2.splat(beta2), vomb2 = f64x2.splat(omb2);
  const veps = f64x2.splat(eps), vwd = f64x2.splat(wd), vdecay = f64x2.splat(decayBy);
  const vstep = f64x2.splat(stepSize), vbc2 = f64x2.splat(bc2Sqrt);
  for (let i: usize = 0; i < end; i += 16) {
    let p = v128.load(pIn + i);
    let gr = v128.load(g + i);
    if (flags & OPT_MAXIMIZE) gr = f64x2.neg(gr);
    if (flags & OPT_DECAY) {
      if (flags & OPT_DECOUPLED) p = f64x2.mul(p, vdecay);
      else gr = f64x2.add(gr, f64x2.mul(vwd, p));
    }
    const m = f64x2.add(f64x2.mul(vb1, v128.load(mIn + i)), f64x2.mul(vomb1, gr));
    v128.store(mOut + i, m);
    let v = f64x2.add(f64x2.mul(vb2, v128.load(vIn + i)), f64x2.mul(f64x2.mul(vomb2, gr), gr));
    v128.store(vOut + i, v);
    if (flags & OPT_AMSGRAD) {
      v = f64x2.max(v128.load(xIn + i), v);
      v128.store(xOut + i, v);
    }
    const denom = f64x2.add(f64x2.div(f64x2.sqrt(v), vbc2), veps);
    v128.store(pOut + i, f64x2.sub(p, f64x2.mul(vstep, f64x2.div(m, denom))));
  }
}

/** Adam/AdamW, float64. */
export function adamF64(pIn: usize, pOut: usize, g: usize, mIn: usize, mOut: usize, vIn: usize, vOut: usize, xIn: usize, xOut: usize, n: i32,
  beta1: f64, omb1: f64, beta2: f64, omb2: f64, eps: f64, wd: f64, decayBy: f64, stepSize: f64, bc2Sqrt: f64, flags: i32): void {
  const end = (<usize>(n + 1) >> 1) << 4;
  switch (flags) {
    case 0: adamLoopF64(pIn, pOut, g, mIn, mOut, vIn, vOut, xIn, xOut, end, beta1, omb1, beta2, omb2, eps, wd, decayBy, stepSize, bc2Sqrt, 0); break;
    default: adamLoopF64(pIn, pOut, g, mIn, mOut, vIn, vOut, xIn, xOut, end, beta1, omb1, beta2, omb2, eps, wd, decayBy, stepSize, bc2Sqrt, flags);
  }
}

// ------------------------------------------------------------------ convolution: im2col / col2im
//
// One image x [c, h, w] and its column matrix cols [c·kh·kw, outH·outW] (src/backend/js.ts has
// the reference; the geometry is Backend's Window2d). Each (row of cols, output row) is one run
// of outW elements: all zeros where the input row lies in the padding, else zeros / in-plane
// taps / zeros, the taps being a contiguous stretch of the input row when strideW is 1 (copied,
// or added, a vector at a time) and every strideW-th element otherwise. Unlike the streaming
// kernels above these touch exactly the run's elements, never whole vectors past it: the image
// is usually one slice of a batch.

/** ceil(a / b) for b > 0 and any sign of a. */
// @ts-ignore: decorator
@inline function ceilDiv(a: i32, b: i32): i32 {
  return a > 0 ? (a + b - 1) / b : -(-a / b);
}

/** The first output column j in [0, outLen] whose input column j·stride + shift is ≥ lo. */
// @ts-ignore: decorator
@inline function firstAtOrPast(lo: i32, shift: i32, stride: i32, outLen: i32): i32 {
  return min(outLen, max(0, ceilDiv(lo - shift, stride)));
}

/** Copies `bytes` (a multiple of 4) from src to dst, which do not overlap. */
// @ts-ignore: decorator
@inline function copyBytes(dst: usize, src: usize, bytes: usize): void {
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  for (; i < bytes; i += 4) store<u32>(dst + i, load<u32>(src + i));
}

/** Zeroes `bytes` (a multiple of 4) from dst. */
// @ts-ignore: decorator
@inline function zeroBytes(dst: usize, bytes: usize): void {
  const zero = i32x4.splat(0);
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, zero);
  for (; i < bytes; i += 4) store<u32>(dst + i, 0);
}

/** im2col over elements of type T (u32 for float32, u64 for float64: bits are copied, so every value, NaN included, comes through). */
// @ts-ignore: decorator
@inline function im2colRuns<T>(x: usize, cols: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32, ld: i32): void {
  const size = <usize>sizeof<T>();
  const runBytes = <usize>outW * size;
  const step = <usize>sw * size;
  const ldBytes = <usize>ld * size;
  let row = cols;
  for (let ch = 0; ch < c; ch++) {
    for (let a = 0; a < kh; a++) {
      for (let b = 0, o = row; b < kw; b++, row += ldBytes, o = row) {
        // Output column j reads input column j·sw + shift, inside the row for j in [jLo, jHi).
        const shift = b * dw - pw;
        const jLo = firstAtOrPast(0, shift, sw, outW);
        const jHi = max(jLo, firstAtOrPast(w, shift, sw, outW));
        for (let i = 0; i < outH; i++, o += runBytes) {
          const ih = i * sh - ph + a * dh;
          if (ih < 0 || ih >= h) {
            zeroBytes(o, runBytes);
            continue;
          }
          zeroBytes(o, <usize>jLo * size);
          let src = x + <usize>((ch * h + ih) * w + jLo * sw + shift) * size;
          if (sw == 1) copyBytes(o + <usize>jLo * size, src, <usize>(jHi - jLo) * size);
          else for (let p = o + <usize>jLo * size, end = o + <usize>jHi * size; p < end; p += size, src += step) store<T>(p, load<T>(src));
          zeroBytes(o + <usize>jHi * size, <usize>(outW - jHi) * size);
        }
      }
    }
  }
}

/** cols [c·kh·kw, outH·outW] ← the column matrix of x [c, h, w], float32. */
export function im2colF32(x: usize, cols: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32, images: i32, ld: i32): void {
  const image = (<usize>c * <usize>h * <usize>w) << 2;
  const l = (<usize>outH * <usize>outW) << 2;
  for (let n = 0; n < images; n++) im2colRuns<u32>(x + <usize>n * image, cols + <usize>n * l, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW, ld);
}

/** float64 version of im2colF32. */
export function im2colF64(x: usize, cols: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32, images: i32, ld: i32): void {
  const image = (<usize>c * <usize>h * <usize>w) << 3;
  const l = (<usize>outH * <usize>outW) << 3;
  for (let n = 0; n < images; n++) im2colRuns<u64>(x + <usize>n * image, cols + <usize>n * l, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW, ld);
}

/**
 * col2im over float type T: xOut ← xIn (copied first unless they are the same block), then every
 * element of cols is added into the image element it was read from, in the reference's order
 * (rows of cols, then output rows, then columns), so sums are identical to it.
 */
// @ts-ignore: decorator
@inline function col2imRuns<T>(cols: usize, xIn: usize, xOut: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32, ld: i32): void {
  const size = <usize>sizeof<T>();
  if (xIn != xOut) memory.copy(xOut, xIn, <usize>c * <usize>h * <usize>w * size);
  const runBytes = <usize>outW * size;
  const step = <usize>sw * size;
  const lanes = 16 / <i32>size;
  const ldBytes = <usize>ld * size;
  let row = cols;
  for (let ch = 0; ch < c; ch++) {
    for (let a = 0; a < kh; a++) {
      for (let b = 0, o = row; b < kw; b++, row += ldBytes, o = row) {
        const shift = b * dw - pw;
        const jLo = firstAtOrPast(0, shift, sw, outW);
        const jHi = max(jLo, firstAtOrPast(w, shift, sw, outW));
        for (let i = 0; i < outH; i++, o += runBytes) {
          const ih = i * sh - ph + a * dh;
          if (ih < 0 || ih >= h) continue;
          let dst = xOut + <usize>((ch * h + ih) * w + jLo * sw + shift) * size;
          let src = o + <usize>jLo * size;
          let j = jLo;
          if (sw == 1) {
            for (; j + lanes <= jHi; j += lanes, dst += 16, src += 16) {
              if (size == 4) v128.store(dst, f32x4.add(v128.load(dst), v128.load(src)));
              else v128.store(dst, f64x2.add(v128.load(dst), v128.load(src)));
            }
          }
          for (; j < jHi; j++, dst += step, src += size) store<T>(dst, load<T>(dst) + load<T>(src));
        }
      }
    }
  }
}

/** x [c, h, w] += the columns cols [c·kh·kw, outH·outW] put back where im2col read them, float32 (xOut ← xIn + …). */
export function col2imF32(cols: usize, xIn: usize, xOut: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32, images: i32, ld: i32): void {
  const image = (<usize>c * <usize>h * <usize>w) << 2;
  const l = (<usize>outH * <usize>outW) << 2;
  for (let n = 0; n < images; n++) col2imRuns<f32>(cols + <usize>n * l, xIn + <usize>n * image, xOut + <usize>n * image, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW, ld);
}

/** float64 version of col2imF32. */
export function col2imF64(cols: usize, xIn: usize, xOut: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32, images: i32, ld: i32): void {
  const image = (<usize>c * <usize>h * <usize>w) << 3;
  const l = (<usize>outH * <usize>outW) << 3;
  for (let n = 0; n < images; n++) col2imRuns<f64>(cols + <usize>n * l, xIn + <usize>n * image, xOut + <usize>n * image, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW, ld);
}

// ------------------------------------------------------------------ convolution as an implicit matrix product (float32)
//
// y[n, o, :] = bias[o] + W[o, :] · cols(x[n]) for a whole batch, without the column matrix:
// the product is W [O, K] (K = c·kh·kw) times the virtual cols [K, N·L] (L = outH·outW), whose
// column j = n·L + l is image n's receptive field at output position l. W is packed once into
// 4-row panels over all of K (packConvWeightsF32); then for each panel of 8 columns, that
// panel of cols is packed straight from the images (8 taps per row of K: two vector loads where
// the 8 columns lie in one output row and stride 1 keeps their taps adjacent), and multiplied
// by every W panel over all of K at once, the accumulators starting from the bias. The tile is
// stored straight into y's [N, O, L] layout (by columns where it straddles two images). Each
// element of y is one kernel's sum over K in order, so splitting the column panels across
// threads gives the 1-thread result bit for bit.

/** dst ← W [o, k] as ceil(o/4) panels of [k][4] (zero rows past o). */
export function packConvWeightsF32(w: usize, o: i32, k: i32, dst: usize): void {
  packAcrossF32(dst, w, k, o, k, 4);
}

/**
 * One 8-column panel of the virtual column matrix, columns j0 … j0 + 7 (those ≥ total are
 * zero), into pb as [k][8]. x holds the batch (images of c·h·w floats).
 */
function packConvPanelF32(x: usize, pb: usize, runs: usize, j0: i32, total: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32): void {
  const l = outH * outW;
  const plane = h * w;
  const n0 = j0 / l;
  const l0 = j0 - n0 * l;
  const i0 = l0 / outW;
  const q0 = l0 - i0 * outW;
  if (sw == 1 && q0 + 8 <= outW && j0 + 8 <= total) {
    // The 8 columns are one run of an output row: their taps are 8 adjacent input elements.
    const img = x + ((<usize>n0 * <usize>c * <usize>plane) << 2);
    const ih0 = i0 * sh - ph;
    const iw0 = q0 - pw;
    let d = pb;
    for (let ch = 0; ch < c; ch++) {
      const pl = img + ((<usize>ch * <usize>plane) << 2);
      for (let a = 0; a < kh; a++) {
        const ih = ih0 + a * dh;
        if (ih < 0 || ih >= h) {
          for (let b = 0; b < kw; b++, d += 32) {
            v128.store(d, i32x4.splat(0));
            v128.store(d, i32x4.splat(0), 16);
          }
          continue;
        }
        const rowp = pl + ((<usize>(ih * w)) << 2);
        for (let b = 0; b < kw; b++, d += 32) {
          const iw = iw0 + b * dw;
          if (iw >= 0 && iw + 8 <= w) {
            const s = rowp + (<usize>iw << 2);
            v128.store(d, v128.load(s));
            v128.store(d, v128.load(s, 16), 16);
          } else {
            for (let t = 0; t < 8; t++) {
              const col = iw + t;
              store<f32>(d + (<usize>t << 2), col >= 0 && col < w ? load<f32>(rowp + (<usize>col << 2)) : 0);
            }
          }
        }
      }
    }
    return;
  }
  // General panel: up to 8 runs of columns, each within one output row of one image (its taps
  // sw apart in one input row), copied with the in-row stretch worked out once per row of K.
  // `runs` (128 bytes of the caller's scratch) holds [first column, length, image offset,
  // row shift | column shift << 16] per run.
  let nRuns = 0;
  for (let t = 0; t < 8; ) {
    const j = j0 + t;
    if (j >= total) break;
    const n = j / l;
    const lj = j - n * l;
    const i = lj / outW;
    const q = lj - i * outW;
    const len = min(8 - t, outW - q);
    const r = runs + (<usize>nRuns << 4);
    store<i32>(r, t);
    store<i32>(r, len, 4);
    store<i32>(r, n * c * plane, 8);
    store<i32>(r, ((i * sh - ph) & 0xffff) | ((q * sw - pw) << 16), 12);
    nRuns++;
    t += len;
  }
  const filled = nRuns == 0 ? 0 : load<i32>(runs + (<usize>(nRuns - 1) << 4)) + load<i32>(runs + (<usize>(nRuns - 1) << 4), 4);
  let d = pb;
  for (let ch = 0; ch < c; ch++) {
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++, d += 32) {
        for (let r = runs, end = runs + (<usize>nRuns << 4); r < end; r += 16) {
          const t = load<i32>(r), len = load<i32>(r, 4);
          const packed = load<i32>(r, 12);
          const ih = (<i32>(<i16>(packed & 0xffff))) + a * dh;
          const dst = d + (<usize>t << 2);
          if (ih < 0 || ih >= h) {
            for (let u = 0; u < len; u++) store<f32>(dst + (<usize>u << 2), 0);
            continue;
          }
          const iw = (packed >> 16) + b * dw;
          // (Stride 1 needs no division: lo = −iw, hi = w − iw, clamped to the run.)
          const lo = sw == 1 ? min(len, max(0, -iw)) : firstAtOrPast(0, iw, sw, len);
          const hi = max(lo, sw == 1 ? min(len, w - iw) : firstAtOrPast(w, iw, sw, len));
          const row = x + ((<usize>(load<i32>(r, 8) + ch * plane + ih * w)) << 2);
          for (let u = 0; u < lo; u++) store<f32>(dst + (<usize>u << 2), 0);
          for (let u = lo; u < hi; u++) store<f32>(dst + (<usize>u << 2), load<f32>(row + (<usize>(iw + u * sw) << 2)));
          for (let u = hi; u < len; u++) store<f32>(dst + (<usize>u << 2), 0);
        }
        for (let t = filled; t < 8; t++) store<f32>(d + (<usize>t << 2), 0);
      }
    }
  }
}

/**
 * Column panels jp0 ≤ jp < jp1 (8 columns each, of N·L) of y [images, o, outH, outW] = the
 * convolution of x [images, c, h, w] with the weights packed by packConvWeightsF32 (pa), plus
 * bias [o] (0: none). `scratch`: k·32 + 256 bytes for this call (one thread's own).
 */
export function conv2dF32(x: usize, pa: usize, bias: usize, y: usize, scratch: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32,
  images: i32, o: i32, jp0: i32, jp1: i32): void {
  const k = c * kh * kw;
  const l = outH * outW;
  const total = images * l;
  const pb = scratch;
  const edge = scratch + (<usize>k << 5);
  const runs = edge + 128;
  const ldc = <usize>l << 2;
  const aStride = <usize>k << 4;
  for (let jp = jp0; jp < jp1; jp++) {
    const j0 = jp << 3;
    packConvPanelF32(x, pb, runs, j0, total, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW);
    const n0 = j0 / l;
    const l0 = j0 - n0 * l;
    const straight = l0 + 8 <= l && j0 + 8 <= total;
    for (let oc = 0; oc < o; oc += 4) {
      const rows = min(4, o - oc);
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      if (bias != 0) {
        const b0 = v128.load32_splat(bias + (<usize>oc << 2));
        const b1 = rows > 1 ? v128.load32_splat(bias + (<usize>(oc + 1) << 2)) : b0;
        const b2 = rows > 2 ? v128.load32_splat(bias + (<usize>(oc + 2) << 2)) : b0;
        const b3 = rows > 3 ? v128.load32_splat(bias + (<usize>(oc + 3) << 2)) : b0;
        c00 = b0; c01 = b0; c10 = b1; c11 = b1; c20 = b2; c21 = b2; c30 = b3; c31 = b3;
      }
      let ap = pa + <usize>(oc >> 2) * aStride;
      let bp = pb;
      for (let p = 0; p < k; p++, ap += 16, bp += 32) {
        const v0 = v128.load(bp);
        const v1 = v128.load(bp, 16);
        let a = v128.load32_splat(ap);
        c00 = maddF32(a, v0, c00);
        c01 = maddF32(a, v1, c01);
        a = v128.load32_splat(ap, 4);
        c10 = maddF32(a, v0, c10);
        c11 = maddF32(a, v1, c11);
        a = v128.load32_splat(ap, 8);
        c20 = maddF32(a, v0, c20);
        c21 = maddF32(a, v1, c21);
        a = v128.load32_splat(ap, 12);
        c30 = maddF32(a, v0, c30);
        c31 = maddF32(a, v1, c31);
      }
      if (straight) {
        // y[n0, oc + r, l0 … l0 + 7]: rows L apart.
        storeTileF32(y + ((<usize>(n0 * o + oc) * <usize>l + <usize>l0) << 2), ldc, rows, 8, false, edge, c00, c01, c10, c11, c20, c21, c30, c31);
        continue;
      }
      v128.store(edge, c00); v128.store(edge, c01, 16);
      v128.store(edge, c10, 32); v128.store(edge, c11, 48);
      v128.store(edge, c20, 64); v128.store(edge, c21, 80);
      v128.store(edge, c30, 96); v128.store(edge, c31, 112);
      for (let t = 0; t < 8; t++) {
        const j = j0 + t;
        if (j >= total) break;
        const n = j / l;
        const at = y + ((<usize>(n * o + oc) * <usize>l + <usize>(j - n * l)) << 2);
        for (let r = 0; r < rows; r++) store<f32>(at + <usize>r * ldc, load<f32>(edge + (<usize>(r * 8 + t) << 2)));
      }
    }
  }
}

// ------------------------------------------------------------------ pooling
//
// Over c planes of h × w (all N·C planes of a batch), scalar loops with the reference's rules
// and arithmetic, so results are identical to it: max pooling starts from −∞ at the window's
// first in-plane element and takes a larger value or a NaN (indices: the flat position in the
// plane); average pooling sums in float64 and divides once, by the window clipped to the padded
// plane (countIncludePad) or by its in-plane element count.

/** The in-plane taps [lo, hi) of a max-pooling window starting at `start` (k taps, dil apart) on an axis of length n, packed as lo | hi << 16. */
// @ts-ignore: decorator
@inline function tapRange(start: i32, n: i32, k: i32, dil: i32): i32 {
  const lo = min(k, start >= 0 ? 0 : ceilDiv(-start, dil));
  const hi = max(0, min(k, ceilDiv(n - start, dil)));
  return lo | (hi << 16);
}

// @ts-ignore: decorator
@inline function maxPoolPlanes<T>(x: usize, out: usize, idx: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32): void {
  const size = <usize>sizeof<T>();
  let o = out;
  let oi = idx;
  for (let p = 0; p < c; p++) {
    const plane = x + <usize>p * <usize>h * <usize>w * size;
    for (let i = 0; i < outH; i++) {
      const ih0 = i * sh - ph;
      const ra = tapRange(ih0, h, kh, dh);
      const aLo = ra & 0xffff, aHi = ra >> 16;
      for (let j = 0; j < outW; j++, o += size, oi += 4) {
        const iw0 = j * sw - pw;
        const rb = tapRange(iw0, w, kw, dw);
        const bLo = rb & 0xffff, bHi = rb >> 16;
        let best = <T>-Infinity;
        let at = (ih0 + aLo * dh) * w + iw0 + bLo * dw;
        for (let a = aLo; a < aHi; a++) {
          const row = (ih0 + a * dh) * w + iw0;
          for (let b = bLo; b < bHi; b++) {
            const pos = row + b * dw;
            const v = load<T>(plane + <usize>pos * size);
            if (v > best || v != v) {
              best = v;
              at = pos;
            }
          }
        }
        store<T>(o, best);
        store<i32>(oi, at);
      }
    }
  }
}

/**
 * 2×2 windows, stride 2, no padding or dilation (the common pooling layer), float32: four
 * outputs at a time from two rows' even and odd columns, with the scalar rule (taps in order
 * (0,0), (0,1), (1,0), (1,1); a later tap wins when greater or NaN) as lane masks, so values and
 * indices are those of maxPoolPlanes bit for bit. The last outW % 4 outputs of a row run scalar.
 */
function maxPool2x2F32(x: usize, out: usize, idx: usize, c: i32, h: i32, w: i32, outH: i32, outW: i32): void {
  const w4 = outW & ~3;
  const step = i32x4.splat(8);
  let o = out;
  let oi = idx;
  for (let p = 0; p < c; p++) {
    const plane = x + ((<usize>p * <usize>h * <usize>w) << 2);
    for (let i = 0; i < outH; i++) {
      const r0 = (2 * i) * w;
      const s0 = plane + (<usize>r0 << 2);
      const s1 = s0 + (<usize>w << 2);
      let i00 = i32x4.add(i32x4.splat(r0), i32x4(0, 2, 4, 6));
      let j = 0;
      for (; j < w4; j += 4, o += 16, oi += 16, i00 = i32x4.add(i00, step)) {
        const off = <usize>j << 3;
        const a0 = v128.load(s0 + off), a1 = v128.load(s0 + off, 16);
        const b0 = v128.load(s1 + off), b1 = v128.load(s1 + off, 16);
        let best = v128.shuffle<f32>(a0, a1, 0, 2, 4, 6);
        let at = i00;
        let v = v128.shuffle<f32>(a0, a1, 1, 3, 5, 7);
        let m = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
        best = v128.bitselect(v, best, m);
        at = v128.bitselect(i32x4.add(i00, i32x4.splat(1)), at, m);
        v = v128.shuffle<f32>(b0, b1, 0, 2, 4, 6);
        m = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
        best = v128.bitselect(v, best, m);
        at = v128.bitselect(i32x4.add(i00, i32x4.splat(w)), at, m);
        v = v128.shuffle<f32>(b0, b1, 1, 3, 5, 7);
        m = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
        best = v128.bitselect(v, best, m);
        at = v128.bitselect(i32x4.add(i00, i32x4.splat(w + 1)), at, m);
        v128.store(o, best);
        v128.store(oi, at);
      }
      for (; j < outW; j++, o += 4, oi += 4) {
        const pos = r0 + 2 * j;
        let best = load<f32>(plane + (<usize>pos << 2));
        let at = pos;
        for (let t = 1; t < 4; t++) {
          const q = pos + (t >> 1) * w + (t & 1);
          const v = load<f32>(plane + (<usize>q << 2));
          if (v > best || v != v) {
            best = v;
            at = q;
          }
        }
        store<f32>(o, best);
        store<i32>(oi, at);
      }
    }
  }
}

/** Max pooling of c planes, float32: out [c, outH, outW] and the int32 index of each maximum. */
export function maxPool2dF32(x: usize, out: usize, idx: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32): void {
  if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && dh == 1 && dw == 1 && 2 * outH <= h && 2 * outW <= w) maxPool2x2F32(x, out, idx, c, h, w, outH, outW);
  else maxPoolPlanes<f32>(x, out, idx, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW);
}

/** The adjoint of a gather along rows with inner = 1: out[r·outLen + index[r·idxLen + j]] += src[r·idxLen + j], in order (max pooling's backward). */
export function scatterAddRowsF32(src: usize, index: usize, out: usize, rows: i32, outLen: i32, idxLen: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = out + ((<usize>r * <usize>outLen) << 2);
    const base = <usize>r * <usize>idxLen;
    for (let j: usize = 0; j < <usize>idxLen; j++) {
      const at = o + (<usize>load<i32>(index + ((base + j) << 2)) << 2);
      store<f32>(at, load<f32>(at) + load<f32>(src + ((base + j) << 2)));
    }
  }
}

/** float64 version of scatterAddRowsF32. */
export function scatterAddRowsF64(src: usize, index: usize, out: usize, rows: i32, outLen: i32, idxLen: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = out + ((<usize>r * <usize>outLen) << 3);
    const base = <usize>r * <usize>idxLen;
    for (let j: usize = 0; j < <usize>idxLen; j++) {
      const at = o + (<usize>load<i32>(index + ((base + j) << 2)) << 3);
      store<f64>(at, load<f64>(at) + load<f64>(src + ((base + j) << 3)));
    }
  }
}

/** float64 version of maxPool2dF32. */
export function maxPool2dF64(x: usize, out: usize, idx: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32): void {
  maxPoolPlanes<f64>(x, out, idx, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW);
}

/**
 * Average pooling (backward = 0) or its adjoint (backward = 1: gOut ← gIn, then gOut += each
 * window's gradient / divisor over the window). `a` is x or the output gradient, `b` out or the
 * input gradient's source block.
 */
// @ts-ignore: decorator
@inline function avgPoolPlanes<T>(backward: bool, a: usize, bIn: usize, bOut: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32, includePad: bool): void {
  const size = <usize>sizeof<T>();
  if (backward && bIn != bOut) memory.copy(bOut, bIn, <usize>c * <usize>h * <usize>w * size);
  let o = backward ? a : bOut;
  for (let p = 0; p < c; p++) {
    const plane = (backward ? bOut : a) + <usize>p * <usize>h * <usize>w * size;
    for (let i = 0; i < outH; i++) {
      const hs = i * sh - ph;
      const he = min(hs + kh, h + ph);
      const r0 = max(hs, 0), r1 = min(he, h);
      for (let j = 0; j < outW; j++, o += size) {
        const ws = j * sw - pw;
        const we = min(ws + kw, w + pw);
        const c0 = max(ws, 0), c1 = min(we, w);
        if (r0 >= r1 || c0 >= c1) {
          if (!backward) store<T>(o, <T>0);
          continue;
        }
        const divisor = <f64>(includePad ? (he - hs) * (we - ws) : (r1 - r0) * (c1 - c0));
        if (backward) {
          const v = <f64>load<T>(o) / divisor;
          for (let r = r0; r < r1; r++) {
            for (let q = plane + <usize>(r * w + c0) * size, end = plane + <usize>(r * w + c1) * size; q < end; q += size) store<T>(q, <T>(<f64>load<T>(q) + v));
          }
        } else {
          let s: f64 = 0;
          for (let r = r0; r < r1; r++) {
            for (let q = plane + <usize>(r * w + c0) * size, end = plane + <usize>(r * w + c1) * size; q < end; q += size) s += <f64>load<T>(q);
          }
          store<T>(o, <T>(s / divisor));
        }
      }
    }
  }
}

/** Average pooling of c planes, float32: out [c, outH, outW]. */
export function avgPool2dF32(x: usize, out: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32, includePad: bool): void {
  avgPoolPlanes<f32>(false, x, 0, out, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, includePad);
}

/** float64 version of avgPool2dF32. */
export function avgPool2dF64(x: usize, out: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32, includePad: bool): void {
  avgPoolPlanes<f64>(false, x, 0, out, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, includePad);
}

/** The adjoint of avgPool2dF32: gOut ← gIn + the output gradient g spread over the windows. */
export function avgPool2dBackwardF32(g: usize, gIn: usize, gOut: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32, includePad: bool): void {
  avgPoolPlanes<f32>(true, g, gIn, gOut, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, includePad);
}

/** float64 version of avgPool2dBackwardF32. */
export function avgPool2dBackwardF64(g: usize, gIn: usize, gOut: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, outH: i32, outW: i32, includePad: bool): void {
  avgPoolPlanes<f64>(true, g, gIn, gOut, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW, includePad);
}

// ------------------------------------------------------------------ strided copies

/**
 * out[i·cols + j] = src[i·s0 + j·s1] for i < rows, j < cols: a 2-D strided view (a transpose,
 * a slice, an expanded axis) copied into contiguous storage, for 4-byte elements (float32 and
 * int32 alike: the bits are moved). Element strides. 32×32 tiles, so a transpose reads and writes
 * whole cache lines.
 */
export function copy2d32(src: usize, s0: i32, s1: i32, out: usize, rows: i32, cols: i32): void {
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = min(rows, i0 + T);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = min(cols, j0 + T);
      for (let i = i0; i < i1; i++) {
        let s = src + ((<usize>(i * s0 + j0 * s1)) << 2);
        let o = out + ((<usize>(i * cols + j0)) << 2);
        const step = <usize>s1 << 2;
        for (let j = j0; j < j1; j++, s += step, o += 4) store<u32>(o, load<u32>(s));
      }
    }
  }
}

/** copy2d32 for 8-byte elements (float64). */
export function copy2d64(src: usize, s0: i32, s1: i32, out: usize, rows: i32, cols: i32): void {
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = min(rows, i0 + T);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = min(cols, j0 + T);
      for (let i = i0; i < i1; i++) {
        let s = src + ((<usize>(i * s0 + j0 * s1)) << 3);
        let o = out + ((<usize>(i * cols + j0)) << 3);
        const step = <usize>s1 << 3;
        for (let j = j0; j < j1; j++, s += step, o += 8) store<u64>(o, load<u64>(s));
      }
    }
  }
}

// Batch and group normalisation: assembly/norm.ts.
export { normForwardF32, normForwardF64, normBackwardF32, normBackwardF64 } from "./norm";
