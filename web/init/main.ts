/**
 * "Training, part I": the activation/initialisation experiment and the learning-rate sweep. The
 * worker (worker.ts) runs them on chainrule; this page draws what it sends back.
 */
import "./init.css";
import { LineChart } from "../shared/chart.js";
import { $, fmt, markReady, mountHeader } from "../shared/layout.js";
import { DEFAULT_ACTIVATION_CONFIG, DEFAULT_SWEEP, SWEEP_NAMES, type Activation, type ActivationConfig, type InitName, type LayerStats, type SweepConfig } from "./config.js";
import { drawHistograms } from "./histograms.js";
import type { Request } from "./worker.js";

mountHeader("init");

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
let nextId = 0;
let statsId = -1;
let sweepId = -1;
let lastStats: LayerStats[] | null = null;
const sweepLosses: number[][] = [];
let sweepRates: number[] = [];
let sweepDone = false;

const send = (request: Request): void => worker.postMessage(request);
const cssColor = (name: string): string => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// ------------------------------------------------------------------ activations

const inputs = {
  activation: $<HTMLSelectElement>("#activation"),
  init: $<HTMLSelectElement>("#init"),
  scale: $<HTMLInputElement>("#scale"),
  width: $<HTMLSelectElement>("#width"),
  samples: $<HTMLSelectElement>("#samples"),
  seed: $<HTMLInputElement>("#seed"),
};

const stdChart = new LineChart($("#std-chart"), [
  { label: "std of H (activations)", color: cssColor("--forward") },
  { label: "std of ∂L/∂H (gradients)", color: cssColor("--gradient") },
], { xLabel: "layer", logY: true, height: 220 });

function activationConfig(): ActivationConfig {
  const seed = Number(inputs.seed.value);
  return {
    ...DEFAULT_ACTIVATION_CONFIG,
    activation: inputs.activation.value as Activation,
    init: inputs.init.value as InitName,
    scale: Number(inputs.scale.value),
    width: Number(inputs.width.value),
    samples: Number(inputs.samples.value),
    seed: Number.isInteger(seed) && seed >= 0 ? seed : 0,
  };
}

function runStats(): void {
  inputs.scale.disabled = inputs.init.value !== "custom";
  const config = activationConfig();
  $("#act-error").textContent = config.init === "custom" && !(config.scale > 0) ? "The custom scale must be a positive number." : "";
  if ($("#act-error").textContent) return;
  statsId = nextId++;
  $("#act-status").textContent = `Running ${config.layers} layers of ${config.width} units on ${config.samples} samples…`;
  send({ type: "stats", id: statsId, config });
}

/** What the lecture says about the case on screen. */
function explain(config: ActivationConfig, layers: LayerStats[]): string {
  const first = layers[0]!.act.std;
  const last = layers[layers.length - 1]!.act.std;
  const trend = `The activations' std goes from ${fmt(first, 3)} at layer 1 to ${fmt(last, 3)} at layer ${layers.length}.`;
  const n = config.width;
  if (config.init === "small") return `${trend} Each layer multiplies the spread by about 0.01·√${n} ≈ ${fmt(0.01 * Math.sqrt(n), 2)}, so the activations collapse to 0, and so do the gradients on the weights (∂L/∂W = Hᵀ·upstream): deep layers do not learn.`;
  if (config.init === "xavier" && config.activation === "tanh") return `${trend} Xavier's 1/√fan_in keeps the variance of x·W equal to that of x, so tanh's inputs stay in its active range layer after layer.`;
  if (config.init === "xavier") return `${trend} ReLU zeroes half of its inputs, so with Xavier's 1/√fan_in the variance halves at every layer and the activations still vanish, only slower.`;
  if (config.init === "kaiming" && config.activation === "relu") return `${trend} Kaiming's extra factor 2 (std √(2/fan_in)) makes up for the half that ReLU zeroes: the spread stays the same at every depth.`;
  if (config.init === "kaiming") return `${trend} Kaiming's factor 2 is meant for ReLU; tanh with it grows towards saturation at ±1, where its local gradient 1 − tanh² is near 0.`;
  return `${trend} Compare with the lecture's cases above: too small a scale vanishes, too large saturates tanh or explodes ReLU.`;
}

function showStats(layers: LayerStats[], ms: number): void {
  lastStats = layers;
  const config = activationConfig();
  drawHistograms($("#act-hists"), layers.map((l) => ({ hist: l.act.hist, std: l.act.std })), cssColor("--forward"));
  drawHistograms($("#grad-hists"), layers.map((l) => ({ hist: l.grad.hist, std: l.grad.std })), cssColor("--gradient"));
  stdChart.set(layers.map((_, i) => i + 1), [layers.map((l) => (l.act.std > 0 ? l.act.std : null)), layers.map((l) => (l.grad.std > 0 ? l.grad.std : null))]);
  $("#stats-table tbody").innerHTML = layers
    .map((l, i) => `<tr><td>${i + 1}</td><td>${fmt(l.act.mean, 3)}</td><td>${fmt(l.act.std, 3)}</td><td>${fmt(l.grad.std, 3)}</td></tr>`)
    .join("");
  $("#explanation").textContent = explain(config, layers);
  $("#act-status").textContent = `${config.activation === "tanh" ? "tanh" : "ReLU"}, ${inputs.init.selectedOptions[0]!.textContent}: forward and backward in ${Math.round(ms)} ms (${crossOriginIsolated ? "isolated" : "one thread"}).`;
}

for (const el of Object.values(inputs)) el.addEventListener("change", runStats);
document.querySelectorAll<HTMLButtonElement>("[data-case]").forEach((button) =>
  button.addEventListener("click", () => {
    const [activation, init] = button.dataset.case!.split(",");
    inputs.activation.value = activation!;
    inputs.init.value = init!;
    runStats();
  }),
);

// ------------------------------------------------------------------ learning rates

const lrBox = $("#lr-inputs");
lrBox.innerHTML = DEFAULT_SWEEP.learningRates
  .map((lr, i) => `<label for="lr-${i}">${SWEEP_NAMES[i]}</label><input id="lr-${i}" type="number" value="${lr}" min="0" step="any" />`)
  .join("");
const sweepColors = ["#8c8c8c", "#1a7f37", "#d97706", "#c62828"];
const sweepChart = new LineChart($("#sweep-chart"), SWEEP_NAMES.map((name, i) => ({ label: name, color: sweepColors[i]! })), { xLabel: "step", yLabel: "loss", logY: true, height: 260 });

function sweepConfig(): SweepConfig | string {
  const learningRates = SWEEP_NAMES.map((_, i) => Number($<HTMLInputElement>(`#lr-${i}`).value));
  const bad = learningRates.findIndex((lr) => !(lr > 0));
  if (bad >= 0) return `The "${SWEEP_NAMES[bad]}" learning rate must be a positive number.`;
  const steps = Number($<HTMLInputElement>("#steps").value);
  if (!Number.isInteger(steps) || steps < 10 || steps > 5000) return "Steps must be a whole number from 10 to 5000.";
  return { ...DEFAULT_SWEEP, learningRates, steps };
}

function runSweep(): void {
  const config = sweepConfig();
  $("#sweep-error").textContent = typeof config === "string" ? config : "";
  if (typeof config === "string") return;
  sweepId = nextId++;
  sweepRates = config.learningRates;
  sweepLosses.length = 0;
  sweepDone = false;
  sweepChart.clear();
  send({ type: "sweep", id: sweepId, config });
}

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

function showSweep(): void {
  const xs = sweepLosses.map((_, s) => s + 1);
  sweepChart.set(xs, sweepRates.map((_, i) => sweepLosses.map((l) => (finite(l[i]) && l[i]! > 0 ? l[i]! : null))));
  $("#sweep-table tbody").innerHTML = sweepRates
    .map((lr, i) => {
      const first = sweepLosses[0]?.[i];
      const last = sweepLosses[sweepLosses.length - 1]?.[i];
      const diverged = !finite(last) || (finite(first) && last > first);
      const verdict = !sweepDone ? "running…" : diverged ? '<span class="verdict-diverged">diverged</span>' : "trained";
      return `<tr data-lr="${lr}"><td>${lr} (${SWEEP_NAMES[i]})</td><td>${finite(first) ? fmt(first) : "—"}</td><td>${finite(last) ? fmt(last) : String(last ?? "—")}</td><td>${verdict}</td></tr>`;
    })
    .join("");
}

$("#sweep-form").addEventListener("submit", (event) => {
  event.preventDefault();
  runSweep();
});

// ------------------------------------------------------------------ the worker's answers

worker.onmessage = (event: MessageEvent) => {
  const message = event.data as
    | { type: "stats"; id: number; layers: LayerStats[]; ms: number }
    | { type: "sweep"; id: number; from: number; losses: number[][]; done: boolean }
    | { type: "error"; id: number; message: string };
  if (message.type === "stats" && message.id === statsId) showStats(message.layers, message.ms);
  else if (message.type === "sweep" && message.id === sweepId) {
    sweepLosses.push(...message.losses);
    sweepDone = message.done;
    showSweep();
  } else if (message.type === "error") $(message.id === sweepId ? "#sweep-error" : "#act-error").textContent = message.message;
};
worker.onerror = (event) => {
  $("#act-error").textContent = `The worker failed: ${event.message}`;
};

/** For tests: the numbers on screen. */
(window as unknown as { __init: unknown }).__init = {
  stats: () => lastStats,
  statsPending: () => lastStats === null || $("#act-status").textContent!.startsWith("Running"),
  sweep: () => ({ rates: sweepRates, losses: sweepLosses.map((l) => [...l]), done: sweepDone }),
  config: activationConfig,
};

runStats();
runSweep();
markReady();
