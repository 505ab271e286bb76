import type { BinaryOp, ReduceOp, SoftmaxOp, UnaryOp } from "../backend.js";

/**
 * WGSL sources of the webgpu backend's kernels, generated per element type and variant (each
 * distinct source is compiled once and cached as a pipeline by the runtime).
 *
 * Every kernel reads its parameters from @binding(0), a read-only array<u32> (floats as their
 * bits), and its operands from @binding(1…). 1-D kernels run 256 threads per workgroup over a
 * 2-D grid (at most 65535 workgroups per axis): element i = x + y·(groups in x)·256.
 *
 * NaN and ±∞: every test for them is on the bits (`isnan`, `isinf`), not `x != x`, since WGSL
 * lets a compiler assume finite floats in arithmetic comparisons.
 */

export type GpuType = "f32" | "i32" | "u32";

export const HEADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
fn pf(i: u32) -> f32 { return bitcast<f32>(P[i]); }
fn isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
// NaN and ∞ cannot be WGSL constants: built from a runtime word (always 0) instead.
fn nanf() -> f32 { return bitcast<f32>(0x7fc00000u | (P[0] & 0u)); }
fn inff() -> f32 { return bitcast<f32>(0x7f800000u | (P[0] & 0u)); }
`;

/** The thread's element index in a 1-D kernel. */
const MAIN_1D = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;`;

/** Workgroups (x, y) for n threads of 256. */
export function grid1d(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / 256));
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** Up to this many axes after collapsing (strided kernels). */
export const MAX_DIMS = 8;

/**
 * Strided offset of element i: the shape at P[SHAPE…SHAPE+nd), the strides at P[st…st+nd).
 * Strides are i32 bit patterns (a negative stride never occurs today, but costs nothing).
 */
const OFFSET_FN = /* wgsl */ `
fn stridedOffset(i: u32, nd: u32, shapeAt: u32, stridesAt: u32) -> u32 {
  var rem = i;
  var off = 0i;
  for (var d = i32(nd) - 1; d >= 0; d = d - 1) {
    let size = P[shapeAt + u32(d)];
    let c = rem % size;
    rem = rem / size;
    off = off + i32(c) * bitcast<i32>(P[stridesAt + u32(d)]);
  }
  return u32(off);
}
`;

// ------------------------------------------------------------------ unary

function unaryExpr(op: UnaryOp, t: GpuType): string {
  if (t !== "f32") {
    switch (op) {
      case "neg": return t === "u32" ? "0u - x" : "-x";
      case "abs": return t === "i32" ? "abs(x)" : "x";
      case "sign": return t === "i32" ? "sign(x)" : "select(0u, 1u, x != 0u)";
      case "relu": return t === "i32" ? "max(x, 0i)" : "x";
      case "logicalNot": return `select(0u, 1u, x == ${t === "i32" ? "0i" : "0u"})`;
      case "isFinite": return "1u";
      default: return `${t}(${unaryExpr(op, "f32").replaceAll("x", `f32(x)`)})`;
    }
  }
  switch (op) {
    case "neg": return "-x";
    case "exp": return "exp(x)";
    case "log": return "select(log(x), select(nanf(), -inff(), x == 0.0), x <= 0.0)";
    case "sqrt": return "select(sqrt(x), select(nanf(), x, x == 0.0), x <= 0.0)";
    case "abs": return "abs(x)";
    case "sign": return "select(sign(x), x, isnan(x))";
    case "tanh": return "tanhS(x)";
    case "sigmoid": return "sigmoidS(x)";
    case "relu": return "select(x, 0.0, x <= 0.0)";
    case "leakyRelu": return "select(x * pf(2u), x, x > 0.0)";
    case "elu": return "select(pf(2u) * expm1S(x), x, x > 0.0)";
    case "softplus": return "softplusS(x, pf(2u), pf(3u))";
    case "logicalNot": return "select(0u, 1u, (bitcast<u32>(x) & 0x7fffffffu) == 0u)";
    case "isFinite": return "select(1u, 0u, isnan(x) || isinf(x))";
  }
}

/** A float unary op's result, NaN in → NaN out (GPU compilers may fold NaN comparisons away). */
function unaryFloat(op: UnaryOp): string {
  const e = unaryExpr(op, "f32");
  return op === "logicalNot" || op === "isFinite" || op === "sign" ? e : `select(${e}, x, isnan(x))`;
}

const MATH_FNS = /* wgsl */ `
fn expm1S(x: f32) -> f32 {
  // exp(x) − 1 loses every digit near 0 in float32: the series there.
  if (abs(x) < 1e-3) { return x + x * x * 0.5 + x * x * x * (1.0 / 6.0); }
  return exp(x) - 1.0;
}
fn log1pS(x: f32) -> f32 {
  if (abs(x) < 1e-4) { return x - x * x * 0.5 + x * x * x * (1.0 / 3.0); }
  return log(1.0 + x);
}
fn tanhS(x: f32) -> f32 {
  if (isnan(x)) { return x; }
  let t = exp(-2.0 * abs(x));
  let r = select((1.0 - t) / (1.0 + t), x * (1.0 - x * x / 3.0), abs(x) < 1e-4);
  return select(-abs(r), abs(r), x >= 0.0);
}
fn sigmoidS(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn softplusS(x: f32, beta: f32, threshold: f32) -> f32 {
  let z = x * beta;
  if (z > threshold) { return x; }
  return (max(z, 0.0) + log1pS(exp(-abs(z)))) / beta;
}
fn powS(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (isnan(a) || isnan(b)) { return nanf(); }
  if (a == 0.0) {
    if (b < 0.0) { return inff(); }
    return 0.0;
  }
  let integral = floor(b) == b;
  if (a < 0.0 && !integral) { return nanf(); }
  let m = exp2(b * log2(abs(a)));
  let odd = integral && abs(b) < 16777216.0 && (i32(abs(b)) & 1) == 1;
  return select(m, -m, a < 0.0 && odd);
}
`;

/** out[i] = f(x[i]); P: [n, _, p0, p1]. */
export function unaryKernel(op: UnaryOp, tin: GpuType, tout: GpuType): string {
  return `${HEADER}${MATH_FNS}
@group(0) @binding(1) var<storage, read> X: array<${tin}>;
@group(0) @binding(2) var<storage, read_write> O: array<${tout}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let x = X[i];
  O[i] = ${tin === "f32" ? unaryFloat(op) : unaryExpr(op, tin)};
}`;
}

// ------------------------------------------------------------------ binary, where

function binaryExpr(op: BinaryOp, t: GpuType): string {
  const one = "1u", zero = "0u";
  // Comparisons with NaN are false (ne: true), tested on the bits.
  const nan = t === "f32" ? " && !isnan(a) && !isnan(b)" : "";
  const cmp = (c: string): string => `select(${zero}, ${one}, (${c})${op === "ne" ? "" : nan})`;
  switch (op) {
    case "add": return "a + b";
    case "sub": return "a - b";
    case "mul": return "a * b";
    case "div":
      return t === "f32" ? "a / b" : t === "i32" ? "select(a / b, 0i, b == 0i)" : "select(a / b, 0u, b == 0u)";
    case "pow": return t === "f32" ? "powS(a, b)" : `${t}(powS(f32(a), f32(b)))`;
    case "maximum": return t === "f32" ? "select(b, a, isnan(a) || (a > b && !isnan(b)))" : "max(a, b)";
    case "minimum": return t === "f32" ? "select(b, a, isnan(a) || (a < b && !isnan(b)))" : "min(a, b)";
    case "eq": return cmp("a == b");
    case "ne": return t === "f32" ? "select(0u, 1u, a != b || isnan(a) || isnan(b))" : cmp("a != b");
    case "gt": return cmp("a > b");
    case "ge": return cmp("a >= b");
    case "lt": return cmp("a < b");
    case "le": return cmp("a <= b");
  }
}

/**
 * How a binary/where operand is read: "c" contiguous (the output's size), "s" one element
 * (buffer element 0), "p" a scalar in the parameters, "b" broadcast through strides.
 */
export type OperandMode = "c" | "s" | "p" | "b";

/** Parameter layout of the strided kernels: [n, nd, p0, p1, p2, p3, _, _, shape ×8, strides ×8 per operand]. */
export const SHAPE_AT = 8;
export const stridesAt = (k: number): number => SHAPE_AT + MAX_DIMS * (k + 1);

function operandRead(name: string, mode: OperandMode, k: number, t: GpuType, binding: number, decls: string[]): string {
  switch (mode) {
    case "p": return `bitcast<${t}>(P[${2 + k}u])`;
    case "s": decls.push(`@group(0) @binding(${binding}) var<storage, read> ${name}: array<${t}>;`); return `${name}[0]`;
    case "c": decls.push(`@group(0) @binding(${binding}) var<storage, read> ${name}: array<${t}>;`); return `${name}[i]`;
    case "b": decls.push(`@group(0) @binding(${binding}) var<storage, read> ${name}: array<${t}>;`); return `${name}[stridedOffset(i, P[1], ${SHAPE_AT}u, ${stridesAt(k)}u)]`;
  }
}

/** out = a op b (see OperandMode); comparisons write u32 0/1. */
export function binaryKernel(op: BinaryOp, t: GpuType, tout: GpuType, ma: OperandMode, mb: OperandMode): string {
  const decls: string[] = [];
  let binding = 1;
  const ra = operandRead("A", ma, 0, t, binding, decls);
  if (ma !== "p") binding++;
  const rb = operandRead("B", mb, 1, t, binding, decls);
  if (mb !== "p") binding++;
  return `${HEADER}${MATH_FNS}${OFFSET_FN}
${decls.join("\n")}
@group(0) @binding(${binding}) var<storage, read_write> O: array<${tout}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let a = ${ra};
  let b = ${rb};
  O[i] = ${t === "f32" && ["add", "sub", "mul", "div"].includes(op) ? `select(${binaryExpr(op, t)}, nanf(), isnan(a) || isnan(b))` : binaryExpr(op, t)};
}`;
}

/** out = cond != 0 ? a : b; cond u32 (bool) or the operands' type. */
export function whereKernel(tc: GpuType, t: GpuType, mc: OperandMode, ma: OperandMode, mb: OperandMode): string {
  const decls: string[] = [];
  let binding = 1;
  const rc = operandRead("C", mc, 0, tc, binding, decls);
  if (mc !== "p") binding++;
  const ra = operandRead("A", ma, 1, t, binding, decls);
  if (ma !== "p") binding++;
  const rb = operandRead("B", mb, 2, t, binding, decls);
  if (mb !== "p") binding++;
  return `${HEADER}${OFFSET_FN}
${decls.join("\n")}
@group(0) @binding(${binding}) var<storage, read_write> O: array<${t}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let c = ${rc};
  O[i] = select(${rb}, ${ra}, c != ${tc}(0));
}`;
}

// ------------------------------------------------------------------ copies, fill, cast

/** out[i] = src[offset + strided(i)]; P: [n, nd, offset, …, shape, strides(k=0)]. */
export function copyStridedKernel(t: GpuType): string {
  return `${HEADER}${OFFSET_FN}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> O: array<${t}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  O[i] = X[P[2] + stridedOffset(i, P[1], ${SHAPE_AT}u, ${stridesAt(0)}u)];
}`;
}

/** out[offset + strided(i)] (+)= src[i]. */
export function scatterStridedKernel(t: GpuType, accumulate: boolean): string {
  return `${HEADER}${OFFSET_FN}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> O: array<${t}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let j = P[2] + stridedOffset(i, P[1], ${SHAPE_AT}u, ${stridesAt(0)}u);
  O[j] = ${accumulate ? "O[j] + X[i]" : "X[i]"};
}`;
}

/** out[i] = bits P[2] (a fill; zero-filling new storage in order with the other kernels). */
export function fillKernel(t: GpuType): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read_write> O: array<${t}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  O[i] = bitcast<${t}>(P[2]);
}`;
}

/** dtype conversion: to bool x ≠ 0, to int32 toward zero (NaN → 0). */
export function castKernel(tin: GpuType, tout: GpuType): string {
  let expr: string;
  if (tout === "u32") expr = tin === "f32" ? "select(0u, 1u, x != 0.0 || isnan(x))" : `select(0u, 1u, x != ${tin}(0))`;
  else if (tout === "i32" && tin === "f32") expr = "select(i32(clamp(x, -2147483648.0, 2147483520.0)), 0i, isnan(x))";
  else expr = `${tout}(x)`;
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<${tin}>;
@group(0) @binding(2) var<storage, read_write> O: array<${tout}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let x = X[i];
  O[i] = ${expr};
}`;
}

// ------------------------------------------------------------------ reductions

function better(op: ReduceOp, t: GpuType): string {
  const want = op === "max" || op === "argmax" ? ">" : "<";
  // NaN wins (it propagates); ties keep the first.
  return t === "f32" ? `(!isnan(cur) && (isnan(v) || v ${want} cur))` : `(v ${want} cur)`;
}

/**
 * Reduces the middle axis of x [outer, len, inner] into out [outer, inner], one thread per
 * output (a run over len with stride inner, coalesced across inner). P: [outer·inner, len, inner].
 */
export function reduceColumnsKernel(op: ReduceOp, t: GpuType, tout: GpuType): string {
  const isArg = op === "argmax" || op === "argmin";
  const body = op === "sum"
    ? `var acc = ${t}(0); for (var j = 0u; j < len; j = j + 1u) { acc = acc + X[base + j * inner]; } O[i] = acc;`
    : `var cur = X[base]; var best = 0u;
  for (var j = 1u; j < len; j = j + 1u) {
    let v = X[base + j * inner];
    if (${better(op, t)}) { cur = v; best = j; }
  }
  O[i] = ${isArg ? `${tout}(best)` : "cur"};`;
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> O: array<${tout}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let len = P[1];
  let inner = P[2];
  let base = (i / inner) * len * inner + i % inner;
  ${body}
}`;
}

/**
 * Reduces each of `rows` contiguous runs of len elements (inner = 1), one workgroup of 256 per
 * row with a tree in workgroup memory (sums in pairs: closer to exact than one running sum).
 * P: [rows, len].
 */
export function reduceRowsKernel(op: ReduceOp, t: GpuType, tout: GpuType): string {
  const isArg = op === "argmax" || op === "argmin";
  const combine = op === "sum"
    ? "sv[l] = sv[l] + sv[l + s];"
    : `let cur = sv[l]; let v = sv[l + s];
      var take = ${better(op, t)};
      if (${t === "f32" ? "(isnan(cur) && isnan(v)) || " : ""}v == cur) { take = si[l + s] < si[l]; }
      if (take) { sv[l] = v; si[l] = si[l + s]; }`;
  const init = op === "sum"
    ? `var acc = ${t}(0); for (var j = l; j < len; j = j + 256u) { acc = acc + X[base + j]; } sv[l] = acc;`
    : `var cur = X[base + min(l, len - 1u)]; var best = min(l, len - 1u);
  for (var j = l + 256u; j < len; j = j + 256u) { let v = X[base + j]; if (${better(op, t)}) { cur = v; best = j; } }
  sv[l] = cur; si[l] = best;`;
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> O: array<${tout}>;
var<workgroup> sv: array<${t}, 256>;
var<workgroup> si: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let row = wg.x + wg.y * nw.x;
  let rows = P[0];
  let len = P[1];
  let base = row * len;
  if (row < rows) {
    ${init}
  }
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (l < s && row < rows) {
      ${combine}
    }
    workgroupBarrier();
  }
  if (l == 0u && row < rows) { O[row] = ${isArg ? `${tout}(si[0])` : "sv[0]"}; }
}`;
}

// ------------------------------------------------------------------ softmax

/** Softmax / logSoftmax of each row of cols elements (one workgroup per row); the reference's rules for NaN and ±∞. P: [rows, cols]. */
export function softmaxKernel(op: SoftmaxOp): string {
  const write = op === "softmax"
    ? "O[base + j] = exp(X[base + j] - m) * inv;"
    : "O[base + j] = (X[base + j] - m) - lse;";
  const special = op === "softmax" ? "0.0" : "-inff()";
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
var<workgroup> sv: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let row = min(wg.x + wg.y * nw.x, P[0] - 1u);
  let cols = P[1];
  let base = row * cols;
  var mx = -inff();
  for (var j = l; j < cols; j = j + 256u) { let v = X[base + j]; if (v > mx || isnan(v)) { mx = v; } }
  sv[l] = mx;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (l < s) { let v = sv[l + s]; if (!isnan(sv[l]) && (v > sv[l] || isnan(v))) { sv[l] = v; } }
    workgroupBarrier();
  }
  let m = workgroupUniformLoad(&sv[0]);
  // Every invocation has read sv[0] before any overwrites it with its partial sum below.
  workgroupBarrier();
  if (isnan(m) || isinf(m)) {
    for (var j = l; j < cols; j = j + 256u) {
      let v = X[base + j];
      O[base + j] = select(nanf(), ${special}, m > 0.0 && isinf(m) && !(isinf(v) && v > 0.0));
    }
    return;
  }
  var acc = 0.0;
  for (var j = l; j < cols; j = j + 256u) { acc = acc + exp(X[base + j] - m); }
  sv[l] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (l < s) { sv[l] = sv[l] + sv[l + s]; }
    workgroupBarrier();
  }
  let sum = workgroupUniformLoad(&sv[0]);
  let inv = 1.0 / sum;
  let lse = log(sum);
  for (var j = l; j < cols; j = j + 256u) { ${write} }
}`;
}

// ------------------------------------------------------------------ matmul

/** Matmul tile: a workgroup of 16×16 threads computes a 64×64 block of C, 4×4 per thread, k in steps of 16. */
export const TILE = 64;
/**
 * C[m,n] = op(A)[m,k]·op(B)[k,n] for `batch` matrices (A, B, C each at base + b·stride),
 * transposed operands read in place. P: [m, k, n, aOff, bOff, cOff, aStride, bStride, cStride].
 */
export function matmulKernel(transA: boolean, transB: boolean): string {
  // A(i,p) = transA ? A[p·m + i] : A[i·k + p]; B(p,j) = transB ? B[j·k + p] : B[p·n + j].
  const aAt = transA ? "(p * m + r)" : "(r * k + p)";
  const bAt = transB ? "(c * k + q)" : "(q * n + c)";
  return `${HEADER}
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
var<workgroup> As: array<array<f32, 64>, 16>;
var<workgroup> Bs: array<array<f32, 64>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let m = P[0]; let k = P[1]; let n = P[2];
  let aBase = P[3] + wg.z * P[6];
  let bBase = P[4] + wg.z * P[7];
  let cBase = P[5] + wg.z * P[8];
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let tx = lid.x; let ty = lid.y;
  let li = ty * 16u + tx;
  var acc: array<array<f32, 4>, 4>;
  for (var p0 = 0u; p0 < k; p0 = p0 + 16u) {
    // 16×64 of op(A)ᵀ and 16×64 of op(B): 1024 elements each, 4 per thread.
    for (var e = 0u; e < 4u; e = e + 1u) {
      let idx = li + e * 256u;
      ${transA
        ? `let pp = idx / 64u; let rr = idx % 64u;`
        : `let rr = idx / 16u; let pp = idx % 16u;`}
      let r = row0 + rr; let p = p0 + pp;
      As[pp][rr] = select(0.0, A[aBase + ${aAt}], r < m && p < k);
      ${transB
        ? `let cc = idx / 16u; let qq = idx % 16u;`
        : `let qq = idx / 64u; let cc = idx % 64u;`}
      let c = col0 + cc; let q = p0 + qq;
      Bs[qq][cc] = select(0.0, B[bBase + ${bAt}], c < n && q < k);
    }
    workgroupBarrier();
    for (var pp = 0u; pp < 16u; pp = pp + 1u) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var u = 0u; u < 4u; u = u + 1u) { av[u] = As[pp][ty + u * 16u]; bv[u] = Bs[pp][tx + u * 16u]; }
      for (var u = 0u; u < 4u; u = u + 1u) {
        for (var v = 0u; v < 4u; v = v + 1u) { acc[u][v] = fma(av[u], bv[v], acc[u][v]); }
      }
    }
    workgroupBarrier();
  }
  for (var u = 0u; u < 4u; u = u + 1u) {
    let r = row0 + ty + u * 16u;
    if (r >= m) { continue; }
    for (var v = 0u; v < 4u; v = v + 1u) {
      let c = col0 + tx + v * 16u;
      if (c < n) { C[cBase + r * n + c] = acc[u][v]; }
    }
  }
}`;
}

// ------------------------------------------------------------------ gather / scatterAdd

/** Take-along-axis; P: [total, xLen, idxLen, inner, indexIsVector]. */
export function gatherKernel(t: GpuType): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<${t}>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let xLen = P[1]; let idxLen = P[2]; let inner = P[3];
  let o = i / (idxLen * inner);
  let j = (i / inner) % idxLen;
  let q = i % inner;
  let ix = select(I[i], I[j], P[4] == 1u);
  let safe = u32(clamp(ix, 0i, i32(xLen) - 1i));
  O[i] = X[(o * xLen + safe) * inner + q];
}`;
}

/**
 * out[o, index[o,j,i], i] += src[o,j,i], one thread per source element adding with a
 * compare-and-swap loop on the bits (WGSL has no float atomics). Where targets collide the
 * order of the additions varies from run to run (float rounding only); max pooling with
 * windows that do not overlap never collides. P: [total (src), outLen, idxLen, inner, indexIsVector].
 */
export function scatterAddAtomicKernel(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<atomic<u32>>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let outLen = P[1]; let idxLen = P[2]; let inner = P[3];
  let o = i / (idxLen * inner);
  let j = (i / inner) % idxLen;
  let q = i % inner;
  let ix = select(I[i], I[j], P[4] == 1u);
  let at = (o * outLen + u32(ix)) * inner + q;
  let s = S[i];
  var old = atomicLoad(&O[at]);
  loop {
    let r = atomicCompareExchangeWeak(&O[at], old, bitcast<u32>(bitcast<f32>(old) + s));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}`;
}

/**
 * out[o, index[o,j,i], i] += src[o,j,i], one thread per output element summing its matches in
 * source order, so the result is deterministic and equals the reference's order. P: [total,
 * outLen, idxLen, inner, indexIsVector].
 */
export function scatterAddKernel(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  let outLen = P[1]; let idxLen = P[2]; let inner = P[3];
  let o = i / (outLen * inner);
  let t = i32((i / inner) % outLen);
  let q = i % inner;
  var acc = O[i];
  for (var j = 0u; j < idxLen; j = j + 1u) {
    let at = (o * idxLen + j) * inner + q;
    let ix = select(I[at], I[j], P[4] == 1u);
    if (ix == t) { acc = acc + S[at]; }
  }
  O[i] = acc;
}`;
}

// ------------------------------------------------------------------ optimizers

/** torch.optim.SGD's step; P: [n, lr, momentum, dampening, nesterov, weightDecay, maximize, firstStep, hasBuf]. */
export function sgdKernel(hasBuf: boolean): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
${hasBuf ? "@group(0) @binding(3) var<storage, read_write> M: array<f32>;" : ""}
${MAIN_1D}
  if (i >= P[0]) { return; }
  let lr = pf(1u); let mu = pf(2u); let tau = pf(3u); let wd = pf(5u);
  var d = select(G[i], -G[i], P[6] == 1u);
  if (wd != 0.0) { d = d + wd * W[i]; }
  ${hasBuf ? `let b = select(mu * M[i] + (1.0 - tau) * d, d, P[7] == 1u);
  M[i] = b;
  d = select(b, d + mu * b, P[4] == 1u);` : ""}
  W[i] = W[i] - lr * d;
}`;
}

/** torch.optim.Adam/AdamW's step; P: [n, beta1, beta2, eps, weightDecay, decoupled, maximize, stepSize, bc2Sqrt, decay, amsgrad]. */
export function adamKernel(amsgrad: boolean): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;
${amsgrad ? "@group(0) @binding(5) var<storage, read_write> VM: array<f32>;" : ""}
${MAIN_1D}
  if (i >= P[0]) { return; }
  let b1 = pf(1u); let b2 = pf(2u); let eps = pf(3u); let wd = pf(4u);
  var g = select(G[i], -G[i], P[6] == 1u);
  var w = W[i];
  if (wd != 0.0) {
    if (P[5] == 1u) { w = w * pf(9u); } else { g = g + wd * w; }
  }
  let m = b1 * M[i] + (1.0 - b1) * g;
  let v = b2 * V[i] + (1.0 - b2) * g * g;
  M[i] = m;
  V[i] = v;
  var second = v;
  ${amsgrad ? "second = max(VM[i], v); VM[i] = second;" : ""}
  let denom = sqrt(second) / pf(8u) + eps;
  W[i] = w - pf(7u) * (m / denom);
}`;
}

/** torch.optim.RMSprop's step; P: [n, lr, alpha, eps, weightDecay, momentum, maximize]. */
export function rmspropKernel(hasBuf: boolean, centered: boolean): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> SQ: array<f32>;
${hasBuf ? "@group(0) @binding(4) var<storage, read_write> BUF: array<f32>;" : ""}
${centered ? `@group(0) @binding(${hasBuf ? 5 : 4}) var<storage, read_write> AVG: array<f32>;` : ""}
${MAIN_1D}
  if (i >= P[0]) { return; }
  let lr = pf(1u); let alpha = pf(2u); let eps = pf(3u); let wd = pf(4u); let mu = pf(5u);
  var g = select(G[i], -G[i], P[6] == 1u);
  if (wd != 0.0) { g = g + wd * W[i]; }
  let sq = alpha * SQ[i] + (1.0 - alpha) * g * g;
  SQ[i] = sq;
  ${centered ? "let avg = alpha * AVG[i] + (1.0 - alpha) * g; AVG[i] = avg; let d = sqrt(sq - avg * avg) + eps;" : "let d = sqrt(sq) + eps;"}
  ${hasBuf ? "let b = mu * BUF[i] + g / d; BUF[i] = b; W[i] = W[i] - lr * b;" : "W[i] = W[i] - lr * (g / d);"}
}`;
}

/** torch.optim.Adagrad's step; P: [n, clr, weightDecay, eps, maximize]. */
export function adagradKernel(): string {
  return `${HEADER}
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;
${MAIN_1D}
  if (i >= P[0]) { return; }
  var g = select(G[i], -G[i], P[4] == 1u);
  if (pf(2u) != 0.0) { g = g + pf(2u) * W[i]; }
  let s = S[i] + g * g;
  S[i] = s;
  W[i] = W[i] - pf(1u) * (g / (sqrt(s) + pf(3u)));
}`;
}

/**
 * The register-tiled matmul: no workgroup memory and no barriers; each of a workgroup's 8×8
 * threads computes a 4×4 block of C straight from A and B (caches do the reuse). Same
 * parameters and grid axes as matmulKernel, 32×32 outputs per workgroup.
 */
export const REG_TILE = 32;
export function matmulRegistersKernel(transA: boolean, transB: boolean): string {
  const aAt = (r: string, p: string): string => (transA ? `${p} * m + ${r}` : `${r} * k + ${p}`);
  const bAt = (p: string, c: string): string => (transB ? `${c} * k + ${p}` : `${p} * n + ${c}`);
  return `${HEADER}
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = P[0]; let k = P[1]; let n = P[2];
  let aBase = P[3] + gid.z * P[6];
  let bBase = P[4] + gid.z * P[7];
  let cBase = P[5] + gid.z * P[8];
  let r0 = gid.y * 4u;
  let c0 = gid.x * 4u;
  if (r0 >= m || c0 >= n) { return; }
  // Rows and columns past the edge read the last valid one (their results are not written).
  let ra = vec4<u32>(r0, min(r0 + 1u, m - 1u), min(r0 + 2u, m - 1u), min(r0 + 3u, m - 1u));
  let cb = vec4<u32>(c0, min(c0 + 1u, n - 1u), min(c0 + 2u, n - 1u), min(c0 + 3u, n - 1u));
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  for (var p = 0u; p < k; p = p + 1u) {
    let b = vec4<f32>(B[bBase + ${bAt("p", "cb.x")}], B[bBase + ${bAt("p", "cb.y")}], B[bBase + ${bAt("p", "cb.z")}], B[bBase + ${bAt("p", "cb.w")}]);
    acc0 = fma(vec4<f32>(A[aBase + ${aAt("ra.x", "p")}]), b, acc0);
    acc1 = fma(vec4<f32>(A[aBase + ${aAt("ra.y", "p")}]), b, acc1);
    acc2 = fma(vec4<f32>(A[aBase + ${aAt("ra.z", "p")}]), b, acc2);
    acc3 = fma(vec4<f32>(A[aBase + ${aAt("ra.w", "p")}]), b, acc3);
  }
  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var u = 0u; u < 4u; u = u + 1u) {
    let r = r0 + u;
    if (r >= m) { break; }
    for (var v = 0u; v < 4u; v = v + 1u) {
      let c = c0 + v;
      if (c < n) { C[cBase + r * n + c] = rows[u][v]; }
    }
  }
}`;
}
