/**
 * Core benchmark: chainrule (its JS and WebAssembly SIMD backends, the latter on 1 thread and on
 * all cores) against TensorFlow.js (cpu and wasm backends) and jax-js (wasm device, jit) in the
 * same process, and PyTorch on the CPU in a python3 child process where one imports torch
 * (matmul and training rows; 1 thread and all). Then a 10,000-step training loop in a child
 * process, sampling its memory.
 *
 *   npm run bench                     # every row and the memory section (about 4 minutes on 2 cores)
 *   npm run bench -- matmul           # rows whose id contains "matmul" (case-insensitive;
 *   npm run bench -- relu graph       #   several words select rows matching any of them)
 *   npm run bench -- train            # the three training-step rows
 *   npm run bench -- memory           # only the memory section (see below)
 *
 *   npm run bench -- conv             # the convolution rows (conv/layer, conv/lenet/64, conv/cifar/64)
 *
 *   npm run bench -- webgpu           # instead of these rows, the GPU benchmark (bench/webgpu.ts): chainrule's
 *                                     #   webgpu backend vs TF.js' WebGPU backend and jax-js' webgpu device in
 *                                     #   Chromium; words after it filter its rows; writes bench/RESULTS-webgpu.md
 *
 * Row ids: matmul/128 … matmul/2048, matmul/512/transA, matmul/512/transB, elementwise/relu,
 * elementwise/exp, elementwise/add, elementwise/mulRow, graph, train/784-256-10/128,
 * train/784-256-10/512, train/3072-100-10/256, conv/layer, conv/lenet/64, conv/cifar/64; the
 * memory section's id is "memory".
 *
 * PyTorch: Debian's python3-torch with OpenBLAS behind its BLAS (`bench/setup.sh` installs
 * python3-torch and libopenblas0-pthread; without the latter, libblas.so.3 is the reference BLAS).
 *
 * Prints one markdown table on stdout (progress goes to stderr) and writes the same report,
 * with the CPU model, Node version and date, to bench/RESULTS.md (temp file + rename, so a
 * reader never sees a half-written file). A filtered run overwrites it too; the file says
 * which filter produced it.
 *
 * Method: for each row and library, one call is made first whose result is checked (against
 * chainrule's JS-backend result, or an exact reference where there is one), so a row never
 * compares two different computations; that call is also the first warm-up. Then `warmup` more
 * warm-up calls (none after a checked call of 250 ms or more), then ≥ 5 timed calls
 * (performance.now; short ones until they sum to 300 ms, at most 25), and the median. Every
 * library runs on one thread but two columns: "chainrule wasm, N threads" (setNumThreads(N),
 * N = os.availableParallelism(), for that column only; 1 again for every other one) and
 * PyTorch on all threads. chainrule's JS backend is plain TypeScript, its wasm backend
 * WebAssembly SIMD (chainrule's default); TF.js' cpu backend is plain JS, TF.js' wasm backend
 * XNNPACK (SIMD when the runtime has it; its multithreaded build is not used in Node); jax-js runs
 * on its wasm device with every function under jit. PyTorch runs the same data in Python, timed
 * by the same method (TORCH_SCRIPT), on 1 thread and on all of them.
 *
 * Memory: bench/train-memory.ts (a 784→256→10 MLP trained with SGD for 10,000 steps, the
 * ordinary API, nothing disposed, no tidy), bundled and run by plain node in a child process so
 * that the peers' memory does not show, never yielding to the event loop; where its memory grew,
 * again yielding after every step. `-- memory` alone runs both loops at once, side by side.
 *
 * Hygiene: before each case a full GC and two event-loop turns (settle), so no case pays for
 * the garbage of the ones before it; chainrule's timed calls run in tidy(), as TF.js' in tf.tidy.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { buildSync } from "esbuild";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import * as jax from "@jax-js/jax";
// A relative path, so the esbuild bundle includes these files (the packages stay external).
import "../node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js";
import { buildInfo } from "../src/backend/wasm/backend.js";
// The Node entry: worker threads on every core (its side effect, kept by package.json's sideEffects).
import * as cr from "../src/node.js";
import type { MemoryRun, MemorySample } from "./train-memory.js";
import { TRAIN_LR, concat, fromChannelsLast, median, oneHot, randomData, relDiff, toChannelsLast, trainSpec, type TrainSpec } from "./shared.js";
import { cpuModel, fmt } from "./shared-node.js";
import { writeFileAtomic } from "../src/io/node-fs.js";

const require = createRequire(import.meta.url);
const CORES = os.availableParallelism();
/** Whether chainrule's wasm matmul really runs on CORES threads here (worker threads work). */
cr.setNumThreads(CORES);
const THREADS_WORK = CORES > 1 && cr.getNumThreads() === CORES;
// Every row runs on 1 thread but the "chainrule wasm, N threads" column.
cr.setNumThreads(1);
// Run from the repository root (npm run bench); the bundle lives in bench/.build/.
const here = path.resolve("bench");
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

// ------------------------------------------------------------------ harness

type Own = "chainrule-js" | "chainrule-wasm" | "chainrule-threads";
type Peer = "tfjs-cpu" | "tfjs-wasm" | "jax-js" | "torch-1" | "torch-all";
type Lib = Own | Peer;
const LABEL: Record<Lib, string> = {
  "chainrule-js": "chainrule js",
  "chainrule-wasm": "chainrule wasm",
  "chainrule-threads": `chainrule wasm, ${CORES} threads`,
  "tfjs-cpu": "TF.js cpu",
  "tfjs-wasm": "TF.js wasm",
  "jax-js": "jax-js wasm (jit)",
  "torch-1": "PyTorch 1 thread",
  "torch-all": "PyTorch all threads", // the thread count is filled in once PyTorch reports it
};
const isOwn = (lib: Lib): lib is Own => lib === "chainrule-js" || lib === "chainrule-wasm" || lib === "chainrule-threads";
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
  /**
   * Warm-up calls after the checked call and before timing (fewer where one call is long; none
   * where the checked call took LONG_CALL_MS or more: it was warm-up enough).
   */
  warmup: number;
  /** Whether the "chainrule wasm, N threads" column applies (the row has kernels large enough to be split). */
  threads?: boolean;
  /**
   * The output is these consecutive parts (e.g. a loss and each parameter's update), each
   * compared on its own scale (max |reference| over the part) instead of max(1, max |reference|).
   */
  segments?: number[];
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

/** Seconds since the start, for the progress lines. */
const elapsed = (): string => `[${(performance.now() / 1000).toFixed(0).padStart(3)} s]`;

const MIN_RUNS = 5;
/** A checked call at least this long is the only warm-up (see Row.warmup). */
const LONG_CALL_MS = 250;
const MAX_RUNS = 25;
/** Short rows keep adding timed runs (up to MAX_RUNS) until these sum to this many ms. */
const TARGET_MS = 300;
/** Relative difference above which a result is treated as a different computation. */
const MAX_REL_ERR = 1e-3;


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

/**
 * Between two cases: a full GC and two turns of the event loop, so that a case does not pay
 * for the garbage of the ones before it, and chainrule's FinalizationRegistry hands the
 * blocks of their collected tensors back to its pool (its callbacks run between tasks).
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise(setImmediate);
  }
}

/**
 * A scale-aware difference between two results: max |a − b| / max(1, max |a|); with `segments`,
 * the largest over the parts of max |a − b| / max |a| (each part on its own scale).
 */

// ------------------------------------------------------------------ data and TF.js helpers


const crTensor = (data: Float32Array, shape: number[], requiresGrad = false): cr.Tensor =>
  cr.tensor(data, { shape, dtype: "float32", requiresGrad });

/**
 * TF.js' gradient functions are in none of tfjs-core's bundles: the union package
 * @tensorflow/tfjs registers them by importing tfjs-core/dist/register_all_gradients, whose ES
 * modules use extensionless imports that Node's ESM loader rejects. The bench is therefore run
 * as an esbuild bundle (npm run bench), which resolves them; the import is at the top.
 */

/**
 * A chainrule call inside tidy(), which hands every tensor it made back to chainrule's pool when
 * it returns: what chainrule's documentation prescribes for the body of a synchronous loop, as
 * TF.js' tidy below (without it, such a loop fills the wasm backend's budget for tensors made
 * outside tidy, and later tensors become plain JavaScript arrays: the memory section shows it).
 */
const crRun = (fn: () => unknown) => (): void => cr.tidy(() => void fn());
/** A TF.js call whose every allocation is freed. */
const tfRun = (fn: () => void) => (): void => tf.tidy(fn);
/** A TF.js call's result(s), read back and concatenated, with everything freed. */
const tfOutput = (fn: () => tf.Tensor | tf.Tensor[]) => (): Float32Array =>
  tf.tidy(() => {
    const r = fn();
    return concat((Array.isArray(r) ? r : [r]).map((t) => t.dataSync() as Float32Array));
  });

// ------------------------------------------------------------------ PyTorch (a python3 child process)

/** The training rows' model: sizes [in, hidden, out], batch, data, initial parameters, SGD's lr. */

/** What PyTorch's script computes for a row, with the same input data as the other libraries. */
type TorchJob =
  | { kind: "matmul"; n: number; transA: boolean; transB: boolean; a: Float32Array; b: Float32Array }
  | ({ kind: "train" } & TrainSpec)
  | ({ kind: "convlayer" } & ConvLayerSpec)
  | ({ kind: "convnet" } & ConvNetSpec);

/**
 * Times each job in PyTorch with the harness's method (one checked call, `warmup` more, then
 * ≥ MIN_RUNS timed calls until they sum to TARGET_MS or MAX_RUNS, the median), first on 1
 * thread (torch.set_num_threads(1)), then on all of them. Inputs and outputs are raw files
 * (float32; int32 labels). A training step is F.cross_entropy + backward + torch.optim.SGD's
 * step; its checked output is [loss, (θ before − θ after) / lr for W1, b1, W2, b2].
 */
const TORCH_SCRIPT = String.raw`
import json, re, statistics, sys, time
import torch
import torch.nn.functional as F
jobs = json.load(open(sys.argv[1]))
folder, all_threads = sys.argv[2], int(sys.argv[3])
MIN_RUNS, MAX_RUNS, TARGET_MS = ${MIN_RUNS}, ${MAX_RUNS}, ${TARGET_MS}
def load(name, shape, dtype=torch.float32):
    return torch.frombuffer(bytearray(open(folder + "/" + name, "rb").read()), dtype=dtype).reshape(shape)
def measure(fn, warmup):
    for _ in range(warmup): fn()
    times, total = [], 0.0
    while len(times) < MIN_RUNS or (total < TARGET_MS and len(times) < MAX_RUNS):
        t0 = time.perf_counter(); fn(); dt = (time.perf_counter() - t0) * 1000
        times.append(dt); total += dt
    return {"medianMs": statistics.median(times), "runs": len(times)}
results = {}
for job in jobs:
    name = lambda k: job["id"] + "." + k
    if job["kind"] == "matmul":
        n = job["n"]
        a, b = load(name("a"), (n, n)), load(name("b"), (n, n))
        A, B = (a.t() if job["transA"] else a), (b.t() if job["transB"] else b)
        fn = lambda: torch.matmul(A, B)
        out = lambda: fn().flatten()
    elif job["kind"] == "convlayer":
        n, c, o, hw = job["batch"], job["cin"], job["cout"], job["hw"]
        x = load(name("x"), (n, c, hw, hw)).requires_grad_()
        w = load(name("w"), (o, c, 3, 3)).requires_grad_()
        b = load(name("b"), (o,)).requires_grad_()
        gy = load(name("gy"), (n, o, hw, hw))
        def fn():
            x.grad = w.grad = b.grad = None
            y = F.conv2d(x, w, b, padding=1)
            y.backward(gy)
            return y
        def out():
            fn()
            return torch.cat([x.grad.flatten(), w.grad.flatten(), b.grad.flatten()])
    elif job["kind"] == "convnet":
        bs, cin, hw, (c1, c2, nh), lr = job["batch"], job["cin"], job["hw"], job["widths"], job["lr"]
        x = load(name("x"), (bs, cin, hw, hw))
        y = load(name("y"), (bs,), torch.int32).long()
        shapes = [(c1, cin, 3, 3), (c1,), (c2, c1, 3, 3), (c2,), (c2 * (hw // 4) ** 2, nh), (nh,), (nh, 10), (10,)]
        params = [load(name("p%d" % i), sh) for i, sh in enumerate(shapes)]
        for p in params: p.requires_grad_()
        w1, b1, w2, b2, w3, b3, w4, b4 = params
        opt = torch.optim.SGD(params, lr=lr)
        def fn():
            opt.zero_grad(set_to_none=True)
            h = F.max_pool2d(torch.relu(F.conv2d(x, w1, b1, padding=1)), 2)
            h = F.max_pool2d(torch.relu(F.conv2d(h, w2, b2, padding=1)), 2)
            loss = F.cross_entropy(torch.relu(h.flatten(1) @ w3 + b3) @ w4 + b4, y)
            loss.backward()
            opt.step()
            return loss
        def out():
            before = [p.detach().clone() for p in params]
            loss = fn().detach().reshape(1)
            return torch.cat([loss] + [((b - p.detach()) / lr).flatten() for p, b in zip(params, before)])
    else:
        (ni, nh, no), bs, lr = job["sizes"], job["batch"], job["lr"]
        x = load(name("x"), (bs, ni))
        y = load(name("y"), (bs,), torch.int32).long()
        params = [load(name("w1"), (ni, nh)), load(name("b1"), (nh,)), load(name("w2"), (nh, no)), load(name("b2"), (no,))]
        for p in params: p.requires_grad_()
        w1, b1, w2, b2 = params
        opt = torch.optim.SGD(params, lr=lr)
        def fn():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, y)
            loss.backward()
            opt.step()
            return loss
        def out():
            before = [p.detach().clone() for p in params]
            loss = fn().detach().reshape(1)
            return torch.cat([loss] + [((b - p.detach()) / lr).flatten() for p, b in zip(params, before)])
    torch.set_num_threads(1)
    with torch.no_grad() if job["kind"] == "matmul" else torch.enable_grad():
        open(folder + "/" + job["id"] + ".out", "wb").write(out().detach().numpy().tobytes())
        r = {"one": measure(fn, job["warmup"])}
        torch.set_num_threads(all_threads)
        r["all"] = measure(fn, job["warmup"])
    results[job["id"]] = r
blas = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
# Debian's build says BLAS_INFO=generic: it calls whatever libblas.so.3 the system provides
# (OpenBLAS once libopenblas0-pthread is installed). The library really loaded is in the maps.
try:
    loaded = sorted({l.split()[-1].split("/")[-1] for l in open("/proc/self/maps") if re.search(r"blas|mkl", l.split()[-1] if l.split() else "", re.I)})
except OSError:
    loaded = []
print(json.dumps({"version": torch.__version__, "threads": all_threads, "blas": (blas.group(1) if blas else "") + (" (loaded: " + ", ".join(loaded) + ")" if loaded else ""), "results": results}))
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
      const files: Record<string, Float32Array | Int32Array> =
        job.kind === "matmul" ? { a: job.a, b: job.b }
        : job.kind === "train" ? { x: job.x, y: job.y, w1: job.w1, b1: job.b1, w2: job.w2, b2: job.b2 }
        : job.kind === "convlayer" ? { x: job.x, w: job.w, b: job.b, gy: job.gy }
        : { x: job.x, y: job.y, ...Object.fromEntries(job.params.map((p, i) => [`p${i}`, p])) };
      for (const [k, data] of Object.entries(files)) writeFileSync(path.join(folder, `${id}.${k}`), data);
      const common = { id, warmup: row.warmup };
      jobs.push(
        job.kind === "matmul" ? { ...common, kind: "matmul", n: job.n, transA: job.transA, transB: job.transB }
        : job.kind === "train" ? { ...common, kind: "train", sizes: job.sizes, batch: job.batch, lr: job.lr }
        : job.kind === "convlayer" ? { ...common, kind: "convlayer", batch: job.batch, cin: job.cin, cout: job.cout, hw: job.hw }
        : { ...common, kind: "convnet", batch: job.batch, cin: job.cin, hw: job.hw, widths: job.widths, lr: job.lr },
      );
    }
    if (jobs.length === 0) return;
    writeFileSync(path.join(folder, "jobs.json"), JSON.stringify(jobs));
    process.stderr.write(`${elapsed()} PyTorch (${python}): ${jobs.length} rows...\n`);
    const r = spawnSync(python, ["-c", TORCH_SCRIPT, path.join(folder, "jobs.json"), folder, String(CORES)], { encoding: "utf8", timeout: 300_000, maxBuffer: 1 << 24 });
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
 * matmul f32 [n,n]·[n,n] (op(A)·op(B) with the transposes). The "chainrule wasm, N threads"
 * column runs the same product with setNumThreads(N); its result must equal the 1-thread one
 * bit for bit (checked in measureRow).
 */
function matmulRow(n: number, transA = false, transB = false): Row {
  const flag = transA ? "transA" : transB ? "transB" : "";
  return {
    id: `matmul/${n}${flag ? `/${flag}` : ""}`,
    name: `matmul f32 n=${n}${flag ? `, ${flag}` : ""}`,
    unit: "GFLOP/s",
    higherIsBetter: true,
    toUnit: (ms) => (2 * n ** 3) / (ms * 1e6),
    warmup: n >= 1024 ? 0 : 1,
    threads: true,
    torch: { kind: "matmul", n, transA, transB, a: randomData(n * n, 1 + n), b: randomData(n * n, 2 + n) },
    make(lib) {
      // The plain-JavaScript kernels take seconds per call at the largest sizes (TF.js cpu about
      // 5 s at n = 1024 and 40 s at 2048, chainrule js about 6 s at 2048), which the run's time
      // budget cannot hold: not run there. At n = 2048 chainrule wasm's result is the reference.
      // TF.js cpu is left out of the transposed rows too (0.4 GFLOP/s, about 0.7 s per call there).
      if ((lib === "tfjs-cpu" && (n >= 1024 || transA || transB)) || (lib === "chainrule-js" && n > 1024)) return null;
      if (isTorch(lib)) return torchCase(this, lib);
      const aData = randomData(n * n, 1 + n);
      const bData = randomData(n * n, 2 + n);
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
        return { run: crRun(go), output: () => Float32Array.from(go().data), dispose() {} };
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
    threads: true,
    make(lib) {
      if (!isOwn(lib) && !isTf(lib)) return null;
      const xData = randomData(ELEMS, 11, -2, 2);
      const yShape = op === "mulRow" ? [1024] : [1024, 1024];
      const yData = randomData(op === "mulRow" ? 1024 : ELEMS, 12);
      if (isOwn(lib)) {
        const x = crTensor(xData, [1024, 1024]);
        const y = crTensor(yData, yShape);
        const go = op === "relu" ? () => cr.relu(x) : op === "exp" ? () => cr.exp(x) : op === "add" ? () => cr.add(x, y) : () => cr.mul(x, y);
        return { run: crRun(go), output: () => Float32Array.from(go().data), dispose() {} };
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
const CHAIN_OPS: Record<Lib, number> = { "chainrule-js": 100_000, "chainrule-wasm": 100_000, "chainrule-threads": 0, "tfjs-cpu": 10_000, "tfjs-wasm": 10_000, "jax-js": 0, "torch-1": 0, "torch-all": 0 };
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
        return Float32Array.from(x.grad!.data);
      };
      return { run: crRun(go), output: go, expected, dispose() {} };
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

/** SGD's learning rate in the training rows (plain SGD: no momentum, no weight decay). */



/** The checked output of a training step: [loss, (θ before − θ after) / lr for W1, b1, W2, b2] (= the gradients). */
function stepOutput(loss: number, before: Float32Array[], after: ArrayLike<number>[], lr: number): Float32Array {
  const out = new Float32Array(1 + before.reduce((s, b) => s + b.length, 0));
  out[0] = loss;
  let o = 1;
  before.forEach((b, k) => {
    const a = after[k]!;
    for (let i = 0; i < b.length; i++) out[o + i] = (b[i]! - a[i]!) / lr;
    o += b.length;
  });
  return out;
}

/**
 * One training step of an MLP in → hidden (ReLU) → out: logits = relu(x·W1 + b1)·W2 + b2,
 * mean softmax cross-entropy against integer labels, backward to W1, b1, W2, b2, and a plain SGD
 * update of all four, in each library's own idiom: chainrule nn.functional.crossEntropy +
 * optim.SGD; TF.js optimizer.minimize with tf.losses.softmaxCrossEntropy (one-hot labels);
 * jax-js one jit(valueAndGrad + update) returning the new parameters; PyTorch F.cross_entropy +
 * torch.optim.SGD. Every call updates the parameters (the checked first call from the initial ones).
 */
function trainRow(batch: number, sizes: [number, number, number], seed: number): Row {
  const [ni, nh, no] = sizes;
  const spec = trainSpec(batch, sizes, seed);
  const before = [spec.w1, spec.b1, spec.w2, spec.b2];
  return {
    id: `train/${sizes.join("-")}/${batch}`,
    name: `train step ${ni}→${nh} ReLU→${no}${ni === 3072 ? " (CIFAR-shaped)" : ""}, softmax CE, SGD, batch ${batch}`,
    unit: "ms/step",
    higherIsBetter: false,
    toUnit: (ms) => ms,
    warmup: 1,
    threads: true,
    segments: [1, ...before.map((b) => b.length)],
    torch: { kind: "train", ...spec },
    make(lib) {
      if (isTorch(lib)) return torchCase(this, lib);
      if (lib === "jax-js") {
        const np = jax.numpy;
        type Params = { w1: jax.Array; b1: jax.Array; w2: jax.Array; b2: jax.Array };
        let p: Params = {
          w1: np.array(spec.w1).reshape([ni, nh]),
          b1: np.array(spec.b1),
          w2: np.array(spec.w2).reshape([nh, no]),
          b2: np.array(spec.b2),
        };
        const x = np.array(spec.x).reshape([batch, ni]);
        const y = np.array(oneHot(spec.y, no)).reshape([batch, no]);
        const loss = (q: Params, xb: jax.Array, yb: jax.Array): jax.Array =>
          np.sum(jax.nn.logSoftmax(np.matmul(jax.nn.relu(np.matmul(xb, q.w1).add(q.b1)), q.w2).add(q.b2), -1).mul(yb)).mul(-1 / batch);
        const step = jax.jit((q: Params, xb: jax.Array, yb: jax.Array) => {
          const [l, g] = jax.valueAndGrad(loss)(jax.tree.ref(q), xb, yb);
          const next = jax.tree.map((v: jax.Array, d: jax.Array) => v.sub(d.mul(spec.lr)), q, g as Params);
          return [l, next] as [jax.Array, Params];
        });
        // jax-js is lazy: reading every new parameter back makes the whole step run inside the timing.
        const go = (): [number, ArrayLike<number>[]] => {
          const [l, next] = step(p, x.ref, y.ref);
          p = next;
          // dataSync consumes its array (jax-js' move semantics): the parameters are read through .ref.
          const after = [p.w1.ref.dataSync(), p.b1.ref.dataSync(), p.w2.ref.dataSync(), p.b2.ref.dataSync()];
          return [l.dataSync()[0]!, after];
        };
        const output = (): Float32Array => {
          const [l, after] = go();
          return stepOutput(l, before, after, spec.lr);
        };
        return { run: () => void go(), output, dispose: () => (x.dispose(), y.dispose(), jax.tree.dispose(p), step.dispose()) };
      }
      if (isOwn(lib)) {
        const x = crTensor(spec.x, [batch, ni]);
        const y = cr.tensor(spec.y, { shape: [batch], dtype: "int32" });
        const params = [crTensor(spec.w1, [ni, nh], true), crTensor(spec.b1, [nh], true), crTensor(spec.w2, [nh, no], true), crTensor(spec.b2, [no], true)] as const;
        const [w1, b1, w2, b2] = params;
        const opt = new cr.optim.SGD([...params], { lr: spec.lr });
        const go = (): cr.Tensor => {
          opt.zeroGrad();
          const loss = cr.nn.functional.crossEntropy(x.matmul(w1).add(b1).relu().matmul(w2).add(b2), y);
          loss.backward();
          opt.step();
          return loss;
        };
        const output = (): Float32Array => {
          const loss = go().item();
          return stepOutput(loss, before, params.map((t) => t.data), spec.lr);
        };
        return { run: crRun(go), output, dispose() {} };
      }
      const x = tf.tensor2d(spec.x, [batch, ni]);
      const y = tf.tensor2d(oneHot(spec.y, no), [batch, no]);
      const variable = (data: Float32Array, shape: number[]): tf.Variable => {
        const init = tf.tensor(data, shape);
        const v = tf.variable(init);
        init.dispose(); // the variable holds its own copy of the data
        return v;
      };
      const vars = [variable(spec.w1, [ni, nh]), variable(spec.b1, [nh]), variable(spec.w2, [nh, no]), variable(spec.b2, [no])];
      const [w1, b1, w2, b2] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const opt = tf.train.sgd(spec.lr);
      const loss = (): tf.Scalar => tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2));
      const output = (): Float32Array =>
        tf.tidy(() => {
          const l = opt.minimize(loss, true, vars)!;
          return stepOutput(l.dataSync()[0]!, before, vars.map((v) => v.dataSync()), spec.lr);
        });
      return { run: tfRun(() => void opt.minimize(loss, false, vars)), output, dispose: () => (tf.dispose([x, y, ...vars]), opt.dispose()) };
    },
  };
}

// ------------------------------------------------------------------ convolution rows

/** conv/layer: x [batch, cin, hw, hw], weight [cout, cin, 3, 3], bias [cout], the upstream gradient gy [batch, cout, hw, hw]. */
interface ConvLayerSpec {
  batch: number;
  cin: number;
  cout: number;
  hw: number;
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
  gy: Float32Array;
}

/**
 * The convnet rows' model: x [batch, cin, hw, hw] → conv cin→c1 3×3 pad 1 → ReLU → max pool 2 →
 * conv c1→c2 3×3 pad 1 → ReLU → max pool 2 → flatten (c2·(hw/4)²) → linear nh → ReLU → linear 10,
 * softmax cross-entropy, plain SGD. params: w1 [c1, cin, 3, 3], b1, w2 [c2, c1, 3, 3], b2,
 * w3 [c2·(hw/4)², nh], b3, w4 [nh, 10], b4 (PyTorch's layouts; linear weights stored [in, out]).
 */
interface ConvNetSpec {
  batch: number;
  cin: number;
  hw: number;
  widths: [number, number, number];
  lr: number;
  x: Float32Array;
  y: Int32Array;
  params: Float32Array[];
}

/** SGD's learning rate in the convnet rows. */
const CONV_LR = 0.01;

/** The convnet's parameter shapes (PyTorch's layouts). */
function convNetShapes(spec: Pick<ConvNetSpec, "cin" | "hw" | "widths">): number[][] {
  const [c1, c2, nh] = spec.widths;
  const flat = c2 * (spec.hw / 4) ** 2;
  return [[c1, spec.cin, 3, 3], [c1], [c2, c1, 3, 3], [c2], [flat, nh], [nh], [nh, 10], [10]];
}

function convNetSpec(batch: number, cin: number, hw: number, widths: [number, number, number], seed: number): ConvNetSpec {
  const y = new Int32Array(batch);
  const u = randomData(batch, seed, 0, 10);
  for (let i = 0; i < batch; i++) y[i] = Math.min(9, Math.floor(u[i]!));
  // PyTorch's default init bounds: U(±1/√fan_in) for weights and biases alike.
  const shapes = convNetShapes({ cin, hw, widths });
  const fanIn = [cin * 9, cin * 9, widths[0] * 9, widths[0] * 9, shapes[4]![0]!, shapes[4]![0]!, widths[2], widths[2]];
  const params = shapes.map((sh, i) => {
    const k = 1 / Math.sqrt(fanIn[i]!);
    return randomData(sh.reduce((a, b) => a * b, 1), seed + 1 + i, -k, k);
  });
  return { batch, cin, hw, widths, lr: CONV_LR, x: randomData(batch * cin * hw * hw, seed + 20, 0, 1), y, params };
}


/**
 * TF.js' 3×3, stride 1, pad 1 convolution (NHWC, HWIO). On its wasm backend (tfjs-backend-wasm
 * 4.22 has Conv2D and Conv2DBackpropInput but no Conv2DBackpropFilter kernel, so tf.grad of a
 * conv2d throws there) the weight gradient is computed with its own Conv2D (XNNPACK) on
 * transposed operands, dW[a, b, c, o] = Σ_{n,i,j} x[n, i+a−1, j+b−1, c]·dy[n, i, j, o] =
 * conv2d(xᵀ [C, H, W, N], dyᵀ [H, W, N, O]) with pad 1, in a tf.customGrad; the input gradient is
 * tf.conv2dTranspose (its Conv2DBackpropInput). On the cpu backend: tf.conv2d and its own gradients.
 */
function tfConv3x3(wasmBackend: boolean): (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D {
  if (!wasmBackend) return (x, w) => tf.conv2d(x, w, 1, "same");
  return tf.customGrad((x, w, save) => {
    (save as tf.GradSaveFunc)([x as tf.Tensor4D, w as tf.Tensor4D]);
    return {
      value: tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same"),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dx = tf.conv2dTranspose(dy as tf.Tensor4D, ws, xs.shape, 1, "same");
        const xt = tf.transpose(xs, [3, 1, 2, 0]) as tf.Tensor4D;
        const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
        const dwt = tf.conv2d(xt, dyt, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]);
        return [dx, tf.transpose(dwt, [1, 2, 0, 3])];
      },
    };
  }) as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;
}

/**
 * One conv layer forward and backward: y = conv2d(x, W, b) (3×3, pad 1), then the input,
 * weight and bias gradients for a given upstream gradient gy (y.backward(gy); TF.js tf.grads
 * with dy; jax-js one jit of grad(Σ y·gy), in which the product with gy fuses). Checked: dx, dW, db.
 */
function convLayerRow(batch: number, cin: number, cout: number, hw: number, seed: number): Row {
  const k = 1 / Math.sqrt(cin * 9);
  const spec: ConvLayerSpec = {
    batch, cin, cout, hw,
    x: randomData(batch * cin * hw * hw, seed, -1, 1),
    w: randomData(cout * cin * 9, seed + 1, -k, k),
    b: randomData(cout, seed + 2, -k, k),
    gy: randomData(batch * cout * hw * hw, seed + 3, -1, 1),
  };
  const xShape = [batch, cin, hw, hw], wShape = [cout, cin, 3, 3], yShape = [batch, cout, hw, hw];
  return {
    id: "conv/layer",
    name: `conv layer fwd+bwd (dx, dW, db) f32 [${xShape.join(",")}] → ${cout} channels, 3×3, pad 1`,
    unit: "ms",
    higherIsBetter: false,
    toUnit: (ms) => ms,
    warmup: 1,
    threads: true,
    segments: [spec.x.length, spec.w.length, cout],
    torch: { kind: "convlayer", ...spec },
    make(lib) {
      if (lib === "tfjs-cpu") return null;
      if (isTorch(lib)) return torchCase(this, lib);
      if (lib === "jax-js") {
        const np = jax.numpy;
        type P = { x: jax.Array; w: jax.Array; b: jax.Array };
        const p: P = { x: np.array(spec.x).reshape(xShape), w: np.array(spec.w).reshape(wShape), b: np.array(spec.b) };
        const gy = np.array(spec.gy).reshape(yShape);
        const f = (q: P, g: jax.Array): jax.Array => np.sum(jax.lax.conv(q.x, q.w, [1, 1], [[1, 1], [1, 1]]).add(q.b.reshape([1, cout, 1, 1])).mul(g));
        const step = jax.jit((q: P, g: jax.Array) => jax.grad(f)(q, g) as P);
        const go = (): ArrayLike<number>[] => {
          const d = step(jax.tree.ref(p), gy.ref);
          return [d.x.dataSync(), d.w.dataSync(), d.b.dataSync()];
        };
        const output = (): Float32Array => concat(go());
        return { run: () => void go(), output, dispose: () => (jax.tree.dispose(p), gy.dispose(), step.dispose()) };
      }
      if (isOwn(lib)) {
        const x = crTensor(spec.x, xShape, true);
        const w = crTensor(spec.w, wShape, true);
        const b = crTensor(spec.b, [cout], true);
        const gy = crTensor(spec.gy, yShape);
        const go = (): void => {
          x.zeroGrad();
          w.zeroGrad();
          b.zeroGrad();
          cr.conv2d(x, w, b, { padding: 1 }).backward(gy);
        };
        const output = (): Float32Array => {
          go();
          return concat([x.grad!.data, w.grad!.data, b.grad!.data]);
        };
        return { run: crRun(go), output, dispose() {} };
      }
      const conv = tfConv3x3(lib === "tfjs-wasm");
      const x = tf.tensor4d(toChannelsLast(spec.x, xShape, false), [batch, hw, hw, cin]);
      const w = tf.tensor4d(toChannelsLast(spec.w, wShape, true), [3, 3, cin, cout]);
      const b = tf.tensor1d(spec.b);
      const gy = tf.tensor4d(toChannelsLast(spec.gy, yShape, false), [batch, hw, hw, cout]);
      const grads = tf.grads((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => tf.add(conv(xi as tf.Tensor4D, wi as tf.Tensor4D), bi));
      const output = (): Float32Array =>
        tf.tidy(() => {
          const [dx, dw, db] = grads([x, w, b], gy);
          return concat([fromChannelsLast(dx!.dataSync(), xShape, false), fromChannelsLast(dw!.dataSync(), wShape, true), db!.dataSync()]);
        });
      return { run: tfRun(() => void grads([x, w, b], gy)), output, dispose: () => tf.dispose([x, w, b, gy]) };
    },
  };
}


/**
 * One training step of the two-conv-layer convnet (ConvNetSpec) on a batch, in each library's
 * own idiom, as the MLP training rows: chainrule conv2d, maxPool2d, relu, matmul,
 * nn.functional.crossEntropy and optim.SGD; TF.js optimizer.minimize (NHWC; the pooled features
 * transposed to NCHW before the flatten, so that W3's rows mean the same as elsewhere);
 * jax-js one jit(valueAndGrad + update) with lax.conv and a reshape-max pool; PyTorch F.conv2d,
 * F.max_pool2d, F.cross_entropy and torch.optim.SGD. Checked: the loss and each parameter's
 * (before − after) / lr.
 */
function convNetRow(id: string, label: string, batch: number, cin: number, hw: number, widths: [number, number, number], seed: number): Row {
  const spec = convNetSpec(batch, cin, hw, widths, seed);
  const shapes = convNetShapes(spec);
  const [c1, c2, nh] = widths;
  const flat = c2 * (hw / 4) ** 2;
  return {
    id,
    name: `${label} train step: [${batch},${cin},${hw},${hw}] conv ${cin}→${c1} ReLU pool, conv ${c1}→${c2} ReLU pool, linear ${flat}→${nh} ReLU→10, softmax CE, SGD`,
    unit: "ms/step",
    higherIsBetter: false,
    toUnit: (ms) => ms,
    warmup: 1,
    threads: true,
    segments: [1, ...spec.params.map((p) => p.length)],
    torch: { kind: "convnet", ...spec },
    make(lib) {
      if (lib === "tfjs-cpu" || (lib === "chainrule-js" && cin > 1)) return null;
      if (isTorch(lib)) return torchCase(this, lib);
      if (lib === "jax-js") {
        const np = jax.numpy;
        let p = spec.params.map((d, i) => np.array(d).reshape(shapes[i]!));
        const x = np.array(spec.x).reshape([batch, cin, hw, hw]);
        const y = np.array(oneHot(spec.y, 10)).reshape([batch, 10]);
        const pool = (h: jax.Array, c: number, s: number): jax.Array => h.reshape([batch, c, s / 2, 2, s / 2, 2]).max([3, 5]);
        const loss = (q: jax.Array[], xb: jax.Array, yb: jax.Array): jax.Array => {
          const pad: [number, number][] = [[1, 1], [1, 1]];
          let h = pool(jax.nn.relu(jax.lax.conv(xb, q[0]!, [1, 1], pad).add(q[1]!.reshape([1, c1, 1, 1]))), c1, hw);
          h = pool(jax.nn.relu(jax.lax.conv(h, q[2]!, [1, 1], pad).add(q[3]!.reshape([1, c2, 1, 1]))), c2, hw / 2);
          const logits = np.matmul(jax.nn.relu(np.matmul(h.reshape([batch, flat]), q[4]!).add(q[5]!)), q[6]!).add(q[7]!);
          return np.sum(jax.nn.logSoftmax(logits, -1).mul(yb)).mul(-1 / batch);
        };
        const step = jax.jit((q: jax.Array[], xb: jax.Array, yb: jax.Array) => {
          const [l, g] = jax.valueAndGrad(loss)(jax.tree.ref(q), xb, yb);
          const next = jax.tree.map((v: jax.Array, d: jax.Array) => v.sub(d.mul(spec.lr)), q, g as jax.Array[]);
          return [l, next] as [jax.Array, jax.Array[]];
        });
        const go = (): [number, ArrayLike<number>[]] => {
          const [l, next] = step(p, x.ref, y.ref);
          p = next;
          const after = p.map((t) => t.ref.dataSync());
          return [l.dataSync()[0]!, after];
        };
        const output = (): Float32Array => {
          const [l, after] = go();
          return stepOutput(l, spec.params, after, spec.lr);
        };
        return { run: () => void go(), output, dispose: () => (x.dispose(), y.dispose(), jax.tree.dispose(p), step.dispose()) };
      }
      if (isOwn(lib)) {
        const x = crTensor(spec.x, [batch, cin, hw, hw]);
        const y = cr.tensor(spec.y, { shape: [batch], dtype: "int32" });
        const params = spec.params.map((d, i) => crTensor(d, shapes[i]!, true));
        const [w1, b1, w2, b2, w3, b3, w4, b4] = params as [cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor];
        const opt = new cr.optim.SGD(params, { lr: spec.lr });
        const go = (): cr.Tensor => {
          opt.zeroGrad();
          let h = cr.maxPool2d(cr.conv2d(x, w1, b1, { padding: 1 }).relu(), { kernelSize: 2 });
          h = cr.maxPool2d(cr.conv2d(h, w2, b2, { padding: 1 }).relu(), { kernelSize: 2 });
          const logits = h.reshape([batch, flat]).matmul(w3).add(b3).relu().matmul(w4).add(b4);
          const loss = cr.nn.functional.crossEntropy(logits, y);
          loss.backward();
          opt.step();
          return loss;
        };
        const output = (): Float32Array => {
          const loss = go().item();
          return stepOutput(loss, spec.params, params.map((t) => t.data), spec.lr);
        };
        return { run: crRun(go), output, dispose() {} };
      }
      const conv = tfConv3x3(lib === "tfjs-wasm");
      const x = tf.tensor4d(toChannelsLast(spec.x, [batch, cin, hw, hw], false), [batch, hw, hw, cin]);
      const y = tf.tensor2d(oneHot(spec.y, 10), [batch, 10]);
      const variable = (data: Float32Array, shape: number[]): tf.Variable => {
        const init = tf.tensor(data, shape);
        const v = tf.variable(init);
        init.dispose();
        return v;
      };
      const conv1 = toChannelsLast(spec.params[0]!, shapes[0]!, true), conv2 = toChannelsLast(spec.params[2]!, shapes[2]!, true);
      const vars = [
        variable(conv1, [3, 3, cin, c1]), variable(spec.params[1]!, [c1]),
        variable(conv2, [3, 3, c1, c2]), variable(spec.params[3]!, [c2]),
        variable(spec.params[4]!, [flat, nh]), variable(spec.params[5]!, [nh]),
        variable(spec.params[6]!, [nh, 10]), variable(spec.params[7]!, [10]),
      ];
      const [w1, b1, w2, b2, w3, b3, w4, b4] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const opt = tf.train.sgd(spec.lr);
      const loss = (): tf.Scalar => {
        let h = tf.maxPool(tf.relu(tf.add(conv(x, w1 as tf.Tensor4D), b1)) as tf.Tensor4D, 2, 2, "valid");
        h = tf.maxPool(tf.relu(tf.add(conv(h, w2 as tf.Tensor4D), b2)) as tf.Tensor4D, 2, 2, "valid");
        const features = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batch, flat]);
        return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(features, w3), b3)), w4), b4));
      };
      const output = (): Float32Array =>
        tf.tidy(() => {
          const l = opt.minimize(loss, true, vars)!;
          const after = vars.map((v, i) => (i === 0 || i === 2 ? fromChannelsLast(v.dataSync(), shapes[i]!, true) : v.dataSync()));
          return stepOutput(l.dataSync()[0]!, spec.params, after, spec.lr);
        });
      return { run: tfRun(() => void opt.minimize(loss, false, vars)), output, dispose: () => (tf.dispose([x, y, ...vars]), opt.dispose()) };
    },
  };
}

const ROWS: Row[] = [
  matmulRow(128),
  matmulRow(256),
  matmulRow(512),
  matmulRow(1024),
  matmulRow(2048),
  matmulRow(512, true, false),
  matmulRow(512, false, true),
  elementwiseRow("relu"),
  elementwiseRow("exp"),
  elementwiseRow("add"),
  elementwiseRow("mulRow"),
  graphRow,
  trainRow(128, [784, 256, 10], 31),
  trainRow(512, [784, 256, 10], 41),
  trainRow(256, [3072, 100, 10], 51),
  convLayerRow(32, 16, 32, 32, 61),
  convNetRow("conv/lenet/64", "LeNet-style (MNIST-shaped)", 64, 1, 28, [16, 32, 128], 71),
  convNetRow("conv/cifar/64", "CIFAR-10 convnet", 64, 3, 32, [32, 64, 256], 81),
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
      notes.push(`jax-js ${jaxVersion()}: its wasm device, every function under \`jit\` (the training step as one jit of valueAndGrad and the SGD update); matmul and training rows only.`);
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

/** How many times faster `fast` is than `slow` on the row (chainrule wasm over js; N threads over 1). */
function speedupCell(row: Row, got: Map<Lib, Measured>, slow: Own, fast: Own): string {
  const s = got.get(slow);
  const f = got.get(fast);
  if (!s || !f || !agrees(s) || !agrees(f)) return "–";
  return `${(row.higherIsBetter ? f.value / s.value : s.value / f.value).toFixed(fast === "chainrule-threads" ? 2 : 1)}×`;
}

async function measureRow(row: Row, own: Own[], peers: Peer[], notes: string[]): Promise<Map<Lib, Measured>> {
  const got = new Map<Lib, Measured>();
  /** chainrule js's result, or chainrule wasm's where chainrule js does not run the row. */
  let reference: { data: ArrayLike<number>; label: string } | undefined;
  let oneThread: ArrayLike<number> | undefined;
  for (const lib of [...own, ...peers]) {
    if (lib === "chainrule-threads" && !row.threads) continue;
    if (isOwn(lib)) cr.setBackend(lib === "chainrule-js" ? "js" : "wasm");
    else if (isTf(lib)) await tf.setBackend(lib === "tfjs-cpu" ? "cpu" : "wasm");
    // The N-threads column runs with setNumThreads(N) from its set-up to its last timed call.
    cr.setNumThreads(lib === "chainrule-threads" ? CORES : 1);
    await settle();
    const tensorsBefore = tf.memory().numTensors;
    let c: Case | undefined;
    try {
      c = row.make(lib) ?? undefined;
      if (c === undefined) continue; // not run on this row
      const t0 = performance.now();
      const out = c.output(); // checked, and the first warm-up call
      const warmup = performance.now() - t0 >= LONG_CALL_MS ? 0 : row.warmup;
      let relErr: number | undefined;
      if (c.expected) relErr = relDiff(c.expected, out, row.segments);
      else if (!reference && (lib === "chainrule-js" || lib === "chainrule-wasm")) reference = { data: Float32Array.from(out), label: LABEL[lib] };
      // With chainrule failed there is nothing to compare to: the result is taken as agreeing.
      else relErr = reference ? relDiff(reference.data, out, row.segments) : undefined;
      if (lib === "chainrule-wasm") oneThread = Float32Array.from(out);
      if (lib === "chainrule-threads" && oneThread && relDiff(oneThread, out) !== 0) {
        notes.push(`${row.id}: chainrule wasm on ${CORES} threads did not give its 1-thread result bit for bit (rel. diff ${relDiff(oneThread, out, row.segments).toExponential(1)}).`);
      }
      const t = c.measured ?? time(() => c!.run(), warmup, row.cpuTime ? cpuMs : undefined);
      const m: Measured = { value: row.toUnit(t.medianMs, lib), ...t, ...(relErr === undefined ? {} : { relErr }) };
      got.set(lib, m);
      const against = c.expected ? "the exact result" : (reference?.label ?? "no reference");
      process.stderr.write(
        `${elapsed()} ${row.id} | ${lib}: ${fmt(m.value)} ${row.unit} (median of ${t.runs})` +
          (relErr === undefined ? "" : `, rel. diff to ${against} ${relErr.toExponential(1)}`) + "\n",
      );
      if (!agrees(m)) notes.push(`${row.id}: ${lib}'s result differs from ${against} (rel. diff ${relErr!.toExponential(1)}).`);
    } catch (e) {
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      got.set(lib, { value: NaN, medianMs: NaN, runs: 0, error: message });
      notes.push(`${row.id}: ${lib} failed: ${message}`);
      process.stderr.write(`${elapsed()} ${row.id} | ${lib}: FAILED: ${message}\n`);
    } finally {
      c?.dispose();
      cr.setNumThreads(1);
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked !== 0) notes.push(`${row.id}: ${lib} left ${leaked} TF.js tensors undisposed.`);
  }
  return got;
}

// ------------------------------------------------------------------ memory (child processes)

const MEMORY_STEPS = 10_000;
/**
 * A byte column is called flat when its max over the second half of the run exceeds its max
 * over steps 1000–5000 by at most this factor, or by at most FLAT_SLACK bytes (the garbage
 * collector's sawtooth in arrayBuffers spans tens of MB from one sample to the next).
 */
const FLAT_GROWTH = 1.2;
const FLAT_SLACK = 16 * 2 ** 20;

/** Bundles bench/train-memory.ts as `npm run bench` bundles this file. */
function buildMemoryScript(): string {
  const outfile = path.join(here, ".build", "train-memory.mjs");
  buildSync({
    entryPoints: [path.join(here, "train-memory.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile,
    packages: "external",
    logLevel: "error",
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; globalThis.require ??= __createRequire(import.meta.url);" },
  });
  return outfile;
}

/** Runs the loop in a fresh node process (nothing else loaded there) and reads its samples. */
function runMemory(script: string, yieldEach: boolean, tidy: boolean): Promise<MemoryRun> {
  const what = `${tidy ? "each step in tidy()" : "no tidy"}, ${yieldEach ? "yielding after every step" : "never yielding"}`;
  process.stderr.write(`${elapsed()} memory: ${MEMORY_STEPS} training steps in a child process, ${what}...\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, String(MEMORY_STEPS), "--json", ...(yieldEach ? ["--yield"] : []), ...(tidy ? ["--tidy"] : [])], { stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        reject(new Error(`the training loop (${what}) failed (${signal ?? `exit ${code}`}): ${stderr.trim().split("\n").slice(-3).join(" ")}`));
        return;
      }
      try {
        const run = JSON.parse(stdout.trim().split("\n").at(-1)!) as MemoryRun;
        process.stderr.write(`${elapsed()} memory: ${what}: done in ${run.seconds.toFixed(1)} s (${((run.seconds * 1000) / run.steps).toFixed(2)} ms/step)\n`);
        resolve(run);
      } catch (e) {
        reject(e);
      }
    });
  });
}

interface MemoryColumn {
  name: string;
  /** Bytes, shown in MB; otherwise a count, shown as returned. */
  bytes: boolean;
  /**
   * One of process.memoryUsage()'s, which decide whether the loop is flat. memoryStats' fields
   * are shown only: some split a fixed whole (bytes in live blocks vs in the pool), some count events.
   */
  process: boolean;
  get(s: MemorySample): number | undefined;
}

function memoryColumns(run: MemoryRun): MemoryColumn[] {
  const cols: MemoryColumn[] = (["rss", "heapUsed", "arrayBuffers", "external"] as const).map((k) => ({ name: `${k} MB`, bytes: true, process: true, get: (s: MemorySample) => s[k] }));
  const keys: string[] = [];
  for (const s of run.samples) for (const k of Object.keys(s.stats ?? {})) if (!keys.includes(k)) keys.push(k);
  for (const k of keys) {
    const bytes = /bytes$/i.test(k);
    cols.push({ name: `memoryStats ${k}${bytes ? " MB" : ""}`, bytes, process: false, get: (s) => s.stats?.[k] });
  }
  return cols;
}

const defined = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
const maxOf = (xs: (number | undefined)[]): number => Math.max(...defined(xs));
const minOf = (xs: (number | undefined)[]): number => Math.min(...defined(xs));
const ratioText = (a: number, b: number): string => (a === b ? "1.00" : b === 0 || !Number.isFinite(a / b) ? "∞" : (a / b).toFixed(2));

/** [max over the second half, max over steps (1/10 … 1/2) of the run]. */
function halves(run: MemoryRun, col: MemoryColumn): [number, number] {
  const early = run.samples.filter((s) => s.step >= run.steps / 10 && s.step <= run.steps / 2).map(col.get);
  const late = run.samples.filter((s) => s.step > run.steps / 2).map(col.get);
  return [maxOf(late), maxOf(early)];
}

/** process.memoryUsage()'s columns that grew from the first half of the run to the second (see FLAT_GROWTH). */
function grown(run: MemoryRun): string[] {
  return memoryColumns(run)
    .filter((c) => {
      if (!c.process) return false;
      const [late, early] = halves(run, c);
      return late > early * FLAT_GROWTH && late - early > FLAT_SLACK;
    })
    .map((c) => c.name);
}

const peakRss = (run: MemoryRun): number => maxOf(run.samples.map((s) => s.rss));
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

function memoryTable(run: MemoryRun): string[] {
  const cols = memoryColumns(run);
  const show = (c: MemoryColumn, v: number | undefined): string => (v === undefined ? "–" : c.bytes ? mb(v) : String(v));
  const header = ["step", "time s", ...cols.map((c) => c.name)];
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map(() => "---:").join(" | ")} |`];
  for (const s of run.samples) lines.push(`| ${[String(s.step), (s.ms / 1000).toFixed(1), ...cols.map((c) => show(c, c.get(s)))].join(" | ")} |`);
  const warm = run.samples.filter((s) => s.step >= run.steps / 10);
  const first = warm[0]?.step ?? 0;
  lines.push(`| max ÷ min, steps ${first}–${run.steps} | | ${cols.map((c) => ratioText(maxOf(warm.map(c.get)), minOf(warm.map(c.get)))).join(" | ")} |`);
  lines.push(`| max ÷ min, all samples (step 0 included) | | ${cols.map((c) => ratioText(maxOf(run.samples.map(c.get)), minOf(run.samples.map(c.get)))).join(" | ")} |`);
  lines.push(`| growth: max over steps > ${run.steps / 2} ÷ max over ${first}–${run.steps / 2} | | ${cols.map((c) => ratioText(...halves(run, c))).join(" | ")} |`);
  return lines;
}

/** The memory section of the report: one table per loop variant, and notes. */
function memorySection(runs: MemoryRun[], why: string): string[] {
  const out = [
    `## Memory over ${MEMORY_STEPS.toLocaleString("en")} training steps`,
    "",
    `\`bench/train-memory.ts\` in a child process (plain node on an esbuild bundle; no TF.js, jax-js or PyTorch loaded there): ` +
      `an mlp([784, 256, 10]) (ReLU), nn.functional.crossEntropy, optim.SGD (lr 0.05), batches of 128 from a DataLoader over 1,280 random samples, no dispose calls: ` +
      `first each iteration (the batch and the step) in its own memory scope, \`for (const [x, y] of tidyEach(loader))\`, with the gradients zeroed in place (optim.zeroGrad(false)), which is how the Trainer runs every step (the default path); then the plain loop, with no tidy at all (its tensors outside tidy come back through the garbage collector, and past a 64 MiB cap are JavaScript arrays). ` +
      `process.memoryUsage() (and memoryStats(), where chainrule has it) before the first step (step 0) and after every ${(MEMORY_STEPS / 10).toLocaleString("en")}th; no forced GC, so a sample is what the process held at that moment ` +
      `(arrayBuffers and heapUsed follow the garbage collector's sawtooth). "growth" compares the maxima of the two halves of the run; the loop is called flat when none of process.memoryUsage()'s four columns grew by more than ${FLAT_GROWTH}× and ${mb(FLAT_SLACK)} MB (memoryStats' fields are shown, not judged: some split a fixed whole, some count events).`,
    "",
  ];
  for (const run of runs) {
    const g = grown(run);
    out.push(
      `### ${run.tidy ? "Each iteration in tidyEach() (the Trainer's way)" : "The plain loop, no tidy"}, ${run.yielded ? "yielding to the event loop after every step (`await new Promise(setImmediate)`)" : "synchronous (never yields to the event loop)"}`,
      "",
      `${run.backend} backend, ${run.threads} thread${run.threads === 1 ? "" : "s"} (the "chainrule/node" default), ${run.seconds.toFixed(1)} s (${((run.seconds * 1000) / run.steps).toFixed(2)} ms/step, the DataLoader included), final loss ${run.finalLoss.toFixed(4)}; ` +
        `peak rss ${mb(peakRss(run))} MB (${mb(run.samples[0]!.rss)} MB before the first step); ` +
        `${g.length === 0 ? "flat from the first tenth on: none of process.memoryUsage()'s columns grew" : `**not flat**: grew in ${g.join(", ")}`}.`,
      "",
      ...memoryTable(run),
      "",
    );
  }
  const hasStats = runs.some((r) => r.samples.some((s) => s.stats));
  out.push(`- ${why}`);
  out.push(`- ${hasStats ? "memoryStats(): chainrule's own fields, as returned (nested fields flattened to a.b; those named …Bytes in MB, the others are counts)." : "memoryStats() does not exist in this chainrule: no columns for it."}`);
  out.push(`- Peak rss: ${runs.map((r) => `${mb(peakRss(r))} MB (${r.tidy ? "tidy" : "no tidy"}${r.yielded ? ", yielding" : ""}: ${grown(r).length ? "grew" : "flat"})`).join("; ")}.`);
  out.push("");
  return out;
}

// ------------------------------------------------------------------ the report file and main


/** The issue's targets, where their rows ran. */
function targetNotes(rows: Row[], results: Map<Lib, Measured>[]): string[] {
  const get = (id: string, lib: Lib): Measured | undefined => {
    const i = rows.findIndex((r) => r.id === id);
    const m = i < 0 ? undefined : results[i]!.get(lib);
    return m && agrees(m) ? m : undefined;
  };
  const notes: string[] = [];
  const one = get("train/784-256-10/128", "chainrule-wasm");
  const all = get("train/784-256-10/128", "chainrule-threads");
  if (one || all) {
    const ok = (m: Measured | undefined, limit: number): string => (m ? `${fmt(m.value)} ms (${m.value <= limit ? "met" : "not met"})` : "not measured");
    notes.push(`Targets: the training step at batch 128 in at most 3 ms on 1 thread: ${ok(one, 3)}; at most 2 ms with ${CORES} threads: ${ok(all, 2)}.`);
  }
  const speedups = rows
    .filter((r) => r.id.startsWith("matmul/") && !/trans/.test(r.id))
    .map((r) => {
      const a = get(r.id, "chainrule-wasm");
      const b = get(r.id, "chainrule-threads");
      return a && b ? `n=${r.id.split("/")[1]} ${(b.value / a.value).toFixed(2)}×` : undefined;
    })
    .filter((s) => s !== undefined);
  if (speedups.length) notes.push(`Target: matmul on ${CORES} threads at least 1.8× chainrule's own 1-thread GFLOP/s: ${speedups.join(", ")}.`);
  return notes;
}

async function main(): Promise<void> {
  // "webgpu" among the arguments: the GPU benchmark instead of the CPU rows (bench/webgpu.ts).
  if (process.argv.slice(2).some((a) => a.toLowerCase() === "webgpu")) {
    const { webgpuBench } = await import("./webgpu.js");
    await webgpuBench(process.argv.slice(2));
    return;
  }
  const filters = process.argv.slice(2).map((f) => f.toLowerCase()).filter((f) => f.length > 0);
  const rows = filters.length ? ROWS.filter((r) => filters.some((f) => r.id.toLowerCase().includes(f))) : ROWS;
  const memory = filters.length === 0 || filters.some((f) => "memory".includes(f));
  if (rows.length === 0 && !memory) {
    console.error(`No row id contains ${filters.map((f) => JSON.stringify(f)).join(" or ")}. Row ids:\n${ROWS.map((r) => `  ${r.id.padEnd(22)} ${r.name}`).join("\n")}\n  ${"memory".padEnd(22)} memory over ${MEMORY_STEPS} training steps`);
    process.exitCode = 1;
    return;
  }

  const started = performance.now();
  const loadAtStart = os.loadavg();
  const body: string[] = [];
  if (rows.length > 0) body.push(...(await benchRows(rows)));
  if (memory) {
    const script = buildMemoryScript();
    let runs: MemoryRun[];
    let why: string;
    if (rows.length === 0) {
      runs = await Promise.all([runMemory(script, false, true), runMemory(script, false, false), runMemory(script, true, false)]);
      why = "A `-- memory` run makes the three loops at once, in three processes side by side (so their ms/step are those of loops sharing the cores).";
    } else {
      runs = [await runMemory(script, false, true), await runMemory(script, false, false)];
      why = "The loops run one after the other; `npm run bench -- memory` also runs the plain loop yielding to the event loop after every step.";
    }
    body.push(...memorySection(runs, why));
  }

  const seconds = (performance.now() - started) / 1000;
  const report = [
    "# chainrule core benchmark",
    "",
    `- CPU: ${cpuModel()} (${os.cpus().length} logical cores; load average ${loadAtStart.map((l) => l.toFixed(2)).join(", ")} at the start, ${os.loadavg().map((l) => l.toFixed(2)).join(", ")} at the end: other work on the machine slows every column alike)`,
    `- Node ${process.version}, TF.js ${tf.version_core}, ${new Date().toISOString()}`,
    `- \`npm run bench${filters.length ? ` -- ${filters.join(" ")}` : ""}\`${filters.length ? " (filtered: only the matching rows)" : ""}, ${seconds.toFixed(0)} s`,
    "",
    ...body,
  ].join("\n");

  process.stdout.write(report);
  const target = path.join(here, "RESULTS.md");
  writeFileAtomic(target, new TextEncoder().encode(report));
  process.stderr.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}

/** Measures the rows against the peers; returns the table and its notes. */
async function benchRows(rows: Row[]): Promise<string[]> {
  const { peers: found, notes, python } = await initPeers();
  let peers = found;
  if (python) {
    runTorch(python, rows);
    if (torchRun) {
      notes.push(
        `PyTorch ${torchRun.version} on the CPU (${python}), in a child process: the same data, timed by the same method in Python (time.perf_counter); ` +
          `1 thread (torch.set_num_threads(1)) and ${torchRun.threads} threads. Matmul, training and convolution rows only (its convolutions run on its own CPU kernels, oneDNN where the build has it).` +
          (torchRun.blas ? ` Its build's BLAS: ${torchRun.blas}` + (/mkl|openblas/i.test(torchRun.blas) ? " (Debian's build calls the system's libblas.so.3: OpenBLAS with libopenblas0-pthread installed, bench/setup.sh)." : " (e.g. a distribution build with the reference BLAS, not OpenBLAS or MKL: its matmul is far from what a PyTorch wheel reaches; bench/setup.sh installs libopenblas0-pthread).") : ""),
      );
    } else {
      notes.push(torchFailure ?? "PyTorch did not run.");
      peers = peers.filter((p) => !isTorch(p));
    }
  }
  const hasWasm = cr.listBackends().includes("wasm");
  const own: Own[] = hasWasm ? ["chainrule-js", "chainrule-wasm", ...(THREADS_WORK ? (["chainrule-threads"] as const) : [])] : ["chainrule-js"];
  if (!hasWasm) notes.unshift("chainrule's wasm backend is unavailable here (no WebAssembly SIMD); its columns are left out.");
  else if (!THREADS_WORK) notes.unshift(`chainrule's wasm backend cannot use ${CORES} threads here (${CORES === 1 ? "one core" : "worker threads unavailable"}); the N-threads column is left out.`);
  const mainLib: Own = own.includes("chainrule-wasm") ? "chainrule-wasm" : "chainrule-js"; // the default backend: wasm where it exists
  const results: Map<Lib, Measured>[] = [];
  for (const row of rows) results.push(await measureRow(row, own, peers, notes));
  if (rows.some((r) => r.id.startsWith("matmul/"))) {
    notes.push(
      "matmul n = 1024 and 2048 and the transposed rows: TF.js cpu is not run (about 5 s, 40 s and 0.7 s per call: 0.3–0.6 GFLOP/s at every size it runs), nor chainrule js at n = 2048 (about 6 s per call); " +
        "at n = 2048 the others' results are checked against chainrule wasm's. These cells (–) are left out to keep a full run near 4 minutes.",
    );
  }
  if (own.includes("chainrule-threads")) {
    notes.push(
      `${LABEL["chainrule-threads"]}: chainrule wasm with setNumThreads(${CORES}) (os.availableParallelism()) for that column only, 1 for every other one; ` +
        `only large kernels are split across threads (matmuls and elementwise kernels past a size: docs/backend.md, Threads), the rest stays on the calling thread; "threads speed-up" = that column ÷ chainrule wasm (1 thread). ` +
        `Its results are checked to equal the 1-thread ones bit for bit. The graph row (ops on 4 elements) has no cell there (–).`,
    );
  }
  if (rows.some((r) => r.id.startsWith("train/"))) {
    notes.push(
      `Training rows: logits = relu(x·W1 + b1)·W2 + b2, mean softmax cross-entropy against integer labels, backward to W1, b1, W2, b2, plain SGD (lr ${TRAIN_LR}) on all four; ` +
        `chainrule nn.functional.crossEntropy + optim.SGD; TF.js optimizer.minimize with tf.losses.softmaxCrossEntropy (one-hot labels); ` +
        `jax-js one jit(valueAndGrad + update) returning the new parameters, each read back with dataSync (jax-js is lazy: this makes the whole step run in the timing); ` +
        `PyTorch F.cross_entropy + torch.optim.SGD. Checked: the loss and each parameter's (before − after) / lr (its gradient), each part on its own scale.`,
    );
  }
  notes.push(
    "chainrule's timed calls run inside tidy(), which hands each call's tensors back to chainrule's pool (what its documentation prescribes for a synchronous loop; TF.js' run inside tf.tidy, jax-js' free theirs by its move semantics). " +
      "Before each library's turn on each row: a full GC and two event-loop turns, so no case pays for the garbage of the cases before it.",
  );
  notes.push("TF.js gradients: tfjs-core's dist/register_all_gradients (what @tensorflow/tfjs registers).");
  if (rows.some((r) => r.id.startsWith("conv/"))) {
    notes.push(
      `Convolution rows (3×3, stride 1, pad 1, float32; NCHW, TF.js NHWC with the data transposed outside the timing): conv/layer is one conv2d forward and its input, weight and bias gradients for a fixed upstream gradient ` +
        `(chainrule y.backward(gy); TF.js tf.grads with dy; jax-js one jit of grad(Σ y·gy); PyTorch y.backward(gy)); the convnet rows are whole SGD steps (lr ${CONV_LR}), checked as the MLP rows. ` +
        `TF.js wasm (tfjs-backend-wasm 4.22) has no Conv2DBackpropFilter kernel, so tf.grad of a conv2d throws there: its cells compute the weight gradient with its own Conv2D (XNNPACK) on transposed operands in a tf.customGrad (bench/core.ts, tfConv3x3), the input gradient with tf.conv2dTranspose. ` +
        `TF.js cpu is not run on these rows (plain JavaScript, seconds per step), nor chainrule js on the CIFAR row (its direct-convolution reference, about 3 s per step; the others are checked against chainrule wasm there).`,
    );
  }
  if (own.length >= 2) {
    notes.push(
      `chainrule wasm: tensors live in the backend's shared WebAssembly memory (pooled blocks; docs/backend.md, Memory), so its kernels read and write them in place with no copies in or out; ` +
        `the ${buildInfo.relaxedSimd ? "relaxed-SIMD build (fused multiply-adds in the matmul micro-kernels; Node 20 runs it once chainrule turns on V8's --experimental-wasm-relaxed-simd)" : "plain SIMD build (this engine has no relaxed SIMD)"}.`,
    );
  }
  notes.push(...targetNotes(rows, results));

  const threaded = own.includes("chainrule-threads");
  const header = [
    "benchmark",
    ...own.map((o) => LABEL[o]),
    ...peers.map((p) => LABEL[p]),
    ...(hasWasm ? ["wasm speed-up over js"] : []),
    ...(threaded ? ["threads speed-up"] : []),
    `${LABEL[mainLib]} vs best peer`,
    ...(threaded ? [`${LABEL["chainrule-threads"]} vs best peer`] : []),
  ];
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`];
  rows.forEach((row, i) => {
    const got = results[i]!;
    const cells = [
      `${row.name} (${row.unit} ${row.higherIsBetter ? "↑" : "↓"})`,
      ...own.map((o) => cell(got.get(o))),
      ...peers.map((p) => cell(got.get(p))),
      ...(hasWasm ? [speedupCell(row, got, "chainrule-js", "chainrule-wasm")] : []),
      ...(threaded ? [speedupCell(row, got, "chainrule-wasm", "chainrule-threads")] : []),
      ratioCell(row, got, mainLib, peers),
      ...(threaded ? [ratioCell(row, got, "chainrule-threads", peers)] : []),
    ];
    lines.push(`| ${cells.map(mdCell).join(" | ")} |`);
  });
  return [
    ...lines,
    "",
    `Medians of ≥ ${MIN_RUNS} timed runs after warm-up (the checked first call, then up to 2 more unless it took ${LONG_CALL_MS} ms or more; wall time; the graph row: the process's CPU time, GC threads included); chainrule, TF.js and jax-js in one process, on one thread but the "${LABEL["chainrule-threads"]}" column; PyTorch in a child process, on 1 thread and on all. ↑ higher is better, ↓ lower is better.`,
    `"vs best peer" = chainrule's cost ÷ the fastest agreeing peer's cost for the same work (time ÷ time; for GFLOP/s, peer GFLOP/s ÷ chainrule GFLOP/s), for chainrule wasm on 1 thread and on ${CORES}:`,
    `above 1 chainrule is slower, below 1 it is faster. Results are checked first (against chainrule js, or an exact result, or where a note says so chainrule wasm); one differing by more than ${MAX_REL_ERR} (relative) is flagged and never used for a ratio.`,
    "",
    ...notes.map((n) => `- ${n}`),
    "",
  ];
}

// Report a failure as a message: the wasm backend installs an uncaughtException handler that
// rethrows, which would otherwise print a whole line of its minified source.
try {
  await main();
} catch (e) {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
}
