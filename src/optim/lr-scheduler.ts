/**
 * Learning-rate schedules, after `torch.optim.lr_scheduler`. A schedule changes the `lr` of each
 * of its optimizer's parameter groups when you call its `step()` (once per epoch, after
 * `optimizer.step()`). Each schedule follows PyTorch's chainable recursion, which multiplies the
 * group's current lr by a factor, so several schedules on one optimizer compose; on its own a
 * schedule gives its closed form (documented on each class, and returned by `closedFormLr`).
 */
import { ValueError } from "../errors.js";
import type { Hyperparams, Optimizer } from "./optimizer.js";

/** Any optimizer (a schedule only reads and writes `lr` and `initialLr` of the groups). */
export type AnyOptimizer = Optimizer<Hyperparams>;

/** A scheduler's state: plain numbers and arrays (JSON-serialisable). */
export type SchedulerStateDict = Record<string, unknown>;

function checkPositiveInt(name: string, option: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new ValueError(`${name}: option '${option}' must be a positive integer, got ${String(v)}.`);
  }
}
function checkNumber(name: string, option: string, v: unknown, test: (x: number) => boolean, rule: string): void {
  if (typeof v !== "number" || Number.isNaN(v) || !test(v)) {
    throw new ValueError(`${name}: option '${option}' must be ${rule}, got ${String(v)}.`);
  }
}
function checkOptimizer(name: string, optimizer: unknown): asserts optimizer is AnyOptimizer {
  const o = optimizer as { paramGroups?: unknown } | null;
  if (o === null || typeof o !== "object" || !Array.isArray(o.paramGroups)) {
    throw new ValueError(`${name}: the first argument must be an optimizer (something with paramGroups), got ${o === null ? "null" : typeof o}.`);
  }
}

/**
 * The base class of the epoch-based schedules. At construction it records each group's
 * `initialLr` (the group's lr, unless a schedule already recorded it: PyTorch's `initial_lr`),
 * takes those as `baseLrs`, and performs the initial step to epoch 0.
 */
export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** The learning rates the schedule starts from (each group's `initialLr`). */
  baseLrs: number[];
  /** The epoch count: 0 after construction, +1 per `step()`. */
  lastEpoch = -1;
  protected stepCount = 0;
  protected lastLr: number[] = [];
  protected readonly name: string;
  /** The names of the hyperparameter fields saved by `stateDict()`. */
  protected abstract readonly hyperKeys: readonly string[];

  protected constructor(name: string, optimizer: AnyOptimizer) {
    checkOptimizer(name, optimizer);
    this.name = name;
    this.optimizer = optimizer;
    for (const g of optimizer.paramGroups) if (g.initialLr === undefined) g.initialLr = g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
  }

  /** The recursive (chainable) rule: the new lr of each group, from its current lr and `lastEpoch`. */
  protected abstract getLr(): number[];

  /** The closed form: each group's lr at epoch `epoch` from `baseLrs`. */
  abstract closedFormLr(epoch: number): number[];

  /** Subclasses call this at the end of their constructor: steps to epoch 0. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advances one epoch and sets each group's lr. */
  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    this.apply(this.getLr());
  }

  /**
   * @internal Jumps to `epoch` with the closed form (what PyTorch's deprecated `step(epoch)`
   * does); SequentialLR uses it to restart a schedule at its milestone.
   */
  stepTo(epoch: number): void {
    this.stepCount++;
    this.lastEpoch = epoch;
    this.apply(this.closedFormLr(epoch));
  }

  protected apply(lrs: number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = lrs[i]!;
    });
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The learning rates this schedule last set, one per group. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  /** The schedule's state: `lastEpoch`, `stepCount`, `baseLrs`, `lastLr` and its hyperparameters. */
  stateDict(): SchedulerStateDict {
    const self = this as unknown as Record<string, unknown>;
    const out: SchedulerStateDict = { lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: this.baseLrs.slice(), lastLr: this.lastLr.slice() };
    for (const k of this.hyperKeys) out[k] = structuredClone(self[k]);
    return out;
  }

  /** Restores a `stateDict()`. The optimizer's own lrs come from the optimizer's state dict. */
  loadStateDict(state: SchedulerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (state === null || typeof state !== "object") throw new ValueError(`${op}: expected an object from stateDict(), got ${String(state)}.`);
    const n = this.optimizer.paramGroups.length;
    for (const key of ["baseLrs", "lastLr"]) {
      const v = state[key];
      if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === "number")) {
        throw new ValueError(`${op}: '${key}' must be a list of ${n} numbers (one per parameter group), got ${JSON.stringify(v)}.`);
      }
    }
    for (const key of ["lastEpoch", "stepCount"]) {
      if (typeof state[key] !== "number") throw new ValueError(`${op}: '${key}' must be a number, got ${JSON.stringify(state[key])}.`);
    }
    this.baseLrs = (state.baseLrs as number[]).slice();
    this.lastLr = (state.lastLr as number[]).slice();
    this.lastEpoch = state.lastEpoch as number;
    this.stepCount = state.stepCount as number;
    const self = this as unknown as Record<string, unknown>;
    for (const k of this.hyperKeys) if (k in state) self[k] = structuredClone(state[k]);
  }
}

/**
 * Multiplies the lr by `gamma` every `stepSize` epochs (`torch.optim.lr_scheduler.StepLR`):
 *
 *     lr(e) = base · γ^⌊e / stepSize⌋
 *
 * Recursion: lr ← lr·γ when e > 0 and e mod stepSize = 0, else unchanged.
 */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  protected readonly hyperKeys = ["stepSize", "gamma"] as const;
  constructor(optimizer: AnyOptimizer, options: { stepSize: number; gamma?: number }) {
    super("StepLR", optimizer);
    const { stepSize, gamma = 0.1 } = options ?? ({} as { stepSize: number });
    checkPositiveInt("StepLR", "stepSize", stepSize);
    checkNumber("StepLR", "gamma", gamma, (x) => x >= 0, "a number ≥ 0");
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.initialStep();
  }
  protected getLr(): number[] {
    const e = this.lastEpoch;
    return this.optimizer.paramGroups.map((g) => (e === 0 || e % this.stepSize !== 0 ? g.lr : g.lr * this.gamma));
  }
  closedFormLr(epoch: number): number[] {
    return this.baseLrs.map((b) => b * Math.pow(this.gamma, Math.floor(epoch / this.stepSize)));
  }
}

/**
 * Multiplies the lr by `gamma` at each milestone epoch (`MultiStepLR`):
 *
 *     lr(e) = base · γ^(number of milestones ≤ e)
 */
export class MultiStepLR extends LRScheduler {
  milestones: number[];
  gamma: number;
  protected readonly hyperKeys = ["milestones", "gamma"] as const;
  constructor(optimizer: AnyOptimizer, options: { milestones: number[]; gamma?: number }) {
    super("MultiStepLR", optimizer);
    const { milestones, gamma = 0.1 } = options ?? ({} as { milestones: number[] });
    if (!Array.isArray(milestones) || !milestones.every((m) => Number.isInteger(m) && m >= 0)) {
      throw new ValueError(`MultiStepLR: option 'milestones' must be a list of integers ≥ 0, got ${JSON.stringify(milestones)}.`);
    }
    checkNumber("MultiStepLR", "gamma", gamma, (x) => x >= 0, "a number ≥ 0");
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.gamma = gamma;
    this.initialStep();
  }
  protected getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    return this.optimizer.paramGroups.map((g) => (count === 0 ? g.lr : g.lr * Math.pow(this.gamma, count)));
  }
  closedFormLr(epoch: number): number[] {
    const count = this.milestones.filter((m) => m <= epoch).length;
    return this.baseLrs.map((b) => b * Math.pow(this.gamma, count));
  }
}

/**
 * Multiplies the lr by `gamma` every epoch (`ExponentialLR`):
 *
 *     lr(e) = base · γ^e
 */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  protected readonly hyperKeys = ["gamma"] as const;
  constructor(optimizer: AnyOptimizer, options: { gamma: number }) {
    super("ExponentialLR", optimizer);
    const gamma = options?.gamma;
    checkNumber("ExponentialLR", "gamma", gamma, (x) => x >= 0, "a number ≥ 0");
    this.gamma = gamma;
    this.initialStep();
  }
  protected getLr(): number[] {
    return this.optimizer.paramGroups.map((g) => (this.lastEpoch === 0 ? g.lr : g.lr * this.gamma));
  }
  closedFormLr(epoch: number): number[] {
    return this.baseLrs.map((b) => b * Math.pow(this.gamma, epoch));
  }
}

/**
 * Cosine annealing from the base lr down to `etaMin` over `tMax` epochs (`CosineAnnealingLR`,
 * SGDR without restarts):
 *
 *     lr(e) = ηmin + (base − ηmin)·(1 + cos(π·e/tMax))/2
 *
 * Past tMax the cosine continues (the lr rises back towards base over the next tMax epochs),
 * as in PyTorch. Recursion (PyTorch's): lr ← ηmin + (lr − ηmin)·(1 + cos(πe/T))/(1 + cos(π(e−1)/T)),
 * except when (e − 1 − T) mod 2T = 0, where lr ← lr + (base − ηmin)(1 − cos(π/T))/2.
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  protected readonly hyperKeys = ["tMax", "etaMin"] as const;
  constructor(optimizer: AnyOptimizer, options: { tMax: number; etaMin?: number }) {
    super("CosineAnnealingLR", optimizer);
    const { tMax, etaMin = 0 } = options ?? ({} as { tMax: number });
    checkNumber("CosineAnnealingLR", "tMax", tMax, (x) => x > 0 && Number.isFinite(x), "a number > 0");
    checkNumber("CosineAnnealingLR", "etaMin", etaMin, (x) => x >= 0, "a number ≥ 0");
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.initialStep();
  }
  protected getLr(): number[] {
    const e = this.lastEpoch;
    const T = this.tMax;
    const eta = this.etaMin;
    const groups = this.optimizer.paramGroups;
    if (e === 0) return groups.map((g) => g.lr);
    if ((e - 1 - T) % (2 * T) === 0) {
      return groups.map((g, i) => g.lr + ((this.baseLrs[i]! - eta) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return groups.map((g) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (g.lr - eta) + eta);
  }
  closedFormLr(epoch: number): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2);
  }
}

/**
 * Scales the lr linearly from `startFactor`·base to `endFactor`·base over `totalIters` epochs,
 * then keeps it (`LinearLR`; a linear warm-up with the defaults endFactor = 1):
 *
 *     lr(e) = base · (s + (f − s)·min(e, totalIters)/totalIters)
 *
 * Recursion: at e = 0 lr ← lr·s; for 0 < e ≤ totalIters lr ← lr·(1 + (f − s)/(totalIters·s + (e − 1)(f − s))).
 * Defaults: startFactor 1/3, endFactor 1, totalIters 5.
 */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  protected readonly hyperKeys = ["startFactor", "endFactor", "totalIters"] as const;
  constructor(optimizer: AnyOptimizer, options: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    super("LinearLR", optimizer);
    const { startFactor = 1 / 3, endFactor = 1, totalIters = 5 } = options ?? {};
    checkNumber("LinearLR", "startFactor", startFactor, (x) => x > 0 && x <= 1, "in (0, 1]");
    checkNumber("LinearLR", "endFactor", endFactor, (x) => x >= 0 && x <= 1, "in [0, 1]");
    checkPositiveInt("LinearLR", "totalIters", totalIters);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.initialStep();
  }
  protected getLr(): number[] {
    const e = this.lastEpoch;
    const { startFactor: s, endFactor: f, totalIters: n } = this;
    const groups = this.optimizer.paramGroups;
    if (e === 0) return groups.map((g) => g.lr * s);
    if (e > n) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
  closedFormLr(epoch: number): number[] {
    const { startFactor: s, endFactor: f, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((f - s) * Math.min(n, epoch)) / n));
  }
}

/**
 * Runs schedules one after another (`SequentialLR`): `schedulers[i]` is in charge from
 * `milestones[i − 1]` on, and is restarted at its milestone from its epoch 0 (its closed form),
 * so the epochs it sees are e − milestones[i − 1]. The schedules must belong to `optimizer`;
 * create them first, then SequentialLR (which resets the lrs to the groups' `initialLr` and
 * redoes the first schedule's epoch 0).
 * @example new SequentialLR(opt, { schedulers: [new LinearLR(opt, { startFactor: 0.1, totalIters: 5 }), new CosineAnnealingLR(opt, { tMax: 95 })], milestones: [5] })
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  milestones: number[];
  protected readonly hyperKeys = ["milestones"] as const;
  constructor(optimizer: AnyOptimizer, options: { schedulers: LRScheduler[]; milestones: number[] }) {
    super("SequentialLR", optimizer);
    const { schedulers, milestones } = options ?? ({} as { schedulers: LRScheduler[]; milestones: number[] });
    if (!Array.isArray(schedulers) || schedulers.length === 0 || !schedulers.every((s) => s instanceof LRScheduler)) {
      throw new ValueError(`SequentialLR: option 'schedulers' must be a non-empty list of schedules (ReduceLROnPlateau cannot be one).`);
    }
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) throw new ValueError(`SequentialLR: schedulers[${i}] belongs to a different optimizer; every schedule must be built on the same optimizer as SequentialLR.`);
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1 || !milestones.every((m, i) => Number.isInteger(m) && m > 0 && (i === 0 || m > milestones[i - 1]!))) {
      throw new ValueError(`SequentialLR: option 'milestones' must be ${schedulers.length - 1} increasing positive integer(s) (one fewer than schedulers), got ${JSON.stringify(milestones)}.`);
    }
    this.schedulers = schedulers;
    this.milestones = milestones.slice();
    this.lastEpoch = 0;
    for (const g of optimizer.paramGroups) g.lr = g.initialLr!;
    // Undo the initial step each schedule took when it was built (recursing into nested SequentialLRs).
    const undo = (s: LRScheduler): void => {
      if (s instanceof SequentialLR) s.schedulers.forEach(undo);
      else s.lastEpoch -= 1;
    };
    schedulers.forEach(undo);
    schedulers[0]!["initialStep"]();
    this.lastLr = schedulers[0]!.getLastLr();
  }
  override step(): void {
    this.lastEpoch++;
    this.stepCount++;
    let idx = 0;
    while (idx < this.milestones.length && this.milestones[idx]! <= this.lastEpoch) idx++;
    const s = this.schedulers[idx]!;
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.stepTo(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }
  protected getLr(): number[] {
    return this.lastLr.slice();
  }
  /** The lr at `epoch` when every schedule is used alone, from its closed form. */
  closedFormLr(epoch: number): number[] {
    let idx = 0;
    while (idx < this.milestones.length && this.milestones[idx]! <= epoch) idx++;
    const start = idx === 0 ? 0 : this.milestones[idx - 1]!;
    return this.schedulers[idx]!.closedFormLr(epoch - start);
  }
  override stateDict(): SchedulerStateDict {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  override loadStateDict(state: SchedulerStateDict): void {
    const subs = state?.schedulers;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length) {
      throw new ValueError(`SequentialLR.loadStateDict: 'schedulers' must be a list of ${this.schedulers.length} state dicts.`);
    }
    super.loadStateDict(state);
    this.schedulers.forEach((s, i) => s.loadStateDict(subs[i] as SchedulerStateDict));
  }
}

/**
 * Steps several schedules together (`ChainedScheduler`): each `step()` calls every schedule's
 * `step()` in order. Their recursive rules multiply, so ExponentialLR(γ₁) chained with StepLR(γ₂, n)
 * gives lr(e) = base·γ₁ᵉ·γ₂^⌊e/n⌋.
 */
export class ChainedScheduler {
  readonly schedulers: LRScheduler[];
  readonly optimizer: AnyOptimizer;
  private lastLr: number[];
  constructor(schedulers: LRScheduler[]) {
    if (!Array.isArray(schedulers) || schedulers.length === 0 || !schedulers.every((s) => s instanceof LRScheduler)) {
      throw new ValueError(`ChainedScheduler: expected a non-empty list of schedules.`);
    }
    const optimizer = schedulers[0]!.optimizer;
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) throw new ValueError(`ChainedScheduler: schedulers[${i}] belongs to a different optimizer than schedulers[0].`);
    });
    this.schedulers = schedulers;
    this.optimizer = optimizer;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }
  step(): void {
    for (const s of this.schedulers) s.step();
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }
  getLastLr(): number[] {
    return this.lastLr.slice();
  }
  stateDict(): SchedulerStateDict {
    return { lastLr: this.lastLr.slice(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  loadStateDict(state: SchedulerStateDict): void {
    const subs = state?.schedulers;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length) {
      throw new ValueError(`ChainedScheduler.loadStateDict: 'schedulers' must be a list of ${this.schedulers.length} state dicts.`);
    }
    this.schedulers.forEach((s, i) => s.loadStateDict(subs[i] as SchedulerStateDict));
    if (Array.isArray(state.lastLr)) this.lastLr = (state.lastLr as number[]).slice();
  }
}

/** Options of ReduceLROnPlateau. */
export interface ReduceLROnPlateauOptions {
  /** "min": the metric should go down (a loss); "max": up (an accuracy). Default "min". */
  mode?: "min" | "max";
  /** The lr is multiplied by this on a plateau (default 0.1; must be < 1). */
  factor?: number;
  /** Epochs without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** How much better a value must be to count as an improvement (default 1e-4). */
  threshold?: number;
  /** "rel": better than best·(1 ∓ threshold); "abs": better than best ∓ threshold (default "rel"). */
  thresholdMode?: "rel" | "abs";
  /** Epochs to wait after a reduction before counting bad epochs again (default 0). */
  cooldown?: number;
  /** Lower bound of the lr: one number, or one per group (default 0). */
  minLr?: number | number[];
  /** A reduction smaller than this is skipped (default 1e-8). */
  eps?: number;
}

/**
 * Reduces the lr when a metric has stopped improving (`ReduceLROnPlateau`). Call `step(metric)`
 * once per epoch. An epoch is an improvement when (mode min, rel) metric < best·(1 − threshold),
 * (min, abs) metric < best − threshold, (max, rel) metric > best·(1 + threshold), (max, abs)
 * metric > best + threshold. After more than `patience` epochs in a row without one, each
 * group's lr becomes max(lr·factor, minLr) (skipped when that changes it by ≤ eps), and the
 * next `cooldown` epochs do not count as bad.
 */
export class ReduceLROnPlateau {
  readonly optimizer: AnyOptimizer;
  mode: "min" | "max";
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: "rel" | "abs";
  cooldown: number;
  minLrs: number[];
  eps: number;
  /** The best metric so far (±Infinity before the first step). */
  best: number;
  /** Bad epochs in a row. */
  numBadEpochs = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];

  constructor(optimizer: AnyOptimizer, options: ReduceLROnPlateauOptions = {}) {
    const name = "ReduceLROnPlateau";
    checkOptimizer(name, optimizer);
    const { mode = "min", factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = "rel", cooldown = 0, minLr = 0, eps = 1e-8 } = options ?? {};
    if (mode !== "min" && mode !== "max") throw new ValueError(`${name}: option 'mode' must be "min" or "max", got ${JSON.stringify(mode)}.`);
    if (thresholdMode !== "rel" && thresholdMode !== "abs") throw new ValueError(`${name}: option 'thresholdMode' must be "rel" or "abs", got ${JSON.stringify(thresholdMode)}.`);
    checkNumber(name, "factor", factor, (x) => x >= 0 && x < 1, "in [0, 1)");
    checkNumber(name, "patience", patience, (x) => Number.isInteger(x) && x >= 0, "an integer ≥ 0");
    checkNumber(name, "cooldown", cooldown, (x) => Number.isInteger(x) && x >= 0, "an integer ≥ 0");
    checkNumber(name, "threshold", threshold, (x) => x >= 0, "a number ≥ 0");
    checkNumber(name, "eps", eps, (x) => x >= 0, "a number ≥ 0");
    const n = optimizer.paramGroups.length;
    let minLrs: number[];
    if (Array.isArray(minLr)) {
      if (minLr.length !== n) throw new ValueError(`${name}: option 'minLr' has ${minLr.length} values but the optimizer has ${n} parameter group(s).`);
      minLrs = minLr.slice();
    } else {
      minLrs = new Array<number>(n).fill(minLr);
    }
    minLrs.forEach((m) => checkNumber(name, "minLr", m, (x) => x >= 0, "a number ≥ 0 (or a list of them)"));
    this.optimizer = optimizer;
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.minLrs = minLrs;
    this.eps = eps;
    this.best = mode === "min" ? Infinity : -Infinity;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Whether `a` improves on `best` by the threshold rule. */
  isBetter(a: number, best: number): boolean {
    if (this.mode === "min") return this.thresholdMode === "rel" ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === "rel" ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  /** Whether the lr was reduced less than `cooldown` epochs ago. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** Records this epoch's metric and reduces the lr on a plateau. */
  step(metric: number | { item(): number }): void {
    const current = typeof metric === "number" ? metric : metric.item();
    this.lastEpoch += 1;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const old = g.lr;
        const next = Math.max(old * this.factor, this.minLrs[i]!);
        if (old - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  stateDict(): SchedulerStateDict {
    const { mode, factor, patience, threshold, thresholdMode, cooldown, eps, best, numBadEpochs, cooldownCounter, lastEpoch } = this;
    return { mode, factor, patience, threshold, thresholdMode, cooldown, minLrs: this.minLrs.slice(), eps, best, numBadEpochs, cooldownCounter, lastEpoch, lastLr: this.lastLr.slice() };
  }

  loadStateDict(state: SchedulerStateDict): void {
    if (state === null || typeof state !== "object") throw new ValueError(`ReduceLROnPlateau.loadStateDict: expected an object from stateDict().`);
    const n = this.optimizer.paramGroups.length;
    for (const key of ["minLrs", "lastLr"]) {
      const v = state[key];
      if (!Array.isArray(v) || v.length !== n) throw new ValueError(`ReduceLROnPlateau.loadStateDict: '${key}' must be a list of ${n} numbers (one per parameter group).`);
    }
    // JSON writes ±Infinity (best before the first step) as null.
    if (state.best === null) state = { ...state, best: state.mode === "max" ? -Infinity : Infinity };
    for (const key of ["factor", "patience", "threshold", "cooldown", "eps", "best", "numBadEpochs", "cooldownCounter", "lastEpoch"]) {
      if (typeof state[key] !== "number") throw new ValueError(`ReduceLROnPlateau.loadStateDict: '${key}' must be a number, got ${JSON.stringify(state[key])}.`);
    }
    if (state.mode !== "min" && state.mode !== "max") throw new ValueError(`ReduceLROnPlateau.loadStateDict: 'mode' must be "min" or "max", got ${JSON.stringify(state.mode)}.`);
    if (state.thresholdMode !== "rel" && state.thresholdMode !== "abs") throw new ValueError(`ReduceLROnPlateau.loadStateDict: 'thresholdMode' must be "rel" or "abs", got ${JSON.stringify(state.thresholdMode)}.`);
    const self = this as unknown as Record<string, unknown>;
    for (const key of ["mode", "factor", "patience", "threshold", "thresholdMode", "cooldown", "eps", "best", "numBadEpochs", "cooldownCounter", "lastEpoch"]) {
      if (key in state) self[key] = state[key];
    }
    this.minLrs = (state.minLrs as number[]).slice();
    this.lastLr = (state.lastLr as number[]).slice();
  }
}
