/**
 * `toPng`: the graph picture as PNG, for Node only (exported from "chainrule/node"). The SVG
 * from `toSvg` is rasterised with sharp (an optional dependency: `npm install sharp`).
 */
import type { Tensor } from "../tensor/tensor.js";
import type { DotOptions } from "./dot.js";
import { toSvg } from "./svg.js";
import type { TraceGraph } from "./trace.js";

export interface PngOptions extends DotOptions {
  /** Pixels per inch when rasterising the SVG (default 144: twice the SVG's 72 pt per inch). */
  density?: number;
}

/**
 * The picture of the graph below `output` (or of a trace, or of DOT text) as PNG bytes.
 * @example writeFileSync("graph.png", await toPng(f));
 */
export async function toPng(input: Tensor | TraceGraph | string, options: PngOptions = {}): Promise<Uint8Array> {
  const svg = await toSvg(input, options);
  let mod: typeof import("sharp");
  try {
    mod = await import("sharp");
  } catch (error) {
    throw new Error(`toPng needs the optional dependency 'sharp' (npm install sharp): ${error instanceof Error ? error.message : String(error)}. toSvg works without it.`);
  }
  const buffer = await mod.default(Buffer.from(svg), { density: options.density ?? 144 }).png().toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
