/**
 * `toSvg(output | trace | dot, options)`: the graph picture as SVG, rendered by Graphviz
 * compiled to WebAssembly (`@viz-js/viz`): no system Graphviz needed, the same in Node and in
 * the browser. The renderer is loaded on first use (about 1.2 MB).
 */
import type { Tensor } from "../tensor/tensor.js";
import { toDot, type DotOptions } from "./dot.js";
import type { TraceGraph } from "./trace.js";

interface VizInstance {
  renderString(src: string, options?: { format?: string; engine?: string }): string;
}

let vizPromise: Promise<VizInstance> | undefined;

/** The shared Graphviz instance (created once). */
function graphviz(): Promise<VizInstance> {
  vizPromise ??= import("@viz-js/viz").then((m) => m.instance());
  return vizPromise;
}

/** Renders Graphviz DOT text to SVG (with `@viz-js/viz`). Throws on a syntax error in `dot`. */
export async function renderDot(dot: string): Promise<string> {
  const viz = await graphviz();
  return viz.renderString(dot, { format: "svg", engine: "dot" });
}

/**
 * The picture of the graph below `output` (or of a `trace()` result, or DOT text from `toDot`)
 * as an SVG document: gates, green forward values, red gradients, a legend. Options as `toDot`.
 * @example
 * writeFileSync("graph.svg", await viz.toSvg(f, { collapse: ["sigmoid"] })); // Node
 * // In a browser: element.innerHTML = await viz.toSvg(f);
 */
export async function toSvg(input: Tensor | TraceGraph | string, options: DotOptions = {}): Promise<string> {
  return renderDot(typeof input === "string" ? input : toDot(input, options));
}
