/**
 * Trainer: the loop, history, validation, schedules, early stopping, best weights, events,
 * progress output, checkpoints and exact (bit-for-bit) resume, including after a SIGKILL, and
 * that training keeps no graph alive across steps.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { Generator, ShapeError, Tensor, ValueError, data, defaultGenerator, manualSeed, nn, optim, tensor, zeros } from "../src/index.js";
import { CHECKPOINT_FILE, Trainer, loadCheckpoint, type EpochRecord, type Loader, type StepEvent, type TrainerOptions } from "../src/node.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const tmpRoot = mkdtempSync(join(tmpdir(), "chainrule-train-"));
let tmpCount = 0;
const tmp = (): string => join(tmpRoot, `run${tmpCount++}`);
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

// ------------------------------------------------------------------------------ data

// CS231n's spiral (3 arms): 120 training and 60 validation points, batched by data.DataLoader
// (epoch e's shuffle is a pure function of (seed, e); the Trainer calls setEpoch(e)).
const trainSet = data.spiral({ classes: 3, pointsPerClass: 40, seed: 1 });
const valSet = data.spiral({ classes: 3, pointsPerClass: 20, seed: 2 });
const loaders = (batchSize = 16, seed = 5): { trainLoader: data.DataLoader; valLoader: data.DataLoader } => ({
  trainLoader: new data.DataLoader(trainSet, { batchSize, shuffle: true, seed }),
  valLoader: new data.DataLoader(valSet, { batchSize: 32 }),
});
const ce = (out: Tensor, y: Tensor): Tensor => nn.functional.crossEntropy(out, y);

function weights(model: nn.Module): Record<string, number[]> {
  return Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
}

/** Bit patterns, so -0 vs 0 and NaN payloads would count as differences. */
function bits(model: nn.Module): Record<string, string> {
  return Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex")]));
}

const withoutTimes = (records: EpochRecord[]): Partial<EpochRecord>[] => records.map(({ seconds: _s, samplesPerSecond: _r, ...rest }) => rest);

function quietOptions(options: Partial<TrainerOptions>): TrainerOptions {
  return { progress: "none", ...options } as TrainerOptions;
}

// ------------------------------------------------------------------------------ the loop

describe("Trainer: the loop and its history", () => {
  it("records per-step losses and per-epoch numbers, and learns the spiral", () => {
    manualSeed(0);
    const model = nn.mlp([2, 32, 3]);
    const { trainLoader, valLoader } = loaders();
    const trainer = new Trainer(quietOptions({ model, loss: ce, optimizer: new optim.Adam(model.parameters(), { lr: 0.03 }), trainLoader, valLoader, epochs: 12 }));
    const h = trainer.fit();
    expect(h.steps.loss).toHaveLength(12 * trainLoader.length);
    expect(h.epochs.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(h.stoppedEarly).toBe(false);
    for (const r of h.epochs) {
      expect(Object.keys(r)).toEqual(["epoch", "trainLoss", "trainAccuracy", "valLoss", "valAccuracy", "lr", "seconds", "samplesPerSecond"]);
      expect(r.trainAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.trainAccuracy).toBeLessThanOrEqual(1);
      expect(r.lr).toBe(0.03);
      expect(r.seconds).toBeGreaterThan(0);
      expect(r.samplesPerSecond).toBeGreaterThan(0);
    }
    // trainLoss is the sample-weighted mean of the epoch's step losses (batches 16×7 + 8).
    const first = h.steps.loss.slice(0, 8);
    const weighted = (first.slice(0, 7).reduce((a, b) => a + b, 0) * 16 + first[7]! * 8) / 120;
    expect(h.epochs[0]!.trainLoss).toBeCloseTo(weighted, 12);
    expect(h.epochs[11]!.trainLoss).toBeLessThan(h.epochs[0]!.trainLoss);
    expect(h.epochs[11]!.trainAccuracy).toBeGreaterThan(0.6);
    expect(h.bestValAccuracy).toBe(Math.max(...h.epochs.map((r) => r.valAccuracy!)));
    expect(h.epochs[h.bestEpoch! - 1]!.valAccuracy).toBe(h.bestValAccuracy);
    // Only numbers in the history.
    expect(JSON.parse(JSON.stringify(h))).toEqual(h);
  });

  it("is exactly the hand-written loop (zeroGrad, forward, loss, backward, clip, step), setEpoch each epoch", () => {
    const run = (useTrainer: boolean): Record<string, string> => {
      manualSeed(3);
      const model = nn.mlp([2, 16, 3], { dropout: 0.2 });
      const optimizer = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
      const { trainLoader } = loaders();
      if (useTrainer) {
        new Trainer(quietOptions({ model, loss: ce, optimizer, trainLoader, epochs: 3, gradClipNorm: 0.5 })).fit();
      } else {
        for (let e = 0; e < 3; e++) {
          trainLoader.setEpoch(e);
          for (const [x, y] of trainLoader) {
            model.train();
            optimizer.zeroGrad();
            const loss = ce(model.forward(x), y);
            loss.backward();
            optim.clipGradNorm(model.parameters(), 0.5);
            optimizer.step();
          }
        }
      }
      return bits(model);
    };
    expect(run(true)).toEqual(run(false));
  });

  it("computes the training accuracy from the step outputs (no extra forward pass)", () => {
    manualSeed(1);
    const model = nn.mlp([2, 16, 3]);
    const { trainLoader } = loaders();
    // lr = 0: the weights never change, so each step's output is what evaluate() sees.
    const trainer = new Trainer(quietOptions({ model, loss: ce, optimizer: new optim.SGD(model.parameters(), { lr: 0 }), trainLoader, epochs: 1 }));
    let forwards = 0;
    const forward = model.forward.bind(model);
    model.forward = (x: Tensor) => (forwards++, forward(x));
    const h = trainer.fit();
    expect(forwards).toBe(trainLoader.length);
    trainLoader.setEpoch(0);
    const ev = trainer.evaluate(trainLoader);
    expect(h.epochs[0]!.trainAccuracy).toBe(ev.accuracy);
    expect(h.epochs[0]!.trainLoss).toBeCloseTo(ev.loss, 6);
  });

  it("evaluate: loss, accuracy and confusion matrix under noGrad in eval mode, training flags restored", () => {
    manualSeed(2);
    const model = nn.mlp([2, 16, 3], { dropout: 0.5 });
    const { trainLoader, valLoader } = loaders();
    const trainer = new Trainer(quietOptions({ model, loss: ce, optimizer: new optim.Adam(model.parameters(), { lr: 0.03 }), trainLoader, epochs: 3 }));
    trainer.fit();
    model.zeroGrad();
    const before = defaultGenerator.getState();
    const a = trainer.evaluate(valLoader);
    const b = trainer.evaluate(valLoader);
    expect(a).toEqual(b); // eval mode: dropout is off, nothing random
    expect(defaultGenerator.getState()).toEqual(before);
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
    expect(model.modules().every((m) => m.training)).toBe(true);
    expect(a.samples).toBe(60);
    expect(a.confusion).toHaveLength(3);
    expect(a.confusion.map((row) => row.reduce((s, v) => s + v, 0))).toEqual([20, 20, 20]);
    const trace = a.confusion.reduce((s, row, i) => s + row[i]!, 0);
    expect(a.accuracy).toBe(trace / 60);
    // Loss: the sample-weighted mean of the batch losses, computed directly.
    let sum = 0;
    model.eval();
    for (const [x, y] of valLoader) sum += ce(model.forward(x), y).item() * x.shape[0]!;
    model.train();
    expect(a.loss).toBeCloseTo(sum / 60, 6);
  });

  it("steps the scheduler once per epoch after validation; ReduceLROnPlateau gets the validation loss", () => {
    manualSeed(4);
    let model = nn.mlp([2, 8, 3]);
    let optimizer = new optim.SGD(model.parameters(), { lr: 0.1 });
    const { trainLoader, valLoader } = loaders();
    const h = new Trainer(quietOptions({ model, loss: ce, optimizer, trainLoader, epochs: 5, scheduler: new optim.StepLR(optimizer, { stepSize: 2, gamma: 0.5 }) })).fit();
    expect(h.epochs.map((r) => r.lr)).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);

    class Spy extends optim.ReduceLROnPlateau {
      seen: number[] = [];
      override step(metric: number): void {
        this.seen.push(metric);
        super.step(metric);
      }
    }
    model = nn.mlp([2, 8, 3]);
    optimizer = new optim.SGD(model.parameters(), { lr: 0.1 });
    const spy = new Spy(optimizer, { patience: 0, factor: 0.5 });
    const h2 = new Trainer(quietOptions({ model, loss: ce, optimizer, trainLoader, valLoader, epochs: 4, scheduler: spy })).fit();
    expect(spy.seen).toEqual(h2.epochs.map((r) => r.valLoss));
  });

  it("early stopping: stops after `patience` epochs without improvement", () => {
    manualSeed(5);
    const model = nn.mlp([2, 8, 3]);
    const { trainLoader, valLoader } = loaders();
    // lr = 0: the validation loss never improves after the first epoch.
    const h = new Trainer(
      quietOptions({ model, loss: ce, optimizer: new optim.SGD(model.parameters(), { lr: 0 }), trainLoader, valLoader, epochs: 20, earlyStopping: { patience: 2, metric: "valLoss" } }),
    ).fit();
    expect(h.epochs).toHaveLength(3);
    expect(h.stoppedEarly).toBe(true);

    // minDelta: improvements smaller than it do not count.
    manualSeed(5);
    const m2 = nn.mlp([2, 8, 3]);
    const h2 = new Trainer(
      quietOptions({
        model: m2,
        loss: ce,
        optimizer: new optim.SGD(m2.parameters(), { lr: 1e-4 }),
        trainLoader,
        valLoader,
        epochs: 20,
        earlyStopping: { patience: 3, minDelta: 0.5, metric: "valAccuracy" },
      }),
    ).fit();
    expect(h2.epochs).toHaveLength(4);
    expect(h2.stoppedEarly).toBe(true);
  });

  it("restoreBestWeights: ends with the weights of the best validation accuracy (default), or the last ones", () => {
    const run = (restoreBestWeights: boolean | undefined) => {
      manualSeed(6);
      const model = nn.mlp([2, 16, 3]);
      const { trainLoader, valLoader } = loaders();
      const snapshots: Record<string, number[]>[] = [];
      const options = quietOptions({ model, loss: ce, optimizer: new optim.Adam(model.parameters(), { lr: 0.05 }), trainLoader, valLoader, epochs: 8, onEpoch: () => void snapshots.push(weights(model)) });
      if (restoreBestWeights !== undefined) options.restoreBestWeights = restoreBestWeights;
      const h = new Trainer(options).fit();
      return { h, snapshots, final: weights(model) };
    };
    const best = run(undefined);
    expect(best.h.bestEpoch).toBeDefined();
    const firstBest = best.h.epochs.findIndex((r) => r.valAccuracy === best.h.bestValAccuracy) + 1;
    expect(best.h.bestEpoch).toBe(firstBest);
    expect(best.final).toEqual(best.snapshots[best.h.bestEpoch! - 1]);
    const last = run(false);
    expect(last.final).toEqual(last.snapshots[7]);
    if (best.h.bestEpoch !== 8) expect(best.final).not.toEqual(last.final);
  });
});

// ------------------------------------------------------------------------------ events and progress

describe("Trainer: events and progress output", () => {
  const small = (extra: Partial<TrainerOptions> = {}): TrainerOptions => {
    manualSeed(7);
    const model = nn.mlp([2, 8, 3]);
    const { trainLoader, valLoader } = loaders(40);
    return { model, loss: ce, optimizer: new optim.Adam(model.parameters(), { lr: 0.01 }), trainLoader, valLoader, epochs: 3, ...extra } as TrainerOptions;
  };

  it("emits step, epoch and end with the recorded numbers (on() and options callbacks)", () => {
    const steps: StepEvent[] = [];
    const epochs: EpochRecord[] = [];
    const optionSteps: number[] = [];
    let ended = 0;
    const trainer = new Trainer(small({ progress: "none", onStep: (e) => void optionSteps.push(e.step), onEnd: () => void ended++ }));
    trainer.on("step", (e) => void steps.push(e)).on("epoch", (r) => void epochs.push(r)).on("end", (h) => {
      ended++;
      expect(h).toBe(trainer.history);
    });
    const h = trainer.fit();
    expect(steps).toHaveLength(9);
    expect(optionSteps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(steps.map((s) => [s.epoch, s.batch, s.batches])).toEqual([1, 2, 3].flatMap((e) => [0, 1, 2].map((b) => [e, b, 3])));
    expect(steps.map((s) => s.loss)).toEqual(h.steps.loss);
    expect(steps.map((s) => s.batchSize)).toEqual([40, 40, 40, 40, 40, 40, 40, 40, 40]);
    expect(epochs).toEqual(h.epochs);
    expect(ended).toBe(2);
    expect(() => trainer.on("bogus" as "step", () => {})).toThrow(ValueError);
  });

  it('"lines": one plain line per epoch; "json": one JSON object per epoch; "none": nothing', () => {
    const lines: string[] = [];
    new Trainer(small({ progress: "lines", log: (l) => void lines.push(l) })).fit();
    const epochLines = lines.filter((l) => l.startsWith("epoch "));
    expect(epochLines).toHaveLength(3);
    expect(epochLines[0]).toMatch(/^epoch 1\/3 {2}loss \d+\.\d{4} {2}acc \d+\.\d\d% {2}val_loss \d+\.\d{4} {2}val_acc \d+\.\d\d% {2}lr 0\.01 {2}\d+\.\d\d s {2}\d+ samples\/s$/);
    expect(lines.at(-1)).toMatch(/^restored the weights of epoch \d/);

    const json: string[] = [];
    const h = new Trainer(small({ progress: "json", log: (l) => void json.push(l) })).fit();
    expect(json).toHaveLength(3);
    expect(json.map((l) => JSON.parse(l))).toEqual(h.epochs);

    const none: string[] = [];
    new Trainer(small({ progress: "none", log: (l) => void none.push(l) })).fit();
    expect(none).toEqual([]);
  });

  it('"bar": a cli-progress bar on a terminal, replaced by the epoch line; off a terminal the default is lines', () => {
    const out: string[] = [];
    const tty = { isTTY: true, columns: 160, write: (s: string) => void out.push(s) };
    new Trainer(small({ progress: "bar", stream: tty })).fit();
    const text = out.join("");
    expect(text).toMatch(/epoch 1\/3 \|[█░]+\| 0\/3 \| loss - \| acc - \| - samples\/s \| ETA --:--/);
    expect(text).toMatch(/epoch 3\/3 \|█+\| 3\/3 \| loss \d+\.\d{4} \| acc \d+\.\d\d% \| \d+ samples\/s \| ETA \d+:\d\d/);
    expect(text).toMatch(/epoch 3\/3 {2}loss .* samples\/s\n/);
    // The default on a terminal is the bar.
    const out2: string[] = [];
    new Trainer(small({ stream: { isTTY: true, columns: 160, write: (s: string) => void out2.push(s) } })).fit();
    expect(out2.join("")).toContain("|█");
    // Not a terminal: "bar" (and the default) fall back to lines.
    const plain: string[] = [];
    const pipe = { isTTY: false, write: (s: string) => void plain.push(s) };
    new Trainer(small({ progress: "bar", stream: pipe })).fit();
    new Trainer(small({ stream: pipe })).fit();
    expect(plain.join("")).not.toContain("█");
    expect(plain.join("").split("\n").filter((l) => l.startsWith("epoch "))).toHaveLength(6);
  });
});

// ------------------------------------------------------------------------------ validation

describe("Trainer: option checks and errors", () => {
  const base = (): TrainerOptions => {
    const model = nn.mlp([2, 4, 3]);
    return { model, loss: ce, optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), trainLoader: loaders().trainLoader, epochs: 1, progress: "none" };
  };

  it("rejects unknown options, listing the valid names", () => {
    expect(() => new Trainer({ ...base(), epoch: 3 } as unknown as TrainerOptions)).toThrow(ValueError);
    expect(() => new Trainer({ ...base(), epoch: 3 } as unknown as TrainerOptions)).toThrow(
      /unknown option 'epoch'; the valid options are model, loss, optimizer, trainLoader, valLoader, epochs, scheduler, earlyStopping, restoreBestWeights, checkpointDir, progress, log, stream, gradClipNorm, onStep, onEpoch, onEnd\./,
    );
    expect(() => new Trainer({ ...base(), earlyStopping: { patience: 2, metric: "valLoss", delta: 1 } } as unknown as TrainerOptions)).toThrow(/unknown field 'delta'/);
  });

  it("checks option values", () => {
    expect(() => new Trainer({ ...base(), epochs: 0 })).toThrow(/'epochs' must be a positive integer/);
    expect(() => new Trainer({ ...base(), epochs: 2.5 })).toThrow(ValueError);
    expect(() => new Trainer({ ...base(), progress: "fancy" as "bar" })).toThrow(/'progress' must be one of "bar", "lines", "json", "none"/);
    expect(() => new Trainer({ ...base(), gradClipNorm: -1 })).toThrow(/gradClipNorm/);
    expect(() => new Trainer({ ...base(), model: {} as nn.Module })).toThrow(/'model' must be an nn.Module/);
    expect(() => new Trainer({ ...base(), trainLoader: { length: 3 } as unknown as Loader })).toThrow(/'trainLoader' must be a data loader/);
    expect(() => new Trainer({ ...base(), earlyStopping: { patience: 2, metric: "valLoss" } })).toThrow(/needs a 'valLoader'/);
    expect(() => new Trainer({ ...base(), valLoader: loaders().valLoader, earlyStopping: { patience: 0, metric: "valLoss" } })).toThrow(/patience/);
    expect(() => new Trainer({ ...base(), valLoader: loaders().valLoader, earlyStopping: { patience: 1, metric: "loss" as "valLoss" } })).toThrow(/metric/);
  });

  it("an empty training loader is a ValueError (at construction, or at fit when it yields nothing)", () => {
    const empty = new data.DataLoader(new data.TensorDataset(zeros([0, 2]), zeros([0], { dtype: "int32" })), { batchSize: 8 });
    expect(() => new Trainer({ ...base(), trainLoader: empty })).toThrow(ValueError);
    expect(() => new Trainer({ ...base(), trainLoader: empty })).toThrow(/training loader is empty/);
    const liar: Loader = { length: 3, *[Symbol.iterator]() {} };
    expect(() => new Trainer({ ...base(), trainLoader: liar }).fit()).toThrow(/training loader is empty/);
  });

  it("an output the loss cannot take: the loss's own error propagates", () => {
    const model = nn.mlp([2, 4, 3]);
    const trainLoader: Loader = { length: 1, *[Symbol.iterator]() { yield [tensor(new Float32Array(8), { shape: [4, 2] }), tensor(new Int32Array(8), { shape: [4, 2] })] as const; } };
    const t = new Trainer({ model, loss: ce, optimizer: new optim.SGD(model.parameters()), trainLoader, epochs: 1, progress: "none" });
    expect(() => t.fit()).toThrow(ShapeError);
    expect(() => t.fit()).toThrow(/crossEntropy/);
    const t2 = new Trainer({ model, loss: (o) => o.sum({ axis: 1 }), optimizer: new optim.SGD(model.parameters()), trainLoader: loaders().trainLoader, epochs: 1, progress: "none" });
    expect(() => t2.fit()).toThrow(/backward|scalar/);
  });
});

// ------------------------------------------------------------------------------ checkpoints and exact resume

describe("Trainer: checkpoints and exact resume", () => {
  it("writes checkpoint.safetensors atomically after each epoch with everything needed to resume", () => {
    manualSeed(8);
    const dir = tmp();
    const model = nn.mlp([2, 8, 3], { dropout: 0.1 });
    const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
    const scheduler = new optim.ExponentialLR(optimizer, { gamma: 0.9 });
    const { trainLoader, valLoader } = loaders();
    const seen: number[] = [];
    const trainer = new Trainer(
      quietOptions({
        model,
        loss: ce,
        optimizer,
        scheduler,
        trainLoader,
        valLoader,
        epochs: 3,
        checkpointDir: join(dir, "nested"),
        restoreBestWeights: false,
        onEpoch: (r) => {
          const ck = loadCheckpoint(join(dir, "nested", CHECKPOINT_FILE));
          seen.push((ck.meta as { epoch: number }).epoch);
          expect(r.epoch).toBe(seen.at(-1));
        },
      }),
    );
    expect(trainer.checkpointPath).toBe(join(dir, "nested", CHECKPOINT_FILE));
    trainer.fit();
    expect(seen).toEqual([1, 2, 3]);
    expect(readdirSync(join(dir, "nested"))).toEqual([CHECKPOINT_FILE]); // no temporary file left
    const ck = loadCheckpoint(join(dir, "nested", CHECKPOINT_FILE));
    expect(Object.keys(ck.model).sort()).toEqual(Object.keys(model.stateDict()).sort());
    for (const [k, t] of Object.entries(model.stateDict())) expect(Array.from(ck.model[k]!.data)).toEqual(Array.from(t.data));
    const meta = ck.meta as Record<string, unknown> & { rng: { default: number[] }; history: { stepLoss: Float64Array; epochs: EpochRecord[] } };
    expect(meta.epoch).toBe(3);
    expect(meta.rng.default).toEqual(defaultGenerator.getState());
    expect(Array.from(meta.history.stepLoss)).toEqual(trainer.history.steps.loss);
    expect(meta.history.epochs).toEqual(trainer.history.epochs);
    expect(meta.scheduler).toEqual(scheduler.stateDict());
    expect(meta.trainLoader).toEqual({ seed: 5, epoch: 2 });
    expect(meta.bestWeights).toBeUndefined(); // kept only with restoreBestWeights
    expect((ck.optimizer as { paramGroups: { lr: number }[] }).paramGroups[0]!.lr).toBeCloseTo(0.01 * 0.9 ** 3, 15);
  });

  /** 4 epochs at once, or 2 epochs, then a fresh model/optimizer/trainer resumed for the other 2. */
  function resumeCase(build: (initSeed: number) => TrainerOptions, seed: number): { full: Trainer; resumed: Trainer; fullBits: Record<string, string>; resumedBits: Record<string, string>; freshBits: Record<string, string>; dir: string } {
    const full = new Trainer(build(seed));
    full.fit();
    const fullBits = bits(full.model);

    const dir = tmp();
    const first = new Trainer({ ...build(seed), epochs: 2, checkpointDir: dir });
    first.fit();
    // A different initialisation, and the default generator moved on: the checkpoint must restore it all.
    const options = { ...build(seed + 1000), checkpointDir: dir };
    const freshBits = bits(options.model);
    defaultGenerator.manualSeed(seed + 2000);
    const resumed = Trainer.resume(join(dir, CHECKPOINT_FILE), options);
    expect(resumed.epoch).toBe(2);
    resumed.fit();
    return { full, resumed, fullBits, resumedBits: bits(resumed.model), freshBits, dir };
  }

  it("a 4-epoch run interrupted after epoch 2 and resumed gives bit-for-bit the same weights (Adam, StepLR, dropout on the default generator, clipping)", () => {
    const build = (initSeed: number): TrainerOptions => {
      manualSeed(initSeed);
      const model = nn.mlp([2, 24, 3], { dropout: 0.3 });
      const optimizer = new optim.Adam(model.parameters(), { lr: 0.02 });
      const { trainLoader, valLoader } = loaders();
      return quietOptions({ model, loss: ce, optimizer, trainLoader, valLoader, epochs: 4, scheduler: new optim.StepLR(optimizer, { stepSize: 1, gamma: 0.7 }), gradClipNorm: 1, restoreBestWeights: false });
    };
    const r = resumeCase(build, 11);
    expect(r.freshBits).not.toEqual(r.fullBits);
    expect(r.resumedBits).toEqual(r.fullBits);
    expect(withoutTimes(r.resumed.history.epochs)).toEqual(withoutTimes(r.full.history.epochs));
    expect(r.resumed.history.steps.loss).toEqual(r.full.history.steps.loss);
    expect(r.resumed.history.bestEpoch).toBe(r.full.history.bestEpoch);
    expect(r.resumed.optimizer.paramGroups[0]!.lr).toBe(r.full.optimizer.paramGroups[0]!.lr);

    // The dropout masks matter: the same run with the default generator reseeded after
    // initialisation ends elsewhere, so the test above does check the RNG state.
    const options = build(11);
    defaultGenerator.manualSeed(99);
    const other = new Trainer(options);
    other.fit();
    expect(bits(other.model)).not.toEqual(r.fullBits);
  });

  it("also with SGD momentum, ReduceLROnPlateau, early stopping, best weights and a Dropout with its own Generator", () => {
    const build = (initSeed: number): TrainerOptions => {
      manualSeed(initSeed);
      const gen = new Generator(initSeed * 7);
      const model = new nn.Sequential(new nn.Linear(2, 24), new nn.ReLU(), new nn.Dropout(0.3, { generator: gen }), new nn.Linear(24, 3));
      const optimizer = new optim.SGD(model.parameters(), { lr: 0.2, momentum: 0.9, nesterov: true });
      const { trainLoader, valLoader } = loaders(16, initSeed === 21 ? 5 : 6);
      return quietOptions({
        model,
        loss: ce,
        optimizer,
        trainLoader,
        valLoader,
        epochs: 4,
        // A 20% threshold: the plateau schedule does cut the lr within the run.
        scheduler: new optim.ReduceLROnPlateau(optimizer, { patience: 0, factor: 0.5, threshold: 0.2 }),
        earlyStopping: { patience: 3, minDelta: 0.01, metric: "valAccuracy" },
      });
    };
    const r = resumeCase(build, 21);
    expect(r.freshBits).not.toEqual(r.fullBits);
    expect(r.resumedBits).toEqual(r.fullBits);
    expect(r.resumed.history.bestEpoch).toBe(r.full.history.bestEpoch);
    expect(r.resumed.history.stoppedEarly).toBe(r.full.history.stoppedEarly);
    expect(withoutTimes(r.resumed.history.epochs)).toEqual(withoutTimes(r.full.history.epochs));
    expect(new Set(r.full.history.epochs.map((e) => e.lr)).size).toBeGreaterThan(1);
    // The best weights travel in the checkpoint (restoreBestWeights is on by default).
    const ck = loadCheckpoint(join(r.dir, CHECKPOINT_FILE));
    expect(Object.keys((ck.meta as { bestWeights: object }).bestWeights).sort()).toEqual(Object.keys(r.full.model.stateDict()).sort());
  });

  it("refuses a checkpoint that does not fit the trainer", () => {
    manualSeed(9);
    const dir = tmp();
    const model = nn.mlp([2, 8, 3]);
    const optimizer = new optim.SGD(model.parameters(), { lr: 0.1 });
    const { trainLoader } = loaders();
    new Trainer(quietOptions({ model, loss: ce, optimizer, trainLoader, epochs: 1, checkpointDir: dir })).fit();
    const path = join(dir, CHECKPOINT_FILE);
    const other = nn.mlp([2, 9, 3]);
    expect(() => Trainer.resume(path, quietOptions({ model: other, loss: ce, optimizer: new optim.SGD(other.parameters()), trainLoader, epochs: 2 }))).toThrow(ShapeError);
    const same = nn.mlp([2, 8, 3]);
    const opt2 = new optim.SGD(same.parameters(), { lr: 0.1 });
    expect(() => Trainer.resume(path, quietOptions({ model: same, loss: ce, optimizer: opt2, trainLoader, epochs: 2, scheduler: new optim.StepLR(opt2, { stepSize: 1 }) }))).toThrow(/written without one/);
    // All or nothing: an optimizer state that is refused leaves the model's weights as they were.
    const fresh = nn.mlp([2, 8, 3]);
    const before = fresh.stateDict()["0.weight"]!.toArray();
    const adam = new optim.Adam(fresh.parameters());
    expect(() => Trainer.resume(path, quietOptions({ model: fresh, loss: ce, optimizer: adam, trainLoader, epochs: 2 }))).toThrow();
    expect(fresh.stateDict()["0.weight"]!.toArray()).toEqual(before);
    // A finished run resumed with the same epochs does nothing more.
    const done = Trainer.resume(path, quietOptions({ model: same, loss: ce, optimizer: new optim.SGD(same.parameters(), { lr: 0.1 }), trainLoader, epochs: 1 }));
    expect(done.fit().epochs).toHaveLength(1);
    expect(done.history.steps.loss).toHaveLength(trainLoader.length);
  });

  it("a run killed with SIGKILL mid-epoch resumes from the last complete checkpoint to the same weights; the file is never corrupt", async () => {
    const dir = tmp();
    const script = join(tmpRoot, "child.ts");
    writeFileSync(script, childScript(join(root, "src")));
    const runChild = (args: string[], onLine?: (line: string, kill: () => void) => void) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
        // node itself with tsx's loader (the tsx CLI would run the script in a grandchild that SIGKILL does not reach).
        const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let buffered = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          stdout += chunk;
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            onLine?.(line, () => child.kill("SIGKILL"));
          }
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk));
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
      });

    const fullDir = join(dir, "full");
    const killedDir = join(dir, "killed");
    const ckPath = join(killedDir, CHECKPOINT_FILE);
    let reads = 0;
    let readError: unknown;
    const poll = setInterval(() => {
      if (!existsSync(ckPath)) return;
      try {
        loadCheckpoint(ckPath);
        reads++;
      } catch (e) {
        // A file that exists must always be whole (renamed into place complete).
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") readError = e;
      }
    }, 3);
    let killedAt = "";
    const [full, killed] = await Promise.all([
      runChild(["run", fullDir, join(dir, "full.safetensors"), "0"]),
      // 10 ms per step, and a long stall at epoch 3 batch 2, where the kill lands.
      runChild(["run", killedDir, join(dir, "killed.safetensors"), "10", "3:2"], (line, kill) => {
        const m = /^step (\d+) (\d+)$/.exec(line);
        if (m && Number(m[1]) === 3 && Number(m[2]) === 2 && !killedAt) {
          killedAt = line;
          kill();
        }
      }),
    ]);
    clearInterval(poll);
    expect(full.stderr).toBe("");
    expect(full.code).toBe(0);
    expect(killed.signal).toBe("SIGKILL");
    expect(killedAt).toBe("step 3 2");
    expect(existsSync(join(dir, "killed.safetensors"))).toBe(false);
    expect(readError).toBeUndefined();
    expect(reads).toBeGreaterThan(0);
    const ck = loadCheckpoint(ckPath);
    expect((ck.meta as { epoch: number }).epoch).toBe(2);

    const resumed = await runChild(["resume", killedDir, join(dir, "resumed.safetensors"), "0"]);
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^step 3 0$/m);
    expect(resumed.stdout).not.toMatch(/^step 2 /m);
    // Final (best) weights and the last checkpoints' weights: identical bytes.
    expect(readFileSync(join(dir, "resumed.safetensors")).equals(readFileSync(join(dir, "full.safetensors")))).toBe(true);
    const a = loadCheckpoint(join(fullDir, CHECKPOINT_FILE));
    const b = loadCheckpoint(ckPath);
    expect(Object.keys(b.model)).toEqual(Object.keys(a.model));
    for (const k of Object.keys(a.model)) expect(Buffer.from(b.model[k]!.data.buffer).equals(Buffer.from(a.model[k]!.data.buffer))).toBe(true);
  });
});

/** The child process of the SIGKILL test: trains 5 epochs with checkpoints, optionally slowly. */
function childScript(src: string): string {
  const url = (f: string): string => JSON.stringify(new URL(`file://${join(src, f)}`).href);
  return `
import { join } from "node:path";
import { data, manualSeed, nn, optim } from ${url("index.ts")};
import { Trainer, save } from ${url("node.ts")};

const [mode, dir, out, sleep, stallAt] = process.argv.slice(2);
const sleepMs = Number(sleep);
const pause = new Int32Array(new SharedArrayBuffer(4));

manualSeed(mode === "resume" ? 12345 : 7);
const model = nn.mlp([2, 24, 3], { dropout: 0.2 });
const optimizer = new optim.Adam(model.parameters(), { lr: 0.02 });
const options = {
  model,
  loss: (o, y) => nn.functional.crossEntropy(o, y),
  optimizer,
  scheduler: new optim.CosineAnnealingLR(optimizer, { tMax: 5 }),
  trainLoader: new data.DataLoader(data.spiral({ pointsPerClass: 40, seed: 1 }), { batchSize: 16, shuffle: true, seed: 3 }),
  valLoader: new data.DataLoader(data.spiral({ pointsPerClass: 20, seed: 2 }), { batchSize: 32 }),
  epochs: 5,
  checkpointDir: dir,
  progress: "none",
  onStep: (e) => {
    process.stdout.write("step " + e.epoch + " " + e.batch + "\\n");
    if (sleepMs > 0) Atomics.wait(pause, 0, 0, stallAt === e.epoch + ":" + e.batch ? 60000 : sleepMs);
  },
};
const trainer = mode === "resume" ? Trainer.resume(join(dir, "checkpoint.safetensors"), options) : new Trainer(options);
trainer.fit();
save(model, out);
`;
}

// ------------------------------------------------------------------------------ memory

describe("Trainer: memory", () => {
  it("keeps no graph alive across steps: the heap after step 2,000 is within 20 MB of the heap after step 200", () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    manualSeed(10);
    const model = nn.mlp([2, 32, 3], { dropout: 0.1 });
    const trainLoader = new data.DataLoader(trainSet, { batchSize: 12, shuffle: true }); // 10 batches per epoch
    const heap: Record<number, number> = {};
    const trainer = new Trainer(
      quietOptions({
        model,
        loss: ce,
        optimizer: new optim.Adam(model.parameters(), { lr: 0.01 }),
        trainLoader,
        epochs: 200,
        gradClipNorm: 5,
        onStep: (e) => {
          if (e.step === 200 || e.step === 2000) {
            gc();
            heap[e.step] = process.memoryUsage().heapUsed;
          }
        },
      }),
    );
    trainer.fit();
    expect(trainer.history.steps.loss).toHaveLength(2000);
    const growth = heap[2000]! - heap[200]!;
    expect(growth).toBeLessThan(20 * 2 ** 20);
  });
});
