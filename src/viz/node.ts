/**
 * The `viz` namespace of "chainrule/node": everything in the browser-safe one plus `toPng`.
 */
export * from "./index.js";
export { toPng, type PngOptions } from "./png.js";
