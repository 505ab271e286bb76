/**
 * Helpers shared by the data modules: option checking, seeded permutations and the
 * largest-remainder apportionment behind every stratified split.
 */
import { ValueError } from "../errors.js";
import { Generator } from "../tensor/random.js";

/** Describes a value for an error message. */
export function describeValue(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "number" || typeof x === "boolean" || typeof x === "undefined") return String(x);
  return typeof x;
}

/**
 * Throws a ValueError for an options argument that is not a plain object or names an option that
 * does not exist, listing the valid ones. Returns the options (an empty object for undefined).
 */
export function checkOptions<T extends object>(name: string, options: T | undefined, known: readonly string[]): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new ValueError(`${name}: options must be an object, got ${describeValue(options)}.`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ValueError(`${name}: unknown option '${key}'; the options are ${known.map((k) => `'${k}'`).join(", ")}.`);
    }
  }
  return options;
}

/** A seed: any safe integer. */
export function checkSeed(name: string, seed: unknown): number {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new ValueError(`${name}: seed must be an integer, got ${describeValue(seed)}.`);
  }
  return seed;
}

/** An integer ≥ `min` (`what` names it in the message). */
export function checkInt(name: string, what: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new ValueError(`${name}: ${what} must be an integer ≥ ${min}, got ${describeValue(value)}.`);
  }
  return value;
}

/** A boolean option. */
export function checkBool(name: string, what: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new ValueError(`${name}: ${what} must be true or false, got ${describeValue(value)}.`);
  return value;
}

/** A finite number ≥ 0. */
export function checkNonNegative(name: string, what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new ValueError(`${name}: ${what} must be a finite number ≥ 0, got ${describeValue(value)}.`);
  }
  return value;
}

/**
 * Mixes a seed and a stream number (an epoch, a class...) into one 32-bit generator seed, so
 * that each (seed, stream) pair has its own independent-looking sequence.
 */
export function mixSeed(seed: number, stream: number): number {
  let h = Math.imul((seed | 0) ^ 0x2545f491, 0x9e3779b1);
  h ^= Math.trunc(seed / 4294967296) | 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h ^= Math.imul((stream | 0) + 0x632be5ab, 0xc2b2ae35);
  h ^= Math.trunc(stream / 4294967296) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Shuffles `a` in place (Fisher–Yates, from the end) with `g`, and returns it. */
export function shuffleInPlace<A extends { length: number; [i: number]: number }>(a: A, g: Generator): A {
  for (let i = a.length - 1; i > 0; i--) {
    const j = g.randint(0, i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** A random permutation of 0…n−1 drawn from `g` (Fisher–Yates). */
export function permutation(n: number, g: Generator): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return shuffleInPlace(p, g);
}

/**
 * Splits `total` into integer parts proportional to `weights` (largest-remainder / Hamilton
 * method): each part is the floor or the ceiling of its exact share total·wᵢ/Σw; the units left
 * after the floors go to the largest remainders, ties to the lower index. `caps` bounds each part
 * (a capped part passes its unit to the next in line). Exact integer arithmetic throughout.
 */
export function apportion(total: number, weights: readonly number[], caps: readonly number[] = weights): number[] {
  const W = weights.reduce((a, b) => a + b, 0);
  const capacity = caps.reduce((a, b) => a + b, 0);
  if (total > capacity) throw new ValueError(`apportion: cannot take ${total} from parts that hold ${capacity}.`);
  if (total === 0 || W === 0) return weights.map(() => 0);
  // floor(total·w/W), exactly: total·w − (total·w mod W) is a multiple of W.
  const rem = weights.map((w) => (total * w) % W);
  const parts = weights.map((w, i) => Math.min(caps[i]!, (total * w - rem[i]!) / W));
  const order = weights.map((_, i) => i).sort((a, b) => rem[b]! - rem[a]! || a - b);
  let left = total - parts.reduce((a, b) => a + b, 0);
  while (left > 0) {
    let progressed = false;
    for (const i of order) {
      if (left === 0) break;
      if (parts[i]! < caps[i]!) {
        parts[i]!++;
        left--;
        progressed = true;
      }
    }
    if (!progressed) throw new ValueError(`apportion: internal error, ${left} units could not be placed.`);
  }
  return parts;
}
