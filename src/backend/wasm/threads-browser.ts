import { registerThreadProvider } from "./threads.js";

/**
 * Web Workers as the wasm backend's thread provider, in a browser page (or worker) that is
 * cross-origin isolated (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`): only there can a WebAssembly.Memory be shared
 * with workers. Elsewhere it does nothing and the backend runs on one thread. The main entry
 * calls it at import; the workers start at the first large matmul (from a Blob URL: no extra
 * file to serve) and are used once they are ready.
 *
 * @returns whether a provider was registered.
 */
export function enableBrowserThreads(): boolean {
  const g = globalThis as {
    crossOriginIsolated?: boolean;
    Worker?: new (url: string) => Worker;
    navigator?: { hardwareConcurrency?: number };
    Blob?: typeof Blob;
    URL?: typeof URL;
    process?: unknown;
  };
  if (g.crossOriginIsolated !== true || typeof g.Worker !== "function" || typeof g.Blob !== "function" || typeof g.URL?.createObjectURL !== "function") return false;
  registerThreadProvider({
    cores: g.navigator?.hardwareConcurrency ?? 1,
    // In a page or in a worker, a new worker starts only once its spawner's event loop turns.
    startsWhileBlocked: false,
    spawn(source, data, onError) {
      const code = `self.onmessage = (event) => {\n  self.onmessage = null;\n  const workerData = event.data;\n${source}\n};`;
      const url = g.URL!.createObjectURL(new g.Blob!([code], { type: "text/javascript" }));
      const worker = new g.Worker!(url);
      worker.onerror = (e) => onError(e instanceof ErrorEvent ? e.message : e);
      worker.postMessage(data);
      return worker;
    },
  });
  return true;
}
