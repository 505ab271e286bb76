/**
 * Tensor memory with the wasm backend (src/backend/wasm/heap.ts, src/tensor/storage.ts): tensors
 * live in pooled blocks of one shared WebAssembly.Memory; tidy() hands a step's blocks back,
 * keeps what it returns (with the graph behind it), parameters, gradients and optimizer state;
 * freed tensors fail loudly; a training loop's memory stays flat; the garbage collector frees
 * what no scope does.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { simdSupported } from "../src/backend/wasm/backend.js";
import {
  GraphError, ValueError, dispose, getBackend, keep, tidyEach, manualSeed, memoryStats, nn, optim, randn, setBackend, setMemoryLimit, tensor, tidy, zeros,
  type Tensor,
} from "../src/index.js";
import { Trainer } from "../src/node.js";
import { DataLoader, TensorDataset } from "../src/data/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const wasm = simdSupported() && typeof SharedArrayBuffer === "function";

beforeAll(() => {
  if (wasm) setBackend("wasm");
});
afterEach(() => setMemoryLimit(2 ** 31, { outsideTidy: 2 ** 26 }));

/** The two-layer net and one SGD step on it, as a user would write them. */
function setup(seed: number) {
  manualSeed(seed);
  const model = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Linear(32, 10));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  const x = randn([48, 64]);
  const y = tensor(Array.from({ length: 48 }, (_, i) => i % 10), { dtype: "int32" });
  const step = (): number => {
    opt.zeroGrad();
    const loss = nn.functional.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss.item();
  };
  return { model, step };
}

describe.skipIf(!wasm)("tensors in WebAssembly memory", () => {
  it("large tensors are views into the shared wasm memory; kernels read and write them in place", () => {
    const a = randn([64, 64]);
    const b = a.relu().add(1).matmul(a);
    expect(a.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(b.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    // Same numbers as the JavaScript reference backend, on the same (resident) inputs.
    setBackend("js");
    const ref = a.relu().add(1).matmul(a);
    setBackend("wasm");
    for (let i = 0; i < ref.size; i++) expect(Math.abs(b.data[i]! - ref.data[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(ref.data[i]!)));
  });

  it("tidy hands every block back: live memory is the same after the scope as before it", () => {
    const x = randn([128, 256]);
    const before = memoryStats();
    tidy(() => {
      const h = x.matmul(x.T).relu().exp().sum({ axis: 1 });
      expect(memoryStats().liveBlocks).toBeGreaterThan(before.liveBlocks);
      return h.sum().item();
    });
    const after = memoryStats();
    expect(after.liveBlocks).toBe(before.liveBlocks);
    expect(after.allocatedBytes).toBe(before.allocatedBytes);
    expect(after.released).toBeGreaterThan(before.released);
  });

  it("what tidy returns survives, with its graph: backward afterwards gives the same gradients", () => {
    manualSeed(3);
    const w = randn([32, 32]).requiresGrad_();
    const x = randn([64, 32]);
    const loss = tidy(() => x.matmul(w).relu().mul(x.matmul(w)).mean());
    const { out } = tidy(() => ({ out: [x.matmul(w).sigmoid()] }));
    randn([64, 32]).add(randn([64, 32])); // reuse any freed blocks
    loss.backward();
    const g1 = Float32Array.from(w.grad!.data);
    w.grad = null;
    x.matmul(w).relu().mul(x.matmul(w)).mean().backward();
    expect(Array.from(g1)).toEqual(Array.from(w.grad!.data));
    expect(out[0]!.shape).toEqual([64, 32]);
    expect(Number.isFinite(out[0]!.sum().item())).toBe(true);
  });

  it("a tensor freed by tidy throws a clear error when used, naming the way out", () => {
    let leaked: Tensor | undefined;
    tidy(() => {
      leaked = randn([16, 16]).named("h");
      return 0;
    });
    expect(() => leaked!.add(1)).toThrow(GraphError);
    expect(() => leaked!.data).toThrow(/'h' of shape \[16, 16\] was freed .*tidy.*keep\(t\)/);
    expect(leaked!.size).toBe(256);
  });

  it("keep() and nested scopes: kept tensors outlive every scope; returned ones belong to the outer scope", () => {
    let kept: Tensor | undefined;
    let inner: Tensor | undefined;
    const before = memoryStats().liveBlocks;
    tidy(() => {
      kept = keep(zeros([32, 32]).add(2));
      inner = tidy(() => zeros([32, 32]).add(3));
      expect(inner.sum().item()).toBe(3 * 1024);
      return 0;
    });
    expect(kept!.sum().item()).toBe(2 * 1024);
    expect(() => inner!.data).toThrow(GraphError);
    expect(memoryStats().liveBlocks).toBe(before + 1);
  });

  it("dispose frees now; the freed tensor throws, others are untouched when its block is reused", () => {
    const a = zeros([40, 40]).add(1);
    const b = zeros([40, 40]).add(2);
    dispose(a);
    dispose(a); // twice is harmless
    expect(() => a.sum()).toThrow(GraphError);
    const c = zeros([40, 40]).add(5); // likely a's block
    expect(b.sum().item()).toBe(2 * 1600);
    expect(c.sum().item()).toBe(5 * 1600);
  });

  it("tidyEach: each iteration (the item and the body) in its own scope; early exits and throws close it", () => {
    manualSeed(2);
    const x = randn([96, 64]);
    const y = tensor(Array.from({ length: 96 }, (_, i) => i % 10), { dtype: "int32" });
    const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 16, shuffle: true, seed: 3 });
    const model = new nn.Sequential(new nn.Linear(64, 32), new nn.ReLU(), new nn.Linear(32, 10));
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    const base = memoryStats().liveBlocks;
    const live: number[] = [];
    let previous: Tensor | undefined;
    for (let epoch = 0; epoch < 3; epoch++) {
      for (const [xb, yb] of tidyEach(loader)) {
        if (previous) expect(() => previous!.sum()).toThrow(GraphError);
        opt.zeroGrad(false);
        const h = model.forward(xb);
        nn.functional.crossEntropy(h, yb).backward();
        opt.step();
        previous = h;
        live.push(memoryStats().liveBlocks);
      }
    }
    expect(live).toHaveLength(18);
    expect(Math.max(...live.slice(6))).toBe(Math.min(...live.slice(6)));
    const afterTraining = memoryStats().liveBlocks; // gradients now exist (persistent)
    for (const [xb] of tidyEach(loader)) {
      xb.mul(2);
      break;
    }
    expect(memoryStats().liveBlocks).toBe(afterTraining);
    expect(() => {
      for (const [xb] of tidyEach(loader)) {
        xb.mul(3);
        throw new ValueError("stop");
      }
    }).toThrow("stop");
    expect(memoryStats().liveBlocks).toBe(afterTraining);
    expect(afterTraining).toBeGreaterThanOrEqual(base);
  });

  it("a gradient dropped by zeroGrad() inside tidy is freed with the scope (and fails loudly if kept)", () => {
    const w = randn([32, 32]).requiresGrad_();
    w.matmul(w).sum().backward();
    const before = memoryStats().liveBlocks;
    let old: Tensor | undefined;
    for (let i = 0; i < 5; i++) {
      tidy(() => {
        old = w.grad!;
        w.zeroGrad();
        w.matmul(w).sum().backward();
        return 0;
      });
    }
    expect(memoryStats().liveBlocks).toBe(before);
    expect(() => old!.sum()).toThrow(GraphError);
    // The live gradient is the last step's alone (set to null, then one backward).
    const v = w.detach().requiresGrad_();
    v.matmul(v).sum().backward();
    expect(Array.from(w.grad!.data)).toEqual(Array.from(v.grad!.data));
  });

  it("tidy refuses an async function", () => {
    expect(() => tidy(async () => 1)).toThrow(ValueError);
  });

  it("a block reused from the pool is zero-filled for zeros()", () => {
    const pooled = memoryStats().pooledBytes;
    tidy(() => {
      randn([50, 50]).add(7); // freed at the end of the scope: its block goes to the pool
    });
    expect(memoryStats().pooledBytes).toBeGreaterThan(pooled);
    const before = memoryStats().pooledBytes;
    const z = zeros([50, 50]);
    expect(memoryStats().pooledBytes).toBeLessThan(before); // it took a pooled (dirty) block
    expect(z.sum().item()).toBe(0);
    expect(z.abs().max().item()).toBe(0);
  });

  it("parameters, gradients and optimizer state survive tidy: training in tidy equals training without it, and its memory is flat", () => {
    const plain = setup(11);
    const scoped = setup(11);
    const lossesPlain: number[] = [];
    const lossesScoped: number[] = [];
    const live: number[] = [];
    for (let i = 0; i < 40; i++) {
      lossesPlain.push(plain.step());
      lossesScoped.push(tidy(scoped.step));
      live.push(memoryStats().allocatedBytes);
    }
    expect(lossesScoped).toEqual(lossesPlain);
    const a = plain.model.stateDict();
    const b = scoped.model.stateDict();
    for (const k of Object.keys(a)) expect(Array.from(b[k]!.data)).toEqual(Array.from(a[k]!.data));
    // The scoped steps allocate nothing that outlives them (the plain ones leave garbage for the GC,
    // so only compare the scoped model's own footprint: it must not grow after the first step).
    const scopedOnly: number[] = [];
    for (let i = 0; i < 20; i++) {
      tidy(scoped.step);
      scopedOnly.push(memoryStats().allocatedBytes);
    }
    expect(new Set(scopedOnly).size).toBe(1);
  });

  it("gradients accumulate in place: the .grad object and its storage are reused by the next backward", () => {
    const w = randn([20, 20]).requiresGrad_();
    w.matmul(w).sum().backward();
    const g = w.grad!;
    const first = Float32Array.from(g.data);
    w.matmul(w).sum().backward();
    expect(w.grad).toBe(g);
    for (let i = 0; i < first.length; i++) expect(g.data[i]).toBeCloseTo(2 * first[i]!, 3);
  });

  it("past the memory limit new tensors are plain JavaScript arrays and results are unchanged", () => {
    const a = randn([64, 64]);
    const ref = a.matmul(a).relu().sum().item();
    setMemoryLimit(0);
    const b = a.add(0);
    expect(b.data.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    expect(b.matmul(a).relu().sum().item()).toBe(ref);
    expect(memoryStats().fallbacks).toBeGreaterThan(0);
    expect(() => setMemoryLimit(-1)).toThrow(ValueError);
  });

  it("the Trainer runs each step in a scope: live memory does not grow from epoch to epoch", () => {
    manualSeed(5);
    const x = randn([256, 64]);
    const y = tensor(Array.from({ length: 256 }, (_, i) => i % 10), { dtype: "int32" });
    const model = new nn.Sequential(new nn.Linear(64, 64), new nn.ReLU(), new nn.Linear(64, 10));
    const trainer = new Trainer({
      model,
      optimizer: new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }),
      loss: nn.functional.crossEntropy,
      trainLoader: new DataLoader(new TensorDataset(x, y), { batchSize: 32, shuffle: true, seed: 1 }),
      epochs: 6,
      progress: "none",
    });
    const live: number[] = [];
    trainer.on("epoch", () => live.push(memoryStats().liveBlocks));
    trainer.fit();
    expect(live).toHaveLength(6);
    expect(Math.max(...live.slice(1))).toBe(Math.min(...live.slice(1)));
  });

  it("a long synchronous loop without tidy stays within the outside-tidy cap, then uses JavaScript arrays", () => {
    setMemoryLimit(undefined, { outsideTidy: 2 ** 22 });
    const x = randn([64, 64]);
    const ref = x.exp().sum().item();
    let last = 0;
    for (let i = 0; i < 400; i++) last = x.exp().sum().item();
    expect(last).toBe(ref);
    const s = memoryStats();
    expect(s.outsideTidyBytes).toBeLessThanOrEqual(2 ** 22);
    expect(s.fallbacks).toBeGreaterThan(0);
    expect(() => setMemoryLimit(undefined, { outsideTidy: -5 })).toThrow(/outsideTidy/);
  });

  it("without tidy, the garbage collector hands blocks back once the event loop turns", () => {
    const script = `
      const { randn, memoryStats, getBackend } = await import(${JSON.stringify(`${root}src/index.ts`)});
      if (getBackend().name !== "wasm") { console.log("skip"); process.exit(0); }
      for (let i = 0; i < 200; i++) randn([64, 64]).exp();
      for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      const s = memoryStats();
      console.log(JSON.stringify({ collected: s.collected, live: s.liveBlocks }));
    `;
    const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8" }).trim();
    if (out === "skip") return;
    const { collected, live } = JSON.parse(out.split("\n").pop()!) as { collected: number; live: number };
    expect(collected).toBeGreaterThanOrEqual(390);
    expect(live).toBeLessThan(20);
  });
});

describe("memory API without resident tensors", () => {
  it("memoryStats has every field; setMemoryLimit validates", () => {
    const s = memoryStats();
    for (const k of ["resident", "memoryBytes", "allocatedBytes", "pooledBytes", "liveBlocks", "limitBytes", "outsideTidyLimitBytes", "outsideTidyBytes", "fallbacks", "collected", "released"]) expect(s).toHaveProperty(k);
    expect(() => setMemoryLimit(Number.NaN)).toThrow(ValueError);
    expect(getBackend().name).toMatch(/js|wasm/);
  });
});
