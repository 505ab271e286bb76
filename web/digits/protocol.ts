/**
 * Messages between the digits page (main.ts) and its training worker (worker.ts). The worker owns
 * the data and the model; the page sends commands and draws what comes back.
 */
import type { models } from "chainrule";
import type { ModelKind } from "./recipe.js";

/** The test split a model is evaluated on (the CLI's `--train-size`, `--test-size`, `--seed`). */
export interface SplitOptions {
  trainSize: number;
  testSize: number;
  seed: number;
}

/** Page → worker. */
export type ToWorker =
  | { type: "init"; digitsUrl: string }
  /** A fresh run: new weights (seeded), optimizer and schedule. */
  | { type: "start"; kind: ModelKind; epochs: number; seed: number; backend?: "wasm" | "webgpu" }
  | { type: "resume" }
  | { type: "pause" }
  /** Class probabilities of a 28×28 input (784 pixels in [0, 1]). */
  | { type: "predict"; id: number; pixels: Float32Array }
  /** A random test digit for the pad. */
  | { type: "sample"; id: number }
  | { type: "save"; id: number }
  | { type: "load"; bytes: ArrayBuffer; name: string }
  /** Predicted labels of the first `count` test digits (tests). */
  | { type: "predictTest"; id: number; count: number };

/** The first layer's weights: the MLP's W1 rows [100, 784] or the convnet's first filters [32, 1, 3, 3]. */
export interface LayerImage {
  kind: "templates" | "filters";
  shape: number[];
  weights: Float32Array;
}

/** One epoch's evaluation on the test split. */
export interface Evaluation {
  accuracy: number;
  loss: number;
  /** confusion[true][predicted]. */
  confusion: number[][];
  samples: number;
}

/** Worker → page. */
export type FromWorker =
  | { type: "status"; text: string }
  | { type: "run"; kind: ModelKind; backend: string; describe: string; parameters: number; batches: number; epochs: number; threads: number }
  | { type: "progress"; epoch: number; batch: number; batches: number; losses: number[]; step: number; samplesPerSecond: number; msPerBatch: number; evalSeconds: number }
  | { type: "epoch"; epoch: number; epochs: number; trainLoss: number; trainSeconds: number; test: Evaluation }
  | { type: "layer"; layer: LayerImage }
  | { type: "paused" }
  | { type: "done" }
  | { type: "probs"; id: number; probs: number[] }
  | { type: "sample"; id: number; pixels: Float32Array; label: number }
  | { type: "saved"; id: number; bytes: Uint8Array }
  | { type: "loaded"; name: string; describe: string; meta: models.ModelMetadata; split: SplitOptions; test: Evaluation }
  | { type: "predicted"; id: number; labels: number[]; split: SplitOptions }
  | { type: "error"; during: string; message: string; id?: number };
