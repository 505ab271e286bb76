/**
 * `chainrule graph [--out graph.svg]`: draws the computational graph of the default MNIST
 * model's loss (784 → 100 ReLU → 10, softmax cross-entropy) on a small batch, each layer
 * collapsed into one gate, with forward values (green) and gradients (red).
 */
import { writeFileSync } from "node:fs";
import { extname } from "node:path";
import { Option, type Command } from "commander";
import { Generator, randint, randn, withGraphValues, type Tensor, type nn } from "../../index.js";
import * as vizNode from "../../viz/node.js";
import { CliError, UsageError, checkWritableFile, parseHidden, parseNonNegativeInt, parsePositiveInt, type CliIO } from "../common.js";
import { ACTIVATIONS, LOSSES, buildModel, describeArchitecture, loadTrainedModel, lossFunction, type ActivationName, type Architecture, type LossName } from "../model.js";
import type { CliCommand } from "./index.js";

export interface GraphCommandOptions {
  out: string;
  /** A `chainrule train --out` directory: draw that model instead of a fresh one. */
  model?: string;
  hidden: number[];
  inputs: number;
  classes: number;
  activation: ActivationName;
  loss?: LossName;
  batch: number;
  seed: number;
  /** Module paths to draw opened up ("0"); "all" draws every gate. */
  expand?: string[];
  maxNodes?: number;
}

/** What the command drew. */
export interface GraphResult {
  file: string;
  format: "svg" | "dot" | "json" | "png";
  loss: Tensor;
  trace: vizNode.TraceGraph;
}

/** The picture formats, by the --out file's extension. */
const FORMATS: Record<string, GraphResult["format"]> = { ".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".json": "json" };

export async function graphAction(opts: GraphCommandOptions, io: CliIO): Promise<GraphResult> {
  const ext = extname(opts.out).toLowerCase();
  const format = FORMATS[ext];
  if (format === undefined) {
    throw new UsageError(`--out ${opts.out}: the extension picks the format and "${ext}" is none of them; end the file name in ${Object.keys(FORMATS).join(", ")}.`);
  }
  checkWritableFile("--out", opts.out);
  let model: nn.Sequential;
  let arch: Architecture;
  if (opts.model !== undefined) {
    const loaded = loadTrainedModel(opts.model);
    model = loaded.model;
    arch = { ...loaded.meta.architecture, ...(opts.loss ? { loss: opts.loss } : {}) };
  } else {
    arch = { model: "mlp", sizes: [opts.inputs, ...opts.hidden, opts.classes], activation: opts.activation, loss: opts.loss ?? "softmax" };
    model = buildModel(arch, { generator: new Generator(opts.seed) });
  }
  model.namedParameters(); // labels the parameters "0.weight", "0.bias", ...
  const paths = model.namedModules().map(([name]) => name).filter((name) => name !== "");
  const unknown = (opts.expand ?? []).filter((p) => p !== "all" && !paths.includes(p));
  if (unknown.length > 0) {
    throw new UsageError(`--expand ${opts.expand!.join(",")}: the model has no module ${unknown.map((p) => `"${p}"`).join(", ")}; its modules are ${paths.join(", ")} (or give "all").`);
  }
  const generator = new Generator(opts.seed + 1);
  const inputs = arch.sizes[0]!;
  const classes = arch.sizes[arch.sizes.length - 1]!;
  const x = randn([opts.batch, inputs], { generator }).named("x");
  const labels = randint(0, classes, [opts.batch], { dtype: "int32", generator }).named("labels");
  const lossFn = lossFunction(arch.loss);
  const loss = withGraphValues(() => {
    const l = lossFn(model.forward(x), labels).named("loss");
    l.backward();
    return l;
  });
  const all = opts.expand?.includes("all") ?? false;
  const title = `loss of ${describeArchitecture(arch)} (${arch.loss}) on a random batch of ${opts.batch}`;
  const dotOptions: vizNode.DotOptions = {
    title,
    collapseModules: !all,
    ...(opts.expand && !all ? { expand: opts.expand } : {}),
    ...(opts.maxNodes !== undefined ? { maxNodes: opts.maxNodes } : {}),
  };
  const trace = vizNode.trace(loss);
  let content: string | Uint8Array;
  if (format === "dot") content = vizNode.toDot(trace, dotOptions);
  else if (format === "json") content = JSON.stringify(trace, null, 2) + "\n";
  else if (format === "png") content = await vizNode.toPng(trace, dotOptions);
  else content = await vizNode.toSvg(trace, dotOptions);
  try {
    writeFileSync(opts.out, content);
  } catch (error) {
    throw new CliError(`--out: cannot write ${opts.out}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const gates = trace.nodes.filter((n) => n.kind === "op").length;
  const modules = new Set(trace.nodes.flatMap((n) => (n.module !== undefined ? [n.module] : []))).size;
  io.out(`${title}: loss = ${loss.item().toFixed(4)}\n`);
  io.out(`wrote ${opts.out} (${format}): ${gates} gates in ${modules} modules${all ? ", every gate drawn" : opts.expand?.length ? `, each module drawn as one gate except ${opts.expand.join(", ")}` : ", each module drawn as one gate"}\n`);
  return { file: opts.out, format, loss, trace };
}

export const graphCommand: CliCommand = {
  name: "graph",
  register(program: Command, io: CliIO): void {
    program
      .command("graph")
      .summary("draw the computational graph of the model's loss, with values and gradients")
      .description(
        "Runs the default MNIST model (784 → 100 ReLU → 10, softmax cross-entropy) forward and backward on a small " +
          "random batch and draws its computational graph, each layer as one gate, with the forward values (green) " +
          "and the gradients (red) on the wires. The file's extension picks the format: .svg (default), .png, .dot, .json (the trace).",
      )
      .option("--out <file>", "where to write the picture", "graph.svg")
      .option("--model <dir>", "draw a trained model (a `chainrule train --out` directory) instead of a fresh one")
      .option("--hidden <sizes>", "hidden layer sizes of a fresh model, comma-separated", parseHidden, [100])
      .option("--inputs <n>", "input features of a fresh model", parsePositiveInt, 784)
      .option("--classes <n>", "classes (outputs) of a fresh model", parsePositiveInt, 10)
      .addOption(new Option("--activation <name>", "activation of a fresh model").choices(ACTIVATIONS).default("relu"))
      .addOption(new Option("--loss <name>", "loss: softmax cross-entropy or multiclass SVM").choices(LOSSES))
      .option("--batch <n>", "batch size", parsePositiveInt, 8)
      .option("--seed <n>", "seed of the fresh model and the batch", parseNonNegativeInt, 0)
      .option("--expand <paths>", 'layers to draw gate by gate, comma-separated module paths ("0,2"), or "all"', (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean))
      .option("--max-nodes <n>", "draw at most this many nodes", parsePositiveInt)
      .action(async (opts: GraphCommandOptions) => {
        await graphAction(opts, io);
      });
  },
};
