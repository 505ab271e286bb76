/**
 * One fuzz suite over every file reader (issue 15, "Nothing lost, nothing silent"): safetensors
 * (deserialize, bytesToStateDict), checkpoints (checkpointFromBytes), sharded indexes and their
 * shards (parseShardIndex + loadShards), MNIST IDX (parseIdxImages, parseIdxLabels, idxDataset),
 * CIFAR-10 (parseCifar10Batch, parseCifar10Meta), ONNX (onnx.loadModel) and models.fromBytes.
 *
 * Every reader gets the same treatment, with seeded fast-check properties:
 *   - its valid file (made here: a real model saved with stateDictToBytes, a checkpoint from
 *     checkpointToBytes, IDX and CIFAR files built byte by byte, an ONNX file from
 *     onnx.exportModel) reads back exactly as written, also from a misaligned view;
 *   - random bytes, random truncations, random byte flips and random insertions;
 * then targeted mutations: the safetensors header (length field, bound, offsets, dtypes,
 * non-objects, `__proto__`/`constructor`/`prototype` names, 10^6 entries, trailing bytes), IDX
 * magic numbers and counts, CIFAR sizes, checkpoints from another architecture.
 *
 * The property: the reader returns a correct result (what was written, for a valid file; what an
 * independent decoder reads, for a damaged file it accepts) or throws a ChainruleError, never
 * another exception; every call finishes in under 2 s; and loading into an existing Module
 * (loadStateDict of what the reader returned) either fits or leaves its parameters byte for byte
 * as they were. Object.prototype stays untouched throughout.
 *
 * CHAINRULE_FUZZ_RUNS=k multiplies every property's runs by k (long mode, e.g. 20);
 * CHAINRULE_FUZZ_SEED=n changes the seed.
 */
import fc from "fast-check";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  ChainruleError,
  DTypeError,
  DataError,
  FormatError,
  MAX_HEADER_BYTES,
  ShapeError,
  Tensor,
  bytesToStateDict,
  checkpointFromBytes,
  checkpointToBytes,
  deserialize,
  loadShards,
  manualSeed,
  models,
  nn,
  noGrad,
  onnx,
  optim,
  parseShardIndex,
  randn,
  stateDictToBytes,
  tensor,
  data,
} from "../src/index.js";
import { encodeSafetensors, type RawTensor } from "../src/io/safetensors.js";
import { pb } from "../src/onnx/proto.js";

// ------------------------------------------------------------------ settings

const MULTIPLIER = Math.max(1, Math.floor(Number(process.env.CHAINRULE_FUZZ_RUNS ?? "1")) || 1);
const BASE_SEED = Number(process.env.CHAINRULE_FUZZ_SEED ?? "15015") | 0;
/** Runs of each generic property (random bytes, truncation, flips, insertion, loading) per reader. */
export const RUNS_PER_PROPERTY = 100;
const runs = (n = RUNS_PER_PROPERTY): number => n * MULTIPLIER;
/** Every reader call must finish within this (a hang or a quadratic blow-up fails the case). */
const TIME_LIMIT_MS = 2000;

let seedCounter = 0;
const options = (numRuns: number) => ({ seed: BASE_SEED + 7919 * seedCounter++, numRuns });

const enc = new TextEncoder();
const dec = new TextDecoder();

// ------------------------------------------------------------------ the property's pieces

type Outcome<T> = { ok: true; value: T; ms: number } | { ok: false; error: ChainruleError; ms: number };

const slowest = new Map<string, number>();
const callCount = new Map<string, number>();

/** Runs a reader: its result, or the ChainruleError it threw; anything else fails the case, as does taking over 2 s. */
function attempt<T>(reader: string, f: () => T): Outcome<T> {
  const t0 = performance.now();
  let out: Outcome<T>;
  try {
    const value = f();
    out = { ok: true, value, ms: performance.now() - t0 };
  } catch (e) {
    if (!(e instanceof ChainruleError)) {
      throw new Error(`${reader} threw ${e instanceof Error ? `${e.constructor.name}: ${e.message.slice(0, 300)}` : String(e)}, not a ChainruleError`, { cause: e });
    }
    expect(e.message.length).toBeGreaterThan(20); // a message that says something
    out = { ok: false, error: e, ms: performance.now() - t0 };
  }
  slowest.set(reader, Math.max(slowest.get(reader) ?? 0, out.ms));
  callCount.set(reader, (callCount.get(reader) ?? 0) + 1);
  if (out.ms > TIME_LIMIT_MS) throw new Error(`${reader} took ${out.ms.toFixed(0)} ms (limit ${TIME_LIMIT_MS} ms)`);
  return out;
}

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = bytesOf(a), y = bytesOf(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function expectSameTensor(actual: unknown, expected: Tensor, what: string): void {
  expect(actual, what).toBeInstanceOf(Tensor);
  const t = actual as Tensor;
  expect(t.dtype, what).toBe(expected.dtype);
  expect(t.shape, what).toEqual(expected.shape);
  expect(sameBytes(t.data, expected.data), `${what}: bytes`).toBe(true);
}

function expectSameDict(actual: Record<string, Tensor>, expected: Record<string, Tensor>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [k, t] of Object.entries(expected)) expectSameTensor(actual[k], t, k);
}

/** A module's parameters and buffers as bytes, to prove a failed load changed nothing. */
function snapshot(m: nn.Module): Map<string, Uint8Array> {
  return new Map(Object.entries(m.stateDict()).map(([k, t]) => [k, bytesOf(t.data).slice()]));
}

function expectUnchanged(m: nn.Module, before: Map<string, Uint8Array>): void {
  const now = snapshot(m);
  expect([...now.keys()]).toEqual([...before.keys()]);
  for (const [k, b] of before) expect(sameBytes(now.get(k)!, b), `${k} changed by a failed load`).toBe(true);
}

/**
 * The load-into-a-Module half of the property: `target.loadStateDict(dict)` either fits (then every
 * parameter holds the dict's value in its dtype) or throws a ChainruleError and changes nothing.
 */
function loadInto(target: nn.Module, dict: Record<string, Tensor>, label: string): boolean {
  const before = snapshot(target);
  const r = attempt(`${label} → loadStateDict`, () => target.loadStateDict(dict));
  if (!r.ok) {
    expectUnchanged(target, before);
    return false;
  }
  for (const [k, t] of Object.entries(target.stateDict())) {
    const want = dict[k]!.to(t.dtype);
    expect(sameBytes(t.data, want.data), `${k} holds the loaded value`).toBe(true);
  }
  return true;
}

// ------------------------------------------------------------------ an independent safetensors decoder

const ITEM: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8 };
const CHAINRULE_DTYPE: Record<string, string> = { F32: "float32", F16: "float32", BF16: "float32", F64: "float64", BOOL: "bool", I32: "int32", U32: "int32", I64: "int32", U64: "int32", I16: "int32", U16: "int32", I8: "int32", U8: "int32" };

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

/** One element of a safetensors tensor, read with DataView (BigInt for 64-bit integers). */
function element(view: DataView, dtype: string, i: number): number | bigint {
  switch (dtype) {
    case "BOOL": return view.getUint8(i) ? 1 : 0;
    case "U8": return view.getUint8(i);
    case "I8": return view.getInt8(i);
    case "I16": return view.getInt16(2 * i, true);
    case "U16": return view.getUint16(2 * i, true);
    case "F16": return half(view.getUint16(2 * i, true));
    case "BF16": { const f = new DataView(new ArrayBuffer(4)); f.setUint32(0, view.getUint16(2 * i, true) << 16); return f.getFloat32(0); }
    case "I32": return view.getInt32(4 * i, true);
    case "U32": return view.getUint32(4 * i, true);
    case "F32": return view.getFloat32(4 * i, true);
    case "F64": return view.getFloat64(8 * i, true);
    case "I64": return view.getBigInt64(8 * i, true);
    case "U64": return view.getBigUint64(8 * i, true);
  }
  throw new Error(`no dtype ${dtype}`);
}

interface IndependentEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

/** The header of safetensors bytes the reader accepted, parsed with JSON.parse. */
function independentHeader(bytes: Uint8Array): { header: Record<string, IndependentEntry>; metadata: Record<string, string>; dataStart: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const parsed = JSON.parse(dec.decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const header: Record<string, IndependentEntry> = {};
  let metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (k === "__metadata__") metadata = (v ?? {}) as Record<string, string>;
    else Object.defineProperty(header, k, { value: v, enumerable: true });
  }
  return { header, metadata, dataStart: 8 + n };
}

/** A tensor the reader returned agrees with the bytes of its header entry (element by element). */
function expectDecoded(t: unknown, bytes: Uint8Array, dataStart: number, e: IndependentEntry, what: string): void {
  expect(t, what).toBeInstanceOf(Tensor);
  const x = t as Tensor;
  expect(x.shape, what).toEqual(e.shape);
  expect(x.dtype, what).toBe(CHAINRULE_DTYPE[e.dtype]);
  const [b, end] = e.data_offsets;
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart + b, end - b);
  const n = (end - b) / ITEM[e.dtype]!;
  expect(x.size, what).toBe(n);
  if (e.dtype === "F32" || e.dtype === "F64" || e.dtype === "I32") {
    expect(sameBytes(x.data, bytes.subarray(dataStart + b, dataStart + end)), `${what}: bytes`).toBe(true);
    return;
  }
  for (let i = 0; i < n; i++) {
    const want = Number(element(view, e.dtype, i));
    const got = Number(x.data[i]);
    if (!(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)))) throw new Error(`${what}[${i}]: read ${got}, the file holds ${want}`);
  }
}

/** What deserialize returned for bytes it accepted is exactly what they hold. */
function expectSafetensors(bytes: Uint8Array, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  const h = independentHeader(bytes);
  expect(Object.keys(tensors).sort()).toEqual(Object.keys(h.header).sort());
  for (const [k, e] of Object.entries(h.header)) expectDecoded(tensors[k], bytes, h.dataStart, e, k);
  if (metadata) expect(metadata).toEqual(h.metadata);
  expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
}

// ------------------------------------------------------------------ the valid files

function net(seed: number, width = 5): nn.Sequential {
  manualSeed(seed);
  const m = new nn.Sequential(new nn.Linear(4, width), new nn.BatchNorm1d(width), new nn.ReLU(), new nn.Linear(width, 3));
  m.train();
  noGrad(() => m.forward(randn([6, 4])));
  m.eval();
  return m;
}

const source = net(1);
const modelFile = stateDictToBytes(source, { metadata: { note: "fuzz" } });

/** Every dtype the reader takes, with values each converts exactly. */
const allDtypeValues: Record<string, number[]> = {
  F64: [Math.PI, -0, 1e-300, Infinity], F32: [1.5, -2.25, Math.fround(3e-38), NaN], F16: [0.5, -65504, 6.103515625e-5, 5.960464477539063e-8], BF16: [1, -3.140625, 0, -0],
  I64: [-2147483648, 2147483647, 0, -1], U64: [0, 1, 2147483647, 7], U32: [0, 2147483647, 5, 9], I32: [-7, 8, 9, -2147483648], I16: [-32768, 32767, 0, 1], U16: [65535, 0, 3, 4],
  I8: [-128, 127, 0, -1], U8: [255, 0, 1, 2], BOOL: [1, 0, 1, 1],
};
function rawOf(dtype: string, values: number[]): RawTensor {
  const make: Record<string, (v: number[]) => ArrayBufferView> = {
    F64: (v) => Float64Array.from(v), F32: (v) => Float32Array.from(v), I32: (v) => Int32Array.from(v), U32: (v) => Uint32Array.from(v),
    I16: (v) => Int16Array.from(v), U16: (v) => Uint16Array.from(v), I8: (v) => Int8Array.from(v), U8: (v) => Uint8Array.from(v), BOOL: (v) => Uint8Array.from(v),
    I64: (v) => BigInt64Array.from(v, BigInt), U64: (v) => BigUint64Array.from(v, BigInt),
    F16: (v) => Uint16Array.from(v, (x) => { for (let h = 0; h < 0x10000; h++) if (Object.is(half(h), x)) return h; throw new Error(`${x} is not a half`); }),
    BF16: (v) => Uint16Array.from(v, (x) => new Uint32Array(Float32Array.of(x).buffer)[0]! >>> 16),
  };
  return { name: `t.${dtype}`, dtype: dtype as RawTensor["dtype"], shape: [2, 2], data: make[dtype]!(values) };
}
// BF16 holds 1e20 only approximately: the value written is 1e20 cut to BF16's 8 mantissa bits.
allDtypeValues.BF16![2] = new Float32Array(Uint32Array.of(((new Uint32Array(Float32Array.of(1e20).buffer)[0]! >>> 16) << 16) >>> 0).buffer)[0]!;
const allDtypesFile = encodeSafetensors(Object.entries(allDtypeValues).map(([d, v]) => rawOf(d, v)), JSON.parse('{"format":"pt","__proto__":"x"}') as Record<string, string>, "test");

/** A checkpoint of `source` with Adam state after a step, and meta with every kind of leaf. */
function checkpointOf(m: nn.Module, inputs = 4) {
  const opt = new optim.Adam(m.parameters(), { lr: 0.01 });
  const loss = m.forward(randn([3, inputs])).square().mean();
  loss.backward();
  opt.step();
  return { model: m, optimizer: opt.stateDict(), meta: { epoch: 3, best: -0, gap: NaN, none: undefined, history: [1.5, 2.5], rng: Uint32Array.of(1, 2, 3), tag: "run-7", map: { __proto__: null, "constructor": { n: 1 } } } };
}
const ckSource = net(2);
const ckInput = checkpointOf(ckSource);
const checkpointFile = checkpointToBytes(ckInput);

// IDX and CIFAR files, byte by byte.
function be32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}
const IDX_COUNT = 3, IDX_ROWS = 4, IDX_COLS = 5;
const idxPixels = Array.from({ length: IDX_COUNT * IDX_ROWS * IDX_COLS }, (_, i) => (i * 37 + 11) % 256);
const idxImagesFile = Uint8Array.from([...be32(2051), ...be32(IDX_COUNT), ...be32(IDX_ROWS), ...be32(IDX_COLS), ...idxPixels]);
const idxLabelValues = [7, 0, 9];
const idxLabelsFile = Uint8Array.from([...be32(2049), ...be32(IDX_COUNT), ...idxLabelValues]);
const cifarRecords = 2;
const cifarFile = (() => {
  const out = new Uint8Array(cifarRecords * 3073);
  for (let r = 0; r < cifarRecords; r++) {
    out[r * 3073] = [3, 8][r]!;
    for (let i = 0; i < 3072; i++) out[r * 3073 + 1 + i] = (r * 101 + i * 7) % 256;
  }
  return out;
})();
const cifarNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
const cifarMetaFile = enc.encode(`${cifarNames.join("\n")}\n\n`);

// A sharded checkpoint of `source`: two shards and an index.
const sourceDict = source.stateDict();
const shardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
const shardOf = (k: string): string => (k.startsWith("0.") ? shardNames[0]! : shardNames[1]!);
const shardFiles: Record<string, Uint8Array> = Object.fromEntries(shardNames.map((f) => [f, stateDictToBytes(Object.fromEntries(Object.entries(sourceDict).filter(([k]) => shardOf(k) === f)))]));
const indexFile = enc.encode(JSON.stringify({ metadata: { total_size: 1234 }, weight_map: Object.fromEntries(Object.keys(sourceDict).map((k) => [k, shardOf(k)])) }));

// ONNX.
const onnxSource = net(3);
const onnxInput = randn([2, 4]);
const onnxFile = onnx.exportModel(onnxSource, onnxInput);
const onnxExpected = noGrad(() => onnxSource.forward(onnxInput)).data as Float32Array;

// models.fromBytes: an MLP and a small convnet (with batch norm: an I64 counter in the file).
const mlpArch: models.Architecture = { model: "mlp", sizes: [6, 5, 3], activation: "tanh", loss: "softmax" };
const mlpMeta: models.ModelMetadata = { architecture: mlpArch, classes: ["a", "b", "c"], normalization: { mean: [0, 1, 2, 3, 4, 5], std: [1, 1, 1, 2, 2, 2] }, dataset: { name: "synthetic", options: { seed: 1 } } };
manualSeed(4);
const mlpNet = models.buildModel(mlpArch);
const mlpFile = models.toBytes(mlpNet, mlpMeta);
const cnnArch: models.Architecture = { model: "cnn", sizes: [36, 3], activation: "relu", loss: "svm", layers: "conv2-bn-pool-fc4", input: [1, 6, 6] };
manualSeed(5);
const cnnNet = models.buildModel(cnnArch);
const cnnFile = models.toBytes(cnnNet, { architecture: cnnArch });

// ------------------------------------------------------------------ the readers

interface Reader<T> {
  name: string;
  valid: Uint8Array;
  read(bytes: Uint8Array): T;
  /** The valid file's result is what was written. */
  expectOriginal(result: T): void;
  /** A damaged file the reader accepted: its result agrees with what the bytes hold. */
  expectConsistent(bytes: Uint8Array, result: T): void;
  /** Whether a file cut to `cut` bytes must be refused (false where a prefix can be a valid file). */
  mustRefusePrefix(cut: number): boolean;
  /** A state dict to load into `target()`, for the half-loaded-model check. */
  stateDictOf?(result: T): Record<string, Tensor>;
  target?(): nn.Module;
  /** Valid files whose content was changed at the level of the format (a tensor dropped, renamed, reshaped, retyped...). */
  structural?: fc.Arbitrary<Uint8Array>;
}

// ------------------------------------------------------------------ structural edits: valid files with other content

const dictEditArb = fc.record({
  kind: fc.constantFrom("drop", "extra", "reshape", "resize", "dtype", "rename", "none"),
  key: fc.nat(),
  choice: fc.nat(),
});
type DictEdit = { kind: string; key: number; choice: number };

/** The dict with one structural change: still a valid state dict, but of another model (or the same, for "none"). */
function editDict(dict: Record<string, Tensor>, e: DictEdit): Record<string, Tensor> {
  const out: Record<string, Tensor> = { ...dict };
  const keys = Object.keys(dict);
  const k = keys[e.key % keys.length]!;
  const t = dict[k]!;
  switch (e.kind) {
    case "drop":
      delete out[k];
      break;
    case "extra":
      out[`${k}.extra`] = tensor([1, 2, 3]);
      break;
    case "rename":
      delete out[k];
      out[`${k}_`] = t;
      break;
    case "reshape": {
      const shapes = [[t.size], [1, ...t.shape], [...t.shape].reverse(), [...t.shape, 1]];
      out[k] = t.reshape(shapes[e.choice % shapes.length]!);
      break;
    }
    case "resize":
      out[k] = tensor(Array.from({ length: t.size + 1 + (e.choice % 3) }, (_, i) => i / 7), { dtype: t.dtype });
      break;
    case "dtype": {
      const dtypes = ["float64", "float32", "int32", "bool"] as const;
      out[k] = t.to(dtypes[e.choice % dtypes.length]!);
      break;
    }
  }
  return out;
}

/** The valid ONNX file with one initializer renamed, reshaped, resized, retyped or dropped. */
function editOnnx(e: DictEdit): Uint8Array {
  const m = pb.ModelProto.decode(onnxFile) as any;
  const inits = m.graph.initializer as any[];
  const k = e.key % inits.length;
  const t = inits[k];
  const values = onnx.decodeTensor(t, "edit", "float32");
  const floats = (v: ArrayLike<number>, type = 1) => (type === 11 ? new Uint8Array(Float64Array.from(v).buffer) : new Uint8Array(Float32Array.from(v).buffer));
  switch (e.kind) {
    case "drop":
      inits.splice(k, 1);
      break;
    case "rename": {
      const old = t.name;
      t.name = `${old}_`;
      for (const n of m.graph.node) n.input = n.input.map((x: string) => (x === old ? t.name : x));
      break;
    }
    case "reshape": {
      const shapes = [[values.size], [1, ...values.shape], [...values.shape].reverse()];
      t.dims = shapes[e.choice % shapes.length];
      break;
    }
    case "resize":
      t.dims = [values.size + 1];
      t.rawData = floats(new Float32Array(values.size + 1).fill(0.5), t.dataType);
      break;
    case "dtype":
      if (t.dataType === 1) {
        t.dataType = 11;
        t.rawData = floats(values.data as Float32Array, 11);
      }
      break;
    case "extra":
      inits.push({ name: "extra", dims: [2], dataType: 1, rawData: floats([1, 2]) });
      break;
  }
  return new Uint8Array(pb.ModelProto.encode(m).finish());
}

/** The valid index with one entry dropped, moved to the other shard, or an unknown tensor added. */
function editIndex(e: DictEdit): Uint8Array {
  const index = JSON.parse(dec.decode(indexFile)) as { weight_map: Record<string, string> };
  const keys = Object.keys(index.weight_map);
  const k = keys[e.key % keys.length]!;
  if (e.kind === "drop") delete index.weight_map[k];
  else if (e.kind === "rename" || e.kind === "reshape") index.weight_map[k] = index.weight_map[k] === shardNames[0] ? shardNames[1]! : shardNames[0]!;
  else if (e.kind === "extra") index.weight_map.ghost = shardNames[e.choice % 2]!;
  return enc.encode(JSON.stringify(index));
}

function deepEqualLeaf(actual: unknown, expected: unknown, path: string): void {
  if (expected instanceof Tensor) return expectSameTensor(actual, expected, path);
  if (ArrayBuffer.isView(expected)) {
    expect(Object.prototype.toString.call(actual), path).toBe(Object.prototype.toString.call(expected));
    expect(sameBytes(actual as ArrayBufferView, expected), path).toBe(true);
    return;
  }
  if (typeof expected === "number") {
    expect(Object.is(actual, expected), `${path}: ${String(actual)} vs ${expected}`).toBe(true);
    return;
  }
  if (expected === null || typeof expected !== "object") return expect(actual, path).toBe(expected);
  expect(Array.isArray(actual), path).toBe(Array.isArray(expected));
  const keys = Object.keys(expected);
  expect(Object.keys(actual as object).sort(), path).toEqual([...keys].sort());
  for (const k of keys) deepEqualLeaf((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`);
}

/** A checkpoint result for bytes the reader accepted agrees with the file: model tensors, and skeleton leaves (tensors, typed arrays, values). */
function expectCheckpoint(bytes: Uint8Array, ck: ReturnType<typeof checkpointFromBytes>): void {
  const h = independentHeader(bytes);
  const used = new Set<string>();
  const walk = (skeleton: unknown, value: unknown, path: string): void => {
    if (skeleton === null || typeof skeleton !== "object") return expect(value, path).toBe(skeleton);
    if (Array.isArray(skeleton)) {
      expect(Array.isArray(value), path).toBe(true);
      (value as unknown[]).forEach((v, i) => walk(skeleton[i], v, `${path}[${i}]`));
      return expect((value as unknown[]).length).toBe(skeleton.length);
    }
    const s = skeleton as Record<string, unknown>;
    if (Object.hasOwn(s, "$chainrule")) {
      const mark = s.$chainrule;
      if (mark === "undefined") return expect(value).toBeUndefined();
      if (mark === "number") return expect(Object.is(value, Number(s.value)), path).toBe(true);
      const name = s.name as string;
      used.add(name);
      const e = h.header[name]!;
      if (mark === "tensor") return expectDecoded(value, bytes, h.dataStart, e, path);
      expect(Object.prototype.toString.call(value), path).toBe(`[object ${String(s.type)}]`);
      return expect(sameBytes(value as ArrayBufferView, bytes.subarray(h.dataStart + e.data_offsets[0], h.dataStart + e.data_offsets[1])), path).toBe(true);
    }
    expect(Object.keys(value as object).sort(), path).toEqual(Object.keys(s).sort());
    for (const k of Object.keys(s)) walk(s[k], (value as Record<string, unknown>)[k], `${path}.${k}`);
  };
  const version = h.metadata["chainrule.checkpoint"];
  for (const [key, field] of [["chainrule.optimizer", "optimizer"], ["chainrule.meta", "meta"]] as const) {
    if (version !== undefined && h.metadata[key] !== undefined) walk(JSON.parse(h.metadata[key]!), ck[field], field);
    else expect(Object.hasOwn(ck, field)).toBe(false);
  }
  const modelNames = Object.keys(h.header).filter((k) => !used.has(k)).sort();
  expect(Object.keys(ck.model).sort()).toEqual(modelNames);
  for (const k of modelNames) expectDecoded(ck.model[k], bytes, h.dataStart, h.header[k]!, k);
}

function expectMetadataOf(bytes: Uint8Array, meta: models.ModelMetadata): void {
  const h = independentHeader(bytes);
  expect(meta.architecture).toEqual(JSON.parse(h.metadata["chainrule.architecture"]!));
  for (const key of ["dataset", "classes", "normalization"] as const) {
    const text = h.metadata[`chainrule.${key}`];
    if (text === undefined) expect(meta[key]).toBeUndefined();
    else expect(meta[key]).toEqual(JSON.parse(text));
  }
}

function fromBytesReader(name: string, file: Uint8Array, net0: nn.Module, meta: models.ModelMetadata): Reader<ReturnType<typeof models.fromBytes>> {
  return {
    name,
    valid: file,
    read: (b) => models.fromBytes(b, { source: "fuzz.safetensors" }),
    expectOriginal: (r) => {
      expect(r.meta).toEqual(meta);
      expectSameDict(r.model.stateDict(), net0.stateDict());
    },
    expectConsistent: (b, r) => {
      expectMetadataOf(b, r.meta);
      const h = independentHeader(b);
      const dict = r.model.stateDict();
      expect(Object.keys(dict).sort()).toEqual(Object.keys(h.header).sort());
      const tensors = deserialize(b).tensors;
      for (const [k, t] of Object.entries(dict)) expect(sameBytes(t.data, tensors[k]!.to(t.dtype).data), k).toBe(true);
    },
    mustRefusePrefix: () => true,
    structural: dictEditArb.map((e) => {
      const { metadata } = deserialize(file);
      return stateDictToBytes(editDict(net0.stateDict(), e), { metadata });
    }),
  };
}

const READERS: Reader<any>[] = [
  {
    name: "deserialize (a model's state dict)",
    valid: modelFile,
    read: (b) => deserialize(b),
    expectOriginal: (r: ReturnType<typeof deserialize>) => {
      expectSameDict(r.tensors, sourceDict);
      expect(r.metadata).toEqual({ note: "fuzz" });
    },
    expectConsistent: (b, r: ReturnType<typeof deserialize>) => expectSafetensors(b, r.tensors, r.metadata),
    mustRefusePrefix: () => true,
    stateDictOf: (r: ReturnType<typeof deserialize>) => r.tensors,
    target: () => net(11),
    structural: dictEditArb.map((e) => stateDictToBytes(editDict(sourceDict, e))),
  },
  {
    name: "deserialize (every dtype)",
    valid: allDtypesFile,
    read: (b) => deserialize(b),
    expectOriginal: (r: ReturnType<typeof deserialize>) => {
      expect(Object.keys(r.tensors).sort()).toEqual(Object.keys(allDtypeValues).map((d) => `t.${d}`).sort());
      for (const [d, v] of Object.entries(allDtypeValues)) {
        const t = r.tensors[`t.${d}`]!;
        expect(t.dtype).toBe(CHAINRULE_DTYPE[d]);
        expect(t.shape).toEqual([2, 2]);
        Array.from(t.data as ArrayLike<number>).forEach((x, i) => expect(Object.is(x, v[i]!) || (Number.isNaN(x) && Number.isNaN(v[i]!)), `${d}[${i}] = ${x}, wrote ${v[i]}`).toBe(true));
      }
      expect(r.metadata).toEqual(Object.defineProperty({ format: "pt" }, "__proto__", { value: "x", enumerable: true }));
    },
    expectConsistent: (b, r: ReturnType<typeof deserialize>) => expectSafetensors(b, r.tensors, r.metadata),
    mustRefusePrefix: () => true,
  },
  {
    name: "bytesToStateDict",
    valid: modelFile,
    read: (b) => bytesToStateDict(b),
    expectOriginal: (r) => expectSameDict(r, sourceDict),
    expectConsistent: (b, r) => expectSafetensors(b, r),
    mustRefusePrefix: () => true,
    stateDictOf: (r) => r,
    target: () => net(12),
    structural: dictEditArb.map((e) => stateDictToBytes(editDict(sourceDict, e), { floatDtype: e.choice % 2 ? "F16" : "native" })),
  },
  {
    name: "checkpointFromBytes",
    valid: checkpointFile,
    read: (b) => checkpointFromBytes(b),
    expectOriginal: (r: ReturnType<typeof checkpointFromBytes>) => {
      expectSameDict(r.model, ckSource.stateDict());
      deepEqualLeaf(r.optimizer, ckInput.optimizer, "optimizer");
      deepEqualLeaf(r.meta, ckInput.meta, "meta");
    },
    expectConsistent: expectCheckpoint,
    mustRefusePrefix: () => true,
    stateDictOf: (r: ReturnType<typeof checkpointFromBytes>) => r.model,
    target: () => net(13),
    structural: dictEditArb.map((e) => checkpointToBytes({ model: editDict(ckSource.stateDict(), e), optimizer: ckInput.optimizer, meta: ckInput.meta })),
  },
  {
    name: "parseShardIndex + loadShards (the index)",
    valid: indexFile,
    read: (b) => loadShards(parseShardIndex(dec.decode(b), "model.safetensors.index.json"), (f) => shardFiles[f] ?? new Uint8Array(0)),
    expectOriginal: (r) => expectSameDict(r, sourceDict),
    expectConsistent: (b, r) => {
      const map = (JSON.parse(dec.decode(b)) as { weight_map: Record<string, string> }).weight_map;
      expect(Object.keys(r).sort()).toEqual(Object.keys(map).sort());
      for (const [k, f] of Object.entries(map)) expectSameTensor(r[k], deserialize(shardFiles[f]!).tensors[k]!, k);
    },
    // A prefix of JSON text is never valid JSON, except a cut right after the closing brace (none: the file ends there).
    mustRefusePrefix: () => true,
    stateDictOf: (r) => r,
    target: () => net(14),
    structural: dictEditArb.map(editIndex),
  },
  {
    name: "loadShards (a shard)",
    valid: shardFiles[shardNames[1]!]!,
    read: (b) => loadShards(parseShardIndex(dec.decode(indexFile)), (f) => (f === shardNames[1] ? b : shardFiles[f]!), "model.safetensors.index.json"),
    expectOriginal: (r) => expectSameDict(r, sourceDict),
    expectConsistent: (b, r) => {
      const second = deserialize(b).tensors;
      for (const [k, t] of Object.entries(r)) expectSameTensor(t, shardOf(k) === shardNames[1] ? second[k]! : sourceDict[k]!, k);
    },
    mustRefusePrefix: () => true,
    stateDictOf: (r) => r,
    target: () => net(15),
    structural: dictEditArb.map((e) => stateDictToBytes(editDict(Object.fromEntries(Object.entries(sourceDict).filter(([k]) => shardOf(k) === shardNames[1])), e))),
  },
  {
    name: "parseIdxImages",
    valid: idxImagesFile,
    read: (b) => data.parseIdxImages(b, "train-images-idx3-ubyte"),
    expectOriginal: (r: data.IdxImages) => {
      expect([r.count, r.rows, r.cols]).toEqual([IDX_COUNT, IDX_ROWS, IDX_COLS]);
      expect(Array.from(r.pixels)).toEqual(idxPixels);
    },
    expectConsistent: (b, r: data.IdxImages) => {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      expect(v.getUint32(0)).toBe(2051);
      expect([r.count, r.rows, r.cols]).toEqual([v.getUint32(4), v.getUint32(8), v.getUint32(12)]);
      expect(r.pixels.length).toBe(r.count * r.rows * r.cols);
      expect(sameBytes(r.pixels, b.subarray(16))).toBe(true);
    },
    mustRefusePrefix: () => true,
  },
  {
    name: "parseIdxLabels",
    valid: idxLabelsFile,
    read: (b) => data.parseIdxLabels(b, "train-labels-idx1-ubyte"),
    expectOriginal: (r: Uint8Array) => expect(Array.from(r)).toEqual(idxLabelValues),
    expectConsistent: (b, r: Uint8Array) => {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      expect(v.getUint32(0)).toBe(2049);
      expect(r.length).toBe(v.getUint32(4));
      expect(sameBytes(r, b.subarray(8))).toBe(true);
    },
    mustRefusePrefix: () => true,
  },
  {
    name: "idxDataset (the image file)",
    valid: idxImagesFile,
    read: (b) => data.idxDataset(b, idxLabelsFile, { flatten: false }),
    expectOriginal: (r: data.TensorDataset) => {
      expect(r.x.shape).toEqual([IDX_COUNT, 1, IDX_ROWS, IDX_COLS]);
      expect(Array.from(r.x.data as Float32Array)).toEqual(idxPixels.map((p) => Math.fround(p * (1 / 255))));
      expect(Array.from(r.y.data as Int32Array)).toEqual(idxLabelValues);
    },
    expectConsistent: (b, r: data.TensorDataset) => {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      expect(r.x.shape).toEqual([IDX_COUNT, 1, v.getUint32(8), v.getUint32(12)]);
      expect(Array.from(r.x.data as Float32Array)).toEqual(Array.from(b.subarray(16), (p) => Math.fround(p * (1 / 255))));
    },
    mustRefusePrefix: () => true,
  },
  {
    name: "parseCifar10Batch",
    valid: cifarFile,
    read: (b) => data.parseCifar10Batch(b, "data_batch_1.bin"),
    expectOriginal: (r: data.Cifar10Batch) => {
      expect(r.count).toBe(cifarRecords);
      expect(Array.from(r.labels)).toEqual([3, 8]);
      expect(sameBytes(r.pixels, Uint8Array.from([...cifarFile.subarray(1, 3073), ...cifarFile.subarray(3074)]))).toBe(true);
    },
    expectConsistent: (b, r: data.Cifar10Batch) => {
      expect(b.length % 3073).toBe(0);
      expect(r.count).toBe(b.length / 3073);
      for (let k = 0; k < r.count; k++) {
        expect(r.labels[k]).toBe(b[k * 3073]);
        expect(r.labels[k]!).toBeLessThan(10);
        expect(sameBytes(r.pixels.subarray(k * 3072, (k + 1) * 3072), b.subarray(k * 3073 + 1, (k + 1) * 3073))).toBe(true);
      }
    },
    // A whole number of records is a valid (smaller) batch: the format has no header to tell.
    mustRefusePrefix: (cut) => cut % 3073 !== 0,
  },
  {
    name: "parseCifar10Meta",
    valid: cifarMetaFile,
    read: (b) => data.parseCifar10Meta(dec.decode(b), "batches.meta.txt"),
    expectOriginal: (r: string[]) => expect(r).toEqual(cifarNames),
    expectConsistent: (b, r: string[]) => expect(r).toEqual(dec.decode(b).split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0)),
    // Cutting the trailing blank lines, or inside the last name, leaves ten names.
    mustRefusePrefix: (cut) => cut < cifarMetaFile.length - 2 - cifarNames[9]!.length + 1,
  },
  {
    name: "onnx.loadModel",
    valid: onnxFile,
    read: (b) => onnx.loadModel(b),
    expectOriginal: (r: onnx.OnnxModel) => {
      // ONNX has no num_batches_tracked (inference graphs do not count batches).
      expectSameDict(r.stateDict(), Object.fromEntries(Object.entries(onnxSource.stateDict()).filter(([k]) => !k.endsWith("num_batches_tracked"))));
      const y = noGrad(() => r.forward(onnxInput)).data as Float32Array;
      for (let i = 0; i < y.length; i++) expect(Math.abs(y[i]! - onnxExpected[i]!)).toBeLessThan(1e-5);
    },
    expectConsistent: (_b, r: onnx.OnnxModel) => {
      for (const [, t] of Object.entries(r.stateDict())) expect(t.data.length).toBe(t.size);
      expect(Object.getPrototypeOf(r.stateDict())).toBe(Object.prototype);
      const shape = r.inputs[0]?.shape?.map((d) => d ?? 2) ?? [2, 4];
      const feeds = r.inputs.map((v) => (v.dtype === "float32" || v.dtype === "float64" ? randn(r.inputs.length === 1 ? shape : v.shape?.map((d) => d ?? 2) ?? [2, 4]) : tensor([0], { dtype: "int32" })));
      attempt("OnnxModel.forward", () => noGrad(() => r.forward(...feeds)));
    },
    // A protobuf cut at a field boundary is a valid (smaller) message; loadModel then checks it as a model.
    mustRefusePrefix: () => false,
    stateDictOf: (r: onnx.OnnxModel) => r.stateDict(),
    target: () => onnx.loadModel(onnxFile),
    structural: dictEditArb.map(editOnnx),
  },
  fromBytesReader("models.fromBytes (mlp)", mlpFile, mlpNet, mlpMeta),
  fromBytesReader("models.fromBytes (cnn)", cnnFile, cnnNet, { architecture: cnnArch }),
];

// ------------------------------------------------------------------ generic properties, every reader

const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
const protoDescriptors = Object.getOwnPropertyDescriptors(Object.prototype);
function expectNoPollution(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
  for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(Object.prototype))) expect(d.value ?? d.get, k).toBe(protoDescriptors[k]!.value ?? protoDescriptors[k]!.get);
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
}
afterEach(expectNoPollution);

/** Byte-level mutations of a valid file. */
const flipsArb = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 });
const insertArb = fc.tuple(fc.nat(), fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 24 }), fc.tuple(fc.nat(), fc.integer({ min: 1, max: 64 }))));

function flip(file: Uint8Array, flips: [number, number][]): Uint8Array {
  const b = file.slice();
  for (const [pos, x] of flips) b[pos % b.length]! ^= x;
  return b;
}

function insert(file: Uint8Array, [pos, what]: [number, Uint8Array | [number, number]]): Uint8Array {
  const at = pos % (file.length + 1);
  // Random bytes, or a copy of a piece of the file itself (a duplicated field, a repeated record).
  const extra = what instanceof Uint8Array ? what : file.slice(what[0] % file.length, (what[0] % file.length) + what[1]);
  return Uint8Array.from([...file.subarray(0, at), ...extra, ...file.subarray(at)]);
}

/** The bytes at an odd offset inside a larger buffer (no reader may assume alignment or offset 0). */
function misaligned(file: Uint8Array): Uint8Array {
  const big = new Uint8Array(file.length + 11);
  big.fill(0xee);
  big.set(file, 3);
  return big.subarray(3, 3 + file.length);
}

function check<T>(r: Reader<T>, bytes: Uint8Array, mustRefuse: boolean, unchangedFromValid = false): Outcome<T> {
  const out = attempt(r.name, () => r.read(bytes));
  if (mustRefuse) expect(out.ok, `${r.name} accepted a file it must refuse`).toBe(false);
  if (out.ok) {
    if (unchangedFromValid) r.expectOriginal(out.value);
    else r.expectConsistent(bytes, out.value);
  }
  return out;
}

for (const r of READERS) {
  describe(r.name, () => {
    it("reads its valid file back exactly as written (also from a misaligned view and an ArrayBuffer copy)", () => {
      for (const b of [r.valid, misaligned(r.valid)]) {
        const out = check(r, b, false, true);
        expect(out.ok, out.ok ? "" : out.error.message).toBe(true);
      }
      if (r.name.startsWith("deserialize") || r.name === "bytesToStateDict" || r.name === "checkpointFromBytes" || r.name.startsWith("onnx") || r.name.startsWith("models")) {
        const copy = r.valid.slice().buffer;
        r.expectOriginal((r.read as (b: ArrayBuffer | Uint8Array) => unknown)(copy) as never);
      }
    });

    it("random bytes: a result that agrees with them, or a ChainruleError", () => {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 256 })).map(([k, tail]) => Uint8Array.from([...r.valid.subarray(0, k % (r.valid.length + 1)), ...tail]))), (bytes) => {
          check(r, bytes, false);
        }),
        options(runs()),
      );
    });

    it("every truncation of the valid file is refused (or, where the format allows, a correct smaller file)", () => {
      fc.assert(
        fc.property(fc.nat({ max: r.valid.length - 1 }), (cut) => {
          check(r, r.valid.slice(0, cut), r.mustRefusePrefix(cut));
        }),
        options(runs()),
      );
    });

    it("byte flips: a result that agrees with the bytes, or a ChainruleError", () => {
      fc.assert(
        fc.property(flipsArb, (flips) => {
          check(r, flip(r.valid, flips), false);
        }),
        options(runs()),
      );
    });

    it("insertions: a result that agrees with the bytes, or a ChainruleError", () => {
      fc.assert(
        fc.property(insertArb, (ins) => {
          check(r, insert(r.valid, ins), false);
        }),
        options(runs()),
      );
    });

    if (r.structural) {
      it("structural edits (a tensor dropped, added, renamed, reshaped, resized, retyped): a correct result or a ChainruleError", () => {
        fc.assert(
          fc.property(r.structural!, (bytes) => {
            check(r, bytes, false);
          }),
          options(runs()),
        );
      });
    }

    if (r.stateDictOf && r.target) {
      it("loading what it read into an existing Module: it fits, or the Module is exactly as before", () => {
        const target = r.target!();
        let loaded = 0, refused = 0;
        // Flips past the first 7/8 of the file mostly hit tensor data: files that load, with other values.
        const tail = Math.floor((r.valid.length * 7) / 8);
        const dataFlips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }).map((f) => flip(r.valid, f.map(([p, x]) => [tail + (p % (r.valid.length - tail)), x])));
        fc.assert(
          fc.property(fc.oneof(r.structural ?? dataFlips, r.structural ?? dataFlips, dataFlips, flipsArb.map((f) => flip(r.valid, f)), insertArb.map((i) => insert(r.valid, i)), fc.nat({ max: r.valid.length }).map((c) => r.valid.slice(0, c))), (bytes) => {
            const out = attempt(r.name, () => r.read(bytes));
            if (!out.ok) return;
            if (loadInto(target, r.stateDictOf!(out.value), r.name)) loaded++;
            else refused++;
          }),
          options(runs()),
        );
        expect(loadInto(target, r.stateDictOf!(r.read(r.valid)), r.name)).toBe(true);
        expect(loaded, "no mutated file loaded").toBeGreaterThan(0);
        expect(refused, "no mutated file was refused by loadStateDict").toBeGreaterThan(0);
      });
    }
  });
}

// ------------------------------------------------------------------ safetensors: targeted header mutations

/** An independent minimal writer: 8-byte LE length, the header text as given, then `data`. No checks. */
function craft(header: string, body: Uint8Array | number[] = [], headerLength?: number | bigint): Uint8Array {
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? h.length), true);
  out.set(h, 8);
  out.set(body, 8 + h.length);
  return out;
}

const SAFETENSORS_READERS: [string, (b: Uint8Array) => Record<string, Tensor>][] = [
  ["deserialize", (b) => deserialize(b).tensors],
  ["bytesToStateDict", (b) => bytesToStateDict(b)],
  ["checkpointFromBytes", (b) => checkpointFromBytes(b).model],
  // An index that lists what the file's header names (or one name, where the header is unreadable).
  ["loadShards", (b) => loadShards({ metadata: {}, weightMap: Object.fromEntries(Object.keys(safeHeaderNames(b)).map((k) => [k, "s.safetensors"])) }, () => b)],
];

function safeHeaderNames(b: Uint8Array): Record<string, true> {
  try {
    const h = independentHeader(b).header;
    if (h !== null && typeof h === "object" && Object.keys(h).length > 0) return Object.fromEntries(Object.keys(h).map((k) => [k, true]));
  } catch {
    // unreadable: fall through
  }
  return { "0.weight": true };
}

/** Every safetensors-based reader on `bytes`: all refuse with a FormatError/DTypeError, or all agree with the bytes. */
function everySafetensorsReader(bytes: Uint8Array, expectRefused?: RegExp | true): void {
  for (const [name, read] of SAFETENSORS_READERS) {
    const out = attempt(name, () => read(bytes));
    if (expectRefused !== undefined) {
      expect(out.ok, `${name} accepted a bad file`).toBe(false);
      if (!out.ok && expectRefused !== true) expect(out.error.message).toMatch(expectRefused);
    }
    if (out.ok) {
      const h = independentHeader(bytes);
      expect(Object.keys(out.value).sort()).toEqual(Object.keys(h.header).sort());
      for (const [k, e] of Object.entries(h.header)) expectDecoded(out.value[k], bytes, h.dataStart, e, k);
    } else {
      expect(out.error instanceof FormatError || out.error instanceof DTypeError, `${name}: ${out.error.constructor.name}`).toBe(true);
    }
  }
}

describe("safetensors: targeted header mutations", () => {
  const headerLength = Number(new DataView(modelFile.buffer, modelFile.byteOffset).getBigUint64(0, true));

  it("a header length field other than the true one: beyond the file, above the 100 MB bound, 2^32 + n, 2^64 - 1", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: modelFile.length + 64 }).map(BigInt),
          fc.bigInt({ min: BigInt(MAX_HEADER_BYTES) + 1n, max: (1n << 64n) - 1n }),
          fc.integer({ min: 0, max: 1000 }).map((n) => (1n << 32n) + BigInt(headerLength + n)),
          fc.constantFrom((1n << 64n) - 1n, BigInt(MAX_HEADER_BYTES), BigInt(MAX_HEADER_BYTES) + 1n, 1n << 63n),
        ).filter((n) => n !== BigInt(headerLength)),
        (n) => {
          const b = modelFile.slice();
          new DataView(b.buffer).setBigUint64(0, n, true);
          everySafetensorsReader(b, true);
        },
      ),
      options(runs(2 * RUNS_PER_PROPERTY)),
    );
    const b = modelFile.slice();
    new DataView(b.buffer).setBigUint64(0, BigInt(modelFile.length), true);
    everySafetensorsReader(b, /header length field says \d+ bytes but only \d+ follow it/);
    new DataView(b.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES) + 1n, true);
    everySafetensorsReader(b, /over the 100000000-byte limit/);
  });

  it("a header just over the documented 100 MB bound is refused at once, without being read; one at the bound is read", () => {
    const over = new Uint8Array(8 + MAX_HEADER_BYTES + 8).fill(0x20);
    new DataView(over.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 8), true);
    over.set(enc.encode("{}"), 8);
    const r = attempt("deserialize", () => deserialize(over));
    expect(!r.ok && r.error instanceof FormatError && /over the 100000000-byte limit/.test(r.error.message)).toBe(true);
    expect(r.ms).toBeLessThan(100);
    const at = over.subarray(0, 8 + MAX_HEADER_BYTES);
    new DataView(at.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES), true);
    const ok = attempt("deserialize", () => deserialize(at));
    expect(ok.ok && Object.keys(ok.value.tensors).length === 0).toBe(true);
  });

  /** Generated headers, checked against an oracle that says whether the file is valid. */
  const NAMES = ["a", "b", "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "", "x.y", "\u00e9"];
  const DTYPES = [...Object.keys(ITEM), "F8_E4M3", "C64", "f32", "F 32", "", "__proto__", "toString", "I128"];
  const entryArb = fc.record({
    name: fc.constantFrom(...NAMES),
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.oneof({ weight: 6, arbitrary: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(fc.constantFrom<unknown>(-1, 1.5, "2", null, 2 ** 53, 1e300, 0), { minLength: 1, maxLength: 3 }) }),
    offsets: fc.oneof({ weight: 6, arbitrary: fc.constant("tile" as const) }, { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 80 })) }, { weight: 1, arbitrary: fc.constantFrom<unknown>([0], [0, 1, 2], "0,4", null, [-1, 3], [0, 2 ** 60], [1.5, 4], { 0: 0, 1: 4 }) }),
    extra: fc.boolean(),
  });
  const headerArb = fc.record({
    entries: fc.array(entryArb, { maxLength: 5 }),
    slack: fc.integer({ min: -3, max: 3 }),
    metadata: fc.oneof(fc.constant(undefined), fc.dictionary(fc.constantFrom("__proto__", "constructor", "format", "k"), fc.oneof({ weight: 5, arbitrary: fc.string({ maxLength: 4 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(1, null, ["x"], { a: "b" }) }), { maxKeys: 3 }), fc.constantFrom<unknown>(null, "pt", [], 7)),
    fill: fc.integer({ min: 0, max: 255 }),
  });

  it("generated headers (overlapping and out-of-file offsets, unknown dtypes, bad shapes, prototype names): refused exactly when invalid", () => {
    let accepted = 0, refused = 0;
    fc.assert(
      fc.property(headerArb, ({ entries, slack, metadata, fill }) => {
        const names = new Set<string>();
        const unique = entries.filter((e) => !names.has(e.name) && names.add(e.name));
        // Offsets: "tile" lays the entry after the previous tiled one with its true size.
        let at = 0;
        let valid = true;
        let unsupported = false;
        const ranges: [number, number][] = [];
        const parts: string[] = [];
        for (const e of unique) {
          const known = Object.hasOwn(ITEM, e.dtype);
          if (!known) {
            valid = false;
            if (e.dtype === "F8_E4M3" || e.dtype === "C64") unsupported = true;
          }
          const shapeOk = Array.isArray(e.shape) && e.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
          if (!shapeOk) valid = false;
          const numel = shapeOk ? (e.shape as number[]).reduce((p, d) => p * d, 1) : 0;
          const size = numel * (ITEM[e.dtype] ?? 1);
          let offsets: unknown = e.offsets;
          if (e.offsets === "tile") {
            offsets = [at, at + size];
            at += size;
          }
          if (Array.isArray(offsets) && offsets.length === 2 && offsets.every((x) => Number.isSafeInteger(x) && x >= 0)) {
            const [b, end] = offsets as [number, number];
            if (end - b !== size || b > end) valid = false;
            ranges.push([b, end]);
          } else valid = false;
          parts.push(`${JSON.stringify(e.name)}:${JSON.stringify({ dtype: e.dtype, shape: e.shape, data_offsets: offsets, ...(e.extra ? { comment: { nested: [1, "x"] } } : {}) })}`);
        }
        if (metadata !== undefined) {
          parts.unshift(`"__metadata__":${JSON.stringify(metadata)}`);
          const m = metadata;
          if (m !== null && (typeof m !== "object" || Array.isArray(m) || Object.values(m).some((v) => typeof v !== "string"))) valid = false;
        }
        const dataLength = Math.max(0, at + slack);
        ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        let expected = 0;
        for (const [b, end] of ranges) {
          if (b !== expected) valid = false;
          expected = end;
        }
        if (expected !== dataLength) valid = false;
        const bytes = craft(`{${parts.join(",")}}`, new Uint8Array(dataLength).fill(fill));
        for (const [name, read] of SAFETENSORS_READERS.slice(0, 3)) {
          const out = attempt(name, () => read(bytes));
          if (out.ok) {
            accepted++;
            expect(valid, `${name} accepted an invalid file: ${dec.decode(bytes.subarray(8, 8 + 300))}`).toBe(true);
            expectSafetensors(bytes, out.value);
          } else {
            refused++;
            // A valid header can still hold a value out of int32 range (U32/I64/U64): a DTypeError naming it.
            if (valid) expect(out.error, out.error.message).toBeInstanceOf(DTypeError);
            else if (unsupported && out.error instanceof DTypeError) expect(out.error.message).toMatch(/cannot represent/);
            else expect(out.error instanceof FormatError || out.error instanceof DTypeError, out.error.message).toBe(true);
          }
          expectNoPollution();
        }
      }),
      options(runs(4 * RUNS_PER_PROPERTY)),
    );
    expect(accepted).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(10);
  });

  it("a header that is not a JSON object: a FormatError that says what it found", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }).filter((v) => v === null || typeof v !== "object" || Array.isArray(v)), (v) => {
        everySafetensorsReader(craft(JSON.stringify(v)), /the header must be a JSON object, found/);
      }),
      options(runs()),
    );
    for (const text of ["", " ", "{", "}", '{"a":1', "{}x", "nul", "\u0000{}", '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},}', "{'a':1}", "{\"a\":NaN}", "[1e999]", "\ufeff{}"]) {
      everySafetensorsReader(craft(text, [0, 0, 0, 0]), true);
    }
    // Invalid UTF-8 in the header.
    everySafetensorsReader(Uint8Array.from([4, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/);
  });

  it("tensor and metadata names __proto__, constructor, prototype: own entries, no prototype pollution", () => {
    const four = [0, 0, 128, 63];
    for (const name of ["__proto__", "constructor", "prototype", "__defineGetter__", "hasOwnProperty"]) {
      const bytes = craft(`{"__metadata__":{"__proto__":"{\\"polluted\\":1}","constructor":"x"},${JSON.stringify(name)}:{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four);
      const { tensors, metadata } = deserialize(bytes);
      expect(Object.keys(tensors)).toEqual([name]);
      expect(Object.hasOwn(tensors, name) && tensors[name] instanceof Tensor).toBe(true);
      expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
      expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
      expect(Object.keys(metadata).sort()).toEqual(["__proto__", "constructor"]);
      const dict = bytesToStateDict(bytes);
      expect(Object.hasOwn(dict, name)).toBe(true);
      const ck = checkpointFromBytes(bytes);
      expect(Object.keys(ck.model)).toEqual([name]);
      expectNoPollution();
    }
    // Checkpoint skeletons with __proto__ keys stay plain data.
    const ck = checkpointToBytes({ model: {}, meta: JSON.parse('{"__proto__":{"polluted":1},"a":{"__proto__":[1]}}') });
    const back = checkpointFromBytes(ck);
    expect(Object.hasOwn(back.meta as object, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(back.meta)).toBe(Object.prototype);
    expectNoPollution();
    // A model file whose architecture JSON carries __proto__.
    const m = mlpFile.slice();
    const poisoned = craftWithMetadata(m, (meta) => ({ ...meta, "chainrule.architecture": `{"__proto__":{"polluted":1},${meta["chainrule.architecture"]!.slice(1)}` }));
    const r = attempt("models.fromBytes", () => models.fromBytes(poisoned));
    if (r.ok) expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A shard index mapping __proto__.
    const idx = parseShardIndex('{"weight_map":{"__proto__":"a.safetensors","constructor":"a.safetensors"},"metadata":{"__proto__":{"polluted":1}}}');
    expect(Object.keys(idx.weightMap).sort()).toEqual(["__proto__", "constructor"]);
    const shard = craft('{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [...four, ...four]);
    const loaded = loadShards(idx, () => shard);
    expect(Object.keys(loaded).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.getPrototypeOf(loaded)).toBe(Object.prototype);
  });

  it("10^6 entries: refused fast when any is bad or they overlap; 10^6 valid (empty) tensors read in time", () => {
    const N = 1_000_000;
    const entries = (f: (i: number) => string): string => {
      const parts = new Array<string>(N);
      for (let i = 0; i < N; i++) parts[i] = f(i);
      return `{${parts.join(",")}}`;
    };
    // Every entry overlapping the first.
    const overlap = craft(entries((i) => `"t${i}":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}`), [1]);
    const r1 = attempt("deserialize (10^6 entries, overlapping)", () => deserialize(overlap));
    expect(!r1.ok && r1.error instanceof FormatError).toBe(true);
    // Entries that are not objects.
    const notObjects = craft(entries((i) => `"t${i}":${i}`));
    const r2 = attempt("deserialize (10^6 entries, not objects)", () => deserialize(notObjects));
    expect(!r2.ok && /its header entry must be an object/.test(r2.error.message)).toBe(true);
    // The last entry alone is bad: the whole 67 MB header must be read first. That is linear work
    // that a loaded 2-core machine can take seconds over, so its bound is relative: within 3× of
    // JSON.parse on the same text (and 2 s whatever the machine).
    const lastBadText = entries((i) => `"t${i}":{"dtype":"${i === N - 1 ? "Q8" : "U8"}","shape":[1],"data_offsets":[${i},${i + 1}]}`);
    const lastBad = craft(lastBadText, new Uint8Array(N));
    const tj = performance.now();
    JSON.parse(lastBadText);
    const jsonMs = performance.now() - tj;
    const t3 = performance.now();
    const r3 = (() => {
      try {
        deserialize(lastBad);
        return "accepted";
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        return e.message;
      }
    })();
    const ms3 = performance.now() - t3;
    expect(r3).toMatch(/tensor 't999999': unknown dtype "Q8"/);
    expect(ms3, `deserialize took ${ms3.toFixed(0)} ms, JSON.parse ${jsonMs.toFixed(0)} ms`).toBeLessThan(Math.max(TIME_LIMIT_MS, 3 * jsonMs));
    slowest.set("deserialize (10^6 entries, the last bad)", ms3);
    slowest.set("baseline: JSON.parse of that header", jsonMs);
    // 10^6 valid (empty) tensors: a valid file, read in full. Making 10^6 Tensor objects is itself
    // seconds of work on a slow machine, so the bound here is relative: at most 3× what
    // JSON.parse of the header plus creating the 10^6 tensors costs on this machine (and 2 s
    // whatever the machine): linear work, no hang and no quadratic step.
    const header = entries((i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const empty = craft(header);
    const t0 = performance.now();
    const baseline: Record<string, Tensor> = {};
    for (const name of Object.keys(JSON.parse(header) as object)) baseline[name] = Tensor.fromStorage(new Float32Array(0), [0], "float32");
    const baselineMs = performance.now() - t0;
    const t1 = performance.now();
    let r4: ReturnType<typeof deserialize> | undefined;
    try {
      r4 = deserialize(empty);
    } catch (e) {
      expect.fail(`a valid file with 10^6 empty tensors was refused: ${(e as Error).message}`);
    }
    const ms = performance.now() - t1;
    expect(Object.keys(r4!.tensors).length).toBe(N);
    expect(r4!.tensors.t999999!.shape).toEqual([0]);
    expect(ms, `deserialize took ${ms.toFixed(0)} ms, the baseline ${baselineMs.toFixed(0)} ms`).toBeLessThan(Math.max(TIME_LIMIT_MS, 3 * baselineMs));
    slowest.set("deserialize (10^6 tensors)", ms);
    slowest.set("baseline: JSON.parse + 10^6 Tensors", baselineMs);
  });

  it("trailing bytes after the data, or junk after the JSON inside the header: refused", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (tail) => {
        everySafetensorsReader(Uint8Array.from([...modelFile, ...tail]), /the tensors cover \d+ bytes of data but the file has \d+ after the header/);
      }),
      options(runs()),
    );
    const text = dec.decode(modelFile.subarray(8, 8 + headerLength)).trimEnd();
    for (const junk of ["x", "}", ",", "\u0000", "{}"]) everySafetensorsReader(craft(text + junk, modelFile.subarray(8 + headerLength)), /not valid JSON/);
  });

  it("shapes whose element count overflows: a FormatError naming the tensor, not a crash", () => {
    for (const shape of [[2 ** 53 - 1, 2 ** 53 - 1, 0], Array.from({ length: 100 }, () => 100000).concat([0]), [2 ** 31, 2 ** 31], [0, 2 ** 53 - 1, 2 ** 53 - 1]]) {
      const bytes = craft(JSON.stringify({ big: { dtype: "F32", shape, data_offsets: [0, 0] } }));
      for (const [name, read] of SAFETENSORS_READERS.slice(0, 3)) {
        const r = attempt(name, () => read(bytes));
        expect(r.ok, `${name} accepted shape ${shape.length > 5 ? `${shape.length} dims` : JSON.stringify(shape)}`).toBe(false);
        if (!r.ok) expect(r.error).toBeInstanceOf(FormatError);
      }
    }
  });
});

/** Rewrites a safetensors file's metadata (tensors and data unchanged). */
function craftWithMetadata(file: Uint8Array, change: (meta: Record<string, string>) => Record<string, string>): Uint8Array {
  const h = independentHeader(file);
  const header: Record<string, unknown> = { __metadata__: change(h.metadata) };
  for (const [k, v] of Object.entries(h.header)) header[k] = v;
  return craft(JSON.stringify(header), file.subarray(h.dataStart));
}

// ------------------------------------------------------------------ checkpoints and model files: targeted

describe("checkpoints and model files: targeted mutations", () => {
  it("a checkpoint from another architecture, loaded into an existing Module: a ShapeError, the Module exactly as before", () => {
    const others: [nn.Module, number][] = [
      [net(20, 6), 4],
      [new nn.Sequential(new nn.Linear(4, 5), new nn.ReLU(), new nn.Linear(5, 3)), 4],
      [new nn.Sequential(new nn.Linear(4, 5), new nn.BatchNorm1d(5), new nn.ReLU(), new nn.Linear(5, 3), new nn.Linear(3, 2)), 4],
      [models.buildModel(cnnArch), 36],
      [models.buildModel(mlpArch), 6],
    ];
    for (const [other, inputs] of others) {
      const ck = checkpointFromBytes(checkpointToBytes(checkpointOf(other, inputs)));
      for (const strict of [true, false]) {
        const target = net(21);
        const before = snapshot(target);
        const r = attempt("loadStateDict", () => target.loadStateDict(ck.model, { strict }));
        if (!r.ok) {
          expect(r.error).toBeInstanceOf(ShapeError);
          expect(r.error.message).toMatch(/does not fit Sequential/);
          expectUnchanged(target, before);
        } else {
          // strict: false with no overlapping names: nothing loaded is nothing changed.
          expect(strict).toBe(false);
          for (const [k, t] of Object.entries(target.stateDict())) if (!(k in ck.model)) expect(sameBytes(t.data, before.get(k)!)).toBe(true);
        }
      }
      // And the other way round: this checkpoint into the other architecture.
      const before = snapshot(other);
      const r = attempt("loadStateDict", () => other.loadStateDict(checkpointFromBytes(checkpointFile).model));
      expect(r.ok).toBe(false);
      expectUnchanged(other, before);
    }
  });

  it("damaged checkpoint metadata (the optimizer/meta skeleton): a FormatError, or a result that agrees with the file", () => {
    const h = independentHeader(checkpointFile);
    const skeleton = h.metadata["chainrule.optimizer"]!;
    fc.assert(
      fc.property(fc.oneof(
        fc.tuple(fc.nat(), fc.constantFrom(...'{}[],:"$0123456789-.e\\'.split(""))).map(([p, c]) => { const at = p % skeleton.length; return skeleton.slice(0, at) + c + skeleton.slice(at + 1); }),
        fc.constantFrom('{"$chainrule":"tensor","name":"nope"}', '{"$chainrule":"tensor"}', '{"$chainrule":"typedarray","type":"Float32Array","name":"meta/rng"}', '{"$chainrule":"typedarray","type":"constructor","name":"meta/rng"}', '{"$chainrule":"typedarray","type":"__proto__","name":"meta/rng"}', '{"$chainrule":"number","value":"1"}', '{"$chainrule":"bogus"}', '[{"$chainrule":"tensor","name":"0.weight"},{"$chainrule":"tensor","name":"0.weight"}]', "[".repeat(2000) + "]".repeat(2000), "null", "1e999", '{"__proto__":{"polluted":1}}'),
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      ), fc.constantFrom("chainrule.optimizer", "chainrule.meta", "chainrule.checkpoint"), (text, key) => {
        const bytes = craftWithMetadata(checkpointFile, (m) => ({ ...m, [key]: text }));
        const out = attempt("checkpointFromBytes", () => checkpointFromBytes(bytes));
        if (out.ok) expectCheckpoint(bytes, out.value);
        else expect(out.error, out.error.message).toBeInstanceOf(FormatError);
      }),
      options(runs(2 * RUNS_PER_PROPERTY)),
    );
  });

  it("models.fromBytes with a damaged architecture (sizes, layers, input, activation, loss): a ChainruleError naming the file, in time", () => {
    const field = fc.constantFrom("model", "sizes", "activation", "loss", "layers", "input");
    const junk = fc.oneof(
      fc.constantFrom<unknown>(null, -1, 0, 1.5, 1e9, 2 ** 31, "mlp", "cnn", "relu", "svm", "conv2-pool-fc4", "conv99999-fc99999", "__proto__", [], [6], [6, 3], [6, 5, 3], [6, 1e6, 3], [1e5, 1e5], [-6, 3], ["6", "3"], [6.5, 3], [1, 6, 6], [1, 1e5, 1e5], [0, 6, 6], { length: 2 }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(fc.constantFrom(["mlp", mlpFile, mlpArch] as const, ["cnn", cnnFile, cnnArch] as const), fc.array(fc.tuple(field, junk), { minLength: 1, maxLength: 3 }), ([, file, arch], edits) => {
        const changed: Record<string, unknown> = { ...arch };
        for (const [k, v] of edits) changed[k] = v;
        const bytes = craftWithMetadata(file, (m) => ({ ...m, "chainrule.architecture": JSON.stringify(changed) }));
        const out = attempt("models.fromBytes", () => models.fromBytes(bytes, { source: "fuzz.safetensors" }));
        if (out.ok) {
          expectMetadataOf(bytes, out.value.meta);
          expectSameDict(out.value.model.stateDict(), (file === mlpFile ? mlpNet : cnnNet).stateDict());
        } else expect(out.error.message).toMatch(/fuzz\.safetensors|loadStateDict|architecture/);
      }),
      options(runs(3 * RUNS_PER_PROPERTY)),
    );
  });

  it("models.stateSize (the pre-build size check) is exactly the built network's state size", () => {
    const specs = ["conv2-pool-fc4", "conv3x5s2-bn-avgpool-conv2-gap-bn-fc3-bn-dropout0.5", "conv4-bn-pool3-dropout0.2-fc5-fc2", "conv1s3-gap", models.CNN_SPEC];
    for (const layers of specs) {
      const arch: models.Architecture = { model: "cnn", sizes: [2 * 12 * 12, 4], activation: "elu", loss: "softmax", layers, input: [2, 12, 12] };
      expect(models.stateSize(arch), layers).toBe(Object.values(models.buildModel(arch).stateDict()).reduce((n, t) => n + t.size, 0));
    }
    for (const sizes of [[3, 2], [6, 5, 3], [4, 9, 9, 2]]) {
      const arch: models.Architecture = { model: "mlp", sizes, activation: "relu", loss: "svm" };
      expect(models.stateSize(arch)).toBe(Object.values(models.buildModel(arch).stateDict()).reduce((n, t) => n + t.size, 0));
    }
    // A damaged size is refused before anything is built, naming both counts.
    const huge = craftWithMetadata(mlpFile, (m) => ({ ...m, "chainrule.architecture": JSON.stringify({ ...mlpArch, sizes: [6, 100000000, 3] }) }));
    const r = attempt("models.fromBytes", () => models.fromBytes(huge, { source: "big.safetensors" }));
    expect(!r.ok && /big.safetensors: the architecture 6 → 100000000 tanh → 3 has 1000000003 weights and buffers but the file holds 53 values/.test(r.error.message), r.ok ? "" : r.error.message).toBe(true);
  });

  it("models.fromBytes with damaged classes, normalization and dataset metadata: refused or returned as stored, never silently wrong", () => {
    const junk = fc.oneof(fc.constantFrom<unknown>(null, 1, "x", [], ["a"], ["a", "b", "c"], [1, 2, 3], { mean: [0], std: [1] }, { mean: [0, 1, 2, 3, 4, 5], std: [1, 1, 1, 1, 1, 0] }, { mean: "x" }, { name: 1 }), fc.jsonValue({ maxDepth: 2 }));
    fc.assert(
      fc.property(fc.constantFrom("chainrule.classes", "chainrule.normalization", "chainrule.dataset"), fc.oneof(junk.map((v) => JSON.stringify(v)), fc.constantFrom("{", "")), (key, text) => {
        const bytes = craftWithMetadata(mlpFile, (m) => ({ ...m, [key]: text }));
        const out = attempt("models.fromBytes", () => models.fromBytes(bytes, { source: "fuzz.safetensors" }));
        if (out.ok) {
          expectMetadataOf(bytes, out.value.meta);
          const { classes, normalization, dataset } = out.value.meta;
          if (classes !== undefined) expect(Array.isArray(classes) && classes.length === 3 && classes.every((c) => typeof c === "string")).toBe(true);
          if (normalization !== undefined) {
            for (const v of [normalization.mean, normalization.std]) expect(Array.isArray(v) && v.length === 6 && v.every((x) => typeof x === "number" && Number.isFinite(x))).toBe(true);
            expect(normalization.std.every((s) => s > 0)).toBe(true);
          }
          if (dataset !== undefined) expect(typeof dataset.name === "string" && typeof dataset.options === "object" && dataset.options !== null).toBe(true);
        } else expect(out.error.message).toMatch(/fuzz\.safetensors/);
      }),
      options(runs(2 * RUNS_PER_PROPERTY)),
    );
  });
});

// ------------------------------------------------------------------ IDX and CIFAR: targeted

describe("IDX and CIFAR files: targeted mutations", () => {
  it("IDX files with a wrong magic number: a DataError naming the file, the magic found and the one expected", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.boolean(), (magic, images) => {
        const want = images ? 2051 : 2049;
        fc.pre(magic !== want);
        const b = (images ? idxImagesFile : idxLabelsFile).slice();
        new DataView(b.buffer).setUint32(0, magic);
        const name = images ? "t10k-images-idx3-ubyte" : "t10k-labels-idx1-ubyte";
        const out = attempt(name, () => (images ? data.parseIdxImages(b, name) : data.parseIdxLabels(b, name)));
        expect(!out.ok && out.error instanceof DataError).toBe(true);
        if (!out.ok) expect(out.error.message).toContain(`${name}: not an IDX ${images ? "image" : "label"} file: magic number ${magic}`);
      }),
      options(runs()),
    );
  });

  it("IDX counts and sizes that disagree with the file's length: refused exactly when they disagree", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.nat({ max: 8 }), fc.nat({ max: 0xffffffff })),
        fc.oneof(fc.integer({ min: 0, max: 8 }), fc.nat({ max: 0xffffffff })),
        fc.oneof(fc.integer({ min: 0, max: 8 }), fc.nat({ max: 0xffffffff })),
        fc.nat({ max: 200 }),
        (count, rows, cols, pixels) => {
          const b = Uint8Array.from([...be32(2051), ...be32(count), ...be32(rows), ...be32(cols), ...new Uint8Array(pixels).fill(9)]);
          const valid = rows >= 1 && cols >= 1 && rows <= 65536 && cols <= 65536 && count * rows * cols === pixels;
          const out = attempt("parseIdxImages", () => data.parseIdxImages(b, "imgs"));
          expect(out.ok, `count ${count}, ${rows}×${cols}, ${pixels} pixel bytes`).toBe(valid);
          if (!out.ok) expect(out.error.message).toMatch(/^imgs: /);
          const labels = Uint8Array.from([...be32(2049), ...be32(count), ...new Uint8Array(pixels)]);
          const l = attempt("parseIdxLabels", () => data.parseIdxLabels(labels, "lbls"));
          expect(l.ok).toBe(count === pixels);
          if (!l.ok) expect(l.error.message).toMatch(/^lbls: the header promises \d+ labels/);
          // A dataset needs equal counts in both files.
          if (out.ok && l.ok) attempt("idxDataset", () => data.idxDataset(b, labels));
        },
      ),
      options(runs(3 * RUNS_PER_PROPERTY)),
    );
  });

  it("IDX images whose header promises 0 images of the largest size, and labels/images counts that differ", () => {
    const b = Uint8Array.from([...be32(2051), ...be32(0), ...be32(65536), ...be32(65536)]);
    const r = attempt("idxDataset", () => data.idxDataset(b, Uint8Array.from([...be32(2049), ...be32(0)])));
    if (r.ok) expect(r.value.length).toBe(0);
    const diff = attempt("idxDataset", () => data.idxDataset(idxImagesFile, Uint8Array.from([...be32(2049), ...be32(2), 1, 2]), { imagesName: "imgs", labelsName: "lbls" }));
    expect(!diff.ok && /imgs holds 3 images but lbls holds 2 labels/.test(diff.error.message)).toBe(true);
  });

  it("CIFAR files whose size is not a multiple of 3073, or with a label over 9: a DataError with the numbers", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 * 3073 + 5 }), fc.integer({ min: 0, max: 255 }), fc.nat(), (n, label, at) => {
        const b = new Uint8Array(n).fill(1);
        const records = Math.floor(n / 3073);
        if (records > 0) b[(at % records) * 3073] = label;
        const out = attempt("parseCifar10Batch", () => data.parseCifar10Batch(b, "data_batch_9.bin"));
        const valid = n > 0 && n % 3073 === 0 && label <= 9;
        expect(out.ok, `${n} bytes, label ${label}`).toBe(valid);
        if (!out.ok && n % 3073 !== 0) expect(out.error.message).toContain(`data_batch_9.bin: ${n} bytes is not a whole number of CIFAR-10 records of 3073 bytes`);
        if (!out.ok && n % 3073 === 0 && n > 0) expect(out.error.message).toMatch(new RegExp(`record ${at % records} \\(byte offset ${(at % records) * 3073}\\) has label ${label}`));
      }),
      options(runs()),
    );
  });

  it("batches.meta.txt with a repeated class name, a byte-order mark, or not UTF-8", () => {
    const twice = attempt("parseCifar10Meta", () => data.parseCifar10Meta([...cifarNames.slice(0, 9), "cat"].join("\n"), "meta.txt"));
    expect(!twice.ok && /meta.txt: the class name "cat" appears twice/.test(twice.error.message)).toBe(true);
    expect(data.parseCifar10Meta(`\ufeff${cifarNames.join("\r\n")}`)).toEqual(cifarNames);
    expect(data.parseCifar10Meta(Uint8Array.from([0xef, 0xbb, 0xbf, ...cifarMetaFile]))).toEqual(cifarNames);
    const bad = attempt("parseCifar10Meta", () => data.parseCifar10Meta(Uint8Array.from([0xff, 0xfe, 0x41]), "meta.txt"));
    expect(!bad.ok && /meta.txt: not valid UTF-8/.test(bad.error.message)).toBe(true);
  });

  it("readers given something that is not bytes (an ArrayBuffer, a string, null): read or a DataError, never a TypeError", () => {
    for (const input of [idxImagesFile.slice().buffer, "2051", null, undefined, 7, [0, 0, 8, 3], new Uint16Array(8)] as unknown[]) {
      attempt("parseIdxImages", () => data.parseIdxImages(input as never));
      attempt("parseIdxLabels", () => data.parseIdxLabels(input as never));
      attempt("parseCifar10Batch", () => data.parseCifar10Batch(input as never));
      attempt("parseCifar10Meta", () => data.parseCifar10Meta(input as never));
      attempt("deserialize", () => deserialize(input as never));
      attempt("checkpointFromBytes", () => checkpointFromBytes(input as never));
      attempt("onnx.loadModel", () => onnx.loadModel(input as never));
      attempt("models.fromBytes", () => models.fromBytes(input as never));
      attempt("parseShardIndex", () => parseShardIndex(input));
    }
    const r = attempt("parseIdxImages", () => data.parseIdxImages(idxImagesFile.slice().buffer as unknown as Uint8Array));
    if (r.ok) expect(Array.from(r.value.pixels)).toEqual(idxPixels);
  });
});

// ------------------------------------------------------------------ ONNX: targeted

describe("onnx.loadModel: targeted mutations", () => {
  function edit(change: (m: any) => void): Uint8Array {
    const m = pb.ModelProto.decode(onnxFile);
    change(m);
    return new Uint8Array(pb.ModelProto.encode(m).finish());
  }

  it("operator names that are Object.prototype members (toString, constructor, __proto__...): an OnnxImportError, not a TypeError later", () => {
    for (const opType of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf"]) {
      const bytes = edit((m) => (m.graph.node.find((n: { opType: string }) => n.opType === "Relu").opType = opType));
      const r = attempt("onnx.loadModel", () => onnx.loadModel(bytes));
      expect(!r.ok && r.error instanceof onnx.OnnxImportError).toBe(true);
      if (!r.ok) expect(r.error.message).toContain(`operator '${opType}' is not supported`);
    }
  });

  it("initializer and value names __proto__ / constructor: the state dict keeps them as own entries", () => {
    const bytes = edit((m) => {
      const names: Record<string, string> = { "0.weight": "__proto__", "0.bias": "constructor" };
      for (const t of m.graph.initializer) if (names[t.name]) t.name = names[t.name];
      for (const n of m.graph.node) n.input = n.input.map((x: string) => names[x] ?? x);
    });
    const r = attempt("onnx.loadModel", () => onnx.loadModel(bytes));
    if (r.ok) {
      const dict = r.value.stateDict();
      expect(Object.getPrototypeOf(dict)).toBe(Object.prototype);
      expect(Object.hasOwn(dict, "__proto__") && Object.hasOwn(dict, "constructor")).toBe(true);
      const y = noGrad(() => r.value.forward(onnxInput)).data as Float32Array;
      for (let i = 0; i < y.length; i++) expect(Math.abs(y[i]! - onnxExpected[i]!)).toBeLessThan(1e-5);
    }
  });

  it("protobuf-level damage: huge dims, bad data types, negative lengths, deep nesting", () => {
    const cases = [
      edit((m) => (m.graph.initializer[0].dims = [2 ** 31, 2 ** 31])),
      edit((m) => (m.graph.initializer[0].dims = [-3])),
      edit((m) => (m.graph.initializer[0].dataType = 999)),
      edit((m) => (m.graph.initializer[0].dataType = 8)),
      edit((m) => (m.opsetImport[0].version = 2 ** 40)),
      edit((m) => (m.graph.input[0].type.tensorType.shape.dim[1].dimValue = -1)),
      edit((m) => (m.graph.input[0].type.tensorType.elemType = 77)),
      Uint8Array.from([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // graph: a length of 4 GiB
      Uint8Array.from(Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? 0x3a : 0x7f))), // nested lengths
    ];
    for (const bytes of cases) {
      const r = attempt("onnx.loadModel", () => onnx.loadModel(bytes));
      expect(r.ok).toBe(false);
    }
  });
});

afterAll(() => {
  const rows = [...slowest].map(([k, ms]) => `  ${k}: ${callCount.has(k) ? `${callCount.get(k)} calls, slowest ` : ""}${ms.toFixed(1)} ms`);
  // eslint-disable-next-line no-console
  console.log(`fuzz-readers: ${RUNS_PER_PROPERTY * MULTIPLIER} runs per generic property (CHAINRULE_FUZZ_RUNS=${MULTIPLIER}), seed ${BASE_SEED}\n${rows.join("\n")}`);
});
