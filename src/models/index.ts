/**
 * The `models` namespace (browser-safe): the networks that `chainrule train` builds, described by
 * a small JSON architecture, and model files that carry it. A model.safetensors written by
 * `chainrule train --out` holds the weights plus metadata (architecture, dataset, classes, input
 * normalisation), so `fromBytes` rebuilds the network anywhere (Node, the playground) and
 * `toBytes` writes files the CLI reads back.
 */
import { ValueError } from "../errors.js";
import { stateDictToBytes } from "../io/checkpoint.js";
import { deserialize } from "../io/safetensors.js";
import * as nn from "../nn/index.js";
import type { DType } from "../tensor/dtype.js";
import type { Generator } from "../tensor/random.js";
import type { Tensor } from "../tensor/tensor.js";
import { CNN_SPEC, buildConvNet, describeConvNet, parseArchitecture } from "./architecture.js";

export { ArchitectureError, CNN_SPEC, buildConvNet, describeConvNet, parseArchitecture, type ArchitectureLabel, type ConvNetOptions, type LayerToken } from "./architecture.js";

export const ACTIVATIONS = ["relu", "leakyRelu", "tanh", "sigmoid", "elu"] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

export const LOSSES = ["softmax", "svm"] as const;
export type LossName = (typeof LOSSES)[number];

export const MODELS = ["mlp", "cnn"] as const;
export type ModelName = (typeof MODELS)[number];

/** What rebuilds a model: stored as JSON under the metadata key "chainrule.architecture". */
export interface Architecture {
  model: ModelName;
  /** Layer sizes from input to output: [784, 100, 10]; for a convnet [input features, classes]. */
  sizes: number[];
  activation: ActivationName;
  loss: LossName;
  /** A convnet's layers as an architecture string (src/models/architecture.ts), e.g. "conv32-pool-conv64-pool-fc128". */
  layers?: string;
  /** A convnet's input image [channels, height, width] (its flat input is unflattened to it). */
  input?: [number, number, number];
}

/** Input standardisation applied before the model: x' = (x − mean) / std, elementwise per feature. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** The dataset a model was trained on, enough to rebuild its test split. */
export interface DatasetInfo {
  name: string;
  /** Options that select the samples (seed, sizes, ...). */
  options: Record<string, unknown>;
  /** Image layout of one sample, for image data: [channels, height, width]. */
  imageShape?: [number, number, number];
}

export interface ModelMetadata {
  architecture: Architecture;
  dataset?: DatasetInfo;
  classes?: string[];
  normalization?: Normalization;
}

/** Metadata keys in model.safetensors (values are JSON strings). */
export const META_KEYS = {
  architecture: "chainrule.architecture",
  dataset: "chainrule.dataset",
  classes: "chainrule.classes",
  normalization: "chainrule.normalization",
} as const;

/** Options of buildModel. */
export interface BuildOptions {
  dtype?: DType;
  generator?: Generator;
  /** Names the caller in error messages (the CLI: "--model"). Default "buildModel". */
  label?: string;
}

/**
 * Builds the network with PyTorch's default initialisation: an MLP f = W_L·σ(…σ(W_1·x)), or a
 * convnet from its architecture string (taking the same flat inputs [N, C·H·W], unflattened to `input`).
 * @example const net = models.buildModel({ model: "mlp", sizes: [784, 100, 10], activation: "relu", loss: "softmax" });
 */
export function buildModel(arch: Architecture, options: BuildOptions = {}): nn.Sequential {
  const label = options.label ?? "buildModel";
  const common = { dtype: options.dtype ?? "float32", ...(options.generator ? { generator: options.generator } : {}) };
  if (!(ACTIVATIONS as readonly string[]).includes(arch.activation)) throw new ValueError(`${label}: unknown activation "${String(arch.activation)}"; use one of ${ACTIVATIONS.join(", ")}.`);
  if (arch.model === "cnn") {
    if (arch.layers === undefined || arch.input === undefined) throw new ValueError(`${label}: a convnet's architecture needs "layers" and "input" (the metadata of \`chainrule train --model cnn\` has them).`);
    return buildConvNet(arch.layers, arch.input, arch.sizes[arch.sizes.length - 1]!, { activation: () => nn.activationModule(arch.activation), label, ...common });
  }
  if (arch.model !== "mlp") throw new ValueError(`${label}: unknown model "${String(arch.model)}"; use one of: ${MODELS.join(", ")}.`);
  return nn.mlp(arch.sizes, { activation: arch.activation, ...common });
}

/** The loss of a name: softmax cross-entropy or the multiclass SVM (hinge) loss, both averaged over the batch. */
export function lossFunction(name: LossName): (scores: Tensor, labels: Tensor) => Tensor {
  switch (name) {
    case "softmax":
      return (scores, labels) => nn.functional.crossEntropy(scores, labels);
    case "svm":
      return (scores, labels) => nn.functional.svmLoss(scores, labels);
    default:
      throw new ValueError(`lossFunction: unknown loss "${String(name)}"; use one of ${LOSSES.join(", ")}.`);
  }
}

/** "784 → 100 relu → 10", or "[1, 28, 28] → conv32 → pool → … → 10". */
export function describeArchitecture(arch: Architecture): string {
  if (arch.model === "cnn" && arch.layers !== undefined && arch.input !== undefined) return describeConvNet(arch.layers, arch.input, arch.sizes[arch.sizes.length - 1]!);
  return arch.sizes.map((s, i) => (i > 0 && i < arch.sizes.length - 1 ? `${s} ${arch.activation}` : String(s))).join(" → ");
}

/** The metadata strings for model.safetensors. */
export function encodeMetadata(meta: ModelMetadata): Record<string, string> {
  const out: Record<string, string> = { [META_KEYS.architecture]: JSON.stringify(meta.architecture) };
  if (meta.dataset) out[META_KEYS.dataset] = JSON.stringify(meta.dataset);
  if (meta.classes) out[META_KEYS.classes] = JSON.stringify(meta.classes);
  if (meta.normalization) out[META_KEYS.normalization] = JSON.stringify(meta.normalization);
  return out;
}

function parseJson(metadata: Record<string, string>, key: string, source: string): unknown {
  if (!Object.hasOwn(metadata, key)) return undefined;
  try {
    return JSON.parse(metadata[key]!);
  } catch {
    throw new ValueError(`${source}: the metadata entry "${key}" is not valid JSON.`);
  }
}

/** A short JSON rendering of a value from a file, for messages. */
function preview(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const isCount = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 1;
const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * Checks an architecture read from a file (or built by a caller) field by field, so that a damaged
 * one is a ValueError naming `source`, the field, its value and what is expected, and never a
 * TypeError or a half-built network.
 */
export function checkArchitecture(value: unknown, source = "checkArchitecture"): Architecture {
  const key = META_KEYS.architecture;
  const bad = (what: string): never => {
    throw new ValueError(`${source}: the "${key}" metadata ${what}; the file is damaged or was not written by chainrule.`);
  };
  if (!isPlainObject(value)) return bad(`is ${preview(value)}, not an object like {"model":"mlp","sizes":[784,100,10],"activation":"relu","loss":"softmax"}`);
  const { model, sizes, activation, loss } = value;
  if (typeof model !== "string" || !(MODELS as readonly string[]).includes(model)) bad(`has model ${preview(model)}; expected one of ${MODELS.map((m) => `"${m}"`).join(", ")}`);
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every(isCount)) bad(`has sizes ${preview(sizes)}; expected a list of at least two positive integers (input features, hidden sizes..., classes)`);
  if (typeof activation !== "string" || !(ACTIVATIONS as readonly string[]).includes(activation)) bad(`has activation ${preview(activation)}; expected one of ${ACTIVATIONS.map((a) => `"${a}"`).join(", ")}`);
  if (typeof loss !== "string" || !(LOSSES as readonly string[]).includes(loss)) bad(`has loss ${preview(loss)}; expected one of ${LOSSES.map((l) => `"${l}"`).join(", ")}`);
  if (model === "cnn") {
    const { layers, input } = value;
    if (typeof layers !== "string") bad(`has layers ${preview(layers)}; a convnet's architecture needs its layers as a string such as "${CNN_SPEC}"`);
    parseArchitecture(layers as string, { label: `${source}: "${key}" layers` });
    if (!Array.isArray(input) || input.length !== 3 || !input.every(isCount)) bad(`has input ${preview(input)}; a convnet's input is [channels, height, width], three positive integers`);
    const [c, h, w] = input as number[];
    if ((sizes as number[]).length !== 2 || (sizes as number[])[0] !== c! * h! * w!) {
      bad(`has sizes ${preview(sizes)} for a convnet with input ${preview(input)}; expected [${c! * h! * w!}, classes] (the flat input features, then the classes)`);
    }
  }
  return value as unknown as Architecture;
}

/**
 * The number of values (parameters and buffers) the architecture's network holds, computed from
 * the architecture alone: fromBytes compares it with the file before building anything, so a
 * damaged size (10^9 hidden units) is refused instead of allocated. Mirrors buildModel/buildConvNet.
 */
export function stateSize(arch: Architecture): number {
  const linear = (i: number, o: number): number => i * o + o;
  const batchNorm = (c: number): number => 4 * c + 1;
  const classes = arch.sizes[arch.sizes.length - 1]!;
  if (arch.model !== "cnn") {
    let n = 0;
    for (let i = 0; i + 1 < arch.sizes.length; i++) n += linear(arch.sizes[i]!, arch.sizes[i + 1]!);
    return n;
  }
  const tokens = parseArchitecture(arch.layers!, {});
  let [c, h, w] = arch.input!;
  let flat: number | null = null;
  let n = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    switch (t.kind) {
      case "conv":
        n += c * t.filters * t.kernel * t.kernel + t.filters;
        [c, h, w] = [t.filters, Math.floor((h - 1) / t.stride) + 1, Math.floor((w - 1) / t.stride) + 1];
        if (tokens[i + 1]?.kind === "bn") {
          n += batchNorm(c);
          i++;
        }
        break;
      case "bn":
        n += batchNorm(flat ?? c);
        break;
      case "pool":
      case "avgpool":
        [h, w] = [Math.floor(h / t.kernel), Math.floor(w / t.kernel)];
        break;
      case "gap":
        [h, w] = [1, 1];
        flat ??= c;
        break;
      case "dropout":
        break;
      case "fc":
        n += linear(flat ?? c * h * w, t.units);
        flat = t.units;
        break;
    }
  }
  return n + linear(flat ?? c * h * w, classes);
}

/** Reads chainrule's metadata back; a ValueError naming `source` (a file name) if the architecture is missing or any entry is malformed. */
export function decodeMetadata(metadata: Record<string, string>, source = "decodeMetadata"): ModelMetadata {
  const raw = parseJson(metadata, META_KEYS.architecture, source);
  if (raw === undefined) {
    throw new ValueError(`${source} has no "${META_KEYS.architecture}" metadata, so the network cannot be rebuilt; it must be a model.safetensors written by \`chainrule train --out DIR\` (or models.toBytes).`);
  }
  const architecture = checkArchitecture(raw, source);
  const features = architecture.sizes[0]!;
  const outputs = architecture.sizes[architecture.sizes.length - 1]!;
  const bad = (key: string, value: unknown, expected: string): never => {
    throw new ValueError(`${source}: the "${key}" metadata is ${preview(value)}; expected ${expected}.`);
  };
  const out: ModelMetadata = { architecture };

  const dataset = parseJson(metadata, META_KEYS.dataset, source);
  if (dataset !== undefined) {
    if (!isPlainObject(dataset) || typeof dataset.name !== "string" || !isPlainObject(dataset.options)) bad(META_KEYS.dataset, dataset, `{"name": ..., "options": {...}}`);
    const shape = (dataset as Record<string, unknown>).imageShape;
    if (shape !== undefined && !(Array.isArray(shape) && shape.length === 3 && shape.every(isCount))) bad(META_KEYS.dataset, dataset, "an imageShape of [channels, height, width], three positive integers");
    out.dataset = dataset as unknown as DatasetInfo;
  }
  const classes = parseJson(metadata, META_KEYS.classes, source);
  if (classes !== undefined) {
    if (!Array.isArray(classes) || !classes.every((c) => typeof c === "string")) bad(META_KEYS.classes, classes, "a list of class names (strings)");
    if ((classes as string[]).length !== outputs) bad(META_KEYS.classes, classes, `${outputs} class names, one per output of the model`);
    out.classes = classes as string[];
  }
  const normalization = parseJson(metadata, META_KEYS.normalization, source);
  if (normalization !== undefined) {
    const ok = (v: unknown, positive: boolean): boolean => Array.isArray(v) && v.length === features && v.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0));
    if (!isPlainObject(normalization) || !ok(normalization.mean, false) || !ok(normalization.std, true)) {
      bad(META_KEYS.normalization, normalization, `{"mean": [...], "std": [...]}, ${features} finite numbers each (one per input feature), every std above 0`);
    }
    out.normalization = normalization as unknown as Normalization;
  }
  return out;
}

/**
 * A model file: the weights (state dict) and the metadata, as `chainrule train --out` writes
 * model.safetensors.
 * @example download(models.toBytes(net, { architecture, classes }), "model.safetensors")
 */
export function toBytes(model: nn.Module, meta: ModelMetadata): Uint8Array {
  return stateDictToBytes(model, { metadata: encodeMetadata(meta) });
}

/** toBytes on every backend, including a model on the GPU (webgpu), whose weights are read back first. */
export async function toBytesAsync(model: nn.Module, meta: ModelMetadata): Promise<Uint8Array> {
  return stateDictToBytes(await model.stateDictAsync(), { metadata: encodeMetadata(meta) });
}

/** Networks up to this many values are cheap to build just to let loadStateDict explain a mismatch. */
const BUILD_TO_EXPLAIN = 2 ** 20;

/**
 * Rebuilds a model from a model.safetensors (from `chainrule train --out` or `toBytes`): the
 * architecture from its metadata, then the weights. `source` names the file in errors.
 */
export function fromBytes(bytes: Uint8Array | ArrayBuffer, options: { dtype?: DType; source?: string } = {}): { model: nn.Sequential; meta: ModelMetadata } {
  const source = options.source ?? "models.fromBytes";
  const { tensors, metadata } = deserialize(bytes);
  const meta = decodeMetadata(metadata, source);
  // Every value of the network must come from the file, so an architecture that needs more than
  // the file holds cannot load. A large one is refused before it is built (a damaged size must
  // not allocate gigabytes); a small one is built, for loadStateDict to name what does not fit.
  const needed = stateSize(meta.architecture);
  const held = Object.values(tensors).reduce((n, t) => n + t.size, 0);
  if (needed > held && needed > BUILD_TO_EXPLAIN) {
    throw new ValueError(`${source}: the architecture ${describeArchitecture(meta.architecture)} has ${needed} weights and buffers but the file holds ${held} values; the metadata does not describe these weights.`);
  }
  const model = buildModel(meta.architecture, { label: source, ...(options.dtype ? { dtype: options.dtype } : {}) });
  model.loadStateDict(tensors);
  return { model, meta };
}
