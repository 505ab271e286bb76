/**
 * Runs in Chromium (test/browser.test.ts bundles it with esbuild for the browser): the wasm
 * backend in a real page, cross-origin isolated (tensors in shared WebAssembly memory, matmuls
 * on Web Workers) or not (one thread, tensors in JavaScript arrays). Writes its findings to
 * `window.__result`.
 */
import { backendReady, getBackend, getNumThreads, memoryStats, randn, manualSeed, setBackend, setNumThreads, tidy, nn, tensor } from "../../src/index.js";
import { threadStats, threadsUnavailableReason } from "../../src/backend/wasm/threads.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function run(): Promise<Record<string, unknown>> {
  await backendReady();
  const result: Record<string, unknown> = {
    isolated: globalThis.crossOriginIsolated === true,
    backend: getBackend().name,
    threads: getNumThreads(),
    threadsOff: threadsUnavailableReason() ?? null,
  };
  manualSeed(1);
  const a = randn([256, 300]);
  const b = randn([300, 200]);
  result.resident = typeof SharedArrayBuffer === "function" && a.data.buffer instanceof SharedArrayBuffer;

  setNumThreads(1);
  const one = Float32Array.from(a.matmul(b).data);
  setNumThreads(Math.max(2, navigator.hardwareConcurrency || 2));
  // The first large product spawns the workers; they start once this thread yields.
  let many = Float32Array.from(a.matmul(b).data);
  for (let i = 0; i < 100 && threadStats.matmuls === 0; i++) {
    await sleep(20);
    many = Float32Array.from(a.matmul(b).data);
  }
  result.threadedMatmuls = threadStats.matmuls;
  result.sameAsOneThread = one.every((v, i) => Object.is(v, many[i]));

  setBackend("js");
  const ref = a.matmul(b).data;
  setBackend("wasm");
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i]! - one[i]!) / (1 + Math.abs(ref[i]!)));
  result.maxRelDiffVsJs = worst;

  // A few training steps in tidy(): memory stays put.
  const model = new nn.Sequential(new nn.Linear(300, 64), new nn.ReLU(), new nn.Linear(64, 10));
  const y = tensor(Array.from({ length: 256 }, (_, i) => i % 10), { dtype: "int32" });
  const live: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s < 6; s++) {
    losses.push(
      tidy(() => {
        model.zeroGrad();
        const loss = nn.functional.crossEntropy(model.forward(a), y);
        loss.backward();
        for (const p of model.parameters()) p.data.set(p.data.map((v, i) => v - 0.1 * p.grad!.data[i]!));
        return loss.item();
      }),
    );
    live.push(memoryStats().liveBlocks);
  }
  result.losses = losses;
  result.liveBlocks = live;
  if (result.isolated) {
    const worker = new Worker("worker.js", { type: "module" });
    result.inWorker = await new Promise((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(`worker: ${e.message}`));
      worker.postMessage(null);
    });
    worker.terminate();
  }
  return result;
}

run().then(
  (r) => ((window as unknown as { __result: unknown }).__result = r),
  (e: unknown) => ((window as unknown as { __result: unknown }).__result = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }),
);
