import { AnomalyError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { isFloat } from "../tensor/dtype.js";
import { getCapture, isAnomalyEnabled, isGradEnabled, setGradEnabled } from "./mode.js";
import { INERT_CONTEXT, Node, needsGradFlags, type OpContext, type OpDef } from "./node.js";
import { anomalyHint, deepStack, findNonFinite, userFrame } from "./anomaly.js";

/**
 * Defines a differentiable op from its forward and backward, and returns the function that
 * applies it. Every built-in op is made this way; so can yours.
 *
 * @example
 * // The lecture's sigmoid gate as one node: local gradient σ(x)·(1 − σ(x)).
 * const sigmoidGate = defineOp<[Tensor], Tensor>({
 *   name: "sigmoidGate",
 *   forward(ctx, x: Tensor) {
 *     const out = x.neg().exp().add(1).reciprocal();
 *     ctx.save(out);
 *     return out;
 *   },
 *   backward(ctx, gradOut) {
 *     const out = ctx.saved;
 *     return [gradOut.mul(out).mul(out.neg().add(1))];
 *   },
 * });
 */
export function defineOp<Args extends unknown[], Saved = unknown>(def: OpDef<Args, Saved>): (...args: Args) => Tensor {
  const op = def as unknown as OpDef<never, unknown>;
  const apply = (...args: Args): Tensor => {
    const inputs = collectInputs(args);
    let record = false;
    if (isGradEnabled()) for (let i = 0; i < inputs.length; i++) if (inputs[i]!.requiresGrad) record = true;
    // The node is the op's context. Without recording (inference, or backward without
    // createGraph) nothing is saved, so forward gets a shared context whose save() discards.
    const node = record ? new Node(op, inputs, needsGradFlags(inputs)) : undefined;
    const previous = setGradEnabled(false);
    let out: Tensor;
    try {
      out = def.forward((node ?? INERT_CONTEXT) as OpContext<Saved>, ...args);
    } finally {
      setGradEnabled(previous);
    }
    // An op must return a new tensor: one of its inputs would get this node as its gradFn.
    if (inputs.includes(out)) out = Tensor.fromStorage(out._buf, out.shape, out.dtype);
    const anomaly = isAnomalyEnabled();
    if (anomaly) checkForward(def.name, inputs, out);
    // Integer and bool outputs (argmax, masks, casts to int) carry no gradient.
    if (node !== undefined && isFloat(out.dtype)) {
      node.outputShape = out.shape;
      node.outputDType = out.dtype;
      if (def.describe !== undefined) node.params = def.describe(...args);
      if (anomaly) node.createdAt = userFrame(deepStack());
      // Only inside `scope`/`withGraphValues`: the scope path, for pictures.
      const capture = getCapture();
      if (capture !== null) node.trace = { scopes: capture.scopes, composites: capture.composites, values: capture.values, pass: 0, visit: 0, gradOut: undefined, inputGrads: undefined };
      out.requiresGrad = true;
      out.gradFn = node;
    }
    return out;
  };
  Object.defineProperty(apply, "name", { value: def.name });
  return apply;
}

/**
 * Tensor arguments (top level, or inside an array argument), in order. The array is kept by the
 * node, so it is allocated at its exact size (an array grown by push reserves 17 slots); when
 * every argument is a tensor, the rest-argument array itself is used.
 */
function collectInputs(args: unknown[]): Tensor[] {
  let count = 0;
  let nested = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a instanceof Tensor) count++;
    else if (Array.isArray(a)) nested = true;
  }
  if (!nested && count === args.length) return args as Tensor[];
  if (nested) for (const a of args) if (Array.isArray(a)) for (const t of a) if (t instanceof Tensor) count++;
  const inputs = new Array<Tensor>(count);
  let k = 0;
  for (const a of args) {
    if (a instanceof Tensor) inputs[k++] = a;
    else if (Array.isArray(a)) for (const t of a) if (t instanceof Tensor) inputs[k++] = t;
  }
  return inputs;
}

function checkForward(op: string, inputs: readonly Tensor[], out: Tensor): void {
  const bad = findNonFinite(out);
  if (bad === undefined) return;
  const where = userFrame(deepStack());
  const dirtyInput = inputs.findIndex((t) => findNonFinite(t) !== undefined);
  const dirty = dirtyInput >= 0 ? inputs[dirtyInput]! : undefined;
  const cause =
    dirty !== undefined
      ? `Its input #${dirtyInput} (shape [${dirty.shape.join(", ")}]) already contained NaN/Inf; that input was created outside the recorded ops (${dirty.isLeaf && dirty.requiresGrad ? "a parameter: an optimizer step with too large a learning rate writes NaN/Inf into the weights; lower the lr or clip the gradients (optim.clipGradNorm)" : "data or a leaf: check it with x.isFinite()"}).`
      : `Its inputs were all finite, so this op created it. ${anomalyHint(op, bad.value, inputs)}`;
  throw new AnomalyError(
    `detectAnomaly: forward of '${op}' produced ${bad.value} at flat index ${bad.index} of its output (shape [${out.shape.join(", ")}]). ${cause}` +
      (where ? `\n  op called at ${where}` : ""),
  );
}
