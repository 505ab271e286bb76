/**
 * The two networks the page trains, with `chainrule train`'s recipe (src/cli/commands/train.ts):
 * SGD with momentum 0.9, weight decay 5e-4, batch 128, cosine decay of the learning rate per epoch;
 * lr 0.2 for the MLP, 0.05 and random shifts of up to 2 pixels for the convnet. Unlike the CLI's
 * MLP, the page holds out no validation split: it trains on all 8,000 training digits, as the
 * CLI's convnet does, and only reports the test accuracy (it picks nothing with it).
 */
import { models } from "chainrule";

export type ModelKind = "mlp" | "cnn";

/** One network and the hyperparameters it trains with. */
export interface Recipe {
  architecture: models.Architecture;
  lr: number;
  /** The CLI's default epochs for it on mnist. */
  epochs: number;
  /** Random shifts of up to 2 pixels (the CLI's convnet augmentation). */
  augment: boolean;
  /** What the model select says. */
  label: string;
}

export const RECIPES: Record<ModelKind, Recipe> = {
  mlp: {
    architecture: { model: "mlp", sizes: [784, 100, 10], activation: "relu", loss: "softmax" },
    lr: 0.2,
    epochs: 20,
    augment: false,
    label: "MLP 784 → 100 ReLU → 10",
  },
  cnn: {
    architecture: { model: "cnn", sizes: [784, 10], activation: "relu", loss: "softmax", layers: models.CNN_SPEC, input: [1, 28, 28] },
    lr: 0.05,
    epochs: 12,
    augment: true,
    label: `convnet ${models.CNN_SPEC}`,
  },
};

export const MOMENTUM = 0.9;
export const WEIGHT_DECAY = 5e-4;
export const BATCH_SIZE = 128;
export const TRAIN_SIZE = 8000;
export const TEST_SIZE = 2000;

/** The `chainrule train` command line that runs the same training as the page. */
export function cliCommand(kind: ModelKind, epochs: number, seed: number): string {
  return `chainrule train${kind === "cnn" ? " --model cnn" : " --val-fraction 0"} --epochs ${epochs} --seed ${seed} --out DIR`;
}
