/**
 * The digits embedded in the playground (web/plugins/digits.ts writes digits.bin, web/shared/digits.ts
 * reads it) are the CLI's: decoding and splitting gives loadMnist's samples, bit for bit.
 */
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { data, models, ShapeError, ValueError } from "../src/index.js";
import { loadMnist } from "../src/data/node.js";
import { encodeDigits } from "../web/plugins/digits.js";
import { decodeDigits, splitDigits } from "../web/shared/digits.js";

const sameData = (a: data.TensorDataset, b: data.TensorDataset): boolean =>
  a.x.shape.join() === b.x.shape.join() && a.x.data.every((v, i) => v === b.x.data[i]) && a.y.data.every((v, i) => v === b.y.data[i]);

describe("digits.bin", () => {
  const bytes = encodeDigits();
  const byClass = decodeDigits(bytes.slice().buffer);

  it("holds the 10,000 digits in 7.8 MB (u8 indices into a 256-value pixel table)", () => {
    expect(byClass.map((x) => x.length / 784)).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(bytes.length).toBe(52 + 4 * 256 + 10_000 * 784);
  });

  it("gives loadMnist's split sample for sample (default, a small seeded one, images)", () => {
    const cli = loadMnist();
    const page = splitDigits(byClass);
    expect(sameData(page.train, cli.train)).toBe(true);
    expect(sameData(page.test, cli.test)).toBe(true);
    expect(page.train.classes).toEqual(cli.train.classes);
    const small = { trainSize: 300, testSize: 77, seed: 5 };
    expect(sameData(splitDigits(byClass, small).test, loadMnist(small).test)).toBe(true);
    expect(sameData(splitDigits(byClass, { ...small, images: true }).train, loadMnist({ ...small, flatten: false }).train)).toBe(true);
  });

  it("a truncated or foreign file is refused with a message saying what was expected", () => {
    expect(() => decodeDigits(bytes.slice(0, 1000).buffer)).toThrow(/digits.bin: 1000 bytes, expected 7841076/);
    expect(() => decodeDigits(new Uint8Array(64).buffer)).toThrow(/not a chainrule digits file/);
  });
});

describe("data.stratifiedSplit", () => {
  const byClass = [new Float32Array([0, 0, 1, 1, 2, 2]), new Float32Array([10, 10, 11, 11])];

  it("splits per class by their shares, disjoint, seeded", () => {
    const { train, test } = data.stratifiedSplit(byClass, 2, { trainSize: 3, testSize: 2, seed: 1 });
    expect(train.length).toBe(3);
    expect(test.length).toBe(2);
    const firsts = [...Array.from(train.x.data), ...Array.from(test.x.data)].filter((_, i) => i % 2 === 0);
    expect(new Set(firsts).size).toBe(5);
    expect(Array.from(train.y.data).filter((y) => y === 0).length).toBe(2);
    const again = data.stratifiedSplit(byClass, 2, { trainSize: 3, testSize: 2, seed: 1 });
    expect(Array.from(again.train.x.data)).toEqual(Array.from(train.x.data));
  });

  it("bad input names the problem", () => {
    expect(() => data.stratifiedSplit(byClass, 2, { trainSize: 5, testSize: 1 })).toThrow(ValueError);
    expect(() => data.stratifiedSplit(byClass, 2, { trainSize: 5, testSize: 1 })).toThrow(/trainSize \+ testSize = 6, but there are only 5 samples/);
    expect(() => data.stratifiedSplit([new Float32Array(3)], 2, { trainSize: 1, testSize: 0 })).toThrow(ShapeError);
    expect(() => data.stratifiedSplit(byClass, 2, { trainSize: 1, testSize: 0, sampleShape: [3] })).toThrow(/sampleShape \[3\] does not hold 2 features/);
  });
});

describe("the digits page's recipes are the CLI's", () => {
  it("learning rates, epochs, weight decay, momentum, batch and split sizes match `chainrule train`'s defaults", async () => {
    const cli = await import("../src/cli/commands/train.js");
    const { RECIPES, MOMENTUM, WEIGHT_DECAY, BATCH_SIZE, TRAIN_SIZE, TEST_SIZE } = await import("../web/digits/recipe.js");
    expect(RECIPES.mlp.lr).toBe(cli.defaultLr("momentum", "mnist", "mlp"));
    expect(RECIPES.cnn.lr).toBe(cli.defaultLr("momentum", "mnist", "cnn"));
    expect(RECIPES.mlp.epochs).toBe(cli.DEFAULT_EPOCHS.mnist);
    expect(RECIPES.cnn.epochs).toBe(cli.CNN_DEFAULT_EPOCHS.mnist);
    expect(RECIPES.cnn.architecture.layers).toBe(models.CNN_SPEC);
    expect(WEIGHT_DECAY).toBe(cli.DEFAULT_WEIGHT_DECAY);
    const program = new Command();
    cli.trainCommand.register(program, { out: () => {}, err: () => {}, isTTY: false });
    const option = (name: string): unknown => program.commands.find((c) => c.name() === "train")!.options.find((o) => o.long === name)?.defaultValue;
    expect(option("--momentum")).toBe(MOMENTUM);
    expect(option("--batch-size")).toBe(BATCH_SIZE);
    const split = loadMnist();
    expect([split.train.length, split.test.length]).toEqual([TRAIN_SIZE, TEST_SIZE]);
  });
});
