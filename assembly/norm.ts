// Batch and group normalisation kernels (exported through assembly/kernels.ts). x is viewed as
// [outer, C, inner]; `groups` = 0: batch norm (statistics per channel over every (outer,
// inner)); groups = G ≥ 1: group norm (statistics per (sample, group) over a contiguous run of
// (C/G)·inner elements). Every sum is accumulated in float64 and every output element is
// computed in float64 from x and the float64 statistics, then rounded once: the same
// arithmetic as the JavaScript reference (src/backend/js.ts), which differs only in the order
// of the sums. Vector loops stop at the last whole vector of a run (the tail is scalar): runs
// lie inside one tensor, so reading or writing past them would touch the next run.

// The second result of dotRun (the first is its return value).
let dotSecond: f64 = 0;

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

// @ts-ignore: decorator
@inline function hiF32(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 0, 1));
}

/** Σ x over n elements. */
// @ts-ignore: decorator
@inline function sumRun<T>(p: usize, n: i32): f64 {
  let i = 0;
  let total: f64 = 0;
  if (sizeof<T>() == 4) {
    let a = f64x2.splat(0), b = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(p + (<usize>i << 2));
      a = f64x2.add(a, f64x2.promote_low_f32x4(v));
      b = f64x2.add(b, hiF32(v));
    }
    total = hsum(f64x2.add(a, b));
    for (; i < n; i++) total += <f64>load<f32>(p + (<usize>i << 2));
  } else {
    let a = f64x2.splat(0), b = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      a = f64x2.add(a, v128.load(p + (<usize>i << 3)));
      b = f64x2.add(b, v128.load(p + (<usize>i << 3) + 16));
    }
    total = hsum(f64x2.add(a, b));
    for (; i < n; i++) total += load<f64>(p + (<usize>i << 3));
  }
  return total;
}

/** Σ (x − μ)² over n elements. */
// @ts-ignore: decorator
@inline function sqDevRun<T>(p: usize, n: i32, mu: f64): f64 {
  let i = 0;
  let total: f64 = 0;
  const m = f64x2.splat(mu);
  let a = f64x2.splat(0), b = f64x2.splat(0);
  if (sizeof<T>() == 4) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(p + (<usize>i << 2));
      const d0 = f64x2.sub(f64x2.promote_low_f32x4(v), m);
      const d1 = f64x2.sub(hiF32(v), m);
      a = f64x2.add(a, f64x2.mul(d0, d0));
      b = f64x2.add(b, f64x2.mul(d1, d1));
    }
    total = hsum(f64x2.add(a, b));
    for (; i < n; i++) { const d = <f64>load<f32>(p + (<usize>i << 2)) - mu; total += d * d; }
  } else {
    for (; i + 4 <= n; i += 4) {
      const d0 = f64x2.sub(v128.load(p + (<usize>i << 3)), m);
      const d1 = f64x2.sub(v128.load(p + (<usize>i << 3) + 16), m);
      a = f64x2.add(a, f64x2.mul(d0, d0));
      b = f64x2.add(b, f64x2.mul(d1, d1));
    }
    total = hsum(f64x2.add(a, b));
    for (; i < n; i++) { const d = load<f64>(p + (<usize>i << 3)) - mu; total += d * d; }
  }
  return total;
}

/** Returns Σ dy and leaves Σ dy·(x − μ) in dotSecond. */
// @ts-ignore: decorator
@inline function dotRun<T>(dy: usize, x: usize, n: i32, mu: f64): f64 {
  let i = 0;
  const m = f64x2.splat(mu);
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0), t0 = f64x2.splat(0), t1 = f64x2.splat(0);
  let sum: f64 = 0, dot: f64 = 0;
  if (sizeof<T>() == 4) {
    for (; i + 4 <= n; i += 4) {
      const g = v128.load(dy + (<usize>i << 2));
      const v = v128.load(x + (<usize>i << 2));
      const g0 = f64x2.promote_low_f32x4(g), g1 = hiF32(g);
      s0 = f64x2.add(s0, g0);
      s1 = f64x2.add(s1, g1);
      t0 = f64x2.add(t0, f64x2.mul(g0, f64x2.sub(f64x2.promote_low_f32x4(v), m)));
      t1 = f64x2.add(t1, f64x2.mul(g1, f64x2.sub(hiF32(v), m)));
    }
    sum = hsum(f64x2.add(s0, s1));
    dot = hsum(f64x2.add(t0, t1));
    for (; i < n; i++) {
      const g = <f64>load<f32>(dy + (<usize>i << 2));
      sum += g;
      dot += g * (<f64>load<f32>(x + (<usize>i << 2)) - mu);
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      const g0 = v128.load(dy + (<usize>i << 3)), g1 = v128.load(dy + (<usize>i << 3) + 16);
      s0 = f64x2.add(s0, g0);
      s1 = f64x2.add(s1, g1);
      t0 = f64x2.add(t0, f64x2.mul(g0, f64x2.sub(v128.load(x + (<usize>i << 3)), m)));
      t1 = f64x2.add(t1, f64x2.mul(g1, f64x2.sub(v128.load(x + (<usize>i << 3) + 16), m)));
    }
    sum = hsum(f64x2.add(s0, s1));
    dot = hsum(f64x2.add(t0, t1));
    for (; i < n; i++) {
      const g = load<f64>(dy + (<usize>i << 3));
      sum += g;
      dot += g * (load<f64>(x + (<usize>i << 3)) - mu);
    }
  }
  dotSecond = dot;
  return sum;
}

/** out = p·u + q·(v − μ) + r over n elements (forward: p = 0 and u unused; backward: u = dy, v = x). */
// @ts-ignore: decorator
@inline function affineRun<T>(u: usize, v: usize, out: usize, n: i32, mu: f64, p: f64, q: f64, r: f64): void {
  let i = 0;
  const m = f64x2.splat(mu), P = f64x2.splat(p), Q = f64x2.splat(q), R = f64x2.splat(r);
  if (sizeof<T>() == 4) {
    for (; i + 4 <= n; i += 4) {
      const xv = v128.load(v + (<usize>i << 2));
      let y0 = f64x2.add(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(xv), m), Q), R);
      let y1 = f64x2.add(f64x2.mul(f64x2.sub(hiF32(xv), m), Q), R);
      if (p != 0) {
        const g = v128.load(u + (<usize>i << 2));
        y0 = f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(g), P), y0);
        y1 = f64x2.add(f64x2.mul(hiF32(g), P), y1);
      }
      v128.store(out + (<usize>i << 2), v128.shuffle<i32>(f32x4.demote_f64x2_zero(y0), f32x4.demote_f64x2_zero(y1), 0, 1, 4, 5));
    }
    for (; i < n; i++) {
      let y = (<f64>load<f32>(v + (<usize>i << 2)) - mu) * q + r;
      if (p != 0) y = <f64>load<f32>(u + (<usize>i << 2)) * p + y;
      store<f32>(out + (<usize>i << 2), <f32>y);
    }
  } else {
    for (; i + 2 <= n; i += 2) {
      let y = f64x2.add(f64x2.mul(f64x2.sub(v128.load(v + (<usize>i << 3)), m), Q), R);
      if (p != 0) y = f64x2.add(f64x2.mul(v128.load(u + (<usize>i << 3)), P), y);
      v128.store(out + (<usize>i << 3), y);
    }
    for (; i < n; i++) {
      let y = (load<f64>(v + (<usize>i << 3)) - mu) * q + r;
      if (p != 0) y = load<f64>(u + (<usize>i << 3)) * p + y;
      store<f64>(out + (<usize>i << 3), y);
    }
  }
}

// @ts-ignore: decorator
@inline function param<T>(p: usize, j: i32, none: f64): f64 {
  return p == 0 ? none : <f64>load<T>(p + (<usize>j) * sizeof<T>());
}

function normForward<T>(x: usize, y: usize, w: usize, b: usize, mean: usize, invstd: usize, outer: i32, c: i32, inner: i32, groups: i32, eps: f64): void {
  const sz = <usize>sizeof<T>();
  if (groups == 0) {
    const m = <f64>outer * <f64>inner;
    for (let ch = 0; ch < c; ch++) {
      let s: f64 = 0;
      for (let o = 0; o < outer; o++) s += sumRun<T>(x + ((<usize>o * c + ch) * inner) * sz, inner);
      const mu = s / m;
      let v: f64 = 0;
      for (let o = 0; o < outer; o++) v += sqDevRun<T>(x + ((<usize>o * c + ch) * inner) * sz, inner, mu);
      const is = 1 / Math.sqrt(v / m + eps);
      store<f64>(mean + (<usize>ch << 3), mu);
      store<f64>(invstd + (<usize>ch << 3), is);
      const q = is * param<T>(w, ch, 1), r = param<T>(b, ch, 0);
      for (let o = 0; o < outer; o++) {
        const off = ((<usize>o * c + ch) * inner) * sz;
        affineRun<T>(0, x + off, y + off, inner, mu, 0, q, r);
      }
    }
  } else {
    const cg = c / groups;
    const len = cg * inner;
    const m = <f64>len;
    for (let o = 0; o < outer; o++) {
      for (let g = 0; g < groups; g++) {
        const base = (<usize>o * c + g * cg) * inner * sz;
        const mu = sumRun<T>(x + base, len) / m;
        const is = 1 / Math.sqrt(sqDevRun<T>(x + base, len, mu) / m + eps);
        const st = (<usize>o * groups + g) << 3;
        store<f64>(mean + st, mu);
        store<f64>(invstd + st, is);
        for (let j = 0; j < cg; j++) {
          const ch = g * cg + j;
          const off = base + (<usize>j * inner) * sz;
          affineRun<T>(0, x + off, y + off, inner, mu, 0, is * param<T>(w, ch, 1), param<T>(b, ch, 0));
        }
      }
    }
  }
}

/**
 * scratch: 2·outer·C float64s. Pass 1 puts each run's Σ dy and Σ dy·(x − μ) there; dw, db
 * (each optional) and the coefficients of dx = a·dy + b·(x − μ) + c come from those.
 */
function normBackward<T>(dy: usize, x: usize, dx: usize, w: usize, mean: usize, invstd: usize, dw: usize, db: usize, scratch: usize,
  outer: i32, c: i32, inner: i32, groups: i32): void {
  const sz = <usize>sizeof<T>();
  const cg = groups == 0 ? 1 : c / groups;
  for (let o = 0; o < outer; o++) {
    for (let ch = 0; ch < c; ch++) {
      const st = groups == 0 ? <usize>ch : <usize>o * groups + ch / cg;
      const off = ((<usize>o * c + ch) * inner) * sz;
      const s0 = dotRun<T>(dy + off, x + off, inner, load<f64>(mean + (st << 3)));
      const at = (<usize>o * c + ch) << 4;
      store<f64>(scratch + at, s0);
      store<f64>(scratch + at + 8, dotSecond);
    }
  }
  // dw[c] = Σ dy·x̂ = Σ_o invstd·S1, db[c] = Σ_o S0.
  for (let ch = 0; ch < c; ch++) {
    let sw: f64 = 0, sb: f64 = 0;
    for (let o = 0; o < outer; o++) {
      const st = groups == 0 ? <usize>ch : <usize>o * groups + ch / cg;
      const at = (<usize>o * c + ch) << 4;
      sb += load<f64>(scratch + at);
      sw += load<f64>(invstd + (st << 3)) * load<f64>(scratch + at + 8);
    }
    if (dw != 0) store<T>(dw + <usize>ch * sz, <T>sw);
    if (db != 0) store<T>(db + <usize>ch * sz, <T>sb);
  }
  if (groups == 0) {
    const m = <f64>outer * <f64>inner;
    for (let ch = 0; ch < c; ch++) {
      let s0: f64 = 0, s1: f64 = 0;
      for (let o = 0; o < outer; o++) {
        const at = (<usize>o * c + ch) << 4;
        s0 += load<f64>(scratch + at);
        s1 += load<f64>(scratch + at + 8);
      }
      const mu = load<f64>(mean + (<usize>ch << 3)), is = load<f64>(invstd + (<usize>ch << 3));
      const a = is * param<T>(w, ch, 1);
      const bq = -a * is * is * s1 / m, cr = -a * s0 / m;
      for (let o = 0; o < outer; o++) {
        const off = ((<usize>o * c + ch) * inner) * sz;
        affineRun<T>(dy + off, x + off, dx + off, inner, mu, a, bq, cr);
      }
    }
  } else {
    const m = <f64>cg * <f64>inner;
    for (let o = 0; o < outer; o++) {
      for (let g = 0; g < groups; g++) {
        let sa: f64 = 0, sbb: f64 = 0;
        for (let j = 0; j < cg; j++) {
          const ch = g * cg + j;
          const wc = param<T>(w, ch, 1);
          const at = (<usize>o * c + ch) << 4;
          sa += wc * load<f64>(scratch + at);
          sbb += wc * load<f64>(scratch + at + 8);
        }
        const st = (<usize>o * groups + g) << 3;
        const mu = load<f64>(mean + st), is = load<f64>(invstd + st);
        const bq = -is * is * is * sbb / m, cr = -is * sa / m;
        for (let j = 0; j < cg; j++) {
          const ch = g * cg + j;
          const off = ((<usize>o * c + ch) * inner) * sz;
          affineRun<T>(dy + off, x + off, dx + off, inner, mu, is * param<T>(w, ch, 1), bq, cr);
        }
      }
    }
  }
}

export function normForwardF32(x: usize, y: usize, w: usize, b: usize, mean: usize, invstd: usize, outer: i32, c: i32, inner: i32, groups: i32, eps: f64): void {
  normForward<f32>(x, y, w, b, mean, invstd, outer, c, inner, groups, eps);
}
export function normForwardF64(x: usize, y: usize, w: usize, b: usize, mean: usize, invstd: usize, outer: i32, c: i32, inner: i32, groups: i32, eps: f64): void {
  normForward<f64>(x, y, w, b, mean, invstd, outer, c, inner, groups, eps);
}
export function normBackwardF32(dy: usize, x: usize, dx: usize, w: usize, mean: usize, invstd: usize, dw: usize, db: usize, scratch: usize, outer: i32, c: i32, inner: i32, groups: i32): void {
  normBackward<f32>(dy, x, dx, w, mean, invstd, dw, db, scratch, outer, c, inner, groups);
}
export function normBackwardF64(dy: usize, x: usize, dx: usize, w: usize, mean: usize, invstd: usize, dw: usize, db: usize, scratch: usize, outer: i32, c: i32, inner: i32, groups: i32): void {
  normBackward<f64>(dy, x, dx, w, mean, invstd, dw, db, scratch, outer, c, inner, groups);
}
