// Tiny data files in the real formats, for the command's tests.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Generator } from "../src/index.js";

/** Tiny CIFAR-10-like binary batches: class k has a bright channel k % 3 in row band k. */
export function writeCifar(dir: string, perBatch: number): void {
  mkdirSync(dir, { recursive: true });
  const g = new Generator(7);
  const batch = (): Uint8Array => {
    const bytes = new Uint8Array(perBatch * 3073);
    for (let r = 0; r < perBatch; r++) {
      const k = r % 10;
      const at = r * 3073;
      bytes[at] = k;
      for (let p = 0; p < 3072; p++) bytes[at + 1 + p] = Math.floor(g.random() * 80);
      for (let row = 3 * k; row < 3 * k + 3; row++) for (let c = 0; c < 32; c++) bytes[at + 1 + (k % 3) * 1024 + row * 32 + c] = 255;
    }
    return bytes;
  };
  for (let i = 1; i <= 5; i++) writeFileSync(join(dir, `data_batch_${i}.bin`), batch());
  writeFileSync(join(dir, "test_batch.bin"), batch());
}

