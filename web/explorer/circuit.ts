/**
 * The circuits the explorer draws: a scalar function f of named scalar inputs, built with
 * chainrule's tensors (float64) and differentiated by its backward pass. An expression typed in
 * chainrule's expression language is one kind; the lecture's ‖W·x‖², which the language cannot
 * write, is built with the Tensor API.
 */
import { numericalGradient, tensor, viz, withGraphValues, type Tensor } from "chainrule";

/** One scalar the visitor sets: `name` is its key (URL parameter), `label` how the page writes it. */
export interface Variable {
  name: string;
  label: string;
}

/** What one build of a circuit gives: the output f and a reader of each input's gradient. */
export interface Built {
  output: Tensor;
  /** ∂f/∂(variable) after backward, or undefined when f does not depend on it. */
  gradOf(name: string): number | undefined;
}

/** A function of named scalars that chainrule can build, draw and differentiate. */
export interface Circuit {
  /** The text in the expression box (empty for a Tensor-API circuit). */
  source: string;
  /** The Tensor-API code of a circuit the expression language cannot write. */
  code?: string;
  variables: readonly Variable[];
  build(values: Readonly<Record<string, number>>): Built;
}

/** A circuit from the expression language; throws the library's ExpressionError on bad text. */
export function expressionCircuit(source: string): Circuit {
  const expression = viz.parseExpression(source);
  return {
    source,
    variables: expression.variables.map((name) => ({ name, label: name })),
    build(values) {
      const picked = Object.fromEntries(expression.variables.map((v) => [v, values[v]!]));
      const { output, inputs } = viz.buildExpression(expression, picked);
      return { output, gradOf: (name) => inputs[name]?.grad?.item() };
    },
  };
}

/** f = ‖W·x‖² = Σ (W·x)², W: [2, 2], x: [2] (the lecture's vectorized example), with the Tensor API. */
export function squaredNormCircuit(): Circuit {
  const entries = [
    { name: "W00", label: "W[0,0]", of: "W", index: 0 },
    { name: "W01", label: "W[0,1]", of: "W", index: 1 },
    { name: "W10", label: "W[1,0]", of: "W", index: 2 },
    { name: "W11", label: "W[1,1]", of: "W", index: 3 },
    { name: "x0", label: "x[0]", of: "x", index: 0 },
    { name: "x1", label: "x[1]", of: "x", index: 1 },
  ] as const;
  return {
    source: "",
    code: "q = W.matmul(x); f = q.square().sum()",
    variables: entries.map(({ name, label }) => ({ name, label })),
    build(values) {
      const v = (name: string): number => values[name]!;
      const leaf = { dtype: "float64", requiresGrad: true } as const;
      const W = tensor([[v("W00"), v("W01")], [v("W10"), v("W11")]], leaf).named("W");
      const x = tensor([v("x0"), v("x1")], leaf).named("x");
      const output = W.matmul(x).named("q").square().sum().named("f");
      const leaves: Record<string, Tensor> = { W, x };
      return {
        output,
        gradOf(name) {
          const entry = entries.find((e) => e.name === name);
          const grad = entry ? leaves[entry.of]!.grad : null;
          return grad && entry ? Number(grad.data[entry.index]) : undefined;
        },
      };
    },
  };
}

/** One forward and backward pass, recorded for the pictures (withGraphValues). */
export interface Evaluation {
  output: Tensor;
  trace: viz.TraceGraph;
  /** viz.explain's text for this pass. */
  explanation: string;
  /** The analytic gradient of every variable (backward). */
  grads: Record<string, number | undefined>;
}

/** Builds the circuit at `values`, runs backward inside withGraphValues, and traces and explains it. */
export function evaluate(circuit: Circuit, values: Readonly<Record<string, number>>, digits: number): Evaluation {
  const built = withGraphValues(() => {
    const b = circuit.build(values);
    if (b.output.requiresGrad) b.output.backward();
    return b;
  });
  const grads = Object.fromEntries(circuit.variables.map((v) => [v.name, built.gradOf(v.name)]));
  return { output: built.output, trace: viz.trace(built.output), explanation: viz.explain(built.output, { digits }), grads };
}

/** ∂f/∂(name) by centred differences, (f(v+h) − f(v−h)) / 2h, with chainrule's numericalGradient. */
export function numericalGrad(circuit: Circuit, values: Readonly<Record<string, number>>, name: string, h: number): number {
  const at = tensor(values[name]!, { dtype: "float64" });
  const f = (probe: Tensor): Tensor => circuit.build({ ...values, [name]: probe.item() }).output;
  return numericalGradient(f, at, { h }).item();
}

/** The lecture's relative error |a − n| / max(|a|, |n|) (0 when both are 0). */
export function relativeError(analytic: number, numerical: number): number {
  const scale = Math.max(Math.abs(analytic), Math.abs(numerical));
  return scale === 0 ? 0 : Math.abs(analytic - numerical) / scale;
}

/** How the lecture reads a relative error: < 1e-7 good, up to 1e-4 questionable, above wrong. */
export function errorVerdict(rel: number): "good" | "questionable" | "wrong" {
  if (rel < 1e-7) return "good";
  return rel <= 1e-4 ? "questionable" : "wrong";
}
