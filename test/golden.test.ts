/**
 * Golden tests: forward values and vector-Jacobian products checked against reference cases
 * computed in float64 by PyTorch (../shared/golden/golden-public.json, format documented in
 * ../shared/golden/README.md). Every case in the file is either run here or listed BY NAME in
 * PENDING (reported as a todo); a guard test fails on any case that is neither.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Tensor, avgPool2d, concat, conv2d, gradients, matmul, maxPool2d, tensor } from "../src/index.js";
import { batchNorm, binaryCrossEntropyWithLogits, crossEntropy, layerNorm, mseLoss, multiMarginLoss, svmLoss } from "../src/nn/functional/index.js";

// ------------------------------------------------------------------ the golden file

interface GoldenTensor {
  shape: number[];
  data: number[];
}
interface GoldenInput extends GoldenTensor {
  name: string;
  dtype: "float64" | "int64";
  requires_grad: boolean;
}
interface GoldenCase {
  name: string;
  op: string;
  params: Record<string, unknown>;
  inputs: GoldenInput[];
  output: GoldenTensor;
  upstream: GoldenTensor | null;
  grads: (GoldenTensor | null)[] | null;
  hvp?: GoldenTensor;
  hessian?: GoldenTensor;
}
interface GoldenFile {
  torch_version: string;
  cases: GoldenCase[];
}

const GOLDEN_DIR = new URL("../../shared/golden/", import.meta.url);
const GOLDEN_FILE = new URL("golden-public.json", GOLDEN_DIR);
const haveGolden = existsSync(fileURLToPath(GOLDEN_DIR));
if (!haveGolden) {
  const msg = `golden tests: ${fileURLToPath(GOLDEN_DIR)} is missing, so the PyTorch reference cases cannot run.`;
  // CI always has the folder: missing there is an error, not a skip.
  if (process.env.CI) throw new Error(`${msg} CI must provide ../shared/golden.`);
  console.warn(`${msg} Skipping them (CI always has the folder).`);
}
// When the folder exists the file must too: a read error fails the suite loudly.
const golden: GoldenFile = haveGolden ? (JSON.parse(readFileSync(GOLDEN_FILE, "utf8")) as GoldenFile) : { torch_version: "", cases: [] };

// ------------------------------------------------------------------ op adapters

type Params = Record<string, unknown>;
type Forward = (inputs: Tensor[], params: Params) => Tensor;

const num = (p: Params, key: string): number => {
  const v = p[key];
  if (typeof v !== "number") throw new Error(`param '${key}' is ${JSON.stringify(v)}, expected a number`);
  return v;
};
const axisOf = (p: Params): number | undefined => (p.axis === null || p.axis === undefined ? undefined : num(p, "axis"));
const reduceOpts = (p: Params) => ({ axis: axisOf(p), keepDim: p.keepdim === true });
/** An int or [h, w] param (kernel_size, stride, padding) as conv2d and the pooling ops take it. */
const size2 = (p: Params, key: string): number | [number, number] => {
  const v = p[key];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === "number")) return [v[0] as number, v[1] as number];
  return num(p, key);
};
/** The 0-d element t[i] of a 1-D tensor, differentiable. */
const at = (t: Tensor, i: number): Tensor => t.slice(0, i, i + 1).reshape([]);

/** Golden op name → the same computation with chainrule. */
const HANDLERS: Record<string, Forward> = {
  add: ([a, b]) => a!.add(b!),
  sub: ([a, b]) => a!.sub(b!),
  mul: ([a, b]) => a!.mul(b!),
  div: ([a, b]) => a!.div(b!),
  pow: ([a, b]) => a!.pow(b!),
  maximum: ([a, b]) => a!.maximum(b!),
  minimum: ([a, b]) => a!.minimum(b!),
  neg: ([x]) => x!.neg(),
  exp: ([x]) => x!.exp(),
  log: ([x]) => x!.log(),
  sqrt: ([x]) => x!.sqrt(),
  tanh: ([x]) => x!.tanh(),
  sigmoid: ([x]) => x!.sigmoid(),
  relu: ([x]) => x!.relu(),
  leaky_relu: ([x], p) => x!.leakyRelu(num(p, "negative_slope")),
  elu: ([x], p) => x!.elu(num(p, "alpha")),
  softplus: ([x], p) => x!.softplus({ beta: num(p, "beta"), threshold: num(p, "threshold") }),
  abs: ([x]) => x!.abs(),

  sum: ([x], p) => x!.sum(reduceOpts(p)),
  mean: ([x], p) => x!.mean(reduceOpts(p)),
  max: ([x], p) => x!.max(reduceOpts(p)),
  logsumexp: ([x], p) => x!.logsumexp(reduceOpts(p)),

  reshape: ([x], p) => x!.reshape(p.shape as number[]),
  transpose: ([x]) => x!.transpose(),
  permute: ([x], p) => x!.permute(p.dims as number[]),
  slice: ([x], p) => x!.slice(num(p, "axis"), num(p, "start"), num(p, "end")),
  concat: (xs, p) => concat(xs, num(p, "axis")),
  gather: ([x, index], p) => x!.gather(num(p, "axis"), index!),
  pick_per_row: ([x, idx]) => x!.gather(1, idx!.unsqueeze(1)).squeeze(1),

  matmul: ([a, b]) => matmul(a!, b!),
  bmm: ([a, b]) => matmul(a!, b!),
  matvec: ([a, b]) => matmul(a!, b!),
  // PyTorch layout W [out, in]: y = x Wᵀ + b.
  linear: ([x, w, b], p) => {
    const y = matmul(x!, w!, { transB: true });
    return p.bias === false ? y : y.add(b!);
  },
  softmax: ([x], p) => x!.softmax(num(p, "axis")),
  log_softmax: ([x], p) => x!.logSoftmax(num(p, "axis")),

  // The lecture examples, built from primitive gates as in the README formulas.
  lecture_add_mul: ([x, y, z]) => x!.add(y!).mul(z!),
  lecture_sigmoid_gate: ([w, x]) => {
    const s = at(w!, 0).mul(at(x!, 0)).add(at(w!, 1).mul(at(x!, 1))).add(at(w!, 2));
    return tensor(1, { dtype: "float64" }).div(s.neg().exp().add(1));
  },
  lecture_sq_norm_matvec: ([x, w]) => {
    const q = matmul(w!, x!);
    return q.mul(q).sum();
  },

  // Losses and normalisation (src/nn/functional.ts).
  cross_entropy: ([x, y], p) => crossEntropy(x!, y!, { reduction: p.reduction as "mean" }),
  multi_margin_loss: ([x, y], p) => multiMarginLoss(x!, y!, { margin: num(p, "margin"), p: num(p, "p"), reduction: p.reduction as "mean" }),
  // params.reduction is prose here ("mean over batch, no division by C"): svmLoss's default mean.
  svm_loss: ([x, y], p) => svmLoss(x!, y!, { margin: num(p, "margin") }),
  bce_with_logits: ([x, t], p) => binaryCrossEntropyWithLogits(x!, t!, { reduction: p.reduction as "mean" }),
  mse_loss: ([a, b], p) => mseLoss(a!, b!, { reduction: p.reduction as "mean" }),
  // Fresh running stats (mean 0, var 1) as in the case; their update is checked in losses.test.ts.
  batch_norm: ([x, w, b], p) => {
    const c = x!.shape[1]!;
    const rm = tensor(new Float64Array(c), { dtype: "float64" });
    const rv = tensor(new Float64Array(c).fill(1), { dtype: "float64" });
    return batchNorm(x!, rm, rv, w!, b!, { training: p.training === true, momentum: num(p, "momentum"), eps: num(p, "eps") });
  },
  layer_norm: ([x, w, b], p) => layerNorm(x!, p.normalized_shape as number[], w!, b!, num(p, "eps")),

  // Convolution and pooling, NCHW with PyTorch's weight layout [F, C, KH, KW] (src/ops/conv.ts).
  conv2d: ([x, w, b], p) => conv2d(x!, w!, p.bias === false ? null : b!, { stride: size2(p, "stride"), padding: size2(p, "padding") }),
  max_pool2d: ([x], p) =>
    maxPool2d(x!, { kernelSize: size2(p, "kernel_size"), stride: size2(p, "stride"), padding: size2(p, "padding"), ceilMode: p.ceil_mode === true }),
  avg_pool2d: ([x], p) =>
    avgPool2d(x!, { kernelSize: size2(p, "kernel_size"), stride: size2(p, "stride"), padding: size2(p, "padding"), ceilMode: p.ceil_mode === true }),
};

/** Second-order cases: f(x) for hvp_*; the direction v and constant W come as extra inputs. */
const HVP_FUNCTIONS: Record<string, (x: Tensor, consts: Tensor[]) => Tensor> = {
  hvp_sum_tanh_cubed: (x) => x.tanh().pow(3).sum(),
  hvp_sum_tanh_cubed_matvec: (x, [w]) => matmul(w!, x).tanh().pow(3).sum(),
};

/** Cases whose ops arrive with later issues: reported as todos, by name, with the issue. */
const PENDING: Record<string, string> = {};

/** Ops whose cases are run by another suite (which loads every case of that op from the same file). */
const ELSEWHERE: Record<string, string> = {
  train_mlp: "optim.test.ts",
};

const isHandled = (c: GoldenCase): boolean => Object.hasOwn(HANDLERS, c.op) || Object.hasOwn(HVP_FUNCTIONS, c.op) || Object.hasOwn(ELSEWHERE, c.op);
const isPending = (c: GoldenCase): boolean => Object.hasOwn(PENDING, c.name);

// ------------------------------------------------------------------ helpers

function makeInput(inp: GoldenInput): Tensor {
  if (inp.dtype === "int64") return tensor(inp.data, { shape: inp.shape, dtype: "int32" });
  return tensor(inp.data, { shape: inp.shape, dtype: "float64", requiresGrad: inp.requires_grad });
}

function fromGolden(t: GoldenTensor): Tensor {
  return tensor(t.data, { shape: t.shape, dtype: "float64" });
}

/** Checks shape and every element with |a − b| ≤ 1e-9 + 1e-9·|b|; the message names the worst element. */
function expectClose(actual: Tensor | null | undefined, expected: GoldenTensor, what: string): void {
  expect(actual, `${what}: missing`).toBeInstanceOf(Tensor);
  const a = actual!;
  expect(a.shape, `${what}: shape`).toEqual(expected.shape);
  expect(a.dtype, `${what}: dtype`).toBe("float64");
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const x = a.data[i]!;
    const y = expected.data[i]!;
    const excess = Math.abs(x - y) - (1e-9 + 1e-9 * Math.abs(y));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${a.data[worst]}, expected ${expected.data[worst]} (|diff| = ${Math.abs(a.data[worst]! - expected.data[worst]!)}, tolerance 1e-9 + 1e-9·|b|)`);
  }
}

function runGeneric(c: GoldenCase): void {
  const inputs = c.inputs.map(makeInput);
  const out = HANDLERS[c.op]!(inputs, c.params);
  expectClose(out, c.output, `${c.name} output`);
  expect(c.upstream, `${c.name}: case has no upstream`).not.toBeNull();
  out.backward(fromGolden(c.upstream!));
  c.inputs.forEach((inp, i) => {
    const g = c.grads![i];
    if (g === null || g === undefined) {
      expect(inp.requires_grad, `${c.name}: grads[${i}] is null but ${inp.name} requires grad`).toBe(false);
      expect(inputs[i]!.grad, `${c.name}: ${inp.name} got a gradient`).toBeNull();
    } else {
      expectClose(inputs[i]!.grad, g, `${c.name} grad of ${inp.name}`);
    }
  });
}

function runHvp(c: GoldenCase): void {
  const [x, ...consts] = c.inputs.map(makeInput);
  expect(c.inputs[0]!.requires_grad).toBe(true);
  const v = consts[0]!;
  const f = HVP_FUNCTIONS[c.op]!(x!, consts.slice(1));
  expectClose(f, c.output, `${c.name} f`);

  // df/dx with a differentiable graph, then H v = d<df/dx, v>/dx (double backward).
  const [g] = gradients(f, [x!], { createGraph: true });
  expectClose(g, c.grads![0]!, `${c.name} df/dx`);
  const [hv] = gradients(g!.mul(v).sum(), [x!], { retainGraph: true });
  expectClose(hv, c.hvp!, `${c.name} Hv`);

  // The full Hessian, one column H e_i per unit vector (laid out as x.shape + x.shape).
  const n = x!.size;
  const hessian = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const e = new Float64Array(n);
    e[i] = 1;
    const [col] = gradients(g!.mul(tensor(e, { shape: x!.shape, dtype: "float64" })).sum(), [x!], { retainGraph: true });
    for (let j = 0; j < n; j++) hessian[j * n + i] = col!.data[j]!;
  }
  expectClose(tensor(hessian, { shape: [...x!.shape, ...x!.shape], dtype: "float64" }), c.hessian!, `${c.name} Hessian`);

  // And the plain first-order path: backward with the given upstream fills x.grad.
  const f2 = HVP_FUNCTIONS[c.op]!(x!, consts.slice(1));
  f2.backward(fromGolden(c.upstream!));
  expectClose(x!.grad, c.grads![0]!, `${c.name} x.grad after backward`);
}

// ------------------------------------------------------------------ tests

describe.skipIf(!haveGolden)(`golden cases vs PyTorch ${golden.torch_version}`, () => {
  describe("coverage", () => {
    it("every case is handled or listed in PENDING (new cases cannot be ignored)", () => {
      const unknown = golden.cases.filter((c) => !isHandled(c) && !isPending(c)).map((c) => `${c.name} (op ${c.op})`);
      expect(unknown, "cases with an op that is neither handled nor pending: add a handler or a PENDING entry").toEqual([]);
    });
    it("no handled case is still listed as pending", () => {
      const both = golden.cases.filter((c) => isHandled(c) && isPending(c)).map((c) => c.name);
      expect(both, "these ops have handlers now: remove the cases from PENDING").toEqual([]);
    });
    it("every PENDING entry names a case in the file", () => {
      const names = new Set(golden.cases.map((c) => c.name));
      expect(Object.keys(PENDING).filter((n) => !names.has(n))).toEqual([]);
    });
    it("handled + pending = total", () => {
      const handled = golden.cases.filter(isHandled).length;
      const pending = golden.cases.filter(isPending).length;
      expect(golden.cases.length).toBeGreaterThan(0);
      expect(handled + pending).toBe(golden.cases.length);
    });
    it("suites that run cases elsewhere exist and select every case of their op", () => {
      for (const [op, file] of Object.entries(ELSEWHERE)) {
        const text = readFileSync(new URL(file, import.meta.url), "utf8");
        expect(text, `${file} must load the golden cases of op ${op}`).toContain(`c.op === "${op}"`);
      }
    });
    it("case names are unique", () => {
      expect(new Set(golden.cases.map((c) => c.name)).size).toBe(golden.cases.length);
    });
  });

  for (const c of golden.cases) {
    if (isPending(c)) {
      it.todo(`${c.name} [${c.op}]: pending, ${PENDING[c.name]}`);
    } else if (Object.hasOwn(HVP_FUNCTIONS, c.op)) {
      it(`${c.name} [${c.op}]: f, df/dx, Hv and the full Hessian`, () => runHvp(c));
    } else if (Object.hasOwn(HANDLERS, c.op)) {
      it(`${c.name} [${c.op}]: output and gradients`, () => runGeneric(c));
    }
  }
});
