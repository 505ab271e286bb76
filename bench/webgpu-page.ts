/**
 * The GPU benchmark's body (bench/webgpu.ts bundles this file with esbuild, serves it on
 * 127.0.0.1 and opens it in Chromium with --enable-unsafe-webgpu; `npm run bench -- webgpu`).
 * It also runs in Node, where bench/webgpu.ts calls runBench() once backendReady("webgpu")
 * found an adapter through the optional `webgpu` package.
 *
 * Libraries, in one page: chainrule's webgpu backend, TF.js' WebGPU backend
 * (@tensorflow/tfjs-backend-webgpu) and jax-js' webgpu device (every function under jit). The
 * reference of every row is chainrule's js backend (plain TypeScript on the CPU) in the same page.
 *
 * Method, per row and library: the case is built (data uploaded), then one call whose result is
 * read back and checked against the reference (a row never compares different computations);
 * that call is also the first warm-up. Then one warm-up iteration, which sizes K, the iterations
 * of a timed batch (about BATCH_MS per batch, at most K_MAX); none after a checked call of LONG_MS
 * or more (it was warm-up enough: kernels compiled, buffers pooled; K = 1 then). A timed batch is
 * K iterations enqueued, then ONE readback of the last iteration's result (chainrule
 * `await t.dataAsync()`, TF.js `await t.data()`, jax-js `await a.data()`), wall time by
 * performance.now(), nothing subtracted: the GPU's completion is in the time. At least
 * MIN_BATCHES timed batches (more until they sum to TARGET_MS, at most MAX_BATCHES); the median
 * of batch time ÷ K. Iterations of LONG_MS or more (SwiftShader, a CPU, runs most rows that
 * slowly) get at least LONG_MIN_BATCHES timed batches, more while they sum to less than
 * LONG_BUDGET_MS (at most MIN_BATCHES); the report says how many. A matmul cell whose iteration,
 * extrapolated by n³ from the library's previous matmul row, would exceed
 * BenchConfig.maxIterationMs is not run (SwiftShader: n = 2048 and 4096 would take minutes per
 * iteration); the report says so and why.
 *
 * Memory: chainrule runs every iteration in tidy() (a training step in tidyEach()), TF.js in
 * tf.tidy (results disposed), jax-js frees by its move semantics (outputs disposed). jax-js is
 * lazy: a kernel is submitted only when something waits on its output, and an output disposed
 * unread is never computed; so a jax-js batch keeps its K outputs and waits on all of them with
 * jax.blockUntilReady before its one readback (without that its K − 1 earlier iterations of the
 * independent rows would not run at all).
 */
/// <reference types="@webgpu/types" />
import * as cr from "../src/index.js";
import { webgpuTuning } from "../src/backend/webgpu/backend.js";
import * as tf from "@tensorflow/tfjs-core";
import * as jax from "@jax-js/jax";
// A relative path, so that esbuild bundles it (what @tensorflow/tfjs registers).
import "../node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js";
import { TRAIN_LR, concat, fromChannelsLast, median, oneHot, randomData, relDiff, toChannelsLast, trainSpec } from "./shared.js";

export type Lib = "chainrule" | "tfjs" | "jax";
export const LIBS: Lib[] = ["chainrule", "tfjs", "jax"];

export interface BenchConfig {
  /** Row filters (any substring of a row id, case-insensitive); empty: every row. */
  filters: string[];
  /**
   * A matmul cell whose iteration would take longer than this (extrapolated, n³, from the
   * library's previous matmul row) is not run: on SwiftShader n = 2048 and 4096 take minutes.
   */
  maxIterationMs?: number;
}

export interface CellResult {
  /** Median ms per iteration. */
  medianMs?: number;
  /** Timed batches and iterations per batch. */
  batches?: number;
  k?: number;
  /** Relative difference to the reference (see relDiff). */
  relErr?: number;
  /** The library failed on the row (message). */
  error?: string;
  /** The library is unavailable here (why). */
  skipped?: string;
  /** The cell was not run (why: its extrapolated time, see BenchConfig.maxIterationMs). */
  notRun?: string;
  /** Things worth a note (memory growth, leaked tensors). */
  notes?: string[];
  /** chainrule only: kernel dispatches and command-buffer submits per timed iteration (memoryStats().webgpu; the readbacks' own submits included). */
  perIteration?: { dispatches: number; submits: number; liveBefore: number; liveAfter: number };
}

export interface RowResult {
  id: string;
  name: string;
  /** "matmul": ms and GFLOP/s; "ms": ms per call or step. */
  kind: "matmul" | "ms";
  /** FLOPs of one iteration (matmul rows). */
  flops?: number;
  /** How the row's results were checked. */
  check: string;
  referenceMs?: number;
  referenceError?: string;
  cells: Partial<Record<Lib, CellResult>>;
}

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter?: boolean;
  features: string[];
}

export interface BenchResult {
  environment: string;
  adapter?: AdapterReport;
  /** What each library reported about the adapter it opened (they each open their own device). */
  libraryAdapters: Partial<Record<Lib, string>>;
  /** Why a whole library is missing. */
  unavailable: Partial<Record<Lib, string>>;
  versions: Record<string, string>;
  rows: RowResult[];
  crossOriginIsolated?: boolean;
  seconds: number;
  error?: string;
}

// ------------------------------------------------------------------ method

const MIN_BATCHES = 5;
const MAX_BATCHES = 10;
/** Timed batches keep being added (up to MAX_BATCHES) until they sum to this. */
const TARGET_MS = 1000;
/** K is chosen so that a timed batch takes about this long. */
const BATCH_MS = 150;
const K_MAX = 50;
/**
 * A checked call this long is the only warm-up (K = 1 then); iterations this long (SwiftShader)
 * get LONG_MIN_BATCHES timed batches, more while they sum to less than LONG_BUDGET_MS (at most MIN_BATCHES).
 */
const LONG_MS = 1000;
const LONG_MIN_BATCHES = 2;
const LONG_BUDGET_MS = 5000;
/** Relative difference above which a result is treated as a different computation. */
export const MAX_REL_ERR = 1e-3;
export const METHOD = { MIN_BATCHES, MAX_BATCHES, TARGET_MS, BATCH_MS, K_MAX, LONG_MS, LONG_MIN_BATCHES, LONG_BUDGET_MS };

/** One library's version of a row. */
interface Case {
  /** One call, its result read back (checked; the first warm-up). */
  output(): Promise<Float32Array>;
  /** k iterations, then one readback of the last one's result. */
  batch(k: number): Promise<void>;
  dispose(): void;
}

interface Row {
  id: string;
  name: string;
  kind: "matmul" | "ms";
  flops?: number;
  segments?: number[];
  check: string;
  /** The reference result: chainrule on its js backend. */
  reference(): Promise<Float32Array>;
  /** Maps a library's output to what is compared (matmul ≥ 2048: the sampled rows). */
  compared?(out: Float32Array): Float32Array;
  make(lib: Lib): Case;
}

const now = (): number => performance.now();



/** A full GC (Chromium started with --js-flags=--expose-gc) and two turns of the event loop. */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 0));
  }
}

async function timeCase(c: Case, checkMs: number): Promise<{ medianMs: number; batches: number; k: number }> {
  // A checked call of LONG_MS or more was warm-up enough (its kernels compiled, its buffers
  // pooled); otherwise one warm-up iteration, which also sizes K.
  let k = 1;
  if (checkMs < LONG_MS) {
    const t0 = now();
    await c.batch(1);
    k = Math.max(1, Math.min(K_MAX, Math.round(BATCH_MS / (now() - t0))));
  }
  const times: number[] = [];
  let total = 0;
  for (;;) {
    const t0 = now();
    await c.batch(k);
    const dt = now() - t0;
    times.push(dt / k);
    total += dt;
    const n = times.length;
    if (median(times) >= LONG_MS ? (n >= LONG_MIN_BATCHES && total >= LONG_BUDGET_MS) || n >= MIN_BATCHES : n >= MIN_BATCHES && (total >= TARGET_MS || n >= MAX_BATCHES)) break;
  }
  return { medianMs: median(times), batches: times.length, k };
}

// ------------------------------------------------------------------ data (as bench/core.ts)




const crTensor = (data: Float32Array, shape: number[], requiresGrad = false): cr.Tensor => cr.tensor(data, { shape, dtype: "float32", requiresGrad });
const crRead = async (t: cr.Tensor): Promise<Float32Array> => Float32Array.from(await t.dataAsync());

/** A tf.Variable holding its own copy of data. */
function tfVariable(data: Float32Array, shape: number[]): tf.Variable {
  const init = tf.tensor(data, shape);
  const v = tf.variable(init);
  init.dispose();
  return v;
}

const tfRead = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from((await t.data()) as Float32Array);

/** jax-js: waits for every output of a batch (lazy: see the header), then reads the last one back. */
async function jaxFinish<T>(outs: T[], read: (last: T) => jax.Array, rest: (last: T) => void): Promise<void> {
  await jax.blockUntilReady(outs as unknown as jax.JsTree<jax.Array>);
  const last = outs.pop()!;
  for (const o of outs) jax.tree.dispose(o as unknown as jax.JsTree<jax.Array>);
  rest(last);
  await read(last).data();
}

/** The chainrule backend the case is built on: "js" for the reference, "webgpu" for its cell. */
function useBackend(name: "js" | "webgpu"): void {
  cr.setBackend(name);
}

// ------------------------------------------------------------------ rows

/** matmul f32 [n,n]·[n,n] (bench/core.ts's matmul/n data). */
function matmulRow(n: number): Row {
  const aData = randomData(n * n, 1 + n);
  const bData = randomData(n * n, 2 + n);
  // At n ≥ 2048 chainrule js would take tens of seconds (n = 4096: minutes) for the whole
  // product: the reference is its product for SAMPLE rows of A, and every library's output is
  // compared on those rows of C.
  const sampled = n >= 2048;
  const SAMPLE = 16;
  const rows = Array.from({ length: SAMPLE }, (_, i) => Math.floor(((i + 0.5) * n) / SAMPLE));
  const pick = (c: Float32Array): Float32Array => {
    const out = new Float32Array(SAMPLE * n);
    rows.forEach((r, i) => out.set(c.subarray(r * n, (r + 1) * n), i * n));
    return out;
  };
  const crCase = (): Case => {
    const a = crTensor(aData, [n, n]);
    const b = crTensor(bData, [n, n]);
    return {
      async output() {
        const r = cr.tidy(() => cr.matmul(a, b));
        const out = await crRead(r);
        cr.dispose(r);
        return out;
      },
      async batch(k) {
        for (let i = 0; i < k - 1; i++) cr.tidy(() => void cr.matmul(a, b));
        const r = cr.tidy(() => cr.matmul(a, b));
        await r.dataAsync();
        cr.dispose(r);
      },
      dispose: () => cr.dispose(a, b),
    };
  };
  return {
    id: `matmul/${n}`,
    name: `matmul f32 n=${n}`,
    kind: "matmul",
    flops: 2 * n ** 3,
    check: sampled ? `${SAMPLE} rows of C (evenly spaced) against chainrule js's product of those rows of A by B` : "the whole product against chainrule js",
    async reference() {
      useBackend("js");
      if (!sampled) return crCase().output();
      const aRows = new Float32Array(SAMPLE * n);
      rows.forEach((r, i) => aRows.set(aData.subarray(r * n, (r + 1) * n), i * n));
      return crRead(cr.matmul(crTensor(aRows, [SAMPLE, n]), crTensor(bData, [n, n])));
    },
    ...(sampled ? { compared: pick } : {}),
    make(lib) {
      if (lib === "chainrule") return crCase();
      if (lib === "jax") {
        const a = jax.numpy.array(aData).reshape([n, n]);
        const b = jax.numpy.array(bData).reshape([n, n]);
        const f = jax.jit((x: jax.Array, y: jax.Array) => jax.numpy.matmul(x, y));
        return {
          output: async () => Float32Array.from((await f(a.ref, b.ref).data()) as Float32Array),
          async batch(k) {
            const outs: jax.Array[] = [];
            for (let i = 0; i < k; i++) outs.push(f(a.ref, b.ref));
            await jaxFinish(outs, (l) => l, () => {});
          },
          dispose: () => (a.dispose(), b.dispose(), f.dispose()),
        };
      }
      const a = tf.tensor2d(aData, [n, n]);
      const b = tf.tensor2d(bData, [n, n]);
      return {
        async output() {
          const r = tf.matMul(a, b);
          const out = await tfRead(r);
          r.dispose();
          return out;
        },
        async batch(k) {
          for (let i = 0; i < k - 1; i++) tf.tidy(() => void tf.matMul(a, b));
          const r = tf.tidy(() => tf.matMul(a, b));
          await r.data();
          r.dispose();
        },
        dispose: () => tf.dispose([a, b]),
      };
    },
  };
}

/** bench/core.ts's learning rate of the MLP rows; here with momentum 0.9. */
const MOMENTUM = 0.9;



/**
 * The checked output of `steps` training steps: [each step's loss, (θ before − θ after) / lr for
 * each parameter]. With momentum 0.9 over two steps that is 1.9·g₀ + g₁: the update rule is checked too.
 */
function stepsOutput(losses: number[], before: Float32Array[], after: ArrayLike<number>[], lr: number): Float32Array {
  const out = new Float32Array(losses.length + before.reduce((s, b) => s + b.length, 0));
  out.set(losses);
  let o = losses.length;
  before.forEach((b, k) => {
    const a = after[k]!;
    for (let i = 0; i < b.length; i++) out[o + i] = (b[i]! - a[i]!) / lr;
    o += b.length;
  });
  return out;
}

/**
 * One training step of an MLP 784 → 256 (ReLU) → 10 as bench/core.ts's train rows (same data,
 * init and lr): logits = relu(x·W1 + b1)·W2 + b2, mean softmax cross-entropy against integer
 * labels, backward to W1, b1, W2, b2, then SGD with momentum 0.9 (PyTorch's rule: buf = g on the
 * first step, then buf = 0.9·buf + g; θ −= lr·buf) — chainrule optim.SGD({ momentum: 0.9 }),
 * TF.js optimizer.minimize with tf.train.momentum(lr, 0.9) (its accumulator starts at zero, the
 * same rule), jax-js one jit(valueAndGrad + the momentum update). Checked over the first two steps.
 */
function trainRow(batch: number, seed: number): Row {
  const sizes: [number, number, number] = [784, 256, 10];
  const [ni, nh, no] = sizes;
  const spec = trainSpec(batch, sizes, seed);
  const before = [spec.w1, spec.b1, spec.w2, spec.b2];
  const shapes = [[ni, nh], [nh], [nh, no], [no]];
  const crCase = (): Case => {
    const x = crTensor(spec.x, [batch, ni]);
    const y = cr.tensor(spec.y, { shape: [batch], dtype: "int32" });
    const params = before.map((d, i) => crTensor(d, shapes[i]!, true));
    const [w1, b1, w2, b2] = params as [cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor];
    const opt = new cr.optim.SGD(params, { lr: TRAIN_LR, momentum: MOMENTUM });
    const step = (): cr.Tensor => {
      opt.zeroGrad();
      const loss = cr.nn.functional.crossEntropy(x.matmul(w1).add(b1).relu().matmul(w2).add(b2), y);
      loss.backward();
      opt.step();
      return loss.detach();
    };
    return {
      async output() {
        const losses: number[] = [];
        for (let s = 0; s < 2; s++) {
          const l = cr.tidy(step);
          losses.push(await l.itemAsync());
          cr.dispose(l);
        }
        const after = await Promise.all(params.map(crRead));
        return stepsOutput(losses, before, after, TRAIN_LR);
      },
      async batch(k) {
        for (const _ of cr.tidyEach(Array.from({ length: k - 1 }))) step();
        const l = cr.tidy(step);
        await l.dataAsync();
        cr.dispose(l);
      },
      dispose: () => cr.dispose(x, y, params),
    };
  };
  return {
    id: `train/784-256-10/${batch}`,
    name: `train step 784→256 ReLU→10, softmax CE, SGD momentum 0.9, batch ${batch}`,
    kind: "ms",
    segments: [1, 1, ...before.map((b) => b.length)],
    check: "the first two steps' losses and each parameter's (θ₀ − θ₂)/lr (= 1.9·g₀ + g₁), each on its own scale, against chainrule js",
    async reference() {
      useBackend("js");
      const c = crCase();
      try {
        return await c.output();
      } finally {
        c.dispose();
      }
    },
    make(lib) {
      if (lib === "chainrule") return crCase();
      if (lib === "jax") {
        const np = jax.numpy;
        type P = { w1: jax.Array; b1: jax.Array; w2: jax.Array; b2: jax.Array };
        let p: P = { w1: np.array(spec.w1).reshape([ni, nh]), b1: np.array(spec.b1), w2: np.array(spec.w2).reshape([nh, no]), b2: np.array(spec.b2) };
        let v: P = { w1: np.zeros([ni, nh]), b1: np.zeros([nh]), w2: np.zeros([nh, no]), b2: np.zeros([no]) };
        const x = np.array(spec.x).reshape([batch, ni]);
        const y = np.array(oneHot(spec.y, no)).reshape([batch, no]);
        const loss = (q: P, xb: jax.Array, yb: jax.Array): jax.Array =>
          np.sum(jax.nn.logSoftmax(np.matmul(jax.nn.relu(np.matmul(xb, q.w1).add(q.b1)), q.w2).add(q.b2), -1).mul(yb)).mul(-1 / batch);
        const step = jax.jit((q: P, vel: P, xb: jax.Array, yb: jax.Array) => {
          const [l, g] = jax.valueAndGrad(loss)(jax.tree.ref(q), xb, yb);
          const nv = jax.tree.map((b: jax.Array, d: jax.Array) => b.mul(MOMENTUM).add(d), vel, g as P) as P;
          const nq = jax.tree.map((w: jax.Array, b: jax.Array) => w.sub(b.mul(TRAIN_LR)), q, jax.tree.ref(nv)) as P;
          return [l, nq, nv] as [jax.Array, P, P];
        });
        const go = (): jax.Array => {
          const [l, nq, nv] = step(p, v, x.ref, y.ref);
          p = nq;
          v = nv;
          return l;
        };
        return {
          async output() {
            const losses: number[] = [];
            for (let s = 0; s < 2; s++) losses.push(((await go().data()) as Float32Array)[0]!);
            const after = await Promise.all([p.w1.ref.data(), p.b1.ref.data(), p.w2.ref.data(), p.b2.ref.data()]);
            return stepsOutput(losses, before, after as Float32Array[], TRAIN_LR);
          },
          async batch(k) {
            const outs: jax.Array[] = [];
            for (let i = 0; i < k; i++) outs.push(go());
            // The parameters and velocities are waited on too (the last step's update).
            await jax.blockUntilReady([p, v]);
            await jaxFinish(outs, (l) => l, () => {});
          },
          dispose: () => (x.dispose(), y.dispose(), jax.tree.dispose(p), jax.tree.dispose(v), step.dispose()),
        };
      }
      const x = tf.tensor2d(spec.x, [batch, ni]);
      const y = tf.tensor2d(oneHot(spec.y, no), [batch, no]);
      const vars = before.map((d, i) => tfVariable(d, shapes[i]!));
      const [w1, b1, w2, b2] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const opt = tf.train.momentum(TRAIN_LR, MOMENTUM);
      const loss = (): tf.Scalar => tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2));
      return {
        async output() {
          const losses: number[] = [];
          for (let s = 0; s < 2; s++) {
            const l = opt.minimize(loss, true, vars)!;
            losses.push((await tfRead(l))[0]!);
            l.dispose();
          }
          const after = await Promise.all(vars.map(tfRead));
          return stepsOutput(losses, before, after, TRAIN_LR);
        },
        async batch(k) {
          for (let i = 0; i < k - 1; i++) tf.tidy(() => void opt.minimize(loss, false, vars));
          const l = tf.tidy(() => opt.minimize(loss, true, vars)!);
          await l.data();
          l.dispose();
        },
        // MomentumOptimizer.dispose() (tfjs-core 4.22) overrides SGDOptimizer's and leaves its
        // −lr scalar `c` undisposed: one tensor per optimizer, not per step; disposed here.
        dispose: () => (tf.dispose([x, y, ...vars]), opt.dispose(), tf.dispose((opt as unknown as { c?: tf.Tensor }).c)),
      };
    },
  };
}


/**
 * conv/layer as bench/core.ts: y = conv2d(x, W, b) (3×3, stride 1, pad 1) on x [32,16,32,32] → 32
 * channels, then dx, dW, db for a fixed upstream gradient gy (chainrule y.backward(gy); TF.js
 * tf.grads with dy, NHWC with the data transposed outside the timing; jax-js one jit of
 * grad(Σ y·gy)). Checked: dx, dW, db.
 */
function convLayerRow(batch: number, cin: number, cout: number, hw: number, seed: number): Row {
  const k = 1 / Math.sqrt(cin * 9);
  const xData = randomData(batch * cin * hw * hw, seed, -1, 1);
  const wData = randomData(cout * cin * 9, seed + 1, -k, k);
  const bData = randomData(cout, seed + 2, -k, k);
  const gyData = randomData(batch * cout * hw * hw, seed + 3, -1, 1);
  const xShape = [batch, cin, hw, hw], wShape = [cout, cin, 3, 3], yShape = [batch, cout, hw, hw];
  const crCase = (): Case => {
    const x = crTensor(xData, xShape, true);
    const w = crTensor(wData, wShape, true);
    const b = crTensor(bData, [cout], true);
    const gy = crTensor(gyData, yShape);
    const go = (): void => {
      x.zeroGrad();
      w.zeroGrad();
      b.zeroGrad();
      cr.conv2d(x, w, b, { padding: 1 }).backward(gy);
    };
    return {
      async output() {
        cr.tidy(go);
        return concat([await crRead(x.grad!), await crRead(w.grad!), await crRead(b.grad!)]);
      },
      async batch(k) {
        for (let i = 0; i < k; i++) cr.tidy(go);
        await b.grad!.dataAsync();
      },
      dispose: () => cr.dispose(x, w, b, gy),
    };
  };
  return {
    id: "conv/layer",
    name: `conv layer fwd+bwd (dx, dW, db) f32 [${xShape.join(",")}] → ${cout} channels, 3×3, pad 1`,
    kind: "ms",
    segments: [xData.length, wData.length, cout],
    check: "dx, dW, db, each on its own scale, against chainrule js",
    async reference() {
      useBackend("js");
      const c = crCase();
      try {
        return await c.output();
      } finally {
        c.dispose();
      }
    },
    make(lib) {
      if (lib === "chainrule") return crCase();
      if (lib === "jax") {
        const np = jax.numpy;
        type P = { x: jax.Array; w: jax.Array; b: jax.Array };
        const p: P = { x: np.array(xData).reshape(xShape), w: np.array(wData).reshape(wShape), b: np.array(bData) };
        const gy = np.array(gyData).reshape(yShape);
        const f = (q: P, g: jax.Array): jax.Array => np.sum(jax.lax.conv(q.x, q.w, [1, 1], [[1, 1], [1, 1]]).add(q.b.reshape([1, cout, 1, 1])).mul(g));
        const step = jax.jit((q: P, g: jax.Array) => jax.grad(f)(q, g) as P);
        return {
          async output() {
            const d = step(jax.tree.ref(p), gy.ref);
            const parts = await Promise.all([d.x.data(), d.w.data(), d.b.data()]);
            return concat(parts as Float32Array[]);
          },
          async batch(k) {
            const outs: P[] = [];
            for (let i = 0; i < k; i++) outs.push(step(jax.tree.ref(p), gy.ref));
            await jaxFinish(outs, (l) => l.b, (l) => (l.x.dispose(), l.w.dispose()));
          },
          dispose: () => (jax.tree.dispose(p), gy.dispose(), step.dispose()),
        };
      }
      const x = tf.tensor4d(toChannelsLast(xData, xShape, false), [batch, hw, hw, cin]);
      const w = tf.tensor4d(toChannelsLast(wData, wShape, true), [3, 3, cin, cout]);
      const b = tf.tensor1d(bData);
      const gy = tf.tensor4d(toChannelsLast(gyData, yShape, false), [batch, hw, hw, cout]);
      const grads = tf.grads((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => tf.add(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 1, "same"), bi));
      return {
        async output() {
          const [dx, dw, db] = grads([x, w, b], gy);
          const out = concat([fromChannelsLast(await tfRead(dx!), xShape, false), fromChannelsLast(await tfRead(dw!), wShape, true), await tfRead(db!)]);
          tf.dispose([dx!, dw!, db!]);
          return out;
        },
        async batch(k) {
          for (let i = 0; i < k - 1; i++) tf.tidy(() => void grads([x, w, b], gy));
          const r = grads([x, w, b], gy);
          await r[2]!.data();
          tf.dispose(r);
        },
        dispose: () => tf.dispose([x, w, b, gy]),
      };
    },
  };
}

/** bench/core.ts's CONV_LR (plain SGD, as its convnet rows). */
const CONV_LR = 0.01;

/**
 * conv/lenet/64 as bench/core.ts: x [64,1,28,28] → conv 1→16 3×3 pad 1 → ReLU → max pool 2 →
 * conv 16→32 → ReLU → max pool 2 → flatten (32·7·7) → linear 128 → ReLU → linear 10, softmax CE,
 * plain SGD (lr 0.01), one whole step; checked: the loss and each parameter's (θ₀ − θ₁)/lr.
 */
function convNetRow(id: string, label: string, batch: number, cin: number, hw: number, widths: [number, number, number], seed: number): Row {
  const [c1, c2, nh] = widths;
  const flat = c2 * (hw / 4) ** 2;
  const shapes = [[c1, cin, 3, 3], [c1], [c2, c1, 3, 3], [c2], [flat, nh], [nh], [nh, 10], [10]];
  const y = new Int32Array(batch);
  const u = randomData(batch, seed, 0, 10);
  for (let i = 0; i < batch; i++) y[i] = Math.min(9, Math.floor(u[i]!));
  const fanIn = [cin * 9, cin * 9, c1 * 9, c1 * 9, flat, flat, nh, nh];
  const params = shapes.map((sh, i) => {
    const k = 1 / Math.sqrt(fanIn[i]!);
    return randomData(sh.reduce((a, b) => a * b, 1), seed + 1 + i, -k, k);
  });
  const xData = randomData(batch * cin * hw * hw, seed + 20, 0, 1);
  const crCase = (): Case => {
    const x = crTensor(xData, [batch, cin, hw, hw]);
    const yt = cr.tensor(y, { shape: [batch], dtype: "int32" });
    const ps = params.map((d, i) => crTensor(d, shapes[i]!, true));
    const [w1, b1, w2, b2, w3, b3, w4, b4] = ps as [cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor];
    const opt = new cr.optim.SGD(ps, { lr: CONV_LR });
    const step = (): cr.Tensor => {
      opt.zeroGrad();
      let h = cr.maxPool2d(cr.conv2d(x, w1, b1, { padding: 1 }).relu(), { kernelSize: 2 });
      h = cr.maxPool2d(cr.conv2d(h, w2, b2, { padding: 1 }).relu(), { kernelSize: 2 });
      const logits = h.reshape([batch, flat]).matmul(w3).add(b3).relu().matmul(w4).add(b4);
      const loss = cr.nn.functional.crossEntropy(logits, yt);
      loss.backward();
      opt.step();
      return loss.detach();
    };
    return {
      async output() {
        const l = cr.tidy(step);
        const loss = await l.itemAsync();
        cr.dispose(l);
        return stepsOutput([loss], params, await Promise.all(ps.map(crRead)), CONV_LR);
      },
      async batch(k) {
        for (const _ of cr.tidyEach(Array.from({ length: k - 1 }))) step();
        const l = cr.tidy(step);
        await l.dataAsync();
        cr.dispose(l);
      },
      dispose: () => cr.dispose(x, yt, ps),
    };
  };
  return {
    id,
    name: `${label} train step: [${batch},${cin},${hw},${hw}] conv ${cin}→${c1} ReLU pool, conv ${c1}→${c2} ReLU pool, linear ${flat}→${nh} ReLU→10, softmax CE, SGD`,
    kind: "ms",
    segments: [1, ...params.map((p) => p.length)],
    check: "the loss and each parameter's (θ₀ − θ₁)/lr, each on its own scale, against chainrule js",
    async reference() {
      useBackend("js");
      const c = crCase();
      try {
        return await c.output();
      } finally {
        c.dispose();
      }
    },
    make(lib) {
      if (lib === "chainrule") return crCase();
      if (lib === "jax") {
        const np = jax.numpy;
        let p = params.map((d, i) => np.array(d).reshape(shapes[i]!));
        const x = np.array(xData).reshape([batch, cin, hw, hw]);
        const yb = np.array(oneHot(y, 10)).reshape([batch, 10]);
        const pool = (h: jax.Array, c: number, s: number): jax.Array => h.reshape([batch, c, s / 2, 2, s / 2, 2]).max([3, 5]);
        const loss = (q: jax.Array[], xb: jax.Array, ybb: jax.Array): jax.Array => {
          const pad: [number, number][] = [[1, 1], [1, 1]];
          let h = pool(jax.nn.relu(jax.lax.conv(xb, q[0]!, [1, 1], pad).add(q[1]!.reshape([1, c1, 1, 1]))), c1, hw);
          h = pool(jax.nn.relu(jax.lax.conv(h, q[2]!, [1, 1], pad).add(q[3]!.reshape([1, c2, 1, 1]))), c2, hw / 2);
          const logits = np.matmul(jax.nn.relu(np.matmul(h.reshape([batch, flat]), q[4]!).add(q[5]!)), q[6]!).add(q[7]!);
          return np.sum(jax.nn.logSoftmax(logits, -1).mul(ybb)).mul(-1 / batch);
        };
        const step = jax.jit((q: jax.Array[], xb: jax.Array, ybb: jax.Array) => {
          const [l, g] = jax.valueAndGrad(loss)(jax.tree.ref(q), xb, ybb);
          const next = jax.tree.map((v: jax.Array, d: jax.Array) => v.sub(d.mul(CONV_LR)), q, g as jax.Array[]);
          return [l, next] as [jax.Array, jax.Array[]];
        });
        const go = (): jax.Array => {
          const [l, next] = step(p, x.ref, yb.ref);
          p = next;
          return l;
        };
        return {
          async output() {
            const l = ((await go().data()) as Float32Array)[0]!;
            const after = await Promise.all(p.map((t) => t.ref.data()));
            return stepsOutput([l], params, after as Float32Array[], CONV_LR);
          },
          async batch(k) {
            const outs: jax.Array[] = [];
            for (let i = 0; i < k; i++) outs.push(go());
            await jax.blockUntilReady(p);
            await jaxFinish(outs, (l) => l, () => {});
          },
          dispose: () => (x.dispose(), yb.dispose(), jax.tree.dispose(p), step.dispose()),
        };
      }
      const x = tf.tensor4d(toChannelsLast(xData, [batch, cin, hw, hw], false), [batch, hw, hw, cin]);
      const yt = tf.tensor2d(oneHot(y, 10), [batch, 10]);
      const vars = [
        tfVariable(toChannelsLast(params[0]!, shapes[0]!, true), [3, 3, cin, c1]), tfVariable(params[1]!, [c1]),
        tfVariable(toChannelsLast(params[2]!, shapes[2]!, true), [3, 3, c1, c2]), tfVariable(params[3]!, [c2]),
        tfVariable(params[4]!, [flat, nh]), tfVariable(params[5]!, [nh]),
        tfVariable(params[6]!, [nh, 10]), tfVariable(params[7]!, [10]),
      ];
      const [w1, b1, w2, b2, w3, b3, w4, b4] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const opt = tf.train.sgd(CONV_LR);
      const loss = (): tf.Scalar => {
        let h = tf.maxPool(tf.relu(tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 1, "same"), b1)) as tf.Tensor4D, 2, 2, "valid");
        h = tf.maxPool(tf.relu(tf.add(tf.conv2d(h, w2 as tf.Tensor4D, 1, "same"), b2)) as tf.Tensor4D, 2, 2, "valid");
        // NHWC → NCHW before the flatten, so that W3's rows mean what they mean elsewhere.
        const features = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batch, flat]);
        return tf.losses.softmaxCrossEntropy(yt, tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(features, w3), b3)), w4), b4));
      };
      return {
        async output() {
          const l = opt.minimize(loss, true, vars)!;
          const lv = (await tfRead(l))[0]!;
          l.dispose();
          const after = await Promise.all(vars.map(async (v, i) => (i === 0 || i === 2 ? fromChannelsLast(await tfRead(v), shapes[i]!, true) : tfRead(v))));
          return stepsOutput([lv], params, after, CONV_LR);
        },
        async batch(k) {
          for (let i = 0; i < k - 1; i++) tf.tidy(() => void opt.minimize(loss, false, vars));
          const l = tf.tidy(() => opt.minimize(loss, true, vars)!);
          await l.data();
          l.dispose();
        },
        dispose: () => (tf.dispose([x, yt, ...vars]), opt.dispose()),
      };
    },
  };
}

export const ROW_IDS = ["matmul/256", "matmul/512", "matmul/1024", "matmul/2048", "matmul/4096", "train/784-256-10/128", "train/784-256-10/512", "conv/layer", "conv/lenet/64"];

function rows(): Row[] {
  return [
    matmulRow(256),
    matmulRow(512),
    matmulRow(1024),
    matmulRow(2048),
    matmulRow(4096),
    trainRow(128, 31),
    trainRow(512, 41),
    convLayerRow(32, 16, 32, 32, 61),
    convNetRow("conv/lenet/64", "LeNet-style (MNIST-shaped)", 64, 1, 28, [16, 32, 128], 71),
  ];
}

// ------------------------------------------------------------------ libraries

function describeAdapter(info: GPUAdapterInfo | undefined): string {
  if (!info) return "no adapter info";
  return [info.vendor, info.architecture, info.description || info.device].filter((s) => s).join(" / ") || "(empty adapter info)";
}

async function initLibraries(out: BenchResult, log: (s: string) => void): Promise<Set<Lib>> {
  const have = new Set<Lib>();
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
  if (adapter) {
    const info = adapter.info;
    out.adapter = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
      features: [...adapter.features].sort(),
    };
  }
  try {
    await cr.backendReady("webgpu");
    have.add("chainrule");
    // The name its runtime built from adapter.info (vendor, architecture, description or device).
    cr.setBackend("webgpu");
    const name = (cr.getBackend() as unknown as { rt?: { adapterName?: string } }).rt?.adapterName;
    cr.setBackend("js");
    out.libraryAdapters.chainrule = name ?? "(not reported)";
  } catch (e) {
    out.unavailable.chainrule = e instanceof Error ? e.message : String(e);
  }
  try {
    tf.enableProdMode();
    // Registered here, not at the top: the package registers its backend only where
    // navigator.gpu exists when it is loaded (in Node, bench/webgpu.ts provides it first).
    await import("@tensorflow/tfjs-backend-webgpu");
    if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') returned false");
    await tf.ready();
    const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
    out.libraryAdapters.tfjs = [info?.vendor, info?.architecture].filter((s) => s).join(" / ") || "(no adapter info)";
    out.versions.tfjs = tf.version_core;
    have.add("tfjs");
  } catch (e) {
    out.unavailable.tfjs = e instanceof Error ? e.message : String(e);
  }
  try {
    const devices = await jax.init("webgpu");
    if (!devices.includes("webgpu")) throw new Error(`jax.init("webgpu") returned [${devices.join(", ")}]`);
    jax.defaultDevice("webgpu");
    const dev = jax.getWebGPUDevice() as GPUDevice & { adapterInfo?: GPUAdapterInfo };
    out.libraryAdapters.jax = describeAdapter(dev.adapterInfo);
    have.add("jax");
  } catch (e) {
    out.unavailable.jax = e instanceof Error ? e.message : String(e);
  }
  log(`libraries: ${[...have].join(", ") || "none"}${Object.keys(out.unavailable).length ? `; unavailable: ${JSON.stringify(out.unavailable)}` : ""}`);
  return have;
}

// ------------------------------------------------------------------ main

export async function runBench(cfg: BenchConfig, log: (s: string) => void, versions: Record<string, string> = {}): Promise<BenchResult> {
  const started = now();
  const out: BenchResult = {
    environment: typeof document !== "undefined" ? `browser: ${navigator.userAgent}` : "node",
    libraryAdapters: {},
    unavailable: {},
    versions: { ...versions },
    rows: [],
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
    seconds: 0,
  };
  const have = await initLibraries(out, log);
  if (!have.has("chainrule")) {
    out.error = `chainrule's webgpu backend is unavailable: ${out.unavailable.chainrule}`;
    return out;
  }
  /** Each library's last matmul: n and ms per iteration (measured, or extrapolated where skipped). */
  const lastMatmul: Partial<Record<Lib, { n: number; ms: number; measured: boolean }>> = {};
  const selected = rows().filter((r) => cfg.filters.length === 0 || cfg.filters.some((f) => r.id.toLowerCase().includes(f.toLowerCase())));
  for (const row of selected) {
    const res: RowResult = { id: row.id, name: row.name, kind: row.kind, check: row.check, cells: {}, ...(row.flops ? { flops: row.flops } : {}) };
    out.rows.push(res);
    let reference: Float32Array | undefined;
    try {
      await settle();
      const t0 = now();
      reference = await row.reference();
      res.referenceMs = now() - t0;
      log(`${row.id} | reference (chainrule js): ${res.referenceMs.toFixed(0)} ms`);
    } catch (e) {
      res.referenceError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      log(`${row.id} | reference FAILED: ${res.referenceError}`);
    }
    for (const lib of LIBS) {
      if (!have.has(lib)) {
        res.cells[lib] = { skipped: out.unavailable[lib] ?? "unavailable" };
        continue;
      }
      const cell: CellResult = {};
      res.cells[lib] = cell;
      const n = row.kind === "matmul" ? Number(row.id.split("/")[1]) : 0;
      const prev = lastMatmul[lib];
      if (n && prev && cfg.maxIterationMs !== undefined) {
        const est = prev.ms * (n / prev.n) ** 3;
        if (est > cfg.maxIterationMs) {
          cell.notRun = `about ${(est / 1000).toFixed(0)} s per iteration, extrapolated (×(n/${prev.n})³) from its ${prev.measured ? "" : "extrapolated "}${(prev.ms / 1000).toFixed(1)} s at n = ${prev.n}, past the ${(cfg.maxIterationMs / 1000).toFixed(0)} s per iteration that keeps a run near 5 minutes (--max-iteration-s raises it)`;
          lastMatmul[lib] = { n, ms: est, measured: false };
          log(`${row.id} | ${lib}: not run (${cell.notRun})`);
          continue;
        }
      }
      if (lib === "chainrule") useBackend("webgpu");
      await settle();
      const tfBefore = tf.memory().numTensors;
      let c: Case | undefined;
      try {
        c = row.make(lib);
        const t0 = now();
        const got = await c.output();
        const checkMs = now() - t0;
        if (reference) cell.relErr = relDiff(reference, row.compared ? row.compared(got) : got, row.segments);
        const before = lib === "chainrule" ? cr.memoryStats().webgpu : undefined;
        const liveBefore = before?.liveBuffers;
        const counts = before ? { dispatches: before.dispatches, submits: before.submits } : undefined;
        const t = await timeCase(c, checkMs);
        Object.assign(cell, t);
        const after = lib === "chainrule" ? cr.memoryStats().webgpu : undefined;
        if (counts && after) {
          // Counted over the warm-up iteration too (when there was one): every call of batch().
          const iterations = t.batches * t.k + (checkMs < METHOD.LONG_MS ? 1 : 0);
          cell.perIteration = { dispatches: (after.dispatches - counts.dispatches) / iterations, submits: (after.submits - counts.submits) / iterations, liveBefore: liveBefore!, liveAfter: after.liveBuffers };
        }
        if (n) lastMatmul[lib] = { n, ms: t.medianMs, measured: true };
        const liveAfter = lib === "chainrule" ? cr.memoryStats().webgpu?.liveBuffers : undefined;
        if (liveBefore !== undefined && liveAfter !== undefined && liveAfter > liveBefore) {
          (cell.notes ??= []).push(`chainrule's live GPU buffers grew from ${liveBefore} to ${liveAfter} over the timed batches`);
        }
        log(`${row.id} | ${lib}: ${t.medianMs.toFixed(3)} ms/iter (median of ${t.batches} batches × ${t.k}; checked call ${checkMs.toFixed(0)} ms)${cell.relErr === undefined ? "" : `, rel. diff ${cell.relErr.toExponential(1)}`}`);
      } catch (e) {
        cell.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        log(`${row.id} | ${lib}: FAILED: ${cell.error}`);
      } finally {
        try {
          c?.dispose();
        } catch (e) {
          (cell.notes ??= []).push(`dispose failed: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (lib === "chainrule") useBackend("js");
      }
      const leaked = tf.memory().numTensors - tfBefore;
      if (leaked !== 0) (cell.notes ??= []).push(`left ${leaked} TF.js tensors undisposed`);
    }
  }
  out.seconds = (now() - started) / 1000;
  return out;
}

// In the page (not when bench/webgpu.ts imports this file in Node): run with the driver's config.
if (typeof document !== "undefined") {
  const w = window as unknown as { __config?: BenchConfig; __result?: BenchResult | { error: string } };
  const cfg: BenchConfig = w.__config ?? (JSON.parse(decodeURIComponent(location.hash.slice(1)) || "{}") as BenchConfig);
  // CHAINRULE_WEBGPU_MATMUL=tiles|registers picks chainrule's matmul kernel (webgpuTuning).
  const choice = (cfg as { matmul?: string }).matmul;
  if (choice === "tiles" || choice === "registers") webgpuTuning.matmul = choice;
  runBench({ filters: cfg.filters ?? [], ...(cfg.maxIterationMs !== undefined ? { maxIterationMs: cfg.maxIterationMs } : {}) }, (s) => console.log(`[bench] ${s}`))
    .then((r) => (w.__result = r))
    .catch((e: unknown) => (w.__result = { error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e) }));
}
