/**
 * Pictures of a trained convnet for `chainrule train --out`: the first conv layer's filters as
 * a grid (CS231n's visualize_grid: each filter min-max scaled on its own, a 1-pixel gap; RGB for
 * 3 input channels, grey otherwise) and, for one input image, the feature maps each conv layer
 * produces (after its activation), one grid per layer. Drawn by weightsImage (pngjs).
 */
import { nn, noGrad, type Tensor } from "../index.js";
import { CliError } from "./common.js";
import { weightsImage } from "./weights-image.js";

/** The first Conv2d's filters [F, C, k, k] as a PNG grid (upscaled so 3×3 filters are visible). */
export function filtersImage(model: nn.Sequential): Uint8Array {
  const conv = [...model].find((m): m is nn.Conv2d => m instanceof nn.Conv2d);
  if (!conv) throw new CliError("filters.png: the model has no Conv2d layer.");
  const [f, c, kh, kw] = conv.weight.shape as [number, number, number, number];
  const channels = c === 3 ? 3 : 1;
  // Grey filters of a many-channel input would be ambiguous: draw the first input channel's.
  const data = channels === 1 && c > 1 ? Float32Array.from({ length: f * kh * kw }, (_, i) => conv.weight.data[Math.floor(i / (kh * kw)) * c * kh * kw + (i % (kh * kw))]!) : conv.weight.data;
  return weightsImage({ data, shape: [f, channels * kh * kw] }, { channels, height: kh, width: kw }, { scale: Math.max(2, Math.floor(48 / Math.max(kh, kw))) });
}

/** For one flat input x [1, features]: a PNG grid of each conv layer's feature maps (after its activation), in layer order. */
export function featureMapsImages(model: nn.Sequential, x: Tensor): Uint8Array[] {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => {
      const layers = [...model];
      const maps: Tensor[] = [];
      let y = x;
      for (let i = 0; i < layers.length; i++) {
        y = layers[i]!.forward(y);
        if (!(layers[i] instanceof nn.Conv2d)) continue;
        // Its BatchNorm2d and activation come right after it.
        while (i + 1 < layers.length && layers[i + 1] instanceof nn.BatchNorm2d) y = layers[++i]!.forward(y);
        if (i + 1 < layers.length) y = layers[++i]!.forward(y);
        maps.push(y);
      }
      if (maps.length === 0) throw new CliError("feature maps: the model has no Conv2d layer.");
      return maps.map((m) => {
        const [, f, h, w] = m.shape as [number, number, number, number];
        return weightsImage({ data: m.data, shape: [f, h * w] }, { channels: 1, height: h, width: w }, { scale: Math.max(1, Math.floor(56 / Math.max(h, w))) });
      });
    });
  } finally {
    model.train(wasTraining);
  }
}
