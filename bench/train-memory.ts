/**
 * Memory over a long training loop: a 784→256 ReLU→10 MLP (nn.mlp), softmax cross-entropy, plain
 * SGD, batches of 128 from a DataLoader over 1,280 random samples (10 batches per epoch, shuffled),
 * with no dispose calls: either each iteration in its own memory scope (`tidyEach(loader)`) with
 * gradients zeroed in place (`--tidy`: what the Trainer does), or the plain loop with nothing at
 * all. Samples
 * process.memoryUsage() (rss, heapUsed, arrayBuffers, external) and, where chainrule has it,
 * memoryStats(), before the first step and after every tenth of the run. No forced GC: what a
 * sample shows is what the process holds at that moment.
 *
 *   npx tsx bench/train-memory.ts [steps] [--tidy] [--yield] [--json]
 *
 * steps: 10,000 by default. --yield: `await new Promise(setImmediate)` after every step (gives
 * the event loop a turn, e.g. for FinalizationRegistry callbacks); without it the loop never
 * yields. --json: one JSON object on stdout (what `npm run bench -- memory` reads: it runs this
 * file, bundled, in a child process so that the peers' memory does not show).
 */
import * as cr from "../src/node.js";

export interface MemorySample {
  step: number;
  /** ms since the loop started. */
  ms: number;
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  external: number;
  /** memoryStats()'s numeric fields (nested objects flattened to "a.b"), where it exists. */
  stats?: Record<string, number>;
}

export interface MemoryRun {
  steps: number;
  /** Each step in tidy() with zeroGrad(false), as the Trainer runs it. */
  tidy: boolean;
  yielded: boolean;
  threads: number;
  backend: string;
  finalLoss: number;
  seconds: number;
  samples: MemorySample[];
}

/** memoryStats()'s numeric fields, flattened; undefined where chainrule has no memoryStats. */
function stats(): Record<string, number> | undefined {
  const fn = (cr as unknown as { memoryStats?: () => unknown }).memoryStats;
  if (typeof fn !== "function") return undefined;
  const out: Record<string, number> = {};
  const walk = (v: unknown, key: string): void => {
    if (typeof v === "number" || typeof v === "bigint") out[key] = Number(v);
    else if (typeof v === "boolean") out[key] = v ? 1 : 0;
    else if (v && typeof v === "object") for (const [k, w] of Object.entries(v)) walk(w, key ? `${key}.${k}` : k);
  };
  walk(fn(), "");
  return out;
}

export async function trainMemory(totalSteps: number, yieldEach: boolean, tidy: boolean): Promise<MemoryRun> {
  const every = Math.max(1, Math.round(totalSteps / 10));
  const batch = 128;
  cr.manualSeed(0);
  const x = cr.rand([batch * 10, 784]);
  const y = cr.randint(0, 10, [batch * 10], { dtype: "int32" });
  const loader = new cr.data.DataLoader(new cr.data.TensorDataset(x, y), { batchSize: batch, shuffle: true, seed: 1 });
  const model = cr.nn.mlp([784, 256, 10]);
  const opt = new cr.optim.SGD(model.parameters(), { lr: 0.05 });
  const samples: MemorySample[] = [];
  const start = performance.now();
  const sample = (step: number): void => {
    const m = process.memoryUsage();
    const s = stats();
    samples.push({ step, ms: performance.now() - start, rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external, ...(s ? { stats: s } : {}) });
  };
  sample(0);
  let step = 0;
  let loss = NaN;
  while (step < totalSteps) {
    // With --tidy: each iteration (the batch and the step) in its own memory scope, as the Trainer runs it.
    for (const [xb, yb] of tidy ? cr.tidyEach(loader) : loader) {
      opt.zeroGrad(!tidy);
      const l = cr.nn.functional.crossEntropy(model.forward(xb), yb);
      l.backward();
      opt.step();
      const value = l.item();
      step++;
      if (step % every === 0 || step === totalSteps) {
        loss = value;
        sample(step);
      }
      if (yieldEach) await new Promise(setImmediate);
      if (step >= totalSteps) break;
    }
  }
  return { steps: totalSteps, tidy, yielded: yieldEach, threads: cr.getNumThreads(), backend: cr.getBackend().name, finalLoss: loss, seconds: (performance.now() - start) / 1000, samples };
}

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

const args = process.argv.slice(2);
const run = await trainMemory(Number(args.find((a) => /^\d+$/.test(a)) ?? 10_000), args.includes("--yield"), args.includes("--tidy"));
if (args.includes("--json")) {
  process.stdout.write(JSON.stringify(run) + "\n");
} else {
  console.log(`${run.steps} steps, mlp [784, 256, 10], SGD, batch 128, ${run.backend} backend, ${run.threads} threads, ${run.tidy ? "each step in tidy()" : "no tidy"}, ${run.yielded ? "yielding after every step" : "never yielding"}`);
  console.log("   step        s   rss MB  heapUsed MB  arrayBuffers MB  external MB  memoryStats");
  for (const s of run.samples) {
    console.log(
      `${String(s.step).padStart(7)} ${(s.ms / 1000).toFixed(1).padStart(8)} ${mb(s.rss).padStart(8)} ${mb(s.heapUsed).padStart(12)} ${mb(s.arrayBuffers).padStart(16)} ${mb(s.external).padStart(12)}  ${s.stats ? JSON.stringify(s.stats) : "–"}`,
    );
  }
  console.log(`done in ${run.seconds.toFixed(1)} s; final loss ${run.finalLoss.toFixed(4)}`);
}
