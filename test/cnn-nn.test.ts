/**
 * Convolutional layers as modules (issue 11): nn.Conv2d, pools, AdaptiveAvgPool2d, BatchNorm2d,
 * GroupNorm, Dropout2d and the nn.functional forms they run on.
 *
 * - Float64 gradcheck on random shapes (fast-check, seeded) of every new functional
 *   (adaptiveAvgPool2d, groupNorm, dropout2d, conv2d "same") and of the modules in train mode.
 * - adaptiveAvgPool2d against a direct definition (PyTorch's window rule) for every route it
 *   takes (global mean, divisible → avgPool2d, general → window matrices).
 * - train()/eval() reach every BatchNorm and Dropout below a model.
 * - PyTorch interop: a state dict saved by torch (test/fixtures/torch-cnn.safetensors, with I64
 *   num_batches_tracked) loads into the same chainrule Sequential and gives torch's eval logits;
 *   chainrule's file has torch's names, shapes and float dtypes, and where /usr/bin/python3
 *   imports torch, torch itself loads chainrule's file with load_state_dict(strict=True).
 * - Bad input: the messages name the layer's path, the shapes and what to do.
 * The PyTorch reference values for the same ops and modules are in test/cnn-golden.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Generator, ShapeError, ValueError, gradcheck, nn, tensor, type Tensor } from "../src/index.js";
import { load, save } from "../src/node.js";

const F = nn.functional;
const SEED = 20261206;

function randT(gen: Generator, shape: number[], requiresGrad = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Array.from({ length: n }, () => gen.random() * 2 - 1), { dtype: "float64", requiresGrad }).reshape(shape);
}

function expectGradOk(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): void {
  const report = gradcheck(f, inputs);
  expect(report.ok, JSON.stringify(report).slice(0, 400)).toBe(true);
}

/** PyTorch's adaptive average pooling by its definition. */
function adaptiveRef(x: Float64Array | number[], planes: number, h: number, w: number, oh: number, ow: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < planes; p++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const [r0, r1] = [Math.floor((i * h) / oh), Math.ceil(((i + 1) * h) / oh)];
        const [c0, c1] = [Math.floor((j * w) / ow), Math.ceil(((j + 1) * w) / ow)];
        let s = 0;
        for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) s += x[p * h * w + r * w + c]!;
        out.push(s / ((r1 - r0) * (c1 - c0)));
      }
  return out;
}

describe("nn.functional for convnets: forward by definition, float64 gradcheck on random shapes", () => {
  it("adaptiveAvgPool2d: every route (global, divisible, general, upsampling, null entries) equals the definition; gradcheck", () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 7 }), oh: fc.integer({ min: 1, max: 5 }), ow: fc.integer({ min: 1, max: 5 }), seed: fc.nat() }),
        ({ n, c, h, w, oh, ow, seed }) => {
          const x = randT(new Generator(seed), [n, c, h, w]);
          const y = F.adaptiveAvgPool2d(x, [oh, ow]);
          expect(y.shape).toEqual([n, c, oh, ow]);
          const ref = adaptiveRef(x.data as Float64Array, n * c, h, w, oh, ow);
          (y.toArray() as unknown as number[][][][]).flat(3).forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 12));
          expectGradOk((x) => F.adaptiveAvgPool2d(x!, [oh, ow]), [x]);
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
    const x = randT(new Generator(1), [2, 5, 6]);
    expect(F.adaptiveAvgPool2d(x, [null, 2]).shape).toEqual([2, 5, 2]);
    expect(F.adaptiveAvgPool2d(x, 1).shape).toEqual([2, 1, 1]);
  });

  it("groupNorm: each (sample, group) has mean 0 and variance 1 before the affine; gradcheck for groups 1, 2 and C", () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 3 }), g: fc.integer({ min: 1, max: 3 }), cg: fc.integer({ min: 1, max: 2 }), hw: fc.integer({ min: 1, max: 4 }), affine: fc.boolean(), seed: fc.nat() }),
        ({ n, g, cg, hw, affine, seed }) => {
          const gen = new Generator(seed);
          const c = g * cg;
          fc.pre(cg * hw > 1);
          const x = randT(gen, [n, c, hw, 2]);
          const y = F.groupNorm(x, g, null, null, 1e-12).reshape([n, g, cg * hw * 2]);
          const m = y.mean({ axis: 2 }).toArray() as number[][];
          const v = y.square().mean({ axis: 2 }).toArray() as number[][];
          m.flat().forEach((e) => expect(Math.abs(e)).toBeLessThan(1e-9));
          v.flat().forEach((e) => expect(e).toBeCloseTo(1, 6));
          const [wt, b] = [randT(gen, [c]), randT(gen, [c])];
          if (affine) expectGradOk((x, w, b) => F.groupNorm(x!, g, w!, b!), [x, wt, b]);
          else expectGradOk((x) => F.groupNorm(x!, g), [x]);
        },
      ),
      { seed: SEED + 1, numRuns: 25 },
    );
  });

  it("conv2d padding 'same' keeps H and W for odd and even kernels (PyTorch's split: the extra row after); 'valid' is no padding; gradcheck", () => {
    fc.assert(
      fc.property(
        fc.record({ h: fc.integer({ min: 2, max: 6 }), w: fc.integer({ min: 2, max: 6 }), kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }), dil: fc.integer({ min: 1, max: 2 }), seed: fc.nat() }),
        ({ h, w, kh, kw, dil, seed }) => {
          const gen = new Generator(seed);
          const x = randT(gen, [1, 2, h, w]);
          const wt = randT(gen, [3, 2, kh, kw]);
          const y = F.conv2d(x, wt, null, { padding: "same", dilation: dil });
          expect(y.shape).toEqual([1, 3, h, w]);
          // The same as padding by hand: (total − ⌊total/2⌋) after, ⌊total/2⌋ before.
          const th = dil * (kh - 1), tw = dil * (kw - 1);
          const padded = x.pad([[0, 0], [0, 0], [Math.floor(th / 2), th - Math.floor(th / 2)], [Math.floor(tw / 2), tw - Math.floor(tw / 2)]]);
          const ref = F.conv2d(padded, wt, null, { dilation: dil });
          (y.sub(ref).abs().max().item() as number) < 1e-12 || expect.fail("same != explicit pad");
          expectGradOk((x, w) => F.conv2d(x!, w!, null, { padding: "same", dilation: dil }), [x, wt]);
        },
      ),
      { seed: SEED + 2, numRuns: 25 },
    );
    const x = randT(new Generator(3), [1, 1, 5, 5]);
    expect(F.conv2d(x, randT(new Generator(4), [1, 1, 3, 3]), null, { padding: "valid" }).shape).toEqual([1, 1, 3, 3]);
  });

  it("dropout2d zeroes whole channels (same seed, same mask), scales the rest by 1/(1 − p); identity in eval; gradcheck through the mask", () => {
    const x = randT(new Generator(5), [4, 6, 3, 3]);
    const a = F.dropout2d(x, 0.5, { generator: new Generator(9) });
    const b = F.dropout2d(x, 0.5, { generator: new Generator(9) });
    expect(a.toArray()).toEqual(b.toArray());
    const ratio = a.div(x).reshape([24, 9]).toArray() as number[][];
    let dropped = 0;
    for (const row of ratio) {
      expect(row.every((r) => Math.abs(r - row[0]!) < 1e-12)).toBe(true);
      expect([0, 2].some((v) => Math.abs(row[0]! - v) < 1e-12)).toBe(true);
      if (row[0] === 0) dropped++;
    }
    expect(dropped).toBeGreaterThan(3);
    expect(dropped).toBeLessThan(21);
    expect(F.dropout2d(x, 0.5, { training: false })).toBe(x);
    expectGradOk((x) => F.dropout2d(x!, 0.3, { generator: new Generator(2) }), [randT(new Generator(6), [2, 3, 2, 2])]);
  });

  it("linear is x·Wᵀ + b with PyTorch's layout", () => {
    const gen = new Generator(8);
    const [x, w, b] = [randT(gen, [4, 3]), randT(gen, [2, 3]), randT(gen, [2])];
    const ref = x.matmul(w.transpose()).add(b);
    expect(F.linear(x, w, b).sub(ref).abs().max().item()).toBeLessThan(1e-15);
    expectGradOk((x, w, b) => F.linear(x!, w!, b!), [x, w, b]);
  });
});

/** The convnet of test/fixtures/torch_cnn_interop.py, layer for layer. */
const interopModel = (dtype: "float32" | "float64" = "float32"): nn.Sequential =>
  new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1, dtype }), new nn.BatchNorm2d(4, { dtype }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(4, 8, 3, { padding: 1, dtype }), new nn.ReLU(), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(8, 3, { dtype }),
  );

/** gradcheck of a model's parameters: f(params) puts the checker's leaves into the modules' fields. */
function gradcheckModel(model: nn.Module, forward: () => Tensor, beforeEach: () => void = () => {}): void {
  const slots = model.namedParameters().map(([name]) => {
    const path = name.split(".");
    const field = path.pop()!;
    const owner = path.length === 0 ? model : model.namedModules().find(([p]) => p === path.join("."))![1];
    return [owner as unknown as Record<string, unknown>, field] as const;
  });
  const inputs = slots.map(([owner, field]) => (owner[field] as Tensor).detach().clone().requiresGrad_());
  expectGradOk((...ps) => {
    slots.forEach(([owner, field], i) => (owner[field] = ps[i]));
    beforeEach();
    return forward();
  }, inputs);
}

describe("convnet modules", () => {
  it("gradcheck (float64) of a convnet's parameters in train mode: Conv2d ('same', groups, stride), BatchNorm2d, GroupNorm, pools, Dropout2d", () => {
    const dropGen = new Generator(3);
    const model = new nn.Sequential(
      new nn.Conv2d(2, 4, 3, { padding: "same", dtype: "float64", generator: new Generator(1) }), new nn.BatchNorm2d(4, { dtype: "float64" }), new nn.Tanh(),
      new nn.AvgPool2d(2, { stride: 1, padding: 1, countIncludePad: false }), new nn.Conv2d(4, 4, 2, { groups: 2, stride: 2, dtype: "float64", generator: new Generator(2) }),
      new nn.GroupNorm(2, 4, { dtype: "float64" }), new nn.Dropout2d(0.25, { generator: dropGen }), new nn.MaxPool2d(2, { stride: 1, ceilMode: true }),
      new nn.AdaptiveAvgPool2d([2, 1]), new nn.Flatten(), new nn.Linear(8, 3, { dtype: "float64", generator: new Generator(4) }),
    );
    const x = randT(new Generator(7), [3, 2, 5, 5], false);
    // Dropout2d draws a new mask each forward: reseed it so every evaluation sees the same one.
    gradcheckModel(model, () => model.forward(x), () => void dropGen.manualSeed(3));
  });

  it("train() and eval() reach every BatchNorm2d and Dropout2d below a model; eval uses the running statistics and drops nothing", () => {
    const inner = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.Dropout2d(0.5));
    const model = new nn.Sequential(inner, new nn.Flatten());
    model.eval();
    expect(model.modules().every((m) => !m.training)).toBe(true);
    const x = randT(new Generator(1), [2, 1, 5, 5], false).to("float32");
    const bn = inner.at(1) as nn.BatchNorm2d;
    const y1 = model.forward(x), y2 = model.forward(x);
    expect(y1.toArray()).toEqual(y2.toArray());
    expect(bn.numBatchesTracked!.item()).toBe(0);
    model.train();
    expect(model.modules().every((m) => m.training)).toBe(true);
    model.forward(x);
    expect(bn.numBatchesTracked!.item()).toBe(1);
    expect(Object.keys(model.stateDict())).toEqual(["0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias", "0.1.running_mean", "0.1.running_var", "0.1.num_batches_tracked"]);
  });

  it("prints like PyTorch", () => {
    expect(String(new nn.Conv2d(3, 16, 3, { padding: 1, stride: 2 }))).toBe("Conv2d(3, 16, kernelSize=[3, 3], stride=[2, 2], padding=[1, 1])");
    expect(String(new nn.BatchNorm2d(16))).toBe("BatchNorm2d(16, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)");
  });
});

describe("PyTorch interop: state dicts of the same convnet go both ways", () => {
  const fixture = JSON.parse(readFileSync("test/fixtures/torch-cnn.json", "utf8")) as {
    input: { shape: number[]; data: number[] };
    logits: { shape: number[]; data: number[] };
    state_dict: Record<string, { dtype: string; shape: number[] }>;
  };

  it("torch's state_dict (safetensors, I64 num_batches_tracked) loads with strict names and gives torch's eval logits", () => {
    const model = interopModel();
    model.loadStateDict(load("test/fixtures/torch-cnn.safetensors"));
    model.eval();
    const y = model.forward(tensor(fixture.input.data).reshape(fixture.input.shape));
    expect(y.shape).toEqual(fixture.logits.shape);
    (y.toArray() as number[][]).flat().forEach((v, i) => expect(Math.abs(v - fixture.logits.data[i]!)).toBeLessThan(1e-5));
    const bn = model.at(1) as nn.BatchNorm2d;
    expect(bn.numBatchesTracked!.item()).toBe(3);
  });

  it("chainrule's file has torch's names and shapes; torch loads it with load_state_dict(strict=True) and agrees on the logits", () => {
    const model = interopModel();
    const dir = mkdtempSync(join(tmpdir(), "chainrule-cnn-"));
    const file = join(dir, "model.safetensors");
    model.train();
    model.forward(randT(new Generator(2), [4, 1, 8, 8], false).to("float32")); // running statistics move
    model.eval();
    save(model, file);
    const saved = load(file);
    expect(Object.keys(saved).sort()).toEqual(Object.keys(fixture.state_dict).sort());
    for (const [name, spec] of Object.entries(fixture.state_dict)) {
      expect(saved[name]!.shape, name).toEqual(spec.shape);
      expect(saved[name]!.dtype, name).toBe(spec.dtype === "I64" ? "int32" : "float32");
    }
    const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" });
    if (probe.status !== 0) return; // No PyTorch here (CI): the names, shapes and dtypes above are what load_state_dict checks.
    const input = join(dir, "input.json");
    writeFileSync(input, JSON.stringify(fixture.input));
    const run = spawnSync("/usr/bin/python3", ["test/fixtures/torch_cnn_interop.py", "check", file, input], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const torchLogits = JSON.parse(run.stdout) as number[];
    const ours = (model.forward(tensor(fixture.input.data).reshape(fixture.input.shape)).toArray() as number[][]).flat();
    ours.forEach((v, i) => expect(Math.abs(v - torchLogits[i]!)).toBeLessThan(1e-5));
  });
});

describe("bad input: the layer's path, the shapes and what to do", () => {
  const model = new nn.Sequential(new nn.Conv2d(3, 8, 3), new nn.ReLU(), new nn.Conv2d(8, 4, 5), new nn.BatchNorm2d(4));
  model.namedModules(); // records the paths
  const cases: [string, () => unknown, typeof ShapeError | typeof ValueError, RegExp[]][] = [
    ["wrong channel count", () => model.forward(tensor(new Array(2 * 1 * 8 * 8).fill(0)).reshape([2, 1, 8, 8])), ShapeError, [/Conv2d '0'/, /\[N, 3, H, W\]/, /\[2, 1, 8, 8\]/, /weight \[8, 3, 3, 3\]/, /previous layer/]],
    ["flat input to a conv", () => model.forward(tensor(new Array(2 * 12).fill(0)).reshape([2, 12])), ShapeError, [/Conv2d '0'/, /reshape flat inputs/]],
    ["kernel larger than the padded input", () => model.forward(tensor(new Array(3 * 6 * 6).fill(0)).reshape([1, 3, 6, 6])), ShapeError, [/Conv2d '2'/, /larger than the padded input/]],
    ["non-integer stride", () => new nn.Conv2d(3, 8, 3, { stride: 1.5 }), ValueError, [/Conv2d: stride/, /positive integer/, /1\.5/]],
    ["zero stride", () => new nn.Conv2d(3, 8, 3, { stride: 0 }), ValueError, [/stride/, /positive integer/]],
    ["negative padding", () => new nn.Conv2d(3, 8, 3, { padding: -1 }), ValueError, [/padding/, /non-negative integer/]],
    ["zero dilation", () => new nn.Conv2d(3, 8, 3, { dilation: 0 }), ValueError, [/dilation/, /positive integer/]],
    ["unknown padding mode", () => new nn.Conv2d(3, 8, 3, { padding: "full" as "same" }), ValueError, [/padding/, /"same" or "valid"|non-negative integer/]],
    ["'same' with stride 2", () => new nn.Conv2d(3, 8, 3, { padding: "same", stride: 2 }), ValueError, [/"same" needs stride 1/, /give the padding as a number/]],
    ["groups that do not divide the channels", () => new nn.Conv2d(6, 8, 3, { groups: 4 }), ValueError, [/groups/, /divides both inChannels \(6\) and outChannels \(8\)/, /got 4/]],
    ["BatchNorm2d on a 2-D tensor", () => new nn.BatchNorm2d(4).forward(tensor([[1, 2, 3, 4], [5, 6, 7, 8]])), ShapeError, [/BatchNorm2d/, /\[N, 4, H, W\]/, /\[2, 4\]/, /use BatchNorm1d/]],
    ["BatchNorm1d on images", () => new nn.BatchNorm1d(2).forward(tensor(new Array(16).fill(1)).reshape([2, 2, 2, 2])), ShapeError, [/BatchNorm1d/, /use BatchNorm2d/]],
    ["GroupNorm groups not dividing", () => new nn.GroupNorm(3, 8), ValueError, [/GroupNorm/, /numGroups \(3\) must divide numChannels \(8\)/]],
    ["MaxPool2d window larger than input", () => new nn.MaxPool2d(5).forward(tensor(new Array(9).fill(0)).reshape([1, 1, 3, 3])), ShapeError, [/maxPool2d/, /larger than the padded input/, /\[1, 1, 3, 3\]/]],
    ["AdaptiveAvgPool2d size 0", () => new nn.AdaptiveAvgPool2d(0), ValueError, [/AdaptiveAvgPool2d/, /positive integer/]],
    ["Dropout2d p > 1", () => new nn.Dropout2d(1.5), ValueError, [/Dropout2d/, /\[0, 1\]/]],
    ["BatchNorm momentum out of range", () => new nn.BatchNorm2d(4, { momentum: 2 }), ValueError, [/momentum/, /\[0, 1\] or null/]],
  ];
  for (const [name, fn, cls, patterns] of cases) {
    it(name, () => {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(cls);
      for (const p of patterns) expect((error as Error).message).toMatch(p);
    });
  }
});
