// Opens browser.html in headless Chromium (Debian's /usr/bin/chromium, via playwright-core) with
// ONNX Runtime Web's files served from node_modules, and prints what the page computed.
//   npx tsx examples/deploy/browser-check.ts run/model.onnx
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const model = process.argv[2] ?? "run/model.onnx";
const here = fileURLToPath(new URL(".", import.meta.url));
const ortDist = fileURLToPath(new URL("../../node_modules/onnxruntime-web/dist/", import.meta.url));
const types: Record<string, string> = { ".html": "text/html", ".mjs": "text/javascript", ".wasm": "application/wasm", ".onnx": "application/octet-stream" };
const server = createServer((req, res) => {
  const name = (req.url ?? "/").split("?")[0]!.slice(1) || "browser.html";
  const path = name === "model.onnx" ? model : name === "browser.html" ? join(here, name) : join(ortDist, name);
  try {
    const body = readFileSync(path);
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = (server.address() as { port: number }).port;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(`http://127.0.0.1:${port}/browser.html`);
  await page.waitForFunction(() => document.getElementById("out")?.textContent?.startsWith("{"), null, { timeout: 30_000 });
  console.log(`${await browser.version()}: ${await page.textContent("#out")}`);
} finally {
  await browser.close();
  server.close();
}
