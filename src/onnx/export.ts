/**
 * `onnx.exportModel(module, exampleInput)`: an ONNX file of the graph that one forward pass
 * records, the same trace that graph pictures draw (viz.trace). Browser-safe.
 *
 * How: the forward runs twice in eval mode under a capture, once on the example and once on a
 * batch one larger with other values. Each recorded op becomes ONNX operators; composite ops
 * (eval batchNorm, layerNorm...) that recorded their call become one operator; parameters and
 * buffers become initializers under their state-dict names. Comparing the two traces tells
 * which axes follow the batch (written as the symbolic "batch" axis, with Reshape's -1 or
 * Flatten so any batch size runs) and catches what cannot be exported: values computed outside
 * the graph from the input (a mask from a comparison, a `.data` read) and graphs whose ops
 * depend on the input.
 */
import { enableGrad, withGraphValues, type CompositeEntry } from "../autograd/mode.js";
import type { Node } from "../autograd/node.js";
import { ValueError, fmtShape } from "../errors.js";
import { Module } from "../nn/module.js";
import { concat, slice } from "../ops/shape-ops.js";
import type { DType } from "../tensor/dtype.js";
import { Tensor } from "../tensor/tensor.js";
import { collectGraph, type GraphNode } from "../viz/trace.js";
import { AttrType, DataType, pb, type P } from "./proto.js";

/** Opsets the exporter writes (ONNX Runtime 1.16+ runs them all). */
export const MIN_EXPORT_OPSET = 17;
export const MAX_EXPORT_OPSET = 21;

export interface ExportOptions {
  /** The default-domain opset to write, 17 (default) to 21. */
  opset?: number;
  /** Names of the graph inputs, one per example input (default "input", or "input0", "input1"...). */
  inputNames?: readonly string[];
  /** Name of the graph output (default "output"). */
  outputName?: string;
  /** Axis 0 of every input is the batch, of any size at run time (default true). False fixes the example's sizes. */
  dynamicBatch?: boolean;
  /** The graph's name (default: the module's class name). */
  graphName?: string;
  /** Written as the model's doc_string. */
  docString?: string;
  /** Key/value strings stored in the model's metadata_props. */
  metadata?: Record<string, string>;
}

/** Thrown for a model the exporter cannot write; the message names the op and the module path. */
export class OnnxExportError extends ValueError {}

const ELEM_TYPE: Record<DType, number> = { float32: DataType.FLOAT, float64: DataType.DOUBLE, int32: DataType.INT32, bool: DataType.BOOL };

/**
 * Writes `module`'s forward pass as an ONNX model (opset 17 or newer) and returns the bytes of
 * the .onnx file.
 *
 * Shapes: `exampleInput` is one tensor [N, ...] (or an array of them for a forward that takes
 * several); with `dynamicBatch` (default) axis 0 of each input and every axis that follows it
 * is the symbolic dimension "batch". The module is put in eval mode for the export (dropout off,
 * batch norm on running statistics) and back in its former mode afterwards; its parameters are
 * not changed.
 *
 * @example
 * const bytes = onnx.exportModel(model, zeros([1, 784]));
 * // in Node: writeFileSync("model.onnx", bytes)
 */
export function exportModel(module: Module, exampleInput: Tensor | readonly Tensor[], options: ExportOptions = {}): Uint8Array {
  const fn = "onnx.exportModel";
  if (!(module instanceof Module)) throw new OnnxExportError(`${fn}: 'module' must be a chainrule nn.Module (e.g. an nn.Sequential), got ${module === null ? "null" : typeof module}.`);
  if (!(exampleInput instanceof Tensor) && !Array.isArray(exampleInput)) throw new OnnxExportError(`${fn}: exampleInput must be a Tensor (one batch of inputs, e.g. randn([1, 784])) or an array of Tensors, got ${exampleInput === null ? "null" : typeof exampleInput}.`);
  const opset = options.opset ?? MIN_EXPORT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_EXPORT_OPSET || opset > MAX_EXPORT_OPSET) {
    throw new OnnxExportError(`${fn}: opset must be an integer from ${MIN_EXPORT_OPSET} to ${MAX_EXPORT_OPSET}, got ${String(opset)}.`);
  }
  const examples = exampleInput instanceof Tensor ? [exampleInput] : [...exampleInput];
  if (examples.length === 0 || !examples.every((t) => t instanceof Tensor)) throw new OnnxExportError(`${fn}: exampleInput must be a Tensor or a non-empty array of Tensors.`);
  const dynamic = options.dynamicBatch ?? true;
  const inputNames = options.inputNames ? [...options.inputNames] : examples.length === 1 ? ["input"] : examples.map((_, i) => `input${i}`);
  if (inputNames.length !== examples.length) throw new OnnxExportError(`${fn}: ${inputNames.length} inputNames for ${examples.length} example inputs; give one name per input.`);
  for (const [i, t] of examples.entries()) {
    if (t.ndim === 0) throw new OnnxExportError(`${fn}: example input ${i} is a 0-d tensor; inputs need a batch axis, e.g. shape [1, features].`);
    if (dynamic && t.shape[0]! < 1) throw new OnnxExportError(`${fn}: example input ${i} has shape ${fmtShape(t.shape)}; give at least one sample on axis 0.`);
  }
  const outputName = options.outputName ?? "output";
  if (new Set([...inputNames, outputName]).size !== inputNames.length + 1) throw new OnnxExportError(`${fn}: input and output names must be distinct, got ${JSON.stringify([...inputNames, outputName])}.`);

  // State-dict names for parameters and buffers (this call also records module paths).
  const stateNames = new Map<Tensor, string>();
  for (const [name, p] of module.namedParameters()) stateNames.set(p, name);
  for (const [name, b] of module.namedBuffers()) if (!stateNames.has(b)) stateNames.set(b, name);

  const modes = module.modules().map((m) => [m, m.training] as const);
  module.eval();
  let first: Recorded, second: Recorded;
  try {
    first = record(module, examples.map((t) => t));
    // One more sample, other values: what changes with them is data, not a constant.
    second = record(module, examples.map((t) => (dynamic ? concat([t, slice(t, 0, 0, 1)], 0) : t)).map(perturb));
  } finally {
    for (const [m, mode] of modes) m.training = mode;
  }
  const writer = new Writer(fn, opset, first, second, stateNames, inputNames, dynamic);
  const graph = writer.write(outputName);
  const model: P.IModelProto = {
    irVersion: opset <= 18 ? 8 : opset <= 20 ? 9 : 10,
    producerName: "chainrule",
    producerVersion: "0.1",
    opsetImport: [{ domain: "", version: opset }],
    graph: { ...graph, name: options.graphName ?? module.constructor.name },
  };
  if (options.docString !== undefined) model.docString = options.docString;
  if (options.metadata) model.metadataProps = Object.entries(options.metadata).map(([key, value]) => ({ key, value }));
  // In Node protobufjs returns a Buffer cut from a shared pool, whose slice() does not copy:
  // hand back a plain Uint8Array of its own.
  return new Uint8Array(pb.ModelProto.encode(pb.ModelProto.create(model)).finish());
}

interface Recorded {
  inputs: Tensor[];
  output: Tensor;
  nodes: GraphNode[];
  byTensor: Map<object, GraphNode>;
}

/** A fresh copy of each input that records the graph from it, and the forward's output graph. */
function record(module: Module, examples: Tensor[]): Recorded {
  const inputs = examples.map((t) => {
    const copy = Tensor.fromStorage(t.data.slice(), t.shape, t.dtype);
    if (t.dtype === "float32" || t.dtype === "float64") copy.requiresGrad = true;
    return copy;
  });
  const output = enableGrad(() => withGraphValues(() => module.forward(...inputs)));
  if (!(output instanceof Tensor)) throw new OnnxExportError(`onnx.exportModel: ${module.constructor.name}.forward returned ${typeof output}, not a Tensor; the exporter writes one output.`);
  const { nodes } = collectGraph(output);
  const byTensor = new Map<object, GraphNode>();
  for (const g of nodes) if (g.kind !== "constant") byTensor.set(g.tensor.gradFn ?? g.tensor, g);
  return { inputs, output, nodes, byTensor };
}

function perturb(t: Tensor): Tensor {
  if (t.dtype !== "float32" && t.dtype !== "float64") return t;
  const data = t.data.slice();
  for (let i = 0; i < data.length; i++) data[i] = data[i]! * 0.75 + 0.125;
  return Tensor.fromStorage(data, t.shape, t.dtype);
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.size !== b.size || a.dtype !== b.dtype) return false;
  const x = a.data, y = b.data;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
  return true;
}

/** The ONNX TensorProto of a tensor (raw little-endian bytes). */
export function tensorProto(name: string, t: Tensor): P.ITensorProto {
  const src = t.data;
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength).slice();
  return { name, dims: [...t.shape], dataType: ELEM_TYPE[t.dtype], rawData: bytes };
}

function int64Tensor(name: string, values: readonly number[]): P.ITensorProto {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims: [values.length], dataType: DataType.INT64, rawData: bytes };
}

type Attr = number | number[] | string | { float: number };

function attribute(name: string, value: Attr): P.IAttributeProto {
  if (typeof value === "string") return { name, type: AttrType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttrType.INTS, ints: value };
  if (typeof value === "object") return { name, type: AttrType.FLOAT, f: value.float };
  return { name, type: AttrType.INT, i: value };
}

/** Where in the model a gate was made, for messages: its innermost module path and class. */
function whereMade(g: GraphNode): string {
  const modules = (g.node?.trace?.scopes ?? []).filter((s) => s.kind === "module");
  const m = modules[modules.length - 1];
  return m ? `in module '${m.name}' (${m.type ?? "Module"})` : "in the model's own forward";
}

class Writer {
  readonly nodes: P.INodeProto[] = [];
  readonly initializers: P.ITensorProto[] = [];
  /** ONNX value name of each graph node (by index in the trace). */
  readonly names = new Map<GraphNode, string>();
  /** Gates folded into another operator (Gemm's add), or internal to a composite. */
  readonly folded = new Set<GraphNode>();
  readonly index = new Map<GraphNode, number>();
  private counter = 0;
  private readonly used = new Set<string>();

  constructor(
    readonly fn: string,
    readonly opset: number,
    readonly a: Recorded,
    readonly b: Recorded,
    readonly stateNames: Map<Tensor, string>,
    readonly inputNames: string[],
    readonly dynamic: boolean,
  ) {
    a.nodes.forEach((g, i) => this.index.set(g, i));
    if (a.nodes.length !== b.nodes.length || a.nodes.some((g, i) => g.kind !== b.nodes[i]!.kind || g.node?.op.name !== b.nodes[i]!.node?.op.name)) {
      throw new OnnxExportError(
        `${fn}: the forward pass records different ops for another input (${dynamic ? "one more sample, " : ""}other values), so one ONNX graph cannot describe it. ` +
          `Data-dependent control flow (an if on a tensor's value, a loop over the batch) cannot be exported; write it with tensor ops (where, max).`,
      );
    }
    for (const name of [...inputNames, ...stateNames.values()]) this.used.add(name);
  }

  /** The same node in the second trace. */
  private other(g: GraphNode): GraphNode {
    return this.b.nodes[this.index.get(g)!]!;
  }

  /** Which axes of a node's output follow the batch (differ between the traces). */
  private dynamicAxes(g: GraphNode): boolean[] {
    const s2 = this.other(g).tensor.shape;
    return g.tensor.shape.map((d, i) => d !== s2[i]);
  }

  private fresh(base: string): string {
    let name: string;
    do name = `${base}_${this.counter++}`;
    while (this.used.has(name));
    this.used.add(name);
    return name;
  }

  private emit(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, name?: string): void {
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    this.nodes.push({ opType, input: inputs, output: outputs, name: name ?? this.fresh(opType), attribute: attribute_ });
  }

  private constantI64(values: readonly number[]): string {
    const name = this.fresh("const");
    this.nodes.push({ opType: "Constant", input: [], output: [name], name: `${name}_node`, attribute: [{ name: "value", type: AttrType.TENSOR, t: int64Tensor(name, values) }] });
    return name;
  }

  private constantTensor(t: Tensor): string {
    const name = this.fresh("const");
    this.nodes.push({ opType: "Constant", input: [], output: [name], name: `${name}_node`, attribute: [{ name: "value", type: AttrType.TENSOR, t: tensorProto(name, t) }] });
    return name;
  }

  private fail(g: GraphNode, why: string): never {
    throw new OnnxExportError(`${this.fn}: op '${g.node?.op.name ?? g.kind}' ${whereMade(g)} (output shape ${fmtShape(g.tensor.shape)}): ${why}`);
  }

  /** The value name of an input node (writing leaves and constants on first use). */
  private value(g: GraphNode, consumer: GraphNode): string {
    const known = this.names.get(g);
    if (known !== undefined) return known;
    if (g.kind === "op") this.fail(consumer, `the output of '${g.node!.op.name}' it reads is internal to a composite op and was not written; this is a bug in the exporter, please report it.`);
    const t = g.tensor;
    let name: string;
    const inputIndex = this.a.inputs.indexOf(t);
    const stateName = this.stateNames.get(t);
    if (inputIndex >= 0) name = this.inputNames[inputIndex]!;
    else if (stateName !== undefined) {
      name = stateName;
      this.initializers.push(tensorProto(name, t));
    } else {
      const t2 = this.other(g).tensor;
      if (!sameValues(t, t2)) {
        this.fail(
          consumer,
          g.kind === "constant"
            ? `the constant ${String(t.data[0])} changes with the batch size or the input values (a mean over the batch axis?), so it cannot be written as a constant.`
            : `one of its inputs (shape ${fmtShape(t.shape)}) is a tensor computed from the input outside the graph (a comparison, a cast to int, a .data read, detach()), so the exported model would keep the example's values. Compute it with differentiable ops, or export a model whose forward does not need it.`,
        );
      }
      name = this.constantTensor(t);
    }
    this.names.set(g, name);
    return name;
  }

  private valueInfo(name: string, t: Tensor, dynamicAxes: boolean[]): P.IValueInfoProto {
    const batch = this.a.inputs[0]!.shape[0];
    return {
      name,
      type: {
        tensorType: {
          elemType: ELEM_TYPE[t.dtype],
          shape: { dim: t.shape.map((d, i) => (dynamicAxes[i] ? { dimParam: d === batch ? "batch" : `${name}_dim${i}` } : { dimValue: d })) },
        },
      },
    };
  }

  private outNode: GraphNode | undefined;
  private outputName = "output";

  write(outputName: string): P.IGraphProto {
    const out = this.a.byTensor.get(this.a.output.gradFn ?? this.a.output)!;
    this.outNode = out;
    this.outputName = outputName;
    for (const g of this.a.nodes) {
      if (g.kind !== "op" || this.folded.has(g)) continue;
      const name = g === out ? outputName : this.fresh(g.node!.op.name);
      if (this.lower(g, name) && !this.names.has(g)) this.names.set(g, name);
    }
    let outName = this.names.get(out);
    if (out.kind !== "op" || outName !== outputName) {
      // The output is an input or a constant (an Identity-like model): copy it to the output name.
      const src = out.kind === "op" ? outName! : this.value(out, out);
      this.emit("Identity", [src], [outputName]);
      outName = outputName;
    }
    return {
      node: this.nodes,
      initializer: this.initializers,
      input: this.a.inputs.map((t, i) => this.valueInfo(this.inputNames[i]!, t, this.dynamic ? t.shape.map((_, k) => k === 0) : t.shape.map(() => false))),
      output: [this.valueInfo(outputName, this.a.output, out.kind === "op" || out.kind === "input" ? this.dynamicAxes(out) : [])],
    };
  }

  /** Inputs cast to the gate's output dtype where they differ (ONNX's elementwise ops need one type). */
  private castInputs(g: GraphNode, names: string[]): string[] {
    return g.inputs.map((input, i) => {
      if (input.tensor.dtype === g.tensor.dtype) return names[i]!;
      const cast = this.fresh("cast");
      this.emit("Cast", [names[i]!], [cast], { to: ELEM_TYPE[g.tensor.dtype] });
      return cast;
    });
  }

  /** Writes the operators of one gate; false when the gate is internal to a composite (written with its output). */
  private lower(g: GraphNode, out: string): boolean {
    this.lowerGate(g, out);
    return !this.folded.has(g);
  }

  private lowerGate(g: GraphNode, out: string): void {
    const node = g.node as Node;
    const composite = node.trace?.composites[0];
    if (composite !== undefined) {
      if (composite.output?.gradFn !== node) {
        // Internal to the composite; written with its output. Nothing outside may use it.
        this.folded.add(g);
        for (const c of g.consumers) {
          if (c.node.node?.trace?.composites[0] !== composite) this.fail(c.node, `it uses a value internal to '${composite.name}'.`);
        }
        return;
      }
      this.lowerComposite(g, composite, out);
      return;
    }
    const ins = g.inputs.map((i) => this.value(i, g));
    const p = node.params ?? {};
    const op = node.op.name;
    const unary: Record<string, string> = { neg: "Neg", exp: "Exp", log: "Log", sqrt: "Sqrt", abs: "Abs", sign: "Sign", tanh: "Tanh", sigmoid: "Sigmoid", relu: "Relu", clone: "Identity" };
    const binary: Record<string, string> = { add: "Add", sub: "Sub", mul: "Mul", div: "Div", pow: "Pow", maximum: "Max", minimum: "Min" };
    if (op in unary) return this.emit(unary[op]!, ins, [out]);
    if (op in binary) return this.emit(binary[op]!, this.castInputs(g, ins), [out]);
    switch (op) {
      case "leakyRelu":
        return this.emit("LeakyRelu", ins, [out], { alpha: { float: Number(p.negativeSlope) } });
      case "elu":
        return this.emit("Elu", ins, [out], { alpha: { float: Number(p.alpha) } });
      case "softplus": {
        // ONNX's Softplus is log(1 + eˣ) with no β and no linear threshold (above it the two agree to within float rounding).
        const beta = Number(p.beta);
        if (beta === 1) return this.emit("Softplus", ins, [out]);
        const scaled = this.fresh("softplus_in"), sp = this.fresh("softplus");
        const b = this.constantTensor(Tensor.fromStorage(g.tensor.dtype === "float64" ? new Float64Array([beta]) : new Float32Array([beta]), [], g.tensor.dtype));
        this.emit("Mul", [ins[0]!, b], [scaled]);
        this.emit("Softplus", [scaled], [sp]);
        return this.emit("Div", [sp, b], [out]);
      }
      case "softmax":
        return this.emit("Softmax", ins, [out], { axis: -1 });
      case "logSoftmax":
        return this.emit("LogSoftmax", ins, [out], { axis: -1 });
      case "cast":
        return this.emit("Cast", ins, [out], { to: ELEM_TYPE[g.tensor.dtype] });
      case "matmul":
        return this.lowerMatmul(g, ins, out, Boolean(p.transA), Boolean(p.transB));
      case "sum":
      case "max":
      case "min": {
        const x = g.inputs[0]!.tensor;
        const axes = Array.isArray(p.axis) ? (p.axis as number[]) : x.shape.map((_, i) => i);
        const keepdims = p.keepDim ? 1 : 0;
        const onnxOp = op === "sum" ? "ReduceSum" : op === "max" ? "ReduceMax" : "ReduceMin";
        if (op === "sum" || this.opset >= 18) return this.emit(onnxOp, [ins[0]!, this.constantI64(axes)], [out], { keepdims });
        return this.emit(onnxOp, ins, [out], { axes, keepdims });
      }
      case "reshape":
        return this.lowerReshape(g, ins[0]!, out);
      case "permute":
        return this.emit("Transpose", ins, [out], { perm: [...(p.dims as number[])] });
      case "expand": {
        const target = g.tensor.shape, inShape = g.inputs[0]!.tensor.shape, dyn = this.dynamicAxes(g);
        const offset = target.length - inShape.length;
        const shape = target.map((d, i) => {
          if (!dyn[i]) return d;
          if (inShape[i - offset] !== d) this.fail(g, `it broadcasts a size-${inShape[i - offset] ?? 1} axis to the batch size, which ONNX's Expand cannot follow; let the elementwise op broadcast instead.`);
          return 1;
        });
        return this.emit("Expand", [ins[0]!, this.constantI64(shape)], [out]);
      }
      case "slice":
        return this.lowerSlice(g, ins[0]!, out, p);
      case "pad": {
        const inShape = g.inputs[0]!.tensor.shape, starts = p.starts as number[];
        const pads = [...starts, ...g.tensor.shape.map((d, i) => d - inShape[i]! - starts[i]!)];
        const value = this.constantTensor(Tensor.fromStorage(g.tensor.dtype === "float64" ? new Float64Array([Number(p.value)]) : new Float32Array([Number(p.value)]), [], g.tensor.dtype));
        return this.emit("Pad", [ins[0]!, this.constantI64(pads), value], [out], { mode: "constant" });
      }
      case "concat":
        return this.emit("Concat", this.castInputs(g, ins), [out], { axis: Number(p.axis) });
      case "indexSelect":
        return this.emit("Gather", ins, [out], { axis: Number(p.axis) });
      case "gather":
        return this.emit("GatherElements", ins, [out], { axis: Number(p.axis) });
      case "conv2d": {
        if (g.tensor.ndim !== 4) this.fail(g, "the exporter writes Conv for batched input [N, C, H, W]; add the batch axis with unsqueeze(0).");
        const w = g.inputs[1]!.tensor;
        const pad = p.padding as number[];
        return this.emit("Conv", ins, [out], {
          kernel_shape: [w.shape[2]!, w.shape[3]!],
          strides: [...(p.stride as number[])],
          pads: [pad[0]!, pad[1]!, pad[0]!, pad[1]!],
          dilations: [...(p.dilation as number[])],
          group: Number(p.groups),
        });
      }
      case "maxPool2d":
      case "avgPool2d": {
        if (g.tensor.ndim !== 4) this.fail(g, "the exporter writes pooling for batched input [N, C, H, W]; add the batch axis with unsqueeze(0).");
        const k = p.kernelSize as number[], s = p.stride as number[], pad = p.padding as number[], dil = p.dilation as number[];
        const inShape = g.inputs[0]!.tensor.shape;
        // ceil_mode: whether the output is larger than the floor formula gives.
        const floorH = Math.floor((inShape[2]! + 2 * pad[0]! - dil[0]! * (k[0]! - 1) - 1) / s[0]!) + 1;
        const floorW = Math.floor((inShape[3]! + 2 * pad[1]! - dil[1]! * (k[1]! - 1) - 1) / s[1]!) + 1;
        const ceil = g.tensor.shape[2] !== floorH || g.tensor.shape[3] !== floorW ? 1 : 0;
        const attrs: Record<string, Attr> = { kernel_shape: [...k], strides: [...s], pads: [pad[0]!, pad[1]!, pad[0]!, pad[1]!], ceil_mode: ceil };
        if (op === "maxPool2d") return this.emit("MaxPool", ins, [out], { ...attrs, dilations: [...dil] });
        if (dil[0] !== 1 || dil[1] !== 1) this.fail(g, "AveragePool has no dilation before opset 19.");
        return this.emit("AveragePool", ins, [out], { ...attrs, count_include_pad: p.countIncludePad ? 1 : 0 });
      }
      case "norm":
        return this.fail(g, p.kind === "groupNorm"
          ? "GroupNorm has no ONNX operator in the exporter's opsets (GroupNormalization changed meaning in opset 21); it is not supported yet."
          : "batch norm with batch statistics in eval mode (trackRunningStats: false) has no ONNX equivalent; train with running statistics.");
      default:
        return this.fail(g, `it has no ONNX equivalent in chainrule's exporter. Supported: Linear/Gemm, MatMul, Add/Sub/Mul/Div/Pow, activations (ReLU, LeakyReLU, Sigmoid, Tanh, ELU, Softplus), Softmax/LogSoftmax, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm (eval), LayerNorm, Flatten/Reshape/Transpose/Concat/Slice/Pad, reductions, Dropout (identity in eval).`);
    }
  }

  private lowerMatmul(g: GraphNode, ins: string[], out: string, transA: boolean, transB: boolean): void {
    const [a, b] = [g.inputs[0]!.tensor, g.inputs[1]!.tensor];
    // x·Wᵀ + b with a vector b: one Gemm (what Linear records).
    const add = g.consumers.length === 1 ? g.consumers[0]! : undefined;
    const addNode = add?.node;
    const bias = addNode && addNode.node?.op.name === "add" && addNode.node.trace?.composites.length === 0 && add!.index === 0 ? addNode.inputs[1] : undefined;
    if (!transA && a.ndim === 2 && b.ndim === 2 && bias !== undefined && bias.kind === "input" && bias.tensor.ndim === 1 && bias.tensor.dtype === g.tensor.dtype && addNode!.tensor.ndim === 2) {
      const biasName = this.value(bias, addNode!);
      const target = addNode === this.outNode ? this.outputName : this.fresh("gemm");
      this.emit("Gemm", [ins[0]!, ins[1]!, biasName], [target], { transB: transB ? 1 : 0 });
      this.folded.add(addNode!);
      this.names.set(addNode!, target);
      this.names.set(g, target);
      return;
    }
    const t = (name: string, x: Tensor, trans: boolean): string => {
      if (!trans || x.ndim < 2) return name;
      const perm = x.shape.map((_, i) => i);
      [perm[x.ndim - 2], perm[x.ndim - 1]] = [perm[x.ndim - 1]!, perm[x.ndim - 2]!];
      const tr = this.fresh("transpose");
      this.emit("Transpose", [name], [tr], { perm });
      return tr;
    };
    this.emit("MatMul", [t(ins[0]!, a, transA), t(ins[1]!, b, transB)], [out]);
  }

  private lowerReshape(g: GraphNode, x: string, out: string): void {
    const inShape = g.inputs[0]!.tensor.shape, outShape = g.tensor.shape;
    const dyn = this.dynamicAxes(g), inDyn = this.dynamicAxes(g.inputs[0]!);
    const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
    // [d0, ..., d(a-1), rest...] → [d0·…·d(a-1), prod(rest)]: ONNX's Flatten, which follows any batch size.
    if (outShape.length === 2 && inShape.length >= 2) {
      for (let axis = 1; axis < inShape.length; axis++) {
        if (prod(inShape.slice(0, axis)) === outShape[0] && prod(inShape.slice(axis)) === outShape[1] && !inDyn.slice(axis).some(Boolean)) {
          return this.emit("Flatten", [x], [out], { axis });
        }
      }
    }
    const dynamicCount = dyn.filter(Boolean).length;
    if (dynamicCount > 1) this.fail(g, `${dynamicCount} axes of its target shape change with the batch size; the exporter can write one (as -1).`);
    const shape = outShape.map((d, i) => (dyn[i] ? -1 : d));
    this.emit("Reshape", [x, this.constantI64(shape)], [out]);
  }

  private lowerSlice(g: GraphNode, x: string, out: string, p: Record<string, unknown>): void {
    const inShape = g.inputs[0]!.tensor.shape, dyn = this.dynamicAxes(g.inputs[0]!);
    const starts = p.starts as number[], steps = p.steps as number[], lens = p.lens as number[];
    const s: number[] = [], e: number[] = [], axes: number[] = [], st: number[] = [];
    for (let i = 0; i < inShape.length; i++) {
      const whole = starts[i] === 0 && steps[i] === 1 && lens[i] === inShape[i];
      if (whole) continue;
      if (dyn[i]) this.fail(g, `it slices axis ${i}, which follows the batch size; export with { dynamicBatch: false } or slice another axis.`);
      const end = starts[i]! + lens[i]! * steps[i]!;
      s.push(starts[i]!);
      e.push(end < 0 ? -(inShape[i]! + 1) : end);
      axes.push(i);
      st.push(steps[i]!);
    }
    if (axes.length === 0) return this.emit("Identity", [x], [out]);
    this.emit("Slice", [x, this.constantI64(s), this.constantI64(e), this.constantI64(axes), this.constantI64(st)], [out]);
  }

  private lowerComposite(g: GraphNode, c: CompositeEntry, out: string): void {
    const input = (t: Tensor | null): string => {
      if (t === null) return "";
      const gn = this.a.byTensor.get(t.gradFn ?? t);
      if (gn !== undefined) return this.value(gn, g);
      // An argument the composite did not use in the graph: written as a parameter or constant.
      const stateName = this.stateNames.get(t);
      if (stateName !== undefined) {
        if (!this.initializers.some((i) => i.name === stateName)) this.initializers.push(tensorProto(stateName, t));
        return stateName;
      }
      return this.constantTensor(t);
    };
    const filled = (t: Tensor | null, shape: readonly number[], value: number, dtype: DType): string => {
      if (t !== null) return input(t);
      const n = shape.reduce((a, b) => a * b, 1);
      const data = dtype === "float64" ? new Float64Array(n).fill(value) : new Float32Array(n).fill(value);
      return this.constantTensor(Tensor.fromStorage(data, shape, dtype));
    };
    const dtype = g.tensor.dtype;
    const [x] = c.inputs;
    switch (c.name) {
      case "batchNorm": {
        const [, w, b, mean, variance] = c.inputs;
        const ch = [x!.shape[1]!];
        return this.emit("BatchNormalization", [input(x!), filled(w!, ch, 1, dtype), filled(b!, ch, 0, dtype), input(mean!), input(variance!)], [out], { epsilon: { float: Number(c.params.eps) } });
      }
      case "layerNorm": {
        const [, w, b] = c.inputs;
        const axis = Number(c.params.axis);
        const shape = x!.shape.slice(axis);
        return this.emit("LayerNormalization", [input(x!), filled(w!, shape, 1, dtype), filled(b!, shape, 0, dtype)], [out], { axis, epsilon: { float: Number(c.params.eps) } });
      }
      case "softmax":
        return this.emit("Softmax", [input(x!)], [out], { axis: Number(c.params.axis) });
      case "logSoftmax":
        return this.emit("LogSoftmax", [input(x!)], [out], { axis: Number(c.params.axis) });
      case "globalAvgPool2d":
        if (x!.ndim !== 4) this.fail(g, "GlobalAveragePool needs batched input [N, C, H, W].");
        return this.emit("GlobalAveragePool", [input(x!)], [out]);
      default:
        return this.fail(g, `the composite '${c.name}' has no ONNX equivalent in the exporter.`);
    }
  }
}
