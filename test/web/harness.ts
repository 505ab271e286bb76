/**
 * The playground in a real browser: builds web/ with Vite once (into a temporary directory),
 * serves it twice (under /isolated/ with the COOP/COEP headers that enable wasm threads, under
 * /plain/ without them) and drives Debian's Chromium with playwright-core. Page specs
 * (test/web/*.spec.ts, imported by test/web.test.ts) open pages with `openPage` and must end
 * with `expectNoErrors`.
 *
 * Screenshots for the docs: `CHAINRULE_SCREENSHOTS=1 npx vitest run test/web.test.ts` writes
 * docs/img/web-<name>.png; without the variable `screenshot` does nothing.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";

export const root = fileURLToPath(new URL("../..", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CHAINRULE_REQUIRE_BROWSER === "1") {
  throw new Error(`web tests: ${CHROMIUM} is missing but CHAINRULE_REQUIRE_BROWSER=1 (install Debian's chromium: apt-get install -y chromium)`);
}
if (!haveBrowser) console.warn(`web tests skipped: no ${CHROMIUM} (apt-get install -y chromium)`);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".bin": "application/octet-stream",
};

let dist = "";
let server: Server | undefined;
let browser: Browser | undefined;
let base = "";

/** Builds the site and starts the server and the browser (call from beforeAll). */
export async function startSite(): Promise<void> {
  if (!haveBrowser) return;
  dist = mkdtempSync(join(tmpdir(), "chainrule-web-"));
  const { build } = await import("vite");
  await build({ configFile: join(root, "web/vite.config.ts"), logLevel: "error", build: { outDir: dist, emptyOutDir: true } });
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const isolated = url.pathname.startsWith("/isolated/");
    const rest = url.pathname.replace(/^\/(isolated|plain)\//, "/");
    const file = normalize(join(dist, rest.endsWith("/") ? `${rest}index.html` : rest));
    const headers: Record<string, string> = isolated ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" } : {};
    if (!file.startsWith(dist) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, headers).end("not found");
      return;
    }
    res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // --enable-unsafe-webgpu: WebGPU for the digits page's GPU switch (SwiftShader where there is no GPU).
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-webgpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}

/** Stops the browser and the server and removes the build (call from afterAll). */
export async function stopSite(): Promise<void> {
  await browser?.close();
  if (server) await new Promise((r) => server!.close(r));
  if (dist) rmSync(dist, { recursive: true, force: true });
}

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  /** Uncaught exceptions, console errors and failed requests, as they happen. */
  errors: string[];
  /** performance.now() when the page called markReady(). */
  readyAt: number;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Serve with COOP/COEP (threads); default true. */
  isolated?: boolean;
  /** Viewport; default a laptop, 1280×800. */
  viewport?: { width: number; height: number };
}

/** Opens web/<file> (e.g. "explorer.html") in a fresh context and waits for its ready mark. */
export async function openPage(file: string, options: OpenOptions = {}): Promise<OpenedPage> {
  if (!browser) throw new Error("openPage: startSite() has not run (no browser)");
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.stack ?? String(e)}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  page.on("requestfailed", (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  await page.goto(`${base}/${options.isolated === false ? "plain" : "isolated"}/${file}`);
  await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
  const readyAt = await page.evaluate(() => (window as unknown as { __readyAt: number }).__readyAt);
  return { page, context, errors, readyAt, close: () => context.close() };
}

/** Fails with every error the page reported. */
export function expectNoErrors(opened: OpenedPage): void {
  expect(opened.errors).toEqual([]);
}

/** docs/img/web-<name>.png of the page (only with CHAINRULE_SCREENSHOTS=1; written atomically). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.CHAINRULE_SCREENSHOTS !== "1") return;
  const dir = join(root, "docs/img");
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.web-${name}.png.tmp`);
  await page.screenshot({ path: tmp, type: "png", fullPage: true });
  renameSync(tmp, join(dir, `web-${name}.png`));
}
