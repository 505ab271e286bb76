/**
 * `toDot(output | trace, options)`: the computational graph as Graphviz DOT, drawn as in the
 * lecture: each gate a node, the forward value in green on each wire and the gradient in red
 * under it, and a legend. Browser-safe (plain text; `toSvg` renders it).
 */
import { Tensor } from "../tensor/tensor.js";
import { gateSymbol, html, shapeText, valueText, type ValueTextOptions } from "./format.js";
import { trace, type TraceGraph, type TraceNode, type TraceOptions, type TraceScope, type TraceValue } from "./trace.js";

export interface DotOptions extends TraceOptions {
  /**
   * Scopes drawn as ONE gate: Module paths ("0", "layers.1") or names given to `scope(name, fn)`
   * ("sigmoid"): the lecture's point that a whole sigmoid can be one gate.
   */
  collapse?: readonly string[];
  /** Draw every module as one gate (the outermost ones; open some with `expand`). */
  collapseModules?: boolean;
  /** With `collapseModules`: the modules to open (their sub-modules are then collapsed). */
  expand?: readonly string[];
  /** Hide nodes more than this many steps from the output (0 = only the output's gate). */
  maxDepth?: number;
  /** Draw at most this many nodes (the ones nearest the output). */
  maxNodes?: number;
  /** Decimals of the numbers (default 2; whole numbers print exactly). */
  digits?: number;
  /** Tensors with at most this many elements print every element (default 4). */
  maxElements?: number;
  /** How bigger tensors are summarised: "stats" (min/mean/max, default) or "first" (the first values). */
  summary?: "stats" | "first";
  /** Draw the legend (default true). */
  legend?: boolean;
  /** A title above the picture. */
  title?: string;
  /** Layout direction: "LR" (left to right, as in the lecture; default) or "TB". */
  rankdir?: "LR" | "TB";
  /** Draw scopes that are not collapsed as labelled boxes around their gates (default true). */
  clusters?: boolean;
  /** Write scalar constants into their gate ("+1", "*-1", "1/x") instead of as nodes (default true). */
  foldConstants?: boolean;
}

/** The lecture's colours: forward values green, gradients red. */
export const FORWARD_COLOR = "#1b7f3b";
export const GRADIENT_COLOR = "#c62828";
const MUTED = "#777777";

/** Ops whose scalar constant operand is folded into the gate's symbol. */
const FOLDABLE = new Set(["add", "sub", "mul", "div", "pow", "maximum", "minimum"]);

interface VisualNode {
  id: string;
  kind: "op" | "input" | "constant" | "group";
  label: string;
  /** The trace node (not for groups). */
  node?: TraceNode;
  /** For a group: its scope and its members. */
  scope?: TraceScope;
  members?: TraceNode[];
  /** Scopes around it, outermost first (for cluster boxes). */
  chain: TraceScope[];
}

interface VisualEdge {
  from: string;
  to: string;
  /** The trace node whose value travels on this wire. */
  source: TraceNode;
  grads: TraceValue[];
  /** Number of trace wires merged into this one. */
  wires: number;
}

const scopeKey = (s: TraceScope): string => `${s.name}#${s.call}`;

/**
 * Graphviz DOT for the graph below `output` (or for a `trace()` result), in the lecture's style.
 * Render it with `toSvg`, or with Graphviz's `dot -Tsvg`.
 * @example
 * f.backward();                                   // inside withGraphValues for every gradient
 * const dot = toDot(f, { collapse: ["sigmoid"] }); // the sigmoid scope as one gate
 */
export function toDot(input: Tensor | TraceGraph, options: DotOptions = {}): string {
  const maxElements = options.maxElements ?? 4;
  const graph = input instanceof Tensor ? trace(input, { maxValues: Math.max(options.maxValues ?? 16, maxElements) }) : input;
  const fmt: ValueTextOptions = { digits: options.digits ?? 2, maxElements, summary: options.summary ?? "stats", style: "short" };
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const consumers = new Map<string, { to: string; index: number }[]>();
  for (const e of graph.edges) {
    let list = consumers.get(e.from);
    if (!list) consumers.set(e.from, (list = []));
    list.push({ to: e.to, index: e.index });
  }

  // ---------------------------------------------------------------- groups (collapsed scopes)
  const collapse = new Set(options.collapse ?? []);
  const expand = new Set(options.expand ?? []);
  /** Index in node.scopes of the scope it is collapsed into, or -1. */
  const groupIndex = (n: TraceNode): number =>
    n.scopes.findIndex((s) => collapse.has(s.name) || (options.collapseModules === true && s.kind === "module" && !expand.has(s.name)));

  const visual = new Map<string, VisualNode>();
  const owner = new Map<string, string>(); // trace id → visual id (absent: not drawn)
  const groups = new Map<string, VisualNode>();
  for (const n of graph.nodes) {
    if (n.kind !== "op") continue;
    const gi = groupIndex(n);
    if (gi < 0) continue;
    const scope = n.scopes[gi]!;
    const key = scopeKey(scope);
    let group = groups.get(key);
    if (!group) {
      group = { id: `g${groups.size}`, kind: "group", label: "", scope, members: [], chain: n.scopes.slice(0, gi) };
      groups.set(key, group);
      visual.set(group.id, group);
    }
    group.members!.push(n);
    owner.set(n.id, group.id);
  }
  for (const group of groups.values()) group.label = groupLabel(group);

  // ---------------------------------------------------------------- gates, inputs, constants
  const folded = new Map<string, (number | undefined)[]>(); // gate id → its folded constants by input index
  for (const n of graph.nodes) {
    if (n.kind === "op") {
      if (owner.has(n.id)) continue;
      visual.set(n.id, { id: n.id, kind: "op", label: "", node: n, chain: n.scopes });
      owner.set(n.id, n.id);
    } else if (n.kind === "input") {
      visual.set(n.id, { id: n.id, kind: "input", label: n.name, node: n, chain: [] });
      owner.set(n.id, n.id);
    }
  }
  for (const n of graph.nodes) {
    if (n.kind !== "constant") continue;
    const use = consumers.get(n.id)?.[0];
    if (!use) continue;
    const consumerOwner = owner.get(use.to);
    const consumer = byId.get(use.to)!;
    if (consumerOwner === undefined || consumerOwner !== use.to) continue; // inside a collapsed group
    const isScalar = n.value.size === 1 && n.value.values !== undefined;
    if ((options.foldConstants ?? true) && FOLDABLE.has(consumer.op!) && isScalar && consumer.inputs.length === 2) {
      let list = folded.get(consumer.id);
      if (!list) folded.set(consumer.id, (list = []));
      list[use.index] = n.value.values![0]!;
      continue;
    }
    visual.set(n.id, { id: n.id, kind: "constant", label: valueText(n.value, fmt), node: n, chain: [] });
    owner.set(n.id, n.id);
  }
  for (const v of visual.values()) {
    if (v.kind === "op") v.label = gateSymbol(v.node!.op!, folded.get(v.id) ?? []);
  }

  // ---------------------------------------------------------------- wires
  const edges = new Map<string, VisualEdge>();
  for (const e of graph.edges) {
    const from = owner.get(e.from);
    const to = owner.get(e.to);
    if (from === undefined || to === undefined || from === to) continue;
    const key = `${from}->${to}:${e.from}`;
    let edge = edges.get(key);
    if (!edge) edges.set(key, (edge = { from, to, source: byId.get(e.from)!, grads: [], wires: 0 }));
    edge.wires++;
    if (e.grad) edge.grads.push(e.grad);
  }
  const outputNode = byId.get(graph.output)!;
  const outputOwner = owner.get(graph.output)!;

  // ---------------------------------------------------------------- depth and node limits
  const inEdges = new Map<string, VisualEdge[]>();
  for (const e of edges.values()) {
    let list = inEdges.get(e.to);
    if (!list) inEdges.set(e.to, (list = []));
    list.push(e);
  }
  const depth = new Map<string, number>([[outputOwner, 0]]);
  const bfs = [outputOwner];
  for (let i = 0; i < bfs.length; i++) {
    const id = bfs[i]!;
    for (const e of inEdges.get(id) ?? []) {
      if (!depth.has(e.from)) {
        depth.set(e.from, depth.get(id)! + 1);
        bfs.push(e.from);
      }
    }
  }
  const kept = new Set<string>();
  for (const id of bfs) {
    if (options.maxDepth !== undefined && depth.get(id)! > options.maxDepth) continue;
    if (options.maxNodes !== undefined && kept.size >= Math.max(1, options.maxNodes)) continue;
    kept.add(id);
  }
  const hidden = [...visual.keys()].filter((id) => !kept.has(id));

  // ---------------------------------------------------------------- DOT text
  const lines: string[] = [];
  const hasGrad = graph.hasGradients;
  lines.push("digraph chainrule {");
  // Title, "no gradient yet" and the legend go in the graph's caption, under the picture.
  const caption: string[] = [];
  if (options.title) caption.push(`<font point-size="13">${html(options.title)}</font>`);
  if (!hasGrad) caption.push(`<font color="${MUTED}">no gradient yet: run backward() to see the gradients</font>`);
  if (options.legend ?? true) {
    const summarised = graph.nodes.some((n) => n.value.size > maxElements);
    // One colour per line: mixed runs on one line can overlap when the viewer's font is wider.
    caption.push(`<font point-size="10" color="${FORWARD_COLOR}">green: forward value on each wire</font>`);
    caption.push(
      hasGrad
        ? `<font point-size="10" color="${GRADIENT_COLOR}">red: gradient ∂${html(outputNode.name)}/∂value, under it</font>`
        : `<font point-size="10" color="${GRADIENT_COLOR}">red: gradient (no gradient yet)</font>`,
    );
    if (summarised) caption.push(`<font point-size="10">tensors: shape, then min/mean/max</font>`);
    if (groups.size > 0 || hidden.length > 0) {
      const extra: string[] = [];
      if (groups.size > 0) extra.push("blue box: a module or scope drawn as one gate");
      if (hidden.length > 0) extra.push("dashed box: nodes left out");
      caption.push(`<font point-size="10">${extra.join(" · ")}</font>`);
    }
  }
  lines.push(`  graph [rankdir=${options.rankdir ?? "LR"}, fontname="Helvetica", nodesep=0.35, ranksep=0.6${caption.length ? `, labelloc=b, label=<${caption.join("<br/>")}>` : ""}];`);
  lines.push(`  node [fontname="Helvetica", fontsize=12];`);
  lines.push(`  edge [fontname="Helvetica", fontsize=10, arrowsize=0.7];`);

  const nodeLine = (v: VisualNode): string => `${v.id} [${nodeAttrs(v)}];`;
  const nodeAttrs = (v: VisualNode): string => {
    switch (v.kind) {
      case "input": {
        const n = v.node!;
        const parts = [`<b>${html(v.label)}</b>`];
        if (n.value.shape.length > 0) parts.push(`<font point-size="9">${html(shapeText(n.value.shape))}</font>`);
        if ((consumers.get(n.id)?.length ?? 0) > 1 && n.grad) parts.push(`<font point-size="9" color="${GRADIENT_COLOR}">Σ ${html(valueText(n.grad, fmt))}</font>`);
        return `shape=plaintext, label=<${parts.join("<br/>")}>`;
      }
      case "constant":
        return `shape=plaintext, fontcolor="${MUTED}", label=<${html(v.label)}>`;
      case "group":
        return `shape=box, style="rounded,filled", fillcolor="#eef3fb", label=<${v.label}>`;
      default: {
        const text = v.label;
        const shape = text.length <= 4 ? "circle" : "ellipse";
        return `shape=${shape}, label=<${html(text)}>, tooltip="${html(`${v.node!.op} (${v.node!.name})`)}"`;
      }
    }
  };
  const edgeLabel = (value: TraceValue, grad: TraceValue | undefined, requiresGrad: boolean): string => {
    const parts = [`<font color="${FORWARD_COLOR}">${html(valueText(value, fmt))}</font>`];
    if (grad) parts.push(`<font color="${GRADIENT_COLOR}">${html(valueText(grad, fmt))}</font>`);
    else if (hasGrad && requiresGrad) parts.push(`<font color="${MUTED}">no gradient</font>`);
    return `<${parts.join("<br/>")}>`;
  };

  // Nodes, inside their scope boxes.
  const keptNodes = [...visual.values()].filter((v) => kept.has(v.id));
  if (options.clusters ?? true) emitClusters(keptNodes, lines, nodeLine);
  else for (const v of keptNodes) lines.push(`  ${nodeLine(v)}`);

  for (const e of edges.values()) {
    if (!kept.has(e.from) || !kept.has(e.to)) continue;
    const grad = mergeGrads(e, consumers.get(e.source.id)?.length ?? 0);
    // Wires whose gradients cannot be added up here (too many elements kept only as statistics)
    // are drawn one by one, each with its own gradient, rather than as one wire with none.
    const separate = grad === undefined && e.wires > 1 && e.grads.length === e.wires;
    for (const g of separate ? e.grads : [grad]) lines.push(`  ${e.from} -> ${e.to} [label=${edgeLabel(e.source.value, g, e.source.requiresGrad)}];`);
  }
  // The output wire, with df/df.
  lines.push(`  out [shape=plaintext, label=<<b>${html(outputNode.name)}</b>>];`);
  lines.push(`  ${outputOwner} -> out [label=${edgeLabel(outputNode.value, outputNode.grad, outputNode.requiresGrad)}];`);

  if (hidden.length > 0) {
    lines.push(`  more [shape=box, style="rounded,dashed", color="${MUTED}", fontcolor="${MUTED}", label="… ${hidden.length} more node${hidden.length === 1 ? "" : "s"}"];`);
    const targets = new Set<string>();
    for (const e of edges.values()) if (!kept.has(e.from) && kept.has(e.to)) targets.add(e.to);
    for (const t of targets) lines.push(`  more -> ${t} [style=dashed, color="${MUTED}"];`);
  }

  lines.push("}");
  return lines.join("\n") + "\n";

  function groupLabel(group: VisualNode): string {
    const s = group.scope!;
    const members = group.members!;
    const ops = [...new Set(members.map((m) => m.op!))];
    const title = s.type ? `${s.name}: ${s.type}` : s.name;
    const opsText = ops.length <= 4 ? ops.join(", ") : `${ops.slice(0, 4).join(", ")}, …`;
    return `<b>${html(title)}</b><br/><font point-size="9">${members.length} gate${members.length === 1 ? "" : "s"}: ${html(opsText)}</font>`;
  }
}

/** The gradient on a drawn wire that stands for several (into or out of a collapsed group). */
function mergeGrads(e: VisualEdge, sourceWires: number): TraceValue | undefined {
  if (e.grads.length === 0) return e.wires === sourceWires ? e.source.grad : undefined;
  if (e.grads.length === 1 && e.wires === 1) return e.grads[0];
  // Several wires from one value: their gradients add up (the copy gate).
  if (e.wires === sourceWires && e.source.grad) return e.source.grad;
  if (e.grads.every((g) => g.values !== undefined) && e.grads.length === e.wires) {
    const first = e.grads[0]!;
    const values = first.values!.map((_, i) => e.grads.reduce((acc, g) => acc + g.values![i]!, 0));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    return { ...first, values, min: Math.min(...values), max: Math.max(...values), mean };
  }
  return undefined;
}

/** Writes nodes inside nested `subgraph cluster_…` boxes, one per scope. */
function emitClusters(nodes: VisualNode[], lines: string[], nodeLine: (v: VisualNode) => string): void {
  interface Box {
    scope: TraceScope | undefined;
    nodes: VisualNode[];
    children: Map<string, Box>;
  }
  const root: Box = { scope: undefined, nodes: [], children: new Map() };
  for (const v of nodes) {
    let box = root;
    for (const s of v.chain) {
      const key = scopeKey(s);
      let child = box.children.get(key);
      if (!child) box.children.set(key, (child = { scope: s, nodes: [], children: new Map() }));
      box = child;
    }
    box.nodes.push(v);
  }
  let counter = 0;
  const emit = (box: Box, indent: string): void => {
    for (const v of box.nodes) lines.push(`${indent}${nodeLine(v)}`);
    for (const child of box.children.values()) {
      const s = child.scope!;
      lines.push(`${indent}subgraph cluster_${counter++} {`);
      lines.push(`${indent}  label=<${html(s.type ? `${s.name}: ${s.type}` : s.name)}>; fontsize=10; style="rounded,dashed"; color="#9aa5b1"; fontcolor="#52606d";`);
      emit(child, `${indent}  `);
      lines.push(`${indent}}`);
    }
  };
  emit(root, "  ");
}
