/**
 * The drawing pad: strokes drawn with pointer events (mouse, touch, pen) on a canvas, turned into
 * a 28×28 input the way MNIST's digits were made: the drawing's bounding box scaled to fit 20×20
 * (aspect ratio kept), anti-aliased (each output pixel averages the area it covers), and placed
 * so that its centre of mass sits at the centre of the 28×28 image. Values are in [0, 1].
 */

/** Side of the MNIST image, and of the box the digit is scaled into. */
const SIZE = 28;
const BOX = 20;

/**
 * A 28×28 MNIST-style input from an intensity image `src` (w×h values in [0, 1], row-major);
 * all zeros when nothing is drawn.
 */
export function toMnist(src: Float32Array, w: number, h: number): Float32Array {
  const out = new Float32Array(SIZE * SIZE);
  let x0 = w;
  let x1 = -1;
  let y0 = h;
  let y1 = -1;
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = src[y * w + x]!;
      if (v <= 0) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  if (mass === 0) return out;
  const scale = BOX / Math.max(x1 - x0 + 1, y1 - y0 + 1);
  // Output coordinate u = (x − centre of mass)·scale + 14; pixel u covers [u, u+1).
  const wx = coverage(mx / mass, scale, w);
  const wy = coverage(my / mass, scale, h);
  const rows = new Float32Array(h * SIZE);
  for (let y = y0; y <= y1; y++) {
    for (let u = 0; u < SIZE; u++) {
      let acc = 0;
      for (const [x, weight] of wx[u]!) acc += weight * src[y * w + x]!;
      rows[y * SIZE + u] = acc;
    }
  }
  for (let v = 0; v < SIZE; v++) {
    for (let u = 0; u < SIZE; u++) {
      let acc = 0;
      for (const [y, weight] of wy[v]!) acc += weight * rows[y * SIZE + u]!;
      out[v * SIZE + u] = Math.min(1, acc);
    }
  }
  return out;
}

/** For each of the 28 output pixels: the source pixels it overlaps and their shares of its area. */
function coverage(centre: number, scale: number, n: number): [number, number][][] {
  return Array.from({ length: SIZE }, (_, u) => {
    const from = centre + (u - SIZE / 2) / scale;
    const to = centre + (u + 1 - SIZE / 2) / scale;
    const cells: [number, number][] = [];
    for (let x = Math.max(0, Math.floor(from)); x < Math.min(n, Math.ceil(to)); x++) {
      const overlap = Math.min(to, x + 1) - Math.max(from, x);
      if (overlap > 0) cells.push([x, overlap * scale]);
    }
    return cells;
  });
}

/** A canvas to draw digits on: white strokes on black, `onChange` after every stroke segment. */
export class DrawPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | undefined;
  private empty = true;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly onChange: () => void,
  ) {
    this.ctx = canvas.getContext("2d", { willReadFrequently: true })!;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", () => (this.last = undefined));
    canvas.addEventListener("pointercancel", () => (this.last = undefined));
  }

  /** Whether nothing is drawn. */
  get isEmpty(): boolean {
    return this.empty;
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
  }

  /** Shows a 28×28 digit (values in [0, 1]) upscaled to fill the pad. */
  showDigit(pixels: Float32Array): void {
    const img = this.ctx.createImageData(SIZE, SIZE);
    pixels.forEach((v, i) => img.data.set([255, 255, 255, Math.round(v * 255)], 4 * i));
    const small = new OffscreenCanvas(SIZE, SIZE);
    small.getContext("2d")!.putImageData(img, 0, 0);
    this.clear();
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
    this.empty = false;
  }

  /** The drawing as MNIST's 28×28 input. */
  toInput(): Float32Array {
    const { width: w, height: h } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, w, h).data;
    const alpha = new Float32Array(w * h);
    for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[4 * i + 3]! / 255;
    return toMnist(alpha, w, h);
  }

  private point(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * this.canvas.width) / r.width, y: ((e.clientY - r.top) * this.canvas.height) / r.height };
  }

  private down(e: PointerEvent): void {
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.point(e);
    this.segment(this.last, this.last);
  }

  private move(e: PointerEvent): void {
    if (!this.last) return;
    const p = this.point(e);
    this.segment(this.last, p);
    this.last = p;
  }

  private segment(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const c = this.ctx;
    c.strokeStyle = "#fff";
    c.lineWidth = this.canvas.width / 12;
    c.lineCap = "round";
    c.lineJoin = "round";
    c.beginPath();
    c.moveTo(a.x, a.y);
    c.lineTo(b.x, b.y);
    c.stroke();
    this.empty = false;
    this.onChange();
  }
}
