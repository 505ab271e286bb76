/**
 * PyTorch reference cases for convolutional networks (issue 11): test/fixtures/cnn-torch.json,
 * made by test/fixtures/gen_cnn_torch.py (PyTorch 1.13, float64, CPU; format in the file's
 * "format" field and ../shared/golden/README.md).
 *
 * Every case in the file runs here; there is no skip list. A case whose op has no runner, or
 * whose chainrule API is missing, FAILS (the coverage tests below, and `api()`, which fails with
 * the missing function's name).
 *
 *  - conv2d: the op `conv2d` (numeric paddings), `nn.functional.conv2d` (all, incl. "same" /
 *    "valid") and the module `nn.Conv2d` with the case's weights loaded.
 *  - max_pool2d / avg_pool2d: the ops, and `nn.MaxPool2d` for the max-pool cases without dilation.
 *  - adaptive_avg_pool2d: `nn.functional.adaptiveAvgPool2d` and `nn.AdaptiveAvgPool2d`.
 *  - group_norm: `nn.functional.groupNorm` and `nn.GroupNorm`; layer_norm: `nn.functional.layerNorm`.
 *  - batch_norm_module: `nn.BatchNorm2d` / `nn.BatchNorm1d` through train and eval steps:
 *    output, gradients, running statistics and numBatchesTracked after every step.
 *  - train_cnn: a Sequential convnet built from the case's module list, 5 steps of SGD with
 *    momentum, Adam, AdamW: losses, first gradients and the full state dict after every step.
 *
 * Tolerances: |a − b| ≤ 1e-9 + 1e-9·|b| for ops and module steps (float64), and
 * |a − b| ≤ 1e-10 + 1e-8·|b| for the training trajectories.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Tensor, avgPool2d, conv2d, maxPool2d, nn, optim, tensor } from "../src/index.js";

// ------------------------------------------------------------------ the fixture

interface FixTensor {
  shape: number[];
  data: number[];
}
interface TypedTensor extends FixTensor {
  dtype: "float64" | "int64";
}
interface FixInput extends TypedTensor {
  name: string;
  requires_grad: boolean;
}
type Params = Record<string, unknown>;
interface OpCase {
  name: string;
  op: "conv2d" | "max_pool2d" | "avg_pool2d" | "adaptive_avg_pool2d" | "group_norm" | "layer_norm";
  params: Params;
  torch: string;
  inputs: FixInput[];
  output: FixTensor;
  upstream: FixTensor;
  grads: (FixTensor | null)[];
  same_padding?: { top: number; bottom: number; left: number; right: number };
}
interface BnStep {
  mode: "train" | "eval";
  input: FixTensor;
  output: FixTensor;
  upstream: FixTensor;
  grads: { x: FixTensor; weight: FixTensor | null; bias: FixTensor | null };
  running_mean?: FixTensor;
  running_var?: FixTensor;
  num_batches_tracked?: number;
}
interface BnCase {
  name: string;
  op: "batch_norm_module";
  params: { module: "BatchNorm2d" | "BatchNorm1d"; numFeatures: number; eps: number; momentum: number | null; affine: boolean; trackRunningStats: boolean };
  initial_state: Record<string, TypedTensor>;
  steps: BnStep[];
}
interface ModuleSpec {
  type: string;
  [option: string]: unknown;
}
interface TrainCase {
  name: string;
  op: "train_cnn";
  params: { optimizer: "SGD" | "Adam" | "AdamW"; hyperparameters: Record<string, number>; steps: number };
  modules: ModuleSpec[];
  inputs: FixInput[];
  initial_state: Record<string, TypedTensor>;
  initial_grads: Record<string, FixTensor>;
  losses: number[];
  final_loss: number;
  state_history: Record<string, TypedTensor>[];
  eval_logits: FixTensor;
  eval_loss: number;
}
type AnyCase = OpCase | BnCase | TrainCase;

const FIXTURE = JSON.parse(readFileSync(fileURLToPath(new URL("fixtures/cnn-torch.json", import.meta.url)), "utf8")) as { torch_version: string; cases: AnyCase[] };

// ------------------------------------------------------------------ the API under test (issue 11)

// The modules and functionals of issue 11 through a typed view of the spec, so this file
// type-checks while they are being written; a missing one fails the case that needs it.
type Size2 = number | [number, number];
interface ModuleLike {
  forward(x: Tensor): Tensor;
  parameters(): Tensor[];
  namedParameters(): [string, Tensor][];
  stateDict(): Record<string, Tensor>;
  loadStateDict(dict: Record<string, Tensor>, options?: { strict?: boolean }): unknown;
  train(mode?: boolean): ModuleLike;
  eval(): ModuleLike;
  zeroGrad(): void;
}
interface BatchNormLike extends ModuleLike {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked: Tensor | null;
}
interface WithWeights extends ModuleLike {
  weight: Tensor | null;
  bias: Tensor | null;
}
type Ctor<A extends unknown[], M = ModuleLike> = new (...args: A) => M;
interface BnOptions {
  eps?: number;
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
  dtype?: "float64";
}
interface PendingNN {
  Conv2d: Ctor<[number, number, Size2, { stride?: Size2; padding?: Size2 | "same" | "valid"; dilation?: Size2; groups?: number; bias?: boolean; dtype?: "float64" }], WithWeights>;
  BatchNorm2d: Ctor<[number, BnOptions], BatchNormLike>;
  BatchNorm1d: Ctor<[number, BnOptions], BatchNormLike>;
  MaxPool2d: Ctor<[Size2, { stride?: Size2; padding?: Size2; ceilMode?: boolean }]>;
  AdaptiveAvgPool2d: Ctor<[Size2]>;
  GroupNorm: Ctor<[number, number, { eps?: number; affine?: boolean; dtype?: "float64" }], WithWeights>;
  Flatten: Ctor<[]>;
  ReLU: Ctor<[]>;
  Linear: Ctor<[number, number, { dtype?: "float64" }]>;
  Sequential: Ctor<ModuleLike[]>;
  functional: {
    conv2d(x: Tensor, w: Tensor, b: Tensor | null, options: { stride?: Size2; padding?: Size2 | "same" | "valid"; dilation?: Size2; groups?: number }): Tensor;
    maxPool2d(x: Tensor, options: { kernelSize: Size2; stride?: Size2; padding?: Size2; dilation?: Size2; ceilMode?: boolean }): Tensor;
    avgPool2d(x: Tensor, options: { kernelSize: Size2; stride?: Size2; padding?: Size2; ceilMode?: boolean; countIncludePad?: boolean }): Tensor;
    adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor;
    groupNorm(x: Tensor, numGroups: number, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor;
    layerNorm(x: Tensor, normalizedShape: number[], weight: Tensor | null, bias: Tensor | null, eps: number): Tensor;
    crossEntropy(logits: Tensor, labels: Tensor): Tensor;
  };
}
interface OptimizerLike {
  step(): void;
  zeroGrad(): void;
}
interface PendingOptim {
  SGD: new (params: Tensor[], options: { lr: number; momentum?: number }) => OptimizerLike;
  Adam: new (params: Tensor[], options: { lr: number }) => OptimizerLike;
  AdamW: new (params: Tensor[], options: { lr: number; weightDecay?: number }) => OptimizerLike;
}
const NN = nn as unknown as PendingNN;
const OPTIM = optim as unknown as PendingOptim;

/** A member of the spec'd API, or a failure that names it (instead of "x is not a constructor"). */
function api<T>(owner: object, ownerName: string, key: string): T {
  const v = (owner as Record<string, unknown>)[key];
  if (typeof v !== "function") expect.fail(`${ownerName}.${key} is not exported (yet): the issue-11 API this case needs`);
  return v as T;
}
const nnCtor = <K extends keyof PendingNN>(key: K): PendingNN[K] => api<PendingNN[K]>(NN, "nn", key);
const F = <K extends keyof PendingNN["functional"]>(key: K): PendingNN["functional"][K] => api<PendingNN["functional"][K]>(NN.functional ?? {}, "nn.functional", key);

// ------------------------------------------------------------------ helpers

function f64(t: FixTensor, requiresGrad = false): Tensor {
  return tensor(Float64Array.from(t.data), { shape: t.shape, dtype: "float64", requiresGrad });
}
/** A state-dict entry: float64, or int64 as chainrule's int32 (num_batches_tracked, labels). */
function typed(t: TypedTensor): Tensor {
  return t.dtype === "int64" ? tensor(Int32Array.from(t.data), { shape: t.shape, dtype: "int32" }) : f64(t);
}
function stateFrom(dict: Record<string, TypedTensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, typed(v)]));
}

/** Shape, dtype float64 and every element within atol + rtol·|b|; the message names the worst element. */
function expectClose(actual: Tensor | null | undefined, expected: FixTensor, what: string, rtol = 1e-9, atol = 1e-9): void {
  expect(actual, `${what}: missing`).toBeInstanceOf(Tensor);
  const a = actual!;
  expect(a.shape, `${what}: shape`).toEqual(expected.shape);
  expect(a.dtype, `${what}: dtype`).toBe("float64");
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const x = a.data[i]!;
    const y = expected.data[i]!;
    const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${a.data[worst]}, expected ${expected.data[worst]} (|diff| = ${Math.abs(a.data[worst]! - expected.data[worst]!)}, tolerance ${atol} + ${rtol}·|b|)`);
  }
}
function expectNumber(actual: number, expected: number, what: string, rtol: number, atol: number): void {
  if (!(Math.abs(actual - expected) <= atol + rtol * Math.abs(expected))) expect.fail(`${what} is ${actual}, expected ${expected} (|diff| ${Math.abs(actual - expected)})`);
}
/** An int state entry (num_batches_tracked): int32 with exactly these values. */
function expectInt(actual: Tensor | null | undefined, expected: FixTensor, what: string): void {
  expect(actual, `${what}: missing`).toBeInstanceOf(Tensor);
  expect(actual!.dtype, `${what}: dtype`).toBe("int32");
  expect(actual!.shape, `${what}: shape`).toEqual(expected.shape);
  expect(Array.from(actual!.data as Int32Array), what).toEqual(expected.data);
}

const size2 = (v: unknown): Size2 => (Array.isArray(v) ? [v[0] as number, v[1] as number] : (v as number));
const num = (p: Params, key: string): number => {
  const v = p[key];
  if (typeof v !== "number") throw new Error(`param '${key}' is ${JSON.stringify(v)}, expected a number`);
  return v;
};

// ------------------------------------------------------------------ op cases

type Runner = (inputs: Tensor[], p: Params) => Tensor;

/** conv2d through the op (numeric padding only), nn.functional.conv2d and nn.Conv2d. */
const convOptions = (p: Params) => ({ stride: size2(p.stride), dilation: size2(p.dilation), groups: num(p, "groups") });
const convPadding = (p: Params): Size2 | "same" | "valid" => (p.padding === "same" || p.padding === "valid" ? p.padding : size2(p.padding));

/** Runners per op; every op case runs through each of its runners (a test apiece). */
function runnersFor(c: OpCase): [string, Runner][] {
  const p = c.params;
  switch (c.op) {
    case "conv2d": {
      const out: [string, Runner][] = [];
      const bias = p.bias === true;
      if (typeof p.padding !== "string") {
        out.push(["conv2d op", ([x, w, b]) => conv2d(x!, w!, bias ? b! : null, { ...convOptions(p), padding: size2(p.padding) })]);
      }
      out.push(["nn.functional.conv2d", ([x, w, b]) => F("conv2d")(x!, w!, bias ? b! : null, { ...convOptions(p), padding: convPadding(p) })]);
      return out;
    }
    case "max_pool2d":
      return [
        ["maxPool2d op", ([x]) => maxPool2d(x!, poolOptions(p))],
        ["nn.functional.maxPool2d", ([x]) => F("maxPool2d")(x!, poolOptions(p))],
      ];
    case "avg_pool2d":
      return [
        ["avgPool2d op", ([x]) => avgPool2d(x!, { ...poolOptions(p), countIncludePad: p.countIncludePad === true })],
        ["nn.functional.avgPool2d", ([x]) => F("avgPool2d")(x!, { ...poolOptions(p), countIncludePad: p.countIncludePad === true })],
      ];
    case "adaptive_avg_pool2d":
      return [["nn.functional.adaptiveAvgPool2d", ([x]) => F("adaptiveAvgPool2d")(x!, size2(p.outputSize))]];
    case "group_norm":
      return [["nn.functional.groupNorm", ([x, w, b]) => F("groupNorm")(x!, num(p, "numGroups"), w ?? null, b ?? null, num(p, "eps"))]];
    case "layer_norm":
      return [["nn.functional.layerNorm", ([x, w, b]) => F("layerNorm")(x!, p.normalizedShape as number[], w ?? null, b ?? null, num(p, "eps"))]];
  }
}
function poolOptions(p: Params): { kernelSize: Size2; stride: Size2; padding: Size2; dilation?: Size2; ceilMode: boolean } {
  return { kernelSize: size2(p.kernelSize), stride: size2(p.stride), padding: size2(p.padding), ...(p.dilation !== undefined ? { dilation: size2(p.dilation) } : {}), ceilMode: p.ceilMode === true };
}

/** Forward, backward with the case's upstream, then output and every input's gradient. */
function runOpCase(c: OpCase, run: Runner): void {
  const inputs = c.inputs.map((inp) => f64(inp, inp.requires_grad));
  const out = run(inputs, c.params);
  expectClose(out, c.output, `${c.name} output`);
  out.backward(f64(c.upstream));
  c.inputs.forEach((inp, i) => {
    const g = c.grads[i];
    if (g) expectClose(inputs[i]!.grad, g, `${c.name} grad of ${inp.name}`);
    else expect(inputs[i]!.grad, `${c.name}: ${inp.name} got a gradient`).toBeNull();
  });
}

/** The same case through a module: its parameters loaded from the case, its gradients checked. */
function runModuleCase(c: OpCase): void {
  const p = c.params;
  const byName = (n: string): FixInput | undefined => c.inputs.find((i) => i.name === n);
  const x = f64(byName("x")!, true);
  let m: ModuleLike;
  let params: WithWeights | null = null;
  if (c.op === "conv2d") {
    const w = byName("weight")!;
    const [o, cg, kh, kw] = w.shape as [number, number, number, number];
    const conv = new (nnCtor("Conv2d"))(cg * num(p, "groups"), o, [kh, kw], { ...convOptions(p), padding: convPadding(p), bias: p.bias === true, dtype: "float64" });
    const dict: Record<string, Tensor> = { weight: f64(w) };
    if (p.bias === true) dict.bias = f64(byName("bias")!);
    conv.loadStateDict(dict);
    m = params = conv;
  } else if (c.op === "max_pool2d") {
    m = new (nnCtor("MaxPool2d"))(size2(p.kernelSize), { stride: size2(p.stride), padding: size2(p.padding), ceilMode: p.ceilMode === true });
  } else if (c.op === "adaptive_avg_pool2d") {
    m = new (nnCtor("AdaptiveAvgPool2d"))(size2(p.outputSize));
  } else if (c.op === "group_norm") {
    const gn = new (nnCtor("GroupNorm"))(num(p, "numGroups"), x.shape[1]!, { eps: num(p, "eps"), affine: p.affine === true, dtype: "float64" });
    if (p.affine === true) gn.loadStateDict({ weight: f64(byName("weight")!), bias: f64(byName("bias")!) });
    else expect(gn.parameters(), `${c.name}: GroupNorm without affine has parameters`).toEqual([]);
    m = params = gn;
  } else {
    throw new Error(`no module runner for ${c.op}`);
  }
  const out = m.forward(x);
  expectClose(out, c.output, `${c.name} (module) output`);
  out.backward(f64(c.upstream));
  c.inputs.forEach((inp, i) => {
    const g = c.grads[i]!;
    const actual = inp.name === "x" ? x.grad : (params as unknown as Record<string, Tensor | null>)[inp.name]!.grad;
    expectClose(actual, g, `${c.name} (module) grad of ${inp.name}`);
  });
}
/** Ops that also run through their module (max pooling: only without dilation, which the module spec leaves out). */
const hasModuleRun = (c: OpCase): boolean =>
  c.op === "conv2d" || c.op === "adaptive_avg_pool2d" || c.op === "group_norm" || (c.op === "max_pool2d" && (c.params.dilation === undefined || c.params.dilation === 1));

// ------------------------------------------------------------------ BatchNorm module cases

function runBatchNormCase(c: BnCase): void {
  const p = c.params;
  const Cls = nnCtor(p.module);
  const bn = new Cls(p.numFeatures, { eps: p.eps, momentum: p.momentum, affine: p.affine, trackRunningStats: p.trackRunningStats, dtype: "float64" });
  // The module's state dict uses PyTorch's names, and holds exactly what PyTorch's does.
  expect(Object.keys(bn.stateDict()).sort(), `${c.name}: state dict names`).toEqual(Object.keys(c.initial_state).sort());
  bn.loadStateDict(stateFrom(c.initial_state));
  if (!p.affine) {
    expect(bn.weight, `${c.name}: weight without affine`).toBeNull();
    expect(bn.bias, `${c.name}: bias without affine`).toBeNull();
  }
  if (!p.trackRunningStats) {
    expect(bn.runningMean, `${c.name}: runningMean without running stats`).toBeNull();
    expect(bn.runningVar, `${c.name}: runningVar without running stats`).toBeNull();
  }
  c.steps.forEach((s, k) => {
    const what = `${c.name} step ${k} (${s.mode})`;
    if (s.mode === "train") bn.train();
    else bn.eval();
    bn.zeroGrad();
    const x = f64(s.input, true);
    const out = bn.forward(x);
    expectClose(out, s.output, `${what} output`);
    out.backward(f64(s.upstream));
    expectClose(x.grad, s.grads.x, `${what} grad of x`);
    if (s.grads.weight) expectClose(bn.weight?.grad, s.grads.weight, `${what} grad of weight`);
    if (s.grads.bias) expectClose(bn.bias?.grad, s.grads.bias, `${what} grad of bias`);
    if (s.running_mean) {
      expectClose(bn.runningMean, s.running_mean, `${what} runningMean`);
      expectClose(bn.runningVar, s.running_var!, `${what} runningVar`);
      expectInt(bn.numBatchesTracked, { shape: [], data: [s.num_batches_tracked!] }, `${what} numBatchesTracked`);
      const sd = bn.stateDict();
      expectClose(sd.running_mean, s.running_mean, `${what} stateDict running_mean`);
      expectInt(sd.num_batches_tracked, { shape: [], data: [s.num_batches_tracked!] }, `${what} stateDict num_batches_tracked`);
    }
  });
}

// ------------------------------------------------------------------ training trajectories

function buildModel(specs: ModuleSpec[]): ModuleLike {
  const layers = specs.map((s): ModuleLike => {
    const n = (k: string): number => s[k] as number;
    switch (s.type) {
      case "Conv2d":
        return new (nnCtor("Conv2d"))(n("inChannels"), n("outChannels"), n("kernelSize"), { padding: n("padding"), dtype: "float64" });
      case "BatchNorm2d":
        return new (nnCtor("BatchNorm2d"))(n("numFeatures"), { dtype: "float64" });
      case "ReLU":
        return new (nnCtor("ReLU"))();
      case "MaxPool2d":
        return new (nnCtor("MaxPool2d"))(n("kernelSize"), {});
      case "AdaptiveAvgPool2d":
        return new (nnCtor("AdaptiveAvgPool2d"))(n("outputSize"));
      case "Flatten":
        return new (nnCtor("Flatten"))();
      case "Linear":
        return new (nnCtor("Linear"))(n("inFeatures"), n("outFeatures"), { dtype: "float64" });
      default:
        throw new Error(`train_cnn: no builder for module type ${s.type}`);
    }
  });
  return new (nnCtor("Sequential"))(...layers);
}

const T_RTOL = 1e-8;
const T_ATOL = 1e-10;

function expectState(model: ModuleLike, expected: Record<string, TypedTensor>, what: string): void {
  const sd = model.stateDict();
  expect(Object.keys(sd).sort(), `${what}: state dict names`).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) {
    if (v.dtype === "int64") expectInt(sd[k], v, `${what} ${k}`);
    else expectClose(sd[k], v, `${what} ${k}`, T_RTOL, T_ATOL);
  }
}

function runTrainCase(c: TrainCase): void {
  const model = buildModel(c.modules);
  model.loadStateDict(stateFrom(c.initial_state));
  expectState(model, c.initial_state, `${c.name} initial state`);
  model.train();
  const x = f64(c.inputs[0]!);
  const labels = typed(c.inputs[1]!);
  const h = c.params.hyperparameters;
  const params = model.parameters();
  const opt =
    c.params.optimizer === "SGD"
      ? new (api<PendingOptim["SGD"]>(OPTIM, "optim", "SGD"))(params, { lr: h.lr!, momentum: h.momentum! })
      : c.params.optimizer === "Adam"
        ? new (api<PendingOptim["Adam"]>(OPTIM, "optim", "Adam"))(params, { lr: h.lr! })
        : new (api<PendingOptim["AdamW"]>(OPTIM, "optim", "AdamW"))(params, { lr: h.lr!, weightDecay: h.weightDecay! });
  const crossEntropy = F("crossEntropy");
  expect(c.state_history.length).toBe(c.params.steps);
  for (let k = 0; k < c.params.steps; k++) {
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(x), labels);
    expectNumber(loss.item(), c.losses[k]!, `${c.name} loss before update ${k + 1}`, T_RTOL, T_ATOL);
    loss.backward();
    if (k === 0) {
      // The first conv's bias feeds BatchNorm, so its gradient is 0 up to rounding (~1e-18 in
      // PyTorch): the absolute tolerance covers it. (Adam then moves it by only ~lr·|g|/eps ≈ 1e-11.)
      const named = new Map(model.namedParameters());
      expect([...named.keys()].sort(), `${c.name}: parameter names`).toEqual(Object.keys(c.initial_grads).sort());
      for (const [name, g] of Object.entries(c.initial_grads)) expectClose(named.get(name)?.grad, g, `${c.name} initial grad of ${name}`, T_RTOL, T_ATOL);
    }
    opt.step();
    expectState(model, c.state_history[k]!, `${c.name} state after update ${k + 1}`);
  }
  model.eval();
  const logits = model.forward(x);
  expectClose(logits, c.eval_logits, `${c.name} eval logits`, T_RTOL, T_ATOL);
  expectNumber(crossEntropy(logits, labels).item(), c.eval_loss, `${c.name} eval loss`, T_RTOL, T_ATOL);
  model.train();
  expectNumber(crossEntropy(model.forward(x), labels).item(), c.final_loss, `${c.name} final loss (train mode)`, T_RTOL, T_ATOL);
}

// ------------------------------------------------------------------ tests

const OP_CASES = FIXTURE.cases.filter((c): c is OpCase => !["batch_norm_module", "train_cnn"].includes(c.op));
const BN_CASES = FIXTURE.cases.filter((c): c is BnCase => c.op === "batch_norm_module");
const TRAIN_CASES = FIXTURE.cases.filter((c): c is TrainCase => c.op === "train_cnn");
const KNOWN_OPS = ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "group_norm", "layer_norm", "batch_norm_module", "train_cnn"];

describe(`CNN cases vs PyTorch ${FIXTURE.torch_version} (test/fixtures/cnn-torch.json)`, () => {
  describe("coverage", () => {
    it("every case has a runner (no case is left out)", () => {
      expect(FIXTURE.cases.filter((c) => !KNOWN_OPS.includes(c.op)).map((c) => `${c.name} (op ${c.op})`)).toEqual([]);
      expect(OP_CASES.length + BN_CASES.length + TRAIN_CASES.length).toBe(FIXTURE.cases.length);
    });
    it("case names are unique", () => {
      expect(new Set(FIXTURE.cases.map((c) => c.name)).size).toBe(FIXTURE.cases.length);
    });
    it("the file covers every family of issue 11", () => {
      const count = (op: string): number => FIXTURE.cases.filter((c) => c.op === op).length;
      for (const op of KNOWN_OPS) expect(count(op), `cases of ${op}`).toBeGreaterThan(0);
      expect(TRAIN_CASES.map((c) => c.params.optimizer).sort()).toEqual(["Adam", "AdamW", "SGD"]);
      const conv = OP_CASES.filter((c) => c.op === "conv2d");
      expect(conv.some((c) => c.params.padding === "same" && c.same_padding!.top !== c.same_padding!.bottom), "an even-kernel 'same' case").toBe(true);
      expect(BN_CASES.some((c) => c.params.momentum === null), "a momentum=None BatchNorm case").toBe(true);
    });
    it("'same' padding: the recorded split is PyTorch's (floor half before, the rest after)", () => {
      for (const c of OP_CASES.filter((k) => k.params.padding === "same")) {
        const [, , kh, kw] = c.inputs[1]!.shape as [number, number, number, number];
        const [dh, dw] = typeof c.params.dilation === "number" ? [c.params.dilation, c.params.dilation] : (c.params.dilation as [number, number]);
        const th = dh * (kh - 1);
        const tw = dw * (kw - 1);
        expect(c.same_padding, c.name).toEqual({ top: Math.floor(th / 2), bottom: th - Math.floor(th / 2), left: Math.floor(tw / 2), right: tw - Math.floor(tw / 2) });
        expect(c.output.shape.slice(-2), c.name).toEqual(c.inputs[0]!.shape.slice(-2));
      }
    });
  });

  describe("ops", () => {
    for (const c of OP_CASES) {
      for (const [via, run] of runnersFor(c)) it(`${c.name} via ${via}`, () => runOpCase(c, run));
      if (hasModuleRun(c)) it(`${c.name} via its module`, () => runModuleCase(c));
    }
  });

  describe("BatchNorm modules (train and eval steps, running statistics)", () => {
    for (const c of BN_CASES) it(`${c.name}: ${c.steps.map((s) => s.mode).join(", ")}`, () => runBatchNormCase(c));
  });

  describe("CNN training trajectories (5 steps, full state dicts)", () => {
    for (const c of TRAIN_CASES) it(`${c.name}: ${c.params.optimizer}(${JSON.stringify(c.params.hyperparameters)})`, () => runTrainCase(c));
  });
});
