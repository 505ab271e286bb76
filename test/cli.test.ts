import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWithMetadata } from "../src/io/node-fs.js";
import { commands } from "../src/cli/commands/index.js";
import { run } from "../src/cli/main.js";
import { formatConfusion } from "../src/cli/commands/eval.js";
import { curvesSvg } from "../src/cli/plot.js";
import { PNG_SIGNATURE, weightsImage } from "../src/cli/weights-image.js";
import { Generator } from "../src/index.js";
import { writeCifar } from "./cli-fixtures.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Runs the command in-process and captures its output. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false });
  return { code, out, err };
}

function isPng(bytes: Uint8Array): boolean {
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "chainrule-cli-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Tiny MNIST-like IDX files: class k is a bright horizontal bar at row 2k + 4, plus noise. */
function writeIdx(dir: string, split: "train" | "t10k", n: number, seed: number): void {
  mkdirSync(dir, { recursive: true });
  const g = new Generator(seed);
  const images = new Uint8Array(16 + n * 784);
  const labels = new Uint8Array(8 + n);
  const view = new DataView(images.buffer);
  view.setUint32(0, 2051);
  view.setUint32(4, n);
  view.setUint32(8, 28);
  view.setUint32(12, 28);
  const lview = new DataView(labels.buffer);
  lview.setUint32(0, 2049);
  lview.setUint32(4, n);
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    labels[8 + i] = k;
    for (let p = 0; p < 784; p++) images[16 + i * 784 + p] = Math.floor(g.random() * 60);
    for (let c = 4; c < 24; c++) images[16 + i * 784 + (2 * k + 4) * 28 + c] = 255;
  }
  writeFileSync(join(dir, `${split}-images-idx3-ubyte`), images);
  writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), labels);
}

describe("chainrule: program and usage errors", () => {
  it("registers train, eval and gradcheck from the command list", async () => {
    expect(commands.map((c) => c.name)).toEqual(expect.arrayContaining(["train", "eval", "gradcheck"]));
    const { code, out } = await cli("--help");
    expect(code).toBe(0);
    for (const name of ["train", "eval", "gradcheck"]) expect(out).toContain(name);
  });

  it("train --help lists every option with its default", async () => {
    const { code, out } = await cli("train", "--help");
    expect(code).toBe(0);
    for (const flag of ["--dataset", "--data-dir", "--model", "--hidden", "--activation", "--loss", "--optimizer", "--lr", "--weight-decay", "--batch-size", "--epochs", "--seed", "--dtype", "--out", "--resume", "--progress"]) {
      expect(out).toContain(flag);
    }
    expect(out).toMatch(/default: "momentum"/);
    expect(out).toMatch(/default: 128/);
  });

  it("a wrong --optimizer names the option and the valid choices, exit code 2", async () => {
    const { code, err } = await cli("train", "--optimizer", "adagrad");
    expect(code).toBe(2);
    expect(err).toContain("--optimizer");
    expect(err).toContain("sgd, momentum, rmsprop, adam, adamw");
  });

  it.each([
    [["--epochs", "0"], "--epochs", "positive integer"],
    [["--epochs", "2.5"], "--epochs", "positive integer"],
    [["--batch-size", "abc"], "--batch-size", "positive integer"],
    [["--lr", "-0.1"], "--lr", "greater than 0"],
    [["--weight-decay", "x"], "--weight-decay", "number"],
    [["--hidden", "100,zero"], "--hidden", "comma"],
    [["--activation", "gelu"], "--activation", "relu, leakyRelu, tanh, sigmoid, elu"],
    [["--loss", "mse"], "--loss", "softmax, svm"],
    [["--dtype", "int32"], "--dtype", "float32, float64"],
    [["--progress", "fancy"], "--progress", "bar, lines, json, none"],
    [["--backend", "cuda"], "--backend", "wasm, js, webgpu"],
    [["--backend", "webgpu", "--dtype", "float64"], "--backend webgpu", "float32"],
  ])("train %j is a usage error naming %s", async (args, option, hint) => {
    const { code, err } = await cli("train", ...args);
    expect(code).toBe(2);
    expect(err).toContain(option);
    expect(err).toContain(hint);
  });

  it("--backend js trains on the reference kernels; --backend webgpu without a GPU adapter fails saying why (exit 1)", async () => {
    const js = await cli("train", "--backend", "js", "--dataset", "spiral", "--epochs", "2", "--progress", "none");
    expect(js.code).toBe(0);
    expect(js.out).toContain("backend:   js");
    expect(js.out).toMatch(/test accuracy: /);
    const gpu = await cli("train", "--backend", "webgpu", "--dataset", "spiral", "--epochs", "1", "--progress", "none");
    if (gpu.code === 0) {
      // A machine with a GPU (and Dawn's driver): it trained there.
      expect(gpu.out).toContain("backend:   webgpu");
    } else {
      expect(gpu.code).toBe(1);
      expect(gpu.err).toMatch(/--backend webgpu: backendReady\("webgpu"\): .*(no GPU adapter|not installed).*CPU backend stays in use/);
    }
  });

  it("mnist-idx and cifar10 need --data-dir (exit code 2)", async () => {
    for (const dataset of ["mnist-idx", "cifar10"]) {
      const { code, err } = await cli("train", "--dataset", dataset);
      expect(code).toBe(2);
      expect(err).toContain("--data-dir");
    }
  });

  it("an unknown command or option is a usage error", async () => {
    expect((await cli("fly")).code).toBe(2);
    expect((await cli("train", "--colour", "red")).code).toBe(2);
    expect((await cli("eval")).code).toBe(2); // --model is required
  });

  it("the bin runs as a script: shebang, exit code 2 on a usage error", () => {
    expect(readFileSync(join(root, "src/cli/main.ts"), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin: Record<string, string> };
    expect(pkg.bin.chainrule).toBe("./dist/cli/main.js");
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "train", "--optimizer", "nope"], { cwd: root, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Allowed choices are sgd, momentum, rmsprop, adam, adamw");
  }, 30_000);
});

describe("chainrule train / eval / gradcheck", () => {
  it("train --dataset spiral --epochs 3 --out DIR writes the model, history and curves; eval and gradcheck read it", async () => {
    const out = join(tmp, "spiral");
    const t = await cli("train", "--dataset", "spiral", "--epochs", "3", "--out", out);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/epoch 3\/3/);
    const acc = /test accuracy: ([\d.]+)%/.exec(t.out)?.[1];
    expect(acc).toBeDefined();
    expect(t.out).toMatch(/wall time: [\d.]+ s/);

    const { tensors, metadata } = loadWithMetadata(join(out, "model.safetensors"));
    expect(Object.keys(tensors).sort()).toEqual(["0.bias", "0.weight", "2.bias", "2.weight"]);
    expect(JSON.parse(metadata["chainrule.architecture"]!)).toEqual({ model: "mlp", sizes: [2, 100, 3], activation: "relu", loss: "softmax" });
    expect(JSON.parse(metadata["chainrule.dataset"]!).name).toBe("spiral");
    expect(JSON.parse(metadata["chainrule.classes"]!)).toHaveLength(3);
    const history = JSON.parse(readFileSync(join(out, "history.json"), "utf8"));
    expect(history.history.epochs).toHaveLength(3);
    expect(history.test.accuracy).toBeCloseTo(Number(acc) / 100, 4);
    expect(readFileSync(join(out, "curves.svg"), "utf8")).toMatch(/^<svg/);
    expect(existsSync(join(out, "weights.png"))).toBe(false); // not image data
    expect(existsSync(join(out, "checkpoint.safetensors"))).toBe(true);

    // eval rebuilds the network from the metadata and gets the same test accuracy.
    const e = await cli("eval", "--model", out);
    expect(e.code).toBe(0);
    expect(e.out).toContain(`test accuracy: ${acc}%`);
    expect(e.out).toContain("true \\ predicted");
    expect(e.out).toMatch(/arm 0 +\d+ +\d+ +\d+ +[\d.]+%/);

    const g = await cli("gradcheck", "--model", out);
    expect(g.code).toBe(0);
    expect(g.out).toMatch(/0\.weight +\[100, 2\] +all 200 +\S+ +\S+ +ok/);
    expect(g.out).toContain("4 of 4 parameters pass");

    // --resume continues from the checkpoint up to the new total.
    const r = await cli("train", "--dataset", "spiral", "--epochs", "5", "--out", out, "--resume", join(out, "checkpoint.safetensors"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("resuming after epoch 3/5");
    expect(JSON.parse(readFileSync(join(out, "history.json"), "utf8")).history.epochs).toHaveLength(5);
  }, 30_000);

  it("train on embedded MNIST (tiny) writes weights.png: one 28×28 tile per hidden unit", async () => {
    const out = join(tmp, "mnist");
    const t = await cli("train", "--train-size", "300", "--test-size", "100", "--hidden", "12", "--epochs", "1", "--progress", "none", "--out", out);
    expect(t.code).toBe(0);
    expect(t.out).not.toMatch(/epoch 1\/1/); // --progress none
    const bytes = readFileSync(join(out, "weights.png"));
    expect(isPng(bytes)).toBe(true);
    const png = PNG.sync.read(bytes);
    // 12 tiles → 4 columns × 3 rows of 28·2 pixels with a 1-pixel gap.
    expect([png.width, png.height]).toEqual([4 * 57 + 1, 3 * 57 + 1]);
    const e = await cli("eval", "--model", join(out, "model.safetensors"));
    expect(e.code).toBe(0);
    expect(e.out).toContain("100 test samples");
  }, 30_000);

  it("mnist-idx and cifar10 read files from --data-dir; a 3-layer net, json progress, float64", async () => {
    const idx = join(tmp, "idx");
    writeIdx(idx, "train", 200, 1);
    writeIdx(idx, "t10k", 50, 2);
    const outIdx = join(tmp, "idx-run");
    const a = await cli("train", "--dataset", "mnist-idx", "--data-dir", idx, "--hidden", "16,8", "--epochs", "2", "--progress", "json", "--dtype", "float64", "--out", outIdx);
    expect(a.code).toBe(0);
    const lines = a.out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 2).map((l) => l.epoch)).toEqual([1, 2]);
    expect((lines[2]!.test as { samples: number }).samples).toBe(50);
    expect(JSON.parse(loadWithMetadata(join(outIdx, "model.safetensors")).metadata["chainrule.architecture"]!).sizes).toEqual([784, 16, 8, 10]);
    expect(isPng(readFileSync(join(outIdx, "weights.png")))).toBe(true);

    const cifar = join(tmp, "cifar");
    writeCifar(cifar, 20);
    const outCifar = join(tmp, "cifar-run");
    const b = await cli("train", "--dataset", "cifar10", "--data-dir", cifar, "--hidden", "8", "--epochs", "1", "--out", outCifar);
    expect(b.code).toBe(0);
    expect(b.out).toContain("standardised per feature");
    const png = PNG.sync.read(readFileSync(join(outCifar, "weights.png")));
    expect([png.width, png.height]).toEqual([3 * 65 + 1, 3 * 65 + 1]); // 8 tiles of 32×32×2
    const meta = loadWithMetadata(join(outCifar, "model.safetensors")).metadata;
    expect(JSON.parse(meta["chainrule.normalization"]!).mean).toHaveLength(3072);
    const e = await cli("eval", "--model", outCifar, "--data-dir", cifar);
    expect(e.code).toBe(0);
    expect(e.out).toContain("airplane");
    expect(e.out).toContain(/test accuracy: ([\d.]+%)/.exec(b.out)![1]);
  }, 30_000);

  it("gradcheck of a fresh 3-layer net passes; impossible tolerances fail with exit code 1", async () => {
    const ok = await cli("gradcheck", "--inputs", "5", "--hidden", "6,4", "--classes", "3", "--activation", "tanh", "--loss", "svm");
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/parameter +shape +checked +max abs error +max rel error +ok/);
    expect(ok.out).toContain("6 of 6 parameters pass");
    const sampled = await cli("gradcheck", "--inputs", "50", "--hidden", "40", "--classes", "3", "--max-elements", "25");
    expect(sampled.code).toBe(0);
    expect(sampled.out).toMatch(/0\.weight +\[40, 50\] +25 of 2000 +\S+ +\S+ +ok/);
    const bad = await cli("gradcheck", "--inputs", "3", "--hidden", "4", "--classes", "2", "--atol", "0", "--rtol", "0");
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("FAIL");
    expect(bad.err).toContain("gradient check failed");
  }, 30_000);
});

describe("chainrule output helpers", () => {
  it("formatConfusion aligns the counts under the class names", () => {
    const text = formatConfusion([[5, 1], [0, 12]], ["cat", "dog"]);
    expect(text.split("\n").slice(1, 4)).toEqual(["true \\ predicted  cat  dog   recall", "cat                 5    1   83.33%", "dog                 0   12  100.00%"]);
  });

  it("curvesSvg draws both charts; weightsImage min-max scales each tile", async () => {
    const svg = await curvesSvg({ steps: { loss: [2, 1.5, 1, 0.8] }, epochs: [{ epoch: 1, trainLoss: 1.5, trainAccuracy: 0.5, valLoss: 1.4, valAccuracy: 0.55 }, { epoch: 2, trainLoss: 0.9, trainAccuracy: 0.7, valLoss: 1, valAccuracy: 0.65 }] });
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain("Loss");
    expect(svg).toContain("Accuracy");
    const w = { data: Float32Array.from({ length: 2 * 4 }, (_, i) => (i < 4 ? i : -i)), shape: [2, 4] };
    const png = PNG.sync.read(Buffer.from(weightsImage(w, { channels: 1, height: 2, width: 2 }, { scale: 1 })));
    expect([png.width, png.height]).toEqual([2 * 3 + 1, 4]);
    // Tile 0 is 0, 1, 2, 3 → 0, 85, 170, 255; tile 1 is −4…−7 → 255, 170, 85, 0.
    const px = (x: number, y: number): number => png.data[(y * png.width + x) * 4]!;
    expect([px(1, 1), px(2, 1), px(1, 2), px(2, 2)]).toEqual([0, 85, 170, 255]);
    expect([px(4, 1), px(5, 1), px(4, 2), px(5, 2)]).toEqual([255, 170, 85, 0]);
  });
});
