/**
 * Activations and the affine map in `nn.functional`, as a PyTorch user looks for them there
 * (`F.relu`, `F.softmax`, `F.linear`). The activations are the ops of src/ops, re-exported (one
 * definition per op); `linear` is composed from matmul and add.
 */
import { ShapeError, fmtShape } from "../../errors.js";
import { add, matmul } from "../../ops/index.js";
import { Tensor, assertTensor } from "../../tensor/tensor.js";

export { relu, leakyRelu, sigmoid, tanh, elu, softplus, softmax, logSoftmax } from "../../ops/index.js";

/**
 * The affine map y = x·Wᵀ + b (torch.nn.functional.linear) with PyTorch's layout:
 * x [..., inFeatures], weight [outFeatures, inFeatures], bias [outFeatures] or null →
 * [..., outFeatures]. W is read transposed in place (no copy).
 * @example linear(x, w, b); // x [N, 784], w [100, 784], b [100] → [N, 100]
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  assertTensor("linear", "x", x);
  assertTensor("linear", "weight", weight);
  if (weight.ndim !== 2 || x.ndim === 0 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(
      `linear: x ${fmtShape(x.shape)} and weight ${fmtShape(weight.shape)} do not fit: weight must be [outFeatures, inFeatures] with inFeatures = x's last axis. ` +
        `Check the previous layer's output size or flatten the input first.`,
    );
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError(`linear: bias must be [${weight.shape[0]}] (one per output feature of weight ${fmtShape(weight.shape)}), got ${fmtShape(bias.shape)}.`);
  }
  const y = matmul(x, weight, { transB: true });
  return bias !== null ? add(y, bias) : y;
}
