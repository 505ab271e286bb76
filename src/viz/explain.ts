/**
 * `explain(output)`: the backward pass in the lecture's words, one line per gate in the order
 * backprop visits them: the gate, its inputs' values, the upstream gradient, the local
 * gradients and the downstream gradients it sends ("upstream × local"), naming the patterns
 * where they occur (add distributes, max routes, mul swaps, a value used twice sums its
 * gradients). Browser-safe.
 */
import { GraphError } from "../errors.js";
import { runBackward } from "../autograd/engine.js";
import { withGraphValues } from "../autograd/mode.js";
import { onesLike } from "../tensor/creation.js";
import { Tensor } from "../tensor/tensor.js";
import { fixed, gateSymbol, nested, valueText } from "./format.js";
import { collectGraph, edgeGrad, nodeGrad, traceValue, type Graph, type GraphNode } from "./trace.js";

export interface ExplainOptions {
  /** Decimals of every number (default 2, as the lecture prints them). */
  digits?: number;
  /** Tensors with at most this many elements print every element (default 6); bigger ones print a summary. */
  maxElements?: number;
  /** The upstream gradient to start from, for an output with more than one element. */
  gradient?: Tensor;
}

/**
 * The backward pass through the graph below `output`, explained gate by gate.
 *
 * If a backward pass was run inside `withGraphValues`, that pass is explained. Otherwise
 * `explain` runs one itself (keeping the graph, and leaving every `.grad` untouched), so call it
 * before `backward()` or build the graph inside `withGraphValues`.
 * @example
 * const q = x.add(y).named("q");
 * console.log(explain(q.mul(z)));
 * // forward: x = -2.00, y = 5.00, z = -4.00 → f = -12.00
 * // backward, gate by gate in the order backprop visits them (downstream gradient = upstream gradient × local gradient):
 * // 1. mul(q = 3.00, z = -4.00) = -12.00: upstream 1.00 × local z = -4.00 → dq = -4.00; upstream 1.00 × local q = 3.00 → dz = 3.00   (the mul gate swaps: ...)
 * // ...
 */
export function explain(output: Tensor, options: ExplainOptions = {}): string {
  if (!(output instanceof Tensor)) throw new TypeError("explain: expected a Tensor.");
  const digits = options.digits ?? 2;
  const maxElements = options.maxElements ?? 6;
  const num = (v: number): string => fixed(v, digits);
  const val = (t: Tensor): string => (t.size === 1 ? num(t.data[0]!) : t.size <= maxElements ? nested(Array.from(t.data, Number), t.shape, num) : valueText(traceValue(t, 0), { digits, style: "fixed" }));

  let graph = collectGraph(output);
  const outName = graph.output.name;
  if (!output.gradFn) {
    return `${outName} = ${val(output)} is an input (a leaf), not computed by any gate: there is nothing to backpropagate.\n`;
  }
  if (graph.pass === undefined) {
    if (graph.nodes.some((g) => g.released) || output.gradFn.released) {
      throw new GraphError(
        `explain: the graph below '${output.gradFn.op.name}' was already released by backward(). ` +
          `Call explain(f) before f.backward(), or run the forward and backward pass inside withGraphValues(() => ...).`,
      );
    }
    let seed = options.gradient;
    if (seed === undefined) {
      if (output.size !== 1) {
        throw new GraphError(`explain: the output has shape [${output.shape.join(", ")}]; pass the upstream gradient as { gradient } (shaped like the output), or reduce it first (e.g. .sum()).`);
      }
      seed = onesLike(output);
    }
    const start = seed;
    // Records every gate's gradients (NodeTrace) without touching any .grad.
    withGraphValues(() => runBackward(output, start, { retainGraph: true }, []));
    graph = collectGraph(output);
  }

  const lines: string[] = [];
  const inputs = graph.nodes.filter((g) => g.kind === "input");
  const shown = inputs.slice(0, 8).map((g) => `${g.name} = ${val(g.tensor)}`);
  if (inputs.length > 8) shown.push(`… ${inputs.length - 8} more`);
  lines.push(`forward: ${shown.length ? `${shown.join(", ")} → ` : ""}${outName} = ${val(output)}`);
  lines.push(`backward, gate by gate in the order backprop visits them (downstream gradient = upstream gradient × local gradient):`);

  const gates = graph.nodes
    .filter((g) => g.kind === "op" && g.node!.trace !== undefined && g.node!.trace.pass === graph.pass)
    .sort((a, b) => a.node!.trace!.visit - b.node!.trace!.visit);
  const visitOf = (g: GraphNode): number => (g.node?.trace?.pass === graph.pass ? g.node!.trace!.visit : -1);
  const rootGrad = nodeGrad(graph, graph.output);
  if (rootGrad) {
    const isOne = rootGrad.size === 1 && rootGrad.data[0] === 1;
    lines.push(`start: ${dName(outName)} = ${val(rootGrad)}${isOne ? ` (the gradient of ${outName} with respect to itself)` : ""}`);
  }

  gates.forEach((gate, k) => {
    lines.push(`${k + 1}. ${gateLine(graph, gate, num, val)}`);
    // The copy gate: a value feeding several wires gets the sum of their gradients, once the
    // last of its consumers has sent its share.
    const seen = new Set<GraphNode>();
    for (const input of gate.inputs) {
      if (seen.has(input) || input.kind === "constant" || !input.tensor.requiresGrad || input.consumers.length < 2) continue;
      seen.add(input);
      const last = Math.max(...input.consumers.map((c) => visitOf(c.node)));
      if (last !== visitOf(gate)) continue;
      const shares = [...input.consumers]
        .sort((a, b) => visitOf(a.node) - visitOf(b.node))
        .map((c) => edgeGrad(graph, c.node, c.index))
        .filter((t): t is Tensor => t !== undefined);
      const total = nodeGrad(graph, input);
      if (!total || shares.length < 2) continue;
      lines.push(
        `   ${input.name} is used ${input.consumers.length} times, so its gradients add up (copy gate): ` +
          `${dName(input.name)} = ${shares.map(val).join(" + ")} = ${val(total)}`,
      );
    }
  });

  const grads = inputs.filter((g) => g.tensor.requiresGrad).map((g) => [g, nodeGrad(graph, g)] as const);
  if (grads.length > 0) {
    lines.push(`gradients: ${grads.map(([g, t]) => `${dName(g.name)} = ${t ? val(t) : "none (no path to the output)"}`).join(", ")}`);
  }
  return lines.join("\n") + "\n";
}

/** "dx" for a short name, "d(add1)" otherwise. */
export function dName(name: string): string {
  return /^[A-Za-z](\d*|_\w+)$/.test(name) ? `d${name}` : `d(${name})`;
}

/** What the local gradient of `gate` with respect to input `index` is, for scalars (else a formula or ""). */
function localText(gate: GraphNode, index: number, num: (v: number) => string): string | undefined {
  const op = gate.node!.op.name;
  const ins = gate.inputs;
  const scalar = gate.tensor.size === 1 && ins.every((i) => i.tensor.size === 1);
  const v = (i: number): number => ins[i]!.tensor.data[0]!;
  const name = (i: number): string => (ins[i]!.kind === "constant" ? num(v(i)) : ins[i]!.name);
  const out = gate.tensor.size === 1 ? gate.tensor.data[0]! : NaN;
  const other = 1 - index;
  switch (op) {
    case "add":
      return scalar ? "1" : "1 (every element)";
    case "sub":
      return index === 0 ? "1" : "-1";
    case "neg":
      return "-1";
    case "mul":
      if (ins[other]!.kind === "constant") return num(v(other));
      return scalar ? `${name(other)} = ${num(v(other))}` : `${name(other)} (elementwise)`;
    case "div":
      if (!scalar) return index === 0 ? `1/${name(1)}` : `-${name(0)}/${name(1)}²`;
      if (index === 0) return ins[1]!.kind === "constant" ? num(1 / v(1)) : `1/${name(1)} = ${num(1 / v(1))}`;
      if (ins[0]!.kind === "constant" && v(0) === 1) return `-1/x² = ${num(-1 / (v(1) * v(1)))}`;
      return `-${name(0)}/${name(1)}² = ${num(-v(0) / (v(1) * v(1)))}`;
    case "pow":
      if (!scalar) return index === 0 ? `${name(1)}·x^(${name(1)}-1)` : `x^${name(1)}·ln x`;
      if (index === 0) return `${name(1)}·x^(${name(1)}-1) = ${num(v(1) * v(0) ** (v(1) - 1))}`;
      return `x^${name(1)}·ln x = ${num(v(0) === 0 ? 0 : out * Math.log(v(0)))}`;
    case "exp":
      return scalar ? `e^x = ${num(out)}` : "e^x (the output)";
    case "log":
      return scalar ? `1/x = ${num(1 / v(0))}` : "1/x";
    case "sqrt":
      return scalar ? `1/(2√x) = ${num(1 / (2 * out))}` : "1/(2√x)";
    case "sigmoid":
      return scalar ? `σ·(1−σ) = ${num(out)} × ${num(1 - out)} = ${num(out * (1 - out))}` : "σ·(1−σ) (from the output)";
    case "tanh":
      return scalar ? `1 − tanh² = ${num(1 - out * out)}` : "1 − tanh² (from the output)";
    case "relu":
      return scalar ? (v(0) > 0 ? "1 (x > 0)" : "0 (x ≤ 0)") : "1 where x > 0, else 0";
    case "maximum":
    case "minimum": {
      if (!scalar) return `1 where ${name(index)} is chosen, else 0`;
      const a = v(index);
      const b = v(other);
      const wins = op === "maximum" ? a > b : a < b;
      return a === b ? "0.5 (a tie)" : wins ? `1 (${name(index)} is the ${op === "maximum" ? "larger" : "smaller"})` : "0";
    }
    case "abs":
      return scalar ? `sign(x) = ${num(Math.sign(v(0)))}` : "sign(x)";
    case "sum":
      return "1 (for every element)";
    case "mean":
      return `1/${ins[0]!.tensor.size} (for every element)`;
    case "matmul":
      return index === 0 ? `${name(1)}ᵀ` : `${name(0)}ᵀ`;
    default:
      return undefined;
  }
}

/** The lecture's name for the pattern at a gate, when there is one. */
function patternNote(gate: GraphNode): string | undefined {
  const op = gate.node!.op.name;
  const withConstant = gate.inputs.some((i) => i.kind === "constant");
  switch (op) {
    case "add":
      return "the add gate distributes: each input gets the upstream gradient";
    case "sum":
      return "sum distributes like add: every element gets the upstream gradient";
    case "mul":
      return withConstant ? "a mul by a constant scales the gradient by it" : "the mul gate swaps: each input's local gradient is the other input";
    case "maximum":
      return "the max gate routes: the whole upstream gradient goes to the larger input, 0 to the other";
    case "minimum":
      return "the min gate routes: the whole upstream gradient goes to the smaller input, 0 to the other";
    case "relu":
      return "relu is a max gate with 0: it routes the gradient through where x > 0";
    case "reshape":
      return "reshape only moves the numbers: the gradient is reshaped back";
    case "permute":
      return "permute only moves the numbers: the gradient is permuted back";
    case "expand":
      return "expand copies the value: the copies' gradients are summed";
    case "concat":
      return "concat routes each slice of the gradient back to its own input";
    case "slice":
    case "indexSelect":
    case "gather":
      return "the gradient is routed back to the elements that were picked, 0 elsewhere";
    case "matmul": {
      const [a, b] = gate.inputs.map((i) => i.name);
      return `matmul swaps like mul, in matrix form: ${dName(a!)} = upstream·${b}ᵀ, ${dName(b!)} = ${a}ᵀ·upstream`;
    }
    default:
      return undefined;
  }
}

function gateLine(graph: Graph, gate: GraphNode, num: (v: number) => string, val: (t: Tensor) => string): string {
  const op = gate.node!.op.name;
  const ins = gate.inputs;
  const constants = ins.map((i) => (i.kind === "constant" && ins.length === 2 ? i.tensor.data[0]! : undefined));
  const foldable = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"].includes(op) && constants.some((c) => c !== undefined);
  const title = foldable ? gateSymbol(op, constants) : op;
  const args = ins.filter((i) => !(foldable && i.kind === "constant")).map((i) => (i.kind === "constant" ? val(i.tensor) : `${i.name} = ${val(i.tensor)}`));
  const upstream = nodeGrad(graph, gate);
  const upText = upstream ? val(upstream) : "?";
  const parts: string[] = [];
  let anyLocalMissing = false;
  ins.forEach((input, i) => {
    if (input.kind === "constant" || !input.tensor.requiresGrad) return;
    const down = edgeGrad(graph, gate, i);
    if (!down) return;
    let local = localText(gate, i, num);
    if (local === undefined && upstream && upstream.size === 1 && down.size === 1) {
      const u = upstream.data[0]!;
      if (u !== 0) {
        local = num(down.data[0]! / u);
        anyLocalMissing = true;
      }
    }
    parts.push(local !== undefined ? `upstream ${upText} × local ${local} → ${dName(input.name)} = ${val(down)}` : `upstream ${upText} → ${dName(input.name)} = ${val(down)}`);
  });
  let note = patternNote(gate);
  if (anyLocalMissing) note = "local gradient read as downstream ÷ upstream";
  const body = parts.length > 0 ? parts.join("; ") : "no input needs a gradient";
  return `${title}(${args.join(", ")}) = ${val(gate.tensor)}: ${body}${note ? `   (${note})` : ""}`;
}
