/**
 * The page's worker: runs the experiments on chainrule off the main thread.
 *
 * Messages in:  { type: "stats", id, config: ActivationConfig }
 *               { type: "sweep", id, config: SweepConfig }   (a new request cancels a running sweep)
 * Messages out: { type: "stats", id, layers: LayerStats[], ms }
 *               { type: "sweep", id, from, losses: number[][], done }   (losses[k] = step from + k, one per rate)
 *               { type: "error", id, message }
 */
import { backendReady } from "chainrule";
import { activationStats, LearningRateSweep, type ActivationConfig, type SweepConfig } from "./experiment.js";

export type Request = { type: "stats"; id: number; config: ActivationConfig } | { type: "sweep"; id: number; config: SweepConfig };

let sweepId = -1;

const post = (message: unknown): void => (self as unknown as Worker).postMessage(message);

/** Runs the sweep in slices of ~30 ms, posting each slice's losses, until it ends or a newer request replaces it. */
function runSweep(id: number, config: SweepConfig): void {
  sweepId = id;
  const sweep = new LearningRateSweep(config);
  const slice = (): void => {
    if (sweepId !== id) return;
    try {
      const from = sweep.steps;
      const losses: number[][] = [];
      const start = performance.now();
      while (sweep.steps < config.steps && performance.now() - start < 30) losses.push(sweep.step());
      const done = sweep.steps >= config.steps;
      post({ type: "sweep", id, from, losses, done });
      if (!done) setTimeout(slice, 0);
    } catch (error) {
      post({ type: "error", id, message: (error as Error).message });
    }
  };
  slice();
}

self.onmessage = async (event: MessageEvent<Request>) => {
  const request = event.data;
  await backendReady();
  if (request.type === "sweep") {
    runSweep(request.id, request.config);
    return;
  }
  try {
    const start = performance.now();
    const layers = activationStats(request.config);
    post({ type: "stats", id: request.id, layers, ms: performance.now() - start });
  } catch (error) {
    post({ type: "error", id: request.id, message: (error as Error).message });
  }
};
