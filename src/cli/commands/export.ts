/**
 * `chainrule export`: writes a model trained by `chainrule train --out DIR` as an ONNX file that
 * ONNX Runtime (Node, browsers, Python), PyTorch tooling and other engines run. The file takes the
 * same raw features as `chainrule predict` (the training set's standardisation is part of the
 * graph) and outputs the class scores, or the probabilities with --probabilities.
 */
import { Option, type Command } from "commander";
import { basename, dirname, join } from "node:path";
import { statSync } from "node:fs";
import { Tensor, nn, noGrad, onnx, randn, softmax, Generator } from "../../index.js";
import { writeFileAtomic } from "../../io/node-fs.js";
import { CliError, UsageError, checkWritableFile, type CliIO } from "../common.js";
import { describeArchitecture, loadTrainedModel } from "../model.js";
import type { CliCommand } from "./index.js";

export interface ExportCommandOptions {
  model: string;
  format: "onnx";
  out?: string;
  opset: number;
  probabilities?: boolean;
}

/** A trained model with its input standardisation in front (and softmax behind, on request). */
class Served extends nn.Module {
  private readonly _mean: Tensor | undefined;
  private readonly _std: Tensor | undefined;
  constructor(readonly net: nn.Module, normalization: { mean: number[]; std: number[] } | undefined, private readonly _softmax: boolean) {
    super();
    if (normalization) {
      this._mean = Tensor.fromStorage(Float32Array.from(normalization.mean), [normalization.mean.length], "float32");
      this._std = Tensor.fromStorage(Float32Array.from(normalization.std), [normalization.std.length], "float32");
    }
  }
  forward(x: Tensor): Tensor {
    const z = this._mean && this._std ? x.sub(this._mean).div(this._std) : x;
    const scores = this.net.forward(z);
    return this._softmax ? softmax(scores, -1) : scores;
  }
}

function parseOpset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < onnx.MIN_EXPORT_OPSET || n > onnx.MAX_EXPORT_OPSET) {
    throw new UsageError(`--opset must be an integer from ${onnx.MIN_EXPORT_OPSET} to ${onnx.MAX_EXPORT_OPSET}, got "${value}".`);
  }
  return n;
}

export interface ExportResult {
  file: string;
  bytes: number;
  inputName: string;
  outputName: string;
  features: number;
  classes: string[];
  /** Largest |difference| between chainrule's forward and the file read back by onnx.loadModel. */
  selfCheck: number;
}

export function exportAction(opts: ExportCommandOptions, io: CliIO): ExportResult {
  if (opts.format !== "onnx") throw new UsageError(`--format ${String(opts.format)}: the only export format is onnx (model.safetensors is already what PyTorch reads).`);
  const { model, meta, file } = loadTrainedModel(opts.model);
  const arch = meta.architecture;
  const features = arch.sizes[0]!;
  const outputs = arch.sizes[arch.sizes.length - 1]!;
  const classes = meta.classes && meta.classes.length === outputs ? meta.classes : Array.from({ length: outputs }, (_, i) => String(i));
  const dir = (() => {
    try {
      return statSync(opts.model).isDirectory() ? opts.model : dirname(file);
    } catch {
      return dirname(file);
    }
  })();
  const out = opts.out ?? join(dir, "model.onnx");
  checkWritableFile("--out", out);
  const served = new Served(model, meta.normalization, opts.probabilities ?? false);
  const outputName = opts.probabilities ? "probabilities" : "scores";
  let bytes: Uint8Array;
  try {
    bytes = onnx.exportModel(served, Tensor.fromStorage(new Float32Array(features), [1, features], "float32"), {
      opset: opts.opset,
      inputNames: ["input"],
      outputName,
      graphName: describeArchitecture(arch),
      docString: `Exported by chainrule from ${basename(file)}. Input: [batch, ${features}] raw features (${meta.normalization ? "standardised inside the graph" : "no standardisation"}). Output: [batch, ${outputs}] ${opts.probabilities ? "class probabilities" : "class scores (apply softmax for probabilities)"}.`,
      metadata: {
        "chainrule.architecture": JSON.stringify(arch),
        "chainrule.classes": JSON.stringify(classes),
        ...(meta.dataset ? { "chainrule.dataset": JSON.stringify(meta.dataset) } : {}),
      },
    });
  } catch (e) {
    if (e instanceof onnx.OnnxExportError) throw new CliError(e.message);
    throw e;
  }
  // Read the file back with chainrule's own reader: the same outputs, or no file.
  const x = randn([4, features], { generator: new Generator(0) }).abs();
  served.eval();
  const expected = noGrad(() => served.forward(x));
  const got = noGrad(() => onnx.loadModel(bytes).forward(x));
  let selfCheck = 0;
  for (let i = 0; i < expected.size; i++) selfCheck = Math.max(selfCheck, Math.abs(Number(expected.data[i]) - Number(got.data[i])));
  if (!(selfCheck <= 1e-5)) throw new CliError(`the exported graph read back gives outputs ${selfCheck} away from the model's; nothing was written. Please report this.`);
  writeFileAtomic(out, bytes);
  io.out(`model:   ${file} (${describeArchitecture(arch)})\n`);
  io.out(`wrote:   ${out} (${(bytes.length / 1024).toFixed(1)} KiB, ONNX opset ${opts.opset})\n`);
  io.out(`input:   "input" float32 [batch, ${features}], raw features${meta.normalization ? " (standardised inside the graph)" : ""}\n`);
  io.out(`output:  "${outputName}" float32 [batch, ${outputs}], ${opts.probabilities ? "probabilities" : "scores (softmax gives probabilities)"}; classes ${classes.join(", ")}\n`);
  io.out(`check:   read back by onnx.loadModel, max |difference| ${selfCheck.toExponential(1)}\n`);
  return { file: out, bytes: bytes.length, inputName: "input", outputName, features, classes, selfCheck };
}

export const exportCommand: CliCommand = {
  name: "export",
  register(program: Command, io: CliIO): void {
    program
      .command("export")
      .summary("write a trained model as an ONNX file (ONNX Runtime, PyTorch tooling)")
      .description(
        "Writes the model of a `chainrule train --out` directory as ONNX, built from the graph one forward pass records. " +
          "The file takes raw features [batch, features] (the training set's standardisation is inside the graph, as in " +
          "`chainrule predict`) and outputs class scores, or probabilities with --probabilities. docs/deploy.md shows how to serve it.",
      )
      .requiredOption("--model <dir>", "the --out directory of `chainrule train` (or its model.safetensors)")
      .addOption(new Option("--format <format>", "the file format").choices(["onnx"]).default("onnx"))
      .option("--out <file>", "where to write (default: model.onnx beside model.safetensors)")
      .option("--opset <n>", `ONNX opset, ${onnx.MIN_EXPORT_OPSET} to ${onnx.MAX_EXPORT_OPSET}`, parseOpset, onnx.MIN_EXPORT_OPSET)
      .option("--probabilities", "end the graph with a softmax (output \"probabilities\" instead of \"scores\")")
      .action((opts: ExportCommandOptions) => {
        exportAction(opts, io);
      });
  },
};
