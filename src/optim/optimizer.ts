/**
 * The optimizer base class: parameter groups, per-parameter state, `step`, `zeroGrad`,
 * `stateDict`/`loadStateDict`. Subclasses (SGD, RMSprop, Adam, AdamW, Adagrad) supply the
 * update rule. Updates are written straight into each parameter's storage (`p.data`); no graph is
 * recorded. SGD and Adam/AdamW run as backend kernels (`sgdUpdate`, `adamUpdate`): the js
 * reference computes in float64 arithmetic and stores in the parameter's dtype; the wasm backend
 * gives the same float64 results bit for bit and computes float32 parameters in float32 (as
 * PyTorch does). RMSprop and Adagrad loop in JavaScript (float64 arithmetic).
 */
import { fillStorage, writeStorage } from "../backend/backend.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../errors.js";
import { allocate, isFloat, type FloatStorage } from "../tensor/dtype.js";
import { Tensor } from "../tensor/tensor.js";
import { enableGrad } from "../autograd/mode.js";
import { dropGradient, markPersistent } from "../tensor/storage.js";

/** Hyperparameters every optimizer has. */
export interface Hyperparams {
  /** The learning rate. */
  lr: number;
}

/**
 * A parameter group: its tensors and its own copy of every hyperparameter. Read and write the
 * hyperparameters freely (`opt.paramGroups[0].lr = 0.05`); learning-rate schedules do.
 * `initialLr` is set by the first learning-rate scheduler attached to the optimizer.
 */
export type ParamGroup<H extends Hyperparams = Hyperparams> = H & {
  params: Tensor[];
  initialLr?: number;
};

/** A parameter group as given to a constructor or `addParamGroup`: tensors and overrides of the defaults. */
export type ParamGroupInput<H extends Hyperparams = Hyperparams> = Partial<H> & {
  params: Iterable<Tensor> | Tensor;
  initialLr?: number;
};

/** What an optimizer takes: tensors (one group with the defaults), or a list of parameter groups. */
export type ParamsInput<H extends Hyperparams = Hyperparams> = Iterable<Tensor> | Iterable<ParamGroupInput<H>>;

/** A value kept per parameter: a step count, or a buffer of the parameter's dtype and size. */
export type StateValue = number | FloatStorage;
/** The state of one parameter (e.g. `{ step, expAvg, expAvgSq }` for Adam). */
export type ParamState = Record<string, StateValue>;

/** A saved parameter group: its hyperparameters and the indices of its parameters. */
export type SavedParamGroup = Record<string, unknown> & { params: number[] };

/**
 * An optimizer's state, as `stateDict()` returns it and `loadStateDict()` takes it, like
 * PyTorch's: parameters are numbered 0, 1, 2… in group order. Buffers are typed arrays (copies);
 * `loadStateDict` also accepts plain number arrays, so `Array.from` them before JSON.
 */
export interface OptimizerStateDict {
  state: Record<number, Record<string, number | FloatStorage | number[]>>;
  paramGroups: SavedParamGroup[];
}

/** How a key of a parameter's state is stored: a number (`step`) or a buffer shaped like the parameter. */
export type StateKind = "number" | "array";

const isTensorList = (items: unknown[]): items is Tensor[] => items.every((x) => x instanceof Tensor);

function describe(x: unknown): string {
  if (x instanceof Tensor) return `a Tensor of shape ${fmtShape(x.shape)}`;
  if (Array.isArray(x)) return "an array";
  if (x === null) return "null";
  if (typeof x === "number") return String(x);
  return typeof x;
}

function isIterable(x: unknown): x is Iterable<unknown> {
  return x !== null && typeof x === "object" && typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function";
}

/** Throws a ValueError unless `value` is a number ≥ 0 (used for lr, eps, weight decay…). */
export function checkNonNegative(opt: string, option: string, value: unknown, where: string): void {
  if (typeof value !== "number" || !(value >= 0)) {
    throw new ValueError(`${opt}: option '${option}' must be a number ≥ 0, got ${describe(value)}${where}.`);
  }
}

/** Throws a ValueError unless `value` is a boolean. */
export function checkBoolean(opt: string, option: string, value: unknown, where: string): void {
  if (typeof value !== "boolean") {
    throw new ValueError(`${opt}: option '${option}' must be true or false, got ${describe(value)}${where}.`);
  }
}

/**
 * The base class of every optimizer, after `torch.optim.Optimizer`.
 *
 * - `paramGroups`: the groups, each with its tensors and hyperparameters.
 * - `state`: per-parameter state (a Map from the parameter tensor), created lazily at a
 *   parameter's first update.
 * - `step()` updates every parameter that has a gradient and requires grad; parameters with
 *   `grad === null` or `requiresGrad === false` are skipped (and get no state).
 */
export abstract class Optimizer<H extends Hyperparams = Hyperparams> {
  /** The hyperparameters a group gets when it does not override them. */
  readonly defaults: Readonly<H>;
  /** The parameter groups. */
  readonly paramGroups: ParamGroup<H>[] = [];
  /** Per-parameter state (momentum buffers, moment estimates, step counts). */
  readonly state = new Map<Tensor, ParamState>();
  /** The optimizer's name, used in error messages. */
  readonly name: string;

  /**
   * @param name the optimizer's name, for messages
   * @param params tensors or parameter groups
   * @param baseDefaults every hyperparameter with its default value (its keys are the valid option names)
   * @param options the user's options, overriding `baseDefaults`
   */
  protected constructor(name: string, params: ParamsInput<H>, baseDefaults: H, options: Partial<H> | undefined) {
    this.name = name;
    if (options !== undefined && (options === null || typeof options !== "object")) {
      throw new ValueError(`${name}: options must be an object, got ${describe(options)}.`);
    }
    const given: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options ?? {})) if (v !== undefined) given[k] = v;
    const known = Object.keys(baseDefaults);
    for (const key of Object.keys(given)) {
      if (!known.includes(key)) {
        throw new ValueError(`${name}: unknown option '${key}'; the options are ${known.map((k) => `'${k}'`).join(", ")}.`);
      }
    }
    const defaults = { ...structuredClone(baseDefaults), ...structuredClone(given) } as H;
    this.validateGroup(defaults, " in the options");
    this.defaults = defaults;
    if (params instanceof Tensor || !isIterable(params)) {
      throw new ValueError(`${name}: params must be an iterable of Tensors or of parameter groups ({ params, ...options }), got ${describe(params)}. Wrap a single tensor in a list: [w].`);
    }
    const items = [...(params as Iterable<unknown>)];
    let groups: ParamGroupInput<H>[];
    if (isTensorList(items)) {
      groups = [{ params: items } as unknown as ParamGroupInput<H>];
    } else if (items.every((x) => x !== null && typeof x === "object" && !(x instanceof Tensor) && "params" in x)) {
      groups = items as ParamGroupInput<H>[];
    } else {
      throw new ValueError(`${name}: params must be all Tensors or all parameter groups ({ params, ...options }), not a mix; got ${items.map(describe).join(", ")}.`);
    }
    let count = 0;
    for (const g of groups) {
      const list = g.params instanceof Tensor ? [g.params] : isIterable(g.params) ? [...g.params] : [];
      count += list.length;
    }
    if (count === 0) {
      throw new ValueError(`${name}: optimizer got an empty parameter list. Pass the tensors to optimize, e.g. model.parameters().`);
    }
    for (const g of groups) this.addParamGroup(g);
  }

  /**
   * Adds a parameter group: `{ params, ...overrides }`. Hyperparameters not given take the
   * optimizer's defaults. A tensor already in a group is an error.
   */
  addParamGroup(group: ParamGroupInput<H>): void {
    const where = ` in parameter group ${this.paramGroups.length}`;
    if (group === null || typeof group !== "object" || !("params" in group)) {
      throw new ValueError(`${this.name}.addParamGroup: a parameter group must be an object { params, ...options }, got ${describe(group)}.`);
    }
    const { params: rawParams, ...overrides } = group;
    if (!(rawParams instanceof Tensor) && !isIterable(rawParams)) {
      throw new ValueError(`${this.name}: 'params'${where} must be a Tensor or an iterable of Tensors, got ${describe(rawParams)}.`);
    }
    const params = rawParams instanceof Tensor ? [rawParams] : [...(rawParams as Iterable<unknown>)];
    const existing = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) existing.add(p);
    const seen = new Set<Tensor>();
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) {
        throw new ValueError(`${this.name}: parameter ${i}${where} must be a Tensor, got ${describe(p)}.`);
      }
      if (!isFloat(p.dtype)) {
        throw new DTypeError(`${this.name}: parameter ${i}${where} is ${p.dtype}; only float32 and float64 tensors can be optimized. Cast it first: x.to("float32").`);
      }
      if (!p.isLeaf) {
        throw new ValueError(`${this.name}: parameter ${i}${where} was computed by '${p.gradFn!.op.name}'; only leaf tensors can be optimized (use x.detach().requiresGrad_()).`);
      }
      if (seen.has(p)) {
        throw new ValueError(`${this.name}: parameter ${i}${where} appears twice in the group; each parameter may be given only once.`);
      }
      if (existing.has(p)) {
        throw new ValueError(`${this.name}: parameter ${i}${where} is already in another parameter group; a parameter may appear in only one group.`);
      }
      seen.add(p);
    });
    const defined: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(overrides)) if (v !== undefined) defined[k] = v;
    this.checkOptionKeys(defined, where);
    const full = { ...structuredClone(this.defaults), ...structuredClone(defined), params: params as Tensor[] } as ParamGroup<H>;
    this.validateGroup(full, where);
    this.paramGroups.push(full);
  }

  /**
   * Clears every parameter's gradient: sets `grad` to null (the default), or with
   * `setToNone = false` fills the existing gradients with zeros in place.
   */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (setToNone) {
          dropGradient(p.grad);
          p.grad = null;
        }
        else if (p.grad) fillStorage(p.grad._buf, 0);
      }
    }
  }

  /**
   * Updates every parameter that has a gradient (and requires grad) by the optimizer's rule.
   * With a `closure` (which should recompute the loss, e.g. clear grads, forward, backward), it
   * is called first, with grad mode on, and its result is returned.
   */
  step<T = undefined>(closure?: () => T): T | undefined {
    let result: T | undefined;
    if (closure) result = enableGrad(closure);
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const grad = p.grad;
        if (grad === null || !p.requiresGrad) continue;
        if (grad.size !== p.size || grad.shape.length !== p.shape.length || grad.shape.some((d, i) => d !== p.shape[i])) {
          throw new ShapeError(`${this.name}.step: a parameter of shape ${fmtShape(p.shape)} has a gradient of shape ${fmtShape(grad.shape)}; they must match.`);
        }
        let st = this.state.get(p);
        if (!st) {
          st = {};
          this.state.set(p, st);
        }
        this.update(p._buf as FloatStorage, grad._buf as ArrayLike<number>, st, group, p);
      }
    }
    return result;
  }

  /**
   * The optimizer's state, like PyTorch's `state_dict()`: `{ state, paramGroups }`, with
   * parameters numbered in group order. Everything is copied, so later steps do not change it.
   */
  stateDict(): OptimizerStateDict {
    let next = 0;
    const state: OptimizerStateDict["state"] = {};
    const paramGroups: SavedParamGroup[] = this.paramGroups.map((g) => {
      const { params, ...hyper } = g;
      const indices = params.map((p) => {
        const index = next++;
        const st = this.state.get(p);
        if (st) state[index] = structuredClone(st);
        return index;
      });
      return { ...structuredClone(hyper as Record<string, unknown>), params: indices };
    });
    return { state, paramGroups };
  }

  /**
   * Restores a `stateDict()`: the groups' hyperparameters and every parameter's state. The
   * optimizer must have the same number of groups with the same number of parameters each;
   * buffers must have as many elements as their parameter. They are copied into arrays of the
   * parameter's dtype. Nothing changes if the state dict is rejected.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (stateDict === null || typeof stateDict !== "object" || !Array.isArray(stateDict.paramGroups) || stateDict.state === null || typeof stateDict.state !== "object") {
      throw new ValueError(`${op}: expected { state, paramGroups } as returned by stateDict(), got ${describe(stateDict)}.`);
    }
    const saved = stateDict.paramGroups;
    if (saved.length !== this.paramGroups.length) {
      throw new ValueError(`${op}: the state dict has ${saved.length} parameter group(s) but this optimizer has ${this.paramGroups.length}.`);
    }
    const byIndex: Tensor[] = [];
    const groupOf: ParamGroup<H>[] = [];
    const merged = saved.map((s, i) => {
      const current = this.paramGroups[i]!;
      if (s === null || typeof s !== "object" || !Array.isArray(s.params)) {
        throw new ValueError(`${op}: parameter group ${i} of the state dict has no 'params' list of indices.`);
      }
      if (s.params.length !== current.params.length) {
        throw new ValueError(`${op}: parameter group ${i} of the state dict has ${s.params.length} parameter(s) but this optimizer's group ${i} has ${current.params.length}.`);
      }
      s.params.forEach((index, j) => {
        if (!Number.isInteger(index) || index < 0) {
          throw new ValueError(`${op}: parameter group ${i} of the state dict lists ${describe(index)} as a parameter index; indices are integers ≥ 0.`);
        }
        if (byIndex[index] !== undefined) {
          throw new ValueError(`${op}: parameter index ${index} appears more than once in the state dict's groups.`);
        }
        byIndex[index] = current.params[j]!;
        groupOf[index] = current;
      });
      const { params: _ignored, ...hyper } = s;
      void _ignored;
      this.checkOptionKeys(hyper, ` in parameter group ${i} of the state dict`);
      const group = { ...current, ...structuredClone(hyper) } as ParamGroup<H>;
      this.validateGroup(group, ` in parameter group ${i} of the state dict`);
      return group;
    });
    const newState = new Map<Tensor, ParamState>();
    const kinds = this.stateKinds();
    for (const [key, entry] of Object.entries(stateDict.state)) {
      const index = Number(key);
      const p = byIndex[index];
      if (!Number.isInteger(index) || p === undefined) {
        throw new ValueError(`${op}: the state dict has state for parameter ${JSON.stringify(key)}, which is in none of its parameter groups.`);
      }
      if (entry === null || typeof entry !== "object") {
        throw new ValueError(`${op}: the state of parameter ${index} must be an object, got ${describe(entry)}.`);
      }
      const st: ParamState = {};
      for (const [name, value] of Object.entries(entry)) {
        const kind = kinds[name];
        if (kind === undefined) {
          throw new ValueError(`${op}: unknown state '${name}' for parameter ${index}; ${this.name} keeps ${Object.keys(kinds).map((k) => `'${k}'`).join(", ")}.`);
        }
        if (kind === "number") {
          if (typeof value !== "number" || !(value >= 0)) {
            throw new ValueError(`${op}: state '${name}' of parameter ${index} must be a number ≥ 0, got ${describe(value)}.`);
          }
          st[name] = value;
        } else {
          const ok = value instanceof Float32Array || value instanceof Float64Array || (Array.isArray(value) && value.every((v) => typeof v === "number"));
          if (!ok) {
            throw new ValueError(`${op}: state '${name}' of parameter ${index} must be a Float32Array, Float64Array or array of numbers, got ${describe(value)}.`);
          }
          const arr = value as ArrayLike<number>;
          if (arr.length !== p.size) {
            throw new ShapeError(`${op}: state '${name}' of parameter ${index} has ${arr.length} elements but the parameter has shape ${fmtShape(p.shape)} (${p.size} elements).`);
          }
          const buf = allocate(p.dtype, p.size) as FloatStorage;
          markPersistent(buf);
          writeStorage(buf, arr);
          st[name] = buf;
        }
      }
      newState.set(p, st);
    }
    merged.forEach((g, i) => Object.assign(this.paramGroups[i]!, g));
    this.state.clear();
    for (const [p, st] of newState) this.state.set(p, st);
  }

  /** Updates one parameter in place: `param` is its storage, `grad` its gradient's. */
  protected abstract update(param: FloatStorage, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<H>, tensor: Tensor): void;

  /** Throws a ValueError if a hyperparameter of `group` is invalid (`where` locates it in messages). */
  protected abstract validateGroup(group: H, where: string): void;

  /** The keys this optimizer keeps per parameter and their kind. */
  protected abstract stateKinds(): Record<string, StateKind>;

  /** Rejects option names this optimizer does not have (a typo like `weight_decay` would do nothing). */
  private checkOptionKeys(options: Record<string, unknown>, where: string): void {
    const known = Object.keys(this.defaults);
    for (const key of Object.keys(options)) {
      if (key === "initialLr" || key === "params") continue;
      if (!known.includes(key)) {
        throw new ValueError(`${this.name}: unknown option '${key}'${where}; the options are ${known.map((k) => `'${k}'`).join(", ")}.`);
      }
    }
  }
}

/** The buffer `key` of a parameter's state, created (filled with `fill`) if absent. */
export function buffer(state: ParamState, key: string, tensor: Tensor, fill = 0): FloatStorage {
  let buf = state[key];
  if (buf === undefined || typeof buf === "number") {
    buf = allocate(tensor.dtype, tensor.size) as FloatStorage;
    markPersistent(buf);
    if (fill !== 0) fillStorage(buf, fill);
    state[key] = buf;
  }
  return buf;
}

/** Increments and returns the `step` count of a parameter's state. */
export function nextStep(state: ParamState): number {
  const prev = state.step;
  const step = (typeof prev === "number" ? prev : 0) + 1;
  state.step = step;
  return step;
}
