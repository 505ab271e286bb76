/**
 * The MNIST digits embedded in the site (digits.bin, written by web/plugins/digits.ts) and the
 * CLI's split of them: the same samples as `chainrule train --dataset mnist` (8000 train, 2000
 * test, seed 0 by default).
 */
import { data } from "chainrule";

/** "0" … "9". */
export const MNIST_CLASSES_NAMES = data.MNIST_CLASSES;

/** The digits grouped by class: byClass[d] holds n_d × 784 float32 pixels in [0, 1]. */
export function decodeDigits(bytes: ArrayBuffer): Float32Array[] {
  const u8 = new Uint8Array(bytes);
  const view = new DataView(bytes);
  if (u8.length < 52 || String.fromCharCode(...u8.subarray(0, 4)) !== "CRDG" || view.getUint32(4, true) !== 1) {
    throw new Error(`digits.bin: not a chainrule digits file (expected "CRDG" version 1, ${u8.length} bytes read)`);
  }
  const counts = Array.from({ length: 10 }, (_, d) => view.getUint32(8 + 4 * d, true));
  const tableSize = view.getUint32(48, true);
  let at = 52 + 4 * tableSize;
  const expected = at + counts.reduce((a, b) => a + b, 0) * 784;
  if (u8.length !== expected || tableSize > 256) throw new Error(`digits.bin: ${u8.length} bytes, expected ${expected} for ${counts.join("+")} digits and a ${tableSize}-value pixel table (at most 256); the file is truncated or corrupt.`);
  const table = new Float32Array(tableSize);
  for (let i = 0; i < tableSize; i++) table[i] = view.getFloat32(52 + 4 * i, true);
  return counts.map((n) => {
    const x = new Float32Array(n * 784);
    for (let k = 0; k < x.length; k++) x[k] = table[u8[at++]!]!;
    return x;
  });
}

/** Fetches digits.bin (next to the page) and decodes it. */
export async function fetchDigits(url: string | URL = new URL("./digits.bin", location.href)): Promise<Float32Array[]> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`digits.bin: ${res.status} ${res.statusText} fetching ${String(url)}`);
  return decodeDigits(await res.arrayBuffer());
}

/** The CLI's split (`chainrule train --dataset mnist`): flat [N, 784] samples, or [N, 1, 28, 28] with `images`. */
export function splitDigits(byClass: Float32Array[], options: { trainSize?: number; testSize?: number; seed?: number; images?: boolean } = {}) {
  return data.stratifiedSplit(byClass, 784, {
    trainSize: options.trainSize ?? 8000,
    testSize: options.testSize ?? 2000,
    seed: options.seed ?? 0,
    sampleShape: options.images ? [1, 28, 28] : [784],
    classes: MNIST_CLASSES_NAMES,
    op: "splitDigits",
  });
}
