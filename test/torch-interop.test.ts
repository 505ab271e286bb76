/**
 * PyTorch and Hugging Face checkpoints (issue 13): a torch state_dict saved as safetensors loads
 * into the same chainrule architecture, and chainrule's file loads into torch, for every layer
 * with parameters.
 *
 * - Fixtures (always run; CI has no torch): test/fixtures/torch_layers_interop.py's Net (Conv2d
 *   with dilation/stride/groups/no bias, BatchNorm2d, GroupNorm, LayerNorm, Embedding, Linear with
 *   and without bias, BatchNorm1d, Dropout, a ModuleList and a Maxout, inside a custom Module)
 *   saved by PyTorch in F32, F64, F16 and BF16. Every key maps, strict loading gives torch's eval
 *   output, and a wrong shape / missing / misspelt key is an error naming the key (and both shapes).
 * - chainrule's bytes carry torch's names, shapes and float dtypes (F32, or F16/BF16 on request);
 *   num_batches_tracked is written as I64, as torch's state_dict holds it (chainrule keeps it as
 *   int32 in memory), so a chainrule file has exactly the dtypes of torch's.
 * - Where /usr/bin/python3 imports torch (skipped only where it does not): the script's `check`
 *   loads chainrule's file with load_state_dict(strict=True) and agrees on the output, and the
 *   Python snippets of docs/io.md ("PyTorch and Hugging Face checkpoints") run as written.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Generator, ShapeError, concat, stateDictToBytes, tensor, nn, type DType, type Tensor } from "../src/index.js";
import { load, save } from "../src/node.js";

interface Fixture {
  torch: string;
  input: { shape: number[]; data: number[] };
  indices: { shape: number[]; data: number[] };
  output: { shape: number[]; float32: number[]; float64: number[]; f16: number[]; bf16: number[] };
  state_dict: Record<string, { dtype: string; shape: number[] }>;
}
const fixture = JSON.parse(readFileSync("test/fixtures/torch-layers.json", "utf8")) as Fixture;
const FILES = {
  float32: "test/fixtures/torch-layers.safetensors",
  float64: "test/fixtures/torch-layers-f64.safetensors",
  f16: "test/fixtures/torch-layers-f16.safetensors",
  bf16: "test/fixtures/torch-layers-bf16.safetensors",
} as const;

/** test/fixtures/torch_layers_interop.py's Net, layer for layer and name for name. */
class Net extends nn.Module {
  features: nn.Sequential;
  embed: nn.Embedding;
  proj: nn.Sequential;
  blocks: nn.Linear[];
  maxout: nn.Maxout;
  norm: nn.LayerNorm;
  head: nn.Linear;

  constructor(dtype: DType = "float32", generator = new Generator(13)) {
    super();
    const o = { dtype, generator };
    this.features = new nn.Sequential(
      new nn.Conv2d(2, 4, 3, { padding: 2, dilation: 2, ...o }), new nn.BatchNorm2d(4, { dtype }), new nn.ReLU(),
      new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2, bias: false, ...o }), new nn.GroupNorm(3, 6, { dtype }), new nn.Tanh(),
      new nn.MaxPool2d(2), new nn.LayerNorm([6, 2, 2], { dtype }), new nn.Flatten(),
    );
    this.embed = new nn.Embedding(5, 3, o);
    this.proj = new nn.Sequential(new nn.Linear(27, 8, o), new nn.BatchNorm1d(8, { dtype }), new nn.ReLU(), new nn.Dropout(0.25, { generator }));
    this.blocks = [new nn.Linear(8, 8, o), new nn.Linear(8, 8, { bias: false, ...o })];
    this.maxout = new nn.Maxout(8, 5, 3, o);
    this.norm = new nn.LayerNorm(5, { dtype });
    this.head = new nn.Linear(5, 4, { bias: false, ...o });
  }

  forward(x: Tensor, idx: Tensor): Tensor {
    let h = this.proj.forward(concat([this.features.forward(x), this.embed.forward(idx)], 1));
    for (const block of this.blocks) h = h.add(block.forward(h).tanh());
    return this.head.forward(this.norm.forward(this.maxout.forward(h)));
  }
}

const input = (dtype: DType = "float32"): [Tensor, Tensor] => [
  tensor(fixture.input.data, { dtype }).reshape(fixture.input.shape),
  tensor(fixture.indices.data, { dtype: "int32" }).reshape(fixture.indices.shape),
];
const outputOf = (model: Net, dtype: DType = "float32"): number[] => (model.forward(...input(dtype)).toArray() as number[][]).flat();
const maxDiff = (a: number[], b: number[]): number => {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
};

/** The header of a safetensors file: name → { dtype, shape } (what torch will see). */
function header(bytes: Uint8Array): Record<string, { dtype: string; shape: number[] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[] }>;
  delete parsed["__metadata__"];
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape }]));
}

const PYTHON = "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch, numpy"], { encoding: "utf8" }).status === 0;
if (!hasTorch && process.env.CHAINRULE_REQUIRE_TORCH === "1") throw new Error("PyTorch interop tests: /usr/bin/python3 cannot import torch but CHAINRULE_REQUIRE_TORCH=1 (apt-get install -y python3-torch)");

describe("PyTorch → chainrule: torch's state_dict (safetensors) loads strictly into the same architecture", () => {
  it("every key maps: chainrule's state-dict names, shapes and kinds are torch's (BatchNorm buffers in snake_case)", () => {
    const ours = new Net().stateDict();
    expect(Object.keys(ours).sort()).toEqual(Object.keys(fixture.state_dict).sort());
    for (const [name, spec] of Object.entries(fixture.state_dict)) {
      expect(ours[name]!.shape, name).toEqual(spec.shape);
      expect(ours[name]!.dtype, name).toBe(spec.dtype === "I64" ? "int32" : "float32");
    }
    // The torch file has exactly these entries too (I64 num_batches_tracked, F32 for the rest).
    expect(header(readFileSync(FILES.float32))).toEqual(fixture.state_dict);
  });

  it("float32: strict load gives torch's eval output within 1e-5; num_batches_tracked (I64) arrives as 3", () => {
    const model = new Net();
    expect(model.loadStateDict(load(FILES.float32))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    model.eval();
    expect(maxDiff(outputOf(model), fixture.output.float32)).toBeLessThan(1e-5);
    for (const bn of [model.features.at(1), model.proj.at(1)] as nn.BatchNorm2d[]) {
      expect(bn.numBatchesTracked!.dtype).toBe("int32");
      expect(bn.numBatchesTracked!.item()).toBe(3);
      expect(bn.runningVar!.toArray()).not.toEqual([1, 1, 1, 1]);
    }
    // Values are copied bit for bit: a loaded weight is torch's float32 exactly.
    const file = load(FILES.float32);
    expect(Array.from(model.maxout.linear.weight.data)).toEqual(Array.from(file["maxout.linear.weight"]!.data));
  });

  it("float64: a .double() state dict gives torch's float64 output within 1e-12 in a float64 model, and converts into a float32 one", () => {
    const f64 = new Net("float64");
    f64.loadStateDict(load(FILES.float64));
    f64.eval();
    expect(maxDiff(outputOf(f64, "float64"), fixture.output.float64)).toBeLessThan(1e-12);
    const f32 = new Net();
    f32.loadStateDict(load(FILES.float64));
    f32.eval();
    expect(f32.head.weight.dtype).toBe("float32");
    expect(maxDiff(outputOf(f32), fixture.output.float32)).toBeLessThan(1e-5);
  });

  for (const half of ["f16", "bf16"] as const) {
    it(`${half.toUpperCase()} (Hugging Face's half weights): read as float32 exactly, torch's output on the rounded weights within 1e-5`, () => {
      const h = header(readFileSync(FILES[half]));
      expect(h["head.weight"]!.dtype).toBe(half.toUpperCase());
      expect(h["features.1.num_batches_tracked"]!.dtype).toBe("I64");
      const model = new Net();
      model.loadStateDict(load(FILES[half]));
      model.eval();
      expect(model.head.weight.dtype).toBe("float32");
      expect(maxDiff(outputOf(model), fixture.output[half])).toBeLessThan(1e-5);
    });
  }

  it("Maxout is torch's Linear(in, out·k) viewed as [..., out, k] and maxed over k", () => {
    const file = load(FILES.float32);
    const model = new Net();
    model.loadStateDict(file);
    const h = tensor(Array.from({ length: 16 }, (_, i) => Math.sin(i))).reshape([2, 8]);
    const z = (h.matmul(file["maxout.linear.weight"]!.transpose()).add(file["maxout.linear.bias"]!).toArray() as number[][]);
    const ref = z.map((row) => Array.from({ length: 5 }, (_, j) => Math.max(...row.slice(3 * j, 3 * j + 3))));
    expect(maxDiff((model.maxout.forward(h).toArray() as number[][]).flat(), ref.flat())).toBeLessThan(1e-6);
  });
});

describe("a state dict that does not fit: the error names the key and both shapes", () => {
  const torchDict = (): Record<string, Tensor> => load(FILES.float32);
  const errorOf = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (e) {
      return e as Error;
    }
    throw new Error("expected an error");
  };

  it("a Linear weight in [in, out] layout (transposed), a Conv2d weight in HWIO", () => {
    const sd = torchDict();
    sd["proj.0.weight"] = sd["proj.0.weight"]!.transpose();
    sd["features.0.weight"] = sd["features.0.weight"]!.permute([2, 3, 1, 0]);
    const e = errorOf(() => new Net().loadStateDict(sd));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toContain('"proj.0.weight" has shape [27, 8] in the state dict but [8, 27] in the model');
    expect(e.message).toContain('"features.0.weight" has shape [3, 3, 2, 4] in the state dict but [4, 2, 3, 3] in the model');
    expect(e.message).toMatch(/same architecture/);
    // Even with strict: false a wrong shape is an error: nothing is loaded half-way.
    const model = new Net();
    const before = Array.from(model.head.weight.data);
    expect(() => model.loadStateDict(sd, { strict: false })).toThrow(ShapeError);
    expect(Array.from(model.head.weight.data)).toEqual(before);
  });

  it("a missing key (a file saved without num_batches_tracked) and a misspelt one (camelCase runningMean)", () => {
    const sd = torchDict();
    delete sd["features.1.num_batches_tracked"];
    sd["proj.1.runningMean"] = sd["proj.1.running_mean"]!;
    delete sd["proj.1.running_mean"];
    const e = errorOf(() => new Net().loadStateDict(sd));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toContain('missing: "features.1.num_batches_tracked", "proj.1.running_mean"');
    expect(e.message).toContain('unexpected: "proj.1.runningMean"');
    expect(e.message).toContain("{ strict: false }");
    const model = new Net();
    expect(model.loadStateDict(sd, { strict: false })).toEqual({
      missingKeys: ["features.1.num_batches_tracked", "proj.1.running_mean"],
      unexpectedKeys: ["proj.1.runningMean"],
    });
    expect(Array.from(model.head.weight.data)).toEqual(Array.from(sd["head.weight"]!.data));
  });

  it("a different architecture (a Linear without bias where torch has one)", () => {
    const sd = torchDict();
    delete sd["blocks.0.bias"];
    sd["blocks.1.bias"] = tensor([0, 0, 0, 0, 0, 0, 0, 0]);
    const e = errorOf(() => new Net().loadStateDict(sd));
    expect(e.message).toContain('missing: "blocks.0.bias"');
    expect(e.message).toContain('unexpected: "blocks.1.bias"');
  });
});

describe("tied weights: torch's state_dict lists a shared tensor under every name; loadStateDict takes any of them", () => {
  // As torch 1.13 does: Embedding(4, 3) and Linear(3, 4, bias=False) sharing one weight give
  // state_dict() keys ["emb.weight", "head.weight"]; named_parameters() only "emb.weight".
  class Tied extends nn.Module {
    emb = new nn.Embedding(4, 3);
    head = new nn.Linear(3, 4, { bias: false });
    shared = new nn.Linear(3, 3);
    again = this.shared; // one module under two names: "shared.*" and "again.*"
    constructor() {
      super();
      this.head.weight = this.emb.weight;
    }
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  const w = (k: number): Tensor => tensor(Array.from({ length: 12 }, (_, i) => i + k)).reshape([4, 3]);
  const lin = { "shared.weight": tensor(Array.from({ length: 9 }, (_, i) => -i)).reshape([3, 3]), "shared.bias": tensor([1, 2, 3]) };
  const again = { "again.weight": lin["shared.weight"], "again.bias": lin["shared.bias"] };

  it("chainrule's own state dict names each shared tensor once, under its first name", () => {
    expect(Object.keys(new Tied().stateDict())).toEqual(["emb.weight", "shared.weight", "shared.bias"]);
  });

  it("strict loading accepts torch's full key set, or any one name of each tie (what safetensors' save_model keeps)", () => {
    for (const sd of [
      { "emb.weight": w(0), "head.weight": w(0), ...lin, ...again },
      { "head.weight": w(0), ...again },
      { "emb.weight": w(0), ...lin },
    ]) {
      const model = new Tied();
      expect(model.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
      expect(model.head.weight).toBe(model.emb.weight);
      expect(Array.from(model.head.weight.data)).toEqual(Array.from(w(0).data));
      expect(Array.from(model.again.bias!.data)).toEqual([1, 2, 3]);
    }
  });

  it("a tie with none of its names is missing under its first name; a wrongly shaped alias is named", () => {
    expect(() => new Tied().loadStateDict({ ...lin })).toThrow(/missing: "emb\.weight"/);
    expect(new Tied().loadStateDict({ ...lin, "head.bias": tensor([0]) }, { strict: false })).toEqual({ missingKeys: ["emb.weight"], unexpectedKeys: ["head.bias"] });
    expect(() => new Tied().loadStateDict({ "emb.weight": w(0), "head.weight": w(0).transpose(), ...lin })).toThrow('"head.weight" has shape [3, 4] in the state dict but [4, 3] in the model');
  });
});

describe("chainrule → PyTorch: chainrule's file has torch's names, layouts and dtypes", () => {
  /** A chainrule-initialised Net whose running statistics have moved (2 training batches). */
  const trained = (): Net => {
    const model = new Net("float32", new Generator(2026));
    const gen = new Generator(5);
    for (let i = 0; i < 2; i++) {
      const x = tensor(Array.from({ length: 6 * 2 * 8 * 8 }, () => gen.normal())).reshape([6, 2, 8, 8]);
      model.forward(x, tensor([0, 1, 2, 3, 4, 1], { dtype: "int32" }));
    }
    return model.eval();
  };

  it("stateDictToBytes: torch's names, shapes and dtypes (F32 floats, num_batches_tracked an I64 scalar); F16/BF16 on request", () => {
    const h = header(stateDictToBytes(trained()));
    expect(Object.keys(h).sort()).toEqual(Object.keys(fixture.state_dict).sort());
    for (const [name, spec] of Object.entries(fixture.state_dict)) {
      expect(h[name], name).toEqual({ dtype: spec.dtype, shape: spec.shape });
    }
    for (const floatDtype of ["F16", "BF16"] as const) {
      const hh = header(stateDictToBytes(trained(), { floatDtype }));
      expect(hh["features.0.weight"]).toEqual({ dtype: floatDtype, shape: [4, 2, 3, 3] });
      expect(hh["proj.1.num_batches_tracked"]).toEqual({ dtype: "I64", shape: [] });
    }
  });

  it("save() and load() round-trip the model exactly (values and num_batches_tracked = 2)", () => {
    const model = trained();
    const file = join(mkdtempSync(join(tmpdir(), "chainrule-torch-")), "model.safetensors");
    save(model, file);
    const again = new Net("float32", new Generator(1));
    again.loadStateDict(load(file));
    again.eval();
    expect(outputOf(again)).toEqual(outputOf(model));
    expect((again.proj.at(1) as nn.BatchNorm1d).numBatchesTracked!.item()).toBe(2);
  });

  it.skipIf(!hasTorch)("torch loads chainrule's file with load_state_dict(strict=True), keeps num_batches_tracked int64 and agrees within 1e-5 (F32 and F16)", () => {
    const model = trained();
    const dir = mkdtempSync(join(tmpdir(), "chainrule-torch-"));
    const inputFile = join(dir, "input.json");
    writeFileSync(inputFile, JSON.stringify({ input: fixture.input, indices: fixture.indices }));
    for (const floatDtype of ["native", "F16"] as const) {
      const file = join(dir, `model-${floatDtype}.safetensors`);
      save(model, file, { floatDtype });
      const run = spawnSync(PYTHON, ["test/fixtures/torch_layers_interop.py", "check", file, inputFile], { encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      const got = JSON.parse(run.stdout) as { output: number[]; file_dtypes: Record<string, string>; model_dtypes: Record<string, string>; num_batches_tracked: Record<string, number> };
      expect(got.model_dtypes["features.1.num_batches_tracked"]).toBe("I64");
      expect(got.file_dtypes["features.1.num_batches_tracked"]).toBe("I64");
      expect(got.model_dtypes["head.weight"]).toBe("F32");
      expect(got.file_dtypes["head.weight"]).toBe(floatDtype === "native" ? "F32" : "F16");
      expect(got.num_batches_tracked).toEqual({ "features.1.num_batches_tracked": 2, "proj.1.num_batches_tracked": 2 });
      // The F16 file: compare with chainrule on the same rounded weights (its own file read back).
      let ours = model;
      if (floatDtype === "F16") {
        ours = new Net();
        ours.loadStateDict(load(file));
        ours.eval();
      }
      expect(maxDiff(got.output, outputOf(ours))).toBeLessThan(1e-5);
    }
  });
});

describe.skipIf(!hasTorch)("docs/io.md's Python snippets run as written (PyTorch → chainrule → PyTorch)", () => {
  const docs = readFileSync("docs/io.md", "utf8");
  const section = docs.slice(docs.indexOf("## PyTorch and Hugging Face checkpoints"));
  const blocks = [...section.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = (marker: string): string => {
    const found = blocks.find((b) => b.includes(marker));
    if (!found) throw new Error(`docs/io.md: no python block containing ${marker}`);
    return found;
  };

  /** The docs' TypeScript Net. */
  class DocNet extends nn.Module {
    features = new nn.Sequential(new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.MaxPool2d(2));
    head = new nn.Linear(8 * 14 * 14, 10);
    forward(x: Tensor): Tensor {
      return this.head.forward(this.features.forward(x).flatten(1));
    }
  }

  it("torch → chainrule (save_file) and chainrule → torch (load_file, strict=True), with safetensors or the fallback", () => {
    const dir = mkdtempSync(join(tmpdir(), "chainrule-docs-"));
    const hasSafetensors = spawnSync(PYTHON, ["-c", "import safetensors.torch"]).status === 0;
    const imports = (code: string): string => (hasSafetensors ? code : code.replace(/from safetensors\.torch import/g, "from safetensors_lite import"));
    writeFileSync(join(dir, "safetensors_lite.py"), block("# safetensors_lite.py"));
    const toChainrule = imports(block("save_file(model.state_dict()"));
    const toTorch = imports(block('load_file("from-chainrule.safetensors")'));
    // The harness's own lines: a fixed input, the eval output as JSON.
    const probe = "\nimport json\nx = torch.linspace(-1, 1, 2 * 28 * 28).reshape(2, 1, 28, 28)\nmodel.eval()\nwith torch.no_grad():\n    print(json.dumps(model(x).reshape(-1).tolist()))\n";
    const x = tensor(Array.from({ length: 2 * 28 * 28 }, (_, i) => -1 + (2 * i) / (2 * 28 * 28 - 1))).reshape([2, 1, 28, 28]);
    const py = (code: string): number[] => {
      writeFileSync(join(dir, "snippet.py"), code + probe);
      const run = spawnSync(PYTHON, ["snippet.py"], { cwd: dir, encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as number[];
    };

    const fromTorch = py(toChainrule);
    const model = new DocNet();
    model.loadStateDict(load(join(dir, "model.safetensors")));
    model.eval();
    expect(maxDiff((model.forward(x).toArray() as number[][]).flat(), fromTorch)).toBeLessThan(1e-5);

    model.train();
    model.forward(x.mul(3)); // the running statistics move, so the round trip carries something new
    model.eval();
    save(model, join(dir, "from-chainrule.safetensors"));
    const back = py(`${toChainrule}\n${toTorch}`);
    expect(maxDiff((model.forward(x).toArray() as number[][]).flat(), back)).toBeLessThan(1e-5);
  });
});
