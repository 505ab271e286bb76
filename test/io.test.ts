/**
 * safetensors and checkpoints as bytes (the browser-safe API): round trips, the exact byte layout,
 * PyTorch's fixture file loaded bit for bit, dtype conversions, every malformed-file check, a
 * fuzzer over damaged files, and checkpoints with nested optimizer state.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ChainruleError,
  DTypeError,
  FormatError,
  Tensor,
  ValueError,
  bytesToStateDict,
  checkpointFromBytes,
  checkpointToBytes,
  deserialize,
  serialize,
  stateDictToBytes,
  tensor,
  type DType,
} from "../src/index.js";
import { decodeTensor, encodeSafetensors, halfToFloatBits, parseSafetensors } from "../src/io/safetensors.js";

// ------------------------------------------------------------------ helpers

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An independent minimal writer: 8-byte LE length, the header text as given, then `data`. No checks. */
function craft(header: string, data: Uint8Array | number[] = [], headerLength?: number): Uint8Array {
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** An independent minimal reader: the header length, header JSON and data bytes. */
function split(bytes: Uint8Array): { n: number; headerText: string; header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const headerText = dec.decode(bytes.subarray(8, 8 + n));
  return { n, headerText, header: JSON.parse(headerText) as Record<string, unknown>, data: bytes.subarray(8 + n) };
}

/** Little-endian bytes of a tensor's elements (bool as 0/1 bytes). */
function leBytes(t: Tensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

function bitsEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function expectFormatError(bytes: Uint8Array, pattern: RegExp): void {
  expect(() => deserialize(bytes)).toThrow(FormatError);
  expect(() => deserialize(bytes)).toThrow(pattern);
}

const info = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });
const json = (o: unknown): string => JSON.stringify(o);

// ------------------------------------------------------------------ round trips and layout

describe("serialize / deserialize", () => {
  it("round-trips every dtype, 0-d and empty tensors, unicode names and metadata", () => {
    const tensors = {
      "fc.weight": tensor([[1.5, -2.25], [3, 1e-30]], { dtype: "float32" }),
      "fc.bias": tensor([Math.PI, -0, Number.MIN_VALUE, NaN, -Infinity], { dtype: "float64" }),
      labels: tensor([0, -7, 2147483647, -2147483648], { dtype: "int32" }),
      mask: tensor([[true, false, true]]),
      scalar: tensor(4.5, { dtype: "float64" }),
      empty: tensor(new Float32Array(0), { shape: [0, 3] }),
      "ünï/çødé 🚀": tensor([1, 2, 3], { dtype: "int32" }),
    };
    const meta = { format: "pt", "note ✓": "a \"quoted\"\nline" };
    const { tensors: back, metadata } = deserialize(serialize(tensors, meta));
    expect(metadata).toEqual(meta);
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const r = back[name]!;
      expect(r.dtype, name).toBe(t.dtype);
      expect(r.shape, name).toEqual(t.shape);
      expect(bitsEqual(r.data, t.data), name).toBe(true);
      expect(r.requiresGrad).toBe(false);
    }
  });

  it("writes the reference layout: compact JSON, metadata first, then by dtype (F64, F32, I32, BOOL) and name, padded to 8", () => {
    const bytes = serialize(
      {
        b: tensor([true]),
        z: tensor([1], { dtype: "float64" }),
        a: tensor([2], { dtype: "float32" }),
        y: tensor([3], { dtype: "int32" }),
        c: tensor([4], { dtype: "float32" }),
      },
      { k: "v" },
    );
    const { n, headerText, data } = split(bytes);
    expect(n % 8).toBe(0);
    expect(headerText.trimEnd()).toBe(
      '{"__metadata__":{"k":"v"},' +
        '"z":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
        '"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
        '"c":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},' +
        '"y":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},' +
        '"b":{"dtype":"BOOL","shape":[1],"data_offsets":[20,21]}}',
    );
    expect(headerText.length - headerText.trimEnd().length).toBeLessThan(8);
    expect(/^ *$/.test(headerText.slice(headerText.trimEnd().length))).toBe(true);
    expect(bytes.length).toBe(8 + n + 21);
    const dv = new DataView(data.buffer, data.byteOffset);
    expect([dv.getFloat64(0, true), dv.getFloat32(8, true), dv.getFloat32(12, true), dv.getInt32(16, true), data[20]]).toEqual([1, 2, 4, 3, 1]);
  });

  it("matches the reference implementation's own test vectors byte for byte", () => {
    // From safetensors' Rust tests: one F32 [1, 2, 3] tensor 'attn.0' holding 0..5, and an empty file.
    const out = serialize({ "attn.0": tensor([0, 1, 2, 3, 4, 5], { shape: [1, 2, 3] }) });
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(out.length).toBe(8 + 64 + 24);
    expect(Array.from(out.subarray(0, 8))).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect(dec.decode(out.subarray(8, 72))).toBe(header + " ".repeat(64 - header.length));
    expect(Array.from(out.subarray(72))).toEqual([0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]);
    expect(Array.from(serialize({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(dec.decode(serialize({}, { framework: "pt" }).subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
  });

  it("returns tensors that own their data (no aliasing of the input, Buffer-style views included)", () => {
    const bytes = serialize({ w: tensor([1, 2, 3], { dtype: "float64" }) });
    // A view at an odd offset into a larger buffer, as Node's pooled Buffers are.
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const view = big.subarray(3);
    const { tensors } = deserialize(view);
    big.fill(0);
    expect(Array.from(tensors.w!.data)).toEqual([1, 2, 3]);
    expect(tensors.w!.data.buffer).not.toBe(big.buffer);
    expect(Array.from(deserialize(bytes.buffer as ArrayBuffer).tensors.w!.data)).toEqual([1, 2, 3]);
  });

  it("reads tensors at unaligned offsets (headers not padded to 8 by other writers)", () => {
    const data = new Uint8Array(1 + 8 + 4);
    const dv = new DataView(data.buffer);
    data[0] = 1;
    dv.setFloat64(1, -1.25, true);
    dv.setFloat32(9, 0.5, true);
    const bytes = craft(json({ m: info("BOOL", [1], 0, 1), d: info("F64", [1], 1, 9), f: info("F32", [], 9, 13) }), data);
    const { tensors } = deserialize(bytes);
    expect(tensors.m!.dtype).toBe("bool");
    expect(tensors.d!.item()).toBe(-1.25);
    expect(tensors.f!.shape).toEqual([]);
    expect(tensors.f!.item()).toBe(0.5);
  });

  it("keeps a tensor named __proto__ as an ordinary entry", () => {
    const tensors: Record<string, Tensor> = {};
    Object.defineProperty(tensors, "__proto__", { value: tensor([1]), enumerable: true });
    const back = deserialize(serialize(tensors)).tensors;
    expect(Object.keys(back)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });

  it("refuses what it cannot write", () => {
    expect(() => serialize({ w: [1, 2] as unknown as Tensor })).toThrow(/'w' is an array, not a Tensor/);
    expect(() => serialize({ __metadata__: tensor([1]) })).toThrow(/reserved/);
    expect(() => serialize({ w: tensor([1]) }, { epoch: 3 as unknown as string })).toThrow(/metadata value 'epoch' is number/);
    expect(() => serialize({ ["bad\uD800"]: tensor([1]) })).toThrow(/lone UTF-16 surrogate/);
    expect(() => serialize(null as unknown as Record<string, Tensor>)).toThrow(ValueError);
  });

  it("byte-swaps on big-endian hosts (the portable path, forced)", () => {
    // What a big-endian host holds natively for float32 [1.5, -2]: each element's bytes reversed.
    const le = serialize({ x: tensor([1.5, -2]) });
    const native = new Float32Array([1.5, -2]);
    const beNative = new Uint8Array(native.buffer).slice();
    for (let i = 0; i < 8; i += 4) beNative.subarray(i, i + 4).reverse();
    const written = encodeSafetensors([{ name: "x", dtype: "F32", shape: [2], data: beNative }], undefined, "test", false);
    expect(Array.from(written)).toEqual(Array.from(le));
    const file = parseSafetensors(le, "test");
    const read = decodeTensor(file, file.entries[0]!, "test", false);
    expect(Array.from(new Uint8Array(read.data.buffer))).toEqual(Array.from(beNative));
  });
});

// ------------------------------------------------------------------ the PyTorch fixture

interface FixtureTensor {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
  data: number[];
}
interface FixtureFile {
  header_len: number;
  metadata: Record<string, string>;
  tensors: Record<string, FixtureTensor>;
}
const GOLDEN_DIR = new URL("../../shared/golden/", import.meta.url);
const haveGolden = existsSync(fileURLToPath(new URL("torch_weights.safetensors", GOLDEN_DIR)));
if (!haveGolden) {
  const msg = `io tests: ${fileURLToPath(GOLDEN_DIR)}torch_weights.safetensors is missing.`;
  if (process.env.CI) throw new Error(`${msg} CI must provide ../shared/golden.`);
  console.warn(`${msg} Skipping the fixture tests.`);
}
const fixtures = haveGolden
  ? (JSON.parse(readFileSync(new URL("torch_weights.json", GOLDEN_DIR), "utf8")) as { files: Record<string, FixtureFile> }).files
  : {};
const FIXTURE_DTYPE: Record<string, DType> = { F64: "float64", F32: "float32", I64: "int32" };

/** The expected elements of a fixture tensor in chainrule's storage. */
function expectedStorage(t: FixtureTensor): ArrayBufferView {
  if (t.dtype === "F64") return new Float64Array(t.data);
  if (t.dtype === "F32") return new Float32Array(t.data);
  return new Int32Array(t.data);
}

function checkAgainstFixture(bytes: Uint8Array, fixture: FixtureFile): void {
  expect(split(bytes).n).toBe(fixture.header_len);
  const { tensors, metadata } = deserialize(bytes);
  expect(metadata).toEqual(fixture.metadata);
  expect(Object.keys(tensors).sort()).toEqual(Object.keys(fixture.tensors).sort());
  for (const [name, t] of Object.entries(fixture.tensors)) {
    const got = tensors[name]!;
    expect(got.dtype, name).toBe(FIXTURE_DTYPE[t.dtype]);
    expect(got.shape, name).toEqual(t.shape);
    if (t.dtype === "F32") expect(t.data.every((v) => Math.fround(v) === v), `${name}: fixture values are float32`).toBe(true);
    expect(bitsEqual(got.data, expectedStorage(t)), `${name} bit for bit`).toBe(true);
  }
}

describe.skipIf(!haveGolden)("PyTorch fixture ../shared/golden/torch_weights.safetensors", () => {
  it("loads every tensor exactly: names, dtypes, shapes, values bit for bit, metadata", () => {
    const bytes = new Uint8Array(readFileSync(new URL("torch_weights.safetensors", GOLDEN_DIR)));
    const fixture = fixtures["torch_weights.safetensors"]!;
    expect(Object.values(fixture.tensors).map((t) => t.dtype)).toEqual(expect.arrayContaining(["F64", "F32"]));
    checkAgainstFixture(bytes, fixture);
  });

  it("writes the same file back byte for byte (the reference writer's layout)", () => {
    const bytes = new Uint8Array(readFileSync(new URL("torch_weights.safetensors", GOLDEN_DIR)));
    const { tensors, metadata } = deserialize(bytes);
    expect(bitsEqual(serialize(tensors, metadata), bytes)).toBe(true);
  });

  it("reads the described edge-case file (int64 labels, empty tensor), rebuilt from its description", () => {
    // torch_weights.json also describes torch_weights_edge.safetensors, which is not shipped; rebuild
    // it with the independent writer, exactly as described (header order, offsets, header_len).
    const fixture = fixtures["torch_weights_edge.safetensors"]!;
    const header: Record<string, unknown> = { __metadata__: fixture.metadata };
    let size = 0;
    for (const [name, t] of Object.entries(fixture.tensors)) {
      header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: t.data_offsets };
      size = Math.max(size, t.data_offsets[1]);
    }
    const data = new Uint8Array(size);
    const dv = new DataView(data.buffer);
    for (const t of Object.values(fixture.tensors)) {
      t.data.forEach((v, i) => {
        const at = t.data_offsets[0] + i * (t.dtype === "F32" ? 4 : 8);
        if (t.dtype === "F64") dv.setFloat64(at, v, true);
        else if (t.dtype === "F32") dv.setFloat32(at, v, true);
        else dv.setBigInt64(at, BigInt(v), true);
      });
    }
    let text = json(header);
    text += " ".repeat((8 - (enc.encode(text).length % 8)) % 8);
    checkAgainstFixture(craft(text, data), fixture);
  });
});

// ------------------------------------------------------------------ dtype conversions on read

describe("dtype conversions on read", () => {
  it("F16 → float32 exactly, for all 65536 half values", () => {
    const data = new Uint8Array(2 * 65536);
    const dv = new DataView(data.buffer);
    for (let h = 0; h < 65536; h++) dv.setUint16(2 * h, h, true);
    const t = deserialize(craft(json({ h: info("F16", [65536], 0, data.length) }), data)).tensors.h!;
    expect(t.dtype).toBe("float32");
    const bits = new Uint32Array(t.data.buffer, t.data.byteOffset, 65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h >> 15 ? -1 : 1;
      const e = (h >> 10) & 31;
      const m = h & 1023;
      if (e === 31 && m !== 0) {
        expect(Number.isNaN(t.data[h]!)).toBe(true);
        expect(bits[h]).toBe(((h >> 15) << 31 | 0x7f800000 | (m << 13)) >>> 0);
        continue;
      }
      const value = e === 31 ? sign * Infinity : e === 0 ? sign * m * 2 ** -24 : sign * (1 + m / 1024) * 2 ** (e - 15);
      if (!Object.is(t.data[h], value)) expect(t.data[h], `half 0x${h.toString(16)}`).toBe(value);
    }
    expect(halfToFloatBits(0x3c00)).toBe(0x3f800000);
  });

  it("BF16 → float32 exactly (the upper half of the float32 bits)", () => {
    const halves = [0x3f80, 0xc000, 0x7f80, 0xff80, 0x0001, 0x8000, 0x3eaa, 0x7fc1];
    const data = new Uint8Array(2 * halves.length);
    halves.forEach((h, i) => new DataView(data.buffer).setUint16(2 * i, h, true));
    const t = deserialize(craft(json({ b: info("BF16", [halves.length], 0, data.length) }), data)).tensors.b!;
    expect(Array.from(new Uint32Array(t.data.buffer))).toEqual(halves.map((h) => (h << 16) >>> 0));
    expect(Array.from(t.data.slice(0, 6))).toEqual([1, -2, Infinity, -Infinity, 2 ** -133, -0]);
  });

  it("I8, U8, I16, U16, U32, I64, U64 → int32; BOOL bytes other than 0/1 read as true", () => {
    const cases: [string, number, (dv: DataView, at: number, v: number) => void, number[]][] = [
      ["I8", 1, (dv, at, v) => dv.setInt8(at, v), [-128, -1, 0, 127]],
      ["U8", 1, (dv, at, v) => dv.setUint8(at, v), [0, 1, 200, 255]],
      ["I16", 2, (dv, at, v) => dv.setInt16(at, v, true), [-32768, -2, 0, 32767]],
      ["U16", 2, (dv, at, v) => dv.setUint16(at, v, true), [0, 1, 40000, 65535]],
      ["U32", 4, (dv, at, v) => dv.setUint32(at, v, true), [0, 5, 70000, 2147483647]],
      ["I64", 8, (dv, at, v) => dv.setBigInt64(at, BigInt(v), true), [-2147483648, -1, 0, 2147483647]],
      ["U64", 8, (dv, at, v) => dv.setBigUint64(at, BigInt(v), true), [0, 3, 65536, 2147483647]],
    ];
    for (const [dtype, size, set, values] of cases) {
      const data = new Uint8Array(size * values.length);
      const dv = new DataView(data.buffer);
      values.forEach((v, i) => set(dv, i * size, v));
      const t = deserialize(craft(json({ x: info(dtype, [2, 2], 0, data.length) }), data)).tensors.x!;
      expect(t.dtype, dtype).toBe("int32");
      expect(t.shape).toEqual([2, 2]);
      expect(Array.from(t.data), dtype).toEqual(values);
    }
    const mask = deserialize(craft(json({ m: info("BOOL", [3], 0, 3) }), [0, 1, 7])).tensors.m!;
    expect(Array.from(mask.data)).toEqual([0, 1, 1]);
  });

  it("an integer outside int32 is a DTypeError naming the tensor, element and value", () => {
    const data = new Uint8Array(16);
    new DataView(data.buffer).setBigInt64(8, 2n ** 40n, true);
    expect(() => deserialize(craft(json({ ids: info("I64", [2], 0, 16) }), data))).toThrow(DTypeError);
    expect(() => deserialize(craft(json({ ids: info("I64", [2], 0, 16) }), data))).toThrow(/'ids' is I64 and element 1 is 1099511627776/);
    new DataView(data.buffer).setBigInt64(8, -(2n ** 31n) - 1n, true);
    expect(() => deserialize(craft(json({ ids: info("I64", [2], 0, 16) }), data))).toThrow(/-2147483649/);
    expect(() => deserialize(craft(json({ u: info("U32", [1], 0, 4) }), [0, 0, 0, 128]))).toThrow(/2147483648/);
    expect(() => deserialize(craft(json({ u: info("U64", [1], 0, 8) }), [255, 255, 255, 255, 255, 255, 255, 255]))).toThrow(/18446744073709551615/);
  });

  it("a safetensors dtype chainrule cannot represent is a DTypeError", () => {
    expect(() => deserialize(craft(json({ q: info("F8_E4M3", [2], 0, 2) }), [1, 2]))).toThrow(DTypeError);
    expect(() => deserialize(craft(json({ q: info("F8_E4M3", [2], 0, 2) }), [1, 2]))).toThrow(/F8_E4M3/);
  });
});

// ------------------------------------------------------------------ malformed files

describe("malformed files are a FormatError, never a partial result", () => {
  const good = (extra: Record<string, unknown> = {}) => json({ a: info("F32", [2], 0, 8), ...extra });
  const eight = new Uint8Array(8);

  it("is a ValueError subclass and a ChainruleError", () => {
    expect(new FormatError("x")).toBeInstanceOf(ValueError);
    expect(new FormatError("x")).toBeInstanceOf(ChainruleError);
    expect(new FormatError("x").name).toBe("FormatError");
  });

  it("too short, header past the end, header over 100 MB", () => {
    expectFormatError(new Uint8Array(0), /0 bytes long/);
    expectFormatError(new Uint8Array(7), /7 bytes long/);
    expectFormatError(craft(good(), eight, 1000), /says 1000 bytes but only/);
    expectFormatError(craft(good(), eight, 100_000_001), /over the 100000000-byte limit/);
    expectFormatError(craft(good(), eight, 2 ** 40), /1099511627776 bytes, over/);
    expect(() => deserialize("text" as unknown as Uint8Array)).toThrow(ValueError);
  });

  it("bad UTF-8, bad JSON, trailing characters, a BOM, deep nesting", () => {
    const bad = craft(good(), eight);
    bad[12] = 0xff;
    expectFormatError(bad, /not valid UTF-8/);
    expectFormatError(craft("{", eight), /not valid JSON/);
    expectFormatError(craft(good().slice(0, -1), eight), /not valid JSON/);
    expectFormatError(craft(good() + "x", eight), /after the JSON value/);
    expectFormatError(craft(good() + "\0\0", eight), /after the JSON value/);
    expectFormatError(craft("\uFEFF" + good(), eight), /not valid JSON/);
    expectFormatError(craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + "[".repeat(100_000) + "]".repeat(100_000) + "}}", eight), /nesting deeper/);
    expectFormatError(craft(good({ "\\ud800": 1 }).replace('"\\\\ud800"', '"\\ud800"'), eight), /surrogate/);
    expect(deserialize(craft(" \n" + good() + "  \t\r\n ", eight)).tensors.a!.shape).toEqual([2]);
  });

  it("the header must be an object of objects", () => {
    expectFormatError(craft("[]"), /must be a JSON object, found an array/);
    expectFormatError(craft('"x"'), /found a string/);
    expectFormatError(craft(json({ a: [1] })), /'a': its header entry must be an object/);
    expectFormatError(craft(json({ a: { shape: [], data_offsets: [0, 0] } })), /has no 'dtype'/);
    expectFormatError(craft(json({ a: { dtype: "F32", data_offsets: [0, 0] } })), /has no 'shape'/);
    expectFormatError(craft(json({ a: { dtype: "F32", shape: [0] } })), /has no 'data_offsets'/);
  });

  it("unknown dtypes", () => {
    expectFormatError(craft(json({ a: info("F31", [2], 0, 8) }), eight), /unknown dtype "F31"/);
    expectFormatError(craft(json({ a: info("f32", [2], 0, 8) }), eight), /unknown dtype/);
    expectFormatError(craft(json({ a: { ...info("F32", [2], 0, 8), dtype: 4 } }), eight), /'dtype' must be a string/);
    expectFormatError(craft(json({ a: info("toString", [2], 0, 8) }), eight), /unknown dtype/);
  });

  it("shapes must be lists of non-negative integers", () => {
    for (const shape of ["2", "[-2]", "[2.0]", "[1.5]", "[2e0]", '["2"]', "[null]", "[9007199254740992]", "[[2]]", "{}"]) {
      expectFormatError(craft(`{"a":{"dtype":"F32","shape":${shape},"data_offsets":[0,8]}}`, eight), /'shape' must be a list of non-negative integers/);
    }
  });

  it("data_offsets must be [begin <= end] inside the data buffer", () => {
    for (const offsets of ["[0]", "[0,8,8]", "[-1,8]", "[0,8.5]", '["0",8]', "[0,1e1]", "null"]) {
      expectFormatError(craft(`{"a":{"dtype":"F32","shape":[2],"data_offsets":${offsets}}}`, eight), /'data_offsets' must be \[begin, end\]/);
    }
    expectFormatError(craft(json({ a: info("F32", [2], 8, 0) }), eight), /not a range within the 8-byte data buffer/);
    expectFormatError(craft(json({ a: info("F32", [2], 4, 12) }), eight), /not a range within/);
  });

  it("the byte count must equal product(shape) × item size", () => {
    expectFormatError(craft(json({ a: info("F32", [3], 0, 8) }), eight), /F32 \[3\] needs 12 bytes but data_offsets \[0, 8\] hold 8/);
    expectFormatError(craft(json({ a: info("F64", [2], 0, 8) }), eight), /needs 16 bytes/);
    expectFormatError(craft(json({ a: info("F32", [2 ** 40, 2 ** 40], 0, 8) }), eight), /needs more than the whole file's bytes/);
    expectFormatError(craft(json({ a: info("F32", [], 0, 8) }), eight), /needs 4 bytes/);
    // A zero dimension makes any product zero, however large the others (as the reference computes it).
    const zero = deserialize(craft(json({ a: info("F32", [2 ** 50, 0], 0, 0) }))).tensors.a!;
    expect(zero.shape).toEqual([2 ** 50, 0]);
    expect(zero.size).toBe(0);
  });

  it("the tensors must tile the data buffer exactly: no overlap, gap, or leftover", () => {
    const data = new Uint8Array(16);
    expectFormatError(craft(json({ a: info("F32", [2], 0, 8), b: info("F32", [2], 4, 12) }), data.subarray(0, 12)), /'b' .* overlaps the tensor before it/);
    expectFormatError(craft(json({ a: info("F32", [2], 0, 8), b: info("F32", [2], 0, 8) }), data.subarray(0, 8)), /overlaps/);
    expectFormatError(craft(json({ a: info("F32", [1], 0, 4), b: info("F32", [2], 8, 16) }), data), /leaves a gap: bytes \[4, 8\)/);
    expectFormatError(craft(json({ b: info("F32", [2], 8, 16) }), data), /gap/);
    expectFormatError(craft(json({ a: info("F32", [2], 0, 8) }), data), /cover 8 bytes of data but the file has 16/);
    expectFormatError(craft(json({}), [1]), /cover 0 bytes/);
    // Any order in the header is fine, and empty tensors may sit anywhere.
    const ok = deserialize(craft(json({ z: info("F32", [0], 8, 8), b: info("F32", [2], 8, 16), a: info("F32", [2], 0, 8), e: info("I32", [0, 5], 0, 0) }), data));
    expect(Object.keys(ok.tensors)).toEqual(["e", "a", "z", "b"]);
  });

  it("duplicate names, and metadata that is not an object of strings", () => {
    expectFormatError(craft('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', eight), /duplicate key "a"/);
    expectFormatError(craft(good({ __metadata__: { epoch: 3 } }), eight), /metadata 'epoch' must be a string, found the number 3/);
    expectFormatError(craft(good({ __metadata__: { x: null } }), eight), /found null/);
    expectFormatError(craft(good({ __metadata__: ["a"] }), eight), /'__metadata__' must be an object of strings/);
    expectFormatError(craft(good({ __metadata__: "pt" }), eight), /'__metadata__' must be an object/);
    expectFormatError(craft('{"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', eight), /duplicate key "k"/);
    expect(deserialize(craft(good({ __metadata__: null }), eight)).metadata).toEqual({});
  });

  it("ignores unknown fields in a tensor entry, as the reference does", () => {
    const { tensors } = deserialize(craft(json({ a: { ...info("F32", [2], 0, 8), extra: { deep: [1.5, "x"] } } }), eight));
    expect(tensors.a!.shape).toEqual([2]);
  });
});

// ------------------------------------------------------------------ fuzzing

describe("fuzzing the reader with damaged files", () => {
  const dtypeArb = fc.constantFrom<DType>("float32", "float64", "int32", "bool");
  const specArb = fc.dictionary(
    fc.string({ minLength: 0, maxLength: 3 }),
    fc.record({ dtype: dtypeArb, shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }), seed: fc.integer() }),
    { maxKeys: 4 },
  );
  const metaArb = fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 4 }), { maxKeys: 2 });

  function build(spec: Record<string, { dtype: DType; shape: number[]; seed: number }>): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, { dtype, shape, seed }] of Object.entries(spec)) {
      if (name === "__metadata__") continue;
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => ((seed * 31 + i * 17) % 97) - 48.5);
      Object.defineProperty(out, name, { value: tensor(values.map((v) => (dtype === "bool" ? Number(v > 0) : v)), { dtype, shape }), enumerable: true });
    }
    return out;
  }

  /** What must hold whenever the reader claims success: the values are exactly what the file says. */
  function checkSuccess(bytes: Uint8Array, result: ReturnType<typeof deserialize>): void {
    const file = parseSafetensors(bytes, "check");
    let covered = 0;
    for (const e of file.entries) {
      const t = result.tensors[e.name]!;
      expect(t).toBeInstanceOf(Tensor);
      expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
      expect(t.shape).toEqual(e.shape);
      covered += e.end - e.begin;
      if (e.dtype === "F32" || e.dtype === "F64" || e.dtype === "I32") {
        expect(bitsEqual(leBytes(t), bytes.subarray(file.dataStart + e.begin, file.dataStart + e.end))).toBe(true);
      }
    }
    expect(covered).toBe(bytes.length - file.dataStart);
    expect(Object.keys(result.tensors).length).toBe(file.entries.length);
  }

  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant("header" as const), edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant("header-ascii" as const), edits: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...enc.encode('{}[],:"0123456789 -.eFIBOL\\u'))), { minLength: 1, maxLength: 2 }) }),
    fc.record({ kind: fc.constant("anywhere" as const), edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant("data" as const), edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant("truncate" as const), cut: fc.nat() }),
    fc.record({ kind: fc.constant("extend" as const), extra: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  );

  it("never throws anything but chainrule errors, never returns values the file does not hold", () => {
    let failures = 0;
    let successes = 0;
    fc.assert(
      fc.property(specArb, metaArb, mutationArb, (spec, meta, mutation) => {
        const tensors = build(spec);
        const original = serialize(tensors, meta);
        const dataStart = 8 + split(original).n;
        let bytes: Uint8Array;
        let dataOnly = false;
        if (mutation.kind === "truncate") bytes = original.slice(0, mutation.cut % original.length);
        else if (mutation.kind === "extend") bytes = new Uint8Array([...original, ...mutation.extra]);
        else {
          bytes = original.slice();
          const [from, to] = mutation.kind === "anywhere" ? [0, bytes.length] : mutation.kind === "data" ? [dataStart, bytes.length] : [0, dataStart];
          if (to > from) for (const [pos, value] of mutation.edits) bytes[from + (pos % (to - from))] = value;
          dataOnly = bitsEqual(bytes.subarray(0, dataStart), original.subarray(0, dataStart));
        }
        let result: ReturnType<typeof deserialize>;
        try {
          result = deserialize(bytes);
        } catch (e) {
          failures++;
          if (!(e instanceof ChainruleError)) throw e;
          expect(mutation.kind === "header" || mutation.kind === "header-ascii" || mutation.kind === "anywhere" || e instanceof FormatError).toBe(true);
          // Edits confined to the data region can never make a file invalid.
          expect(dataOnly).toBe(false);
          return;
        }
        successes++;
        // A changed length can never pass: the tensors must tile the data exactly.
        expect(mutation.kind === "truncate" || mutation.kind === "extend").toBe(false);
        checkSuccess(bytes, result);
        if (dataOnly || bitsEqual(bytes, original)) {
          expect(Object.keys(result.tensors).sort()).toEqual(Object.keys(tensors).sort());
          for (const [name, t] of Object.entries(tensors)) {
            expect(result.tensors[name]!.shape).toEqual(t.shape);
            expect(result.tensors[name]!.dtype).toBe(t.dtype);
          }
          expect(result.metadata).toEqual(meta);
        }
      }),
      { numRuns: 1500 },
    );
    expect(failures).toBeGreaterThan(100);
    expect(successes).toBeGreaterThan(100);
  });
});

// ------------------------------------------------------------------ state dicts and checkpoints

describe("state dicts and checkpoints", () => {
  const model = () => ({
    "fc1.weight": tensor([[0.5, -1], [2, 3]]),
    "fc1.bias": tensor([0.25, -0.75]),
    "bn.num_batches": tensor([7], { dtype: "int32" }),
  });

  it("stateDictToBytes / bytesToStateDict round-trip, from a dict or from anything with stateDict()", () => {
    const module = { stateDict: () => model(), other: 1 };
    const bytes = stateDictToBytes(module, { metadata: { epoch: "4" } });
    expect(deserialize(bytes).metadata).toEqual({ epoch: "4" });
    const back = bytesToStateDict(bytes);
    expect(Object.keys(back).sort()).toEqual(Object.keys(model()).sort());
    expect(back["fc1.weight"]!.toArray()).toEqual([[0.5, -1], [2, 3]]);
    expect(bitsEqual(stateDictToBytes(model(), { metadata: { epoch: "4" } }), bytes)).toBe(true);
    expect(() => stateDictToBytes({ w: new Float32Array(2) as unknown as Tensor })).toThrow(/'w' is not a Tensor/);
    expect(() => stateDictToBytes(5 as unknown as Record<string, Tensor>)).toThrow(ValueError);
  });

  it("round-trips a checkpoint with nested optimizer state, typed arrays, tensors and meta", () => {
    const optimizer = {
      state: {
        0: { step: 3, exp_avg: new Float32Array([0.1, -0.2]), exp_avg_sq: new Float64Array([1e-8, 2]), momentum: tensor([[1, 2]], { dtype: "float64" }) },
        1: { step: 3, exp_avg: new Float32Array(0), counts: new Int32Array([1, -2]), flags: new Uint8Array([0, 255]) },
      },
      param_groups: [{ lr: 0.001, betas: [0.9, 0.999], eps: 1e-8, amsgrad: false, name: null, params: [0, 1] }],
      odd: { nan: NaN, inf: -Infinity, negZero: -0, missing: undefined, deep: [[[new Int16Array([-3])]], { u16: new Uint16Array([65535]) }] },
      clamped: new Uint8ClampedArray([9]),
      big: new BigInt64Array([-(2n ** 62n)]),
      ubig: new BigUint64Array([2n ** 63n]),
      u32: new Uint32Array([4e9]),
      i8: new Int8Array([-128]),
    };
    const meta = { epoch: 12, history: { loss: [2.3, 1.1, 0.7] }, config: { name: "mlp", hidden: [100] } };
    const bytes = checkpointToBytes({ model: model(), optimizer, meta });
    const back = checkpointFromBytes(bytes);
    expect(Object.keys(back.model).sort()).toEqual(Object.keys(model()).sort());
    expect(back.model["fc1.weight"]!.toArray()).toEqual([[0.5, -1], [2, 3]]);
    expect(back.meta).toEqual(meta);
    // toEqual checks typed-array classes and contents; NaN and -0 are checked by Object.is.
    expect(back.optimizer).toEqual(optimizer);
    const odd = (back.optimizer as typeof optimizer).odd;
    expect(Object.is(odd.negZero, -0)).toBe(true);
    expect(Number.isNaN(odd.nan)).toBe(true);
    expect("missing" in odd && odd.missing === undefined).toBe(true);
    const state = (back.optimizer as typeof optimizer).state;
    expect(state[0].exp_avg).toBeInstanceOf(Float32Array);
    expect(state[0].momentum).toBeInstanceOf(Tensor);
    expect(state[0].momentum.shape).toEqual([1, 2]);
    expect(state[1].flags).toBeInstanceOf(Uint8Array);
    expect((back.optimizer as typeof optimizer).clamped).toBeInstanceOf(Uint8ClampedArray);
  });

  it("stays a valid safetensors file: model tensors by name, state under optimizer/..., skeleton in metadata", () => {
    const bytes = checkpointToBytes({ model: model(), optimizer: { state: { 0: { buf: new Float32Array([1, 2]) } }, lr: 0.1 }, meta: { epoch: 2 } });
    const { tensors, metadata } = deserialize(bytes);
    expect(Object.keys(tensors).sort()).toEqual(["bn.num_batches", "fc1.bias", "fc1.weight", "optimizer/state/0/buf"]);
    expect(tensors["optimizer/state/0/buf"]!.dtype).toBe("float32");
    expect(metadata["chainrule.checkpoint"]).toBe("1");
    expect(JSON.parse(metadata["chainrule.optimizer"]!)).toEqual({ state: { 0: { buf: { $chainrule: "typedarray", type: "Float32Array", name: "optimizer/state/0/buf" } } }, lr: 0.1 });
    expect(JSON.parse(metadata["chainrule.meta"]!)).toEqual({ epoch: 2 });
    // The independent reader agrees too.
    expect(Object.keys(split(bytes).header)).toContain("optimizer/state/0/buf");
  });

  it("renames optimizer tensors that would collide with model tensor names", () => {
    const ck = { model: { "optimizer/a": tensor([1]) }, optimizer: { a: new Float32Array([2]) } };
    const bytes = checkpointToBytes(ck);
    expect(Object.keys(deserialize(bytes).tensors).sort()).toEqual(["optimizer/a", "optimizer/a#2"]);
    const back = checkpointFromBytes(bytes);
    expect(Array.from(back.model["optimizer/a"]!.data)).toEqual([1]);
    expect(back.optimizer).toEqual({ a: new Float32Array([2]) });
  });

  it("a plain safetensors file reads as a model-only checkpoint; optimizer and meta are optional", () => {
    const back = checkpointFromBytes(serialize(model()));
    expect(Object.keys(back)).toEqual(["model"]);
    expect(Object.keys(back.model).length).toBe(3);
    const only = checkpointFromBytes(checkpointToBytes({ model: { stateDict: model } }));
    expect(only.optimizer).toBeUndefined();
    expect(only.meta).toBeUndefined();
    expect(checkpointFromBytes(checkpointToBytes({ model: {}, optimizer: null })).optimizer).toBeNull();
  });

  it("refuses state it cannot store faithfully", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => checkpointToBytes({ model: {}, optimizer: cyclic })).toThrow(/optimizer.self refers back .* cycle/);
    expect(() => checkpointToBytes({ model: {}, optimizer: { f: () => 1 } })).toThrow(/optimizer.f is a function/);
    expect(() => checkpointToBytes({ model: {}, optimizer: { m: new Map() } })).toThrow(/optimizer.m is a Map/);
    expect(() => checkpointToBytes({ model: {}, meta: { n: 1n } })).toThrow(/meta.n is a bigint/);
    expect(() => checkpointToBytes({ model: {}, meta: { d: new DataView(new ArrayBuffer(1)) } })).toThrow(/meta.d is a DataView/);
    expect(() => checkpointToBytes({ model: {}, meta: { x: { $chainrule: "tensor" } } })).toThrow(/reserve/);
    // Shared (non-cyclic) references are fine: each is stored where it appears.
    const shared = new Float32Array([1]);
    const back = checkpointFromBytes(checkpointToBytes({ model: {}, optimizer: { a: shared, b: shared } }));
    expect(back.optimizer).toEqual({ a: shared, b: shared });
  });

  it("a damaged skeleton is a FormatError", () => {
    const withMeta = (metadata: Record<string, string>, tensors: Record<string, Tensor> = {}) => serialize(tensors, { "chainrule.checkpoint": "1", ...metadata });
    expect(() => checkpointFromBytes(withMeta({ "chainrule.optimizer": "{" }))).toThrow(FormatError);
    expect(() => checkpointFromBytes(withMeta({ "chainrule.optimizer": json({ a: { $chainrule: "tensor", name: "nope" } }) }))).toThrow(/refers to a tensor "nope" that the file does not hold/);
    expect(() => checkpointFromBytes(withMeta({ "chainrule.optimizer": json({ a: { $chainrule: "tensor", name: "t" }, b: { $chainrule: "tensor", name: "t" } }) }, { t: tensor([1]) }))).toThrow(/twice/);
    expect(() => checkpointFromBytes(withMeta({ "chainrule.optimizer": json({ a: { $chainrule: "typedarray", type: "Float64Array", name: "t" } }) }, { t: tensor([1]) }))).toThrow(/is a Float64Array, but it is F32/);
    expect(() => checkpointFromBytes(withMeta({ "chainrule.optimizer": json({ a: { $chainrule: "typedarray", type: "Array", name: "t" } }) }, { t: tensor([1]) }))).toThrow(/unknown typed array/);
    expect(() => checkpointFromBytes(withMeta({ "chainrule.meta": json({ a: { $chainrule: "number", value: "7" } }) }))).toThrow(/bad number marker/);
    expect(() => checkpointFromBytes(withMeta({ "chainrule.meta": json({ a: { $chainrule: "eval" } }) }))).toThrow(/unknown marker/);
    expect(() => checkpointFromBytes(serialize({}, { "chainrule.checkpoint": "2" }))).toThrow(/version "2" is not supported/);
  });
});
