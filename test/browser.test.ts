/**
 * The library in a real browser: Debian's Chromium (`apt-get install -y chromium`; .ci/run
 * installs it and sets CHAINRULE_REQUIRE_BROWSER=1, so CI fails rather than skips without it),
 * driven by playwright-core (no browser download). One page is served cross-origin isolated
 * (COOP/COEP headers): tensors live in shared WebAssembly memory and large matmuls run on Web
 * Workers, bit-identical to one thread. The other is not: one thread, tensors in JavaScript
 * arrays copied per kernel, same numbers.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CHAINRULE_REQUIRE_BROWSER === "1") {
  throw new Error(`browser tests: ${CHROMIUM} is missing but CHAINRULE_REQUIRE_BROWSER=1 (install Debian's chromium: apt-get install -y chromium)`);
}
if (!haveBrowser) console.warn(`browser tests skipped: no ${CHROMIUM} (apt-get install -y chromium)`);

let dir = "";
let server: Server;
let base = "";

beforeAll(async () => {
  if (!haveBrowser) return;
  dir = mkdtempSync(join(tmpdir(), "chainrule-browser-"));
  await build({ entryPoints: [join(root, "test/browser/page.ts"), join(root, "test/browser/worker.ts")], bundle: true, platform: "browser", format: "esm", outdir: dir, logLevel: "error" });
  const script = readFileSync(join(dir, "page.js"));
  const workerScript = readFileSync(join(dir, "worker.js"));
  const html = `<!doctype html><meta charset="utf-8"><title>chainrule</title><script type="module" src="page.js"></script>`;
  server = createServer((req, res) => {
    const isolated = req.url?.startsWith("/isolated/") ?? false;
    const headers: Record<string, string> = isolated ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" } : {};
    if (req.url?.endsWith("/page.js")) res.writeHead(200, { ...headers, "Content-Type": "text/javascript" }).end(script);
    else if (req.url?.endsWith("/worker.js")) res.writeHead(200, { ...headers, "Content-Type": "text/javascript" }).end(workerScript);
    else res.writeHead(200, { ...headers, "Content-Type": "text/html" }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}, 60_000);

afterAll(async () => {
  if (server) await new Promise((r) => server.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function visit(path: string): Promise<Record<string, unknown>> {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${base}${path}`);
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: 60_000 });
    const result = (await page.evaluate(() => (window as unknown as { __result: unknown }).__result)) as Record<string, unknown>;
    expect(errors).toEqual([]);
    return result;
  } finally {
    await browser.close();
  }
}

describe.skipIf(!haveBrowser)("in Chromium", () => {
  it("cross-origin isolated: tensors in shared wasm memory, matmul on Web Workers, bit-identical to one thread", async () => {
    const r = await visit("/isolated/");
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ isolated: true, backend: "wasm", resident: true, threadsOff: null, sameAsOneThread: true });
    expect(r.threadedMatmuls as number).toBeGreaterThan(0);
    expect(r.maxRelDiffVsJs as number).toBeLessThan(1e-4);
    const live = r.liveBlocks as number[];
    expect(Math.max(...live.slice(1))).toBe(Math.min(...live.slice(1)));
    const losses = r.losses as number[];
    expect(losses[5]!).toBeLessThan(losses[0]!);
    // In a Web Worker: the first matmul does not wait for the backend's workers to start (they
    // start once the worker yields), then they take over, with the same numbers.
    const inWorker = r.inWorker as Record<string, unknown>;
    expect(inWorker).toMatchObject({ threads: 2, threadsOff: null, sameAsFirst: true });
    expect(inWorker.firstMs as number).toBeLessThan(5000);
    expect(inWorker.threadedMatmuls as number).toBeGreaterThan(0);
  }, 120_000);

  it("not isolated: one thread, tensors in JavaScript arrays, the same numbers", async () => {
    const r = await visit("/plain/");
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ isolated: false, backend: "wasm", resident: false, threads: 1, threadedMatmuls: 0, sameAsOneThread: true });
    expect(r.maxRelDiffVsJs as number).toBeLessThan(1e-4);
    expect(losses(r)[5]!).toBeLessThan(losses(r)[0]!);
  }, 120_000);
});

const losses = (r: Record<string, unknown>): number[] => r.losses as number[];
