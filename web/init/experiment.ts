/**
 * The experiments of CS231n "Training Neural Networks, part I", run on chainrule (the worker calls
 * these; the tests call them too):
 *
 * - `activationStats`: a deep net of square layers H_l = f(H_{l−1}·W_l) (no biases, as in the
 *   lecture) on unit-Gaussian data, one forward and one backward pass. The backward pass starts
 *   from a random unit-Gaussian upstream gradient G on the last layer (the loss L = Σ H_L ⊙ G / N),
 *   so every layer's ∂L/∂H_l is what backprop hands that layer. Returns per layer the mean, the
 *   standard deviation and a histogram of H_l and of ∂L/∂H_l.
 * - `LearningRateSweep`: one 2-layer net on the spiral, trained by full-batch SGD from the same
 *   initial weights with several learning rates.
 */
import { Generator, data, matmul, mul, nn, optim, randn, relu, sum, tanh, tidy, type Tensor } from "chainrule";
import type { ActivationConfig, Histogram, InitName, LayerStats, SweepConfig } from "./config.js";

export { DEFAULT_ACTIVATION_CONFIG, DEFAULT_SWEEP, SWEEP_NAMES, type Activation, type ActivationConfig, type Histogram, type InitName, type LayerStats, type Summary, type SweepConfig } from "./config.js";

/** The weights' standard deviation for a fan-in, and how the page names it. */
export function initStd(init: InitName, fanIn: number, scale: number): number {
  switch (init) {
    case "small":
      return 0.01;
    case "xavier":
      return 1 / Math.sqrt(fanIn);
    case "kaiming":
      return Math.sqrt(2 / fanIn);
    case "custom":
      return scale;
  }
}

/**
 * A [fanIn, fanOut] weight drawn by chainrule's initialiser: N(0, std²) with std from `initStd`
 * (for square layers Xavier normal's √(2/(fanIn+fanOut)) is the lecture's 1/√fanIn, and Kaiming
 * normal's gain √2 over √fanIn is √(2/fanIn)).
 */
function weight(config: ActivationConfig, generator: Generator): Tensor {
  const w = randn([config.width, config.width], { generator });
  nn.init.normal(w, initStd(config.init, config.width, config.scale), { generator });
  w.requiresGrad = true;
  return w;
}

/** Mean and (population) standard deviation in float64. */
function moments(x: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  const mean = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / x.length) };
}

/** A histogram of `x` over [lo, hi]. */
export function histogram(x: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const width = hi > lo ? (hi - lo) / bins : 1;
  for (let i = 0; i < x.length; i++) {
    const k = Math.floor((x[i]! - lo) / width);
    counts[Math.min(bins - 1, Math.max(0, k))]!++;
  }
  return { lo, hi, counts };
}

function maxAbs(arrays: ArrayLike<number>[]): number {
  let m = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/**
 * One forward and backward pass of the deep net; per-layer statistics. The histograms of one kind
 * share their range across layers (tanh: [−1, 1]; ReLU: [0, the largest activation]; gradients:
 * ± the largest), so a layer that vanishes shows as a spike at 0.
 */
export function activationStats(config: ActivationConfig): LayerStats[] {
  const g = new Generator(config.seed);
  const f = config.activation === "tanh" ? tanh : relu;
  const acts: Float32Array[] = [];
  const grads: Float32Array[] = [];
  tidy(() => {
    const x = randn([config.samples, config.width], { generator: g });
    const hidden: Tensor[] = [];
    let h = x;
    for (let l = 0; l < config.layers; l++) {
      h = f(matmul(h, weight(config, g))).retainGrad();
      hidden.push(h);
    }
    const upstream = randn([config.samples, config.width], { generator: g });
    const loss = mul(sum(mul(h, upstream)), 1 / config.samples);
    loss.backward();
    for (const t of hidden) {
      acts.push(Float32Array.from(t.data as Float32Array));
      grads.push(Float32Array.from(t.grad!.data as Float32Array));
    }
  });
  const actHi = config.activation === "tanh" ? 1 : Math.max(maxAbs(acts), 1e-30);
  const actLo = config.activation === "tanh" ? -1 : 0;
  const gradHi = Math.max(maxAbs(grads), 1e-30);
  return acts.map((a, l) => ({
    act: { ...moments(a), hist: histogram(a, actLo, actHi, config.bins) },
    grad: { ...moments(grads[l]!), hist: histogram(grads[l]!, -gradHi, gradHi, config.bins) },
  }));
}

/**
 * One net per learning rate, all from the same initial weights, trained by full-batch SGD on
 * `data.spiral({ seed })`. Each `step()` trains every net once and returns one loss per rate; a
 * rate whose loss stopped being finite reports NaN from then on.
 */
export class LearningRateSweep {
  private readonly ds: data.TensorDataset;
  private readonly nets: nn.Sequential[];
  private readonly opts: optim.SGD[];
  private readonly dead: boolean[];
  steps = 0;

  constructor(readonly config: SweepConfig) {
    this.ds = data.spiral({ seed: config.seed });
    this.nets = config.learningRates.map(() => nn.mlp([2, config.hidden, 3], { activation: "relu", generator: new Generator(config.seed) }));
    this.opts = this.nets.map((net, i) => new optim.SGD(net.parameters(), { lr: config.learningRates[i]! }));
    this.dead = this.nets.map(() => false);
  }

  /** One SGD step of every net: the losses before the update. */
  step(): number[] {
    this.steps++;
    return this.nets.map((net, i) => {
      if (this.dead[i]) return NaN;
      const loss = tidy(() => {
        this.opts[i]!.zeroGrad();
        const l = nn.functional.crossEntropy(net.forward(this.ds.x), this.ds.y);
        l.backward();
        this.opts[i]!.step();
        return l.item() as number;
      });
      if (!Number.isFinite(loss)) this.dead[i] = true;
      return loss;
    });
  }
}
