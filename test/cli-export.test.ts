// `chainrule export --format onnx` (issue 13): the file runs in ONNX Runtime with the model's outputs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import { loadTrainedModel } from "../src/cli/model.js";
import { Generator, Tensor, noGrad, onnx, rand, softmax } from "../src/index.js";
import { pb } from "../src/onnx/proto.js";

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "chainrule-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
});

/** The model's own answer for raw features: standardise as training did, then forward. */
function reference(modelDir: string, x: Tensor, probabilities: boolean): Float32Array {
  const { model, meta } = loadTrainedModel(modelDir);
  model.eval();
  let z = x;
  if (meta.normalization) {
    z = x.sub(Tensor.fromStorage(Float32Array.from(meta.normalization.mean), [x.shape[1]!], "float32")).div(Tensor.fromStorage(Float32Array.from(meta.normalization.std), [x.shape[1]!], "float32"));
  }
  const y = noGrad(() => model.forward(z));
  return (probabilities ? softmax(y, -1) : y).data as Float32Array;
}

async function ortRun(file: string, x: Tensor): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)));
  const out = await session.run({ input: new ort.Tensor("float32", x.data as Float32Array, [...x.shape]) });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

describe("chainrule export --format onnx", () => {
  for (const model of ["mlp", "cnn"] as const) {
    it(`exports a trained ${model} whose ONNX Runtime outputs match chainrule's within 1e-5`, async () => {
      const out = join(dir, model);
      const args = model === "mlp" ? ["--hidden", "16"] : ["--model", "conv4-bn-pool-fc16"];
      const t = await cli("train", "--train-size", "200", "--test-size", "50", ...args, "--epochs", "1", "--progress", "none", "--out", out);
      expect(t.code, t.err).toBe(0);
      const e = await cli("export", "--model", out, "--format", "onnx");
      expect(e.code, e.err).toBe(0);
      const file = join(out, "model.onnx");
      expect(existsSync(file)).toBe(true);
      expect(e.out).toContain(`wrote:   ${file}`);
      expect(e.out).toMatch(/check: {3}read back by onnx\.loadModel, max \|difference\| /);
      const x = rand([5, 784], { generator: new Generator(1) });
      const got = await ortRun(file, x);
      expect(maxDiff(got.scores!, reference(out, x, false))).toBeLessThan(1e-5);
      const m = pb.ModelProto.decode(readFileSync(file));
      expect(Number(m.opsetImport![0]!.version)).toBe(17);
      const meta = Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value]));
      expect(JSON.parse(meta["chainrule.classes"]!)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
      expect(JSON.parse(meta["chainrule.architecture"]!).model).toBe(model);
    });
  }

  it("--probabilities ends with a softmax; --opset and --out are honoured", async () => {
    const out = join(dir, "mlp");
    const file = join(dir, "probs.onnx");
    const e = await cli("export", "--model", out, "--probabilities", "--opset", "19", "--out", file);
    expect(e.code, e.err).toBe(0);
    const x = rand([3, 784], { generator: new Generator(2) });
    const got = (await ortRun(file, x)).probabilities!;
    expect(maxDiff(got, reference(out, x, true))).toBeLessThan(1e-5);
    for (let r = 0; r < 3; r++) expect(got.slice(r * 10, r * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(Number(pb.ModelProto.decode(readFileSync(file)).opsetImport![0]!.version)).toBe(19);
    // chainrule's reader takes the file too.
    const back = onnx.loadModel(new Uint8Array(readFileSync(file)));
    expect(maxDiff(noGrad(() => back.forward(x)).data, got)).toBeLessThan(1e-5);
  });

  it("bad options are usage errors (exit 2) that say what to pass", async () => {
    const out = join(dir, "mlp");
    const f = await cli("export", "--model", out, "--format", "tflite");
    expect(f.code).toBe(2);
    expect(f.err).toMatch(/--format.*tflite.*onnx/s);
    const o = await cli("export", "--model", out, "--opset", "12");
    expect(o.code).toBe(2);
    expect(o.err).toContain("--opset must be an integer from 17 to 21");
    const missing = await cli("export", "--model", join(dir, "nothing-here"));
    expect(missing.code).toBe(1);
  });
});

describe("docs/deploy.md's examples (examples/deploy)", () => {
  const root = new URL("..", import.meta.url).pathname;
  const tsx = join(root, "node_modules/.bin/tsx");

  it("serve-node.mjs runs the exported model in ONNX Runtime and prints predictions", () => {
    const r = spawnSync(process.execPath, [join(root, "examples/deploy/serve-node.mjs"), join(dir, "mlp", "model.onnx")], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sample 0: label \d, predicted \d \(p = 0\.\d{3}\)/);
    expect(r.stdout).toMatch(/input \[10, 784\] -> scores \[10, 10\] in [\d.]+ ms/);
  });

  it.skipIf(!existsSync(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"))("browser-check.ts runs it in Chromium with ONNX Runtime Web", () => {
    const r = spawnSync(tsx, [join(root, "examples/deploy/browser-check.ts"), join(dir, "mlp", "model.onnx")], { encoding: "utf8", timeout: 90_000 });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.slice(r.stdout.indexOf("{")));
    expect(result.predicted).toBeGreaterThanOrEqual(0);
    expect(result.probability).toBeGreaterThan(0);
  });

  const torch = spawnSync("/usr/bin/python3", ["-c", "import torch"]).status === 0;
  if (!torch && process.env.CHAINRULE_REQUIRE_TORCH === "1") throw new Error("PyTorch interop tests: /usr/bin/python3 cannot import torch but CHAINRULE_REQUIRE_TORCH=1 (apt-get install -y python3-torch)");
  it.skipIf(!torch)("continue_training.py loads the weights into PyTorch strictly, trains, and chainrule evaluates the result", async () => {
    const digits = join(dir, "digits.json");
    const j = spawnSync(tsx, [join(root, "examples/deploy/mnist-json.ts"), "300"], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 << 20 });
    expect(j.status, j.stderr).toBe(0);
    writeFileSync(digits, j.stdout);
    const out = join(dir, "torch", "model.safetensors");
    const r = spawnSync("/usr/bin/python3", [join(root, "examples/deploy/continue_training.py"), join(dir, "mlp", "model.safetensors"), digits, out], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("load_state_dict(strict=True) ok");
    const e = await cli("eval", "--model", join(dir, "torch"), "--test-size", "50");
    expect(e.code, e.err).toBe(0);
    expect(e.out).toMatch(/test accuracy: [\d.]+%/);
  });
});
