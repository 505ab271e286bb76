// `chainrule predict` (issue 13): probabilities for PNG images and JSON batches equal the model's own.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import { loadTrainedModel } from "../src/cli/model.js";
import { Tensor, loadMnist, noGrad, softmax } from "../src/node.js";

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "chainrule-predict-"));
const mlp = join(dir, "mlp");
const spiral = join(dir, "spiral");
const { test } = loadMnist({ trainSize: 100, testSize: 20 });
const digit = (i: number): number[] => Array.from(test.x.data.subarray(i * 784, (i + 1) * 784), Number);

beforeAll(async () => {
  expect((await cli("train", "--train-size", "300", "--test-size", "50", "--hidden", "16", "--epochs", "1", "--progress", "none", "--out", mlp)).code).toBe(0);
  expect((await cli("train", "--dataset", "spiral", "--epochs", "2", "--progress", "none", "--out", spiral)).code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** softmax(model(standardised x)) computed directly. */
function expected(modelDir: string, rows: number[][]): number[][] {
  const { model, meta } = loadTrainedModel(modelDir);
  const f = rows[0]!.length;
  const x = Float32Array.from(rows.flat());
  if (meta.normalization) for (let i = 0; i < x.length; i++) x[i] = (x[i]! - meta.normalization.mean[i % f]!) / meta.normalization.std[i % f]!;
  model.eval();
  const p = noGrad(() => softmax(model.forward(Tensor.fromStorage(x, [rows.length, f], "float32")), -1)).data;
  const k = p.length / rows.length;
  return rows.map((_, r) => Array.from(p.subarray(r * k, (r + 1) * k), Number));
}

function writePng(file: string, pixels: number[], size: number, scale = 1, invert = false): void {
  const png = new PNG({ width: size * scale, height: size * scale });
  for (let y = 0; y < size * scale; y++) {
    for (let x = 0; x < size * scale; x++) {
      const v = Math.round(pixels[Math.floor(y / scale) * size + Math.floor(x / scale)]! * 255);
      const o = 4 * (y * size * scale + x);
      png.data[o] = png.data[o + 1] = png.data[o + 2] = invert ? 255 - v : v;
      png.data[o + 3] = 255;
    }
  }
  writeFileSync(file, PNG.sync.write(png));
}

const close = (a: number[], b: number[], tol = 1e-6): void => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThan(tol));
};

describe("chainrule predict", () => {
  it("JSON: one sample and a batch give softmax(model(x)), summing to 1", async () => {
    const one = join(dir, "one.json");
    writeFileSync(one, JSON.stringify(digit(0)));
    const r1 = await cli("predict", "--model", mlp, "--input", one, "--json");
    expect(r1.code, r1.err).toBe(0);
    const j1 = JSON.parse(r1.out) as { classes: string[]; predictions: { index: number; class: string; probabilities: number[] }[] };
    expect(j1.classes).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    expect(j1.predictions).toHaveLength(1);
    close(j1.predictions[0]!.probabilities, expected(mlp, [digit(0)])[0]!);
    expect(j1.predictions[0]!.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);

    const batch = join(dir, "batch.json");
    writeFileSync(batch, JSON.stringify({ inputs: [digit(1), digit(2), digit(3)] }));
    const r3 = await cli("predict", "--model", mlp, "--input", batch, "--json");
    const j3 = JSON.parse(r3.out) as typeof j1;
    const want = expected(mlp, [digit(1), digit(2), digit(3)]);
    j3.predictions.forEach((p, i) => {
      close(p.probabilities, want[i]!);
      expect(p.class).toBe(String(want[i]!.indexOf(Math.max(...want[i]!))));
    });
    // A nested [28][28] image is one sample.
    const nested = join(dir, "nested.json");
    writeFileSync(nested, JSON.stringify(Array.from({ length: 28 }, (_, r) => digit(0).slice(r * 28, r * 28 + 28))));
    close((JSON.parse((await cli("predict", "--model", mlp, "--input", nested, "--json")).out) as typeof j1).predictions[0]!.probabilities, j1.predictions[0]!.probabilities);
  });

  it("text output: the class, its probability and the top k", async () => {
    const one = join(dir, "one.json");
    const r = await cli("predict", "--model", mlp, "--input", one, "--top", "2");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("(784 → 16 relu → 10, softmax loss)");
    expect(r.out).toMatch(/input: {2}.*one\.json \(JSON, 1 sample\)/);
    expect(r.out).toMatch(/^sample 0: \d \(p = [01]\.\d{3}\) {3}top 2: \d [01]\.\d{3}, \d [01]\.\d{3}$/m);
  });

  it("PNG: a digit written as an image predicts what its features predict; resized and inverted images too", async () => {
    const want = expected(mlp, [digit(4)])[0]!;
    for (const [name, scale, invert] of [["digit.png", 1, false], ["big.png", 2, false], ["inverted.png", 1, true]] as const) {
      const file = join(dir, name);
      writePng(file, digit(4), 28, scale, invert);
      const r = await cli("predict", "--model", mlp, "--input", file, "--json", ...(invert ? ["--invert"] : []));
      expect(r.code, r.err).toBe(0);
      close((JSON.parse(r.out) as { predictions: { probabilities: number[] }[] }).predictions[0]!.probabilities, want, 1e-5);
    }
    const text = await cli("predict", "--model", mlp, "--input", join(dir, "big.png"));
    expect(text.out).toContain("PNG 56×56 resized to 28×28, grayscale");
  });

  it("reads standard input with --input - (JSON or PNG)", () => {
    const tsx = join(new URL("..", import.meta.url).pathname, "node_modules/.bin/tsx");
    const main = new URL("../src/cli/main.ts", import.meta.url).pathname;
    const r = spawnSync(tsx, [main, "predict", "--model", mlp, "--json"], { input: JSON.stringify(digit(5)), encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    close((JSON.parse(r.stdout) as { predictions: { probabilities: number[] }[] }).predictions[0]!.probabilities, expected(mlp, [digit(5)])[0]!);
    const png = join(dir, "stdin.png");
    writePng(png, digit(6), 28);
    const p = spawnSync(tsx, [main, "predict", "--model", mlp, "--json", "--input", "-"], { input: readFileSync(png), timeout: 60_000 });
    expect(p.status, String(p.stderr)).toBe(0);
    close((JSON.parse(String(p.stdout)) as { predictions: { probabilities: number[] }[] }).predictions[0]!.probabilities, expected(mlp, [digit(6)])[0]!, 1e-5);
  });

  it("bad input: messages name the option, the sample and the sizes", async () => {
    const write = (name: string, body: string | Uint8Array): string => {
      const f = join(dir, name);
      writeFileSync(f, body);
      return f;
    };
    const cases: [string[], number, RegExp][] = [
      [["--input", write("short.json", JSON.stringify([digit(0), digit(0).slice(4)]))], 1, /sample 1 has 780 values but the model takes 784 input features/],
      [["--input", write("null.json", JSON.stringify([1, null, ...digit(0).slice(2)]))], 1, /sample 0\[1\] is null; every value must be a finite number/],
      [["--input", write("words.txt", "hello there")], 1, /neither a PNG nor JSON/],
      [["--input", write("broken.png", Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]))], 1, /not a readable PNG/],
      [["--input", join(dir, "missing.json")], 1, /cannot read it \(no such file, ENOENT\)/],
      [["--input", write("obj.json", JSON.stringify({ x: [1] }))], 1, /needs an "inputs" field/],
      [["--input", join(dir, "one.json"), "--invert"], 2, /--invert applies to PNG input only/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli("predict", "--model", mlp, ...args);
      expect(r.code, r.err).toBe(code);
      expect(r.err).toMatch(message);
    }
    const r = await cli("predict", "--model", spiral, "--input", join(dir, "digit.png"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/a PNG, but the model \(2 input features\) was not trained on images/);
  });

  it("a spiral model takes its 2 raw features and standardises them as training did", async () => {
    const pts = [[0.5, -0.25], [-1, 0.75]];
    const f = join(dir, "pts.json");
    writeFileSync(f, JSON.stringify(pts));
    const r = await cli("predict", "--model", spiral, "--input", f, "--json");
    expect(r.code, r.err).toBe(0);
    const got = (JSON.parse(r.out) as { classes: string[]; predictions: { probabilities: number[] }[] });
    const { model, meta } = loadTrainedModel(spiral);
    model.eval();
    const x = Float32Array.from(pts.flat());
    if (meta.normalization) for (let i = 0; i < x.length; i++) x[i] = (x[i]! - meta.normalization.mean[i % 2]!) / meta.normalization.std[i % 2]!;
    const p = noGrad(() => softmax(model.forward(Tensor.fromStorage(x, [2, 2], "float32")), -1)).data;
    close(got.predictions[1]!.probabilities, Array.from(p.subarray(3, 6), Number));
    expect(got.classes).toHaveLength(3);
  });
});
