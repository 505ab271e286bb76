import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { registerThreadProvider } from "./threads.js";

/**
 * Registers worker_threads as the wasm backend's thread provider and sets the thread count to
 * the machine's cores (os.availableParallelism()). Called by the "chainrule/node" entry; the
 * workers start on the first large matmul and are unref()'d, so they never keep the process alive.
 */
export function enableNodeThreads(): void {
  registerThreadProvider({
    cores: availableParallelism(),
    spawn(source, data, onError) {
      const worker = new Worker(`const { workerData } = require("node:worker_threads");\n${source}`, { eval: true, workerData: data });
      worker.unref();
      worker.on("error", onError);
      return worker;
    },
  });
}
