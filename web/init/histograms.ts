/** Small-multiple histograms on canvases: one per layer, bars scaled to that layer's tallest bin. */
import type { Histogram } from "./config.js";
import { fmt } from "../shared/layout.js";

/** Draws one histogram per entry into `container` (reusing its canvases), captioned "layer l · std s". */
export function drawHistograms(container: HTMLElement, hists: { hist: Histogram; std: number }[], color: string): void {
  while (container.children.length > hists.length) container.lastElementChild!.remove();
  hists.forEach((h, l) => {
    let figure = container.children[l] as HTMLElement | undefined;
    if (!figure) {
      figure = document.createElement("figure");
      figure.innerHTML = "<canvas></canvas><figcaption></figcaption>";
      container.append(figure);
    }
    const canvas = figure.querySelector("canvas")!;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `layer ${l + 1}: values from ${fmt(h.hist.lo, 3)} to ${fmt(h.hist.hi, 3)}, standard deviation ${fmt(h.std, 3)}`);
    figure.querySelector("figcaption")!.textContent = `layer ${l + 1} · std ${fmt(h.std, 2)}`;
    drawBars(canvas, h.hist, color);
  });
}

function drawBars(canvas: HTMLCanvasElement, hist: Histogram, color: string): void {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d")!;
  ctx.clearRect(0, 0, width, height);
  const top = Math.max(1, ...hist.counts);
  const bar = width / hist.counts.length;
  ctx.fillStyle = color;
  hist.counts.forEach((c, i) => {
    const h = (c / top) * (height - 2);
    ctx.fillRect(i * bar, height - h, Math.max(1, bar - 1), h);
  });
  // The zero line, where a vanished layer piles up.
  if (hist.lo < 0 && hist.hi > 0) {
    ctx.fillStyle = "rgba(128,128,128,0.6)";
    ctx.fillRect(((0 - hist.lo) / (hist.hi - hist.lo)) * width, 0, 1, height);
  }
}
