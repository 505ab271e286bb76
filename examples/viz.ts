/**
 * The lecture's figures, drawn by chainrule: the circuit f = (x + y)·z, the sigmoid neuron gate
 * by gate and with the sigmoid collapsed into one gate, and the 2-layer net's loss by layer.
 * Prints each explanation; `npx tsx examples/viz.ts docs/img` also writes the SVGs there.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Generator, nn, randint, randn, scope, tensor, viz, withGraphValues, type Tensor } from "../src/index.js";

const leaf = { dtype: "float64" as const, requiresGrad: true };

/** (a) f = (x + y)·z at x = −2, y = 5, z = −4. */
export function circuit(): Tensor {
  const x = tensor(-2, leaf).named("x");
  const y = tensor(5, leaf).named("y");
  const z = tensor(-4, leaf).named("z");
  return withGraphValues(() => {
    const f = x.add(y).named("q").mul(z);
    f.backward();
    return f;
  });
}

/** (b) the sigmoid neuron f = σ(w0·x0 + w1·x1 + w2), its sigmoid built from gates inside scope("sigmoid"). */
export function neuron(): Tensor {
  const [w0, x0, w1, x1, w2] = [2, -1, -3, -2, -3].map((v, i) => tensor(v, leaf).named(["w0", "x0", "w1", "x1", "w2"][i]!));
  return withGraphValues(() => {
    const dot = w0!.mul(x0!).add(w1!.mul(x1!)).add(w2!);
    const f = scope("sigmoid", () => dot.mul(-1).exp().add(1).reciprocal());
    f.backward();
    return f;
  });
}

/** The lecture's 2-layer net f = W2·max(0, W1·x) with a softmax loss, on a small random batch. */
export function twoLayerLoss(): Tensor {
  const model = nn.mlp([784, 100, 10], { generator: new Generator(0) });
  model.namedParameters(); // labels the parameters "0.weight", ...
  const x = randn([8, 784], { generator: new Generator(1) }).named("x");
  const labels = randint(0, 10, [8], { dtype: "int32", generator: new Generator(2) });
  return withGraphValues(() => {
    const loss = nn.functional.crossEntropy(model.forward(x), labels).named("loss");
    loss.backward();
    return loss;
  });
}

export async function main(outDir?: string, log: (line: string) => void = console.log): Promise<void> {
  const f = circuit();
  const n = neuron();
  log(viz.explain(f));
  log(viz.explain(n));
  if (outDir === undefined) return;
  mkdirSync(outDir, { recursive: true });
  const pictures: [string, Promise<string>][] = [
    ["circuit.svg", viz.toSvg(f, { title: "f(x, y, z) = (x + y) · z" })],
    ["neuron.svg", viz.toSvg(n, { title: "f(w, x) = σ(w0·x0 + w1·x1 + w2), gate by gate", clusters: false })],
    ["neuron-sigmoid-gate.svg", viz.toSvg(n, { title: "the same neuron, the sigmoid as one gate", collapse: ["sigmoid"] })],
    ["two-layer-net.svg", viz.toSvg(twoLayerLoss(), { title: "softmax loss of the 2-layer net 784 → 100 ReLU → 10, by layer", collapseModules: true })],
  ];
  for (const [name, svg] of pictures) {
    writeFileSync(join(outDir, name), await svg);
    log(`wrote ${join(outDir, name)}`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main(process.argv[2]);
