// The `data` namespace (browser-safe): datasets, the DataLoader, seeded splits, standardisation,
// synthetic 2-D datasets and parsers of the IDX and CIFAR-10 file formats. File and package
// loaders (loadMnist, loadMnistIdx, loadCifar10) are in "chainrule/node".
export { TensorDataset, collate, type Dataset, type Indices, type TensorDatasetOptions } from "./dataset.js";
export { DataLoader, type BatchTransform, type DataLoaderOptions, type DataLoaderState } from "./loader.js";
export { randomCrop, randomHorizontalFlip } from "./augment.js";
export { randomSplit, trainValSplit, stratifiedSplit, type RandomSplitOptions, type TrainValSplitOptions, type TrainValSplit, type StratifiedSplitOptions } from "./split.js";
export { Standardizer, type StandardizerFitOptions, type StandardizerState } from "./standardize.js";
export { spiral, moons, circles, xor, blobs, type SpiralOptions, type MoonsOptions, type CirclesOptions, type XorOptions, type BlobsOptions } from "./synthetic.js";
export {
  parseIdxImages,
  parseIdxLabels,
  idxDataset,
  parseCifar10Batch,
  parseCifar10Meta,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  CIFAR10_RECORD_BYTES,
  CIFAR10_CLASSES,
  MNIST_CLASSES,
  type IdxImages,
  type IdxDatasetOptions,
  type Cifar10Batch,
} from "./formats.js";
