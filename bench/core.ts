/**
 * Core benchmark: chainrule (its JS and WebAssembly SIMD backends) against TensorFlow.js (cpu and
 * wasm backends) and jax-js (wasm device, jit) in the same process, and PyTorch on the CPU in a
 * python3 child process where one imports torch (matmul and training rows; 1 thread and all).
 *
 *   npm run bench                     # every row (about 2-3 minutes on 2 cores)
 *   npm run bench -- matmul           # rows whose id contains "matmul" (case-insensitive;
 *   npm run bench -- relu graph       #   several words select rows matching any of them)
 *
 * Row ids: matmul/128 … matmul/2048, matmul/512/threads … matmul/2048/threads (chainrule wasm
 * on all cores, setNumThreads), matmul/512/transA, matmul/512/transB, elementwise/relu,
 * elementwise/exp, elementwise/add, elementwise/mulRow, graph, train.
 *
 * Prints one markdown table on stdout (progress goes to stderr) and writes the same report,
 * with the CPU model, Node version and date, to bench/RESULTS.md (temp file + rename, so a
 * reader never sees a half-written file). A filtered run overwrites it too; the file says
 * which filter produced it.
 *
 * Method: for each row and library, one call is made first whose result is checked (against
 * chainrule's JS-backend result, or an exact reference where there is one), so a row never
 * compares two different computations; that call is also the first warm-up. Then `warmup` more
 * warm-up calls, then ≥ 5 timed calls (performance.now), and the median is reported. Every
 * library runs on one thread (but chainrule wasm in the matmul/…/threads rows): chainrule's JS backend (plain TypeScript) and wasm backend
 * (WebAssembly SIMD, chainrule's default), TF.js' cpu backend (plain JS) and TF.js' wasm backend
 * (XNNPACK, SIMD when the runtime has it; its multithreaded build is not used in Node), jax-js on its
 * wasm device with every function under jit. PyTorch runs the same data in Python, timed by the
 * same method (TORCH_SCRIPT), on 1 thread and on all of them.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import * as jax from "@jax-js/jax";
// A relative path, so the esbuild bundle includes these files (the packages stay external).
import "../node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js";
import * as cr from "../src/index.js";
import { enableNodeThreads } from "../src/backend/wasm/threads-node.js";

const require = createRequire(import.meta.url);
// chainrule's worker threads (what "chainrule/node" registers); every row runs on 1 thread but
// the "all threads" matmul rows, which set CORES around each call.
enableNodeThreads();
cr.setNumThreads(1);
const CORES = os.availableParallelism();
// Run from the repository root (npm run bench); the bundle lives in bench/.build/.
const here = path.resolve("bench");

// ------------------------------------------------------------------ harness

type Own = "chainrule-js" | "chainrule-wasm";
type Peer = "tfjs-cpu" | "tfjs-wasm" | "jax-js" | "torch-1" | "torch-all";
type Lib = Own | Peer;
const LABEL: Record<Lib, string> = {
  "chainrule-js": "chainrule js",
  "chainrule-wasm": "chainrule wasm",
  "tfjs-cpu": "TF.js cpu",
  "tfjs-wasm": "TF.js wasm",
  "jax-js": "jax-js wasm (jit)",
  "torch-1": "PyTorch 1 thread",
  "torch-all": "PyTorch all threads", // the thread count is filled in once PyTorch reports it
};
const isOwn = (lib: Lib): lib is Own => lib === "chainrule-js" || lib === "chainrule-wasm";
const isTf = (lib: Lib): boolean => lib === "tfjs-cpu" || lib === "tfjs-wasm";
const isTorch = (lib: Lib): lib is "torch-1" | "torch-all" => lib === "torch-1" || lib === "torch-all";

/** One library's version of a row. */
interface Case {
  /** The timed body. */
  run(): void;
  /** Computes the result once, for the correctness check. */
  output(): ArrayLike<number>;
  /** The exact expected result, when known; otherwise the others are compared to chainrule js's output. */
  expected?: ArrayLike<number>;
  /** Timed elsewhere (PyTorch, in its own process, by the same method): `run` is not called. */
  measured?: { medianMs: number; runs: number };
  dispose(): void;
}

interface Row {
  /** Short id the command-line filter matches, e.g. "matmul/512/transA". */
  id: string;
  name: string;
  unit: string;
  higherIsBetter: boolean;
  /** Converts a median time (ms per call) into the row's unit for `lib`. */
  toUnit(ms: number, lib: Lib): number;
  /**
   * Timed by the process's CPU time instead of wall time: for single-threaded work on a loaded
   * machine, where the wall clock also counts the time other processes had the core.
   */
  cpuTime?: boolean;
  /** Warm-up calls after the checked call and before timing (fewer where one call is long). */
  warmup: number;
  /** The row for PyTorch's script (see torchScript); rows without one have no PyTorch cells. */
  torch?: TorchJob;
  /** null: `lib` does not run this row (its cell shows –). */
  make(lib: Lib): Case | null;
}

interface Measured {
  value: number;
  medianMs: number;
  runs: number;
  /** Relative difference to the reference result (undefined: chainrule js with no exact reference). */
  relErr?: number;
  /** Set when this library failed on the row. */
  error?: string;
}

const MIN_RUNS = 5;
const MAX_RUNS = 25;
/** Short rows keep adding timed runs (up to MAX_RUNS) until these sum to this many ms. */
const TARGET_MS = 300;
/** Relative difference above which a result is treated as a different computation. */
const MAX_REL_ERR = 1e-3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The process's CPU time in ms (user + system, every thread: GC helpers included). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function time(fn: () => void, warmup: number, clock: () => number = () => performance.now()): { medianMs: number; runs: number } {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  let total = 0;
  while (times.length < MIN_RUNS || (total < TARGET_MS && times.length < MAX_RUNS)) {
    const t0 = clock();
    fn();
    const dt = clock() - t0;
    times.push(dt);
    total += dt;
  }
  return { medianMs: median(times), runs: times.length };
}

/** max |a − b| / max(1, max |a|): a scale-aware difference between two results. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) diff = d; // a NaN counts as the largest difference
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return diff / scale;
}

// ------------------------------------------------------------------ data and TF.js helpers

/** Deterministic float32 data shared by every library (an LCG, uniform in [lo, hi)). */
function randomData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return out;
}

const crTensor = (data: Float32Array, shape: number[], requiresGrad = false): cr.Tensor =>
  cr.tensor(data, { shape, dtype: "float32", requiresGrad });

/**
 * TF.js' gradient functions are in none of tfjs-core's bundles: the union package
 * @tensorflow/tfjs registers them by importing tfjs-core/dist/register_all_gradients, whose ES
 * modules use extensionless imports that Node's ESM loader rejects. The bench is therefore run
 * as an esbuild bundle (npm run bench), which resolves them; the import is at the top.
 */

/** A TF.js call whose every allocation is freed. */
const tfRun = (fn: () => void) => (): void => tf.tidy(fn);
/** A TF.js call's result(s), read back and concatenated, with everything freed. */
const tfOutput = (fn: () => tf.Tensor | tf.Tensor[]) => (): Float32Array =>
  tf.tidy(() => {
    const r = fn();
    const parts = (Array.isArray(r) ? r : [r]).map((t) => t.dataSync() as Float32Array);
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  });

// ------------------------------------------------------------------ PyTorch (a python3 child process)

/** What PyTorch's script computes for a row, with the same input data as the other libraries. */
type TorchJob =
  | { kind: "matmul"; n: number; transA: boolean; transB: boolean; a: Float32Array; b: Float32Array }
  | { kind: "train"; x: Float32Array; w1: Float32Array; w2: Float32Array };

/**
 * Times each job in PyTorch with the harness's method (one checked call, `warmup` more, then
 * ≥ 5 timed calls until they sum to TARGET_MS or MAX_RUNS, the median), first on 1 thread
 * (torch.set_num_threads(1)), then on all of them. Inputs and outputs are raw float32 files.
 */
const TORCH_SCRIPT = String.raw`
import json, re, statistics, sys, time
import torch
jobs = json.load(open(sys.argv[1]))
folder, all_threads = sys.argv[2], int(sys.argv[3])
MIN_RUNS, MAX_RUNS, TARGET_MS = ${MIN_RUNS}, ${MAX_RUNS}, ${TARGET_MS}
def load(name, shape):
    return torch.frombuffer(bytearray(open(folder + "/" + name, "rb").read()), dtype=torch.float32).reshape(shape)
def measure(fn, warmup):
    for _ in range(warmup): fn()
    times, total = [], 0.0
    while len(times) < MIN_RUNS or (total < TARGET_MS and len(times) < MAX_RUNS):
        t0 = time.perf_counter(); fn(); dt = (time.perf_counter() - t0) * 1000
        times.append(dt); total += dt
    return {"medianMs": statistics.median(times), "runs": len(times)}
results = {}
for job in jobs:
    if job["kind"] == "matmul":
        n = job["n"]
        a, b = load(job["id"] + ".a", (n, n)), load(job["id"] + ".b", (n, n))
        A, B = (a.t() if job["transA"] else a), (b.t() if job["transB"] else b)
        fn = lambda: torch.matmul(A, B)
        out = lambda: fn().flatten()
    else:
        x = load(job["id"] + ".x", (128, 784))
        w1 = load(job["id"] + ".w1", (784, 256)).requires_grad_()
        w2 = load(job["id"] + ".w2", (256, 10)).requires_grad_()
        def fn():
            w1.grad = None; w2.grad = None
            torch.log_softmax(torch.relu(x @ w1) @ w2, -1).mean().backward()
        def out():
            fn(); return torch.cat([w1.grad.flatten(), w2.grad.flatten()])
    torch.set_num_threads(1)
    with torch.no_grad() if job["kind"] == "matmul" else torch.enable_grad():
        open(folder + "/" + job["id"] + ".out", "wb").write(out().detach().numpy().tobytes())
        r = {"one": measure(fn, job["warmup"])}
        torch.set_num_threads(all_threads)
        r["all"] = measure(fn, job["warmup"])
    results[job["id"]] = r
blas = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
print(json.dumps({"version": torch.__version__, "threads": all_threads, "blas": blas.group(1) if blas else "", "results": results}))
`;

interface TorchRun {
  version: string;
  /** Its build's BLAS line from torch.__config__.show() (matmul speed depends on it). */
  blas: string;
  threads: number;
  results: Map<string, { one: { medianMs: number; runs: number }; all: { medianMs: number; runs: number }; out: Float32Array }>;
}
let torchRun: TorchRun | undefined;
let torchFailure: string | undefined;

/** The python3 that imports torch: \`python3\` on the PATH, else Debian's /usr/bin/python3. */
function findTorchPython(): string | undefined {
  for (const py of ["python3", "/usr/bin/python3"]) {
    const r = spawnSync(py, ["-c", "import torch"], { stdio: "ignore", timeout: 60_000 });
    if (r.status === 0) return py;
  }
  return undefined;
}

/** @jax-js/jax's version, from its package.json (not in its exports map, so read from node_modules). */
function jaxVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.resolve("node_modules/@jax-js/jax/package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "(version unknown)";
  }
}

/** Runs every selected row's PyTorch job in one child process. */
function runTorch(python: string, rows: Row[]): void {
  const folder = mkdtempSync(path.join(os.tmpdir(), "chainrule-bench-"));
  try {
    const jobs: object[] = [];
    for (const row of rows) {
      const job = row.torch;
      if (!job) continue;
      const id = row.id.replace(/\//g, "_");
      const files: Record<string, Float32Array> = job.kind === "matmul" ? { a: job.a, b: job.b } : { x: job.x, w1: job.w1, w2: job.w2 };
      for (const [k, data] of Object.entries(files)) writeFileSync(path.join(folder, `${id}.${k}`), data);
      jobs.push(job.kind === "matmul" ? { id, kind: "matmul", n: job.n, transA: job.transA, transB: job.transB, warmup: row.warmup } : { id, kind: "train", warmup: row.warmup });
    }
    if (jobs.length === 0) return;
    writeFileSync(path.join(folder, "jobs.json"), JSON.stringify(jobs));
    const threads = os.cpus().length;
    process.stderr.write(`PyTorch (${python}): ${jobs.length} rows...\n`);
    const r = spawnSync(python, ["-c", TORCH_SCRIPT, path.join(folder, "jobs.json"), folder, String(threads)], { encoding: "utf8", timeout: 180_000, maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      torchFailure = `PyTorch's script failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" ")}`;
      return;
    }
    const parsed = JSON.parse(r.stdout) as { version: string; threads: number; blas: string; results: Record<string, { one: { medianMs: number; runs: number }; all: { medianMs: number; runs: number } }> };
    const results: TorchRun["results"] = new Map();
    for (const row of rows) {
      const id = row.id.replace(/\//g, "_");
      const got = parsed.results[id];
      if (!row.torch || !got) continue;
      const bytes = readFileSync(path.join(folder, `${id}.out`));
      results.set(row.id, { ...got, out: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) });
    }
    torchRun = { version: parsed.version, threads: parsed.threads, blas: parsed.blas, results };
    LABEL["torch-all"] = `PyTorch ${parsed.threads} threads`;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** A PyTorch cell: timed already by runTorch; here only its result is checked. */
function torchCase(row: Row, lib: "torch-1" | "torch-all"): Case {
  const got = torchRun?.results.get(row.id);
  if (!got) throw new Error(torchFailure ?? "PyTorch did not run this row");
  const m = lib === "torch-1" ? got.one : got.all;
  return { run() {}, output: () => got.out, measured: m, dispose() {} };
}

// ------------------------------------------------------------------ rows

/**
 * matmul f32 [n,n]·[n,n]. `threads` "all": chainrule wasm on every core (setNumThreads(CORES)
 * around each call), checked bit for bit against its own 1-thread result, next to PyTorch on all
 * threads; the other peers run one thread only and have no cell there.
 */
function matmulRow(n: number, transA = false, transB = false, threads: "one" | "all" = "one"): Row {
  const flag = transA ? "transA" : transB ? "transB" : "";
  const all = threads === "all";
  return {
    id: `matmul/${n}${flag ? `/${flag}` : ""}${all ? "/threads" : ""}`,
    name: `matmul f32 n=${n}${flag ? `, ${flag}` : ""}${all ? `, all ${CORES} threads` : ""}`,
    unit: "GFLOP/s",
    higherIsBetter: true,
    toUnit: (ms) => (2 * n ** 3) / (ms * 1e6),
    warmup: n >= 1024 ? 0 : 1,
    torch: { kind: "matmul", n, transA, transB, a: randomData(n * n, 1 + n), b: randomData(n * n, 2 + n) },
    make(lib) {
      if (all && lib !== "chainrule-wasm" && lib !== "torch-all") return null;
      if (all && lib === "torch-all") return torchCase(this, lib);
      // The plain-JavaScript kernels take seconds per call at n = 2048.
      if (n > 1024 && (lib === "chainrule-js" || lib === "tfjs-cpu")) return null;
      const aData = randomData(n * n, 1 + n);
      const bData = randomData(n * n, 2 + n);
      if (isTorch(lib)) return torchCase(this, lib);
      if (lib === "jax-js") {
        const a = jax.numpy.array(aData).reshape([n, n]);
        const b = jax.numpy.array(bData).reshape([n, n]);
        const f = jax.jit((x: jax.Array, y: jax.Array) => jax.numpy.matmul(transA ? x.transpose() : x, transB ? y.transpose() : y));
        const go = (): ArrayLike<number> => f(a.ref, b.ref).dataSync();
        return { run: () => void go(), output: go, dispose: () => (a.dispose(), b.dispose(), f.dispose()) };
      }
      if (isOwn(lib)) {
        const a = crTensor(aData, [n, n]);
        const b = crTensor(bData, [n, n]);
        const go = () => cr.matmul(a, b, { transA, transB });
        if (!all) return { run: () => void go(), output: () => go().data, dispose() {} };
        const expected = go().data; // on 1 thread: the threaded result must equal it bit for bit
        const threaded = () => {
          cr.setNumThreads(CORES);
          try {
            return go();
          } finally {
            cr.setNumThreads(1);
          }
        };
        return { run: () => void threaded(), output: () => threaded().data, expected, dispose() {} };
      }
      const a = tf.tensor2d(aData, [n, n]);
      const b = tf.tensor2d(bData, [n, n]);
      const go = () => tf.matMul(a, b, transA, transB);
      return { run: tfRun(() => void go()), output: tfOutput(go), dispose: () => tf.dispose([a, b]) };
    },
  };
}

const ELEMS = 1 << 20;
function elementwiseRow(op: "relu" | "exp" | "add" | "mulRow"): Row {
  const label = op === "mulRow" ? "mul [1024,1024]·[1024] (broadcast row)" : op === "add" ? "add [1024,1024]+[1024,1024]" : `${op} [1024,1024]`;
  return {
    id: `elementwise/${op}`,
    name: `elementwise ${label}`,
    unit: "ns/elem",
    higherIsBetter: false,
    toUnit: (ms) => (ms * 1e6) / ELEMS,
    warmup: 2,
    make(lib) {
      if (!isOwn(lib) && !isTf(lib)) return null;
      const xData = randomData(ELEMS, 11, -2, 2);
      const yShape = op === "mulRow" ? [1024] : [1024, 1024];
      const yData = randomData(op === "mulRow" ? 1024 : ELEMS, 12);
      if (isOwn(lib)) {
        const x = crTensor(xData, [1024, 1024]);
        const y = crTensor(yData, yShape);
        const go = op === "relu" ? () => cr.relu(x) : op === "exp" ? () => cr.exp(x) : op === "add" ? () => cr.add(x, y) : () => cr.mul(x, y);
        return { run: () => void go(), output: () => go().data, dispose() {} };
      }
      const x = tf.tensor(xData, [1024, 1024]);
      const y = tf.tensor(yData, yShape);
      const go = op === "relu" ? () => tf.relu(x) : op === "exp" ? () => tf.exp(x) : op === "add" ? () => tf.add(x, y) : () => tf.mul(x, y);
      return { run: tfRun(() => void go()), output: tfOutput(go), dispose: () => tf.dispose([x, y]) };
    },
  };
}

/**
 * Graph overhead: forward + backward of a long chain of tiny ops, alternating y·m and y + a.
 * chainrule runs 100k ops. The TF.js peers run 10k: their 100k chain takes 4–15 s per call here
 * (≈ 40–140 µs/op), which would not fit the time budget; their per-op cost measured flat or
 * rising from 10k to 100k, so the ratio, per op, if anything flatters the peers.
 */
const CHAIN_OPS: Record<Lib, number> = { "chainrule-js": 100_000, "chainrule-wasm": 100_000, "tfjs-cpu": 10_000, "tfjs-wasm": 10_000, "jax-js": 0, "torch-1": 0, "torch-all": 0 };
const graphRow: Row = {
  id: "graph",
  name: `graph overhead: chain of ${CHAIN_OPS["chainrule-js"] / 1000}k ops (mul, add alternating) on [4] f32, fwd+bwd, per op, CPU time (TF.js: ${CHAIN_OPS["tfjs-cpu"] / 1000}k-op chain)`,
  unit: "µs/op",
  cpuTime: true,
  higherIsBetter: false,
  toUnit: (ms, lib) => (ms * 1e3) / CHAIN_OPS[lib],
  warmup: 1,
  make(lib) {
    if (!isOwn(lib) && !isTf(lib)) return null;
    const ops = CHAIN_OPS[lib];
    const xData = randomData(4, 21);
    // Multipliers near 1 keep the products finite; the gradient is exactly ∏ m (the adds drop out).
    const mData = randomData(4, 22, 0.99999, 1.00001);
    const aData = randomData(4, 23, -1e-3, 1e-3);
    const expected = Array.from(mData, (m) => m ** Math.ceil(ops / 2));
    if (isOwn(lib)) {
      const x = crTensor(xData, [4], true);
      const m = crTensor(mData, [4]);
      const a = crTensor(aData, [4]);
      const go = (): ArrayLike<number> => {
        x.zeroGrad();
        let y = x;
        for (let i = 0; i < ops; i++) y = (i & 1) === 0 ? y.mul(m) : y.add(a);
        y.sum().backward();
        return x.grad!.data;
      };
      return { run: () => void go(), output: go, expected, dispose() {} };
    }
    const x = tf.tensor1d(xData);
    const m = tf.tensor1d(mData);
    const a = tf.tensor1d(aData);
    const g = tf.grad((v: tf.Tensor) => {
      let y = v;
      for (let i = 0; i < ops; i++) y = (i & 1) === 0 ? tf.mul(y, m) : tf.add(y, a);
      return tf.sum(y);
    });
    return { run: tfRun(() => void g(x)), output: tfOutput(() => g(x)), expected, dispose: () => tf.dispose([x, m, a]) };
  },
};

/** One training step of a 784-256-10 MLP on a batch of 128: forward, loss, backward to W1 and W2. */
const trainRow: Row = {
  id: "train",
  name: "train step: x[128,784]·W1[784,256] → relu → ·W2[256,10] → logSoftmax → mean, fwd+bwd (grads of W1, W2)",
  unit: "ms/step",
  higherIsBetter: false,
  toUnit: (ms) => ms,
  warmup: 1,
  torch: { kind: "train", x: randomData(128 * 784, 31, 0, 1), w1: randomData(784 * 256, 32, -0.05, 0.05), w2: randomData(256 * 10, 33, -0.1, 0.1) },
  make(lib) {
    const xData = randomData(128 * 784, 31, 0, 1);
    const w1Data = randomData(784 * 256, 32, -0.05, 0.05);
    const w2Data = randomData(256 * 10, 33, -0.1, 0.1);
    if (isTorch(lib)) return torchCase(this, lib);
    if (lib === "jax-js") {
      const np = jax.numpy;
      const x = np.array(xData).reshape([128, 784]);
      const w1 = np.array(w1Data).reshape([784, 256]);
      const w2 = np.array(w2Data).reshape([256, 10]);
      type Params = { w1: jax.Array; w2: jax.Array };
      const loss = (p: Params, xb: jax.Array): jax.Array => jax.nn.logSoftmax(np.matmul(jax.nn.relu(np.matmul(xb, p.w1)), p.w2), -1).mean();
      const step = jax.jit(jax.grad(loss));
      const go = (): Float32Array => {
        const g = step({ w1: w1.ref, w2: w2.ref }, x.ref) as Params;
        const d1 = g.w1.dataSync();
        const d2 = g.w2.dataSync();
        const out = new Float32Array(d1.length + d2.length);
        out.set(d1);
        out.set(d2, d1.length);
        return out;
      };
      return { run: () => void go(), output: go, dispose: () => (x.dispose(), w1.dispose(), w2.dispose(), step.dispose()) };
    }
    if (isOwn(lib)) {
      const x = crTensor(xData, [128, 784]);
      const w1 = crTensor(w1Data, [784, 256], true);
      const w2 = crTensor(w2Data, [256, 10], true);
      const go = (): void => {
        w1.zeroGrad();
        w2.zeroGrad();
        cr.matmul(cr.matmul(x, w1).relu(), w2).logSoftmax(-1).mean().backward();
      };
      const output = (): Float32Array => {
        go();
        const out = new Float32Array(w1.size + w2.size);
        out.set(w1.grad!.data);
        out.set(w2.grad!.data, w1.size);
        return out;
      };
      return { run: go, output, dispose() {} };
    }
    const x = tf.tensor2d(xData, [128, 784]);
    const variable = (data: Float32Array, shape: [number, number]): tf.Variable => {
      const init = tf.tensor2d(data, shape);
      const v = tf.variable(init);
      init.dispose(); // the variable holds its own reference to the data
      return v;
    };
    const w1 = variable(w1Data, [784, 256]);
    const w2 = variable(w2Data, [256, 10]);
    const loss = () => tf.mean(tf.logSoftmax(tf.matMul(tf.relu(tf.matMul(x, w1)), w2), -1)) as tf.Scalar;
    const go = (): tf.Tensor[] => {
      const { grads } = tf.variableGrads(loss, [w1, w2]);
      return [grads[w1.name]!, grads[w2.name]!];
    };
    return { run: tfRun(() => void go()), output: tfOutput(go), dispose: () => tf.dispose([x, w1, w2]) };
  },
};

const ROWS: Row[] = [
  matmulRow(128),
  matmulRow(256),
  matmulRow(512),
  matmulRow(1024),
  matmulRow(2048),
  matmulRow(512, false, false, "all"),
  matmulRow(1024, false, false, "all"),
  matmulRow(2048, false, false, "all"),
  matmulRow(512, true, false),
  matmulRow(512, false, true),
  elementwiseRow("relu"),
  elementwiseRow("exp"),
  elementwiseRow("add"),
  elementwiseRow("mulRow"),
  graphRow,
  trainRow,
];

// ------------------------------------------------------------------ peers

/** Registers the TF.js backends; returns the peers that work and notes on them. */
async function initPeers(): Promise<{ peers: Peer[]; notes: string[]; python: string | undefined }> {
  tf.enableProdMode(); // only silences TF.js' console hints ("install tfjs-node")
  const peers: Peer[] = [];
  const notes: string[] = [];
  if (await tf.setBackend("cpu")) peers.push("tfjs-cpu");
  else notes.push("TF.js cpu backend failed to initialise; its column is left out.");
  try {
    // In Node the wasm binaries are read from disk: point the backend at the package's dist/ folder.
    const wasmDir = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep;
    setWasmPaths(wasmDir);
    if (await tf.setBackend("wasm")) {
      peers.push("tfjs-wasm");
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
      const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
      notes.push(`TF.js wasm: SIMD ${simd ? "on" : "off"}, multithreading ${threads ? "on" : "off (one thread)"}.`);
    } else {
      notes.push("TF.js wasm backend failed to initialise; its column is left out.");
    }
  } catch (e) {
    notes.push(`TF.js wasm backend unavailable (${e instanceof Error ? e.message : String(e)}); its column is left out.`);
  }
  try {
    // jax-js checks \`instanceof Float16Array\` when creating arrays; Node 20 has no Float16Array.
    (globalThis as { Float16Array?: unknown }).Float16Array ??= class Float16Array {};
    const devices = await jax.init("wasm"); // plain init() fails in Node (no navigator)
    if (devices.includes("wasm")) {
      jax.defaultDevice("wasm");
      peers.push("jax-js");
      notes.push(`jax-js ${jaxVersion()}: its wasm device, every function under \`jit\` (the training step as jit(grad(loss))); matmul and training rows only.`);
    } else notes.push("jax-js: its wasm device failed to initialise; its column is left out.");
  } catch (e) {
    notes.push(`jax-js unavailable (${e instanceof Error ? e.message : String(e)}); its column is left out.`);
  }
  const python = findTorchPython();
  if (python) peers.push("torch-1", "torch-all");
  else notes.push("PyTorch: no python3 here imports torch; its columns are left out.");
  return { peers, notes, python };
}

// ------------------------------------------------------------------ report

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => /^model name\s*:/.test(l));
    if (line) return line.replace(/^model name\s*:\s*/, "").trim();
  } catch {
    // not Linux: fall back to os.cpus()
  }
  return os.cpus()[0]?.model ?? "unknown CPU";
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

const mdCell = (s: string): string => s.replace(/\|/g, "\\|");
const agrees = (m: Measured): boolean => m.error === undefined && (m.relErr === undefined || m.relErr <= MAX_REL_ERR);

function cell(m: Measured | undefined): string {
  if (!m) return "–";
  if (m.error !== undefined) return "error";
  return fmt(m.value) + (agrees(m) ? "" : ` ⚠ wrong result (rel. diff ${m.relErr!.toExponential(1)})`);
}

/** `lib`'s cost relative to the best agreeing peer: above 1, chainrule is slower. */
function ratioCell(row: Row, got: Map<Lib, Measured>, lib: Own, peers: Peer[]): string {
  const mine = got.get(lib);
  if (!mine || !agrees(mine)) return "–";
  let best: { peer: Peer; value: number } | undefined;
  for (const p of peers) {
    const m = got.get(p);
    if (!m || !agrees(m)) continue;
    if (!best || (row.higherIsBetter ? m.value > best.value : m.value < best.value)) best = { peer: p, value: m.value };
  }
  if (!best) return "–";
  const ratio = row.higherIsBetter ? best.value / mine.value : mine.value / best.value;
  return `${ratio.toFixed(2)}× (${LABEL[best.peer]})`;
}

/** How many times faster chainrule's wasm backend is than its js backend on the row. */
function speedupCell(row: Row, got: Map<Lib, Measured>): string {
  const js = got.get("chainrule-js");
  const wasm = got.get("chainrule-wasm");
  if (!js || !wasm || !agrees(js) || !agrees(wasm)) return "–";
  return `${(row.higherIsBetter ? wasm.value / js.value : js.value / wasm.value).toFixed(1)}×`;
}

async function measureRow(row: Row, own: Own[], peers: Peer[], notes: string[]): Promise<Map<Lib, Measured>> {
  const got = new Map<Lib, Measured>();
  let reference: ArrayLike<number> | undefined;
  for (const lib of [...own, ...peers]) {
    if (isOwn(lib)) cr.setBackend(lib === "chainrule-wasm" ? "wasm" : "js");
    else if (isTf(lib)) await tf.setBackend(lib === "tfjs-cpu" ? "cpu" : "wasm");
    const tensorsBefore = tf.memory().numTensors;
    let c: Case | undefined;
    try {
      c = row.make(lib) ?? undefined;
      if (c === undefined) continue; // not run on this row
      const out = c.output(); // checked, and the first warm-up call
      let relErr: number | undefined;
      if (c.expected) relErr = relDiff(c.expected, out);
      else if (lib === "chainrule-js") reference = Float32Array.from(out);
      // With chainrule js failed there is nothing to compare to: the result is taken as agreeing.
      else relErr = reference ? relDiff(reference, out) : undefined;
      const t = c.measured ?? time(() => c!.run(), row.warmup, row.cpuTime ? cpuMs : undefined);
      const m: Measured = { value: row.toUnit(t.medianMs, lib), ...t, ...(relErr === undefined ? {} : { relErr }) };
      got.set(lib, m);
      const against = c.expected ? "the exact result" : "chainrule js";
      process.stderr.write(
        `${row.id} | ${lib}: ${fmt(m.value)} ${row.unit} (median of ${t.runs})` +
          (relErr === undefined ? "" : `, rel. diff to ${against} ${relErr.toExponential(1)}`) + "\n",
      );
      if (!agrees(m)) notes.push(`${row.id}: ${lib}'s result differs from ${against} (rel. diff ${relErr!.toExponential(1)}).`);
    } catch (e) {
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      got.set(lib, { value: NaN, medianMs: NaN, runs: 0, error: message });
      notes.push(`${row.id}: ${lib} failed: ${message}`);
      process.stderr.write(`${row.id} | ${lib}: FAILED: ${message}\n`);
    } finally {
      c?.dispose();
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked !== 0) notes.push(`${row.id}: ${lib} left ${leaked} TF.js tensors undisposed.`);
  }
  return got;
}

/**
 * Where an elementwise call's time goes besides the kernel, in ns/elem over 2^20 float32 values:
 * `copies`, copying them into WebAssembly memory and back out (two TypedArray.set calls, as each
 * elementwise call of chainrule wasm does); `freshOutput`, allocating a new output array and
 * writing it once (as every chainrule op does; the first touch of new pages dominates).
 */
function overheads(): { copies: number; freshOutput: number } {
  const n = ELEMS;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((2 * n * 4) / 65536) });
  const heap = new Float32Array(memory.buffer);
  const src = randomData(n, 41);
  const dst = new Float32Array(n);
  const copies = time(() => {
    heap.set(src, 0);
    dst.set(heap.subarray(n, 2 * n));
  }, 3);
  const fresh = time(() => new Float32Array(n).set(src), 3);
  return { copies: (copies.medianMs * 1e6) / n, freshOutput: (fresh.medianMs * 1e6) / n };
}

/** Writes next to the target, then renames over it: readers see the old file or the new one. */
function writeAtomically(target: string, text: string): void {
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, target);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw e;
  }
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2).map((f) => f.toLowerCase()).filter((f) => f.length > 0);
  const rows = filters.length ? ROWS.filter((r) => filters.some((f) => r.id.toLowerCase().includes(f))) : ROWS;
  if (rows.length === 0) {
    console.error(`No row id contains ${filters.map((f) => JSON.stringify(f)).join(" or ")}. Row ids:\n${ROWS.map((r) => `  ${r.id.padEnd(20)} ${r.name}`).join("\n")}`);
    process.exitCode = 1;
    return;
  }

  const started = performance.now();
  const loadAtStart = os.loadavg();
  const { peers: found, notes, python } = await initPeers();
  let peers = found;
  if (python) {
    runTorch(python, rows);
    if (torchRun) {
      notes.push(
        `PyTorch ${torchRun.version} on the CPU (${python}), in a child process: the same data, timed by the same method in Python (time.perf_counter); ` +
          `1 thread (torch.set_num_threads(1)) and ${torchRun.threads} threads. Matmul and training rows only.` +
          (torchRun.blas ? ` Its build's BLAS: ${torchRun.blas}` + (/mkl|openblas/i.test(torchRun.blas) ? "." : " (e.g. a distribution build with the reference BLAS, not OpenBLAS or MKL: its matmul is far from what a PyTorch wheel reaches).") : ""),
      );
    } else {
      notes.push(torchFailure ?? "PyTorch did not run.");
      peers = peers.filter((p) => !isTorch(p));
    }
  }
  const own: Own[] = cr.listBackends().includes("wasm") ? ["chainrule-js", "chainrule-wasm"] : ["chainrule-js"];
  if (own.length === 1) notes.unshift("chainrule's wasm backend is unavailable here (no WebAssembly SIMD); its column is left out.");
  const main: Own = own[own.length - 1]!; // the default backend: wasm where it exists
  const results: Map<Lib, Measured>[] = [];
  for (const row of rows) results.push(await measureRow(row, own, peers, notes));
  notes.push("TF.js gradients: tfjs-core's dist/register_all_gradients (what @tensorflow/tfjs registers).");
  if (own.length === 2) {
    const o = overheads();
    notes.push(
      `chainrule wasm keeps tensors in JavaScript typed arrays and copies each kernel's operands into WebAssembly memory and the result back out: ` +
        `for 2^20 float32 that costs ${fmt(o.copies)} ns/elem here (in + out). Every chainrule op also allocates a new output array: ` +
        `allocating and filling one of 2^20 float32 costs ${fmt(o.freshOutput)} ns/elem here (mostly the first touch of fresh pages). ` +
        `Both are inside chainrule's elementwise rows; TF.js wasm keeps its tensors in wasm memory and reuses freed blocks.`,
    );
  }

  const header = ["benchmark", ...own.map((o) => LABEL[o]), ...peers.map((p) => LABEL[p]), ...(own.length === 2 ? ["wasm speed-up over js"] : []), `${LABEL[main]} vs best peer`];
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`];
  rows.forEach((row, i) => {
    const got = results[i]!;
    const cells = [
      `${row.name} (${row.unit} ${row.higherIsBetter ? "↑" : "↓"})`,
      ...own.map((o) => cell(got.get(o))),
      ...peers.map((p) => cell(got.get(p))),
      ...(own.length === 2 ? [speedupCell(row, got)] : []),
      ratioCell(row, got, main, peers),
    ];
    lines.push(`| ${cells.map(mdCell).join(" | ")} |`);
  });

  const seconds = (performance.now() - started) / 1000;
  const report = [
    "# chainrule core benchmark",
    "",
    `- CPU: ${cpuModel()} (${os.cpus().length} logical cores; load average ${loadAtStart.map((l) => l.toFixed(2)).join(", ")} at the start, ${os.loadavg().map((l) => l.toFixed(2)).join(", ")} at the end: other work on the machine slows every column alike)`,
    `- Node ${process.version}, TF.js ${tf.version_core}, ${new Date().toISOString()}`,
    `- \`npm run bench${filters.length ? ` -- ${filters.join(" ")}` : ""}\`${filters.length ? " (filtered: only the matching rows)" : ""}, ${seconds.toFixed(0)} s`,
    "",
    ...lines,
    "",
    `Medians of ≥ ${MIN_RUNS} timed runs after warm-up (wall time; the graph row: the process's CPU time, GC threads included); chainrule, TF.js and jax-js in one process, on one thread; PyTorch in a child process, on 1 thread and on all. ↑ higher is better, ↓ lower is better.`,
    `${LABEL[main]} vs best peer = its cost ÷ the fastest agreeing peer's cost for the same work (time ÷ time; for GFLOP/s, peer GFLOP/s ÷ chainrule GFLOP/s):`,
    `above 1 chainrule is slower, below 1 it is faster. Results are checked first (against chainrule js, or an exact result); one differing by more than ${MAX_REL_ERR} (relative) is flagged and never used for a ratio.`,
    "",
    ...notes.map((n) => `- ${n}`),
    "",
  ].join("\n");

  process.stdout.write(report);
  const target = path.join(here, "RESULTS.md");
  writeAtomically(target, report);
  process.stderr.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}

// Report a failure as a message: the wasm backend installs an uncaughtException handler that
// rethrows, which would otherwise print a whole line of its minified source.
try {
  await main();
} catch (e) {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
}
