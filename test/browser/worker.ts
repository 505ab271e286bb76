/**
 * Runs in a Web Worker of the cross-origin-isolated test page (test/browser/page.ts starts it):
 * the wasm backend's own workers, spawned from a worker, start once this worker yields; the first
 * large matmul must not wait for them (it runs on one thread), later ones use them.
 */
import { backendReady, getNumThreads, manualSeed, randn, setNumThreads } from "../../src/index.js";
import { threadStats, threadsUnavailableReason } from "../../src/backend/wasm/threads.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

self.onmessage = async () => {
  await backendReady();
  setNumThreads(2);
  manualSeed(2);
  const a = randn([256, 300]);
  const b = randn([300, 200]);
  const start = performance.now();
  const first = Float32Array.from(a.matmul(b).data);
  const firstMs = performance.now() - start;
  let later = first;
  for (let i = 0; i < 100 && threadStats.matmuls === 0; i++) {
    await sleep(20);
    later = Float32Array.from(a.matmul(b).data);
  }
  postMessage({ firstMs, threads: getNumThreads(), threadedMatmuls: threadStats.matmuls, sameAsFirst: first.every((v, i) => Object.is(v, later[i])), threadsOff: threadsUnavailableReason() ?? null });
};
