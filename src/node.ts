/**
 * Node.js-only parts of chainrule (file I/O and, later, worker threads). Import from
 * "chainrule/node"; the main entry stays free of Node modules so it bundles for browsers.
 */
export * from "./index.js";
// The browser-safe viz namespace plus toPng (sharp).
export * as viz from "./viz/node.js";
export { save, load, loadSharded, loadWithMetadata, saveCheckpoint, loadCheckpoint, writeFileAtomic } from "./io/node-fs.js";
export { loadMnist, loadMnistIdx, loadCifar10, type LoadMnistOptions, type MnistSplit, type LoadFilesOptions } from "./data/node.js";
export * from "./train/index.js";
// Worker threads for the wasm backend's large matmuls (the thread count defaults to the cores).
import { enableNodeThreads } from "./backend/wasm/threads-node.js";
enableNodeThreads();
