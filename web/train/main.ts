/**
 * The train page: settings → a TrainConfig sent to the worker (worker.ts), which trains and posts
 * frames; this file draws them (decision regions on a canvas, the loss/accuracy chart, the graph).
 */
import { LineChart } from "../shared/chart.js";
import { $, fmt, markReady, mountHeader } from "../shared/layout.js";
import { drawRegions } from "./regions.js";
import type { FromWorker, ToWorker, TrainConfig } from "./protocol.js";
import "./train.css";

/** Refresh period of the graph while playing. */
const GRAPH_MS = 2000;

mountHeader("train");
const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const chart = new LineChart($("#chart"), [
  { label: "loss", color: "#c62828" },
  { label: "accuracy", color: "#2657c5", right: true },
], { xLabel: "step", yLabel: "loss", rightLabel: "accuracy", height: 240 });

const canvas = $<HTMLCanvasElement>("#regions");
const playButton = $<HTMLButtonElement>("#play");
const errorBox = $("#error");

/** What the page last got from the worker (also what tests read through window.__train). */
const state = {
  points: new Float32Array(0),
  labels: new Int32Array(0),
  classes: 0,
  bounds: [0, 1, 0, 1] as [number, number, number, number],
  step: 0,
  loss: Number.NaN,
  accuracy: Number.NaN,
  playing: false,
  frames: 0,
  graphs: 0,
  graphStep: -1,
  expand: [] as string[],
};
/** Id of the last graph request sent; one is in flight at a time, later ones wait (graphDirty). */
let graphId = 0;
let graphInFlight = false;
let graphDirty = false;
let lastGraphAt = 0;

function send(message: ToWorker): void {
  worker.postMessage(message);
}

function showError(message: string | undefined): void {
  errorBox.hidden = message === undefined;
  errorBox.textContent = message ?? "";
}

function value(id: string): string {
  return $<HTMLInputElement | HTMLSelectElement>(`#${id}`).value;
}

/** A finite number ≥ 0 from an input, or an error naming the setting. */
function nonNegative(id: string, what: string): number {
  const v = Number(value(id));
  if (value(id).trim() === "" || !Number.isFinite(v) || v < 0) throw new Error(`${what}: enter a number ≥ 0, got "${value(id)}".`);
  return v;
}

/** The settings as a TrainConfig (throws with a readable message on a bad entry). */
function readConfig(): TrainConfig {
  const seed = Number(value("seed"));
  if (!Number.isSafeInteger(seed)) throw new Error(`seed: enter a whole number, got "${value("seed")}".`);
  return {
    dataset: value("dataset") as TrainConfig["dataset"],
    seed,
    noise: nonNegative("noise", "noise"),
    hidden: value("hidden"),
    activation: value("activation") as TrainConfig["activation"],
    loss: value("loss") as TrainConfig["loss"],
    optimizer: value("optimizer") as TrainConfig["optimizer"],
    lr: nonNegative("lr", "learning rate"),
    reg: nonNegative("reg", "L2 strength"),
    batchSize: Number(value("batch")),
  };
}

/** Starts a new run with the current settings. */
function reset(): void {
  try {
    const config = readConfig();
    showError(undefined);
    chart.clear();
    state.frames = 0;
    setPlaying(false);
    send({ type: "reset", config });
    requestGraph();
  } catch (error) {
    showError(error instanceof Error ? error.message : String(error));
  }
}

function setPlaying(playing: boolean): void {
  state.playing = playing;
  playButton.textContent = playing ? "Pause" : "Play";
  playButton.setAttribute("aria-pressed", String(playing));
}

/** Asks for the graph of the current weights (after the one in flight, if any, comes back). */
function requestGraph(): void {
  if (graphInFlight) {
    graphDirty = true;
    return;
  }
  graphInFlight = true;
  graphDirty = false;
  lastGraphAt = performance.now();
  send({ type: "graph", id: ++graphId, expand: state.expand });
}

function onDataset(m: Extract<FromWorker, { type: "dataset" }>): void {
  Object.assign(state, { points: m.x, labels: m.y, classes: m.classes, bounds: m.bounds });
  const box = $("#modules");
  box.querySelectorAll("label").forEach((l) => l.remove());
  state.expand = state.expand.filter((name) => m.modules.some((mod) => mod.name === name));
  for (const mod of m.modules) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" value="${mod.name}"${state.expand.includes(mod.name) ? " checked" : ""} /> ${mod.name}: ${mod.kind}`;
    box.append(label);
  }
}

function onFrame(m: Extract<FromWorker, { type: "frame" }>): void {
  Object.assign(state, { step: m.step, loss: m.loss, accuracy: m.accuracy });
  state.frames++;
  drawRegions(canvas, { grid: m.grid, cls: m.cls, conf: m.conf, classes: state.classes, bounds: state.bounds, points: state.points, labels: state.labels });
  const batch = Number.isNaN(m.batchLoss) ? "" : ` · last batch loss ${fmt(m.batchLoss)}`;
  $("#readout").textContent = `step ${m.step} · loss ${fmt(m.loss)} · accuracy ${(100 * m.accuracy).toFixed(1)} %${batch}`;
  chart.push(m.step, [m.loss, m.accuracy]);
  if (!m.playing && state.playing) setPlaying(false);
  if (state.playing && performance.now() - lastGraphAt > GRAPH_MS) requestGraph();
}

function onGraph(m: Extract<FromWorker, { type: "graph" }>): void {
  graphInFlight = false;
  state.graphs++;
  state.graphStep = m.step;
  const box = $("#graph");
  box.innerHTML = m.svg;
  const svg = box.querySelector("svg");
  // Graphviz sizes in points; one pixel per point draws it at 3/4 size, still readable.
  for (const side of ["width", "height"]) svg?.setAttribute(side, `${parseFloat(svg.getAttribute(side) ?? "0")}px`);
  for (const node of box.querySelectorAll("g.node")) {
    const name = /^(\S+): /.exec(node.querySelector("text")?.textContent ?? "")?.[1];
    if (name !== undefined && $("#modules").querySelector(`input[value="${CSS.escape(name)}"]`)) {
      node.classList.add("module");
      node.setAttribute("data-module", name);
    }
  }
  if (graphDirty) requestGraph();
}

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const m = event.data;
  if (m.type === "dataset") onDataset(m);
  else if (m.type === "frame") onFrame(m);
  else if (m.type === "graph") onGraph(m);
  else {
    if (m.graph === graphId) graphInFlight = false;
    setPlaying(false);
    showError(m.message);
  }
};
worker.onerror = (event) => showError(`worker: ${event.message}`);

/** Opens or closes a module in the graph. */
function toggleModule(name: string, open: boolean): void {
  state.expand = open ? [...new Set([...state.expand, name])] : state.expand.filter((n) => n !== name);
  const box = $<HTMLInputElement>(`#modules input[value="${CSS.escape(name)}"]`);
  box.checked = open;
  requestGraph();
}

$("#settings").addEventListener("submit", (e) => e.preventDefault());
$("#settings").addEventListener("change", reset);
$("#reset").addEventListener("click", reset);
playButton.addEventListener("click", () => {
  setPlaying(!state.playing);
  send({ type: state.playing ? "play" : "pause" });
  if (!state.playing) requestGraph();
});
$("#step").addEventListener("click", () => {
  setPlaying(false);
  send({ type: "step", count: 1 });
  requestGraph();
});
$("#speed").addEventListener("change", () => send({ type: "speed", stepsPerFrame: Number(value("speed")) }));
$("#modules").addEventListener("change", (e) => {
  const input = e.target as HTMLInputElement;
  toggleModule(input.value, input.checked);
});
$("#graph").addEventListener("click", (e) => {
  const name = (e.target as Element).closest("g.node.module")?.getAttribute("data-module");
  if (name) toggleModule(name, !state.expand.includes(name));
});

(window as unknown as { __train: unknown }).__train = {
  state: () => ({ ...state, points: state.points.length / 2, labels: undefined }),
  chart: () => chart.data(),
  pixels: () => canvas.toDataURL(),
};

send({ type: "speed", stepsPerFrame: Number(value("speed")) });
reset();
markReady();
