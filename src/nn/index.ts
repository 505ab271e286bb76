// The `nn` namespace: modules, layers, initialisers and the functional losses.
export { Module, type StateDict, type LoadStateDictOptions, type LoadStateDictResult } from "./module.js";
export { Parameter } from "./parameter.js";
export * from "./layers.js";
export * as init from "./init.js";
export * as functional from "./functional/index.js";
export * from "./losses.js";
export * from "./conv.js";
export * from "./normalization.js";
