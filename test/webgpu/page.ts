/**
 * Runs in Chromium with WebGPU (test/webgpu.test.ts bundles it with esbuild and starts Chromium
 * with --enable-unsafe-webgpu: SwiftShader, a CPU implementation of WebGPU, on machines without
 * a GPU). Every case computes the same thing under setBackend("js") — the reference — and
 * under setBackend("webgpu"), from the same seeded inputs, forward values and gradients, and
 * records the largest difference. Writes `window.__result`.
 */
import * as cr from "../../src/index.js";
import { Generator, backendReady, getBackend, memoryStats, nn, optim, setBackend, tensor, tidy, tidyEach } from "../../src/index.js";
import { cases, type ParityCase } from "./cases.js";
// The Trainer is exported from "chainrule/node" (checkpoints write files); without a checkpointDir
// it never touches the file system, so the page bundles it with node:fs/node:path stubbed.
import { Trainer } from "../../src/train/index.js";

interface CaseResult {
  name: string;
  /** Largest |js − webgpu| / (atol + rtol·|js|) over every output (≤ 1 passes). */
  worst: number;
  detail: string;
  error?: string;
}

function compare(name: string, ref: ArrayLike<number>, got: ArrayLike<number>, atol: number, rtol: number): { worst: number; detail: string } {
  if (ref.length !== got.length) return { worst: Infinity, detail: `${name}: lengths ${ref.length} and ${got.length}` };
  let worst = 0;
  let detail = "";
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i]!, b = got[i]!;
    let r: number;
    if (Number.isNaN(a) || !Number.isFinite(a)) r = Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) ? 0 : Infinity;
    else r = Math.abs(a - b) / (atol + rtol * Math.abs(a));
    if (!(r <= worst)) {
      worst = Number.isNaN(r) ? Infinity : r;
      detail = `${name}[${i}]: js ${a}, webgpu ${b}`;
    }
  }
  return { worst, detail };
}

async function runCase(c: ParityCase): Promise<CaseResult> {
  const outputs = async (backend: string): Promise<Storage[]> => {
    setBackend(backend);
    const outs = c.run(new Generator(c.seed ?? 7));
    const host: Storage[] = [];
    for (const t of outs) host.push(Float64Array.from(await t.dataAsync()));
    return host;
  };
  try {
    const ref = await outputs("js");
    const got = await outputs("webgpu");
    let worst = 0;
    let detail = "";
    ref.forEach((r, k) => {
      const cmp = compare(`output ${k}`, r, got[k]!, c.atol ?? 1e-5, c.rtol ?? 1e-4);
      if (!(cmp.worst <= worst)) ({ worst, detail } = cmp);
    });
    return { name: c.name, worst, detail };
  } catch (e) {
    return { name: c.name, worst: Infinity, detail: "", error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split("\n").slice(1, 4).join("\n")}` : String(e) };
  } finally {
    setBackend("js");
  }
}
type Storage = Float64Array;

/** What the API does on the device: sync reads fail naming the async form; float64 is refused. */
async function apiChecks(): Promise<Record<string, unknown>> {
  setBackend("webgpu");
  const r: Record<string, unknown> = {};
  const x = tensor([1, 2, 3]).mul(2);
  const message = (f: () => unknown): string => {
    try {
      f();
      return "no error";
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  };
  r.onDevice = x.onDevice;
  r.dataError = message(() => x.data);
  r.itemError = message(() => x.sum().item());
  r.toArrayError = message(() => x.toArray());
  r.float64Error = message(() => cr.zeros([2], { dtype: "float64" }));
  r.values = Array.from(await x.dataAsync());
  r.item = await x.sum().itemAsync();
  r.nested = await tensor([[1, 2], [3, 4]]).add(1).toArrayAsync();
  r.printed = String(x);
  setBackend("js");
  return r;
}

/**
 * Training steps on the device (600 by default, ?steps=N: the test passes CHAINRULE_WEBGPU_STEPS,
 * e.g. 10000): memory stays flat (buffers reused), one submit per step. Sampled 10 times.
 */
async function memoryCheck(): Promise<Record<string, unknown>> {
  setBackend("webgpu");
  const g = new Generator(3);
  const model = new nn.Sequential(new nn.Linear(16, 32, { generator: g }), new nn.ReLU(), new nn.Linear(32, 4, { generator: g }));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  const xs = cr.randn([320, 16], { generator: g });
  const ys = tensor(Array.from({ length: 320 }, (_, i) => i % 4), { dtype: "int32" });
  const loader = new cr.data.DataLoader(new cr.data.TensorDataset(xs, ys), { batchSize: 32, shuffle: true, seed: 4 });
  const created: number[] = [];
  const live: number[] = [];
  const bytes: number[] = [];
  const submits: number[] = [];
  const losses: number[] = [];
  const t0 = performance.now();
  let steps = 0;
  let syncMs = 0;
  const total = Number(new URLSearchParams(location.search).get("steps") ?? 600);
  const every = total / 10;
  for (let epoch = 0; steps < total; epoch++) {
    loader.setEpoch(epoch);
    let last: Promise<number> | undefined;
    for (const [x, y] of tidyEach(loader)) {
      const s0 = performance.now();
      opt.zeroGrad(false);
      const l = nn.functional.crossEntropy(model.forward(x!), y!);
      l.backward();
      opt.step();
      steps++;
      syncMs += performance.now() - s0;
      if (steps % every === 0) last = l.itemAsync();
    }
    if (last) {
      losses.push(await last);
      console.log(`memory check: ${steps} steps, ${((performance.now() - t0) / steps).toFixed(2)} ms/step, ${(syncMs / steps).toFixed(2)} ms/step queueing (JS), ${memoryStats().webgpu!.dispatches} dispatches`);
      const s = memoryStats().webgpu!;
      created.push(s.createdBuffers);
      live.push(s.liveBuffers);
      bytes.push(s.allocatedBytes);
      submits.push(s.submits);
    }
  }
  setBackend("js");
  return { steps, created, live, bytes, submits, losses, msPerStep: (performance.now() - t0) / steps };
}

/** Trainer.fitAsync and evaluateAsync on webgpu against fit() on js: the same history. */
async function trainerCheck(): Promise<Record<string, unknown>> {
  const make = (): { trainer: Trainer; val: cr.data.DataLoader } => {
    const g = new Generator(11);
    const xs = cr.randn([300, 16], { generator: g });
    const ys = tensor(Array.from({ length: 300 }, (_, i) => (i * 7) % 4), { dtype: "int32" });
    const ds = new cr.data.TensorDataset(xs, ys);
    const model = new nn.Sequential(new nn.Linear(16, 24, { generator: g }), new nn.ReLU(), new nn.Linear(24, 4, { generator: g }));
    const val = new cr.data.DataLoader(ds, { batchSize: 100 });
    const trainer = new Trainer({
      model, loss: (o, y) => nn.functional.crossEntropy(o, y), optimizer: new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }),
      trainLoader: new cr.data.DataLoader(ds, { batchSize: 32, shuffle: true, seed: 5 }), valLoader: val, epochs: 3, progress: "none", gradClipNorm: 5,
      log: () => {}, stream: { write: () => true, isTTY: false } as never,
    });
    return { trainer, val };
  };
  setBackend("js");
  const a = make();
  const ref = a.trainer.fit();
  const refEval = a.trainer.evaluate(a.val);
  setBackend("webgpu");
  const b = make();
  let syncError = "";
  try {
    b.trainer.evaluate(b.val);
  } catch (e) {
    syncError = `${(e as Error).name}: ${(e as Error).message}`;
  }
  const got = await b.trainer.fitAsync();
  const gotEval = await b.trainer.evaluateAsync(b.val);
  setBackend("js");
  const steps = ref.steps.loss.map((v, i) => Math.abs(v - got.steps.loss[i]!) / (1e-4 + 1e-3 * Math.abs(v)));
  return {
    steps: ref.steps.loss.length, gotSteps: got.steps.loss.length, worstStep: Math.max(...steps),
    valAcc: [ref.epochs.map((e) => e.valAccuracy), got.epochs.map((e) => e.valAccuracy)],
    evalLoss: [refEval.loss, gotEval.loss], evalAcc: [refEval.accuracy, gotEval.accuracy], syncError,
  };
}

/** A lost device (here: destroyed) gives a DeviceError naming it, and backendReady opens a new one. */
async function lostCheck(): Promise<Record<string, unknown>> {
  setBackend("webgpu");
  const x = tensor([1, 2, 3]);
  const be = getBackend() as unknown as { rt: { device: GPUDevice; lost?: string } };
  be.rt.device.destroy();
  for (let i = 0; i < 50 && be.rt.lost === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  let error = "";
  try {
    x.mul(2);
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`;
  }
  setBackend("js");
  await backendReady("webgpu");
  setBackend("webgpu");
  const again = Array.from(await tensor([1, 2, 3]).mul(2).dataAsync());
  setBackend("js");
  return { error, again };
}

async function run(): Promise<Record<string, unknown>> {
  try {
    await backendReady("webgpu");
  } catch (e) {
    return { error: `no webgpu: ${(e as Error).message}` };
  }
  const backend = getBackend();
  void backend;
  const results: CaseResult[] = [];
  for (const c of cases) results.push(await runCase(c));
  const guard = async (f: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> => {
    try {
      return await f();
    } catch (e) {
      setBackend("js");
      return { error: String((e as Error).stack ?? e) };
    }
  };
  const out = { results, api: await guard(apiChecks), memory: await guard(memoryCheck), trainer: await guard(trainerCheck), tidyKept: tidy(() => 1), lost: await guard(lostCheck) };
  return out;
}

run().then(
  (r) => ((window as unknown as { __result: unknown }).__result = r),
  (e) => ((window as unknown as { __result: unknown }).__result = { error: String(e?.stack ?? e) }),
);
