/**
 * The wasm backend's threaded matmul (src/backend/wasm/threads.ts): worker threads sharing one
 * WebAssembly.Memory, each computing whole rows of C with the 1-thread kernel, so the result must
 * be the 1-thread result bit for bit, for every transpose combination, float32 and float64, odd
 * sizes included. And a process that used threads must still exit on its own.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../src/backend/backend.js";
import { simdSupported, wasmTuning } from "../src/backend/wasm/backend.js";
import { threadStats, threadsUnavailableReason } from "../src/backend/wasm/threads.js";
import { getBackend, getNumThreads, setBackend, setNumThreads, ValueError } from "../src/node.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const initialThreads = getNumThreads();
const initialBackend = getBackend().name;
const initialMin = wasmTuning.minThreadedMacs;

afterEach(() => {
  setNumThreads(initialThreads);
  wasmTuning.minThreadedMacs = initialMin;
});

/** A deterministic pseudo-random array (values with full mantissas, so rounding order shows). */
function data(Ctor: typeof Float32Array | typeof Float64Array, n: number, seed: number): Float32Array | Float64Array {
  const out = new Ctor(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5 + Math.sin(i) * 1e-3;
  }
  return out;
}

describe.skipIf(!simdSupported())("threaded wasm matmul", () => {
  let wasm: Backend;
  beforeAll(() => {
    setBackend("wasm");
    wasm = getBackend();
  });
  afterAll(() => setBackend(initialBackend));

  it("defaults to the machine's cores under the Node entry, and validates setNumThreads", () => {
    expect(threadsUnavailableReason()).toBeUndefined();
    expect(initialThreads).toBe(availableParallelism());
    setNumThreads(3);
    expect(getNumThreads()).toBe(3);
    expect(() => setNumThreads(0)).toThrow(ValueError);
    expect(() => setNumThreads(1.5)).toThrow(ValueError);
  });

  const run = (threads: number, Ctor: typeof Float32Array | typeof Float64Array, m: number, k: number, n: number, transA: boolean, transB: boolean): Float32Array | Float64Array => {
    const a = data(Ctor, m * k + 3, m * 31 + k);
    const b = data(Ctor, k * n + 5, n * 17 + k);
    const out = new Ctor(m * n + 2).fill(7);
    setNumThreads(threads);
    // Offsets into the batch, as the batched matmul passes them.
    wasm.matmul(a, 3, b, 5, out, 2, m, k, n, transA, transB);
    return out;
  };

  const sizes: [number, number, number][] = [
    [16, 1, 16], [17, 3, 9], [33, 257, 31], [64, 64, 64], [101, 300, 67], [130, 513, 8], [257, 77, 129], [96, 0, 5],
  ];
  for (const Ctor of [Float32Array, Float64Array]) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      it(`${Ctor.name}, transA=${transA}, transB=${transB}: 2 and 3 threads give the 1-thread result bit for bit`, () => {
        wasmTuning.minThreadedMacs = 0;
        const before = threadStats.matmuls;
        for (const [m, k, n] of sizes) {
          const one = run(1, Ctor, m, k, n, transA, transB);
          for (const t of [2, 3]) {
            const many = run(t, Ctor, m, k, n, transA, transB);
            expect(Buffer.from(many.buffer).equals(Buffer.from(one.buffer)), `${m}×${k}×${n} on ${t} threads`).toBe(true);
          }
        }
        // Every size with k > 0 and at least 2 chunks of rows went through the threads (the rest run on one).
        expect(threadStats.matmuls - before).toBeGreaterThanOrEqual(10);
      });
    }
  }

  it("a large product at the default threshold matches too (and the 1-thread path is untouched)", () => {
    const one = run(1, Float32Array, 300, 129, 301, false, false);
    expect(300 * 129 * 301).toBeGreaterThanOrEqual(wasmTuning.minThreadedMacs);
    const before = threadStats.matmuls;
    const two = run(2, Float32Array, 300, 129, 301, false, false);
    expect(threadStats.matmuls).toBe(before + 1);
    expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
    // Spot-check against a float64 dot product.
    const a = data(Float32Array, 300 * 129 + 3, 300 * 31 + 129);
    const b = data(Float32Array, 129 * 301 + 5, 301 * 17 + 129);
    let s = 0;
    for (let p = 0; p < 129; p++) s += a[3 + 5 * 129 + p]! * b[5 + p * 301 + 7]!;
    expect(two[2 + 5 * 301 + 7]).toBeCloseTo(s, 4);
  });

  it("elementwise kernels split across 2 and 3 threads give the 1-thread result bit for bit", () => {
    const initialMin = wasmTuning.minThreadedElements;
    wasmTuning.minThreadedElements = 0;
    try {
      const before = threadStats.calls;
      for (const Ctor of [Float32Array, Float64Array]) {
        for (const n of [1000, 4099, 70001]) {
          const x = data(Ctor, n, n + 1);
          const y = data(Ctor, n, n + 2);
          const s = Ctor.of(0.25);
          const cases: [string, (out: Float32Array | Float64Array | Uint8Array) => void, () => Float32Array | Float64Array | Uint8Array][] = [
            ["relu", (o) => wasm.unary("relu", x, o), () => new Ctor(n)],
            ["neg", (o) => wasm.unary("neg", x, o), () => new Ctor(n)],
            ["exp", (o) => wasm.unary("exp", x, o), () => new Ctor(n)],
            ["add", (o) => wasm.binary("add", x, undefined, y, undefined, o, [n]), () => new Ctor(n)],
            ["mul by a scalar", (o) => wasm.binary("mul", x, undefined, s, undefined, o, [n]), () => new Ctor(n)],
            ["scalar minus", (o) => wasm.binary("sub", s, undefined, y, undefined, o, [n]), () => new Ctor(n)],
            ["gt", (o) => wasm.binary("gt", x, undefined, y, undefined, o, [n]), () => new Uint8Array(n)],
            ["le a scalar", (o) => wasm.binary("le", x, undefined, s, undefined, o, [n]), () => new Uint8Array(n)],
          ];
          for (const [name, f, make] of cases) {
            setNumThreads(1);
            const one = make();
            f(one);
            for (const t of [2, 3]) {
              setNumThreads(t);
              const many = make();
              f(many);
              expect(Buffer.from(many.buffer).equals(Buffer.from(one.buffer)), `${Ctor.name} ${name} n=${n} on ${t} threads`).toBe(true);
            }
          }
        }
      }
      expect(threadStats.calls - before).toBeGreaterThanOrEqual(2 * 3 * 8 * 2 - 8);
    } finally {
      wasmTuning.minThreadedElements = initialMin;
    }
  });

  it("a process that ran a threaded matmul exits on its own", () => {
    const dir = mkdtempSync(join(tmpdir(), "chainrule-threads-"));
    try {
      const script = join(dir, "big.mts");
      writeFileSync(script, [
        `import { getNumThreads, setNumThreads, rand, matmul } from ${JSON.stringify(pathToFileURL(join(root, "src", "node.ts")).href)};`,
        "setNumThreads(Math.max(2, getNumThreads()));",
        "const a = rand([512, 512]), b = rand([512, 512]);",
        "const c = matmul(a, b);",
        "console.log('done', getNumThreads(), c.shape.join('x'));",
      ].join("\n"));
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, CHAINRULE_BACKEND: "wasm" } });
      const elapsed = Date.now() - t0;
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toMatch(/^done \d+ 512x512$/);
      expect(r.status).toBe(0);
      // Start-up (tsx compiling the library) is most of it; a worker keeping the process alive would hit the 60 s timeout.
      expect(elapsed).toBeLessThan(30_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
