/**
 * The training worker: owns the Session (model, optimizer, data), trains while playing, and posts
 * frames (step, loss, accuracy, decision regions) at most ~30 times a second, so the page stays
 * responsive at any speed. The graph's SVG is rendered here too (@viz-js/viz runs in workers).
 */
import { backendReady, setNumThreads } from "chainrule";
import type { FromWorker, ToWorker } from "./protocol.js";
import { GRID, Session } from "./trainer.js";

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const worker = self as unknown as WorkerScope;

// One thread: these matmuls are small (hand-off would cost more than it saves), and in Chromium a
// worker that blocks waiting for its own nested thread workers to start hangs (they start only
// once this worker's event loop runs), so the wasm kernels run on this worker alone.
setNumThreads(1);

/** Minimum time between two frames while playing (~30 frames a second). */
const FRAME_MS = 33;

let session: Session | undefined;
let playing = false;
let stepsPerFrame = 1;
let timer: ReturnType<typeof setTimeout> | undefined;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  worker.postMessage(message, transfer);
}

function fail(error: unknown, graph?: number): void {
  playing = false;
  post({ type: "error", message: error instanceof Error ? error.message : String(error), ...(graph === undefined ? {} : { graph }) });
}

/** Evaluates the session and posts a frame, transferring the grid's buffers. */
function postFrame(s: Session): void {
  const { loss, accuracy } = s.evaluate();
  const { cls, conf } = s.decisionRegions();
  post({ type: "frame", step: s.step, loss, batchLoss: s.batchLoss, accuracy, playing, grid: GRID, cls, conf }, [cls.buffer, conf.buffer]);
}

/** One frame of play: stepsPerFrame updates, a frame, then the next tick after the rest of FRAME_MS. */
function tick(): void {
  timer = undefined;
  if (!playing || !session) return;
  const started = performance.now();
  try {
    for (let i = 0; i < stepsPerFrame; i++) session.trainStep();
    postFrame(session);
  } catch (error) {
    fail(error);
    return;
  }
  timer = setTimeout(tick, Math.max(0, FRAME_MS - (performance.now() - started)));
}

function stop(): void {
  playing = false;
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
}

async function handle(message: ToWorker): Promise<void> {
  await backendReady();
  switch (message.type) {
    case "reset": {
      stop();
      session = new Session(message.config);
      const x = Float32Array.from(session.dataset.x.data as Float32Array);
      const y = Int32Array.from(session.dataset.y.data as Int32Array);
      post({ type: "dataset", x, y, classes: session.classes, bounds: session.bounds, modules: session.modules() }, [x.buffer, y.buffer]);
      postFrame(session);
      return;
    }
    case "play":
      if (!session || playing) return;
      playing = true;
      tick();
      return;
    case "pause":
      stop();
      if (session) postFrame(session);
      return;
    case "step":
      if (!session) return;
      stop();
      for (let i = 0; i < message.count; i++) session.trainStep();
      postFrame(session);
      return;
    case "speed":
      stepsPerFrame = message.stepsPerFrame;
      return;
    case "graph": {
      if (!session) return fail(new Error("graph: there is no run to draw yet; fix the settings first."), message.id);
      const step = session.step;
      try {
        post({ type: "graph", id: message.id, svg: await session.graphSvg(message.expand), step });
      } catch (error) {
        fail(error, message.id);
      }
      return;
    }
  }
}

worker.onmessage = (event) => {
  handle(event.data).catch(fail);
};
