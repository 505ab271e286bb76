/**
 * The decision-regions picture: the worker's GRID×GRID classes and confidences painted as class
 * colours (paler where the softmax probability is lower), the data points on top.
 */

/** Class colours (up to 5 classes), as RGB. */
export const CLASS_COLORS: readonly (readonly [number, number, number])[] = [
  [38, 110, 220],
  [232, 131, 40],
  [40, 160, 90],
  [150, 80, 210],
  [200, 60, 120],
];

/** What one picture needs. */
export interface RegionsPicture {
  grid: number;
  /** Predicted class per grid cell, row 0 at the top. */
  cls: Uint8Array;
  /** Softmax probability of that class per cell. */
  conf: Float32Array;
  classes: number;
  bounds: [number, number, number, number];
  points: Float32Array;
  labels: Int32Array;
}

/** A cell's colour: white mixed with its class colour, more of it the more confident the net is. */
function cellColor(cls: number, conf: number, classes: number): [number, number, number] {
  const chance = 1 / classes;
  const t = 0.12 + 0.5 * Math.max(0, Math.min(1, (conf - chance) / (1 - chance)));
  const c = CLASS_COLORS[cls % CLASS_COLORS.length]!;
  return [255 + (c[0] - 255) * t, 255 + (c[1] - 255) * t, 255 + (c[2] - 255) * t];
}

/** Paints the regions, scaled smoothly to the canvas, then the points with a dark outline. */
export function drawRegions(canvas: HTMLCanvasElement, p: RegionsPicture): void {
  const cells = new ImageData(p.grid, p.grid);
  for (let i = 0; i < p.grid * p.grid; i++) {
    const [r, g, b] = cellColor(p.cls[i]!, p.conf[i]!, p.classes);
    cells.data.set([r, g, b, 255], 4 * i);
  }
  const small = document.createElement("canvas");
  small.width = small.height = p.grid;
  small.getContext("2d")!.putImageData(cells, 0, 0);
  const ctx = canvas.getContext("2d")!;
  const { width, height } = canvas;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, width, height);
  const [x0, x1, y0, y1] = p.bounds;
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(20, 20, 20, 0.85)";
  for (let k = 0; k < p.labels.length; k++) {
    const c = CLASS_COLORS[p.labels[k]! % CLASS_COLORS.length]!;
    ctx.fillStyle = `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
    ctx.beginPath();
    ctx.arc(((p.points[2 * k]! - x0) / (x1 - x0)) * width, ((y1 - p.points[2 * k + 1]!) / (y1 - y0)) * height, 4, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
}
