/**
 * Accuracy of the wasm backend's float32 exp, sigmoid and tanh (SIMD polynomials), in ulp
 * against the float64 result of Math.exp / Math.tanh, over every STRIDE-th float32 of each
 * range (all of them with STRIDE=1: about 20 minutes).
 *
 *   npx tsx bench/wasm-accuracy.ts            # every 17th float32 (STRIDE=17), ~1 min
 *   STRIDE=7 npx tsx bench/wasm-accuracy.ts   # the figures in docs/backend.md, ~3 min
 *
 * The figures are quoted in docs/backend.md; test/backend-parity.test.ts checks a sample.
 */
import { loadWasmBackend, wasmTuning } from "../src/backend/wasm/backend.js";

const load = loadWasmBackend();
if (load.status !== "ready") throw new Error(`wasm backend unavailable (${load.status})`);
const wasm = load.backend;
wasmTuning.minElements = 0;

const STRIDE = Number(process.env.STRIDE ?? 17);

/** The float32 ulp at |v| (subnormal spacing below 2^-126). */
function ulp32(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

const sigmoid64 = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const CASES = [
  { op: "exp" as const, ref: Math.exp, lo: -87.3, hi: 88.7, note: "normal results" },
  { op: "exp" as const, ref: Math.exp, lo: -103.9, hi: -87.3, note: "subnormal results (error in units of the subnormal spacing)" },
  { op: "sigmoid" as const, ref: sigmoid64, lo: -87.3, hi: 20, note: "" },
  { op: "tanh" as const, ref: Math.tanh, lo: -10, hi: 10, note: "" },
];

/** Every STRIDE-th float32 in [lo, hi], walking the bit patterns, in chunks. */
function* sweep(lo: number, hi: number): Generator<Float32Array> {
  const bits = new Int32Array(1);
  const f = new Float32Array(bits.buffer);
  const chunk = new Float32Array(1 << 20);
  const u = new Int32Array(chunk.buffer);
  const runs: [number, number, number][] = [];
  const toBits = (v: number): number => ((f[0] = v), bits[0]!);
  // Bit patterns order floats by magnitude: walk |x| per sign.
  if (lo < 0) runs.push([toBits(Math.max(0, hi < 0 ? -hi : 0)), toBits(-lo), 0x80000000 | 0]);
  if (hi > 0) runs.push([toBits(Math.max(0, lo)), toBits(hi), 0]);
  let n = 0;
  for (const [start, end, sign] of runs) {
    for (let b = start; b <= end; b += STRIDE) {
      u[n++] = b | sign;
      if (n === chunk.length) {
        yield chunk;
        n = 0;
      }
    }
  }
  if (n > 0) yield chunk.subarray(0, n);
}

for (const c of CASES) {
  let maxUlp = 0;
  let at = 0;
  let sum = 0;
  let count = 0;
  let over1 = 0;
  const out = new Float32Array(1 << 20);
  for (const x of sweep(c.lo, c.hi)) {
    const o = out.subarray(0, x.length);
    wasm.unary(c.op, x, o);
    for (let i = 0; i < x.length; i++) {
      const ref = c.ref(x[i]!);
      const e = Math.abs(o[i]! - ref) / ulp32(ref);
      sum += e;
      if (e > 1) over1++;
      if (e > maxUlp) {
        maxUlp = e;
        at = x[i]!;
      }
    }
    count += x.length;
  }
  console.log(
    `${c.op.padEnd(8)} [${c.lo}, ${c.hi}]${c.note ? ` (${c.note})` : ""}: ${count} values, max ${maxUlp.toFixed(2)} ulp at x = ${at}, ` +
      `mean ${(sum / count).toFixed(3)} ulp, ${((100 * over1) / count).toFixed(3)}% above 1 ulp`,
  );
}
