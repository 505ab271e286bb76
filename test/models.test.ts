/**
 * The `models` namespace: the networks `chainrule train` builds, and model files that carry their
 * architecture (what the playground's digits page saves and loads).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import { Generator, ValueError, models, nn, noGrad, randn, serialize, tensor, type Tensor } from "../src/index.js";

const mlp: models.Architecture = { model: "mlp", sizes: [784, 32, 10], activation: "relu", loss: "softmax" };
const cnn: models.Architecture = { model: "cnn", sizes: [784, 10], activation: "relu", loss: "softmax", layers: "conv4-bn-pool-fc16", input: [1, 28, 28] };

const outputs = (net: { forward(x: Tensor): Tensor; eval(): unknown }, x: Tensor): number[] => {
  net.eval();
  return noGrad(() => Array.from(net.forward(x).data as Float32Array));
};

describe("models.buildModel", () => {
  it("builds the CLI's MLP and convnets with PyTorch's state-dict names, seeded", () => {
    const a = models.buildModel(mlp, { generator: new Generator(1) });
    expect(Object.keys(a.stateDict())).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    const b = models.buildModel(mlp, { generator: new Generator(1) });
    expect(Array.from(a.stateDict()["0.weight"]!.data)).toEqual(Array.from(b.stateDict()["0.weight"]!.data));
    const net = models.buildModel(cnn, { generator: new Generator(0) });
    expect(Object.keys(net.stateDict())).toContain("2.running_mean");
    expect(net.forward(randn([3, 784], { generator: new Generator(2) })).shape).toEqual([3, 10]);
    expect(models.describeArchitecture(mlp)).toBe("784 → 32 relu → 10");
    expect(models.describeArchitecture(cnn)).toBe("[1, 28, 28] → conv4 → bn → pool → fc16 → 10");
  });

  it("bad architectures are ValueErrors naming the problem and the caller", () => {
    expect(() => models.buildModel({ ...mlp, activation: "swish" as models.ActivationName })).toThrow(/buildModel: unknown activation "swish"; use one of relu/);
    expect(() => models.buildModel({ ...mlp, model: "rnn" as models.ModelName }, { label: "page" })).toThrow(/page: unknown model "rnn"/);
    expect(() => models.buildModel({ ...cnn, layers: undefined })).toThrow(/needs "layers" and "input"/);
    expect(() => models.parseArchitecture("conv8-fc")).toThrow(models.ArchitectureError);
    expect(() => models.parseArchitecture("conv8-fc")).toThrow(/^architecture: token 2 "fc"/);
    expect(() => models.buildConvNet("conv4-pool4-pool4-pool4", [1, 28, 28], 10, { activation: () => new nn.ReLU(), label: "x" })).toThrow(/x: .*larger than its 1×1 input maps/);
    expect(() => models.lossFunction("mse" as models.LossName)).toThrow(ValueError);
  });
});

describe("models.toBytes / fromBytes", () => {
  const x = randn([5, 784], { generator: new Generator(3) });

  it("round-trips an MLP and a convnet with their metadata: same outputs", () => {
    for (const arch of [mlp, cnn]) {
      const net = models.buildModel(arch, { generator: new Generator(4) });
      const meta: models.ModelMetadata = { architecture: arch, classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], dataset: { name: "mnist", options: { seed: 0 } } };
      const back = models.fromBytes(models.toBytes(net, meta));
      expect(back.meta).toEqual(meta);
      expect(outputs(back.model, x)).toEqual(outputs(net, x));
    }
  });

  it("reads what `chainrule train --out` writes, as the CLI's eval does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chainrule-models-"));
    try {
      const code = await run(["train", "--dataset", "mnist", "--train-size", "200", "--test-size", "50", "--hidden", "16", "--epochs", "1", "--progress", "none", "--out", dir], { out: () => {}, err: () => {}, isTTY: false });
      expect(code).toBe(0);
      const { model, meta } = models.fromBytes(readFileSync(join(dir, "model.safetensors")));
      expect(meta.architecture).toMatchObject({ model: "mlp", sizes: [784, 16, 10], activation: "relu", loss: "softmax" });
      expect(meta.dataset?.name).toBe("mnist");
      expect(outputs(model, x).every(Number.isFinite)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a safetensors file without chainrule's metadata, or with broken JSON, is a ValueError naming the source", () => {
    const plain = serialize({ w: tensor([1, 2]) });
    expect(() => models.fromBytes(plain, { source: "upload.safetensors" })).toThrow(/upload.safetensors has no "chainrule.architecture" metadata/);
    const broken = serialize({ w: tensor([1, 2]) }, { [models.META_KEYS.architecture]: "{" });
    expect(() => models.fromBytes(broken)).toThrow(/the metadata entry "chainrule.architecture" is not valid JSON/);
    const wrong = serialize({ w: tensor([1, 2]) }, models.encodeMetadata({ architecture: mlp }));
    expect(() => models.fromBytes(wrong)).toThrow(/loadStateDict: the state dict does not fit Sequential: missing: "0.weight"/);
  });
});
