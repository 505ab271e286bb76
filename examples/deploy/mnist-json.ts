// Writes MNIST digits of chainrule's TRAINING split (loadMnist: the `mnist` package's 10,000
// digits, seeded split, disjoint from the 2000 test digits `chainrule eval` uses) as JSON for
// continue_training.py and `chainrule predict`: {"inputs": [[784 values in [0, 1]], ...], "labels": [...]}.
//   npx tsx examples/deploy/mnist-json.ts 2000 > digits.json
import { loadMnist } from "../../src/node.js";

const n = Number(process.argv[2] ?? 1000);
const { train } = loadMnist();
const x = train.x.data, y = train.y.data;
const inputs = Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 1e6) / 1e6));
process.stdout.write(JSON.stringify({ inputs, labels: Array.from(y.subarray(0, n)) }));
