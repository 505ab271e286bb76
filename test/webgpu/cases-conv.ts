/** Convolution, pooling and normalisation parity cases for the webgpu backend (see cases.ts). */
import * as cr from "../../src/index.js";
import { Generator, nn, optim, tensor, type Tensor } from "../../src/index.js";
import { leaf, randn, withGrad, type ParityCase } from "./helpers.js";

export const convCases: ParityCase[] = [];
const add = (c: ParityCase): void => void convCases.push(c);
const F = nn.functional;

// ------------------------------------------------------------------ conv2d
// Sums of up to c·kh·kw products in float32 (the reference sums in float64): matmul's tolerance.
const CONV_TOL = { rtol: 1e-4, atol: 1e-4 };
const CONVS: [string, number[], number[], cr.Conv2dOptions, boolean][] = [
  ["3×3 padding 1, bias", [2, 3, 9, 9], [4, 3, 3, 3], { padding: 1 }, true],
  ["3×3 stride 2 padding 1, bias", [2, 3, 11, 10], [5, 3, 3, 3], { stride: 2, padding: 1 }, true],
  ["3×3 dilation 2 padding 2, no bias", [2, 2, 12, 11], [3, 2, 3, 3], { dilation: 2, padding: 2 }, false],
  ["groups 2, padding 1, bias", [2, 4, 8, 8], [6, 2, 3, 3], { groups: 2, padding: 1 }, true],
  ["depthwise (groups = channels), stride 2", [2, 4, 9, 7], [4, 1, 3, 3], { groups: 4, stride: 2 }, true],
  ["1×1, no bias", [3, 5, 6, 7], [7, 5, 1, 1], {}, false],
  ["1×1 stride 2, bias", [2, 6, 7, 7], [3, 6, 1, 1], { stride: 2 }, true],
  ["2×5 kernel, stride [2, 1], padding [1, 2], odd sizes", [2, 3, 9, 13], [4, 3, 2, 5], { stride: [2, 1], padding: [1, 2] }, true],
  ["5×5 stride 3 dilation [1, 2] padding [2, 3], no bias", [1, 3, 17, 19], [2, 3, 5, 5], { stride: 3, dilation: [1, 2], padding: [2, 3] }, false],
  ["17 output channels (a partial block), 3×3 no padding", [2, 3, 6, 5], [17, 3, 3, 3], {}, true],
  ["one output channel", [2, 5, 6, 6], [1, 5, 3, 3], { padding: 1 }, true],
  ["groups 3 with stride 2 and dilation", [2, 6, 10, 9], [9, 2, 3, 2], { groups: 3, stride: 2, dilation: [2, 1], padding: 1 }, false],
  ["MNIST layer 1: 1 → 32 channels, 28×28, 3×3 padding 1", [3, 1, 28, 28], [32, 1, 3, 3], { padding: 1 }, true],
  ["MNIST layer 2: 32 → 64 channels, 14×14, 3×3 padding 1 (288 taps)", [2, 32, 14, 14], [64, 32, 3, 3], { padding: 1 }, true],
];
for (const [name, xs, ws, opts, bias] of CONVS) {
  add({
    name: `conv2d ${name}: forward + backward`,
    ...CONV_TOL,
    run: (g) => withGrad(g, bias ? [xs, ws, [ws[0]!]] : [xs, ws], (x, w, b) => F.conv2d(x!, w!, bias ? b! : null, opts)),
  });
}
add({ name: "conv2d padding \"same\" with an even kernel (asymmetric padding)", ...CONV_TOL, run: (g) => withGrad(g, [[2, 3, 8, 7], [4, 3, 4, 2]], (x, w) => F.conv2d(x!, w!, null, { padding: "same" })) });
add({ name: "conv2d unbatched [C, H, W]", ...CONV_TOL, run: (g) => withGrad(g, [[3, 7, 7], [4, 3, 3, 3]], (x, w) => F.conv2d(x!, w!, null, { padding: 1 })) });
add({
  name: "conv2d second order (createGraph): d/dx of Σ (∂L/∂x)²",
  ...CONV_TOL,
  run: (g) => {
    const x = leaf(g, [2, 2, 6, 6]);
    const w = leaf(g, [3, 2, 3, 3]);
    const y = F.conv2d(x, w, null, { stride: 2, padding: 1 });
    const [gx] = cr.gradients(y.square().sum(), [x], { createGraph: true });
    gx!.square().sum().backward();
    return [gx!, x.grad!, w.grad!];
  },
});

// ------------------------------------------------------------------ pooling
const MAXPOOLS: [string, number[], cr.MaxPool2dOptions][] = [
  ["2×2 (non-overlapping)", [2, 3, 8, 8], { kernelSize: 2 }],
  ["3×3 stride 2 padding 1 (overlapping)", [2, 2, 9, 9], { kernelSize: 3, stride: 2, padding: 1 }],
  ["3×3 stride 1 (heavily overlapping)", [1, 2, 7, 8], { kernelSize: 3, stride: 1 }],
  ["2×2 ceil mode on odd sizes", [2, 2, 7, 9], { kernelSize: 2, ceilMode: true }],
  ["3×3 stride 2 padding 1 ceil mode", [2, 2, 8, 10], { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }],
  ["3×3 dilation 2", [1, 2, 9, 10], { kernelSize: 3, stride: 1, dilation: 2 }],
  ["[2, 3] kernel, stride [1, 2], padding [1, 1]", [2, 3, 6, 9], { kernelSize: [2, 3], stride: [1, 2], padding: [1, 1] }],
];
for (const [name, xs, opts] of MAXPOOLS) {
  add({ name: `maxPool2d ${name}: forward + backward`, run: (g) => withGrad(g, [xs], (x) => F.maxPool2d(x!, opts)) });
}
add({
  name: "maxPool2d ties (the first maximum), NaN wins, −∞ windows: forward + backward",
  run: (g) => {
    const v = [1, 1, 2, 2, 0, 3, 3, 0, NaN, 1, 5, NaN, 2, NaN, -Infinity, -Infinity, 4, 4, 4, 4, -1, -1, -Infinity, -Infinity, 7, 1, 1, 7, 0, 0, 0, 0];
    const x = tensor(v, { shape: [2, 1, 4, 4], requiresGrad: true });
    const y = F.maxPool2d(x, { kernelSize: 2, stride: 1 });
    y.backward(randn(g, [...y.shape]));
    const z = F.maxPool2d(tensor(v, { shape: [1, 2, 4, 4] }), { kernelSize: 3, stride: 2, padding: 1 });
    return [y, x.grad!, z];
  },
});
add({
  name: "maxPool2d second order (its backward's backward gathers by the indices)",
  run: (g) => {
    const x = leaf(g, [2, 2, 7, 7]);
    const y = F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 });
    const [gx] = cr.gradients(y.square().sum(), [x], { createGraph: true });
    gx!.mul(randn(g, [2, 2, 7, 7])).sum().backward();
    return [gx!, x.grad!];
  },
});
const AVGPOOLS: [string, number[], cr.AvgPool2dOptions][] = [
  ["2×2 (non-overlapping)", [2, 3, 8, 8], { kernelSize: 2 }],
  ["3×3 stride 2 padding 1, countIncludePad", [2, 2, 9, 9], { kernelSize: 3, stride: 2, padding: 1 }],
  ["3×3 stride 2 padding 1, countIncludePad false", [2, 2, 9, 9], { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }],
  ["3×3 stride 1 (overlapping)", [1, 2, 7, 8], { kernelSize: 3, stride: 1 }],
  ["2×2 ceil mode on odd sizes (partial last windows)", [2, 2, 7, 9], { kernelSize: 2, ceilMode: true }],
  ["3×3 stride 2 padding 1 ceil mode, countIncludePad", [2, 2, 8, 10], { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }],
  ["3×3 stride 2 padding 1 ceil mode, countIncludePad false", [2, 2, 8, 10], { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }],
  ["[3, 2] kernel, stride [2, 3], padding [1, 0]", [2, 3, 9, 11], { kernelSize: [3, 2], stride: [2, 3], padding: [1, 0] }],
];
for (const [name, xs, opts] of AVGPOOLS) {
  add({ name: `avgPool2d ${name}: forward + backward`, run: (g) => withGrad(g, [xs], (x) => F.avgPool2d(x!, opts)) });
}
add({
  name: "avgPool2d second order (its backward's backward is avgPool2d again)",
  run: (g) => {
    const x = leaf(g, [1, 2, 7, 7]);
    const y = F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 });
    const [gx] = cr.gradients(y.square().sum(), [x], { createGraph: true });
    gx!.square().sum().backward();
    return [gx!, x.grad!];
  },
});
add({ name: "adaptiveAvgPool2d 1 (global average pooling): forward + backward", run: (g) => withGrad(g, [[3, 4, 7, 5]], (x) => F.adaptiveAvgPool2d(x!, 1)) });
add({ name: "adaptiveAvgPool2d 2 on 8×8 (as avgPool2d): forward + backward", run: (g) => withGrad(g, [[2, 3, 8, 8]], (x) => F.adaptiveAvgPool2d(x!, 2)) });
add({ name: "adaptiveAvgPool2d [3, 2] on 7×5 (overlapping windows): forward + backward", run: (g) => withGrad(g, [[2, 3, 7, 5]], (x) => F.adaptiveAvgPool2d(x!, [3, 2])) });
add({ name: "adaptiveAvgPool2d [null, 3] on unbatched [C, H, W]", run: (g) => withGrad(g, [[3, 6, 8]], (x) => F.adaptiveAvgPool2d(x!, [null, 3])) });
add({ name: "nn.AdaptiveAvgPool2d, nn.MaxPool2d, nn.AvgPool2d layers", run: (g) => withGrad(g, [[2, 3, 10, 10]], (x) => new nn.AdaptiveAvgPool2d(3).forward(new nn.AvgPool2d(2, { stride: 1 }).forward(new nn.MaxPool2d(2, { stride: 1, padding: 1 }).forward(x!)))) });

// ------------------------------------------------------------------ normalisation
/**
 * A BatchNorm layer trained for `steps` batches (each a different input), then the last
 * output, the gradients of its input and parameters, and the running statistics; then in eval
 * mode on a fresh input.
 */
function batchNormSteps(g: Generator, make: () => nn.BatchNorm1d | nn.BatchNorm2d, shape: number[], steps: number): Tensor[] {
  const bn = make();
  const outs: Tensor[] = [];
  for (let s = 0; s < steps; s++) {
    const x = leaf(g, shape, 1 + s);
    const y = bn.forward(x.add(s * 0.5));
    y.backward(randn(g, [...y.shape]));
    if (s === steps - 1) outs.push(y, x.grad!);
  }
  if (bn.weight) outs.push(bn.weight.grad!, bn.bias!.grad!);
  if (bn.runningMean) outs.push(bn.runningMean, bn.runningVar!, bn.numBatchesTracked!);
  bn.eval();
  outs.push(bn.forward(randn(g, shape, 2)));
  return outs;
}
add({ name: "BatchNorm2d training, 3 steps (output, gradients, running stats), then eval", run: (g) => batchNormSteps(g, () => new nn.BatchNorm2d(3), [4, 3, 5, 6], 3) });
add({ name: "BatchNorm2d momentum null (cumulative average), 4 steps", run: (g) => batchNormSteps(g, () => new nn.BatchNorm2d(3, { momentum: null }), [4, 3, 5, 6], 4) });
add({ name: "BatchNorm2d momentum 0.3, wide planes (12×12), 2 steps", run: (g) => batchNormSteps(g, () => new nn.BatchNorm2d(5, { momentum: 0.3 }), [3, 5, 12, 12], 2) });
add({ name: "BatchNorm2d without affine parameters, 2 steps", run: (g) => batchNormSteps(g, () => new nn.BatchNorm2d(4, { affine: false }), [3, 4, 4, 5], 2) });
add({ name: "BatchNorm2d without running statistics (batch statistics in eval too)", run: (g) => batchNormSteps(g, () => new nn.BatchNorm2d(3, { trackRunningStats: false }), [4, 3, 3, 3], 2) });
add({ name: "BatchNorm1d on [N, C] (inner 1), 3 steps", run: (g) => batchNormSteps(g, () => new nn.BatchNorm1d(7), [300, 7], 3) });
add({ name: "BatchNorm1d on [N, C, L], momentum null, 3 steps", run: (g) => batchNormSteps(g, () => new nn.BatchNorm1d(4, { momentum: null }), [5, 4, 9], 3) });
add({ name: "BatchNorm2d MNIST-sized batch statistics (128 × 32 × 28 × 28 → 100 352 per channel)", rtol: 1e-3, atol: 1e-4, run: (g) => batchNormSteps(g, () => new nn.BatchNorm2d(32), [128, 32, 28, 28], 1) });
add({
  name: "functional batchNorm: training with given running stats, then eval",
  run: (g) => {
    const rm = randn(g, [4]), rv = randn(g, [4]).abs().add(0.5);
    const [y, x, w, b] = withGrad(g, [[6, 4, 3], [4], [4]], (x, w, b) => F.batchNorm(x!, rm, rv, w!, b!, { training: true, momentum: 0.2, eps: 1e-3 }));
    const e = F.batchNorm(randn(g, [6, 4, 3]), rm, rv, null, null, { training: false });
    return [y!, x!, w!, b!, rm, rv, e];
  },
});
add({ name: "batchNorm training backward through createGraph (composed formula)", run: (g) => {
  const x = leaf(g, [5, 3, 4]);
  const w = leaf(g, [3]);
  const y = F.batchNorm(x, null, null, w, null, { training: true });
  const [gx] = cr.gradients(y.mul(randn(g, [5, 3, 4])).sum(), [x], { createGraph: true });
  gx!.square().sum().backward();
  return [gx!, x.grad!, w.grad!];
} });
const GROUPNORMS: [string, number[], number, boolean][] = [
  ["3 groups of 2 channels, affine", [2, 6, 5, 5], 3, true],
  ["1 group (layer norm over C, H, W), no affine", [3, 4, 3, 5], 1, false],
  ["groups = channels (instance norm), affine", [2, 4, 6, 3], 4, true],
  ["2 groups, wide planes (16×16), affine", [2, 4, 16, 16], 2, true],
  ["on [N, C] (inner 1), 2 groups", [5, 6], 2, true],
];
for (const [name, xs, groups, affine] of GROUPNORMS) {
  const c = xs[1]!;
  add({
    name: `groupNorm ${name}: forward + backward`,
    run: (g) => withGrad(g, affine ? [xs, [c], [c]] : [xs], (x, w, b) => F.groupNorm(x!, groups, affine ? w! : null, affine ? b! : null)),
  });
}
add({ name: "nn.GroupNorm layer: forward + backward", run: (g) => {
  const gn = new nn.GroupNorm(2, 4);
  const [y, x] = withGrad(g, [[3, 4, 5, 5]], (x) => gn.forward(x!));
  return [y!, x!, gn.weight!.grad!, gn.bias!.grad!];
} });
add({ name: "layerNorm over [5, 6], affine: forward + backward", run: (g) => withGrad(g, [[4, 5, 6], [5, 6], [5, 6]], (x, w, b) => F.layerNorm(x!, [5, 6], w!, b!)) });
add({ name: "nn.LayerNorm on [N, C, H, W] over [C, H, W]", run: (g) => {
  const ln = new nn.LayerNorm([3, 4, 4]);
  const [y, x] = withGrad(g, [[2, 3, 4, 4]], (x) => ln.forward(x!));
  return [y!, x!, ln.weight!.grad!, ln.bias!.grad!];
} });

// ------------------------------------------------------------------ a small convnet
function convnetSteps(g: Generator, steps: number): Tensor[] {
  const model = new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1, generator: g }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(8, 16, 3, { padding: 1, stride: 2, generator: g }),
    new nn.ReLU(),
    new nn.AdaptiveAvgPool2d(2),
    new nn.Flatten(),
    new nn.Linear(64, 10, { generator: g }),
  );
  const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const x = randn(g, [16, 1, 12, 12]);
  const y = tensor(Array.from({ length: 16 }, (_, i) => (i * 3) % 10), { dtype: "int32" });
  const losses: Tensor[] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(loss.detach());
  }
  return [...losses, ...model.parameters(), ...model.namedBuffers().map(([, b]) => b)];
}
add({ name: "training: a convnet (conv → bn → relu → pool → conv → pool → linear), 5 steps of SGD with momentum", rtol: 1e-3, atol: 1e-4, run: (g) => convnetSteps(g, 5) });
