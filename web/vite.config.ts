/**
 * The playground's build: `npm run web` (dev server with hot reload) and `npm run web:build`
 * (a static site in web/dist). Pages import chainrule's browser entry as "chainrule", aliased to
 * the sources, as a user's bundler resolves the package. The dev and preview servers send the
 * COOP/COEP headers that make the page cross-origin isolated (wasm threads on Web Workers);
 * without them the library runs on one thread, with the same numbers (docs/web.md).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { digitsPlugin } from "./plugins/digits.js";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** The pages, by name: web/<name>.html. */
export const PAGES = ["index", "explorer", "train", "digits", "init"] as const;

const isolation = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

export default defineConfig({
  root: here("."),
  base: "./",
  resolve: { alias: [{ find: /^chainrule$/, replacement: here("../src/index.ts") }] },
  plugins: [digitsPlugin()],
  server: { headers: isolation },
  preview: { headers: isolation },
  // keepNames: the graph pictures label each module by its class name (constructor.name), which
  // minification would shorten to one or two letters.
  worker: { format: "es", rollupOptions: { output: { keepNames: true } } },
  build: {
    outDir: here("dist"),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 4000,
    rollupOptions: { input: Object.fromEntries(PAGES.map((p) => [p, here(`${p}.html`)])), output: { keepNames: true } },
  },
});
