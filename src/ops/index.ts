// The functional namespace: every op, defined once, used by Tensor's methods too.
export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./shape-ops.js";
export * from "./matmul.js";
export * from "./softmax.js";
export * from "./conv.js";
export { zerosLike, onesLike } from "../tensor/creation.js";
export * from "./adaptive-pool.js";
