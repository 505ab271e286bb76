// `nn.functional`: the functional forms a PyTorch user reaches for in torch.nn.functional, by topic.
export * from "./activation.js";
export * from "./conv.js";
export * from "./normalization.js";
export * from "./dropout.js";
export * from "./losses.js";
