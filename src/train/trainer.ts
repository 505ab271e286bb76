/**
 * `Trainer`: the training loop, in the spirit of the CS231n Solver. It runs epochs of
 * zeroGrad → forward → loss → backward → (clip) → step over a loader, evaluates on a validation
 * loader, steps a learning-rate schedule, stops early, keeps the best weights, reports progress,
 * and writes a checkpoint after every epoch from which a run resumes bit for bit.
 * Node-only (it writes files and draws on the terminal): exported from "chainrule/node".
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DeviceError, ShapeError, ValueError } from "../errors.js";
import { noGrad } from "../autograd/mode.js";
import { loadCheckpoint, saveCheckpoint } from "../io/node-fs.js";
import { Module } from "../nn/module.js";
import { clipGradNormTensor } from "../optim/clip.js";
import { ReduceLROnPlateau, type AnyOptimizer } from "../optim/lr-scheduler.js";
import type { OptimizerStateDict } from "../optim/optimizer.js";
import { Generator as RandomGenerator, defaultGenerator } from "../tensor/random.js";
import { Tensor } from "../tensor/tensor.js";
import { keep, tidy } from "../tensor/storage.js";
import type { Storage } from "../tensor/dtype.js";
import { clone } from "../ops/shape-ops.js";
import { countCorrect, forEachPrediction } from "./metrics.js";
import { makeReporter, type ProgressMode, type ProgressStream, type Reporter } from "./progress.js";
import type {
  EarlyStoppingOptions,
  EpochRecord,
  EvaluateResult,
  History,
  Loader,
  SchedulerLike,
  StepEvent,
  TrainerEvents,
  TrainerOptions,
} from "./types.js";

/** The name of the checkpoint file written in `checkpointDir`. */
export const CHECKPOINT_FILE = "checkpoint.safetensors";

const OPTION_NAMES = [
  "model",
  "loss",
  "optimizer",
  "trainLoader",
  "valLoader",
  "epochs",
  "scheduler",
  "earlyStopping",
  "restoreBestWeights",
  "checkpointDir",
  "progress",
  "log",
  "stream",
  "gradClipNorm",
  "onStep",
  "onEpoch",
  "onEnd",
] as const;
const EARLY_STOPPING_NAMES = ["patience", "minDelta", "metric"] as const;
const PROGRESS_MODES: readonly ProgressMode[] = ["bar", "lines", "json", "none"];

/** What a Trainer checkpoint keeps besides the model and optimizer (the file's `meta`). */
interface TrainerMeta {
  trainer: number;
  epoch: number;
  history: {
    stepLoss: Float64Array;
    epochs: EpochRecord[];
    bestEpoch?: number;
    bestValAccuracy?: number;
    stoppedEarly: boolean;
  };
  scheduler?: Record<string, unknown>;
  rng: { default: number[]; modules: number[][] };
  trainLoader?: unknown;
  valLoader?: unknown;
  earlyStopping: { best?: number; wait: number };
  bestWeights?: Record<string, Tensor>;
}
const META_VERSION = 1;

type Listeners = { [K in keyof TrainerEvents]: TrainerEvents[K][] };

/**
 * Trains a model. See docs/train.md.
 * @example
 * const trainer = new Trainer({ model, loss: nn.functional.crossEntropy, optimizer, trainLoader, valLoader, epochs: 10 });
 * const history = trainer.fit();
 */
export class Trainer {
  readonly model: Module;
  readonly optimizer: AnyOptimizer;
  readonly trainLoader: Loader;
  readonly valLoader: Loader | undefined;
  readonly scheduler: SchedulerLike | undefined;
  /** Total epochs of the run. */
  readonly epochs: number;
  /** Everything recorded so far (numbers only). */
  readonly history: History = { steps: { loss: [] }, epochs: [], stoppedEarly: false };
  /** Epochs completed (also after loadCheckpoint). */
  epoch = 0;

  private readonly lossFn: (output: Tensor, y: Tensor) => Tensor;
  private readonly earlyStopping: Required<EarlyStoppingOptions> | undefined;
  private readonly restoreBestWeights: boolean;
  private readonly checkpointDir: string | undefined;
  private readonly progress: ProgressMode;
  private readonly log: (line: string) => void;
  private readonly stream: ProgressStream;
  private readonly gradClipNorm: number | undefined;
  private readonly listeners: Listeners = { step: [], epoch: [], end: [] };
  private bestWeights: Record<string, Tensor> | undefined;
  private esBest: number | undefined;
  private esWait = 0;
  /** RNG states restored by loadCheckpoint, applied again when fit() starts. */
  private pendingRng: TrainerMeta["rng"] | undefined;
  private running = false;

  constructor(options: TrainerOptions) {
    const op = "Trainer";
    if (options === null || typeof options !== "object") throw new ValueError(`${op}: expected an options object { model, loss, optimizer, trainLoader, epochs, ... }.`);
    rejectUnknown(op, "option", options, OPTION_NAMES);
    const o = options;
    if (!(o.model instanceof Module)) throw new ValueError(`${op}: option 'model' must be an nn.Module, got ${describe(o.model)}.`);
    if (typeof o.loss !== "function") throw new ValueError(`${op}: option 'loss' must be a function (output, y) => scalar tensor, e.g. nn.functional.crossEntropy; got ${describe(o.loss)}.`);
    const opt = o.optimizer as unknown as Record<string, unknown> | null;
    if (opt === null || typeof opt !== "object" || !Array.isArray(opt.paramGroups) || typeof opt.step !== "function" || typeof opt.zeroGrad !== "function") {
      throw new ValueError(`${op}: option 'optimizer' must be an optim optimizer (e.g. new optim.Adam(model.parameters())), got ${describe(o.optimizer)}.`);
    }
    checkLoader(op, "trainLoader", o.trainLoader);
    if (o.trainLoader.length === 0) throw emptyLoader(op);
    if (o.valLoader !== undefined) checkLoader(op, "valLoader", o.valLoader);
    if (typeof o.epochs !== "number" || !Number.isInteger(o.epochs) || o.epochs < 1) throw new ValueError(`${op}: option 'epochs' must be a positive integer, got ${describe(o.epochs)}.`);
    if (o.scheduler !== undefined) {
      const s = o.scheduler as unknown as Record<string, unknown> | null;
      if (s === null || typeof s !== "object" || typeof s.step !== "function" || typeof s.stateDict !== "function" || typeof s.loadStateDict !== "function") {
        throw new ValueError(`${op}: option 'scheduler' must be an optim learning-rate schedule (with step, stateDict, loadStateDict), got ${describe(o.scheduler)}.`);
      }
    }
    if (o.earlyStopping !== undefined) {
      const es = o.earlyStopping;
      if (es === null || typeof es !== "object") throw new ValueError(`${op}: option 'earlyStopping' must be { patience, minDelta?, metric }, got ${describe(es)}.`);
      rejectUnknown(`${op}: earlyStopping`, "field", es, EARLY_STOPPING_NAMES);
      if (typeof es.patience !== "number" || !Number.isInteger(es.patience) || es.patience < 1) throw new ValueError(`${op}: earlyStopping.patience must be an integer ≥ 1, got ${describe(es.patience)}.`);
      const minDelta = es.minDelta ?? 0;
      if (typeof minDelta !== "number" || !(minDelta >= 0)) throw new ValueError(`${op}: earlyStopping.minDelta must be a number ≥ 0, got ${describe(es.minDelta)}.`);
      if (es.metric !== "valAccuracy" && es.metric !== "valLoss") throw new ValueError(`${op}: earlyStopping.metric must be "valAccuracy" or "valLoss", got ${describe(es.metric)}.`);
      if (o.valLoader === undefined) throw new ValueError(`${op}: earlyStopping watches ${es.metric}, which needs a 'valLoader'.`);
      this.earlyStopping = { patience: es.patience, minDelta, metric: es.metric };
    }
    if (o.restoreBestWeights !== undefined && typeof o.restoreBestWeights !== "boolean") throw new ValueError(`${op}: option 'restoreBestWeights' must be true or false, got ${describe(o.restoreBestWeights)}.`);
    if (o.checkpointDir !== undefined && (typeof o.checkpointDir !== "string" || o.checkpointDir === "")) throw new ValueError(`${op}: option 'checkpointDir' must be a directory path, got ${describe(o.checkpointDir)}.`);
    if (o.progress !== undefined && !PROGRESS_MODES.includes(o.progress)) throw new ValueError(`${op}: option 'progress' must be one of ${PROGRESS_MODES.map((m) => `"${m}"`).join(", ")}, got ${describe(o.progress)}.`);
    if (o.log !== undefined && typeof o.log !== "function") throw new ValueError(`${op}: option 'log' must be a function (line: string) => void, got ${describe(o.log)}.`);
    if (o.stream !== undefined && (o.stream === null || typeof o.stream !== "object" || typeof o.stream.write !== "function")) throw new ValueError(`${op}: option 'stream' must be a writable stream, got ${describe(o.stream)}.`);
    if (o.gradClipNorm !== undefined && (typeof o.gradClipNorm !== "number" || !(o.gradClipNorm > 0))) throw new ValueError(`${op}: option 'gradClipNorm' must be a number > 0, got ${describe(o.gradClipNorm)}.`);
    for (const name of ["onStep", "onEpoch", "onEnd"] as const) {
      if (o[name] !== undefined && typeof o[name] !== "function") throw new ValueError(`${op}: option '${name}' must be a function, got ${describe(o[name])}.`);
    }

    this.model = o.model;
    this.lossFn = o.loss;
    this.optimizer = o.optimizer;
    this.trainLoader = o.trainLoader;
    this.valLoader = o.valLoader;
    this.epochs = o.epochs;
    this.scheduler = o.scheduler;
    this.restoreBestWeights = o.restoreBestWeights ?? true;
    this.checkpointDir = o.checkpointDir;
    this.stream = o.stream ?? process.stdout;
    const stream = this.stream;
    this.log = o.log ?? ((line: string) => void stream.write(`${line}\n`));
    // cli-progress draws nothing off a terminal, so a bar is only used on one.
    const wanted = o.progress ?? (stream.isTTY === true ? "bar" : "lines");
    this.progress = wanted === "bar" && stream.isTTY !== true ? "lines" : wanted;
    this.gradClipNorm = o.gradClipNorm;
    if (o.onStep) this.listeners.step.push(o.onStep);
    if (o.onEpoch) this.listeners.epoch.push(o.onEpoch);
    if (o.onEnd) this.listeners.end.push(o.onEnd);
  }

  /** A Trainer built from `options` with the state of the checkpoint at `path` restored; call fit() to continue. */
  static resume(path: string, options: TrainerOptions): Trainer {
    return new Trainer(options).loadCheckpoint(path);
  }

  /** Listens to "step", "epoch" or "end"; returns this. */
  on<K extends keyof TrainerEvents>(event: K, listener: TrainerEvents[K]): this {
    const list = this.listeners[event];
    if (!list) throw new ValueError(`Trainer.on: unknown event ${describe(event)}; the events are "step", "epoch", "end".`);
    if (typeof listener !== "function") throw new ValueError(`Trainer.on: the listener must be a function, got ${describe(listener)}.`);
    list.push(listener);
    return this;
  }

  /** Removes a listener added with `on`; returns this. */
  off<K extends keyof TrainerEvents>(event: K, listener: TrainerEvents[K]): this {
    const list = this.listeners[event];
    const i = list ? list.indexOf(listener) : -1;
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Where checkpoints are written (undefined without `checkpointDir`). */
  get checkpointPath(): string | undefined {
    return this.checkpointDir === undefined ? undefined : join(this.checkpointDir, CHECKPOINT_FILE);
  }

  /**
   * Trains from the current epoch (0, or the one restored by loadCheckpoint) up to `epochs`, or
   * until early stopping; then loads the best weights (with a validation loader and
   * restoreBestWeights). Returns the history.
   */
  fit(): History {
    return runSync(this.fitCo("fit", syncReader("Trainer.fit", "trainer.fitAsync()")));
  }

  /**
   * fit() on every backend, the webgpu one included: each step's loss and outputs are read back
   * asynchronously while the next step is queued (one step behind), so no step waits for the
   * GPU. Resolves to the history. On the CPU backends it gives exactly fit()'s results.
   */
  fitAsync(): Promise<History> {
    return runAsync(this.fitCo("fitAsync", asyncReader));
  }

  private *fitCo(name: string, read: Reader): Co<History> {
    if (this.running) throw new ValueError(`Trainer.${name}: already running (it was called from inside a listener).`);
    if (this.checkpointDir !== undefined && this.model.parameters().some((p) => p.onDevice)) {
      throw new DeviceError(`Trainer.${name}: checkpointDir needs the weights on the host after every epoch, which the webgpu backend keeps on the GPU; checkpoints are not written there yet. Train without checkpointDir, then read the weights (await t.dataAsync()) and save them.`);
    }
    this.running = true;
    const reporter = makeReporter(this.progress, this.log, this.stream);
    try {
      if (this.pendingRng) {
        this.applyRng(this.pendingRng);
        this.pendingRng = undefined;
      }
      if (this.epoch > 0 && this.epoch < this.epochs && !this.history.stoppedEarly) {
        reporter.message(`resuming after epoch ${this.epoch}/${this.epochs}`);
      }
      if (this.checkpointDir !== undefined) mkdirSync(this.checkpointDir, { recursive: true });
      const runStart = performance.now();
      const firstEpoch = this.epoch;
      while (this.epoch < this.epochs && !this.history.stoppedEarly) {
        const record = yield* this.epochCo(reporter, runStart, firstEpoch, read);
        this.epoch++;
        this.history.epochs.push(record);
        this.afterValidation(record);
        if (this.scheduler) {
          // ReduceLROnPlateau (or any schedule whose step takes an argument) gets the metric.
          if (this.scheduler instanceof ReduceLROnPlateau || this.scheduler.step.length > 0) (this.scheduler.step as (m: number) => void)(record.valLoss ?? record.trainLoss);
          else (this.scheduler.step as () => void)();
        }
        if (this.checkpointDir !== undefined) this.saveCheckpoint(this.checkpointPath!);
        reporter.epochEnd(record, this.epochs);
        for (const fn of this.listeners.epoch) fn(record);
        if (this.history.stoppedEarly) {
          reporter.message(`early stopping after epoch ${record.epoch}: ${this.earlyStopping!.metric} has not improved for ${this.earlyStopping!.patience} epoch(s)`);
        }
      }
      if (this.restoreBestWeights && this.bestWeights && this.history.bestEpoch !== undefined) {
        this.model.loadStateDict(this.bestWeights, { strict: false });
        reporter.message(`restored the weights of epoch ${this.history.bestEpoch} (val_acc ${((this.history.bestValAccuracy ?? NaN) * 100).toFixed(2)}%)`);
      }
    } finally {
      reporter.close();
      this.running = false;
    }
    for (const fn of this.listeners.end) fn(this.history);
    return this.history;
  }

  /**
   * Loss, accuracy and confusion matrix (rows: true class, columns: predicted) of the model on
   * `loader`, in eval mode and without a graph. The model's training flags are restored after.
   */
  evaluate(loader: Loader): EvaluateResult {
    return runSync(this.evaluateCo(loader, "evaluate", syncReader("Trainer.evaluate", "trainer.evaluateAsync(loader)")));
  }

  /** evaluate() on every backend, the webgpu one included (outputs read back asynchronously). */
  evaluateAsync(loader: Loader): Promise<EvaluateResult> {
    return runAsync(this.evaluateCo(loader, "evaluateAsync", asyncReader));
  }

  private *evaluateCo(loader: Loader, name: string, read: Reader): Co<EvaluateResult> {
    checkLoader(`Trainer.${name}`, "loader", loader);
    const wasTraining = this.model.modules().map((m) => m.training);
    this.model.eval();
    let lossSum = 0;
    let samples = 0;
    let correct = 0;
    let counted = 0;
    let classification = true;
    const confusion: number[][] = [];
    try {
      yield* eachStep(loader, read, (x, y) => {
        const out = noGrad(() => this.model.forward(x));
        return { loss: noGrad(() => this.lossFn(out, y)), out, y, n: batchSize(x) };
      }, (r) => {
        lossSum += r.loss * r.n;
        samples += r.n;
        if (r.out.ndim > 0) growConfusion(confusion, r.out.shape[r.out.ndim - 1]!);
        const c = forEachPrediction(r.out, r.y, (label, predicted) => {
          counted++;
          if (label === predicted) correct++;
          confusion[label]![predicted]! += 1;
        });
        if (c === undefined) classification = false;
      });
    } finally {
      const modules = this.model.modules();
      modules.forEach((m, i) => (m.training = wasTraining[i] ?? true));
    }
    if (samples === 0) throw new ValueError(`Trainer.${name}: the loader gave no batches.`);
    return {
      loss: lossSum / samples,
      accuracy: classification && counted > 0 ? correct / counted : NaN,
      confusion: classification ? confusion : [],
      samples,
    };
  }

  /**
   * Writes the checkpoint file: model, optimizer, scheduler, RNG states (the default generator
   * and every Generator held by a module, e.g. a Dropout's), loaders' states, history, epoch,
   * early-stopping state and best weights. Atomic: a crash never leaves a half-written file.
   */
  saveCheckpoint(path: string): void {
    const meta: TrainerMeta = {
      trainer: META_VERSION,
      epoch: this.epoch,
      history: {
        stepLoss: Float64Array.from(this.history.steps.loss),
        epochs: this.history.epochs.map(dropUndefined),
        stoppedEarly: this.history.stoppedEarly,
        ...(this.history.bestEpoch !== undefined ? { bestEpoch: this.history.bestEpoch, bestValAccuracy: this.history.bestValAccuracy! } : {}),
      },
      rng: { default: defaultGenerator.getState(), modules: moduleGenerators(this.model).map((g) => g.getState()) },
      earlyStopping: { wait: this.esWait, ...(this.esBest !== undefined ? { best: this.esBest } : {}) },
    };
    if (this.scheduler) meta.scheduler = this.scheduler.stateDict();
    if (this.trainLoader.stateDict) meta.trainLoader = this.trainLoader.stateDict();
    if (this.valLoader?.stateDict) meta.valLoader = this.valLoader.stateDict();
    if (this.bestWeights) meta.bestWeights = this.bestWeights;
    saveCheckpoint(path, { model: this.model, optimizer: this.optimizer.stateDict(), meta });
  }

  /**
   * Restores the state saved in a checkpoint written by a Trainer: model weights, optimizer,
   * scheduler, RNG states, loaders, history, epoch, early-stopping state and best weights.
   * The Trainer must be built like the one that wrote it (same architecture, optimizer and
   * scheduler kinds). Returns this; `fit()` then continues with the next epoch.
   */
  loadCheckpoint(path: string): this {
    const op = `Trainer.loadCheckpoint`;
    if (this.running) throw new ValueError(`${op}: not while fit() is running.`);
    const ck = loadCheckpoint<OptimizerStateDict, TrainerMeta>(path);
    const meta = ck.meta;
    if (meta === undefined || typeof meta !== "object" || meta === null || typeof meta.trainer !== "number") {
      throw new ValueError(`${op}: ${path} is not a Trainer checkpoint (no trainer state in its metadata); load plain weights with model.loadStateDict(load(path)).`);
    }
    if (meta.trainer !== META_VERSION) throw new ValueError(`${op}: ${path} has Trainer checkpoint version ${meta.trainer}; this chainrule reads version ${META_VERSION}.`);
    if (ck.optimizer === undefined) throw new ValueError(`${op}: ${path} holds no optimizer state.`);
    if ((meta.scheduler === undefined) !== (this.scheduler === undefined)) {
      throw new ValueError(
        meta.scheduler === undefined
          ? `${op}: this Trainer has a scheduler but the checkpoint ${path} was written without one.`
          : `${op}: the checkpoint ${path} holds a scheduler's state; pass the same kind of scheduler in the options.`,
      );
    }
    const generators = moduleGenerators(this.model);
    if (meta.rng.modules.length !== generators.length) {
      throw new ValueError(`${op}: the checkpoint holds ${meta.rng.modules.length} module generator state(s) but this model has ${generators.length} Generator(s) (e.g. Dropout({ generator })); build the model the same way.`);
    }
    // All or nothing: if any part is refused, what was already loaded is put back.
    const modelBefore = Object.fromEntries(Object.entries(this.model.stateDict()).map(([k, t]) => [k, t.clone()]));
    const optimizerBefore = this.optimizer.stateDict();
    const schedulerBefore = this.scheduler?.stateDict();
    try {
      this.model.loadStateDict(ck.model);
      this.optimizer.loadStateDict(ck.optimizer);
      if (this.scheduler && meta.scheduler) this.scheduler.loadStateDict(meta.scheduler);
    } catch (e) {
      this.model.loadStateDict(modelBefore);
      this.optimizer.loadStateDict(optimizerBefore);
      if (this.scheduler && schedulerBefore) this.scheduler.loadStateDict(schedulerBefore);
      throw e;
    }
    if (meta.trainLoader !== undefined && this.trainLoader.loadStateDict) this.trainLoader.loadStateDict(meta.trainLoader as never);
    if (meta.valLoader !== undefined && this.valLoader?.loadStateDict) this.valLoader.loadStateDict(meta.valLoader as never);
    const h = meta.history;
    this.history.steps.loss = Array.from(h.stepLoss);
    this.history.epochs = h.epochs.map((r) => ({ ...r }));
    this.history.stoppedEarly = h.stoppedEarly;
    if (h.bestEpoch !== undefined) {
      this.history.bestEpoch = h.bestEpoch;
      this.history.bestValAccuracy = h.bestValAccuracy!;
    } else {
      delete this.history.bestEpoch;
      delete this.history.bestValAccuracy;
    }
    this.epoch = meta.epoch;
    this.esWait = meta.earlyStopping.wait;
    this.esBest = meta.earlyStopping.best;
    this.bestWeights = meta.bestWeights;
    this.applyRng(meta.rng);
    this.pendingRng = meta.rng;
    return this;
  }

  // ------------------------------------------------------------------------------ internals

  private *epochCo(reporter: Reporter, runStart: number, firstEpoch: number, read: Reader): Co<EpochRecord> {
    const epochIndex = this.epoch; // 0-based
    const epoch = epochIndex + 1;
    const batches = this.trainLoader.length;
    this.trainLoader.setEpoch?.(epochIndex);
    const lr = this.currentLr();
    const params = this.model.parameters();
    const start = performance.now();
    reporter.epochStart(epoch, this.epochs, batches);
    let lossSum = 0;
    let samples = 0;
    let correct = 0;
    let counted = 0;
    let batch = 0;
    yield* eachStep(this.trainLoader, read, (x, y) => {
      this.model.train();
      // Zeroed in place (not set to null): each step's backward adds into the same gradient
      // storage, so a step allocates nothing that outlives it.
      this.optimizer.zeroGrad(false);
      const out = this.model.forward(x);
      const loss = this.lossFn(out, y);
      loss.backward();
      if (this.gradClipNorm !== undefined) clipGradNormTensor(params, this.gradClipNorm);
      this.optimizer.step();
      return { loss, out, y, n: batchSize(x) };
    }, (r) => {
      const value = r.loss;
      const n = r.n;
      lossSum += value * n;
      samples += n;
      const c = countCorrect(r.out, r.y);
      correct += c.correct;
      counted += c.counted;
      this.history.steps.loss.push(value);
      const event: StepEvent = { epoch, batch, batches, step: this.history.steps.loss.length, loss: value, batchSize: n, lr: this.currentLr() };
      batch++;
      for (const fn of this.listeners.step) fn(event);
      const elapsed = (performance.now() - start) / 1000;
      const runElapsed = (performance.now() - runStart) / 1000;
      const stepsDone = (epochIndex - firstEpoch) * batches + batch;
      const stepsLeft = (this.epochs - epoch) * batches + Math.max(0, batches - batch);
      reporter.step({
        epoch,
        epochs: this.epochs,
        batch,
        batches,
        loss: lossSum / samples,
        accuracy: counted > 0 ? correct / counted : NaN,
        samplesPerSecond: elapsed > 0 ? samples / elapsed : NaN,
        etaSeconds: (runElapsed / stepsDone) * stepsLeft,
      });
    });
    if (batch === 0) throw emptyLoader("Trainer.fit");
    const trainSeconds = (performance.now() - start) / 1000;
    const record: EpochRecord = {
      epoch,
      trainLoss: lossSum / samples,
      trainAccuracy: counted > 0 ? correct / counted : NaN,
      lr,
      seconds: 0,
      samplesPerSecond: trainSeconds > 0 ? samples / trainSeconds : Infinity,
    };
    if (this.valLoader) {
      const v = yield* this.evaluateCo(this.valLoader, "evaluate", read);
      record.valLoss = v.loss;
      record.valAccuracy = v.accuracy;
    }
    record.seconds = (performance.now() - start) / 1000;
    // Keep the documented key order (valLoss/valAccuracy before lr) for JSON lines.
    return orderRecord(record);
  }

  /** Best-weights tracking and early stopping, after an epoch's validation. */
  private afterValidation(record: EpochRecord): void {
    if (record.valAccuracy === undefined) return;
    const best = this.history.bestValAccuracy;
    if (!Number.isNaN(record.valAccuracy) && (best === undefined || record.valAccuracy > best)) {
      this.history.bestEpoch = record.epoch;
      this.history.bestValAccuracy = record.valAccuracy;
      if (this.restoreBestWeights) this.bestWeights = copyStateDict(this.model);
    }
    const es = this.earlyStopping;
    if (!es) return;
    const value = es.metric === "valAccuracy" ? record.valAccuracy : record.valLoss!;
    const improved =
      this.esBest === undefined
        ? !Number.isNaN(value)
        : es.metric === "valAccuracy"
          ? value > this.esBest + es.minDelta
          : value < this.esBest - es.minDelta;
    if (improved) {
      this.esBest = value;
      this.esWait = 0;
    } else {
      this.esWait++;
      if (this.esWait >= es.patience) this.history.stoppedEarly = true;
    }
  }

  private currentLr(): number {
    return this.optimizer.paramGroups[0]?.lr ?? NaN;
  }

  private applyRng(rng: TrainerMeta["rng"]): void {
    defaultGenerator.setState(rng.default);
    moduleGenerators(this.model).forEach((g, i) => g.setState(rng.modules[i]!));
  }
}

// ------------------------------------------------------------------------------ helpers

function rejectUnknown(op: string, what: string, obj: object, names: readonly string[]): void {
  const unknown = Object.keys(obj).filter((k) => !names.includes(k));
  if (unknown.length > 0) {
    throw new ValueError(`${op}: unknown ${what}${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `'${k}'`).join(", ")}; the valid ${what}s are ${names.join(", ")}.`);
  }
}

function checkLoader(op: string, name: string, loader: unknown): asserts loader is Loader {
  const l = loader as Record<string | symbol, unknown> | null;
  if (l === null || typeof l !== "object" || typeof l[Symbol.iterator] !== "function" || typeof l.length !== "number") {
    throw new ValueError(`${op}: '${name}' must be a data loader (an iterable of [x, y] batches with a length, e.g. data.DataLoader), got ${describe(loader)}.`);
  }
}

function emptyLoader(op: string): ValueError {
  return new ValueError(`${op}: the training loader is empty (it gives no batch); check the dataset's size and the loader's batchSize/dropLast.`);
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "number" || typeof x === "boolean" || typeof x === "undefined") return String(x);
  if (typeof x === "function") return "a function";
  return (x as object).constructor?.name ? `a ${(x as object).constructor.name}` : typeof x;
}

function batchSize(x: Tensor): number {
  return x.ndim === 0 ? 1 : x.shape[0]!;
}

function checkLoss(loss: Tensor): void {
  if (!(loss instanceof Tensor)) throw new ValueError(`Trainer: the loss function must return a Tensor, got ${describe(loss)}.`);
  if (loss.size !== 1) throw new ShapeError(`Trainer: the loss function must return a scalar (one element), got shape [${loss.shape.join(", ")}]; use reduction "mean".`);
}



/** A copy of the model's parameters and buffers, with storage of its own. */
function copyStateDict(model: Module): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(model.stateDict())) {
    // On the GPU, a device copy (kept: it outlives the step's scope).
    out[name] = t.onDevice ? keep(noGrad(() => clone(t))) : Tensor.fromStorage(t.data.slice(), t.shape, t.dtype);
  }
  return out;
}

/** Every Generator held by a module of the model (a Dropout's own generator), in module order, each once. */
function moduleGenerators(model: Module): RandomGenerator[] {
  const found: RandomGenerator[] = [];
  const seen = new Set<RandomGenerator>();
  for (const module of model.modules()) {
    for (const value of Object.values(module)) {
      const items = Array.isArray(value) ? value : [value];
      for (const v of items) {
        if (v instanceof RandomGenerator && v !== defaultGenerator && !seen.has(v)) {
          seen.add(v);
          found.push(v);
        }
      }
    }
  }
  return found;
}

function growConfusion(confusion: number[][], c: number): void {
  const size = Math.max(c, confusion.length);
  for (let i = 0; i < size; i++) {
    const row = (confusion[i] ??= []);
    for (let j = row.length; j < size; j++) row.push(0);
  }
}

function dropUndefined(r: EpochRecord): EpochRecord {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
  return out as unknown as EpochRecord;
}

function orderRecord(r: EpochRecord): EpochRecord {
  const out: EpochRecord = { epoch: r.epoch, trainLoss: r.trainLoss, trainAccuracy: r.trainAccuracy } as EpochRecord;
  if (r.valLoss !== undefined) out.valLoss = r.valLoss;
  if (r.valAccuracy !== undefined) out.valAccuracy = r.valAccuracy;
  out.lr = r.lr;
  out.seconds = r.seconds;
  out.samplesPerSecond = r.samplesPerSecond;
  return out;
}

/** What a step of the loop computed: the loss and the outputs its statistics are read from. */
interface StepTensors {
  loss: Tensor;
  out: Tensor;
  y: Tensor;
  n: number;
}
/** The same, read back: the loss as a number, out and y as host tensors. */
interface StepValues {
  loss: number;
  out: Tensor;
  y: Tensor;
  n: number;
}

/**
 * How the loop reads a step's values: `start` runs inside the step's memory scope (so nothing
 * the step made outlives it) and returns a handle; the loop later yields `{ wait: handle }` to
 * its driver and gets the host arrays back. The sync reader copies the values on the spot (and
 * refuses device tensors, naming the async method); the async one starts dataAsync reads, and
 * the loop queues the next step before it waits for them, so a GPU is never left idle.
 */
interface Reader {
  start(tensors: Tensor[]): unknown;
}
type Co<T> = Generator<{ wait: unknown }, T, unknown>;

function syncReader(name: string, asyncForm: string): Reader {
  return {
    start(tensors) {
      if (tensors.some((t) => t.onDevice)) {
        throw new DeviceError(`${name}: the model's outputs live on the GPU (webgpu backend) and cannot be read synchronously; use \`await ${asyncForm}\`.`);
      }
      return tensors.map((t) => t.data.slice());
    },
  };
}

const asyncReader: Reader = {
  start(tensors) {
    // Each read's copy is queued now, so the tensors may be freed when the step's scope closes.
    const reads = Promise.all(tensors.map((t) => t.dataAsync().then((d) => (t.onDevice ? d : d.slice()))));
    reads.catch(() => undefined); // a failure surfaces at the matching wait
    return reads;
  },
};

function runSync<T>(co: Co<T>): T {
  let r = co.next();
  while (!r.done) r = co.next(r.value.wait);
  return r.value;
}

async function runAsync<T>(co: Co<T>): Promise<T> {
  let r = co.next();
  while (!r.done) {
    let values: unknown;
    try {
      values = await (r.value.wait as Promise<unknown>);
    } catch (e) {
      r = co.throw(e);
      continue;
    }
    r = co.next(values);
  }
  return r.value;
}

/**
 * Runs `step` on every batch of `loader`, each in its own memory scope (the loader's making of
 * the batch included, as tidyEach), and hands `record` each step's values in order. Where the
 * step ran on a device, step k's values are waited for after step k + 1 is queued.
 */
function* eachStep(loader: Loader, read: Reader, step: (x: Tensor, y: Tensor) => StepTensors, record: (r: StepValues) => void): Generator<{ wait: unknown }, void, unknown> {
  interface Pending { handle: unknown; out: [readonly number[], Tensor["dtype"]]; y: [readonly number[], Tensor["dtype"]]; n: number }
  const it = loader[Symbol.iterator]();
  let pending: Pending | null = null;
  const finish = function* (p: Pending): Generator<{ wait: unknown }, void, unknown> {
    const [loss, out, y] = (yield { wait: p.handle }) as Storage[];
    record({ loss: Number(loss![0]), out: Tensor.fromStorage(out!, p.out[0], p.out[1]), y: Tensor.fromStorage(y!, p.y[0], p.y[1]), n: p.n });
  };
  try {
    for (;;) {
      let ended = false;
      const started: Pending | null = tidy(() => {
        const next = it.next();
        if (next.done) {
          ended = true;
          return null;
        }
        const [x, y] = next.value;
        const r = step(x, y);
        checkLoss(r.loss);
        if (!r.loss.onDevice && !r.out.onDevice && pending === null) {
          // On the CPU the values are there: recorded inside the step's scope, nothing copied.
          record({ loss: r.loss.item(), out: r.out, y: r.y, n: r.n });
          return null;
        }
        return { handle: read.start([r.loss, r.out, r.y]), out: [r.out.shape, r.out.dtype], y: [r.y.shape, r.y.dtype], n: r.n };
      });
      if (pending !== null) yield* finish(pending);
      pending = started;
      if (ended) break;
    }
  } finally {
    it.return?.();
  }
}

