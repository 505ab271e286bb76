/**
 * Weights spread over several safetensors files, as Hugging Face publishes large models: an index
 * (model.safetensors.index.json) maps each tensor name to the shard file that holds it:
 *
 *   { "metadata": { "total_size": 28000 }, "weight_map": { "fc1.weight": "model-00001-of-00002.safetensors", … } }
 *
 * And loading from the sources a browser has (a URL, a fetch Response, a File or Blob). Browser-safe.
 */
import { ValueError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { defineOwn, deserialize, FormatError } from "./safetensors.js";

/** A parsed model.safetensors.index.json. */
export interface ShardIndex {
  metadata: Record<string, unknown>;
  /** Tensor name → shard file name (a plain file name, next to the index). */
  weightMap: Record<string, string>;
}

/** Bytes of a shard, given its file name from the index. */
export type ShardReader = (file: string) => Uint8Array | ArrayBuffer;

/**
 * Parses an index (its JSON text or the parsed object); a FormatError names `source` and what is
 * wrong. Shard names must be plain file names: no directories, so an index cannot point outside
 * its folder.
 */
export function parseShardIndex(input: string | unknown, source = "parseShardIndex"): ShardIndex {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new FormatError(`${source}: not valid JSON (${(error as Error).message}); expected a model.safetensors.index.json with a "weight_map".`);
    }
  }
  const map = (value as { weight_map?: unknown } | null)?.weight_map;
  if (typeof value !== "object" || value === null || typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new FormatError(`${source}: no "weight_map" object; a sharded checkpoint's index maps each tensor name to its shard file.`);
  }
  const weightMap: Record<string, string> = {};
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== "string" || file === "" || /[/\\]/.test(file) || file === "." || file === "..") {
      throw new FormatError(`${source}: tensor '${name}' maps to ${JSON.stringify(file)}; shard names must be plain file names next to the index.`);
    }
    defineOwn(weightMap, name, file);
  }
  const metadata = (value as { metadata?: unknown }).metadata;
  if (metadata !== undefined && metadata !== null && (typeof metadata !== "object" || Array.isArray(metadata))) {
    throw new FormatError(`${source}: "metadata" is ${Array.isArray(metadata) ? "an array" : typeof metadata}; an index's metadata is an object such as {"total_size": 28000}.`);
  }
  return { metadata: (metadata ?? {}) as Record<string, unknown>, weightMap };
}

/**
 * The tensors of a sharded checkpoint, by name: every tensor the index lists, read from its shard.
 * A tensor missing from its shard, or found in two shards, is a FormatError; a shard's tensors
 * that the index does not list are left out, as PyTorch's loaders do.
 * @example const dict = loadShards(index, (file) => readFileSync(join(dir, file)));
 */
export function loadShards(index: ShardIndex, read: ShardReader, source = "loadShards"): Record<string, Tensor> {
  const files = [...new Set(Object.values(index.weightMap))];
  const out: Record<string, Tensor> = {};
  for (const file of files) {
    let tensors: Record<string, Tensor>;
    try {
      tensors = deserialize(read(file)).tensors;
    } catch (error) {
      if (error instanceof ValueError) throw new FormatError(`${source}: shard ${file}: ${error.message}`);
      throw error;
    }
    for (const [name, t] of Object.entries(tensors)) if (index.weightMap[name] === file) defineOwn(out, name, t);
  }
  const missing = Object.keys(index.weightMap).filter((name) => !Object.hasOwn(out, name));
  if (missing.length > 0) {
    const shown = missing.slice(0, 3).map((n) => `'${n}' (in ${index.weightMap[n]})`).join(", ");
    throw new FormatError(`${source}: ${missing.length} tensor${missing.length === 1 ? "" : "s"} of the index ${missing.length === 1 ? "is" : "are"} not in ${missing.length === 1 ? "its shard" : "their shards"}: ${shown}${missing.length > 3 ? ", …" : ""}. The shards do not belong to this index, or one is truncated.`);
  }
  return out;
}

/** Where browser code gets safetensors bytes: a URL (fetched), a fetch Response, or a File/Blob. */
export type SafetensorsSource = string | URL | Response | Blob;

/** The bytes of a source; a failed fetch names the URL and the HTTP status. */
async function sourceBytes(source: SafetensorsSource, op: string): Promise<ArrayBuffer> {
  if (typeof source === "string" || source instanceof URL) return sourceBytes(await fetch(source), op);
  if (!("ok" in source)) return source.arrayBuffer(); // a Blob or File
  const response = source;
  if (!response.ok) throw new ValueError(`${op}: ${response.url || String(source)} answered HTTP ${response.status} ${response.statusText}; expected a safetensors file.`);
  return response.arrayBuffer();
}

/**
 * A safetensors file's tensors and metadata from a URL, a Response, or a File/Blob (e.g. from an
 * `<input type="file">`). No Node module on this path.
 * @example const { tensors } = await fetchSafetensors("/models/mlp.safetensors"); model.loadStateDict(tensors);
 */
export async function fetchSafetensors(source: SafetensorsSource): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  return deserialize(await sourceBytes(source, "fetchSafetensors"));
}

/**
 * A sharded checkpoint from the URL of its index (the shards are fetched from next to it,
 * concurrently). No Node module on this path.
 * @example model.loadStateDict(await fetchShards("https://host/model/model.safetensors.index.json"));
 */
export async function fetchShards(indexUrl: string | URL): Promise<Record<string, Tensor>> {
  const base = new URL(indexUrl, typeof location === "undefined" ? undefined : location.href);
  const index = parseShardIndex(new TextDecoder().decode(await sourceBytes(base, "fetchShards")), base.href);
  const files = [...new Set(Object.values(index.weightMap))];
  const bytes = new Map(await Promise.all(files.map(async (f) => [f, await sourceBytes(new URL(f, base), "fetchShards")] as const)));
  return loadShards(index, (file) => bytes.get(file)!, base.href);
}
