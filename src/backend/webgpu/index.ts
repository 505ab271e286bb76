/// <reference types="@webgpu/types" />
import { DeviceError } from "../../errors.js";
import { WebGpuBackend } from "./backend.js";
import { GpuRuntime } from "./runtime.js";

export { WebGpuBackend, webgpuTuning } from "./backend.js";
export type { GpuMemoryStats } from "./runtime.js";

/**
 * The GPU: `navigator.gpu` in browsers (and Deno); in Node, the optional `webgpu` package
 * (Dawn, binaries inside the npm package), imported only here, only when asked for.
 */
async function gpuEntry(): Promise<{ gpu: GPU; where: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, where: "navigator.gpu" };
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";
  if (!isNode) {
    throw new DeviceError("backendReady(\"webgpu\"): this browser has no WebGPU (navigator.gpu is undefined). Chrome/Edge ≥ 113, Safari ≥ 26 and Firefox ≥ 141 have it (on Linux Chromium, start it with --enable-unsafe-webgpu); the page must be served over https or from localhost. The CPU backend stays in use.");
  }
  const pkg = "webgpu";
  let mod: { create?: (flags: string[]) => GPU; globals?: Record<string, unknown> };
  try {
    mod = (await import(/* @vite-ignore */ pkg)) as typeof mod;
  } catch (e) {
    throw new DeviceError(`backendReady("webgpu"): in Node, WebGPU comes from the optional package "webgpu" (Dawn), which is not installed or failed to load (${e instanceof Error ? e.message.split("\n")[0] : String(e)}). Install it with \`npm install webgpu\`. The CPU backend stays in use.`);
  }
  if (typeof mod.create !== "function") throw new DeviceError("backendReady(\"webgpu\"): the \"webgpu\" package has no create(); install webgpu@0.6 or newer.");
  // Dawn's GPUBufferUsage etc. constants, where the global scope lacks them.
  for (const [k, v] of Object.entries(mod.globals ?? {})) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  return { gpu: mod.create([]), where: "the webgpu package (Dawn)" };
}

/** Opens the GPU device and builds the backend; rejects with a DeviceError saying why where there is none. */
export async function createWebGpuBackend(): Promise<WebGpuBackend> {
  const { gpu, where } = await gpuEntry();
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new DeviceError(`backendReady("webgpu"): ${where} offers no GPU adapter on this machine (no GPU, or no driver WebGPU can use: in Node, Dawn needs a Vulkan driver). The CPU backend stays in use.`);
  }
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 10),
    },
  });
  const info = (adapter as { info?: { vendor?: string; architecture?: string; description?: string; device?: string } }).info;
  const name = [info?.vendor, info?.architecture, info?.description || info?.device].filter((s) => s).join(" ") || "unknown adapter";
  // A CPU implementation of WebGPU (SwiftShader, WARP, lavapipe) reports itself as a fallback adapter.
  const fallback = (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|warp/i.test(name);
  return new WebGpuBackend(new GpuRuntime(device, name, fallback));
}
