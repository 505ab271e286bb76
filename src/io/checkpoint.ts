/**
 * State dicts and training checkpoints as safetensors bytes (no Node.js module: works in browsers).
 *
 * A checkpoint is one valid safetensors file. Model tensors keep their own names, so PyTorch's
 * `safetensors.torch.load_file` reads the weights directly. Tensors and typed arrays found in the
 * optimizer state (or in `meta`) are stored as tensors named "optimizer/<path>" ("meta/<path>"),
 * and the rest of that state, a JSON skeleton that points at those tensors, goes in `__metadata__`.
 */
import { ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import {
  FormatError,
  decodeTensor,
  defineOwn,
  encodeSafetensors,
  nativeCopy,
  parseSafetensors,
  rawTensor,
  type ParsedFile,
  type RawEntry,
  type RawTensor,
  type SafetensorsDType,
  type SerializeOptions,
} from "./safetensors.js";

/** Named tensors, as `Module.stateDict()` returns them. */
export type StateDict = Record<string, Tensor>;

/** A state dict, or anything with a `stateDict()` method (a Module). */
export type StateDictSource = StateDict | { stateDict(): StateDict };

/** The typed arrays a checkpoint stores (each comes back as the same class). */
export type StoredTypedArray =
  | Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array
  | Int8Array | Uint8Array | Uint8ClampedArray | BigInt64Array | BigUint64Array;

/** What an optimizer state or `meta` may hold: JSON values, tensors and typed arrays, nested. */
export type StateTree =
  | null | boolean | number | string | undefined
  | Tensor | StoredTypedArray
  | StateTree[]
  | { [key: string]: StateTree };

/**
 * A training checkpoint: model weights, optionally the optimizer state (nested plain objects and
 * arrays holding numbers, strings, tensors and typed arrays) and `meta` (epoch, history, config...).
 */
export interface Checkpoint<O = StateTree, M = StateTree> {
  model: StateDict;
  optimizer?: O;
  meta?: M;
}

/** Input of checkpointToBytes: the model may also be a Module. */
export interface CheckpointInput<O = unknown, M = unknown> {
  model: StateDictSource;
  optimizer?: O;
  meta?: M;
}

const VERSION_KEY = "chainrule.checkpoint";
const OPTIMIZER_KEY = "chainrule.optimizer";
const META_KEY = "chainrule.meta";
const VERSION = "1";
/** The key that marks a placeholder object in a skeleton; plain state objects may not use it. */
const MARK = "$chainrule";

const TYPED_ARRAYS = {
  Float64Array: { dtype: "F64", make: (b: ArrayBuffer) => new Float64Array(b) },
  Float32Array: { dtype: "F32", make: (b: ArrayBuffer) => new Float32Array(b) },
  Int32Array: { dtype: "I32", make: (b: ArrayBuffer) => new Int32Array(b) },
  Uint32Array: { dtype: "U32", make: (b: ArrayBuffer) => new Uint32Array(b) },
  Int16Array: { dtype: "I16", make: (b: ArrayBuffer) => new Int16Array(b) },
  Uint16Array: { dtype: "U16", make: (b: ArrayBuffer) => new Uint16Array(b) },
  Int8Array: { dtype: "I8", make: (b: ArrayBuffer) => new Int8Array(b) },
  Uint8Array: { dtype: "U8", make: (b: ArrayBuffer) => new Uint8Array(b) },
  Uint8ClampedArray: { dtype: "U8", make: (b: ArrayBuffer) => new Uint8ClampedArray(b) },
  BigInt64Array: { dtype: "I64", make: (b: ArrayBuffer) => new BigInt64Array(b) },
  BigUint64Array: { dtype: "U64", make: (b: ArrayBuffer) => new BigUint64Array(b) },
} satisfies Record<string, { dtype: SafetensorsDType; make: (b: ArrayBuffer) => StoredTypedArray }>;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

// ------------------------------------------------------------------------------ state dicts

/** The state dict of `source`: itself, or what its `stateDict()` returns; checked to hold tensors. */
export function resolveStateDict(op: string, source: StateDictSource): StateDict {
  if (typeof source !== "object" || source === null || Array.isArray(source)) {
    throw new ValueError(`${op}: expected a state dict (an object of tensors) or a module with stateDict(), got ${source === null ? "null" : Array.isArray(source) ? "an array" : typeof source}.`);
  }
  const dict = typeof (source as { stateDict?: unknown }).stateDict === "function" ? (source as { stateDict(): StateDict }).stateDict() : (source as StateDict);
  for (const [name, t] of Object.entries(dict)) {
    if (!(t instanceof Tensor)) throw new ValueError(`${op}: state dict entry '${name}' is not a Tensor; only tensors can be saved as weights.`);
  }
  return dict;
}

/**
 * A state dict (or a Module's) as safetensors bytes; `metadata` holds extra strings.
 * @example const bytes = stateDictToBytes(model, { metadata: { epoch: "3" } });
 */
export function stateDictToBytes(source: StateDictSource, options: { metadata?: Record<string, string> } & SerializeOptions = {}): Uint8Array {
  const dict = resolveStateDict("stateDictToBytes", source);
  const entries = Object.entries(dict).map(([name, t]) => rawTensor(name, t, options.floatDtype ?? "native", "stateDictToBytes"));
  return encodeSafetensors(entries, options.metadata, "stateDictToBytes");
}

/** The tensors of safetensors bytes, by name (the metadata is dropped; see `deserialize`). */
export function bytesToStateDict(bytes: Uint8Array | ArrayBuffer): StateDict {
  const file = parseSafetensors(bytes, "bytesToStateDict");
  const out: StateDict = {};
  for (const entry of file.entries) defineOwn(out, entry.name, decodeTensor(file, entry, "bytesToStateDict"));
  return out;
}

function tensorEntries(dict: StateDict): RawTensor[] {
  return Object.entries(dict).map(([name, t]) => tensorEntry(name, t));
}

function tensorEntry(name: string, t: Tensor): RawTensor {
  return rawTensor(name, t, "native", "checkpointToBytes");
}

// ------------------------------------------------------------------------------ checkpoints

/**
 * A checkpoint as the bytes of one safetensors file. Model tensors keep their names; tensors and
 * typed arrays inside `optimizer` and `meta` are stored as tensors "optimizer/<path>" and
 * "meta/<path>", and the JSON skeleton around them goes in the file's metadata.
 * Objects shared by reference are stored once per reference; cycles are refused.
 * @example const bytes = checkpointToBytes({ model, optimizer: opt.stateDict(), meta: { epoch } });
 */
export function checkpointToBytes(checkpoint: CheckpointInput): Uint8Array {
  const op = "checkpointToBytes";
  if (typeof checkpoint !== "object" || checkpoint === null || !("model" in checkpoint)) {
    throw new ValueError(`${op}: expected { model, optimizer?, meta? }.`);
  }
  const model = resolveStateDict(op, checkpoint.model);
  const tensors = tensorEntries(model);
  const taken = new Set(tensors.map((t) => t.name));
  const metadata: Record<string, string> = { [VERSION_KEY]: VERSION };
  for (const [key, prefix, value] of [
    [OPTIMIZER_KEY, "optimizer", checkpoint.optimizer],
    [META_KEY, "meta", checkpoint.meta],
  ] as const) {
    if (value === undefined) continue;
    const encoder = new SkeletonEncoder(op, prefix, taken, tensors);
    metadata[key] = JSON.stringify(encoder.encode(value, [], new Set()));
  }
  return encodeSafetensors(tensors, metadata, op);
}

/**
 * Restores a checkpoint written by checkpointToBytes: the same nested structure, with tensors and
 * typed arrays (of the same classes) back in place. A plain safetensors file (not written as a
 * checkpoint) comes back as `{ model }` with all its tensors.
 * Pass the expected types for the optimizer state and meta: `checkpointFromBytes<AdamState>(bytes)`.
 */
export function checkpointFromBytes<O = StateTree, M = StateTree>(bytes: Uint8Array | ArrayBuffer): Checkpoint<O, M> {
  const op = "checkpointFromBytes";
  const file = parseSafetensors(bytes, op);
  const version = file.metadata[VERSION_KEY];
  if (version !== undefined && version !== VERSION) {
    throw new FormatError(`${op}: checkpoint format version ${JSON.stringify(version)} is not supported by this chainrule (it reads version ${VERSION}); upgrade chainrule.`);
  }
  const byName = new Map(file.entries.map((e) => [e.name, e] as const));
  const used = new Set<string>();
  const restored: { optimizer?: unknown; meta?: unknown } = {};
  if (version !== undefined) {
    for (const [key, field] of [
      [OPTIMIZER_KEY, "optimizer"],
      [META_KEY, "meta"],
    ] as const) {
      const json = file.metadata[key];
      if (json === undefined) continue;
      let skeleton: unknown;
      try {
        skeleton = JSON.parse(json);
      } catch {
        throw new FormatError(`${op}: metadata '${key}' is not valid JSON; the checkpoint is corrupt.`);
      }
      const decoder = new SkeletonDecoder(op, key, file, byName, used);
      restored[field] = decoder.decode(skeleton, 0);
    }
  }
  const model: StateDict = {};
  for (const entry of file.entries) {
    if (!used.has(entry.name)) defineOwn(model, entry.name, decodeTensor(file, entry, op));
  }
  // The skeleton's types are the caller's to assert, as with JSON.parse.
  return { model, ...restored } as Checkpoint<O, M>;
}

class SkeletonEncoder {
  constructor(
    private readonly op: string,
    private readonly prefix: string,
    private readonly taken: Set<string>,
    private readonly tensors: RawTensor[],
  ) {}

  encode(value: unknown, path: string[], ancestors: Set<object>): unknown {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "undefined":
        return { [MARK]: "undefined" };
      case "number":
        // JSON has no NaN, Infinity or -0; keep them exactly.
        if (Number.isFinite(value) && !Object.is(value, -0)) return value;
        return { [MARK]: "number", value: Object.is(value, -0) ? "-0" : String(value) };
      case "object":
        break;
      default:
        throw this.unsupported(path, `a ${typeof value}`);
    }
    if (value === null) return null;
    if (value instanceof Tensor) {
      const name = this.store(path, tensorEntry("", value));
      return { [MARK]: "tensor", name };
    }
    if (ArrayBuffer.isView(value)) {
      const type = Object.prototype.toString.call(value).slice(8, -1);
      if (!(type in TYPED_ARRAYS)) throw this.unsupported(path, `a ${type}`);
      const data = value as StoredTypedArray;
      const name = this.store(path, { name: "", dtype: TYPED_ARRAYS[type as TypedArrayName].dtype, shape: [data.length], data });
      return { [MARK]: "typedarray", type, name };
    }
    if (ancestors.has(value)) throw new ValueError(`${this.op}: ${this.where(path)} refers back to an object that contains it (a cycle); checkpoints store trees.`);
    ancestors.add(value);
    let out: unknown;
    if (Array.isArray(value)) {
      out = Array.from(value, (item, i) => this.encode(item, [...path, String(i)], ancestors));
    } else {
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw this.unsupported(path, `a ${(value as object).constructor?.name ?? "class instance"}`);
      if (Object.prototype.hasOwnProperty.call(value, MARK)) {
        throw new ValueError(`${this.op}: ${this.where(path)} has a key '${MARK}', which checkpoints reserve for their own markers; rename it.`);
      }
      const obj: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) defineOwn(obj, k, this.encode(v, [...path, k], ancestors));
      out = obj;
    }
    ancestors.delete(value);
    return out;
  }

  /** Stores a tensor under "<prefix>/<path>", made unique if a model tensor already has that name. */
  private store(path: string[], entry: RawTensor): string {
    const base = [this.prefix, ...path].join("/");
    let name = base;
    for (let k = 2; this.taken.has(name); k++) name = `${base}#${k}`;
    this.taken.add(name);
    this.tensors.push({ ...entry, name });
    return name;
  }

  private where(path: string[]): string {
    return path.length === 0 ? this.prefix : `${this.prefix}.${path.join(".")}`;
  }

  private unsupported(path: string[], what: string): ValueError {
    return new ValueError(`${this.op}: ${this.where(path)} is ${what}; a checkpoint stores numbers, strings, booleans, null, plain objects, arrays, tensors and typed arrays.`);
  }
}

class SkeletonDecoder {
  constructor(
    private readonly op: string,
    private readonly key: string,
    private readonly file: ParsedFile,
    private readonly byName: Map<string, RawEntry>,
    private readonly used: Set<string>,
  ) {}

  decode(node: unknown, depth: number): unknown {
    if (depth > 1000) throw this.corrupt("nests too deeply");
    if (node === null || typeof node !== "object") return node;
    if (Array.isArray(node)) return node.map((item) => this.decode(item, depth + 1));
    const obj = node as Record<string, unknown>;
    if (!Object.prototype.hasOwnProperty.call(obj, MARK)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) defineOwn(out, k, this.decode(v, depth + 1));
      return out;
    }
    switch (obj[MARK]) {
      case "undefined":
        return undefined;
      case "number": {
        const text = obj.value;
        if (text === "-0") return -0;
        if (text === "NaN" || text === "Infinity" || text === "-Infinity") return Number(text);
        throw this.corrupt(`has a bad number marker ${JSON.stringify(text)}`);
      }
      case "tensor":
        return decodeTensor(this.file, this.claim(obj.name), this.op);
      case "typedarray": {
        const type = obj.type;
        if (typeof type !== "string" || !Object.prototype.hasOwnProperty.call(TYPED_ARRAYS, type)) {
          throw this.corrupt(`names an unknown typed array ${JSON.stringify(type)}`);
        }
        const spec = TYPED_ARRAYS[type as TypedArrayName];
        const entry = this.claim(obj.name);
        if (entry.dtype !== spec.dtype || entry.shape.length !== 1) {
          throw this.corrupt(`says tensor '${entry.name}' is a ${type}, but it is ${entry.dtype} with ${entry.shape.length} dimensions`);
        }
        return spec.make(nativeCopy(this.file, entry));
      }
      default:
        throw this.corrupt(`has an unknown marker ${JSON.stringify(obj[MARK])}`);
    }
  }

  private claim(name: unknown): RawEntry {
    const entry = typeof name === "string" ? this.byName.get(name) : undefined;
    if (entry === undefined) throw this.corrupt(`refers to a tensor ${JSON.stringify(name)} that the file does not hold`);
    if (this.used.has(entry.name)) throw this.corrupt(`refers to tensor '${entry.name}' twice`);
    this.used.add(entry.name);
    return entry;
  }

  private corrupt(what: string): FormatError {
    return new FormatError(`${this.op}: metadata '${this.key}' ${what}; the checkpoint is corrupt.`);
  }
}
