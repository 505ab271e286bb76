/**
 * The digits page: controls and pictures on the main thread, training in worker.ts (protocol.ts).
 * The page is interactive at once; the worker fetches digits.bin in the background.
 */
import { LineChart } from "../shared/chart.js";
import { $, fmt, markReady, mountHeader } from "../shared/layout.js";
import "./digits.css";
import { DrawPad } from "./pad.js";
import type { Evaluation, FromWorker, LayerImage, SplitOptions, ToWorker } from "./protocol.js";
import { RECIPES, cliCommand, type ModelKind } from "./recipe.js";
import { drawInput, drawLayer, renderConfusion, renderProbs } from "./views.js";

mountHeader("digits");

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const send = (msg: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(msg, transfer);

const el = {
  model: $<HTMLSelectElement>("#model"),
  epochs: $<HTMLInputElement>("#epochs"),
  seed: $<HTMLInputElement>("#seed"),
  gpu: $<HTMLInputElement>("#gpu"),
  gpuRow: $("#gpu-row"),
  start: $<HTMLButtonElement>("#start"),
  pause: $<HTMLButtonElement>("#pause"),
  save: $<HTMLButtonElement>("#save"),
  load: $<HTMLInputElement>("#load"),
  recipe: $("#recipe"),
  progress: $("#progress"),
  estimate: $("#estimate"),
  status: $("#status"),
  loaded: $("#loaded"),
  error: $("#error"),
  accuracy: $("#accuracy"),
  pad: $<HTMLCanvasElement>("#pad"),
  preview: $<HTMLCanvasElement>("#preview"),
  probs: $("#probs"),
  probsNote: $("#probs-note"),
  sampleLabel: $("#sample-label"),
  confusion: $<HTMLTableElement>("#confusion"),
  layer: $<HTMLCanvasElement>("#layer"),
  layerNote: $("#layer-note"),
};

const lossChart = new LineChart($("#loss-chart"), [{ label: "batch loss", color: "#c62828" }], { xLabel: "step", yLabel: "loss", height: 200 });
const epochChart = new LineChart($("#epoch-chart"), [{ label: "train loss", color: "#c62828" }, { label: "test accuracy", color: "#1a7f37", right: true }], { xLabel: "epoch", yLabel: "loss", rightLabel: "accuracy", height: 200 });

/** Where the page is: no run, a run training, paused, or finished. */
let state: "idle" | "running" | "paused" | "done" = "idle";
let haveModel = false;
let requests = 0;
const pending = new Map<number, (msg: FromWorker) => void>();
let input: Float32Array | undefined;
let predicting = false;
let predictAgain = false;

for (const kind of Object.keys(RECIPES) as ModelKind[]) el.model.add(new Option(RECIPES[kind].label, kind));

function kind(): ModelKind {
  return el.model.value as ModelKind;
}

function showRecipe(): void {
  const r = RECIPES[kind()];
  el.recipe.innerHTML = `SGD, momentum 0.9, lr ${r.lr} with cosine decay, weight decay 5e-4, batch 128${r.augment ? ", random shifts of up to 2 pixels" : ""}. The same run: <code>${cliCommand(kind(), epochCount(), seedValue())}</code>`;
}

function epochCount(): number {
  const n = Math.round(Number(el.epochs.value));
  return Number.isFinite(n) && n >= 1 ? Math.min(n, 200) : RECIPES[kind()].epochs;
}

function seedValue(): number {
  const n = Math.round(Number(el.seed.value));
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function setState(next: typeof state): void {
  state = next;
  el.start.textContent = next === "paused" ? "Resume" : next === "running" ? "Training…" : "Start";
  el.start.disabled = next === "running";
  el.pause.disabled = next !== "running";
  el.model.disabled = el.epochs.disabled = el.seed.disabled = next === "running";
  el.save.disabled = !haveModel || next === "running";
}

function showError(message: string): void {
  el.error.textContent = message;
}

/** A request without its id (distributed over the union, so each kind keeps its fields). */
type Request = Extract<ToWorker, { id: number }> extends infer T ? (T extends unknown ? Omit<T, "id"> : never) : never;

function request(msg: Request, transfer: Transferable[] = []): Promise<FromWorker> {
  const id = ++requests;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    send({ ...msg, id } as ToWorker, transfer);
  });
}

function showEvaluation(test: Evaluation): void {
  el.accuracy.textContent = `${(100 * test.accuracy).toFixed(2)}% (${Math.round(test.accuracy * test.samples)}/${test.samples})`;
  el.accuracy.dataset.value = String(test.accuracy);
  renderConfusion(el.confusion, test.confusion);
}

function showLayer(layer: LayerImage): void {
  drawLayer(el.layer, layer);
  el.layerNote.textContent =
    layer.kind === "templates"
      ? `The ${layer.shape[0]} rows of W₁, each a 28×28 template the hidden unit matches the digit against (its score is the dot product): red positive, blue negative weights.`
      : `The ${layer.shape[0]} first-layer convolution filters (${layer.shape[2]}×${layer.shape[3]}), each slid over the digit: red positive, blue negative weights.`;
}

function formatSeconds(s: number): string {
  return s < 90 ? `${fmt(s, 2)} s` : `${fmt(s / 60, 2)} min`;
}

let runInfo: { batches: number; epochs: number } = { batches: 0, epochs: 0 };

function onProgress(msg: Extract<FromWorker, { type: "progress" }>): void {
  const first = msg.step - msg.losses.length + 1;
  msg.losses.forEach((l, i) => lossChart.push(first + i, [l]));
  const last = msg.losses[msg.losses.length - 1] ?? NaN;
  el.progress.textContent = `epoch ${msg.epoch}/${runInfo.epochs} · batch ${msg.batch}/${msg.batches} · loss ${fmt(last, 4)} · ${Math.round(msg.samplesPerSecond)} samples/s`;
  el.progress.dataset.loss = String(last);
  el.progress.dataset.step = String(msg.step);
  const epochSeconds = (msg.msPerBatch * msg.batches) / 1000 + msg.evalSeconds;
  const left = (msg.msPerBatch * (msg.batches - msg.batch)) / 1000 + msg.evalSeconds + (runInfo.epochs - msg.epoch) * epochSeconds;
  el.estimate.textContent = `${fmt(msg.msPerBatch, 3)} ms per batch of 128 → about ${formatSeconds(epochSeconds)} per epoch; about ${formatSeconds(left)} left.`;
  el.estimate.dataset.msPerBatch = String(msg.msPerBatch);
}

function onMessage(msg: FromWorker): void {
  if ("id" in msg && msg.id !== undefined && pending.has(msg.id)) {
    pending.get(msg.id)!(msg);
    pending.delete(msg.id);
    if (msg.type !== "error") return;
  }
  switch (msg.type) {
    case "status":
      el.status.textContent = msg.text;
      return;
    case "run":
      runInfo = { batches: msg.batches, epochs: msg.epochs };
      haveModel = true;
      lossChart.clear();
      epochChart.clear();
      el.loaded.textContent = `Training ${msg.describe} (${msg.parameters.toLocaleString("en")} parameters) on the ${msg.backend} backend, ${msg.threads} thread${msg.threads === 1 ? "" : "s"}.`;
      void predictNow();
      return;
    case "progress":
      onProgress(msg);
      return;
    case "epoch":
      epochChart.push(msg.epoch, [msg.trainLoss, msg.test.accuracy]);
      showEvaluation(msg.test);
      el.status.textContent = `epoch ${msg.epoch}: train loss ${fmt(msg.trainLoss, 4)}, test loss ${fmt(msg.test.loss, 4)}, ${formatSeconds(msg.trainSeconds)} of training`;
      void predictNow();
      return;
    case "layer":
      showLayer(msg.layer);
      return;
    case "paused":
      setState("paused");
      return;
    case "done":
      setState("done");
      el.progress.textContent += " · done";
      return;
    case "probs":
      predicting = false;
      renderProbs(el.probs, msg.probs);
      el.probsNote.textContent = "The softmax of the model's 10 scores for the input on the left.";
      if (predictAgain) void predictNow();
      return;
    case "loaded":
      onLoaded(msg);
      return;
    case "error":
      if (msg.during === "predict") predicting = false;
      if (msg.during === "start" || msg.during === "resume") setState("idle");
      showError(msg.message);
      return;
  }
}

function onLoaded(msg: Extract<FromWorker, { type: "loaded" }>): void {
  haveModel = true;
  setState("idle");
  lossChart.clear();
  epochChart.clear();
  const ds = msg.meta.dataset;
  const split = (s: SplitOptions) => `trainSize ${s.trainSize}, testSize ${s.testSize}, seed ${s.seed}`;
  el.loaded.textContent = `Loaded ${msg.name}: ${msg.describe}, trained on ${ds ? `${ds.name} (${split(msg.split)})` : "an unrecorded dataset"}; test accuracy ${(100 * msg.test.accuracy).toFixed(2)}% on its ${msg.test.samples} test digits.`;
  el.progress.textContent = "Loaded a model (Start trains a new one).";
  showEvaluation(msg.test);
  void predictNow();
}

/** Sends the current input to the worker; while one prediction is out, only the latest input follows it. */
async function predictNow(): Promise<void> {
  if (!input || !haveModel) return;
  if (predicting) {
    predictAgain = true;
    return;
  }
  predicting = true;
  predictAgain = false;
  send({ type: "predict", id: 0, pixels: input });
}

function setInput(pixels: Float32Array | undefined): void {
  input = pixels;
  if (pixels) drawInput(el.preview, pixels);
  else drawInput(el.preview, new Float32Array(784));
  if (!pixels) renderProbs(el.probs, undefined);
  void predictNow();
}

const pad = new DrawPad(el.pad, () => {
  el.sampleLabel.textContent = "";
  setInput(pad.toInput());
});

function start(): void {
  showError("");
  if (state === "paused") send({ type: "resume" });
  else send({ type: "start", kind: kind(), epochs: epochCount(), seed: seedValue(), backend: el.gpu.checked ? "webgpu" : "wasm" });
  setState("running");
}

async function save(): Promise<void> {
  showError("");
  const msg = await request({ type: "save" });
  if (msg.type !== "saved") return;
  const url = URL.createObjectURL(new Blob([msg.bytes as BlobPart], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = "model.safetensors";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function load(): Promise<void> {
  const file = el.load.files?.[0];
  if (!file) return;
  showError("");
  el.loaded.textContent = `Loading ${file.name}…`;
  const bytes = await file.arrayBuffer();
  send({ type: "load", bytes, name: file.name }, [bytes]);
  el.load.value = "";
}

async function loadSample(): Promise<void> {
  const msg = await request({ type: "sample" });
  if (msg.type !== "sample") return;
  pad.showDigit(msg.pixels);
  el.sampleLabel.textContent = `A test digit labelled ${msg.label}.`;
  setInput(msg.pixels);
}

worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
worker.onerror = (e) => showError(`worker: ${e.message}`);
el.model.addEventListener("change", () => {
  el.epochs.value = String(RECIPES[kind()].epochs);
  if (state === "paused") setState("idle");
  showRecipe();
});
el.epochs.addEventListener("input", () => {
  if (state === "paused") setState("idle");
  showRecipe();
});
el.seed.addEventListener("input", showRecipe);
el.start.addEventListener("click", start);
// The GPU switch, where the browser has WebGPU (the worker falls back to the CPU, saying so, if no adapter opens).
el.gpuRow.hidden = !("gpu" in navigator);
el.pause.addEventListener("click", () => send({ type: "pause" }));
el.save.addEventListener("click", () => void save().catch((e: Error) => showError(e.message)));
el.load.addEventListener("change", () => void load().catch((e: Error) => showError(e.message)));
$("#clear").addEventListener("click", () => {
  pad.clear();
  el.sampleLabel.textContent = "";
  setInput(undefined);
});
$("#sample").addEventListener("click", () => void loadSample());

/** Test hooks: the predicted labels of the first `count` test digits, and the split they come from. */
(window as unknown as { __digits: unknown }).__digits = {
  predictTest: async (count = 100) => {
    const msg = await request({ type: "predictTest", count });
    return msg.type === "predicted" ? { labels: msg.labels, split: msg.split } : undefined;
  },
};

el.epochs.value = String(RECIPES[kind()].epochs);
showRecipe();
setInput(undefined);
setState("idle");
send({ type: "init", digitsUrl: new URL("./digits.bin", location.href).href });
markReady();
