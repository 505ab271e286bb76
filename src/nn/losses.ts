import type { Tensor } from "../tensor/tensor.js";
import * as F from "./functional/index.js";
import { Module } from "./module.js";

// Module forms of the losses in nn.functional, as in PyTorch: options at construction,
// forward(input, target).

type Reduction = "mean" | "sum" | "none";

/** Softmax cross-entropy: forward(logits [N, C], labels [N] int32). See nn.functional.crossEntropy. */
export class CrossEntropyLoss extends Module {
  constructor(readonly options: { reduction?: Reduction; labelSmoothing?: number; weight?: Tensor; ignoreIndex?: number } = {}) {
    super();
  }
  forward(logits: Tensor, labels: Tensor): Tensor {
    return F.crossEntropy(logits, labels, this.options);
  }
}

/** Negative log-likelihood of log-probabilities: forward(logProbs [N, C], labels [N] int32). */
export class NLLLoss extends Module {
  constructor(readonly options: { reduction?: Reduction; weight?: Tensor; ignoreIndex?: number } = {}) {
    super();
  }
  forward(logProbs: Tensor, labels: Tensor): Tensor {
    return F.nllLoss(logProbs, labels, this.options);
  }
}

/** The CS231n multiclass SVM (hinge) loss, not divided by C: forward(scores [N, C], labels [N]). */
export class SVMLoss extends Module {
  constructor(readonly options: { margin?: number; reduction?: Reduction } = {}) {
    super();
  }
  forward(scores: Tensor, labels: Tensor): Tensor {
    return F.svmLoss(scores, labels, this.options);
  }
}

/** PyTorch's MultiMarginLoss (the hinge loss divided by C). */
export class MultiMarginLoss extends Module {
  constructor(readonly options: { margin?: number; p?: 1 | 2; reduction?: Reduction; weight?: Tensor } = {}) {
    super();
  }
  forward(scores: Tensor, labels: Tensor): Tensor {
    return F.multiMarginLoss(scores, labels, this.options);
  }
}

/** Binary cross-entropy on logits, computed stably: forward(logits, targets). */
export class BCEWithLogitsLoss extends Module {
  constructor(readonly options: { reduction?: Reduction; posWeight?: Tensor; weight?: Tensor } = {}) {
    super();
  }
  forward(logits: Tensor, targets: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(logits, targets, this.options);
  }
}

/** Mean squared error: forward(input, target). */
export class MSELoss extends Module {
  constructor(readonly options: { reduction?: Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.mseLoss(input, target, this.options);
  }
}

/** Mean absolute error: forward(input, target). */
export class L1Loss extends Module {
  constructor(readonly options: { reduction?: Reduction } = {}) {
    super();
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.l1Loss(input, target, this.options);
  }
}
