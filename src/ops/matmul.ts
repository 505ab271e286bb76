import { getBackend } from "../backend/index.js";
import type { InputGrads } from "../autograd/node.js";
import { defineOp } from "../autograd/define-op.js";
import { ShapeError, fmtShape } from "../errors.js";
import { allocateUninit, promoteTypes } from "../tensor/dtype.js";
import { broadcastShapes, broadcastStrides, sizeOf } from "../tensor/shape.js";
import { Tensor, assertTensor } from "../tensor/tensor.js";
import { reshape } from "./shape-ops.js";

/** Options of matmul: read an operand transposed (its last two axes swapped) without copying it. */
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

interface Saved {
  a: Tensor;
  b: Tensor;
  transA: boolean;
  transB: boolean;
}

/**
 * The batched product op(A)·op(B) over ≥2-D operands with broadcast batch axes. Its backward
 * is two more products that read their operands transposed in place:
 * for C = A·B, dA = dC·Bᵀ and dB = Aᵀ·dC (the general case swaps roles when A or B was transposed).
 * Gradients come out with the broadcast batch shape; the engine sums them back.
 */
const matmulOp = defineOp<[Tensor, Tensor, boolean, boolean], Saved>({
  name: "matmul",
  forward(ctx, a, b, transA, transB) {
    ctx.save({ a, b, transA, transB });
    const [m, k] = transA ? [a.shape[a.ndim - 1]!, a.shape[a.ndim - 2]!] : [a.shape[a.ndim - 2]!, a.shape[a.ndim - 1]!];
    const n = transB ? b.shape[b.ndim - 2]! : b.shape[b.ndim - 1]!;
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const batch = broadcastShapes("matmul (batch axes)", batchA, batchB);
    const count = sizeOf(batch);
    const dtype = a.dtype;
    // The kernels write every element of C (zeros when k = 0).
    const out = allocateUninit(dtype, count * m * n);
    const strideA = broadcastStrides(batchA, batch);
    const strideB = broadcastStrides(batchB, batch);
    const index = new Array<number>(batch.length).fill(0);
    const backend = getBackend();
    for (let t = 0; t < count; t++) {
      let oa = 0;
      let ob = 0;
      for (let d = 0; d < batch.length; d++) {
        oa += index[d]! * strideA[d]!;
        ob += index[d]! * strideB[d]!;
      }
      backend.matmul(a._buf, oa * m * k, b._buf, ob * k * n, out, t * m * n, m, k, n, transA, transB);
      for (let d = batch.length - 1; d >= 0; d--) {
        if (++index[d]! < batch[d]!) break;
        index[d] = 0;
      }
    }
    return Tensor.fromStorage(out, [...batch, m, n], dtype);
  },
  backward(ctx, gradOut): InputGrads {
    const { a, b, transA, transB } = ctx.saved;
    const ga = !ctx.needsInputGrad[0] ? null : transA ? matmulOp(b, gradOut, transB, true) : matmulOp(gradOut, b, false, !transB);
    const gb = !ctx.needsInputGrad[1] ? null : transB ? matmulOp(gradOut, a, true, transA) : matmulOp(a, gradOut, !transA, false);
    return [ga, gb];
  },
  describe: (_a, _b, transA, transB) => ({ transA, transB }),
});

/**
 * Matrix product with NumPy/PyTorch semantics:
 * - `[m,k] · [k,n] → [m,n]`; batched `[...,m,k] · [...,k,n] → [...,m,n]` with broadcast batch axes;
 * - a 1-D left operand `[k]` is a row vector, a 1-D right operand `[k]` a column vector (matrix-vector
 *   `[m,k]·[k] → [m]`), and `[k]·[k]` is the dot product (0-d).
 * `transA`/`transB` read an operand with its last two axes swapped, without copying.
 * @example const y = matmul(x, w); // x: [N, D], w: [D, M] → y: [N, M]
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  assertTensor("matmul", "a", a);
  assertTensor("matmul", "b", b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(`matmul: operands must have at least 1 dimension, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}; use mul for scalars.`);
  }
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const dtype = promoteTypes(promoteTypes(a.dtype, b.dtype), "float32");
  let x = a.dtype === dtype ? a : a.to(dtype);
  let y = b.dtype === dtype ? b : b.to(dtype);
  const vecA = x.ndim === 1;
  const vecB = y.ndim === 1;
  if (vecA) x = reshape(x, [1, x.shape[0]!]);
  if (vecB) y = reshape(y, [y.shape[0]!, 1]);
  const kA = (transA && !vecA) ? x.shape[x.ndim - 2]! : x.shape[x.ndim - 1]!;
  const kB = (transB && !vecB) ? y.shape[y.ndim - 1]! : y.shape[y.ndim - 2]!;
  if (kA !== kB) {
    throw new ShapeError(
      `matmul: inner dimensions differ: a${transA ? "ᵀ" : ""} has shape ${fmtShape(a.shape)} (k = ${kA}) and b${transB ? "ᵀ" : ""} has shape ${fmtShape(b.shape)} (k = ${kB}). ` +
        `The last axis of a must equal the second-to-last axis of b; transpose one operand if it is laid out the other way.`,
    );
  }
  broadcastShapes("matmul (batch axes)", x.shape.slice(0, -2), y.shape.slice(0, -2));
  let out = matmulOp(x, y, transA && !vecA, transB && !vecB);
  if (vecA || vecB) {
    const shape = out.shape.slice(0, -2);
    if (!vecA) shape.push(out.shape[out.ndim - 2]!);
    if (!vecB) shape.push(out.shape[out.ndim - 1]!);
    out = reshape(out, shape);
  }
  return out;
}
