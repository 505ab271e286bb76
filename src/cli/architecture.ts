/**
 * Convnet architecture strings for `--model` (the grammar: src/models/architecture.ts and
 * docs/cli.md#architecture-strings): the library's parser and builder, with errors labelled
 * "--model" and reported as usage errors (exit code 2).
 */
import type { nn } from "../index.js";
import { ArchitectureError, buildConvNet as buildLib, parseArchitecture as parseLib, type ConvNetOptions, type LayerToken } from "../models/index.js";
import { UsageError } from "./common.js";

export { CNN_SPEC, describeConvNet, type LayerToken } from "../models/index.js";

/** Runs `f`, turning an ArchitectureError into a UsageError with the same message. */
export function asUsageError<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof ArchitectureError) throw new UsageError(error.message);
    throw error;
  }
}

/** Parses a spec; a UsageError names the bad token, its position and the grammar. */
export function parseArchitecture(spec: string): LayerToken[] {
  return asUsageError(() => parseLib(spec, { label: "--model" }));
}

/** Builds the spec's network; a UsageError where a layer does not fit (a pool larger than the map). */
export function buildConvNet(spec: string, input: readonly [number, number, number], classes: number, options: Omit<ConvNetOptions, "label">): nn.Sequential {
  return asUsageError(() => buildLib(spec, input, classes, { ...options, label: "--model" }));
}
