import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const srcDir = fileURLToPath(new URL("../src/", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("package layout", () => {
  // Node-only files: the "chainrule/node" entry and the modules only it imports.
  const nodeOnly = new Set([
    join(srcDir, "node.ts"),
    join(srcDir, "io", "node-fs.ts"),
    join(srcDir, "data", "node.ts"),
    // worker_threads for the wasm backend's threaded matmul.
    join(srcDir, "backend", "wasm", "threads-node.ts"),
    // The Trainer writes checkpoints and draws a terminal progress bar (cli-progress).
    ...["index.ts", "trainer.ts", "progress.ts", "types.ts", "metrics.ts"].map((f) => join(srcDir, "train", f)),
    // PNG output through sharp, and the viz namespace of "chainrule/node" that adds it.
    join(srcDir, "viz", "png.ts"),
    join(srcDir, "viz", "node.ts"),
    // The CLI's explain and graph commands (they write files).
    join(srcDir, "cli", "commands", "explain.ts"),
    join(srcDir, "cli", "commands", "graph.ts"),
    // The `chainrule` command (commander, vega, pngjs; reads and writes files).
    ...["main.ts", "common.ts", "model.ts", "datasets.ts", "plot.ts", "weights-image.ts", "architecture.ts", "conv-images.ts", "out-lock.ts"].map((f) => join(srcDir, "cli", f)),
    ...["index.ts", "train.ts", "eval.ts", "gradcheck.ts", "export.ts", "predict.ts"].map((f) => join(srcDir, "cli", "commands", f)),
  ]);
  // Packages the core may import because they run in browsers too (WebAssembly Graphviz).
  // onnx-proto: protobufjs code for ONNX's messages (plain JavaScript; the web build bundles it).
  const browserSafePackages = new Set(["@viz-js/viz", "onnx-proto"]);

  it("the core imports no Node-only module (only src/node.ts and the files only it imports may)", () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(srcDir)) {
      if (nodeOnly.has(file)) continue;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
        const spec = m[1]!;
        if (!spec.startsWith(".")) {
          if (!browserSafePackages.has(spec)) offenders.push(`${file}: ${spec}`);
        }
        else if (nodeOnly.has(join(dirname(file), spec.replace(/\.js$/, ".ts")))) offenders.push(`${file}: ${spec} (Node-only)`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("the main entry bundles for browsers with no Node built-ins", async () => {
    const result = await build({
      entryPoints: [join(srcDir, "index.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).toContain("backward");
    expect(code).not.toMatch(/require\(["'](fs|path|worker_threads|node:)/);
  });

  it("a bundle of the Node entry keeps its side effect: worker threads on (package.json sideEffects lists it)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chainrule-bundle-"));
    try {
      const entry = join(dir, "entry.mjs");
      writeFileSync(entry, `import { getNumThreads } from ${JSON.stringify(join(srcDir, "node.ts"))};\nconsole.log(getNumThreads());\n`);
      await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: join(dir, "out.mjs"), packages: "external", logLevel: "silent" });
      const out = execFileSync(process.execPath, [join(dir, "out.mjs")], { encoding: "utf8" }).trim();
      expect(Number(out)).toBe(availableParallelism());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the built bin (dist/cli/main.js, made by npm ci's prepare step) is an executable script", () => {
    const bin = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
    if (!existsSync(bin)) return; // not built in this checkout: nothing to check
    expect(readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
    expect(statSync(bin).mode & 0o111).not.toBe(0);
  });
});
