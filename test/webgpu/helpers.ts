/** Shared by the webgpu parity case files: seeded inputs and f(x) with its gradients. */
import * as cr from "../../src/index.js";
import { Generator, tensor, type Tensor } from "../../src/index.js";

export interface ParityCase {
  name: string;
  seed?: number;
  atol?: number;
  rtol?: number;
  run(g: Generator): Tensor[];
}

export const randn = (g: Generator, shape: number[], scale = 1): Tensor => cr.randn(shape, { generator: g }).mul(scale);
export const leaf = (g: Generator, shape: number[], scale = 1): Tensor => {
  const host = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < host.length; i++) host[i] = g.normal() * scale;
  return tensor(host, { shape, requiresGrad: true });
};
/** Values with the special cases, on the host, in a shape. */
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e30, -1e30, 1e-30, 88.5, -88.5, 100, -100, 1e-6, -1e-6, 0.5, -0.5, 3, -3];
export const special = (g: Generator, n: number): Tensor => {
  const host = new Float32Array(n);
  for (let i = 0; i < n; i++) host[i] = i < SPECIAL.length ? SPECIAL[i]! : g.normal() * 4;
  return tensor(host);
};
/** f(x) and d(Σ f(x)·u)/dx for a random upstream u. */
export function withGrad(g: Generator, shapes: number[][], f: (...xs: Tensor[]) => Tensor, scale = 1): Tensor[] {
  const xs = shapes.map((s) => leaf(g, s, scale));
  const y = f(...xs);
  const u = randn(g, [...y.shape]);
  y.backward(u);
  return [y, ...xs.map((x) => x.grad!)];
}

