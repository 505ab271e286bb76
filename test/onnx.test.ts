/**
 * ONNX export and import (issue 13): exported models run in ONNX Runtime (onnxruntime-web's wasm
 * build, in Node) with chainrule's outputs; files written by other tools (PyTorch's exporter,
 * test/fixtures/gen_onnx_fixture.py) load as trainable modules; hostile files give clear errors.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { ChainruleError, indexSelect, log, mean, neg, Tensor, gradcheck, manualSeed, models, nn, noGrad, onnx, optim, randn, serialize, deserialize, Generator } from "../src/index.js";
import { pb } from "../src/onnx/proto.js";

const fixture = (name: string): string => new URL(`./fixtures/${name}`, import.meta.url).pathname;

beforeAll(() => {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
});

async function runOrt(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.dtype === "int32" ? "int32" : "float32", t.data as Float32Array, [...t.shape]);
  const out = await session.run(ortFeeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

function evalForward(m: nn.Module, x: Tensor): Float32Array {
  m.eval();
  return noGrad(() => m.forward(x)).data as Float32Array;
}

/** Moves batch-norm running statistics off their initial values with a few training forwards. */
function warmUp(m: nn.Module, shape: number[]): void {
  m.train();
  noGrad(() => {
    for (let i = 0; i < 3; i++) m.forward(randn(shape).mul(2).add(0.5));
  });
  m.eval();
}

const decode = (bytes: Uint8Array) => pb.ModelProto.decode(bytes);
const opTypes = (bytes: Uint8Array) => (decode(bytes).graph!.node ?? []).map((n) => n.opType).filter((t) => t !== "Constant");

function cnn(): nn.Module {
  return models.buildModel({ model: "cnn", sizes: [784, 10], activation: "relu", loss: "softmax", layers: models.CNN_SPEC, input: [1, 28, 28] });
}

function mixed(): nn.Module {
  return new nn.Sequential(
    new nn.Linear(6, 8), new nn.LayerNorm(8), new nn.ELU(0.7), new nn.Linear(8, 8), new nn.BatchNorm1d(8), new nn.LeakyReLU(0.2),
    new nn.Softplus(2), new nn.Sigmoid(), new nn.Tanh(), new nn.Dropout(0.3), new nn.Maxout(8, 4, 2), new nn.Linear(4, 3),
  );
}

function convs(): nn.Module {
  return new nn.Sequential(
    new nn.Conv2d(3, 4, 3, { stride: 2, padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Conv2d(4, 4, 3, { padding: 1, groups: 2, dilation: 1 }),
    new nn.AvgPool2d(2, { ceilMode: true }), new nn.MaxPool2d(3, { stride: 1, padding: 1 }), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(4, 2),
  );
}

describe("onnx.exportModel", () => {
  manualSeed(0);
  const cases: [string, () => nn.Module, number[], string[]][] = [
    ["the MLP", () => nn.mlp([784, 100, 10]), [784], ["Gemm", "Relu", "Gemm"]],
    ["the convnet (conv32-bn-pool-conv64-pool-fc128)", cnn, [784], ["Reshape", "Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm"]],
    ["a mix of layers", mixed, [6], ["Gemm", "LayerNormalization", "Elu", "Gemm", "BatchNormalization", "LeakyRelu", "Mul", "Softplus", "Div", "Sigmoid", "Tanh", "Gemm", "Reshape", "ReduceMax", "Gemm"]],
    ["convolutions and pools", convs, [3, 11, 11], ["Conv", "BatchNormalization", "Relu", "Conv", "AveragePool", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm"]],
  ];
  for (const [name, make, features, ops] of cases) {
    it(`${name}: ONNX Runtime gives chainrule's outputs within 1e-5, for any batch size`, async () => {
      const m = make();
      warmUp(m, [16, ...features]);
      const bytes = onnx.exportModel(m, randn([2, ...features]));
      expect(opTypes(bytes)).toEqual(ops);
      for (const n of [1, 2, 7]) {
        const x = randn([n, ...features]);
        const out = await runOrt(bytes, { input: x });
        expect(maxDiff(out.output!, evalForward(m, x))).toBeLessThan(1e-5);
      }
    });
  }

  it("returns bytes of its own (not a view of a shared pool)", () => {
    const bytes = onnx.exportModel(nn.mlp([2, 2]), randn([1, 2]));
    expect(bytes.constructor).toBe(Uint8Array);
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
  });

  it("writes named inputs and outputs, a symbolic batch axis, the opset and the parameters under their state-dict names", () => {
    const m = nn.mlp([4, 3, 2]);
    const bytes = onnx.exportModel(m, randn([5, 4]), { inputNames: ["features"], outputName: "logits", opset: 18, metadata: { classes: "a,b" } });
    const model = decode(bytes);
    expect(Number(model.opsetImport![0]!.version)).toBe(18);
    expect(model.producerName).toBe("chainrule");
    expect(model.metadataProps![0]).toMatchObject({ key: "classes", value: "a,b" });
    const g = model.graph!;
    expect(g.input![0]!.name).toBe("features");
    expect(g.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(["batch", 4]);
    expect(g.output![0]!.name).toBe("logits");
    expect(g.output![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(["batch", 2]);
    expect(g.initializer!.map((t) => t.name).sort()).toEqual(Object.keys(m.stateDict()).sort());
    const w = g.initializer!.find((t) => t.name === "0.weight")!;
    expect(w.dims!.map(Number)).toEqual([3, 4]); // PyTorch's [out, in]
    expect(Array.from(new Float32Array(w.rawData!.slice().buffer))).toEqual(Array.from(m.stateDict()["0.weight"]!.data));
  });

  it("fixes the example's sizes with { dynamicBatch: false }", async () => {
    const m = convs();
    const x = randn([3, 3, 11, 11]);
    const bytes = onnx.exportModel(m, x, { dynamicBatch: false });
    expect(decode(bytes).graph!.input![0]!.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue))).toEqual([3, 3, 11, 11]);
    expect(maxDiff((await runOrt(bytes, { input: x })).output!, evalForward(m, x))).toBeLessThan(1e-5);
  });

  it("opsets 17 to 21 all run (ReduceMax takes its axes as an input from 18)", async () => {
    const m = mixed();
    const x = randn([4, 6]);
    for (const opset of [17, 18, 19, 20, 21]) {
      const bytes = onnx.exportModel(m, x, { opset });
      expect(maxDiff((await runOrt(bytes, { input: x })).output!, evalForward(m, x))).toBeLessThan(1e-5);
    }
    expect(() => onnx.exportModel(m, x, { opset: 16 })).toThrow(/opset must be an integer from 17 to 21, got 16/);
  });

  it("exports in eval mode and gives the module back in its former mode, unchanged", () => {
    const m = cnn();
    m.train();
    const before = serialize(m.stateDict());
    onnx.exportModel(m, randn([2, 784]));
    expect(m.training).toBe(true);
    expect(m.modules().every((k) => k.training)).toBe(true);
    expect(serialize(m.stateDict())).toEqual(before);
  });

  it("names the op and the module path of what it cannot export", () => {
    const m = new nn.Sequential(new nn.Linear(4, 8), new nn.GroupNorm(2, 8));
    expect(() => onnx.exportModel(m, randn([3, 4]))).toThrow(/op 'norm' in module '1' \(GroupNorm\).*GroupNorm has no ONNX operator/);
    expect(() => onnx.exportModel(m, randn([3, 4]))).toThrow(onnx.OnnxExportError);
  });

  it("refuses values computed from the input outside the graph instead of baking in the example's", () => {
    class Masked extends nn.Module {
      fc = new nn.Linear(3, 3);
      forward(x: Tensor): Tensor {
        const mask = x.gt(0); // a bool tensor: no gradient, not recorded
        return this.fc.forward(x).mul(mask.to("float32"));
      }
    }
    expect(() => onnx.exportModel(new Masked(), randn([2, 3]))).toThrow(/computed from the input outside the graph/);
  });

  it("refuses a forward whose ops change with the input", () => {
    class Branchy extends nn.Module {
      fc = new nn.Linear(3, 3);
      forward(x: Tensor): Tensor {
        const y = this.fc.forward(x);
        return x.shape[0]! > 2 ? y.relu() : y.tanh();
      }
    }
    expect(() => onnx.exportModel(new Branchy(), randn([2, 3]))).toThrow(/records different ops for another input/);
  });
});

describe("onnx.loadModel", () => {
  it("round-trips chainrule's export: the same outputs, parameter names and a model that trains", async () => {
    manualSeed(1);
    const m = cnn();
    warmUp(m, [8, 784]);
    const x = randn([3, 784]);
    const bytes = onnx.exportModel(m, x);
    const back = onnx.loadModel(bytes);
    expect(back.inputs).toEqual([{ name: "input", dtype: "float32", shape: [null, 784] }]);
    expect(Object.keys(back.stateDict()).sort()).toEqual(Object.keys(m.stateDict()).filter((k) => !k.endsWith("num_batches_tracked")).sort());
    expect(back.namedBuffers().map(([k]) => k).sort()).toEqual(["2.running_mean", "2.running_var"]);
    expect(maxDiff(evalForward(back, x), evalForward(m, x))).toBe(0);
    expect(maxDiff((await runOrt(bytes, { input: x })).output!, evalForward(back, x))).toBeLessThan(1e-5);
    // chainrule's own safetensors weights load into the imported module by name.
    const other = cnn();
    back.loadStateDict(deserialize(serialize(other.stateDict())).tensors, { strict: false });
    expect(maxDiff(evalForward(back, x), evalForward(other, x))).toBeLessThan(1e-6);
  });

  it("loads PyTorch's export (test/fixtures/torch-convnet.onnx) with PyTorch's and ONNX Runtime's outputs", async () => {
    const bytes = new Uint8Array(readFileSync(fixture("torch-convnet.onnx")));
    const fx = JSON.parse(readFileSync(fixture("torch-convnet.json"), "utf8")) as { shape: number[]; input: number[]; output: number[]; ops: string[] };
    const m = onnx.loadModel(bytes);
    expect(m.producer).toBe("pytorch");
    for (const op of fx.ops) expect(onnx.SUPPORTED_OPERATORS).toContain(op);
    const x = Tensor.fromStorage(new Float32Array(fx.input), fx.shape, "float32");
    const y = evalForward(m, x);
    expect(maxDiff(y, fx.output)).toBeLessThan(1e-5);
    expect(maxDiff((await runOrt(bytes, { image: x })).probs!, y)).toBeLessThan(1e-5);
    // Any batch size: the file's batch axis is symbolic.
    const one = Tensor.fromStorage(new Float32Array(fx.input.slice(0, 2 * 12 * 12)), [1, 2, 12, 12], "float32");
    expect(maxDiff(evalForward(m, one), fx.output.slice(0, 5))).toBeLessThan(1e-5);
    expect(() => m.forward(Tensor.fromStorage(new Float32Array(3 * 12 * 12), [1, 3, 12, 12], "float32"))).toThrow(/input 'image' must have shape \[\?, 2, 12, 12\], got \[1, 3, 12, 12\]/);
  });

  it("loads PyTorch's shape arithmetic (Shape, Gather, Unsqueeze, Concat, Reshape), MatMul, Slice, ReduceMean (test/fixtures/torch-shapes.onnx)", async () => {
    const bytes = new Uint8Array(readFileSync(fixture("torch-shapes.onnx")));
    const fx = JSON.parse(readFileSync(fixture("torch-shapes.json"), "utf8")) as { shape: number[]; input: number[]; output: number[]; ops: string[] };
    expect(fx.ops).toEqual(expect.arrayContaining(["Shape", "Gather", "Unsqueeze", "Reshape", "MatMul", "Slice", "ReduceMean", "BatchNormalization"]));
    const m = onnx.loadModel(bytes);
    expect(m.namedBuffers().map(([k]) => k).sort()).toEqual(["bn.running_mean", "bn.running_var"]);
    const x = Tensor.fromStorage(new Float32Array(fx.input), fx.shape, "float32");
    const y = evalForward(m, x);
    expect(maxDiff(y, fx.output)).toBeLessThan(1e-5);
    expect(maxDiff((await runOrt(bytes, { x })).logp!, y)).toBeLessThan(1e-5);
    // The computed shape follows the batch: two samples give the first two rows.
    const two = Tensor.fromStorage(new Float32Array(fx.input.slice(0, 2 * 24)), [2, 2, 3, 4], "float32");
    expect(maxDiff(evalForward(m, two), fx.output.slice(0, 8))).toBeLessThan(1e-5);
  });

  it("gradients through an imported model pass a float64 gradient check, and fine-tuning lowers the loss", () => {
    manualSeed(2);
    const bytes = onnx.exportModel(mixed(), randn([4, 6]));
    const m64 = onnx.loadModel(bytes, { dtype: "float64" });
    const x = randn([3, 6], { dtype: "float64" }).requiresGrad_();
    const params = m64.parameters();
    const report = gradcheck(() => m64.forward(x).square().sum(), [x, ...params]);
    expect(report.message).toMatch(/ok|pass/i);
    expect(report.ok).toBe(true);

    const m = onnx.loadModel(new Uint8Array(readFileSync(fixture("torch-convnet.onnx"))));
    const opt = new optim.Adam(m.parameters(), { lr: 0.01 });
    const xb = randn([8, 2, 12, 12], { generator: new Generator(3) });
    const loss = () => neg(mean(log(indexSelect(m.forward(xb), 1, [0]))));
    const first = loss().item();
    for (let i = 0; i < 20; i++) {
      opt.zeroGrad();
      const l = loss();
      l.backward();
      opt.step();
    }
    expect(loss().item()).toBeLessThan(first * 0.8);
  });
});

// ------------------------------------------------------------------ hostile files

/** A small valid model to break. */
function smallModel(): Uint8Array {
  manualSeed(4);
  return onnx.exportModel(new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2)), randn([1, 3]));
}

function edit(bytes: Uint8Array, change: (m: ReturnType<typeof pb.ModelProto.toObject> & Record<string, any>) => void): Uint8Array {
  const m = pb.ModelProto.decode(bytes);
  change(m as never);
  return new Uint8Array(pb.ModelProto.encode(m).finish());
}

describe("onnx.loadModel on bad files", () => {
  const good = smallModel();
  const cases: [string, () => Uint8Array | ArrayBuffer, RegExp][] = [
    ["an empty file", () => new Uint8Array(0), /the file is empty/],
    ["bytes that are not protobuf", () => new TextEncoder().encode("definitely not an onnx file, just text"), /not an ONNX model|holds no graph/],
    ["a truncated file", () => good.slice(0, Math.floor(good.length / 2)), /protobuf could not be decoded.*truncated/],
    ["an opset below the minimum", () => edit(good, (m) => (m.opsetImport[0].version = 11)), /opset 11, below the minimum 13/],
    ["an opset newer than the reader knows", () => edit(good, (m) => (m.opsetImport[0].version = 99)), /opset 99/],
    ["an initializer whose bytes disagree with its shape", () => edit(good, (m) => (m.graph.initializer[0].dims = [4, 4])), /initializer '0.weight': raw_data has 48 bytes but dims \[4, 4\] of FLOAT need 64/],
    ["an initializer with a negative dim", () => edit(good, (m) => (m.graph.initializer[0].dims = [-1, 12])), /every dim must be a non-negative integer/],
    ["an initializer of 2^40 elements", () => edit(good, (m) => (m.graph.initializer[0].dims = [1 << 20, 1 << 20])), /over 2³¹ elements/],
    ["external data", () => edit(good, (m) => Object.assign(m.graph.initializer[0], { dataLocation: 1, rawData: new Uint8Array(0), externalData: [{ key: "location", value: "w.bin" }] })), /external file \(location=w.bin\)/],
    ["an unknown op", () => edit(good, (m) => (m.graph.node.find((n: { opType: string }) => n.opType === "Relu").opType = "FancyRelu")), /operator 'FancyRelu' is not supported. The reader supports: Abs, Add/],
    ["a custom domain", () => edit(good, (m) => (m.graph.node[0].domain = "com.microsoft")), /domain 'com.microsoft'/],
    ["a cycle", () => edit(good, (m) => {
      const relu = m.graph.node.find((n: { opType: string }) => n.opType === "Relu");
      const gemm1 = m.graph.node.find((n: { opType: string }) => n.opType === "Gemm");
      gemm1.input[0] = relu.output[0];
    }), /cycle through/],
    ["a name nothing defines", () => edit(good, (m) => (m.graph.node.find((n: { opType: string }) => n.opType === "Relu").input[0] = "ghost")), /reads 'ghost', which no node, graph input or initializer defines/],
    ["two producers of one value", () => edit(good, (m) => (m.graph.node[1].output[0] = m.graph.node[0].output[0])), /every value must have one producer/],
    ["an attribute of the wrong type", () => edit(good, (m) => (m.graph.node.find((n: { opType: string }) => n.opType === "Gemm").attribute[0].type = 1)), /attribute 'transB' has type 1, expected 2/],
    ["no graph output", () => edit(good, (m) => (m.graph.output = [])), /declares no output/],
  ];
  for (const [name, make, message] of cases) {
    it(`${name}: a clear OnnxImportError`, () => {
      const bytes = make();
      expect(() => onnx.loadModel(bytes)).toThrow(onnx.OnnxImportError);
      expect(() => onnx.loadModel(bytes)).toThrow(message);
    });
  }

  it("fuzzed files: a model that runs or a chainrule error, never a crash", () => {
    let loaded = 0, rejected = 0;
    const x = randn([2, 3]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ kind: fc.constant("edit" as const), edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }) }),
          fc.record({ kind: fc.constant("truncate" as const), cut: fc.nat() }),
          fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), extra: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
        ),
        (mutation) => {
          let bytes = good.slice();
          if (mutation.kind === "truncate") bytes = good.slice(0, mutation.cut % good.length);
          else if (mutation.kind === "splice") {
            const at = mutation.at % good.length;
            bytes = new Uint8Array([...good.subarray(0, at), ...mutation.extra, ...good.subarray(at)]);
          } else for (const [pos, value] of mutation.edits) bytes[pos % bytes.length] = value;
          let m: onnx.OnnxModel;
          try {
            m = onnx.loadModel(bytes);
          } catch (e) {
            if (!(e instanceof onnx.OnnxImportError)) throw e;
            rejected++;
            return;
          }
          loaded++;
          try {
            const y = noGrad(() => m.forward(x));
            expect(y).toBeInstanceOf(Tensor);
          } catch (e) {
            if (!(e instanceof ChainruleError)) throw e;
          }
        },
      ),
      { numRuns: 1500 },
    );
    expect(rejected).toBeGreaterThan(100);
    expect(loaded).toBeGreaterThan(50);
  });
});
