/**
 * chainrule: tensors, a computational graph and reverse-mode autodiff.
 * This entry point uses no Node-only module, so it bundles for browsers unchanged.
 */
export { Tensor, type NestedArray, type TensorLike } from "./tensor/tensor.js";
export { type DType, promoteTypes, isFloat } from "./tensor/dtype.js";
export * from "./tensor/creation.js";
export { Generator, manualSeed, defaultGenerator } from "./tensor/random.js";
export { broadcastShapes } from "./tensor/shape.js";
export * from "./ops/index.js";
export { defineOp } from "./autograd/define-op.js";
export type { OpContext, OpDef, InputGrads, Node } from "./autograd/node.js";
export type { BackwardOptions } from "./autograd/engine.js";
export { noGrad, enableGrad, isGradEnabled, setGradEnabled, detectAnomaly, setDetectAnomaly, isAnomalyEnabled, withGraphValues, isGraphValuesEnabled, scope } from "./autograd/mode.js";
export { grad, valueAndGrad, gradients, type GradOptions } from "./autograd/functional.js";
export { gradcheck, numericalGradient, type GradcheckOptions, type GradcheckReport, type InputCheck } from "./autograd/gradcheck.js";
export { getBackend, setBackend, registerBackend, listBackends, backendReady, jsBackend, type Backend, setNumThreads, getNumThreads, memoryStats, setMemoryLimit, type MemoryStats } from "./backend/index.js";
export { tidy, tidyEach, keep, dispose } from "./tensor/storage.js";
export * from "./io/index.js";
export * as optim from "./optim/index.js";
export * as nn from "./nn/index.js";
export * as viz from "./viz/index.js";
export * as data from "./data/index.js";
export * as models from "./models/index.js";
export * from "./errors.js";
export * as onnx from "./onnx/index.js";
