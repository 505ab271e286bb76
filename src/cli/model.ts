/**
 * The models the command builds (the library's `models` namespace, src/models/), their metadata
 * in model.safetensors, and loading a trained model from a file, with CLI errors (exit codes).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ChainruleError, ValueError, type DType, type Generator, type nn, type Tensor } from "../index.js";
import * as models from "../models/index.js";
import type { Architecture, LossName, ModelMetadata } from "../models/index.js";
import { asUsageError } from "./architecture.js";
import { CliError, UsageError } from "./common.js";

export {
  ACTIVATIONS,
  LOSSES,
  MODELS,
  META_KEYS,
  describeArchitecture,
  encodeMetadata,
  type ActivationName,
  type LossName,
  type ModelName,
  type Architecture,
  type Normalization,
  type DatasetInfo,
  type ModelMetadata,
} from "../models/index.js";

/** Runs `f`, reporting the library's ValueErrors as CliErrors (exit 1) and architecture errors as usage errors (exit 2). */
function asCliError<T>(f: () => T): T {
  try {
    return asUsageError(f);
  } catch (error) {
    if (error instanceof ValueError) throw new CliError(error.message);
    throw error;
  }
}

/** models.buildModel, with errors labelled "--model". */
export function buildModel(arch: Architecture, options: { dtype?: DType; generator?: Generator } = {}): nn.Sequential {
  return asCliError(() => models.buildModel(arch, { ...options, label: "--model" }));
}

/** models.lossFunction, reporting an unknown name as a CliError. */
export function lossFunction(name: LossName): (scores: Tensor, labels: Tensor) => Tensor {
  return asCliError(() => models.lossFunction(name));
}

/** Reads chainrule's metadata back; throws a CliError naming the file if the architecture is missing. */
export function decodeMetadata(metadata: Record<string, string>, file: string): ModelMetadata {
  return asCliError(() => models.decodeMetadata(metadata, file));
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

/** Loads a trained model: rebuilds the architecture from the metadata and loads the weights (models.fromBytes). */
export function loadTrainedModel(path: string, dtype: DType = "float32"): { model: nn.Sequential; meta: ModelMetadata; file: string } {
  const file = resolveModelFile(path);
  try {
    const { model, meta } = asCliError(() => models.fromBytes(readFileSync(file), { dtype, source: file }));
    return { model, meta, file };
  } catch (error) {
    // A file that is not a model chainrule wrote (not safetensors, no metadata, other weights): name the option.
    if (error instanceof UsageError || !(error instanceof CliError || error instanceof ChainruleError)) throw error;
    const message = error.message.includes(file) ? `--model: ${error.message}` : `--model ${file}: ${error.message}`;
    throw new CliError(`${message}${/chainrule train/.test(message) ? "" : " Pass the --out directory of `chainrule train` (or its model.safetensors)."}`);
  }
}
