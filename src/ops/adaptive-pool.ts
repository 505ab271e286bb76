import { composite } from "../autograd/mode.js";
import { ShapeError, ValueError, fmtShape } from "../errors.js";
import { allocateHost, isFloat } from "../tensor/dtype.js";
import { adoptHost } from "../tensor/storage.js";
import { Tensor, assertTensor } from "../tensor/tensor.js";
import { avgPool2d } from "./conv.js";
import { matmul } from "./matmul.js";
import { mean } from "./reduce.js";
import { reshape } from "./shape-ops.js";

// Adaptive average pooling has no backward code of its own: it is linear, and composed from
// ops that have one. Global pooling is a mean; when the output size divides the input size it
// is avgPool2d with kernel = stride = input/output; otherwise it is the product P_h · x · P_wᵀ
// with PyTorch's window matrices (row i of P averages input rows ⌊i·H/out⌋ … ⌈(i+1)·H/out⌉ − 1),
// so its gradient is P_hᵀ · g · P_w, again by matmul's backward.

/** An output size: an int (square) or [height, width]; null in a pair keeps that input size. */
export type AdaptiveSize = number | readonly [number | null, number | null];

/** [out, n] window matrix of adaptive pooling along one axis (PyTorch's start/end rule). */
function windowMatrix(out: number, n: number, dtype: Tensor["dtype"]): Tensor {
  // Filled on the host (a plain typed array where tensors live on a device), then moved there.
  const m = allocateHost(dtype, out * n);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * n) / out);
    const end = Math.ceil(((i + 1) * n) / out);
    for (let j = start; j < end; j++) m[i * n + j] = 1 / (end - start);
  }
  return Tensor.fromStorage(adoptHost(m, dtype), [out, n], dtype);
}

/**
 * Adaptive 2-D average pooling (torch.nn.functional.adaptive_avg_pool2d): x [N, C, H, W] (or
 * [C, H, W]) → [N, C, outH, outW] whatever H and W are; output cell (i, j) is the mean of input
 * rows ⌊i·H/outH⌋ … ⌈(i+1)·H/outH⌉ − 1 and the columns likewise (windows may overlap by one
 * when the sizes do not divide). `outputSize` 1 is global average pooling. A null entry of the
 * pair keeps that axis' input size.
 * @example adaptiveAvgPool2d(x, 1); // [8, 64, 7, 7] → [8, 64, 1, 1]
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  const op = "adaptiveAvgPool2d";
  assertTensor(op, "x", x);
  if (x.ndim !== 4 && x.ndim !== 3) throw new ShapeError(`${op}: x must be [N, C, H, W] (or unbatched [C, H, W]), got shape ${fmtShape(x.shape)}.`);
  const [h, w] = x.shape.slice(-2) as [number, number];
  const pairIn = typeof outputSize === "number" ? [outputSize, outputSize] : outputSize;
  if (!Array.isArray(pairIn) || pairIn.length !== 2) throw new ValueError(`${op}: outputSize must be a positive integer or a [height, width] pair, got ${JSON.stringify(outputSize)}.`);
  const [oh, ow] = [pairIn[0] ?? h, pairIn[1] ?? w];
  if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 1 || ow < 1) {
    throw new ValueError(`${op}: outputSize must be a positive integer or a [height, width] pair of them (null keeps the input size), got ${JSON.stringify(outputSize)}.`);
  }
  if (h === 0 || w === 0) throw new ShapeError(`${op}: x (shape ${fmtShape(x.shape)}) has an empty spatial axis; there is nothing to average.`);
  const xf = isFloat(x.dtype) ? x : x.to("float32");
  const outShape = [...x.shape.slice(0, -2), oh, ow];
  if (oh === 1 && ow === 1) return composite("globalAvgPool2d", [xf], {}, () => reshape(mean(xf, { axis: [-2, -1] }), outShape));
  if (h % oh === 0 && w % ow === 0) return avgPool2d(xf, { kernelSize: [h / oh, w / ow] });
  const planes = xf.size / (h * w);
  let y = reshape(xf, [planes * h, w]);
  if (ow !== w) y = matmul(y, windowMatrix(ow, w, xf.dtype), { transB: true });
  y = reshape(y, [planes, h, ow]);
  if (oh !== h) y = matmul(windowMatrix(oh, h, xf.dtype), y);
  return reshape(y, outShape);
}
