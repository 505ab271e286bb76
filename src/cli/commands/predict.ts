/**
 * `chainrule predict`: class probabilities of a trained model (a `chainrule train --out`
 * directory) for a PNG image or a JSON batch, from a file or standard input.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { PNG } from "pngjs";
import { Tensor, noGrad, softmax, type models } from "../../index.js";
import { CliError, UsageError, parsePositiveInt, type CliIO } from "../common.js";
import { imageShapeOf } from "../datasets.js";
import { describeArchitecture, loadTrainedModel } from "../model.js";
import { PNG_SIGNATURE } from "../weights-image.js";
import type { CliCommand } from "./index.js";

export interface PredictCommandOptions {
  model: string;
  input: string;
  top: number;
  json?: boolean;
  invert?: boolean;
}

export interface Prediction {
  index: number;
  class: string;
  probabilities: number[];
}

/** Reads standard input to the end (the bin's default for --input -). */
async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * A PNG as the model's features: alpha composited on black (MNIST's background; on white with
 * --invert, which then inverts, for black-on-white drawings), luminance 0.299R + 0.587G + 0.114B
 * for one channel, resized bilinearly to the model's height × width, scaled to [0, 1] as the
 * datasets are, channels first.
 */
export function pngFeatures(bytes: Uint8Array, shape: { channels: number; height: number; width: number }, invert: boolean, label: string): { x: Float32Array; description: string } {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (e) {
    throw new CliError(`${label}: not a readable PNG (${(e as Error).message}).`);
  }
  const { width: w, height: h, data } = png;
  if (w === 0 || h === 0) throw new CliError(`${label}: the PNG is empty (${w}×${h}).`);
  const background = invert ? 255 : 0;
  // Source planes, one per model channel, 0..255.
  const planes = Array.from({ length: shape.channels }, () => new Float32Array(w * h));
  for (let p = 0; p < w * h; p++) {
    const a = data[4 * p + 3]! / 255;
    const rgb = [0, 1, 2].map((c) => data[4 * p + c]! * a + background * (1 - a));
    const values = shape.channels === 1 ? [0.299 * rgb[0]! + 0.587 * rgb[1]! + 0.114 * rgb[2]!] : rgb;
    values.forEach((v, c) => (planes[c]![p] = invert ? 255 - v : v));
  }
  const { height: H, width: W } = shape;
  const x = new Float32Array(shape.channels * H * W);
  for (let c = 0; c < shape.channels; c++) {
    const src = planes[c]!;
    for (let i = 0; i < H; i++) {
      // Bilinear sampling at the target pixel's centre.
      const sy = Math.min(h - 1, Math.max(0, ((i + 0.5) * h) / H - 0.5));
      const y0 = Math.floor(sy), y1 = Math.min(h - 1, y0 + 1), fy = sy - y0;
      for (let j = 0; j < W; j++) {
        const sx = Math.min(w - 1, Math.max(0, ((j + 0.5) * w) / W - 0.5));
        const x0 = Math.floor(sx), x1 = Math.min(w - 1, x0 + 1), fx = sx - x0;
        const v = (1 - fy) * ((1 - fx) * src[y0 * w + x0]! + fx * src[y0 * w + x1]!) + fy * ((1 - fx) * src[y1 * w + x0]! + fx * src[y1 * w + x1]!);
        x[c * H * W + i * W + j] = v / 255;
      }
    }
  }
  const kind = shape.channels === 1 ? "grayscale" : "RGB";
  return { x, description: `PNG ${w}×${h}${w !== W || h !== H ? ` resized to ${W}×${H}` : ""}, ${kind}${invert ? ", inverted" : ""}` };
}

function count(v: unknown): number {
  return Array.isArray(v) ? v.reduce((n: number, e) => n + count(e), 0) : 1;
}

function flat(v: unknown, out: number[], label: string, where: string): void {
  if (Array.isArray(v)) {
    v.forEach((e, i) => flat(e, out, label, `${where}[${i}]`));
    return;
  }
  if (typeof v !== "number" || !Number.isFinite(v)) throw new CliError(`${label}: ${where} is ${JSON.stringify(v)}; every value must be a finite number.`);
  out.push(v);
}

/**
 * JSON input as [N, features]: one sample (a flat array, or a nested image such as [H][W] or
 * [C][H][W]), a batch of them, or either under "inputs".
 */
export function jsonFeatures(text: string, features: number, label: string): { x: Float32Array; n: number } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${label}: not valid JSON (${(e as Error).message}).`);
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    if (!("inputs" in value)) throw new CliError(`${label}: a JSON object needs an "inputs" field (one sample or a batch); got keys ${JSON.stringify(Object.keys(value))}.`);
    value = (value as { inputs: unknown }).inputs;
  }
  if (!Array.isArray(value) || value.length === 0) throw new CliError(`${label}: expected an array of numbers (one sample) or of samples, got ${JSON.stringify(value)?.slice(0, 40)}.`);
  const samples = value.every((e) => typeof e === "number") || count(value) === features ? [value] : value;
  const out: number[] = [];
  samples.forEach((s, i) => {
    const n = count(s);
    if (n !== features) throw new CliError(`${label}: sample ${i} has ${n} values but the model takes ${features} input features.`);
    flat(s, out, label, `sample ${i}`);
  });
  return { x: Float32Array.from(out), n: samples.length };
}

export async function predictAction(opts: PredictCommandOptions, io: CliIO, stdin: () => Promise<Uint8Array> = readStdin): Promise<Prediction[]> {
  const { model, meta, file } = loadTrainedModel(opts.model);
  const arch = meta.architecture;
  const features = arch.sizes[0]!;
  const outputs = arch.sizes[arch.sizes.length - 1]!;
  const classes = meta.classes && meta.classes.length === outputs ? meta.classes : Array.from({ length: outputs }, (_, i) => String(i));
  const label = opts.input === "-" ? "--input - (standard input)" : `--input ${opts.input}`;
  let bytes: Uint8Array;
  try {
    bytes = opts.input === "-" ? await stdin() : new Uint8Array(readFileSync(opts.input));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" || code === "EPERM" ? "permission denied" : undefined;
    throw new CliError(`${label}: cannot read it (${why ? `${why}, ` : ""}${code ?? (e as Error).message}); pass a .png image, a .json file of features, or - for standard input.`);
  }
  let x: Float32Array, n: number, description: string;
  if (isPng(bytes)) {
    const image = imageShapeOf(meta.dataset as models.DatasetInfo | undefined) ?? (arch.input ? { channels: arch.input[0], height: arch.input[1], width: arch.input[2] } : undefined);
    if (image === undefined || image.channels * image.height * image.width !== features) {
      throw new CliError(`${label}: a PNG, but the model (${features} input features) was not trained on images; pass its features as JSON.`);
    }
    ({ x, description } = pngFeatures(bytes, image, opts.invert ?? false, label));
    n = 1;
  } else {
    if (opts.invert) throw new UsageError("--invert applies to PNG input only.");
    const text = new TextDecoder().decode(bytes).trim();
    if (!text.startsWith("[") && !text.startsWith("{")) throw new CliError(`${label}: neither a PNG nor JSON (it starts with ${JSON.stringify(text.slice(0, 12))}); give an image.png or a JSON array of features.`);
    ({ x, n } = jsonFeatures(text, features, label));
    description = `JSON, ${n} sample${n === 1 ? "" : "s"}`;
  }
  if (meta.normalization) {
    const { mean, std } = meta.normalization;
    for (let i = 0; i < x.length; i++) x[i] = (x[i]! - mean[i % features]!) / std[i % features]!;
  }
  model.eval();
  const probs = noGrad(() => softmax(model.forward(Tensor.fromStorage(x, [n, features], "float32")), -1)).data;
  const predictions: Prediction[] = Array.from({ length: n }, (_, i) => {
    const p = Array.from(probs.subarray(i * outputs, (i + 1) * outputs), Number);
    const best = p.indexOf(Math.max(...p));
    return { index: i, class: classes[best]!, probabilities: p };
  });
  if (opts.json) {
    io.out(`${JSON.stringify({ classes, predictions })}\n`);
    return predictions;
  }
  io.out(`model:  ${file} (${describeArchitecture(arch)}, ${arch.loss} loss)\n`);
  io.out(`input:  ${opts.input === "-" ? "standard input" : opts.input} (${description})\n`);
  if (arch.loss === "svm") io.out("note:   a hinge-loss (SVM) model: these are softmax(scores), which the SVM loss does not calibrate.\n");
  const top = Math.min(opts.top, outputs);
  for (const p of predictions) {
    const order = p.probabilities.map((v, k) => [v, k] as const).sort((a, b) => b[0] - a[0]).slice(0, top);
    io.out(`sample ${p.index}: ${p.class} (p = ${order[0]![0].toFixed(3)})${top > 1 ? `   top ${top}: ${order.map(([v, k]) => `${classes[k]} ${v.toFixed(3)}`).join(", ")}` : ""}\n`);
  }
  return predictions;
}

export const predictCommand: CliCommand = {
  name: "predict",
  register(program: Command, io: CliIO): void {
    program
      .command("predict")
      .summary("class probabilities of a trained model for an image or a JSON batch")
      .description(
        "Loads model.safetensors from a `chainrule train --out` directory and prints the class probabilities (softmax of the " +
          "scores) for a PNG image (resized to the model's input, scaled to [0, 1]) or a JSON batch of raw features, " +
          "standardised as in training. --input - reads standard input.",
      )
      .requiredOption("--model <dir>", "the --out directory of `chainrule train` (or its model.safetensors)")
      .option("--input <file>", "a .png image, a .json sample or batch, or - for standard input", "-")
      .option("--top <k>", "classes to list per sample", parsePositiveInt, 3)
      .option("--json", "print {classes, predictions: [{index, class, probabilities}]} as JSON")
      .option("--invert", "invert a PNG (dark strokes on white) to MNIST's white on black")
      .action(async (opts: PredictCommandOptions) => {
        await predictAction(opts, io);
      });
  },
};
