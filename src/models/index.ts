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
import { buildConvNet, describeConvNet } from "./architecture.js";

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

function parseJson<T>(metadata: Record<string, string>, key: string, source: string): T | undefined {
  const text = metadata[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ValueError(`${source}: the metadata entry "${key}" is not valid JSON.`);
  }
}

/** Reads chainrule's metadata back; a ValueError naming `source` (a file name) if the architecture is missing. */
export function decodeMetadata(metadata: Record<string, string>, source = "decodeMetadata"): ModelMetadata {
  const architecture = parseJson<Architecture>(metadata, META_KEYS.architecture, source);
  if (!architecture || !Array.isArray(architecture.sizes) || architecture.sizes.length < 2) {
    throw new ValueError(`${source} has no "${META_KEYS.architecture}" metadata, so the network cannot be rebuilt; it must be a model.safetensors written by \`chainrule train --out DIR\` (or models.toBytes).`);
  }
  const dataset = parseJson<DatasetInfo>(metadata, META_KEYS.dataset, source);
  const classes = parseJson<string[]>(metadata, META_KEYS.classes, source);
  const normalization = parseJson<Normalization>(metadata, META_KEYS.normalization, source);
  return { architecture, ...(dataset ? { dataset } : {}), ...(classes ? { classes } : {}), ...(normalization ? { normalization } : {}) };
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

/**
 * Rebuilds a model from a model.safetensors (from `chainrule train --out` or `toBytes`): the
 * architecture from its metadata, then the weights. `source` names the file in errors.
 */
export function fromBytes(bytes: Uint8Array | ArrayBuffer, options: { dtype?: DType; source?: string } = {}): { model: nn.Sequential; meta: ModelMetadata } {
  const source = options.source ?? "models.fromBytes";
  const { tensors, metadata } = deserialize(bytes);
  const meta = decodeMetadata(metadata, source);
  const model = buildModel(meta.architecture, { label: source, ...(options.dtype ? { dtype: options.dtype } : {}) });
  model.loadStateDict(tensors);
  return { model, meta };
}
