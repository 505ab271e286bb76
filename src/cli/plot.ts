/**
 * Training curves as an SVG: loss (per step and per epoch) and accuracy (per epoch), drawn with
 * vega-lite, compiled to a vega spec and rendered headless by vega (no canvas, no browser).
 * Both packages are imported when a plot is drawn, so the other commands start without them.
 */
import type * as vl from "vega-lite";

/** The parts of a training history the plot needs. */
export interface CurveHistory {
  steps: { loss: readonly number[] };
  epochs: readonly {
    epoch: number;
    trainLoss: number;
    trainAccuracy?: number | null;
    valLoss?: number | null;
    valAccuracy?: number | null;
  }[];
}

export interface CurvesOptions {
  /** Title above the two charts. */
  title?: string;
  /** Width of each chart in pixels (default 380). */
  width?: number;
  /** Height of each chart in pixels (default 260). */
  height?: number;
  /** At most this many per-step points are drawn; longer runs are averaged in windows (default 2000). */
  maxStepPoints?: number;
}

type Row = { epoch: number; value: number; series: string };

const finite = (x: number | null | undefined): x is number => typeof x === "number" && Number.isFinite(x);

/** The vega-lite spec of the curves (exported for tests and for anyone who wants to restyle it). */
export function curvesSpec(history: CurveHistory, options: CurvesOptions = {}): vl.TopLevelSpec {
  const epochs = history.epochs;
  const width = options.width ?? 380;
  const height = options.height ?? 260;
  const lossRows: Row[] = [];
  const accRows: Row[] = [];
  for (const e of epochs) {
    if (finite(e.trainLoss)) lossRows.push({ epoch: e.epoch, value: e.trainLoss, series: "train (epoch mean)" });
    if (finite(e.valLoss)) lossRows.push({ epoch: e.epoch, value: e.valLoss, series: "validation" });
    if (finite(e.trainAccuracy)) accRows.push({ epoch: e.epoch, value: e.trainAccuracy, series: "train" });
    if (finite(e.valAccuracy)) accRows.push({ epoch: e.epoch, value: e.valAccuracy, series: "validation" });
  }

  // Per-step losses, placed on the epoch axis: step i of n over epochs (first − 1, last].
  const steps = history.steps.loss;
  const stepRows: Row[] = [];
  if (steps.length > 0 && epochs.length > 0) {
    const start = epochs[0]!.epoch - 1;
    const span = epochs[epochs.length - 1]!.epoch - start;
    const window = Math.max(1, Math.ceil(steps.length / (options.maxStepPoints ?? 2000)));
    for (let i = 0; i < steps.length; i += window) {
      const chunk = steps.slice(i, i + window).filter(finite);
      if (chunk.length === 0) continue;
      const mean = chunk.reduce((a, b) => a + b, 0) / chunk.length;
      stepRows.push({ epoch: start + (span * Math.min(i + window, steps.length)) / steps.length, value: mean, series: "train (per step)" });
    }
  }

  const x = { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } } as const;
  const lossColor = {
    field: "series",
    type: "nominal",
    title: null,
    scale: { domain: ["train (per step)", "train (epoch mean)", "validation"], range: ["#9ecae9", "#1f77b4", "#ff7f0e"] },
    legend: { orient: "top" },
  } as const;
  const accColor = {
    field: "series",
    type: "nominal",
    title: null,
    scale: { domain: ["train", "validation"], range: ["#1f77b4", "#ff7f0e"] },
    legend: { orient: "top" },
  } as const;

  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...(options.title ? { title: options.title } : {}),
    background: "white",
    config: { font: "sans-serif", view: { stroke: "#ddd" } },
    hconcat: [
      {
        title: "Loss",
        width,
        height,
        layer: [
          {
            data: { values: stepRows },
            mark: { type: "line", strokeWidth: 1, clip: true },
            encoding: { x, y: { field: "value", type: "quantitative", title: "loss", scale: { zero: true } }, color: lossColor },
          },
          {
            data: { values: lossRows },
            mark: { type: "line", point: true, strokeWidth: 2 },
            encoding: { x, y: { field: "value", type: "quantitative", title: "loss" }, color: lossColor },
          },
        ],
      },
      {
        title: "Accuracy",
        width,
        height,
        data: { values: accRows },
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: {
          x,
          y: { field: "value", type: "quantitative", title: "accuracy", scale: { zero: false }, axis: { format: ".0%" } },
          color: accColor,
        },
      },
    ],
    resolve: { scale: { color: "independent" } },
  } as vl.TopLevelSpec;
}

/** Renders the loss and accuracy curves to an SVG document (a string starting with "<svg"). */
export async function curvesSvg(history: CurveHistory, options: CurvesOptions = {}): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const compiled = vegaLite.compile(curvesSpec(history, options)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
