/**
 * Backend parity cases for the webgpu backend (run in Chromium by test/webgpu/page.ts): each
 * builds its inputs from a seeded Generator, so the js reference and webgpu see the same
 * numbers, and returns the tensors to compare (forward outputs, then gradients).
 */
import * as cr from "../../src/index.js";
import { Generator, nn, optim, tensor, type Tensor } from "../../src/index.js";
import { convCases } from "./cases-conv.js";
import { webgpuTuning } from "../../src/backend/webgpu/backend.js";
import { leaf, randn, special, withGrad, type ParityCase } from "./helpers.js";
export type { ParityCase } from "./helpers.js";

export const cases: ParityCase[] = [];
const add = (c: ParityCase): void => void cases.push(c);

// ------------------------------------------------------------------ elementwise
const UNARY: [string, (x: Tensor) => Tensor][] = [
  ["neg", (x) => x.neg()], ["exp", (x) => x.exp()], ["log", (x) => x.log()], ["sqrt", (x) => x.sqrt()], ["abs", (x) => x.abs()],
  ["sign", (x) => x.sign()], ["tanh", (x) => x.tanh()], ["sigmoid", (x) => x.sigmoid()], ["relu", (x) => x.relu()],
  ["leakyRelu", (x) => x.leakyRelu(0.1)], ["elu", (x) => x.elu(0.7)], ["softplus", (x) => x.softplus({ beta: 2, threshold: 15 })],
  ["isFinite", (x) => x.isFinite()], ["logicalNot", (x) => x.logicalNot()], ["square", (x) => x.square()], ["reciprocal", (x) => x.reciprocal()],
];
for (const [name, f] of UNARY) {
  add({ name: `unary ${name}: special values`, rtol: 2e-6 * 8, atol: 1e-6, run: (g) => [f(special(g, 1000))] });
  if (!["isFinite", "logicalNot", "sign"].includes(name)) {
    add({ name: `unary ${name}: forward + backward`, run: (g) => withGrad(g, [[37, 29]], (x) => f(name === "log" || name === "sqrt" ? x.abs().add(0.1) : x)) });
  }
}

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor][] = [
  ["add", (a, b) => a.add(b)], ["sub", (a, b) => a.sub(b)], ["mul", (a, b) => a.mul(b)], ["div", (a, b) => a.div(b)],
  ["maximum", (a, b) => a.maximum(b)], ["minimum", (a, b) => a.minimum(b)],
];
const SHAPES: [number[], number[]][] = [[[33, 17], [33, 17]], [[33, 17], [17]], [[33, 17], [33, 1]], [[2, 1, 5], [2, 3, 5]], [[4, 1, 3, 1], [1, 6, 1, 2]], [[7], []]];
for (const [name, f] of BINARY) {
  for (const [sa, sb] of SHAPES) {
    add({ name: `binary ${name} ${JSON.stringify(sa)}·${JSON.stringify(sb)}: forward + backward`, run: (g) => withGrad(g, [sa, sb], (a, b) => f(a, name === "div" ? b.abs().add(0.5) : b)) });
  }
}
add({ name: "binary with a number on either side", run: (g) => { const x = randn(g, [40]); return [x.add(2), x.mul(-3), x.sub(0.5), cr.sub(1, x), x.div(4), cr.div(2, x.abs().add(1)), x.maximum(0.25)]; } });
add({ name: "pow: integer and fractional exponents, negative bases", run: (g) => { const x = randn(g, [50], 2); return [x.pow(2), x.pow(3), x.abs().pow(0.5), x.pow(-1), x.pow(0), x.pow(x.abs())]; } });
add({ name: "comparisons (eq ne gt ge lt le) and where", run: (g) => {
  const a = randn(g, [30, 4]).mul(2).to("int32").to("float32");
  const b = randn(g, [4]);
  return [a.eq(b), a.ne(b), a.gt(b), a.ge(b), a.lt(0), a.le(b), cr.where(a.gt(b), a, b), cr.where(a.gt(0), a, 0)];
} });
add({ name: "clamp forward + backward", run: (g) => withGrad(g, [[64]], (x) => x.clamp(-0.5, 0.7)) });
add({ name: "int32 arithmetic", run: () => {
  const a = tensor([1, -2, 3, 7, -9, 100000], { dtype: "int32" });
  const b = tensor([2, 2, -3, 2, 4, 3], { dtype: "int32" });
  return [a.add(b), a.sub(b), a.mul(b), a.maximum(b), a.eq(b).to("int32"), a.neg(), a.abs()];
} });

// ------------------------------------------------------------------ reductions
const AXES: [number[], cr.ReduceOptions | undefined][] = [
  [[37, 29], undefined], [[37, 29], { axis: 0 }], [[37, 29], { axis: 1 }], [[5, 6, 7], { axis: [0, 2] }], [[5, 6, 7], { axis: 1, keepDim: true }], [[3000], undefined], [[2, 70000], { axis: 1 }],
];
for (const [shape, opts] of AXES) {
  const tag = `${JSON.stringify(shape)} ${JSON.stringify(opts ?? {})}`;
  add({ name: `sum ${tag}: forward + backward`, rtol: 1e-4, atol: 1e-4, run: (g) => withGrad(g, [shape], (x) => x.sum(opts)) });
  add({ name: `mean ${tag}: forward + backward`, run: (g) => withGrad(g, [shape], (x) => x.mean(opts)) });
  add({ name: `max ${tag}: forward + backward`, run: (g) => withGrad(g, [shape], (x) => x.max(opts)) });
  add({ name: `min ${tag}`, run: (g) => [randn(g, shape).min(opts)] });
}
add({ name: "argmax / argmin (ties: the first), with NaN", run: (g) => {
  const x = randn(g, [20, 300]);
  const ties = tensor([[1, 3, 3, 0], [5, 5, 5, 5], [-1, NaN, 2, NaN]]);
  return [x.argmax({ axis: 1 }), x.argmin({ axis: 0 }), ties.argmax({ axis: 1 }), ties.argmin({ axis: 1 }), x.argmax()];
} });
add({ name: "var, std, logsumexp forward + backward", run: (g) => withGrad(g, [[12, 40]], (x) => x.var({ axis: 1 }).add(x.std({ axis: 0 }).sum()).add(x.logsumexp({ axis: 1 }))) });

// ------------------------------------------------------------------ matmul
const MM: [number[], number[]][] = [[[1, 1], [1, 1]], [[7, 13], [13, 5]], [[64, 64], [64, 64]], [[65, 130], [130, 67]], [[128, 784], [784, 256]], [[3, 17, 9], [9, 11]], [[2, 3, 5, 4], [2, 3, 4, 6]], [[9], [9, 4]], [[6, 9], [9]]];
/** Runs f with the webgpu matmul kernel `kind` (both are tested; "auto" picks one per adapter). */
function withMatmul<T>(kind: "tiles" | "registers", f: () => T): T {
  const saved = webgpuTuning.matmul;
  webgpuTuning.matmul = kind;
  try {
    return f();
  } finally {
    webgpuTuning.matmul = saved;
  }
}
for (const kind of ["tiles", "registers"] as const) {
  for (const [sa, sb] of MM) {
    add({ name: `matmul (${kind}) ${JSON.stringify(sa)}·${JSON.stringify(sb)}: forward + backward (every transpose)`, rtol: 1e-4, atol: 1e-4, run: (g) => withMatmul(kind, () => withGrad(g, [sa, sb], (a, b) => a.matmul(b))) });
  }
}
add({ name: "matmul of transposed views (Aᵀ·B, A·Bᵀ, Aᵀ·Bᵀ)", rtol: 1e-4, atol: 1e-4, run: (g) => { const a = randn(g, [70, 33]); const b = randn(g, [70, 45]); const c = randn(g, [45, 33]); return [a.T.matmul(b), a.matmul(c.T), c.matmul(a.T).T]; } });

// ------------------------------------------------------------------ shapes
add({ name: "permute, transpose, reshape, flatten, squeeze: forward + backward", run: (g) => withGrad(g, [[2, 3, 4, 5]], (x) => x.permute([2, 0, 3, 1]).reshape([4, 30]).transpose(0, 1).flatten().unsqueeze(0).squeeze(0)) });
add({ name: "slice with steps, narrow, split: forward + backward", run: (g) => withGrad(g, [[9, 14]], (x) => { const [a, b] = x.slice(1, 1, 13, 3).narrow(0, 2, 6).split(3, 0); return a!.mul(b!); }) });
add({ name: "expand / broadcastTo: forward + backward", run: (g) => withGrad(g, [[3, 1, 4]], (x) => x.expand([3, 5, 4]).mul(2)) });
add({ name: "pad and concat: forward + backward", run: (g) => withGrad(g, [[3, 4], [2, 4]], (a, b) => cr.concat([a.pad([[1, 2], [0, 3]], 0.5), b.pad([[0, 0], [1, 2]])], 0)) });
add({ name: "gather and indexSelect: forward + backward (repeated indices accumulate)", run: (g) => {
  const idx = tensor([[0, 2, 2], [1, 1, 0], [3, 0, 3]], { dtype: "int32" });
  return withGrad(g, [[3, 4], [5, 6]], (a, b) => cr.gather(a, 1, idx).sum().add(b.indexSelect(0, [4, 0, 4, 2]).sum()));
} });
add({ name: "cast: float → int32 (toward zero) → float, to bool", run: (g) => { const x = randn(g, [100], 5); return [x.to("int32"), x.to("int32").to("float32"), x.to("bool"), x.gt(0).to("float32"), tensor([NaN, -0, 2.9, -2.9]).to("int32")]; } });
add({ name: "clone, detach, contiguous copies", run: (g) => { const x = randn(g, [10, 10]); return [x.clone(), x.detach().add(1), x.T.clone()]; } });
add({ name: "creation on the device: zeros, ones, full, arange, linspace, eye, rand", run: (g) => [cr.zeros([5, 3]), cr.ones([4]), cr.full([2, 2], 7), cr.arange(0, 10, 3), cr.linspace(0, 1, 5), cr.eye(3, 4), cr.rand([6], { generator: g })] });

// ------------------------------------------------------------------ softmax and losses
add({ name: "softmax / logSoftmax (last axis and axis 0), with ±∞ and NaN rows", run: (g) => {
  const x = randn(g, [33, 300], 3);
  const odd = tensor([[1, 2, Infinity], [-Infinity, -Infinity, -Infinity], [NaN, 1, 2], [1000, 1001, 999]]);
  return [x.softmax(-1), x.logSoftmax(-1), x.softmax(0), odd.softmax(-1), odd.logSoftmax(-1)];
} });
add({ name: "softmax / logSoftmax backward", run: (g) => withGrad(g, [[17, 11]], (x) => x.softmax(-1).add(x.logSoftmax(-1))) });
for (const opts of [{}, { labelSmoothing: 0.1 }, { reduction: "sum" as const }, { reduction: "none" as const }, { ignoreIndex: 3 }, { weight: "w" }] as Record<string, unknown>[]) {
  add({ name: `crossEntropy ${JSON.stringify(opts)}: forward + backward`, run: (g) => {
    const labels = tensor(Array.from({ length: 40 }, (_, i) => (i * 7) % 10), { dtype: "int32" });
    const o: cr.nn.functional.CrossEntropyOptions = { ...(opts as object) };
    if (opts.weight) o.weight = tensor(Array.from({ length: 10 }, (_, i) => 0.5 + i / 10));
    return withGrad(g, [[40, 10]], (x) => nn.functional.crossEntropy(x.mul(3), labels, o));
  } });
}
add({ name: "nllLoss, svmLoss, multiMarginLoss: forward + backward", run: (g) => {
  const labels = tensor(Array.from({ length: 30 }, (_, i) => (i * 3) % 7), { dtype: "int32" });
  return withGrad(g, [[30, 7]], (x) => nn.functional.nllLoss(x.logSoftmax(-1), labels).add(nn.functional.svmLoss(x, labels)).add(nn.functional.multiMarginLoss(x, labels, { p: 2, margin: 0.5 })));
} });
add({ name: "binaryCrossEntropy, smoothL1Loss, huberLoss, l2/l1 regularization: forward + backward", run: (g) => withGrad(g, [[20, 3], [20, 3]], (a, b) =>
  nn.functional.binaryCrossEntropy(a.sigmoid(), b.sigmoid()).add(nn.functional.smoothL1Loss(a, b, { beta: 0.5 })).add(nn.functional.huberLoss(a, b)).add(nn.functional.l2Regularization([a, b], 0.1)).add(nn.functional.l1Regularization([a], 0.01))) });
add({ name: "mseLoss, l1Loss, binaryCrossEntropyWithLogits: forward + backward", run: (g) => withGrad(g, [[20, 3], [20, 3]], (a, b) => nn.functional.mseLoss(a, b).add(nn.functional.l1Loss(a, b)).add(nn.functional.binaryCrossEntropyWithLogits(a, b.sigmoid()))) });

// ------------------------------------------------------------------ training
function trainSteps(g: Generator, make: (o: Tensor[]) => optim.Optimizer, steps: number): Tensor[] {
  const model = new nn.Sequential(new nn.Linear(20, 32, { generator: g }), new nn.Tanh(), new nn.Linear(32, 16, { generator: g }), new nn.ReLU(), new nn.Linear(16, 5, { generator: g }));
  const opt = make(model.parameters());
  const x = randn(g, [64, 20]);
  const y = tensor(Array.from({ length: 64 }, (_, i) => i % 5), { dtype: "int32" });
  const losses: Tensor[] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const loss = nn.functional.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(loss.detach());
  }
  return [...losses, ...model.parameters()];
}
add({ name: "training: 10 steps of SGD with momentum, nesterov and weight decay (losses and parameters)", rtol: 1e-3, atol: 1e-4, run: (g) => trainSteps(g, (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }), 10) });
add({ name: "training: 10 steps of Adam (losses and parameters)", rtol: 1e-3, atol: 1e-4, run: (g) => trainSteps(g, (p) => new optim.Adam(p, { lr: 1e-2 }), 10) });
add({ name: "training: 10 steps of RMSprop (centered, momentum, weight decay)", rtol: 1e-3, atol: 1e-4, run: (g) => trainSteps(g, (p) => new optim.RMSprop(p, { lr: 1e-2, centered: true, momentum: 0.5, weightDecay: 1e-3 }), 10) });
add({ name: "training: 10 steps of Adagrad (lr decay, initial accumulator)", rtol: 1e-3, atol: 1e-4, run: (g) => trainSteps(g, (p) => new optim.Adagrad(p, { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1 }), 10) });
add({ name: "clipGradNormTensor (2, 1, ∞, 3) and clipGradValue clip in place", run: (g) => {
  const out: Tensor[] = [];
  for (const normType of [2, 1, Infinity, 3]) {
    const a = leaf(g, [30, 4]), b = leaf(g, [7]);
    a.mul(b.sum()).sum().backward();
    out.push(optim.clipGradNormTensor([a, b], 0.5, { normType }), a.grad!, b.grad!);
  }
  const c = leaf(g, [50]);
  c.mul(c).sum().backward();
  optim.clipGradValue([c], 0.3);
  return [...out, c.grad!];
} });
add({ name: "training: 10 steps of AdamW with AMSGrad", rtol: 1e-3, atol: 1e-4, run: (g) => trainSteps(g, (p) => new optim.AdamW(p, { lr: 1e-2, amsgrad: true, weightDecay: 0.05 }), 10) });

cases.push(...convCases);
