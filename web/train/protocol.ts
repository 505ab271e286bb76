/**
 * The messages between the page (main.ts) and the training worker (worker.ts). Arrays travel as
 * transferred ArrayBuffers.
 */
import type { models } from "chainrule";

export type DatasetName = "spiral" | "moons" | "circles" | "xor" | "blobs";
export type OptimizerName = "sgd" | "momentum" | "rmsprop" | "adam";

/** Everything that defines a run; the same config gives the same numbers. */
export interface TrainConfig {
  dataset: DatasetName;
  seed: number;
  /** Multiplier of the generator's default noise (1 = the library's default). */
  noise: number;
  /** Hidden-layer sizes, e.g. "16,16". */
  hidden: string;
  activation: models.ActivationName;
  loss: models.LossName;
  optimizer: OptimizerName;
  lr: number;
  /** L2 strength λ of the penalty λ·ΣW² added to the loss. */
  reg: number;
  /** Minibatch size; 0 = the full batch. */
  batchSize: number;
}

/** Page → worker. */
export type ToWorker =
  | { type: "reset"; config: TrainConfig }
  | { type: "play" }
  | { type: "pause" }
  | { type: "step"; count: number }
  | { type: "speed"; stepsPerFrame: number }
  /** The loss graph's SVG; `id` comes back in the reply. */
  | { type: "graph"; id: number; expand: string[] };

/** Worker → page. */
export type FromWorker =
  | { type: "dataset"; x: Float32Array; y: Int32Array; classes: number; bounds: [number, number, number, number]; modules: { name: string; kind: string }[] }
  | { type: "frame"; step: number; loss: number; batchLoss: number; accuracy: number; playing: boolean; grid: number; cls: Uint8Array; conf: Float32Array }
  | { type: "graph"; id: number; svg: string; step: number }
  /** `graph`: the id of the graph request that failed, if it was one. */
  | { type: "error"; message: string; graph?: number };
