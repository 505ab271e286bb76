/** The lecture's circuits, as the explorer's example list offers them. */
import { expressionCircuit, squaredNormCircuit, type Circuit } from "./circuit.js";

/** A lecture example: an id (the `example` URL parameter), a title, its circuit and values. */
export interface Example {
  id: string;
  title: string;
  circuit(): Circuit;
  values: Record<string, number>;
}

/** In the order the lecture meets them. */
export const EXAMPLES: readonly Example[] = [
  { id: "simple", title: "(x + y)·z", circuit: () => expressionCircuit("(x+y)*z"), values: { x: -2, y: 5, z: -4 } },
  {
    id: "neuron",
    title: "sigmoid neuron 1/(1 + e^−(w0·x0 + w1·x1 + w2))",
    circuit: () => expressionCircuit("1/(1+exp(-(w0*x0+w1*x1+w2)))"),
    values: { w0: 2, x0: -1, w1: -3, x1: -2, w2: -3 },
  },
  { id: "max", title: "max gate 2·(x·y + max(z, w))", circuit: () => expressionCircuit("2*(x*y+max(z,w))"), values: { x: 3, y: -4, z: 2, w: -1 } },
  { id: "fanout", title: "fan-out x·y + x (gradients add)", circuit: () => expressionCircuit("x*y+x"), values: { x: 3, y: -2 } },
  {
    id: "norm",
    title: "‖W·x‖², vectorized (Tensor API)",
    circuit: squaredNormCircuit,
    values: { W00: 0.1, W01: 0.5, W10: -0.3, W11: 0.8, x0: 0.2, x1: 0.4 },
  },
];

/** The example with this id; throws naming the known ones. */
export function exampleById(id: string): Example {
  const found = EXAMPLES.find((e) => e.id === id);
  if (!found) throw new Error(`explorer: unknown example '${id}' (known: ${EXAMPLES.map((e) => e.id).join(", ")})`);
  return found;
}
