import { AnomalyError, GraphError, ShapeError, fmtShape } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { shapesEqual } from "../tensor/shape.js";
import { findNonFinite } from "./anomaly.js";
import { isAnomalyEnabled, isGraphValuesEnabled, setDetectAnomaly, setGradEnabled } from "./mode.js";
import type { InputGrads, Node } from "./node.js";
import { sumToShape } from "./sum-to-shape.js";
import { getBackend } from "../backend/index.js";
import { markPersistent } from "../tensor/storage.js";

/** Gradients this engine allocated for leaves' `.grad` (outside any graph): later backward passes add into them in place. */
const ownGrads = new WeakSet<Tensor>();

export interface BackwardOptions {
  /** Keep the graph (and what its ops saved) so backward can run through it again. */
  retainGraph?: boolean;
  /** Record the backward pass itself, so gradients can be differentiated again (implies retainGraph). */
  createGraph?: boolean;
}

/**
 * The chain rule, applied from `root` back to the leaves. Nodes are visited in reverse
 * topological order (found with an explicit stack, so a graph 10^6 nodes deep is fine); each
 * turns its upstream gradient into one gradient per input, and gradients reaching a value from
 * several places are summed.
 *
 * Without `inputs`, gradients of leaves that require grad are accumulated into their `.grad`.
 * With `inputs`, their gradients are returned instead (nothing is accumulated): `autograd.grad`.
 */
export function runBackward(root: Tensor, gradient: Tensor, options: BackwardOptions = {}, inputs?: readonly Tensor[]): (Tensor | null)[] | undefined {
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  if (!shapesEqual(root.shape, gradient.shape)) {
    throw new ShapeError(`backward: the gradient has shape ${fmtShape(gradient.shape)} but the tensor has shape ${fmtShape(root.shape)}; they must match.`);
  }
  if (gradient.dtype !== root.dtype) gradient = gradient.to(root.dtype);

  const captured = inputs ? new Map<Tensor, Tensor | null>(inputs.map((t) => [t, null])) : undefined;
  const deliver = (leaf: Tensor, g: Tensor): void => {
    if (captured) {
      if (captured.has(leaf)) {
        const prev = captured.get(leaf);
        captured.set(leaf, prev ? prev.add(g) : g);
      }
      return;
    }
    const prev = leaf.grad;
    if (prev && !createGraph && ownGrads.has(prev) && prev.dtype === g.dtype && shapesEqual(prev.shape, g.shape)) {
      // Accumulated in place (as PyTorch does), so a gradient kept across steps is never reallocated.
      const d = prev._buf;
      getBackend().binary("add", d, undefined, g._buf, undefined, d, prev.shape);
      return;
    }
    // A fresh tensor on first delivery: the same gradient object may reach several leaves.
    const next = prev ? prev.add(g) : createGraph ? g : g.clone();
    if (!createGraph) ownGrads.add(next);
    markPersistent(next._buf);
    leaf.grad = next;
  };

  const rootNode = root.gradFn;
  if (!rootNode) {
    deliver(root, gradient);
    return captured ? inputs!.map((t) => captured.get(t) ?? null) : undefined;
  }

  // Count, for each node, the edges through which gradient will arrive. The counts and the
  // gradients in flight live on the nodes themselves (tagged with this pass), not in Maps:
  // at 10^5–10^6 nodes that halves the engine's cost.
  const pass = ++passCounter;
  rootNode.pass = pass;
  rootNode.pendingEdges = 0;
  rootNode.pendingGrad = gradient;
  const stack: Node[] = [rootNode];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.released) {
      throw new GraphError(
        `backward: the graph through '${node.op.name}' was already released by an earlier backward(). ` +
          `Pass { retainGraph: true } to the first backward() if you need to run backward twice, or recompute the forward pass.`,
      );
    }
    for (const input of node.inputs) {
      const next = input.gradFn;
      if (!next) continue;
      if (next.pass !== pass) {
        next.pass = pass;
        next.pendingEdges = 1;
        next.pendingGrad = undefined;
        stack.push(next);
      } else next.pendingEdges++;
    }
  }

  const nonLeafTargets = new Map<Node, Tensor>();
  if (captured) for (const t of captured.keys()) if (t.gradFn) nonLeafTargets.set(t.gradFn, t);

  const ready: Node[] = [rootNode];
  const anomaly = isAnomalyEnabled();
  // Under withGraphValues every node visited records its gradients for pictures (NodeTrace);
  // so do nodes created under it. Otherwise nothing is recorded.
  const captureAll = isGraphValuesEnabled();
  let visits = 0;
  const previousMode = setGradEnabled(createGraph);
  try {
    while (ready.length > 0) {
      const node = ready.pop()!;
      const gradOut = node.pendingGrad!;
      node.pendingGrad = undefined;
      let trace = node.trace;
      if (captureAll && trace === undefined) trace = node.trace = { scopes: [], composites: [], values: true, pass: 0, visit: 0, gradOut: undefined, inputGrads: undefined };
      let sent: (Tensor | null)[] | undefined;
      if (trace !== undefined && (trace.values || captureAll)) {
        trace.values = true;
        trace.pass = pass;
        trace.visit = ++visits;
        trace.gradOut = gradOut;
        sent = trace.inputGrads = new Array<Tensor | null>(node.inputs.length).fill(null);
      }
      if (nonLeafTargets.size > 0) {
        const target = nonLeafTargets.get(node);
        if (target) captured!.set(target, gradOut);
      }
      if (node.retainedOutput && !captured) {
        const out = node.retainedOutput;
        out.grad = out.grad ? out.grad.add(gradOut) : gradOut;
      }

      // The ops inside a backward are not checked as forwards: a bad gradient is reported
      // below, naming the node whose backward produced it.
      const anomalyBefore = anomaly ? setDetectAnomaly(false) : false;
      let inputGrads: InputGrads;
      try {
        inputGrads = node.op.backward(node, gradOut);
      } finally {
        if (anomaly) setDetectAnomaly(anomalyBefore);
      }
      const inputs = node.inputs;
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i]!;
        let g = input.requiresGrad ? inputGrads[i] : null;
        if (g) {
          if (g.shape !== input.shape && !shapesEqual(g.shape, input.shape)) g = sumToShape(g, input.shape, node.op.name);
          if (g.dtype !== input.dtype) g = g.to(input.dtype);
          if (anomaly) checkBackward(node, i, g);
          if (sent !== undefined) sent[i] = g;
        }
        const next = input.gradFn;
        if (next) {
          if (g) next.pendingGrad = next.pendingGrad ? next.pendingGrad.add(g) : g;
          if (--next.pendingEdges === 0) {
            if (next.pendingGrad) ready.push(next);
            else propagateNothing(next, ready, retainGraph);
          }
        } else if (g) {
          deliver(input, g);
        }
      }
      if (!retainGraph) node.release();
    }
  } finally {
    setGradEnabled(previousMode);
  }
  return captured ? inputs!.map((t) => captured.get(t) ?? null) : undefined;
}

let passCounter = 0;

/**
 * A node all of whose consumers sent no gradient still has to release its own edges, so that
 * the nodes below it (which may get gradient from elsewhere) become ready.
 */
function propagateNothing(node: Node, ready: Node[], retainGraph: boolean): void {
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (const input of n.inputs) {
      const next = input.gradFn;
      if (!next) continue;
      if (--next.pendingEdges === 0) (next.pendingGrad ? ready : stack).push(next);
    }
    if (!retainGraph) n.release();
  }
}

/** What usually makes a backward produce NaN/Inf from a finite forward, and what to do. */
function backwardHint(op: string): string {
  switch (op) {
    case "sqrt":
      return "sqrt's gradient 1/(2√x) is infinite at x = 0: clamp its input above 0 (x.clamp(1e-12).sqrt()) or add an epsilon.";
    case "log":
      return "log's gradient 1/x is infinite at x = 0: clamp its input (x.clamp(1e-12).log()).";
    case "div":
      return "the gradient of a/b divides by b²: keep the denominator away from 0 (add an epsilon).";
    case "pow":
      return "pow's gradient b·a^(b−1) is infinite at a = 0 for b < 1: clamp the base or add an epsilon.";
    default:
      return "The upstream gradient or the op's saved values are too large or undefined here: check the loss and the values fed to this op (clamp them, add an epsilon, or lower the learning rate).";
  }
}

function checkBackward(node: Node, inputIndex: number, g: Tensor): void {
  const bad = findNonFinite(g);
  if (bad === undefined) return;
  throw new AnomalyError(
    `detectAnomaly: backward of '${node.op.name}' produced ${bad.value} in the gradient of its input #${inputIndex} ` +
      `(shape ${fmtShape(g.shape)}, flat index ${bad.index}). ${backwardHint(node.op.name)}` +
      (node.createdAt ? `\n  the '${node.op.name}' was called at ${node.createdAt}` : ""),
  );
}
