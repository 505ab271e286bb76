/**
 * `chainrule eval`: loads a model written by `chainrule train --out DIR`, rebuilding the network
 * from the metadata in model.safetensors, and prints its test accuracy and confusion matrix.
 */
import { Option, type Command } from "commander";
import { data, noGrad, type Tensor, type nn } from "../../index.js";
import { CliError, UsageError, formatSeconds, parsePositiveInt, percent, type CliIO } from "../common.js";
import { DATASETS, prepareData, type DatasetName } from "../datasets.js";
import { describeArchitecture, loadTrainedModel, lossFunction } from "../model.js";
import type { CliCommand } from "./index.js";

export interface EvalCommandOptions {
  model: string;
  dataset?: DatasetName;
  dataDir?: string;
  testSize?: number;
  batchSize: number;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
  samples: number;
  /** confusion[true][predicted]. */
  confusion: number[][];
  classes: string[];
}

/** Loss, accuracy and confusion matrix of `model` over the batches of `loader` (eval mode, no graph). */
export function evaluateModel(model: nn.Module, loss: (scores: Tensor, labels: Tensor) => Tensor, loader: Iterable<readonly [Tensor, Tensor]>, classes: number): Omit<EvalResult, "classes"> {
  model.eval();
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  let samples = 0;
  let correct = 0;
  noGrad(() => {
    for (const [x, y] of loader) {
      const scores = model.forward(x);
      const n = y.size;
      lossSum += loss(scores, y).item() * n;
      samples += n;
      const s = scores.data;
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let j = 1; j < classes; j++) if (s[i * classes + j]! > s[i * classes + best]!) best = j;
        const label = y.data[i]!;
        confusion[label]![best]! += 1;
        if (label === best) correct++;
      }
    }
  });
  if (samples === 0) throw new CliError("the test split is empty.");
  return { loss: lossSum / samples, accuracy: correct / samples, samples, confusion };
}

/**
 * The confusion matrix as an aligned table: one row per true class, one column per predicted
 * class, and each class's recall (its row's diagonal share) at the end.
 */
export function formatConfusion(confusion: readonly (readonly number[])[], classes: readonly string[]): string {
  const k = confusion.length;
  const names = Array.from({ length: k }, (_, i) => classes[i] ?? String(i));
  const corner = "true \\ predicted";
  const labelWidth = Math.max(corner.length, ...names.map((n) => n.length));
  const cellWidth = Math.max(...names.map((n) => n.length), ...confusion.flat().map((v) => String(v).length));
  const header = [corner.padEnd(labelWidth), ...names.map((n) => n.padStart(cellWidth)), "recall".padStart(7)].join("  ");
  const rows = confusion.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    const recall = total > 0 ? percent(row[i]! / total) : "-";
    return [names[i]!.padEnd(labelWidth), ...row.map((v) => String(v).padStart(cellWidth)), recall.padStart(7)].join("  ");
  });
  return `confusion matrix (rows: true class, columns: predicted class)\n${header}\n${rows.join("\n")}\n`;
}

export async function evalAction(opts: EvalCommandOptions, io: CliIO): Promise<EvalResult> {
  const started = performance.now();
  const { model, meta, file } = loadTrainedModel(opts.model);
  const stored = meta.dataset;
  const dataset = opts.dataset ?? (stored?.name as DatasetName | undefined);
  if (!dataset) throw new UsageError(`${file} does not record its dataset; pass --dataset (one of ${DATASETS.join(", ")}).`);
  if (!(DATASETS as readonly string[]).includes(dataset)) throw new CliError(`${file} was trained on "${dataset}", which the command cannot load; pass --dataset.`);
  if ((dataset === "mnist-idx" || dataset === "cifar10") && !opts.dataDir) {
    throw new UsageError(`--dataset ${dataset} needs --data-dir DIR (the directory holding the ${dataset === "cifar10" ? "CIFAR-10 binary batches" : "MNIST IDX files"}).`);
  }
  if (opts.dataDir !== undefined && (dataset === "mnist" || dataset === "spiral")) {
    throw new UsageError(`--data-dir is only read by --dataset mnist-idx or cifar10; --dataset ${dataset}${opts.dataset ? "" : " (the model's)"} is built in.`);
  }
  // The same dataset options as in training rebuild the same test split.
  const o = stored && stored.name === dataset ? stored.options : {};
  const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
  const trainSize = num(o.trainSize);
  const testSize = opts.testSize ?? num(o.testSize);
  const prepared = prepareData({
    dataset,
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    ...(trainSize !== undefined ? { trainSize } : {}),
    ...(testSize !== undefined ? { testSize } : {}),
    valFraction: 0,
    seed: num(o.seed) ?? 0,
    testOnly: true,
    ...(meta.normalization ? { normalization: meta.normalization } : { normalize: "none" as const }),
  });
  const arch = meta.architecture;
  const inputs = arch.sizes[0]!;
  const outputs = arch.sizes[arch.sizes.length - 1]!;
  if (prepared.features !== inputs) {
    throw new CliError(`the model takes ${inputs} input features but --dataset ${dataset} has ${prepared.features}; evaluate it on the data it was trained on.`);
  }
  if (prepared.classes.length !== outputs) {
    throw new CliError(`the model has ${outputs} outputs but --dataset ${dataset} has ${prepared.classes.length} classes.`);
  }
  const classes = meta.classes && meta.classes.length === outputs ? meta.classes : prepared.classes;
  const loader = new data.DataLoader(prepared.test, { batchSize: opts.batchSize });
  const r = evaluateModel(model, lossFunction(arch.loss), loader, outputs);
  io.out(`model:     ${file} (${describeArchitecture(arch)}, ${arch.loss} loss)\n`);
  io.out(`data:      ${dataset}, ${r.samples} test samples\n\n`);
  io.out(`test accuracy: ${percent(r.accuracy)} (${Math.round(r.accuracy * r.samples)}/${r.samples}), test loss ${r.loss.toFixed(4)}\n\n`);
  io.out(formatConfusion(r.confusion, classes));
  io.out(`\n${formatSeconds((performance.now() - started) / 1000)}\n`);
  return { ...r, classes };
}

export const evalCommand: CliCommand = {
  name: "eval",
  register(program: Command, io: CliIO): void {
    program
      .command("eval")
      .summary("test accuracy and confusion matrix of a trained model")
      .description(
        "Loads model.safetensors from a `chainrule train --out` directory, rebuilds the network from its metadata " +
          "(architecture, dataset, classes, normalisation) and prints the accuracy and the confusion matrix on the " +
          "test split of the data it was trained on (the same samples as at the end of training).",
      )
      .requiredOption("--model <dir>", "the --out directory of `chainrule train` (or its model.safetensors)")
      .addOption(new Option("--dataset <name>", "the data (default: the one the model was trained on)").choices(DATASETS))
      .option("--data-dir <dir>", "directory of the files, required by mnist-idx and cifar10")
      .option("--test-size <n>", "test samples (default: as in training)", parsePositiveInt)
      .option("--batch-size <n>", "samples per forward pass", parsePositiveInt, 1000)
      .action(async (opts: EvalCommandOptions) => {
        await evalAction(opts, io);
      });
  },
};
