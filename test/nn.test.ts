import { describe, expect, it } from "vitest";
import { GraphError, Generator, ShapeError, Tensor, ValueError, DTypeError, gradcheck, manualSeed, nn, randn, tensor, zeros, randint } from "../src/index.js";

const { Linear, ReLU, Sequential, Module, Parameter, mlp, init } = nn;

class TwoLayerNet extends Module {
  layers = [new Linear(4, 5), new Linear(5, 3)];
  scale = new Parameter(tensor([2]));
  notAParam = tensor([1, 2, 3]);
  forward(x: Tensor): Tensor {
    return this.layers[1]!.forward(this.layers[0]!.forward(x).relu()).mul(this.scale);
  }
}

describe("Module: parameters found from fields", () => {
  it("names parameters with dotted paths (own first, then children), lists of modules included", () => {
    const net = new TwoLayerNet();
    // As in PyTorch: a module's own parameters first, then its children's, depth first.
    expect(net.namedParameters().map(([n]) => n)).toEqual(["scale", "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]);
    expect(net.parameters().every((p) => p instanceof Parameter && p.requiresGrad)).toBe(true);
    expect(net.numParameters()).toBe(4 * 5 + 5 + 5 * 3 + 3 + 1);
    expect(net.children().length).toBe(2);
  });

  it("lists a parameter shared by two layers once", () => {
    const a = new Linear(3, 3);
    const b = new Linear(3, 3);
    b.weight = a.weight;
    const seq = new Sequential(a, b);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(["0.weight", "0.bias", "1.bias"]);
  });

  it("Sequential uses PyTorch's names and prints like PyTorch", () => {
    const model = mlp([784, 100, 10]);
    expect(Object.keys(model.stateDict())).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    expect(model.toString()).toBe(
      "Sequential(\n  (0): Linear(inFeatures=784, outFeatures=100, bias=true)\n  (1): ReLU()\n  (2): Linear(inFeatures=100, outFeatures=10, bias=true)\n)",
    );
    expect(mlp([784, 100, 100, 10]).length).toBe(5);
    expect(mlp([2, 3, 2], { activation: "tanh" }).at(1)).toBeInstanceOf(nn.Tanh);
  });

  it("prints nested modules with indentation", () => {
    const text = new TwoLayerNet().toString();
    expect(text).toBe(
      "TwoLayerNet(\n  (layers.0): Linear(inFeatures=4, outFeatures=5, bias=true)\n  (layers.1): Linear(inFeatures=5, outFeatures=3, bias=true)\n)",
    );
    const nested = new Sequential(new Sequential(new Linear(2, 2), new ReLU()), new Linear(2, 1));
    expect(nested.toString()).toBe(
      "Sequential(\n  (0): Sequential(\n    (0): Linear(inFeatures=2, outFeatures=2, bias=true)\n    (1): ReLU()\n  )\n  (1): Linear(inFeatures=2, outFeatures=1, bias=true)\n)",
    );
  });

  it("train()/eval() reach every module; zeroGrad clears gradients", () => {
    const net = new TwoLayerNet();
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    net.forward(randn([2, 4])).sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it("a frozen parameter gets no gradient", () => {
    const fc = new Linear(3, 2);
    fc.weight.requiresGrad = false;
    fc.forward(randn([4, 3])).sum().backward();
    expect(fc.weight.grad).toBeNull();
    expect(fc.bias!.grad).not.toBeNull();
    expect(fc.numParameters({ trainableOnly: true })).toBe(2);
  });
});

describe("stateDict / loadStateDict", () => {
  it("round-trips values into a fresh model", () => {
    manualSeed(1);
    const a = mlp([4, 8, 3]);
    manualSeed(2);
    const b = mlp([4, 8, 3]);
    b.loadStateDict(a.stateDict());
    const x = randn([5, 4]);
    expect(b.forward(x).toArray()).toEqual(a.forward(x).toArray());
  });

  it("converts dtypes on load", () => {
    const a = mlp([2, 3], { dtype: "float64" });
    const b = mlp([2, 3]);
    b.loadStateDict(a.stateDict());
    expect(b.at(0)).toBeInstanceOf(Linear);
    expect(Array.from((b.at(0) as InstanceType<typeof Linear>).weight.data)).toEqual(Array.from(Float32Array.from((a.at(0) as InstanceType<typeof Linear>).weight.data)));
  });

  it("errors on missing, unexpected and wrongly shaped entries, naming them", () => {
    const model = mlp([4, 8, 3]);
    const sd = model.stateDict();
    const { ["2.bias"]: _dropped, ...missing } = sd;
    expect(() => model.loadStateDict(missing)).toThrow(/missing: "2.bias"/);
    expect(() => model.loadStateDict({ ...sd, extra: zeros([1]) })).toThrow(/unexpected: "extra"/);
    expect(() => model.loadStateDict({ ...sd, "0.weight": zeros([8, 5]) })).toThrow(ShapeError);
    expect(() => model.loadStateDict({ ...sd, "0.weight": zeros([8, 5]) })).toThrow(/"0.weight" has shape \[8, 5\] in the state dict but \[8, 4\] in the model/);
    const result = model.loadStateDict(missing, { strict: false });
    expect(result.missingKeys).toEqual(["2.bias"]);
    expect(() => model.loadStateDict({ "0.weight": zeros([1]) }, { strict: false })).toThrow(ShapeError);
  });

  it("includes buffers (BatchNorm running statistics)", () => {
    const model = new Sequential(new Linear(3, 4), new nn.BatchNorm1d(4));
    expect(Object.keys(model.stateDict())).toEqual(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"]);
  });
});

describe("Linear", () => {
  it("computes x·Wᵀ + b with PyTorch's layout and default init bounds", () => {
    const fc = new Linear(3, 2, { dtype: "float64" });
    expect(fc.weight.shape).toEqual([2, 3]);
    const bound = 1 / Math.sqrt(3);
    expect(Array.from(fc.weight.data).every((v) => Math.abs(v) <= bound)).toBe(true);
    fc.weight.data.set([1, 2, 3, 4, 5, 6]);
    fc.bias!.data.set([0.5, -0.5]);
    expect(fc.forward(tensor([[1, 1, 1]], { dtype: "float64" })).toArray()).toEqual([[6.5, 14.5]]);
    expect(fc.forward(tensor([1, 0, 0], { dtype: "float64" })).toArray()).toEqual([1.5, 3.5]);
    expect(new Linear(3, 2, { bias: false }).bias).toBeNull();
  });

  it("a wrong input width names the layer by its path and both shapes", () => {
    const model = mlp([784, 100, 10]);
    model.parameters();
    expect(() => model.forward(randn([2, 100]))).toThrow(ShapeError);
    expect(() => model.forward(randn([2, 100]))).toThrow(/Linear '0': expected input of shape \[\.\.\., 784\].*got \[2, 100\]/);
    class Net extends Module {
      encoder = mlp([4, 8, 6]);
      head = new Linear(5, 2);
      forward(x: Tensor): Tensor {
        return this.head.forward(this.encoder.forward(x));
      }
    }
    const net = new Net();
    net.namedModules();
    expect(() => net.forward(randn([1, 4]))).toThrow(/Linear 'head': expected input of shape \[\.\.\., 5\].*got \[1, 6\]/);
  });

  it("is seedable and passes gradcheck in float64", () => {
    const a = new Linear(3, 4, { generator: new Generator(5) });
    const b = new Linear(3, 4, { generator: new Generator(5) });
    expect(a.weight.toArray()).toEqual(b.weight.toArray());
    const fc = new Linear(3, 4, { dtype: "float64" });
    const x = randn([2, 3], { dtype: "float64", requiresGrad: true });
    const report = gradcheck((xx, w, bb) => {
      fc.weight = w as InstanceType<typeof Parameter>;
      fc.bias = bb as InstanceType<typeof Parameter>;
      return fc.forward(xx).tanh();
    }, [x, fc.weight, fc.bias!]);
    expect(report.message).toMatch(/passed/);
  });
});

describe("the lecture's nets", () => {
  it("mlp([D, H, C]) is f = W2·max(0, W1·x) and the whole model passes gradcheck in float64", () => {
    manualSeed(0);
    const model = mlp([4, 6, 6, 3]).to("float64");
    const x = randn([5, 4], { dtype: "float64" });
    const y = randint(0, 3, [5]);
    const params = model.parameters();
    const report = gradcheck((...ps) => {
      params.forEach((p, i) => p.data.set(ps[i]!.data));
      return lossWith(model, ps, x, y);
    }, params);
    expect(report.ok, report.message).toBe(true);
  });
});

/** The model's loss as a function of explicit parameter tensors (for gradcheck). */
function lossWith(model: InstanceType<typeof Sequential>, ps: Tensor[], x: Tensor, y: Tensor): Tensor {
  let h = x;
  let k = 0;
  for (const layer of model) {
    if (layer instanceof Linear) {
      h = h.matmul(ps[k]!.T).add(ps[k + 1]!);
      k += 2;
    } else h = layer.forward(h);
  }
  return nn.functional.crossEntropy(h, y);
}

describe("activations, Maxout, Flatten, Identity", () => {
  it("activation modules apply their ops", () => {
    const x = tensor([-2, -0.5, 0, 1.5], { dtype: "float64" });
    expect(new nn.ReLU().forward(x).toArray()).toEqual([0, 0, 0, 1.5]);
    expect(new nn.LeakyReLU(0.1).forward(x).toArray()).toEqual([-0.2, -0.05, 0, 1.5]);
    expect(new nn.Sigmoid().forward(x).toArray()).toEqual(x.sigmoid().toArray());
    expect(new nn.Tanh().forward(x).toArray()).toEqual(x.tanh().toArray());
    expect(new nn.ELU().forward(x).toArray()).toEqual(x.elu().toArray());
    expect(new nn.Softplus().forward(x).toArray()).toEqual(x.softplus().toArray());
    expect(new nn.Identity().forward(x)).toBe(x);
    expect(new nn.Flatten().forward(zeros([2, 1, 3, 3])).shape).toEqual([2, 9]);
    expect(new nn.LeakyReLU(0.1).toString()).toBe("LeakyReLU(negativeSlope=0.1)");
  });

  it("Maxout takes the max of k affine pieces and passes gradcheck", () => {
    const m = new nn.Maxout(3, 2, 4, { dtype: "float64" });
    const x = randn([5, 3], { dtype: "float64" });
    const z = m.linear.forward(x).reshape([5, 2, 4]);
    const expected = (z.toArray() as number[][][]).map((row) => row.map((pieces) => Math.max(...pieces)));
    expect(m.forward(x).toArray()).toEqual(expected);
    const xg = randn([5, 3], { dtype: "float64", requiresGrad: true });
    expect(gradcheck((a) => m.forward(a), [xg]).ok).toBe(true);
  });
});

describe("Dropout", () => {
  it("is inverted, seeded, and off in eval mode", () => {
    const x = randn([1000], { dtype: "float64" });
    const d1 = new nn.Dropout(0.3, { generator: new Generator(9) });
    const d2 = new nn.Dropout(0.3, { generator: new Generator(9) });
    const y1 = d1.forward(x);
    expect(y1.toArray()).toEqual(d2.forward(x).toArray());
    const kept = Array.from(y1.data).filter((v) => v !== 0);
    expect(kept.length).toBeGreaterThan(600);
    expect(kept.length).toBeLessThan(800);
    const i = Array.from(y1.data).findIndex((v) => v !== 0);
    expect(y1.data[i]).toBeCloseTo(x.data[i]! / 0.7, 12);
    d1.eval();
    expect(d1.forward(x)).toBe(x);
    expect(() => new nn.Dropout(1.5)).toThrow(ValueError);
  });
});

describe("BatchNorm1d and LayerNorm", () => {
  it("BatchNorm1d uses batch statistics in train mode and running statistics in eval mode", () => {
    const bn = new nn.BatchNorm1d(3, { dtype: "float64" });
    const x = randn([8, 3], { dtype: "float64" }).mul(2).add(1);
    const y = bn.forward(x);
    const mean = y.mean({ axis: 0 }).toArray() as number[];
    mean.forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-12));
    expect(bn.numBatchesTracked!.item()).toBe(1);
    const batchMean = x.mean({ axis: 0 });
    expect(bn.runningMean!.toArray()).toEqual(batchMean.mul(0.1).toArray());
    bn.eval();
    const rm = bn.runningMean!, rv = bn.runningVar!;
    const expected = x.sub(rm).div(rv.add(1e-5).sqrt());
    const got = bn.forward(x);
    (got.toArray() as number[][]).flat().forEach((v, i) => expect(v).toBeCloseTo((expected.toArray() as number[][]).flat()[i]!, 12));
    expect(() => bn.forward(zeros([2, 4], { dtype: "float64" }))).toThrow(/BatchNorm1d.*expected input \[N, 3\]/);
  });

  it("LayerNorm normalises the trailing axes", () => {
    const ln = new nn.LayerNorm(4, { dtype: "float64" });
    const y = ln.forward(randn([3, 4], { dtype: "float64" }));
    (y.mean({ axis: -1 }).toArray() as number[]).forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-12));
    expect(() => ln.forward(zeros([3, 5], { dtype: "float64" }))).toThrow(ShapeError);
  });
});

describe("Embedding", () => {
  it("looks up rows and sends gradient only to the rows looked up, summed on repeats", () => {
    const emb = new nn.Embedding(5, 3, { dtype: "float64" });
    const idx = tensor([[1, 3], [1, 0]], { dtype: "int32" });
    const out = emb.forward(idx);
    expect(out.shape).toEqual([2, 2, 3]);
    expect((out.toArray() as number[][][])[0]![1]).toEqual((emb.weight.toArray() as number[][])[3]);
    out.sum().backward();
    expect((emb.weight.grad!.toArray() as number[][]).map((r) => r[0])).toEqual([1, 2, 0, 1, 0]);
    expect(() => emb.forward(tensor([5], { dtype: "int32" }))).toThrow(/Embedding.*index 5/);
    expect(() => emb.forward(tensor([1]))).toThrow(DTypeError);
  });
});

describe("init", () => {
  it("initialisers have the documented spread and are seedable", () => {
    const w = zeros([200, 300], { dtype: "float64" });
    const std = (t: Tensor) => Math.sqrt(t.var().item());
    init.kaimingNormal(w, { generator: new Generator(1) });
    expect(std(w)).toBeCloseTo(Math.sqrt(2 / 300), 2);
    init.xavierUniform(w, { generator: new Generator(1) });
    expect(Math.max(...Array.from(w.data).map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 500));
    expect(std(w)).toBeCloseTo(Math.sqrt(2 / 500), 2);
    init.xavierNormal(w, { generator: new Generator(1) });
    expect(std(w)).toBeCloseTo(Math.sqrt(2 / 500), 2);
    init.kaimingUniform(w, { generator: new Generator(1) });
    expect(Math.max(...Array.from(w.data).map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 300));
    init.normal(w, 0.01, { generator: new Generator(1) });
    expect(std(w)).toBeCloseTo(0.01, 3);
    const again = init.normal(zeros([200, 300], { dtype: "float64" }), 0.01, { generator: new Generator(1) });
    expect(again.toArray()).toEqual(w.toArray());
    expect(init.constant(w, 3).data[7]).toBe(3);
    expect(init.zeros(w).data[7]).toBe(0);
    expect(init.calculateGain("tanh")).toBeCloseTo(5 / 3, 15);
  });
});

describe("Module.to", () => {
  it("converts parameters and buffers to float64 in place", () => {
    const model = new Sequential(new Linear(2, 2), new nn.BatchNorm1d(2)).to("float64");
    expect(model.parameters().every((p) => p.dtype === "float64")).toBe(true);
    expect(model.namedBuffers().find(([n]) => n === "1.running_mean")![1].dtype).toBe("float64");
    expect(() => model.to("int32")).toThrow(ValueError);
  });
});

describe("Parameter", () => {
  it("must be float and requires grad", () => {
    expect(new Parameter(zeros([2])).requiresGrad).toBe(true);
    expect(() => new Parameter(zeros([2], { dtype: "int32" }))).toThrow(ValueError);
    expect(GraphError).toBeDefined();
  });
});
