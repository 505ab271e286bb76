/**
 * Faults: nothing lost, nothing silent (issue 15).
 *
 *  1. Kills. `chainrule train --out DIR` in a child process is killed with SIGKILL at seeded
 *     random moments spread over the run (startup, epochs with their checkpoints, the final
 *     model/history/curves/weights writes); the next run in DIR resumes from the checkpoint.
 *     After every kill each file in DIR must be whole and loadable (the model rebuilt from its
 *     metadata, the checkpoint loaded into the architecture, history.json parsed, the SVG and PNG
 *     complete), a reader polling the files while the child writes them must never see a torn
 *     one, and the only debris allowed is the dead run's lock and temporary files, which the next
 *     run removes. Each chain of killed and resumed runs must end with a model.safetensors
 *     byte-identical to an uninterrupted run's.
 *  2. Resume. Stopping after epoch k and resuming gives bit-identical final weights (model,
 *     optimizer, scheduler, RNG, data order, BatchNorm buffers, augmentation), on both CPU
 *     backends, through the Trainer API, the CLI in-process, and the CLI in child processes.
 *  3. The --out lock (src/cli/out-lock.ts): a second run refuses (exit code 1, naming the PID),
 *     a lock left by a killed run is taken over with a note.
 *  4. Depth and length: a 10^6-op chain through backward in a child process with the default
 *     stack and a capped heap; 10^4 Trainer steps with flat memory.
 *
 * Longer runs: CHAINRULE_FAULT_RUNS (kills, default 20), CHAINRULE_FAULT_SEED (default 1),
 * CHAINRULE_FAULT_OPS (chain length, default 1e6), CHAINRULE_FAULT_STEPS (training steps,
 * default 1e4, a multiple of 100), e.g.
 *   CHAINRULE_FAULT_RUNS=200 CHAINRULE_FAULT_OPS=3e6 CHAINRULE_FAULT_STEPS=1e5 npx vitest run test/faults.test.ts
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it, vi } from "vitest";
import { run } from "../src/cli/main.js";
import { buildModel, loadTrainedModel } from "../src/cli/model.js";
import { LOCK_FILE, OutDirLockedError, lockOutDir, readLock } from "../src/cli/out-lock.js";
import { checkpointFromBytes } from "../src/io/checkpoint.js";
import { removeStaleTempFiles, writeFileAtomic } from "../src/io/node-fs.js";
import { Tensor, data, defaultGenerator, getBackend, manualSeed, nn, optim, setBackend } from "../src/index.js";
import { CHECKPOINT_FILE, Trainer, loadCheckpoint, type TrainerOptions } from "../src/node.js";
import { simdSupported } from "../src/backend/wasm/backend.js";

// The fs calls of the atomic writer, wrapped (unchanged) so that their order can be checked.
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  return { ...actual, openSync: vi.fn(actual.openSync), fsyncSync: vi.fn(actual.fsyncSync), renameSync: vi.fn(actual.renameSync) };
});

const root = fileURLToPath(new URL("..", import.meta.url));
const tmpRoot = mkdtempSync(join(tmpdir(), "chainrule-faults-"));
let tmpCount = 0;
const tmp = (name = "run"): string => join(tmpRoot, `${name}${tmpCount++}`);
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

const envNumber = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === "" ? fallback : Number(v);
};
const RUNS = envNumber("CHAINRULE_FAULT_RUNS", 20);
const SEED = envNumber("CHAINRULE_FAULT_SEED", 1);
const OPS = envNumber("CHAINRULE_FAULT_OPS", 1e6);
const STEPS = envNumber("CHAINRULE_FAULT_STEPS", 1e4);
const wasm = simdSupported() && typeof SharedArrayBuffer === "function";
const BACKENDS = wasm ? (["js", "wasm"] as const) : (["js"] as const);

/** Seeded uniform [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------------------ the CLI, in-process and as a child

/** Runs the command in-process; `stopAfter` throws from the output (a crash) once a line starts with it. */
async function cli(argv: string[], stopAfter?: string): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, {
    out: (s) => {
      out += s;
      if (stopAfter !== undefined && s.startsWith(stopAfter)) throw new Error(`stopped after "${stopAfter}"`);
    },
    err: (s) => void (err += s),
    isTTY: false,
  });
  return { code, out, err };
}

interface Child {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>;
}

/** `chainrule ARGS` as node itself with tsx's loader (so that a signal reaches the process that trains). */
function spawnCli(args: string[], options: { env?: Record<string, string>; onLine?: (line: string, child: ChildProcess) => void } = {}): Child {
  const start = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        options.onLine?.(line, child);
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk));
    child.on("error", reject);
    // "close": the process has been reaped (no zombie whose PID still looks alive) and its output read.
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - start }));
  });
  return { child, done };
}

// ------------------------------------------------------------------------------ what a DIR may hold

const TEMP = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;
const FINAL_FILES = ["checkpoint.safetensors", "curves.svg", "history.json", "model.safetensors", "weights.png"];
/** The files of a finished run on 2-D points (no weights image). */
const SPIRAL_FILES = FINAL_FILES.filter((f) => f !== "weights.png");

interface DirReport {
  files: string[];
  temps: string[];
  lock: boolean;
  checkpointEpoch?: number;
}

/**
 * Checks every file in an --out DIR of a `train` run of an MLP with these layer sizes: each whole
 * and loadable. `killed`: the PIDs of runs killed since the last one that took the lock, whose
 * lock and temporary files may remain.
 */
function checkOutDir(dir: string, o: { sizes: number[]; epochs: number; killed?: number[] }): DirReport {
  const report: DirReport = { files: [], temps: [], lock: false };
  if (!existsSync(dir)) return report;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const killed = o.killed ?? [];
    const where = `${path}${killed.length > 0 ? ` (after killing PID ${killed.join(", ")})` : ""}`;
    const temp = TEMP.exec(name);
    if (temp) {
      // A write cut short before its rename: only a killed run's, and only until a run gets the lock.
      expect(killed, `${where}: a temporary file of a run that was not killed`).toContain(Number(temp[2]));
      report.temps.push(name);
      continue;
    }
    const aside = /^\.chainrule\.lock\.(\d+)\.[0-9a-f]{8}\.stale$/.exec(name);
    if (aside) {
      // A stale lock being taken over when its taker was killed.
      expect(killed, `${where}: a lock moved aside by a run that was not killed`).toContain(Number(aside[1]));
      report.temps.push(name);
      continue;
    }
    if (name === LOCK_FILE) {
      // A killed run's (the last one to take it: a later run may have been killed before it could).
      const lock = readLock(path);
      // Whole, or empty if the kill fell between creating it and writing it.
      if (lock && lock.raw !== "") expect(killed, `${where}: a lock left by a run that ended`).toContain(lock.holder?.pid);
      else expect(killed.length, `${where}: an empty lock`).toBeGreaterThan(0);
      report.lock = true;
      continue;
    }
    expect(o.sizes[0] === 784 ? FINAL_FILES : SPIRAL_FILES, `${where}: an unexpected file`).toContain(name);
    report.files.push(name);
    switch (name) {
      case "model.safetensors": {
        // Rebuilt from its own metadata, as `chainrule eval` does.
        const { model, meta } = loadTrainedModel(path);
        expect(meta.architecture.sizes, where).toEqual(o.sizes);
        expect(model.numParameters(), where).toBe(o.sizes.slice(1).reduce((n, out, i) => n + (o.sizes[i]! + 1) * out, 0));
        break;
      }
      case "checkpoint.safetensors": {
        const ck = loadCheckpoint(path);
        const meta = ck.meta as { trainer: number; epoch: number; history: { stepLoss: Float64Array } };
        expect(meta.trainer, where).toBe(1);
        expect(Number.isInteger(meta.epoch) && meta.epoch >= 1 && meta.epoch <= o.epochs, `${where}: epoch ${meta.epoch}`).toBe(true);
        expect(ck.optimizer, where).toBeDefined();
        // Into the architecture, strictly (every tensor, every shape).
        buildModel({ model: "mlp", sizes: o.sizes, activation: "relu", loss: "softmax" }).loadStateDict(ck.model);
        report.checkpointEpoch = meta.epoch;
        break;
      }
      case "history.json": {
        const h = JSON.parse(readFileSync(path, "utf8")) as { history: { epochs: unknown[] }; test: { accuracy: number } };
        expect(h.history.epochs, where).toHaveLength(o.epochs);
        expect(typeof h.test.accuracy, where).toBe("number");
        break;
      }
      case "curves.svg": {
        const svg = readFileSync(path, "utf8");
        expect(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"), `${where}: a whole SVG`).toBe(true);
        break;
      }
      case "weights.png": {
        const png = PNG.sync.read(readFileSync(path));
        expect(png.width * png.height, where).toBeGreaterThan(0);
        break;
      }
    }
  }
  return report;
}

/** Reads the big files again and again while a child writes them: each read must parse (ENOENT aside). */
function pollFiles(dir: string): { stop: () => { reads: number; error: unknown } } {
  let reads = 0;
  let error: unknown;
  const timer = setInterval(() => {
    for (const name of ["checkpoint.safetensors", "model.safetensors"]) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(dir, name));
      } catch {
        continue; // not written yet
      }
      try {
        checkpointFromBytes(bytes);
        reads++;
      } catch (e) {
        error ??= new Error(`${name} read while being written did not parse: ${(e as Error).message}`);
      }
    }
  }, 50);
  return { stop: () => (clearInterval(timer), { reads, error }) };
}

/** A safetensors file's tensors as bytes, by name (for bit-for-bit comparison). */
function tensorBytes(path: string): Record<string, string> {
  const ck = loadCheckpoint(path);
  return Object.fromEntries(Object.entries(ck.model).map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex")]));
}

/** Checkpoint contents without the wall-clock fields, for deep comparison. */
function checkpointState(path: string): unknown {
  const ck = loadCheckpoint(path);
  const plain = (v: unknown): unknown => {
    if (v instanceof Tensor) return { dtype: v.dtype, shape: v.shape, hex: Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString("hex") };
    if (ArrayBuffer.isView(v)) return { hex: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex") };
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "seconds" && k !== "samplesPerSecond").map(([k, w]) => [k, plain(w)]));
    return v;
  };
  return plain(ck);
}

// ------------------------------------------------------------------------------ 1. kills

describe("writeFileAtomic is durable", () => {
  it("fsyncs the temporary file before the rename and the directory after it", async () => {
    const actual = await vi.importActual<typeof import("node:fs")>("node:fs");
    const dir = tmp("durable");
    mkdirSync(dir);
    const path = join(dir, "model.safetensors");
    const calls: string[] = [];
    const fds = new Map<number, string>();
    vi.mocked(fs.openSync).mockImplementation(((p: fs.PathLike, flags?: fs.OpenMode) => {
      const fd = actual.openSync(p, flags ?? "r");
      fds.set(fd, String(p) === dir ? "dir" : String(p) === path ? "target" : TEMP.test(basename(String(p))) ? "temp" : String(p));
      calls.push(`open ${fds.get(fd)} ${String(flags)}`);
      return fd;
    }) as typeof fs.openSync);
    vi.mocked(fs.fsyncSync).mockImplementation((fd: number) => {
      calls.push(`fsync ${fds.get(fd)}`);
      actual.fsyncSync(fd);
    });
    vi.mocked(fs.renameSync).mockImplementation((a: fs.PathLike, b: fs.PathLike) => {
      calls.push(`rename ${TEMP.test(basename(String(a))) ? "temp" : String(a)} → ${String(b) === path ? "target" : String(b)}`);
      actual.renameSync(a, b);
    });
    try {
      writeFileAtomic(path, new Uint8Array([1, 2, 3]));
      writeFileAtomic(path, new Uint8Array([4, 5])); // over an existing file: the same order
    } finally {
      for (const f of [fs.openSync, fs.fsyncSync, fs.renameSync]) vi.mocked(f).mockReset();
    }
    const once = ["open temp wx", "fsync temp", "rename temp → target", "open dir r", "fsync dir"];
    expect(calls).toEqual([...once, ...once]);
    expect(Array.from(readFileSync(path))).toEqual([4, 5]);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
  });
});

describe("SIGKILL at random moments: every file in --out stays whole, and the run resumes to the same weights", () => {
  it(
    `${RUNS} kills over chains of resumed runs (seed ${SEED})`,
    async () => {
      const hidden = 256; // a 2.4 MB checkpoint and 0.8 MB model: writes long enough for kills to land in
      const epochs = 20;
      const sizes = [784, hidden, 10];
      const args = ["train", "--train-size", "1000", "--test-size", "200", "--hidden", String(hidden), "--epochs", String(epochs), "--progress", "lines"];
      const reference = tmp("reference");
      let firstEpochMs = 0;
      let wallLineMs = 0;
      const refStart = performance.now();
      const ref = await spawnCli([...args, "--out", reference], {
        onLine: (line) => {
          if (line.startsWith("epoch ") && firstEpochMs === 0) firstEpochMs = performance.now() - refStart;
          if (line.startsWith("wall time:")) wallLineMs = performance.now() - refStart;
        },
      }).done;
      expect(ref.stderr).toBe("");
      expect(ref.code).toBe(0);
      expect(checkOutDir(reference, { sizes, epochs }).files).toEqual(FINAL_FILES);
      const refModel = readFileSync(join(reference, "model.safetensors"));
      const refCheckpoint = checkpointState(join(reference, CHECKPOINT_FILE));
      const T = ref.ms;

      const random = rng(SEED);
      const stats = { kills: 0, chains: 0, runs: 0, killedInStartup: 0, killedInTraining: 0, killedInFinalWrites: 0, tempsFound: 0, locksLeft: 0, locksTakenOver: 0, tempsRemoved: 0, pollReads: 0 };
      let dir = tmp("chain");
      let killed: number[] = []; // since the last run that got as far as taking the lock
      const finishChain = (result: { stdout: string }) => {
        // A chain of killed and resumed runs ends where the uninterrupted run did, byte for byte.
        expect(checkOutDir(dir, { sizes, epochs }).files).toEqual(FINAL_FILES);
        expect(readFileSync(join(dir, "model.safetensors")).equals(refModel), `${dir}: final weights differ from the uninterrupted run's`).toBe(true);
        expect(checkpointState(join(dir, CHECKPOINT_FILE))).toEqual(refCheckpoint);
        expect(result.stdout).toMatch(/test accuracy: /);
        stats.chains++;
        dir = tmp("chain");
        killed = [];
      };
      while (stats.kills < RUNS) {
        const ck = join(dir, CHECKPOINT_FILE);
        const resume = existsSync(ck) ? ["--resume", ck] : [];
        // Every other kill spread from late in the start-up (loading the data, taking the lock,
        // reading the checkpoint) to just past the end of an uninterrupted run; the others within
        // its epochs, where a 2.4 MB checkpoint is written (and fsynced) after each.
        const [from, to] = stats.kills % 2 === 0 ? [0.4 * firstEpochMs, 1.02 * T] : [firstEpochMs, wallLineMs];
        const delay = from + random() * (to - from);
        // Where the kill fell: before the first epoch line (startup, loading, resuming), in the
        // epochs (each ends with a checkpoint), or after the wall-time line (the final files).
        let phase: "startup" | "training" | "final" = "startup";
        const c = spawnCli([...args, "--out", dir, ...resume], {
          onLine: (line) => {
            if (line.startsWith("epoch ") || line.startsWith("resumed:")) phase = phase === "startup" ? "training" : phase;
            if (line.startsWith("wall time:")) phase = "final";
          },
        });
        const poll = pollFiles(dir);
        const timer = setTimeout(() => c.child.kill("SIGKILL"), delay);
        const r = await c.done;
        clearTimeout(timer);
        const polled = poll.stop();
        expect(polled.error).toBeUndefined();
        stats.pollReads += polled.reads;
        stats.runs++;
        stats.locksTakenOver += (r.stderr.match(/no longer running; taking over/g) ?? []).length;
        stats.tempsRemoved += (r.stderr.match(/removed \d+ unfinished temporary file/g) ?? []).length;
        if (r.signal === "SIGKILL") {
          stats.kills++;
          expect(r.stderr).not.toMatch(/error/i);
          // A run that took the lock removed the debris of the runs before it.
          if (readLock(join(dir, LOCK_FILE))?.holder?.pid === c.child.pid) killed = [];
          killed.push(c.child.pid!);
          const report = checkOutDir(dir, { sizes, epochs, killed });
          stats.tempsFound += report.temps.length;
          if (report.lock) stats.locksLeft++;
          stats[phase === "startup" ? "killedInStartup" : phase === "training" ? "killedInTraining" : "killedInFinalWrites"]++;
        } else {
          expect(r.stderr.replace(/^note: .*\n/gm, "")).toBe("");
          expect(r.code).toBe(0);
          finishChain(r);
        }
      }
      // The last chain: resumed to the end without a kill.
      if (existsSync(dir)) {
        const ck = join(dir, CHECKPOINT_FILE);
        const r = await spawnCli([...args, "--out", dir, ...(existsSync(ck) ? ["--resume", ck] : [])]).done;
        expect(r.code).toBe(0);
        stats.runs++;
        stats.locksTakenOver += (r.stderr.match(/no longer running; taking over/g) ?? []).length;
        stats.tempsRemoved += (r.stderr.match(/removed \d+ unfinished temporary file/g) ?? []).length;
        finishChain(r);
      }
      console.log(`faults: ${JSON.stringify(stats)} (uninterrupted run ${(T / 1000).toFixed(2)} s, first epoch line at ${(firstEpochMs / 1000).toFixed(2)} s)`);
      expect(stats.kills).toBe(RUNS);
      // Delays spread over the whole run: kills landed in training and in the final writes.
      if (RUNS >= 20) {
        expect(stats.killedInTraining + stats.killedInFinalWrites).toBeGreaterThan(0);
        expect(stats.locksTakenOver).toBeGreaterThan(0);
      }
      expect(stats.pollReads).toBeGreaterThan(0);
    },
    600_000,
  );
});

// ------------------------------------------------------------------------------ 2. resume

describe("resume after epoch k is bit-identical to the uninterrupted run", () => {
  /** A convnet with BatchNorm (buffers) and Dropout (the default generator), Adam, StepLR, clipping, best weights. */
  function convOptions(initSeed: number, epochs: number): TrainerOptions {
    manualSeed(initSeed);
    const model = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Dropout(0.3), new nn.Linear(4 * 4 * 4, 3));
    const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
    // Images whose class is a brighter band of rows, from a generator of their own.
    const images = (n: number) => {
      const x = new Float32Array(n * 64);
      const y = new Int32Array(n);
      const r = rng(n);
      for (let i = 0; i < n; i++) {
        y[i] = i % 3;
        for (let p = 0; p < 64; p++) x[i * 64 + p] = r() * 0.5 + (Math.floor(p / 8) % 3 === y[i] ? 1 : 0);
      }
      return new data.TensorDataset(Tensor.fromStorage(x, [n, 1, 8, 8], "float32"), Tensor.fromStorage(y, [n], "int32"));
    };
    return {
      model,
      optimizer,
      loss: (o, y) => nn.functional.crossEntropy(o, y),
      trainLoader: new data.DataLoader(images(90), { batchSize: 16, shuffle: true, seed: 4 }),
      valLoader: new data.DataLoader(images(30), { batchSize: 30 }),
      epochs,
      scheduler: new optim.StepLR(optimizer, { stepSize: 1, gamma: 0.8 }),
      gradClipNorm: 2,
      progress: "none",
    };
  }
  const bits = (m: nn.Module): Record<string, string> => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex")]));

  for (const backend of BACKENDS) {
    it(`the Trainer API on the ${backend} backend: 5 epochs = 2, then a fresh Trainer resumed for 3`, () => {
      const previous = getBackend().name;
      setBackend(backend);
      try {
        const full = new Trainer(convOptions(7, 5));
        full.fit();
        const dir = tmp("api");
        // Stopped after epoch 2: a crash once the epoch's checkpoint is written.
        const first = new Trainer({ ...convOptions(7, 5), checkpointDir: dir });
        first.on("epoch", (r) => {
          if (r.epoch === 2) throw new Error("crash after epoch 2");
        });
        expect(() => first.fit()).toThrow(/crash after epoch 2/);
        // Another initialisation, the default generator elsewhere: the checkpoint restores it all.
        const options = { ...convOptions(8, 5), checkpointDir: dir };
        defaultGenerator.manualSeed(12345);
        const resumed = Trainer.resume(join(dir, CHECKPOINT_FILE), options);
        expect(resumed.epoch).toBe(2);
        resumed.fit();
        expect(bits(resumed.model)).toEqual(bits(full.model));
        expect(resumed.history.steps.loss).toEqual(full.history.steps.loss);
        expect(resumed.history.bestEpoch).toBe(full.history.bestEpoch);
        expect(resumed.optimizer.paramGroups[0]!.lr).toBe(full.optimizer.paramGroups[0]!.lr);
        expect(resumed.history.epochs.map((e) => [e.trainLoss, e.valLoss, e.valAccuracy])).toEqual(full.history.epochs.map((e) => [e.trainLoss, e.valLoss, e.valAccuracy]));
      } finally {
        setBackend(previous);
      }
    });
  }

  for (const backend of BACKENDS) {
    it(`the CLI in-process on the ${backend} backend: a convnet (BatchNorm, dropout, augmentation), stopped after epoch 2 of 4 and --resume'd`, async () => {
      const base = ["train", "--train-size", "200", "--test-size", "50", "--model", "conv4-bn-pool-fc16-dropout0.3", "--epochs", "4", "--backend", backend, "--progress", "lines"];
      const full = tmp("cli-full");
      const stopped = tmp("cli-stopped");
      expect((await cli([...base, "--out", full])).code).toBe(0);
      const s = await cli([...base, "--out", stopped], "epoch 2/4");
      expect(s.code).toBe(1);
      expect(s.err).toMatch(/stopped after "epoch 2\/4"/);
      expect(existsSync(join(stopped, LOCK_FILE))).toBe(false); // released on the error
      expect((loadCheckpoint(join(stopped, CHECKPOINT_FILE)).meta as { epoch: number }).epoch).toBe(2);
      const r = await cli([...base, "--out", stopped, "--resume", join(stopped, CHECKPOINT_FILE)]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("resuming after epoch 2/4");
      expect(readFileSync(join(stopped, "model.safetensors")).equals(readFileSync(join(full, "model.safetensors")))).toBe(true);
      expect(checkpointState(join(stopped, CHECKPOINT_FILE))).toEqual(checkpointState(join(full, CHECKPOINT_FILE)));
    });
  }

  it("the CLI in child processes with CHAINRULE_BACKEND=js: killed after epoch 3, --resume'd, equal to the in-process run", async () => {
    const base = ["train", "--dataset", "spiral", "--optimizer", "adamw", "--lr-schedule", "step", "--epochs", "8", "--progress", "lines"];
    const full = tmp("js-full");
    expect((await cli([...base, "--backend", "js", "--out", full])).code).toBe(0);
    const dir = tmp("js-killed");
    const env = { CHAINRULE_BACKEND: "js" };
    const killed = await spawnCli([...base, "--out", dir], { env, onLine: (line, child) => void (line.startsWith("epoch 3/8") && child.kill("SIGKILL")) }).done;
    expect(killed.signal).toBe("SIGKILL");
    const epoch = (loadCheckpoint(join(dir, CHECKPOINT_FILE)).meta as { epoch: number }).epoch;
    expect(epoch).toBeGreaterThanOrEqual(3);
    const resumed = await spawnCli([...base, "--out", dir, "--resume", join(dir, CHECKPOINT_FILE)], { env }).done;
    expect(resumed.code).toBe(0);
    if (epoch < 8) expect(resumed.stdout).toContain(`resuming after epoch ${epoch}/8`);
    expect(resumed.stderr).toMatch(/no longer running; taking over/);
    expect(readFileSync(join(dir, "model.safetensors")).equals(readFileSync(join(full, "model.safetensors")))).toBe(true);
    expect(tensorBytes(join(dir, CHECKPOINT_FILE))).toEqual(tensorBytes(join(full, CHECKPOINT_FILE)));
  });
});

// ------------------------------------------------------------------------------ 3. the --out lock

describe("one run per --out directory", () => {
  it("two processes on one DIR: one refuses (exit code 1, naming the other's PID), the other finishes with whole files", async () => {
    const dir = tmp("two");
    const args = ["train", "--dataset", "spiral", "--epochs", "100", "--progress", "none", "--out", dir];
    const a = spawnCli(args);
    const b = spawnCli(args);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    const [winner, loser, winnerPid] = ra.code === 0 ? [ra, rb, a.child.pid] : [rb, ra, b.child.pid];
    expect(winner.code).toBe(0);
    expect(loser.code).toBe(1);
    expect(loser.stderr).toContain(`error: --out ${dir} is in use by another chainrule run (PID ${winnerPid}, started `);
    expect(loser.stderr).toContain(`it holds the lock ${join(dir, LOCK_FILE)}`);
    expect(loser.stderr).toMatch(/Wait for that run to finish \(or stop it: kill \d+\), or pass a different --out directory/);
    expect(loser.stdout).not.toMatch(/epoch/);
    const report = checkOutDir(dir, { sizes: [2, 100, 3], epochs: 100 });
    expect(report.files).toEqual(SPIRAL_FILES);
    expect(report.lock).toBe(false);
  });

  it("in one process: a held lock refuses a run; released, the run goes ahead; release is idempotent and removes only its own lock", async () => {
    const dir = tmp("inproc");
    const lock = lockOutDir(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid, hostname: hostname() });
    const args = ["train", "--dataset", "spiral", "--epochs", "2", "--progress", "none", "--out", dir];
    const refused = await cli(args);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`is in use by another chainrule run (PID ${process.pid}`);
    expect(() => lockOutDir(dir)).toThrow(OutDirLockedError);
    lock.release();
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect((await cli(args)).code).toBe(0);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    // A release never removes a lock that is not its own.
    const mine = lockOutDir(dir);
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...mine.holder, token: "someone-else" }));
    mine.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    rmSync(join(dir, LOCK_FILE));
    // A run that stops before writing anything leaves no directory it made.
    const fresh = tmp("usage");
    const usage = await cli(["train", "--dataset", "spiral", "--train-size", "5", "--out", fresh]);
    expect(usage.code).toBe(2);
    expect(existsSync(fresh)).toBe(false);
  });

  it("a lock left by a SIGKILLed run (and by SIGTERM and SIGINT, which end the run at once) is taken over by the next run, with a note", async () => {
    const dir = tmp("stale");
    // 1,000 epochs (10 s or more): a signal held back until the end would show.
    const args = ["train", "--dataset", "spiral", "--epochs", "1000", "--progress", "lines", "--out", dir];
    for (const signal of ["SIGKILL", "SIGTERM", "SIGINT"] as const) {
      let sentAt = 0;
      const c = spawnCli(args, {
        onLine: (line, child) => {
          if (line.startsWith("epoch 1/") && sentAt === 0) {
            sentAt = performance.now();
            child.kill(signal);
          }
        },
      });
      const r = await c.done;
      expect(r.signal).toBe(signal);
      // No handler holds the signal back until the synchronous training ends.
      expect(performance.now() - sentAt).toBeLessThan(3000);
      expect(r.stdout).not.toMatch(/^epoch 1000\//m);
      expect(readLock(join(dir, LOCK_FILE))?.holder?.pid).toBe(c.child.pid);
      checkOutDir(dir, { sizes: [2, 100, 3], epochs: 1000, killed: [c.child.pid!] });
    }
    const next = await cli(["train", "--dataset", "spiral", "--epochs", "2", "--progress", "none", "--out", dir]);
    expect(next.code).toBe(0);
    expect(next.err).toMatch(new RegExp(`^note: ${dir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} was locked by PID \\d+ \\(started [^)]+\\), which is no longer running; taking over its lock`, "m"));
    const report = checkOutDir(dir, { sizes: [2, 100, 3], epochs: 2 });
    expect(report.files).toEqual(SPIRAL_FILES);
    expect(report.lock).toBe(false);
  });

  it("stale, foreign and unreadable locks; leftover temporary files", () => {
    const dir = tmp("kinds");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, LOCK_FILE);
    const notes: string[] = [];
    const note = (s: string) => void notes.push(s);
    // A PID that is not running.
    writeFileSync(path, JSON.stringify({ pid: 2 ** 22 + 17, hostname: hostname(), startedAt: "then", command: "chainrule train", token: "t" }));
    // Temporary files: of a dead writer (removed) and of this live process (kept).
    writeFileSync(join(dir, `.model.safetensors.${2 ** 22 + 17}.0123456789ab.tmp`), "partial");
    writeFileSync(join(dir, `.history.json.${process.pid}.0123456789ab.tmp`), "in flight");
    const a = lockOutDir(dir, { note });
    expect(notes.join("")).toMatch(/was locked by PID 4194321 \(started then\), which is no longer running; taking over/);
    expect(notes.join("")).toMatch(/removed 1 unfinished temporary file left in .* \(\.model\.safetensors\.4194321\.0123456789ab\.tmp\)/);
    expect(readdirSync(dir).sort()).toEqual([LOCK_FILE, `.history.json.${process.pid}.0123456789ab.tmp`].sort());
    a.release();
    expect(removeStaleTempFiles(dir, () => false)).toEqual([`.history.json.${process.pid}.0123456789ab.tmp`]);
    // Another host: its PIDs cannot be checked here, so the run refuses and says how to proceed.
    writeFileSync(path, JSON.stringify({ pid: process.pid, hostname: "elsewhere.example", startedAt: "then", command: "chainrule train", token: "t" }));
    expect(() => lockOutDir(dir)).toThrow(/PID \d+ on host elsewhere\.example.*If that run is no longer alive, delete .*\.chainrule\.lock and run again/s);
    // An empty lock (a run killed between creating and writing it): taken over once it stays empty.
    writeFileSync(path, "");
    notes.length = 0;
    lockOutDir(dir, { note, unreadableMs: 30 }).release();
    expect(notes.join("")).toMatch(/empty or unreadable for 30 ms/);
    // A live PID whose start time differs: the PID was reused by another process (Linux /proc).
    const self = lockOutDir(dir);
    const start = self.holder.processStart;
    self.release();
    if (start !== undefined && process.ppid > 1) {
      writeFileSync(path, JSON.stringify({ ...self.holder, pid: process.ppid, processStart: "1", token: "t" }));
      notes.length = 0;
      lockOutDir(dir, { note }).release();
      expect(notes.join("")).toMatch(/its PID now belongs to another process/);
    }
    expect(existsSync(path)).toBe(false);
  });
});

// ------------------------------------------------------------------------------ 4. depth and length

/** Runs a script (TypeScript, importing ../src) in a fresh node and returns the JSON it prints last. */
async function runScript(name: string, source: string, nodeArgs: string[], args: string[]): Promise<Record<string, unknown>> {
  const script = join(tmpRoot, name);
  const src = (f: string): string => JSON.stringify(new URL(`file://${join(root, "src", f)}`).href);
  writeFileSync(script, source.replaceAll(/SRC\("([^"]+)"\)/g, (_m, f: string) => src(f)));
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => void (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => void (stderr += s));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(stderr, `${name} failed`).toBe("");
  expect(code).toBe(0);
  return JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

const DEPTH_SCRIPT = `
import { defineOp, getBackend, memoryStats, tensor, tidy } from SRC("index.ts");
const gc = globalThis.gc;
const N = Number(process.argv[2]);
const PROBES = 5;
const heap = () => { gc(); return process.memoryUsage().heapUsed; };
// An identity op whose backward samples the live heap: how much graph is left as backward runs.
const during = [];
const probe = defineOp({ name: "probe", forward: (_ctx, x) => x.mul(1), backward: (_ctx, g) => { during.push(heap()); return [g]; } });
const rssBase = process.memoryUsage().rss;
const base = heap();
const wasmBase = memoryStats();
const c = 1 + 1e-6;
let t = performance.now();
const x = tensor(1, { dtype: "float64", requiresGrad: true });
let y = x;
for (let i = 1; i <= N; i++) {
  y = y.mul(c);
  if (i % (N / PROBES) === 0 && i < N) y = probe(y);
}
const forwardMs = performance.now() - t;
const graph = heap() - base;
t = performance.now();
y.backward();
const backwardMs = performance.now() - t;
y = undefined;
const after = heap() - base;
let expected = 1;
for (let i = 0; i < N; i++) expected *= c;
const maxRss = process.resourceUsage().maxRSS * 1024;
// Resident tensors (64 float32s, in wasm memory on that backend): 10^4 ops inside tidy.
const M = 10000;
const wasmBefore = memoryStats();
let wasmPeak = 0;
tidy(() => {
  let v = tensor(Array.from({ length: 64 }, () => 1), { dtype: "float32" }).requiresGrad_();
  const v0 = v;
  for (let i = 0; i < M; i++) v = v.mul(c);
  v.sum().backward();
  wasmPeak = memoryStats().allocatedBytes;
  if (!(Math.abs(v0.grad.data[0] - v.data[0]) < 1e-3)) throw new Error("wrong gradient in the resident chain");
  return 0;
});
const wasmAfter = memoryStats();
console.log(JSON.stringify({ backend: getBackend().name, N, forwardMs, backwardMs, graph, during: during.map((h) => h - base), after, rssBase, maxRss, grad: x.grad.item(), expected,
  wasmBase: wasmBase.memoryBytes, wasmFinal: wasmAfter.memoryBytes, M, wasmBefore: wasmBefore.allocatedBytes, wasmPeak, wasmAfter: wasmAfter.allocatedBytes, wasmMemoryGrowth: wasmAfter.memoryBytes - wasmBefore.memoryBytes }));
`;

const LENGTH_SCRIPT = `
import { data, getBackend, manualSeed, memoryStats, nn, optim } from SRC("index.ts");
import { Trainer } from SRC("node.ts");
const gc = globalThis.gc;
const [stepsArg, dir] = process.argv.slice(2);
const STEPS = Number(stepsArg);
const BATCH = 12;
const PER_EPOCH = 100;
const EPOCHS = STEPS / PER_EPOCH;
manualSeed(0);
const train = data.spiral({ classes: 3, pointsPerClass: (BATCH * PER_EPOCH) / 3, seed: 1 });
const val = data.spiral({ classes: 3, pointsPerClass: 20, seed: 2 });
const model = nn.mlp([2, 64, 3], { dropout: 0.1 });
const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
const samples = [];
const t0 = performance.now();
const every = Math.max(1, Math.round(EPOCHS / 10));
const trainer = new Trainer({
  model, optimizer, loss: (o, y) => nn.functional.crossEntropy(o, y),
  trainLoader: new data.DataLoader(train, { batchSize: BATCH, shuffle: true, seed: 3 }),
  valLoader: new data.DataLoader(val, { batchSize: 60 }),
  epochs: EPOCHS, scheduler: new optim.CosineAnnealingLR(optimizer, { tMax: EPOCHS }), gradClipNorm: 5,
  checkpointDir: dir, progress: "none",
  onEpoch: (r) => {
    if (r.epoch % every !== 0) return;
    gc();
    const m = process.memoryUsage();
    const s = memoryStats();
    samples.push({ epoch: r.epoch, step: r.epoch * PER_EPOCH, rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, wasmMemory: s.memoryBytes, wasmAllocated: s.allocatedBytes, liveBlocks: s.liveBlocks, fallbacks: s.fallbacks });
  },
});
trainer.fit();
console.log(JSON.stringify({ backend: getBackend().name, steps: trainer.history.steps.loss.length, seconds: (performance.now() - t0) / 1000, firstLoss: trainer.history.epochs[0].trainLoss, lastLoss: trainer.history.epochs.at(-1).trainLoss, samples }));
`;

describe("depth and length", () => {
  it(`a chain of ${OPS.toExponential(0)} ops through backward: no stack overflow, the graph freed as backward goes, memory bounded`, async () => {
    expect(OPS % 5).toBe(0);
    // The graph costs ~440 bytes per op (a Tensor, its Node, a 1-element Float64Array, the inputs
    // array). The heap is capped at 640 B/op + 128 MB: a backward that kept a second copy of the
    // graph, or the whole of it until the end, would run out of memory and fail.
    const capMb = Math.ceil((OPS * 640) / 2 ** 20) + 128;
    const r = (await runScript("depth.mts", DEPTH_SCRIPT, ["--expose-gc", `--max-old-space-size=${capMb}`], [String(OPS)])) as {
      backend: string; forwardMs: number; backwardMs: number; graph: number; during: number[]; after: number; rssBase: number; maxRss: number; grad: number; expected: number;
      wasmBase: number; wasmFinal: number; M: number; wasmBefore: number; wasmPeak: number; wasmAfter: number; wasmMemoryGrowth: number;
    };
    const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MB`;
    console.log(`depth: ${OPS} ops on ${r.backend}: forward ${r.forwardMs.toFixed(0)} ms, backward ${r.backwardMs.toFixed(0)} ms; graph ${mb(r.graph)} (${(r.graph / OPS).toFixed(0)} B/op), live heap during backward ${r.during.map(mb).join(", ")}, after ${mb(r.after)}; peak RSS ${mb(r.maxRss)} (start ${mb(r.rssBase)}); resident chain of ${r.M}: wasm blocks ${mb(r.wasmBefore)} → peak ${mb(r.wasmPeak)} → ${mb(r.wasmAfter)}, memory +${mb(r.wasmMemoryGrowth)}`);
    // d/dx (x c^N) = c^N: every node visited exactly once.
    expect(Math.abs(r.grad - r.expected)).toBeLessThan(1e-9);
    expect(r.graph / OPS).toBeLessThan(640);
    // Backward releases each node once it has passed it: after probe k of 4 (from the output
    // end), at most (5 − k)/5 of the graph is still alive (+ 8 MB for the gradients in flight).
    expect(r.during).toHaveLength(4);
    r.during.forEach((h, k) => expect(h).toBeLessThan((r.graph * (4 - k)) / 5 + 8 * 2 ** 20));
    // All of it freed at the end.
    expect(r.after).toBeLessThan(4 * 2 ** 20);
    // Peak RSS: the graph plus at most half as much again (garbage between collections) and 64 MB.
    expect(r.maxRss - r.rssBase).toBeLessThan(1.5 * r.graph + 64 * 2 ** 20);
    // Scalars are never resident: the wasm memory did not grow for the long chain.
    expect(r.wasmFinal - r.wasmMemoryGrowth).toBe(r.wasmBase);
    // The resident chain: one 384-byte block per op for its output, one per op for its gradient
    // (kept until the scope ends), all returned to the pool by tidy but one: the leaf's .grad,
    // which outlives the scope as a parameter's gradient does.
    expect(r.wasmPeak - r.wasmBefore).toBeLessThanOrEqual(2 * r.M * 384 + 2 ** 20);
    expect(r.wasmAfter - r.wasmBefore).toBeLessThanOrEqual(384);
    expect(r.wasmMemoryGrowth).toBeLessThanOrEqual(1.125 * (2 * r.M * 384) + 2 ** 20);
  }, 300_000);

  it(`${STEPS.toExponential(0)} Trainer steps (checkpoint every 100, validation, dropout, clipping): memory stays flat`, async () => {
    expect(STEPS % 1000).toBe(0);
    const dir = tmp("length");
    const r = (await runScript("length.mts", LENGTH_SCRIPT, ["--expose-gc"], [String(STEPS), dir])) as {
      backend: string; steps: number; seconds: number; firstLoss: number; lastLoss: number;
      samples: { step: number; rss: number; heapUsed: number; arrayBuffers: number; wasmMemory: number; wasmAllocated: number; liveBlocks: number; fallbacks: number }[];
    };
    const s = r.samples;
    const first = s[0]!;
    const last = s.at(-1)!;
    const mb = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MB`;
    console.log(`length: ${r.steps} steps on ${r.backend} in ${r.seconds.toFixed(1)} s (loss ${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}); from step ${first.step} to ${last.step}: heapUsed ${mb(first.heapUsed)} → ${mb(last.heapUsed)}, rss ${mb(first.rss)} → ${mb(last.rss)} (max ${mb(Math.max(...s.map((x) => x.rss)))}), wasm memory ${mb(first.wasmMemory)} → ${mb(last.wasmMemory)}, wasm blocks ${first.liveBlocks} (${first.wasmAllocated} B) → ${last.liveBlocks} (${last.wasmAllocated} B)`);
    expect(r.steps).toBe(STEPS);
    expect(r.lastLoss).toBeLessThan(r.firstLoss);
    expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(true);
    // The wasm heap exactly flat: each step's blocks go back to the pool, nothing outlives a step.
    for (const x of s) {
      expect(x.wasmMemory).toBe(first.wasmMemory);
      expect(x.wasmAllocated).toBe(first.wasmAllocated);
      expect(x.liveBlocks).toBe(first.liveBlocks);
      expect(x.fallbacks).toBe(0);
    }
    // The JavaScript heap (after a full GC) grows only by the history: 8 bytes a step loss and an
    // epoch record per 100 steps, under 0.2 MB for 10^4 steps. 2 MB allows 200 B a step: a leaked
    // tensor (or graph, or batch) per step would be well over that.
    const stepsBetween = last.step - first.step;
    expect(last.heapUsed - first.heapUsed).toBeLessThan(2 * 2 ** 20 * (stepsBetween / 9000));
    // Resident set: allocator and JIT noise only (a leaked 12×64 activation per step would be 28 MB).
    expect(Math.max(...s.map((x) => x.rss)) - first.rss).toBeLessThan(24 * 2 ** 20 * Math.max(1, stepsBetween / 9000));
  }, 300_000);
});
