/**
 * GPU benchmark: chainrule's webgpu backend against TF.js' WebGPU backend
 * (@tensorflow/tfjs-backend-webgpu) and jax-js' webgpu device (jit), in one browser page, the
 * same rows and data for every library (bench/webgpu-page.ts has the rows and the method).
 *
 *   npm run bench -- webgpu                       # every row (about 3–5 minutes on 2 cores with SwiftShader)
 *   npm run bench -- webgpu matmul                # rows whose id contains "matmul" (several words: any of them)
 *   npm run bench -- webgpu --peak-tflops 19.5    # adds "% of peak" to matmul n = 4096 (your GPU's FP32 peak)
 *   npm run bench -- webgpu --max-iteration-s 1000   # also the matmul cells extrapolated past 15 s per
 *                                                 #   iteration (SwiftShader: n = 2048 and 4096; about an hour)
 *   CHAINRULE_CHROMIUM_FLAGS="--enable-features=Vulkan" npm run bench -- webgpu   # extra Chromium flags
 *   CHROMIUM_PATH=/path/to/chrome npm run bench -- webgpu
 *
 * Row ids: matmul/256, matmul/512, matmul/1024, matmul/2048, matmul/4096, train/784-256-10/128,
 * train/784-256-10/512, conv/layer, conv/lenet/64.
 *
 * What it does: (1) in Node, `await backendReady("webgpu")` (the optional `webgpu` package,
 * Dawn): where it finds an adapter, the same rows run in Node too; where not (no GPU, or no
 * Vulkan driver Dawn can use), the report says so and skips them. (2) Bundles
 * bench/webgpu-page.ts with esbuild, serves it on 127.0.0.1 (with COOP/COEP headers, so that the
 * page is cross-origin isolated and performance.now() has its fine resolution), and opens it in
 * Chromium (playwright-core; /usr/bin/chromium unless CHROMIUM_PATH says otherwise) started with
 * --headless --no-sandbox --enable-unsafe-webgpu --disable-background-networking
 * --disable-component-update --no-first-run, --js-flags=--expose-gc (a full GC between cases, as
 * bench/core.ts) and whatever CHAINRULE_CHROMIUM_FLAGS adds (split on spaces). Every request the
 * page makes is recorded: the report says whether any left 127.0.0.1 (none should: every
 * library is bundled, nothing is downloaded). Headless Chromium on a machine without a GPU offers
 * SwiftShader, WebGPU on the CPU: those figures say nothing about GPU speed.
 *
 * Prints one markdown table on stdout (progress on stderr) and writes the report, with the date,
 * adapter, Chromium version and the exact command, to bench/RESULTS-webgpu.md (temp file +
 * rename). bench/core.ts dispatches here when its arguments contain "webgpu".
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "esbuild";
import { backendReady } from "../src/index.js";
import { LIBS, MAX_REL_ERR, METHOD, ROW_IDS, runBench, type BenchResult, type CellResult, type Lib, type RowResult } from "./webgpu-page.js";
import { cpuModel, fmt } from "./shared-node.js";
import { writeFileAtomic } from "../src/io/node-fs.js";

const LABEL: Record<Lib, string> = { chainrule: "chainrule webgpu", tfjs: "TF.js webgpu", jax: "jax-js webgpu (jit)" };
const SHORT: Record<Lib, string> = { chainrule: "chainrule", tfjs: "TF.js", jax: "jax-js" };
const BASE_FLAGS = ["--headless", "--no-sandbox", "--enable-unsafe-webgpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];
/** --max-iteration-s's default: matmul cells extrapolated past it are not run (SwiftShader: n ≥ 2048). */
const DEFAULT_MAX_ITERATION_S = 15;
/** The page's run, at most (SwiftShader on 2 cores needs 3–5 minutes for every row). */
const PAGE_TIMEOUT_MS = 20 * 60_000;

/** When the run started, and the load average then (set again by webgpuBench). */
let t0 = performance.now();
let loadAtStart = os.loadavg();
const elapsed = (): string => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s]`;
const progress = (s: string): void => void process.stderr.write(`${elapsed()} ${s}\n`);

interface Options {
  filters: string[];
  peakTflops?: number;
  /** Seconds: see BenchConfig.maxIterationMs. */
  maxIterationS: number;
  /** The arguments after `--`, as given (for the report's command line). */
  args: string[];
}

function parseArgs(argv: string[]): Options {
  const filters: string[] = [];
  let peakTflops: number | undefined;
  let maxIterationS = DEFAULT_MAX_ITERATION_S;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.toLowerCase() === "webgpu") continue;
    const m = /^--(peak-tflops|max-iteration-s)(?:=(.*))?$/.exec(a);
    if (m) {
      const v = m[2] ?? argv[++i];
      const x = Number(v);
      if (!(x > 0)) throw new Error(`--${m[1]} needs a positive number${m[1] === "peak-tflops" ? " (your GPU's peak FP32 TFLOP/s)" : " (seconds)"}, got ${JSON.stringify(v)}`);
      if (m[1] === "peak-tflops") peakTflops = x;
      else maxIterationS = x;
      continue;
    }
    if (a.startsWith("--")) throw new Error(`unknown option ${a} (the webgpu benchmark takes row filters, --peak-tflops X and --max-iteration-s S)`);
    filters.push(a.toLowerCase());
  }
  return { filters, ...(peakTflops !== undefined ? { peakTflops } : {}), maxIterationS, args: argv };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.resolve("node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}



// ------------------------------------------------------------------ Node

interface NodeRun {
  /** Why the Node rows were skipped. */
  skipped?: string;
  result?: BenchResult;
}

async function runNode(opts: Options): Promise<NodeRun> {
  progress("Node: backendReady(\"webgpu\") (the optional webgpu package)...");
  try {
    await backendReady("webgpu");
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    progress(`Node: no WebGPU here: ${why}`);
    return { skipped: why };
  }
  // The peers look for navigator.gpu: give them the webgpu package's (a separate device, as in a page).
  try {
    const pkg = "webgpu";
    const mod = (await import(pkg)) as { create: (flags: string[]) => GPU; globals?: Record<string, unknown> };
    for (const [k, v] of Object.entries(mod.globals ?? {})) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    const g = globalThis as { navigator?: { gpu?: GPU } };
    if (!g.navigator) Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });
    if (!g.navigator!.gpu) Object.defineProperty(g.navigator!, "gpu", { value: mod.create([]), configurable: true });
  } catch (e) {
    progress(`Node: could not give the peers navigator.gpu (${e instanceof Error ? e.message : String(e)}); they will report themselves unavailable`);
  }
  progress("Node: an adapter was found; running the rows in Node");
  const result = await runBench({ filters: opts.filters, maxIterationMs: opts.maxIterationS * 1000 }, (s) => progress(`node: ${s}`), { node: process.version });
  return { result };
}

// ------------------------------------------------------------------ the browser

interface BrowserRun {
  result?: BenchResult;
  error?: string;
  chromium?: string;
  flags: string[];
  executable: string;
  /** Requests the page made that did not go to the local server. */
  external: string[];
  requests: number;
  pageErrors: string[];
}

async function bundlePage(): Promise<Buffer> {
  const r = await build({
    entryPoints: [path.resolve("bench/webgpu-page.ts")],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    logLevel: "error",
    // chainrule's Node-only WebGPU entry (its dynamic import of the webgpu package) is never taken in a page.
    external: ["webgpu"],
  });
  return Buffer.from(r.outputFiles[0]!.contents);
}

async function runBrowser(opts: Options): Promise<BrowserRun> {
  const executable = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  const extra = (process.env.CHAINRULE_CHROMIUM_FLAGS ?? "").split(/\s+/).filter((f) => f.length > 0);
  const flags = [...BASE_FLAGS, "--js-flags=--expose-gc", ...extra];
  const run: BrowserRun = { flags, executable, external: [], requests: 0, pageErrors: [] };
  if (!existsSync(executable)) {
    run.error = `${executable} does not exist (apt-get install -y chromium, or set CHROMIUM_PATH)`;
    return run;
  }
  progress("bundling bench/webgpu-page.ts (esbuild)...");
  const script = await bundlePage();
  const html = `<!doctype html><meta charset="utf-8"><title>chainrule webgpu bench</title><script type="module" src="page.js"></script>`;
  const isolation = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };
  const server: Server = createServer((req, res) => {
    if (req.url === "/favicon.ico") res.writeHead(204).end();
    else if (req.url?.split("#")[0]?.endsWith("/page.js")) res.writeHead(200, { "Content-Type": "text/javascript", ...isolation }).end(script);
    else if (req.url === "/" || req.url?.startsWith("/?")) res.writeHead(200, { "Content-Type": "text/html", ...isolation }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const { chromium } = await import("playwright-core");
  progress(`starting ${executable} ${flags.join(" ")}`);
  const browser = await chromium.launch({ executablePath: executable, args: flags });
  try {
    run.chromium = browser.version();
    const page = await browser.newPage();
    page.on("pageerror", (e) => run.pageErrors.push(String(e)));
    page.on("console", (m) => {
      const text = m.text();
      if (text.startsWith("[bench] ")) progress(text.slice(8));
      else if (m.type() === "error" || m.type() === "warning") progress(`page ${m.type()}: ${text.slice(0, 300)}`);
    });
    page.on("request", (r) => {
      run.requests++;
      const url = r.url();
      if (!url.startsWith(`${base}/`) && !url.startsWith("data:") && !url.startsWith("blob:")) run.external.push(url);
    });
    await page.goto(`${base}/#${encodeURIComponent(JSON.stringify({ filters: opts.filters, maxIterationMs: opts.maxIterationS * 1000, ...(process.env.CHAINRULE_WEBGPU_MATMUL ? { matmul: process.env.CHAINRULE_WEBGPU_MATMUL } : {}) }))}`);
    await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: PAGE_TIMEOUT_MS, polling: 1000 });
    const r = (await page.evaluate(() => (window as unknown as { __result: unknown }).__result)) as BenchResult;
    if (r.error && !r.rows) run.error = r.error;
    else run.result = r;
  } catch (e) {
    run.error = e instanceof Error ? e.message : String(e);
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
  }
  return run;
}

// ------------------------------------------------------------------ report


const agrees = (c: CellResult | undefined): c is CellResult & { medianMs: number } =>
  c !== undefined && c.medianMs !== undefined && c.error === undefined && (c.relErr === undefined || c.relErr <= MAX_REL_ERR);

const isSwiftShader = (r: BenchResult): boolean => /swiftshader/i.test(JSON.stringify(r.adapter ?? {})) || /swiftshader/i.test(JSON.stringify(r.libraryAdapters));

function adapterLine(r: BenchResult): string {
  const a = r.adapter;
  if (!a) return "none reported";
  const parts = [`vendor "${a.vendor}"`, `architecture "${a.architecture}"`, `description "${a.description}"`];
  if (a.device) parts.push(`device "${a.device}"`);
  if (a.isFallbackAdapter !== undefined) parts.push(`fallback adapter: ${a.isFallbackAdapter ? "yes" : "no"}`);
  return parts.join(", ");
}

/** One run's table and notes (the browser's, or Node's where it found an adapter). */
function table(r: BenchResult, opts: Options, footnotes: string[]): string[] {
  const note = (text: string): string => {
    let i = footnotes.indexOf(text);
    if (i < 0) i = footnotes.push(text) - 1;
    return `[${i + 1}]`;
  };
  const header = ["benchmark", ...LIBS.map((l) => LABEL[l]), "chainrule vs best peer", "checked: rel. diff to chainrule js", "timed: batches × iterations"];
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`];
  for (const row of r.rows) {
    const cells = LIBS.map((lib) => cellText(row, lib, opts, note));
    const mine = row.cells.chainrule;
    let best: { lib: Lib; ms: number } | undefined;
    for (const lib of LIBS) {
      const c = row.cells[lib];
      if (lib === "chainrule" || !agrees(c)) continue;
      if (!best || c.medianMs < best.ms) best = { lib, ms: c.medianMs };
    }
    const ratio = agrees(mine) && best ? `${(mine.medianMs / best.ms).toFixed(2)}× (${SHORT[best.lib]})` : "–";
    const checked = row.referenceError
      ? `no reference ${note(`${row.id}: chainrule js (the reference) failed: ${row.referenceError}`)}`
      : LIBS.map((lib) => {
          const c = row.cells[lib];
          return `${SHORT[lib]} ${c?.relErr === undefined ? "–" : c.relErr.toExponential(0)}`;
        }).join(", ");
    const timed = LIBS.map((lib) => {
      const c = row.cells[lib];
      return c?.batches ? `${c.batches}×${c.k}` : "–";
    }).join(" / ");
    const unit = row.kind === "matmul" ? "ms ↓ · GFLOP/s ↑" : row.id.startsWith("train/") || row.id.startsWith("conv/lenet") ? "ms/step ↓" : "ms ↓";
    lines.push(`| ${[`${row.name} (${unit})`, ...cells, ratio, checked, timed].map((s) => s.replace(/\|/g, "\\|")).join(" | ")} |`);
    for (const lib of LIBS) for (const n of row.cells[lib]?.notes ?? []) note(`${row.id}, ${SHORT[lib]}: ${n}`);
  }
  const per = r.rows.filter((row) => row.cells.chainrule?.perIteration).map((row) => {
    const p = row.cells.chainrule!.perIteration!;
    return `${row.id} ${fmt(p.dispatches)} dispatches, ${fmt(p.submits)} submits, live GPU buffers ${p.liveBefore} → ${p.liveAfter}`;
  });
  if (per.length) lines.push("", `chainrule per timed iteration (memoryStats().webgpu; a batch's readback adds its own submit; live buffers before → after the timed batches): ${per.join("; ")}.`);
  return lines;
}

function cellText(row: RowResult, lib: Lib, opts: Options, note: (t: string) => string): string {
  const c = row.cells[lib];
  if (!c) return "–";
  if (c.skipped !== undefined) return `— ${note(`${LABEL[lib]} is unavailable: ${c.skipped}`)}`;
  if (c.notRun !== undefined) return `— ${note(`${row.id}, ${LABEL[lib]}: not run: ${c.notRun}`)}`;
  if (c.error !== undefined) return `— ${note(`${row.id}, ${LABEL[lib]} cannot run it: ${c.error}`)}`;
  if (c.medianMs === undefined) return "–";
  let s = fmt(c.medianMs) + (row.kind === "matmul" ? " ms" : "");
  if (row.kind === "matmul" && row.flops) {
    const gflops = row.flops / (c.medianMs * 1e6);
    s += ` · ${fmt(gflops)} GFLOP/s`;
    if (row.id === "matmul/4096" && opts.peakTflops) s += ` · ${((gflops / (opts.peakTflops * 1000)) * 100).toFixed(1)}% of peak`;
  }
  if (c.batches !== undefined && c.batches < METHOD.MIN_BATCHES) s += ` (${c.batches} timed)`;
  if (!agrees(c)) s += ` ⚠ wrong result (rel. diff ${c.relErr!.toExponential(1)})`;
  return s;
}

function report(opts: Options, nodeRun: NodeRun, browser: BrowserRun, seconds: number): string {
  const cmd = [
    ...(process.env.CHROMIUM_PATH ? [`CHROMIUM_PATH=${process.env.CHROMIUM_PATH}`] : []),
    ...(process.env.CHAINRULE_CHROMIUM_FLAGS ? [`CHAINRULE_CHROMIUM_FLAGS=${JSON.stringify(process.env.CHAINRULE_CHROMIUM_FLAGS)}`] : []),
    "npm run bench --",
    ...(opts.args.some((a) => a.toLowerCase() === "webgpu") ? [] : ["webgpu"]),
    ...opts.args,
  ].join(" ");
  const r = browser.result;
  const footnotes: string[] = [];
  const out: string[] = ["# chainrule GPU benchmark (webgpu)", ""];
  if (r) {
    out.push(`- Adapter (Chromium, navigator.gpu.requestAdapter({ powerPreference: "high-performance" }).info): ${adapterLine(r)}.`);
    const libs = LIBS.filter((l) => r.libraryAdapters[l]).map((l) => `${SHORT[l]}: ${r.libraryAdapters[l]}`);
    if (libs.length) out.push(`  Each library opens its own device; what they report: ${libs.join("; ")}.`);
    if (isSwiftShader(r)) {
      out.push(
        "- **This adapter is SwiftShader**, Chromium's implementation of WebGPU on the CPU (no GPU here): these figures measure a software GPU on this machine's CPU cores. " +
          "They say nothing about GPU speed, nor about how the libraries compare on a real GPU (their kernels are tuned for GPUs; SwiftShader's costs are not a GPU's). They show that every row runs, agrees with the CPU reference and keeps memory flat. " +
          `Here matmul at n = 2048 and 4096 would take tens of seconds to minutes per iteration (the footnotes give the extrapolations), so cells past ${opts.maxIterationS} s per iteration are not run; \`--max-iteration-s 1000\` runs them all (the better part of an hour).`,
      );
    }
  }
  out.push(`- Browser: ${browser.chromium ? `Chromium ${browser.chromium}` : "none"} (${browser.executable}, headless, driven by playwright-core ${packageVersion("playwright-core")}), flags: \`${browser.flags.join(" ")}\`${process.env.CHAINRULE_CHROMIUM_FLAGS ? "" : " (CHAINRULE_CHROMIUM_FLAGS adds more)"}.`);
  if (r) out.push(`- Page: ${r.environment}; cross-origin isolated: ${r.crossOriginIsolated ? "yes" : "no"}; ${browser.requests} requests, ${browser.external.length === 0 ? "none of them outside 127.0.0.1 (nothing downloaded at run time)" : `**${browser.external.length} outside 127.0.0.1**: ${browser.external.slice(0, 5).join(", ")}`}.`);
  out.push(
    nodeRun.skipped !== undefined
      ? `- Node ${process.version}: \`await backendReady("webgpu")\` (the optional webgpu package, Dawn) found no adapter, so no row ran in Node: ${nodeRun.skipped}`
      : `- Node ${process.version}: \`backendReady("webgpu")\` found an adapter: the rows also ran in Node (second table).`,
  );
  out.push(`- CPU: ${cpuModel()} (${os.cpus().length} logical cores; load average ${loadAtStart.map((l) => l.toFixed(2)).join(", ")} at the start, ${os.loadavg().map((l) => l.toFixed(2)).join(", ")} at the end: on SwiftShader other work on the machine slows every column); ${new Date().toISOString()}.`);
  out.push(`- Versions: chainrule ${packageVersion("..")}, TF.js ${packageVersion("@tensorflow/tfjs-core")} with @tensorflow/tfjs-backend-webgpu ${packageVersion("@tensorflow/tfjs-backend-webgpu")}, @jax-js/jax ${packageVersion("@jax-js/jax")}.`);
  out.push(`- Command: \`${cmd}\`${opts.filters.length ? " (filtered: only the matching rows)" : ""}, ${seconds.toFixed(0)} s.`);
  out.push("");
  if (browser.error) out.push(`**The browser run failed:** ${browser.error}`, "");
  if (browser.pageErrors.length) out.push(`Page errors: ${browser.pageErrors.slice(0, 5).join("; ")}`, "");
  if (r) {
    if (r.error) out.push(`**${r.error}**`, "");
    out.push(...table(r, opts, footnotes), "");
  }
  if (nodeRun.result) {
    out.push("### The same rows in Node (the webgpu package, Dawn)", "", ...table(nodeRun.result, opts, footnotes), "");
  }
  const m = METHOD;
  out.push(
    `Method: per row and library the case is built (data uploaded), then one call whose result is read back and checked against chainrule's js backend (CPU) in the same page (column "checked": max |a − b| over the reference's scale; above ${MAX_REL_ERR} a result is flagged ⚠ and never used for a ratio); that call is the first warm-up, then one warm-up iteration that sizes K (none after a checked call of ${m.LONG_MS} ms or more: it was warm-up enough, kernels compiled and buffers pooled; K = 1 then). ` +
      `A timed batch is K iterations enqueued, then one readback of the last iteration's result (chainrule \`await t.dataAsync()\`, TF.js \`await t.data()\`, jax-js \`await a.data()\`): wall time (performance.now()) including the GPU's completion, nothing subtracted. ` +
      `K makes a batch about ${m.BATCH_MS} ms (at most ${m.K_MAX}); at least ${m.MIN_BATCHES} timed batches, more until they sum to ${m.TARGET_MS} ms (at most ${m.MAX_BATCHES}); the cell is the median of batch time ÷ K. ` +
      `Iterations of ${m.LONG_MS} ms or more (most cells on SwiftShader) get at least ${m.LONG_MIN_BATCHES} timed batches of K = 1, more while they sum to less than ${m.LONG_BUDGET_MS / 1000} s (at most ${m.MIN_BATCHES}), so that a run stays near 5 minutes: "(n timed)" in a cell says how many where fewer than ${m.MIN_BATCHES}. ` +
      `A matmul cell whose iteration would take more than ${opts.maxIterationS} s (--max-iteration-s), extrapolated by n³ from the same library's previous matmul row, is not run (— with the estimate in a footnote). ↓ lower is better, ↑ higher is better.`,
    "",
    `"chainrule vs best peer" = chainrule's time ÷ the fastest agreeing peer's time for the same work: above 1 chainrule is slower, below 1 faster.`,
    "",
  );
  const notes: string[] = [
    "Memory: chainrule runs every timed iteration inside tidy() (a training step inside tidyEach(), the last one in tidy() returning its detached loss for the readback), so each iteration's GPU buffers go back to its pool when the iteration ends (a note says so if its live GPU buffers grew over the timed batches); TF.js runs in tf.tidy and disposes what it read (a note says so if tensors were left); jax-js frees by its move semantics.",
    "jax-js is lazy: a kernel is submitted only when something waits on its output, and an output that is disposed unread is never computed. A jax-js batch therefore keeps its K outputs (and the training rows' new parameters) and waits on them with `jax.blockUntilReady` before its one readback; otherwise the K − 1 earlier iterations of the matmul and conv/layer rows (independent of each other) would not run at all.",
    "Matmul rows: square float32, A·B with bench/core.ts's data (matmul/n); GFLOP/s = 2n³ / time; each batch's readback is the whole n×n product (64 MiB at n = 4096), included in the time like the rest and spread over K iterations. " +
      (opts.peakTflops ? `"% of peak" at n = 4096: GFLOP/s ÷ the --peak-tflops ${opts.peakTflops} given.` : `No "% of peak": pass your GPU's FP32 peak with \`--peak-tflops X\` (TFLOP/s) to get it at n = 4096; none is guessed.`) +
      " At n = 2048 and 4096 the reference is chainrule js's product for 16 evenly spaced rows of A (the whole product would take it minutes), and every library's product is compared on those rows of C.",
    `Training rows: bench/core.ts's train/784-256-10 rows (same data, init and lr 0.05): logits = relu(x·W1 + b1)·W2 + b2, mean softmax cross-entropy against integer labels (TF.js and jax-js: one-hot), backward to W1, b1, W2, b2, and here SGD with momentum 0.9 (PyTorch's rule: buf = g on the first step, then 0.9·buf + g; θ −= lr·buf): chainrule optim.SGD({ momentum: 0.9 }), TF.js optimizer.minimize with tf.train.momentum(0.05, 0.9), jax-js one jit(valueAndGrad + the momentum update). ` +
      "Checked over the first two steps: both losses and each parameter's (θ₀ − θ₂)/lr = 1.9·g₀ + g₁, each on its own scale (this checks the momentum rule too). Each timed iteration is one whole step, parameters updated in place from step to step.",
    "Convolution rows: bench/core.ts's conv/layer (one 3×3 pad 1 conv2d forward and dx, dW, db for a fixed upstream gradient: chainrule y.backward(gy), TF.js tf.grads with dy, jax-js one jit of grad(Σ y·gy)) and conv/lenet/64 (a whole plain-SGD step, lr 0.01, checked as core.ts: the loss and (θ₀ − θ₁)/lr); TF.js NHWC with the data transposed outside the timing (its WebGPU backend has Conv2D, Conv2DBackpropInput/Filter and MaxPoolGrad kernels), jax-js lax.conv and a reshape-max pool.",
    "TF.js' WebGPU backend runs with its defaults (e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE 15, and WEBGPU_CPU_FORWARD: small ops whose inputs are still on the CPU may run on its CPU backend). Every library opens its own GPUDevice on the same adapter; chainrule batches a step's kernels into one command encoder, submitted when its tidy()/tidyEach() scope closes or a value is read back.",
  ];
  out.push(...notes.map((n) => `- ${n}`));
  if (footnotes.length) out.push("", ...footnotes.map((f, i) => `[${i + 1}] ${f}`));
  out.push("");
  return out.join("\n");
}

/** `npm run bench -- webgpu …` (bench/core.ts calls this when its arguments contain "webgpu"). */
export async function webgpuBench(argv: string[]): Promise<void> {
  t0 = performance.now();
  loadAtStart = os.loadavg();
  const opts = parseArgs(argv);
  const unknown = opts.filters.filter((f) => !ROW_IDS.some((id) => id.toLowerCase().includes(f)));
  if (unknown.length) {
    console.error(`No webgpu row id contains ${unknown.map((f) => JSON.stringify(f)).join(" or ")}. Row ids:\n${ROW_IDS.map((id) => `  ${id}`).join("\n")}`);
    process.exitCode = 1;
    return;
  }
  const nodeRun = await runNode(opts);
  const browser = await runBrowser(opts);
  const text = report(opts, nodeRun, browser, (performance.now() - t0) / 1000);
  process.stdout.write(text);
  const target = path.resolve("bench", "RESULTS-webgpu.md");
  writeFileAtomic(target, new TextEncoder().encode(text));
  progress(`wrote ${path.relative(process.cwd(), target)}`);
  if (browser.error || !browser.result || browser.result.error) process.exitCode = 1;
}
