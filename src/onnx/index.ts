/**
 * The `onnx` namespace (browser-safe): write a module's forward pass as an ONNX file that ONNX
 * Runtime, PyTorch and other tools run, and load ONNX files as trainable modules. docs/onnx.md.
 */
export { exportModel, OnnxExportError, MIN_EXPORT_OPSET, MAX_EXPORT_OPSET, type ExportOptions } from "./export.js";
export { loadModel, OnnxModel, OnnxImportError, SUPPORTED_OPERATORS, MIN_IMPORT_OPSET, MAX_IMPORT_OPSET, decodeTensor, type LoadModelOptions } from "./import.js";
