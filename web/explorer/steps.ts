/**
 * The backward pass as steps: one per gate, in the order backprop visits them (the trace's
 * `backwardOrder`), each with its line from viz.explain, the lecture's pattern for it and the
 * copy-gate sums that complete at it. Also the trace as it stands after k steps, so the picture
 * shows only the gradients computed so far.
 */
import type { viz } from "chainrule";

/** One gate of the backward pass. */
export interface Step {
  /** The gate's trace node id (its <title> in the SVG). */
  nodeId: string;
  op: string;
  /** explain's line for the gate, without its number and its pattern note. */
  line: string;
  /** explain's note on the pattern ("the add gate distributes: …"), if it names one. */
  note?: string;
  /** The local gradients the line states ("-1/x² = -0.53"), for gates without a named pattern. */
  locals: string[];
  /** explain's copy-gate lines completed at this gate ("x is used 2 times, so …"). */
  copies: string[];
}

const GATE_LINE = /^(\d+)\. (.*)$/;
const NOTE = /^(.*?) {3}\((.+)\)$/;

/** The steps of a recorded pass: explain's numbered lines matched to `trace.backwardOrder`. */
export function backwardSteps(trace: viz.TraceGraph, explanation: string): Step[] {
  const ops = new Map(trace.nodes.map((n) => [n.id, n.op ?? n.kind]));
  const steps: Step[] = [];
  for (const raw of explanation.split("\n")) {
    const gate = GATE_LINE.exec(raw);
    if (gate) {
      const nodeId = trace.backwardOrder[Number(gate[1]) - 1];
      if (nodeId === undefined) throw new Error(`explorer: explain's gate ${gate[1]} has no node in the trace's backward order (${trace.backwardOrder.length} gates)`);
      const noted = NOTE.exec(gate[2]!);
      const line = noted ? noted[1]! : gate[2]!;
      const step: Step = { nodeId, op: ops.get(nodeId)!, line, locals: [...line.matchAll(/× local (.+?) → /g)].map((m) => m[1]!), copies: [] };
      if (noted) step.note = noted[2]!;
      steps.push(step);
    } else if (raw.includes("(copy gate)") && steps.length > 0) {
      steps[steps.length - 1]!.copies.push(raw.trim());
    }
  }
  return steps;
}

/** The pattern sentence for a step: explain's note, else the gate's local gradient. */
export function patternText(step: Step): string {
  if (step.note) return step.note;
  const locals = [...new Set(step.locals)];
  return locals.length > 0 ? `local gradient of ${step.op}: ${locals.join("; ")} (downstream = upstream × local)` : `${step.op}: no input needs a gradient`;
}

/**
 * The trace after the first `done` steps: a wire keeps its gradient once the gate it feeds has
 * run; a value keeps its gradient once every gate using it has run (the output always has df = 1).
 * Values still waiting are marked as needing none, so their wires show only the forward value.
 */
export function traceAfter(trace: viz.TraceGraph, done: number): viz.TraceGraph {
  const visit = new Map(trace.nodes.map((n) => [n.id, n.visit ?? Infinity]));
  const ran = (id: string): boolean => visit.get(id)! <= done;
  const users = new Map<string, string[]>();
  for (const e of trace.edges) users.set(e.from, [...(users.get(e.from) ?? []), e.to]);
  const nodes = trace.nodes.map((n) => {
    if (n.id === trace.output || !n.grad || (users.get(n.id) ?? []).every(ran)) return n;
    const { grad: _hidden, ...rest } = n;
    return { ...rest, requiresGrad: false };
  });
  const edges = trace.edges.map((e) => {
    if (!e.grad || ran(e.to)) return e;
    const { grad: _hidden, ...rest } = e;
    return rest;
  });
  return { ...trace, nodes, edges };
}
