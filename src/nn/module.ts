import { writeStorage } from "../backend/backend.js";
import { getBackend } from "../backend/index.js";
import { ShapeError, ValueError, fmtShape } from "../errors.js";
import { isFloat, type DType } from "../tensor/dtype.js";
import { Tensor } from "../tensor/tensor.js";
import { getCapture, withScope } from "../autograd/mode.js";
import { Parameter } from "./parameter.js";
import { dropGradient, markPersistent } from "../tensor/storage.js";

/** Parameters whose label namedParameters() set (a later walk from a larger model may rename them). */
const autoLabeled = new WeakSet<Tensor>();

/** A module's tensors by dotted name ("layers.0.weight"): parameters and buffers. */
export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Require the names to match exactly (default). With false, missing/unexpected names are returned instead. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * The base of every layer and model. Parameters, buffers and child modules are found from the
 * instance's fields (and arrays of them), so a model is a plain class:
 *
 * @example
 * class TwoLayerNet extends Module {
 *   fc1 = new Linear(784, 100);
 *   fc2 = new Linear(100, 10);
 *   forward(x: Tensor): Tensor { return this.fc2.forward(this.fc1.forward(x).relu()); }
 * }
 *
 * Fields whose names start with "_" are private bookkeeping and are not searched.
 */
export abstract class Module {
  /** Training mode (dropout active, batch statistics) or evaluation mode. */
  training = true;
  /** @internal Fields registered with registerBuffer, each with its name in the state dict. */
  protected _bufferNames: Map<string, string> | undefined;
  /** @internal This module's dotted path in the model it was last reached from, for messages. */
  _path: string | undefined;

  constructor() {
    // Inside `scope`/`withGraphValues` (see src/autograd/mode.ts), the nodes this module's
    // forward creates record its dotted path ("layers.1") for pictures. Outside, the wrapper
    // only checks that no capture is active: no cost per op.
    const inner = this.forward;
    const forward = (...inputs: Tensor[]): Tensor => {
      const path = this._path;
      if (path === undefined || getCapture() === null) return inner.apply(this, inputs);
      return withScope({ name: path, kind: "module", type: this.constructor.name }, () => inner.apply(this, inputs));
    };
    Object.defineProperty(this, "forward", { value: forward, writable: true, configurable: true, enumerable: false });
  }

  /** Computes the module's output. */
  abstract forward(...inputs: Tensor[]): Tensor;

  /**
   * The named members this module holds directly: parameters, buffers, child modules, in field
   * order. Arrays become "name.0", "name.1"... Override to name children differently (Sequential).
   */
  protected entries(): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (key === "training" || key.startsWith("_")) continue;
      if (Array.isArray(value)) value.forEach((v, i) => out.push([`${key}.${i}`, v]));
      else out.push([key, value]);
    }
    return out;
  }

  /**
   * Registers a tensor that is state but not a parameter (running statistics): saved in
   * stateDict, not trained. It lives in the field `name`; `stateName` is its name in the state
   * dict when that differs (PyTorch's snake_case: the field `runningMean` is saved as
   * "running_mean", so files load into the same torch.nn model).
   */
  registerBuffer(name: string, tensor: Tensor, stateName: string = name): void {
    markPersistent(tensor._buf);
    (this as unknown as Record<string, unknown>)[name] = tensor;
    (this._bufferNames ??= new Map()).set(name, stateName);
  }

  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return this.entries().filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** Direct children. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /**
   * This module and every module below it, with dotted paths ("" for this one), each listed
   * once. Called on a top-level model, it also records each module's path for error messages.
   */
  namedModules(): [string, Module][] {
    const isRoot = this._path === undefined;
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const stack: [string, Module][] = [["", this]];
    while (stack.length > 0) {
      const [path, module] = stack.pop()!;
      if (seen.has(module)) continue;
      seen.add(module);
      out.push([path, module]);
      if (isRoot && module !== this) module._path = path;
      const kids = module.namedChildren();
      for (let i = kids.length - 1; i >= 0; i--) stack.push([path ? `${path}.${kids[i]![0]}` : kids[i]![0], kids[i]![1]]);
    }
    return out;
  }

  /** Every module in the tree, this one first. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * Parameters with dotted names ("layers.0.weight"); a parameter shared by two layers is listed
   * once. Called on a top-level model, it also labels each parameter that has no label of its own
   * with its dotted name, so graph pictures show "layers.0.weight".
   */
  namedParameters(): [string, Parameter][] {
    const isRoot = this._path === undefined;
    const out: [string, Parameter][] = [];
    const seen = new Set<Tensor>();
    for (const [path, module] of this.namedModules()) {
      for (const [name, value] of module.entries()) {
        if (value instanceof Parameter && !seen.has(value)) {
          seen.add(value);
          const fullName = path ? `${path}.${name}` : name;
          if (isRoot && (value.label === undefined || autoLabeled.has(value))) {
            value.label = fullName;
            autoLabeled.add(value);
          }
          out.push([fullName, value]);
        }
      }
    }
    return out;
  }

  /** Every parameter (for the optimizer). */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Buffers (registered with registerBuffer) with dotted state-dict names ("bn.running_mean"). */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, module] of this.namedModules()) {
      const names = module._bufferNames;
      if (!names) continue;
      for (const [field, name] of names) {
        const value = (module as unknown as Record<string, unknown>)[field];
        if (value instanceof Tensor) out.push([path ? `${path}.${name}` : name, value]);
      }
    }
    return out;
  }

  /**
   * Every dotted name each parameter and buffer is reachable under, shared modules and tensors
   * included (namedParameters lists a shared one once, under its first name).
   */
  private stateNames(): Map<Tensor, string[]> {
    const names = new Map<Tensor, string[]>();
    const add = (t: Tensor, name: string): void => {
      const list = names.get(t);
      if (!list) names.set(t, [name]);
      else if (!list.includes(name)) list.push(name);
    };
    const visit = (module: Module, prefix: string, ancestors: Set<Module>): void => {
      for (const [name, value] of module.entries()) {
        if (value instanceof Parameter) add(value, prefix + name);
        else if (value instanceof Module && !ancestors.has(value)) {
          ancestors.add(value);
          visit(value, `${prefix}${name}.`, ancestors);
          ancestors.delete(value);
        }
      }
      for (const [field, name] of module._bufferNames ?? []) {
        const value = (module as unknown as Record<string, unknown>)[field];
        if (value instanceof Tensor) add(value, prefix + name);
      }
    };
    visit(this, "", new Set([this]));
    return names;
  }

  /** Number of parameter elements (only trainable ones with `{ trainableOnly: true }`). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    return this.parameters().reduce((n, p) => n + (options.trainableOnly && !p.requiresGrad ? 0 : p.size), 0);
  }

  /** Sets training mode on this module and all below it; returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (dropout off, batch norm uses running statistics); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      dropGradient(p.grad);
      p.grad = null;
    }
  }

  /** Calls fn on every module (this one first); returns this. */
  apply(fn: (module: Module) => void): this {
    for (const m of this.modules()) fn(m);
    return this;
  }

  /** Parameters and buffers by dotted name. The tensors share storage with the model's. */
  stateDict(): StateDict {
    const out: StateDict = {};
    // defineProperty: a name such as "__proto__" is an entry like any other, never the prototype.
    for (const [name, p] of this.namedParameters()) setEntry(out, name, p.detach());
    for (const [name, b] of this.namedBuffers()) setEntry(out, name, b.detach());
    return out;
  }

  /**
   * The state dict as host copies (`await model.stateDictAsync()`), on every backend: what
   * saving a model that lives on the GPU (webgpu) needs, since its tensors' values come back
   * asynchronously. The copies have storage of their own.
   */
  async stateDictAsync(): Promise<StateDict> {
    const out: StateDict = {};
    for (const [name, t] of Object.entries(this.stateDict())) setEntry(out, name, Tensor.fromStorage((await t.dataAsync()).slice(), t.shape, t.dtype));
    return out;
  }

  /**
   * Copies values from a state dict into this model's parameters and buffers (converting the
   * dtype if needed). Wrongly shaped entries are always an error; missing or unexpected names are
   * an error unless `{ strict: false }`, which returns them instead. A tensor shared by several
   * layers (tied weights) loads from any of its names, as PyTorch's state_dict lists it under each.
   */
  loadStateDict(stateDict: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const own = new Map<string, Tensor>([...this.namedParameters(), ...this.namedBuffers()]);
    // A tensor shared by two layers (tied weights) is listed once above, but PyTorch's state_dict
    // has it under every name and safetensors' save_model keeps any one of them: each name counts.
    const aliases = this.stateNames();
    const namesOf = (name: string, t: Tensor): string[] => [name, ...(aliases.get(t) ?? []).filter((a) => a !== name)];
    const known = new Set([...own].flatMap(([name, t]) => namesOf(name, t)));
    const missingKeys = [...own].filter(([name, t]) => !namesOf(name, t).some((k) => Object.hasOwn(stateDict, k))).map(([name]) => name);
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !known.has(k));
    const problems: string[] = [];
    const sources = new Map<Tensor, Tensor>();
    for (const [primary, target] of own) {
      for (const name of namesOf(primary, target)) {
        // Own entries only: "constructor" or "toString" must not be found on Object.prototype.
        const source = Object.hasOwn(stateDict, name) ? stateDict[name] : undefined;
        if (!source) continue;
        if (!(source instanceof Tensor)) problems.push(`"${name}" is not a Tensor`);
        else if (source.size !== target.size || source.shape.some((d, i) => d !== target.shape[i]) || source.ndim !== target.ndim) {
          problems.push(`"${name}" has shape ${fmtShape(source.shape)} in the state dict but ${fmtShape(target.shape)} in the model`);
        } else if (!sources.has(target)) sources.set(target, source);
      }
    }
    if (strict && missingKeys.length > 0) problems.push(`missing: ${missingKeys.map((k) => `"${k}"`).join(", ")}`);
    if (strict && unexpectedKeys.length > 0) problems.push(`unexpected: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}`);
    if (problems.length > 0) {
      throw new ShapeError(
        `loadStateDict: the state dict does not fit ${this.constructor.name}: ${problems.join("; ")}. ` +
          `Check that it comes from the same architecture${strict ? ", or pass { strict: false } to load only the matching names" : ""}.`,
      );
    }
    for (const [target, source] of sources) {
      const values = source.dtype === target.dtype ? source : source.to(target.dtype);
      const host = values._hostValues();
      // From the host (a loaded file), or a device copy (best weights kept on the GPU).
      if (host !== null) writeStorage(target._buf, host);
      else getBackend().copyStrided(values._buf, 0, [1], [values.size], target._buf);
    }
    return { missingKeys: strict ? [] : missingKeys, unexpectedKeys: strict ? [] : unexpectedKeys };
  }

  /**
   * Converts every float parameter and buffer to `dtype` (e.g. "float64" for gradient checks),
   * replacing them in place; returns this. Create the optimizer afterwards.
   */
  to(dtype: DType): this {
    if (!isFloat(dtype)) throw new ValueError(`Module.to: parameters must be float32 or float64, got ${dtype}.`);
    for (const module of this.modules()) {
      const fields = module as unknown as Record<string, unknown>;
      const convert = (value: unknown): unknown => {
        if (value instanceof Parameter) return value.dtype === dtype ? value : new Parameter(value.to(dtype), value.requiresGrad);
        if (value instanceof Tensor && isFloat(value.dtype) && module._bufferNames) return value.to(dtype);
        return value;
      };
      for (const key of Object.keys(fields)) {
        const value = fields[key];
        if (Array.isArray(value)) fields[key] = value.map(convert);
        else if (value instanceof Parameter || (value instanceof Tensor && module._bufferNames?.has(key))) fields[key] = convert(value);
      }
    }
    return this;
  }

  /** Extra text inside this module's parentheses in toString() (e.g. "inFeatures=784, outFeatures=100"). */
  protected extraRepr(): string {
    return "";
  }

  /** The architecture, printed like PyTorch. */
  toString(): string {
    const kids = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (kids.length === 0) return `${head})`;
    const lines = kids.map(([name, m]) => `  (${name}): ${m.toString().split("\n").join("\n  ")}`);
    return `${head}\n${lines.join("\n")}\n)`;
  }

  /** How messages name this module: its class and, when known, its path in the model. */
  describe(): string {
    return this._path ? `${this.constructor.name} '${this._path}'` : this.constructor.name;
  }
}

/** dict[name] = value as an own, enumerable entry, whatever the name ("__proto__" included). */
function setEntry(dict: StateDict, name: string, value: Tensor): void {
  Object.defineProperty(dict, name, { value, enumerable: true, writable: true, configurable: true });
}
