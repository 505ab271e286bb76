/**
 * `chainrule gradcheck`: the analytic gradient of the model's loss (backward) against the
 * numerical one (centred differences), per parameter, in float64, with the public `gradcheck`.
 */
import { Option, type Command } from "commander";
import { Generator, Tensor, defineOp, gradcheck, indexSelect, randint, randn, reshape, type GradcheckReport, type nn } from "../../index.js";
import { CliError, formatSeconds, formatTable, parseHidden, parseNonNegativeInt, parseNonNegativeNumber, parsePositiveInt, parsePositiveNumber, shapeText, type CliIO } from "../common.js";
import { ACTIVATIONS, LOSSES, buildModel, describeArchitecture, loadTrainedModel, lossFunction, type ActivationName, type Architecture, type LossName } from "../model.js";
import type { CliCommand } from "./index.js";

export interface GradcheckCommandOptions {
  /** A `chainrule train --out` directory (or its model.safetensors); otherwise a fresh model is built. */
  model?: string;
  hidden: number[];
  inputs: number;
  classes: number;
  activation: ActivationName;
  /** Default: the model's own loss (from its metadata), else softmax. */
  loss?: LossName;
  samples: number;
  maxElements: number;
  seed: number;
  eps: number;
  atol: number;
  rtol: number;
}

/** One row of the table. */
export interface ParameterCheck {
  name: string;
  shape: number[];
  checked: number;
  size: number;
  maxAbsError: number;
  maxRelError: number;
  ok: boolean;
  report: GradcheckReport;
}

/** Where a parameter lives: the module holding it and the field name, so it can be swapped for a probe. */
function ownerOf(model: nn.Module, name: string): { owner: Record<string, unknown>; field: string } {
  const modules = new Map(model.namedModules());
  const dot = name.lastIndexOf(".");
  const owner = modules.get(dot < 0 ? "" : name.slice(0, dot));
  const field = name.slice(dot + 1);
  if (!owner || !(owner instanceof Object) || !(field in owner)) {
    throw new CliError(`gradcheck: cannot find the field holding parameter "${name}" to substitute it.`);
  }
  return { owner: owner as unknown as Record<string, unknown>, field };
}

/** `count` distinct indices in [0, size), sorted (all of them when count ≥ size). */
function sampleIndices(size: number, count: number, generator: Generator): number[] {
  if (count >= size) return Array.from({ length: size }, (_, i) => i);
  // Partial Fisher–Yates over a sparse permutation.
  const swapped = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(generator.random() * (size - i));
    const vi = swapped.get(i) ?? i;
    const vj = swapped.get(j) ?? j;
    swapped.set(j, vi);
    out.push(vj);
  }
  return out.sort((a, b) => a - b);
}

/**
 * A parameter rebuilt from a few of its elements: `base` (constant) with the elements at `chosen`
 * replaced by `p`. Backward sends the upstream gradient at those positions to `p`.
 */
const embedElements = defineOp<[Tensor, { base: Float64Array; chosen: Tensor; shape: readonly number[] }], Tensor>({
  name: "embedElements",
  forward(ctx, p, spec) {
    const out = spec.base.slice();
    const idx = spec.chosen.data;
    for (let k = 0; k < idx.length; k++) out[idx[k]!] = p.data[k]!;
    ctx.save(spec.chosen);
    return Tensor.fromStorage(out, spec.shape, "float64");
  },
  backward(ctx, gradOut) {
    return [indexSelect(reshape(gradOut, [gradOut.size]), 0, ctx.saved)];
  },
});

/**
 * Checks every parameter of `model` (converted to float64 in place) on the batch (x, y). A
 * parameter larger than `maxElements` has a seeded random sample of that many elements checked:
 * the probe is a vector of the chosen elements, put into the rest of the (constant) parameter by
 * a small op, so backward and the finite differences both see only those.
 */
export function checkModelGradients(
  model: nn.Module,
  loss: (scores: Tensor, labels: Tensor) => Tensor,
  x: Tensor,
  y: Tensor,
  options: { maxElements?: number; seed?: number; eps?: number; atol?: number; rtol?: number } = {},
): ParameterCheck[] {
  model.to("float64").eval();
  const x64 = x.dtype === "float64" ? x : x.to("float64");
  const maxElements = options.maxElements ?? 1000;
  const generator = new Generator(options.seed ?? 0);
  const tolerances = {
    ...(options.eps !== undefined ? { eps: options.eps } : {}),
    ...(options.atol !== undefined ? { atol: options.atol } : {}),
    ...(options.rtol !== undefined ? { rtol: options.rtol } : {}),
    seed: options.seed ?? 0,
  };
  return model.namedParameters().map(([name, param]): ParameterCheck => {
    const { owner, field } = ownerOf(model, name);
    const original = owner[field];
    const size = param.size;
    const chosen = sampleIndices(size, maxElements, generator);
    const all = chosen.length === size;
    const spec = { base: Float64Array.from(param.data as Float64Array), chosen: Tensor.fromStorage(Int32Array.from(chosen), [chosen.length], "int32"), shape: param.shape };
    const probe = Tensor.fromStorage(Float64Array.from(chosen, (j) => param.data[j]!), all ? param.shape : [chosen.length], "float64");
    probe.requiresGrad = true;
    const f = (p: Tensor): Tensor => {
      owner[field] = all ? p : embedElements(p, spec);
      try {
        return loss(model.forward(x64), y);
      } finally {
        owner[field] = original;
      }
    };
    const report = gradcheck(f, [probe], tolerances);
    const r = report.inputs[0]!;
    return { name, shape: [...param.shape], checked: chosen.length, size, maxAbsError: r.maxAbsError, maxRelError: r.maxRelError, ok: r.ok, report };
  });
}

/** The table printed by the command. */
export function formatGradcheckTable(checks: readonly ParameterCheck[]): string {
  return formatTable(
    ["parameter", "shape", "checked", "max abs error", "max rel error", "ok"],
    checks.map((c) => [
      c.name,
      shapeText(c.shape),
      c.checked === c.size ? `all ${c.size}` : `${c.checked} of ${c.size}`,
      c.maxAbsError.toExponential(2),
      c.maxRelError.toExponential(2),
      c.ok ? "ok" : "FAIL",
    ]),
    ["l", "l", "r", "r", "r", "l"],
  );
}

export async function gradcheckAction(opts: GradcheckCommandOptions, io: CliIO): Promise<ParameterCheck[]> {
  const started = performance.now();
  let model: nn.Sequential;
  let arch: Architecture;
  if (opts.model !== undefined) {
    const loaded = loadTrainedModel(opts.model, "float64");
    model = loaded.model;
    arch = { ...loaded.meta.architecture, ...(opts.loss ? { loss: opts.loss } : {}) };
    io.out(`model: ${loaded.file} (${describeArchitecture(arch)}, ${arch.loss} loss)\n`);
  } else {
    arch = { model: "mlp", sizes: [opts.inputs, ...opts.hidden, opts.classes], activation: opts.activation, loss: opts.loss ?? "softmax" };
    model = buildModel(arch, { dtype: "float64", generator: new Generator(opts.seed) });
    io.out(`model: a fresh ${describeArchitecture(arch)} net, ${arch.loss} loss (seed ${opts.seed})\n`);
  }
  const generator = new Generator(opts.seed + 1);
  const inputs = arch.sizes[0]!;
  const classes = arch.sizes[arch.sizes.length - 1]!;
  const x = randn([opts.samples, inputs], { dtype: "float64", generator });
  const y = randint(0, classes, [opts.samples], { dtype: "int32", generator });
  io.out(`batch: ${opts.samples} samples of N(0, 1) inputs [${opts.samples}, ${inputs}] with random labels; float64; at most ${opts.maxElements} elements per parameter\n\n`);

  const checks = checkModelGradients(model, lossFunction(arch.loss), x, y, {
    maxElements: opts.maxElements,
    seed: opts.seed,
    eps: opts.eps,
    atol: opts.atol,
    rtol: opts.rtol,
  });
  io.out(formatGradcheckTable(checks));
  const failed = checks.filter((c) => !c.ok);
  io.out(`\n${checks.length - failed.length} of ${checks.length} parameters pass (|analytic − numerical| ≤ ${opts.atol.toExponential()} + ${opts.rtol.toExponential()}·|numerical|), ${formatSeconds((performance.now() - started) / 1000)}\n`);
  if (failed.length > 0) {
    for (const c of failed) io.err(`${c.name}: ${c.report.message}\n`);
    throw new CliError(`gradient check failed for ${failed.map((c) => c.name).join(", ")}.`);
  }
  return checks;
}

export const gradcheckCommand: CliCommand = {
  name: "gradcheck",
  register(program: Command, io: CliIO): void {
    program
      .command("gradcheck")
      .summary("check the model's backward pass against finite differences")
      .description(
        "Gradient check of the loss of a model on a small random batch, in float64: for each parameter, the analytic " +
          "gradient (backward) against the centred-difference one, with chainrule's gradcheck. Prints one row per " +
          "parameter and exits with 1 if any fails.\n\nChecks a trained model (--model) or a freshly built one (--hidden, --inputs, --classes).",
      )
      .option("--model <dir>", "a `chainrule train --out` directory (or its model.safetensors); the architecture comes from its metadata")
      .addOption(new Option("--hidden <sizes>", "hidden layer sizes of a fresh model, comma-separated").argParser(parseHidden).default([100], "100").conflicts("model"))
      .addOption(new Option("--inputs <n>", "input features of a fresh model").argParser(parsePositiveInt).default(784).conflicts("model"))
      .addOption(new Option("--classes <n>", "classes (outputs) of a fresh model").argParser(parsePositiveInt).default(10).conflicts("model"))
      .addOption(new Option("--activation <name>", "activation of a fresh model").choices(ACTIVATIONS).default("relu").conflicts("model"))
      .addOption(new Option("--loss <name>", "loss: softmax cross-entropy or multiclass SVM (default: the model's, else softmax)").choices(LOSSES))
      .option("--samples <n>", "batch size of the check", parsePositiveInt, 4)
      .option("--max-elements <n>", "check at most this many elements of each parameter, chosen at random (a larger number checks more)", parsePositiveInt, 1000)
      .option("--seed <n>", "seed of the fresh model, the batch and the sampled elements", parseNonNegativeInt, 0)
      .addOption(new Option("--eps <h>", "finite-difference step").argParser(parsePositiveNumber).default(1e-6, "1e-6"))
      .addOption(new Option("--atol <x>", "absolute tolerance: an element passes when |analytic − numerical| ≤ atol + rtol·|numerical|").argParser(parseNonNegativeNumber).default(1e-5, "1e-5"))
      .addOption(new Option("--rtol <x>", "relative tolerance").argParser(parseNonNegativeNumber).default(1e-3, "1e-3"))
      .action(async (opts: GradcheckCommandOptions) => {
        await gradcheckAction(opts, io);
      });
  },
};
