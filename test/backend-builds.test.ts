/**
 * The wasm kernels ship in two flavours (assembly/build.mjs): plain SIMD, and relaxed SIMD, whose
 * matmul micro-kernels use fused multiply-adds. The relaxed one loads wherever the engine has
 * relaxed SIMD (Node 20 after turning on V8's flag, which the backend does; Node ≥ 22; Chromium),
 * CHAINRULE_RELAXED_SIMD=0 picks the plain one, and both give the same products to float
 * rounding.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import "../src/index.js"; // loads the backend
import { buildInfo, relaxedSimdSupported, simdSupported } from "../src/backend/wasm/backend.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Runs a product in a fresh process with the given environment; returns [relaxed?, elements]. */
function product(env: Record<string, string>): [boolean, number[]] {
  const script = `
    const { manualSeed, randn, setBackend } = await import(${JSON.stringify(`${root}src/index.ts`)});
    const { buildInfo } = await import(${JSON.stringify(`${root}src/backend/wasm/backend.ts`)});
    setBackend("wasm");
    manualSeed(7);
    const a = randn([67, 300], { dtype: "float32" }), b = randn([300, 45], { dtype: "float32" });
    const c = randn([33, 70], { dtype: "float64" }), d = randn([70, 29], { dtype: "float64" });
    console.log(JSON.stringify([buildInfo.relaxedSimd, [...a.matmul(b).data, ...c.matmul(d).data]]));
  `;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, env: { ...process.env, ...env }, encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!) as [boolean, number[]];
}

describe.skipIf(!simdSupported())("kernel builds", () => {
  it("the loaded build is the relaxed one exactly where relaxed SIMD runs", () => {
    expect(buildInfo.relaxedSimd).toBe(relaxedSimdSupported());
    // Node 20.16+ can turn the feature on (process.getBuiltinModule("node:v8")); newer Nodes have it.
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
    if (major > 20 || (major === 20 && minor >= 16)) expect(buildInfo.relaxedSimd).toBe(true);
  });

  it("CHAINRULE_RELAXED_SIMD=0 loads the plain build; both builds agree to float rounding", () => {
    const [plainFlag, plain] = product({ CHAINRULE_RELAXED_SIMD: "0" });
    const [relaxedFlag, relaxed] = product({});
    expect(plainFlag).toBe(false);
    expect(relaxedFlag).toBe(relaxedSimdSupported());
    expect(relaxed).toHaveLength(plain.length);
    const f32 = 67 * 45;
    for (let i = 0; i < plain.length; i++) {
      const tol = i < f32 ? 1e-5 : 1e-13;
      expect(Math.abs(relaxed[i]! - plain[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(plain[i]!)) * 20);
    }
  });
});
