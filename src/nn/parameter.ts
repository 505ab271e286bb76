import { ValueError } from "../errors.js";
import { isFloat } from "../tensor/dtype.js";
import { Tensor } from "../tensor/tensor.js";
import { markPersistent } from "../tensor/storage.js";

/**
 * A tensor that a Module registers as trainable: it requires grad and is returned by
 * `parameters()`. It shares storage with the tensor it wraps. Setting `requiresGrad = false`
 * freezes it (optimizers skip it).
 * @example this.weight = new Parameter(randn([out, inFeatures]));
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    if (!isFloat(data.dtype)) {
      throw new ValueError(`Parameter: parameters must be float32 or float64, got ${data.dtype}; register integer state with registerBuffer().`);
    }
    super(data._buf, data.shape, data.dtype);
    markPersistent(data._buf);
    this.requiresGrad = requiresGrad;
    this.label = data.label;
  }
}
