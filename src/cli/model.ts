/**
 * The models the command builds, the loss names, and the metadata stored in model.safetensors so
 * that `chainrule eval` and `chainrule gradcheck` can rebuild the architecture from the file.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadWithMetadata } from "../io/node-fs.js";
import { nn, type DType, type Generator, type Tensor } from "../index.js";
import { CliError } from "./common.js";
import { buildConvNet, describeConvNet } from "./architecture.js";

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
  /** A convnet's layers as an architecture string (src/cli/architecture.ts), e.g. "conv32-pool-conv64-pool-fc128". */
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

/**
 * Builds the network with PyTorch's default initialisation: an MLP f = W_L·σ(…σ(W_1·x)), or a
 * convnet from its architecture string (taking the same flat inputs, unflattened to `input`).
 */
export function buildModel(arch: Architecture, options: { dtype?: DType; generator?: Generator } = {}): nn.Sequential {
  const common = { dtype: options.dtype ?? "float32", ...(options.generator ? { generator: options.generator } : {}) };
  if (arch.model === "cnn") {
    if (arch.layers === undefined || arch.input === undefined) throw new CliError(`a convnet's architecture needs "layers" and "input" (the metadata of \`chainrule train --model cnn\` has them).`);
    return buildConvNet(arch.layers, arch.input, arch.sizes[arch.sizes.length - 1]!, { activation: () => nn.activationModule(arch.activation), ...common });
  }
  if (arch.model !== "mlp") throw new CliError(`unknown model "${String(arch.model)}"; the command builds: ${MODELS.join(", ")}.`);
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
      throw new CliError(`unknown loss "${String(name)}"; use one of ${LOSSES.join(", ")}.`);
  }
}

/** "784 → 100 (relu) → 10", or "[1, 28, 28] → conv32 → pool → … → 10". */
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

function parseJson<T>(metadata: Record<string, string>, key: string, file: string): T | undefined {
  const text = metadata[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`${file}: the metadata entry "${key}" is not valid JSON.`);
  }
}

/** Reads chainrule's metadata back; throws a CliError naming the file if the architecture is missing. */
export function decodeMetadata(metadata: Record<string, string>, file: string): ModelMetadata {
  const architecture = parseJson<Architecture>(metadata, META_KEYS.architecture, file);
  if (!architecture || !Array.isArray(architecture.sizes) || architecture.sizes.length < 2) {
    throw new CliError(`${file} has no "${META_KEYS.architecture}" metadata, so the network cannot be rebuilt; it must be a model.safetensors written by \`chainrule train --out DIR\`.`);
  }
  const dataset = parseJson<DatasetInfo>(metadata, META_KEYS.dataset, file);
  const classes = parseJson<string[]>(metadata, META_KEYS.classes, file);
  const normalization = parseJson<Normalization>(metadata, META_KEYS.normalization, file);
  return { architecture, ...(dataset ? { dataset } : {}), ...(classes ? { classes } : {}), ...(normalization ? { normalization } : {}) };
}

/** The model file for `--model`: DIR/model.safetensors, or the path itself when it is a file. */
export function resolveModelFile(path: string): string {
  if (!existsSync(path)) throw new CliError(`--model: ${path} does not exist; pass the --out directory of \`chainrule train\` (it holds model.safetensors).`);
  if (statSync(path).isDirectory()) {
    const file = join(path, "model.safetensors");
    if (!existsSync(file)) throw new CliError(`--model: ${path} has no model.safetensors; pass the --out directory of \`chainrule train\`.`);
    return file;
  }
  return path;
}

/** Loads a trained model: rebuilds the architecture from the metadata and loads the weights. */
export function loadTrainedModel(path: string, dtype: DType = "float32"): { model: nn.Sequential; meta: ModelMetadata; file: string } {
  const file = resolveModelFile(path);
  const { tensors, metadata } = loadWithMetadata(file);
  const meta = decodeMetadata(metadata, file);
  const model = buildModel(meta.architecture, { dtype });
  model.loadStateDict(tensors);
  return { model, meta, file };
}
