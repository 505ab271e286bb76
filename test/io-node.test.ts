/**
 * Files on disk ("chainrule/node"): save/load, checkpoints, atomic writes under failure, and the
 * written bytes checked by an independent reader in plain Python (json + struct) when python3 exists.
 */
import * as fs from "node:fs";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  FormatError,
  Tensor,
  load,
  loadCheckpoint,
  loadWithMetadata,
  save,
  saveCheckpoint,
  serialize,
  tensor,
  writeFileAtomic,
} from "../src/node.js";

// Wrap the fs calls the atomic writer makes, so single calls can be made to fail.
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  return { ...actual, writeSync: vi.fn(actual.writeSync), fsyncSync: vi.fn(actual.fsyncSync), renameSync: vi.fn(actual.renameSync), openSync: vi.fn(actual.openSync) };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "chainrule-io-"));
});
afterEach(() => {
  // Back to the real implementations (vi.fn(impl) resets to impl), with the call history cleared.
  for (const f of [fs.writeSync, fs.fsyncSync, fs.renameSync, fs.openSync]) vi.mocked(f).mockReset();
  rmSync(dir, { recursive: true, force: true });
});

const weights = () => ({
  "fc.weight": tensor([[1, 2, 3], [4, 5, 6]], { dtype: "float32" }),
  "fc.bias": tensor([0.5, -0.5], { dtype: "float64" }),
  steps: tensor([3], { dtype: "int32" }),
  mask: tensor([true, false]),
});

type WriteBytes = (fd: number, buf: Uint8Array, offset: number, length: number) => number;

function sameTensors(a: Record<string, Tensor>, b: Record<string, Tensor>): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const [k, t] of Object.entries(b)) {
    expect(a[k]!.dtype).toBe(t.dtype);
    expect(a[k]!.shape).toEqual(t.shape);
    expect(Array.from(a[k]!.data)).toEqual(Array.from(t.data));
  }
}

describe("save / load", () => {
  it("round-trips a state dict and a module-like object, with metadata", () => {
    const path = join(dir, "model.safetensors");
    save(weights(), path, { metadata: { epoch: "2" } });
    sameTensors(load(path), weights());
    expect(loadWithMetadata(path).metadata).toEqual({ epoch: "2" });
    save({ stateDict: weights }, path);
    sameTensors(load(path), weights());
    expect(loadWithMetadata(path).metadata).toEqual({});
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
  });

  it("load of a corrupt file is a FormatError; of a missing file, Node's ENOENT", () => {
    const path = join(dir, "bad.safetensors");
    writeFileSync(path, serialize(weights()).subarray(0, 50));
    expect(() => load(path)).toThrow(FormatError);
    expect(() => load(join(dir, "missing.safetensors"))).toThrow(/ENOENT/);
  });

  it("checkpoints round-trip through files", () => {
    const path = join(dir, "ckpt.safetensors");
    const optimizer = { state: { 0: { step: 2, exp_avg: new Float32Array([1, 2]) } }, param_groups: [{ lr: 0.01, params: [0] }] };
    saveCheckpoint(path, { model: weights(), optimizer, meta: { epoch: 5, best: 0.25 } });
    const back = loadCheckpoint(path);
    sameTensors(back.model, weights());
    expect(back.optimizer).toEqual(optimizer);
    expect(back.meta).toEqual({ epoch: 5, best: 0.25 });
  });
});

describe("atomic writes", () => {
  function setup(): { path: string; before: Buffer } {
    const path = join(dir, "model.safetensors");
    save(weights(), path);
    return { path, before: readFileSync(path) };
  }
  const bigger = () => ({ ...weights(), extra: tensor(new Float32Array(4096), { shape: [64, 64] }) });
  const expectIntact = (path: string, before: Buffer) => {
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    sameTensors(load(path), weights());
  };

  it("a write that fails halfway (disk full) leaves the old file whole and no temp file", () => {
    const { path, before } = setup();
    const real = vi.mocked(fs.writeSync).getMockImplementation()! as unknown as WriteBytes;
    vi.mocked(fs.writeSync).mockImplementationOnce(((fd: number, buf: Uint8Array, off: number) => real(fd, buf, off, 100)) as typeof fs.writeSync);
    vi.mocked(fs.writeSync).mockImplementationOnce(() => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    });
    expect(() => save(bigger(), path)).toThrow(/ENOSPC/);
    expectIntact(path, before);
  });

  it("partial writes are continued until every byte is written", () => {
    const path = join(dir, "model.safetensors");
    const real = vi.mocked(fs.writeSync).getMockImplementation()! as unknown as WriteBytes;
    vi.mocked(fs.writeSync).mockImplementation(((fd: number, buf: Uint8Array, off: number, len: number) => real(fd, buf, off, Math.min(len, 7))) as typeof fs.writeSync);
    save(bigger(), path);
    vi.mocked(fs.writeSync).mockImplementation(real as unknown as typeof fs.writeSync);
    expect(readFileSync(path).equals(Buffer.from(serialize(bigger())))).toBe(true);
  });

  it("a failing fsync or rename leaves the old file whole and no temp file", () => {
    const { path, before } = setup();
    vi.mocked(fs.fsyncSync).mockImplementationOnce(() => {
      throw new Error("EIO: i/o error, fsync");
    });
    expect(() => save(bigger(), path)).toThrow(/EIO/);
    expectIntact(path, before);
    vi.mocked(fs.renameSync).mockImplementationOnce(() => {
      throw new Error("EXDEV: rename failed");
    });
    expect(() => saveCheckpoint(path, { model: bigger(), meta: { epoch: 1 } })).toThrow(/EXDEV/);
    expectIntact(path, before);
  });

  it("an error while building the bytes (a bad entry midway) writes nothing at all", () => {
    const { path, before } = setup();
    vi.mocked(fs.openSync).mockClear();
    const poisoned = { ...weights(), broken: "not a tensor" } as unknown as Record<string, Tensor>;
    expect(() => save(poisoned, path)).toThrow(/'broken' is not a Tensor/);
    const throwing = { stateDict: () => {
      throw new Error("stateDict exploded");
    } };
    expect(() => save(throwing, path)).toThrow(/exploded/);
    expect(() => saveCheckpoint(path, { model: weights(), optimizer: { f: () => 0 } })).toThrow(/function/);
    expectIntact(path, before);
    expect(fs.openSync).not.toHaveBeenCalled();
  });

  it("a real rename failure (the target is a directory) cleans up too", () => {
    const target = join(dir, "model.safetensors");
    mkdirSync(target);
    expect(() => save(weights(), target)).toThrow();
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    expect(statSync(target).isDirectory()).toBe(true);
  });

  it("writes to a temp file in the target's directory, then renames; keeps the old file's mode", () => {
    const { path } = setup();
    chmodSync(path, 0o640);
    save(bigger(), path);
    const renames = vi.mocked(fs.renameSync).mock.calls;
    const [from, to] = renames[renames.length - 1]!;
    expect(to).toBe(path);
    expect(String(from).startsWith(join(dir, ".model.safetensors."))).toBe(true);
    expect(String(from).endsWith(".tmp")).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    expect(fs.fsyncSync).toHaveBeenCalled();
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect(Array.from(readFileSync(path))).toEqual([1, 2, 3]);
  });
});

// ------------------------------------------------------------------ an independent reader in Python

const python = spawnSync("python3", ["--version"], { encoding: "utf8" });
const havePython = python.status === 0;
if (!havePython) console.warn("io-node tests: python3 not found; skipping the independent Python reader check.");

/** Reads a safetensors file with nothing but json and struct, checks the spec, prints the tensors. */
const PY_READER = String.raw`
import json, struct, sys, math
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
assert n % 8 == 0, "header length not a multiple of 8"
text = raw[8:8 + n].decode("utf-8")
assert text == text.rstrip(" ") + " " * (len(text) - len(text.rstrip(" "))), "padding is not spaces"
header = json.loads(text)
data = raw[8 + n:]
meta = header.pop("__metadata__", {})
fmt = {"F64": ("d", 8), "F32": ("f", 4), "I32": ("i", 4), "BOOL": ("?", 1)}
spans, out = [], {}
for name, info in header.items():
    code, size = fmt[info["dtype"]]
    begin, end = info["data_offsets"]
    count = math.prod(info["shape"])
    assert end - begin == count * size, name
    spans.append((begin, end))
    values = list(struct.unpack("<%d%s" % (count, code), data[begin:end]))
    out[name] = {"dtype": info["dtype"], "shape": info["shape"], "values": [repr(v) for v in values]}
spans.sort()
pos = 0
for b, e in spans:
    assert b == pos, "gap or overlap"
    pos = e
assert pos == len(data), "data not fully covered"
print(json.dumps({"metadata": meta, "tensors": out}))
`;

describe.skipIf(!havePython)("the written bytes, read by plain Python (json + struct)", () => {
  it("follow the spec: padding, offsets tiling the buffer, little-endian values", () => {
    const path = join(dir, "model.safetensors");
    const tensors = {
      ...weights(),
      "ünï.çødé": tensor([1.1, -2.5e-300, Infinity], { dtype: "float64" }),
      scalar: tensor(0.1, { dtype: "float32" }),
      empty: tensor(new Int32Array(0), { shape: [2, 0] }),
      neg: tensor([-2147483648, 2147483647], { dtype: "int32" }),
    };
    save(tensors, path, { metadata: { format: "pt", note: "ok ✓" } });
    const run = spawnSync("python3", ["-c", PY_READER, path], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const parsed = JSON.parse(run.stdout) as { metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: string[] }> };
    expect(parsed.metadata).toEqual({ format: "pt", note: "ok ✓" });
    expect(Object.keys(parsed.tensors).sort()).toEqual(Object.keys(tensors).sort());
    // Python's float repr is the shortest string that round-trips the double, so Number() restores it.
    const fromPython = (s: string): number =>
      s === "True" ? 1 : s === "False" ? 0 : s === "inf" ? Infinity : s === "-inf" ? -Infinity : s === "nan" ? NaN : Number(s);
    const dtypeName = { float32: "F32", float64: "F64", int32: "I32", bool: "BOOL" } as const;
    for (const [name, t] of Object.entries(tensors)) {
      const py = parsed.tensors[name]!;
      expect(py.dtype, name).toBe(dtypeName[t.dtype]);
      expect(py.shape, name).toEqual(t.shape);
      expect(py.values.map(fromPython), name).toEqual(Array.from(t.data));
    }
  });
});
