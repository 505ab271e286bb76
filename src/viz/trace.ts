/**
 * `trace(output)`: the computational graph below a tensor as plain data (the JSON form below),
 * separate from every renderer. Browser-safe.
 *
 * Values are always readable while the graph exists (every node keeps its inputs until a
 * backward pass releases them). Gradients of intermediate values, the gradient each gate sent
 * to each input and the order backprop visited the gates are recorded only by a backward pass
 * run inside `withGraphValues` (or by `explain`); leaves show their `.grad`.
 */
import type { Node } from "../autograd/node.js";
import type { ScopeEntry } from "../autograd/mode.js";
import type { DType } from "../tensor/dtype.js";
import { Tensor } from "../tensor/tensor.js";

/** The format tag of `TraceGraph`; bumped on an incompatible change. */
export const TRACE_FORMAT = "chainrule.trace/1";

/** A tensor's value (or gradient) as data: shape, summary statistics, and the elements when few. */
export interface TraceValue {
  shape: number[];
  dtype: DType;
  size: number;
  /** Smallest, mean and largest element (NaN stays NaN in JS; JSON.stringify writes null). */
  min: number;
  mean: number;
  max: number;
  /** Every element, row-major, when `size ≤ maxValues`. */
  values?: number[];
  /** Otherwise the first `maxValues` elements. */
  head?: number[];
}

/** One scope a node was created in: a Module's dotted path ("layers.1") or a user `scope(name)`. */
export interface TraceScope {
  name: string;
  kind: "module" | "scope";
  /** A module's class name ("Linear"). */
  type?: string;
  /** Which entry into the scope this is (1, 2...): a module called twice gives two calls. */
  call: number;
}

/** One node of the traced graph. */
export interface TraceNode {
  /** Stable id: "n0", "n1"... in topological order (inputs before the gates that use them). */
  id: string;
  /**
   * "op": a gate (a recorded op); "input": a leaf tensor (a parameter, an input, data);
   * "constant": a plain number in an op (`x.mul(2)`), one node per use.
   */
  kind: "op" | "input" | "constant";
  /** The op's name ("mul", "matmul", "sigmoidGate"), for kind "op". */
  op?: string;
  /** The op's non-tensor arguments (its `describe`), for kind "op". */
  params?: Record<string, unknown>;
  /** The name shown in pictures: the user's label, else generated ("mul2", "input1"; the output "f"). */
  name: string;
  /** The user's label (`tensor.named("x")`, a parameter's dotted name), when set. */
  label?: string;
  /** Ids of the input nodes, in argument order (kind "op"). */
  inputs: string[];
  shape: number[];
  dtype: DType;
  requiresGrad: boolean;
  /** Innermost Module path the gate was created in ("0", "layers.1"), when recorded. */
  module?: string;
  /** Every scope the gate was created in, outermost first (modules and user scopes). */
  scopes: TraceScope[];
  /** The forward value of this node's output. */
  value: TraceValue;
  /** The gradient of the output (∂f/∂value); absent when there is none yet. */
  grad?: TraceValue;
  /** Position in the order backprop visited the gates (1 = the output's gate), when recorded. */
  visit?: number;
}

/** A wire: the output of `from` is input number `index` of the gate `to`. */
export interface TraceEdge {
  from: string;
  to: string;
  index: number;
  /** The gradient the gate `to` sent back along this wire (its share of `from`'s gradient). */
  grad?: TraceValue;
}

/** The traced graph (`trace(output)`): JSON-serialisable. */
export interface TraceGraph {
  format: typeof TRACE_FORMAT;
  /** Id of the node whose value is the traced output. */
  output: string;
  /** All nodes, inputs before the gates that use them. */
  nodes: TraceNode[];
  edges: TraceEdge[];
  /** Whether a backward pass has filled in gradients. */
  hasGradients: boolean;
  /** Gate ids in the order backprop visited them (recorded passes only; else empty). */
  backwardOrder: string[];
  /** Problems found, e.g. a part of the graph already released by backward(). */
  warnings: string[];
}

export interface TraceOptions {
  /** Tensors with at most this many elements carry every element in `values` (default 16). */
  maxValues?: number;
}

// ------------------------------------------------------------------ the internal graph

/** @internal A node with its tensors, shared by trace(), toDot() and explain(). */
export interface GraphNode {
  id: string;
  kind: "op" | "input" | "constant";
  /** The tensor this node outputs (for a leaf, the leaf itself). */
  tensor: Tensor;
  /** The recorded op, for kind "op". */
  node: Node | undefined;
  inputs: GraphNode[];
  /** (consumer, input index) of every wire leaving this node. */
  consumers: { node: GraphNode; index: number }[];
  name: string;
  /** Set when this node's part of the graph was released (its inputs are gone). */
  released: boolean;
}

/** @internal */
export interface Graph {
  nodes: GraphNode[];
  output: GraphNode;
  /** The backward pass recorded at the output's gate, if any. */
  pass: number | undefined;
}

/** A leaf that is drawn as a plain number inside the gate: a scalar constant without a name. */
function isConstant(t: Tensor): boolean {
  return t.gradFn === null && !t.requiresGrad && t.label === undefined && t.size === 1 && t.ndim === 0;
}

/** @internal Walks the graph below `output` (explicit stack: deep graphs are fine). */
export function collectGraph(output: Tensor): Graph {
  const byKey = new Map<object, GraphNode>();
  const order: GraphNode[] = [];
  const make = (tensor: Tensor, kind: GraphNode["kind"], inputs: GraphNode[]): GraphNode => {
    const node = tensor.gradFn ?? undefined;
    const g: GraphNode = { id: `n${order.length}`, kind, tensor, node, inputs, consumers: [], name: "", released: node !== undefined && node.released && node.inputs.length === 0 };
    order.push(g);
    return g;
  };
  interface Frame {
    tensor: Tensor;
    next: number;
    inputs: GraphNode[];
  }
  const key = (t: Tensor): object => t.gradFn ?? t;
  const stack: Frame[] = [{ tensor: output, next: 0, inputs: [] }];
  const started = new Set<object>([key(output)]);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const inputs = frame.tensor.gradFn?.inputs ?? [];
    if (frame.next < inputs.length) {
      const input = inputs[frame.next]!;
      const k = key(input);
      if (isConstant(input)) {
        frame.inputs[frame.next] = make(input, "constant", []);
      } else if (!started.has(k)) {
        // Visit the input first; this frame advances when it is done.
        started.add(k);
        stack.push({ tensor: input, next: 0, inputs: [] });
        continue;
      }
      frame.next++;
      continue;
    }
    stack.pop();
    const resolved = inputs.map((t, i) => frame.inputs[i] ?? byKey.get(key(t))!);
    const g = make(frame.tensor, frame.tensor.gradFn ? "op" : "input", resolved);
    byKey.set(key(frame.tensor), g);
    resolved.forEach((input, index) => input.consumers.push({ node: g, index }));
    const parent = stack[stack.length - 1];
    if (parent) parent.next++;
  }
  const outputNode = byKey.get(key(output))!;
  nameNodes(order, outputNode);
  const trace = outputNode.node?.trace;
  return { nodes: order, output: outputNode, pass: trace && trace.pass > 0 && trace.gradOut ? trace.pass : undefined };
}

/** Display names: the user's label, else "f" for the output, "<op><k>" for gates, "input<k>" for leaves. */
function nameNodes(nodes: GraphNode[], output: GraphNode): void {
  const counts = new Map<string, number>();
  for (const g of nodes) {
    if (g.tensor.label !== undefined) g.name = g.tensor.label;
    else if (g.kind === "constant") g.name = String(g.tensor.data[0]);
    else if (g === output) g.name = "f";
    else {
      const base = g.kind === "op" ? g.node!.op.name : "input";
      const k = (counts.get(base) ?? 0) + 1;
      counts.set(base, k);
      g.name = `${base}${k}`;
    }
  }
}

/** @internal The gradient the gate `consumer` sent to its input `index` in the recorded pass. */
export function edgeGrad(graph: Graph, consumer: GraphNode, index: number): Tensor | undefined {
  const t = consumer.node?.trace;
  if (graph.pass === undefined || !t || t.pass !== graph.pass || !t.inputGrads) return undefined;
  return t.inputGrads[index] ?? undefined;
}

/**
 * @internal The gradient of a node's output: recorded upstream gradient for a gate; for a leaf,
 * the sum of what its consumers sent in the recorded pass, else its `.grad`.
 */
export function nodeGrad(graph: Graph, g: GraphNode): Tensor | undefined {
  if (g.kind === "constant") return undefined;
  const t = g.node?.trace;
  if (t && graph.pass !== undefined && t.pass === graph.pass && t.gradOut) return t.gradOut;
  if (g.kind === "input" && graph.pass !== undefined) {
    let sum: Tensor | undefined;
    let any = false;
    for (const c of g.consumers) {
      const e = edgeGrad(graph, c.node, c.index);
      if (e) sum = sum ? sum.add(e) : e;
      if (c.node.node?.trace?.pass === graph.pass) any = true;
    }
    if (sum) return sum;
    if (any && g.tensor.requiresGrad) return undefined;
  }
  return g.tensor.grad ?? undefined;
}

/** @internal The scopes recorded on a gate. */
export function nodeScopes(g: GraphNode): readonly ScopeEntry[] {
  return g.node?.trace?.scopes ?? [];
}

/** A tensor as `TraceValue`. */
export function traceValue(t: Tensor, maxValues = 16): TraceValue {
  const data = t.data;
  const n = data.length;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = Number(data[i]);
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (Number.isNaN(v)) {
      min = NaN;
      max = NaN;
    }
  }
  const out: TraceValue = { shape: [...t.shape], dtype: t.dtype, size: n, min: n ? min : NaN, mean: n ? sum / n : NaN, max: n ? max : NaN };
  if (Number.isNaN(sum)) out.min = out.max = out.mean = NaN;
  const take = Math.min(n, Math.max(0, maxValues));
  const values = Array.from({ length: take }, (_, i) => Number(data[i]));
  if (n <= maxValues) out.values = values;
  else out.head = values;
  return out;
}

/** Keeps only JSON-friendly describe() params (numbers, strings, booleans and arrays of them). */
function cleanParams(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!params) return undefined;
  const out: Record<string, unknown> = {};
  const ok = (v: unknown): boolean => v === null || ["number", "string", "boolean"].includes(typeof v) || (Array.isArray(v) && v.every(ok));
  for (const [k, v] of Object.entries(params)) if (v !== undefined && ok(v)) out[k] = Array.isArray(v) ? [...v] : v;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The computational graph below `output` as data (see `TraceGraph`): one node per gate, per
 * leaf and per constant use, with its op, stable id, ordered inputs, shape, dtype, label,
 * Module path and scopes, forward value and (after backward) gradient; and the wires between
 * them with the gradient each carried back.
 * @example
 * const g = trace(f);
 * g.nodes.map((n) => n.name); // ["x", "y", "q", "z", "f"]
 * JSON.stringify(g);         // the documented JSON form (docs/viz.md)
 */
export function trace(output: Tensor, options: TraceOptions = {}): TraceGraph {
  if (!(output instanceof Tensor)) throw new TypeError("trace: expected a Tensor.");
  const maxValues = options.maxValues ?? 16;
  const graph = collectGraph(output);
  const warnings: string[] = [];
  const released = graph.nodes.filter((g) => g.released);
  if (released.length > 0) {
    warnings.push(
      `the graph below ${released.map((g) => `'${g.node!.op.name}'`).slice(0, 3).join(", ")} was released by backward(); ` +
        `run the forward and backward inside withGraphValues (or pass { retainGraph: true }) to draw it whole.`,
    );
  }
  // Each entry into a scope is one object; number the entries per name, in topological order.
  const calls = new Map<ScopeEntry, number>();
  const callsPerName = new Map<string, number>();
  const callOf = (s: ScopeEntry): number => {
    let c = calls.get(s);
    if (c === undefined) {
      c = (callsPerName.get(s.name) ?? 0) + 1;
      callsPerName.set(s.name, c);
      calls.set(s, c);
    }
    return c;
  };
  const nodes: TraceNode[] = graph.nodes.map((g) => {
    const scopes = nodeScopes(g).map((s): TraceScope => (s.type !== undefined ? { name: s.name, kind: s.kind, type: s.type, call: callOf(s) } : { name: s.name, kind: s.kind, call: callOf(s) }));
    const module = [...scopes].reverse().find((s) => s.kind === "module");
    const grad = nodeGrad(graph, g);
    const node: TraceNode = {
      id: g.id,
      kind: g.kind,
      name: g.name,
      inputs: g.inputs.map((i) => i.id),
      shape: [...g.tensor.shape],
      dtype: g.tensor.dtype,
      requiresGrad: g.tensor.requiresGrad,
      scopes,
      value: traceValue(g.tensor, maxValues),
    };
    if (g.kind === "op") {
      node.op = g.node!.op.name;
      const params = cleanParams(g.node!.params);
      if (params) node.params = params;
    }
    if (g.tensor.label !== undefined) node.label = g.tensor.label;
    if (module) node.module = module.name;
    if (grad) node.grad = traceValue(grad, maxValues);
    const t = g.node?.trace;
    if (t && graph.pass !== undefined && t.pass === graph.pass) node.visit = t.visit;
    return node;
  });
  const edges: TraceEdge[] = [];
  for (const g of graph.nodes) {
    g.inputs.forEach((input, index) => {
      const edge: TraceEdge = { from: input.id, to: g.id, index };
      const e = edgeGrad(graph, g, index);
      if (e) edge.grad = traceValue(e, maxValues);
      else if (input.consumers.length === 1 && graph.pass === undefined) {
        // Without a recorded pass, a value used once carries its whole gradient on its wire.
        const whole = nodes[graph.nodes.indexOf(input)]!.grad;
        if (whole) edge.grad = whole;
      }
      edges.push(edge);
    });
  }
  const backwardOrder = nodes.filter((n) => n.visit !== undefined).sort((a, b) => a.visit! - b.visit!).map((n) => n.id);
  return {
    format: TRACE_FORMAT,
    output: graph.output.id,
    nodes,
    edges,
    hasGradients: nodes.some((n) => n.grad !== undefined),
    backwardOrder,
    warnings,
  };
}
