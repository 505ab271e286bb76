import { ValueError } from "../errors.js";
import type { Backend } from "./backend.js";
import { jsBackend } from "./js.js";

export type { Backend, BinaryOp, ReduceOp, UnaryOp } from "./backend.js";
export { jsBackend } from "./js.js";

const registry = new Map<string, Backend>([["js", jsBackend]]);
let active: Backend = jsBackend;

/** The backend whose kernels every op calls now. */
export function getBackend(): Backend {
  return active;
}

/** Makes a registered backend (`"js"` is always there) the one every op uses from now on. */
export function setBackend(name: string): void {
  const backend = registry.get(name);
  if (!backend) {
    throw new ValueError(`setBackend: unknown backend "${name}"; registered backends: ${[...registry.keys()].join(", ")}.`);
  }
  active = backend;
}

/** Adds a backend that implements the kernel interface, so `setBackend(backend.name)` can select it. */
export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** Names of the registered backends. */
export function listBackends(): string[] {
  return [...registry.keys()];
}
