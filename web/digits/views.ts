/**
 * What the digits page draws: the first layer as images, the confusion matrix, the class
 * probabilities and the 28×28 input.
 */
import type { LayerImage } from "./protocol.js";

/** Diverging colour of w / max|w| ∈ [−1, 1]: blue negative, white zero, red positive. */
function diverging(t: number): [number, number, number] {
  const a = Math.min(1, Math.abs(t));
  return t < 0 ? [255 * (1 - a) + 38 * a, 255 * (1 - a) + 87 * a, 255 * (1 - a) + 197 * a] : [255 * (1 - a) + 198 * a, 255 * (1 - a) + 40 * a, 255 * (1 - a) + 40 * a];
}

/**
 * The first layer's weights as tiles on `canvas`: the MLP's W1 rows [100, 784] as 28×28
 * templates, or the convnet's first filters [32, C, 3, 3] (channel 0) upscaled; each tile scaled
 * by its own largest |w|.
 */
export function drawLayer(canvas: HTMLCanvasElement, layer: LayerImage): void {
  const templates = layer.kind === "templates";
  const count = layer.shape[0]!;
  const side = templates ? 28 : layer.shape[2]!;
  const per = layer.shape.slice(1).reduce((a, b) => a * b, 1);
  const cols = templates ? 10 : 8;
  const zoom = templates ? 1 : 8;
  const gap = templates ? 1 : 2;
  const cell = side * zoom + gap;
  canvas.width = cols * cell - gap;
  canvas.height = Math.ceil(count / cols) * cell - gap;
  const ctx = canvas.getContext("2d")!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const tile = ctx.createImageData(side * zoom, side * zoom);
  for (let k = 0; k < count; k++) {
    const w = layer.weights.subarray(k * per, k * per + side * side);
    let max = 1e-12;
    for (const v of w) max = Math.max(max, Math.abs(v));
    for (let y = 0; y < side * zoom; y++) {
      for (let x = 0; x < side * zoom; x++) {
        const [r, g, b] = diverging(w[Math.floor(y / zoom) * side + Math.floor(x / zoom)]! / max);
        tile.data.set([r, g, b, 255], 4 * (y * side * zoom + x));
      }
    }
    ctx.putImageData(tile, (k % cols) * cell, Math.floor(k / cols) * cell);
  }
}

/** A 28×28 input in grey on `canvas` (white ink on black, as the network sees it). */
export function drawInput(canvas: HTMLCanvasElement, pixels: Float32Array): void {
  canvas.width = 28;
  canvas.height = 28;
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(28, 28);
  pixels.forEach((v, i) => {
    const g = Math.round(255 * v);
    img.data.set([g, g, g, 255], 4 * i);
  });
  ctx.putImageData(img, 0, 0);
}

/** The confusion matrix as a table (rows: true class, columns: predicted), cells shaded by their share of the row. */
export function renderConfusion(table: HTMLTableElement, confusion: number[][]): void {
  const k = confusion.length;
  const head = `<thead><tr><th scope="col"><span class="sr-only">true \\ predicted</span></th>${confusion.map((_, j) => `<th scope="col">${j}</th>`).join("")}</tr></thead>`;
  const rows = confusion
    .map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      const cells = row.map((v, j) => `<td data-count="${v}" class="${i === j ? "diag" : ""}" style="--share:${(v / total).toFixed(3)}">${v}</td>`).join("");
      return `<tr><th scope="row">${i}</th>${cells}</tr>`;
    })
    .join("");
  table.innerHTML = `<caption>rows: true digit · columns: predicted (${k}×${k})</caption>${head}<tbody>${rows}</tbody>`;
}

/** The 10 class probabilities as bars; each bar's full value is in its data-p attribute. */
export function renderProbs(list: HTMLElement, probs: number[] | undefined): void {
  if (!probs) {
    list.innerHTML = "";
    return;
  }
  const best = probs.indexOf(Math.max(...probs));
  list.innerHTML = probs
    .map((p, d) => `<li class="${d === best ? "best" : ""}" data-p="${p}"><span class="digit">${d}</span><span class="bar"><span style="width:${(100 * p).toFixed(1)}%"></span></span><span class="pct">${(100 * p).toFixed(1)}%</span></li>`)
    .join("");
}
