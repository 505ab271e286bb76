/**
 * `chainrule train --model cnn` and architecture strings (issue 11): the parser (good and bad
 * specs, messages with the token's position), a short convnet run on the embedded digits that
 * writes filters.png and feature maps, eval/gradcheck/graph rebuilding the saved convnet from its
 * metadata, the CIFAR-10 path with augmentation on a fixture in the real binary format, and the
 * augmentation helpers.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConvNet, parseArchitecture } from "../src/cli/architecture.js";
import { run } from "../src/cli/main.js";
import { loadWithMetadata } from "../src/io/node-fs.js";
import { Generator, ShapeError, ValueError, data, nn, tensor } from "../src/index.js";
import { writeCifar } from "./cli-fixtures.js";

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false });
  return { code, out, err };
}

let tmp: string;
beforeAll(() => void (tmp = mkdtempSync(join(tmpdir(), "chainrule-cnn-cli-"))));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("architecture strings", () => {
  it("parse into layers; the network has PyTorch's Sequential names and the right shapes", () => {
    expect(parseArchitecture("conv16x5s2-bn-pool3-avgpool-gap-dropout0.25-fc64")).toEqual([
      { kind: "conv", filters: 16, kernel: 5, stride: 2 }, { kind: "bn" }, { kind: "pool", kernel: 3 }, { kind: "avgpool", kernel: 2 }, { kind: "gap" }, { kind: "dropout", p: 0.25 }, { kind: "fc", units: 64 },
    ]);
    const model = buildConvNet("conv8-bn-pool-conv16-pool-dropout0.1-fc32", [1, 28, 28], 10, { activation: () => new nn.ReLU() });
    expect([...model].map((m) => m.constructor.name)).toEqual([
      "Unflatten", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Dropout2d", "Flatten", "Linear", "ReLU", "Linear",
    ]);
    expect(Object.keys(model.stateDict())).toContain("2.running_mean");
    expect(model.forward(tensor(new Array(2 * 784).fill(0.5)).reshape([2, 784])).shape).toEqual([2, 10]);
  });

  for (const [spec, pattern] of [
    ["", /empty architecture/],
    ["conv16-pool-fc", /token 3 "fc" \(character 13 of "conv16-pool-fc"\) is not a layer; use conv<F>/],
    ["conv16x4", /kernel odd/],
    ["conv0", /sizes must be positive/],
    ["fc128", /has no conv layer; for a plain MLP use --model mlp/],
    ["conv8-dropout1.5", /not a layer|dropout probability/],
  ] as const) {
    it(`rejects "${spec}" with the token and what to do`, () => expect(() => parseArchitecture(spec)).toThrow(pattern));
  }

  it("a pool larger than its input maps, or a conv after fc, is a usage error naming the layer", () => {
    expect(() => buildConvNet("conv4-pool-pool-pool-pool-pool", [1, 28, 28], 10, { activation: () => new nn.ReLU() })).toThrow(/layer 6 \(pool2\) is larger than its 1×1 input maps/);
    expect(() => buildConvNet("conv4-fc8-conv4", [1, 28, 28], 10, { activation: () => new nn.ReLU() })).toThrow(/layer 3 \(conv\) comes after fc\/gap/);
  });

  it("the command: a bad --model exits with code 2 and a one-line message; a convnet on spiral is refused", async () => {
    const bad = await cli("train", "--model", "conv16-pool-fc", "--progress", "none");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/token 3 "fc"/);
    const spiral = await cli("train", "--model", "cnn", "--dataset", "spiral", "--progress", "none");
    expect(spiral.code).toBe(2);
    expect(spiral.err).toMatch(/needs images/);
  });
});

describe("chainrule train --model <convnet>", () => {
  it("trains on the embedded digits, writes the model (architecture in its metadata), filters.png and one feature-map grid per conv layer; eval, gradcheck and graph rebuild it", async () => {
    const out = join(tmp, "cnn");
    const r = await cli("train", "--model", "conv4-pool-conv8-pool-fc16", "--train-size", "1000", "--test-size", "200", "--epochs", "2", "--optimizer", "adam", "--lr", "0.003", "--batch-size", "32", "--progress", "none", "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\[1, 28, 28\] → conv4 → pool → conv8 → pool → fc16 → 10/);
    const acc = Number(/test accuracy: ([\d.]+)%/.exec(r.out)![1]);
    expect(acc).toBeGreaterThan(30);
    const { tensors, metadata } = loadWithMetadata(join(out, "model.safetensors"));
    expect(JSON.parse(metadata["chainrule.architecture"]!)).toMatchObject({ model: "cnn", layers: "conv4-pool-conv8-pool-fc16", input: [1, 28, 28] });
    expect(tensors["1.weight"]!.shape).toEqual([4, 1, 3, 3]);
    const filters = PNG.sync.read(readFileSync(join(out, "filters.png")));
    expect(filters.width).toBeGreaterThan(3 * 2 * 4);
    for (const [k, side] of [[1, 28], [2, 14]] as const) {
      const maps = PNG.sync.read(readFileSync(join(out, `feature-maps-${k}.png`)));
      expect(maps.width).toBeGreaterThanOrEqual(side * 2);
    }
    const ev = await cli("eval", "--model", out);
    expect(ev.code, ev.err).toBe(0);
    expect(ev.out).toContain(`${acc.toFixed(2)}%`);
    const gc = await cli("gradcheck", "--model", out, "--samples", "2", "--max-elements", "50");
    expect(gc.code, gc.out + gc.err).toBe(0);
    const svg = join(tmp, "cnn.svg");
    const gr = await cli("graph", "--model", out, "--out", svg, "--batch", "2");
    expect(gr.code, gr.err).toBe(0);
    const picture = readFileSync(svg, "utf8");
    for (const module of ["Conv2d", "MaxPool2d", "Linear"]) expect(picture).toContain(module);
    expect(gr.out).toMatch(/each module drawn as one gate/);
  }, 120_000);

  it("--dataset cifar10 trains a convnet on CIFAR-10 binaries with augmentation; the same seed gives the same weights", async () => {
    const dir = join(tmp, "cifar");
    writeCifar(dir, 40);
    const runOnce = async (name: string) => {
      const out = join(tmp, name);
      const r = await cli("train", "--dataset", "cifar10", "--data-dir", dir, "--model", "conv4-pool-gap", "--epochs", "1", "--batch-size", "32", "--progress", "none", "--out", out);
      expect(r.code, r.err).toBe(0);
      return loadWithMetadata(join(out, "model.safetensors")).tensors;
    };
    const [a, b] = [await runOnce("c1"), await runOnce("c2")];
    expect(a["1.weight"]!.shape).toEqual([4, 3, 3, 3]);
    expect(Array.from(a["1.weight"]!.data)).toEqual(Array.from(b["1.weight"]!.data));
  }, 120_000);
});

describe("data.randomCrop and data.randomHorizontalFlip", () => {
  const x = tensor(Array.from({ length: 2 * 2 * 3 * 4 }, (_, i) => i)).reshape([2, 2, 3, 4]);
  it("are seeded: the same generator seed gives the same batch", () => {
    const a = data.randomCrop(x, [3, 4], { padding: 2, generator: new Generator(1) });
    const b = data.randomCrop(x, [3, 4], { padding: 2, generator: new Generator(1) });
    expect(a.toArray()).toEqual(b.toArray());
    expect(data.randomHorizontalFlip(x, { generator: new Generator(3) }).toArray()).toEqual(data.randomHorizontalFlip(x, { generator: new Generator(3) }).toArray());
  });
  it("a crop of the full size without padding is the identity; a crop keeps every value it shows from the image, zeros elsewhere", () => {
    expect(data.randomCrop(x, [3, 4], { generator: new Generator(0) }).toArray()).toEqual(x.toArray());
    const c = data.randomCrop(x, 2, { padding: 1, generator: new Generator(5) });
    expect(c.shape).toEqual([2, 2, 2, 2]);
    const values = new Set(Array.from(x.data));
    for (const v of c.data) expect(v === 0 || values.has(v)).toBe(true);
  });
  it("flipping with p = 1 mirrors every row, twice is the identity; p = 0 changes nothing", () => {
    const once = data.randomHorizontalFlip(x, { p: 1 });
    expect((once.toArray() as number[][][][])[0]![0]![0]).toEqual([3, 2, 1, 0]);
    expect(data.randomHorizontalFlip(once, { p: 1 }).toArray()).toEqual(x.toArray());
    expect(data.randomHorizontalFlip(x, { p: 0 }).toArray()).toEqual(x.toArray());
  });
  it("bad arguments get clear errors", () => {
    expect(() => data.randomCrop(tensor([1, 2, 3]), 2)).toThrow(ShapeError);
    expect(() => data.randomCrop(x, 9)).toThrow(/no larger than the padded image \(3 × 4\)/);
    expect(() => data.randomCrop(x, 2, { padding: -1 })).toThrow(ValueError);
    expect(() => data.randomHorizontalFlip(x, { p: 2 })).toThrow(/\[0, 1\]/);
  });
  it("as a DataLoader transform: seeded per (seed, epoch, batch), so an epoch repeats exactly", () => {
    const ds = new data.TensorDataset(x, tensor([0, 1], { dtype: "int32" }));
    const loader = new data.DataLoader(ds, { batchSize: 1, shuffle: true, seed: 4, transform: ([bx, by], g) => [data.randomCrop(bx, [3, 4], { padding: 1, generator: g }), by] });
    const epoch = () => [...loader].map(([bx]) => bx.toArray());
    expect(epoch()).toEqual(epoch());
    loader.setEpoch(1);
    expect(epoch()).not.toEqual((loader.setEpoch(0), epoch()));
  });
});
