/**
 * Heap and RSS over a long training run with the Trainer: the loop must keep no graph alive
 * across steps (backward releases each step's graph; the history holds only numbers).
 * Prints heapUsed / RSS (after a forced GC) every 500 steps for 10,000 steps.
 *
 *   npx tsx bench/train-memory.ts [steps]
 */
import v8 from "node:v8";
import vm from "node:vm";
import { data, manualSeed, nn, optim } from "../src/index.js";
import { Trainer } from "../src/node.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const totalSteps = Number(process.argv[2] ?? 10_000);
const perClass = 100;
const classes = 3;
const batchSize = 30; // 10 batches per epoch

// CS231n's spiral, 300 points, in shuffled batches of 30 (10 per epoch).
const trainLoader = new data.DataLoader(data.spiral({ classes, pointsPerClass: perClass, seed: 1 }), { batchSize, shuffle: true, seed: 1 });

manualSeed(0);
const model = nn.mlp([2, 100, classes], { dropout: 0.1 });
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1).padStart(7);
const start = performance.now();
let baseline = 0;
console.log(`Trainer memory: ${totalSteps} steps, mlp [2, 100, 3] with dropout, Adam, batch ${batchSize}, gradClipNorm 5`);
console.log("   step   heap MB    RSS MB   heap − heap@500   ms/step");
let last = performance.now();
const trainer = new Trainer({
  model,
  loss: (out, y) => nn.functional.crossEntropy(out, y),
  optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }),
  trainLoader,
  epochs: Math.ceil(totalSteps / trainLoader.length),
  gradClipNorm: 5,
  progress: "none",
  onStep: (e) => {
    if (e.step % 500 !== 0) return;
    const now = performance.now();
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    if (e.step === 500) baseline = heapUsed;
    console.log(`${String(e.step).padStart(7)}  ${mb(heapUsed)}   ${mb(rss)}   ${mb(heapUsed - baseline)}        ${((now - last) / 500).toFixed(3)}`);
    last = performance.now();
  },
});
const history = trainer.fit();
const last5 = history.epochs.slice(-5);
console.log(
  `done in ${((performance.now() - start) / 1000).toFixed(1)} s; final train loss ${last5.at(-1)!.trainLoss.toFixed(4)}, ` +
    `train accuracy ${(last5.at(-1)!.trainAccuracy * 100).toFixed(1)}%; history holds ${history.steps.loss.length} step losses (numbers only)`,
);
