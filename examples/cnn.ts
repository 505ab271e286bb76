// The worked example of docs/cnn.md: build, train, save and reload a convnet on the embedded
// MNIST digits. Run with `npx tsx examples/cnn.ts`; test/examples.test.ts runs it on a subset.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { data, manualSeed, nn, noGrad, optim, tidyEach } from "../src/node.js";
import { load, loadMnist, save } from "../src/node.js";

export function main(options: { trainSize?: number; testSize?: number; epochs?: number } = {}): { accuracy: number; reloadedAccuracy: number } {
  // --- the dozen lines of docs/cnn.md ---
  manualSeed(0);
  const { train, test } = loadMnist({ flatten: false, trainSize: options.trainSize ?? 8000, testSize: options.testSize ?? 2000 }); // x [N, 1, 28, 28]
  const net = () => new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),  // [N, 16, 14, 14]
    new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // [N, 32, 7, 7]
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10));
  const model = net();
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const loader = new data.DataLoader(train, { batchSize: 64, shuffle: true, seed: 0 });
  for (let epoch = 0; epoch < (options.epochs ?? 3); epoch++) {
    for (const [x, y] of tidyEach(loader)) {
      opt.zeroGrad();
      nn.functional.crossEntropy(model.forward(x), y).backward();
      opt.step();
    }
  }
  const file = join(mkdtempSync(join(tmpdir(), "cnn-")), "cnn.safetensors");
  save(model, file);                                   // PyTorch's names: "0.weight" [16, 1, 3, 3], ...
  const reloaded = net();
  reloaded.loadStateDict(load(file));
  // --- end ---
  const accuracyOf = (m: nn.Module): number =>
    noGrad(() => {
      m.eval();
      const { x, y } = test;
      const pred = m.forward(x).argmax({ axis: 1 }).toArray() as number[];
      const labels = y.toArray() as number[];
      return pred.filter((p, i) => p === labels[i]).length / labels.length;
    });
  return { accuracy: accuracyOf(model), reloadedAccuracy: accuracyOf(reloaded) };
}

if (process.argv[1]?.endsWith("cnn.ts")) {
  const r = main();
  console.log(`test accuracy ${(100 * r.accuracy).toFixed(2)}%, reloaded ${(100 * r.reloadedAccuracy).toFixed(2)}%`);
}
