/**
 * The training session behind the page, free of the DOM so it runs in the Web Worker: a seeded
 * 2-D dataset, an nn.mlp, a loss (softmax or SVM, plus the lecture's L2 penalty reg·ΣW² added to
 * it, so the penalty is part of the graph) and an optimizer. Every number comes from chainrule's
 * forward and backward passes.
 */
import { Generator, Tensor, data, models, nn, noGrad, optim, scope, tensor, viz, withGraphValues } from "chainrule";
import type { DatasetName, OptimizerName, TrainConfig } from "./protocol.js";

/** Side of the square grid the decision regions are evaluated on. */
export const GRID = 100;

/** Samples in the small fixed batch whose graph the page draws. */
const GRAPH_BATCH = 4;

/** The scope that groups the L2 penalty's gates (drawn as a labelled box). */
const REG_SCOPE = "L2 penalty";

/** A chainrule dataset generator by name, seeded, with the page's noise setting. */
export function makeDataset(name: DatasetName, seed: number, noise: number): data.TensorDataset {
  switch (name) {
    case "spiral":
      return data.spiral({ classes: 3, pointsPerClass: 100, noise: 0.2 * noise, seed });
    case "moons":
      return data.moons({ n: 200, noise: 0.1 * noise, seed });
    case "circles":
      return data.circles({ n: 200, noise: 0.05 * noise, factor: 0.5, seed });
    case "xor":
      return data.xor({ n: 200, noise: 0.05 * noise, seed });
    case "blobs":
      return data.blobs({ classes: 4, pointsPerClass: 50, std: 0.3 * noise, seed });
  }
}

/** The optimizer of a name over `params`. */
function makeOptimizer(name: OptimizerName, params: nn.Parameter[], lr: number): optim.Optimizer<{ lr: number }> {
  switch (name) {
    case "sgd":
      return new optim.SGD(params, { lr });
    case "momentum":
      return new optim.SGD(params, { lr, momentum: 0.9 });
    case "rmsprop":
      return new optim.RMSprop(params, { lr });
    case "adam":
      return new optim.Adam(params, { lr });
  }
}

/** Parses "16,16" into hidden-layer sizes (an empty string: no hidden layer, a linear classifier). */
export function parseHidden(text: string): number[] {
  const parts = text.split(/[,\s]+/).filter((p) => p !== "");
  const sizes = parts.map(Number);
  const bad = parts.findIndex((p, i) => !/^\d+$/.test(p) || sizes[i]! < 1 || sizes[i]! > 256);
  if (bad >= 0) throw new Error(`hidden layers: "${parts[bad]}" is not a layer size (whole numbers 1 to 256, separated by commas, e.g. 16,16).`);
  if (sizes.length > 6) throw new Error(`hidden layers: at most 6 hidden layers, got ${sizes.length}.`);
  return sizes;
}

/** What one evaluation on all the data gives. */
export interface Evaluation {
  loss: number;
  accuracy: number;
}

/** One model, optimizer and dataset; `step()` is one SGD-style update on a minibatch. */
export class Session {
  readonly dataset: data.TensorDataset;
  readonly classes: number;
  readonly model: nn.Sequential;
  /** The data's bounding square, padded: [xmin, xmax, ymin, ymax]. */
  readonly bounds: [number, number, number, number];
  step = 0;
  /** Loss of the last minibatch step. */
  batchLoss = Number.NaN;
  private readonly optimizer: optim.Optimizer<{ lr: number }>;
  private readonly loss: (scores: Tensor, labels: Tensor) => Tensor;
  private readonly batches: Generator;
  private readonly weights: nn.Parameter[];
  private readonly gridX: Tensor;
  private readonly graphIndex: number[];

  constructor(readonly config: TrainConfig) {
    this.dataset = makeDataset(config.dataset, config.seed, config.noise);
    const labels = this.dataset.y.data as Int32Array;
    this.classes = Math.max(...labels) + 1;
    this.model = models.buildModel(
      { model: "mlp", sizes: [2, ...parseHidden(config.hidden), this.classes], activation: config.activation, loss: config.loss },
      { generator: new Generator(config.seed) },
    );
    const named = this.model.namedParameters();
    this.weights = named.filter(([name]) => name.endsWith("weight")).map(([, p]) => p);
    this.optimizer = makeOptimizer(config.optimizer, named.map(([, p]) => p), config.lr);
    this.loss = models.lossFunction(config.loss);
    this.batches = new Generator(config.seed + 1);
    this.bounds = squareBounds(this.dataset.x.data as Float32Array);
    this.gridX = gridPoints(this.bounds);
    const n = labels.length;
    this.graphIndex = Array.from({ length: GRAPH_BATCH }, (_, i) => Math.floor(((i + 0.5) * n) / GRAPH_BATCH));
  }

  /** The data loss plus reg·ΣW² over the weight matrices (not the biases), the lecture's full loss. */
  private objective(x: Tensor, y: Tensor): Tensor {
    const dataLoss = this.loss(this.model.forward(x), y).named("data loss");
    if (this.config.reg === 0) return dataLoss;
    const penalty = scope(REG_SCOPE, () => this.weights.map((w) => w.square().sum()).reduce((a, b) => a.add(b)).mul(this.config.reg));
    return dataLoss.add(penalty.named("reg·ΣW²"));
  }

  /** One update: a minibatch (drawn with replacement, as CS231n's np.random.choice; or all data), forward, backward, step. */
  trainStep(): void {
    const { x, y } = this.dataset;
    const n = y.shape[0]!;
    const b = this.config.batchSize;
    let xb = x;
    let yb = y;
    if (b > 0 && b < n) {
      const idx = Array.from({ length: b }, () => this.batches.randint(0, n));
      xb = x.indexSelect(0, idx);
      yb = y.indexSelect(0, idx);
    }
    this.optimizer.zeroGrad();
    const loss = this.objective(xb, yb);
    loss.backward();
    this.optimizer.step();
    this.batchLoss = loss.item();
    this.step++;
  }

  /** The full loss and the accuracy on all the data (no graph recorded). */
  evaluate(): Evaluation {
    return noGrad(() => {
      const { x, y } = this.dataset;
      const scores = this.model.forward(x);
      const predicted = scores.argmax({ axis: 1 }).data;
      const labels = y.data;
      let right = 0;
      for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) right++;
      return { loss: this.objective(x, y).item(), accuracy: right / labels.length };
    });
  }

  /** The model on the GRID×GRID points: the predicted class and its softmax probability, row 0 at the top. */
  decisionRegions(): { cls: Uint8Array; conf: Float32Array } {
    return noGrad(() => {
      const probs = this.model.forward(this.gridX).softmax(1).data;
      const K = this.classes;
      const cls = new Uint8Array(GRID * GRID);
      const conf = new Float32Array(GRID * GRID);
      for (let i = 0; i < GRID * GRID; i++) {
        let best = 0;
        for (let c = 1; c < K; c++) if (probs[i * K + c]! > probs[i * K + best]!) best = c;
        cls[i] = best;
        conf[i] = probs[i * K + best]!;
      }
      return { cls, conf };
    });
  }

  /** The module paths and classes, in order ("0" Linear, "1" ReLU, ...). */
  modules(): { name: string; kind: string }[] {
    return this.model.namedModules().filter(([name]) => name !== "").map(([name, m]) => ({ name, kind: m.constructor.name }));
  }

  /**
   * The SVG of the loss graph on GRAPH_BATCH fixed samples with the current weights: forward and
   * backward under withGraphValues, each module one gate except those in `expand`. The backward
   * pass writes .grad, which the next trainStep zeroes first, so training is unaffected.
   */
  async graphSvg(expand: readonly string[]): Promise<string> {
    const loss = withGraphValues(() => {
      const x = this.dataset.x.indexSelect(0, this.graphIndex).named("x");
      const y = this.dataset.y.indexSelect(0, this.graphIndex).named("y");
      const l = this.objective(x, y);
      l.backward();
      return l;
    });
    return viz.toSvg(loss, { collapseModules: true, expand, digits: 3 });
  }
}

/** A square around the points with 10 % padding, so regions are not stretched. */
function squareBounds(xy: Float32Array): [number, number, number, number] {
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < xy.length; i += 2) {
    x0 = Math.min(x0, xy[i]!);
    x1 = Math.max(x1, xy[i]!);
    y0 = Math.min(y0, xy[i + 1]!);
    y1 = Math.max(y1, xy[i + 1]!);
  }
  const half = (Math.max(x1 - x0, y1 - y0) / 2) * 1.1 + 1e-3;
  const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
  return [cx - half, cx + half, cy - half, cy + half];
}

/** The grid's points [GRID², 2], row by row from the top (largest y) to the bottom, cell centres. */
function gridPoints([x0, x1, y0, y1]: [number, number, number, number]): Tensor {
  const pts = new Float32Array(GRID * GRID * 2);
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) {
      const k = r * GRID + c;
      pts[2 * k] = x0 + ((c + 0.5) / GRID) * (x1 - x0);
      pts[2 * k + 1] = y1 - ((r + 0.5) / GRID) * (y1 - y0);
    }
  }
  return tensor(pts, { shape: [GRID * GRID, 2] });
}
