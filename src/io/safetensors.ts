/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and written with no
 * Node.js module, so it works in browsers too:
 *
 *   8 bytes        N, the header length, a little-endian u64
 *   N bytes        UTF-8 JSON: { "name": { "dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24] },
 *                                "__metadata__": { "key": "value" } }, space-padded to a multiple of 8
 *   the rest       the data buffer: each tensor's little-endian, row-major bytes at
 *                  [data_offsets[0], data_offsets[1]) relative to the buffer's start
 *
 * The reader trusts nothing in the file: every inconsistency is a FormatError before any tensor is
 * built, so a damaged file never yields a partial or silently wrong result.
 */
import { DTypeError, ValueError, fmtShape } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import type { DType, Storage } from "../tensor/dtype.js";
import { JsonReader, JsonSyntaxError, type JsonValue } from "./json.js";

/** A file (or byte buffer) that is not valid safetensors: truncated, corrupt or malformed. */
export class FormatError extends ValueError {}

/** The reference implementation refuses headers above 100 MB; so does chainrule. */
export const MAX_HEADER_BYTES = 100_000_000;

/** The safetensors dtypes chainrule reads (the first four it also writes). */
export type SafetensorsDType = "F64" | "F32" | "I32" | "BOOL" | "F16" | "BF16" | "I64" | "U64" | "U32" | "I16" | "U16" | "I8" | "U8";

const ITEM_SIZE: Record<SafetensorsDType, number> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
/** The reference writer's order: by dtype, largest alignment first (its enum order, reversed). */
const WRITE_RANK: Record<SafetensorsDType, number> = {
  BOOL: 0, U8: 1, I8: 2, I16: 5, U16: 6, F16: 7, BF16: 8, I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
};
/** safetensors dtypes that exist but have no chainrule counterpart to convert to. */
const UNSUPPORTED = new Set(["F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64", "E8M0"]);

const TO_SAFETENSORS: Record<DType, SafetensorsDType> = { float32: "F32", float64: "F64", int32: "I32", bool: "BOOL" };
const FROM_SAFETENSORS: Record<SafetensorsDType, DType> = {
  F32: "float32", F64: "float64", I32: "int32", BOOL: "bool", F16: "float32", BF16: "float32",
  I64: "int32", U64: "int32", U32: "int32", I16: "int32", U16: "int32", I8: "int32", U8: "int32",
};

/** True where typed arrays are little-endian, as the format is (every mainstream host). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** @internal One tensor's entry in a validated header; offsets relative to the data buffer. */
export interface RawEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** @internal A validated file: entries ordered by offset, tiling the data buffer exactly. */
export interface ParsedFile {
  bytes: Uint8Array;
  headerLength: number;
  dataStart: number;
  entries: RawEntry[];
  metadata: Record<string, string>;
}

/** @internal A tensor to write: its native-endian elements and the safetensors dtype they are. */
export interface RawTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: ArrayBufferView;
}

/**
 * Sets `key` as an own property even when it is "__proto__" (or another name Object.prototype
 * has, which a frozen prototype would refuse to let an assignment shadow). Plain names are
 * assigned: defineProperty on an object with 10^6 keys is several times slower.
 */
export function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key in Object.prototype) Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

// ------------------------------------------------------------------------------ writing

/**
 * Encodes tensors (and optional string metadata) as a safetensors file. Tensors are laid out as the
 * reference writer does: by dtype (float64, float32, int32, bool), then by name; the header is
 * space-padded to a multiple of 8 bytes so every tensor's data stays aligned.
 * @example const bytes = serialize({ "fc.weight": w, "fc.bias": b }, { format: "pt" });
 */
export function serialize(tensors: Record<string, Tensor>, metadata?: Record<string, string>, options: SerializeOptions = {}): Uint8Array {
  if (typeof tensors !== "object" || tensors === null || Array.isArray(tensors)) {
    throw new ValueError(`serialize: expected an object mapping names to tensors, got ${describe(tensors)}.`);
  }
  const raw: RawTensor[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) {
      throw new ValueError(`serialize: '${name}' is ${describe(t)}, not a Tensor; only tensors can be stored (wrap data with tensor(...)).`);
    }
    raw.push(rawTensor(name, t, options.floatDtype ?? "native", "serialize"));
  }
  return encodeSafetensors(raw, metadata, "serialize");
}

/** Options of serialize and stateDictToBytes. */
export interface SerializeOptions {
  /**
   * How float tensors are stored: "native" (float32 as F32, float64 as F64; the default), or all
   * of them as "F32", "F16" or "BF16" (rounded to nearest, ties to even; F16 overflows to ±Inf),
   * the half-precision forms Hugging Face publishes weights in.
   */
  floatDtype?: "native" | "F32" | "F16" | "BF16";
}

/** @internal A tensor as the bytes to write, its floats converted to `floatDtype`. */
export function rawTensor(name: string, t: Tensor, floatDtype: NonNullable<SerializeOptions["floatDtype"]>, op: string): RawTensor {
  if (!["native", "F32", "F16", "BF16"].includes(floatDtype)) throw new ValueError(`${op}: floatDtype must be "native", "F32", "F16" or "BF16", got ${JSON.stringify(floatDtype)}.`);
  // BatchNorm's counter is int64 in PyTorch's state_dict; written as I64, a file has its exact dtypes.
  if (t.dtype === "int32" && (name === "num_batches_tracked" || name.endsWith(".num_batches_tracked"))) {
    return { name, dtype: "I64", shape: t.shape, data: BigInt64Array.from(t.data as Int32Array, (v) => BigInt(v)) };
  }
  if (floatDtype === "native" || (t.dtype !== "float32" && t.dtype !== "float64")) return { name, dtype: TO_SAFETENSORS[t.dtype], shape: t.shape, data: t.data };
  const f32 = t.dtype === "float32" ? (t.data as Float32Array) : Float32Array.from(t.data as Float64Array);
  if (floatDtype === "F32") return { name, dtype: "F32", shape: t.shape, data: f32 };
  const bits = new Uint32Array(f32.buffer, f32.byteOffset, f32.length);
  const out = new Uint16Array(f32.length);
  const convert = floatDtype === "F16" ? floatBitsToHalf : floatBitsToBF16;
  for (let i = 0; i < out.length; i++) out[i] = convert(bits[i]!);
  return { name, dtype: floatDtype, shape: t.shape, data: out };
}

/** @internal IEEE half-precision bits of a float32 (by its bits): round to nearest, ties to even; overflow to ±Inf; NaN stays NaN. */
export function floatBitsToHalf(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exponent = (f >>> 23) & 0xff;
  const mantissa = f & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit 1 into place, rounding.
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // may carry into the exponent, up to Inf: still right
  return sign | h;
}

/** @internal bfloat16 bits of a float32 (by its bits): the upper half, rounded to nearest, ties to even; NaN stays NaN. */
export function floatBitsToBF16(f: number): number {
  if ((f & 0x7f800000) === 0x7f800000 && (f & 0x7fffff) !== 0) return ((f >>> 16) | 0x40) & 0xffff;
  const rounded = f + 0x7fff + ((f >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** @internal Writes raw tensors; `hostLittleEndian` is a test hook for the byte-swapping path. */
export function encodeSafetensors(
  tensors: readonly RawTensor[],
  metadata: Record<string, string> | undefined,
  op: string,
  hostLittleEndian = HOST_LITTLE_ENDIAN,
): Uint8Array {
  const seen = new Set<string>();
  for (const t of tensors) {
    checkName(op, "tensor name", t.name);
    if (t.name === "__metadata__") throw new ValueError(`${op}: '__metadata__' is reserved by the format for metadata and cannot name a tensor.`);
    if (seen.has(t.name)) throw new ValueError(`${op}: two tensors are named '${t.name}'.`);
    seen.add(t.name);
    const bytes = numel(t.shape) * ITEM_SIZE[t.dtype];
    if (t.data.byteLength !== bytes) {
      throw new ValueError(`${op}: '${t.name}' has ${t.data.byteLength} bytes of data but ${t.dtype} ${fmtShape(t.shape)} needs ${bytes}.`);
    }
  }
  const metaEntries = metadata === undefined ? [] : checkMetadata(op, metadata);

  const ordered = [...tensors].sort((a, b) => WRITE_RANK[b.dtype] - WRITE_RANK[a.dtype] || compareCodePoints(a.name, b.name));
  const parts: string[] = [];
  if (metaEntries.length > 0) {
    parts.push(`"__metadata__":{${metaEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);
  }
  let offset = 0;
  for (const t of ordered) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new ValueError(`${op}: the header would be ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers enforce; use fewer or shorter names, or less metadata.`);
  }

  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of ordered) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const dst = out.subarray(at, at + src.length);
    dst.set(src);
    if (t.dtype === "BOOL") for (let i = 0; i < dst.length; i++) dst[i] = dst[i] !== 0 ? 1 : 0;
    if (!hostLittleEndian) swapBytes(dst, ITEM_SIZE[t.dtype]);
    at += src.length;
  }
  return out;
}

function checkMetadata(op: string, metadata: Record<string, string>): [string, string][] {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new ValueError(`${op}: metadata must be an object of string values, got ${describe(metadata)}.`);
  }
  const entries = Object.entries(metadata);
  for (const [k, v] of entries) {
    checkName(op, "metadata key", k);
    if (typeof v !== "string") {
      throw new ValueError(`${op}: metadata value '${k}' is ${describe(v)}; the format stores strings only (JSON.stringify other values).`);
    }
    checkName(op, `metadata value '${k}'`, v);
  }
  return entries;
}

/** Rejects strings with lone UTF-16 surrogates: they have no UTF-8 encoding and would come back altered. */
function checkName(op: string, what: string, s: string): void {
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)) {
    throw new ValueError(`${op}: ${what} ${JSON.stringify(s)} contains a lone UTF-16 surrogate, which UTF-8 cannot encode.`);
  }
}

/** Orders strings by Unicode code point, which is UTF-8 byte order (the reference sorts bytes). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

// ------------------------------------------------------------------------------ reading

/**
 * Decodes a safetensors file into tensors and its string metadata. Float64, float32, int32 and
 * bool come back as they are; F16 and BF16 become float32 (exactly); I8, U8, I16, U16 become int32;
 * I64, U64 and U32 become int32 when every value fits (a DTypeError names the first that does not).
 * The tensors own their data: nothing aliases `bytes`.
 *
 * Throws FormatError for anything malformed: a header length past the end of the file or over
 * 100 MB, bad UTF-8 or JSON, duplicate names, an unknown dtype, a bad shape, offsets that do not
 * tile the data buffer exactly or disagree with shape × dtype size, non-string metadata.
 * @example const { tensors, metadata } = deserialize(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 */
export function deserialize(bytes: Uint8Array | ArrayBuffer): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const file = parseSafetensors(bytes, "deserialize");
  const tensors: Record<string, Tensor> = {};
  for (const entry of file.entries) defineOwn(tensors, entry.name, decodeTensor(file, entry, "deserialize"));
  return { tensors, metadata: file.metadata };
}

/** @internal Reads and fully validates the header; touches no tensor data. */
export function parseSafetensors(input: Uint8Array | ArrayBuffer, op: string): ParsedFile {
  let bytes: Uint8Array;
  if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  // A plain Uint8Array view: Node's Buffer.slice would share memory where we need a copy.
  else if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  else throw new ValueError(`${op}: expected the file's bytes as a Uint8Array or ArrayBuffer, got ${describe(input)}.`);

  if (bytes.length < 8) {
    throw new FormatError(`${op}: the data is ${bytes.length} bytes long; a safetensors file starts with an 8-byte header length. The file is truncated or not safetensors.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (high !== 0 || low > MAX_HEADER_BYTES) {
    const n = BigInt(high) * 2n ** 32n + BigInt(low);
    throw new FormatError(`${op}: the header length field says ${n} bytes, over the ${MAX_HEADER_BYTES}-byte limit; the file is corrupt or not safetensors.`);
  }
  const headerLength = low;
  const dataStart = 8 + headerLength;
  if (dataStart > bytes.length) {
    throw new FormatError(`${op}: the header length field says ${headerLength} bytes but only ${bytes.length - 8} follow it; the file is truncated or not safetensors.`);
  }

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw new FormatError(`${op}: the header is not valid UTF-8; the file is corrupt or not safetensors.`);
  }
  // The header is validated as it is read: a hostile one (10^6 entries, the first already bad)
  // fails at its first bad entry, and no Map is built per entry.
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: RawEntry[] = [];
  let claimed = 0;
  const reader = new JsonReader(text);
  try {
    if (reader.peek() !== "{") {
      const root = reader.value(0);
      reader.end();
      throw new FormatError(`${op}: the header must be a JSON object, found ${jsonKind(root)}.`);
    }
    reader.object(0, (name) => {
      if (name === "__metadata__") {
        readMetadata(op, reader, metadata);
        return;
      }
      const entry = readEntry(op, name, reader, dataLength);
      // Every range lies inside the buffer, so claiming more than its size means two overlap.
      claimed += entry.end - entry.begin;
      if (claimed > dataLength) {
        const other = entries.find((o) => o.begin < entry.end && entry.begin < o.end);
        const what = other ? `overlaps the tensor before it, ${quoteName(other.name)} (data_offsets [${other.begin}, ${other.end}])` : `and the tensors before it claim ${claimed} bytes of the ${dataLength}-byte data buffer, so two of them overlap`;
        throw new FormatError(`${op}: tensor ${quoteName(name)} (data_offsets [${entry.begin}, ${entry.end}]) ${what}; the file is corrupt.`);
      }
      entries.push(entry);
    });
    reader.end();
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    throw new FormatError(`${op}: the header is not valid JSON (${e.message}); the file is corrupt or not safetensors.`);
  }

  // The entries must tile the data buffer: no gap, no overlap, nothing left over (as the reference checks).
  const byOffset = (a: RawEntry, b: RawEntry): number => a.begin - b.begin || a.end - b.end;
  let ordered = true;
  for (let i = 1; i < entries.length && ordered; i++) ordered = byOffset(entries[i - 1]!, entries[i]!) <= 0;
  if (!ordered) entries.sort(byOffset); // files written in offset order (chainrule's, the reference's) skip the sort
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      const what = e.begin > expected ? `leaves a gap: bytes [${expected}, ${e.begin}) belong to no tensor` : `overlaps the tensor before it, which ends at ${expected}`;
      throw new FormatError(`${op}: tensor ${quoteName(e.name)} (data_offsets [${e.begin}, ${e.end}]) ${what}; the file is corrupt.`);
    }
    expected = e.end;
  }
  if (expected !== dataLength) {
    throw new FormatError(`${op}: the tensors cover ${expected} bytes of data but the file has ${dataLength} after the header; the file is truncated, extended or corrupt.`);
  }
  return { bytes, headerLength, dataStart, entries, metadata };
}

/** `__metadata__`: null, or an object of strings. */
function readMetadata(op: string, reader: JsonReader, metadata: Record<string, string>): void {
  const c = reader.peek();
  if (c !== "{") {
    const value = reader.value(1);
    if (value === null) return;
    throw new FormatError(`${op}: '__metadata__' must be an object of strings, found ${jsonKind(value)}.`);
  }
  reader.object(1, (k) => {
    const v = reader.value(2);
    if (typeof v !== "string") throw new FormatError(`${op}: metadata ${quoteName(k)} must be a string, found ${jsonKind(v)}.`);
    defineOwn(metadata, k, v);
  });
}

/** The canonical dtype strings, so an entry keeps no substring of the header alive. */
const DTYPE_NAMES = new Map(Object.keys(ITEM_SIZE).map((d) => [d, d as SafetensorsDType]));

function entryError(op: string, name: string, what: string, error: typeof FormatError | typeof DTypeError = FormatError): never {
  throw new error(`${op}: tensor ${quoteName(name)}${what}`);
}

/** One tensor's header entry, read and checked: dtype, shape, and data_offsets within the buffer that fit them. */
function readEntry(op: string, name: string, reader: JsonReader, dataLength: number): RawEntry {
  // Runs once per tensor, up to millions of times: messages are built only when one is thrown.
  const fail = (what: string, error?: typeof FormatError | typeof DTypeError): never => entryError(op, name, what, error);
  if (reader.peek() !== "{") fail(`: its header entry must be an object, found ${jsonKind(reader.value(1))}.`);
  let dtypeValue: JsonValue | undefined;
  let shapeValue: JsonValue | undefined;
  let offsets: JsonValue | undefined;
  if (reader.openObject(1)) {
    let others: string[] | undefined;
    do {
      const keyAt = reader.pos;
      const key = reader.key();
      const value = reader.value(2);
      // Unknown fields are ignored, as the reference does.
      if (key === "dtype") {
        if (dtypeValue !== undefined) reader.duplicate(key, keyAt);
        dtypeValue = value;
      } else if (key === "shape") {
        if (shapeValue !== undefined) reader.duplicate(key, keyAt);
        shapeValue = value;
      } else if (key === "data_offsets") {
        if (offsets !== undefined) reader.duplicate(key, keyAt);
        offsets = value;
      } else if (others?.includes(key)) reader.duplicate(key, keyAt);
      else (others ??= []).push(key);
    } while (reader.more());
  }
  if (dtypeValue === undefined) fail(": its header entry has no 'dtype'.");
  if (typeof dtypeValue !== "string") fail(`: 'dtype' must be a string, found ${jsonKind(dtypeValue!)}.`);
  const dtype = DTYPE_NAMES.get(dtypeValue as string)!;
  if (dtype === undefined) {
    if (UNSUPPORTED.has(dtypeValue as string)) fail(` has dtype ${dtypeValue as string}, which chainrule cannot represent; convert it (e.g. to F32) before saving.`, DTypeError);
    fail(`: unknown dtype ${JSON.stringify(dtypeValue).slice(0, 40)}; expected one of ${Object.keys(ITEM_SIZE).join(", ")}.`);
  }

  if (shapeValue === undefined) fail(": its header entry has no 'shape'.");
  if (!Array.isArray(shapeValue) || !shapeValue.every(isSize)) fail(`: 'shape' must be a list of non-negative integers, found ${preview(shapeValue!)}.`);
  const shape = shapeValue as number[];
  const shown = (): string => (shape.length > 8 ? `[${shape.slice(0, 8).join(", ")}, ... (${shape.length} dims)]` : fmtShape(shape));
  let elements = 1;
  if (shape.includes(0)) {
    // Zero elements, but the other dimensions must still multiply out to a count (the reference's
    // checked product): [2^53, 2^53, 0] is no shape a tensor can have.
    let nonZero = 1;
    for (const d of shape) if (d !== 0) nonZero *= d;
    if (nonZero > Number.MAX_SAFE_INTEGER) fail(`: shape ${shown()} multiplies out to more than 2^53 elements (leaving out its 0); no tensor has such a shape, the file is corrupt.`);
    elements = 0;
  } else {
    for (const d of shape) {
      // Past the data buffer's size the byte count can only disagree; stop before it overflows.
      if (elements > dataLength) break;
      elements *= d;
    }
  }
  if (offsets === undefined) fail(": its header entry has no 'data_offsets'.");
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isSize(offsets[0]!) || !isSize(offsets[1]!)) {
    fail(`: 'data_offsets' must be [begin, end], two non-negative integers, found ${preview(offsets!)}.`);
  }
  const begin = (offsets as number[])[0]!;
  const end = (offsets as number[])[1]!;
  if (begin > end || end > dataLength) fail(`: data_offsets [${begin}, ${end}] are not a range within the ${dataLength}-byte data buffer; the file is truncated or corrupt.`);
  const bytes = elements * ITEM_SIZE[dtype];
  if (bytes !== end - begin) {
    fail(`: ${dtype} ${shown()} needs ${elements > dataLength ? "more than the whole file's" : bytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}; the file is corrupt.`);
  }
  return { name, dtype, shape, begin, end };
}

function isSize(x: JsonValue): boolean {
  return typeof x === "number" && Number.isSafeInteger(x);
}

/** @internal Decodes one validated entry into a tensor that owns its data. */
export function decodeTensor(file: ParsedFile, entry: RawEntry, op: string, hostLittleEndian = HOST_LITTLE_ENDIAN): Tensor {
  const { bytes } = file;
  const begin = file.dataStart + entry.begin;
  const n = (entry.end - entry.begin) / ITEM_SIZE[entry.dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, entry.end - entry.begin);
  let data: Storage;
  switch (entry.dtype) {
    case "F64":
      data = new Float64Array(nativeCopy(file, entry, hostLittleEndian));
      break;
    case "F32":
      data = new Float32Array(nativeCopy(file, entry, hostLittleEndian));
      break;
    case "I32":
      data = new Int32Array(nativeCopy(file, entry, hostLittleEndian));
      break;
    case "BOOL": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[begin + i] !== 0 ? 1 : 0;
      data = out;
      break;
    }
    case "F16":
    case "BF16": {
      // Written as float32 bit patterns, so every value (NaN payloads included) converts exactly.
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      if (entry.dtype === "BF16") for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      else for (let i = 0; i < n; i++) bits[i] = halfToFloatBits(view.getUint16(2 * i, true));
      data = out;
      break;
    }
    case "U8":
      data = Int32Array.from(bytes.subarray(begin, begin + n));
      break;
    case "I8": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      data = out;
      break;
    }
    case "I16":
    case "U16": {
      const out = new Int32Array(n);
      if (entry.dtype === "I16") for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      else for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true);
      data = out;
      break;
    }
    case "U32": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getUint32(4 * i, true);
        if (v > 0x7fffffff) throw int32Overflow(op, entry, i, BigInt(v));
        out[i] = v;
      }
      data = out;
      break;
    }
    case "I64":
    case "U64": {
      const out = new Int32Array(n);
      const signed = entry.dtype === "I64";
      for (let i = 0; i < n; i++) {
        const low = view.getUint32(8 * i, true);
        const high = view.getInt32(8 * i + 4, true);
        const fits = (high === 0 && low <= 0x7fffffff) || (signed && high === -1 && low > 0x7fffffff);
        if (!fits) throw int32Overflow(op, entry, i, signed ? view.getBigInt64(8 * i, true) : view.getBigUint64(8 * i, true));
        out[i] = low | 0;
      }
      data = out;
      break;
    }
  }
  return Tensor.fromStorage(data, [...entry.shape], FROM_SAFETENSORS[entry.dtype]);
}

/** @internal A fresh, native-endian copy of an entry's bytes (its own ArrayBuffer, so aligned). */
export function nativeCopy(file: ParsedFile, entry: RawEntry, hostLittleEndian = HOST_LITTLE_ENDIAN): ArrayBuffer {
  const copy = file.bytes.slice(file.dataStart + entry.begin, file.dataStart + entry.end);
  if (!hostLittleEndian) swapBytes(copy, ITEM_SIZE[entry.dtype]);
  return copy.buffer;
}

/** @internal The number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** @internal Reverses the bytes of each `itemSize`-byte element (little- ↔ big-endian). */
export function swapBytes(bytes: Uint8Array, itemSize: number): void {
  if (itemSize === 1) return;
  for (let i = 0; i + itemSize <= bytes.length; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** @internal The float32 bit pattern of an IEEE half-precision value (exact: float32 holds every half). */
export function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal half: normalise the mantissa, lowering the exponent once per shift.
  let e = 113;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

function int32Overflow(op: string, entry: RawEntry, index: number, value: bigint): DTypeError {
  return new DTypeError(`${op}: tensor '${entry.name}' is ${entry.dtype} and element ${index} is ${value}, outside int32 (chainrule's integer dtype), so it cannot be loaded without changing it. Convert it on the Python side (e.g. to float64) if the values are not indices.`);
}

/** A name for an error message: quoted, and cut short if a hostile file made it huge. */
function quoteName(name: string): string {
  return name.length > 80 ? `'${name.slice(0, 77)}...'` : `'${name}'`;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (typeof x === "object") return x.constructor?.name ? `a ${x.constructor.name}` : "an object";
  return typeof x;
}

function jsonKind(v: JsonValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Map) return "an object";
  if (typeof v === "object") return `the number ${v.text}`;
  return typeof v === "string" ? "a string" : typeof v === "number" ? `the number ${v}` : "a boolean";
}

function preview(v: JsonValue): string {
  const text = JSON.stringify(v, (_, x: unknown) => (x instanceof Map ? Object.fromEntries(x) : typeof x === "object" && x !== null && "text" in x ? Number((x as { text: string }).text) : x));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
